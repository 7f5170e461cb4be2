/*
 * SHAKEN certificates (RFC 8226, ATIS-1000080): PEM bundles of a leaf and
 * its intermediates in any order, TNAuthList, trust anchors and CRLs.
 */
#ifndef CIDGUARD_CERT_H
#define CIDGUARD_CERT_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "tn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_BUNDLE_MAX 65536  /* bytes of PEM in one x5u bundle */
#define CG_BUNDLE_CERTS 8    /* certificates in one bundle */
#define CG_TNAUTH_ENTRIES 64 /* entries read from one TNAuthList */
#define CG_SPC_MAX 32

/* --- TNAuthList (RFC 8226 section 9) ------------------------------------ */

enum cg_tnauth_kind { CG_TNAUTH_SPC = 0, CG_TNAUTH_RANGE = 1, CG_TNAUTH_ONE = 2 };

struct cg_tnauth_entry {
    enum cg_tnauth_kind kind;
    char value[CG_TN_MAX + 1 > CG_SPC_MAX + 1 ? CG_TN_MAX + 1 : CG_SPC_MAX + 1];
    uint64_t count; /* ranges only */
};

struct cg_tnauth {
    size_t n;
    struct cg_tnauth_entry e[CG_TNAUTH_ENTRIES];
};

/* Parses the DER value of the TNAuthList extension (the contents of the
 * extnValue OCTET STRING).  A hand-written walk: no global OpenSSL object
 * registration, so safe from any thread.  CG_EPARSE on malformed DER. */
CG_EXTERN int cg_tnauth_parse_der(const unsigned char *der, size_t len, struct cg_tnauth *out);
/* DER for a TNAuthList holding one SPC: for building test certificates. */
CG_EXTERN int cg_tnauth_encode_spc(const char *spc, unsigned char *out, size_t outlen,
                                   size_t *written);
/* True when `tn` (canonical) is one of the TNs or inside a range. */
CG_EXTERN bool cg_tnauth_covers(const struct cg_tnauth *a, const char *tn);

/* --- Profile warnings (ATIS-1000080 lints that do not fail a call) ------ */

#define CG_WARNING_MAP(X)                                                                          \
    X(EE_CN_FORMAT, "ee_cn_format", "leaf CN is not \"SHAKEN <SPC>\"")                             \
    X(EE_KU_EXTRA, "ee_ku_extra", "leaf KeyUsage has bits other than digitalSignature")            \
    X(EE_KU_NOT_CRITICAL, "ee_ku_not_critical", "leaf KeyUsage is not critical")                   \
    X(BC_NOT_CRITICAL, "bc_not_critical", "BasicConstraints missing or not critical")              \
    X(NO_CP, "no_cp", "no SHAKEN certificate policy (2.16.840.1.114569.1.1.x)")                    \
    X(NO_CDP, "no_cdp", "no CRL distribution point")                                               \
    X(NO_CRL_ISSUER, "no_crl_issuer", "CRL distribution point without cRLIssuer")                  \
    X(NO_SKI, "no_ski", "no SubjectKeyIdentifier")                                                 \
    X(NO_AKI, "no_aki", "no AuthorityKeyIdentifier")                                               \
    X(TNAUTH_NOT_SPC, "tnauth_not_spc", "TNAuthList holds TNs or ranges, not exactly one SPC")     \
    X(TNAUTH_CRITICAL, "tnauth_critical", "TNAuthList marked critical")                            \
    X(TNAUTH_MALFORMED, "tnauth_malformed", "TNAuthList present but not RFC 8226 DER")             \
    X(SPC_FORMAT, "spc_format", "SPC is not digits and uppercase letters")                         \
    X(SERIAL_SHORT, "serial_short", "serial number shorter than 64 bits")                          \
    X(SIG_ALG, "sig_alg", "certificate not signed with ecdsa-with-SHA256")                         \
    X(NOT_V3, "not_v3", "certificate is not X.509 v3")                                             \
    X(X5U_HTTP, "x5u_http", "x5u is plain http")                                                   \
    X(BUNDLE_ORDER, "bundle_order", "bundle does not start with the leaf")

enum cg_warning {
#define CG_W_ENUM(name, str, text) CG_W_##name,
    CG_WARNING_MAP(CG_W_ENUM)
#undef CG_W_ENUM
        CG_W__COUNT
};
CG_EXTERN const char *cg_warning_name(enum cg_warning w); /* "ee_cn_format" */
CG_EXTERN const char *cg_warning_text(enum cg_warning w);

/* --- Bundles ------------------------------------------------------------ */

struct cg_chain;

struct cg_cert_info {
    char spc[CG_SPC_MAX + 1]; /* "" when the TNAuthList has no SPC */
    char subject[256];        /* one-line DN of the leaf */
    char issuer[256];
    char serial[80]; /* hex */
    int64_t not_before, not_after;
    size_t ncerts; /* certificates in the bundle */
    bool has_tnauth;
    bool key_ok; /* EC P-256 */
    bool ku_digital_signature;
    uint32_t warnings; /* bit (1u << enum cg_warning) */
    struct cg_tnauth tnauth;
};

/*
 * Parses a PEM bundle: the leaf (the one certificate that is not a CA; when
 * there are several, the one with a TNAuthList) and up to CG_BUNDLE_CERTS-1
 * intermediates in any order.  The leaf's public key is extracted once and
 * kept ready for verification (a key other than P-256 is recorded in
 * info.key_ok, not refused here).  CG_ECERT with *why for bundles that hold no
 * certificate or no identifiable leaf; CG_ETOOBIG past the limits.
 * The chain is reference counted (starts at 1) and immutable except for its
 * internal validation cache, which is thread-safe.
 */
CG_EXTERN int cg_chain_load_pem(struct cg_chain **out, const char *pem, size_t len,
                                const char **why);
CG_EXTERN int cg_chain_load_file(struct cg_chain **out, const char *path, const char **why);
CG_EXTERN struct cg_chain *cg_chain_ref(struct cg_chain *c);
CG_EXTERN void cg_chain_unref(struct cg_chain *c);
CG_EXTERN const struct cg_cert_info *cg_chain_info(const struct cg_chain *c);
/* The leaf's public key, borrowed from the chain; NULL when it is not an
 * EC P-256 key (info.key_ok false). */
CG_EXTERN const struct cg_key *cg_chain_key(const struct cg_chain *c);

/* --- Trust anchors and CRLs --------------------------------------------- */

struct cg_trust;

/* Flags for cg_trust_new. */
#define CG_TRUST_CRL_REQUIRED 0x1 /* fail closed: a chain with no CRL for its issuers fails */

CG_EXTERN int cg_trust_new(struct cg_trust **out, unsigned flags);
CG_EXTERN void cg_trust_free(struct cg_trust *t);
/* Adds every certificate in a PEM file as a trust anchor. */
CG_EXTERN int cg_trust_add_anchors_file(struct cg_trust *t, const char *path);
CG_EXTERN int cg_trust_add_anchors_pem(struct cg_trust *t, const char *pem, size_t len);
/* Adds a CRL (PEM or DER); indirect CRLs (entries with a Certificate Issuer
 * extension, like the STI-PA CRL) are supported.  Any CRL turns on
 * revocation checking of the whole chain. */
CG_EXTERN int cg_trust_add_crl_file(struct cg_trust *t, const char *path);
/* Extra certificates used only to build paths or to check CRL signatures
 * (the STI-PA CRL signer is not in the STI-CA chain). */
CG_EXTERN int cg_trust_add_untrusted_file(struct cg_trust *t, const char *path);

/*
 * Validates the chain at time `at` (seconds since the epoch): path to an
 * anchor, validity, CRLs.  The result for a (trust, chain) pair is cached in
 * the chain as the interval over which it holds, so repeated calls within
 * that interval cost a comparison.  Returns CG_OK and sets *ok; on failure
 * *why is a static or internal string for the verdict.  Thread-safe.
 */
CG_EXTERN int cg_trust_check(const struct cg_trust *t, struct cg_chain *c, int64_t at, bool *ok,
                             int *revoked, const char **why);

/* --- Test PKI ------------------------------------------------------------ */

struct cg_pki_opts {
    const char *dir;         /* created if missing */
    const char *const *spcs; /* one SP certificate per SPC */
    size_t nspcs;
    int days;            /* leaf validity, default 365 */
    const char *crl_url; /* CDP URL; default http://127.0.0.1:8085/certs/crl.pem */
};

/*
 * Writes a test STI PKI into opts->dir, modelled on the real one:
 * root.pem/root.key (STI-CA root), ca.pem/ca.key (intermediate),
 * crl-signer.pem/.key (stands in for the STI-PA CRL signer, issued by the
 * root), crl.pem (an empty *indirect* CRL from that signer, followed by the
 * signer's certificate), and per SPC sp-<SPC>.pem (leaf then intermediate:
 * the x5u bundle), sp-<SPC>.key and sp-<SPC>-leaf.pem.  Keys are written
 * mode 0600; existing files are overwritten.
 */
CG_EXTERN int cg_pki_init(const struct cg_pki_opts *opts, const char **why);

/* Adds the certificate in `cert_path` (its issuer and serial) to the
 * indirect CRL of the test PKI in `dir` and re-signs crl.pem. */
CG_EXTERN int cg_pki_revoke(const char *dir, const char *cert_path, const char **why);

#ifdef __cplusplus
}
#endif
#endif
