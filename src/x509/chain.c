/*
 * Certificate bundles as served at an x5u URL: a leaf and intermediates in
 * any order.  Everything expensive (PEM parsing, public-key extraction,
 * TNAuthList walk, profile lints) happens once here; the verifier only
 * reads the result.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/internal.h"
#include "crypto/es256.h"
#include "x509/x509.h"

static const char *const warning_names[] = {
#define CG_W_NAME(name, str, text) str,
    CG_WARNING_MAP(CG_W_NAME)
#undef CG_W_NAME
};
static const char *const warning_texts[] = {
#define CG_W_TEXT(name, str, text) text,
    CG_WARNING_MAP(CG_W_TEXT)
#undef CG_W_TEXT
};

const char *cg_warning_name(enum cg_warning w)
{
    return (unsigned)w < CG_W__COUNT ? warning_names[w] : "unknown";
}

const char *cg_warning_text(enum cg_warning w)
{
    return (unsigned)w < CG_W__COUNT ? warning_texts[w] : "unknown";
}

int64_t cg__asn1_time_to_epoch(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static void name_line(const X509_NAME *n, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long len;
    out[0] = '\0';
    if (!b)
        return;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 && (len = BIO_get_mem_data(b, &p)) > 0)
        snprintf(out, cap, "%.*s", (int)len, p);
    BIO_free(b);
}

static bool spc_format_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

static bool has_shaken_policy(X509 *x)
{
    CERTIFICATEPOLICIES *cp = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
    bool found = false;
    int i;
    for (i = 0; cp && i < sk_POLICYINFO_num(cp); i++) {
        char oid[80];
        OBJ_obj2txt(oid, sizeof oid, sk_POLICYINFO_value(cp, i)->policyid, 1);
        if (strncmp(oid, "2.16.840.1.114569.1.1.", 22) == 0)
            found = true;
    }
    CERTIFICATEPOLICIES_free(cp);
    return found;
}

/* ATIS-1000080 profile lints on the leaf.  Only key type, KeyUsage
 * digitalSignature and TNAuthList presence decide anything (the verifier
 * fails calls on those); the rest are recorded as warnings because the
 * deployed PKI widely violates them (docs/standards.md#certificate-profile). */
static void lint_leaf(struct cg_chain *c)
{
    X509 *x = c->leaf;
    struct cg_cert_info *in = &c->info;
    uint32_t w = 0, ku = X509_get_key_usage(x);
    int idx;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    CRL_DIST_POINTS *cdp;
    char cn[128] = "", want[CG_SPC_MAX + 8];

    in->ku_digital_signature = ku != UINT32_MAX && (ku & KU_DIGITAL_SIGNATURE);
    if (ku != UINT32_MAX && (ku & ~(uint32_t)KU_DIGITAL_SIGNATURE))
        w |= 1u << CG_W_EE_KU_EXTRA;
    idx = X509_get_ext_by_NID(x, NID_key_usage, -1);
    if (idx >= 0 && !X509_EXTENSION_get_critical(X509_get_ext(x, idx)))
        w |= 1u << CG_W_EE_KU_NOT_CRITICAL;
    idx = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
    if (idx < 0 || !X509_EXTENSION_get_critical(X509_get_ext(x, idx)))
        w |= 1u << CG_W_BC_NOT_CRITICAL;
    if (!has_shaken_policy(x))
        w |= 1u << CG_W_NO_CP;
    cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    if (!cdp || sk_DIST_POINT_num(cdp) == 0) {
        w |= 1u << CG_W_NO_CDP;
    } else {
        for (int i = 0; i < sk_DIST_POINT_num(cdp); i++)
            if (!sk_DIST_POINT_value(cdp, i)->CRLissuer)
                w |= 1u << CG_W_NO_CRL_ISSUER;
    }
    CRL_DIST_POINTS_free(cdp);
    if (!X509_get0_subject_key_id(x))
        w |= 1u << CG_W_NO_SKI;
    if (!X509_get0_authority_key_id(x))
        w |= 1u << CG_W_NO_AKI;
    if (!bn || BN_num_bits(bn) < 64)
        w |= 1u << CG_W_SERIAL_SHORT;
    if (X509_get_signature_nid(x) != NID_ecdsa_with_SHA256)
        w |= 1u << CG_W_SIG_ALG;
    if (X509_get_version(x) != 2)
        w |= 1u << CG_W_NOT_V3;
    if (in->has_tnauth) {
        if (in->tnauth.n != 1 || in->tnauth.e[0].kind != CG_TNAUTH_SPC)
            w |= 1u << CG_W_TNAUTH_NOT_SPC;
        if (in->spc[0] && !spc_format_ok(in->spc))
            w |= 1u << CG_W_SPC_FORMAT;
    }
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    snprintf(want, sizeof want, "SHAKEN %s", in->spc);
    if (!in->spc[0] || strcmp(cn, want) != 0)
        w |= 1u << CG_W_EE_CN_FORMAT;
    if (bn) {
        char *hex = BN_bn2hex(bn);
        if (hex) {
            cg__strlcpy(in->serial, hex, sizeof in->serial);
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    in->warnings |= w;
}

#define BAD(text)                                                                                  \
    do {                                                                                           \
        *why = (text);                                                                             \
        rc = CG_ECERT;                                                                             \
        goto out;                                                                                  \
    } while (0)

int cg_chain_load_pem(struct cg_chain **out, const char *pem, size_t len, const char **why)
{
    static const char *dummy;
    struct cg_chain *c = NULL;
    X509 *certs[CG_BUNDLE_CERTS + 1];
    size_t n = 0, i, leaf = SIZE_MAX;
    BIO *b = NULL;
    int rc = CG_ENOMEM, crit = 0;
    const ASN1_OCTET_STRING *tn;
    EVP_PKEY *pk;

    if (!why)
        why = &dummy;
    *why = NULL;
    if (len > CG_BUNDLE_MAX) {
        *why = "certificate bundle larger than 64 KB";
        return CG_ETOOBIG;
    }
    if (!(b = BIO_new_mem_buf(pem, (int)len)))
        return CG_ENOMEM;
    while (n <= CG_BUNDLE_CERTS) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x)
            break;
        certs[n++] = x;
    }
    ERR_clear_error();
    if (n == 0)
        BAD("no PEM certificate in the bundle");
    if (n > CG_BUNDLE_CERTS) {
        *why = "more than 8 certificates in the bundle";
        rc = CG_ETOOBIG;
        goto out;
    }
    /* The leaf is the certificate that is not a CA; among several, the one
     * carrying a TNAuthList.  Bundles are not always leaf-first, and some
     * test PKIs mark their SP certificate as a CA: then the one with a
     * TNAuthList, or the only certificate.  X509_check_ca also settles
     * each certificate's extension cache before the chain is shared
     * between threads (trust.c says why that matters). */
    for (i = 0; i < n; i++) {
        if (X509_check_ca(certs[i]) != 0)
            continue;
        if (leaf == SIZE_MAX ||
            (cg__tnauth_ext(certs[i], &crit) && !cg__tnauth_ext(certs[leaf], &crit)))
            leaf = i;
    }
    for (i = 0; leaf == SIZE_MAX && i < n; i++)
        if (cg__tnauth_ext(certs[i], &crit))
            leaf = i;
    if (leaf == SIZE_MAX && n == 1)
        leaf = 0;
    if (leaf == SIZE_MAX)
        BAD("bundle holds no end-entity certificate");

    if (!(c = calloc(1, sizeof *c)))
        goto out;
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->lock, NULL);
    c->leaf = certs[leaf];
    certs[leaf] = NULL;
    if (!(c->inter = sk_X509_new_null()))
        goto out;
    for (i = 0; i < n; i++) {
        if (i == leaf)
            continue;
        if (!sk_X509_push(c->inter, certs[i]))
            goto out;
        certs[i] = NULL;
    }
    n = 0;

    /* A leaf whose key is not P-256 loads (so that the verifier can say
     * 437 Unsupported Credential rather than "no certificate"), without a
     * usable key. */
    pk = X509_get_pubkey(c->leaf);
    c->info.key_ok = cg__pkey_is_p256(pk);
    if (c->info.key_ok) {
        if ((rc = cg__key_wrap(&c->key, pk, false)) != CG_OK) {
            EVP_PKEY_free(pk);
            goto out;
        }
        rc = CG_ENOMEM;
    } else {
        EVP_PKEY_free(pk);
    }

    c->info.ncerts = (size_t)sk_X509_num(c->inter) + 1;
    if (leaf != 0)
        c->info.warnings |= 1u << CG_W_BUNDLE_ORDER;
    name_line(X509_get_subject_name(c->leaf), c->info.subject, sizeof c->info.subject);
    name_line(X509_get_issuer_name(c->leaf), c->info.issuer, sizeof c->info.issuer);
    c->info.not_before = cg__asn1_time_to_epoch(X509_get0_notBefore(c->leaf));
    c->info.not_after = cg__asn1_time_to_epoch(X509_get0_notAfter(c->leaf));

    if ((tn = cg__tnauth_ext(c->leaf, &crit))) {
        /* A malformed list (old drafts put a URL there) loads, but counts as
         * no TNAuthList: the verifier then fails the call on the profile. */
        if (cg_tnauth_parse_der(ASN1_STRING_get0_data(tn), (size_t)ASN1_STRING_length(tn),
                                &c->info.tnauth) == CG_OK)
            c->info.has_tnauth = true;
        else
            c->info.warnings |= 1u << CG_W_TNAUTH_MALFORMED;
        if (crit)
            c->info.warnings |= 1u << CG_W_TNAUTH_CRITICAL;
        for (i = 0; i < c->info.tnauth.n; i++)
            if (c->info.tnauth.e[i].kind == CG_TNAUTH_SPC) {
                cg__strlcpy(c->info.spc, c->info.tnauth.e[i].value, sizeof c->info.spc);
                break;
            }
    }
    lint_leaf(c);
    *out = c;
    c = NULL;
    rc = CG_OK;
out:
    for (i = 0; i < n; i++)
        X509_free(certs[i]);
    BIO_free(b);
    cg_chain_unref(c);
    return rc;
}

int cg_chain_load_file(struct cg_chain **out, const char *path, const char **why)
{
    char *buf;
    size_t n;
    int rc = cg__read_file(path, CG_BUNDLE_MAX, &buf, &n);
    if (rc) {
        if (why)
            *why = rc == CG_ETOOBIG ? "certificate file larger than 64 KB"
                                    : "cannot read the certificate file";
        return rc;
    }
    rc = cg_chain_load_pem(out, buf, n, why);
    free(buf);
    return rc;
}

struct cg_chain *cg_chain_ref(struct cg_chain *c)
{
    atomic_fetch_add(&c->refs, 1);
    return c;
}

void cg_chain_unref(struct cg_chain *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    X509_free(c->leaf);
    sk_X509_pop_free(c->inter, X509_free);
    cg_key_free(c->key);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const struct cg_cert_info *cg_chain_info(const struct cg_chain *c)
{
    return &c->info;
}

const struct cg_key *cg_chain_key(const struct cg_chain *c)
{
    return c->key;
}
