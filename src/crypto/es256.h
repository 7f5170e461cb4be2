/* Internal: the OpenSSL side of cg_key, for the x509 module. */
#ifndef CG_CRYPTO_ES256_H
#define CG_CRYPTO_ES256_H

#include <openssl/evp.h>

#include "cidguard/key.h"

/* Wraps `pkey` (reference taken over) after checking it is EC P-256. */
int cg__key_wrap(struct cg_key **out, EVP_PKEY *pkey, bool priv);
EVP_PKEY *cg__key_pkey(const struct cg_key *k);
bool cg__pkey_is_p256(EVP_PKEY *pkey);

#endif
