/*
 * base64url without padding.  Hand-written rather than OpenSSL's EVP
 * decoder because EVP_DecodeBlock speaks standard base64 with padding and
 * silently accepts whitespace; a JWS needs the URL alphabet, no padding, and
 * strict rejection of anything else, on the call path, without allocation.
 */
#include "core/internal.h"

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for alphabet characters, 64 for everything else. */
static const unsigned char dec_tab[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64, 64, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
};

size_t cg__b64url_span(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && dec_tab[(unsigned char)s[i]] < 64)
        i++;
    return i;
}

int cg__b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap, size_t *outlen)
{
    size_t i, o = 0, full = n / 4 * 4, rem = n % 4;
    if (rem == 1)
        return CG_EPARSE;
    if (outcap < n / 4 * 3 + (rem ? rem - 1 : 0))
        return CG_ETOOBIG;
    for (i = 0; i < full; i += 4) {
        unsigned a = dec_tab[(unsigned char)in[i]], b = dec_tab[(unsigned char)in[i + 1]],
                 c = dec_tab[(unsigned char)in[i + 2]], d = dec_tab[(unsigned char)in[i + 3]];
        if ((a | b | c | d) & 64)
            return CG_EPARSE;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        out[o++] = (unsigned char)(b << 4 | c >> 2);
        out[o++] = (unsigned char)(c << 6 | d);
    }
    if (rem) {
        unsigned a = dec_tab[(unsigned char)in[i]], b = dec_tab[(unsigned char)in[i + 1]];
        unsigned c = rem == 3 ? dec_tab[(unsigned char)in[i + 2]] : 0;
        if ((a | b | c) & 64)
            return CG_EPARSE;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        if (rem == 2) {
            if (b & 0x0f) /* non-canonical trailing bits */
                return CG_EPARSE;
        } else {
            out[o++] = (unsigned char)(b << 4 | c >> 2);
            if (c & 0x03)
                return CG_EPARSE;
        }
    }
    *outlen = o;
    return CG_OK;
}

int cg__b64url_encode(const unsigned char *in, size_t n, char *out, size_t outcap, size_t *outlen)
{
    size_t i, o = 0, need = (n * 4 + 2) / 3;
    if (outcap < need + 1)
        return CG_ETOOBIG;
    for (i = 0; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = enc_tab[v >> 18];
        out[o++] = enc_tab[(v >> 12) & 63];
        out[o++] = enc_tab[(v >> 6) & 63];
        out[o++] = enc_tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = enc_tab[v >> 18];
        out[o++] = enc_tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = enc_tab[v >> 18];
        out[o++] = enc_tab[(v >> 12) & 63];
        out[o++] = enc_tab[(v >> 6) & 63];
    }
    out[o] = '\0';
    *outlen = o;
    return CG_OK;
}
