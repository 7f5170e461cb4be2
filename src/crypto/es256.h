/* Internal: the OpenSSL side of cg_key, for the x509 module. */
#ifndef CG_CRYPTO_ES256_H
#define CG_CRYPTO_ES256_H

#include <openssl/evp.h>

#include "cidguard/key.h"

/* Wraps `pkey` (reference taken over) after checking it is EC P-256. */
int cg__key_wrap(struct cg_key **out, EVP_PKEY *pkey, bool priv);
EVP_PKEY *cg__key_pkey(const struct cg_key *k);
bool cg__pkey_is_p256(EVP_PKEY *pkey);
/* ES256 over a SHA-256 digest: with the key's table when it has one, else
 * with EVP (which counts towards a table); and with EVP only. */
int cg__es256_verify_digest(const struct cg_key *k, const unsigned char md[32],
                            const unsigned char sig[64], bool *valid);
/* ES256 signature of a SHA-256 digest through EVP alone, without the
 * prepared nonces (fastsign.c): the fallback, and the comparison for tests
 * and benchmarks. */
int cg__es256_sign_digest_evp(const struct cg_key *k, const unsigned char md[32],
                              unsigned char sig[64]);
/* Whether this build signs with prepared nonces, and how many signatures
 * the calling thread made with them (tests). */
bool cg__es256_fast_sign_available(void);
unsigned long cg__es256_fast_signed(void);
int cg__es256_verify_digest_evp(const struct cg_key *k, const unsigned char md[32],
                                const unsigned char sig[64], bool *valid);

#endif
