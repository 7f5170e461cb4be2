/*
 * The context: everything a call is decided with, built whole from one
 * configuration (trust anchors and CRLs, the verifier, the signing key,
 * the customers, the policy lists) and swapped whole on SIGHUP, on the CRL
 * timer and when the lists in Redis change.
 *
 * A call takes one reference when its request is accepted and keeps it
 * until it is freed (call.c), so that a call parked on a certificate fetch
 * or on Redis is verified and decided under the configuration it started
 * with, whatever reloads land meanwhile.  The certificate cache and the
 * replay and rate state are process-wide: they survive reloads, and every
 * context borrows them.
 */
#ifndef CIDGUARDD_CONTEXT_H
#define CIDGUARDD_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cidguard/cidguard.h"
#include "cidguard/customers.h"
#include "config.h"
#include "exempt.h"

struct cgd_ctx {
    atomic_int refs;
    struct cgd_conf conf;
    const struct cg_tn_plan *plan; /* [verify] country_code's, or NULL */
    struct cg_tn_plan own_plan;    /* a country code without a built-in plan */
    struct cg_trust *trust;
    struct cg_verifier *verifier;
    struct cg_key *key;
    struct cg_signer *signer;       /* NULL without [sign] key */
    struct cg_customers *customers; /* NULL without [sign] customers */
    struct cg_policy *policy;
    struct ssl_ctx_st *tls;         /* the [tls] server context, or NULL */
    struct cg_certcache *certcache; /* borrowed: process-wide */
    struct cg_policy_state *pstate; /* borrowed: process-wide */
    struct cg_policy_state *ostate; /* borrowed: process-wide, the signing customers' windows */
    /* borrowed: process-wide, survives reloads */
    struct cg_intents *intents;
    /* [intent] keys, or NULL */
    struct cg_customers *intent_keys;
    struct cgd_signers *signers; /* signers.h: [sign] signers, the default, origids */
    struct cgd_exempt *exempt;   /* exempt.h: [policy] campaign_exempt, or NULL when empty */
};

/*
 * Creates the process-wide cache and state, loads the lists kept in Redis
 * when configured, builds the first context (downloading crl_url first when
 * set) and makes it current.  `config_file` (may be NULL) is re-read on
 * SIGHUP.  Prints why and returns -1 on failure.
 */
int cgd_context_start(const struct cgd_conf *conf, const char *config_file);
/* Puts a certificate bundle read from `path` into the cache under `url`
 * (the zero-configuration daemon's own certificate). */
void cgd_context_preload(const char *url, const char *path);
/* After the workers have stopped: frees the context, cache and state. */
void cgd_context_stop(void);

/* A reference to the current context (an atomic increment; the lock only
 * after a reload), released with cgd_ctx_put. */
struct cgd_ctx *cgd_ctx_get(void);
void cgd_ctx_put(struct cgd_ctx *c);
void cgd_ctx_thread_done(void); /* a thread that took contexts is ending */

/* Builds a new context and swaps it in, logging `done`; with reread, from
 * the configuration file again (SIGHUP), else from the running
 * configuration.  A failure keeps the running context and says that
 * `task` failed. */
void cgd_context_reload(const char *done, const char *task, bool reread);
/*
 * The main thread's timers: CRL refresh (re-read or re-download, then a
 * new context) and the poll of the lists kept in Redis.  cgd_context_wait
 * is how long the main thread may sleep (-1: until a signal);
 * cgd_context_tick does what is due.
 */
int cgd_context_wait(void);
void cgd_context_tick(void);

#endif
