/*
 * ES256 keys (ECDSA on P-256).  Load once, use from any thread: a cg_key is
 * immutable after loading.  Parsing a PEM key costs hundreds of
 * microseconds, several times the signature itself, so never load per call.
 */
#ifndef CIDGUARD_KEY_H
#define CIDGUARD_KEY_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cg_key;

/* Loads a PEM private key (PKCS#8 or SEC1), public key (SPKI) or
 * certificate (its public key).  CG_EKEY if it is not a P-256 EC key. */
CG_EXTERN int cg_key_load_pem(struct cg_key **out, const char *pem, size_t len);
CG_EXTERN int cg_key_load_file(struct cg_key **out, const char *path);
CG_EXTERN bool cg_key_is_private(const struct cg_key *k);
CG_EXTERN void cg_key_free(struct cg_key *k);

/* Writes the public key as SPKI PEM into a malloc'ed string. */
CG_EXTERN int cg_key_public_pem(const struct cg_key *k, char **out);

/*
 * JWS ES256 over `data`: `sig` receives the 64-byte R||S form (RFC 7518
 * section 3.4).  Thread-safe.
 */
CG_EXTERN int cg_es256_sign(const struct cg_key *k, const void *data, size_t len,
                            unsigned char sig[64]);
/* Returns CG_OK and sets *valid; an error only when OpenSSL itself fails. */
CG_EXTERN int cg_es256_verify(const struct cg_key *k, const void *data, size_t len,
                              const unsigned char sig[64], bool *valid);

/*
 * Busy keys.  Verifying with a key costs mostly the multiplication by the
 * key itself, which OpenSSL does without a table.  A key that has verified
 * `promote_after` calls gets a table of its own (about 160 KB, built in
 * tens of milliseconds on a background thread), and its later calls verify
 * in about half the time, with the same answer for every input.  The
 * tables share a budget of `max_bytes`; when a busier key needs room, the
 * least busy key's table goes.  Process-wide: every cg_key with the same
 * public key shares one table.  A budget of 0 turns tables off.
 */
#define CG_FASTKEYS_DEFAULT_MB 64
#define CG_FASTKEYS_DEFAULT_AFTER 1000
/* Sets the budget and the threshold (> 0); may be called again at any time
 * (a smaller budget evicts within a second). */
CG_EXTERN int cg_fastkeys_configure(size_t max_bytes, unsigned promote_after);
/* Whether this build has tables at all (OpenSSL's EC_GROUP_precompute_mult
 * was found at configure time). */
CG_EXTERN bool cg_fastkeys_available(void);
/* Builds k's table now on the calling thread, whatever its calls so far
 * (benchmarks and tests): CG_EUNSUPPORTED without tables. */
CG_EXTERN int cg_key_promote(const struct cg_key *k);
struct cg_fastkeys_stats {
    size_t tables;                 /* tables in use */
    size_t bytes, max_bytes;       /* what they are charged, the budget */
    size_t table_bytes;            /* the charge of one table */
    unsigned long long built;      /* tables built */
    unsigned long long evicted;    /* tables dropped for a busier key or the budget */
    unsigned long long failed;     /* keys whose table could not be built */
    unsigned long long fast_calls; /* calls verified with a table */
    unsigned long long evp_calls;  /* calls verified without */
};
CG_EXTERN void cg_fastkeys_stats(struct cg_fastkeys_stats *out);

#ifdef __cplusplus
}
#endif
#endif
