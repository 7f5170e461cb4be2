/*
 * ES256 (RFC 7518 section 3.4) on OpenSSL 3.
 *
 * JWS carries the signature as 64 raw bytes R||S; OpenSSL speaks DER
 * ECDSA-Sig-Value.  Both conversions are done by hand (see raw_to_der).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/internal.h"
#include "crypto/es256.h"
#include "crypto/fastsign.h"
#include "crypto/fastverify.h"

struct cg_key {
    EVP_PKEY *pkey;
    bool priv;
    uint64_t id; /* never reused: keys the per-thread context cache */
    /* Its entry among the busy keys (fastkeys.c), linked on its first
     * verification: a cache beside the key's value, hence written through
     * a const key. */
    struct cg__fkent *_Atomic fk;
    /* A private key's prepared nonces (fastsign.c), or NULL: it then signs
     * through EVP. */
    struct cg__fssigner *fs;
};

static atomic_uint_fast64_t next_key_id = 1;

/*
 * Per-thread EVP_PKEY_CTX cache.  EVP_DigestVerifyInit per call fetches the
 * algorithm from the provider and allocates contexts: several microseconds,
 * the difference between a bare OpenSSL JWS verify (88% of `openssl speed`)
 * and ECDSA itself.  Like `openssl speed`, we initialise a context once per
 * key and operation and reuse it; contexts are not thread-safe, so each
 * thread keeps its own few, freed when the thread exits.  A cached context
 * holds a reference to its EVP_PKEY, so a freed cg_key's key lives on until
 * its entry is evicted: bounded by TL_SLOTS per thread.
 */
#define TL_SLOTS 8

struct tl_entry {
    uint64_t id;
    int op; /* 0 verify, 1 sign */
    EVP_PKEY_CTX *ctx;
};

struct tl_cache {
    struct tl_entry e[TL_SLOTS];
    unsigned next;
    EVP_MD_CTX *md;         /* SHA-256, reused */
    unsigned char rnd[512]; /* random pool for identifiers, see cg__random */
    size_t rnd_left;
    pid_t rnd_pid;
};

/* SHA-256 fetched once: the SHA256() convenience call fetches the
 * implementation from the provider on every call, 40% of its cost on a
 * 434-byte signing input. */
static EVP_MD *sha256_md;

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_free(void *arg)
{
    struct tl_cache *c = arg;
    unsigned i;
    for (i = 0; i < TL_SLOTS; i++)
        EVP_PKEY_CTX_free(c->e[i].ctx);
    EVP_MD_CTX_free(c->md);
    OPENSSL_cleanse(c->rnd, sizeof c->rnd);
    free(c);
}

static void tl_init(void)
{
    pthread_key_create(&tl_key, tl_free);
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static struct tl_cache *tl_get(void)
{
    struct tl_cache *c;
    pthread_once(&tl_once, tl_init);
    if (!(c = pthread_getspecific(tl_key))) {
        if (!(c = calloc(1, sizeof *c)) || !(c->md = EVP_MD_CTX_new()) ||
            pthread_setspecific(tl_key, c) != 0) {
            if (c)
                EVP_MD_CTX_free(c->md);
            free(c);
            return NULL;
        }
    }
    return c;
}

static int sha256(const void *data, size_t len, unsigned char md[32])
{
    struct tl_cache *c = tl_get();
    unsigned int n;
    if (!c || !sha256_md || EVP_DigestInit_ex2(c->md, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(c->md, data, len) != 1 || EVP_DigestFinal_ex(c->md, md, &n) != 1)
        return CG_ECRYPTO;
    return CG_OK;
}

/*
 * Random bytes for identifiers (origid UUIDs) from a per-thread pool
 * refilled by RAND_bytes 512 bytes at a time: one RAND_bytes call per UUID
 * was 4% of the whole sign path (callgrind).  The pool is refilled after a
 * fork so that parent and child never hand out the same bytes.
 */
int cg__random(unsigned char *out, size_t n)
{
    struct tl_cache *c = tl_get();
    pid_t pid = getpid();
    if (!c || n > sizeof c->rnd)
        return RAND_bytes(out, (int)n) == 1 ? CG_OK : CG_ECRYPTO;
    if (c->rnd_left < n || c->rnd_pid != pid) {
        if (RAND_bytes(c->rnd, sizeof c->rnd) != 1)
            return CG_ECRYPTO;
        c->rnd_left = sizeof c->rnd;
        c->rnd_pid = pid;
    }
    memcpy(out, c->rnd + sizeof c->rnd - c->rnd_left, n);
    OPENSSL_cleanse(c->rnd + sizeof c->rnd - c->rnd_left, n);
    c->rnd_left -= n;
    return CG_OK;
}

static EVP_PKEY_CTX *ctx_for(const struct cg_key *k, int op)
{
    struct tl_cache *c = tl_get();
    struct tl_entry *e;
    unsigned i;
    if (!c)
        return NULL;
    for (i = 0; i < TL_SLOTS; i++)
        if (c->e[i].ctx && c->e[i].id == k->id && c->e[i].op == op)
            return c->e[i].ctx;
    e = &c->e[c->next++ % TL_SLOTS];
    EVP_PKEY_CTX_free(e->ctx);
    e->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (e->ctx && (op ? EVP_PKEY_sign_init(e->ctx) : EVP_PKEY_verify_init(e->ctx)) != 1) {
        EVP_PKEY_CTX_free(e->ctx);
        e->ctx = NULL;
    }
    e->id = k->id;
    e->op = op;
    return e->ctx;
}

bool cg__pkey_is_p256(EVP_PKEY *pkey)
{
    char group[32];
    size_t glen = 0;
    if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
        return false;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        &glen))
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int cg__key_wrap(struct cg_key **out, EVP_PKEY *pkey, bool priv)
{
    struct cg_key *k;
    if (!cg__pkey_is_p256(pkey))
        return CG_EKEY;
    if (!(k = calloc(1, sizeof *k)))
        return CG_ENOMEM;
    k->pkey = pkey;
    k->priv = priv;
    k->id = atomic_fetch_add(&next_key_id, 1);
#ifdef CG_HAVE_FASTSIGN
    if (priv && cg__fs_new(&k->fs, pkey) != CG_OK)
        k->fs = NULL;
#endif
    *out = k;
    return CG_OK;
}

EVP_PKEY *cg__key_pkey(const struct cg_key *k)
{
    return k->pkey;
}

/* Whether the `len` bytes at p hold `word`: a PEM buffer need not end in a
 * NUL (a BIO's memory, a mapped file), so strstr would read past it. */
static bool holds(const char *p, size_t len, const char *word)
{
    size_t n = strlen(word), i;
    for (i = 0; i + n <= len; i++)
        if (p[i] == word[0] && memcmp(p + i, word, n) == 0)
            return true;
    return false;
}

int cg_key_load_pem(struct cg_key **out, const char *pem, size_t len)
{
    BIO *b;
    EVP_PKEY *pk = NULL;
    bool priv = false;
    int rc;

    if (len > 65536)
        return CG_ETOOBIG;
    if (!(b = BIO_new_mem_buf(pem, (int)len)))
        return CG_ENOMEM;
    if (holds(pem, len, "PRIVATE KEY")) {
        pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        priv = true;
    } else if (holds(pem, len, "BEGIN CERTIFICATE")) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (x) {
            pk = X509_get_pubkey(x);
            X509_free(x);
        }
    } else {
        pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    }
    BIO_free(b);
    if (!pk)
        return CG_EKEY;
    rc = cg__key_wrap(out, pk, priv);
    if (rc)
        EVP_PKEY_free(pk);
    return rc;
}

/* Reads a whole small file; shared by key and certificate loaders. */
int cg__read_file(const char *path, size_t max, char **out, size_t *outlen)
{
    /* Only a regular file: a FIFO without a writer would block the reader
     * (the daemon's main thread, at a reload), and a device feed it to the
     * limit. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    char *buf;
    size_t n = 0;
    ssize_t r;
    if (fd < 0)
        return CG_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CG_EIO;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return CG_ETOOBIG;
    }
    if (!(buf = malloc((size_t)st.st_size + 2))) {
        close(fd);
        return CG_ENOMEM;
    }
    /* a byte more than fstat said: a file that grows as it is read is refused */
    while (n <= (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size + 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n != (size_t)st.st_size) {
        free(buf);
        return CG_EIO;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return CG_OK;
}

int cg_key_load_file(struct cg_key **out, const char *path)
{
    char *buf;
    size_t n;
    int rc = cg__read_file(path, 65536, &buf, &n);
    if (rc)
        return rc;
    rc = cg_key_load_pem(out, buf, n);
    OPENSSL_cleanse(buf, n);
    free(buf);
    return rc;
}

bool cg_key_is_private(const struct cg_key *k)
{
    return k && k->priv;
}

void cg_key_free(struct cg_key *k)
{
    if (!k)
        return;
    cg__fk_detach(atomic_load(&k->fk));
#ifdef CG_HAVE_FASTSIGN
    cg__fs_free(k->fs);
#endif
    EVP_PKEY_free(k->pkey);
    free(k);
}

int cg_key_public_pem(const struct cg_key *k, char **out)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    int rc = CG_ECRYPTO;
    if (!b)
        return CG_ENOMEM;
    if (PEM_write_bio_PUBKEY(b, k->pkey) && (n = BIO_get_mem_data(b, &p)) > 0) {
        if ((*out = malloc((size_t)n + 1))) {
            memcpy(*out, p, (size_t)n);
            (*out)[n] = '\0';
            rc = CG_OK;
        } else {
            rc = CG_ENOMEM;
        }
    }
    BIO_free(b);
    return rc;
}

/* DER ECDSA-Sig-Value (as OpenSSL just produced it) to R||S; the reverse
 * of raw_to_der below, for the same reason: no BIGNUM allocations. */
static int der_to_raw(const unsigned char *der, size_t n, unsigned char sig[64])
{
    size_t p = 2, k;
    if (n < 8 || der[0] != 0x30 || der[1] != n - 2)
        return -1;
    for (k = 0; k < 2; k++) {
        size_t len;
        const unsigned char *v;
        if (p + 2 > n || der[p] != 0x02)
            return -1;
        len = der[p + 1];
        v = der + p + 2;
        if (len == 0 || p + 2 + len > n)
            return -1;
        p += 2 + len;
        while (len > 32 && *v == 0) {
            v++;
            len--;
        }
        if (len > 32)
            return -1;
        memset(sig + 32 * k, 0, 32 - len);
        memcpy(sig + 32 * k + 32 - len, v, len);
    }
    return p == n ? 0 : -1;
}

int cg__es256_sign_digest_evp(const struct cg_key *k, const unsigned char md[32],
                              unsigned char sig[64])
{
    EVP_PKEY_CTX *ctx;
    unsigned char der[80];
    size_t derlen = sizeof der;
    if (!k->priv)
        return CG_EKEY;
    if (!(ctx = ctx_for(k, 1)) || EVP_PKEY_sign(ctx, der, &derlen, md, 32) != 1 ||
        der_to_raw(der, derlen, sig))
        return CG_ECRYPTO;
    return CG_OK;
}

unsigned long cg__es256_fast_signed(void)
{
#ifdef CG_HAVE_FASTSIGN
    return cg__fs_signed_here();
#else
    return 0;
#endif
}

bool cg__es256_fast_sign_available(void)
{
#ifdef CG_HAVE_FASTSIGN
    return true;
#else
    return false;
#endif
}

int cg_es256_sign(const struct cg_key *k, const void *data, size_t len, unsigned char sig[64])
{
    unsigned char md[32];
    if (!k->priv)
        return CG_EKEY;
    if (sha256(data, len, md) != CG_OK)
        return CG_ECRYPTO;
#ifdef CG_HAVE_FASTSIGN
    if (k->fs && cg__fs_sign(k->fs, md, sig) == CG_OK)
        return CG_OK;
#endif
    return cg__es256_sign_digest_evp(k, md, sig);
}

/*
 * R||S to DER ECDSA-Sig-Value, by hand.  Going through ECDSA_SIG costs two
 * BIGNUMs, the ECDSA_SIG and i2d: five allocations and frees per call, about
 * 1 us of the 5-6 us the verify path spends outside the ECDSA operation
 * (cidguard-bench, verify 1 thread: 91.9% of raw before; docs/performance.md
 * for after).  DER INTEGER: minimal big-endian, a 0x00 in front when the top
 * bit is set; lengths here never exceed 0x7f.
 */
static size_t der_int(unsigned char *out, const unsigned char *v)
{
    size_t i = 0, n;
    while (i < 31 && v[i] == 0)
        i++;
    n = 32 - i;
    out[0] = 0x02;
    if (v[i] & 0x80) {
        out[1] = (unsigned char)(n + 1);
        out[2] = 0x00;
        memcpy(out + 3, v + i, n);
        return n + 3;
    }
    out[1] = (unsigned char)n;
    memcpy(out + 2, v + i, n);
    return n + 2;
}

static size_t raw_to_der(const unsigned char sig[64], unsigned char der[72])
{
    size_t n = 2;
    n += der_int(der + n, sig);
    n += der_int(der + n, sig + 32);
    der[0] = 0x30;
    der[1] = (unsigned char)(n - 2);
    return n;
}

static struct cg__fkent *_Atomic *fk_slot(const struct cg_key *k)
{
    return (struct cg__fkent * _Atomic *)&k->fk;
}

int cg_key_promote(const struct cg_key *k)
{
    return cg__fk_promote_now(fk_slot(k), k->pkey);
}

int cg__es256_verify_digest_evp(const struct cg_key *k, const unsigned char md[32],
                                const unsigned char sig[64], bool *valid)
{
    EVP_PKEY_CTX *ctx;
    unsigned char der[72];
    size_t derlen = raw_to_der(sig, der);
    int v;

    *valid = false;
    if (!(ctx = ctx_for(k, 0)))
        return CG_ECRYPTO;
    v = EVP_PKEY_verify(ctx, der, derlen, md, 32);
    /* 0 is "does not verify"; negative is malformed, also a bad signature
     * (r or s zero or out of range), not a library failure.  Either way
     * OpenSSL queued an error: a forged call must not leave it on the
     * worker's queue, where the next real failure would be read behind it. */
    if (v != 1)
        ERR_clear_error();
    *valid = v == 1;
    return CG_OK;
}

int cg__es256_verify_digest(const struct cg_key *k, const unsigned char md[32],
                            const unsigned char sig[64], bool *valid)
{
    int rc;
    /* A key with a table verifies with it; the others with EVP, which
     * counts them towards a table. */
    if (cg__fk_verify(fk_slot(k), k->pkey, md, sig, valid))
        return CG_OK;
    rc = cg__es256_verify_digest_evp(k, md, sig, valid);
    cg__fk_count_evp();
    return rc;
}

int cg_es256_verify(const struct cg_key *k, const void *data, size_t len,
                    const unsigned char sig[64], bool *valid)
{
    unsigned char md[32];
    *valid = false;
    if (sha256(data, len, md) != CG_OK)
        return CG_ECRYPTO;
    return cg__es256_verify_digest(k, md, sig, valid);
}
