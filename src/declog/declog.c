/* The decision log in SQLite: one prepared INSERT, one transaction per
 * batch, WAL so that `cidguard analyze` can read while the daemon writes;
 * bounded in age (cg_declog_prune) and in size (cg_declog_prune_to). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "cidguard/declog.h"
#include "core/internal.h"

struct cg_declog {
    sqlite3 *db;
    sqlite3_stmt *ins;
    sqlite3_stmt *page_count, *freelist_count, *del_oldest;
    uint64_t page_size;
    const char *wal;        /* the WAL's file name (SQLite's), NULL for a memory database */
    bool incremental;       /* auto_vacuum=INCREMENTAL: free pages can go back to the disk */
    bool warned;            /* said once that the file cannot shrink */
    bool pruning;           /* a burst of deletions is under way (cg_declog_prune_to) */
    uint64_t batch;         /* records the next deletion takes, learnt from the last */
    uint64_t wal_sized_for; /* the size limit the WAL's bounds follow; 0: the defaults */
};

/* The default WAL bound: the checkpoint interval below, in 4 KB pages. */
#define WAL_PAGES 16384

static const char schema[] =
    /* Before any table exists: a new database can give pages back to the
     * file system (cg_declog_prune_to) without a full VACUUM.  A database
     * created without it keeps its mode and reuses its free pages. */
    "PRAGMA auto_vacuum=INCREMENTAL;"
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    /* A checkpoint every 64 MB of WAL rather than every 4 MB: each one
     * syncs twice, and the disk's completions interrupt whichever core
     * they are routed to, which may be a worker's.  At 8,300 calls/s on
     * one core (bench/sipbench.sh's half rate), 60 s: p99 1.03 -> 0.74 ms,
     * p99.9 10.7 -> 3.5 ms. */
    "PRAGMA wal_autocheckpoint=16384;"
    /* After a checkpoint the WAL shrinks back to that interval, however
     * far a reader that held up checkpoints let it grow. */
    "PRAGMA journal_size_limit=67108864;"
    "CREATE TABLE IF NOT EXISTS decisions ("
    " time INTEGER NOT NULL, call_id TEXT, caller TEXT, callee TEXT, ingress TEXT,"
    " listener TEXT, verstat TEXT, attest TEXT, origid TEXT, spc TEXT, x5u_host TEXT,"
    " verify_reason TEXT, reasons TEXT, action TEXT, presented TEXT, caller_reasons TEXT,"
    " presented_reasons TEXT);"
    "CREATE INDEX IF NOT EXISTS decisions_time ON decisions(time);"
    "CREATE INDEX IF NOT EXISTS decisions_caller ON decisions(caller);";

/* One integer from a prepared PRAGMA. */
static int pragma_u64(sqlite3_stmt *st, uint64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CG_OK : CG_EIO;
}

/* A log made before the presentation number was logged gets its columns
 * (older rows have them NULL): nonzero on failure. */
static int add_columns(sqlite3 *db)
{
    static const char *const cols[] = {"presented", "caller_reasons", "presented_reasons"};
    bool have[3] = {false, false, false};
    sqlite3_stmt *st;
    size_t i;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(decisions)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        for (i = 0; name && i < 3; i++)
            if (strcmp(name, cols[i]) == 0)
                have[i] = true;
    }
    sqlite3_finalize(st);
    for (i = 0; i < 3; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "ALTER TABLE decisions ADD COLUMN %s TEXT", cols[i]);
        if (!have[i] && sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    }
    return 0;
}

int cg_declog_open(struct cg_declog **out, const char *path)
{
    struct cg_declog *l = calloc(1, sizeof *l);
    sqlite3_stmt *st = NULL;
    uint64_t av = 0;
    if (!l)
        return CG_ENOMEM;
    if (sqlite3_open_v2(path, &l->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK || add_columns(l->db) ||
        sqlite3_prepare_v2(l->db,
                           "INSERT INTO decisions(time, call_id, caller, callee, ingress, "
                           "listener, verstat, attest, origid, spc, x5u_host, verify_reason, "
                           "reasons, action, presented, caller_reasons, presented_reasons) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &l->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db, "PRAGMA page_count", -1, &l->page_count, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db, "PRAGMA freelist_count", -1, &l->freelist_count, NULL) !=
            SQLITE_OK ||
        /* oldest first: rowids grow with every append */
        sqlite3_prepare_v2(l->db,
                           "DELETE FROM decisions WHERE rowid IN "
                           "(SELECT rowid FROM decisions ORDER BY rowid LIMIT ?)",
                           -1, &l->del_oldest, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db, "PRAGMA page_size", -1, &st, NULL) != SQLITE_OK ||
        pragma_u64(st, &l->page_size) != CG_OK || !l->page_size ||
        sqlite3_finalize(st) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db, "PRAGMA auto_vacuum", -1, &st, NULL) != SQLITE_OK ||
        pragma_u64(st, &av) != CG_OK) {
        sqlite3_finalize(st);
        cg__log(CG_LOG_ERROR, "decision log %s: %s", path, l->db ? sqlite3_errmsg(l->db) : "");
        cg_declog_close(l);
        return CG_EIO;
    }
    sqlite3_finalize(st);
    l->incremental = av == 2;
    l->wal = sqlite3_filename_wal(sqlite3_db_filename(l->db, "main"));
    if (l->wal && !*l->wal)
        l->wal = NULL;
    sqlite3_busy_timeout(l->db, 2000);
    *out = l;
    return CG_OK;
}

void cg_declog_close(struct cg_declog *l)
{
    if (!l)
        return;
    sqlite3_finalize(l->ins);
    sqlite3_finalize(l->page_count);
    sqlite3_finalize(l->freelist_count);
    sqlite3_finalize(l->del_oldest);
    sqlite3_close(l->db);
    free(l);
}

static void text(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

int cg_declog_append(struct cg_declog *l, const struct cg_declog_record *recs, size_t n)
{
    size_t i;
    int rc = CG_OK;
    if (sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return CG_EIO;
    for (i = 0; i < n; i++) {
        const struct cg_declog_record *r = &recs[i];
        char attest[2] = {r->attest, 0}, reasons[400], on_caller[400], on_presented[400];
        cg_policy_reasons_str(r->reasons, reasons, sizeof reasons);
        cg_policy_reasons_str(r->caller_reasons, on_caller, sizeof on_caller);
        cg_policy_reasons_str(r->presented_reasons, on_presented, sizeof on_presented);
        sqlite3_reset(l->ins);
        sqlite3_bind_int64(l->ins, 1, r->time);
        text(l->ins, 2, r->call_id);
        text(l->ins, 3, r->caller);
        text(l->ins, 4, r->callee);
        text(l->ins, 5, r->ingress);
        text(l->ins, 6, r->listener);
        text(l->ins, 7, cg_verstat_str(r->verstat));
        text(l->ins, 8, attest);
        text(l->ins, 9, r->origid);
        text(l->ins, 10, r->spc);
        text(l->ins, 11, r->x5u_host);
        text(l->ins, 12, r->verify_reason);
        text(l->ins, 13, reasons);
        text(l->ins, 14, cg_action_str(r->action));
        text(l->ins, 15, r->presented);
        text(l->ins, 16, on_caller);
        text(l->ins, 17, on_presented);
        if (sqlite3_step(l->ins) != SQLITE_DONE) {
            rc = CG_EIO;
            break;
        }
    }
    if (sqlite3_exec(l->db, rc == CG_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        rc = CG_EIO;
    return rc;
}

int cg_declog_prune(struct cg_declog *l, int64_t before, size_t *deleted)
{
    sqlite3_stmt *st;
    int rc = CG_EIO;
    if (sqlite3_prepare_v2(l->db, "DELETE FROM decisions WHERE time < ?", -1, &st, NULL) !=
        SQLITE_OK)
        return CG_EIO;
    sqlite3_bind_int64(st, 1, before);
    if (sqlite3_step(st) == SQLITE_DONE) {
        if (deleted)
            *deleted = (size_t)sqlite3_changes(l->db);
        rc = CG_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static uint64_t wal_bytes(const struct cg_declog *l)
{
    struct stat sb;
    return l->wal && stat(l->wal, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int cg_declog_size(struct cg_declog *l, uint64_t *bytes)
{
    uint64_t pages;
    if (pragma_u64(l->page_count, &pages) != CG_OK)
        return CG_EIO;
    *bytes = pages * l->page_size + wal_bytes(l);
    return CG_OK;
}

/* The WAL's default bounds (64 MB) are small beside a large log and large
 * beside a small one: under a limit below 512 MB the WAL is kept to an
 * eighth of it (checkpoints come sooner, each syncing less). */
static void size_wal(struct cg_declog *l, uint64_t max_bytes)
{
    uint64_t pages = max_bytes / 8 / l->page_size;
    char sql[128];
    if (max_bytes == l->wal_sized_for)
        return;
    l->wal_sized_for = max_bytes;
    if (pages > WAL_PAGES)
        pages = WAL_PAGES;
    if (pages < 16)
        pages = 16;
    snprintf(sql, sizeof sql,
             "PRAGMA wal_autocheckpoint=%" PRIu64 ";PRAGMA journal_size_limit=%" PRIu64, pages,
             pages * l->page_size);
    sqlite3_exec(l->db, sql, NULL, NULL, NULL);
}

/* Bytes in pages that hold something (the file less its free pages). */
static int used_bytes(struct cg_declog *l, uint64_t *pages, uint64_t *used)
{
    uint64_t nfree;
    if (pragma_u64(l->page_count, pages) != CG_OK || pragma_u64(l->freelist_count, &nfree) != CG_OK)
        return CG_EIO;
    *used = (*pages - (nfree < *pages ? nfree : *pages)) * l->page_size;
    return CG_OK;
}

/* Deleting a record costs about as much as appending it (15-50 us: its
 * caller index entry sits on a random page), so a burst of deletions is
 * spread over calls: each spends about PRUNE_BUDGET_MS and the next goes
 * on, leaving the writer free to drain the calls' records in between. */
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

int cg_declog_prune_to(struct cg_declog *l, uint64_t max_bytes, size_t *deleted)
{
    uint64_t pages, used, wal, target, batch = l->batch ? l->batch : PRUNE_BATCH_MIN;
    int64_t t0 = ms_now();
    size_t total = 0;
    int rc = CG_OK;

    if (deleted)
        *deleted = 0;
    size_wal(l, max_bytes);
    if (used_bytes(l, &pages, &used) != CG_OK)
        return CG_EIO;
    wal = wal_bytes(l);
    /* Down to 90%, so that the next burst is minutes away rather than the
     * next second; the WAL's share comes off the records', but a WAL
     * swollen by a reader never takes more than half of them. */
    target = max_bytes - max_bytes / 10;
    target = wal < target - max_bytes / 2 ? target - wal : max_bytes / 2;
    if (used + wal > max_bytes)
        l->pruning = true;
    while (l->pruning && used > target && rc == CG_OK) {
        uint64_t before = used, n, fit;
        int64_t t1 = ms_now(), left = PRUNE_BUDGET_MS - (t1 - t0);
        if (left <= 0)
            break; /* the next call goes on */
        sqlite3_bind_int64(l->del_oldest, 1, (sqlite3_int64)batch);
        if (sqlite3_step(l->del_oldest) != SQLITE_DONE)
            rc = CG_EIO;
        sqlite3_reset(l->del_oldest);
        if (rc != CG_OK || !(n = (uint64_t)sqlite3_changes(l->db)))
            break; /* or empty: what is left is the schema */
        total += (size_t)n;
        rc = used_bytes(l, &pages, &used);
        /* The next batch from what this one freed (pages of the caller
         * index free up later than the table's, so a batch may free
         * nothing and the next is larger), and taking no more than half
         * the budget left at this batch's pace (a larger batch costs more
         * a record: it touches more pages of the caller index). */
        batch = used < before && used > target ? (used - target) / ((before - used) / n + 1) + 1
                                               : batch * 2;
        t1 = ms_now() - t1;
        left -= t1;
        fit = left > 0 ? (uint64_t)left * n / 2 / (uint64_t)(t1 + 1) : 0;
        if (batch > fit)
            batch = fit;
        if (batch < PRUNE_BATCH_MIN)
            batch = PRUNE_BATCH_MIN;
        if (batch > PRUNE_BATCH_MAX)
            batch = PRUNE_BATCH_MAX;
        l->batch = batch;
    }
    if (used <= target || !total)
        l->pruning = false;
    if (deleted)
        *deleted = total;
    if (rc != CG_OK || pages * l->page_size + wal <= max_bytes)
        return rc;
    /* The file itself is over the limit (the limit was lowered, or the
     * file grew before there was one): free pages past it go back to the
     * file system, a bounded number per call.  Below the limit they stay,
     * for the next records. */
    if (l->incremental) {
        char sql[64];
        uint64_t over = (pages * l->page_size + wal - max_bytes) / l->page_size + 1;
        snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%" PRIu64 ")",
                 over < VACUUM_PAGES_MAX ? over : (uint64_t)VACUUM_PAGES_MAX);
        if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = CG_EIO;
    } else if (!l->warned) {
        l->warned = true;
        cg__log(CG_LOG_WARN,
                "decision log: the file is larger than its limit and, created without "
                "auto_vacuum, cannot shrink; its free pages are reused (VACUUM shrinks it)");
    }
    return rc;
}

void cg_declog_record_fill(struct cg_declog_record *r, const struct cg_verdict *v,
                           const struct cg_decision *d, int64_t now)
{
    const char *h, *e;
    r->time = now;
    r->verstat = d ? d->verstat : v->verstat;
    r->attest = v->attest;
    cg__strlcpy(r->origid, v->origid, sizeof r->origid);
    cg__strlcpy(r->spc, v->spc, sizeof r->spc);
    cg__strlcpy(r->verify_reason, cg_reason_name(v->reason), sizeof r->verify_reason);
    if (!r->callee[0])
        cg__strlcpy(r->callee, v->dest, sizeof r->callee);
    r->x5u_host[0] = '\0';
    if ((h = strstr(v->x5u, "://"))) {
        h += 3;
        e = h + strcspn(h, "/:?#");
        if ((size_t)(e - h) < sizeof r->x5u_host) {
            memcpy(r->x5u_host, h, (size_t)(e - h));
            r->x5u_host[e - h] = '\0';
        }
    }
    r->reasons = d ? d->reasons : 0;
    r->caller_reasons = d ? d->caller_reasons : 0;
    r->presented_reasons = d ? d->presented_reasons : 0;
    r->action = d ? d->action : CG_ACTION_ALLOW;
}
