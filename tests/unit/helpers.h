/* Shared fixtures for the unit tests: a temporary test PKI, hand-built
 * tokens (for malformed cases no signer would produce), and a verifier
 * wired to them. */
#ifndef CG_TEST_HELPERS_H
#define CG_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cidguard/cidguard.h"

#define TH_X5U "https://cert.example.net/sp-1234.pem"
#define TH_ORIG "442079460000"
#define TH_DEST "14155550100"

/* A test PKI (SPCs 1234 and 567A) created once per process, removed at exit. */
const char *th_pki(void);
/* "<pki>/<name>" in a static buffer (one at a time). */
const char *th_file(const char *name);
/* b64(hdr) "." b64(payload) "." b64(ES256 over them) with `keyname`'s key
 * from the PKI ("sp-1234.key"); malloc'ed. */
char *th_token(const char *hdr, const char *payload, const char *keyname);
/* token ";info=<x5u>;alg=ES256;ppt=shaken", malloc'ed. */
char *th_header(const char *token, const char *x5u);
/* A canonical SHAKEN payload with the given iat and attest. */
char *th_payload(int64_t iat, const char *attest, const char *orig, const char *dest);
#define TH_HDR "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" TH_X5U "\"}"

/* A verifier trusting the PKI root, with the CRL, serving `bundle` (e.g.
 * "sp-1234.pem") for every x5u.  Free with th_env_free. */
struct th_env {
    struct cg_trust *trust;
    struct cg_certmap *map;
    struct cg_verifier *v;
};
void th_env_init(struct th_env *e, const char *bundle, bool with_crl, unsigned trust_flags);
void th_env_free(struct th_env *e);
/* Verifies one header value for TH_ORIG -> TH_DEST at time `now`. */
struct cg_verdict th_verify(struct th_env *e, const char *identity, int64_t now);

#endif
