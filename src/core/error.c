#include "cidguard/error.h"

const char *cg_strerror(int err)
{
    switch (err) {
#define CG_ERR_STR(name, num, text)                                                                \
    case num:                                                                                      \
        return text;
        CG_ERRNO_MAP(CG_ERR_STR)
#undef CG_ERR_STR
    }
    return "unknown error";
}

const char *cg_errname(int err)
{
    switch (err) {
#define CG_ERR_NAME(name, num, text)                                                               \
    case num:                                                                                      \
        return #name;
        CG_ERRNO_MAP(CG_ERR_NAME)
#undef CG_ERR_NAME
    }
    return "UNKNOWN";
}
