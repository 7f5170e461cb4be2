/*
 * Workers: one thread and one event loop each, every listening socket
 * opened per worker with SO_REUSEPORT so that the kernel spreads calls and
 * no lock is shared on the call path.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "worker.h"

static struct cgd_worker *workers;
static int nworkers;

struct cgd_worker *cgd__worker_of(struct event_base *base);
struct cgd_worker *cgd__worker_of(struct event_base *base)
{
    int i;
    for (i = 0; i < nworkers; i++)
        if (workers[i].base == base)
            return &workers[i];
    return NULL;
}

int cgd_listen_socket(const char *hostport, int type, int *port_out)
{
    char host[64], *colon;
    const char *port;
    struct addrinfo hints = {0}, *ai = NULL;
    int fd = -1, one = 1;

    snprintf(host, sizeof host, "%s", hostport);
    if (host[0] == '[') {
        char *rb = strchr(host, ']');
        if (!rb || rb[1] != ':')
            return -1;
        *rb = '\0';
        port = rb + 2;
        memmove(host, host + 1, strlen(host));
    } else {
        if (!(colon = strrchr(host, ':')))
            return -1;
        *colon = '\0';
        port = colon + 1;
    }
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0)
        return -1;
    fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) ||
        (type == SOCK_STREAM && listen(fd, 1024))) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    if (type == SOCK_DGRAM) {
        int sz = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    if (port_out)
        *port_out = atoi(port);
    freeaddrinfo(ai);
    return fd;
}

/* --- calls ------------------------------------------------------------------- */

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_call *c = arg;
    (void)fd;
    (void)what;
    c->w->pending--;
    atomic_fetch_sub(&cgd_m.inflight, 1);
    cgd_verify_call(c);
}

static void policy_call(const struct cgd_call *c, struct cg_policy_call *pc, bool has_shared,
                        uint32_t shared)
{
    const struct cg_verdict *v = &c->v;
    *pc = (struct cg_policy_call){.verdict = v,
                                  .caller = c->caller[0] ? c->caller : NULL,
                                  .ingress = c->ingress[0] ? c->ingress : NULL,
                                  .international = c->international,
                                  .call_id = c->call_id,
                                  .sig = v->has_sig ? v->sig : NULL,
                                  .siglen = v->has_sig ? sizeof v->sig : 0,
                                  .now = c->now,
                                  .has_shared = has_shared,
                                  .shared = shared};
}

void cgd_verify_call(struct cgd_call *c)
{
    struct cgd_ctx *ctx = cgd_ctx_get();
    const struct cg_verdict *v = &c->v;
    int rc;

    c->miss.missed = false;
    c->call.certsrc_arg = &c->miss;
    rc = cg_verify(ctx->verifier, &c->call, &c->v);
    cgd_ctx_put(ctx);
    if (rc != CG_OK) {
        c->overload(c);
        return;
    }
    if (v->reason == CG_R_CERT_UNAVAILABLE) {
        if (c->miss.missed && !c->parked_once) {
            if (c->w->pending >= c->w->max_pending) {
                atomic_fetch_add(&cgd_m.overload[c->listener], 1);
                c->overload(c);
                return;
            }
            atomic_fetch_add(&cgd_m.cache_miss, 1);
            if (cgd_fetch(c->miss.url, c->w->base, resume_cb, c) == 0) {
                c->parked_once = true;
                c->w->pending++;
                atomic_fetch_add(&cgd_m.inflight, 1);
                return;
            }
            atomic_fetch_add(&cgd_m.overload[c->listener], 1);
        } else if (!c->miss.missed) {
            atomic_fetch_add(&cgd_m.cache_negative, 1);
        }
    } else if (v->reason == CG_R_OK || (v->reason >= CG_R_CERT_INVALID && v->reason <= CG_R_SIGNATURE)) {
        atomic_fetch_add(&cgd_m.cache_hit, 1); /* the verifier got as far as the certificate */
    }
    atomic_fetch_add(&cgd_m.calls[c->listener][v->reason], 1);
    c->now = (int64_t)time(NULL);
    if (c->w->redis) {
        struct cg_policy_call pc;
        policy_call(c, &pc, false, 0);
        if (cgd_redis_observe(c->w, c, &pc))
            return; /* cgd_finish_call when Redis answers */
    }
    cgd_finish_call(c, false, 0);
}

struct decided {
    const struct cgd_call *c;
    const struct cg_decision *d;
};

static void fill_record(struct cg_declog_record *rec, void *arg)
{
    static const char *const lname[] = {"sip_verify", "sip_sign", "http_verify", "http_sign"};
    const struct decided *x = arg;
    const struct cgd_call *c = x->c;
    cgd_join(rec->call_id, sizeof rec->call_id, c->call_id ? c->call_id : "", NULL);
    cgd_join(rec->caller, sizeof rec->caller, c->caller, NULL);
    cgd_join(rec->ingress, sizeof rec->ingress, c->ingress, NULL);
    cgd_join(rec->listener, sizeof rec->listener, lname[c->listener], NULL);
    cg_declog_record_fill(rec, &c->v, x->d, c->now);
}

void cgd_finish_call(struct cgd_call *c, bool has_shared, uint32_t shared)
{
    struct cg_policy_call pc;
    struct cg_decision d;
    struct cgd_ctx *ctx = cgd_ctx_get();
    policy_call(c, &pc, has_shared, shared);
    cg_policy_decide(ctx->policy, cgd_pstate, &pc, &d);
    cgd_ctx_put(ctx);
    atomic_fetch_add(&cgd_m.actions[d.action], 1);
    cgd_declog_push(fill_record, &(struct decided){c, &d});
    c->answer(c, &c->v, &d);
}

void cgd_set_ingress(struct cgd_call *c, const struct cgd_ctx *ctx, const char *ruri,
                     const void *addr)
{
    char tgrp[64] = "";
    const char *t = ruri ? strstr(ruri, ";tgrp=") : NULL, *name;
    if (t) {
        size_t n = strcspn(t + 6, ";@>");
        if (n < sizeof tgrp) {
            memcpy(tgrp, t + 6, n);
            tgrp[n] = '\0';
        }
    }
    name = cg_policy_ingress(ctx->policy, tgrp[0] ? tgrp : NULL, addr, &c->international);
    cgd_join(c->ingress, sizeof c->ingress, name ? name : "", NULL);
}

size_t cgd_join(char *buf, size_t cap, ...)
{
    va_list ap;
    const char *s;
    size_t n = 0;
    if (cap == 0)
        return 0;
    va_start(ap, cap);
    while ((s = va_arg(ap, const char *))) {
        size_t l = strlen(s);
        if (l > cap - 1 - n)
            l = cap - 1 - n;
        memcpy(buf + n, s, l);
        n += l;
    }
    va_end(ap);
    buf[n] = '\0';
    return n;
}

/* --- threads ----------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct cgd_worker *w = arg;
    event_base_dispatch(w->base);
    cgd_ctx_thread_done();
    return NULL;
}

static int open_worker(struct cgd_worker *w)
{
    struct cgd_ctx *c = cgd_ctx_get();
    struct cgd_conf *conf = &c->conf;
    int uv, us, tv, ts, hf, rc = -1;
    w->base = event_base_new();
    w->max_pending = conf->max_pending;
    uv = cgd_listen_socket(conf->sip_verify_listen, SOCK_DGRAM, NULL);
    us = cgd_listen_socket(conf->sip_sign_listen, SOCK_DGRAM, NULL);
    tv = cgd_listen_socket(conf->sip_verify_listen, SOCK_STREAM, NULL);
    ts = cgd_listen_socket(conf->sip_sign_listen, SOCK_STREAM, NULL);
    hf = cgd_listen_socket(conf->http_listen, SOCK_STREAM, NULL);
    if (!w->base || uv < 0 || us < 0 || tv < 0 || ts < 0 || hf < 0) {
        fprintf(stderr, "cidguardd: cannot listen on %s, %s or %s: %s\n", conf->sip_verify_listen,
                conf->sip_sign_listen, conf->http_listen, strerror(errno));
        goto out;
    }
    if (cgd_sip_attach(w, w->base, uv, us, tv, ts) || !(w->http = cgd_http_attach(w->base, hf)) ||
        cgd_redis_attach(w, conf))
        goto out;
    rc = 0;
out:
    cgd_ctx_put(c);
    return rc;
}

int cgd_workers_start(int n)
{
    int i;
    evthread_use_pthreads();
    if (!(workers = calloc((size_t)n, sizeof *workers)))
        return -1;
    nworkers = n;
    for (i = 0; i < n; i++) {
        workers[i].id = i;
        if (open_worker(&workers[i]))
            return -1;
    }
    for (i = 0; i < n; i++)
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]))
            return -1;
    return 0;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_worker *w = arg;
    struct timespec now;
    (void)fd;
    (void)what;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (w->pending == 0 || now.tv_sec > w->drain_deadline.tv_sec)
        event_base_loopbreak(w->base);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_worker *w = arg;
    struct timeval tick = {0, 50000};
    (void)fd;
    (void)what;
    w->stopping = true;
    cgd_sip_detach(w);
    cgd_http_detach(w->http);
    clock_gettime(CLOCK_MONOTONIC, &w->drain_deadline);
    w->drain_deadline.tv_sec += 3;
    w->drain_timer = event_new(w->base, -1, EV_PERSIST, drain_tick, w);
    event_add(w->drain_timer, &tick);
}

void cgd_workers_stop(void)
{
    int i;
    struct timeval zero = {0, 0};
    for (i = 0; i < nworkers; i++)
        event_base_once(workers[i].base, -1, EV_TIMEOUT, stop_cb, &workers[i], &zero);
    for (i = 0; i < nworkers; i++)
        pthread_join(workers[i].tid, NULL);
    /* NOTE: the fetcher may still hold waiters that point at these event
     * bases: it must be stopped before they are freed. */
    cgd_fetch_stop();
    for (i = 0; i < nworkers; i++) {
        if (workers[i].drain_timer)
            event_free(workers[i].drain_timer);
        cgd_redis_free(&workers[i]);
        cgd_sip_free(&workers[i]);
        cgd_http_free(workers[i].http);
        event_base_free(workers[i].base);
    }
    free(workers);
}
