/*
 * ECDSA P-256 verification with a precomputed table for the signer's key.
 *
 * A verification computes X = u1*G + u2*Q.  OpenSSL keeps a table of
 * multiples of the generator G, so u1*G is cheap, but it has none for the
 * public key Q, and u2*Q is most of the cost.  Here a copy of the P-256
 * group is given Q as its generator and EC_GROUP_precompute_mult builds the
 * same kind of table for Q; u2*Q is then a generator multiplication on that
 * group.  The rest is the textbook verification, step for step as OpenSSL's
 * own (ossl_ecdsa_simple_verify_sig), so that every input gets the answer
 * EVP_PKEY_verify gives it.
 *
 * EC_GROUP_precompute_mult and EC_POINT_get_Jprojective_coordinates_GFp are
 * deprecated in OpenSSL 3.0 and have no replacement; this is the one file
 * that calls them, compiled with the API compatibility level that still
 * declares them (see CMakeLists.txt).  Nothing
 * here needs to run in constant time: the key, the signature and the digest
 * are all public.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "cidguard/error.h"
#include "crypto/fastverify.h"
#include "crypto/p256inv.h"

struct cg__fktab {
    EC_GROUP *g; /* P-256 with Q as its generator, Q's multiples precomputed */
};

/* The standard group (its generator's table is built into OpenSSL), its
 * order n as 32 big-endian bytes for the range checks, the field prime p,
 * and p - n (see the comparison at the end of cg__fktab_verify). */
static EC_GROUP *p256;
static unsigned char order_be[32];
static BIGNUM *field_p, *p_minus_n;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

static void p256_init(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *fp = BN_new(), *lim = BN_new();
    if (g && fp && lim && BN_bn2binpad(EC_GROUP_get0_order(g), order_be, 32) == 32 &&
        EC_GROUP_get_curve(g, fp, NULL, NULL, NULL) == 1 &&
        BN_sub(lim, fp, EC_GROUP_get0_order(g)) == 1) {
        p256 = g;
        field_p = fp;
        p_minus_n = lim;
        return;
    }
    EC_GROUP_free(g);
    BN_free(fp);
    BN_free(lim);
}

/*
 * Per-thread scratch: a BN_CTX and the points of one verification.  A
 * BN_CTX_new and two EC_POINT_new per call cost 3-6% of a verification with
 * a table (docs/performance.md); a thread's scratch is freed when the
 * thread ends.
 */
struct scratch {
    BN_CTX *ctx;
    EC_POINT *p1, *p2;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    struct scratch *s = arg;
    BN_CTX_free(s->ctx);
    EC_POINT_free(s->p1);
    EC_POINT_free(s->p2);
    free(s);
}

static void scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

static struct scratch *scratch_get(void)
{
    struct scratch *s;
    pthread_once(&scratch_once, scratch_init);
    if ((s = pthread_getspecific(scratch_key)))
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    if (!(s->ctx = BN_CTX_new()) || !(s->p1 = EC_POINT_new(p256)) ||
        !(s->p2 = EC_POINT_new(p256)) || pthread_setspecific(scratch_key, s) != 0) {
        scratch_free(s);
        return NULL;
    }
    return s;
}

bool cg__fktab_available(void)
{
    pthread_once(&p256_once, p256_init);
    return p256 != NULL;
}

int cg__fktab_new(struct cg__fktab **out, const unsigned char *pub, size_t len)
{
    struct cg__fktab *t;
    EC_POINT *q = NULL;
    BN_CTX *ctx = NULL;
    int rc = CG_ECRYPTO;

    if (!cg__fktab_available())
        return CG_EUNSUPPORTED;
    if (!(t = calloc(1, sizeof *t)))
        return CG_ENOMEM;
    if (!(ctx = BN_CTX_new()) || !(t->g = EC_GROUP_dup(p256)) || !(q = EC_POINT_new(t->g)))
        goto out;
    /* oct2point checks that Q is on the curve; the point at infinity has
     * no table (and is no public key). */
    if (EC_POINT_oct2point(t->g, q, pub, len, ctx) != 1 || EC_POINT_is_at_infinity(t->g, q)) {
        rc = CG_EKEY;
        goto out;
    }
    if (EC_GROUP_set_generator(t->g, q, EC_GROUP_get0_order(p256), EC_GROUP_get0_cofactor(p256)) !=
            1 ||
        EC_GROUP_precompute_mult(t->g, ctx) != 1)
        goto out;
    rc = CG_OK;
out:
    EC_POINT_free(q);
    BN_CTX_free(ctx);
    if (rc != CG_OK) {
        ERR_clear_error();
        cg__fktab_free(t);
        return rc;
    }
    *out = t;
    return CG_OK;
}

void cg__fktab_free(struct cg__fktab *t)
{
    if (!t)
        return;
    EC_GROUP_free(t->g);
    free(t);
}

/* 1 <= v <= n-1 for a 32-byte big-endian v. */
static bool in_range(const unsigned char v[32])
{
    unsigned char any = 0;
    size_t i;
    for (i = 0; i < 32; i++)
        any |= v[i];
    return any && memcmp(v, order_be, 32) < 0;
}

int cg__fktab_verify(const struct cg__fktab *t, const unsigned char md[32],
                     const unsigned char sig[64], bool *valid)
{
    struct scratch *s;
    BIGNUM *r, *m, *w, *u1, *u2, *x, *z;
    unsigned char winv[32];
    const BIGNUM *n;
    int rc = CG_ECRYPTO;

    *valid = false;
    /* OpenSSL refuses r or s outside [1, n-1] before any arithmetic. */
    if (!in_range(sig) || !in_range(sig + 32))
        return CG_OK;
    if (!(s = scratch_get()))
        return CG_ENOMEM;
    n = EC_GROUP_get0_order(p256);
    BN_CTX_start(s->ctx);
    r = BN_CTX_get(s->ctx);
    m = BN_CTX_get(s->ctx);
    w = BN_CTX_get(s->ctx);
    u1 = BN_CTX_get(s->ctx);
    u2 = BN_CTX_get(s->ctx);
    x = BN_CTX_get(s->ctx);
    if (!(z = BN_CTX_get(s->ctx)))
        goto out;
    /*
     * The digest as OpenSSL converts it: its leftmost min(bits(n), 8*len)
     * bits, here all 256 of SHA-256 for a 256-bit n, not reduced mod n
     * (the multiplication by w reduces).
     */
    cg__p256_inv_mod_n(sig + 32, winv);
    if (!BN_bin2bn(sig, 32, r) || !BN_bin2bn(winv, 32, w) || !BN_bin2bn(md, 32, m))
        goto out;
    /* w = s^-1, u1 = m*w, u2 = r*w (mod n) */
    if (!BN_mod_mul(u1, m, w, n, s->ctx) || !BN_mod_mul(u2, r, w, n, s->ctx))
        goto out;
    /* u1*G on the standard group's table, u2*Q on the key's. */
    if (!EC_POINT_mul(p256, s->p1, u1, NULL, NULL, s->ctx) ||
        !EC_POINT_mul(t->g, s->p2, u2, NULL, NULL, s->ctx) ||
        !EC_POINT_add(p256, s->p1, s->p1, s->p2, s->ctx))
        goto out;
    /* X at infinity has no x: the signature does not verify. */
    if (EC_POINT_is_at_infinity(p256, s->p1)) {
        rc = CG_OK;
        goto out;
    }
    /*
     * x mod n = r, without converting X to affine coordinates (a field
     * inversion, about 10% of the whole): X is (X:Y:Z) in Jacobian
     * coordinates, its affine x = X/Z^2 lies in [0, p), and r in [1, n-1],
     * so x mod n = r exactly when x = r, or x = r + n where r + n < p;
     * that is, when X = r*Z^2 or X = (r + n)*Z^2 (mod p).
     */
    if (!EC_POINT_get_Jprojective_coordinates_GFp(p256, s->p1, x, NULL, z, s->ctx) ||
        !BN_nnmod(x, x, field_p, s->ctx) || !BN_mod_sqr(z, z, field_p, s->ctx) ||
        !BN_mod_mul(u1, r, z, field_p, s->ctx))
        goto out;
    if (BN_cmp(u1, x) == 0) {
        *valid = true;
    } else if (BN_cmp(r, p_minus_n) < 0) {
        if (!BN_add(u1, r, n) || !BN_mod_mul(u1, u1, z, field_p, s->ctx))
            goto out;
        *valid = BN_cmp(u1, x) == 0;
    }
    rc = CG_OK;
out:
    BN_CTX_end(s->ctx);
    if (rc != CG_OK)
        ERR_clear_error();
    return rc;
}
