/*
 * Verifies one SIP Identity header with libcidguard, as a program that only
 * verifies would: the certificate chain comes from a file instead of being
 * fetched from the x5u URL, and the trust anchors (and optionally a CRL)
 * from PEM files.
 *
 *   verify IDENTITY FROM TO CHAIN.pem ROOTS.pem [CRL.pem]
 *
 * Prints the verdict; exits 0 when the call is TN-Validation-Passed, 1 when
 * it is not, 2 on bad usage or an error.
 */
#include <stdio.h>
#include <string.h>

#include <cidguard/error.h>
#include <cidguard/verify.h>
#include <cidguard/version.h>

int main(int argc, char **argv)
{
    struct cg_trust *trust = NULL;
    struct cg_chain *chain = NULL;
    struct cg_certmap *map = NULL;
    struct cg_verifier *verifier = NULL;
    struct cg_verify_config cfg = {0};
    struct cg_call call = {0};
    struct cg_verdict v;
    const char *identity, *why = NULL;
    int rc, status = 2;

    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: %s IDENTITY FROM TO CHAIN.pem ROOTS.pem [CRL.pem]\n", argv[0]);
        return 2;
    }
    /* The headers this program was compiled with must not be newer than
     * the library it runs with. */
    if (cg_version_number() < CG_VERSION_HEX) {
        fprintf(stderr, "libcidguard %s is older than its headers (%s)\n", cg_version(),
                CG_VERSION_STRING);
        return 2;
    }
    identity = argv[1];
    if ((rc = cg_trust_new(&trust, 0)) != CG_OK ||
        (rc = cg_trust_add_anchors_file(trust, argv[5])) != CG_OK ||
        (argc == 7 && (rc = cg_trust_add_crl_file(trust, argv[6])) != CG_OK) ||
        (rc = cg_chain_load_file(&chain, argv[4], &why)) != CG_OK ||
        (rc = cg_certmap_new(&map)) != CG_OK ||
        /* A NULL URL stands for any x5u: the token's chain is this file. */
        (rc = cg_certmap_add(map, NULL, chain)) != CG_OK) {
        fprintf(stderr, "verify: %s%s%s\n", cg_strerror(rc), why ? ": " : "", why ? why : "");
        goto out;
    }
    cfg.trust = trust;
    cfg.certsrc = cg_certmap_source(map);
    if ((rc = cg_verifier_new(&verifier, &cfg)) != CG_OK) {
        fprintf(stderr, "verify: %s\n", cg_strerror(rc));
        goto out;
    }
    call.from = argv[2];
    call.to = argv[3];
    call.identity = &identity;
    call.nidentity = 1;
    call.bare_token = strchr(identity, ';') == NULL;
    if ((rc = cg_verify(verifier, &call, &v)) != CG_OK) {
        fprintf(stderr, "verify: %s\n", cg_strerror(rc));
        goto out;
    }
    printf("verstat=%s reason=%s attest=%c orig=%s dest=%s x5u=%s\n", cg_verstat_str(v.verstat),
           cg_reason_name(v.reason), v.attest ? v.attest : '-', v.orig, v.dest, v.x5u);
    if (v.reason != CG_R_OK)
        printf("detail=%s\n", v.detail);
    status = v.verstat == CG_VERSTAT_PASSED ? 0 : 1;
out:
    cg_verifier_free(verifier);
    cg_certmap_free(map);
    cg_chain_unref(chain);
    cg_trust_free(trust);
    return status;
}
