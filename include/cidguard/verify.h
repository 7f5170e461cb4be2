/*
 * The verification service (STI-VS): the ATIS-1000074 sequence
 * (docs/standards.md#verification-sequence) over one call's Identity
 * headers, producing a verdict.  A verdict is the *result* of a check;
 * cg_verify() returns an error only when it could not decide (no memory,
 * OpenSSL failure).
 */
#ifndef CIDGUARD_VERIFY_H
#define CIDGUARD_VERIFY_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "passport.h"
#include "tn.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cg_verstat { CG_VERSTAT_NONE = 0, CG_VERSTAT_PASSED, CG_VERSTAT_FAILED };
/* "TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation" */
CG_EXTERN const char *cg_verstat_str(enum cg_verstat v);

/*
 * Why a call did not pass: a stable machine name, the RFC 8224 code, the
 * verstat it implies and the ATIS-1000082 error case it implements
 * (docs/standards.md#error-cases; every row is in docs/verdicts.md).
 *   X(NAME, "name", sip_code, verstat, "reason phrase", "case")
 */
#define CG_REASON_MAP(X)                                                                           \
    X(OK, "ok", 0, PASSED, "", "")                                                                 \
    X(NO_IDENTITY, "no_identity", 428, NONE, "Use Identity Header", "")                            \
    X(REQUEST_TIME, "request_time", 403, NONE, "Stale Date", "E3")                                 \
    X(MALFORMED, "malformed", 438, FAILED, "Invalid Identity Header", "E4")                        \
    X(COMPACT_FORM, "compact_form", 438, FAILED, "Invalid Identity Header", "E4")                  \
    X(PPT_PARAM, "ppt_param", 438, FAILED, "Invalid Identity Header", "E5")                        \
    X(NO_INFO, "no_info", 436, FAILED, "Bad Identity Info", "E6")                                  \
    X(BAD_INFO, "bad_info", 436, FAILED, "Bad Identity Info", "E7")                                \
    X(CERT_UNAVAILABLE, "cert_unavailable", 436, NONE, "Bad Identity Info", "E8")                  \
    X(HDR_MISSING, "hdr_missing", 436, FAILED, "Bad Identity Info", "E9")                          \
    X(X5U_MISMATCH, "x5u_mismatch", 436, FAILED, "Bad Identity Info", "E10")                       \
    X(TYP, "typ", 437, FAILED, "Unsupported Credential", "E11")                                    \
    X(ALG, "alg", 437, FAILED, "Unsupported Credential", "E12")                                    \
    X(PPT, "ppt", 438, FAILED, "Invalid Identity Header", "E13")                                   \
    X(CLAIMS, "claims", 438, FAILED, "Invalid Identity Header", "E14")                             \
    X(STALE, "stale", 403, FAILED, "Stale Date", "E15")                                            \
    X(ORIG_MISMATCH, "orig_mismatch", 438, FAILED, "Invalid Identity Header", "E16")               \
    X(DEST_MISMATCH, "dest_mismatch", 438, FAILED, "Invalid Identity Header", "E16")               \
    X(CERT_INVALID, "cert_invalid", 437, FAILED, "Unsupported Credential", "E17")                  \
    X(CERT_REVOKED, "cert_revoked", 437, FAILED, "Unsupported Credential", "E17")                  \
    X(CERT_PROFILE, "cert_profile", 437, FAILED, "Unsupported Credential", "E17")                  \
    X(TN_NOT_AUTHORIZED, "tn_not_authorized", 437, FAILED, "Unsupported Credential", "E17")        \
    X(SIGNATURE, "signature", 438, FAILED, "Invalid Identity Header", "E18")                       \
    X(ATTEST, "attest", 438, FAILED, "Invalid Identity Header", "E19")

enum cg_reason {
#define CG_R_ENUM(name, str, code, vs, text, ecase) CG_R_##name,
    CG_REASON_MAP(CG_R_ENUM)
#undef CG_R_ENUM
        CG_R__COUNT
};
CG_EXTERN const char *cg_reason_name(enum cg_reason r);   /* "signature" */
CG_EXTERN int cg_reason_sip_code(enum cg_reason r);       /* 438 */
CG_EXTERN const char *cg_reason_phrase(enum cg_reason r); /* "Invalid Identity Header" */
CG_EXTERN const char *cg_reason_case(enum cg_reason r);   /* "E18" or "" */
CG_EXTERN enum cg_verstat cg_reason_verstat(enum cg_reason r);

/* --- Where certificates come from --------------------------------------- */

/*
 * A certificate source: given the x5u URL, return a chain with a new
 * reference (the verifier drops it), or CG_ENOTFOUND / CG_EIO / another
 * error when it cannot be had, which the verifier reports as 436.  Called
 * from the verifying thread: it must be thread-safe and should not block
 * (the daemon answers from a cg_certcache and fetches misses
 * asynchronously).
 * `call_arg` is the calling cg_call's certsrc_arg: per-call state, such as
 * where a cache records the URL it missed.
 */
struct cg_certsrc {
    int (*get_cb)(void *arg, void *call_arg, const char *x5u, struct cg_chain **out);
    void *arg;
};

/* A fixed map from x5u URL to chain.  A NULL url entry matches any URL
 * (the CLI's --cert).  Not thread-safe while being built; read-only after. */
struct cg_certmap;
CG_EXTERN int cg_certmap_new(struct cg_certmap **out);
CG_EXTERN void cg_certmap_free(struct cg_certmap *m);
/* Takes a reference to `chain`. */
CG_EXTERN int cg_certmap_add(struct cg_certmap *m, const char *url, struct cg_chain *chain);
CG_EXTERN struct cg_certsrc cg_certmap_source(struct cg_certmap *m);

/* --- A certificate cache (ATIS-1000074 lifetimes) ----------------------- */

/*
 * x5u URL -> parsed chain, with positive and negative entries, safe for
 * many threads.  The validation result itself is cached in the chain (see
 * cg_trust_check), so a hit costs a hash lookup and a reference.
 *
 * At most `max_entries` in all, in three classes, each with its own room
 * and each evicting the least recently used first (a clock: an entry hit
 * since the hand last passed is spared once, an expired one is not):
 *   - negative entries, and chains no call can pass with (an expired leaf,
 *     a key, TNAuthList or KeyUsage the verifier refuses, or a chain
 *     cg_certcache_note was told is invalid or revoked): at most
 *     max_entries/8, and they never displace a certificate, so that x5u
 *     URLs that answer nothing cannot flush the cache;
 *   - certificates no call has verified with yet: they displace each
 *     other (and negative entries beyond a reserve of max_entries/16);
 *   - certificates a call verified with (cg_certcache_note): at most 7/8
 *     of the certificates' room; only a newly verified one displaces the
 *     least recently used of them, which goes back among the unproven.
 */
struct cg_certcache;
struct cg_verdict;
CG_EXTERN int cg_certcache_new(struct cg_certcache **out, size_t max_entries);
CG_EXTERN void cg_certcache_free(struct cg_certcache *c);
/* Stores `chain` (a new reference is taken; NULL stores a negative entry)
 * for `url` until `expires` (seconds since the epoch), replacing any entry
 * for `url`.  A negative entry that finds no room (a cache of fewer than 16
 * entries, full of certificates) is not stored. */
CG_EXTERN int cg_certcache_put(struct cg_certcache *c, const char *url, struct cg_chain *chain,
                               int64_t expires);
/* How long a fetch that failed for a local reason is remembered. */
#define CG_CERTCACHE_LOCAL_ERROR_TTL 5
/* A fetch of `url` failed for a reason that says nothing about the URL (no
 * file descriptors or memory, the resolver unreachable): a negative entry
 * for CG_CERTCACHE_LOCAL_ERROR_TTL seconds from `now`, long enough to answer
 * the calls waiting for it and to spare the repository a storm of retries,
 * short enough that the next calls fetch again.  A live entry for `url`
 * is kept. */
CG_EXTERN int cg_certcache_put_local_error(struct cg_certcache *c, const char *url, int64_t now);
/* CG_OK and a new reference; CG_ENOTFOUND when absent or expired; CG_EIO
 * for a live negative entry.  A hit marks the entry used. */
CG_EXTERN int cg_certcache_get(struct cg_certcache *c, const char *url, int64_t now,
                               struct cg_chain **out);
/* Tells the cache what a call made of the certificate at v->x5u: passed
 * (CG_R_OK) makes it a verified certificate; cert_invalid, cert_revoked and
 * cert_profile make it worth no more than a negative entry; other verdicts
 * change nothing.  Meant for every verdict of a verifier reading this cache:
 * when nothing changes (the usual case) it usually takes no lock, the
 * verifier's lookup on the same thread having left the entry at hand. */
CG_EXTERN void cg_certcache_note(struct cg_certcache *c, const struct cg_verdict *v);
CG_EXTERN size_t cg_certcache_size(struct cg_certcache *c);
struct cg_certcache_stats {
    size_t negative;  /* negative entries and unusable chains */
    size_t unproven;  /* certificates no call has verified with yet */
    size_t verified;  /* certificates a call verified with */
    uint64_t evicted; /* entries removed to make room, since the cache was made */
};
CG_EXTERN void cg_certcache_stats(struct cg_certcache *c, struct cg_certcache_stats *out);
/* A thread that looked up a cache is ending: releases the references its
 * lock-free front of recent answers holds (cg_certcache_get keeps a few). */
CG_EXTERN void cg_certcache_thread_done(void);

/* What a cache source records about the call it served (certsrc_arg). */
struct cg_certcache_miss {
    bool missed; /* set when the URL was not cached at all */
    char url[CG_URL_MAX + 1];
};
/* A certificate source over the cache; a miss fills the call's
 * struct cg_certcache_miss (when certsrc_arg is one) and says CG_ENOTFOUND. */
CG_EXTERN struct cg_certsrc cg_certcache_source(struct cg_certcache *c);

/*
 * When a fetched x5u response expires (ATIS-1000074 section 5.3.1,
 * docs/standards.md#certificate-cache): 24 h unless Cache-Control max-age
 * or Expires says longer (at most 400 days), never past the leaf's
 * notAfter.  `cache_control` and `expires` are the response header
 * values or NULL.
 */
CG_EXTERN int64_t cg_cert_expiry(int64_t now, const char *cache_control, const char *expires,
                                 int64_t not_after);

/* --- The verifier -------------------------------------------------------- */

struct cg_verify_config {
    const struct cg_trust *trust;  /* borrowed; required */
    struct cg_certsrc certsrc;     /* required */
    const struct cg_tn_plan *plan; /* for national-format From/To; NULL: none */
    int freshness;                 /* seconds, default 60 (0 means default) */
    int skew;                      /* extra seconds allowed for clock skew, default 5 */
    bool allow_http;               /* accept http:// x5u (tests, lab); default https only */
};

struct cg_verifier;
CG_EXTERN int cg_verifier_new(struct cg_verifier **out, const struct cg_verify_config *cfg);
CG_EXTERN void cg_verifier_free(struct cg_verifier *v);

/* One call as the network presented it.  from/pai/to/ruri are SIP URIs,
 * tel: URIs or bare numbers (NULL when absent). */
struct cg_call {
    const char *from;
    const char *pai;
    const char *to;
    const char *ruri;
    /* further called numbers (the rest of an ATIS-1000082 to.tn list): a
     * dest.tn equal to any of them matches as To does; at most 8 are read */
    const char *const *to_more;
    size_t nto_more;
    const char *const *identity; /* header values */
    size_t nidentity;
    int64_t now;          /* 0: the system clock */
    int64_t request_time; /* ATIS-1000082 "time"; 0 when absent */
    /* The values are bare PASSporTs ("hdr.payload.sig" with no SIP
     * parameters), as APIs such as Twilio's StirPassportToken deliver them:
     * there is no info parameter to compare with x5u. */
    bool bare_token;
    void *certsrc_arg; /* handed to the certificate source */
};

enum cg_match { CG_MATCH_NONE = 0, CG_MATCH_PAI, CG_MATCH_FROM, CG_MATCH_TO, CG_MATCH_RURI };
CG_EXTERN const char *cg_match_str(enum cg_match m);

struct cg_verdict {
    enum cg_verstat verstat;
    enum cg_reason reason;   /* CG_R_OK when passed */
    int reason_code;         /* RFC 8224 code or 0 */
    const char *reason_text; /* reason phrase; static */
    char detail[160];        /* precise reason for logs and people */
    int identity_index;      /* which Identity header decided, -1 none */
    enum cg_ppt ppt;
    char attest; /* 0 when unknown */
    char origid[CG_ORIGID_MAX + 1];
    char spc[CG_SPC_MAX + 1];
    char orig[CG_TN_MAX + 1];
    char dest[CG_TN_MAX + 1]; /* the dest.tn that matched, else the first */
    char x5u[CG_URL_MAX + 1];
    int64_t iat;
    enum cg_match orig_match, dest_match;
    uint32_t warnings; /* bit (1u << enum cg_warning) */
    bool has_sig;      /* sig holds the decisive PASSporT's R||S (replay key) */
    unsigned char sig[64];
};

/*
 * Verifies every Identity header of `call` and keeps the best result:
 * passed beats failed beats none (RFC 8224 section 6.2.2: report a failure
 * only when all headers fail).  Thread-safe: many threads may share one
 * verifier.  Returns CG_OK with `out` filled, or an error (CG_ENOMEM,
 * CG_ECRYPTO) with `out` unspecified.
 */
CG_EXTERN int cg_verify(const struct cg_verifier *v, const struct cg_call *call,
                        struct cg_verdict *out);

#ifdef __cplusplus
}
#endif
#endif
