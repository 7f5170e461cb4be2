/*
 * Telephone-number canonicalization, RFC 8224 section 8.3.
 *
 * The canonical form is what goes in PASSporT "tn" values and what the
 * verifier compares: an optional leading '#' or '*', then digits only, no
 * '+'.  Comparison is exact on that digit string.
 */
#ifndef CIDGUARD_TN_H
#define CIDGUARD_TN_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest canonical number accepted.  E.164 allows 15 digits; French
 * portability prefixes reach 20, so the limit is generous but bounded. */
#define CG_TN_MAX 24
/* Longest input (a header value, URI or dialled string) looked at: the
 * largest SIP message.  Display names and parameters of any length up to it
 * are read through, so that a long value still yields its number. */
#define CG_TN_INPUT_MAX 65535

struct cg_tn_plan {
    /* Country code added to numbers in national format, e.g. "44" or "1".
     * NULL or "" means national numbers are rejected. */
    const char *country_code;
    /* National trunk prefix removed before adding the country code: "0" for
     * the UK.  NANP has none: a 10-digit number gets "1" prepended. */
    const char *trunk_prefix;
    /* International prefix that may precede a country code when no '+' is
     * present, e.g. "00" or "011".  NULL for none. */
    const char *intl_prefix;
};

/* Built-in plans. */
CG_EXTERN extern const struct cg_tn_plan cg_tn_plan_uk;
CG_EXTERN extern const struct cg_tn_plan cg_tn_plan_nanp;

/* What a header value names (cg_tn_read). */
enum cg_tn_kind {
    /* A telephone number: `out` holds it, canonical. */
    CG_TN_NUMBER = 0,
    /* Well-formed, but no telephone number: "sip:alice@example.com",
     * "<sip:anonymous@anonymous.invalid>", a host-only URI, another scheme. */
    CG_TN_NOT_NUMBER = 1,
    /* Cannot be read, so nobody can say which number it shows: bad syntax
     * (unbalanced quotes or angle brackets, characters a URI cannot hold, a
     * bad %-escape, a stray character after the URI), a tel: URI, a user=phone
     * user part or a '+' user part that is not a number, a number longer
     * than CG_TN_MAX digits, input longer than CG_TN_INPUT_MAX, or a list
     * whose values name different numbers. */
    CG_TN_UNREADABLE = 2,
};

/*
 * Reads the telephone number a From, P-Asserted-Identity, To or
 * Request-URI value names, per RFC 3261 section 20.10 and 25.1: a name-addr
 * ("display name" <URI>;params, the display name a quoted string with
 * backslash escapes or tokens) or an addr-spec (URI;params), or a
 * comma-separated list of them (P-Asserted-Identity: RFC 3325 allows a sip:
 * and a tel: URI).  The URI is a tel: URI or a sip:/sips: URI whose user
 * part (%-escapes decoded; user parameters such as ;verstat= and a password
 * dropped) is '+' and digits, digits alone, or '#'/'*' and digits, with
 * visual separators "-.()".  A bare number ("+44 20 7946-0000",
 * "(020) 7946 0000") is read too.  Numbers without '+' are national and are
 * converted with `plan` (NULL: kept as given).
 *
 * A list names the number its values name (values without a number are
 * passed over); values naming two different numbers make it unreadable.
 * `out` (size at least CG_TN_MAX + 1) is written only for CG_TN_NUMBER.
 */
CG_EXTERN enum cg_tn_kind cg_tn_read(const char *in, size_t len, const struct cg_tn_plan *plan,
                                     char *out);

/*
 * cg_tn_read for a value whose number a callee's phone shows (From,
 * P-Asserted-Identity), stricter wherever a person would see digits that
 * the plain reading takes for a name or for another number; each of these
 * is CG_TN_UNREADABLE:
 *  - a number that is not E.164 once the plan is applied (a leading 0, as
 *    "02079460100" is without a country code; a service code "*67...");
 *  - a user part or bare value without letters that is no number
 *    ("020/7946/0100", "%EF%BC%90..."), or with at least 7 digits and at
 *    most 2 letters ("0207946010O");
 *  - a local number with a phone-context (only the callee's network knows
 *    the context), a host-only sip: URI whose host is digits or starts with
 *    '+', and another scheme whose user part reads as a number;
 *  - a display name without letters and with at least 6 digits that is not
 *    one number, or two values whose display names differ.
 * A display name that is a number goes to `display` (size CG_TN_MAX + 1,
 * "" when none), canonical: phones show it instead of the URI.  `display`
 * is written for CG_TN_NUMBER and CG_TN_NOT_NUMBER.
 */
/* Whether canonical digits `tn` can be an E.164 number: 1 to 15 digits,
 * the first not 0 (cg_tn_canon leaves a national "0..." as it is without a
 * plan's country code). */
CG_EXTERN bool cg_tn_is_e164(const char *tn);

CG_EXTERN enum cg_tn_kind cg_tn_read_shown(const char *in, size_t len,
                                           const struct cg_tn_plan *plan, char *out, char *display);

/*
 * Canonicalizes `in` into `out` (size at least CG_TN_MAX + 1): cg_tn_read
 * with error codes.  Returns CG_OK and fills `out`, CG_EPARSE when `in` is
 * not a telephone number or cannot be read, CG_ETOOBIG when the number
 * exceeds CG_TN_MAX digits or the input CG_TN_INPUT_MAX bytes.  `out` is
 * written only on success.
 */
CG_EXTERN int cg_tn_canon(const char *in, size_t len, const struct cg_tn_plan *plan, char *out);

#ifdef __cplusplus
}
#endif
#endif
