/* Internal: the OpenSSL-side definition of a certificate bundle. */
#ifndef CG_X509_X509_H
#define CG_X509_X509_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/x509.h>

#include "cidguard/cert.h"

struct cg_chain {
    atomic_int refs;
    X509 *leaf;
    STACK_OF(X509) * inter; /* the other certificates of the bundle */
    struct cg_key *key;     /* the leaf's public key, parsed once */
    struct cg_cert_info info;
    /* Validation cache: the chain validated against trust `trust_id` for
     * any time in [ok_from, ok_until].  One slot, guarded by `lock`. */
    pthread_mutex_t lock;
    uint64_t trust_id;
    int64_t ok_from, ok_until;
};

/* The TNAuthList extension of `x` (NULL when absent); *critical set. */
const ASN1_OCTET_STRING *cg__tnauth_ext(X509 *x, int *critical);
int64_t cg__asn1_time_to_epoch(const ASN1_TIME *t);

#endif
