/*
 * The busy keys' verification tables against EVP: every (key, digest,
 * signature) gets the same answer from both paths, or the run aborts.
 *
 * Input: one byte picks the key and the mode, then a 32-byte digest and a
 * 64-byte R||S (missing bytes are zeros).  The keys and their tables are
 * built once, outside the per-input path; their private keys are known, so
 * that besides raw inputs the modes can craft what random bytes never hit:
 *   0  the bytes as they are;
 *   1  a valid signature (nonce k from the input's s), then XORed with the
 *      input's r, which is usually all zeros after minimisation;
 *   2  its high-s twin (n - s);
 *   3  a sum at infinity: the digest set to -r*d;
 *   4  a doubling: the digest set to r*d, so that u1*G = u2*Q.
 * Keys: random ones, Q = G (d = 1), Q = -G (d = n - 1), and a key whose x
 * lies beyond n (no private key: raw inputs only).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "cidguard/cidguard.h"
#include "crypto/es256.h"
#include "crypto/fastverify.h"

#define NKEYS 8

static struct {
    struct cg_key *k;
    struct cg__fktab *tab;
    BIGNUM *d; /* NULL when unknown */
} keys[NKEYS];
static EC_GROUP *grp;
static const BIGNUM *n;
static BN_CTX *bctx;
static int ready; /* 1 ready, -1 no tables in this build */

static struct cg_key *wrap_point(const EC_POINT *q)
{
    unsigned char pub[65];
    OSSL_PARAM p[3];
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pk = NULL;
    struct cg_key *k;
    if (EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, pub, 65, bctx) != 65)
        abort();
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 65);
    p[2] = OSSL_PARAM_construct_end();
    if (!c || EVP_PKEY_fromdata_init(c) != 1 ||
        EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, p) != 1 ||
        cg__key_wrap(&k, pk, false) != CG_OK)
        abort();
    EVP_PKEY_CTX_free(c);
    return k;
}

static void add_key(int i, BIGNUM *d, const EC_POINT *q)
{
    unsigned char pub[65];
    keys[i].d = d;
    keys[i].k = wrap_point(q);
    if (EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, pub, 65, bctx) != 65 ||
        cg__fktab_new(&keys[i].tab, pub, 65) != CG_OK)
        abort();
}

static void init(void)
{
    EC_POINT *q;
    BIGNUM *x;
    int i;
    if (!cg__fktab_available()) {
        ready = -1;
        return;
    }
    bctx = BN_CTX_new();
    grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    n = EC_GROUP_get0_order(grp);
    q = EC_POINT_new(grp);
    for (i = 0; i < NKEYS - 1; i++) {
        BIGNUM *d = BN_new();
        if (i == 0)
            BN_one(d);
        else if (i == 1)
            BN_sub(d, n, BN_value_one());
        else if (!BN_set_word(d, 0x5eed0000u + (unsigned)i * 7919u) ||
                 !BN_mod_exp(d, d, d, n, bctx))
            abort();
        EC_POINT_mul(grp, q, d, NULL, NULL, bctx);
        add_key(i, d, q);
    }
    /* x = n + w for the first w with a point on the curve */
    x = BN_new();
    for (i = 1;; i++) {
        BN_copy(x, n);
        BN_add_word(x, (BN_ULONG)i);
        if (EC_POINT_set_compressed_coordinates(grp, q, x, 0, bctx) == 1)
            break;
    }
    ERR_clear_error();
    add_key(NKEYS - 1, NULL, q);
    BN_free(x);
    EC_POINT_free(q);
    ready = 1;
}

static void bn32(const BIGNUM *v, unsigned char *out)
{
    if (BN_bn2binpad(v, out, 32) != 32)
        abort();
}

/* Crafts md/sig in place for modes 1-4 with private key d. */
static void craft(int mode, const BIGNUM *d, unsigned char md[32], unsigned char sig[64])
{
    BIGNUM *m, *r, *s, *k, *t;
    EC_POINT *p = EC_POINT_new(grp);
    BN_CTX_start(bctx);
    m = BN_CTX_get(bctx);
    r = BN_CTX_get(bctx);
    s = BN_CTX_get(bctx);
    k = BN_CTX_get(bctx);
    if (!(t = BN_CTX_get(bctx)) || !p)
        abort();
    BN_bin2bn(md, 32, m);
    BN_bin2bn(sig + 32, 32, k);
    BN_nnmod(k, k, n, bctx);
    if (BN_is_zero(k))
        BN_one(k);
    if (mode == 3 || mode == 4) {
        /* r from the input, m = -r*d (infinity) or r*d (doubling) */
        BN_bin2bn(sig, 32, r);
        BN_mod_mul(m, r, d, n, bctx);
        if (mode == 3)
            BN_mod_sub(m, n, m, n, bctx);
        bn32(m, md);
        goto out;
    }
    /* r = x(kG) mod n, s = k^-1 (m + r*d) */
    EC_POINT_mul(grp, p, k, NULL, NULL, bctx);
    EC_POINT_get_affine_coordinates(grp, p, t, NULL, bctx);
    BN_nnmod(r, t, n, bctx);
    BN_mod_mul(t, r, d, n, bctx);
    BN_mod_add(t, t, m, n, bctx);
    BN_mod_inverse(s, k, n, bctx);
    BN_mod_mul(s, s, t, n, bctx);
    if (mode == 2)
        BN_sub(s, n, s);
    {
        unsigned char mask[32];
        size_t i;
        memcpy(mask, sig, 32);
        bn32(r, sig);
        bn32(s, sig + 32);
        if (mode == 1)
            for (i = 0; i < 32; i++)
                sig[i] ^= mask[i];
    }
out:
    BN_CTX_end(bctx);
    EC_POINT_free(p);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    unsigned char buf[97] = {0}, md[32], sig[64];
    bool fast, evp;
    int i, mode, rf, re;
    if (!ready)
        init();
    if (ready < 0 || size == 0)
        return 0;
    memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
    i = buf[0] % NKEYS;
    mode = (buf[0] / NKEYS) % 5;
    memcpy(md, buf + 1, 32);
    memcpy(sig, buf + 33, 64);
    if (mode && keys[i].d)
        craft(mode, keys[i].d, md, sig);
    rf = cg__fktab_verify(keys[i].tab, md, sig, &fast);
    re = cg__es256_verify_digest_evp(keys[i].k, md, sig, &evp);
    if (rf != CG_OK || re != CG_OK || fast != evp)
        abort();
    return 0;
}
