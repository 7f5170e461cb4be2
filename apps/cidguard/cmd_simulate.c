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
    "  Writes DIR/calls.csv (time,calling,called,duration,ingress,verstat,attest,origid,\n"
    "  spc,call_id), DIR/truth.csv and the policy lists the traffic assumes.  Defaults:\n"
    "  100000 rows, seed 1, one day per million rows, one campaign per 100000 rows (at\n"
    "  least 6), 2%% of rows spoofed, 5 call centres, legitimate answer rate 0.6.\n";

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

enum kind { K_BANK, K_DNO, K_ROTATION, K_INTL_UK, K__COUNT };
static const char *const kind_name[] = {"bank", "dno", "rotation", "intl_uk"};

struct campaign {
    enum kind kind;
    bool via_gateway;   /* unsigned through the international gateway */
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

static void uuid(char *out, uint64_t a)
{
    uint64_t b = rnd();
    snprintf(out, 40, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xfff, (unsigned)(b >> 52), (unsigned long long)(b & 0xffffffffffffull));
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

int cmd_simulate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},       {"rows", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},      {"days", required_argument, 0, 'd'},
        {"campaigns", required_argument, 0, 'k'}, {"spoof-share", required_argument, 0, 'f'},
        {"call-centres", required_argument, 0, 'c'}, {"answer-rate", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *dir = NULL;
    uint64_t rows = 100000, seed = 1, i, nconsumers, ncampaigns = 0;
    int days = 0, ncentres = 5, c, j;
    double share = 0.02, answer = 0.6;
    char bank_num[NBANKS][BANK_NUMS][16], dno[NDNO][16], (*consumer)[16], centre_num[64][10][16];
    char (*consumer_origid)[40], centre_origid[64][40], tbuf[24], last_tbuf[24] = "";
    struct campaign *camp;
    struct out o;
    FILE *f;
    int64_t span, t, last_t = -1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'n': rows = (uint64_t)cli_int("--rows", optarg, 100, 1000000000); break;
        case 's': seed = (uint64_t)cli_int("--seed", optarg, 0, INT64_MAX); break;
        case 'd': days = (int)cli_int("--days", optarg, 1, 3650); break;
        case 'k': ncampaigns = (uint64_t)cli_int("--campaigns", optarg, 1, 100000); break;
        case 'c': ncentres = (int)cli_int("--call-centres", optarg, 0, 64); break;
        case 'f':
            share = strtod(optarg, NULL);
            if (share <= 0 || share > 0.5)
                cli_die("--spoof-share must be above 0 and at most 0.5");
            break;
        case 'a':
            answer = strtod(optarg, NULL);
            if (answer < 0 || answer > 1)
                cli_die("--answer-rate must be from 0 to 1");
            break;
        case 'h': fputs(help, stdout); return 0;
        case ':': cli_die("%s needs a value", argv[optind - 1]);
        default: cli_die("unknown option %s (try 'cidguard simulate --help')", argv[optind - 1]);
        }
    }
    if (optind != argc)
        cli_die("unexpected argument \"%s\"", argv[optind]);
    if (!dir)
        cli_die("simulate needs --out DIR");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        cli_die("cannot create %s: %s", dir, strerror(errno));
    rng_state = seed * 0x2545f4914f6cdd1dull + 1;
    if (!days)
        days = (int)(rows / 1000000) > 0 ? (int)(rows / 1000000) : 1;
    if (!ncampaigns)
        ncampaigns = rows / 100000 > 6 ? rows / 100000 : 6;
    span = (int64_t)days * 86400;
    nconsumers = rows / 20 > 2000 ? rows / 20 : 2000;
    if (nconsumers > 2000000)
        nconsumers = 2000000;

    /* the lists the traffic assumes: banks' numbers (drama range), DNO */
    f = open_in(dir, "protected.csv");
    fputs("number,brand,spcs,min_attest\n", f);
    for (j = 0; j < NBANKS; j++)
        for (c = 0; c < BANK_NUMS; c++) {
            snprintf(bank_num[j][c], 16, "4420794601%d%d", j, c);
            fprintf(f, "%s,%s Bank,BANK%d,A\n", bank_num[j][c], (const char *[]){"Alpha", "Beta", "Gamma"}[j], j + 1);
        }
    fclose(f);
    f = open_in(dir, "dno.csv");
    fputs("number,note\n", f);
    for (j = 0; j < NDNO; j++) {
        snprintf(dno[j], 16, "4480015700%02d", j);
        fprintf(f, "%s,inbound-only helpline\n", dno[j]);
    }
    fclose(f);
    f = open_in(dir, "ingress.csv");
    fputs("ingress,international,addresses,note\n"
          "peer-1,no,,domestic carrier\npeer-2,no,,domestic carrier\npeer-3,no,,domestic carrier\n"
          "peer-4,no,,domestic carrier\npeer-5,no,,small domestic carrier\n"
          "intl-gw,yes,,international gateway\n", f);
    fclose(f);

    if (!(consumer = malloc(nconsumers * sizeof *consumer)) ||
        !(consumer_origid = malloc(nconsumers * sizeof *consumer_origid)) ||
        !(camp = calloc(ncampaigns, sizeof *camp)))
        cli_die("out of memory");
    for (i = 0; i < nconsumers; i++) {
        number(consumer[i], "4474", 8);
        uuid(consumer_origid[i], i);
    }
    for (j = 0; j < ncentres; j++) {
        uuid(centre_origid[j], 0xcc00 + (uint64_t)j);
        for (c = 0; c < 10; c++)
            number(centre_num[j][c], "44203", 7);
    }
    /* campaigns: calls, a rate of 6-20 a minute, a window placed at random */
    {
        double rows_per_s = (double)rows / (double)span;
        uint64_t per = (uint64_t)((double)rows * share / (double)ncampaigns);
        if (per < 20)
            per = 20;
        for (i = 0; i < ncampaigns; i++) {
            struct campaign *k = &camp[i];
            double rate = (6.0 + (double)below(15)) / 60.0, p = rate / rows_per_s;
            int64_t len;
            k->kind = (enum kind)(i % K__COUNT);
            k->via_gateway = k->kind == K_INTL_UK || (k->kind == K_BANK && i % 8 == 4);
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
    }

    f = open_in(dir, "calls.csv");
    memset(&o, 0, sizeof o);
    o.f = f;
    puts_(&o, "time,calling,called,duration,ingress,verstat,attest,origid,spc,call_id\n");
    {
        FILE *truth = open_in(dir, "truth.csv");
        bool used_gw = false;
        fputs("kind,key\n", truth);
        for (i = 0; i < rows; i++) {
            char calling[24], called[24], spc[24] = "", ingress[24];
            const char *verstat = "TN-Validation-Passed", *origid = "";
            char attest = 'A';
            unsigned dur;
            uint64_t k, cons = below(nconsumers);
            struct campaign *cp = NULL;
            double r;

            t = EPOCH0 + (int64_t)((double)i * (double)span / (double)rows);
            /* is a campaign calling now? */
            r = unit();
            for (k = 0; k < ncampaigns; k++) {
                struct campaign *x = &camp[(i + k) % ncampaigns];
                if (x->left && t - EPOCH0 >= x->start && t - EPOCH0 < x->end) {
                    if (r < x->p) {
                        cp = x;
                        break;
                    }
                    r -= x->p;
                    if (r < 0)
                        break;
                }
            }
            /* callees: consumers (victims are ordinary people) */
            snprintf(called, sizeof called, "%s", consumer[below(nconsumers)]);
            if (cp) {
                cp->left--;
                cp->placed++;
                snprintf(ingress, sizeof ingress, "%s", cp->via_gateway ? "intl-gw" : "peer-5");
                if (!cp->via_gateway) {
                    snprintf(spc, sizeof spc, "SMALL1");
                    attest = 'C';
                    origid = cp->origid;
                } else {
                    verstat = "No-TN-Validation";
                    attest = '-';
                }
                switch (cp->kind) {
                case K_BANK:
                    if (!cp->via_gateway && below(3) == 0)
                        number(calling, "4474", 8); /* the same account, rotating */
                    else
                        snprintf(calling, sizeof calling, "%s", bank_num[below(NBANKS)][below(BANK_NUMS)]);
                    break;
                case K_DNO: snprintf(calling, sizeof calling, "%s", dno[below(NDNO)]); break;
                case K_ROTATION:
                    if (below(4) == 0)
                        snprintf(calling, sizeof calling, "%s", consumer[below(nconsumers)]);
                    else
                        number(calling, "4474", 8);
                    break;
                default: number(calling, "4420", 8); break;
                }
                dur = unit() < 0.75 ? expo(600) : 0;
                fprintf(truth, "victim,%s\n", called);
                if (cp->via_gateway)
                    used_gw = true;
            } else {
                r = unit();
                if (r < 0.68) { /* consumer */
                    snprintf(calling, sizeof calling, "%s", consumer[cons]);
                    snprintf(ingress, sizeof ingress, "peer-%d", (int)(cons % 4) + 1);
                    if (unit() < 0.03) { /* through a transit that drops the Identity header */
                        snprintf(ingress, sizeof ingress, "peer-4");
                        verstat = "No-TN-Validation";
                        attest = '-';
                    } else {
                        snprintf(spc, sizeof spc, "CARR%d", (int)(cons % 4) + 1);
                        origid = consumer_origid[cons];
                    }
                } else if (r < 0.70) { /* small businesses on the small carrier: own numbers, B */
                    uint64_t b = below(40);
                    snprintf(calling, sizeof calling, "%s", consumer[(b * 7919 + below(2)) % nconsumers]);
                    snprintf(ingress, sizeof ingress, "peer-5");
                    snprintf(spc, sizeof spc, "SMALL1");
                    attest = 'B';
                    origid = consumer_origid[(b * 104729) % nconsumers];
                } else if (r < 0.85 && ncentres) { /* call centre, own numbers */
                    int cc = (int)below((uint64_t)ncentres);
                    snprintf(calling, sizeof calling, "%s", centre_num[cc][below(10)]);
                    snprintf(ingress, sizeof ingress, "peer-%d", cc % 4 + 1);
                    snprintf(spc, sizeof spc, "CARR%d", cc % 4 + 1);
                    origid = centre_origid[cc];
                } else if (r < 0.88) { /* a bank's genuine outbound call */
                    int b = (int)below(NBANKS);
                    snprintf(calling, sizeof calling, "%s", bank_num[b][below(BANK_NUMS)]);
                    snprintf(ingress, sizeof ingress, "peer-%d", b + 1);
                    snprintf(spc, sizeof spc, "BANK%d", b + 1);
                    origid = "b0000000-0000-4000-a000-00000000000b";
                } else { /* international: foreign numbers, UK mobiles roaming */
                    static const char *const cc[] = {"331", "4930", "1212", "3491", "4474"};
                    number(calling, cc[below(5)], 7);
                    snprintf(ingress, sizeof ingress, "intl-gw");
                    verstat = "No-TN-Validation";
                    attest = '-';
                }
                dur = unit() < answer ? expo(90) : 0;
            }
            if (t != last_t) {
                cg_time_iso(t, tbuf);
                memcpy(last_tbuf, tbuf, sizeof tbuf);
                last_t = t;
            }
            puts_(&o, last_tbuf);
            put(&o, ",+", 2);
            puts_(&o, calling);
            put(&o, ",+", 2);
            puts_(&o, called);
            put(&o, ",", 1);
            putu(&o, dur);
            put(&o, ",", 1);
            puts_(&o, ingress);
            put(&o, ",", 1);
            puts_(&o, verstat);
            put(&o, ",", 1);
            if (attest != '-')
                put(&o, &attest, 1);
            put(&o, ",", 1);
            puts_(&o, origid);
            put(&o, ",", 1);
            puts_(&o, spc);
            put(&o, ",c", 2);
            putu(&o, i);
            put(&o, "\n", 1);
        }
        for (i = 0; i < ncampaigns; i++) {
            if (!camp[i].via_gateway && camp[i].placed)
                fprintf(truth, "origin,peer-5|SMALL1|%s\n", camp[i].origid);
            fprintf(truth, "campaign,%s|%s|%s|%llu\n", kind_name[camp[i].kind],
                    camp[i].via_gateway ? "intl-gw" : "peer-5", camp[i].via_gateway ? "" : camp[i].origid,
                    (unsigned long long)camp[i].placed);
        }
        if (used_gw)
            fprintf(truth, "origin,intl-gw||\n");
        if (fclose(truth) != 0)
            cli_die("cannot write truth.csv");
    }
    fwrite(o.buf, 1, o.n, f);
    if (fclose(f) != 0)
        cli_die("cannot write calls.csv: %s", strerror(errno));
    printf("wrote %llu calls, %llu campaigns over %d day(s) to %s\n", (unsigned long long)rows,
           (unsigned long long)ncampaigns, days, dir);
    free(consumer);
    free(consumer_origid);
    free(camp);
    return 0;
}
