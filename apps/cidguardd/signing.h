/*
 * Who may be signed for, and at what attestation: the entitlement check
 * shared by the SIP signing listener and the HTTP signing API.  A caller is
 * a customer of the customers file, known by its bearer token (HTTP) or
 * its source address; anyone else is refused (403), unless [sign]
 * sign_unknown asks for C-attested signatures for strangers.  Every
 * refusal leaves an audit line in the log.
 */
#ifndef CIDGUARDD_SIGNING_H
#define CIDGUARDD_SIGNING_H

#include <stdint.h>

#include "context.h"
#include "metrics.h"

struct cgd_sign_req {
    enum cgd_listener listener;
    const void *addr;       /* the client's struct sockaddr */
    const char *cert_names; /* a verified TLS client certificate's names ("a;b"), or NULL/"" */
    const char *bearer;     /* HTTP Authorization bearer token, or NULL */
    size_t bearer_len;
    const char *orig; /* canonical */
    const char *const *dest;
    size_t ndest;
    char attest;        /* asked for; 0: the most the caller is entitled to */
    int64_t iat;        /* asked for; 0: now */
    const char *origid; /* NULL: a fresh UUID */
};

/*
 * Decides who is asking and signs.  On CGD_SIGN_OK, *identity is the
 * Identity header value (free it) and *attest the attestation used, never
 * more than the caller's entitlement: A for a customer's own numbers, B for
 * its others, C for strangers when allowed.  Every other outcome is logged
 * as an audit line and counted.
 */
enum cgd_sign_outcome cgd_sign(const struct cgd_ctx *ctx, const struct cgd_sign_req *r,
                               char **identity, char *attest);

#endif
