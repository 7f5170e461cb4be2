/*
 * PASSporT (RFC 8225) with the SHAKEN (RFC 8588), div (RFC 8946) and rcd
 * (RFC 9795) extensions: decoding received tokens strictly, and building the
 * canonical JSON for tokens we sign.
 *
 * Decoding never re-serializes: the verifier checks the signature over the
 * received base64url bytes, and the JSON is parsed only to check the claims.
 */
#ifndef CIDGUARD_PASSPORT_H
#define CIDGUARD_PASSPORT_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "tn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on what a decoded PASSporT may hold. */
#define CG_PASSPORT_DEST_MAX 16   /* dest.tn and dest.uri entries each */
#define CG_PASSPORT_JSON_DEPTH 12 /* jCards nest about 5 deep */
#define CG_PASSPORT_JSON_MAX 8192 /* decoded header or payload bytes */
#define CG_ORIGID_MAX 128
#define CG_URI_MAX 256

enum cg_ppt { CG_PPT_NONE = 0, CG_PPT_SHAKEN, CG_PPT_DIV, CG_PPT_RCD };

/* The Rich Call Data claims (RFC 9795).  Strings are owned by the passport
 * and freed by cg_passport_clear(); jcd and rcdi keep their JSON text. */
struct cg_rcd {
    bool present;
    char *nam;  /* display name */
    char *apn;  /* alternate presentation number */
    char *icn;  /* icon URL */
    char *jcd;  /* inline jCard, JSON text */
    char *jcl;  /* jCard URL */
    char *crn;  /* call reason (top-level claim) */
    char *rcdi; /* integrity: JSON text of the object, or the bare string (draft form) */
};

struct cg_passport {
    /* JOSE protected header */
    char alg[CG_PARAM_MAX + 1];
    char typ[CG_PARAM_MAX + 1];
    char ppt_name[CG_PARAM_MAX + 1];
    enum cg_ppt ppt;
    char x5u[CG_URL_MAX + 1];
    /* base claims */
    char orig_tn[CG_TN_MAX + 1]; /* "" when orig is a uri */
    char orig_uri[CG_URI_MAX + 1];
    size_t ndest_tn, ndest_uri;
    char dest_tn[CG_PASSPORT_DEST_MAX][CG_TN_MAX + 1];
    char dest_uri[CG_PASSPORT_DEST_MAX][CG_URI_MAX + 1];
    int64_t iat;
    /* SHAKEN */
    char attest; /* 'A', 'B', 'C' or 0 */
    char origid[CG_ORIGID_MAX + 1];
    /* div */
    char div_tn[CG_TN_MAX + 1];
    /* rcd */
    struct cg_rcd rcd;
};

/*
 * What was wrong with a token, in terms the verifier maps to RFC 8224 codes.
 */
enum cg_passport_fault {
    CG_PF_NONE = 0,
    CG_PF_FORM,        /* not three base64url parts, or compact form */
    CG_PF_HDR_JSON,    /* header is not a JSON object / bad base64url */
    CG_PF_HDR_MISSING, /* alg, typ, ppt or x5u missing or not a string */
    CG_PF_TYP,         /* typ is not "passport" */
    CG_PF_ALG,         /* alg is not "ES256" */
    CG_PF_PPT,         /* ppt unsupported */
    CG_PF_CLAIMS,      /* payload JSON, claim missing or of the wrong type */
    CG_PF_ATTEST,      /* attest is not exactly "A", "B" or "C" */
    CG_PF_SIG_FORM,    /* signature is not 64 bytes of base64url */
};

/*
 * Decodes a full-form token.  On CG_OK, `out` holds the header and claims,
 * and `sig` (64 bytes) holds the raw R||S signature; *signed_len is the
 * length of "hdr.payload", the bytes the signature covers, at the start of
 * `tok`.  On a malformed token returns CG_EPARSE (or CG_ETOOBIG) and sets
 * *fault and *why (a static sentence); CG_ENOMEM is an error proper.
 *
 * Checks: JSON strictness (no duplicate members, depth and size limits,
 * iat an integer), the claims ppt requires (shaken: attest, dest, iat, orig,
 * origid; div: dest, div, iat, orig), tn values canonical.
 *
 * `out` must be cleared with cg_passport_clear() after CG_OK; on failure
 * nothing needs freeing.
 */
CG_EXTERN int cg_passport_decode(const char *tok, size_t len, struct cg_passport *out,
                                 unsigned char sig[64], size_t *signed_len,
                                 enum cg_passport_fault *fault, const char **why);

CG_EXTERN void cg_passport_clear(struct cg_passport *p);

/*
 * For people and tools (cidguard inspect), not for verification: the
 * decoded text of part 0 (JOSE header) or 1 (claims) of a token, in a
 * malloc'ed NUL-terminated string.  CG_EPARSE for bad base64url or a token
 * without that part, CG_ETOOBIG past CG_PASSPORT_JSON_MAX.
 */
CG_EXTERN int cg_passport_part_text(const char *tok, size_t len, int part, char **out);

/*
 * Canonical JSON (RFC 8225 section 9: sorted members at every level, no
 * whitespace, integer iat) for the protected header and the claims of `p`.
 * Each output string is malloc'ed; the caller frees it.  rcd.jcd and
 * rcd.rcdi, when set, must hold valid JSON (they are re-serialized
 * canonically).  Returns CG_OK, CG_EINVAL (missing or invalid field),
 * CG_ENOMEM.
 */
CG_EXTERN int cg_passport_encode(const struct cg_passport *p, char **hdr_json, char **payload_json);

#ifdef __cplusplus
}
#endif
#endif
