/* The size bound shared by the library's SQLite logs (sqlog.h): their
 * footprint on disk, and the oldest records deleted in bursts to stay
 * under a limit. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/internal.h"
#include "core/sqlog.h"

/* The default WAL bound: the checkpoint interval of CG__SQLOG_PRAGMAS, in
 * 4 KB pages. */
#define WAL_PAGES 16384

int cg__sqlog_pragma_u64(sqlite3_stmt *st, uint64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CG_OK : CG_EIO;
}

int cg__sqlog_init(struct cg__sqlog *s, sqlite3 *db, const char *table, const char *what)
{
    sqlite3_stmt *st = NULL;
    uint64_t av = 0;
    char sql[160];
    memset(s, 0, sizeof *s);
    s->db = db;
    s->what = what;
    /* oldest first: rowids grow with every append */
    snprintf(sql, sizeof sql,
             "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s ORDER BY rowid LIMIT ?)", table,
             table);
    if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s->page_count, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA freelist_count", -1, &s->freelist_count, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &s->del_oldest, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) != SQLITE_OK ||
        cg__sqlog_pragma_u64(st, &s->page_size) != CG_OK || !s->page_size ||
        sqlite3_finalize(st) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &st, NULL) != SQLITE_OK ||
        cg__sqlog_pragma_u64(st, &av) != CG_OK) {
        sqlite3_finalize(st);
        cg__sqlog_fini(s);
        return CG_EIO;
    }
    sqlite3_finalize(st);
    s->incremental = av == 2;
    s->wal = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
    if (s->wal && !*s->wal)
        s->wal = NULL;
    sqlite3_busy_timeout(db, 2000);
    return CG_OK;
}

void cg__sqlog_fini(struct cg__sqlog *s)
{
    sqlite3_close(s->ckpt);
    s->ckpt = NULL;
    sqlite3_finalize(s->page_count);
    sqlite3_finalize(s->freelist_count);
    sqlite3_finalize(s->del_oldest);
    s->page_count = s->freelist_count = s->del_oldest = NULL;
}

static uint64_t wal_bytes(const struct cg__sqlog *s)
{
    struct stat sb;
    return s->wal && stat(s->wal, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int cg__sqlog_size(struct cg__sqlog *s, uint64_t *bytes)
{
    uint64_t pages;
    if (cg__sqlog_pragma_u64(s->page_count, &pages) != CG_OK)
        return CG_EIO;
    *bytes = pages * s->page_size + wal_bytes(s);
    return CG_OK;
}

/* The WAL's default bounds (64 MB) are small beside a large log and large
 * beside a small one: under a limit below 512 MB the WAL is kept to an
 * eighth of it (checkpoints come sooner, each syncing less). */
static void size_wal(struct cg__sqlog *s, uint64_t max_bytes)
{
    uint64_t pages = max_bytes / 8 / s->page_size;
    char sql[128];
    if (max_bytes == s->wal_sized_for)
        return;
    s->wal_sized_for = max_bytes;
    if (pages > WAL_PAGES)
        pages = WAL_PAGES;
    if (pages < 16)
        pages = 16;
    s->wal_pages = pages;
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%" PRIu64, pages * s->page_size);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (s->deferred) /* the pragma would replace the commit hook that says when */
        return;
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%" PRIu64, pages);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

/*
 * Checkpoints elsewhere.  A commit that finds the WAL past its bound copies
 * it into the database and syncs both files, inside the commit: on the
 * benchmark VM one such commit took 0.9 s, while the workers' lanes (8,192
 * records, 0.17 s of signing at 47,000 calls/s) filled and dropped records.
 * Deferred, a commit only notes that a checkpoint is due, and the owner's
 * other thread copies the WAL on a connection of its own: a passive
 * checkpoint, which never blocks the writer.  Should that thread fall
 * behind by four bounds, the writer checkpoints after all, so that the WAL
 * stays bounded.
 */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct cg__sqlog *s = arg;
    if ((uint64_t)frames >= s->wal_pages) {
        atomic_store(&s->due, true);
        if ((uint64_t)frames >= 4 * s->wal_pages)
            sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    return SQLITE_OK;
}

int cg__sqlog_defer_checkpoints(struct cg__sqlog *s)
{
    if (!s->wal)
        return CG_EINVAL; /* a memory database has no WAL */
    s->deferred = true;
    s->file = sqlite3_db_filename(s->db, "main");
    if (!s->wal_pages)
        s->wal_pages = WAL_PAGES;
    sqlite3_wal_hook(s->db, wal_committed, s); /* replaces the automatic checkpoint */
    return CG_OK;
}

int cg__sqlog_checkpoint(struct cg__sqlog *s)
{
    int rc, frames = -1;
    if (!s->deferred)
        return CG_EINVAL;
    if (!atomic_exchange(&s->due, false))
        return CG_OK;
    /* A connection finds the database in WAL mode when it first reads it:
     * until then a checkpoint does nothing, and says so only as -1 frames. */
    if (!s->ckpt &&
        (sqlite3_open_v2(s->file, &s->ckpt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
             SQLITE_OK ||
         sqlite3_exec(s->ckpt, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK)) {
        sqlite3_close(s->ckpt);
        s->ckpt = NULL;
        atomic_store(&s->due, true); /* the next call tries again */
        return CG_EIO;
    }
    rc = sqlite3_wal_checkpoint_v2(s->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, NULL);
    /* BUSY: another checkpoint was running (the writer's own, far behind) */
    if (rc == SQLITE_BUSY)
        return CG_OK;
    return rc == SQLITE_OK && frames >= 0 ? CG_OK : CG_EIO;
}

/* Bytes in pages that hold something (the file less its free pages). */
static int used_bytes(struct cg__sqlog *s, uint64_t *pages, uint64_t *used)
{
    uint64_t nfree;
    if (cg__sqlog_pragma_u64(s->page_count, pages) != CG_OK ||
        cg__sqlog_pragma_u64(s->freelist_count, &nfree) != CG_OK)
        return CG_EIO;
    *used = (*pages - (nfree < *pages ? nfree : *pages)) * s->page_size;
    return CG_OK;
}

/* Deleting a record costs about as much as appending it (15-50 us: its
 * index entries sit on random pages), so a burst of deletions is spread
 * over calls: each spends about PRUNE_BUDGET_MS and the next goes on,
 * leaving the writer free to drain the calls' records in between. */
#define PRUNE_BATCH_MIN 200
#define PRUNE_BATCH_MAX 5000
#define PRUNE_BUDGET_MS 200
/* Pages given back to the file system per call: 8 MB in 4 KB pages. */
#define VACUUM_PAGES_MAX 2048

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cg__sqlog_prune_to(struct cg__sqlog *s, uint64_t max_bytes, size_t *deleted)
{
    uint64_t pages, used, used0, wal, target, batch = s->batch ? s->batch : PRUNE_BATCH_MIN;
    int64_t t0 = ms_now();
    size_t total = 0;
    int rc = CG_OK;

    if (deleted)
        *deleted = 0;
    size_wal(s, max_bytes);
    if (used_bytes(s, &pages, &used) != CG_OK)
        return CG_EIO;
    wal = wal_bytes(s);
    used0 = used;
    /* Down to 90%, so that the next burst is minutes away rather than the
     * next second; the WAL's share comes off the records', but a WAL
     * swollen by a reader never takes more than half of them. */
    target = max_bytes - max_bytes / 10;
    target = wal < target - max_bytes / 2 ? target - wal : max_bytes / 2;
    if (used + wal > max_bytes)
        s->pruning = true;
    while (s->pruning && used > target && rc == CG_OK) {
        uint64_t n, fit;
        int64_t t1 = ms_now(), left = PRUNE_BUDGET_MS - (t1 - t0);
        if (left <= 0)
            break; /* the next call goes on */
        sqlite3_bind_int64(s->del_oldest, 1, (sqlite3_int64)batch);
        if (sqlite3_step(s->del_oldest) != SQLITE_DONE)
            rc = CG_EIO;
        sqlite3_reset(s->del_oldest);
        if (rc != CG_OK || !(n = (uint64_t)sqlite3_changes(s->db)))
            break; /* or empty: what is left is the schema */
        total += (size_t)n;
        rc = used_bytes(s, &pages, &used);
        /* The next batch: half of what is still over the target, at the
         * bytes a record has freed so far in this call.  Pages of an index
         * free up later than the table's, so that figure runs low and the
         * estimate high: taking half each time approaches the target
         * instead of deleting past it (judged by what the last batch alone
         * freed, one batch could empty the log).  Nothing freed yet: twice
         * the batch.
         * And no more than half the budget left at this batch's pace (a
         * larger batch costs more a record: it touches more pages of the
         * indexes). */
        batch = used < used0 && used > target
                    ? (used - target) / 2 / ((used0 - used) / total + 1) + 1
                    : batch * 2;
        if (batch > 2 * n)
            batch = 2 * n; /* the first figures are the least sure */
        t1 = ms_now() - t1;
        left -= t1;
        fit = left > 0 ? (uint64_t)left * n / 2 / (uint64_t)(t1 + 1) : 0;
        if (batch > fit)
            batch = fit;
        if (batch < PRUNE_BATCH_MIN)
            batch = PRUNE_BATCH_MIN;
        if (batch > PRUNE_BATCH_MAX)
            batch = PRUNE_BATCH_MAX;
        s->batch = batch;
    }
    if (used <= target || !total)
        s->pruning = false;
    if (deleted)
        *deleted = total;
    if (rc != CG_OK || pages * s->page_size + wal <= max_bytes)
        return rc;
    /* The file itself is over the limit (the limit was lowered, or the
     * file grew before there was one): free pages past it go back to the
     * file system, a bounded number per call.  Below the limit they stay,
     * for the next records. */
    if (s->incremental) {
        char sql[64];
        uint64_t over = (pages * s->page_size + wal - max_bytes) / s->page_size + 1;
        snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%" PRIu64 ")",
                 over < VACUUM_PAGES_MAX ? over : (uint64_t)VACUUM_PAGES_MAX);
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = CG_EIO;
    } else if (!s->warned) {
        s->warned = true;
        cg__log(CG_LOG_WARN,
                "%s: the file is larger than its limit and, created without "
                "auto_vacuum, cannot shrink; its free pages are reused (VACUUM shrinks it)",
                s->what);
    }
    return rc;
}
