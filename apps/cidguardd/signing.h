/*
 * Who may be signed for, what, and at what attestation: the entitlement
 * check and the origination policy shared by the SIP signing listener and
 * the HTTP signing API.  A caller is a customer of the customers file,
 * known by its bearer token (HTTP), its TLS client certificate or its
 * source address; anyone else is refused (403), unless [sign] sign_unknown
 * asks for C-attested signatures for strangers.  An SBC listed in [sign]
 * customer_from signs for many customers from one address: it names the
 * customer of each call (Cidguard-Customer: NAME), and that customer is
 * the caller for everything below; a name the file lacks is refused.
 * Then the library's origination rules (cg_policy_originate) judge the
 * call's numbers and the customer's recent calls: a call they block is
 * never signed, one they label is signed at C.  Every refusal leaves an
 * audit line in the log.
 */
#ifndef CIDGUARDD_SIGNING_H
#define CIDGUARDD_SIGNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "metrics.h"

struct cgd_sign_req {
    enum cgd_listener listener;
    const void *addr;       /* the client's struct sockaddr */
    const char *cert_names; /* a verified TLS client certificate's names ("a;b"), or NULL/"" */
    const char *bearer;     /* HTTP Authorization bearer token, or NULL */
    size_t bearer_len;
    const char *orig;      /* the number to sign: the network number, canonical */
    const char *presented; /* the presentation number (From) when another, or NULL */
    const char *ingress;   /* the call's ingress name, or NULL */
    const char *const *dest;
    size_t ndest;
    char attest;         /* asked for; 0: the most the caller is entitled to */
    int64_t iat;         /* asked for; 0: now */
    const char *call_id; /* the SIP Call-ID, for the signing log; NULL over HTTP */
    /* The customer a Cidguard-Customer header names (cgd_customer_header),
     * or NULL; named_bad: the header is there but names no one readably
     * (twice, folded, empty, too long, a control character).  Both are
     * heeded only from a peer of [sign] customer_from, and then instead of
     * the peer's own address or certificate; never with a bearer token. */
    const char *named;
    bool named_bad;
};

/* What cgd_sign decided, for the answer and the signing log. */
struct cgd_signed {
    char *identity;                 /* on CGD_SIGN_OK: the Identity header value (free it) */
    char attest;                    /* the attestation used */
    char origid[CG_ORIGID_MAX + 1]; /* the origid it carries ([sign] origid) */
    /* the origination policy's decision (action, reasons by number), also
     * on CGD_SIGN_POLICY */
    struct cg_decision decision;
    /* CGD_SIGN_UNKNOWN_CLIENT because a trusted SBC named a customer the
     * customers file lacks (or named one unreadably) */
    bool unknown_named;
};

/*
 * Reads the value of a Cidguard-Customer header (`n` bytes at `v`) into
 * `out` as a customer name: spaces and tabs around it dropped, then 1 to
 * CG_CUSTOMER_NAME_MAX bytes without a control character.  False (and
 * out "") when it cannot be one.
 */
bool cgd_customer_header(const char *v, size_t n, char out[CG_CUSTOMER_NAME_MAX + 1]);

/*
 * Decides who is asking, whether the call may be signed, and signs.  On
 * CGD_SIGN_OK, out->identity is the Identity header value and out->attest
 * the attestation used, never more than the caller's entitlement (A for a
 * customer's own numbers, B for its others, C for strangers when allowed)
 * and C when the origination policy labels the call.  CGD_SIGN_POLICY:
 * the policy blocks it (out->decision says why).  Every other outcome is
 * logged as an audit line and counted.
 */
enum cgd_sign_outcome cgd_sign(const struct cgd_ctx *ctx, const struct cgd_sign_req *r,
                               struct cgd_signed *out);

#endif
