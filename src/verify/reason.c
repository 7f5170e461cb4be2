#include "cidguard/verify.h"

struct reason_row {
    const char *name;
    int code;
    enum cg_verstat verstat;
    const char *phrase;
    const char *ecase;
};

static const struct reason_row rows[] = {
#define CG_R_ROW(name, code, vs, text, ecase) {#name, code, CG_VERSTAT_##vs, text, ecase},
    CG_REASON_MAP(CG_R_ROW)
#undef CG_R_ROW
};

/* Lower-case machine names, in the same order as CG_REASON_MAP. */
static const char *const names[] = {
    "ok",           "no_identity",       "request_time",  "malformed",     "compact_form",
    "ppt_param",    "no_info",           "bad_info",      "cert_unavailable", "hdr_missing",
    "x5u_mismatch", "typ",               "alg",           "ppt",           "claims",
    "stale",        "orig_mismatch",     "dest_mismatch", "cert_invalid",  "cert_revoked",
    "cert_profile", "tn_not_authorized", "signature",     "attest",
};
_Static_assert(sizeof names / sizeof names[0] == CG_R__COUNT, "reason names out of step");

const char *cg_reason_name(enum cg_reason r)
{
    return (unsigned)r < CG_R__COUNT ? names[r] : "unknown";
}

int cg_reason_sip_code(enum cg_reason r)
{
    return (unsigned)r < CG_R__COUNT ? rows[r].code : 500;
}

const char *cg_reason_phrase(enum cg_reason r)
{
    return (unsigned)r < CG_R__COUNT ? rows[r].phrase : "";
}

const char *cg_reason_case(enum cg_reason r)
{
    return (unsigned)r < CG_R__COUNT ? rows[r].ecase : "";
}

enum cg_verstat cg__reason_verstat(enum cg_reason r)
{
    return (unsigned)r < CG_R__COUNT ? rows[r].verstat : CG_VERSTAT_NONE;
}

const char *cg_verstat_str(enum cg_verstat v)
{
    switch (v) {
    case CG_VERSTAT_PASSED:
        return "TN-Validation-Passed";
    case CG_VERSTAT_FAILED:
        return "TN-Validation-Failed";
    default:
        return "No-TN-Validation";
    }
}

const char *cg_match_str(enum cg_match m)
{
    static const char *const s[] = {"none", "pai", "from", "to", "ruri"};
    return (unsigned)m < 5 ? s[m] : "none";
}
