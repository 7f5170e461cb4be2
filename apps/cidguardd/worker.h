/* Internal to the daemon's workers: a worker and a call in progress. */
#ifndef CIDGUARDD_WORKER_H
#define CIDGUARDD_WORKER_H

#include "cidguardd.h"

struct cgd_worker {
    int id;
    pthread_t tid;
    struct event_base *base;
    void *http;
    struct sipd *sip;
    struct cgd_redis *redis;    /* shared replay and rate state, or NULL */
    int pending;                /* calls parked for a certificate */
    int max_pending;
    bool stopping;
    struct event *drain_timer;
    struct timespec drain_deadline;
};

/*
 * A verification in progress.  The host part (how to answer) is set by the
 * SIP or HTTP side; cgd_verify_call runs the verifier and, on a cache miss,
 * parks the call until the fetcher has an answer, then runs it again.
 */
struct cgd_call {
    struct cgd_worker *w;
    enum cgd_listener listener;
    struct cg_call call;
    const char *identities[CG_SIP_IDENTITY_MAX];
    struct cg_certcache_miss miss;
    bool parked_once;
    struct cg_verdict v;         /* the verification, kept while the call waits for Redis */
    int64_t now;
    /* for the policy: set by the SIP or HTTP side before cgd_verify_call */
    char caller[CG_TN_MAX + 1];  /* canonical calling number, "" if none */
    char ingress[64];            /* "" if unknown */
    bool international;
    const char *call_id;
    void (*answer)(struct cgd_call *c, const struct cg_verdict *v, const struct cg_decision *d);
    void (*overload)(struct cgd_call *c);
};

/* Runs (or resumes) the verification and the policy; calls exactly one of
 * answer or overload, possibly later.  The callee frees the call in those. */
void cgd_verify_call(struct cgd_call *c);
/* Decides (with `shared`, reason bits from Redis, when has_shared), logs
 * and answers. */
void cgd_finish_call(struct cgd_call *c, bool has_shared, uint32_t shared);

/* Shared state (redis.c): per-worker connection; a no-op without [redis] url. */
int cgd_redis_attach(struct cgd_worker *w, const struct cgd_conf *conf);
void cgd_redis_free(struct cgd_worker *w);
/* Sends the call's replay and rate observation to Redis; true when the call
 * is now waiting for the answer (cgd_finish_call follows), false when it is
 * to be decided on local state now. */
bool cgd_redis_observe(struct cgd_worker *w, struct cgd_call *c, const struct cg_policy_call *pc);

/*
 * Concatenates the strings up to NULL into buf (cap bytes, always
 * NUL-terminated, cut short when full) and returns the length.  Used
 * instead of snprintf on the call path, where the printf machinery was
 * 1-2% of the daemon's cycles.
 */
size_t cgd_join(char *buf, size_t cap, ...) __attribute__((sentinel));

/* The ingress of a request: the tgrp parameter of the Request-URI (RFC
 * 4904), else the row whose addresses hold `addr`. */
void cgd_set_ingress(struct cgd_call *c, const struct cgd_ctx *ctx, const char *ruri,
                     const void *addr);

#endif
