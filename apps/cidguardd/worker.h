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
    void (*answer)(struct cgd_call *c, const struct cg_verdict *v);
    void (*overload)(struct cgd_call *c);
};

/* Runs (or resumes) the verification; calls exactly one of answer or
 * overload, possibly later.  The callee frees the call in those. */
void cgd_verify_call(struct cgd_call *c);

#endif
