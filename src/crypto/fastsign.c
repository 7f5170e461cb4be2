/*
 * ECDSA P-256 signing with nonces prepared in batches.
 *
 * A signature is s = k^-1 (e + r d) mod n, where r is the x-coordinate of
 * k*G for a fresh random nonce k.  Only the last step involves the digest e
 * or the key d; k, k^-1 and r do not, and OpenSSL (ECDSA_sign_setup, or
 * ECDSA_do_sign with no setup) prepares them one signature at a time, paying
 * for each alone:
 *   - a DRBG request for k (about 3 us),
 *   - the field inversion that turns k*G into affine x (about 3.5 us),
 *   - the inversion of k modulo n (several us),
 * against about 6 us for k*G itself.  Measured in one process on this
 * project's 2-core EPYC machine: ECDSA_sign 20-25 us a signature,
 * EC_POINT_mul by G 6.0 us.
 *
 * Here each thread prepares BATCH nonces at once: one DRBG request, BATCH
 * multiplications k*G, one shared field inversion for their affine forms
 * (EC_POINTs_make_affine), one shared inversion modulo n for the k's
 * (Montgomery's trick: prefix products, one exponentiation, then back
 * down), and hands them out one per signature.  The signature itself is
 * OpenSSL's (ECDSA_do_sign_ex with the prepared k^-1 and r), so the private
 * key is only ever touched by OpenSSL's constant-time code.  Measured in
 * the same run: 7.4 us a signature against 20.0 us for ECDSA_sign.
 *
 * What this must get right, since a nonce reused or leaked gives away the
 * private key:
 *   - k is uniform in [1, n-1]: 32 bytes from the private DRBG, redrawn
 *     when 0 or >= n (OpenSSL's own BN_priv_rand_range does the same);
 *   - each prepared pair is used once and cleared as soon as it is used;
 *     the pool is per thread, so no two threads can take the same one;
 *   - a child process never signs with what it inherited, else parent and
 *     child would sign with the same nonces: the prepared nonces live in a
 *     page the kernel empties in any child (MADV_WIPEONFORK: fork(),
 *     _Fork() and clone() alike; pthread_atfork would miss the last two),
 *     and where the kernel cannot, the pid is compared on every signature;
 *   - k is only handled by constant-time code: k*G by OpenSSL's P-256
 *     multiplication with BN_FLG_CONSTTIME, the inversion by Montgomery
 *     multiplications and BN_mod_exp_mont_consttime, the same primitives
 *     OpenSSL's ECDSA uses for k^-1.
 *
 * What it gives up: OpenSSL derives each nonce from fresh random bytes
 * hedged with the key and the digest, so that a random generator repeating
 * itself (a virtual machine's snapshot restored twice) still gives distinct
 * nonces for distinct messages.  A nonce prepared before its message
 * exists cannot be hedged with it; a snapshot restored twice would repeat
 * up to BATCH of them.  Build with -DCG_FASTSIGN=OFF where signing hosts
 * are cloned from snapshots.  Keys held by another provider (FIPS, a
 * hardware module) are never taken out of it: they sign through EVP.
 *
 * ECDSA_do_sign_ex, EC_POINTs_make_affine, EVP_PKEY_get1_EC_KEY and
 * EC_POINT_get_Jprojective_coordinates_GFp are deprecated in OpenSSL 3.0 with
 * no replacement that takes a prepared nonce; this file is compiled at the
 * 1.1.1 API level like fastverify.c, and without them every signature goes
 * through EVP (see CMakeLists.txt).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "cidguard/error.h"
#include "core/internal.h"
#include "crypto/fastsign.h"

/* Nonces prepared at a time: the shared inversions cost about 25 us a
 * batch, so 32 leave under 1 us of them a signature, and the thread that
 * empties the pool waits about 0.25 ms once every 32 signatures. */
#define BATCH 32
/* After a failed preparation a thread signs this many times through EVP
 * before it tries again, rather than paying for a failing batch on every
 * signature. */
#define BACKOFF 4096

struct cg__fssigner {
    EC_KEY *ec;
};

static EC_GROUP *group;
static const BIGNUM *order;
static BIGNUM *order_minus_2;
static BN_MONT_CTX *order_mont;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t pool_key;
static bool ready;
static atomic_bool failure_logged;
static _Thread_local unsigned long signed_here;

/* The prepared nonces, alone in their page (see the top of the file). */
struct prepared {
    unsigned left; /* kinv[0..left-1] and r[0..left-1] are unused */
    unsigned char kinv[BATCH][32], r[BATCH][32];
};

struct pool {
    struct prepared *prep;
    bool wiped_on_fork;
    pid_t pid;     /* the process that prepared them, where not wiped */
    unsigned skip; /* signatures left to EVP after a failed preparation */
    BN_CTX *ctx;
    BIGNUM *kinv, *r;                 /* the signature's, from prep */
    BIGNUM *k[BATCH], *prefix[BATCH]; /* scratch of a refill */
    EC_POINT *pt[BATCH];
};

static void pool_free(void *arg)
{
    struct pool *p = arg;
    unsigned i;
    if (p->prep) {
        OPENSSL_cleanse(p->prep, sizeof *p->prep);
        munmap(p->prep, sizeof *p->prep);
    }
    BN_clear_free(p->kinv);
    BN_clear_free(p->r);
    for (i = 0; i < BATCH; i++) {
        BN_clear_free(p->k[i]);
        BN_clear_free(p->prefix[i]);
        EC_POINT_clear_free(p->pt[i]);
    }
    BN_CTX_free(p->ctx);
    free(p);
}

static void init(void)
{
    BN_CTX *ctx = BN_CTX_new();
    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    order_minus_2 = BN_new();
    order_mont = BN_MONT_CTX_new();
    if (!ctx || !group || !order_minus_2 || !order_mont || !(order = EC_GROUP_get0_order(group)) ||
        !BN_copy(order_minus_2, order) || !BN_sub_word(order_minus_2, 2) ||
        !BN_MONT_CTX_set(order_mont, order, ctx) || pthread_key_create(&pool_key, pool_free) != 0) {
        BN_CTX_free(ctx);
        return;
    }
    BN_CTX_free(ctx);
    ready = true;
}

static struct pool *pool_get(void)
{
    struct pool *p = pthread_getspecific(pool_key);
    void *page;
    unsigned i;
    if (p)
        return p;
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    page = mmap(NULL, sizeof *p->prep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) {
        p->prep = page;
#ifdef MADV_WIPEONFORK
        p->wiped_on_fork = madvise(page, sizeof *p->prep, MADV_WIPEONFORK) == 0;
#endif
    }
    p->ctx = BN_CTX_new();
    p->kinv = BN_new();
    p->r = BN_new();
    for (i = 0; i < BATCH; i++) {
        p->k[i] = BN_new();
        p->prefix[i] = BN_new();
        p->pt[i] = EC_POINT_new(group);
        if (!p->k[i] || !p->prefix[i] || !p->pt[i])
            break;
    }
    if (i < BATCH || !p->prep || !p->ctx || !p->kinv || !p->r ||
        pthread_setspecific(pool_key, p) != 0) {
        pool_free(p);
        return NULL;
    }
    return p;
}

/* k from 32 random bytes, redrawn until it lies in [1, n-1]. */
static bool draw(BIGNUM *k, const unsigned char rnd[32])
{
    unsigned char again[32];
    int tries = 0;
    if (!BN_bin2bn(rnd, 32, k))
        return false;
    while (BN_is_zero(k) || BN_cmp(k, order) >= 0) {
        if (++tries > 64 || RAND_priv_bytes(again, sizeof again) != 1 || !BN_bin2bn(again, 32, k)) {
            OPENSSL_cleanse(again, sizeof again);
            return false;
        }
    }
    OPENSSL_cleanse(again, sizeof again);
    BN_set_flags(k, BN_FLG_CONSTTIME);
    return true;
}

/* k^-1 for every k of the batch, one inversion for all of them: each k[i]
 * is replaced by its inverse. */
static bool invert_all(struct pool *p, BIGNUM *acc, BIGNUM *inv)
{
    BN_CTX *ctx = p->ctx;
    unsigned i;
    for (i = 0; i < BATCH; i++) {
        if (!BN_to_montgomery(p->k[i], p->k[i], order_mont, ctx))
            return false;
        if (!(i ? BN_mod_mul_montgomery(p->prefix[i], p->prefix[i - 1], p->k[i], order_mont, ctx)
                : BN_copy(p->prefix[0], p->k[0]) != NULL))
            return false;
    }
    /* (k_0 ... k_{B-1})^-1 by Fermat, with a public exponent */
    if (!BN_from_montgomery(acc, p->prefix[BATCH - 1], order_mont, ctx))
        return false;
    BN_set_flags(acc, BN_FLG_CONSTTIME);
    if (!BN_mod_exp_mont_consttime(inv, acc, order_minus_2, order, ctx, order_mont) ||
        !BN_to_montgomery(inv, inv, order_mont, ctx))
        return false;
    for (i = BATCH - 1; i > 0; i--) {
        /* inv = (k_0 ... k_i)^-1: times k_0 ... k_{i-1} is k_i^-1; times
         * k_i, (k_0 ... k_{i-1})^-1 for the next step */
        if (!BN_mod_mul_montgomery(acc, inv, p->prefix[i - 1], order_mont, ctx) ||
            !BN_mod_mul_montgomery(inv, inv, p->k[i], order_mont, ctx) ||
            !BN_from_montgomery(p->k[i], acc, order_mont, ctx))
            return false;
    }
    return BN_from_montgomery(p->k[0], inv, order_mont, ctx) == 1;
}

static int refill(struct pool *p)
{
    unsigned char rnd[32 * BATCH];
    BIGNUM *acc, *inv, *z;
    bool ok = false;
    unsigned i;

    p->prep->left = 0;
    BN_CTX_start(p->ctx);
    acc = BN_CTX_get(p->ctx);
    inv = BN_CTX_get(p->ctx);
    z = BN_CTX_get(p->ctx);
    if (!z || RAND_priv_bytes(rnd, sizeof rnd) != 1)
        goto done;
    for (i = 0; i < BATCH; i++)
        if (!draw(p->k[i], rnd + 32 * i) ||
            EC_POINT_mul(group, p->pt[i], p->k[i], NULL, NULL, p->ctx) != 1)
            goto done;
    /* One field inversion for all the points; then each one's X is its
     * affine x, read without another inversion (EC_POINT_get_affine_
     * coordinates would invert again for each). */
    if (EC_POINTs_make_affine(group, BATCH, p->pt, p->ctx) != 1)
        goto done;
    for (i = 0; i < BATCH; i++)
        if (EC_POINT_get_Jprojective_coordinates_GFp(group, p->pt[i], acc, NULL, z, p->ctx) != 1 ||
            !BN_is_one(z) || !BN_nnmod(acc, acc, order, p->ctx) || BN_is_zero(acc) ||
            BN_bn2binpad(acc, p->prep->r[i], 32) != 32)
            goto done;
    if (!invert_all(p, acc, inv))
        goto done;
    for (i = 0; i < BATCH; i++)
        if (BN_bn2binpad(p->k[i], p->prep->kinv[i], 32) != 32)
            goto done;
    ok = true;
done:
    OPENSSL_cleanse(rnd, sizeof rnd);
    for (i = 0; i < BATCH; i++) {
        BN_clear(p->k[i]);
        BN_clear(p->prefix[i]);
    }
    if (acc)
        BN_clear(acc);
    if (inv)
        BN_clear(inv);
    BN_CTX_end(p->ctx);
    if (!ok) {
        OPENSSL_cleanse(p->prep, sizeof *p->prep);
        ERR_clear_error();
        return CG_ECRYPTO;
    }
    p->pid = getpid();
    p->prep->left = BATCH;
    return CG_OK;
}

/* Only keys of OpenSSL's default provider, outside FIPS mode: a key of
 * the FIPS provider or a hardware module stays inside it. */
static bool key_is_ours(EVP_PKEY *pkey)
{
    const OSSL_PROVIDER *prov = EVP_PKEY_get0_provider(pkey);
    const char *name = prov ? OSSL_PROVIDER_get0_name(prov) : NULL;
    return !EVP_default_properties_is_fips_enabled(NULL) && (!name || !strcmp(name, "default"));
}

int cg__fs_new(struct cg__fssigner **out, EVP_PKEY *pkey)
{
    struct cg__fssigner *s;
    EC_KEY *ec;
    pthread_once(&init_once, init);
    if (!ready || !key_is_ours(pkey))
        return CG_EUNSUPPORTED;
    if (!(ec = EVP_PKEY_get1_EC_KEY(pkey)) || !EC_KEY_get0_private_key(ec)) {
        EC_KEY_free(ec);
        ERR_clear_error();
        return CG_EUNSUPPORTED;
    }
    if (!(s = malloc(sizeof *s))) {
        EC_KEY_free(ec);
        return CG_ENOMEM;
    }
    s->ec = ec;
    *out = s;
    return CG_OK;
}

void cg__fs_free(struct cg__fssigner *s)
{
    if (!s)
        return;
    EC_KEY_free(s->ec);
    free(s);
}

unsigned long cg__fs_signed_here(void)
{
    return signed_here;
}

int cg__fs_sign(const struct cg__fssigner *s, const unsigned char md[32], unsigned char sig[64])
{
    struct pool *p = pool_get();
    int tries;
    if (!p)
        return CG_ENOMEM;
    if (p->skip) {
        p->skip--;
        return CG_EUNSUPPORTED;
    }
    /* A second try only when s came out 0 (probability 2^-256), which
     * ECDSA_do_sign_ex refuses with a prepared nonce. */
    for (tries = 0; tries < 2; tries++) {
        const BIGNUM *r, *sv;
        ECDSA_SIG *es;
        unsigned i;
        bool ok;
        if (!p->wiped_on_fork && p->pid != getpid())
            p->prep->left = 0; /* inherited from the parent: never used here */
        if (!p->prep->left && refill(p) != CG_OK) {
            p->skip = BACKOFF;
            if (!atomic_exchange(&failure_logged, true))
                cg__log(CG_LOG_WARN, "ECDSA: preparing nonces failed; signing through EVP");
            return CG_ECRYPTO;
        }
        i = --p->prep->left;
        ok = BN_bin2bn(p->prep->kinv[i], 32, p->kinv) && BN_bin2bn(p->prep->r[i], 32, p->r);
        OPENSSL_cleanse(p->prep->kinv[i], 32);
        OPENSSL_cleanse(p->prep->r[i], 32);
        BN_set_flags(p->kinv, BN_FLG_CONSTTIME);
        es = ok ? ECDSA_do_sign_ex(md, 32, p->kinv, p->r, s->ec) : NULL;
        BN_clear(p->kinv);
        BN_clear(p->r);
        if (!es) {
            ERR_clear_error();
            continue;
        }
        ECDSA_SIG_get0(es, &r, &sv);
        ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(sv, sig + 32, 32) == 32;
        ECDSA_SIG_free(es);
        if (ok)
            signed_here++;
        return ok ? CG_OK : CG_ECRYPTO;
    }
    return CG_ECRYPTO;
}
