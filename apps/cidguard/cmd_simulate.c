/*
 * cidguard simulate: call records with known answers, so that detection
 * quality is measured rather than claimed.
 *
 * The traffic: consumers (one number each, signed A by their carrier, one
 * origid each; 3% of their calls reach us unsigned through a transit),
 * small businesses on the small carrier the fraudsters also use (two
 * numbers each, signed B), call centres (a small pool of their own numbers, signed A,
 * high volume), banks' genuine outbound calls (their protected numbers,
 * signed A by the bank's own SPC), international callers (foreign numbers
 * and UK mobiles roaming, unsigned, on the international gateway), and
 * spoofing campaigns run by accounts, each of one kind:
 *   bank      protected bank numbers, signed C by a small carrier for the
 *             account, or unsigned through the international gateway;
 *             a third of an account's calls rotate unprotected numbers
 *   dno       Do-Not-Originate numbers, signed C for the account
 *   rotation  a different unprotected number on almost every call (some
 *             of them real consumers' numbers), signed C for the account
 *   intl_uk   UK landline numbers, unsigned, from the international gateway
 * Campaign calls come in bursts (up to 20 a minute), are answered more
 * often and kept on the line longer.  Rows are written in time order.
 *
 * The unsigned-UK profile (--profile unsigned-uk) is UK traffic without
 * STIR/SHAKEN: nothing is signed, banks announce their calls with call
 * intents, and spoofers put a genuine consumer's number in the network
 * number and the number of their campaign's kind (bank, dno, unallocated,
 * intl_uk) in the presentation number (campaign_call_uk, legit_call_uk).
 * The default profile's output for a seed is unchanged by it.
 *
 * Output in DIR: calls.csv, truth.csv (victim,<called>,
 * origin,<ingress>|<spc>|<origid>, and campaign,<kind>|<ingress>|<origid>|<calls>
 * for reading), protected.csv, dno.csv, ingress.csv.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard simulate --out DIR [--rows N] [--seed S] [--days D] [--campaigns K]\n"
    "                         [--spoof-share F] [--call-centres M] [--answer-rate F]\n"
    "                         [--profile default|unsigned-uk] [--mix default|random]\n"
    "  Writes DIR/calls.csv (time,calling,called,duration,ingress,verstat,attest,origid,\n"
    "  spc,call_id), DIR/truth.csv and the policy lists the traffic assumes.  Defaults:\n"
    "  100000 rows, seed 1, one day per million rows, one campaign per 100000 rows (at\n"
    "  least 6), 2% of rows spoofed, 5 call centres, legitimate answer rate 0.6.\n"
    "  --profile unsigned-uk: no call is signed; banks present their protected numbers\n"
    "  with call intents, spoofers a genuine consumer's network number and a bank's,\n"
    "  DNO or unallocated presentation number; calls.csv gains presented,intent and\n"
    "  DIR/ofcom.csv is written.\n"
    "  --mix random: every parameter drawn from wide ranges for the seed, with more\n"
    "  archetypes (agencies signing B for clients, CPaaS, police, porting, roaming,\n"
    "  forwarding; frauds borrowing others' numbers, neighbour spoofing, ...).\n";

/* splitmix64: small, fast, and the same sequence everywhere for a seed */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}
static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}
static unsigned expo(double mean)
{
    double u = unit();
    return (unsigned)(-mean * log(u > 1e-12 ? u : 1e-12)) + 1;
}

#define NBANKS 3
#define BANK_NUMS 3
#define NDNO 20

/* The default profile's campaigns take the first four kinds in turn, the
 * unsigned-UK profile's bank, dno, unallocated and intl_uk. */
enum kind { K_BANK, K_DNO, K_ROTATION, K_INTL_UK, K_UNALLOC };
#define DEFAULT_KINDS 4
static const char *const kind_name[] = {"bank", "dno", "rotation", "intl_uk", "unallocated"};
static const enum kind uk_kinds[4] = {K_BANK, K_DNO, K_UNALLOC, K_INTL_UK};

struct campaign {
    enum kind kind;
    bool via_gateway; /* unsigned through the international gateway */
    char origid[40];
    int64_t start, end; /* active window */
    double p;           /* share of the rows in its window */
    uint64_t left, placed;
};

struct out {
    FILE *f;
    char buf[1 << 16];
    size_t n;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->n + n > sizeof o->buf) {
        fwrite(o->buf, 1, o->n, o->f);
        o->n = 0;
    }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
}
static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}
static void putu(struct out *o, uint64_t v)
{
    char b[24];
    int i = 24;
    do
        b[--i] = (char)('0' + v % 10);
    while ((v /= 10));
    put(o, b + i, (size_t)(24 - i));
}
/* a digit string: prefix then `digits` random digits */
static void number(char *out, const char *prefix, int digits)
{
    size_t n = strlen(prefix);
    int i;
    memcpy(out, prefix, n);
    for (i = 0; i < digits; i++)
        out[n + (size_t)i] = (char)('0' + below(10));
    out[n + (size_t)digits] = '\0';
}

/* A UUID-shaped origid: `a` tells the callers apart, the rest is random. */
static void uuid(char *out, uint64_t a)
{
    uint64_t b = rnd();
    snprintf(out, 40, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(b >> 52),
             (unsigned long long)(b & 0xffffffffffffull));
}

/* 2025-01-06 00:00:00 UTC: a Monday */
#define EPOCH0 1736121600

static FILE *open_in(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "w")))
        cli_die("cannot write %s: %s", path, strerror(errno));
    return f;
}

/* The command line, with the defaults filled in by finish_options. */
struct sim_opts {
    const char *dir;
    uint64_t rows, seed, ncampaigns;
    int days, ncentres;
    double share, answer;
    bool unsigned_uk; /* --profile unsigned-uk */
    bool random_mix;  /* --mix random */
};

/* Reads the options into so; dies on bad usage.  Returns false when it has
 * printed the help and there is nothing to simulate. */
static bool parse_options(int argc, char **argv, struct sim_opts *so)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"rows", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 's'},
                                         {"days", required_argument, 0, 'd'},
                                         {"campaigns", required_argument, 0, 'k'},
                                         {"spoof-share", required_argument, 0, 'f'},
                                         {"call-centres", required_argument, 0, 'c'},
                                         {"answer-rate", required_argument, 0, 'a'},
                                         {"profile", required_argument, 0, 'p'},
                                         {"mix", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;

    *so = (struct sim_opts){.rows = 100000, .seed = 1, .ncentres = 5, .share = 0.02, .answer = 0.6};
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            so->dir = optarg;
            break;
        case 'n':
            so->rows = (uint64_t)cli_int("--rows", optarg, 100, 1000000000);
            break;
        case 's':
            so->seed = (uint64_t)cli_int("--seed", optarg, 0, INT64_MAX);
            break;
        case 'd':
            so->days = (int)cli_int("--days", optarg, 1, 3650);
            break;
        case 'k':
            so->ncampaigns = (uint64_t)cli_int("--campaigns", optarg, 1, 100000);
            break;
        case 'c':
            so->ncentres = (int)cli_int("--call-centres", optarg, 0, 64);
            break;
        case 'f':
            so->share = strtod(optarg, NULL);
            if (so->share <= 0 || so->share > 0.5)
                cli_die("--spoof-share must be above 0 and at most 0.5");
            break;
        case 'a':
            so->answer = strtod(optarg, NULL);
            if (so->answer < 0 || so->answer > 1)
                cli_die("--answer-rate must be from 0 to 1");
            break;
        case 'p':
            if (strcmp(optarg, "default") != 0 && strcmp(optarg, "unsigned-uk") != 0)
                cli_die("--profile must be default or unsigned-uk");
            so->unsigned_uk = !strcmp(optarg, "unsigned-uk");
            break;
        case 'm':
            if (strcmp(optarg, "default") != 0 && strcmp(optarg, "random") != 0)
                cli_die("--mix must be default or random");
            so->random_mix = !strcmp(optarg, "random");
            break;
        case 'h':
            fputs(help, stdout);
            return false;
        default:
            cli_bad_option(c, argv[optind - 1], "simulate");
        }
    }
    if (optind != argc)
        cli_die("unexpected argument \"%s\"", argv[optind]);
    if (!so->dir)
        cli_die("simulate needs --out DIR");
    return true;
}

/* The defaults that follow from the number of rows: one day per million
 * rows, one campaign per 100000 rows (at least 6). */
static void finish_options(struct sim_opts *so)
{
    if (!so->days)
        so->days = (int)(so->rows / 1000000) > 0 ? (int)(so->rows / 1000000) : 1;
    if (!so->ncampaigns)
        so->ncampaigns = so->rows / 100000 > 6 ? so->rows / 100000 : 6;
}

/*
 * Who calls, with which numbers and origids.  The listed numbers (banks'
 * protected ones, DNO) are fixed; consumers and call centres are drawn from
 * the generator.  cmd_simulate owns it; population_free frees the consumer
 * arrays.
 */
struct population {
    char bank_num[NBANKS][BANK_NUMS][16], dno[NDNO][16];
    char bank_net[NBANKS][16]; /* each bank's contact-centre network number */
    uint64_t nconsumers;
    char (*consumer)[16], (*consumer_origid)[40];
    int ncentres;
    char centre_num[64][10][16], centre_origid[64][40];
};

/* The numbers the policy lists name: three banks' numbers in the drama
 * range, and the DNO numbers. */
static void list_numbers(struct population *pop)
{
    int b, k;
    for (b = 0; b < NBANKS; b++)
        for (k = 0; k < BANK_NUMS; k++)
            snprintf(pop->bank_num[b][k], 16, "4420794601%d%d", b, k);
    for (k = 0; k < NDNO; k++)
        snprintf(pop->dno[k], 16, "4480015700%02d", k);
    for (b = 0; b < NBANKS; b++)
        snprintf(pop->bank_net[b], 16, "44203000100%d", b);
}

/* DIR/ofcom.csv (unsigned-UK profile): Ofcom block status for the mobile
 * range, in the S7 file's shape.  The consumers' 074 blocks are allocated,
 * the 0792 blocks free (the unallocated numbers spoofers present); the
 * other ranges have no data, so they are not judged. */
static void write_ofcom(const char *dir)
{
    FILE *f = open_in(dir, "ofcom.csv");
    int b, k;
    fputs("NMS Number Block: Number Block,Block Status,CP Name,Number Length,Allocation Date\n", f);
    for (b = 0; b < 100; b++)
        for (k = 0; k < 10; k++)
            fprintf(f, "74%02d %d,Allocated,Example Mobile Ltd,10 digit numbers,01/01/2000\n", b,
                    k);
    for (b = 20; b < 30; b++)
        for (k = 0; k < 10; k++)
            fprintf(f, "79%02d %d,Free,,10 digit numbers,\n", b, k);
    fclose(f);
}

/* DIR/protected.csv, dno.csv and ingress.csv: the lists the traffic assumes. */
static void write_lists(const char *dir, const struct population *pop)
{
    static const char *const bank_name[NBANKS] = {"Alpha", "Beta", "Gamma"};
    FILE *f = open_in(dir, "protected.csv");
    int b, k;
    fputs("number,brand,spcs,min_attest\n", f);
    for (b = 0; b < NBANKS; b++)
        for (k = 0; k < BANK_NUMS; k++)
            fprintf(f, "%s,%s Bank,BANK%d,A\n", pop->bank_num[b][k], bank_name[b], b + 1);
    fclose(f);
    f = open_in(dir, "dno.csv");
    fputs("number,note\n", f);
    for (k = 0; k < NDNO; k++)
        fprintf(f, "%s,inbound-only helpline\n", pop->dno[k]);
    fclose(f);
    f = open_in(dir, "ingress.csv");
    fputs("ingress,international,addresses,note\n"
          "peer-1,no,,domestic carrier\npeer-2,no,,domestic carrier\npeer-3,no,,domestic carrier\n"
          "peer-4,no,,domestic carrier\npeer-5,no,,small domestic carrier\n"
          "intl-gw,yes,,international gateway\n",
          f);
    fclose(f);
}

/* Consumers (one mobile number and one origid each: one per 20 rows,
 * 2000 to 2 million) and call centres (an origid and 10 London numbers). */
static void make_callers(struct population *pop, const struct sim_opts *so)
{
    uint64_t i;
    int j, k;
    pop->nconsumers = so->rows / 20 > 2000 ? so->rows / 20 : 2000;
    if (pop->nconsumers > 2000000)
        pop->nconsumers = 2000000;
    pop->ncentres = so->ncentres;
    if (!(pop->consumer = malloc(pop->nconsumers * sizeof *pop->consumer)) ||
        !(pop->consumer_origid = malloc(pop->nconsumers * sizeof *pop->consumer_origid)))
        cli_die("out of memory");
    for (i = 0; i < pop->nconsumers; i++) {
        number(pop->consumer[i], "4474", 8);
        uuid(pop->consumer_origid[i], i);
    }
    for (j = 0; j < pop->ncentres; j++) {
        uuid(pop->centre_origid[j], 0xcc00 + (uint64_t)j);
        for (k = 0; k < 10; k++)
            number(pop->centre_num[j][k], "44203", 7);
    }
}

static void population_free(struct population *pop)
{
    free(pop->consumer);
    free(pop->consumer_origid);
}

/*
 * The campaigns (the caller frees the array): kinds in turn, each with its
 * share of the spoofed rows, a rate of 6-20 calls a minute and an active
 * window placed at random in the span.
 */
static struct campaign *plan_campaigns(const struct sim_opts *so, int64_t span)
{
    double rows_per_s = (double)so->rows / (double)span;
    uint64_t per = (uint64_t)((double)so->rows * so->share / (double)so->ncampaigns), i;
    struct campaign *camp = calloc(so->ncampaigns, sizeof *camp);
    if (!camp)
        cli_die("out of memory");
    if (per < 20)
        per = 20;
    for (i = 0; i < so->ncampaigns; i++) {
        struct campaign *k = &camp[i];
        double rate = (6.0 + (double)below(15)) / 60.0, p = rate / rows_per_s;
        int64_t len;
        if (so->unsigned_uk) {
            /* kinds in turn; every other round of them through the gateway */
            k->kind = uk_kinds[i % 4];
            k->via_gateway = k->kind == K_INTL_UK || (i / 4) % 2 == 1;
        } else {
            k->kind = (enum kind)(i % DEFAULT_KINDS);
            k->via_gateway = k->kind == K_INTL_UK || (k->kind == K_BANK && i % 8 == 4);
        }
        uuid(k->origid, 0xbad000 + i);
        k->left = per / 2 + below(per);
        if (p > 0.5)
            p = 0.5; /* sparse traffic: the campaign stretches instead */
        len = (int64_t)((double)k->left / (p * rows_per_s)) + 1;
        if (len > span)
            len = span;
        k->p = (double)k->left / ((double)len * rows_per_s);
        k->start = (int64_t)below((uint64_t)(span - len + 1));
        k->end = k->start + len;
    }
    return camp;
}

/* One call record as it is built: text fields, attestation '-' when the
 * call is unsigned. */
struct call {
    char calling[24], called[24], spc[24], ingress[24];
    const char *verstat, *origid;
    char attest;
    unsigned dur;
    /* unsigned-UK profile: the presentation number (From), and whether a
     * live call intent matched ("yes", "no" for a protected number without
     * one, "" when no intent applies) */
    char presented[24];
    const char *intent;
};

/* The campaign placing row i (at t seconds into the span), if one is: each
 * campaign active now takes its share of the rows, starting with a
 * different one on each row. */
static struct campaign *campaign_calling(struct campaign *camp, uint64_t ncampaigns, uint64_t i,
                                         int64_t t)
{
    double r = unit();
    uint64_t k;
    for (k = 0; k < ncampaigns; k++) {
        struct campaign *x = &camp[(i + k) % ncampaigns];
        if (x->left && t >= x->start && t < x->end) {
            if (r < x->p)
                return x;
            r -= x->p;
            if (r < 0)
                break;
        }
    }
    return NULL;
}

/* A campaign's call: from the small carrier signed C for the account, or
 * unsigned through the international gateway, presenting the numbers of
 * the campaign's kind; answered more often and kept on the line longer. */
static void campaign_call(struct campaign *cp, const struct population *pop, struct call *c)
{
    cp->left--;
    cp->placed++;
    snprintf(c->ingress, sizeof c->ingress, "%s", cp->via_gateway ? "intl-gw" : "peer-5");
    if (!cp->via_gateway) {
        snprintf(c->spc, sizeof c->spc, "SMALL1");
        c->attest = 'C';
        c->origid = cp->origid;
    } else {
        c->verstat = "No-TN-Validation";
        c->attest = '-';
    }
    switch (cp->kind) {
    case K_BANK:
        if (!cp->via_gateway && below(3) == 0) {
            number(c->calling, "4474", 8); /* the same account, rotating */
        } else {
            /* NOTE: two statements, bank first: as two subscripts of one
             * expression the draws' order was the compiler's choice. */
            uint64_t b = below(NBANKS), k = below(BANK_NUMS);
            snprintf(c->calling, sizeof c->calling, "%s", pop->bank_num[b][k]);
        }
        break;
    case K_DNO:
        snprintf(c->calling, sizeof c->calling, "%s", pop->dno[below(NDNO)]);
        break;
    case K_ROTATION:
        if (below(4) == 0)
            snprintf(c->calling, sizeof c->calling, "%s", pop->consumer[below(pop->nconsumers)]);
        else
            number(c->calling, "4474", 8);
        break;
    default:
        number(c->calling, "4420", 8);
        break;
    }
    c->dur = unit() < 0.75 ? expo(600) : 0;
}

/* A legitimate call: a consumer (cons, drawn for every row), a small
 * business, a call centre, a bank's genuine outbound call or an
 * international caller. */
static void legit_call(const struct population *pop, uint64_t cons, double answer, struct call *c)
{
    double r = unit();
    if (r < 0.68) { /* consumer */
        snprintf(c->calling, sizeof c->calling, "%s", pop->consumer[cons]);
        snprintf(c->ingress, sizeof c->ingress, "peer-%d", (int)(cons % 4) + 1);
        if (unit() < 0.03) { /* through a transit that drops the Identity header */
            snprintf(c->ingress, sizeof c->ingress, "peer-4");
            c->verstat = "No-TN-Validation";
            c->attest = '-';
        } else {
            snprintf(c->spc, sizeof c->spc, "CARR%d", (int)(cons % 4) + 1);
            c->origid = pop->consumer_origid[cons];
        }
    } else if (r < 0.70) { /* small businesses on the small carrier: own numbers, B */
        uint64_t b = below(40);
        snprintf(c->calling, sizeof c->calling, "%s",
                 pop->consumer[(b * 7919 + below(2)) % pop->nconsumers]);
        snprintf(c->ingress, sizeof c->ingress, "peer-5");
        snprintf(c->spc, sizeof c->spc, "SMALL1");
        c->attest = 'B';
        c->origid = pop->consumer_origid[(b * 104729) % pop->nconsumers];
    } else if (r < 0.85 && pop->ncentres) { /* call centre, own numbers */
        int cc = (int)below((uint64_t)pop->ncentres);
        snprintf(c->calling, sizeof c->calling, "%s", pop->centre_num[cc][below(10)]);
        snprintf(c->ingress, sizeof c->ingress, "peer-%d", cc % 4 + 1);
        snprintf(c->spc, sizeof c->spc, "CARR%d", cc % 4 + 1);
        c->origid = pop->centre_origid[cc];
    } else if (r < 0.88) { /* a bank's genuine outbound call */
        int b = (int)below(NBANKS);
        snprintf(c->calling, sizeof c->calling, "%s", pop->bank_num[b][below(BANK_NUMS)]);
        snprintf(c->ingress, sizeof c->ingress, "peer-%d", b + 1);
        snprintf(c->spc, sizeof c->spc, "BANK%d", b + 1);
        c->origid = "b0000000-0000-4000-a000-00000000000b";
    } else { /* international: foreign numbers, UK mobiles roaming */
        static const char *const cc[] = {"331", "4930", "1212", "3491", "4474"};
        number(c->calling, cc[below(5)], 7);
        snprintf(c->ingress, sizeof c->ingress, "intl-gw");
        c->verstat = "No-TN-Validation";
        c->attest = '-';
    }
    c->dur = unit() < answer ? expo(90) : 0;
}

/*
 * The unsigned-UK profile's campaign call: nothing is signed, so the
 * spoofer borrows a genuine consumer's number for the network number
 * (P-Asserted-Identity, which the callee never sees) and puts the number
 * of its kind in the presentation number: a bank's protected number (no
 * intent was registered for it: intent=no), a DNO number, a number in a
 * range Ofcom has not allocated, or (through the international gateway) a
 * UK landline.  From the small domestic carrier or the gateway.
 */
static void campaign_call_uk(struct campaign *cp, const struct population *pop, struct call *c)
{
    cp->left--;
    cp->placed++;
    snprintf(c->ingress, sizeof c->ingress, "%s", cp->via_gateway ? "intl-gw" : "peer-5");
    c->verstat = "No-TN-Validation";
    c->attest = '-';
    snprintf(c->calling, sizeof c->calling, "%s", pop->consumer[below(pop->nconsumers)]);
    switch (cp->kind) {
    case K_BANK: {
        uint64_t b = below(NBANKS), k = below(BANK_NUMS);
        snprintf(c->presented, sizeof c->presented, "%s", pop->bank_num[b][k]);
        c->intent = "no";
        break;
    }
    case K_DNO:
        snprintf(c->presented, sizeof c->presented, "%s", pop->dno[below(NDNO)]);
        break;
    case K_UNALLOC:
        number(c->presented, "44792", 7);
        break;
    default:
        number(c->presented, "4420", 8);
        break;
    }
    c->dur = unit() < 0.75 ? expo(600) : 0;
}

/*
 * The unsigned-UK profile's legitimate call, all unsigned: consumers
 * (presenting their own number), small businesses, call centres, banks
 * and international callers (foreign numbers, and consumers' own UK
 * mobiles roaming abroad).  A bank presents one of its protected numbers,
 * from that number or from its contact centre's network number, with a
 * live call intent registered just before dialling; one call in ten comes
 * after the intent expired (a late retry) or without one: the daemon
 * blocks those, but they are the bank's own calls, not spoofing
 * (*own_no_intent counts them).
 */
static void legit_call_uk(const struct population *pop, uint64_t cons, double answer,
                          struct call *c, uint64_t *own_no_intent)
{
    double r = unit();
    c->verstat = "No-TN-Validation";
    c->attest = '-';
    if (r < 0.68) {
        snprintf(c->calling, sizeof c->calling, "%s", pop->consumer[cons]);
        snprintf(c->ingress, sizeof c->ingress, "peer-%d", (int)(cons % 4) + 1);
    } else if (r < 0.70) {
        uint64_t b = below(40);
        snprintf(c->calling, sizeof c->calling, "%s",
                 pop->consumer[(b * 7919 + below(2)) % pop->nconsumers]);
        snprintf(c->ingress, sizeof c->ingress, "peer-5");
    } else if (r < 0.85 && pop->ncentres) {
        int cc = (int)below((uint64_t)pop->ncentres);
        snprintf(c->calling, sizeof c->calling, "%s", pop->centre_num[cc][below(10)]);
        snprintf(c->ingress, sizeof c->ingress, "peer-%d", cc % 4 + 1);
    } else if (r < 0.88) {
        int b = (int)below(NBANKS);
        uint64_t k = below(BANK_NUMS);
        snprintf(c->presented, sizeof c->presented, "%s", pop->bank_num[b][k]);
        snprintf(c->calling, sizeof c->calling, "%s",
                 below(2) ? pop->bank_net[b] : pop->bank_num[b][k]);
        snprintf(c->ingress, sizeof c->ingress, "peer-%d", b + 1);
        c->intent = "yes";
        if (below(10) == 0) {
            c->intent = "no";
            ++*own_no_intent;
        }
    } else if (below(3) == 0) { /* a UK mobile roaming abroad: its own number */
        snprintf(c->calling, sizeof c->calling, "%s", pop->consumer[cons]);
        snprintf(c->ingress, sizeof c->ingress, "intl-gw");
    } else {
        static const char *const cc[] = {"331", "4930", "1212", "3491"};
        number(c->calling, cc[below(4)], 7);
        snprintf(c->ingress, sizeof c->ingress, "intl-gw");
    }
    c->dur = unit() < answer ? expo(90) : 0;
}

/* One row of calls.csv: time,calling,called,duration,ingress,verstat,
 * attest,origid,spc,call_id (call_id "c" and the row number), and in the
 * unsigned-UK profile presented,intent (presented empty: the same as
 * calling). */
static void write_call(struct out *o, const char *time, const struct call *c, uint64_t i,
                       bool unsigned_uk)
{
    puts_(o, time);
    put(o, ",+", 2);
    puts_(o, c->calling);
    put(o, ",+", 2);
    puts_(o, c->called);
    put(o, ",", 1);
    putu(o, c->dur);
    put(o, ",", 1);
    puts_(o, c->ingress);
    put(o, ",", 1);
    puts_(o, c->verstat);
    put(o, ",", 1);
    if (c->attest != '-')
        put(o, &c->attest, 1);
    put(o, ",", 1);
    puts_(o, c->origid);
    put(o, ",", 1);
    puts_(o, c->spc);
    put(o, ",c", 2);
    putu(o, i);
    if (unsigned_uk) {
        put(o, ",", 1);
        if (c->presented[0]) {
            put(o, "+", 1);
            puts_(o, c->presented);
        }
        put(o, ",", 1);
        puts_(o, c->intent);
    }
    put(o, "\n", 1);
}

/* The end of truth.csv: each account that placed calls, each campaign (for
 * reading), and the international gateway when a campaign used it. */
static void write_truth_campaigns(FILE *truth, const struct campaign *camp, uint64_t ncampaigns,
                                  bool used_gw, bool unsigned_uk)
{
    bool used_peer5 = false;
    uint64_t i;
    for (i = 0; i < ncampaigns; i++) {
        const struct campaign *k = &camp[i];
        /* unsigned calls have no origid: the origin is the trunk */
        if (!k->via_gateway && k->placed && !unsigned_uk)
            fprintf(truth, "origin,peer-5|SMALL1|%s\n", k->origid);
        used_peer5 |= !k->via_gateway && k->placed;
        fprintf(truth, "campaign,%s|%s|%s|%llu\n", kind_name[k->kind],
                k->via_gateway ? "intl-gw" : "peer-5",
                k->via_gateway || unsigned_uk ? "" : k->origid, (unsigned long long)k->placed);
    }
    if (used_gw)
        fprintf(truth, "origin,intl-gw||\n");
    if (unsigned_uk && used_peer5)
        fprintf(truth, "origin,peer-5||\n");
}

/*
 * DIR/calls.csv and DIR/truth.csv: the rows in time order, evenly spread
 * over the span, each a campaign's call (its victim goes to the truth) or a
 * legitimate one.  The generator's draws per row are in a fixed order
 * (consumer, campaign, callee, then the call's own), so that a seed always
 * gives the same traffic.
 */
static void write_calls(const struct sim_opts *so, const struct population *pop,
                        struct campaign *camp, int64_t span)
{
    FILE *f = open_in(so->dir, "calls.csv"), *truth;
    struct out o;
    char time[24];
    int64_t t, last_t = -1;
    bool used_gw = false;
    uint64_t i, own_no_intent = 0;

    memset(&o, 0, sizeof o);
    o.f = f;
    puts_(&o, so->unsigned_uk
                  ? "time,calling,called,duration,ingress,verstat,attest,origid,spc,call_id,"
                    "presented,intent\n"
                  : "time,calling,called,duration,ingress,verstat,attest,origid,spc,call_id\n");
    truth = open_in(so->dir, "truth.csv");
    fputs("kind,key\n", truth);
    for (i = 0; i < so->rows; i++) {
        struct call c = {
            .verstat = "TN-Validation-Passed", .origid = "", .attest = 'A', .intent = ""};
        uint64_t cons = below(pop->nconsumers);
        struct campaign *cp;

        t = EPOCH0 + (int64_t)((double)i * (double)span / (double)so->rows);
        cp = campaign_calling(camp, so->ncampaigns, i, t - EPOCH0);
        /* callees: consumers (victims are ordinary people) */
        snprintf(c.called, sizeof c.called, "%s", pop->consumer[below(pop->nconsumers)]);
        if (cp) {
            if (so->unsigned_uk)
                campaign_call_uk(cp, pop, &c);
            else
                campaign_call(cp, pop, &c);
            fprintf(truth, "victim,%s\n", c.called);
            used_gw |= cp->via_gateway;
        } else if (so->unsigned_uk) {
            legit_call_uk(pop, cons, so->answer, &c, &own_no_intent);
        } else {
            legit_call(pop, cons, so->answer, &c);
        }
        if (t != last_t) {
            cg_time_iso(t, time);
            last_t = t;
        }
        write_call(&o, time, &c, i, so->unsigned_uk);
    }
    write_truth_campaigns(truth, camp, so->ncampaigns, used_gw, so->unsigned_uk);
    /* for reading: the banks' own calls the daemon blocks for want of an
     * intent, which are not spoofing (no victim, no origin) */
    if (so->unsigned_uk)
        fprintf(truth, "own_no_intent,%llu\n", (unsigned long long)own_no_intent);
    if (fclose(truth) != 0)
        cli_die("cannot write truth.csv");
    fwrite(o.buf, 1, o.n, f);
    if (fclose(f) != 0)
        cli_die("cannot write calls.csv: %s", strerror(errno));
}

/* --- --mix random ---------------------------------------------------------------------- */

/*
 * The random mix: every parameter drawn from a wide range per seed, and
 * archetypes the default profile lacks.  Legitimate: consumers on several
 * carriers (signed A from a few switches each; some unsigned through a
 * transit; some ported to another carrier part-way; some roaming abroad,
 * arriving unsigned on an international gateway with their own number
 * while their home calls stop; some calls forwarded, re-signed B by the
 * forwarding carrier), small businesses (own numbers, signed B), call
 * centres (their own numbers signed A, or agencies signing B for their
 * clients' numbers, which the clients also use), CPaaS platforms (one-time
 * password calls: high volume, bursts, short), banks (protected numbers and
 * unprotected lines, signed A), police forces (signed A) and foreign
 * callers on the gateways.  Fraud accounts, each of one archetype:
 *
 *   borrow     slow rotation through a few dozen numbers that belong to
 *              others (subscribers, banks' unprotected lines, police),
 *              signed B by a small carrier for a reseller, in bursts, with
 *              victims kept on the line;
 *   neighbour  numbers that share the callee's leading digits, a new one
 *              per call;
 *   bank       banks' protected numbers, signed C;
 *   dno        Do-Not-Originate numbers, signed C;
 *   rotation   random mobile numbers, a new one per call, signed C;
 *   gateway    UK landlines through an international gateway (the origin
 *              is the gateway trunk).
 *
 * Every id is random (origids, numbers, SPC and trunk names); nothing in
 * calls.csv says which rows are fraud (truth.csv does).
 */
enum mix_kind { M_BORROW, M_NEIGHBOUR, M_BANK, M_DNO, M_ROTATION, M_GATEWAY, M__COUNT };
static const char *const mix_kind_name[M__COUNT] = {"borrow", "neighbour", "bank",
                                                    "dno",    "rotation",  "gateway"};

#define MIX_MAX_ENT 4096

/* An entity that places calls: its origin and its numbers. */
struct mix_ent {
    char ingress[16], spc[16], origid[40];
    char attest; /* 'A', 'B', 'C', or '-' for unsigned */
    uint32_t first, n;
};

struct mix_fraud {
    enum mix_kind kind;
    int ent;                    /* its origin (an entity) */
    uint32_t pool_first, npool; /* borrow: the numbers it presents, in rotation order */
    uint64_t calls, placed;
    double answer, talk;
};

struct mix_fcall {
    int64_t t;
    uint32_t who, seq;
};

struct mix {
    /* numbers: one table, entities own ranges of it */
    char (*num)[16];
    uint32_t nnum, numcap;
    struct mix_ent ent[MIX_MAX_ENT];
    int nent;
    /* consumers: their number, switch entity, and the roaming, porting and
     * activity facts */
    uint64_t ncons;
    uint32_t *cons_num;
    int *cons_ent, *cons_port_ent;
    int64_t *cons_trip0, *cons_trip1, *cons_port_t;
    int ncarriers, nsmall, ngw, ntransit;
    int carrier_fwd[8]; /* each carrier's forwarding entity */
    int carrier_sw0[8], carrier_nsw[8];
    int small_ent0[3];
    int biz0, nbiz, cc0, ncc, cpaas0, ncpaas, bank0, nbank, police0, npolice;
    int agency[64][8], nclients[64]; /* agency call centres: their clients (entities) */
    int protected_first, nprotected; /* number ids of the protected ones */
    int dno_first, ndno;
    double share[8]; /* consumer, business, centre, cpaas, bank, police, foreign: cumulative */
    double p_transit, p_fwd, cons_skew;
    double ans[8], talk[8];
    struct mix_fraud fraud[16];
    int nfraud;
    /* the fraud calls' times, sorted */
    struct mix_fcall *fc;
    uint64_t nfc;
};

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * unit();
}

static void uuid_random(char *out)
{
    uint64_t a = rnd(), b = rnd();
    snprintf(out, 40, "%08x-%04x-4%03x-%x%03x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, 8 + (unsigned)(b >> 62),
             (unsigned)(b >> 50) & 0xfff, (unsigned long long)(b & 0xffffffffffffull));
}

static uint32_t mix_number(struct mix *m, const char *prefix, int digits)
{
    if (m->nnum == m->numcap) {
        m->numcap = m->numcap ? m->numcap * 2 : 4096;
        if (!(m->num = realloc(m->num, m->numcap * sizeof *m->num)))
            cli_die("out of memory");
    }
    number(m->num[m->nnum], prefix, digits);
    return m->nnum++;
}

/* A new entity with n numbers of the given prefix (landline or mobile). */
static int mix_entity(struct mix *m, const char *ingress, const char *spc, char attest, uint32_t n,
                      const char *prefix)
{
    struct mix_ent *e;
    uint32_t k;
    if (m->nent == MIX_MAX_ENT)
        cli_die("too many simulated entities");
    e = &m->ent[m->nent];
    snprintf(e->ingress, sizeof e->ingress, "%s", ingress);
    snprintf(e->spc, sizeof e->spc, "%s", spc);
    if (attest != '-')
        uuid_random(e->origid);
    else
        e->origid[0] = '\0';
    e->attest = attest;
    e->first = m->nnum;
    e->n = n;
    for (k = 0; k < n; k++)
        mix_number(m, prefix, 12 - (int)strlen(prefix));
    return m->nent++;
}

static const char *landline(void)
{
    static const char *const p[] = {"4420", "44121", "44161", "44113", "44131", "44117"};
    return p[below(6)];
}

/* Names without meaning: which is the small carrier, the gateway or the
 * transit is in ingress.csv (as a carrier's own list would say), not in
 * the name. */
static void mix_names(char names[][16], int n, const char *prefix)
{
    static unsigned next; /* distinct across calls: no two trunks or SPCs share a name */
    int i;
    for (i = 0; i < n; i++, next++)
        snprintf(names[i], 16, "%s%u%02u", prefix, 1 + (unsigned)below(9), next % 100);
}

/* The trunks: ncarriers domestic carriers, nsmall small ones, a transit,
 * the gateways; shuffled names, one list. */
struct mix_trunks {
    char carrier[8][16], small[3][16], transit[16], gw[3][16], spc_carrier[8][16], spc_small[3][16],
        spc_bank[8][16], spc_police[16];
};

static int cmp_fcall(const void *x, const void *y)
{
    const struct mix_fcall *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Shuffles the names of n trunks so that their order says nothing. */
static void shuffle_names(char (*v)[16], int n)
{
    int i;
    for (i = n - 1; i > 0; i--) {
        int j = (int)below((uint64_t)i + 1);
        char t[16];
        memcpy(t, v[i], 16);
        memcpy(v[i], v[j], 16);
        memcpy(v[j], t, 16);
    }
}

/* A fraud account's call times: sessions of 1 to 8 minutes at its rate,
 * within its active hours, until its calls are placed. */
static void mix_fraud_times(struct mix *m, int who, int64_t span)
{
    struct mix_fraud *f = &m->fraud[who];
    double rate = uniform(4, 22); /* calls a minute in a session */
    int64_t w0 = (int64_t)below((uint64_t)(span / 3)),
            wlen = span / 3 + (int64_t)below((uint64_t)(span / 2));
    uint64_t k = 0;
    if (w0 + wlen > span)
        wlen = span - w0;
    while (k < f->calls) {
        int64_t s = w0 + (int64_t)below((uint64_t)wlen), len = 60 + (int64_t)below(420);
        uint64_t n = (uint64_t)(rate * (double)len / 60.0) + 1, j;
        for (j = 0; j < n && k < f->calls; j++, k++) {
            struct mix_fcall *c = &m->fc[m->nfc];
            c->t = s + (int64_t)below((uint64_t)len);
            if (c->t >= span)
                c->t = span - 1;
            c->who = (uint32_t)who;
            c->seq = (uint32_t)m->nfc++;
        }
    }
}

/* Draws the population and the frauds of a random mix. */
static void mix_build(struct mix *m, const struct sim_opts *so, struct mix_trunks *tr, int64_t span)
{
    int i, j, c;
    uint64_t k, nfraud_calls = 0;
    double rows = (double)so->rows, x;
    memset(m, 0, sizeof *m);
    m->ncarriers = 3 + (int)below(4);
    m->nsmall = 1 + (int)below(3);
    m->ngw = 1 + (int)below(3);
    {
        char tg[16][16];
        int n = m->ncarriers + m->nsmall + m->ngw + 1;
        mix_names(tg, n, "tg");
        shuffle_names(tg, n);
        for (i = 0; i < m->ncarriers; i++)
            memcpy(tr->carrier[i], tg[i], 16);
        for (i = 0; i < m->nsmall; i++)
            memcpy(tr->small[i], tg[m->ncarriers + i], 16);
        for (i = 0; i < m->ngw; i++)
            memcpy(tr->gw[i], tg[m->ncarriers + m->nsmall + i], 16);
        memcpy(tr->transit, tg[n - 1], 16);
    }
    /* one list of SPC names, shuffled, then dealt out */
    {
        char spc[24][16];
        int n = m->ncarriers + m->nsmall + 8 + 1;
        mix_names(spc, n, "SP");
        shuffle_names(spc, n);
        for (i = 0; i < m->ncarriers; i++)
            memcpy(tr->spc_carrier[i], spc[i], 16);
        for (i = 0; i < m->nsmall; i++)
            memcpy(tr->spc_small[i], spc[m->ncarriers + i], 16);
        for (i = 0; i < 8; i++)
            memcpy(tr->spc_bank[i], spc[m->ncarriers + m->nsmall + i], 16);
        memcpy(tr->spc_police, spc[n - 1], 16);
    }
    /* the listed numbers: banks' protected ones, DNO */
    m->nbank = 2 + (int)below(5);
    m->bank0 = m->nent;
    for (i = 0; i < m->nbank; i++) /* a bank's unprotected lines */
        mix_entity(m, tr->carrier[below((uint64_t)m->ncarriers)], tr->spc_bank[i], 'A',
                   2 + (uint32_t)below(9), landline());
    m->protected_first = (int)m->nnum;
    m->nprotected = m->nbank * 3;
    for (i = 0; i < m->nprotected; i++)
        mix_number(m, "44345", 7);
    m->dno_first = (int)m->nnum;
    m->ndno = 10 + (int)below(20);
    for (i = 0; i < m->ndno; i++)
        mix_number(m, "44800", 7);
    m->npolice = 1 + (int)below(3);
    m->police0 = m->nent;
    for (i = 0; i < m->npolice; i++)
        mix_entity(m, tr->carrier[below((uint64_t)m->ncarriers)], tr->spc_police, 'A',
                   2 + (uint32_t)below(9), landline());
    /* carriers' switches and forwarding platforms */
    for (c = 0; c < m->ncarriers; c++) {
        m->carrier_sw0[c] = m->nent;
        m->carrier_nsw[c] = 2 + (int)below(8);
        for (j = 0; j < m->carrier_nsw[c]; j++)
            mix_entity(m, tr->carrier[c], tr->spc_carrier[c], 'A', 0, "");
        m->carrier_fwd[c] = mix_entity(m, tr->carrier[c], tr->spc_carrier[c], 'B', 0, "");
    }
    /* consumers */
    m->ncons = (uint64_t)(rows / uniform(12, 40));
    if (m->ncons < 500)
        m->ncons = 500;
    m->cons_num = malloc(m->ncons * sizeof *m->cons_num);
    m->cons_ent = malloc(m->ncons * sizeof *m->cons_ent);
    m->cons_port_ent = malloc(m->ncons * sizeof *m->cons_port_ent);
    m->cons_trip0 = malloc(m->ncons * sizeof *m->cons_trip0);
    m->cons_trip1 = malloc(m->ncons * sizeof *m->cons_trip1);
    m->cons_port_t = malloc(m->ncons * sizeof *m->cons_port_t);
    if (!m->cons_num || !m->cons_ent || !m->cons_port_ent || !m->cons_trip0 || !m->cons_trip1 ||
        !m->cons_port_t)
        cli_die("out of memory");
    {
        double p_roam = uniform(0.005, 0.08), p_port = uniform(0.0, 0.03);
        for (k = 0; k < m->ncons; k++) {
            int car = (int)below((uint64_t)m->ncarriers);
            const char *prefix = unit() < 0.8 ? "447" : landline();
            m->cons_num[k] = mix_number(m, prefix, 12 - (int)strlen(prefix));
            m->cons_ent[k] = m->carrier_sw0[car] + (int)below((uint64_t)m->carrier_nsw[car]);
            m->cons_trip0[k] = m->cons_trip1[k] = -1;
            m->cons_port_t[k] = -1;
            m->cons_port_ent[k] = m->cons_ent[k];
            if (prefix[2] == '7' && unit() < p_roam) { /* mobiles roam; landlines do not */
                m->cons_trip0[k] = (int64_t)below((uint64_t)span);
                m->cons_trip1[k] = m->cons_trip0[k] + 3600 + (int64_t)below((uint64_t)span / 2);
            } else if (unit() < p_port) {
                int car2 = (car + 1 + (int)below((uint64_t)m->ncarriers - 1)) % m->ncarriers;
                m->cons_port_t[k] = (int64_t)below((uint64_t)span);
                m->cons_port_ent[k] =
                    m->carrier_sw0[car2] + (int)below((uint64_t)m->carrier_nsw[car2]);
            }
        }
    }
    /* small businesses, call centres (some agencies for clients), CPaaS */
    m->nbiz = 10 + (int)below(120);
    m->biz0 = m->nent;
    for (i = 0; i < m->nbiz; i++) {
        int s = (int)below((uint64_t)m->nsmall);
        mix_entity(m, tr->small[s], tr->spc_small[s], unit() < 0.7 ? 'B' : 'A',
                   1 + (uint32_t)below(3), landline());
    }
    m->ncc = 2 + (int)below(12);
    m->cc0 = m->nent;
    for (i = 0; i < m->ncc; i++) {
        c = (int)below((uint64_t)m->ncarriers);
        mix_entity(m, tr->carrier[c], tr->spc_carrier[c], 'A', 3 + (uint32_t)below(40), landline());
    }
    for (i = 0; i < m->ncc && i < 64; i++) {
        m->nclients[i] = unit() < 0.5 ? 2 + (int)below(6) : 0;
        for (j = 0; j < m->nclients[i]; j++) /* clients: businesses of other carriers */
            m->agency[i][j] = m->biz0 + (int)below((uint64_t)m->nbiz);
        if (m->nclients[i]) /* an agency signs B for its clients */
            m->ent[m->cc0 + i].attest = 'B';
    }
    m->ncpaas = 1 + (int)below(3);
    m->cpaas0 = m->nent;
    for (i = 0; i < m->ncpaas; i++) {
        c = (int)below((uint64_t)m->ncarriers);
        mix_entity(m, tr->carrier[c], tr->spc_carrier[c], 'A', 5 + (uint32_t)below(100), "447");
    }
    /* the shares of legitimate traffic (cumulative) and its habits */
    {
        double w[7] = {uniform(40, 70), uniform(2, 10),    uniform(5, 20), uniform(1, 10),
                       uniform(1, 5),   uniform(0.1, 0.6), uniform(2, 8)},
               sum = 0, acc = 0;
        for (i = 0; i < 7; i++)
            sum += w[i];
        for (i = 0; i < 7; i++)
            m->share[i] = (acc += w[i] / sum);
        for (i = 0; i < 7; i++) {
            m->ans[i] = uniform(0.3, 0.75);
            m->talk[i] = uniform(40, 300);
        }
        m->ans[3] = uniform(0.05, 0.4); /* one-time passwords: short */
        m->talk[3] = uniform(8, 30);
        m->p_transit = uniform(0.0, 0.05);
        m->p_fwd = uniform(0.0, 0.03);
        m->cons_skew = uniform(1.0, 3.0);
    }
    /* the frauds */
    m->nfraud = 2 + (int)below(6);
    x = uniform(0.01, 0.06) * rows; /* fraud calls in all */
    for (i = 0; i < m->nfraud; i++) {
        struct mix_fraud *f = &m->fraud[i];
        int s = (int)below((uint64_t)m->nsmall);
        f->kind = i == 0 ? M_BORROW : (enum mix_kind)below(M__COUNT);
        f->calls = (uint64_t)(x / m->nfraud * uniform(0.5, 1.5));
        if (f->calls < 150)
            f->calls = 150;
        nfraud_calls += f->calls;
        f->answer = uniform(0.3, 0.9);
        f->talk = uniform(150, 1200);
        if (f->kind == M_GATEWAY) {
            f->ent = mix_entity(m, tr->gw[below((uint64_t)m->ngw)], "", '-', 0, "");
            continue;
        }
        f->ent = mix_entity(m, tr->small[s], tr->spc_small[s],
                            f->kind == M_BORROW || (f->kind == M_NEIGHBOUR && below(2)) ? 'B' : 'C',
                            0, "");
        if (f->kind == M_BORROW) {
            /* a few dozen numbers of others: subscribers, banks' lines, police */
            f->npool = (uint32_t)((double)f->calls / uniform(4, 25)) + 5;
            f->pool_first = m->nnum;
            for (k = 0; k < f->npool; k++) {
                uint32_t src;
                double r = unit();
                if (r < 0.6) {
                    src = m->cons_num[below(m->ncons)];
                } else {
                    const struct mix_ent *e =
                        &m->ent[r < 0.85 ? m->bank0 + (int)below((uint64_t)m->nbank)
                                         : m->police0 + (int)below((uint64_t)m->npolice)];
                    src = e->first + (uint32_t)below(e->n);
                }
                mix_number(m, "", 0);
                memcpy(m->num[m->nnum - 1], m->num[src], 16);
            }
        }
    }
    if (!(m->fc = malloc((nfraud_calls + 1) * sizeof *m->fc)))
        cli_die("out of memory");
    for (i = 0; i < m->nfraud; i++)
        mix_fraud_times(m, i, span);
    qsort(m->fc, m->nfc, sizeof *m->fc, cmp_fcall);
}

/* A consumer, skewed towards the busier ones. */
static uint64_t mix_consumer(const struct mix *m)
{
    double u = unit(), v = u;
    int i;
    for (i = 1; i < (int)m->cons_skew; i++)
        v *= u;
    return (uint64_t)(v * (double)m->ncons) % m->ncons;
}

static void mix_from(struct call *c, const struct mix_ent *e)
{
    snprintf(c->ingress, sizeof c->ingress, "%s", e->ingress);
    snprintf(c->spc, sizeof c->spc, "%s", e->spc);
    c->origid = e->origid;
    c->attest = e->attest;
    if (e->attest == '-') {
        c->verstat = "No-TN-Validation";
        c->spc[0] = '\0';
    }
}

/* A legitimate call of the random mix at time t (seconds into the span). */
static void mix_legit(struct mix *m, const struct mix_trunks *tr, int64_t t, struct call *c)
{
    double r = unit();
    int cat = 0, hour = (int)(t % 86400 / 3600);
    const struct mix_ent *e;
    while (cat < 6 && r > m->share[cat])
        cat++;
    /* businesses, call centres and banks call in the daytime */
    if ((cat == 1 || cat == 2 || cat == 4) && (hour < 8 || hour >= 20))
        cat = 0;
    c->dur = unit() < m->ans[cat] ? expo(m->talk[cat]) : 0;
    switch (cat) {
    case 0: {
        uint64_t k = mix_consumer(m);
        snprintf(c->calling, sizeof c->calling, "%s", m->num[m->cons_num[k]]);
        if (t >= m->cons_trip0[k] && t < m->cons_trip1[k]) { /* roaming abroad */
            snprintf(c->ingress, sizeof c->ingress, "%s", tr->gw[k % (uint64_t)m->ngw]);
            c->verstat = "No-TN-Validation";
            c->attest = '-';
            return;
        }
        e = &m->ent[m->cons_port_t[k] >= 0 && t >= m->cons_port_t[k] ? m->cons_port_ent[k]
                                                                     : m->cons_ent[k]];
        if (unit() < m->p_transit) {
            snprintf(c->ingress, sizeof c->ingress, "%s", tr->transit);
            c->verstat = "No-TN-Validation";
            c->attest = '-';
            return;
        }
        if (unit() < m->p_fwd) /* forwarded: re-signed B by the forwarding carrier */
            e = &m->ent[m->carrier_fwd[below((uint64_t)m->ncarriers)]];
        mix_from(c, e);
        return;
    }
    case 1:
        e = &m->ent[m->biz0 + (int)below((uint64_t)m->nbiz)];
        break;
    case 2: {
        int i = (int)below((uint64_t)m->ncc);
        e = &m->ent[m->cc0 + i];
        if (i < 64 && m->nclients[i]) { /* an agency: a client's number, signed B */
            const struct mix_ent *cl = &m->ent[m->agency[i][below((uint64_t)m->nclients[i])]];
            mix_from(c, e);
            snprintf(c->calling, sizeof c->calling, "%s", m->num[cl->first + below(cl->n)]);
            return;
        }
        break;
    }
    case 3:
        e = &m->ent[m->cpaas0 + (int)below((uint64_t)m->ncpaas)];
        break;
    case 4:
        if (below(3) == 0) { /* a protected number, signed A by the bank's own SPC */
            int b = (int)below((uint64_t)m->nbank);
            e = &m->ent[m->bank0 + b];
            mix_from(c, e);
            snprintf(c->calling, sizeof c->calling, "%s",
                     m->num[m->protected_first + b * 3 + (int)below(3)]);
            return;
        }
        e = &m->ent[m->bank0 + (int)below((uint64_t)m->nbank)];
        break;
    case 5:
        e = &m->ent[m->police0 + (int)below((uint64_t)m->npolice)];
        break;
    default: {
        static const char *const cc[] = {"331", "4930", "1212", "3491", "9122", "4822", "3531"};
        number(c->calling, cc[below(7)], 8);
        snprintf(c->ingress, sizeof c->ingress, "%s", tr->gw[below((uint64_t)m->ngw)]);
        c->verstat = "No-TN-Validation";
        c->attest = '-';
        return;
    }
    }
    mix_from(c, e);
    snprintf(c->calling, sizeof c->calling, "%s", m->num[e->first + below(e->n)]);
}

/* A fraud call of the random mix: its account's origin, the number its
 * archetype presents, its victims kept on the line. */
static void mix_fraud_call(struct mix *m, int who, struct call *c)
{
    struct mix_fraud *f = &m->fraud[who];
    const struct mix_ent *e = &m->ent[f->ent];
    size_t n;
    mix_from(c, e);
    switch (f->kind) {
    case M_BORROW: { /* slow rotation: each number for a stretch of calls */
        uint64_t per = f->calls / f->npool + 1, k = (f->placed / per + below(2)) % f->npool;
        snprintf(c->calling, sizeof c->calling, "%s", m->num[f->pool_first + k]);
        break;
    }
    case M_NEIGHBOUR:
        n = strlen(c->called);
        memcpy(c->calling, c->called, n > 4 ? n - 4 : 0);
        number(c->calling + (n > 4 ? n - 4 : 0), "", 4);
        break;
    case M_BANK:
        if (below(4) == 0)
            number(c->calling, "447", 9);
        else
            snprintf(c->calling, sizeof c->calling, "%s",
                     m->num[m->protected_first + (int)below((uint64_t)m->nprotected)]);
        break;
    case M_DNO:
        snprintf(c->calling, sizeof c->calling, "%s",
                 m->num[m->dno_first + (int)below((uint64_t)m->ndno)]);
        break;
    case M_ROTATION:
        number(c->calling, "447", 9);
        break;
    default:
        number(c->calling, landline(), 7);
        break;
    }
    f->placed++;
    c->dur = unit() < f->answer ? expo(f->talk) : 0;
}

/* The lists of the random mix. */
static void mix_lists(const char *dir, const struct mix *m, const struct mix_trunks *tr)
{
    FILE *f = open_in(dir, "protected.csv");
    int i;
    fputs("number,brand,spcs,min_attest\n", f);
    for (i = 0; i < m->nprotected; i++)
        fprintf(f, "%s,Bank %c,%s,A\n", m->num[m->protected_first + i], 'A' + i / 3,
                tr->spc_bank[i / 3]);
    fclose(f);
    f = open_in(dir, "dno.csv");
    fputs("number,note\n", f);
    for (i = 0; i < m->ndno; i++)
        fprintf(f, "%s,inbound-only\n", m->num[m->dno_first + i]);
    fclose(f);
    f = open_in(dir, "ingress.csv");
    fputs("ingress,international,addresses,note\n", f);
    for (i = 0; i < m->ncarriers; i++)
        fprintf(f, "%s,no,,domestic carrier\n", tr->carrier[i]);
    for (i = 0; i < m->nsmall; i++)
        fprintf(f, "%s,no,,domestic carrier\n", tr->small[i]);
    fprintf(f, "%s,no,,domestic transit\n", tr->transit);
    for (i = 0; i < m->ngw; i++)
        fprintf(f, "%s,yes,,international gateway\n", tr->gw[i]);
    fclose(f);
}

/* calls.csv and truth.csv of the random mix: legitimate rows evenly over
 * the span, the fraud calls merged in by time. */
static void mix_write(const struct sim_opts *so, int64_t span)
{
    static struct mix m;
    struct mix_trunks tr;
    FILE *f = open_in(so->dir, "calls.csv"), *truth;
    struct out o;
    char time[24];
    uint64_t i, li = 0, fi = 0, nlegit;
    int64_t last_t = -1;
    bool gw_used[3] = {false};
    int k;

    mix_build(&m, so, &tr, span);
    mix_lists(so->dir, &m, &tr);
    nlegit = so->rows > m.nfc ? so->rows - m.nfc : 0;
    memset(&o, 0, sizeof o);
    o.f = f;
    puts_(&o, "time,calling,called,duration,ingress,verstat,attest,origid,spc,call_id\n");
    truth = open_in(so->dir, "truth.csv");
    fputs("kind,key\n", truth);
    for (i = 0; li < nlegit || fi < m.nfc; i++) {
        struct call c = {
            .verstat = "TN-Validation-Passed", .origid = "", .attest = 'A', .intent = ""};
        int64_t lt = (int64_t)((double)li * (double)span / (double)(nlegit ? nlegit : 1)), t;
        bool fraud = fi < m.nfc && (li >= nlegit || m.fc[fi].t < lt);
        snprintf(c.called, sizeof c.called, "%s", m.num[m.cons_num[below(m.ncons)]]);
        if (fraud) {
            t = m.fc[fi].t;
            mix_fraud_call(&m, (int)m.fc[fi].who, &c);
            fprintf(truth, "victim,%s\n", c.called);
            fi++;
        } else {
            t = lt;
            mix_legit(&m, &tr, t, &c);
            li++;
        }
        if (t != last_t) {
            cg_time_iso(EPOCH0 + t, time);
            last_t = t;
        }
        write_call(&o, time, &c, i, false);
    }
    for (k = 0; k < m.nfraud; k++) {
        const struct mix_fraud *x = &m.fraud[k];
        const struct mix_ent *e = &m.ent[x->ent];
        int g;
        if (!x->placed)
            continue;
        if (x->kind == M_GATEWAY) {
            for (g = 0; g < m.ngw; g++)
                if (!strcmp(tr.gw[g], e->ingress) && !gw_used[g]) {
                    gw_used[g] = true;
                    fprintf(truth, "origin,%s||\n", e->ingress);
                }
        } else {
            fprintf(truth, "origin,%s|%s|%s\n", e->ingress, e->spc, e->origid);
        }
        fprintf(truth, "campaign,%s|%s|%s|%llu\n", mix_kind_name[x->kind], e->ingress, e->origid,
                (unsigned long long)x->placed);
    }
    if (fclose(truth) != 0)
        cli_die("cannot write truth.csv");
    fwrite(o.buf, 1, o.n, f);
    if (fclose(f) != 0)
        cli_die("cannot write calls.csv: %s", strerror(errno));
    free(m.num);
    free(m.cons_num);
    free(m.cons_ent);
    free(m.cons_port_ent);
    free(m.cons_trip0);
    free(m.cons_trip1);
    free(m.cons_port_t);
    free(m.fc);
}

int cmd_simulate(int argc, char **argv)
{
    struct sim_opts so;
    struct population pop;
    struct campaign *camp;
    int64_t span;

    if (!parse_options(argc, argv, &so))
        return 0;
    if (mkdir(so.dir, 0755) != 0 && errno != EEXIST)
        cli_die("cannot create %s: %s", so.dir, strerror(errno));
    rng_state = so.seed * 0x2545f4914f6cdd1dull + 1;
    finish_options(&so);
    span = (int64_t)so.days * 86400;
    if (so.random_mix) {
        if (so.unsigned_uk)
            cli_die("--mix random is of the default profile");
        mix_write(&so, span);
        printf("wrote %llu calls (random mix) over %d day(s) to %s\n", (unsigned long long)so.rows,
               so.days, so.dir);
        return 0;
    }
    list_numbers(&pop);
    write_lists(so.dir, &pop);
    if (so.unsigned_uk)
        write_ofcom(so.dir);
    make_callers(&pop, &so);
    camp = plan_campaigns(&so, span);
    write_calls(&so, &pop, camp, span);
    printf("wrote %llu calls, %llu campaigns over %d day(s) to %s\n", (unsigned long long)so.rows,
           (unsigned long long)so.ncampaigns, so.days, so.dir);
    population_free(&pop);
    free(camp);
    return 0;
}
