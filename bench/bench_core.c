/*
 * cidguard-bench: what the call path costs next to the cryptography.
 *
 * Prints, from one run on one machine: raw OpenSSL ES256 sign/s and
 * verify/s (EVP one-shot with a preloaded key over the same signing input),
 * our full sign path (claims, canonical JSON, base64url, signature, header)
 * and our full verify path (header parse, JWS decode, claim checks, number
 * canonicalization, cached certificate, signature), their ratios, and the
 * same on all cores.  It never fails for being slow: machines are noisy.
 *
 *   cidguard-bench [--seconds S] [--threads N]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cidguard/cidguard.h"

static double seconds = 2.0;

struct ctx {
    EVP_PKEY *priv, *pub;
    unsigned char der[80];
    size_t derlen;
    const char *input;
    size_t inlen;
    struct cg_verifier *verifier;
    struct cg_signer *signer;
    const char *identity;
};

enum op { RAW_VERIFY, RAW_SIGN, OUR_VERIFY, OUR_SIGN };

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

static void one(struct ctx *c, enum op op)
{
    switch (op) {
    case RAW_VERIFY: {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, c->pub) != 1 ||
            EVP_DigestVerify(m, c->der, c->derlen, (const unsigned char *)c->input, c->inlen) != 1)
            die("raw verify failed");
        EVP_MD_CTX_free(m);
        break;
    }
    case RAW_SIGN: {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        unsigned char sig[80];
        size_t sl = sizeof sig;
        if (EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, c->priv) != 1 ||
            EVP_DigestSign(m, sig, &sl, (const unsigned char *)c->input, c->inlen) != 1)
            die("raw sign failed");
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
    case OUR_SIGN: {
        const char *dest = "+14155550100";
        struct cg_sign_request r = {.orig = "+442079460000", .dest = &dest, .ndest = 1,
                                    .attest = 'A'};
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
    struct cg_sign_request r = {.orig = "+442079460000", .dest = &dest, .ndest = 1,
                                .attest = 'A', .origid = "de305d54-75b4-431b-adb2-eb6b9e546014"};
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
    cg_chain_unref(chain);
    cfg.trust = trust;
    cfg.certsrc = cg_certmap_source(map);
    if (cg_verifier_new(&c->verifier, &cfg))
        die("verifier");
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/cidguard-bench-XXXXXX";
    struct ctx c = {0};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 && ncpu <= 64 ? (int)ncpu : 2, i;
    double rv, rs, ov, os, rvN, ovN, rsN, osN, ov1b;
    char cmd[600];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else
            die("usage: cidguard-bench [--seconds S] [--threads N]");
    }
    if (seconds <= 0 || threads < 1 || threads > 64)
        die("bad --seconds or --threads");
    if (!mkdtemp(dir))
        die("mkdtemp");
    setup(&c, dir);

    printf("cidguard-bench: %s, %d thread(s) for all-cores runs, %.1f s per figure\n",
           OpenSSL_version(OPENSSL_VERSION), threads, seconds);
    printf("signing input %zu bytes, Identity header %zu bytes\n\n", c.inlen, strlen(c.identity));
    /* Interleave raw and ours so that drift on a shared machine hits both. */
    rv = run(&c, RAW_VERIFY, 1);
    ov = run(&c, OUR_VERIFY, 1);
    ov1b = run(&c, OUR_VERIFY, 1);
    rv = (rv + run(&c, RAW_VERIFY, 1)) / 2;
    ov = (ov + ov1b) / 2;
    rs = run(&c, RAW_SIGN, 1);
    os = run(&c, OUR_SIGN, 1);
    rvN = run(&c, RAW_VERIFY, threads);
    ovN = run(&c, OUR_VERIFY, threads);
    rsN = run(&c, RAW_SIGN, threads);
    osN = run(&c, OUR_SIGN, threads);

    printf("%-34s %12s %12s %8s\n", "", "raw OpenSSL/s", "cidguard/s", "ratio");
    printf("%-34s %12.0f %12.0f %7.1f%%\n", "verify, 1 thread", rv, ov, 100 * ov / rv);
    printf("%-34s %12.0f %12.0f %7.1f%%\n", "sign, 1 thread", rs, os, 100 * os / rs);
    printf("%-34s %12.0f %12.0f %7.1f%%\n", "verify, all threads", rvN, ovN, 100 * ovN / rvN);
    printf("%-34s %12.0f %12.0f %7.1f%%\n", "sign, all threads", rsN, osN, 100 * osN / rsN);
    printf("\nscaling on %d threads: raw verify %.2fx, cidguard verify %.2fx, cidguard sign %.2fx\n",
           threads, rvN / rv, ovN / ov, osN / os);
    printf("per call: raw verify %.1f us, cidguard verify %.1f us (overhead %.1f us)\n",
           1e6 / rv, 1e6 / ov, 1e6 / ov - 1e6 / rv);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
