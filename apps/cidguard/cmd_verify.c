#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard verify --identity VALUE|- --from TN --to TN [--pai TN] [--ruri TN]\n"
    "                       [--cert CHAIN.pem] [--trust CA.pem]... [--crl CRL.pem]...\n"
    "                       [--untrusted PEM]... [--at SECONDS] [--freshness N]\n"
    "                       [--allow-http] [--country-code CC]\n"
    "       cidguard verify --batch FILE|- [--threads N] [same certificate options]\n"
    "  Prints one JSON verdict.  Exit 0: TN-Validation-Passed; 1: not passed; 2: bad usage.\n"
    "  VALUE is an Identity header value; a bare PASSporT (no ;info) is accepted too.\n"
    "  --identity may be repeated (SHAKEN plus div, RFC 8946): the best verdict wins.\n"
    "  --batch reads ATIS-1000082 verificationRequest objects, one a line, and writes the\n"
    "  verdicts in the same order.  --at evaluates as if the clock read SECONDS.\n";

#define BATCH_CHUNK 2048
#define BATCH_LINE_MAX CG_ATIS_BODY_MAX

static const char too_long[] = "{\"requestError\":{\"serviceException\":{\"messageId\":"
                               "\"SVC4006\",\"text\":\"Error: JSON parse failure.\","
                               "\"variables\":[]}}}";

struct batch_ctx {
    const struct cg_verifier *v;
    const struct cg_tn_plan *plan;
    int64_t now;
};

/* One chunk of lines and their answers. */
struct chunk {
    char *lines[BATCH_CHUNK];
    char *results[BATCH_CHUNK];
    bool passed[BATCH_CHUNK];
    size_t n;
};

/*
 * The batch is a pipeline of two chunks: while the workers verify one, the
 * main thread writes the answers of the one before and reads the next, so
 * that reading and writing (one thread, in order) never leave the workers
 * idle, and then verifies lines of it too.  --threads N is N threads in all,
 * the main thread among them: N - 1 workers.  (With a thread of its own for
 * reading and writing, one "thread" took about 1.15 cores, and two
 * verifying threads on two cores gained only 1.70-1.73 times as much.)
 * A generation counter hands each chunk to the workers.
 */
struct batch {
    struct batch_ctx ctx;
    struct chunk chunk[2];
    struct chunk *cur; /* the chunk being verified */
    atomic_size_t next;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen, busy;
    bool quit;
};

/* One ATIS-1000082 verificationRequest line to one verdict line; a
 * malformed request gets the serviceException object instead. */
static char *verify_line(const struct batch_ctx *bc, const char *line, bool *passed)
{
    struct cg_atis_verify_req req;
    struct cg_atis_error err;
    struct cg_call call = {0};
    struct cg_verdict vd;
    const char *ident;
    char *out = NULL;
    int rc;

    *passed = false;
    rc = cg_atis_parse_verify(line, strlen(line), bc->plan, &req, &err);
    if (rc == CG_EPARSE) {
        cg_atis_error_json(&err, &out);
        return out;
    }
    if (rc != CG_OK)
        cli_die("%s", cg_strerror(rc));
    ident = req.identity;
    call.from = req.from;
    call.to = req.to;
    call.identity = &ident;
    call.nidentity = 1;
    call.now = bc->now;
    call.request_time = req.time;
    call.bare_token = strchr(ident, ';') == NULL;
    if (cg_verify(bc->v, &call, &vd) != CG_OK) {
        err = (struct cg_atis_error){"POL5000", 500, "Error: internal error.", ""};
        cg_atis_error_json(&err, &out);
    } else {
        *passed = vd.verstat == CG_VERSTAT_PASSED;
        cg_verdict_json(&vd, &out);
    }
    cg_atis_verify_req_clear(&req);
    return out;
}

/* Verifies the lines of c not yet taken, one at a time, as the other
 * threads do. */
static void verify_lines(struct batch *b, struct chunk *c)
{
    size_t i;
    while ((i = atomic_fetch_add(&b->next, 1)) < c->n)
        c->results[i] =
            c->lines[i] ? verify_line(&b->ctx, c->lines[i], &c->passed[i]) : strdup(too_long);
}

static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    unsigned seen = 0;
    for (;;) {
        struct chunk *c;
        pthread_mutex_lock(&b->mu);
        while (b->gen == seen && !b->quit)
            pthread_cond_wait(&b->go, &b->mu);
        if (b->quit) {
            pthread_mutex_unlock(&b->mu);
            return NULL;
        }
        seen = b->gen;
        c = b->cur;
        pthread_mutex_unlock(&b->mu);
        verify_lines(b, c);
        pthread_mutex_lock(&b->mu);
        if (--b->busy == 0)
            pthread_cond_signal(&b->done);
        pthread_mutex_unlock(&b->mu);
    }
}

/* Reads one line of at most BATCH_LINE_MAX bytes; longer lines are consumed
 * and reported as NULL in *line.  Returns false at end of input. */
static bool read_line(FILE *f, char **line)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getline(&buf, &cap, f);
    if (n < 0) {
        free(buf);
        return false;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n > BATCH_LINE_MAX) {
        free(buf);
        buf = NULL;
    }
    *line = buf;
    return true;
}

/* Fills c with the next lines (blank ones skipped); false at end of input. */
static bool read_chunk(FILE *f, struct chunk *c)
{
    bool more = true;
    c->n = 0;
    while (c->n < BATCH_CHUNK && (more = read_line(f, &c->lines[c->n]))) {
        if (c->lines[c->n] && c->lines[c->n][0] == '\0') {
            free(c->lines[c->n]);
            continue;
        }
        c->n++;
    }
    return more;
}

/* Writes c's answers in order and empties it; whether every line passed. */
static bool write_chunk(struct chunk *c)
{
    bool all = true;
    size_t i;
    for (i = 0; i < c->n; i++) {
        fputs(c->results[i] ? c->results[i] : "{}", stdout);
        putchar('\n');
        all &= c->passed[i];
        free(c->results[i]);
        free(c->lines[i]);
    }
    c->n = 0;
    return all;
}

static int run_batch(const struct batch_ctx *bc, const char *path, int threads)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    struct batch *b = calloc(1, sizeof *b);
    struct chunk *prev = NULL;
    pthread_t tid[64];
    bool all_passed = true, more;
    int t, workers = threads - 1;

    if (!f)
        cli_die("cannot open %s", path);
    if (!b)
        cli_die("out of memory");
    b->ctx = *bc;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->go, NULL);
    pthread_cond_init(&b->done, NULL);
    for (t = 0; t < workers; t++)
        if (pthread_create(&tid[t], NULL, batch_worker, b))
            cli_die("cannot start a thread");
    b->cur = &b->chunk[0];
    more = read_chunk(f, b->cur);
    while (b->cur->n || (prev && prev->n)) {
        struct chunk *c = b->cur, *other = c == &b->chunk[0] ? &b->chunk[1] : &b->chunk[0];
        pthread_mutex_lock(&b->mu);
        atomic_store(&b->next, 0);
        b->busy = (unsigned)workers;
        b->gen++;
        pthread_cond_broadcast(&b->go);
        pthread_mutex_unlock(&b->mu);
        /* while c is verified: the previous answers out, the next lines in */
        if (prev)
            all_passed &= write_chunk(prev);
        if (more)
            more = read_chunk(f, other);
        verify_lines(b, c);
        pthread_mutex_lock(&b->mu);
        while (b->busy)
            pthread_cond_wait(&b->done, &b->mu);
        pthread_mutex_unlock(&b->mu);
        prev = c;
        b->cur = other;
    }
    if (prev)
        all_passed &= write_chunk(prev);
    pthread_mutex_lock(&b->mu);
    b->quit = true;
    pthread_cond_broadcast(&b->go);
    pthread_mutex_unlock(&b->mu);
    for (t = 0; t < workers; t++)
        pthread_join(tid[t], NULL);
    pthread_cond_destroy(&b->go);
    pthread_cond_destroy(&b->done);
    pthread_mutex_destroy(&b->mu);
    if (f != stdin)
        fclose(f);
    free(b);
    return all_passed ? EXIT_PASS : EXIT_NOTPASS;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"identity", required_argument, 0, 'i'},
                                         {"from", required_argument, 0, 'f'},
                                         {"pai", required_argument, 0, 'p'},
                                         {"to", required_argument, 0, 't'},
                                         {"ruri", required_argument, 0, 'r'},
                                         {"cert", required_argument, 0, 'c'},
                                         {"trust", required_argument, 0, 'T'},
                                         {"crl", required_argument, 0, 'C'},
                                         {"untrusted", required_argument, 0, 'u'},
                                         {"at", required_argument, 0, 'a'},
                                         {"freshness", required_argument, 0, 'F'},
                                         {"allow-http", no_argument, 0, 'H'},
                                         {"country-code", required_argument, 0, 'k'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 'n'},
                                         {"crl-required", no_argument, 0, 'R'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *identities[8], *certpath = NULL, *batch = NULL, *cc = NULL;
    size_t nid = 0;
    const char *trusts[16], *crls[16], *untrusted[16];
    size_t ntrust = 0, ncrl = 0, nunt = 0, i;
    struct cg_verify_config cfg = {0};
    struct cg_call call = {0};
    struct cg_trust *trust;
    struct cg_certmap *map;
    struct cg_verifier *v;
    struct cg_verdict vd;
    unsigned tflags = 0;
    int threads = 1, c, rc;
    char *idbuf = NULL, *out;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (nid == 8)
                cli_die("at most 8 --identity");
            identities[nid++] = optarg;
            break;
        case 'f':
            call.from = optarg;
            break;
        case 'p':
            call.pai = optarg;
            break;
        case 't':
            call.to = optarg;
            break;
        case 'r':
            call.ruri = optarg;
            break;
        case 'c':
            certpath = optarg;
            break;
        case 'T':
            if (ntrust == 16)
                cli_die("at most 16 --trust");
            trusts[ntrust++] = optarg;
            break;
        case 'C':
            if (ncrl == 16)
                cli_die("at most 16 --crl");
            crls[ncrl++] = optarg;
            break;
        case 'u':
            if (nunt == 16)
                cli_die("at most 16 --untrusted");
            untrusted[nunt++] = optarg;
            break;
        case 'a':
            call.now = cli_int("--at", optarg, 1, 253402300799LL);
            break;
        case 'F':
            cfg.freshness = (int)cli_int("--freshness", optarg, 1, 86400 * 365);
            break;
        case 'H':
            cfg.allow_http = true;
            break;
        case 'k':
            cc = optarg;
            break;
        case 'b':
            batch = optarg;
            break;
        case 'n':
            threads = (int)cli_int("--threads", optarg, 1, 64);
            break;
        case 'R':
            tflags |= CG_TRUST_CRL_REQUIRED;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(c, argv[optind - 1], "verify");
        }
    }
    if (optind != argc)
        cli_die("unexpected argument \"%s\"", argv[optind]);
    if (!batch && (!nid || !call.from || !call.to))
        cli_die("verify needs --identity, --from and --to (or --batch)");
    cfg.plan = cli_plan(cc);

    if ((rc = cg_trust_new(&trust, tflags)) != CG_OK || (rc = cg_certmap_new(&map)) != CG_OK)
        cli_die("%s", cg_strerror(rc));
    for (i = 0; i < ntrust; i++)
        if ((rc = cg_trust_add_anchors_file(trust, trusts[i])) != CG_OK)
            cli_die("cannot load trust anchors %s: %s", trusts[i], cg_strerror(rc));
    for (i = 0; i < ncrl; i++)
        if ((rc = cg_trust_add_crl_file(trust, crls[i])) != CG_OK)
            cli_die("cannot load CRL %s: %s", crls[i], cg_strerror(rc));
    for (i = 0; i < nunt; i++)
        if ((rc = cg_trust_add_untrusted_file(trust, untrusted[i])) != CG_OK)
            cli_die("cannot load certificates %s: %s", untrusted[i], cg_strerror(rc));
    if (certpath) {
        struct cg_chain *chain;
        const char *why;
        if ((rc = cg_chain_load_file(&chain, certpath, &why)) != CG_OK)
            cli_die("cannot load certificate bundle %s: %s", certpath, why ? why : cg_strerror(rc));
        cg_certmap_add(map, NULL, chain);
        cg_chain_unref(chain);
    }
    cfg.trust = trust;
    cfg.certsrc = cg_certmap_source(map);
    if ((rc = cg_verifier_new(&v, &cfg)) != CG_OK)
        cli_die("%s", cg_strerror(rc));

    if (batch) {
        struct batch_ctx bc = {v, cfg.plan, call.now};
        rc = run_batch(&bc, batch, threads);
    } else {
        for (i = 0; i < nid; i++) {
            /* A value that is not an Identity header at all is the person's
             * mistake (exit 2); anything parseable gets a verdict. */
            struct cg_identity id;
            const char *why;
            if (strcmp(identities[i], "-") == 0) {
                size_t n;
                if (idbuf)
                    cli_die("only one --identity may be read from stdin");
                idbuf = cli_slurp("-", CG_IDENTITY_MAX * 4, &n);
                while (n && (idbuf[n - 1] == '\n' || idbuf[n - 1] == '\r'))
                    idbuf[--n] = '\0';
                identities[i] = idbuf;
            }
            if (cg_identity_parse(identities[i], strlen(identities[i]), &id, &why) != CG_OK)
                cli_die("malformed Identity header: %s", why);
        }
        call.identity = identities;
        call.nidentity = nid;
        call.bare_token = nid == 1 && strchr(identities[0], ';') == NULL;
        if ((rc = cg_verify(v, &call, &vd)) != CG_OK)
            cli_die("verification could not run: %s", cg_strerror(rc));
        if (cg_verdict_json(&vd, &out) != CG_OK)
            cli_die("out of memory");
        puts(out);
        free(out);
        rc = vd.verstat == CG_VERSTAT_PASSED ? EXIT_PASS : EXIT_NOTPASS;
    }
    free(idbuf);
    cg_verifier_free(v);
    cg_certmap_free(map);
    cg_trust_free(trust);
    return rc;
}
