#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cidguard/signlog.h"
#include "helpers.h"
#include "signlog/signlog_internal.h"

#define T0 1700000000

struct db {
    char path[64];
    struct cg_signlog *l;
};

static void unlink_db(const char *path)
{
    char p2[80];
    unlink(path);
    snprintf(p2, sizeof p2, "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s-shm", path);
    unlink(p2);
}

static void db_open(struct db *d)
{
    int fd;
    strcpy(d->path, "/tmp/cg-signlog-XXXXXX");
    fd = mkstemp(d->path);
    assert_true(fd >= 0);
    close(fd);
    unlink(d->path);
    assert_int_equal(cg_signlog_open(&d->l, d->path), CG_OK);
}

static void db_close(struct db *d)
{
    cg_signlog_close(d->l);
    unlink_db(d->path);
}

/* A signed call of `customer` from orig to dest at T0 + dt. */
static struct cg_signlog_record rec(const char *customer, const char *orig, const char *dest,
                                    int dt, char attest, const char *origid)
{
    struct cg_signlog_record r;
    memset(&r, 0, sizeof r);
    r.time = T0 + dt;
    snprintf(r.call_id, sizeof r.call_id, "call-%d@sbc", dt);
    snprintf(r.customer, sizeof r.customer, "%s", customer);
    snprintf(r.source, sizeof r.source, "192.0.2.%d", (int)strlen(customer));
    strcpy(r.ingress, "trunk-1");
    snprintf(r.orig, sizeof r.orig, "%s", orig);
    snprintf(r.dest, sizeof r.dest, "%s", dest);
    r.attest = attest;
    snprintf(r.origid, sizeof r.origid, "%s", origid);
    strcpy(r.spc, "1234");
    r.action = CG_ACTION_ALLOW;
    strcpy(r.listener, "sip");
    return r;
}

static struct cg_signlog_query by_origid(const char *origid)
{
    struct cg_signlog_query q;
    memset(&q, 0, sizeof q);
    q.origid = origid;
    return q;
}

static struct cg_signlog_query by_numbers(const char *orig, const char *dest, int64_t at)
{
    struct cg_signlog_query q;
    memset(&q, 0, sizeof q);
    q.orig = orig;
    q.dest = dest;
    q.at = at;
    return q;
}

#define OID1 "de305d54-75b4-431b-adb2-eb6b9e546014"
#define OID2 "9b2f5a7e-0c1d-4e8f-a1b2-c3d4e5f60718"

static void test_round_trip(void **state)
{
    struct db d;
    struct cg_signlog_record r[4];
    struct cg_signlog_result *res;
    struct cg_signlog_query q = by_origid(OID1);
    (void)state;
    db_open(&d);
    r[0] = rec("acme", "442079460000", "14155550100", 0, 'A', OID1);
    strcpy(r[0].presented, "442079460001");
    r[0].action = CG_ACTION_LABEL;
    r[0].reasons = (1u << CG_PR_DNO) | (1u << CG_PR_RATE_CALLS);
    r[1] = rec("acme", "442079460000", "14155550101", 10, 'B', OID1);
    r[2] = rec("other", "442079460000", "14155550100", 20, 'C', OID2);
    r[3] = rec("acme", "442079469999", "14155550100", 30, 0, "");
    r[3].action = CG_ACTION_BLOCK;
    assert_int_equal(cg_signlog_append(d.l, r, 4), CG_OK);

    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 2);
    assert_false(res->truncated);
    assert_int_equal(res->calls[0].time, T0);
    assert_string_equal(res->calls[0].call_id, "call-0@sbc");
    assert_string_equal(res->calls[0].customer, "acme");
    assert_string_equal(res->calls[0].source, "192.0.2.4");
    assert_string_equal(res->calls[0].ingress, "trunk-1");
    assert_string_equal(res->calls[0].orig, "442079460000");
    assert_string_equal(res->calls[0].presented, "442079460001");
    assert_string_equal(res->calls[0].dest, "14155550100");
    assert_int_equal(res->calls[0].attest, 'A');
    assert_string_equal(res->calls[0].origid, OID1);
    assert_string_equal(res->calls[0].spc, "1234");
    assert_int_equal(res->calls[0].action, CG_ACTION_LABEL);
    assert_int_equal(res->calls[0].reasons, (1u << CG_PR_DNO) | (1u << CG_PR_RATE_CALLS));
    assert_string_equal(res->calls[0].listener, "sip");
    assert_int_equal(res->calls[1].attest, 'B');
    /* one customer; its totals over the default hour around its calls */
    assert_int_equal(res->ncustomers, 1);
    assert_string_equal(res->customers[0].customer, "acme");
    assert_int_equal(res->customers[0].naddresses, 1);
    assert_string_equal(res->customers[0].addresses[0], "192.0.2.4");
    assert_int_equal(res->customers[0].totals.from, T0 - 1800);
    assert_int_equal(res->customers[0].totals.to, T0 + 10 + 1800);
    assert_int_equal(res->customers[0].totals.signed_calls, 2);
    assert_int_equal(res->customers[0].totals.refused, 1);
    assert_int_equal(res->customers[0].totals.by_attest[0], 1);
    assert_int_equal(res->customers[0].totals.by_attest[1], 1);
    assert_int_equal(res->customers[0].totals.by_attest[2], 0);
    assert_int_equal(res->customers[0].totals.distinct_orig, 2);
    /* 442079460001 (presented), 442079460000, 442079469999 */
    assert_int_equal(res->customers[0].totals.distinct_presented, 3);
    assert_true(res->customers[0].totals.complete);
    cg_signlog_result_free(res);

    /* by numbers: the other customer's call to the same callee at T0+20 */
    q = by_numbers("442079460000", "14155550100", T0 + 20);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 2); /* T0 (acme) and T0+20 (other), within 60 s */
    assert_int_equal(res->ncustomers, 2);
    assert_string_equal(res->customers[0].customer, "acme");
    assert_string_equal(res->customers[1].customer, "other");
    assert_int_equal(res->customers[1].totals.by_attest[2], 1);
    cg_signlog_result_free(res);
    db_close(&d);
}

/* An origid never logged: no calls, at once, among 100,000 records. */
static void test_unknown_origid(void **state)
{
    struct db d;
    struct cg_signlog_record *r = calloc(10000, sizeof *r);
    struct cg_signlog_result *res;
    struct cg_signlog_query q = by_origid("00000000-0000-0000-0000-000000000000");
    struct timespec t0, t1;
    char oid[40];
    int i, b;
    (void)state;
    assert_non_null(r);
    db_open(&d);
    for (b = 0; b < 10; b++) {
        for (i = 0; i < 10000; i++) {
            snprintf(oid, sizeof oid, "%08x-0000-4000-8000-000000000000", b * 10000 + i);
            r[i] = rec(i % 2 ? "acme" : "bulk", "442079460000", "14155550100", b * 10000 + i, 'A',
                       oid);
        }
        assert_int_equal(cg_signlog_append(d.l, r, 10000), CG_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(res->ncalls, 0);
    assert_int_equal(res->ncustomers, 0);
    assert_false(res->truncated);
    cg_signlog_result_free(res);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 50);
    /* a time with no calls, and a number never signed */
    q = by_numbers("442079460000", "14155550100", T0 - 1000);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 0);
    cg_signlog_result_free(res);
    q = by_numbers("15555550000", "14155550100", T0 + 100);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 0);
    cg_signlog_result_free(res);
    /* a customer's totals cover at most a day (CG_SIGNLOG_SPAN_MAX) */
    q = by_origid("00000005-0000-4000-8000-000000000000");
    q.span = CG_SIGNLOG_SPAN_MAX;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 1);
    assert_int_equal(res->ncustomers, 1);
    assert_string_equal(res->customers[0].customer, "acme");
    /* a day around its call at T0+5: its odd seconds from T0 to T0+43205 */
    assert_int_equal(res->customers[0].totals.from, T0 + 5 - 43200);
    assert_int_equal(res->customers[0].totals.signed_calls, 21603);
    assert_int_equal(res->customers[0].totals.distinct_orig, 1);
    assert_true(res->customers[0].totals.complete);
    cg_signlog_result_free(res);
    free(r);
    db_close(&d);
}

static size_t count(struct cg_signlog *l, const struct cg_signlog_query *q)
{
    struct cg_signlog_result *res;
    size_t n;
    assert_int_equal(cg_signlog_query(l, q, &res), CG_OK);
    n = res->ncalls;
    cg_signlog_result_free(res);
    return n;
}

static void test_window_edges(void **state)
{
    struct db d;
    struct cg_signlog_record r = rec("acme", "442079460000", "14155550100", 0, 'A', OID1);
    struct cg_signlog_query q;
    (void)state;
    db_open(&d);
    assert_int_equal(cg_signlog_append(d.l, &r, 1), CG_OK);
    q = by_numbers("442079460000", "14155550100", T0 + 60);
    assert_int_equal(count(d.l, &q), 1); /* the default window, 60 s, inclusive */
    q.at = T0 - 60;
    assert_int_equal(count(d.l, &q), 1);
    q.at = T0 + 61;
    assert_int_equal(count(d.l, &q), 0);
    q.at = T0 - 61;
    assert_int_equal(count(d.l, &q), 0);
    q.window = 61;
    assert_int_equal(count(d.l, &q), 1);
    q.at = T0 + 5;
    q.window = 4;
    assert_int_equal(count(d.l, &q), 0);
    q.window = 5;
    assert_int_equal(count(d.l, &q), 1);
    q.dest = "14155550101"; /* another callee */
    assert_int_equal(count(d.l, &q), 0);
    /* an origid within a range, inclusive, and in another case */
    q = by_origid("DE305D54-75B4-431B-ADB2-EB6B9E546014");
    assert_int_equal(count(d.l, &q), 1);
    q.has_range = true;
    q.from = T0;
    q.to = T0;
    assert_int_equal(count(d.l, &q), 1);
    q.from = T0 + 1;
    q.to = T0 + 100;
    assert_int_equal(count(d.l, &q), 0);
    q.from = T0 - 100;
    q.to = T0 - 1;
    assert_int_equal(count(d.l, &q), 0);
    db_close(&d);
}

static void test_truncated(void **state)
{
    struct db d;
    struct cg_signlog_record r[30];
    struct cg_signlog_result *res;
    struct cg_signlog_query q = by_origid(OID1);
    int i;
    (void)state;
    db_open(&d);
    for (i = 0; i < 30; i++)
        r[i] = rec(i < 20 ? "acme" : "zeta", "442079460000", "14155550100", i, 'A', OID1);
    assert_int_equal(cg_signlog_append(d.l, r, 30), CG_OK);
    q.max_calls = 20;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 20);
    assert_true(res->truncated);
    assert_int_equal(res->calls[19].time, T0 + 19); /* the first ones, by time */
    assert_int_equal(res->ncustomers, 1);
    cg_signlog_result_free(res);
    q.max_calls = 30;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 30);
    assert_false(res->truncated);
    assert_int_equal(res->ncustomers, 2);
    cg_signlog_result_free(res);
    db_close(&d);
}

static int count_rows(const char *path, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char sql[64];
    int n;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int rows(const char *path)
{
    return count_rows(path, "signings");
}

static void test_prune(void **state)
{
    struct db d;
    struct cg_signlog_record *r = calloc(25000, sizeof *r);
    struct cg_signlog_query q = by_origid(OID1);
    size_t deleted = 99;
    uint64_t bytes, before;
    int i;
    (void)state;
    assert_non_null(r);
    db_open(&d);
    for (i = 0; i < 25000; i++)
        r[i] = rec("acme", "442079460000", "14155550100", i, 'A', i == 24000 ? OID1 : OID2);
    assert_int_equal(cg_signlog_append(d.l, r, 25000), CG_OK);
    assert_int_equal(cg_signlog_prune(d.l, T0, &deleted), CG_OK);
    assert_int_equal(deleted, 0);
    /* across several batches of deletions */
    assert_int_equal(cg_signlog_prune(d.l, T0 + 21000, &deleted), CG_OK);
    assert_int_equal(deleted, 21000);
    assert_int_equal(rows(d.path), 4000);
    assert_true(count_rows(d.path, "signing_keys") > 0);
    assert_int_equal(count(d.l, &q), 1);
    assert_int_equal(cg_signlog_prune(d.l, T0 + 21000, &deleted), CG_OK);
    assert_int_equal(deleted, 0);
    /* by size: down to a limit well below the log */
    assert_int_equal(cg_signlog_size(d.l, &before), CG_OK);
    assert_true(before > 0);
    assert_int_equal(cg_signlog_prune_to(d.l, 64 * 1024, &deleted), CG_OK);
    assert_true(deleted > 0);
    assert_int_equal(cg_signlog_size(d.l, &bytes), CG_OK);
    assert_int_equal(rows(d.path), 4000 - (int)deleted);
    /* everything older than the newest record, and the index with it */
    assert_int_equal(cg_signlog_prune(d.l, T0 + 1000000, &deleted), CG_OK);
    assert_int_equal(rows(d.path), 0);
    assert_int_equal(count_rows(d.path, "signing_keys"), 0);
    free(r);
    db_close(&d);
}

/*
 * Records the index has not seen (written by another program, or by the
 * layout before it, whose indexes were SQLite's) are indexed when a writer
 * opens the log; calls out of order with the clock come back by time.
 */
static void test_catch_up(void **state)
{
    struct db d;
    struct cg_signlog_record r[3];
    struct cg_signlog_result *res;
    struct cg_signlog_query q = by_origid(OID1);
    sqlite3 *db;
    (void)state;
    db_open(&d);
    r[0] = rec("acme", "442079460000", "14155550100", 100, 'A', OID1);
    r[1] = rec("acme", "442079460000", "14155550100", 40, 'A', OID1); /* the clock stepped back */
    r[2] = rec("acme", "442079460000", "14155550100", 7300, 'B', OID1);
    assert_int_equal(cg_signlog_append(d.l, r, 3), CG_OK);
    cg_signlog_close(d.l);
    assert_int_equal(sqlite3_open(d.path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE signing_keys; DROP TABLE signing_indexed;"
                     "CREATE INDEX signings_orig ON signings(orig, time);"
                     "INSERT INTO signings(time, customer, source, orig, dest, attest, origid, "
                     "action) VALUES (1700000070, 'acme', '192.0.2.9', '442079460000', "
                     "'14155550100', 'C', 'DE305D54-75B4-431B-ADB2-EB6B9E546014', 'allow'),"
                     "(1700000080, 'acme', '192.0.2.9', '442079460000', '14155550100', NULL, "
                     "NULL, 'block')",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(cg_signlog_open(&d.l, d.path), CG_OK);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 4);
    assert_int_equal(res->calls[0].time, T0 + 40);
    assert_int_equal(res->calls[1].time, T0 + 70);
    assert_int_equal(res->calls[2].time, T0 + 100);
    assert_int_equal(res->calls[3].time, T0 + 7300);
    assert_int_equal(res->ncustomers, 1);
    /* the last call's hour: itself alone */
    assert_int_equal(res->customers[0].totals.from, T0 + 40 - 1800);
    cg_signlog_result_free(res);
    q = by_numbers("442079460000", "14155550100", T0 + 60);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 4);
    assert_int_equal(res->customers[0].totals.signed_calls, 3);
    assert_int_equal(res->customers[0].totals.refused, 1);
    assert_int_equal(res->customers[0].totals.by_attest[0], 2);
    assert_int_equal(res->customers[0].totals.by_attest[2], 1);
    assert_int_equal(res->customers[0].naddresses, 2);
    cg_signlog_result_free(res);
    /* once indexed, not again */
    cg_signlog_close(d.l);
    assert_int_equal(cg_signlog_open(&d.l, d.path), CG_OK);
    assert_int_equal(count_rows(d.path, "signing_keys"), 10); /* 2 origid, 3 call, 5 seconds */
    db_close(&d);
}

/*
 * The index's edges: an age prune takes the records' seconds out of their
 * customer's totals; records far apart in time (or at the ends of int64)
 * cost a question two searches a bucket they fill, not one a bucket
 * between them; a log still being indexed says so rather than answering
 * "no call".
 */
static void test_index_edges(void **state)
{
    struct db d;
    struct cg_signlog_record r[120];
    struct cg_signlog_result *res;
    struct cg_signlog_query q = by_origid(OID1);
    size_t deleted;
    sqlite3 *db;
    int i;
    (void)state;
    db_open(&d);
    /* a minute and more of one call a second, from a minute's start */
    for (i = 0; i < 120; i++) {
        r[i] = rec("acme", "442079460000", "14155550100", 40 + i, 'A', OID1);
        snprintf(r[i].orig, sizeof r[i].orig, "4420794600%02d", i % 100);
        snprintf(r[i].source, sizeof r[i].source, "10.0.0.%d", i);
    }
    assert_int_equal(cg_signlog_append(d.l, r, 120), CG_OK);
    assert_int_equal(cg_signlog_prune(d.l, T0 + 70, &deleted), CG_OK);
    assert_int_equal(deleted, 30);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 90);
    assert_int_equal(res->customers[0].totals.signed_calls, 90);
    assert_string_equal(res->customers[0].addresses[0], "10.0.0.30");
    cg_signlog_result_free(res);
    /* a record at the start of time, one at its end, and one at int64's */
    r[0] = rec("acme", "442079460000", "14155550100", 0, 'A', OID1);
    r[0].time = 0;
    r[1] = r[0];
    r[1].time = CG_SIGNLOG_TIME_MAX;
    r[2] = r[0];
    r[2].time = INT64_MIN;
    assert_int_equal(cg_signlog_append(d.l, r, 3), CG_OK);
    q.budget_ms = 1000;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 92);
    cg_signlog_result_free(res);
    /* a record no writer has indexed: answers wait for the writer */
    assert_int_equal(sqlite3_open(d.path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO signings(time, customer, origid) VALUES "
                                  "(1700000100, 'acme', '" OID1 "')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EUNSUPPORTED);
    cg_signlog_close(d.l);
    assert_int_equal(cg_signlog_open(&d.l, d.path), CG_OK);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 93);
    cg_signlog_result_free(res);
    db_close(&d);
}

/* Every traceback query searches the index's key or a record's rowid,
 * never scans a table. */
static void test_query_plans(void **state)
{
    struct db d;
    sqlite3 *db;
    const char *sql;
    int i;
    (void)state;
    db_open(&d);
    assert_int_equal(sqlite3_open(d.path, &db), SQLITE_OK);
    for (i = 0; (sql = cg__signlog_sql(i)); i++) {
        char explain[1024];
        sqlite3_stmt *st;
        bool searched = false;
        snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
        assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            print_message("plan %d: %s\n", i, detail);
            /* signing_indexed is one row */
            assert_null(strstr(detail, "SCAN signings"));
            assert_null(strstr(detail, "SCAN signing_keys"));
            if (strstr(detail, "SEARCH signing_keys USING PRIMARY KEY (kind=?") ||
                strstr(detail, "SEARCH signings USING INTEGER PRIMARY KEY (rowid=?)") ||
                strcmp(detail, "SEARCH signings") == 0) /* max(rowid): the last page */
                searched = true;
        }
        sqlite3_finalize(st);
        assert_true(searched);
    }
    assert_int_equal(i, 4);
    sqlite3_close(db);
    db_close(&d);
}

static void test_bad_inputs(void **state)
{
    struct db d;
    struct cg_signlog_result *res = NULL;
    struct cg_signlog_query q;
    struct cg_signlog *ro;
    struct cg_signlog_record r = rec("acme", "442079460000", "14155550100", 0, 'A', OID1);
    char path[] = "/tmp/cg-signlog-bad-XXXXXX";
    char longid[CG_ORIGID_MAX + 2];
    int fd;
    (void)state;
    db_open(&d);
    assert_int_equal(cg_signlog_query(d.l, NULL, &res), CG_EINVAL);
    q = by_origid("");
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_origid("has space");
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    q = by_origid(longid);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_origid(OID1);
    q.has_range = true;
    q.from = T0 + 10;
    q.to = T0;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q.from = -1;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_origid(OID1);
    q.max_calls = CG_SIGNLOG_CALLS_MAX + 1;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_origid(OID1);
    q.span = CG_SIGNLOG_SPAN_MAX + 1;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_numbers("+442079460000", "14155550100", T0);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_numbers("442079460000", "1415555010012345", T0);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_numbers("442079460000", NULL, T0);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_numbers("442079460000", "14155550100", -5);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_numbers("442079460000", "14155550100", CG_SIGNLOG_TIME_MAX + 1);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    q = by_numbers("442079460000", "14155550100", T0);
    q.window = CG_SIGNLOG_WINDOW_MAX + 1;
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_EINVAL);
    assert_null(res);

    /* read-only: sees the writer's records, writes nothing */
    assert_int_equal(cg_signlog_append(d.l, &r, 1), CG_OK);
    assert_int_equal(cg_signlog_open_readonly(&ro, d.path), CG_OK);
    q = by_origid(OID1);
    assert_int_equal(count(ro, &q), 1);
    assert_int_equal(cg_signlog_append(ro, &r, 1), CG_EINVAL);
    assert_int_equal(cg_signlog_prune(ro, T0 + 10, NULL), CG_EINVAL);
    assert_int_equal(cg_signlog_defer_checkpoints(ro), CG_EINVAL);
    assert_int_equal(cg_signlog_checkpoint(ro), CG_EINVAL);
    /* the writer's checkpoints deferred (the decision log's test covers
     * when they are made): nothing due yet, so nothing done */
    assert_int_equal(cg_signlog_checkpoint(d.l), CG_EINVAL);
    assert_int_equal(cg_signlog_defer_checkpoints(d.l), CG_OK);
    assert_int_equal(cg_signlog_checkpoint(d.l), CG_OK);
    assert_int_equal(cg_signlog_append(d.l, &r, 1), CG_OK);
    assert_int_equal(count(ro, &q), 2);
    cg_signlog_close(ro);

    /* no file, a file that is not a log, a database without the table */
    assert_int_equal(cg_signlog_open_readonly(&ro, "/nonexistent/signings.db"), CG_ENOTFOUND);
    assert_int_equal(cg_signlog_open_readonly(&ro, "/tmp"), CG_EIO);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a database, not at all; some text to fill a header.....", 60),
                     60);
    close(fd);
    assert_int_equal(cg_signlog_open_readonly(&ro, path), CG_EPARSE);
    unlink(path);
    {
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE decisions(time)", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(cg_signlog_open_readonly(&ro, path), CG_EPARSE);
        /* a log of the earlier layout, not indexed yet */
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "CREATE TABLE signings(time, call_id, customer, source, "
                                      "ingress, orig, presented, dest, attest, origid, spc, "
                                      "action, reasons, listener)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(cg_signlog_open_readonly(&ro, path), CG_EUNSUPPORTED);
        unlink(path);
    }
    assert_int_equal(cg_signlog_open(&ro, NULL), CG_EINVAL);
    assert_int_equal(cg_signlog_open(&ro, "/nonexistent/dir/signings.db"), CG_EIO);
    cg_signlog_close(NULL);
    cg_signlog_result_free(NULL);
    db_close(&d);
}

/* A query out of time answers CG_ETOOBIG rather than running on. */
static void test_budget(void **state)
{
    struct db d;
    struct cg_signlog_record *r = calloc(10000, sizeof *r);
    struct cg_signlog_result *res = NULL;
    struct cg_signlog_query q = by_numbers("442079460000", "14155550100", T0 + 5000);
    int i, b;
    (void)state;
    assert_non_null(r);
    db_open(&d);
    /* one number called 110,000 times to another callee within the window */
    for (b = 0; b < 11; b++) {
        for (i = 0; i < 10000; i++) {
            r[i] = rec("acme", "442079460000", "14155550199", 0, 'A', OID2);
            r[i].time = T0 + 5000;
        }
        assert_int_equal(cg_signlog_append(d.l, r, 10000), CG_OK);
    }
    /* ten thousand of those calls read one by one */
    {
        struct cg_signlog_query many = by_numbers("442079460000", "14155550199", T0 + 5000);
        many.max_calls = CG_SIGNLOG_CALLS_MAX;
        many.budget_ms = 1;
        assert_int_equal(cg_signlog_query(d.l, &many, &res), CG_ETOOBIG);
        assert_null(res);
    }
    assert_int_equal(count(d.l, &q), 0);
    /* the customer's totals stop at their row bound, and say so */
    r[0].dest[9] = '0';
    r[0].dest[10] = '0';
    assert_int_equal(cg_signlog_append(d.l, r, 1), CG_OK);
    assert_int_equal(cg_signlog_query(d.l, &q, &res), CG_OK);
    assert_int_equal(res->ncalls, 1);
    assert_int_equal(res->ncustomers, 1);
    assert_int_equal(res->customers[0].totals.signed_calls, CG_SIGNLOG_TOTALS_ROWS);
    assert_false(res->customers[0].totals.complete);
    cg_signlog_result_free(res);
    free(r);
    db_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_unknown_origid),
        cmocka_unit_test(test_window_edges), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_prune),        cmocka_unit_test(test_query_plans),
        cmocka_unit_test(test_bad_inputs),   cmocka_unit_test(test_budget),
        cmocka_unit_test(test_catch_up),     cmocka_unit_test(test_index_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
