/*
 * Policy: turning a verification verdict into a decision (allow, label,
 * block) the way a UK or US terminating carrier must: Do-Not-Originate
 * list, protected (bank) numbers, Ofcom and NANP numbering rules, origin
 * rules for international ingress, attestation minimums, replay and rates.
 *
 * A cg_policy (lists, numbering data, configuration) is immutable once
 * built and may be shared by any number of threads: a reload builds a new
 * one and the host swaps the pointer, so a call sees the old lists or the
 * new ones, never half.  Replay and rate state lives in cg_policy_state.
 */
#ifndef CIDGUARD_POLICY_H
#define CIDGUARD_POLICY_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What happens to a call.  WITHHOLD delivers it with the caller ID withheld
 * (RFC 3323 Privacy: id, an anonymous From): the callee is reached, but is
 * shown no number to trust.  The values are stable; from the mildest to
 * the strictest: allow, label, withhold, block (cg_action_stricter).
 */
enum cg_action {
    CG_ACTION_ALLOW = 0,
    CG_ACTION_LABEL = 1,
    CG_ACTION_BLOCK = 2,
    CG_ACTION_WITHHOLD = 3,
    CG_ACTION__COUNT
};
CG_EXTERN const char *cg_action_str(enum cg_action a); /* "allow", "label", "block", "withhold" */
/* The stricter of two actions. */
CG_EXTERN enum cg_action cg_action_stricter(enum cg_action a, enum cg_action b);

/*
 * Stable reason codes: X(NAME, "code", default action, "text").  Numbers
 * never change; new reasons are appended.
 */
#define CG_POLICY_REASON_MAP(X)                                                                    \
    X(DNO, "dno", BLOCK, "the calling number is on the Do-Not-Originate list")                     \
    X(PROTECTED_UNVERIFIED, "protected_unverified", BLOCK,                                         \
      "a protected number without verification by an allowed signer at the required attestation")  \
    X(INTL_UK_CLI, "intl_ingress_uk_cli", BLOCK,                                                   \
      "a UK number presented on a call from an international ingress")                             \
    X(UK_INVALID, "uk_cli_invalid", BLOCK, "not a valid UK CLI (10 or 11 digits nationally)")      \
    X(UK_PREMIUM, "uk_cli_premium_rate", BLOCK, "a 09 premium-rate number used as CLI")            \
    X(UK_UNALLOCATED, "uk_cli_unallocated", BLOCK,                                                 \
      "a UK number in a range Ofcom has not allocated")                                            \
    X(NANP_INVALID, "nanp_cli_invalid", BLOCK, "not a valid NANP number (NPA-NXX structure)")      \
    X(REPLAY, "replay", BLOCK,                                                                     \
      "the same PASSporT seen on another call inside the freshness window")                        \
    X(STIR_FAILED, "stir_failed", LABEL, "the Identity header did not verify")                     \
    X(ATTEST_LOW, "attestation_below_minimum", LABEL,                                              \
      "verified, but with less attestation than this number category requires")                    \
    X(NO_TN_VALIDATION, "no_tn_validation", ALLOW, "the call was not signed, or not verifiable")   \
    X(RATE_CALLS, "rate_calls", LABEL, "calls per minute over the threshold")                      \
    X(RATE_NUMBERS, "rate_numbers", LABEL,                                                         \
      "distinct presented numbers per minute over the threshold")                                  \
    X(UK_ALLOCATION_UNKNOWN, "uk_allocation_unknown", ALLOW,                                       \
      "no allocation data for this UK range (information only)")                                   \
    X(BRAND, "brand_verified", ALLOW, "a protected number verified by its allowed signer")         \
    X(NANP_UNASSIGNED, "nanp_cli_unassigned", BLOCK,                                               \
      "a NANP number whose NPA is not in service or whose NPA-NXX is not assigned")                \
    X(NANP_ASSIGNMENT_UNKNOWN, "nanp_assignment_unknown", ALLOW,                                   \
      "no NPA-NXX assignment data for this NANP area code (information only)")                     \
    X(CALLER_UNREADABLE, "caller_unreadable", BLOCK,                                               \
      "the calling party (P-Asserted-Identity or From) cannot be read: no number rule applies")    \
    X(PROTECTED_NO_INTENT, "protected_no_intent", BLOCK,                                           \
      "a protected number without verification by an allowed signer and without a live call "      \
      "intent for this callee")                                                                    \
    X(UK_MOBILE_ABROAD, "intl_uk_mobile_not_roaming", WITHHOLD,                                    \
      "a UK mobile number (+447) from an international ingress, not confirmed as roaming")         \
    X(BRAND_INTENT, "brand_intent", ALLOW,                                                         \
      "a protected number presented under its owner's live call intent for this callee")           \
    X(BRAND_AGENT, "brand_agent", ALLOW,                                                           \
      "a protected number presented by its owner's agent (network number or ingress)")             \
    X(PROTECTED_NOT_CUSTOMERS, "protected_not_customers", BLOCK,                                   \
      "signing: a protected number whose owner or agent the customer is not")                      \
    X(PROTECTED_SHARE, "protected_share", LABEL,                                                   \
      "signing: the customer's share of calls presenting protected or bank-like numbers over "     \
      "the threshold")                                                                             \
    X(CAMPAIGN, "campaign_suspected", LABEL,                                                       \
      "the call's origin behaves like a spoofing campaign: many distinct presentation numbers it " \
      "does not own, new ones appearing quickly, to many callees")

enum cg_policy_reason {
#define CG_PR_ENUM(name, code, act, text) CG_PR_##name,
    CG_POLICY_REASON_MAP(CG_PR_ENUM)
#undef CG_PR_ENUM
        CG_PR__COUNT
};
/* Reasons are bits of a uint32_t (cg_decision.reasons): there are never
 * more than this many. */
#define CG_POLICY_REASONS_MAX 32
CG_EXTERN const char *cg_policy_reason_code(enum cg_policy_reason r);
CG_EXTERN const char *cg_policy_reason_text(enum cg_policy_reason r);
CG_EXTERN enum cg_action cg_policy_reason_action(enum cg_policy_reason r); /* the default */

/* --- building a policy ------------------------------------------------------ */

struct cg_policy_config {
    bool uk_rules;   /* Ofcom CLI guidance for +44 numbers */
    bool nanp_rules; /* NPA-NXX structure for +1 numbers */
    /* SPCs of UK mobile networks, ';'-separated (at most 16): a +447 caller
     * from an international ingress verified by one of them is roaming */
    char uk_mobile_spcs[16 * (CG_SPC_MAX + 1)];
    char min_attest_uk; /* minimum attestation for a verified UK number ('A'..'C', 0 = none) */
    char min_attest_other;
    /* Actions that differ from a reason's default, set and read with
     * cg_policy_config_set_action() and cg_policy_config_action(); a zeroed
     * config takes the defaults of the map.  Sized for CG_POLICY_REASONS_MAX,
     * not for today's reasons, so that a new reason leaves the size alone. */
    unsigned char action_override[CG_POLICY_REASONS_MAX];
};
/* Sets the action of reason `r` in `cfg`.  CG_EINVAL for an unknown reason
 * or action. */
CG_EXTERN int cg_policy_config_set_action(struct cg_policy_config *cfg, enum cg_policy_reason r,
                                          enum cg_action a);
/* The action `cfg` gives reason `r`: the one set, else the default;
 * CG_ACTION_ALLOW for an unknown reason. */
CG_EXTERN enum cg_action cg_policy_config_action(const struct cg_policy_config *cfg,
                                                 enum cg_policy_reason r);

/* Called for every input line that cannot be used: file, line, message.
 * Line 0 is about the whole input, which is then not loaded and the
 * loader returns an error: it cannot be opened (the system's reason, such
 * as "No such file or directory"), "is a directory", "not a regular file",
 * or "larger than N bytes". */
typedef void (*cg_policy_report_cb)(const char *file, int line, const char *msg, void *arg);

struct cg_policy;
CG_EXTERN int cg_policy_new(struct cg_policy **out, const struct cg_policy_config *cfg);
/* The action policy `p` gives reason `r` (its config's, else the default);
 * CG_ACTION_ALLOW for an unknown reason.  For findings a host adds to a
 * decision itself, such as campaign_suspected. */
CG_EXTERN enum cg_action cg_policy_action(const struct cg_policy *p, enum cg_policy_reason r);
CG_EXTERN void cg_policy_free(struct cg_policy *p);

/* The CSV policy lists (docs/cidguardd.md#policy-lists: header row; '#'
 * comment lines; numbers canonical E.164 digits, a trailing '*' makes a
 * prefix).  Bad lines are reported through `cb` with file and line and
 * skipped; the rest loads.  A path must name a regular file (a device,
 * pipe or directory is refused before it is read) of at most 64 MiB.
 * Return CG_OK, CG_EINVAL (NULL p or path), CG_EIO (unreadable, or not a
 * regular file), CG_ENOMEM, CG_ETOOBIG (over limits); a refused file is
 * also reported with line 0. */
CG_EXTERN int cg_policy_load_dno(struct cg_policy *p, const char *path, cg_policy_report_cb cb,
                                 void *arg);
CG_EXTERN int cg_policy_load_protected(struct cg_policy *p, const char *path,
                                       cg_policy_report_cb cb, void *arg);
CG_EXTERN int cg_policy_load_ingress(struct cg_policy *p, const char *path, cg_policy_report_cb cb,
                                     void *arg);
/* Ofcom National Numbering Scheme block-status files (S3, S5, S7, S8, S9:
 * "Number Block,Block Status,..."): only Allocated blocks (closed ranges,
 * "Allocated(Closed Range)", too) are valid CLIs; Free, Protected,
 * Designated, Quarantined and Reserved are not, and a row with another
 * status is reported and skipped.  Ranges without a loaded file are
 * "unknown", not invalid. */
CG_EXTERN int cg_policy_load_ofcom(struct cg_policy *p, const char *path, cg_policy_report_cb cb,
                                   void *arg);
/* The operator lists (docs/cidguardd.md#policy-lists) by kind. */
enum cg_list { CG_LIST_DNO, CG_LIST_PROTECTED, CG_LIST_INGRESS, CG_LIST__COUNT };
CG_EXTERN const char *cg_list_name(enum cg_list l); /* "dno", "protected", "ingress" */
CG_EXTERN int cg_list_from_name(const char *name);  /* -1 when unknown */
/* A list of kind `l` from memory (e.g. as stored in Redis), with the same
 * rules and reports as the file loaders; `name` names it in reports. */
CG_EXTERN int cg_policy_load_list_text(struct cg_policy *p, enum cg_list l, const char *name,
                                       const char *text, size_t len, cg_policy_report_cb cb,
                                       void *arg);

/* NANPA's NPA report (npa_report.csv): area codes in service.  A +1 caller
 * in an NPA the report lists as not in service is nanp_cli_unassigned. */
CG_EXTERN int cg_policy_load_nanpa(struct cg_policy *p, const char *path, cg_policy_report_cb cb,
                                   void *arg);
/* A CO-code (NPA-NXX) status file in the CNA's format ("NPA","CO Code
 * (NXX)","Status",...): codes a provider holds ("In Service", "Assigned",
 * "Being Recovered", "TBP Test Code") are assigned; the CNA's other
 * statuses ("Available", "Not Available", "Moratorium on Assignment", "For
 * Special Use", "Plant Test", ...) are not, and a row with an unknown
 * status is reported and skipped.  Area codes without such data are
 * nanp_assignment_unknown once NANPA data is loaded. */
CG_EXTERN int cg_policy_load_cocodes(struct cg_policy *p, const char *path, cg_policy_report_cb cb,
                                     void *arg);

/* The ingress named `tgrp` (RFC 4904 trunk group, may be NULL), else the one
 * whose addresses hold `addr` (a struct sockaddr, may be NULL).  NULL when
 * none; *international set when found. */
CG_EXTERN const char *cg_policy_ingress(const struct cg_policy *p, const char *tgrp,
                                        const void *addr, bool *international);
/* The same, with the ingress's flags: CG_INGRESS_INTERNATIONAL, and
 * CG_INGRESS_ROAMING for an international roaming partner (the ingress
 * list's `international` column says `roaming`): its +447 callers are UK
 * mobiles roaming abroad. */
#define CG_INGRESS_INTERNATIONAL 1u
#define CG_INGRESS_ROAMING 2u
CG_EXTERN const char *cg_policy_ingress_flags(const struct cg_policy *p, const char *tgrp,
                                              const void *addr, unsigned *flags);

/* The brand of the protected number `tn` (canonical), or NULL: what a
 * spoofed call presenting it impersonates. */
CG_EXTERN const char *cg_policy_protected_brand(const struct cg_policy *p, const char *tn);

/* Whether the struct sockaddr `addr` (IPv4 or IPv6) lies in `cidr`
 * ("192.0.2.0/24", "2001:db8::/32", or one address). */
CG_EXTERN bool cg_addr_in_cidr(const void *addr, const char *cidr);
/* Whether `cidr` is one that cg_addr_in_cidr() reads (a configuration's
 * check, so that a mistyped entry is refused rather than matching nothing). */
CG_EXTERN bool cg_cidr_valid(const char *cidr);
/* Whether `addr` lies in one of the `sep`-separated CIDRs of `list`
 * (blanks around an entry ignored; an address entry longer than 63 bytes,
 * or a cert: one longer than 260, never matches).  With `other` (may be NULL),
 * an entry starting "cert:" is passed to other(entry + 5, arg) instead. */
CG_EXTERN bool cg_addr_in_cidr_list(const void *addr, const char *list, char sep,
                                    bool (*other)(const char *entry, void *arg), void *arg);

/* --- replay and rate state --------------------------------------------------- */

struct cg_policy_state;
/* window: replay window in seconds, the verifier's freshness plus its clock
 * skew (65 by default): a PASSporT is remembered until max(now, iat) +
 * window, as long as the verifier could still accept it.  rate_calls and
 * rate_numbers: per-minute thresholds per ingress and per SPC (0 = off).
 * rate_numbers keeps up to rate_numbers+1 numbers per key and scans them:
 * it is capped at 1000 (CG_EINVAL above). */
CG_EXTERN int cg_policy_state_new(struct cg_policy_state **out, int window, unsigned rate_calls,
                                  unsigned rate_numbers);
CG_EXTERN void cg_policy_state_free(struct cg_policy_state *s);

/* Origination (cg_policy_originate): the customer's share of calls in the
 * last minute presenting protected or bank-like numbers above which its
 * calls get protected_share, judged once it has made min_calls (0 or 1:
 * from the first); percent 0 = off.  CG_EINVAL above 100. */
CG_EXTERN int cg_policy_state_set_share(struct cg_policy_state *s, unsigned percent,
                                        unsigned min_calls);

/* --- deciding ----------------------------------------------------------------- */

/*
 * Replay: a PASSporT that passed verification is recorded by its ECDSA r
 * value (the first 32 bytes of the 64-byte R||S in cg_verdict.sig).  r is
 * what a sender cannot vary: (r, n-s) verifies as well as (r, s), so a key
 * that included s would let a used token through again.  Only passed
 * verdicts are recorded, so that a forged token copying a genuine one's
 * signature bytes cannot make the genuine call look like a replay.  The
 * same r under another Call-ID is a replay; under the same Call-ID it is a
 * retransmission or a fork.  A call without a Call-ID (NULL or "", e.g. an
 * HTTP request that did not give one) matches nothing: the same r seen with
 * and without a Call-ID, or twice without, is a replay.
 */
/*
 * A call has two calling numbers.  The network number (`caller`:
 * P-Asserted-Identity, else From) is the one the sending network vouches
 * for; the presentation number (`presented`: From's) is the one the callee
 * is shown, and the one a spoofer most wants to choose.  Every number rule
 * (DNO, protected numbers, Ofcom and NANP numbering, calls from abroad)
 * applies to each; the decision says which number each finding is about.
 */
#define CG_POLICY_NUM_CALLER 1u    /* the network number */
#define CG_POLICY_NUM_PRESENTED 2u /* the presentation number */

struct cg_policy_call {
    const struct cg_verdict *verdict;
    const char *caller; /* canonical network number (PAI, else From), or NULL */
    /* canonical presentation number (From), or NULL: none, not a number
     * (anonymous), or the same as caller */
    const char *presented;
    /* The host could not read the calling party (cg_tn_read said
     * CG_TN_UNREADABLE for P-Asserted-Identity or From): caller_unreadable,
     * since the number rules cannot be applied to what cannot be read.  A
     * caller that is well-formed but not a number (anonymous) is NULL
     * without this flag. */
    bool caller_unreadable;
    const char *callee;   /* canonical called number, or NULL (call intents) */
    const char *ingress;  /* ingress name or NULL */
    bool international;   /* the ingress is marked international */
    bool roaming_partner; /* the ingress is a roaming partner (CG_INGRESS_ROAMING) */
    /* CG_POLICY_NUM_* bits: the numbers a roaming check confirmed as UK
     * mobiles roaming abroad */
    unsigned roaming_confirmed;
    /* CG_POLICY_NUM_* bits: the numbers for which the host found a live call
     * intent (caller or presented, to callee) and used it.  The host asks
     * cg_policy_intents_needed which numbers need one, so that a use is
     * spent only on a call it decides. */
    unsigned intents;
    const char *call_id;      /* forks and retransmissions share it; NULL when none */
    const unsigned char *sig; /* R||S of the decisive PASSporT (cg_verdict.sig), or NULL */
    size_t siglen;
    int64_t now;
    /* Replay and rate findings from state shared with other daemons (Redis),
     * when has_shared: reason bits, only CG_PR_REPLAY, CG_PR_RATE_CALLS and
     * CG_PR_RATE_NUMBERS count.  The shared replay finding replaces the
     * local one (only the shared store knows which Call-ID came first
     * across daemons); rate findings are ORed.  `state` records the call
     * either way, to be warm when the shared store goes away. */
    bool has_shared;
    uint32_t shared;
};

#define CG_BRAND_MAX 64

struct cg_decision {
    enum cg_action action;
    /* The verification's verstat, for the number(s) in verstat_on
     * (CG_POLICY_NUM_* bits): the one the PASSporT's orig is.  0 with
     * CG_VERSTAT_NONE, and also when the token signed neither number:
     * verstat is only ever attached to a number that was verified. */
    enum cg_verstat verstat;
    unsigned verstat_on;
    uint32_t reasons;             /* bit (1u << enum cg_policy_reason): all findings */
    uint32_t caller_reasons;      /* of them, the findings about the network number */
    uint32_t presented_reasons;   /* and about the presentation number */
    char brand[CG_BRAND_MAX + 1]; /* set only with CG_PR_BRAND */
};

/* Decides.  `state` may be NULL (no replay or rate checks).  A verdict
 * counts as verification of the caller only when it passed, its orig is
 * the caller and it is not a replay: a protected number gets brand_verified
 * only then.  (A host that builds a verdict itself from a verstat reported
 * for the caller, such as a CDR's, sets orig to the caller; an empty orig,
 * which cg_verify never passes, is taken to mean the same.)  A verdict
 * without attestation (a ppt=div or ppt=rcd PASSporT alone) is below any
 * minimum attestation.  Thread-safe.
 * Returns CG_OK or CG_ENOMEM (the state could not record the call). */
CG_EXTERN int cg_policy_decide(const struct cg_policy *p, struct cg_policy_state *state,
                               const struct cg_policy_call *call, struct cg_decision *out);
/* CG_POLICY_NUM_* bits: the numbers of `call` that are protected, take
 * call intents, and are not verified enough without one; the host looks
 * those up (and spends a use of each) before cg_policy_decide.  0 when the
 * call's numbers block it whatever an intent says, so that refused calls
 * spend no use.  Cheap: a few trie walks, and only for protected numbers. */
CG_EXTERN unsigned cg_policy_intents_needed(const struct cg_policy *p,
                                            const struct cg_policy_call *call);
/* CG_POLICY_NUM_* bits: the numbers a roaming check would be about, UK
 * mobiles (+447) on a call from an international ingress that nothing else
 * shows roaming (not a roaming partner, not signed by a UK mobile network's
 * SPC, not already in call->roaming_confirmed).  Each number is checked on
 * its own: one roaming number does not vouch for the other. */
CG_EXTERN unsigned cg_policy_roaming_needed(const struct cg_policy *p,
                                            const struct cg_policy_call *call);
/*
 * Origination: what the signing side decides before a customer's call is
 * signed, with the same lists, data and rule code as verification and a
 * rule set of its own.  Each of the call's numbers (the one signed, and
 * the presentation number) must be a valid, allocated number (Ofcom, NANP),
 * not on the DNO list, and not a protected number unless the customer is
 * its owner or agent (the protected row's `agents` holds "customer:NAME").
 * `state` (may be NULL) keeps each customer's windows: calls and distinct
 * numbers per minute (its rate_calls and rate_numbers: rate_calls,
 * rate_numbers) and the share of calls presenting protected or bank-like
 * numbers that are not its own (cg_policy_state_set_share:
 * protected_share).  Bank-like: UK non-geographic customer-service ranges
 * (03, 080, 084, 087).  The action
 * of each reason is the policy's ([policy] actions): block means "do not
 * sign", label "sign at C".  Thread-safe.
 */
struct cg_policy_origination {
    const char *customer;  /* the customer's name; "" or NULL for a stranger */
    const char *caller;    /* the number to be signed (orig), canonical */
    const char *presented; /* the presentation number when another, or NULL */
    const char *ingress;   /* where the call came from, or NULL (agents "ingress:NAME") */
    int64_t now;
    /* whether the customer holds `tn` (its customers-file numbers), or NULL:
     * its own numbers, like those it is the agent of, never count towards
     * the share of protected or bank-like numbers */
    bool (*owns)(const char *tn, void *arg);
    void *owns_arg;
};
CG_EXTERN int cg_policy_originate(const struct cg_policy *p, struct cg_policy_state *state,
                                  const struct cg_policy_origination *o, struct cg_decision *out);

/* Comma-separated reason codes, e.g. "dno,stir_failed" ("" for none). */
CG_EXTERN size_t cg_decision_reasons(const struct cg_decision *d, char *buf, size_t cap);
/* The same for any set of reason bits (cg_decision's caller_reasons...). */
CG_EXTERN size_t cg_policy_reasons_str(uint32_t reasons, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
