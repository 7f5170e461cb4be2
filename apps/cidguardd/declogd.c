#define _GNU_SOURCE /* SCHED_IDLE */
/*
 * The log writer: workers hand records to bounded per-worker lanes (a lock
 * held for a copy of one record, never for I/O) and one low-priority
 * thread writes them to SQLite in transactions of up to 1024 records, at
 * least every 200 ms.  When a lane is full (the disk cannot keep up) a
 * record is dropped and counted, rather than the call waiting.  On exit
 * everything queued is written.  The same thread serves the decision log
 * and the signing log, each with its own lanes, bounds and counters; a
 * second thread makes their WAL checkpoints, so that the writer never waits
 * for a disk sync.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "declogd.h"
#include "log.h"
#include "metrics.h"

/*
 * One lane per worker thread and log, each with its own lock, taken by
 * that worker for a copy of one record and by the writer for a pointer
 * swap: the call path takes no lock another worker takes.  The writer is
 * woken through one condition variable only when a lane holds a batch.
 */
#define QCAP 8192 /* per lane */
#define BATCH 1024
#define LANES 64

struct lane {
    pthread_mutex_t lock;
    unsigned char *q, *spare; /* QCAP records each */
    size_t n;
};

enum { LOG_DECISIONS, LOG_SIGNINGS, LOG__COUNT };

/* What the writer does with one log; the library's calls, by kind. */
struct log {
    const char *name; /* in messages */
    size_t size;      /* of a record */
    struct cg_declog *declog;
    struct cg_signlog *signlog;
    char path[CGD_LOG_PATH];
    struct lane *lanes[LANES];
    _Atomic int nlanes;
    atomic_bool running;
    int keep_days;
    time_t next_prune;
    uint64_t max_bytes; /* 0: no cap */
    time_t next_size_check;
    atomic_ullong *written, *dropped, *errors, *bytes, *max_bytes_m, *pruned;
};

static struct {
    pthread_mutex_t lock; /* the wake-up, lane creation, start and stop */
    pthread_cond_t cond;
    pthread_t tid, ckpt_tid;
    bool stop, thread;
    pthread_cond_t ckpt_cond; /* the checkpointer's sleep, cut short at stop */
    bool kick;                /* a lane reached a batch since the writer last looked */
    struct log logs[LOG__COUNT];
} writer_state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .ckpt_cond = PTHREAD_COND_INITIALIZER,
    .logs =
        {
            [LOG_DECISIONS] = {.name = "decision log",
                               .size = sizeof(struct cg_declog_record),
                               .written = &cgd_m.declog_written,
                               .dropped = &cgd_m.declog_dropped,
                               .errors = &cgd_m.declog_errors,
                               .bytes = &cgd_m.declog_bytes,
                               .max_bytes_m = &cgd_m.declog_max_bytes,
                               .pruned = &cgd_m.declog_pruned},
            [LOG_SIGNINGS] = {.name = "signing log",
                              .size = sizeof(struct cg_signlog_record),
                              .written = &cgd_m.signlog_written,
                              .dropped = &cgd_m.signlog_dropped,
                              .errors = &cgd_m.signlog_errors,
                              .bytes = &cgd_m.signlog_bytes,
                              .max_bytes_m = &cgd_m.signlog_max_bytes,
                              .pruned = &cgd_m.signlog_pruned},
        },
};

static __thread struct lane *my_lane[LOG__COUNT];

static int log_append(struct log *lg, const unsigned char *recs, size_t n)
{
    return lg->declog ? cg_declog_append(lg->declog, (const struct cg_declog_record *)recs, n)
                      : cg_signlog_append(lg->signlog, (const struct cg_signlog_record *)recs, n);
}

static int log_prune(struct log *lg, int64_t before, size_t *deleted)
{
    return lg->declog ? cg_declog_prune(lg->declog, before, deleted)
                      : cg_signlog_prune(lg->signlog, before, deleted);
}

static int log_prune_to(struct log *lg, uint64_t max_bytes, size_t *deleted)
{
    return lg->declog ? cg_declog_prune_to(lg->declog, max_bytes, deleted)
                      : cg_signlog_prune_to(lg->signlog, max_bytes, deleted);
}

static int log_size(struct log *lg, uint64_t *bytes)
{
    return lg->declog ? cg_declog_size(lg->declog, bytes) : cg_signlog_size(lg->signlog, bytes);
}

/* Swaps out and writes what one lane holds; returns how many. */
static size_t drain(struct log *lg, struct lane *ln)
{
    unsigned char *batch;
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
        if (log_append(lg, batch + i * lg->size, k) != CG_OK) {
            atomic_fetch_add(lg->errors, k);
            cgd_log(LOG_ERR, "cidguardd: %s: a batch of %zu could not be written", lg->name, k);
        } else {
            atomic_fetch_add(lg->written, k);
        }
    }
    return n;
}

/*
 * Once a second: the log's size on disk for /metrics and, over its cap,
 * the oldest records pruned (in bursts of at most about 200 ms, so that a
 * large backlog is spread over several seconds while records keep being
 * written).  Without a cap a busy daemon fills its disk at about 290 bytes
 * a call for the decision log, 340 for the signing log.
 */
static void keep_under_cap(struct log *lg)
{
    uint64_t bytes;
    size_t deleted = 0;
    lg->next_size_check = time(NULL) + 1;
    if (lg->max_bytes && log_prune_to(lg, lg->max_bytes, &deleted) != CG_OK)
        cgd_log(LOG_WARNING, "cidguardd: %s: pruning to the size cap failed", lg->name);
    if (deleted)
        atomic_fetch_add(lg->pruned, deleted);
    if (log_size(lg, &bytes) == CG_OK)
        atomic_store(lg->bytes, bytes);
}

/* Writes what one log's lanes hold and keeps its bounds; returns how many. */
static size_t serve(struct log *lg)
{
    size_t n = 0;
    int i, nl = atomic_load(&lg->nlanes);
    for (i = 0; i < nl; i++)
        n += drain(lg, lg->lanes[i]);
    if (time(NULL) >= lg->next_size_check)
        keep_under_cap(lg);
    if (lg->keep_days > 0 && time(NULL) >= lg->next_prune) {
        /* retention, hourly, in the same low-priority thread */
        size_t del = 0;
        if (log_prune(lg, (int64_t)time(NULL) - (int64_t)lg->keep_days * 86400, &del) != CG_OK)
            cgd_log(LOG_WARNING, "cidguardd: %s: pruning failed", lg->name);
        lg->next_prune = time(NULL) + 3600;
    }
    return n;
}

/* A condition variable's deadline `ms` (under 1000) from now. */
static const struct timespec *in_ms(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += ms * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
    return ts;
}

static void *writer(void *arg)
{
    struct sched_param sp = {0};
    (void)arg;
    /* SCHED_IDLE: the writer only takes CPU no worker wants.  Sharing a
     * core with a worker at normal priority, its SQLite bursts put 9 ms on
     * the p99 answer time (cidguard-sipload at half rate: 9.5 ms vs 1.4 ms
     * without the log); signing at 85% of the core's raw rate, 46-50 ms
     * against 2-10 ms at idle priority, and nice 10 kept no more records
     * than idle priority did.  Under saturation the lanes fill and records
     * are dropped and counted instead of delaying calls. */
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    for (;;) {
        struct timespec ts;
        size_t n = 0;
        int k;
        bool stop;
        pthread_mutex_lock(&writer_state.lock);
        /* A lane that reached a batch while the writer was writing kicked
         * it then: the writer goes on at once.  (A signal alone would be
         * lost with no one waiting, and the lane, past BATCH, would not
         * signal again: it filled and dropped records before the timeout.) */
        if (!writer_state.stop && !writer_state.kick)
            pthread_cond_timedwait(&writer_state.cond, &writer_state.lock, in_ms(&ts, 200));
        stop = writer_state.stop;
        writer_state.kick = false;
        pthread_mutex_unlock(&writer_state.lock);
        for (k = 0; k < LOG__COUNT; k++)
            if (atomic_load(&writer_state.logs[k].running))
                n += serve(&writer_state.logs[k]);
        if (stop && !n)
            return NULL;
    }
}

/*
 * The checkpointer: copies a log's WAL into its database when the writer's
 * commits say one is due, so that the writer never waits for those disk
 * syncs (cg_declog_defer_checkpoints); it looks every 100 ms.  At idle
 * priority, like the writer: a checkpoint copies up to 64 MB in one burst.
 * Signing at 85% of raw on the workers' core, two rounds each: idle
 * priority kept every record with p99 at 3.2-3.7 ms; nice 10 dropped
 * 0.7-2.2% (p99 3.5-4.7 ms), nice 0 dropped 0.9-1.5% (p99 42-48 ms).
 */
static void *checkpointer(void *arg)
{
    struct sched_param sp = {0};
    (void)arg;
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    for (;;) {
        struct timespec ts;
        int k;
        pthread_mutex_lock(&writer_state.lock);
        if (writer_state.stop) {
            pthread_mutex_unlock(&writer_state.lock);
            return NULL;
        }
        pthread_cond_timedwait(&writer_state.ckpt_cond, &writer_state.lock, in_ms(&ts, 100));
        pthread_mutex_unlock(&writer_state.lock);
        for (k = 0; k < LOG__COUNT; k++) {
            struct log *lg = &writer_state.logs[k];
            int rc;
            if (!atomic_load(&lg->running))
                continue;
            rc = lg->declog ? cg_declog_checkpoint(lg->declog) : cg_signlog_checkpoint(lg->signlog);
            if (rc != CG_OK)
                cgd_log(LOG_WARNING, "cidguardd: %s: checkpoint failed", lg->name);
        }
    }
}

/* Opens one log and starts the writer if it is not running yet. */
static int start(struct log *lg, const char *path, int keep_days, int max_mb)
{
    int rc = 0;
    lg->keep_days = keep_days;
    lg->max_bytes = (uint64_t)max_mb << 20;
    atomic_store(lg->max_bytes_m, lg->max_bytes);
    lg->next_prune = 0; /* at start, then hourly */
    if (snprintf(lg->path, sizeof lg->path, "%s", path) >= (int)sizeof lg->path ||
        (lg == &writer_state.logs[LOG_DECISIONS] ? cg_declog_open(&lg->declog, path)
                                                 : cg_signlog_open(&lg->signlog, path)) != CG_OK) {
        cgd_log(LOG_ERR, "cidguardd: cannot open the %s %s", lg->name, path);
        return -1;
    }
    /* a memory database has no WAL, and keeps SQLite's checkpoints */
    (void)(lg->declog ? cg_declog_defer_checkpoints(lg->declog)
                      : cg_signlog_defer_checkpoints(lg->signlog));
    pthread_mutex_lock(&writer_state.lock);
    if (!writer_state.thread) {
        if (pthread_create(&writer_state.tid, NULL, writer, NULL))
            rc = -1;
        else if (pthread_create(&writer_state.ckpt_tid, NULL, checkpointer, NULL)) {
            writer_state.stop = true; /* the writer alone: it ends at once */
            pthread_cond_signal(&writer_state.cond);
            pthread_mutex_unlock(&writer_state.lock);
            pthread_join(writer_state.tid, NULL);
            pthread_mutex_lock(&writer_state.lock);
            writer_state.stop = false;
            rc = -1;
        } else {
            writer_state.thread = true;
            pthread_setname_np(writer_state.tid, "cidguardd-log");
            pthread_setname_np(writer_state.ckpt_tid, "cidguardd-ckpt");
        }
    }
    if (rc == 0)
        atomic_store(&lg->running, true);
    pthread_mutex_unlock(&writer_state.lock);
    if (rc) {
        cg_declog_close(lg->declog);
        cg_signlog_close(lg->signlog);
        lg->declog = NULL;
        lg->signlog = NULL;
    }
    return rc;
}

int cgd_declog_start(const char *path, int keep_days, int max_mb)
{
    return start(&writer_state.logs[LOG_DECISIONS], path, keep_days, max_mb);
}

int cgd_signlog_start(const char *path, int keep_days, int max_mb)
{
    return start(&writer_state.logs[LOG_SIGNINGS], path, keep_days, max_mb);
}

const char *cgd_signlog_path(void)
{
    struct log *lg = &writer_state.logs[LOG_SIGNINGS];
    return atomic_load(&lg->running) ? lg->path : NULL;
}

/* This thread's lane of a log, made on its first record (NULL: none left). */
static struct lane *lane(struct log *lg, int k)
{
    struct lane *ln;
    if (my_lane[k])
        return my_lane[k];
    pthread_mutex_lock(&writer_state.lock);
    if (atomic_load(&lg->nlanes) < LANES && (ln = calloc(1, sizeof *ln)) &&
        (ln->q = calloc(QCAP, lg->size)) && (ln->spare = calloc(QCAP, lg->size))) {
        pthread_mutex_init(&ln->lock, NULL);
        lg->lanes[atomic_load(&lg->nlanes)] = ln;
        atomic_fetch_add(&lg->nlanes, 1);
        my_lane[k] = ln;
    }
    pthread_mutex_unlock(&writer_state.lock);
    return my_lane[k];
}

/*
 * The next free record of this thread's lane of log k, zeroed, with the
 * lane locked (*ln); NULL when the log is off or the record was dropped.
 * Filled in place: at saturation, when lanes are full, a record that would
 * be dropped is not even built.
 */
static void *reserve(int k, struct lane **ln)
{
    struct log *lg = &writer_state.logs[k];
    void *rec;
    if (!atomic_load(&lg->running))
        return NULL;
    if (!(*ln = lane(lg, k))) {
        atomic_fetch_add(lg->dropped, 1);
        return NULL;
    }
    pthread_mutex_lock(&(*ln)->lock);
    if ((*ln)->n == QCAP) {
        pthread_mutex_unlock(&(*ln)->lock);
        atomic_fetch_add(lg->dropped, 1);
        return NULL;
    }
    rec = (*ln)->q + (*ln)->n++ * lg->size;
    memset(rec, 0, lg->size);
    return rec;
}

static void commit(struct lane *ln)
{
    bool wake = ln->n == BATCH;
    pthread_mutex_unlock(&ln->lock);
    if (wake) { /* once a batch, not once a call */
        pthread_mutex_lock(&writer_state.lock);
        writer_state.kick = true;
        pthread_cond_signal(&writer_state.cond);
        pthread_mutex_unlock(&writer_state.lock);
    }
}

void cgd_declog_push(void (*fill)(struct cg_declog_record *rec, void *arg), void *arg)
{
    struct lane *ln;
    struct cg_declog_record *rec = reserve(LOG_DECISIONS, &ln);
    if (rec) {
        fill(rec, arg);
        commit(ln);
    }
}

void cgd_signlog_push(void (*fill)(struct cg_signlog_record *rec, void *arg), void *arg)
{
    struct lane *ln;
    struct cg_signlog_record *rec = reserve(LOG_SIGNINGS, &ln);
    if (rec) {
        fill(rec, arg);
        commit(ln);
    }
}

void cgd_declog_stop(void)
{
    int i, k;
    pthread_mutex_lock(&writer_state.lock);
    if (!writer_state.thread) {
        pthread_mutex_unlock(&writer_state.lock);
        return;
    }
    writer_state.stop = true;
    pthread_cond_signal(&writer_state.cond);
    pthread_cond_signal(&writer_state.ckpt_cond);
    pthread_mutex_unlock(&writer_state.lock);
    pthread_join(writer_state.ckpt_tid, NULL); /* before the logs close */
    pthread_join(writer_state.tid, NULL);
    writer_state.thread = false;
    for (k = 0; k < LOG__COUNT; k++) {
        struct log *lg = &writer_state.logs[k];
        atomic_store(&lg->running, false);
        cg_declog_close(lg->declog);
        cg_signlog_close(lg->signlog);
        lg->declog = NULL;
        lg->signlog = NULL;
        for (i = 0; i < atomic_load(&lg->nlanes); i++) {
            free(lg->lanes[i]->q);
            free(lg->lanes[i]->spare);
            pthread_mutex_destroy(&lg->lanes[i]->lock);
            free(lg->lanes[i]);
        }
        atomic_store(&lg->nlanes, 0);
    }
}
