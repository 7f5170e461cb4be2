/*
 * The authentication service (STI-AS): builds and signs SHAKEN PASSporTs and
 * returns the Identity header value.  It never decides attestation itself:
 * the caller says A, B or C from what it knows of its customer.
 */
#ifndef CIDGUARD_SIGN_H
#define CIDGUARD_SIGN_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "passport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_signer;

/* `key` is borrowed and must outlive the signer; `x5u` is copied.  The key
 * must be private; x5u must be an https (or, for labs, http) URL. */
CG_EXTERN int cg_signer_new(struct cg_signer **out, const struct cg_key *key, const char *x5u);
CG_EXTERN void cg_signer_free(struct cg_signer *s);

struct cg_sign_request {
    const char *orig;        /* a number in any form cg_tn_canon accepts */
    const char *const *dest; /* one or more numbers */
    size_t ndest;
    char attest;                   /* 'A', 'B' or 'C' (shaken) */
    const char *origid;            /* NULL: a fresh random UUID */
    int64_t iat;                   /* 0: now */
    enum cg_ppt ppt;               /* CG_PPT_SHAKEN (default when NONE) or CG_PPT_DIV */
    const char *div;               /* div only: the original called number */
    const struct cg_rcd *rcd;      /* optional RCD claims (shaken or rcd ppt) */
    const struct cg_tn_plan *plan; /* for national-format numbers; NULL: none */
};

/*
 * Signs and returns "hdr.payload.sig;info=<x5u>;alg=ES256;ppt=..." in a
 * malloc'ed string.  CG_EINVAL with *why on a bad request.  Thread-safe.
 */
CG_EXTERN int cg_sign(const struct cg_signer *s, const struct cg_sign_request *req, char **identity,
                      const char **why);

/* A random (version 4) UUID, 36 characters plus NUL. */
CG_EXTERN int cg_uuid4(char out[37]);

#ifdef __cplusplus
}
#endif
#endif
