/*
 * ES256 (RFC 7518 section 3.4) on OpenSSL 3.
 *
 * JWS carries the signature as 64 raw bytes R||S; OpenSSL speaks DER
 * ECDSA-Sig-Value.  The conversion goes through ECDSA_SIG so that OpenSSL
 * owns the DER rules (minimal integers, sign bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/internal.h"
#include "crypto/es256.h"

struct cg_key {
    EVP_PKEY *pkey;
    bool priv;
};

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
    *out = k;
    return CG_OK;
}

EVP_PKEY *cg__key_pkey(const struct cg_key *k)
{
    return k->pkey;
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
    if (strstr(pem, "PRIVATE KEY")) {
        pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        priv = true;
    } else if (strstr(pem, "BEGIN CERTIFICATE")) {
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
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f)
        return CG_EIO;
    if (!(buf = malloc(max + 1))) {
        fclose(f);
        return CG_ENOMEM;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return CG_EIO;
    }
    fclose(f);
    if (n > max) {
        free(buf);
        return CG_ETOOBIG;
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

int cg_es256_sign(const struct cg_key *k, const void *data, size_t len, unsigned char sig[64])
{
    EVP_MD_CTX *ctx;
    unsigned char der[80];
    const unsigned char *dp = der;
    size_t derlen = sizeof der;
    ECDSA_SIG *es = NULL;
    int rc = CG_ECRYPTO;

    if (!k->priv)
        return CG_EKEY;
    if (!(ctx = EVP_MD_CTX_new()))
        return CG_ENOMEM;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, der, &derlen, data, len) != 1)
        goto out;
    if (!(es = d2i_ECDSA_SIG(NULL, &dp, (long)derlen)))
        goto out;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
        goto out;
    rc = CG_OK;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int cg_es256_verify(const struct cg_key *k, const void *data, size_t len,
                    const unsigned char sig[64], bool *valid)
{
    EVP_MD_CTX *ctx = NULL;
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    unsigned char der[80], *dp = der;
    int derlen, v, rc = CG_ECRYPTO;

    *valid = false;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return CG_ENOMEM;
    }
    derlen = i2d_ECDSA_SIG(es, &dp);
    ECDSA_SIG_free(es);
    if (derlen <= 0)
        return CG_ECRYPTO;
    if (!(ctx = EVP_MD_CTX_new()))
        return CG_ENOMEM;
    if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1)
        goto out;
    v = EVP_DigestVerify(ctx, der, (size_t)derlen, data, len);
    /* 0 is "does not verify"; negative is malformed, also a bad signature
     * (r or s out of range), not a library failure. */
    *valid = v == 1;
    rc = CG_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}
