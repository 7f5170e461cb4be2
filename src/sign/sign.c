/*
 * The STI-AS: canonical PASSporT, ES256, Identity header.  The signing input
 * is built once into one buffer: b64(hdr) '.' b64(payload), then '.' b64(sig)
 * is appended in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidguard/error.h"
#include "cidguard/identity.h"
#include "cidguard/sign.h"
#include "core/internal.h"

struct cg_signer {
    const struct cg_key *key;
    char x5u[CG_URL_MAX + 1];
};

int cg_signer_new(struct cg_signer **out, const struct cg_key *key, const char *x5u)
{
    struct cg_signer *s;
    if (!key || !x5u || !cg_key_is_private(key))
        return CG_EINVAL;
    if ((strncmp(x5u, "https://", 8) != 0 && strncmp(x5u, "http://", 7) != 0) ||
        strlen(x5u) > CG_URL_MAX || strpbrk(x5u, " <>;\"\r\n"))
        return CG_EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return CG_ENOMEM;
    s->key = key;
    cg__strlcpy(s->x5u, x5u, sizeof s->x5u);
    *out = s;
    return CG_OK;
}

void cg_signer_free(struct cg_signer *s)
{
    free(s);
}

int cg_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t i, o = 0;
    if (cg__random(b, sizeof b) != CG_OK)
        return CG_ECRYPTO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return CG_OK;
}

#define BAD(text)                                                                                  \
    do {                                                                                           \
        *why = (text);                                                                             \
        return CG_EINVAL;                                                                          \
    } while (0)

int cg_sign(const struct cg_signer *s, const struct cg_sign_request *req, char **identity,
            const char **why)
{
    static const char *dummy;
    struct cg_passport p;
    char hj[CG_URL_MAX * 2 + 128], pj[CG_PASSPORT_JSON_MAX + 1], *buf = NULL;
    const char *ppt;
    size_t hl, pl, cap, n, w, i, tail;
    unsigned char sig[64];
    int rc;

    if (!why)
        why = &dummy;
    *why = NULL;
    *identity = NULL;
    /* Only the fields the encoder reads are set: the rest stay untouched,
     * which saves clearing 5 KB of dest arrays per call. */
    p.ppt = req->ppt == CG_PPT_NONE ? CG_PPT_SHAKEN : req->ppt;
    p.ndest_uri = 0;
    p.orig_uri[0] = '\0';
    p.attest = 0;
    p.origid[0] = '\0';
    memset(&p.rcd, 0, sizeof p.rcd);
    cg__strlcpy(p.x5u, s->x5u, sizeof p.x5u);
    if (!req->orig || cg_tn_canon(req->orig, strlen(req->orig), req->plan, p.orig_tn) != CG_OK)
        BAD("orig is not a telephone number");
    if (req->ndest == 0 || req->ndest > CG_PASSPORT_DEST_MAX)
        BAD("between 1 and 16 dest numbers are needed");
    for (i = 0; i < req->ndest; i++)
        if (!req->dest[i] ||
            cg_tn_canon(req->dest[i], strlen(req->dest[i]), req->plan, p.dest_tn[i]) != CG_OK)
            BAD("a dest is not a telephone number");
    p.ndest_tn = req->ndest;
    p.iat = req->iat ? req->iat : (int64_t)time(NULL);
    if (p.ppt == CG_PPT_DIV) {
        if (!req->div || cg_tn_canon(req->div, strlen(req->div), req->plan, p.div_tn) != CG_OK)
            BAD("a div PASSporT needs the original called number");
    } else {
        if (req->attest != 'A' && req->attest != 'B' && req->attest != 'C')
            BAD("attest must be A, B or C");
        p.attest = req->attest;
        if (req->origid) {
            if (!*req->origid || strlen(req->origid) > CG_ORIGID_MAX)
                BAD("origid must be 1-128 bytes");
            cg__strlcpy(p.origid, req->origid, sizeof p.origid);
        } else if ((rc = cg_uuid4(p.origid)) != CG_OK) {
            return rc;
        }
    }
    if (req->rcd)
        p.rcd = *req->rcd; /* borrowed strings, only read */
    rc = cg__passport_canon(&p, hj, sizeof hj, &hl, pj, sizeof pj, &pl);
    if (rc == CG_EINVAL)
        BAD("the claims cannot be encoded (invalid UTF-8 or rcd JSON?)");
    if (rc == CG_ETOOBIG)
        BAD("the PASSporT exceeds 8 KB");

    ppt = p.ppt == CG_PPT_DIV ? "div" : p.ppt == CG_PPT_RCD ? "rcd" : "shaken";
    tail = strlen(s->x5u) + strlen(ppt) + sizeof ";info=<>;alg=ES256;ppt=";
    cap = (hl + pl + 64) * 4 / 3 + 8 + tail;
    if (!(buf = malloc(cap)))
        return CG_ENOMEM;
    cg__b64url_encode((const unsigned char *)hj, hl, buf, cap, &w);
    n = w;
    buf[n++] = '.';
    cg__b64url_encode((const unsigned char *)pj, pl, buf + n, cap - n, &w);
    n += w;
    if ((rc = cg_es256_sign(s->key, buf, n, sig)) != CG_OK) {
        free(buf);
        return rc;
    }
    buf[n++] = '.';
    cg__b64url_encode(sig, 64, buf + n, cap - n, &w);
    n += w;
    snprintf(buf + n, cap - n, ";info=<%s>;alg=ES256;ppt=%s", s->x5u, ppt);
    *identity = buf;
    return CG_OK;
}
