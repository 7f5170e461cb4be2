/*
 * Identity header parsing (RFC 8224 section 4.1), written as a small
 * generic-param scanner rather than fixed-position parsing: real headers put
 * parameters in any order, quote ppt, omit alg, and old Asterisk wrote
 * "info=<url>alg=ES256" with no ';'.  Everything is bounded: the value by
 * CG_IDENTITY_MAX, the parameter count by MAX_PARAMS, each field by its
 * buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/identity.h"
#include "core/internal.h"

#define MAX_PARAMS 16

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* RFC 3261 token characters. */
static bool is_token(char c)
{
    return is_b64url(c) || c == '.' || c == '!' || c == '%' || c == '*' || c == '+' || c == '`' ||
           c == '\'' || c == '~';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Copies [s, s+n) into dst (cap bytes with NUL); false when too long. */
static bool copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

#define FAIL(code, text)                                                                           \
    do {                                                                                           \
        *why = (text);                                                                             \
        return (code);                                                                             \
    } while (0)

int cg_identity_parse(const char *in, size_t len, struct cg_identity *out, const char **why)
{
    const char *p = in, *end = in + len, *tok;
    size_t dots = 0, seg0 = 0, seg1 = 0, nparams = 0;
    bool after_angle = false;
    static const char *dummy;

    if (!why)
        why = &dummy;
    if (len > CG_IDENTITY_MAX)
        FAIL(CG_ETOOBIG, "Identity header longer than 16384 bytes");
    memset(out, 0, sizeof *out);

    p = skip_ws(p, end);
    /* Optional header name: "Identity:" or the compact form "y:". */
    if (cg__prefix_ci(p, (size_t)(end - p), "identity")) {
        const char *q = skip_ws(p + 8, end);
        if (q < end && *q == ':')
            p = skip_ws(q + 1, end);
    } else if (end - p >= 2 && (*p == 'y' || *p == 'Y')) {
        const char *q = skip_ws(p + 1, end);
        if (q < end && *q == ':')
            p = skip_ws(q + 1, end);
    }

    /* the token's segments, by table (a per-character test of the
     * alphabet was most of this function's time under load) */
    tok = p;
    for (;;) {
        size_t n = cg__b64url_span(p, (size_t)(end - p));
        if (dots == 0)
            seg0 = n;
        else if (dots == 1)
            seg1 = n;
        p += n;
        if (p == end || *p != '.')
            break;
        dots++;
        p++;
    }
    if (p < end && !is_ws(*p) && *p != ';')
        FAIL(CG_EPARSE, "token has a character outside base64url");
    if (p == tok)
        FAIL(CG_EPARSE, "no signed-identity-digest");
    if (dots != 2)
        FAIL(CG_EPARSE, "token is not header.payload.signature");
    out->token = tok;
    out->token_len = (size_t)(p - tok);
    out->compact = seg0 == 0 || seg1 == 0;
    if ((size_t)(p - tok) == seg0 + seg1 + 2)
        FAIL(CG_EPARSE, "token has no signature");

    for (;;) {
        const char *name, *val = NULL;
        size_t nlen, vlen = 0;
        char qbuf[CG_URL_MAX + 1];

        p = skip_ws(p, end);
        if (p == end)
            break;
        if (*p == ';') {
            p = skip_ws(p + 1, end);
        } else if (!(after_angle && is_token(*p))) {
            FAIL(CG_EPARSE, "expected ';' before a parameter");
        }
        if (p == end)
            break; /* a trailing ';' is harmless */
        if (++nparams > MAX_PARAMS)
            FAIL(CG_ETOOBIG, "more than 16 Identity parameters");
        name = p;
        while (p < end && is_token(*p))
            p++;
        nlen = (size_t)(p - name);
        if (nlen == 0)
            FAIL(CG_EPARSE, "empty parameter name");
        p = skip_ws(p, end);
        after_angle = false;
        if (p < end && *p == '=') {
            p = skip_ws(p + 1, end);
            if (p < end && *p == '<') {
                const char *gt = memchr(p, '>', (size_t)(end - p));
                if (!gt)
                    FAIL(CG_EPARSE, "'<' without '>' in a parameter");
                val = p + 1;
                vlen = (size_t)(gt - val);
                p = gt + 1;
                after_angle = true;
            } else if (p < end && *p == '"') {
                size_t q = 0;
                p++;
                while (p < end && *p != '"') {
                    if (*p == '\\' && p + 1 < end)
                        p++;
                    if (q >= CG_URL_MAX)
                        FAIL(CG_ETOOBIG, "quoted parameter too long");
                    qbuf[q++] = *p++;
                }
                if (p == end)
                    FAIL(CG_EPARSE, "unterminated quoted parameter");
                p++;
                qbuf[q] = '\0';
                val = qbuf;
                vlen = q;
            } else {
                val = p;
                while (p < end && is_token(*p))
                    p++;
                vlen = (size_t)(p - val);
                if (vlen == 0)
                    FAIL(CG_EPARSE, "empty parameter value");
            }
        }
        if (nlen == 4 && cg__prefix_ci(name, nlen, "info")) {
            if (out->has_info)
                FAIL(CG_EPARSE, "info appears twice");
            if (!val)
                FAIL(CG_EPARSE, "info without a value");
            if (!copy_field(out->info, sizeof out->info, val, vlen))
                FAIL(CG_ETOOBIG, "info URL longer than 1024 bytes");
            out->has_info = true;
        } else if (nlen == 3 && cg__prefix_ci(name, nlen, "alg")) {
            if (out->has_alg)
                FAIL(CG_EPARSE, "alg appears twice");
            if (!val || !copy_field(out->alg, sizeof out->alg, val, vlen))
                FAIL(CG_EPARSE, "bad alg parameter");
            out->has_alg = true;
        } else if (nlen == 3 && cg__prefix_ci(name, nlen, "ppt")) {
            if (out->has_ppt)
                FAIL(CG_EPARSE, "ppt appears twice");
            if (!val || !copy_field(out->ppt, sizeof out->ppt, val, vlen))
                FAIL(CG_EPARSE, "bad ppt parameter");
            out->has_ppt = true;
        }
        /* Other generic-params are legal extensions and ignored. */
    }
    *why = NULL;
    return CG_OK;
}

int cg_identity_format(const char *token, const char *x5u, const char *ppt, char **out)
{
    size_t n;
    char *s;
    if (!token || !x5u || !ppt || strchr(x5u, '>') || strlen(x5u) > CG_URL_MAX)
        return CG_EINVAL;
    n = strlen(token) + strlen(x5u) + strlen(ppt) + 32;
    s = malloc(n);
    if (!s)
        return CG_ENOMEM;
    snprintf(s, n, "%s;info=<%s>;alg=ES256;ppt=%s", token, x5u, ppt);
    *out = s;
    return CG_OK;
}
