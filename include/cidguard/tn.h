/*
 * Telephone-number canonicalization, RFC 8224 section 8.3.
 *
 * The canonical form is what goes in PASSporT "tn" values and what the
 * verifier compares: an optional leading '#' or '*', then digits only, no
 * '+'.  Comparison is exact on that digit string.
 */
#ifndef CIDGUARD_TN_H
#define CIDGUARD_TN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest canonical number accepted.  E.164 allows 15 digits; French
 * portability prefixes reach 20, so the limit is generous but bounded. */
#define CG_TN_MAX 24
/* Longest input (URI or dialled string) looked at. */
#define CG_TN_INPUT_MAX 512

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
extern const struct cg_tn_plan cg_tn_plan_uk;
extern const struct cg_tn_plan cg_tn_plan_nanp;

/*
 * Canonicalizes `in` into `out` (size at least CG_TN_MAX + 1).
 *
 * `in` may be a bare number ("+44 20 7946-0000", "(020) 7946 0000",
 * "02079460000"), a tel: URI ("tel:+442079460000;phone-context=..."), a
 * sip:/sips: URI whose user part is a number (with user=phone, a leading
 * '+', or digits only), optionally inside <...> with a display name.
 * Visual separators "-.() " are dropped; any other character makes the input
 * not a telephone number.  Numbers without '+' are taken as national and
 * converted with `plan` (NULL: kept as given, e.g. already canonical digits).
 *
 * Returns CG_OK and fills `out`, CG_EPARSE when `in` is not a telephone
 * number, CG_ETOOBIG when it exceeds CG_TN_MAX or CG_TN_INPUT_MAX.  `out` is
 * written only on success.
 */
int cg_tn_canon(const char *in, size_t len, const struct cg_tn_plan *plan, char *out);

#ifdef __cplusplus
}
#endif
#endif
