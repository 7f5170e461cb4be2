/* The signing log in SQLite (signlog.h): one prepared INSERT, one
 * transaction per batch, WAL so that traceback queries read while the
 * daemon writes; bounded in age and in size (core/sqlog.c, shared with the
 * decision log). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cidguard/analyze.h"
#include "cidguard/signlog.h"
#include "core/internal.h"
#include "core/sqlog.h"
#include "signlog/signlog_internal.h"

/*
 * The records, in the order they were appended, and the log's own index of
 * them in signing_keys (keys.c, which says why it is not SQLite's): an
 * origid's records, a call's, and a customer's totals by second.
 * signing_indexed holds the last rowid indexed.  The indexes of the
 * earlier layout are dropped, and their records indexed, when a writer
 * opens the log.  About 340 bytes a record (bench/tracebench.sh).
 */
static const char schema[] = CG__SQLOG_PRAGMAS
    /* one transaction: a reader never sees the index without its mark */
    "BEGIN;"
    "CREATE TABLE IF NOT EXISTS signings ("
    " time INTEGER NOT NULL, call_id TEXT, customer TEXT NOT NULL, source TEXT, ingress TEXT,"
    " orig TEXT, presented TEXT, dest TEXT, attest TEXT, origid TEXT, spc TEXT, action TEXT,"
    " reasons TEXT, listener TEXT);"
    "CREATE TABLE IF NOT EXISTS signing_keys (kind INTEGER NOT NULL, bucket INTEGER NOT NULL,"
    " key TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (kind, bucket, key, first)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS signing_indexed (upto INTEGER NOT NULL);"
    "INSERT INTO signing_indexed SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM signing_indexed);"
    "DROP INDEX IF EXISTS signings_origid;"
    "DROP INDEX IF EXISTS signings_orig;"
    "DROP INDEX IF EXISTS signings_customer;"
    "COMMIT;";

#define COLS                                                                                       \
    "time, call_id, customer, source, ingress, orig, presented, dest, attest, origid, spc, "       \
    "action, reasons, listener"

/* prepared in this order: a database without the records says so first */
enum { Q_RECORD, Q_AT, Q_NEXT, Q_INDEXED, Q__COUNT };

static const char *const query_sql[Q__COUNT] = {
    [Q_RECORD] = "SELECT " COLS " FROM signings WHERE rowid = ?1",
    /* one key's rows in one bucket */
    [Q_AT] = "SELECT first, data FROM signing_keys WHERE kind = ?1 AND bucket = ?2 AND key = ?3 "
             "ORDER BY first",
    /* the first bucket of a kind holding anything, within a range */
    [Q_NEXT] = "SELECT bucket FROM signing_keys WHERE kind = ?1 AND bucket BETWEEN ?2 AND ?3 "
               "ORDER BY bucket LIMIT 1",
    /* whether every record is indexed: the writer indexes each batch in
     * its own transaction, and the records of an earlier layout or of
     * another program when it opens the log */
    [Q_INDEXED] = "SELECT (SELECT upto FROM signing_indexed) >= "
                  "coalesce((SELECT max(rowid) FROM signings), 0)",
};

const char *cg__signlog_sql(int i)
{
    return i >= 0 && i < Q__COUNT ? query_sql[i] : NULL;
}

struct cg_signlog {
    struct cg__sqlog s; /* the database and its size bound (writers) */
    sqlite3 *db;
    bool readonly;
    sqlite3_stmt *ins, *oldest, *del_before, *first_kept;
    sqlite3_stmt *q[Q__COUNT];
    struct cg__skeys *keys;   /* writers */
    struct timespec deadline; /* of the query under way; tv_sec 0: none */
};

void cg_signlog_close(struct cg_signlog *l)
{
    int i;
    if (!l)
        return;
    sqlite3_finalize(l->ins);
    sqlite3_finalize(l->oldest);
    sqlite3_finalize(l->del_before);
    sqlite3_finalize(l->first_kept);
    cg__skeys_free(l->keys);
    for (i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(l->q[i]);
    cg__sqlog_fini(&l->s);
    sqlite3_close(l->db);
    free(l);
}

static int prepare_queries(struct cg_signlog *l)
{
    int i;
    for (i = 0; i < Q__COUNT; i++)
        if (sqlite3_prepare_v2(l->db, query_sql[i], -1, &l->q[i], NULL) != SQLITE_OK)
            return -1;
    return 0;
}

int cg_signlog_open(struct cg_signlog **out, const char *path)
{
    struct cg_signlog *l;
    size_t indexed;
    if (!out || !path || !*path)
        return CG_EINVAL;
    if (!(l = calloc(1, sizeof *l)))
        return CG_ENOMEM;
    if (sqlite3_open_v2(path, &l->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db,
                           "INSERT INTO signings(" COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1,
                           &l->ins, NULL) != SQLITE_OK ||
        /* the age prune: the first record (in the order of appending) at
         * or after the bound, then everything appended before it */
        sqlite3_prepare_v2(l->db,
                           "SELECT rowid FROM signings WHERE time >= ?1 ORDER BY rowid "
                           "LIMIT 1",
                           -1, &l->oldest, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db,
                           "DELETE FROM signings WHERE rowid IN (SELECT rowid FROM signings "
                           "WHERE rowid < ?1 ORDER BY rowid LIMIT 10000)",
                           -1, &l->del_before, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db, "SELECT rowid, time FROM signings ORDER BY rowid LIMIT 1", -1,
                           &l->first_kept, NULL) != SQLITE_OK ||
        prepare_queries(l) || cg__sqlog_init(&l->s, l->db, "signings", "signing log") != CG_OK ||
        cg__skeys_new(&l->keys, l->db) != CG_OK) {
        cg__log(CG_LOG_ERROR, "signing log %s: %s", path, l->db ? sqlite3_errmsg(l->db) : "");
        cg_signlog_close(l);
        return CG_EIO;
    }
    /* the newest buckets' pages stay in memory between batches */
    sqlite3_exec(l->db, "PRAGMA cache_size=-32768", NULL, NULL, NULL);
    if (cg__skeys_catch_up(l->keys, &indexed) != CG_OK) {
        cg__log(CG_LOG_ERROR, "signing log %s: indexing its records: %s", path,
                sqlite3_errmsg(l->db));
        cg_signlog_close(l);
        return CG_EIO;
    }
    if (indexed)
        cg__log(CG_LOG_INFO, "signing log %s: %zu records indexed", path, indexed);
    *out = l;
    return CG_OK;
}

int cg_signlog_open_readonly(struct cg_signlog **out, const char *path)
{
    struct cg_signlog *l;
    struct stat sb;
    int rc, flags;
    if (!out || !path || !*path)
        return CG_EINVAL;
    if (stat(path, &sb) != 0)
        return CG_ENOTFOUND;
    if (!S_ISREG(sb.st_mode))
        return CG_EIO;
    if (!(l = calloc(1, sizeof *l)))
        return CG_ENOMEM;
    l->readonly = true;
    /* Read-write without create when we may (a WAL database read by a
     * connection that cannot write its -shm file fails when the writer has
     * gone), and query_only so that nothing is written all the same. */
    flags = (access(path, W_OK) == 0 ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
            SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK) {
        cg_signlog_close(l);
        return CG_EIO;
    }
    sqlite3_busy_timeout(l->db, 100);
    /* Pages read through a mapping rather than a read() each, and a few
     * MB of cache: a query touches some hundreds of pages. */
    sqlite3_exec(l->db, "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-8192", NULL, NULL, NULL);
    if (prepare_queries(l)) {
        rc = sqlite3_errcode(l->db);
        /* a file that is not SQLite, or a database without our table; or
         * a log of the earlier layout that no writer has indexed yet */
        rc = strstr(sqlite3_errmsg(l->db), "no such table: signing_keys") ? CG_EUNSUPPORTED
             : rc == SQLITE_NOTADB || rc == SQLITE_ERROR                  ? CG_EPARSE
                                                                          : CG_EIO;
        cg_signlog_close(l);
        return rc;
    }
    *out = l;
    return CG_OK;
}

/* SQLITE_STATIC: every value outlives its sqlite3_step (the batch's
 * records, and the loop's own buffers until its next reset); copying
 * fourteen strings a record was about 9% of writing it. */
static void text(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

int cg_signlog_append(struct cg_signlog *l, const struct cg_signlog_record *recs, size_t n)
{
    size_t i;
    int64_t upto0;
    int rc = CG_OK;
    if (!l || (n && !recs) || l->readonly)
        return CG_EINVAL;
    upto0 = cg__skeys_upto(l->keys);
    if (sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return CG_EIO;
    for (i = 0; i < n; i++) {
        const struct cg_signlog_record *r = &recs[i];
        char attest[2] = {r->attest, 0}, reasons[400], origid[CG_ORIGID_MAX + 1];
        cg_policy_reasons_str(r->reasons, reasons, sizeof reasons);
        if (!cg__sk_lower_origid(r->origid, origid))
            origid[0] = '\0'; /* not NUL-terminated in its field: not one */
        sqlite3_reset(l->ins);
        sqlite3_bind_int64(l->ins, 1, r->time);
        text(l->ins, 2, r->call_id);
        /* never NULL: "" (no customer) is looked up like a name */
        sqlite3_bind_text(l->ins, 3, r->customer, -1, SQLITE_STATIC);
        text(l->ins, 4, r->source);
        text(l->ins, 5, r->ingress);
        text(l->ins, 6, r->orig);
        text(l->ins, 7, r->presented);
        text(l->ins, 8, r->dest);
        text(l->ins, 9, attest);
        text(l->ins, 10, origid);
        text(l->ins, 11, r->spc);
        text(l->ins, 12, cg_action_str(r->action));
        text(l->ins, 13, reasons);
        text(l->ins, 14, r->listener);
        if (sqlite3_step(l->ins) != SQLITE_DONE) {
            rc = CG_EIO;
            break;
        }
        {
            struct cg__sk_record k = {.time = r->time,
                                      .customer = r->customer,
                                      .source = r->source,
                                      .orig = r->orig,
                                      .presented = r->presented,
                                      .dest = r->dest,
                                      .origid = origid,
                                      .attest = r->attest,
                                      .refused = r->action == CG_ACTION_BLOCK};
            if ((rc = cg__skeys_add(l->keys, sqlite3_last_insert_rowid(l->db), &k)) != CG_OK)
                break;
        }
    }
    sqlite3_reset(l->ins);
    if (rc == CG_OK)
        rc = cg__skeys_flush(l->keys);
    else
        cg__skeys_discard(l->keys);
    if (sqlite3_exec(l->db, rc == CG_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        rc = CG_EIO;
    if (rc != CG_OK)
        cg__skeys_set_upto(l->keys, upto0);
    return rc;
}

/* The index's rows whose records have all been deleted: those before the
 * first record kept, in buckets up to its time's (a record appended out
 * of order with the clock keeps its row a little longer). */
static int prune_keys(struct cg_signlog *l)
{
    int64_t bound = INT64_MAX, before = INT64_MAX;
    int rc = sqlite3_step(l->first_kept);
    if (rc == SQLITE_ROW) {
        bound = sqlite3_column_int64(l->first_kept, 0);
        before = sqlite3_column_int64(l->first_kept, 1);
    }
    sqlite3_reset(l->first_kept);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return CG_EIO;
    return cg__skeys_prune(l->keys, bound, before);
}

int cg_signlog_prune(struct cg_signlog *l, int64_t before, size_t *deleted)
{
    sqlite3_int64 bound;
    size_t total = 0;
    int rc;
    if (deleted)
        *deleted = 0;
    if (!l || l->readonly)
        return CG_EINVAL;
    sqlite3_bind_int64(l->oldest, 1, before);
    rc = sqlite3_step(l->oldest);
    bound = rc == SQLITE_ROW ? sqlite3_column_int64(l->oldest, 0) : 0;
    sqlite3_reset(l->oldest);
    if (rc == SQLITE_DONE) {
        /* every record is older: all of them go */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(l->db, "SELECT max(rowid) + 1 FROM signings", -1, &st, NULL) !=
            SQLITE_OK)
            return CG_EIO;
        bound = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
    } else if (rc != SQLITE_ROW) {
        return CG_EIO;
    }
    for (;;) {
        int n;
        sqlite3_bind_int64(l->del_before, 1, bound);
        rc = sqlite3_step(l->del_before);
        sqlite3_reset(l->del_before);
        if (rc != SQLITE_DONE)
            return CG_EIO;
        if (!(n = sqlite3_changes(l->db)))
            break;
        total += (size_t)n;
        if (deleted)
            *deleted = total;
    }
    return prune_keys(l);
}

int cg_signlog_size(struct cg_signlog *l, uint64_t *bytes)
{
    if (!l || !bytes || l->readonly)
        return CG_EINVAL;
    return cg__sqlog_size(&l->s, bytes);
}

int cg_signlog_defer_checkpoints(struct cg_signlog *l)
{
    return l && !l->readonly ? cg__sqlog_defer_checkpoints(&l->s) : CG_EINVAL;
}

int cg_signlog_checkpoint(struct cg_signlog *l)
{
    return l && !l->readonly ? cg__sqlog_checkpoint(&l->s) : CG_EINVAL;
}

int cg_signlog_prune_to(struct cg_signlog *l, uint64_t max_bytes, size_t *deleted)
{
    size_t n = 0;
    int rc;
    if (!l || l->readonly)
        return CG_EINVAL;
    rc = cg__sqlog_prune_to(&l->s, max_bytes, &n);
    if (deleted)
        *deleted = n;
    if (rc == CG_OK && n)
        rc = prune_keys(l);
    return rc;
}

/* --- traceback --------------------------------------------------------------------------- */

static bool digits(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 15 && strspn(s, "0123456789") == n;
}

static bool good_origid(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (i >= CG_ORIGID_MAX || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return i > 0;
}

static bool good_time(int64_t t)
{
    return t >= 0 && t <= CG_SIGNLOG_TIME_MAX;
}

/* Whether a query is one we answer (signlog.h). */
static bool good_query(const struct cg_signlog_query *q)
{
    if (q->span < 0 || q->span > CG_SIGNLOG_SPAN_MAX || q->max_calls > CG_SIGNLOG_CALLS_MAX)
        return false;
    if (q->origid)
        return good_origid(q->origid) &&
               (!q->has_range || (good_time(q->from) && good_time(q->to) && q->from <= q->to));
    return digits(q->orig) && digits(q->dest) && good_time(q->at) && q->window >= 0 &&
           q->window <= CG_SIGNLOG_WINDOW_MAX;
}

static int past_deadline(void *arg)
{
    struct cg_signlog *l = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > l->deadline.tv_sec ||
           (now.tv_sec == l->deadline.tv_sec && now.tv_nsec >= l->deadline.tv_nsec);
}

static void col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    cg__strlcpy(out, v ? v : "", cap);
}

static uint32_t reasons_of(const char *s)
{
    uint32_t bits = 0;
    int i;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        for (i = 0; i < CG_PR__COUNT; i++) {
            const char *code = cg_policy_reason_code((enum cg_policy_reason)i);
            if (strlen(code) == n && memcmp(code, s, n) == 0)
                bits |= 1u << i;
        }
        s += n + (s[n] == ',');
    }
    return bits;
}

static void read_record(sqlite3_stmt *st, struct cg_signlog_record *r)
{
    char buf[400];
    int i;
    memset(r, 0, sizeof *r);
    r->time = sqlite3_column_int64(st, 0);
    col(st, 1, r->call_id, sizeof r->call_id);
    col(st, 2, r->customer, sizeof r->customer);
    col(st, 3, r->source, sizeof r->source);
    col(st, 4, r->ingress, sizeof r->ingress);
    col(st, 5, r->orig, sizeof r->orig);
    col(st, 6, r->presented, sizeof r->presented);
    col(st, 7, r->dest, sizeof r->dest);
    col(st, 8, buf, 2);
    r->attest = buf[0];
    col(st, 9, r->origid, sizeof r->origid);
    col(st, 10, r->spc, sizeof r->spc);
    col(st, 11, buf, sizeof buf);
    r->action = CG_ACTION_ALLOW;
    for (i = 0; i < CG_ACTION__COUNT; i++)
        if (strcmp(buf, cg_action_str((enum cg_action)i)) == 0)
            r->action = (enum cg_action)i;
    col(st, 12, buf, sizeof buf);
    r->reasons = reasons_of(buf);
    col(st, 13, r->listener, sizeof r->listener);
}

/* A search for calls: what a row of the index leads to, and where. */
struct calls {
    struct cg_signlog *l;
    struct cg_signlog_result *res;
    int64_t from, to;
    size_t max, cap;
};

/* One record by rowid into res, when its time is in range: 0, 1 when
 * there were more than max (truncated), or an error. */
static int take(struct calls *c, int64_t rowid)
{
    sqlite3_stmt *st = c->l->q[Q_RECORD];
    struct cg_signlog_result *res = c->res;
    int rc;
    sqlite3_bind_int64(st, 1, rowid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
        if (t >= c->from && t <= c->to) {
            if (res->ncalls == c->max) {
                sqlite3_reset(st);
                res->truncated = true;
                return 1;
            }
            if (res->ncalls == c->cap) { /* most answers hold one call or a few */
                struct cg_signlog_record *more;
                size_t cap = c->cap ? c->cap * 4 : 8;
                if (cap > c->max)
                    cap = c->max;
                if (!(more = realloc(res->calls, cap * sizeof *more))) {
                    sqlite3_reset(st);
                    return CG_ENOMEM;
                }
                res->calls = more;
                c->cap = cap;
            }
            read_record(st, &res->calls[res->ncalls++]);
        }
    }
    sqlite3_reset(st);
    /* a record deleted since its row was read: no call */
    return rc == SQLITE_DONE ? 0 : cg__sk_error(rc);
}

/* A row of rowids: the first, then varint deltas. */
static int take_row(void *arg, int64_t first, const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
    int64_t rowid = first;
    int rc;
    if (rowid < 1)
        return CG_EIO; /* not written by this code */
    rc = take(arg, rowid);
    while (rc == 0 && p < end) {
        uint64_t d;
        if (!cg__sk_varint(&p, end, &d) || d > (uint64_t)(INT64_MAX - rowid))
            return CG_EIO;
        rc = take(arg, rowid += (int64_t)d);
    }
    return rc;
}

static int by_time(const void *a, const void *b)
{
    const struct cg_signlog_record *x = a, *y = b;
    return (x->time > y->time) - (x->time < y->time);
}

/* The matching calls into res, by time (at most max, truncated when there
 * are more): the index's rows of the origid, or of the number and
 * callee, bucket by bucket from the earliest. */
static int find_calls(struct cg_signlog *l, const struct cg_signlog_query *q, size_t max,
                      struct cg_signlog_result *res)
{
    struct calls c = {.l = l, .res = res, .max = max};
    char key[2 * CG_TN_MAX + 2 > CG_ORIGID_MAX + 1 ? 2 * CG_TN_MAX + 2 : CG_ORIGID_MAX + 1];
    int kind, rc;
    size_t i;
    if (q->origid) {
        kind = CG__SK_ORIGID;
        cg__sk_lower_origid(q->origid, key);
        c.from = q->has_range ? q->from : 0;
        c.to = q->has_range ? q->to : CG_SIGNLOG_TIME_MAX;
    } else {
        int64_t w = q->window ? q->window : CG_SIGNLOG_WINDOW_DEFAULT;
        kind = CG__SK_CALL;
        cg__sk_call_key(q->orig, q->dest, key);
        c.from = q->at - w;
        c.to = q->at + w;
    }
    rc = cg__sk_each(l->q[Q_AT], l->q[Q_NEXT], kind, key, c.from, c.to, take_row, &c);
    if (rc != CG_OK)
        return rc;
    /* insertion: the calls come nearly in order, and equal times keep the
     * order they were appended in */
    for (i = 1; i < res->ncalls; i++) {
        size_t j = i;
        if (by_time(&res->calls[i - 1], &res->calls[i]) <= 0)
            continue;
        {
            struct cg_signlog_record r = res->calls[i];
            while (j > 0 && by_time(&res->calls[j - 1], &r) > 0) {
                res->calls[j] = res->calls[j - 1];
                j--;
            }
            res->calls[j] = r;
        }
    }
    return CG_OK;
}

/* A customer's totals over its span, from its rows by second. */
struct totals {
    struct cg_signlog_customer *c;
    struct cg__hset orig, shown;
    uint64_t rows;
};

static int add_second(void *arg, int64_t first, const unsigned char *p, size_t n)
{
    struct totals *tt = arg;
    struct cg_signlog_customer *c = tt->c;
    struct cg_signlog_totals *t = &c->totals;
    struct cg__sk_customer_row row;
    size_t i, j;
    (void)first;
    if (cg__sk_customer(p, n, &row) != CG_OK)
        return CG_EIO;
    if (row.second < t->from || row.second > t->to)
        return 0;
    tt->rows += row.n;
    t->refused += row.refused;
    for (i = 0; i < 3; i++)
        t->by_attest[i] += row.by_attest[i];
    for (i = 0; i < row.norig; i++)
        if (cg__hset_add(&tt->orig, cg__sk_u64(row.orig + 8 * i)) < 0)
            return CG_ENOMEM;
    for (i = 0; i < row.nshown; i++)
        if (cg__hset_add(&tt->shown, cg__sk_u64(row.shown + 8 * i)) < 0)
            return CG_ENOMEM;
    for (i = 0; i < row.nsources; i++) {
        for (j = 0; j < c->naddresses && strcmp(c->addresses[j], row.sources[i]); j++)
            ;
        if (j == c->naddresses && j < CG_SIGNLOG_ADDRS_MAX)
            cg__strlcpy(c->addresses[c->naddresses++], row.sources[i], CG_SIGNLOG_ADDR_MAX);
    }
    return tt->rows >= CG_SIGNLOG_TOTALS_ROWS;
}

/* One customer's totals and addresses over its span; false when stopped
 * by the budget (or out of memory): the counts are then lower bounds. */
static bool describe(struct cg_signlog *l, struct cg_signlog_customer *c)
{
    struct cg_signlog_totals *t = &c->totals;
    struct totals tt = {.c = c};
    int rc = cg__sk_each(l->q[Q_AT], l->q[Q_NEXT], CG__SK_CUSTOMER, c->customer, t->from, t->to,
                         add_second, &tt);
    t->signed_calls = tt.rows - t->refused;
    t->distinct_orig = tt.orig.n;
    t->distinct_presented = tt.shown.n;
    t->complete = rc == CG_OK && tt.rows < CG_SIGNLOG_TOTALS_ROWS;
    free(tt.orig.slot);
    free(tt.shown.slot);
    return rc == CG_OK;
}

/* The customers of the calls found, each with the times of its first and last. */
static int collect_customers(struct cg_signlog_result *res, int64_t *first, int64_t *last)
{
    size_t i, j;
    if (!res->ncalls)
        return CG_OK;
    if (!(res->customers = calloc(CG_SIGNLOG_CUSTOMERS_MAX, sizeof *res->customers)))
        return CG_ENOMEM;
    for (i = 0; i < res->ncalls; i++) {
        const struct cg_signlog_record *r = &res->calls[i];
        for (j = 0; j < res->ncustomers && strcmp(res->customers[j].customer, r->customer); j++)
            ;
        if (j == res->ncustomers) {
            if (j == CG_SIGNLOG_CUSTOMERS_MAX)
                continue;
            cg__strlcpy(res->customers[j].customer, r->customer, sizeof res->customers[j].customer);
            first[j] = r->time;
            res->ncustomers++;
        }
        last[j] = r->time;
    }
    return CG_OK;
}

/* CG_OK when every record is indexed; CG_EUNSUPPORTED while a writer is
 * still indexing a log of the earlier layout (or another program's
 * records): its answers would miss calls and say nothing of it. */
static int indexed(struct cg_signlog *l)
{
    sqlite3_stmt *st = l->q[Q_INDEXED];
    int step = sqlite3_step(st), rc;
    rc = step != SQLITE_ROW              ? cg__sk_error(step)
         : sqlite3_column_int(st, 0) > 0 ? CG_OK
                                         : CG_EUNSUPPORTED;
    sqlite3_reset(st);
    return rc;
}

int cg_signlog_query(struct cg_signlog *l, const struct cg_signlog_query *q,
                     struct cg_signlog_result **out)
{
    struct cg_signlog_result *res;
    int64_t first[CG_SIGNLOG_CUSTOMERS_MAX], last[CG_SIGNLOG_CUSTOMERS_MAX], span;
    size_t max, i;
    bool in_time = true;
    int rc;
    if (!l || !q || !out || !good_query(q))
        return CG_EINVAL;
    max = q->max_calls ? q->max_calls : CG_SIGNLOG_CALLS_DEFAULT;
    span = q->span ? q->span : CG_SIGNLOG_SPAN_DEFAULT;
    if (!(res = calloc(1, sizeof *res)))
        return CG_ENOMEM;
    if (q->budget_ms) {
        clock_gettime(CLOCK_MONOTONIC, &l->deadline);
        l->deadline.tv_sec += q->budget_ms / 1000;
        l->deadline.tv_nsec += (long)(q->budget_ms % 1000) * 1000000;
        if (l->deadline.tv_nsec >= 1000000000) {
            l->deadline.tv_sec++;
            l->deadline.tv_nsec -= 1000000000;
        }
        /* every thousand virtual-machine steps: a few microseconds */
        sqlite3_progress_handler(l->db, 1000, past_deadline, l);
    }
    /* one snapshot for the whole answer: a batch the writer commits
     * meanwhile is either all in it or not at all */
    rc = sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? CG_OK : CG_EIO;
    if (rc == CG_OK)
        rc = indexed(l);
    if (rc == CG_OK)
        rc = find_calls(l, q, max, res);
    if (rc == CG_OK)
        rc = collect_customers(res, first, last);
    for (i = 0; rc == CG_OK && i < res->ncustomers; i++) {
        struct cg_signlog_totals *t = &res->customers[i].totals;
        t->from = first[i] - span / 2;
        t->to = last[i] + (span - span / 2);
        /* a customer whose matched calls lie far apart: its latest day */
        if (t->to - t->from > CG_SIGNLOG_SPAN_MAX)
            t->from = t->to - CG_SIGNLOG_SPAN_MAX;
        /* past the budget, the remaining customers keep zero totals */
        if (in_time)
            in_time = describe(l, &res->customers[i]);
        if (!in_time)
            t->complete = false;
    }
    if (q->budget_ms)
        sqlite3_progress_handler(l->db, 0, NULL, NULL);
    if (!sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL); /* it only read */
    if (rc != CG_OK) {
        cg_signlog_result_free(res);
        return rc;
    }
    *out = res;
    return CG_OK;
}

void cg_signlog_result_free(struct cg_signlog_result *r)
{
    if (!r)
        return;
    free(r->calls);
    free(r->customers);
    free(r);
}

/* --- answers ------------------------------------------------------------------------------ */

/* cg_time_iso for any time a log may hold (years 0 to 9999). */
static void iso_text(int64_t t, char out[21])
{
    cg_time_iso(t < 0 ? 0 : t > CG_SIGNLOG_TIME_MAX ? CG_SIGNLOG_TIME_MAX : t, out);
}

static json_t *iso(int64_t t)
{
    char buf[21];
    iso_text(t, buf);
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *query_json(const struct cg_signlog_query *q)
{
    json_t *o = json_object();
    if (q->origid) {
        char origid[CG_ORIGID_MAX + 1];
        if (!cg__sk_lower_origid(q->origid, origid))
            origid[0] = '\0';
        json_object_set_new(o, "origid", json_string(origid));
        if (q->has_range) {
            json_object_set_new(o, "from", iso(q->from));
            json_object_set_new(o, "to", iso(q->to));
        }
    } else {
        json_object_set_new(o, "orig", str_or_null(q->orig));
        json_object_set_new(o, "dest", str_or_null(q->dest));
        json_object_set_new(o, "at", iso(q->at));
        json_object_set_new(o, "window",
                            json_integer(q->window ? q->window : CG_SIGNLOG_WINDOW_DEFAULT));
    }
    return o;
}

static json_t *reasons_json(uint32_t reasons)
{
    json_t *a = json_array();
    int i;
    for (i = 0; i < CG_PR__COUNT; i++)
        if (reasons & (1u << i))
            json_array_append_new(a, json_string(cg_policy_reason_code((enum cg_policy_reason)i)));
    return a;
}

static json_t *call_json(const struct cg_signlog_record *r)
{
    json_t *o = json_object();
    char a[2] = {r->attest, 0};
    json_object_set_new(o, "time", iso(r->time));
    json_object_set_new(o, "customer", str_or_null(r->customer));
    json_object_set_new(o, "source", str_or_null(r->source));
    json_object_set_new(o, "ingress", str_or_null(r->ingress));
    json_object_set_new(o, "orig", str_or_null(r->orig));
    json_object_set_new(o, "presented", str_or_null(r->presented));
    json_object_set_new(o, "dest", str_or_null(r->dest));
    json_object_set_new(o, "attest", str_or_null(a));
    json_object_set_new(o, "origid", str_or_null(r->origid));
    json_object_set_new(o, "spc", str_or_null(r->spc));
    json_object_set_new(o, "action", json_string(cg_action_str(r->action)));
    json_object_set_new(o, "reasons", reasons_json(r->reasons));
    json_object_set_new(o, "listener", str_or_null(r->listener));
    json_object_set_new(o, "call_id", str_or_null(r->call_id));
    return o;
}

static json_t *customer_json(const struct cg_signlog_customer *c)
{
    const struct cg_signlog_totals *t = &c->totals;
    json_t *o = json_object(), *addrs = json_array(), *tot = json_object();
    size_t i;
    for (i = 0; i < c->naddresses; i++)
        json_array_append_new(addrs, json_string(c->addresses[i]));
    json_object_set_new(tot, "from", iso(t->from));
    json_object_set_new(tot, "to", iso(t->to));
    json_object_set_new(tot, "signed", json_integer((json_int_t)t->signed_calls));
    json_object_set_new(tot, "refused", json_integer((json_int_t)t->refused));
    json_object_set_new(tot, "by_attest",
                        json_pack("{s:I,s:I,s:I}", "A", (json_int_t)t->by_attest[0], "B",
                                  (json_int_t)t->by_attest[1], "C", (json_int_t)t->by_attest[2]));
    json_object_set_new(tot, "distinct_orig", json_integer((json_int_t)t->distinct_orig));
    json_object_set_new(tot, "distinct_presented", json_integer((json_int_t)t->distinct_presented));
    json_object_set_new(tot, "complete", json_boolean(t->complete));
    /* null: the calls of callers who are no customer (signed at C) */
    json_object_set_new(o, "customer", str_or_null(c->customer));
    json_object_set_new(o, "addresses", addrs);
    json_object_set_new(o, "totals", tot);
    return o;
}

int cg_signlog_result_json(const struct cg_signlog_query *q, const struct cg_signlog_result *r,
                           char **out)
{
    json_t *top, *customers, *calls;
    size_t i;
    if (!q || !r || !out)
        return CG_EINVAL;
    top = json_object();
    customers = json_array();
    calls = json_array();
    if (!top || !customers || !calls) {
        json_decref(top);
        json_decref(customers);
        json_decref(calls);
        return CG_ENOMEM;
    }
    for (i = 0; i < r->ncustomers; i++)
        json_array_append_new(customers, customer_json(&r->customers[i]));
    for (i = 0; i < r->ncalls; i++)
        json_array_append_new(calls, call_json(&r->calls[i]));
    json_object_set_new(top, "query", query_json(q));
    json_object_set_new(top, "customers", customers);
    json_object_set_new(top, "calls", calls);
    json_object_set_new(top, "truncated", json_boolean(r->truncated));
    *out = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(top);
    return *out ? CG_OK : CG_ENOMEM;
}

/* A growing text for the CSV. */
struct text {
    char *p;
    size_t n, cap;
    bool failed;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *p;
        while (cap < t->n + n + 1)
            cap *= 2;
        if (!(p = realloc(t->p, cap))) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void field(struct text *t, const char *s, bool last)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        put(t, "\"", 1);
    if (strchr("=+-@", s[0]) && s[0])
        put(t, "'", 1);
    for (; *s; s++)
        put(t, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    if (quote)
        put(t, "\"", 1);
    put(t, last ? "\r\n" : ",", last ? 2 : 1);
}

int cg_signlog_result_csv(const struct cg_signlog_result *r, char **out)
{
    static const char header[] = "time,customer,source,ingress,orig,presented,dest,attest,"
                                 "origid,spc,action,reasons,listener,call_id\r\n";
    struct text t = {0};
    size_t i;
    if (!r || !out)
        return CG_EINVAL;
    put(&t, header, sizeof header - 1);
    for (i = 0; i < r->ncalls; i++) {
        const struct cg_signlog_record *c = &r->calls[i];
        char when[21], a[2] = {c->attest, 0}, reasons[400];
        iso_text(c->time, when);
        cg_policy_reasons_str(c->reasons, reasons, sizeof reasons);
        field(&t, when, false);
        field(&t, c->customer, false);
        field(&t, c->source, false);
        field(&t, c->ingress, false);
        field(&t, c->orig, false);
        field(&t, c->presented, false);
        field(&t, c->dest, false);
        field(&t, a, false);
        field(&t, c->origid, false);
        field(&t, c->spc, false);
        field(&t, cg_action_str(c->action), false);
        field(&t, reasons, false);
        field(&t, c->listener, false);
        field(&t, c->call_id, true);
    }
    if (t.failed) {
        free(t.p);
        return CG_ENOMEM;
    }
    *out = t.p;
    return CG_OK;
}
