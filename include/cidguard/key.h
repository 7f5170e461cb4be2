/*
 * ES256 keys (ECDSA on P-256).  Load once, use from any thread: a cg_key is
 * immutable after loading.  Parsing a PEM key costs hundreds of
 * microseconds, several times the signature itself, so never load per call.
 */
#ifndef CIDGUARD_KEY_H
#define CIDGUARD_KEY_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cg_key;

/* Loads a PEM private key (PKCS#8 or SEC1), public key (SPKI) or
 * certificate (its public key).  CG_EKEY if it is not a P-256 EC key. */
int cg_key_load_pem(struct cg_key **out, const char *pem, size_t len);
int cg_key_load_file(struct cg_key **out, const char *path);
bool cg_key_is_private(const struct cg_key *k);
void cg_key_free(struct cg_key *k);

/* Writes the public key as SPKI PEM into a malloc'ed string. */
int cg_key_public_pem(const struct cg_key *k, char **out);

/*
 * JWS ES256 over `data`: `sig` receives the 64-byte R||S form (RFC 7518
 * section 3.4).  Thread-safe.
 */
int cg_es256_sign(const struct cg_key *k, const void *data, size_t len, unsigned char sig[64]);
/* Returns CG_OK and sets *valid; an error only when OpenSSL itself fails. */
int cg_es256_verify(const struct cg_key *k, const void *data, size_t len,
                    const unsigned char sig[64], bool *valid);

#ifdef __cplusplus
}
#endif
#endif
