/*
 * The busy keys' verification tables give the answer EVP_PKEY_verify gives,
 * for every input: random keys and messages (CG_FASTVERIFY_N comparisons,
 * 200,000 by default), tampered digests and signatures, r and s at and
 * around 0 and n, high-s twins, sums at infinity, a doubling, an x beyond
 * n, and the real carriers' signatures under $CG_SHARED/vectors when that
 * directory is there.  Then the promotion: a busy key gets its table on the
 * background thread, a busier one takes it over, and tables come and go
 * under threads verifying all the while.
 *
 * The reference is EVP_PKEY_verify called here directly, over DER this
 * test encodes with OpenSSL, not the library's own EVP path.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "crypto/es256.h"
#include "crypto/fastverify.h"
#include "crypto/p256inv.h"
#include "helpers.h"

static BIGNUM *order; /* n */

/* A key under test: the library's key, promoted, and a context of our own
 * for the reference verification. */
struct tkey {
    EVP_PKEY *pkey;
    struct cg_key *k;
    EVP_PKEY_CTX *vctx;
};

static void tkey_wrap(struct tkey *t, EVP_PKEY *pkey)
{
    memset(t, 0, sizeof *t);
    t->pkey = pkey;
    assert_int_equal(EVP_PKEY_up_ref(pkey), 1);
    assert_int_equal(cg__key_wrap(&t->k, pkey, false), CG_OK);
    assert_int_equal(cg_key_promote(t->k), CG_OK);
    assert_non_null(t->vctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL));
    assert_int_equal(EVP_PKEY_verify_init(t->vctx), 1);
}

static void tkey_free(struct tkey *t)
{
    EVP_PKEY_CTX_free(t->vctx);
    cg_key_free(t->k);
    EVP_PKEY_free(t->pkey);
}

/* A P-256 key from its private scalar (so that the test can craft
 * signatures with it), or random when d is NULL. */
static EVP_PKEY *key_from(const BIGNUM *d)
{
    EC_GROUP *g;
    EC_POINT *q;
    OSSL_PARAM_BLD *b;
    OSSL_PARAM *p;
    EVP_PKEY_CTX *c;
    EVP_PKEY *k = NULL;
    unsigned char pub[65];
    if (!d)
        return EVP_EC_gen("P-256");
    g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    q = EC_POINT_new(g);
    assert_int_equal(EC_POINT_mul(g, q, d, NULL, NULL, NULL), 1);
    assert_int_equal(EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, 65, NULL), 65);
    b = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, 65);
    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d);
    p = OSSL_PARAM_BLD_to_param(b);
    c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
    assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_KEYPAIR, p), 1);
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return k;
}

/* A public key from SEC1 octets. */
static EVP_PKEY *key_from_point(const unsigned char *pub, size_t len)
{
    OSSL_PARAM p[3];
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, len);
    p[2] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
    assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

static bool reference(EVP_PKEY_CTX *vctx, const unsigned char md[32], const unsigned char sig[64])
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int n, v;
    assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)),
                     1);
    assert_true((n = i2d_ECDSA_SIG(es, &der)) > 0);
    v = EVP_PKEY_verify(vctx, der, (size_t)n, md, 32);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return v == 1;
}

static unsigned long long compared, accepted;

static void hex(char *out, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* The library's answer through the key's table against the reference. */
static bool check(struct tkey *t, const unsigned char md[32], const unsigned char sig[64])
{
    bool ref = reference(t->vctx, md, sig), got = !ref;
    assert_int_equal(cg__es256_verify_digest(t->k, md, sig, &got), CG_OK);
    if (got != ref) {
        char a[65], b[129];
        hex(a, md, 32);
        hex(b, sig, 64);
        fail_msg("table says %d, EVP_PKEY_verify %d: digest %s sig %s", got, ref, a, b);
    }
    compared++;
    accepted += ref;
    return ref;
}

static void sign_digest(EVP_PKEY *k, const unsigned char md[32], unsigned char sig[64])
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    unsigned char der[80];
    const unsigned char *p = der;
    size_t n = sizeof der;
    ECDSA_SIG *es;
    assert_int_equal(EVP_PKEY_sign_init(c), 1);
    assert_int_equal(EVP_PKEY_sign(c, der, &n, md, 32), 1);
    assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)n));
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(c);
}

static void bn32(const BIGNUM *v, unsigned char out[32])
{
    assert_int_equal(BN_bn2binpad(v, out, 32), 32);
}

static int setup(void **state)
{
    (void)state;
    if (!cg_fastkeys_available())
        return 0;
    order = BN_new();
    {
        EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        BN_copy(order, EC_GROUP_get0_order(g));
        EC_GROUP_free(g);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    BN_free(order);
    return 0;
}

/* Random keys and messages, each signature checked as signed, over a
 * tampered digest, tampered, and as its high-s twin (n - s, which ECDSA
 * accepts too). */
static void test_random(void **state)
{
    const char *env = getenv("CG_FASTVERIFY_N");
    unsigned long long want = env ? strtoull(env, NULL, 10) : 200000, start = compared,
                       acc0 = accepted;
    struct cg_fastkeys_stats before, after;
    BIGNUM *sv = BN_new();
    time_t t0 = time(NULL);
    (void)state;
    cg_fastkeys_stats(&before);
    while (compared - start < want) {
        struct tkey t;
        int i;
        tkey_wrap(&t, key_from(NULL));
        for (i = 0; i < 500 && compared - start < want; i++) {
            unsigned char msg[256], md[32], sig[64], bad[64];
            unsigned int mdlen;
            unsigned char r;
            size_t len;
            assert_int_equal(RAND_bytes(&r, 1), 1);
            len = r;
            assert_int_equal(RAND_bytes(msg, (int)len + 1), 1);
            assert_int_equal(EVP_Digest(msg, len, md, &mdlen, EVP_sha256(), NULL), 1);
            sign_digest(t.pkey, md, sig);
            assert_true(check(&t, md, sig));
            md[r % 32] ^= (unsigned char)(1u << (r % 8));
            assert_false(check(&t, md, sig));
            md[r % 32] ^= (unsigned char)(1u << (r % 8));
            memcpy(bad, sig, 64);
            bad[(r * 7) % 64] ^= (unsigned char)(1u << (r % 8));
            assert_false(check(&t, md, bad));
            BN_bin2bn(sig + 32, 32, sv);
            BN_sub(sv, order, sv);
            memcpy(bad, sig, 32);
            bn32(sv, bad + 32);
            assert_true(check(&t, md, bad));
        }
        tkey_free(&t);
    }
    cg_fastkeys_stats(&after);
    /* Every comparison went through a table, not EVP. */
    assert_true(after.fast_calls - before.fast_calls >= want);
    print_message("fastverify: %llu random comparisons (%llu accepted) in %lds, all agree\n",
                  compared - start, accepted - acc0, (long)(time(NULL) - t0));
    BN_free(sv);
}

/* r and s at the edges of [1, n-1], and digests at 0, n and 2^256-1. */
static void test_edges(void **state)
{
    struct tkey t;
    BIGNUM *v = BN_new();
    unsigned char md[32], sig[64], vals[7][32], mds[4][32];
    size_t i, j;
    (void)state;
    tkey_wrap(&t, key_from(NULL));
    memset(vals[0], 0, 32); /* 0 */
    BN_one(v);
    bn32(v, vals[1]); /* 1 */
    BN_sub(v, order, BN_value_one());
    bn32(v, vals[2]);     /* n-1 */
    bn32(order, vals[3]); /* n */
    BN_add(v, order, BN_value_one());
    bn32(v, vals[4]);          /* n+1 */
    memset(vals[5], 0xff, 32); /* 2^256-1 */
    RAND_bytes(md, 32);
    sign_digest(t.pkey, md, sig);
    memcpy(vals[6], sig, 32); /* the valid r (or s) */
    for (i = 0; i < 7; i++) {
        unsigned char s2[64];
        memcpy(s2, vals[i], 32);
        memcpy(s2 + 32, sig + 32, 32);
        check(&t, md, s2); /* r varies */
        memcpy(s2, sig, 32);
        memcpy(s2 + 32, vals[i], 32);
        check(&t, md, s2); /* s varies */
        for (j = 0; j < 7; j++) {
            memcpy(s2, vals[i], 32);
            memcpy(s2 + 32, vals[j], 32);
            assert_false(check(&t, md, s2) && i != 6);
        }
    }
    /* r + n and s + n do not fit, but r + n < 2^256 does for small r */
    memset(mds[0], 0, 32);
    bn32(order, mds[1]);
    memset(mds[2], 0xff, 32);
    BN_sub(v, order, BN_value_one());
    bn32(v, mds[3]);
    for (i = 0; i < 4; i++) {
        sign_digest(t.pkey, mds[i], sig);
        assert_true(check(&t, mds[i], sig));
        md[0] = 1;
        check(&t, md, sig);
    }
    tkey_free(&t);
    BN_free(v);
}

/* Signatures whose sum u1*G + u2*Q is the point at infinity, and whose two
 * halves are the same point (the sum is a doubling), with keys whose private
 * key the test knows: m = -r*d makes u1 = -u2*d; m = r*d makes them equal. */
static void test_crafted_sums(void **state)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *d = BN_new(), *r = BN_new(), *s = BN_new(), *m = BN_new(), *k = BN_new(), *x = BN_new();
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *kg = EC_POINT_new(g);
    int i;
    (void)state;
    for (i = 0; i < 50; i++) {
        struct tkey t;
        unsigned char md[32], sig[64];
        BN_rand_range(d, order);
        BN_add_word(d, 1);
        tkey_wrap(&t, key_from(d));
        /* infinity: any r, s with m = -r*d mod n */
        BN_rand_range(r, order);
        BN_add_word(r, 1);
        BN_rand_range(s, order);
        BN_add_word(s, 1);
        BN_mod_mul(m, r, d, order, ctx);
        BN_mod_sub(m, order, m, order, ctx);
        bn32(m, md);
        bn32(r, sig);
        bn32(s, sig + 32);
        assert_false(check(&t, md, sig));
        /* doubling, and a valid signature: k random, r = x(kG) mod n,
         * m = r*d, s = k^-1 * 2rd */
        BN_rand_range(k, order);
        BN_add_word(k, 1);
        EC_POINT_mul(g, kg, k, NULL, NULL, ctx);
        EC_POINT_get_affine_coordinates(g, kg, x, NULL, ctx);
        BN_nnmod(r, x, order, ctx);
        BN_mod_mul(m, r, d, order, ctx);
        BN_mod_add(s, m, m, order, ctx);
        BN_mod_mul(s, s, BN_mod_inverse(x, k, order, ctx), order, ctx);
        bn32(m, md);
        bn32(r, sig);
        bn32(s, sig + 32);
        assert_true(check(&t, md, sig));
        tkey_free(&t);
    }
    EC_POINT_free(kg);
    EC_GROUP_free(g);
    BN_free(d);
    BN_free(r);
    BN_free(s);
    BN_free(m);
    BN_free(k);
    BN_free(x);
    BN_CTX_free(ctx);
}

/* x mod n: a key Q whose x lies in [n, p), a digest of 0 (or n) so that
 * u1 = 0, and r = s so that u2 = 1: X = Q, and the signature is valid with
 * r = x - n, refused with r = x (out of range). */
static void test_x_beyond_n(void **state)
{
    BN_CTX *ctx = BN_CTX_new();
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *q = EC_POINT_new(g);
    BIGNUM *x = BN_new(), *kk = BN_new();
    unsigned char pub[65], md[32], sig[64];
    unsigned long w;
    int found = 0, y;
    (void)state;
    for (w = 1; found < 4 && w < 1000; w++)
        for (y = 0; y < 2 && found < 4; y++) {
            struct tkey t;
            BN_copy(x, order);
            BN_add_word(x, w);
            if (EC_POINT_set_compressed_coordinates(g, q, x, y, ctx) != 1)
                continue;
            assert_int_equal(EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, 65, ctx),
                             65);
            tkey_wrap(&t, key_from_point(pub, 65));
            BN_set_word(kk, w);
            bn32(kk, sig);
            bn32(kk, sig + 32);
            memset(md, 0, 32);
            assert_true(check(&t, md, sig));
            bn32(order, md);
            assert_true(check(&t, md, sig));
            bn32(x, sig);
            assert_false(check(&t, md, sig));
            tkey_free(&t);
            found++;
        }
    ERR_clear_error();
    assert_int_equal(found, 4);
    BN_free(x);
    BN_free(kk);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    BN_CTX_free(ctx);
}

/* Points off the curve get no table. */
static void test_bad_points(void **state)
{
    struct cg__fktab *t = NULL;
    unsigned char pub[65] = {4};
    (void)state;
    assert_int_equal(cg__fktab_new(&t, pub, 65), CG_EKEY);
    pub[64] = 1;
    assert_int_equal(cg__fktab_new(&t, pub, 65), CG_EKEY);
    assert_int_equal(cg__fktab_new(&t, pub, 1), CG_EKEY);
    assert_null(t);
    cg__fktab_free(NULL);
}

/* The real carriers' and reference implementations' signatures, each under
 * every key and certificate of the vectors: the same verdict from both. */
static void test_real_vectors(void **state)
{
    const char *shared = getenv("CG_SHARED");
    char dir[600], path[1200], kf[1600];
    struct tkey keys[32];
    size_t nkeys = 0, i, ntok = 0;
    unsigned long long acc0 = accepted;
    DIR *dd;
    struct dirent *de;
    (void)state;
    if (!shared)
        skip();
    snprintf(dir, sizeof dir, "%s/vectors", shared);
    if (!(dd = opendir(dir)))
        skip();
    closedir(dd);
    {
        const char *sub[] = {"certs", "keys"};
        for (i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
            assert_non_null(dd = opendir(path));
            while ((de = readdir(dd)) && nkeys < 32) {
                struct cg_key *k;
                if (de->d_name[0] == '.')
                    continue;
                snprintf(kf, sizeof kf, "%s/%s", path, de->d_name);
                if (cg_key_load_file(&k, kf) != CG_OK)
                    continue; /* not a P-256 key */
                /* the test's own reference; k's goes with k */
                EVP_PKEY_up_ref(cg__key_pkey(k));
                tkey_wrap(&keys[nkeys++], cg__key_pkey(k));
                cg_key_free(k);
            }
            closedir(dd);
        }
    }
    assert_non_null(dd = opendir(dir));
    while ((de = readdir(dd))) {
        char buf[8192], *tok, *dot, *end;
        unsigned char md[32], sig[64];
        unsigned int mdlen;
        size_t n, sl;
        FILE *f;
        extern int cg__b64url_decode(const char *, size_t, unsigned char *, size_t, size_t *);
        if (!strstr(de->d_name, ".identity.txt") && !strstr(de->d_name, ".passport.txt"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        assert_non_null(f = fopen(path, "r"));
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        tok = buf + strspn(buf, " \r\n\t");
        end = tok + strcspn(tok, ";\r\n \t");
        *end = '\0';
        if (!(dot = strrchr(tok, '.')) || dot == tok)
            continue;
        if (cg__b64url_decode(dot + 1, strlen(dot + 1), sig, 64, &sl) != CG_OK || sl != 64)
            continue; /* not an R||S signature (a DER one, deliberately) */
        assert_int_equal(EVP_Digest(tok, (size_t)(dot - tok), md, &mdlen, EVP_sha256(), NULL), 1);
        for (i = 0; i < nkeys; i++)
            check(&keys[i], md, sig);
        ntok++;
    }
    closedir(dd);
    for (i = 0; i < nkeys; i++)
        tkey_free(&keys[i]);
    print_message("fastverify: %zu real tokens under %zu keys, %llu verify, all agree\n", ntok,
                  nkeys, accepted - acc0);
    assert_true(ntok >= 5);
    assert_true(accepted > acc0);
}

/* --- promotion ------------------------------------------------------------ */

static void signed_msg(EVP_PKEY *pk, const char *msg, unsigned char sig[64])
{
    unsigned char md[32];
    unsigned int n;
    assert_int_equal(EVP_Digest(msg, strlen(msg), md, &n, EVP_sha256(), NULL), 1);
    sign_digest(pk, md, sig);
}

static struct cg_key *pub_only(EVP_PKEY *pk)
{
    struct cg_key *k;
    EVP_PKEY_up_ref(pk);
    assert_int_equal(cg__key_wrap(&k, pk, false), CG_OK);
    return k;
}

static bool wait_for(bool (*cond)(void *), void *arg, int seconds)
{
    int i;
    for (i = 0; i < seconds * 20; i++) {
        if (cond(arg))
            return true;
        usleep(50000);
    }
    return false;
}

static unsigned long long fast_calls(void)
{
    struct cg_fastkeys_stats s;
    cg_fastkeys_stats(&s);
    return s.fast_calls;
}

static bool built_more(void *arg)
{
    struct cg_fastkeys_stats s;
    cg_fastkeys_stats(&s);
    return s.built > *(unsigned long long *)arg;
}

/* A key that verifies promote_after calls gets a table within seconds; its
 * later calls use it. */
static void test_promotion(void **state)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    struct cg_key *k = pub_only(pk);
    struct cg_fastkeys_stats s;
    unsigned char sig[64];
    unsigned long long built, f0;
    bool valid;
    int i;
    (void)state;
    assert_int_equal(cg_fastkeys_configure(0, 0), CG_EINVAL);
    assert_int_equal(cg_fastkeys_configure(4 * 1024 * 1024, 20), CG_OK);
    cg_fastkeys_stats(&s);
    built = s.built;
    signed_msg(pk, "hdr.payload", sig);
    for (i = 0; i < 20; i++) {
        assert_int_equal(cg_es256_verify(k, "hdr.payload", 11, sig, &valid), CG_OK);
        assert_true(valid);
    }
    assert_true(wait_for(built_more, &built, 10));
    f0 = fast_calls();
    assert_int_equal(cg_es256_verify(k, "hdr.payload", 11, sig, &valid), CG_OK);
    assert_true(valid);
    assert_int_equal(cg_es256_verify(k, "hdr.paylo4d", 11, sig, &valid), CG_OK);
    assert_false(valid);
    assert_int_equal(fast_calls(), f0 + 2);
    cg_key_free(k);
    EVP_PKEY_free(pk);
}

/* A child of fork() promotes keys with a promotion thread of its own. */
static void test_promotion_after_fork(void **state)
{
#if defined(__SANITIZE_THREAD__)
    (void)state;
    skip(); /* ThreadSanitizer does not support threads started after fork() */
#else
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    struct cg_key *k = pub_only(pk);
    unsigned char sig[64];
    int st = -1;
    pid_t pid;
    (void)state;
    signed_msg(pk, "fork.payload", sig);
    assert_int_equal(cg_fastkeys_configure(4 * 1024 * 1024, 20), CG_OK);
    if ((pid = fork()) == 0) {
        struct cg_fastkeys_stats s;
        unsigned long long built;
        bool valid = false;
        int i;
        cg_fastkeys_stats(&s);
        built = s.built;
        for (i = 0; i < 20; i++)
            if (cg_es256_verify(k, "fork.payload", 12, sig, &valid) != CG_OK || !valid)
                _exit(2);
        _exit(wait_for(built_more, &built, 10) ? 0 : 3);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    cg_key_free(k);
    EVP_PKEY_free(pk);
#endif
}

/* Tables come and go (budgets of none, one and two tables, two keys taking
 * turns being busy) while threads verify with both keys: every answer stays
 * right, and evicted tables are freed only once unused (TSan and ASan
 * runs). */
#define NTHREADS 3
static struct cg_key *race_keys[2];
static unsigned char race_sig[2][64];
static atomic_bool race_stop;
static atomic_ullong race_wrong, race_calls;
static atomic_int race_phase;

static void *race_worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&race_stop)) {
        int busy = atomic_load(&race_phase) & 1, i;
        for (i = 0; i < 20; i++) {
            int w = i == 0 ? !busy : busy;
            bool valid = false;
            if (cg_es256_verify(race_keys[w], "race.payload", 12, race_sig[w], &valid) != CG_OK ||
                !valid)
                atomic_fetch_add(&race_wrong, 1);
            if (cg_es256_verify(race_keys[w], "race.payloaD", 12, race_sig[w], &valid) != CG_OK ||
                valid)
                atomic_fetch_add(&race_wrong, 1);
            atomic_fetch_add(&race_calls, 2);
        }
    }
    return NULL;
}

static void test_tables_under_load(void **state)
{
    pthread_t th[NTHREADS];
    struct cg_fastkeys_stats s0, s1;
    EVP_PKEY *pk[2];
    size_t one = 0;
    int i;
    (void)state;
    cg_fastkeys_stats(&s0);
    one = s0.table_bytes;
    for (i = 0; i < 2; i++) {
        pk[i] = EVP_EC_gen("P-256");
        race_keys[i] = pub_only(pk[i]);
        signed_msg(pk[i], "race.payload", race_sig[i]);
    }
    assert_int_equal(cg_fastkeys_configure(one, 10), CG_OK);
    atomic_store(&race_stop, false);
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_worker, NULL), 0);
    for (i = 0; i < 16; i++) {
        /* the busy key changes every 1.5 s; every fourth phase, no budget */
        atomic_store(&race_phase, i);
        assert_int_equal(cg_fastkeys_configure(i % 4 == 3   ? 0
                                               : i % 4 == 2 ? 2 * one
                                                            : one,
                                               10),
                         CG_OK);
        usleep(1500000);
    }
    atomic_store(&race_stop, true);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    cg_fastkeys_stats(&s1);
    print_message("fastverify: %llu calls under load, %llu tables built, %llu evicted, %llu "
                  "fast calls\n",
                  (unsigned long long)atomic_load(&race_calls), s1.built - s0.built,
                  s1.evicted - s0.evicted, s1.fast_calls - s0.fast_calls);
    assert_int_equal(atomic_load(&race_wrong), 0);
    assert_true(s1.built - s0.built >= 2);
    assert_true(s1.evicted - s0.evicted >= 1);
    assert_true(s1.fast_calls > s0.fast_calls);
    for (i = 0; i < 2; i++) {
        cg_key_free(race_keys[i]);
        EVP_PKEY_free(pk[i]);
    }
    cg_fastkeys_configure((size_t)CG_FASTKEYS_DEFAULT_MB * 1024 * 1024, CG_FASTKEYS_DEFAULT_AFTER);
}

/* The hand-written inverse modulo n against BN_mod_inverse: the edges
 * (1, 2, small values, n-1, n-2, (n+1)/2, values with long runs of zero
 * or one bits) and random values. */
static void test_inverse(void **state)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *a = BN_new(), *want = BN_new();
    unsigned char in[32], got[32], exp[32];
    int i;
    (void)state;
    assert_non_null(ctx);
    for (i = 0; i < 20000; i++) {
        if (i < 64) {
            assert_true(BN_set_word(a, (BN_ULONG)i + 1));
        } else if (i < 128) {
            assert_true(BN_sub(a, order, BN_value_one()));
            assert_true(BN_sub_word(a, (BN_ULONG)(i - 64)));
        } else if (i < 192) {
            /* 2^k and 2^k - 1 */
            assert_true(BN_set_word(a, 0));
            assert_true(BN_set_bit(a, (i - 128) * 4 % 255));
            if (i % 2)
                assert_true(BN_sub_word(a, 1));
            if (BN_is_zero(a))
                assert_true(BN_one(a));
        } else if (i == 192) {
            assert_true(BN_add(a, order, BN_value_one()));
            assert_true(BN_rshift1(a, a));
        } else {
            assert_true(BN_rand_range(a, order));
            if (BN_is_zero(a))
                continue;
        }
        assert_int_equal(BN_bn2binpad(a, in, 32), 32);
        assert_non_null(BN_mod_inverse(want, a, order, ctx));
        assert_int_equal(BN_bn2binpad(want, exp, 32), 32);
        cg__p256_inv_mod_n(in, got);
        if (memcmp(got, exp, 32) != 0)
            fail_msg("inverse of value %d differs from BN_mod_inverse", i);
    }
    BN_free(a);
    BN_free(want);
    BN_CTX_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inverse),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_crafted_sums),
        cmocka_unit_test(test_x_beyond_n),
        cmocka_unit_test(test_bad_points),
        cmocka_unit_test(test_real_vectors),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_promotion),
        cmocka_unit_test(test_promotion_after_fork),
        cmocka_unit_test(test_tables_under_load),
    };
    if (!cg_fastkeys_available()) {
        fprintf(stderr, "fastverify: this build has no verification tables\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
