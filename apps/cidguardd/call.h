/*
 * One verification call, from the accepted request to its answer: the
 * verifier, a park on the certificate fetcher when the x5u is not cached,
 * the replay and rate observation in Redis when configured, the policy
 * decision, the decision log, and the front end's answer.
 *
 * The front end (sipd.c, httpd.c) embeds a struct cgd_call first in its own
 * call, fills the request part, calls cgd_call_begin and then
 * cgd_call_run.  Exactly one of answer or overload is called, possibly
 * later from the worker's loop; the front end frees its call there, after
 * cgd_call_end.
 */
#ifndef CIDGUARDD_CALL_H
#define CIDGUARDD_CALL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cidguard/cidguard.h"
#include "context.h"
#include "metrics.h"
#include "worker.h"

struct cgd_call {
    struct cgd_worker *w;
    struct cgd_ctx *ctx; /* taken once by cgd_call_begin; every step uses this one */
    enum cgd_listener listener;
    /* the request, set by the front end */
    struct cg_call call;
    const char *identities[CG_SIP_IDENTITY_MAX];
    char caller[CG_TN_MAX + 1];     /* canonical network number (PAI, else From), "" if none */
    char presented[CG_TN_MAX + 1];  /* canonical presentation number (From), "" if none */
    char callee[CG_TN_MAX + 1];     /* canonical called number, "" if none */
    bool caller_unreadable;         /* a calling-number header could not be read */
    char ingress[64];               /* "" if unknown */
    struct sockaddr_storage source; /* the request's source address (AF_UNSPEC: none) */
    bool international, roaming_partner;
    /* the ingress list names the ingress international (not merely a
     * trusted SBC's unknown trunk group): a signed call there is a
     * gateway's partner's, judged as a trunk for campaign detection */
    bool listed_international;
    const char *call_id;
    void (*answer)(struct cgd_call *c, const struct cg_verdict *v, const struct cg_decision *d);
    void (*overload)(struct cgd_call *c);
    /* the call's own state */
    struct cg_certcache_miss miss;
    bool parked_once;
    /* the roaming check, CG_POLICY_NUM_* bits: the numbers asked about (each
     * once) and those confirmed roaming; the number asked about last */
    unsigned roaming_asked, roaming_confirmed, roaming_bit;
    char roaming_tn[CG_TN_MAX + 1];
    struct cg_verdict v; /* kept while the call waits for Redis */
    int64_t now;
    /* CG_POLICY_NUM_* bits: the numbers that need a call intent, and those
     * for which a live one was found (and a use spent) */
    unsigned intents_needed, intents;
};

/* Takes the current context for the call's whole life. */
void cgd_call_begin(struct cgd_call *c, struct cgd_worker *w, enum cgd_listener listener);
/* Releases it; the front end calls this before freeing the call. */
void cgd_call_end(struct cgd_call *c);
/* Verifies, decides and answers (see above). */
void cgd_call_run(struct cgd_call *c);

/*
 * The call's ingress: `tgrp` (a trunk group name from a trusted request,
 * or NULL), else the ingress row whose addresses hold `addr` (a struct
 * sockaddr, or NULL).  A `tgrp` no row names is taken as a call from
 * abroad: a trusted SBC's unknown trunk must not read as domestic.
 */
void cgd_call_set_ingress(struct cgd_call *c, const char *tgrp, const void *addr);

/* The intents of the call's numbers in `need` (CG_POLICY_NUM_* bits) found
 * in this daemon's own store, a use of each spent: without Redis, or when
 * Redis does not answer. */
unsigned cgd_call_local_intents(const struct cgd_call *c, const struct cg_policy_call *pc,
                                unsigned need);

#endif
