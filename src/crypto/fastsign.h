/*
 * Internal: ECDSA P-256 signing with nonces prepared in batches
 * (fastsign.c; absent when OpenSSL lacks the API, and then every signature
 * goes through EVP).
 */
#ifndef CG_CRYPTO_FASTSIGN_H
#define CG_CRYPTO_FASTSIGN_H

#include <openssl/evp.h>

/* A private key's signing state; lives in struct cg_key. */
struct cg__fssigner;

/* For a P-256 private key whose scalar OpenSSL can hand over (not one kept
 * in a hardware provider): CG_OK, else CG_EUNSUPPORTED and the caller signs
 * with EVP. */
int cg__fs_new(struct cg__fssigner **out, EVP_PKEY *pkey);
void cg__fs_free(struct cg__fssigner *s);
/* R||S over the SHA-256 digest `md`: CG_OK, or an error when OpenSSL fails
 * (the caller then signs with EVP). */
int cg__fs_sign(const struct cg__fssigner *s, const unsigned char md[32], unsigned char sig[64]);
/* Signatures made with prepared nonces on the calling thread (tests). */
unsigned long cg__fs_signed_here(void);

#endif
