#define _GNU_SOURCE /* SCHED_IDLE */
/*
 * The decision log writer: workers hand records to a bounded queue (a
 * mutex held for a copy of one record, never for I/O) and one low-priority
 * thread writes them to SQLite in transactions of up to 1024 records, at
 * least every 200 ms.  When the
 * queue is full (the disk cannot keep up) a record is dropped and counted,
 * rather than the call waiting.  On exit everything queued is written.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidguardd.h"

#define QCAP 16384
#define BATCH 1024

/* Two buffers: workers append to `q`; the writer swaps it with `spare`
 * under the lock (a pointer swap, never a copy: the SCHED_IDLE writer must
 * not be preempted while holding the lock workers need) and writes the
 * records it took outside the lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t tid;
    struct cg_declog_record *q, *spare;
    size_t n;
    bool stop, running;
    struct cg_declog *log;
    int keep_days;
    time_t next_prune;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *writer(void *arg)
{
    struct sched_param sp = {0};
    (void)arg;
    /* SCHED_IDLE: the writer only takes CPU no worker wants.  Sharing a
     * core with a worker at normal priority, its SQLite bursts put 9 ms on
     * the p99 answer time (cidguard-sipload at half rate: 9.5 ms vs 1.4 ms
     * without the log).  Under saturation the queue fills and records are
     * dropped and counted instead of delaying calls. */
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    for (;;) {
        struct cg_declog_record *batch;
        size_t n, i;
        bool stop;
        pthread_mutex_lock(&L.lock);
        if (!L.n && !L.stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&L.cond, &L.lock, &ts);
        }
        batch = L.q;
        n = L.n;
        L.q = L.spare;
        L.spare = batch;
        L.n = 0;
        stop = L.stop;
        pthread_mutex_unlock(&L.lock);
        for (i = 0; i < n; i += BATCH) {
            size_t k = n - i < BATCH ? n - i : BATCH;
            if (cg_declog_append(L.log, batch + i, k) != CG_OK) {
                atomic_fetch_add(&cgd_m.declog_errors, k);
                fprintf(stderr, "cidguardd: decision log: a batch of %zu could not be written\n", k);
            } else {
                atomic_fetch_add(&cgd_m.declog_written, k);
            }
        }
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

int cgd_declog_start(const char *path, int keep_days)
{
    L.keep_days = keep_days;
    L.next_prune = 0; /* at start, then hourly */
    if (cg_declog_open(&L.log, path) != CG_OK) {
        fprintf(stderr, "cidguardd: cannot open the decision log %s\n", path);
        return -1;
    }
    if (!(L.q = calloc(QCAP, sizeof *L.q)) || !(L.spare = calloc(QCAP, sizeof *L.spare)) ||
        pthread_create(&L.tid, NULL, writer, NULL)) {
        cg_declog_close(L.log);
        return -1;
    }
    L.running = true;
    return 0;
}

void cgd_declog_push(const struct cg_declog_record *r)
{
    if (!L.running)
        return;
    pthread_mutex_lock(&L.lock);
    if (L.n == QCAP) {
        pthread_mutex_unlock(&L.lock);
        atomic_fetch_add(&cgd_m.declog_dropped, 1);
        return;
    }
    L.q[L.n++] = *r;
    if (L.n >= BATCH)
        pthread_cond_signal(&L.cond);
    pthread_mutex_unlock(&L.lock);
}

void cgd_declog_stop(void)
{
    if (!L.running)
        return;
    pthread_mutex_lock(&L.lock);
    L.stop = true;
    pthread_cond_signal(&L.cond);
    pthread_mutex_unlock(&L.lock);
    pthread_join(L.tid, NULL);
    cg_declog_close(L.log);
    free(L.q);
    free(L.spare);
    L.running = false;
}
