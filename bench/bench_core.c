/*
 * cidguard-bench: what the call path costs next to the cryptography.
 *
 * Prints, from one run on one machine: raw OpenSSL ES256 sign/s and
 * verify/s (ECDSA P-256 as `openssl speed` runs it: a context per thread set
 * up once, a precomputed SHA-256 digest),
 * our full sign path (claims, canonical JSON, base64url, signature, header)
 * and our full verify path (header parse, JWS decode, claim checks, number
 * canonicalization, cached certificate, signature), their ratios, and the
 * same on all cores; then the same with the signing key's verification
 * table (busy keys), the table's build time and size.  It never fails for
 * being slow: machines are noisy.
 *
 *   cidguard-bench [--seconds S per round] [--rounds N] [--threads N]
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "cidguard/behaviour.h"
#include "cidguard/cidguard.h"

static double seconds = 0.5;

struct ctx {
    EVP_PKEY *priv, *pub;
    unsigned char der[80];
    size_t derlen;
    unsigned char md[32]; /* SHA-256 of the signing input */
    const char *input;
    size_t inlen;
    struct cg_verifier *verifier;
    struct cg_signer *signer;
    const char *identity;
    /* busy keys: the leaf's key, and two more keys over the same input, one
     * verifying with a table, one without */
    const struct cg_key *leafkey;
    struct cg_key *kevp, *kfast;
    unsigned char sigevp[64], sigfast[64];
};

enum op { RAW_VERIFY, RAW_SIGN, OUR_VERIFY, OUR_SIGN, JWS_VERIFY, ES256_EVP, ES256_FAST };

struct job {
    struct ctx *c;
    enum op op;
    atomic_int *stop;
    unsigned long long n;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "cidguard-bench: %s\n", what);
    exit(2);
}

/* Raw ECDSA as `openssl speed ecdsap256` measures it: a context set up
 * once per thread and key, a precomputed digest, a DER signature. */
static EVP_PKEY_CTX *thread_ctx(EVP_PKEY *k, int sign)
{
    static __thread EVP_PKEY_CTX *ctx[2];
    if (!ctx[sign]) {
        ctx[sign] = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
        if (!ctx[sign] ||
            (sign ? EVP_PKEY_sign_init(ctx[sign]) : EVP_PKEY_verify_init(ctx[sign])) != 1)
            die("EVP_PKEY_CTX");
    }
    return ctx[sign];
}

static void one(struct ctx *c, enum op op)
{
    switch (op) {
    case RAW_VERIFY:
        if (EVP_PKEY_verify(thread_ctx(c->pub, 0), c->der, c->derlen, c->md, 32) != 1)
            die("raw verify failed");
        break;
    case RAW_SIGN: {
        unsigned char sig[80];
        size_t sl = sizeof sig;
        if (EVP_PKEY_sign(thread_ctx(c->priv, 1), sig, &sl, c->md, 32) != 1)
            die("raw sign failed");
        break;
    }
    case JWS_VERIFY: {
        /* a bare JWS verify with a preloaded key: EVP one-shot per call */
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, c->pub) != 1 ||
            EVP_DigestVerify(m, c->der, c->derlen, (const unsigned char *)c->input, c->inlen) != 1)
            die("bare JWS verify failed");
        EVP_MD_CTX_free(m);
        break;
    }
    case OUR_VERIFY: {
        struct cg_call call = {0};
        struct cg_verdict v;
        call.from = "sip:+442079460000@sbc.example.net;user=phone";
        call.to = "tel:+14155550100";
        call.identity = &c->identity;
        call.nidentity = 1;
        if (cg_verify(c->verifier, &call, &v) != CG_OK || v.verstat != CG_VERSTAT_PASSED)
            die("our verify did not pass");
        break;
    }
    case ES256_EVP:
    case ES256_FAST: {
        bool valid;
        if (cg_es256_verify(op == ES256_FAST ? c->kfast : c->kevp, c->input, c->inlen,
                            op == ES256_FAST ? c->sigfast : c->sigevp, &valid) != CG_OK ||
            !valid)
            die("ES256 verify failed");
        break;
    }
    case OUR_SIGN: {
        const char *dest = "+14155550100";
        struct cg_sign_request r = {
            .orig = "+442079460000", .dest = &dest, .ndest = 1, .attest = 'A'};
        char *id;
        if (cg_sign(c->signer, &r, &id, NULL) != CG_OK)
            die("our sign failed");
        free(id);
        break;
    }
    }
}

static void *worker(void *arg)
{
    struct job *j = arg;
    while (!atomic_load_explicit(j->stop, memory_order_relaxed)) {
        one(j->c, j->op);
        j->n++;
    }
    return NULL;
}

/* Operations per second with `threads` threads for `seconds`. */
static double run(struct ctx *c, enum op op, int threads)
{
    pthread_t t[64];
    struct job j[64];
    atomic_int stop = 0;
    unsigned long long total = 0;
    double t0;
    int i;
    for (i = 0; i < 200; i++)
        one(c, op); /* warm caches and the chain validation */
    t0 = now();
    for (i = 0; i < threads; i++) {
        j[i] = (struct job){c, op, &stop, 0};
        pthread_create(&t[i], NULL, worker, &j[i]);
    }
    while (now() - t0 < seconds)
        usleep(10000);
    atomic_store(&stop, 1);
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += j[i].n;
    }
    return (double)total / (now() - t0);
}

static void setup(struct ctx *c, const char *dir)
{
    const char *spcs[] = {"1234"};
    struct cg_pki_opts o = {.dir = dir, .spcs = spcs, .nspcs = 1};
    char path[512];
    struct cg_key *key;
    struct cg_trust *trust;
    struct cg_certmap *map;
    struct cg_chain *chain;
    struct cg_verify_config cfg = {0};
    const char *dest = "+14155550100", *dot;
    struct cg_sign_request r = {.orig = "+442079460000",
                                .dest = &dest,
                                .ndest = 1,
                                .attest = 'A',
                                .origid = "de305d54-75b4-431b-adb2-eb6b9e546014"};
    char *id;
    FILE *f;

    if (cg_pki_init(&o, NULL) != CG_OK)
        die("pki init failed");
    snprintf(path, sizeof path, "%s/sp-1234.key", dir);
    if (cg_key_load_file(&key, path) != CG_OK)
        die("key load failed");
    if (cg_signer_new(&c->signer, key, "https://cert.example.net/sp-1234.pem") != CG_OK)
        die("signer");
    if (cg_sign(c->signer, &r, &id, NULL) != CG_OK)
        die("sign");
    c->identity = id;
    c->input = id;
    dot = strrchr(id, '.');
    c->inlen = (size_t)(dot - id);

    if (!(f = fopen(path, "r")) || !(c->priv = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
        die("raw key");
    fclose(f);
    snprintf(path, sizeof path, "%s/sp-1234-leaf.pem", dir);
    {
        X509 *x;
        if (!(f = fopen(path, "r")) || !(x = PEM_read_X509(f, NULL, NULL, NULL)))
            die("raw cert");
        fclose(f);
        c->pub = X509_get_pubkey(x);
        X509_free(x);
    }
    {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        c->derlen = sizeof c->der;
        EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, c->priv);
        EVP_DigestSign(m, c->der, &c->derlen, (const unsigned char *)c->input, c->inlen);
        EVP_MD_CTX_free(m);
        SHA256((const unsigned char *)c->input, c->inlen, c->md);
    }

    if (cg_trust_new(&trust, 0) || cg_certmap_new(&map))
        die("trust");
    snprintf(path, sizeof path, "%s/root.pem", dir);
    if (cg_trust_add_anchors_file(trust, path))
        die("anchors");
    snprintf(path, sizeof path, "%s/crl.pem", dir);
    if (cg_trust_add_crl_file(trust, path))
        die("crl");
    snprintf(path, sizeof path, "%s/sp-1234.pem", dir);
    if (cg_chain_load_file(&chain, path, NULL) || cg_certmap_add(map, NULL, chain))
        die("chain");
    c->leafkey = cg_chain_key(chain); /* the map holds the chain */
    cg_chain_unref(chain);
    cfg.trust = trust;
    cfg.certsrc = cg_certmap_source(map);
    if (cg_verifier_new(&c->verifier, &cfg))
        die("verifier");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs raw and ours alternately in `rounds` short rounds, so that a busy
 * neighbour on a shared machine slows both alike, and reports the median
 * of each rate and of the per-round ratio. */
struct pair {
    double raw, ours, ratio;
};

static struct pair compare(struct ctx *c, enum op raw, enum op ours, int threads, int rounds)
{
    double r[64], o[64], q[64];
    struct pair p;
    int i;
    for (i = 0; i < rounds; i++) {
        r[i] = run(c, raw, threads);
        o[i] = run(c, ours, threads);
        q[i] = o[i] / r[i];
    }
    qsort(r, (size_t)rounds, sizeof *r, cmp_double);
    qsort(o, (size_t)rounds, sizeof *o, cmp_double);
    qsort(q, (size_t)rounds, sizeof *q, cmp_double);
    p.raw = r[rounds / 2];
    p.ours = o[rounds / 2];
    p.ratio = q[rounds / 2];
    return p;
}

/* Policy cost per call: lists of a realistic size (1,000 protected numbers,
 * 1,000 DNO entries, Ofcom's allocation data when $CG_SHARED/data holds its
 * number-block files, as for the unit tests), local replay and rate state,
 * a different caller and signature every call.  *nofcom is the number of
 * Ofcom files loaded. */
static double policy_us(const char *dir, int *nofcom)
{
    char path[600];
    FILE *f;
    struct cg_policy *p;
    struct cg_policy_state *st;
    struct cg_policy_config cfg = {.uk_rules = true, .nanp_rules = true, .min_attest_uk = 'B'};
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "1234"};
    struct cg_policy_call c = {.verdict = &v, .ingress = "uk-peer", .callee = "447400099000"};
    struct cg_decision d;
    struct cg_intents *intents;
    const char *ofcom[] = {"ofcom_S3.csv", "ofcom_S5.csv", "ofcom_S7.csv", "ofcom_S8.csv",
                           "ofcom_S9.csv"};
    unsigned char sig[64] = {0};
    char caller[32], callid[32], presented[32];
    const char *shared = getenv("CG_SHARED");
    double t0, t1;
    int i, n = 200000;

    if (cg_policy_new(&p, &cfg) || cg_policy_state_new(&st, 65, 600, 100) ||
        cg_intents_new(&intents, 100000, CG_INTENT_USES_MAX))
        die("policy");
    /* the banks' intents the calls below find: one per protected number */
    for (i = 0; i < 1000; i++) {
        snprintf(presented, sizeof presented, "4420794%05d", i);
        cg_intents_add(intents, presented, "447400099000", 1000000, 0);
    }
    /* (each intent allows CG_INTENT_USES_MAX uses; past them the lookup
     * misses, which costs the same) */
    snprintf(path, sizeof path, "%s/protected.csv", dir);
    if (!(f = fopen(path, "w")))
        die("policy file");
    fputs("number,brand,spcs,min_attest\n", f);
    for (i = 0; i < 1000; i++)
        fprintf(f, "4420794%05d,Bank %d,SPC%d,A\n", i, i, i);
    fclose(f);
    cg_policy_load_protected(p, path, NULL, NULL);
    snprintf(path, sizeof path, "%s/dno.csv", dir);
    if (!(f = fopen(path, "w")))
        die("policy file");
    fputs("number,note\n", f);
    for (i = 0; i < 1000; i++)
        fprintf(f, "44800%07d,dno\n", i * 37);
    fclose(f);
    cg_policy_load_dno(p, path, NULL, NULL);
    *nofcom = 0;
    for (i = 0; shared && i < 5; i++) {
        snprintf(path, sizeof path, "%s/data/%s", shared, ofcom[i]);
        if (cg_policy_load_ofcom(p, path, NULL, NULL) == CG_OK)
            (*nofcom)++;
    }
    /* Every call has two numbers, as the daemon's do: a consumer's network
     * number, and a presentation number of its own, a protected one (with
     * the bank's call intent looked up and a use spent, as the daemon does
     * without Redis) on every other call. */
    t0 = now();
    for (i = 0; i < n; i++) {
        unsigned need;
        snprintf(caller, sizeof caller, "4474%08d", i);
        if (i & 1)
            snprintf(presented, sizeof presented, "4420794%05d", i % 1000);
        else
            snprintf(presented, sizeof presented, "4474%08d", i + 1);
        snprintf(callid, sizeof callid, "c%d", i);
        memcpy(sig, &i, sizeof i);
        c.caller = caller;
        c.presented = presented;
        c.call_id = callid;
        c.sig = sig;
        c.siglen = sizeof sig;
        c.now = 1000 + i / 10000;
        need = cg_policy_intents_needed(p, &c);
        c.intents =
            (need & CG_POLICY_NUM_PRESENTED) && cg_intents_use(intents, presented, c.callee, c.now)
                ? CG_POLICY_NUM_PRESENTED
                : 0;
        cg_policy_decide(p, st, &c, &d);
    }
    t1 = now();
    cg_intents_free(intents);
    cg_policy_state_free(st);
    cg_policy_free(p);
    return (t1 - t0) / n * 1e6;
}

/* A call's campaign behaviour with two daemons sharing it, for the busy
 * keys' comparison. */
static double behaviour_shared;

/* The calls of the behaviour benchmarks, formatted before the clock starts
 * (a daemon has each call's fields already): 2,000 origins busy, a new
 * presentation number and callee every call, 1,000 calls a second. */
struct bench_call {
    char spc[8], origid[40], presented[16], callee[16];
    struct cg_behaviour_call c;
};

static struct bench_call *bench_calls(int n)
{
    struct bench_call *bc = malloc((size_t)n * sizeof *bc);
    int i;
    if (!bc)
        die("behaviour calls");
    for (i = 0; i < n; i++) {
        struct bench_call *x = &bc[i];
        snprintf(x->spc, sizeof x->spc, "SPC%d", i % 7);
        snprintf(x->origid, sizeof x->origid, "%08d-0000-4000-8000-000000000000", i % 2000);
        snprintf(x->presented, sizeof x->presented, "4474%08d", i);
        snprintf(x->callee, sizeof x->callee, "4475%08d", i * 7);
        x->c = (struct cg_behaviour_call){.presented = x->presented,
                                          .callee = x->callee,
                                          .owned = i % 3 != 0,
                                          .now = 1000 + i / 1000};
    }
    return bc;
}

/* The origin's key, built as the daemon builds it on every call (call.c):
 * the SPC and origid joined, control bytes replaced. */
static const struct cg_behaviour_call *with_key(struct bench_call *x, char key[64])
{
    size_t a = strlen(x->spc), b = strlen(x->origid);
    char *p;
    memcpy(key, "spc:", 4);
    memcpy(key + 4, x->spc, a);
    key[4 + a] = '/';
    memcpy(key + 5 + a, x->origid, b + 1);
    for (p = key; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    x->c.origin = key;
    return &x->c;
}

/*
 * What campaign behaviour costs a call, as the daemon keeps it: the origin's
 * key built and the call
 * counted in a 4,096-origin table (the calls above, so that the population
 * is recomputed every 75,000 calls); and what sharing it adds where daemons
 * share it through Redis: the daemon's own call written as its line, and
 * each other daemon's call read back from its line and counted.  Redis's
 * own round trips are not in it: one command carries up to 64 lines.
 */
static void behaviour_us(double *observe, double *encode, double *ingest)
{
    struct cg_behaviour_config cfg;
    struct cg_behaviour *b;
    struct cg_behaviour_result r;
    struct cg_behaviour_wire w;
    char line[CG_BEHAVIOUR_WIRE_MAX + 1], key[64];
    int i, n = 1000000;
    struct bench_call *bc = bench_calls(n);
    char *lines = malloc((size_t)n * 128), *keys = malloc((size_t)n * 64);
    size_t *len = malloc((size_t)n * sizeof *len);
    double t0;
    cg_behaviour_config_defaults(&cfg);
    if (!lines || !keys || !len || cg_behaviour_new(&b, &cfg))
        die("behaviour");
    t0 = now();
    for (i = 0; i < n; i++)
        cg_behaviour_observe(b, with_key(&bc[i], key), &r);
    *observe = (now() - t0) / n * 1e6;
    cg_behaviour_free(b);
    /* the keys built once more, untimed (the daemon writes the line of a
     * call whose key it has); written into one line, as the daemon writes
     * into its batch; then, untimed, each line kept for the ingest */
    for (i = 0; i < n; i++)
        with_key(&bc[i], keys + (size_t)i * 64);
    t0 = now();
    for (i = 0; i < n; i++)
        if (!cg_behaviour_call_encode(&bc[i].c, line, sizeof line))
            die("encode");
    *encode = (now() - t0) / n * 1e6;
    for (i = 0; i < n; i++)
        if (!(len[i] = cg_behaviour_call_encode(&bc[i].c, lines + (size_t)i * 128, 128)))
            die("encode");
    if (cg_behaviour_new(&b, &cfg))
        die("behaviour");
    t0 = now();
    for (i = 0; i < n; i++) {
        struct cg_behaviour_call c;
        if (cg_behaviour_call_decode(lines + (size_t)i * 128, len[i], &w, &c) != CG_OK)
            die("decode");
        cg_behaviour_observe(b, &c, &r);
    }
    *ingest = (now() - t0) / n * 1e6;
    cg_behaviour_free(b);
    free(bc);
    free(lines);
    free(keys);
    free(len);
}

/* What SIP costs a call on the verification listener: parsing an INVITE like
 * the load generator's (with this run's Identity header) and building the
 * 302, next to a verification. */
static double sip_us(const struct ctx *c)
{
    const char *extra[] = {"Contact: <sip:+14155550100@127.0.0.1;user=phone>",
                           "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>"};
    char msg[4096];
    int len = snprintf(msg, sizeof msg,
                       "INVITE sip:+14155550100@127.0.0.1;user=phone SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKld12345\r\n"
                       "From: <sip:+442079460000@load.example;user=phone>;tag=ld\r\n"
                       "To: <sip:+14155550100@127.0.0.1;user=phone>\r\n"
                       "Call-ID: ld12345@load\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                       "Identity: %s\r\nContent-Length: 0\r\n\r\n",
                       c->identity);
    double t0, t1;
    int i, n = 200000;
    t0 = now();
    for (i = 0; i < n; i++) {
        struct cg_sip_req r;
        char *out;
        size_t outlen;
        if (cg_sip_parse_request(msg, (size_t)len, &r, NULL) != CG_OK ||
            cg_sip_response(&r, 302, "Moved Temporarily", extra, 2, &out, &outlen) != CG_OK)
            die("sip");
        free(out);
        cg_sip_req_clear(&r);
    }
    t1 = now();
    return (t1 - t0) / n * 1e6;
}

/*
 * The same INVITE through the transaction cache (a new branch each call,
 * 65,536 entries held as in the daemon, so every call also evicts one):
 * received, answered with a 302 and the answer stored, copied (tx[0]) or
 * taken (tx[1]).  The bare parse and 302 are timed in between, five
 * rounds each, and the best of each is kept, so that the difference
 * survives a busy machine.
 */
static void sip_tx_us(const struct ctx *c, double *bare, double tx[2])
{
    const char *extra[] = {"Contact: <sip:+14155550100@127.0.0.1;user=phone>",
                           "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>"};
    char msg[4096], *digits;
    int len = snprintf(msg, sizeof msg,
                       "INVITE sip:+14155550100@127.0.0.1;user=phone SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKld00000000\r\n"
                       "From: <sip:+442079460000@load.example;user=phone>;tag=ld\r\n"
                       "To: <sip:+14155550100@127.0.0.1;user=phone>\r\n"
                       "Call-ID: ld12345@load\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                       "Identity: %s\r\nContent-Length: 0\r\n\r\n",
                       c->identity);
    unsigned k = 0;
    int i, round, mode, n = 200000;
    digits = strstr(msg, "ld00000000") + 2;
    *bare = tx[0] = tx[1] = 1e9;
    for (round = 0; round < 5; round++) {
        for (mode = 0; mode < 3; mode++) {
            struct cg_sip_txcache *cache;
            double t0, t;
            if (cg_sip_txcache_new(&cache, 65536, 32) != CG_OK)
                die("txcache");
            t0 = now();
            for (i = 0; i < n; i++) {
                struct cg_sip_received r;
                struct cg_sip_req req;
                char *out;
                size_t outlen;
                unsigned v = k++;
                int d;
                int64_t sec = 1000 + i / 20000;
                for (d = 7; d >= 0; d--, v /= 10)
                    digits[d] = (char)('0' + v % 10);
                if (mode == 0) {
                    if (cg_sip_parse_request(msg, (size_t)len, &req, NULL) != CG_OK ||
                        cg_sip_response(&req, 302, "Moved Temporarily", extra, 2, &out, &outlen) !=
                            CG_OK)
                        die("sip");
                    free(out);
                    cg_sip_req_clear(&req);
                    continue;
                }
                if (i % 20000 == 0)
                    cg_sip_txcache_expire(cache, sec);
                if (cg_sip_txcache_receive(cache, 1, msg, (size_t)len, sec, &r) != CG_OK ||
                    r.what != CG_SIP_INVITE ||
                    cg_sip_response(&r.req, 302, "Moved Temporarily", extra, 2, &out, &outlen) !=
                        CG_OK)
                    die("sip tx");
                if (mode == 1) {
                    if (cg_sip_tx_answer(cache, r.tx, out, outlen, sec) != CG_OK)
                        die("sip tx");
                    free(out);
                } else if (cg_sip_tx_answer_take(cache, r.tx, out, outlen, sec) != CG_OK) {
                    die("sip tx");
                }
                cg_sip_req_clear(&r.req);
            }
            t = (now() - t0) / n * 1e6;
            cg_sip_txcache_free(cache);
            if (mode == 0 && t < *bare)
                *bare = t;
            else if (mode > 0 && t < tx[mode - 1])
                tx[mode - 1] = t;
        }
    }
}

/* A fresh P-256 key as a cg_key (private: it signs the input too). */
static struct cg_key *fresh_key(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    struct cg_key *k;
    char *pem;
    long n;
    if (!pk || !b || !PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) ||
        (n = BIO_get_mem_data(b, &pem)) <= 0 || cg_key_load_pem(&k, pem, (size_t)n) != CG_OK)
        die("fresh key");
    BIO_free(b);
    EVP_PKEY_free(pk);
    return k;
}

/* A token signed now: the first may be older than the freshness window by
 * the time the busy keys' figures are measured. */
static void fresh_token(struct ctx *c)
{
    const char *dest = "+14155550100";
    struct cg_sign_request r = {.orig = "+442079460000", .dest = &dest, .ndest = 1, .attest = 'A'};
    char *id;
    if (cg_sign(c->signer, &r, &id, NULL) != CG_OK)
        die("sign");
    c->identity = id; /* the earlier ones are not freed: a benchmark's few bytes */
}

/*
 * Busy keys (cg_key_promote): the table's build time and memory, ES256 with
 * a table against raw OpenSSL and against the same call without a table (in
 * alternating rounds of one run), and the whole verify path once the
 * certificate's key has its table.
 */
static void fast_keys(struct ctx *c, int threads, int rounds)
{
    double ms[5];
    struct mallinfo2 m0 = {0}, m1 = {0};
    struct pair f1, fe, fv1, fvN;
    int i;

    if (!cg_fastkeys_available()) {
        printf("\nbusy keys: this build has no verification tables (OpenSSL without "
               "EC_GROUP_precompute_mult)\n");
        return;
    }
    for (i = 0; i < 5; i++) {
        struct cg_key *k = fresh_key();
        double t0;
        m0 = mallinfo2();
        t0 = now();
        if (cg_key_promote(k) != CG_OK)
            die("promote");
        ms[i] = (now() - t0) * 1e3;
        m1 = mallinfo2();
        cg_key_free(k);
    }
    qsort(ms, 5, sizeof *ms, cmp_double);
    c->kevp = fresh_key();
    c->kfast = fresh_key();
    if (cg_es256_sign(c->kevp, c->input, c->inlen, c->sigevp) != CG_OK ||
        cg_es256_sign(c->kfast, c->input, c->inlen, c->sigfast) != CG_OK ||
        cg_key_promote(c->kfast) != CG_OK || cg_key_promote(c->leafkey) != CG_OK)
        die("busy keys");
    f1 = compare(c, RAW_VERIFY, ES256_FAST, 1, rounds);
    fe = compare(c, ES256_EVP, ES256_FAST, 1, rounds);
    fresh_token(c);
    fv1 = compare(c, RAW_VERIFY, OUR_VERIFY, 1, rounds);
    fresh_token(c);
    fvN = compare(c, RAW_VERIFY, OUR_VERIFY, threads, rounds);
    printf("\nbusy keys: a table per key, built in %.1f ms (median of 5; %.1f-%.1f), %zu KB "
           "allocated per table (glibc mallinfo2)\n",
           ms[2], ms[0], ms[4],
           (size_t)((m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd)) / 1024);
    printf("%-36s %14s %12s %8s\n", "", "raw OpenSSL/s", "cidguard/s", "ratio");
    printf("%-36s %14.0f %12.0f %7.1f%%\n", "ES256 with the key's table, 1 thread", f1.raw, f1.ours,
           100 * f1.ratio);
    printf("%-36s %14.0f %12.0f %7.1f%%\n", "verify, key promoted, 1 thread", fv1.raw, fv1.ours,
           100 * fv1.ratio);
    printf("%-36s %14.0f %12.0f %7.1f%%\n", "verify, key promoted, all threads", fvN.raw, fvN.ours,
           100 * fvN.ratio);
    printf("ES256 with the table against the same call without (EVP), same rounds: %.0f/s against "
           "%.0f/s, %.2fx\n",
           fe.ours, fe.raw, fe.ratio);
    printf(
        "per call, 1 thread: ES256 with the table %.1f us, without %.1f us, raw verify %.1f us\n",
        1e6 / f1.ours, 1e6 / fe.raw, 1e6 / f1.raw);
    printf("campaign behaviour with 2 daemons (%.3f us): %.2f%% of a verification with the key's "
           "table (whole path, %.1f us), %.2f%% of its ES256 alone (%.1f us)\n",
           behaviour_shared, 100 * behaviour_shared / (1e6 / fv1.ours), 1e6 / fv1.ours,
           100 * behaviour_shared / (1e6 / f1.ours), 1e6 / f1.ours);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/cidguard-bench-XXXXXX";
    struct ctx c = {0};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 && ncpu <= 64 ? (int)ncpu : 2, rounds = 9, i;
    struct pair v1, s1, vN, sN, j1;
    char cmd[600];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else
            die("usage: cidguard-bench [--seconds S per round] [--rounds N] [--threads N]");
    }
    if (seconds <= 0 || threads < 1 || threads > 64 || rounds < 1 || rounds > 64)
        die("bad --seconds, --rounds or --threads");
    if (!mkdtemp(dir))
        die("mkdtemp");
    setup(&c, dir);
    /* The figures above the busy keys' are without tables: no key is
     * promoted behind the benchmark's back. */
    cg_fastkeys_configure((size_t)CG_FASTKEYS_DEFAULT_MB << 20, ~0u);

    printf("cidguard-bench: %s; %d round(s) of %.2f s per figure, medians; all-cores runs on %d "
           "thread(s)\n",
           OpenSSL_version(OPENSSL_VERSION), rounds, seconds, threads);
    printf("signing input %zu bytes, Identity header %zu bytes\n\n", c.inlen, strlen(c.identity));
    v1 = compare(&c, RAW_VERIFY, OUR_VERIFY, 1, rounds);
    s1 = compare(&c, RAW_SIGN, OUR_SIGN, 1, rounds);
    vN = compare(&c, RAW_VERIFY, OUR_VERIFY, threads, rounds);
    sN = compare(&c, RAW_SIGN, OUR_SIGN, threads, rounds);
    j1 = compare(&c, RAW_VERIFY, JWS_VERIFY, 1, rounds > 3 ? 3 : rounds);

    printf("%-24s %14s %12s %8s\n", "", "raw OpenSSL/s", "cidguard/s", "ratio");
    printf("%-24s %14.0f %12.0f %7.1f%%\n", "verify, 1 thread", v1.raw, v1.ours, 100 * v1.ratio);
    printf("%-24s %14.0f %12.0f %7.1f%%\n", "sign, 1 thread", s1.raw, s1.ours, 100 * s1.ratio);
    printf("%-24s %14.0f %12.0f %7.1f%%\n", "verify, all threads", vN.raw, vN.ours, 100 * vN.ratio);
    printf("%-24s %14.0f %12.0f %7.1f%%\n", "sign, all threads", sN.raw, sN.ours, 100 * sN.ratio);
    printf("%-24s %14.0f %12.0f %7.1f%%   (reference: EVP one-shot per call, not cidguard)\n",
           "bare JWS verify", j1.raw, j1.ours, 100 * j1.ratio);
    printf(
        "\nscaling on %d threads: raw verify %.2fx, cidguard verify %.2fx, cidguard sign %.2fx\n",
        threads, vN.raw / v1.raw, vN.ours / v1.ours, sN.ours / s1.ours);
    printf("per call, 1 thread: raw verify %.1f us, cidguard verify %.1f us; raw sign %.1f us, "
           "cidguard sign %.1f us\n",
           1e6 / v1.raw, 1e6 / v1.ours, 1e6 / s1.raw, 1e6 / s1.ours);
    {
        int nofcom;
        double pu = policy_us(dir, &nofcom);
        printf("policy decision, both numbers (1,000 protected, 1,000 DNO, Ofcom data if found, "
               "local replay and rate state, a call intent looked up on every other call): %.2f us "
               "per call = %.1f%% of cidguard verify\n",
               pu, 100 * pu / (1e6 / v1.ours));
        if (!nofcom)
            printf("  (no Ofcom data: set CG_SHARED to a directory whose data/ holds "
                   "ofcom_S3.csv ... ofcom_S9.csv)\n");
    }
    {
        double own, enc, ing;
        behaviour_us(&own, &enc, &ing);
        behaviour_shared = own + enc + ing;
        printf(
            "campaign behaviour (the origin's key built, the call counted in a 4,096-origin "
            "table: window sketches, population): %.3f us per call = %.2f%% of cidguard verify\n",
            own, 100 * own / (1e6 / v1.ours));
        printf("campaign behaviour shared between daemons: its line written %.3f us, each other "
               "daemon's call read and counted %.3f us;\n"
               "  per call with 2 daemons: %.3f us = %.2f%% of cidguard verify; each further "
               "daemon adds %.3f us\n",
               enc, ing, own + enc + ing, 100 * (own + enc + ing) / (1e6 / v1.ours), ing);
    }
    {
        double su = sip_us(&c);
        printf("SIP INVITE parse and 302 build: %.2f us per call = %.1f%% of cidguard verify\n", su,
               100 * su / (1e6 / v1.ours));
    }
    {
        double bare, tx[2];
        sip_tx_us(&c, &bare, tx);
        printf("SIP INVITE through the transaction cache (receive, 302, answer stored): %.2f us "
               "copied, %.2f us taken; bare parse and 302 %.2f us (best of 5)\n",
               tx[0], tx[1], bare);
    }
    fast_keys(&c, threads, rounds);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
