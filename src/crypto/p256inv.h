#ifndef CG_CRYPTO_P256INV_H
#define CG_CRYPTO_P256INV_H

/* a^-1 mod n, n the order of P-256, for 1 <= a <= n-1; 32 bytes big-endian
 * each.  Variable time: for public values only (a signature's s). */
void cg__p256_inv_mod_n(const unsigned char a_be[32], unsigned char out_be[32]);

#endif
