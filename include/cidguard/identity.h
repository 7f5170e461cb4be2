/*
 * The SIP Identity header, RFC 8224 section 4.1.
 *
 *   Identity: <hdr>.<payload>.<sig>;info=<https://...>;alg=ES256;ppt=shaken
 *
 * The parser is tolerant of what real networks send (parameters in any
 * order, quoted values, missing alg, a missing ';' before alg as old Asterisk
 * emitted, folding whitespace, the compact header name "y") and strict about
 * what matters: the token must be the full form and may not exceed
 * CG_IDENTITY_MAX; info, alg and ppt may each appear once.
 */
#ifndef CIDGUARD_IDENTITY_H
#define CIDGUARD_IDENTITY_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest Identity header value accepted (RCD tokens with jCards are a few
 * KB; anything past this is an attack or a bug). */
#define CG_IDENTITY_MAX 16384
/* Longest info/x5u URL. */
#define CG_URL_MAX 1024
#define CG_PARAM_MAX 32

struct cg_identity {
    const char *token; /* borrowed: points into the parsed input */
    size_t token_len;  /* "hdr.payload.sig" */
    bool compact;      /* token has an empty header or payload ("..sig") */
    bool has_info, has_alg, has_ppt;
    char info[CG_URL_MAX + 1]; /* without the angle brackets */
    char alg[CG_PARAM_MAX + 1];
    char ppt[CG_PARAM_MAX + 1]; /* unquoted */
};

/*
 * Parses one Identity header value (the part after "Identity:"; a leading
 * "Identity:" or "y:" header name is also accepted and skipped).
 *
 * Returns CG_OK and fills `out`; CG_EPARSE with *why set to a static
 * sentence when the syntax is wrong; CG_ETOOBIG past CG_IDENTITY_MAX or a
 * field limit.  `out->token` borrows from `in`, which must outlive it.
 */
CG_EXTERN int cg_identity_parse(const char *in, size_t len, struct cg_identity *out,
                                const char **why);

/*
 * Formats "token;info=<x5u>;alg=ES256;ppt=PPT" into a new string the caller
 * frees with free().  Returns CG_OK or CG_ENOMEM/CG_EINVAL.
 */
CG_EXTERN int cg_identity_format(const char *token, const char *x5u, const char *ppt, char **out);

#ifdef __cplusplus
}
#endif
#endif
