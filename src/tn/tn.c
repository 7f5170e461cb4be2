/*
 * RFC 8224 section 8.3 canonicalization.  Works on the caller's bytes
 * without allocation: it is on the call path for From, PAI, To and R-URI.
 *
 * A sip: user part counts as a number when it is '+' and digits or digits
 * alone (with or without user=phone): any letter makes it a name, so
 * "sip:alice@example.com" is not a number and never matches a tn claim.
 */
#include <string.h>

#include "cidguard/tn.h"
#include "core/internal.h"

const struct cg_tn_plan cg_tn_plan_uk = {"44", "0", "00"};
const struct cg_tn_plan cg_tn_plan_nanp = {"1", "", "011"};

static bool is_sep(char c)
{
    return c == '-' || c == '.' || c == '(' || c == ')' || c == ' ' || c == '\t';
}

int cg_tn_canon(const char *in, size_t len, const struct cg_tn_plan *plan, char *out)
{
    const char *p = in, *end = in + len, *user, *uend;
    char buf[CG_TN_MAX + 1];
    size_t n = 0;
    bool global = false, lead_sym = false;

    if (len > CG_TN_INPUT_MAX)
        return CG_ETOOBIG;
    /* Name-addr form: "Display" <uri>;params -> the part inside <>. */
    {
        const char *lt = memchr(p, '<', len);
        if (lt) {
            const char *gt = memchr(lt, '>', (size_t)(end - lt));
            if (!gt)
                return CG_EPARSE;
            p = lt + 1;
            end = gt;
        }
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;

    if (cg__prefix_ci(p, (size_t)(end - p), "tel:")) {
        user = p + 4;
        uend = memchr(user, ';', (size_t)(end - user));
        if (!uend)
            uend = end;
    } else if (cg__prefix_ci(p, (size_t)(end - p), "sip:") ||
               cg__prefix_ci(p, (size_t)(end - p), "sips:")) {
        const char *at;
        user = p + (p[3] == ':' ? 4 : 5);
        at = memchr(user, '@', (size_t)(end - user));
        if (!at)
            return CG_EPARSE; /* host-only URI: no number in it */
        uend = memchr(user, ';', (size_t)(at - user)); /* ;tgrp=..;verstat=.. in the user part */
        if (!uend)
            uend = at;
    } else {
        user = p;
        uend = end;
    }
    if (user == uend)
        return CG_EPARSE;

    p = user;
    if (*p == '+') {
        global = true;
        p++;
    } else if (*p == '#' || *p == '*') {
        buf[n++] = *p++;
        lead_sym = true;
    }
    for (; p < uend; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            if (n >= CG_TN_MAX)
                return CG_ETOOBIG;
            buf[n++] = c;
        } else if (!is_sep(c)) {
            return CG_EPARSE; /* letters, '%', '+' inside: not a telephone number */
        }
    }
    if (n == (size_t)lead_sym)
        return CG_EPARSE;
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
    memcpy(out, buf, n + 1);
    return CG_OK;
}
