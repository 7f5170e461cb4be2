/*
 * Trust anchors, CRLs and chain validation.
 *
 * A cg_trust is built once (anchors, CRLs, extra untrusted certificates)
 * and then only read, so any number of threads may validate against it.  A
 * CRL refresh builds a new cg_trust; each has a unique id, which is what the
 * per-chain validation cache is keyed on.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/internal.h"
#include "x509/x509.h"

struct cg_trust {
    X509_STORE *store;
    STACK_OF(X509) * extra; /* CRL signers and other helpers */
    /* CRLs are handed to each validation directly rather than put in the
     * store: the store looks CRLs up by the certificate's issuer name, which
     * never finds an indirect CRL (its issuer is the CRL signer). */
    STACK_OF(X509_CRL) * crls;
    unsigned flags;
    bool have_crl;
    int64_t crl_until; /* earliest nextUpdate of the loaded CRLs */
    uint64_t id;
};

static atomic_uint_fast64_t next_trust_id = 1;

int cg_trust_new(struct cg_trust **out, unsigned flags)
{
    struct cg_trust *t = calloc(1, sizeof *t);
    if (!t)
        return CG_ENOMEM;
    t->store = X509_STORE_new();
    t->extra = sk_X509_new_null();
    t->crls = sk_X509_CRL_new_null();
    if (!t->store || !t->extra || !t->crls) {
        cg_trust_free(t);
        return CG_ENOMEM;
    }
    t->flags = flags;
    t->crl_until = INT64_MAX;
    t->id = atomic_fetch_add(&next_trust_id, 1);
    *out = t;
    return CG_OK;
}

void cg_trust_free(struct cg_trust *t)
{
    if (!t)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->extra, X509_free);
    sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
    free(t);
}

static int each_pem_cert(const char *pem, size_t len, int (*fn)(struct cg_trust *, X509 *),
                         struct cg_trust *t)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x;
    int n = 0, rc = CG_OK;
    if (!b)
        return CG_ENOMEM;
    while (rc == CG_OK && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        rc = fn(t, x);
        n++;
    }
    ERR_clear_error();
    BIO_free(b);
    if (rc == CG_OK && n == 0)
        rc = CG_ECERT;
    return rc;
}

/*
 * OpenSSL parses a certificate's extensions on first use, and fills that
 * cache under the certificate's lock while another validation may read it
 * without the lock: ThreadSanitizer caught one worker comparing a newly
 * loaded anchor's key identifier while another was still allocating it.
 * So every certificate of a trust is settled here, while one thread owns
 * it; afterwards validations only read it.
 */
static void settle(X509 *x)
{
    (void)X509_check_purpose(x, -1, 0); /* fills the cache; an invalid one fails later */
}

static int add_anchor(struct cg_trust *t, X509 *x)
{
    int ok;
    settle(x);
    ok = X509_STORE_add_cert(t->store, x);
    X509_free(x);
    return ok ? CG_OK : CG_ECRYPTO;
}

static int add_extra(struct cg_trust *t, X509 *x)
{
    settle(x);
    if (!sk_X509_push(t->extra, x)) {
        X509_free(x);
        return CG_ENOMEM;
    }
    return CG_OK;
}

int cg_trust_add_anchors_pem(struct cg_trust *t, const char *pem, size_t len)
{
    return each_pem_cert(pem, len, add_anchor, t);
}

static int with_file(struct cg_trust *t, const char *path,
                     int (*fn)(struct cg_trust *, const char *, size_t))
{
    char *buf;
    size_t n;
    int rc = cg__read_file(path, 4u << 20, &buf, &n);
    if (rc)
        return rc;
    rc = fn(t, buf, n);
    free(buf);
    return rc;
}

int cg_trust_add_anchors_file(struct cg_trust *t, const char *path)
{
    return with_file(t, path, cg_trust_add_anchors_pem);
}

static int add_untrusted_pem(struct cg_trust *t, const char *pem, size_t len)
{
    return each_pem_cert(pem, len, add_extra, t);
}

int cg_trust_add_untrusted_file(struct cg_trust *t, const char *path)
{
    return with_file(t, path, add_untrusted_pem);
}

static int keep_crl(struct cg_trust *t, X509_CRL *crl)
{
    int64_t nu = cg__asn1_time_to_epoch(X509_CRL_get0_nextUpdate(crl));
    /* OpenSSL sorts a CRL's revoked list on its first lookup, checking
     * whether it is sorted without the CRL's lock: sorted here, while one
     * thread owns it, validations only search it (settle() says why). */
    sk_X509_REVOKED_sort(X509_CRL_get_REVOKED(crl));
    if (nu && nu < t->crl_until)
        t->crl_until = nu;
    if (!sk_X509_CRL_push(t->crls, crl)) {
        X509_CRL_free(crl);
        return CG_ENOMEM;
    }
    return CG_OK;
}

static int add_crl_buf(struct cg_trust *t, const char *buf, size_t n)
{
    BIO *b = BIO_new_mem_buf(buf, (int)n);
    X509_CRL *crl;
    int rc = CG_OK, count = 0;
    if (!b)
        return CG_ENOMEM;
    if (strstr(buf, "-----BEGIN X509 CRL-----")) {
        while (rc == CG_OK && (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL))) {
            rc = keep_crl(t, crl);
            count++;
        }
    } else if ((crl = d2i_X509_CRL_bio(b, NULL))) {
        rc = keep_crl(t, crl);
        count++;
    }
    ERR_clear_error();
    BIO_free(b);
    if (rc == CG_OK && count == 0)
        rc = CG_EPARSE;
    /* A CRL file may carry its signer's certificate (the STI-PA CRL signer
     * is outside the STI-CA chains): keep it for the signature check. */
    if (rc == CG_OK && strstr(buf, "-----BEGIN CERTIFICATE-----"))
        rc = add_untrusted_pem(t, buf, n);
    if (rc == CG_OK)
        t->have_crl = true;
    return rc;
}

int cg_trust_add_crl_file(struct cg_trust *t, const char *path)
{
    return with_file(t, path, add_crl_buf);
}

/* Decides which OpenSSL complaints are not failures for SHAKEN:
 *  - an unhandled critical extension that is only TNAuthList (ATIS-1000080
 *    v003 certificates mark it critical; OpenSSL does not know the OID);
 *  - a CRL whose thisUpdate is after iat (we validate at iat, and a CRL
 *    published since still says whether the certificate was revoked);
 *  - no current CRL for an issuer, unless the trust was built fail-closed;
 *  - while OpenSSL validates the path of an indirect CRL's signer (a
 *    child context), the signer's own revocation status: nobody publishes
 *    a CRL for the STI-PA CRL signer. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    X509_STORE_CTX *parent = X509_STORE_CTX_get0_parent_ctx(ctx);
    const struct cg_trust *t = X509_STORE_CTX_get_app_data(parent ? parent : ctx);
    int err;
    if (ok)
        return ok;
    err = X509_STORE_CTX_get_error(ctx);
    if (parent && (err == X509_V_ERR_UNABLE_TO_GET_CRL || err == X509_V_ERR_DIFFERENT_CRL_SCOPE ||
                   err == X509_V_ERR_CRL_PATH_VALIDATION_ERROR ||
                   err == X509_V_ERR_CRL_HAS_EXPIRED || err == X509_V_ERR_CRL_NOT_YET_VALID))
        return 1;
    switch (err) {
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION: {
        X509 *x = X509_STORE_CTX_get_current_cert(ctx);
        int i, n = X509_get_ext_count(x), crit;
        if (!cg__tnauth_ext(x, &crit))
            return 0;
        for (i = 0; i < n; i++) {
            X509_EXTENSION *e = X509_get_ext(x, i);
            if (X509_EXTENSION_get_critical(e) && !X509_supported_extension(e)) {
                const ASN1_OCTET_STRING *tn = cg__tnauth_ext(x, &crit);
                if (X509_EXTENSION_get_data(e) != tn)
                    return 0;
            }
        }
        return 1;
    }
    case X509_V_ERR_CRL_NOT_YET_VALID:
        return 1;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED: /* a stale CRL is no CRL: fail open or closed by flag */
    case X509_V_ERR_DIFFERENT_CRL_SCOPE: {
        /* Anchors are trusted by configuration, not by CRL: CRL_CHECK_ALL
         * asks about the root too, and no CRL covers it. */
        X509 *x = X509_STORE_CTX_get_current_cert(ctx);
        if (X509_STORE_CTX_get_error_depth(ctx) ==
                sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) - 1 &&
            X509_check_issued(x, x) == X509_V_OK)
            return 1;
        return !(t->flags & CG_TRUST_CRL_REQUIRED);
    }
    default:
        return 0;
    }
}

int cg_trust_check(const struct cg_trust *t, struct cg_chain *c, int64_t at, bool *ok, int *revoked,
                   const char **why)
{
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL, *path;
    int rc = CG_ENOMEM, i, r;
    int64_t from = INT64_MIN, until = INT64_MAX;

    *ok = false;
    *revoked = 0;
    *why = NULL;

    pthread_mutex_lock(&c->lock);
    if (c->trust_id == t->id && at >= c->ok_from && at <= c->ok_until) {
        pthread_mutex_unlock(&c->lock);
        *ok = true;
        return CG_OK;
    }
    pthread_mutex_unlock(&c->lock);

    if (!(untrusted = sk_X509_dup(c->inter)))
        goto out;
    for (i = 0; i < sk_X509_num(t->extra); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(t->extra, i)))
            goto out;
    if (!(ctx = X509_STORE_CTX_new()) || !X509_STORE_CTX_init(ctx, t->store, c->leaf, untrusted))
        goto out;
    X509_STORE_CTX_set_app_data(ctx, (void *)t);
    X509_STORE_CTX_set0_crls(ctx, t->crls);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)at);
    if (t->have_crl || (t->flags & CG_TRUST_CRL_REQUIRED))
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
                                          X509_V_FLAG_EXTENDED_CRL_SUPPORT);
    r = X509_verify_cert(ctx);
    rc = CG_OK;
    if (r != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        *revoked = err == X509_V_ERR_CERT_REVOKED;
        *why = X509_verify_cert_error_string(err);
        ERR_clear_error();
        goto out;
    }
    /* The result holds while `at` stays inside every certificate's validity
     * and before the loaded CRLs expire. */
    path = X509_STORE_CTX_get0_chain(ctx);
    for (i = 0; i < sk_X509_num(path); i++) {
        X509 *x = sk_X509_value(path, i);
        int64_t nb = cg__asn1_time_to_epoch(X509_get0_notBefore(x));
        int64_t na = cg__asn1_time_to_epoch(X509_get0_notAfter(x));
        if (nb > from)
            from = nb;
        if (na < until)
            until = na;
    }
    if (t->have_crl && t->crl_until < until)
        until = t->crl_until;
    *ok = true;
    pthread_mutex_lock(&c->lock);
    c->trust_id = t->id;
    c->ok_from = from;
    c->ok_until = until;
    pthread_mutex_unlock(&c->lock);
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    return rc;
}
