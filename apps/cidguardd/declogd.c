#define _GNU_SOURCE /* SCHED_IDLE */
/*
 * The decision log writer: workers hand records to bounded per-worker
 * lanes (a lock held for a copy of one record, never for I/O) and one
 * low-priority thread writes them to SQLite in transactions of up to 1024
 * records, at least every 200 ms.  When a lane is full (the disk cannot
 * keep up) a record is dropped and counted, rather than the call waiting.
 * On exit everything queued is written.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "declogd.h"
#include "metrics.h"

/*
 * One lane per worker thread, each with its own lock, taken by that worker
 * for a copy of one record and by the writer for a pointer swap: the call
 * path takes no lock another worker takes.  The writer is woken through
 * one condition variable only when a lane holds a batch.
 */
#define QCAP 8192 /* per lane */
#define BATCH 1024
#define LANES 64

struct lane {
    pthread_mutex_t lock;
    struct cg_declog_record *q, *spare;
    size_t n;
};

static struct {
    pthread_mutex_t lock; /* the wake-up, and lane creation */
    pthread_cond_t cond;
    pthread_t tid;
    struct lane *lanes[LANES];
    _Atomic int nlanes;
    bool stop, running;
    struct cg_declog *log;
    int keep_days;
    time_t next_prune;
    uint64_t max_bytes;         /* 0: no cap */
    time_t next_size_check;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static __thread struct lane *my_lane;

/* Swaps out and writes what one lane holds; returns how many. */
static size_t drain(struct lane *ln)
{
    struct cg_declog_record *batch;
    size_t n, i;
    pthread_mutex_lock(&ln->lock);
    batch = ln->q;
    n = ln->n;
    ln->q = ln->spare;
    ln->spare = batch;
    ln->n = 0;
    pthread_mutex_unlock(&ln->lock);
    for (i = 0; i < n; i += BATCH) {
        size_t k = n - i < BATCH ? n - i : BATCH;
        if (cg_declog_append(L.log, batch + i, k) != CG_OK) {
            atomic_fetch_add(&cgd_m.declog_errors, k);
            fprintf(stderr, "cidguardd: decision log: a batch of %zu could not be written\n", k);
        } else {
            atomic_fetch_add(&cgd_m.declog_written, k);
        }
    }
    return n;
}

/*
 * Once a second: the log's size on disk for /metrics and, over
 * decision_log_max_mb, the oldest records pruned (in bursts of at most
 * about 200 ms, so that a large backlog is spread over several seconds
 * while records keep being written).  Without a cap a busy daemon fills
 * its disk at about 290 bytes a call.
 */
static void keep_under_cap(void)
{
    uint64_t bytes;
    size_t deleted = 0;
    L.next_size_check = time(NULL) + 1;
    if (L.max_bytes && cg_declog_prune_to(L.log, L.max_bytes, &deleted) != CG_OK)
        fprintf(stderr, "cidguardd: decision log: pruning to the size cap failed\n");
    if (deleted)
        atomic_fetch_add(&cgd_m.declog_pruned, deleted);
    if (cg_declog_size(L.log, &bytes) == CG_OK)
        atomic_store(&cgd_m.declog_bytes, bytes);
}

static void *writer(void *arg)
{
    struct sched_param sp = {0};
    (void)arg;
    /* SCHED_IDLE: the writer only takes CPU no worker wants.  Sharing a
     * core with a worker at normal priority, its SQLite bursts put 9 ms on
     * the p99 answer time (cidguard-sipload at half rate: 9.5 ms vs 1.4 ms
     * without the log).  Under saturation the lanes fill and records are
     * dropped and counted instead of delaying calls. */
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    for (;;) {
        struct timespec ts;
        size_t n = 0;
        int i, nl;
        bool stop;
        pthread_mutex_lock(&L.lock);
        if (!L.stop) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&L.cond, &L.lock, &ts);
        }
        stop = L.stop;
        pthread_mutex_unlock(&L.lock);
        nl = atomic_load(&L.nlanes);
        for (i = 0; i < nl; i++)
            n += drain(L.lanes[i]);
        if (time(NULL) >= L.next_size_check)
            keep_under_cap();
        if (L.keep_days > 0 && time(NULL) >= L.next_prune) {
            /* retention, hourly, in the same low-priority thread */
            size_t del = 0;
            if (cg_declog_prune(L.log, (int64_t)time(NULL) - (int64_t)L.keep_days * 86400, &del) !=
                CG_OK)
                fprintf(stderr, "cidguardd: decision log: pruning failed\n");
            L.next_prune = time(NULL) + 3600;
        }
        if (stop && !n)
            return NULL;
    }
}

int cgd_declog_start(const char *path, int keep_days, int max_mb)
{
    L.keep_days = keep_days;
    L.max_bytes = (uint64_t)max_mb << 20;
    atomic_store(&cgd_m.declog_max_bytes, L.max_bytes);
    L.next_prune = 0; /* at start, then hourly */
    if (cg_declog_open(&L.log, path) != CG_OK) {
        fprintf(stderr, "cidguardd: cannot open the decision log %s\n", path);
        return -1;
    }
    if (pthread_create(&L.tid, NULL, writer, NULL)) {
        cg_declog_close(L.log);
        return -1;
    }
    L.running = true;
    return 0;
}

/* This thread's lane, made on its first record (NULL: none left). */
static struct lane *lane(void)
{
    struct lane *ln;
    if (my_lane)
        return my_lane;
    pthread_mutex_lock(&L.lock);
    if (atomic_load(&L.nlanes) < LANES && (ln = calloc(1, sizeof *ln)) &&
        (ln->q = calloc(QCAP, sizeof *ln->q)) && (ln->spare = calloc(QCAP, sizeof *ln->spare))) {
        pthread_mutex_init(&ln->lock, NULL);
        L.lanes[atomic_load(&L.nlanes)] = ln;
        atomic_fetch_add(&L.nlanes, 1);
        my_lane = ln;
    }
    pthread_mutex_unlock(&L.lock);
    return my_lane;
}

void cgd_declog_push(void (*fill)(struct cg_declog_record *rec, void *arg), void *arg)
{
    struct lane *ln;
    bool wake;
    if (!L.running || !(ln = lane())) {
        if (L.running)
            atomic_fetch_add(&cgd_m.declog_dropped, 1);
        return;
    }
    pthread_mutex_lock(&ln->lock);
    if (ln->n == QCAP) {
        pthread_mutex_unlock(&ln->lock);
        atomic_fetch_add(&cgd_m.declog_dropped, 1);
        return;
    }
    /* filled in place: at saturation, when lanes are full, a record
     * that would be dropped is not even built */
    memset(&ln->q[ln->n], 0, sizeof ln->q[ln->n]);
    fill(&ln->q[ln->n++], arg);
    wake = ln->n == BATCH;
    pthread_mutex_unlock(&ln->lock);
    if (wake) { /* once a batch, not once a call */
        pthread_mutex_lock(&L.lock);
        pthread_cond_signal(&L.cond);
        pthread_mutex_unlock(&L.lock);
    }
}

void cgd_declog_stop(void)
{
    int i;
    if (!L.running)
        return;
    pthread_mutex_lock(&L.lock);
    L.stop = true;
    pthread_cond_signal(&L.cond);
    pthread_mutex_unlock(&L.lock);
    pthread_join(L.tid, NULL);
    cg_declog_close(L.log);
    for (i = 0; i < atomic_load(&L.nlanes); i++) {
        free(L.lanes[i]->q);
        free(L.lanes[i]->spare);
        pthread_mutex_destroy(&L.lanes[i]->lock);
        free(L.lanes[i]);
    }
    L.running = false;
}
