/*
 * The ATIS-1000082 REST shapes, shared by the CLI's --batch and the
 * daemon's HTTP API: parsing verificationRequest bodies, and writing the
 * verdict and serviceException objects.
 */
#ifndef CIDGUARD_ATIS_H
#define CIDGUARD_ATIS_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_ATIS_BODY_MAX 65536
#define CG_ATIS_INGRESS_MAX 64
#define CG_ATIS_CALL_ID_MAX 128

/* A request-level failure: the API call itself was malformed (not a
 * verdict).  message_id is "SVC4001" etc., http_status the matching code. */
struct cg_atis_error {
    const char *message_id;
    int http_status;
    const char *text;  /* "Error: Missing mandatory parameter '%1'." */
    char variable[32]; /* the %1, e.g. "to" */
};

#define CG_ATIS_TO_MORE 7 /* to.tn values after the first (8 in all) */

struct cg_atis_verify_req {
    char from[CG_TN_MAX + 1];                     /* canonical */
    char to[CG_TN_MAX + 1];                       /* canonical, the first to.tn */
    char to_more[CG_ATIS_TO_MORE][CG_TN_MAX + 1]; /* the other to.tn values */
    size_t nto_more;
    int64_t time;
    char *identity;                        /* owned */
    char ingress[CG_ATIS_INGRESS_MAX + 1]; /* extension member, "" if absent */
    /* extension member "callId": the SIP Call-ID of the call the request
     * verifies, printable ASCII without spaces; "" if absent */
    char call_id[CG_ATIS_CALL_ID_MAX + 1];
    /* extension member "presentation": {"tn": N}, the number the callee is
     * shown (From's) when it is not from.tn (the network number, P-Asserted-
     * Identity's); canonical, "" if absent */
    char presentation[CG_TN_MAX + 1];
};

/*
 * Parses {"verificationRequest":{"from":{"tn":..},"to":{"tn":[..]},"time":N,
 * "identity":".."}}.  Returns CG_OK and fills `req` (free with
 * cg_atis_verify_req_clear), or CG_EPARSE with `err` describing the
 * SVC4001 (missing), SVC4005 (invalid value) or SVC4006 (JSON) exception;
 * CG_ENOMEM is an error proper.  Numbers are canonicalized with `plan`.
 */
CG_EXTERN int cg_atis_parse_verify(const char *body, size_t len, const struct cg_tn_plan *plan,
                                   struct cg_atis_verify_req *req, struct cg_atis_error *err);
CG_EXTERN void cg_atis_verify_req_clear(struct cg_atis_verify_req *req);

struct cg_atis_sign_req {
    char attest;              /* 'A', 'B' or 'C' */
    char orig[CG_TN_MAX + 1]; /* canonical */
    char dest[CG_PASSPORT_DEST_MAX][CG_TN_MAX + 1];
    size_t ndest;
    int64_t iat;                    /* 0 when absent: now */
    char origid[CG_ORIGID_MAX + 1]; /* "" when absent: a fresh UUID */
    /* extension member "presentation": {"tn": N}, the number the callee
     * will be shown when it is not orig; canonical, "" if absent */
    char presentation[CG_TN_MAX + 1];
};

/* Parses {"signingRequest":{"attest":..,"dest":{"tn":[..]},"iat":N,
 * "orig":{"tn":..},"origid":..}}; errors as for cg_atis_parse_verify. */
CG_EXTERN int cg_atis_parse_sign(const char *body, size_t len, const struct cg_tn_plan *plan,
                                 struct cg_atis_sign_req *req, struct cg_atis_error *err);

/* {"requestError":{"serviceException":{"messageId":..,"text":..,"variables":[..]}}} */
CG_EXTERN int cg_atis_error_json(const struct cg_atis_error *e, char **out);

/* The verify object of `cidguard verify` (docs/cli.md): verstat,
 * reason_code, reason, reason_name, detail, attest, origid, spc, orig, dest,
 * iat, x5u, orig_match, dest_match, identity_index, warnings.  One line,
 * malloc'ed. */
CG_EXTERN int cg_verdict_json(const struct cg_verdict *v, char **out);

#ifdef __cplusplus
}
#endif
#endif
