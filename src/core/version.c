#include "cidguard/version.h"

/* Each component must fit its byte of CG_VERSION_HEX. */
_Static_assert(CG_VERSION_MAJOR <= 255 && CG_VERSION_MINOR <= 255 && CG_VERSION_PATCH <= 255,
               "a version component does not fit its byte of CG_VERSION_HEX");

const char *cg_version(void)
{
    return CG_VERSION_STRING;
}

unsigned cg_version_number(void)
{
    return CG_VERSION_HEX;
}
