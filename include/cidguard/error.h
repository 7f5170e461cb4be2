/*
 * cidguard error codes: "could not decide".
 *
 * An error means the library could not do what was asked (no memory, an
 * unreadable file, bad arguments, a cryptographic library failure, input that
 * breaks a limit).  It is never used for the outcome of a check: a signature
 * that does not verify, a stale PASSporT or an untrusted certificate is a
 * *verdict* (see verify.h) produced by a call that returned CG_OK.
 *
 * The numbers are stable: they never change and are never reused.
 */
#ifndef CIDGUARD_ERROR_H
#define CIDGUARD_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_ERRNO_MAP(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(EIO, -3, "input/output error")                                                               \
    X(EPARSE, -4, "malformed input")                                                               \
    X(ETOOBIG, -5, "input exceeds a limit")                                                        \
    X(ECRYPTO, -6, "cryptographic library failure")                                                \
    X(ENOTFOUND, -7, "not found")                                                                  \
    X(EUNSUPPORTED, -8, "unsupported")                                                             \
    X(EKEY, -9, "unusable key (not an EC P-256 key, or wrong kind)")                               \
    X(ECERT, -10, "unusable certificate bundle")                                                   \
    X(ECONFLICT, -11, "changed by someone else meanwhile")

enum cg_err {
#define CG_ERR_ENUM(name, num, text) CG_##name = (num),
    CG_ERRNO_MAP(CG_ERR_ENUM)
#undef CG_ERR_ENUM
};

/* Short English text for an error code; never NULL. */
CG_EXTERN const char *cg_strerror(int err);
/* The symbol name without prefix ("ENOMEM"); never NULL. */
CG_EXTERN const char *cg_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
