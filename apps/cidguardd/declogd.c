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
    uint64_t max_bytes; /* 0: no cap */
    time_t next_size_check;
} writer_state = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

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
        if (cg_declog_append(writer_state.log, batch + i, k) != CG_OK) {
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
    writer_state.next_size_check = time(NULL) + 1;
    if (writer_state.max_bytes &&
        cg_declog_prune_to(writer_state.log, writer_state.max_bytes, &deleted) != CG_OK)
        fprintf(stderr, "cidguardd: decision log: pruning to the size cap failed\n");
    if (deleted)
        atomic_fetch_add(&cgd_m.declog_pruned, deleted);
    if (cg_declog_size(writer_state.log, &bytes) == CG_OK)
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
        pthread_mutex_lock(&writer_state.lock);
        if (!writer_state.stop) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&writer_state.cond, &writer_state.lock, &ts);
        }
        stop = writer_state.stop;
        pthread_mutex_unlock(&writer_state.lock);
        nl = atomic_load(&writer_state.nlanes);
        for (i = 0; i < nl; i++)
            n += drain(writer_state.lanes[i]);
        if (time(NULL) >= writer_state.next_size_check)
            keep_under_cap();
        if (writer_state.keep_days > 0 && time(NULL) >= writer_state.next_prune) {
            /* retention, hourly, in the same low-priority thread */
            size_t del = 0;
            if (cg_declog_prune(writer_state.log,
                                (int64_t)time(NULL) - (int64_t)writer_state.keep_days * 86400,
                                &del) != CG_OK)
                fprintf(stderr, "cidguardd: decision log: pruning failed\n");
            writer_state.next_prune = time(NULL) + 3600;
        }
        if (stop && !n)
            return NULL;
    }
}

int cgd_declog_start(const char *path, int keep_days, int max_mb)
{
    writer_state.keep_days = keep_days;
    writer_state.max_bytes = (uint64_t)max_mb << 20;
    atomic_store(&cgd_m.declog_max_bytes, writer_state.max_bytes);
    writer_state.next_prune = 0; /* at start, then hourly */
    if (cg_declog_open(&writer_state.log, path) != CG_OK) {
        fprintf(stderr, "cidguardd: cannot open the decision log %s\n", path);
        return -1;
    }
    if (pthread_create(&writer_state.tid, NULL, writer, NULL)) {
        cg_declog_close(writer_state.log);
        return -1;
    }
    writer_state.running = true;
    return 0;
}

/* This thread's lane, made on its first record (NULL: none left). */
static struct lane *lane(void)
{
    struct lane *ln;
    if (my_lane)
        return my_lane;
    pthread_mutex_lock(&writer_state.lock);
    if (atomic_load(&writer_state.nlanes) < LANES && (ln = calloc(1, sizeof *ln)) &&
        (ln->q = calloc(QCAP, sizeof *ln->q)) && (ln->spare = calloc(QCAP, sizeof *ln->spare))) {
        pthread_mutex_init(&ln->lock, NULL);
        writer_state.lanes[atomic_load(&writer_state.nlanes)] = ln;
        atomic_fetch_add(&writer_state.nlanes, 1);
        my_lane = ln;
    }
    pthread_mutex_unlock(&writer_state.lock);
    return my_lane;
}

void cgd_declog_push(void (*fill)(struct cg_declog_record *rec, void *arg), void *arg)
{
    struct lane *ln;
    bool wake;
    if (!writer_state.running || !(ln = lane())) {
        if (writer_state.running)
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
        pthread_mutex_lock(&writer_state.lock);
        pthread_cond_signal(&writer_state.cond);
        pthread_mutex_unlock(&writer_state.lock);
    }
}

void cgd_declog_stop(void)
{
    int i;
    if (!writer_state.running)
        return;
    pthread_mutex_lock(&writer_state.lock);
    writer_state.stop = true;
    pthread_cond_signal(&writer_state.cond);
    pthread_mutex_unlock(&writer_state.lock);
    pthread_join(writer_state.tid, NULL);
    cg_declog_close(writer_state.log);
    for (i = 0; i < atomic_load(&writer_state.nlanes); i++) {
        free(writer_state.lanes[i]->q);
        free(writer_state.lanes[i]->spare);
        pthread_mutex_destroy(&writer_state.lanes[i]->lock);
        free(writer_state.lanes[i]);
    }
    writer_state.running = false;
}
