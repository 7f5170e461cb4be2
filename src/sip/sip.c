/*
 * SIP requests, parsed by hand.  libosip2 was used until the benchmark
 * showed it costing 10% of a call, the limit set for it: parsing
 * the load generator's INVITE with libosip2 and building the 302 took
 * 6.36 us, 10.0% of a verification (cidguard-bench, 2026-11-26), and
 * callgrind put the parse at 63,000 of the 128,000 instructions a call
 * spent in the daemon outside the cryptography.  libosip2 builds a list
 * node and a malloc'ed string for every header and parameter, which we
 * then serialized back to text.  A redirect server needs only a few
 * header values as text: the request is read once, and those values are
 * copied into one arena, unfolded and trimmed, Via lists cut at their
 * commas in place.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidguard/error.h"
#include "cidguard/identity.h"
#include "cidguard/sip.h"
#include "core/internal.h"

/* RFC 3261 token characters (method names, header names, params). */
static bool is_token(unsigned char c)
{
    switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`': case '\'':
    case '~':
        return true;
    default:
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool eq_ci(const char *a, size_t n, const char *b)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!b[i] || lower(a[i]) != b[i])
            return false;
    return b[n] == '\0';
}

enum hdr { H_OTHER, H_VIA, H_FROM, H_TO, H_CALL_ID, H_CSEQ, H_PAI, H_IDENTITY, H_CLEN };

/* The headers we keep, by full or compact (RFC 3261 7.3.3, RFC 8224) name;
 * by length first, since most header lines are none of these. */
static enum hdr hdr_kind(const char *n, size_t len)
{
    switch (len) {
    case 1:
        switch (lower(n[0])) {
        case 'v': return H_VIA;
        case 'f': return H_FROM;
        case 't': return H_TO;
        case 'i': return H_CALL_ID;
        case 'y': return H_IDENTITY;
        case 'l': return H_CLEN;
        default: return H_OTHER;
        }
    case 2:
        return eq_ci(n, len, "to") ? H_TO : H_OTHER;
    case 3:
        return eq_ci(n, len, "via") ? H_VIA : H_OTHER;
    case 4:
        return eq_ci(n, len, "from") ? H_FROM : eq_ci(n, len, "cseq") ? H_CSEQ : H_OTHER;
    case 7:
        return eq_ci(n, len, "call-id") ? H_CALL_ID : H_OTHER;
    case 8:
        return eq_ci(n, len, "identity") ? H_IDENTITY : H_OTHER;
    case 14:
        return eq_ci(n, len, "content-length") ? H_CLEN : H_OTHER;
    case 19:
        return eq_ci(n, len, "p-asserted-identity") ? H_PAI : H_OTHER;
    default:
        return H_OTHER;
    }
}

/*
 * The end of the line at p: *content_end before CR LF (or a bare LF),
 * return the start of the next line; NULL when the message ends first or
 * the line holds a control character other than HT (a NUL would cut the
 * value short when it is kept as a C string).  Eight bytes are tested at a
 * time for one below 0x20 or 0x7f: a byte at a time, this was the
 * parser's largest cost.
 */
static const char *line_end(const char *p, const char *end, const char **content_end, bool *ctl)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    const char *ce = !lf ? end : lf > p && lf[-1] == '\r' ? lf - 1 : lf, *q = p;
    while (q < ce) {
        if (ce - q >= 8) {
            uint64_t x, y;
            memcpy(&x, q, 8);
            y = x ^ (ones * 0x7f);
            if (!(((x - ones * 0x20) & ~x & highs) | ((y - ones) & ~y & highs))) {
                q += 8;
                continue;
            }
        }
        if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
            *ctl = true;
            return NULL;
        }
        q++;
    }
    if (!lf)
        return NULL;
    *content_end = ce;
    return lf + 1;
}

/* Past the quoted string whose '"' is at s (backslash escapes). */
static const char *skip_quoted(const char *s)
{
    for (s++; *s && *s != '"'; s++)
        if (*s == '\\' && s[1])
            s++;
    return *s ? s + 1 : s;
}

static char *trim(char *s)
{
    char *e;
    while (is_wsp(*s))
        s++;
    e = s + strlen(s);
    while (e > s && is_wsp(e[-1]))
        *--e = '\0';
    return s;
}

/*
 * The value of header parameter `name` in the ';'-separated parameters at
 * s, copied (NUL-terminated) to *o, which advances; NULL when absent.
 */
static const char *param(const char *s, const char *name, char **o)
{
    size_t nl = strlen(name);
    while (*s) {
        const char *v;
        size_t n;
        if (*s == '"') {
            s = skip_quoted(s);
            continue;
        }
        if (*s++ != ';')
            continue;
        while (is_wsp(*s))
            s++;
        if (strncasecmp(s, name, nl) != 0)
            continue;
        for (v = s + nl; is_wsp(*v); v++)
            ;
        if (*v != '=')
            continue;
        for (v++; is_wsp(*v); v++)
            ;
        n = strcspn(v, "; \t,");
        memcpy(*o, v, n);
        (*o)[n] = '\0';
        v = *o;
        *o += n + 1;
        return n ? v : NULL;
    }
    return NULL;
}

/* Where a From/To value's own parameters start: after the name-addr's
 * '>' (a quoted display name may hold '<' or ';'), else at the first ';'. */
static const char *addr_params(const char *v)
{
    const char *s = v;
    while (*s) {
        if (*s == '"') {
            s = skip_quoted(s);
        } else if (*s == '<') {
            const char *gt = strchr(s, '>');
            return gt ? gt : s + strlen(s);
        } else {
            s++;
        }
    }
    return v;
}

/* "SIP/2.0/UDP host[:port][;params]" */
static bool via_ok(const char *v)
{
    const char *s = v + 8;
    if (strncasecmp(v, "SIP/2.0/", 8) != 0 || !is_token((unsigned char)*s))
        return false;
    while (is_token((unsigned char)*s))
        s++;
    if (!is_wsp(*s))
        return false;
    while (is_wsp(*s))
        s++;
    return *s && *s != ';';
}

/* "digits LWS Method", the method being the request's */
static bool cseq_ok(const char *v, const char *method)
{
    size_t d = strspn(v, "0123456789");
    if (d == 0 || d > 10 || !is_wsp(v[d]))
        return false;
    for (v += d; is_wsp(*v); v++)
        ;
    return strcmp(v, method) == 0;
}

#define BAD(code, text)                                                        \
    do {                                                                       \
        *why = (text);                                                         \
        return (code);                                                         \
    } while (0)

/* Request line "Method SP Request-URI SP SIP/2.0": method and R-URI to *o. */
static int request_line(const char *p, const char *e, struct cg_sip_req *r, char **o,
                        const char **why)
{
    const char *sp1 = memchr(p, ' ', (size_t)(e - p)), *sp2, *u;
    size_t ml, ul;
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) > 32)
        BAD(CG_EPARSE, "not a SIP request");
    for (u = p; u < sp1; u++)
        if (!is_token((unsigned char)*u))
            BAD(CG_EPARSE, "not a SIP request");
    sp2 = memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1));
    if (!sp2 || (size_t)(e - sp2 - 1) != 7 || strncasecmp(sp2 + 1, "SIP/2.0", 7) != 0)
        BAD(CG_EPARSE, "not a SIP/2.0 request");
    ml = (size_t)(sp1 - p);
    ul = (size_t)(sp2 - sp1 - 1);
    u = sp1 + 1;
    if (ul == 0 || !memchr(u, ':', ul) || memchr(u, '\t', ul) || lower(*u) < 'a' || lower(*u) > 'z')
        BAD(CG_EPARSE, "bad Request-URI");
    if (ul > CG_URL_MAX)
        BAD(CG_ETOOBIG, "Request-URI longer than 1024 bytes");
    memcpy(*o, p, ml);
    (*o)[ml] = '\0';
    r->method = *o;
    *o += ml + 1;
    memcpy(*o, u, ul);
    (*o)[ul] = '\0';
    r->ruri = *o;
    *o += ul + 1;
    return CG_OK;
}

/* Keeps a Via value: its comma-separated entries, each checked. */
static int keep_vias(struct cg_sip_req *r, char *v, char **o, const char **why)
{
    char *s = v, *start = v;
    for (;; s++) {
        if (*s == '"') {
            s = v + (skip_quoted(s) - v) - 1;
            continue;
        }
        if (*s != ',' && *s != '\0')
            continue;
        bool last = *s == '\0';
        *s = '\0';
        start = trim(start);
        if (r->nvia >= CG_SIP_VIA_MAX)
            BAD(CG_ETOOBIG, "more than 16 Via headers");
        if (!via_ok(start))
            BAD(CG_EPARSE, "bad Via header");
        if (r->nvia == 0) {
            const char *b = param(start, "branch", o);
            if (b)
                r->branch = b;
        }
        r->via[r->nvia++] = start;
        if (last)
            return CG_OK;
        start = s + 1;
    }
}

/* Keeps one header value (kind k), already unfolded and trimmed at v. */
static int keep_header(struct cg_sip_req *r, enum hdr k, char *v, char **o, bool *have_clen,
                       unsigned long *clen, const char **why)
{
    switch (k) {
    case H_VIA:
        return keep_vias(r, v, o, why);
    case H_FROM:
    case H_TO: {
        const char **slot = k == H_FROM ? &r->from : &r->to;
        if (*slot)
            BAD(CG_EPARSE, k == H_FROM ? "more than one From header" : "more than one To header");
        if (!strchr(v, ':'))
            BAD(CG_EPARSE, k == H_FROM ? "bad From header" : "bad To header");
        *slot = v;
        if (k == H_TO)
            r->to_tag = param(addr_params(v), "tag", o);
        return CG_OK;
    }
    case H_CALL_ID:
        if (r->call_id)
            BAD(CG_EPARSE, "more than one Call-ID header");
        if (!*v || strpbrk(v, " \t"))
            BAD(CG_EPARSE, "bad Call-ID header");
        r->call_id = v;
        return CG_OK;
    case H_CSEQ:
        if (r->cseq)
            BAD(CG_EPARSE, "more than one CSeq header");
        r->cseq = v; /* checked against the method once all is read */
        return CG_OK;
    case H_PAI:
        if (!r->pai)
            r->pai = v;
        return CG_OK;
    case H_IDENTITY:
        if (r->nidentity >= CG_SIP_IDENTITY_MAX)
            BAD(CG_ETOOBIG, "more than 8 Identity headers");
        r->identity[r->nidentity++] = v;
        return CG_OK;
    case H_CLEN: {
        size_t d = strspn(v, "0123456789");
        unsigned long n = d && d <= 9 && v[d] == '\0' ? strtoul(v, NULL, 10) : 0;
        if (!d || d > 9 || v[d] != '\0' || (*have_clen && n != *clen))
            BAD(CG_EPARSE, "bad Content-Length");
        *have_clen = true;
        *clen = n;
        return CG_OK;
    }
    case H_OTHER:
        break;
    }
    return CG_OK;
}

int cg_sip_parse_request(const char *msg, size_t len, struct cg_sip_req *r, const char **why)
{
    static const char *dummy;
    const char *p = msg, *end = msg + len, *e, *next;
    char *o;
    size_t lines = 0;
    bool ctl = false, have_clen = false;
    unsigned long clen = 0;
    int rc;

    if (!why)
        why = &dummy;
    *why = NULL;
    memset(r, 0, sizeof *r);
    r->branch = ""; /* valid even when a failed parse is still answerable */
    if (len > CG_SIP_MSG_MAX)
        BAD(CG_ETOOBIG, "request larger than 64 KB");
    /* Every kept value is at most its line, plus a NUL for its CR LF; the
     * branch and To-tag copies are at most their Via and To. */
    if (!(r->arena = malloc(2 * len + 16)))
        return CG_ENOMEM;
    o = r->arena;

    if (!(next = line_end(p, end, &e, &ctl)))
        BAD(CG_EPARSE, "not a SIP request");
    if ((rc = request_line(p, e, r, &o, why)) != CG_OK)
        return rc;
    for (p = next;;) {
        const char *colon, *n;
        enum hdr k;
        char *v;
        if (p >= end || !(next = line_end(p, end, &e, &ctl)))
            BAD(CG_EPARSE, ctl ? "control character in a header" : "headers end without an empty line");
        if (e == p)
            break; /* the empty line */
        if (++lines > CG_SIP_HEADERS_MAX)
            BAD(CG_ETOOBIG, "more than 128 header lines");
        if (is_wsp(*p))
            BAD(CG_EPARSE, "continuation line without a header");
        for (n = p; n < e && is_token((unsigned char)*n); n++)
            ;
        for (colon = n; colon < e && is_wsp(*colon); colon++)
            ;
        if (n == p || colon == e || *colon != ':')
            BAD(CG_EPARSE, "header line without a name and colon");
        k = hdr_kind(p, (size_t)(n - p));
        /* the value, with continuation lines (RFC 3261 7.3.1) joined by a
         * space; only the kept headers are copied */
        v = o;
        for (const char *s = colon + 1;;) {
            while (s < e && is_wsp(*s))
                s++;
            if (k != H_OTHER && s < e) {
                if (o > v)
                    *o++ = ' ';
                memcpy(o, s, (size_t)(e - s));
                o += e - s;
            }
            p = next;
            if (p >= end || !is_wsp(*p))
                break;
            if (!(next = line_end(p, end, &e, &ctl)))
                BAD(CG_EPARSE, ctl ? "control character in a header" : "headers end without an empty line");
            if (++lines > CG_SIP_HEADERS_MAX)
                BAD(CG_ETOOBIG, "more than 128 header lines");
            s = p;
        }
        if (k == H_OTHER)
            continue;
        while (o > v && is_wsp(o[-1]))
            o--;
        *o++ = '\0';
        if ((rc = keep_header(r, k, v, &o, &have_clen, &clen, why)) != CG_OK)
            return rc;
    }
    if (r->nvia == 0 || !r->from || !r->to || !r->call_id || !r->cseq)
        BAD(CG_EPARSE, "missing Via, From, To, Call-ID or CSeq");
    if (!cseq_ok(r->cseq, r->method))
        BAD(CG_EPARSE, "bad CSeq header");
    /* RFC 3261 18.3: a datagram that ends before its body is an error */
    if (have_clen && clen > (size_t)(end - next))
        BAD(CG_EPARSE, "body shorter than Content-Length");
    return CG_OK;
}

int cg_sip_req_answerable(const struct cg_sip_req *r)
{
    return r->arena && r->nvia > 0 && r->from && r->to && r->call_id && r->cseq;
}

void cg_sip_req_clear(struct cg_sip_req *r)
{
    free(r->arena);
    memset(r, 0, sizeof *r);
}

long cg_sip_frame(const char *buf, size_t len, size_t *skip)
{
    size_t s = 0, i, hdr_end = 0, clen = 0;
    bool have_cl = false;
    while (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
        s += 2;
    *skip = s;
    buf += s;
    len -= s;
    for (i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            hdr_end = i + 4;
            break;
        }
    if (!hdr_end)
        return len > CG_SIP_MSG_MAX ? CG_ETOOBIG : 0;
    /* Content-Length (or compact "l") is mandatory on streams. */
    for (i = 0; i < hdr_end;) {
        const char *line = buf + i, *eol = memchr(line, '\n', hdr_end - i);
        size_t n = eol ? (size_t)(eol - line) : hdr_end - i;
        if (cg__prefix_ci(line, n, "content-length") || (n > 1 && (line[0] == 'l' || line[0] == 'L') &&
                                                          (line[1] == ':' || line[1] == ' '))) {
            const char *c = memchr(line, ':', n), *e = line + n;
            unsigned long v = 0;
            size_t digits = 0;
            if (!c)
                return CG_EPARSE;
            /* bounded by the line: the buffer is not NUL-terminated */
            for (c++; c < e && (*c == ' ' || *c == '\t'); c++)
                ;
            for (; c < e && *c >= '0' && *c <= '9' && digits < 9; c++, digits++)
                v = v * 10 + (unsigned long)(*c - '0');
            while (c < e && (*c == ' ' || *c == '\t' || *c == '\r'))
                c++;
            if (digits == 0 || c != e)
                return CG_EPARSE;
            if (have_cl && v != clen)
                return CG_EPARSE;
            clen = v;
            have_cl = true;
        }
        i += n + 1;
    }
    if (!have_cl)
        return CG_EPARSE;
    if (hdr_end + clen > CG_SIP_MSG_MAX)
        return CG_ETOOBIG;
    return len >= hdr_end + clen ? (long)(hdr_end + clen) : 0;
}

/* FNV-1a: a stable To-tag for a transaction, so retransmissions match. */
static uint32_t fnv(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h;
}

/* Appends name, the n bytes of s and CRLF; the caller sized the buffer. */
static char *put_line(char *o, const char *name, size_t nl, const char *s, size_t n)
{
    memcpy(o, name, nl);
    memcpy(o + nl, s, n);
    o[nl + n] = '\r';
    o[nl + n + 1] = '\n';
    return o + nl + n + 2;
}

#define PUT(o, name, s, n) put_line(o, name, sizeof name - 1, s, n)

/* Responses are built with memcpy rather than snprintf (the printf
 * machinery was 2% of the daemon's instructions per call, callgrind), and
 * each copied value is measured once. */
int cg_sip_response(const struct cg_sip_req *req, int code, const char *phrase,
                    const char *const *extra, size_t nextra, char **out, size_t *outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t vl[CG_SIP_VIA_MAX], pl = strlen(phrase), fl = strlen(req->from), tl = strlen(req->to),
           cl = strlen(req->call_id), sl = strlen(req->cseq), cap = 160 + pl + fl + tl + cl + sl, i;
    char *buf, *o;

    if (code < 100 || code > 699 || req->nvia > CG_SIP_VIA_MAX)
        return CG_EINVAL;
    for (i = 0; i < req->nvia; i++)
        cap += (vl[i] = strlen(req->via[i])) + 7;
    for (i = 0; i < nextra; i++)
        cap += strlen(extra[i]) + 2;
    if (!(buf = malloc(cap)))
        return CG_ENOMEM;
    o = buf;
    memcpy(o, "SIP/2.0 ", 8);
    o[8] = (char)('0' + code / 100);
    o[9] = (char)('0' + code / 10 % 10);
    o[10] = (char)('0' + code % 10);
    o[11] = ' ';
    o = put_line(o + 12, "", 0, phrase, pl);
    for (i = 0; i < req->nvia; i++)
        o = PUT(o, "Via: ", req->via[i], vl[i]);
    o = PUT(o, "From: ", req->from, fl);
    if (req->to_tag || code == 100) {
        o = PUT(o, "To: ", req->to, tl);
    } else {
        uint32_t tag = fnv(req->call_id, req->branch);
        int k;
        memcpy(o, "To: ", 4);
        memcpy(o + 4, req->to, tl);
        o += 4 + tl;
        memcpy(o, ";tag=cg", 7);
        o += 7;
        for (k = 28; k >= 0; k -= 4)
            *o++ = hex[(tag >> k) & 15];
        *o++ = '\r';
        *o++ = '\n';
    }
    o = PUT(o, "Call-ID: ", req->call_id, cl);
    o = PUT(o, "CSeq: ", req->cseq, sl);
    for (i = 0; i < nextra; i++)
        o = put_line(o, "", 0, extra[i], strlen(extra[i]));
    {
        static const char tail[] = "Server: cidguard\r\nContent-Length: 0\r\n\r\n";
        memcpy(o, tail, sizeof tail); /* with its NUL */
        o += sizeof tail - 1;
    }
    *out = buf;
    *outlen = (size_t)(o - buf);
    return CG_OK;
}
