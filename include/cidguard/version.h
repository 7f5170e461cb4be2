/*
 * The library's version.  The macros describe the headers a program was
 * compiled against; cg_version() and cg_version_number() describe the
 * library it runs with, so a program can refuse a library older than the
 * headers it was built with.  The build checks that these numbers match the
 * version in CMakeLists.txt.
 */
#ifndef CIDGUARD_VERSION_H
#define CIDGUARD_VERSION_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_VERSION_MAJOR 0
#define CG_VERSION_MINOR 1
#define CG_VERSION_PATCH 0

#define CG_VERSION_STRINGIFY_(x) #x
#define CG_VERSION_STRINGIFY(x) CG_VERSION_STRINGIFY_(x)
/* "MAJOR.MINOR.PATCH" */
#define CG_VERSION_STRING                                                                          \
    CG_VERSION_STRINGIFY(CG_VERSION_MAJOR)                                                         \
    "." CG_VERSION_STRINGIFY(CG_VERSION_MINOR) "." CG_VERSION_STRINGIFY(CG_VERSION_PATCH)
/* 0xMMmmpp: one byte each, so versions compare as integers. */
#define CG_VERSION_HEX ((CG_VERSION_MAJOR << 16) | (CG_VERSION_MINOR << 8) | CG_VERSION_PATCH)

/* The running library's version, "MAJOR.MINOR.PATCH". */
CG_EXTERN const char *cg_version(void);
/* The running library's CG_VERSION_HEX. */
CG_EXTERN unsigned cg_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
