#include "cidguard/verify.h"

struct reason_row {
    const char *name;
    int code;
    enum cg_verstat verstat;
    const char *phrase;
    const char *ecase;
};

static const struct reason_row rows[] = {
#define CG_R_ROW(name, str, code, vs, text, ecase) {str, code, CG_VERSTAT_##vs, text, ecase},
    CG_REASON_MAP(CG_R_ROW)
#undef CG_R_ROW
};

const char *cg_reason_name(enum cg_reason r)
{
    return (unsigned)r < CG_R__COUNT ? rows[r].name : "unknown";
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

enum cg_verstat cg_reason_verstat(enum cg_reason r)
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
