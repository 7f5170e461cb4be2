/*
 * TNAuthList (RFC 8226 section 9) by hand-walking the DER.  OpenSSL has no
 * NID for id-pe-TNAuthList; registering one with OBJ_create() mutates global
 * tables, which is not safe once threads run.  The structure is small, so a
 * bounded walk is simpler and safe everywhere.
 *
 *   TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
 *   TNEntry ::= CHOICE { spc [0] IA5String, range [1] SEQUENCE {start, count},
 *                        one [2] IA5String }          -- EXPLICIT tags
 *
 * Implicitly tagged encodings seen from some CAs are accepted too.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "core/internal.h"
#include "x509/x509.h"

/* The DER of OID 1.3.6.1.5.5.7.1.26 without tag and length. */
static const unsigned char tnauth_oid[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1a};

struct der {
    const unsigned char *p, *end;
};

/* Reads one TLV header; the value is [*val, *val + *len).  Definite
 * lengths of at most 3 bytes only. */
static int tlv(struct der *d, unsigned char *tag, const unsigned char **val, size_t *len)
{
    size_t n;
    if (d->end - d->p < 2)
        return -1;
    *tag = *d->p++;
    n = *d->p++;
    if (n & 0x80) {
        size_t k = n & 0x7f, i;
        if (k == 0 || k > 3 || (size_t)(d->end - d->p) < k)
            return -1;
        for (n = 0, i = 0; i < k; i++)
            n = n << 8 | *d->p++;
    }
    if ((size_t)(d->end - d->p) < n)
        return -1;
    *val = d->p;
    *len = n;
    d->p += n;
    return 0;
}

static int ia5_tn(const unsigned char *v, size_t n, char *out, size_t cap, bool tn)
{
    size_t i;
    if (n == 0 || n >= cap)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = v[i];
        if (tn ? !((c >= '0' && c <= '9') || c == '#' || c == '*') : (c < 0x21 || c > 0x7e))
            return -1;
        out[i] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

int cg_tnauth_parse_der(const unsigned char *der, size_t len, struct cg_tnauth *out)
{
    struct der d = {der, der + len}, seq;
    unsigned char tag;
    const unsigned char *v;
    size_t n;

    memset(out, 0, sizeof *out);
    if (tlv(&d, &tag, &v, &n) || tag != 0x30 || d.p != d.end)
        return CG_EPARSE;
    seq.p = v;
    seq.end = v + n;
    while (seq.p < seq.end) {
        struct cg_tnauth_entry *e;
        struct der in;
        unsigned char it;
        const unsigned char *iv;
        size_t inl;

        if (out->n >= CG_TNAUTH_ENTRIES)
            return CG_ETOOBIG;
        e = &out->e[out->n];
        if (tlv(&seq, &tag, &v, &n))
            return CG_EPARSE;
        in.p = v;
        in.end = v + n;
        switch (tag) {
        case 0xa0: /* spc, explicit */
        case 0xa2: /* one, explicit */
            if (tlv(&in, &it, &iv, &inl) || it != 0x16 || in.p != in.end)
                return CG_EPARSE;
            if (ia5_tn(iv, inl, e->value, tag == 0xa0 ? CG_SPC_MAX + 1 : CG_TN_MAX + 1,
                       tag == 0xa2))
                return CG_EPARSE;
            e->kind = tag == 0xa0 ? CG_TNAUTH_SPC : CG_TNAUTH_ONE;
            break;
        case 0x80: /* spc, implicit */
        case 0x82: /* one, implicit */
            if (ia5_tn(v, n, e->value, tag == 0x80 ? CG_SPC_MAX + 1 : CG_TN_MAX + 1, tag == 0x82))
                return CG_EPARSE;
            e->kind = tag == 0x80 ? CG_TNAUTH_SPC : CG_TNAUTH_ONE;
            break;
        case 0xa1: { /* range: explicit SEQUENCE, or implicit (fields directly) */
            struct der r = in;
            const unsigned char *cv;
            size_t cn, i;
            if (in.p < in.end && *in.p == 0x30) {
                if (tlv(&in, &it, &iv, &inl) || in.p != in.end)
                    return CG_EPARSE;
                r.p = iv;
                r.end = iv + inl;
            }
            if (tlv(&r, &it, &iv, &inl) || it != 0x16 ||
                ia5_tn(iv, inl, e->value, CG_TN_MAX + 1, true))
                return CG_EPARSE;
            if (tlv(&r, &it, &cv, &cn) || it != 0x02 || cn == 0 || cn > 8 || (cv[0] & 0x80))
                return CG_EPARSE;
            for (e->count = 0, i = 0; i < cn; i++)
                e->count = e->count << 8 | cv[i];
            if (e->count < 2)
                return CG_EPARSE;
            e->kind = CG_TNAUTH_RANGE;
            break;
        }
        default:
            return CG_EPARSE;
        }
        out->n++;
    }
    return out->n ? CG_OK : CG_EPARSE;
}

int cg_tnauth_encode_spc(const char *spc, unsigned char *out, size_t outlen, size_t *written)
{
    size_t n = strlen(spc);
    if (n == 0 || n > CG_SPC_MAX || outlen < n + 6)
        return CG_EINVAL;
    out[0] = 0x30;
    out[1] = (unsigned char)(n + 4);
    out[2] = 0xa0;
    out[3] = (unsigned char)(n + 2);
    out[4] = 0x16;
    out[5] = (unsigned char)n;
    memcpy(out + 6, spc, n);
    *written = n + 6;
    return CG_OK;
}

/* Compares equal-length digit strings numerically by comparing bytes. */
bool cg_tnauth_covers(const struct cg_tnauth *a, const char *tn)
{
    size_t i, tl = strlen(tn);
    for (i = 0; i < a->n; i++) {
        const struct cg_tnauth_entry *e = &a->e[i];
        if (e->kind == CG_TNAUTH_ONE && strcmp(e->value, tn) == 0)
            return true;
        if (e->kind == CG_TNAUTH_RANGE && strlen(e->value) == tl && tl <= 19 &&
            strspn(tn, "0123456789") == tl && strspn(e->value, "0123456789") == tl) {
            unsigned long long start = strtoull(e->value, NULL, 10), t = strtoull(tn, NULL, 10);
            if (t >= start && t - start < e->count)
                return true;
        }
    }
    return false;
}

const ASN1_OCTET_STRING *cg__tnauth_ext(X509 *x, int *critical)
{
    int i, n = X509_get_ext_count(x);
    for (i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        const ASN1_OBJECT *o = X509_EXTENSION_get_object(ext);
        if ((size_t)OBJ_length(o) == sizeof tnauth_oid &&
            memcmp(OBJ_get0_data(o), tnauth_oid, sizeof tnauth_oid) == 0) {
            *critical = X509_EXTENSION_get_critical(ext);
            return X509_EXTENSION_get_data(ext);
        }
    }
    return NULL;
}
