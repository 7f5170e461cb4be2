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
 *
 * What is copied into an answer is checked against RFC 3261's grammar
 * first.  The Request-URI goes back as the 302's Contact, inside angle
 * brackets: a '>' or a quote in it would let the caller write a second
 * redirect target or Contact parameters, so it is held to the URI
 * character classes, one table lookup a byte.
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

/*
 * Character classes (RFC 3261 section 25.1), one bit each:
 * C_TOKEN  token: method and header names, parameter names;
 * C_USER   the userinfo of a sip/sips URI: user (unreserved, escaped and
 *          user-unreserved "&=+$,;?/"), ":" and password;
 * C_PARAM  what follows the userinfo of a sip/sips URI (hostname, IPv4,
 *          IPv6reference, port) and its uri-parameters (paramchar, ";",
 *          "="), which is also every character of a tel URI (RFC 3966)
 *          that RFC 3261's absoluteURI allows; no "?" (headers are not
 *          allowed in a Request-URI, section 19.1.1), no "@" or ",";
 * C_URIC   an absoluteURI of another scheme: reserved, unreserved,
 *          escaped, and "[" "]" (IPv6 literals);
 * C_SCHEME the characters after a scheme's first letter;
 * C_HEX    hex digits, after '%';
 * C_PCT    '%', which must start an escape in a URI;
 * C_GVAL   a generic-param's unquoted value: token or host.
 * Bytes outside every class (controls, space, '"', '<', '>', '#', '\',
 * '^', '{', '|', '}', and every byte above 0x7e) are in no URI.
 */
enum {
    C_TOKEN = 1,
    C_USER = 2,
    C_PARAM = 4,
    C_URIC = 8,
    C_SCHEME = 16,
    C_HEX = 32,
    C_PCT = 64,
    C_GVAL = 128,
};

#define C_ALNUM (C_TOKEN | C_USER | C_PARAM | C_URIC | C_SCHEME | C_GVAL)
#define C_MARK (C_TOKEN | C_USER | C_PARAM | C_URIC | C_GVAL)

static const unsigned char cls[256] = {
    ['a' ... 'f'] = C_ALNUM | C_HEX,
    ['g' ... 'z'] = C_ALNUM,
    ['A' ... 'F'] = C_ALNUM | C_HEX,
    ['G' ... 'Z'] = C_ALNUM,
    ['0' ... '9'] = C_ALNUM | C_HEX,
    /* unreserved marks; '-', '.' and '+' are also scheme characters, and
     * '+', though reserved, is in every set a mark is in */
    ['-'] = C_MARK | C_SCHEME,
    ['.'] = C_MARK | C_SCHEME,
    ['_'] = C_MARK,
    ['!'] = C_MARK,
    ['~'] = C_MARK,
    ['*'] = C_MARK,
    ['\''] = C_MARK,
    ['+'] = C_MARK | C_SCHEME,
    ['('] = C_USER | C_PARAM | C_URIC,
    [')'] = C_USER | C_PARAM | C_URIC,
    /* a token character, and an escape in URIs */
    ['%'] = C_TOKEN | C_USER | C_PARAM | C_URIC | C_GVAL | C_PCT,
    ['`'] = C_TOKEN | C_GVAL,
    /* reserved */
    [';'] = C_USER | C_PARAM | C_URIC,
    ['/'] = C_USER | C_PARAM | C_URIC,
    ['?'] = C_USER | C_URIC,
    [':'] = C_USER | C_PARAM | C_URIC | C_GVAL,
    ['@'] = C_URIC,
    ['&'] = C_USER | C_PARAM | C_URIC,
    ['='] = C_USER | C_PARAM | C_URIC,
    ['$'] = C_USER | C_PARAM | C_URIC,
    [','] = C_USER | C_URIC,
    ['['] = C_PARAM | C_URIC | C_GVAL,
    [']'] = C_PARAM | C_URIC | C_GVAL,
};

static bool is_token(unsigned char c)
{
    return cls[c] & C_TOKEN;
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool is_alpha(char c)
{
    return lower(c) >= 'a' && lower(c) <= 'z';
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

/* The headers we keep, by full or compact (RFC 3261 7.3.3, RFC 8224) name,
 * matched whole; by length first, since most header lines are none of
 * these. */
static enum hdr hdr_kind(const char *n, size_t len)
{
    switch (len) {
    case 1:
        switch (lower(n[0])) {
        case 'v':
            return H_VIA;
        case 'f':
            return H_FROM;
        case 't':
            return H_TO;
        case 'i':
            return H_CALL_ID;
        case 'y':
            return H_IDENTITY;
        case 'l':
            return H_CLEN;
        default:
            return H_OTHER;
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

/* Past the quoted string whose '"' is at s (backslash escapes); at the NUL
 * when it is not closed. */
static const char *skip_quoted(const char *s)
{
    for (s++; *s && *s != '"'; s++)
        if (*s == '\\' && s[1])
            s++;
    return *s ? s + 1 : s;
}

/* Past the quoted-string whose '"' is at s (RFC 3261 section 25.1: qdtext
 * and quoted-pair), or NULL when it is not closed. */
static const char *quoted_end(const char *s)
{
    for (s++; *s != '"'; s++) {
        if (!*s)
            return NULL;
        if (*s == '\\' && !*++s)
            return NULL;
    }
    return s + 1;
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

/* The n bytes at s are all of the classes in `mask`, and each '%' starts
 * an escape (RFC 3261: "%" HEXDIG HEXDIG). */
static bool uri_chars(const char *s, size_t n, unsigned mask)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned c = cls[(unsigned char)s[i]];
        if (!(c & mask))
            return false;
        if (c & C_PCT) {
            if (n - i < 3 || !(cls[(unsigned char)s[i + 1]] & C_HEX) ||
                !(cls[(unsigned char)s[i + 2]] & C_HEX))
                return false;
            i += 2;
        }
    }
    return true;
}

/* The length of the scheme and its ':' that start the n bytes at u
 * (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"), or 0. */
static size_t scheme_len(const char *u, size_t n)
{
    size_t i;
    if (!n || !is_alpha(u[0]))
        return 0;
    for (i = 1; i < n && (cls[(unsigned char)u[i]] & C_SCHEME); i++)
        ;
    return i < n && u[i] == ':' ? i + 1 : 0;
}

/*
 * A Request-URI (RFC 3261 section 25.1: SIP-URI / SIPS-URI / absoluteURI).
 * A sip or sips URI is an optional userinfo, which ends at the first '@'
 * (the user and password sets hold no '@'), then a host with its port and
 * parameters, and no headers: RFC 3261 section 19.1.1 allows none in a
 * Request-URI, and a redirect target's headers would be added to the
 * caller's next request.  A tel URI is held to the characters RFC 3966
 * shares with absoluteURI, any other scheme to absoluteURI's.
 */
static bool ruri_ok(const char *u, size_t n)
{
    size_t s = scheme_len(u, n), rn = n - s;
    const char *rest = u + s, *at;
    if (!s || !rn)
        return false;
    if ((s == 4 && strncasecmp(u, "sip:", 4) == 0) || (s == 5 && strncasecmp(u, "sips:", 5) == 0)) {
        if ((at = memchr(rest, '@', rn))) {
            if (at == rest || !uri_chars(rest, (size_t)(at - rest), C_USER))
                return false;
            rn -= (size_t)(at + 1 - rest);
            rest = at + 1;
        }
        /* a hostname or IPv4 address starts with a letter or digit, an
         * IPv6 reference with '[' */
        return rn && (is_alpha(*rest) || (*rest >= '0' && *rest <= '9') || *rest == '[') &&
               uri_chars(rest, rn, C_PARAM);
    }
    return uri_chars(rest, rn, s == 4 && strncasecmp(u, "tel:", 4) == 0 ? C_PARAM : C_URIC);
}

/* *( SEMI generic-param ) up to the end of s: generic-param = token
 * [ EQUAL ( token / host / quoted-string ) ], with whitespace allowed
 * around ';' and '='. */
static bool params_ok(const char *s)
{
    for (;;) {
        while (is_wsp(*s))
            s++;
        if (!*s)
            return true;
        if (*s++ != ';')
            return false;
        while (is_wsp(*s))
            s++;
        if (!is_token((unsigned char)*s))
            return false;
        while (is_token((unsigned char)*s))
            s++;
        while (is_wsp(*s))
            s++;
        if (*s != '=')
            continue;
        for (s++; is_wsp(*s); s++)
            ;
        if (*s == '"') {
            if (!(s = quoted_end(s)))
                return false;
        } else {
            if (!(cls[(unsigned char)*s] & C_GVAL))
                return false;
            while (cls[(unsigned char)*s] & C_GVAL)
                s++;
        }
    }
}

/*
 * A From or To value (RFC 3261 sections 20.20 and 20.39): a name-addr
 * (a quoted-string or tokens as display name, then the URI in angle
 * brackets) or an addr-spec (the URI up to its first ';'), then header
 * parameters.  The URI needs a scheme and holds no whitespace, quote or
 * angle bracket; an addr-spec holds no ',' or '?' either, since those
 * need the name-addr form (section 20.10).  The URI's other characters
 * are left alone: the value is copied only into the answer's own From or
 * To, where nothing short of a line break could change its meaning.
 */
static bool addr_ok(const char *v)
{
    const char *s = v, *u;
    size_t sl;
    if (*s == '"') {
        if (!(s = quoted_end(s)))
            return false;
        while (is_wsp(*s))
            s++;
        if (*s != '<')
            return false;
    } else {
        /* an unquoted display name: tokens and spaces, and UTF-8 (RFC 3261
         * asks for quotes around it, but "Jörg <sip:...>" is common enough
         * that refusing it would refuse real calls) */
        while (is_token((unsigned char)*s) || is_wsp(*s) || (unsigned char)*s >= 0x80)
            s++;
        if (*s != '<')
            s = v; /* no display name: an addr-spec */
    }
    if (*s == '<') {
        u = s + 1;
        s = u + strcspn(u, "<>\" \t");
        if (*s != '>')
            return false;
        s++;
        sl = scheme_len(u, (size_t)(s - 1 - u));
        if (!sl || u + sl == s - 1)
            return false;
    } else {
        for (u = s; *s && *s != ';' && !is_wsp(*s); s++)
            if (*s == '<' || *s == '>' || *s == '"' || *s == ',' || *s == '?')
                return false;
        sl = scheme_len(u, (size_t)(s - u));
        if (!sl || u + sl == s)
            return false;
    }
    return params_ok(s);
}

/* Past SWS "/" SWS at s (RFC 3261's SLASH), or NULL. */
static const char *slash(const char *s)
{
    while (is_wsp(*s))
        s++;
    if (*s != '/')
        return NULL;
    for (s++; is_wsp(*s); s++)
        ;
    return s;
}

/* "SIP/2.0/UDP host[:port][;params]", with whitespace around the slashes
 * as RFC 3261's grammar allows (RFC 4475 section 3.1.1.1). */
static bool via_ok(const char *v)
{
    const char *s;
    if (strncasecmp(v, "SIP", 3) != 0 || !(s = slash(v + 3)) || strncmp(s, "2.0", 3) != 0 ||
        !(s = slash(s + 3)) || !is_token((unsigned char)*s))
        return false;
    while (is_token((unsigned char)*s))
        s++;
    if (!is_wsp(*s))
        return false;
    while (is_wsp(*s))
        s++;
    return *s && *s != ';';
}

/* "digits LWS Method": the number, leading zeros aside, below 2^31 (RFC
 * 3261 section 8.1.1.5), the method the request's. */
static bool cseq_ok(const char *v, const char *method)
{
    uint64_t n = 0;
    size_t d, i;
    while (v[0] == '0' && v[1] >= '0' && v[1] <= '9')
        v++;
    d = strspn(v, "0123456789");
    if (d == 0 || d > 10 || !is_wsp(v[d]))
        return false;
    for (i = 0; i < d; i++)
        n = n * 10 + (uint64_t)(v[i] - '0');
    if (n >= UINT64_C(1) << 31)
        return false;
    for (v += d; is_wsp(*v); v++)
        ;
    return strcmp(v, method) == 0;
}

/* A Content-Length value: up to nine digits after any leading zeros. */
static bool clen_value(const char *v, size_t n, unsigned long *out)
{
    unsigned long x = 0;
    size_t i = 0;
    while (n - i > 1 && v[i] == '0')
        i++;
    if (i == n || n - i > 9)
        return false;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (unsigned long)(v[i] - '0');
    }
    *out = x;
    return true;
}

#define BAD(code, text)                                                                            \
    do {                                                                                           \
        *why = (text);                                                                             \
        return (code);                                                                             \
    } while (0)

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The request line, "Method SP Request-URI SP SIP/2.0": method and
 * Request-URI copied to *o.  A first word that is not a token followed by
 * a space is no request at all (a response's "SIP/2.0 200 OK", or bytes
 * that are not SIP): *fatal, and it is never answered.  Other faults are
 * the request's, returned with *fatal false, to be reported once the
 * headers are read so that the request can get a 400.  The Request-URI
 * runs from the first space to the last: whitespace in it (RFC 4475
 * sections 3.1.2.7 and 3.1.2.8) is its fault, not the version's.
 */
static int request_line(const char *p, const char *e, struct cg_sip_req *r, char **o,
                        const char **why, bool *fatal)
{
    const char *sp1 = memchr(p, ' ', (size_t)(e - p)), *sp2 = e, *u;
    size_t ml, ul;
    *fatal = true;
    if (!sp1 || sp1 == p)
        BAD(CG_EPARSE, "not a SIP request");
    for (u = p; u < sp1; u++)
        if (!is_token((unsigned char)*u))
            BAD(CG_EPARSE, "not a SIP request");
    *fatal = false;
    while (sp2[-1] != ' ') /* stops at sp1 + 1 at the latest */
        sp2--;
    sp2--;
    ml = (size_t)(sp1 - p);
    if (ml > CG_SIP_METHOD_MAX)
        BAD(CG_ETOOBIG, "method longer than " STR(CG_SIP_METHOD_MAX) " bytes");
    if (e - sp2 - 1 != 7 || strncasecmp(sp2 + 1, "SIP/2.0", 7) != 0)
        BAD(CG_EPARSE, "not a SIP/2.0 request");
    u = sp1 + 1;
    ul = sp2 > sp1 ? (size_t)(sp2 - u) : 0;
    if (ul > CG_URL_MAX)
        BAD(CG_ETOOBIG, "Request-URI longer than 1024 bytes");
    if (!ruri_ok(u, ul))
        BAD(CG_EPARSE, "bad Request-URI");
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

/* One parse: the request being filled, the arena's next byte, the
 * Content-Length seen, and the first fault that does not stop the parse
 * (a bad request line, From, To), reported once every header is read. */
struct parse {
    struct cg_sip_req *r;
    char *o;
    bool have_clen;
    unsigned long clen;
    int fault;
    const char *fault_why;
};

static void fault(struct parse *ps, int code, const char *why)
{
    if (ps->fault == CG_OK) {
        ps->fault = code;
        ps->fault_why = why;
    }
}

/* Keeps a Via value: its comma-separated entries, each checked. */
static int keep_vias(struct parse *ps, char *v, const char **why)
{
    struct cg_sip_req *r = ps->r;
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
            const char *b = param(start, "branch", &ps->o);
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
static int keep_header(struct parse *ps, enum hdr k, char *v, const char **why)
{
    struct cg_sip_req *r = ps->r;
    switch (k) {
    case H_VIA:
        return keep_vias(ps, v, why);
    case H_FROM:
    case H_TO: {
        const char **slot = k == H_FROM ? &r->from : &r->to;
        if (*slot)
            BAD(CG_EPARSE, k == H_FROM ? "more than one From header" : "more than one To header");
        /* kept even when bad: a 400 must carry it back */
        *slot = v;
        if (!addr_ok(v))
            fault(ps, CG_EPARSE, k == H_FROM ? "bad From header" : "bad To header");
        if (k == H_TO)
            r->to_tag = param(addr_params(v), "tag", &ps->o);
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
        /* RFC 3325 section 9.1: at most two (a sip or sips URI and a tel
         * URI); the second is kept so that a host reads both, never only
         * the first of two that disagree */
        if (r->pai && r->pai_more)
            BAD(CG_EPARSE, "more than two P-Asserted-Identity headers");
        if (r->pai)
            r->pai_more = v;
        else
            r->pai = v;
        return CG_OK;
    case H_IDENTITY:
        if (r->nidentity >= CG_SIP_IDENTITY_MAX)
            BAD(CG_ETOOBIG, "more than 8 Identity headers");
        r->identity[r->nidentity++] = v;
        return CG_OK;
    case H_CLEN: {
        unsigned long n;
        if (!clen_value(v, strlen(v), &n) || (ps->have_clen && n != ps->clen))
            BAD(CG_EPARSE, "bad Content-Length");
        ps->have_clen = true;
        ps->clen = n;
        return CG_OK;
    }
    case H_OTHER:
        break;
    }
    return CG_OK;
}

/* A fault that stops the parse: reported unless an earlier one was found. */
#define STOP(code, text)                                                                           \
    do {                                                                                           \
        rc = (code);                                                                               \
        *why = (text);                                                                             \
        goto out;                                                                                  \
    } while (0)

int cg_sip_parse_request(const char *msg, size_t len, struct cg_sip_req *r, const char **why)
{
    static const char *dummy;
    const char *p = msg, *end = msg + len, *e, *next;
    struct parse ps = {.r = r};
    size_t lines = 0;
    bool ctl = false, fatal;
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
    ps.o = r->arena;

    if (!(next = line_end(p, end, &e, &ctl)))
        BAD(CG_EPARSE, "not a SIP request");
    if ((rc = request_line(p, e, r, &ps.o, why, &fatal)) != CG_OK) {
        if (fatal)
            return rc;
        fault(&ps, rc, *why);
    }
    for (p = next;;) {
        const char *colon, *n;
        enum hdr k;
        char *v;
        if (p >= end || !(next = line_end(p, end, &e, &ctl)))
            STOP(CG_EPARSE,
                 ctl ? "control character in a header" : "headers end without an empty line");
        if (e == p)
            break; /* the empty line */
        if (++lines > CG_SIP_HEADERS_MAX)
            STOP(CG_ETOOBIG, "more than 128 header lines");
        if (is_wsp(*p))
            STOP(CG_EPARSE, "continuation line without a header");
        for (n = p; n < e && is_token((unsigned char)*n); n++)
            ;
        for (colon = n; colon < e && is_wsp(*colon); colon++)
            ;
        if (n == p || colon == e || *colon != ':')
            STOP(CG_EPARSE, "header line without a name and colon");
        k = hdr_kind(p, (size_t)(n - p));
        /* the value, with continuation lines (RFC 3261 7.3.1) joined by a
         * space; only the kept headers are copied */
        v = ps.o;
        for (const char *s = colon + 1;;) {
            while (s < e && is_wsp(*s))
                s++;
            if (k != H_OTHER && s < e) {
                if (ps.o > v)
                    *ps.o++ = ' ';
                memcpy(ps.o, s, (size_t)(e - s));
                ps.o += e - s;
            }
            p = next;
            if (p >= end || !is_wsp(*p))
                break;
            if (!(next = line_end(p, end, &e, &ctl)))
                STOP(CG_EPARSE,
                     ctl ? "control character in a header" : "headers end without an empty line");
            if (++lines > CG_SIP_HEADERS_MAX)
                STOP(CG_ETOOBIG, "more than 128 header lines");
            s = p;
        }
        if (k == H_OTHER)
            continue;
        while (ps.o > v && is_wsp(ps.o[-1]))
            ps.o--;
        *ps.o++ = '\0';
        if ((rc = keep_header(&ps, k, v, why)) != CG_OK)
            goto out;
    }
    rc = CG_OK;
    if (ps.fault != CG_OK)
        goto out;
    if (r->nvia == 0 || !r->from || !r->to || !r->call_id || !r->cseq)
        STOP(CG_EPARSE, "missing Via, From, To, Call-ID or CSeq");
    if (!cseq_ok(r->cseq, r->method))
        STOP(CG_EPARSE, "bad CSeq header");
    /* RFC 3261 18.3: a datagram that ends before its body is an error */
    if (ps.have_clen && ps.clen > (size_t)(end - next))
        STOP(CG_EPARSE, "body shorter than Content-Length");
out:
    if (ps.fault != CG_OK) {
        *why = ps.fault_why;
        return ps.fault;
    }
    return rc;
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

/*
 * The end of the header (its line and continuation lines) whose first
 * line starts at `line`, within the n bytes there: the offset of the LF
 * that ends it, or n when it runs to the end.
 */
static size_t header_extent(const char *line, size_t n)
{
    size_t i = 0;
    for (;;) {
        const char *lf = memchr(line + i, '\n', n - i);
        if (!lf)
            return n;
        i = (size_t)(lf - line);
        if (i + 1 >= n || !is_wsp(line[i + 1]))
            return i;
        i++;
    }
}

long cg_sip_frame(const char *buf, size_t len, size_t *skip)
{
    size_t s = 0, i, hdr_end = 0;
    unsigned long clen = 0;
    bool have_cl = false;
    const char *lf;
    /* RFC 3261 7.5: CRLFs before the start line are ignored (bare LFs as
     * well, as the parser takes bare LF line ends) */
    for (;;) {
        if (s < len && buf[s] == '\n')
            s++;
        else if (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
            s += 2;
        else
            break;
    }
    *skip = s;
    buf += s;
    len -= s;
    /* The headers end at an empty line: LF, then LF or CR LF, as the
     * parser reads lines. */
    for (i = 0; (lf = memchr(buf + i, '\n', len - i)); i = (size_t)(lf - buf) + 1) {
        size_t j = (size_t)(lf - buf) + 1;
        if (j < len && buf[j] == '\n') {
            hdr_end = j + 1;
            break;
        }
        if (j + 1 < len && buf[j] == '\r' && buf[j + 1] == '\n') {
            hdr_end = j + 2;
            break;
        }
    }
    if (!hdr_end)
        return len > CG_SIP_MSG_MAX ? CG_ETOOBIG : 0;
    /*
     * Content-Length (or compact "l") is mandatory on streams.  The name
     * is matched whole, as the parser matches it, in any case and with
     * optional whitespace before the colon; its value may be folded onto
     * continuation lines.  The start line is skipped.
     */
    lf = memchr(buf, '\n', hdr_end);
    for (i = (size_t)(lf - buf) + 1; i < hdr_end;) {
        const char *line = buf + i, *c, *e;
        size_t n = header_extent(line, hdr_end - i), name;
        for (name = 0; name < n && is_token((unsigned char)line[name]); name++)
            ;
        for (c = line + name; c < line + n && is_wsp(*c); c++)
            ;
        if (name && c < line + n && *c == ':' &&
            ((name == 1 && lower(line[0]) == 'l') || eq_ci(line, name, "content-length"))) {
            const char *d;
            unsigned long v;
            e = line + n;
            for (c++; c < e && (is_wsp(*c) || *c == '\r' || *c == '\n'); c++)
                ;
            for (d = c; c < e && *c >= '0' && *c <= '9'; c++)
                ;
            if (!clen_value(d, (size_t)(c - d), &v))
                return CG_EPARSE;
            while (c < e && (is_wsp(*c) || *c == '\r' || *c == '\n'))
                c++;
            if (c != e || (have_cl && v != clen))
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

/* The length of s, or SIZE_MAX when it holds a CR or LF: a line break in a
 * copied value would end its header and start one of the caller's.  One
 * pass, as strlen's. */
static size_t line_len(const char *s)
{
    size_t n = strcspn(s, "\r\n");
    return s[n] ? SIZE_MAX : n;
}

/* Responses are built with memcpy rather than snprintf (the printf
 * machinery was 2% of the daemon's instructions per call, callgrind), and
 * each copied value is measured once, which also checks it for line
 * breaks.  A parsed request holds none (the parser refuses control
 * characters and joins continuation lines with a space); the phrase and
 * the extra lines are the caller's. */
int cg_sip_response(const struct cg_sip_req *req, int code, const char *phrase,
                    const char *const *extra, size_t nextra, char **out, size_t *outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t vl[CG_SIP_VIA_MAX], pl, fl, tl, cl, sl, cap, i;
    char *buf, *o;

    if (code < 100 || code > 699 || req->nvia > CG_SIP_VIA_MAX)
        return CG_EINVAL;
    pl = line_len(phrase);
    fl = line_len(req->from);
    tl = line_len(req->to);
    cl = line_len(req->call_id);
    sl = line_len(req->cseq);
    if (pl == SIZE_MAX || fl == SIZE_MAX || tl == SIZE_MAX || cl == SIZE_MAX || sl == SIZE_MAX)
        return CG_EINVAL;
    cap = 160 + pl + fl + tl + cl + sl;
    for (i = 0; i < req->nvia; i++) {
        if ((vl[i] = line_len(req->via[i])) == SIZE_MAX)
            return CG_EINVAL;
        cap += vl[i] + 7;
    }
    for (i = 0; i < nextra; i++) {
        size_t n = line_len(extra[i]);
        if (n == SIZE_MAX)
            return CG_EINVAL;
        cap += n + 2;
    }
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
