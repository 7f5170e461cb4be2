/*
 * Internal: ECDSA P-256 verification with a table for the signer's key
 * (fastverify.c), and the promotion of busy keys to it (fastkeys.c).
 */
#ifndef CG_CRYPTO_FASTVERIFY_H
#define CG_CRYPTO_FASTVERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "cidguard/key.h"

/* --- One key's table (fastverify.c; absent when OpenSSL lacks the API) --- */

struct cg__fktab;
/* Whether tables can be built at all in this build. */
bool cg__fktab_available(void);
/* Builds the table for the public point `pub` (SEC1 octets, on P-256):
 * tens of milliseconds; CG_EKEY for a point that is not on the curve,
 * CG_EUNSUPPORTED when tables are not available. */
int cg__fktab_new(struct cg__fktab **out, const unsigned char *pub, size_t len);
void cg__fktab_free(struct cg__fktab *t);
/* The ECDSA verification of the SHA-256 digest `md` and R||S `sig`: CG_OK
 * with *valid set exactly as EVP_PKEY_verify would decide, or an error when
 * OpenSSL fails (the caller then asks EVP). */
int cg__fktab_verify(const struct cg__fktab *t, const unsigned char md[32],
                     const unsigned char sig[64], bool *valid);

/* --- Busy keys and their tables (fastkeys.c) ------------------------------ */

/* A key's link to its entry among the busy keys; lives in struct cg_key. */
struct cg__fkent;
/*
 * The call path: verifies with the key's table when it has one (true, with
 * *valid set), else counts the call towards the key's promotion and returns
 * false (the caller verifies with EVP).  Lock-free after the key's first
 * call, which attaches it to its entry.
 */
bool cg__fk_verify(struct cg__fkent *_Atomic *slot, EVP_PKEY *pkey, const unsigned char md[32],
                   const unsigned char sig[64], bool *valid);
/* Counts one call verified with EVP (for the metrics). */
void cg__fk_count_evp(void);
/* A key is freed: drops its link. */
void cg__fk_detach(struct cg__fkent *e);
/* Builds the key's table now, on the calling thread (benchmarks, tests). */
int cg__fk_promote_now(struct cg__fkent *_Atomic *slot, EVP_PKEY *pkey);

#endif
