/*
 * SIP for a redirect server (RFC 3261 where a redirect server needs it):
 * parsing a request into the parts cidguard uses, framing requests on a
 * stream, and building responses that copy Via, From, To, Call-ID and CSeq.
 * The parser is hand-written (src/sip/sip.c says why): header values are
 * kept as the request's own text, unfolded and trimmed, with compact
 * header names, Via lists and the RFC 3261 limits understood.
 */
#ifndef CIDGUARD_SIP_H
#define CIDGUARD_SIP_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_SIP_MSG_MAX 65535   /* largest request accepted (a UDP datagram) */
#define CG_SIP_HEADERS_MAX 128 /* more header lines than this: refused */
#define CG_SIP_VIA_MAX 16
#define CG_SIP_IDENTITY_MAX 8
/* longer method names: refused (any token up to this is a method) */
#define CG_SIP_METHOD_MAX 256

struct cg_sip_req {
    const char *method; /* "INVITE", "OPTIONS", ... */
    const char *ruri;   /* Request-URI */
    const char *via[CG_SIP_VIA_MAX];
    size_t nvia;
    const char *from, *to; /* whole header values (name-addr and params) */
    const char *call_id;
    const char *cseq;     /* "1 INVITE" */
    const char *pai;      /* first P-Asserted-Identity, or NULL */
    const char *pai_more; /* a second P-Asserted-Identity (RFC 3325: at most two), or NULL */
    const char *identity[CG_SIP_IDENTITY_MAX]; /* Identity and compact "y" headers */
    size_t nidentity;
    const char *branch; /* top Via branch, or "" */
    const char *to_tag; /* or NULL */
    char *arena;        /* owns every string above */
};

/*
 * Parses one request.  CG_OK fills `out` (free with cg_sip_req_clear);
 * CG_EPARSE / CG_ETOOBIG with *why for malformed requests or ones that
 * break a limit (size, header count, method or Request-URI length,
 * missing Via/From/To/Call-ID/CSeq).  The method is any RFC 3261 token up
 * to CG_SIP_METHOD_MAX bytes.  The Request-URI is held to RFC 3261's URI
 * grammar (a scheme; for sip and sips no headers; no whitespace, quotes,
 * angle brackets or other characters outside the URI character classes;
 * escapes well formed) and at most CG_URL_MAX bytes, so that it can be
 * copied into a Contact as it is.  From and To must be a name-addr or an
 * addr-spec with well-formed parameters; the CSeq number is below 2^31.
 * A fault in the request line (other than a first word that is not a
 * token, which is no request), From, To or CSeq is reported after every
 * header is read, so that the request can still be answered.
 * `out` is valid after an error only for building a 400 when
 * cg_sip_req_answerable() says so (method and ruri may then be NULL).
 */
CG_EXTERN int cg_sip_parse_request(const char *msg, size_t len, struct cg_sip_req *out,
                                   const char **why);
/* True when enough of a failed parse survived to send a 400 back. */
CG_EXTERN int cg_sip_req_answerable(const struct cg_sip_req *r);
CG_EXTERN void cg_sip_req_clear(struct cg_sip_req *r);

/*
 * Stream framing (SIP over TCP, RFC 3261 section 18.3): the length of the
 * first complete message in `buf`, 0 when more bytes are needed, or a
 * negative cg_err when the stream is unusable (no or bad Content-Length,
 * headers over CG_SIP_MSG_MAX).  Lines may end in CR LF or a bare LF, as
 * for the parser; Content-Length is the header of that name or "l", the
 * name matched whole in any case.  Leading CRLF (or LF) keep-alives are
 * counted in *skip and should be dropped.
 */
CG_EXTERN long cg_sip_frame(const char *buf, size_t len, size_t *skip);

/*
 * Builds a response to `req`: status line, every Via, From, To (with a
 * To-tag derived from Call-ID and branch when the request had none, so
 * that retransmissions get the same tag), Call-ID, CSeq, then `extra`
 * header lines (each "Name: value", no CRLF), Content-Length: 0.  The
 * result is malloc'ed.  CG_EINVAL when the phrase, an extra line or a
 * copied value holds a CR or LF (none does in a parsed request), or the
 * code is not 100-699.
 */
CG_EXTERN int cg_sip_response(const struct cg_sip_req *req, int code, const char *phrase,
                              const char *const *extra, size_t nextra, char **out, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
