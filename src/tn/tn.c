/*
 * RFC 8224 section 8.3 canonicalization, and reading the number a SIP
 * header value names (RFC 3261 section 25.1 name-addr and addr-spec).
 * Works on the caller's bytes in one pass, without allocation: it is on the
 * call path for From, PAI, To and R-URI.
 *
 * The header grammar is followed exactly where it decides *which* URI a
 * value holds: a quoted display name may contain '<', '>' and ',' (only the
 * angle bracket after it opens the URI), a URI cannot contain a quote, a
 * space or a '<', and anything after the URI must be parameters.  A value
 * that breaks it is unreadable, never "no number": a caller that hides its
 * number behind bad syntax must not escape the rules that apply to numbers.
 *
 * A sip: user part counts as a number when it is '+' and digits or digits
 * alone (with or without user=phone): any letter makes it a name, so
 * "sip:alice@example.com" is not a number and never matches a tn claim.
 */
#include <string.h>

#include "cidguard/error.h"
#include "cidguard/tn.h"
#include "core/internal.h"

const struct cg_tn_plan cg_tn_plan_uk = {"44", "0", "00"};
const struct cg_tn_plan cg_tn_plan_nanp = {"1", "", "011"};

/* Internal outcomes: CG_OK a number, NOT_NUMBER well-formed without one,
 * CG_EPARSE unreadable, CG_ETOOBIG unreadable because of a limit. */
#define NOT_NUMBER CG_ENOTFOUND

static bool is_sep(int c)
{
    return c == '-' || c == '.' || c == '(' || c == ')' || c == ' ' || c == '\t';
}

static bool is_lws(int c)
{
    return c == ' ' || c == '\t';
}

enum {
    C_ALPHA = 1,
    C_DIGIT = 2,
    C_TOKEN = 4, /* RFC 3261 token */
    C_URIC = 8,  /* may appear in a SIP or tel URI */
};

/* URI characters: unreserved, reserved, '%' of an escape, '[' ']' of an
 * IPv6 reference, and '#' (service codes in the wild).  Never a quote, a
 * space, an angle bracket or a backslash. */
static const unsigned char cls[256] = {
    ['a' ... 'z'] = C_ALPHA | C_TOKEN | C_URIC,
    ['A' ... 'Z'] = C_ALPHA | C_TOKEN | C_URIC,
    ['0' ... '9'] = C_DIGIT | C_TOKEN | C_URIC,
    ['-'] = C_TOKEN | C_URIC,
    ['.'] = C_TOKEN | C_URIC,
    ['!'] = C_TOKEN | C_URIC,
    ['%'] = C_TOKEN | C_URIC,
    ['*'] = C_TOKEN | C_URIC,
    ['_'] = C_TOKEN | C_URIC,
    ['+'] = C_TOKEN | C_URIC,
    ['\''] = C_TOKEN | C_URIC,
    ['~'] = C_TOKEN | C_URIC,
    ['`'] = C_TOKEN,
    ['('] = C_URIC,
    [')'] = C_URIC,
    [';'] = C_URIC,
    ['/'] = C_URIC,
    ['?'] = C_URIC,
    [':'] = C_URIC,
    ['@'] = C_URIC,
    ['&'] = C_URIC,
    ['='] = C_URIC,
    ['$'] = C_URIC,
    [','] = C_URIC,
    ['['] = C_URIC,
    [']'] = C_URIC,
    ['#'] = C_URIC,
};

static bool is_alpha(int c)
{
    return cls[(unsigned char)c] & C_ALPHA;
}

static bool is_digit(int c)
{
    return cls[(unsigned char)c] & C_DIGIT;
}

static bool is_token(int c)
{
    return cls[(unsigned char)c] & C_TOKEN;
}

static bool is_uric(int c)
{
    return cls[(unsigned char)c] & C_URIC;
}

/* s[0..n) equals `lower` (lower case) ignoring case. */
static bool eq_ci(const char *s, const char *lower, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != lower[i])
            return false;
    }
    return true;
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char *skip_lws(const char *p, const char *end)
{
    while (p < end && is_lws(*p))
        p++;
    return p;
}

/* p at '"': the byte after the closing quote, or NULL when there is none or
 * the string holds a byte a quoted-string cannot (CR, LF, NUL). */
static const char *skip_quoted(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            if (++p == end)
                return NULL;
        }
        if (*p == '\r' || *p == '\n' || *p == '\0')
            return NULL;
    }
    return NULL;
}

/* A scheme ("sip", "tel", ...) followed by ':' at p: the byte after the
 * colon, or NULL. */
static const char *scheme_end(const char *p, const char *end)
{
    const char *q = p;
    if (q == end || !is_alpha(*q))
        return NULL;
    while (q < end && (is_alpha(*q) || is_digit(*q) || *q == '+' || *q == '-' || *q == '.'))
        q++;
    return q < end && *q == ':' ? q + 1 : NULL;
}

bool cg_tn_is_e164(const char *tn)
{
    size_t n = strspn(tn, "0123456789");
    return !tn[n] && n >= 1 && n <= 15 && tn[0] != '0';
}

/*
 * The number in [p, end): a user part, a tel: subscriber or a bare number,
 * %-escapes decoded when `escapes`.  `strict` (tel:, user=phone, a bare
 * value) makes anything but a number unreadable; otherwise letters make a
 * name (NOT_NUMBER).  A '+' promises a global number: what follows must be
 * one.
 */
static int number(const char *p, const char *end, bool escapes, bool strict, bool shown,
                  const struct cg_tn_plan *plan, char *out)
{
    char buf[CG_TN_MAX + 1];
    size_t n = 0, letters = 0;
    bool global = false, lead_sym = false, first = true, other = false, big = false,
         nonascii = false;

    while (p < end) {
        int c = (unsigned char)*p++;
        if (c == '%' && escapes) {
            int hi, lo;
            if (end - p < 2 || (hi = hexval(p[0])) < 0 || (lo = hexval(p[1])) < 0)
                return CG_EPARSE;
            c = hi * 16 + lo;
            p += 2;
            if (c == 0)
                return CG_EPARSE;
        }
        if (first) {
            first = false;
            if (c == '+') {
                global = true;
                continue;
            }
            if (c == '#' || c == '*') {
                buf[n++] = (char)c;
                lead_sym = true;
                continue;
            }
        }
        if (is_digit(c)) {
            if (n < CG_TN_MAX)
                buf[n++] = (char)c;
            else
                big = true; /* read on: a letter later makes it a name, not a long number */
        } else if (!is_sep(c)) {
            other = true; /* letters, '%', '+' inside: not a telephone number */
            letters += is_alpha(c);
            nonascii |= c >= 0x80;
        }
    }
    /* Read for a callee's screen (`shown`), what looks like digits to a
     * person and is not a number is unreadable, not a name: no letters at
     * all ("020/7946/0100", full-width digits), or at least 7 digits among
     * at most 2 letters ("0207946010O"). */
    if ((other || n == (size_t)lead_sym) && shown &&
        ((!letters && (n > (size_t)lead_sym || nonascii)) || (n >= 7 && letters <= 2)))
        return CG_EPARSE;
    if (other || n == (size_t)lead_sym)
        return strict || global ? CG_EPARSE : NOT_NUMBER;
    if (big)
        return CG_ETOOBIG;
    buf[n] = '\0';

    if (!global && !lead_sym && plan && plan->country_code && *plan->country_code) {
        const char *cc = plan->country_code, *tp = plan->trunk_prefix, *ip = plan->intl_prefix;
        size_t ccl = strlen(cc);
        char tmp[CG_TN_MAX + 1];
        if (ip && *ip && strncmp(buf, ip, strlen(ip)) == 0) {
            memmove(buf, buf + strlen(ip), n - strlen(ip) + 1);
            n -= strlen(ip);
        } else if (tp && *tp && strncmp(buf, tp, strlen(tp)) == 0) {
            size_t tl = strlen(tp);
            if (n - tl + ccl > CG_TN_MAX)
                return CG_ETOOBIG;
            memcpy(tmp, cc, ccl);
            memcpy(tmp + ccl, buf + tl, n - tl + 1);
            memcpy(buf, tmp, n - tl + ccl + 1);
            n = n - tl + ccl;
        } else if ((!tp || !*tp) && n == 10) {
            /* NANP-style plan without trunk prefix: ten digits are national. */
            if (n + ccl > CG_TN_MAX)
                return CG_ETOOBIG;
            memcpy(tmp, cc, ccl);
            memcpy(tmp + ccl, buf, n + 1);
            memcpy(buf, tmp, n + ccl + 1);
            n += ccl;
        }
        if (n == 0)
            return CG_EPARSE;
    }
    /* an E.164 number starts with a country code, never 0, and has at most
     * 15 digits; a service code ("*67...") is no number a callee should be
     * shown */
    if (shown && (lead_sym || !cg_tn_is_e164(buf)))
        return CG_EPARSE;
    memcpy(out, buf, n + 1);
    return CG_OK;
}

/* Whether the parameters [p, end) (";name=value"...) hold `name`. */
static bool has_param(const char *p, const char *end, const char *name)
{
    size_t nl = strlen(name);
    while (p < end) {
        const char *q = memchr(p, ';', (size_t)(end - p));
        if (!q)
            return false;
        p = q + 1;
        if (end - p >= (long)nl && eq_ci(p, name, nl) &&
            (end - p == (long)nl || p[nl] == '=' || p[nl] == ';'))
            return true;
    }
    return false;
}

/* Whether the URI parameters [p, end) (";name=value" ..., then "?headers")
 * have user=phone. */
static bool has_user_phone(const char *p, const char *end)
{
    const char *hdrs = memchr(p, '?', (size_t)(end - p));
    if (hdrs)
        end = hdrs;
    while (p < end) {
        const char *q = memchr(p, ';', (size_t)(end - p));
        if (!q)
            return false;
        p = q + 1;
        if ((end - p == 10 || (end - p > 10 && p[10] == ';')) && eq_ci(p, "user=phone", 10))
            return true;
    }
    return false;
}

/*
 * The number a URI [p, end) names; every byte is already known to be a URI
 * character.  `user_phone` says that header parameters after an addr-spec
 * carried user=phone.
 */
static int uri_number(const char *p, const char *end, bool user_phone, bool shown,
                      const struct cg_tn_plan *plan, char *out)
{
    const char *s = scheme_end(p, end), *at, *host, *hend, *u, *uend;

    if (!s) /* "<+442079460000>": no scheme, read as a bare number */
        return number(p, end, false, true, shown, plan, out);
    if (s - p == 4 && eq_ci(p, "tel:", 4)) {
        uend = memchr(s, ';', (size_t)(end - s));
        /* a local number takes its meaning from its phone-context, which
         * only the callee's network can apply: for a screen, unreadable */
        if (shown && uend && *s != '+' && has_param(uend, end, "phone-context"))
            return CG_EPARSE;
        return number(s, uend ? uend : end, true, true, shown, plan, out);
    }
    if (!(s - p == 4 && eq_ci(p, "sip:", 4)) && !(s - p == 5 && eq_ci(p, "sips:", 5))) {
        /* another scheme names no number, unless it shows one */
        char tmp[CG_TN_MAX + 1];
        at = memchr(s, '@', (size_t)(end - s));
        if (shown && number(s, at ? at : end, true, false, true, NULL, tmp) != NOT_NUMBER)
            return CG_EPARSE;
        return NOT_NUMBER;
    }
    at = memchr(s, '@', (size_t)(end - s));
    host = at ? at + 1 : s;
    for (hend = host; hend < end && *hend != ';' && *hend != '?'; hend++)
        ;
    if (hend == host)
        return CG_EPARSE; /* "sip:", "sip:+44@": no host */
    if (!at) {            /* host-only URI: no number, unless its "host" is one */
        if (shown && (*host == '+' || strspn(host, "0123456789") == (size_t)(hend - host)))
            return CG_EPARSE;
        return NOT_NUMBER;
    }
    /* The user part ends at its first ';' (RFC 4904 ;tgrp=, ;verstat=) or
     * ':' (a password). */
    for (u = s, uend = s; uend < at && *uend != ';' && *uend != ':'; uend++)
        ;
    if (shown && *u != '+' && uend < at && *uend == ';' && has_param(uend, at, "phone-context"))
        return CG_EPARSE;
    if (!user_phone)
        user_phone = has_user_phone(hend, end);
    return number(u, uend, true, user_phone, shown, plan, out);
}

/*
 * Header parameters after a URI (";tag=x;name="quoted""): *pp moves past
 * them.  CG_EPARSE for anything else; sets *user_phone on user=phone.
 */
static int header_params(const char **pp, const char *end, bool *user_phone)
{
    const char *p = *pp;
    for (;;) {
        const char *name, *nend, *val = NULL, *vend = NULL;
        p = skip_lws(p, end);
        if (p == end || *p == ',')
            break;
        if (*p != ';')
            return CG_EPARSE;
        p = skip_lws(p + 1, end);
        for (name = p; p < end && is_token(*p); p++)
            ;
        if ((nend = p) == name)
            return CG_EPARSE;
        p = skip_lws(p, end);
        if (p < end && *p == '=') {
            p = skip_lws(p + 1, end);
            val = p;
            if (p < end && *p == '"') {
                if (!(p = skip_quoted(p, end)))
                    return CG_EPARSE;
            } else {
                /* token, host or IPv6 reference */
                while (p < end && (is_token(*p) || *p == ':' || *p == '[' || *p == ']'))
                    p++;
                if (p == val)
                    return CG_EPARSE;
            }
            vend = p;
        }
        if (val && nend - name == 4 && vend - val == 5 && eq_ci(name, "user", 4) &&
            eq_ci(val, "phone", 5))
            *user_phone = true;
    }
    *pp = p;
    return CG_OK;
}

/*
 * A display name [p, end) (a quoted string's inside, or tokens) that a
 * phone would show as a number: no letters and at least 6 digits.  Its
 * number goes to `out` (CG_OK), NOT_NUMBER for a name, CG_EPARSE for digits
 * that cannot be read as one number.
 */
static int display_number(const char *p, const char *end, const struct cg_tn_plan *plan, char *out)
{
    size_t digits = 0;
    const char *q;
    for (q = p; q < end; q++) {
        if (is_alpha(*q))
            return NOT_NUMBER;
        digits += is_digit(*q);
    }
    if (digits < 6)
        return NOT_NUMBER;
    while (p < end && is_lws(*p))
        p++;
    while (end > p && is_lws(end[-1]))
        end--;
    return number(p, end, false, true, true, plan, out) == CG_OK ? CG_OK : CG_EPARSE;
}

/*
 * One value of a header at *pp: a name-addr, an addr-spec or a bare
 * number, with its header parameters.  *pp moves to the ',' that ends it or
 * to the end.  With `display` (a read for a callee's screen), a display
 * name that is a number goes there ("" when there is none).
 */
static int read_value(const char **pp, const char *end, const struct cg_tn_plan *plan, char *out,
                      char *display)
{
    const char *p = skip_lws(*pp, end), *q, *uri, *uend, *dname = NULL, *dend = NULL;
    bool user_phone = false, shown = display != NULL;
    int rc, prc;

    if (display)
        display[0] = '\0';

    if (p == end || *p == ',')
        return CG_EPARSE; /* an empty value */
    /* name-addr: [ quoted-string / *(token LWS) ] "<" URI ">".  Display
     * names in UTF-8 without quotes are common enough to read. */
    if (*p == '"') {
        if (!(q = skip_quoted(p, end)))
            return CG_EPARSE;
        dname = p + 1;
        dend = q - 1;
        q = skip_lws(q, end);
        if (q == end || *q != '<')
            return CG_EPARSE;
    } else {
        for (q = p; q < end && (is_token(*q) || is_lws(*q) || (unsigned char)*q >= 0x80); q++)
            ;
        if (q == end || *q != '<')
            q = NULL;
        else if (q > p) {
            dname = p;
            dend = q;
        }
    }
    if (display && dname && (prc = display_number(dname, dend, plan, display)) != CG_OK) {
        display[0] = '\0';
        if (prc != NOT_NUMBER)
            return prc;
    }
    if (q) {
        uri = q + 1;
        for (uend = uri; uend < end && *uend != '>'; uend++)
            if (!is_uric((unsigned char)*uend))
                return CG_EPARSE;
        if (uend == end || uend == uri)
            return CG_EPARSE;
        p = uend + 1;
        if ((prc = header_params(&p, end, &user_phone)) != CG_OK)
            return prc;
        rc = uri_number(uri, uend, false, shown, plan, out);
    } else if ((q = scheme_end(p, end))) {
        /* addr-spec: the URI runs to its header parameters.  A sip: user
         * part may hold ';' (RFC 4904), so they start at the first ';'
         * after the host. */
        const char *at = NULL;
        uri = p;
        for (uend = q; uend < end && is_uric((unsigned char)*uend) && *uend != ','; uend++)
            if (*uend == '@') {
                at = uend;
                break;
            }
        for (uend = at ? at + 1 : q;
             uend < end && is_uric((unsigned char)*uend) && *uend != ',' && *uend != ';'; uend++)
            ;
        p = uend;
        if ((prc = header_params(&p, end, &user_phone)) != CG_OK)
            return prc;
        rc = uri_number(uri, uend, user_phone, shown, plan, out);
    } else {
        /* a bare number: up to the next ',' */
        for (uend = p; uend < end && *uend != ','; uend++)
            ;
        q = uend;
        while (q > p && is_lws(q[-1]))
            q--;
        rc = number(p, q, false, true, shown, plan, out);
        p = uend;
    }
    *pp = p;
    return rc;
}

static int read_header(const char *in, size_t len, const struct cg_tn_plan *plan, char *out,
                       char *display)
{
    const char *p = in, *end = in + len;
    char num[CG_TN_MAX + 1], disp[CG_TN_MAX + 1];
    bool have = false, values = false;

    if (len > CG_TN_INPUT_MAX)
        return CG_ETOOBIG;
    for (;;) {
        int rc = read_value(&p, end, plan, have ? num : out, display && values ? disp : display);
        if (rc == CG_OK && have && strcmp(num, out) != 0)
            return CG_EPARSE; /* two numbers: which one the callee sees is anyone's guess */
        if (display && values && (rc == CG_OK || rc == NOT_NUMBER) && strcmp(disp, display) != 0)
            return CG_EPARSE; /* the same for two display names */
        if (rc == CG_OK)
            have = true;
        else if (rc != NOT_NUMBER)
            return rc;
        values = true;
        if (p == end)
            return have ? CG_OK : NOT_NUMBER;
        p++; /* the ',' before the next value */
    }
}

enum cg_tn_kind cg_tn_read(const char *in, size_t len, const struct cg_tn_plan *plan, char *out)
{
    char tmp[CG_TN_MAX + 1];
    int rc = in ? read_header(in, len, plan, tmp, NULL) : CG_EPARSE;
    if (rc == CG_OK) {
        memcpy(out, tmp, strlen(tmp) + 1);
        return CG_TN_NUMBER;
    }
    return rc == NOT_NUMBER ? CG_TN_NOT_NUMBER : CG_TN_UNREADABLE;
}

enum cg_tn_kind cg_tn_read_shown(const char *in, size_t len, const struct cg_tn_plan *plan,
                                 char *out, char *display)
{
    char tmp[CG_TN_MAX + 1], disp[CG_TN_MAX + 1];
    int rc = in ? read_header(in, len, plan, tmp, disp) : CG_EPARSE;
    if (rc != CG_OK && rc != NOT_NUMBER)
        return CG_TN_UNREADABLE;
    memcpy(display, disp, strlen(disp) + 1);
    if (rc == CG_OK) {
        memcpy(out, tmp, strlen(tmp) + 1);
        return CG_TN_NUMBER;
    }
    return CG_TN_NOT_NUMBER;
}

int cg_tn_canon(const char *in, size_t len, const struct cg_tn_plan *plan, char *out)
{
    char tmp[CG_TN_MAX + 1];
    int rc = in ? read_header(in, len, plan, tmp, NULL) : CG_EPARSE;
    if (rc == CG_OK)
        memcpy(out, tmp, strlen(tmp) + 1);
    return rc == NOT_NUMBER ? CG_EPARSE : rc;
}
