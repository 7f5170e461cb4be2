/*
 * Replay and rate state shared through Redis, on the call path.
 *
 * Each worker has its own hiredis connection driven by its own event loop
 * (no lock, no thread hop): a verified call sends one EVALSHA (the script
 * and its keys are the library's, cg_redis_observe_cmd) and is answered
 * when the reply arrives; many calls are in flight on one connection
 * (pipelining).  Replies come back in order, so the send times of the calls
 * in flight are a FIFO ring and one timer sees the oldest one age.
 *
 * Redis is never allowed to stop calls: when it is not connected, slow
 * (no answer in [redis] timeout_ms), or the ring is full, the call is
 * decided on the local state, which records every call either way so that
 * it is warm when Redis goes.  The connection is dropped on a timeout and
 * made again with back-off; /metrics and the log show each transition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "metrics.h"
#include "redis.h"

#define RING 4096 /* calls in flight per worker before local state is used */
#define TICK_MS 20
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* A call Redis has answered, waiting for this loop iteration's answers. */
struct ready {
    cgd_redis_done_cb done_cb;
    void *arg;
    bool ok;
    uint32_t bits;
    unsigned intents;
};

/* What a call in flight waits for: its callback, passed to hiredis. */
struct waiting {
    cgd_redis_done_cb done_cb;
    void *arg;
};

struct cgd_redis {
    struct cgd_worker *w;
    struct cg_redis_addr addr;
    char prefix[64];
    int timeout_ms, window;
    unsigned rate_calls, rate_numbers;
    redisAsyncContext *ac; /* NULL when there is no connection */
    bool connected, was_up, logged_down;
    struct event *tick;
    uint64_t next_try_ms;
    int backoff_ms;
    uint64_t sent[RING]; /* send times of the calls in flight, oldest at head */
    size_t head, n;
    /* Replies are read many at a time; their calls are answered together
     * from one deferred event so that UDP answers leave in batches
     * (sendmmsg), as they do without Redis, instead of one syscall each
     * from every reply callback. */
    struct ready ready[RING];
    size_t nready;
    struct waiting waiting[RING]; /* parallel to sent[] */
    struct event *answer_ev;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void went_down(struct cgd_redis *r, const char *why)
{
    if (r->was_up) {
        atomic_fetch_sub(&cgd_m.redis_connected, 1);
        r->was_up = false;
    }
    r->connected = false;
    r->ac = NULL;
    r->next_try_ms = now_ms() + (uint64_t)r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
    if (!r->logged_down) {
        fprintf(stderr, "cidguardd: worker %d: redis %s:%d %s; calls continue on local state\n",
                r->w->id, r->addr.host, r->addr.port, why);
        r->logged_down = true;
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct cgd_redis *r = ac->data;
    if (status != REDIS_OK) {
        went_down(r, ac->errstr[0] ? ac->errstr : "cannot connect"); /* hiredis frees ac */
        return;
    }
    r->connected = true;
    r->was_up = true;
    r->backoff_ms = BACKOFF_MIN_MS;
    atomic_fetch_add(&cgd_m.redis_connected, 1);
    if (r->logged_down) {
        fprintf(stderr, "cidguardd: worker %d: redis %s:%d connected; shared state in use\n",
                r->w->id, r->addr.host, r->addr.port);
        r->logged_down = false;
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct cgd_redis *r = ac->data;
    (void)status;
    if (r->ac == ac) {
        atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_DISCONNECT], 1);
        went_down(r, ac->errstr[0] ? ac->errstr : "disconnected");
    }
}

static void connect_now(struct cgd_redis *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->addr.host, r->addr.port);
    if (!ac || ac->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "cannot connect");
        if (ac)
            redisAsyncFree(ac);
        went_down(r, why);
        return;
    }
    ac->data = r;
    redisLibeventAttach(ac, r->w->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* queued until the connection is up, and answered before any call */
    if (r->addr.password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", r->addr.password);
    if (r->addr.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->addr.db);
    redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %s", cg_redis_script());
    r->ac = ac;
}

/* Drops the connection: hiredis answers every call in flight with no
 * reply, and those calls are decided on local state at once. */
static void drop(struct cgd_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    went_down(r, why);
    redisAsyncFree(ac);
}

static void answer_ready(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_redis *r = arg;
    size_t i, n = r->nready;
    (void)fd;
    (void)what;
    r->nready = 0;
    cgd_worker_batch(r->w, true);
    for (i = 0; i < n; i++)
        r->ready[i].done_cb(r->ready[i].arg, r->ready[i].ok, r->ready[i].bits, r->ready[i].intents);
    cgd_worker_batch(r->w, false);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_redis *r = arg;
    uint64_t now = now_ms();
    (void)fd;
    (void)what;
    if (r->ac && r->connected && r->n && now - r->sent[r->head] > (uint64_t)r->timeout_ms) {
        atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_TIMEOUT], 1);
        drop(r, "did not answer in time");
    } else if (!r->ac && !r->w->stopping && now >= r->next_try_ms) {
        connect_now(r);
    }
}

int cgd_redis_attach(struct cgd_worker *w, const struct cgd_conf *conf)
{
    struct cgd_redis *r;
    struct timeval tv = {0, TICK_MS * 1000};
    if (!conf->redis_url[0])
        return 0;
    if (!(r = calloc(1, sizeof *r)))
        return -1;
    if (cg_redis_parse_url(conf->redis_url, &r->addr) != CG_OK) {
        fprintf(stderr, "cidguardd: [redis] url: not a redis://host[:port][/db] URL\n");
        free(r);
        return -1;
    }
    r->w = w;
    snprintf(r->prefix, sizeof r->prefix, "%s", conf->redis_prefix);
    r->timeout_ms = conf->redis_timeout_ms;
    r->window = conf->freshness + 5;
    r->rate_calls = (unsigned)conf->rate_calls;
    r->rate_numbers = (unsigned)conf->rate_numbers;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->logged_down = true; /* the first connection is announced */
    r->tick = event_new(w->base, -1, EV_PERSIST, tick_cb, r);
    r->answer_ev = event_new(w->base, -1, 0, answer_ready, r);
    event_add(r->tick, &tv);
    connect_now(r);
    w->redis = r;
    atomic_fetch_add(&cgd_m.redis_workers, 1);
    return 0;
}

void cgd_redis_free(struct cgd_worker *w)
{
    struct cgd_redis *r = w->redis;
    if (!r)
        return;
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        if (r->was_up)
            atomic_fetch_sub(&cgd_m.redis_connected, 1);
        r->was_up = false;
        r->ac = NULL; /* on_disconnect ignores a context that is not current */
        redisAsyncFree(ac);
    }
    answer_ready(-1, 0, r); /* the loop has ended: answer what the free produced */
    event_free(r->answer_ev);
    event_free(r->tick);
    free(r);
    w->redis = NULL;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cgd_redis *r = ac->data;
    struct waiting *wt = privdata;
    redisReply *rep = reply;
    uint32_t bits = 0;
    unsigned intents = 0;
    bool ok = false;

    r->head = (r->head + 1) % RING;
    r->n--;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER &&
        rep->element[2]->type == REDIS_REPLY_INTEGER &&
        rep->element[3]->type == REDIS_REPLY_INTEGER) {
        bits = cg_redis_observe_result(rep->element[0]->integer, rep->element[1]->integer,
                                       rep->element[2]->integer);
        intents =
            (unsigned)rep->element[3]->integer & (CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED);
        ok = true;
        atomic_fetch_add(&cgd_m.shared_state[CGD_STATE_REDIS], 1);
    } else {
        atomic_fetch_add(&cgd_m.shared_state[CGD_STATE_LOCAL], 1);
        if (rep) {
            atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_REPLY], 1);
            /* the script was flushed (or Redis restarted without it): load
             * it again for the next calls */
            if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0)
                redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %s", cg_redis_script());
        }
    }
    if (r->nready == RING) /* not expected: at most RING are in flight */
        answer_ready(-1, 0, r);
    r->ready[r->nready++] = (struct ready){wt->done_cb, wt->arg, ok, bits, intents};
    if (r->nready == 1)
        event_active(r->answer_ev, EV_TIMEOUT, 0);
}

bool cgd_redis_observe(struct cgd_worker *w, const struct cg_policy_call *pc, unsigned intents,
                       cgd_redis_done_cb done_cb, void *arg)
{
    struct cgd_redis *r = w->redis;
    struct cg_redis_cmd cmd;
    struct waiting *wt;
    if (!r)
        return false;
    if (!r->ac || !r->connected || r->n == RING) {
        atomic_fetch_add(&cgd_m.shared_state[CGD_STATE_LOCAL], 1);
        return false;
    }
    if (!cg_redis_observe_cmd(&cmd, r->prefix, pc, r->window, r->rate_calls, r->rate_numbers,
                              intents))
        return false;
    wt = &r->waiting[(r->head + r->n) % RING];
    *wt = (struct waiting){done_cb, arg};
    if (redisAsyncCommandArgv(r->ac, on_reply, wt, cmd.argc, cmd.argv, cmd.argvlen) != REDIS_OK) {
        atomic_fetch_add(&cgd_m.shared_state[CGD_STATE_LOCAL], 1);
        return false;
    }
    r->sent[(r->head + r->n) % RING] = now_ms();
    r->n++;
    return true;
}
