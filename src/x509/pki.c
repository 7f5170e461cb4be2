/*
 * A test STI PKI for labs, tests and the daemon's zero-configuration start:
 * STI-CA root, intermediate, one SP certificate per SPC with a TNAuthList,
 * shaped after the ATIS-1000080 profile so that the verifier's lints are
 * quiet on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cidguard/cert.h"
#include "core/internal.h"

#define SHAKEN_CP_OID "2.16.840.1.114569.1.1.3"

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return 0;
}

/* CRLDistributionPoints with a cRLIssuer, as ATIS-1000080 asks: the
 * OpenSSL config syntax for this needs a CONF database, so build it. */
static int add_cdp(X509 *cert, const char *url, const X509_NAME *crl_issuer)
{
    CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();
    GENERAL_NAME *uri = GENERAL_NAME_new(), *dir = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    int rc = -1;

    if (!cdp || !dp || !uri || !dir || !ia5)
        goto out;
    if (!ASN1_STRING_set(ia5, url, (int)strlen(url)))
        goto out;
    GENERAL_NAME_set0_value(uri, GEN_URI, ia5);
    ia5 = NULL;
    if (!(dp->distpoint = DIST_POINT_NAME_new()))
        goto out;
    dp->distpoint->type = 0;
    if (!(dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) ||
        !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, uri))
        goto out;
    uri = NULL;
    GENERAL_NAME_set0_value(dir, GEN_DIRNAME, X509_NAME_dup(crl_issuer));
    if (!(dp->CRLissuer = sk_GENERAL_NAME_new_null()) || !sk_GENERAL_NAME_push(dp->CRLissuer, dir))
        goto out;
    dir = NULL;
    if (!sk_DIST_POINT_push(cdp, dp))
        goto out;
    dp = NULL;
    rc = X509_add1_ext_i2d(cert, NID_crl_distribution_points, cdp, 0, 0) == 1 ? 0 : -1;
out:
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(uri);
    GENERAL_NAME_free(dir);
    DIST_POINT_free(dp);
    CRL_DIST_POINTS_free(cdp);
    return rc;
}

static int add_policy(X509 *cert, const char *oid)
{
    CERTIFICATEPOLICIES *cp = sk_POLICYINFO_new_null();
    POLICYINFO *pi = POLICYINFO_new();
    int rc = -1;
    if (!cp || !pi)
        goto out;
    ASN1_OBJECT_free(pi->policyid);
    if (!(pi->policyid = OBJ_txt2obj(oid, 1)) || !sk_POLICYINFO_push(cp, pi))
        goto out;
    pi = NULL;
    rc = X509_add1_ext_i2d(cert, NID_certificate_policies, cp, 0, 0) == 1 ? 0 : -1;
out:
    POLICYINFO_free(pi);
    CERTIFICATEPOLICIES_free(cp);
    return rc;
}

static int add_tnauth(X509 *cert, const char *spc)
{
    unsigned char der[CG_SPC_MAX + 8];
    size_t n;
    ASN1_OBJECT *obj = NULL;
    ASN1_OCTET_STRING *os = NULL;
    X509_EXTENSION *ext = NULL;
    int rc = -1;
    if (cg_tnauth_encode_spc(spc, der, sizeof der, &n) != CG_OK)
        return -1;
    /* no_name=1: a private ASN1_OBJECT, nothing is registered globally. */
    if (!(obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.26", 1)) || !(os = ASN1_OCTET_STRING_new()) ||
        !ASN1_OCTET_STRING_set(os, der, (int)n) ||
        !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) || !X509_add_ext(cert, ext, -1))
        goto out;
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return rc;
}

static X509_NAME *make_name(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (!n)
        return NULL;
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"cidguard test PKI", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    return n;
}

enum role { ROOT, INTER, LEAF, CRLSIGNER };

static X509 *make_cert(enum role role, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *cn, int days, const char *spc, const char *crl_url,
                       const X509_NAME *crl_issuer)
{
    X509 *x = X509_new();
    X509_NAME *name = make_name(cn);
    unsigned char rnd[16];
    BIGNUM *bn = NULL;
    bool ok = false;

    if (!x || !name)
        goto out;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        goto out;
    rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x40); /* positive, full 127 bits */
    if (!(bn = BN_bin2bn(rnd, sizeof rnd, NULL)) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto out;
    X509_set_version(x, 2);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL);
    X509_set_pubkey(x, key);
    if (add_ext(x, issuer ? issuer : x, NID_basic_constraints,
                role == ROOT || role == INTER ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
        add_ext(x, issuer ? issuer : x, NID_key_usage,
                role == LEAF        ? "critical,digitalSignature"
                : role == CRLSIGNER ? "critical,cRLSign"
                                    : "critical,keyCertSign,cRLSign") ||
        add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash"))
        goto out;
    if (role != ROOT && add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
        goto out;
    if ((role == INTER || role == LEAF) &&
        (add_policy(x, SHAKEN_CP_OID) || add_cdp(x, crl_url, crl_issuer)))
        goto out;
    if (role == LEAF && add_tnauth(x, spc))
        goto out;
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        goto out;
    ok = true;
out:
    BN_free(bn);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* An indirect CRL (RFC 5280 section 5.2.5) like the STI-PA's: signed by a
 * dedicated CRL signer, IssuingDistributionPoint indirectCRL=TRUE, and each
 * entry naming its certificate's issuer.  `prev` entries are carried over;
 * `add` (issuer name, serial) is appended when not NULL. */
static X509_CRL *make_crl(X509 *signer, EVP_PKEY *key, const X509_CRL *prev,
                          const X509_NAME *add_issuer, const ASN1_INTEGER *add_serial)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
    X509_REVOKED *r = NULL;
    GENERAL_NAMES *gns = NULL;
    GENERAL_NAME *gn = NULL;
    bool ok = false;
    int i;

    if (!crl || !t || !idp)
        goto out;
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(signer));
    X509_gmtime_adj(t, -60);
    X509_CRL_set1_lastUpdate(crl, t);
    X509_time_adj_ex(t, 30, 0, NULL);
    X509_CRL_set1_nextUpdate(crl, t);
    idp->indirectCRL = 1;
    if (X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0) != 1)
        goto out;
    for (i = 0; prev && i < sk_X509_REVOKED_num(X509_CRL_get_REVOKED((X509_CRL *)prev)); i++) {
        X509_REVOKED *d =
            X509_REVOKED_dup(sk_X509_REVOKED_value(X509_CRL_get_REVOKED((X509_CRL *)prev), i));
        if (!d || !X509_CRL_add0_revoked(crl, d)) {
            X509_REVOKED_free(d);
            goto out;
        }
    }
    if (add_serial) {
        if (!(r = X509_REVOKED_new()) ||
            !X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)add_serial))
            goto out;
        X509_gmtime_adj(t, 0);
        X509_REVOKED_set_revocationDate(r, t);
        if (!(gns = sk_GENERAL_NAME_new_null()) || !(gn = GENERAL_NAME_new()))
            goto out;
        GENERAL_NAME_set0_value(gn, GEN_DIRNAME, X509_NAME_dup(add_issuer));
        if (!sk_GENERAL_NAME_push(gns, gn))
            goto out;
        gn = NULL;
        if (X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, gns, 1, 0) != 1 ||
            !X509_CRL_add0_revoked(crl, r))
            goto out;
        r = NULL;
    }
    X509_CRL_sort(crl);
    if (!X509_CRL_sign(crl, key, EVP_sha256()))
        goto out;
    ok = true;
out:
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gns);
    X509_REVOKED_free(r);
    ISSUING_DIST_POINT_free(idp);
    ASN1_TIME_free(t);
    if (!ok) {
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

/* Opens DIR/NAME for writing with `mode`, truncating. */
static BIO *open_out(const char *dir, const char *name, mode_t mode)
{
    char path[4096];
    int fd;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return NULL;
    fchmod(fd, mode);
    if (!(f = fdopen(fd, "w"))) {
        close(fd);
        return NULL;
    }
    return BIO_new_fp(f, BIO_CLOSE);
}

static int write_key(const char *dir, const char *name, EVP_PKEY *k)
{
    BIO *b = open_out(dir, name, 0600);
    int ok = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    BIO_free(b);
    return ok ? 0 : -1;
}

static int write_certs(const char *dir, const char *name, X509 *a, X509 *b2)
{
    BIO *b = open_out(dir, name, 0644);
    int ok = b && PEM_write_bio_X509(b, a) && (!b2 || PEM_write_bio_X509(b, b2));
    BIO_free(b);
    return ok ? 0 : -1;
}

/* crl.pem holds the CRL followed by its signer's certificate, so that a
 * verifier loading the file has what it needs to check the signature. */
static int write_crl(const char *dir, X509_CRL *crl, X509 *signer)
{
    BIO *b = open_out(dir, "crl.pem", 0644);
    int ok = b && PEM_write_bio_X509_CRL(b, crl) && PEM_write_bio_X509(b, signer);
    BIO_free(b);
    return ok ? 0 : -1;
}

static void *read_pem(const char *dir, const char *name, int kind)
{
    char path[4096];
    FILE *f;
    void *v = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "r")))
        return NULL;
    if (kind == 0)
        v = PEM_read_X509(f, NULL, NULL, NULL);
    else if (kind == 1)
        v = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    else
        v = PEM_read_X509_CRL(f, NULL, NULL, NULL);
    fclose(f);
    return v;
}

#define FAIL(text)                                                                                 \
    do {                                                                                           \
        *why = (text);                                                                             \
        goto out;                                                                                  \
    } while (0)

int cg_pki_init(const struct cg_pki_opts *o, const char **why)
{
    static const char *dummy;
    EVP_PKEY *rk = NULL, *ik = NULL, *ck = NULL, *lk = NULL;
    X509 *root = NULL, *inter = NULL, *signer = NULL, *leaf = NULL;
    X509_CRL *crl = NULL;
    const char *crl_url = o->crl_url ? o->crl_url : "http://127.0.0.1:8085/certs/crl.pem";
    int days = o->days > 0 ? o->days : 365, rc = CG_ECRYPTO;
    size_t i;
    char name[64], cn[64];

    if (!why)
        why = &dummy;
    *why = NULL;
    if (!o->dir || o->nspcs == 0) {
        *why = "a directory and at least one SPC are needed";
        return CG_EINVAL;
    }
    for (i = 0; i < o->nspcs; i++) {
        const char *s = o->spcs[i];
        if (!*s || strlen(s) > CG_SPC_MAX ||
            strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s)) {
            *why = "an SPC is 1-32 digits and uppercase letters";
            return CG_EINVAL;
        }
    }
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) {
        *why = "cannot create the PKI directory";
        return CG_EIO;
    }
    if (!(rk = EVP_EC_gen("P-256")) || !(ik = EVP_EC_gen("P-256")) || !(ck = EVP_EC_gen("P-256")))
        FAIL("key generation failed");
    if (!(root = make_cert(ROOT, rk, NULL, NULL, "cidguard test SHAKEN ROOT", days * 10, NULL, NULL,
                           NULL)))
        FAIL("building the root certificate failed");
    /* The CRL signer stands in for the STI-PA's: outside the STI-CA chain,
     * issued by the root, named in every cRLIssuer. */
    if (!(signer = make_cert(CRLSIGNER, ck, root, rk, "cidguard test STI-PA CRL", days * 5, NULL,
                             NULL, NULL)))
        FAIL("building the CRL signer certificate failed");
    if (!(inter = make_cert(INTER, ik, root, rk, "cidguard test SHAKEN CA", days * 5, NULL, crl_url,
                            X509_get_subject_name(signer))))
        FAIL("building the intermediate certificate failed");
    if (!(crl = make_crl(signer, ck, NULL, NULL, NULL)))
        FAIL("building the CRL failed");
    rc = CG_EIO;
    if (write_key(o->dir, "root.key", rk) || write_certs(o->dir, "root.pem", root, NULL) ||
        write_key(o->dir, "ca.key", ik) || write_certs(o->dir, "ca.pem", inter, NULL) ||
        write_key(o->dir, "crl-signer.key", ck) ||
        write_certs(o->dir, "crl-signer.pem", signer, NULL) || write_crl(o->dir, crl, signer))
        FAIL("cannot write the CA files");

    for (i = 0; i < o->nspcs; i++) {
        rc = CG_ECRYPTO;
        EVP_PKEY_free(lk);
        X509_free(leaf);
        leaf = NULL;
        if (!(lk = EVP_EC_gen("P-256")))
            FAIL("key generation failed");
        snprintf(cn, sizeof cn, "SHAKEN %s", o->spcs[i]);
        if (!(leaf = make_cert(LEAF, lk, inter, ik, cn, days, o->spcs[i], crl_url,
                               X509_get_subject_name(signer))))
            FAIL("building an SP certificate failed");
        rc = CG_EIO;
        snprintf(name, sizeof name, "sp-%s.key", o->spcs[i]);
        if (write_key(o->dir, name, lk))
            FAIL("cannot write an SP key");
        snprintf(name, sizeof name, "sp-%s.pem", o->spcs[i]);
        if (write_certs(o->dir, name, leaf, inter))
            FAIL("cannot write an SP certificate");
        snprintf(name, sizeof name, "sp-%s-leaf.pem", o->spcs[i]);
        if (write_certs(o->dir, name, leaf, NULL))
            FAIL("cannot write an SP certificate");
    }
    rc = CG_OK;
out:
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(lk);
    X509_free(root);
    X509_free(inter);
    X509_free(signer);
    X509_free(leaf);
    X509_CRL_free(crl);
    return rc;
}

int cg_pki_revoke(const char *dir, const char *cert_path, const char **why)
{
    static const char *dummy;
    X509 *signer = NULL, *victim = NULL;
    EVP_PKEY *key = NULL;
    X509_CRL *old = NULL, *crl = NULL;
    FILE *f;
    int rc = CG_EIO;

    if (!why)
        why = &dummy;
    *why = NULL;
    if (!(signer = read_pem(dir, "crl-signer.pem", 0)) ||
        !(key = read_pem(dir, "crl-signer.key", 1)) || !(old = read_pem(dir, "crl.pem", 2)))
        FAIL("the directory holds no test PKI (crl-signer.pem, crl-signer.key, crl.pem)");
    if (!(f = fopen(cert_path, "r")))
        FAIL("cannot read the certificate to revoke");
    victim = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!victim)
        FAIL("no PEM certificate in that file");
    rc = CG_ECRYPTO;
    if (!(crl = make_crl(signer, key, old, X509_get_issuer_name(victim),
                         X509_get0_serialNumber(victim))))
        FAIL("building the CRL failed");
    rc = CG_EIO;
    if (write_crl(dir, crl, signer))
        FAIL("cannot write crl.pem");
    rc = CG_OK;
out:
    ERR_clear_error();
    X509_free(signer);
    X509_free(victim);
    EVP_PKEY_free(key);
    X509_CRL_free(old);
    X509_CRL_free(crl);
    return rc;
}
