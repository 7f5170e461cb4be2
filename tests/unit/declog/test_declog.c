#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static void unlink_db(const char *path)
{
    char p2[80];
    unlink(path);
    snprintf(p2, sizeof p2, "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s-shm", path);
    unlink(p2);
}

/* Records numbered from `first` (call_id "c<n>", time 1700000000 + n),
 * shaped like the daemon's (about 290 bytes each with the indexes). */
static void append_n(struct cg_declog *l, int first, int n)
{
    struct cg_declog_record r[200];
    struct cg_verdict v;
    struct cg_decision d;
    int i;
    assert_true(n <= 200);
    memset(&v, 0, sizeof v);
    v.verstat = CG_VERSTAT_PASSED;
    v.attest = 'A';
    strcpy(v.spc, "1234");
    strcpy(v.origid, "de305d54-75b4-431b-adb2-eb6b9e546014");
    strcpy(v.x5u, "https://cr.example.net/sti/sp-1234.pem");
    memset(&d, 0, sizeof d);
    d.verstat = CG_VERSTAT_PASSED;
    d.action = CG_ACTION_ALLOW;
    for (i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof r[i]);
        snprintf(r[i].call_id, sizeof r[i].call_id, "c%d", first + i);
        snprintf(r[i].caller, sizeof r[i].caller, "4420794%05d", (first + i) * 7919 % 100000);
        snprintf(r[i].callee, sizeof r[i].callee, "1415555%04d", (first + i) % 10000);
        strcpy(r[i].ingress, "intl-gw");
        strcpy(r[i].listener, "udp");
        cg_declog_record_fill(&r[i], &v, &d, 1700000000 + first + i);
    }
    assert_int_equal(cg_declog_append(l, r, (size_t)n), CG_OK);
}

/* The records left: how many, and the first and last numbers. */
static void remaining(const char *path, int *count, int *lo, int *hi)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), min(time) - 1700000000, "
                                        "max(time) - 1700000000 FROM decisions",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *count = sqlite3_column_int(st, 0);
    *lo = sqlite3_column_int(st, 1);
    *hi = sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static uint64_t file_bytes(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static void test_append_and_read(void **state)
{
    char path[] = "/tmp/cg-declog-XXXXXX";
    int fd = mkstemp(path);
    struct cg_declog *l;
    struct cg_declog_record r[3];
    struct cg_verdict v;
    struct cg_decision d;
    sqlite3 *db;
    sqlite3_stmt *st;
    int i;
    (void)state;
    close(fd);
    assert_int_equal(cg_declog_open(&l, path), CG_OK);
    memset(&v, 0, sizeof v);
    v.verstat = CG_VERSTAT_PASSED;
    v.attest = 'A';
    strcpy(v.spc, "1234");
    strcpy(v.origid, "o-1");
    strcpy(v.x5u, "https://cr.example.net:8443/sp.pem");
    strcpy(v.dest, "14155550100");
    memset(&d, 0, sizeof d);
    d.verstat = CG_VERSTAT_PASSED;
    d.action = CG_ACTION_BLOCK;
    d.reasons = (1u << CG_PR_DNO) | (1u << CG_PR_REPLAY);
    for (i = 0; i < 3; i++) {
        memset(&r[i], 0, sizeof r[i]);
        snprintf(r[i].call_id, sizeof r[i].call_id, "c%d", i);
        strcpy(r[i].caller, "442079460000");
        strcpy(r[i].ingress, "intl-gw");
        cg_declog_record_fill(&r[i], &v, &d, 1700000000 + i);
    }
    assert_int_equal(cg_declog_append(l, r, 3), CG_OK);
    {
        /* retention: records before 1700000001 go, the other two stay */
        size_t del = 99;
        struct cg_declog_record old = r[0];
        old.time = 1600000000;
        assert_int_equal(cg_declog_append(l, &old, 1), CG_OK);
        assert_int_equal(cg_declog_prune(l, 1700000000, &del), CG_OK);
        assert_int_equal(del, 1);
    }
    cg_declog_close(l);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), min(x5u_host), min(reasons), "
                                        "min(action), min(callee), min(spc) FROM decisions",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "cr.example.net");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "dno,replay");
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "block");
    assert_string_equal((const char *)sqlite3_column_text(st, 4), "14155550100");
    assert_string_equal((const char *)sqlite3_column_text(st, 5), "1234");
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
    {
        char p2[64];
        snprintf(p2, sizeof p2, "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof p2, "%s-shm", path);
        unlink(p2);
    }
    assert_int_equal(cg_declog_open(&l, "/nonexistent/dir/x.db"), CG_EIO);
}

#define CAP (2u << 20)

/* A log driven far past a 2 MB limit (about 9 MB of records), pruned after
 * every batch as the daemon's writer does once a second: it stays within
 * the limit, with the slack of one batch, the oldest records go first and
 * the newest all remain. */
static void test_prune_to_size(void **state)
{
    char path[] = "/tmp/cg-declog-XXXXXX";
    int fd = mkstemp(path), i, count, lo, hi, prunes = 0;
    struct cg_declog *l;
    uint64_t bytes, peak = 0;
    size_t del, total = 0;
    (void)state;
    close(fd);
    assert_int_equal(cg_declog_open(&l, path), CG_OK);
    for (i = 0; i < 150; i++) {
        append_n(l, i * 200, 200);
        assert_int_equal(cg_declog_prune_to(l, CAP, &del), CG_OK);
        total += del;
        prunes += del > 0;
        assert_int_equal(cg_declog_size(l, &bytes), CG_OK);
        if (bytes > peak)
            peak = bytes;
    }
    assert_true(peak <= CAP + CAP / 8);
    /* pruned in bursts (to 90%), not after every batch */
    assert_true(prunes > 0 && prunes < 75);
    cg_declog_close(l);
    assert_true(file_bytes(path) <= CAP + CAP / 8);
    remaining(path, &count, &lo, &hi);
    assert_int_equal(hi, 150 * 200 - 1);                /* the newest is there */
    assert_int_equal(hi - lo + 1, count);               /* every record after the oldest */
    assert_int_equal((size_t)count + total, 150 * 200); /* only deleted ones are missing */
    assert_true(count > 3000);                          /* the limit is used, not emptied */
    unlink_db(path);
}

/* A database made by an earlier version (no auto_vacuum) keeps working:
 * past the limit it is pruned, oldest first, and stops growing, its free
 * pages reused, though it cannot shrink. */
static void test_prune_to_size_existing(void **state)
{
    char path[] = "/tmp/cg-declog-XXXXXX";
    int fd = mkstemp(path), i, count, lo, hi;
    struct cg_declog *l;
    sqlite3 *db;
    uint64_t bytes, before;
    (void)state;
    close(fd);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA journal_mode=WAL;"
                                  "CREATE TABLE decisions ("
                                  " time INTEGER NOT NULL, call_id TEXT, caller TEXT, callee TEXT,"
                                  " ingress TEXT, listener TEXT, verstat TEXT, attest TEXT,"
                                  " origid TEXT, spc TEXT, x5u_host TEXT, verify_reason TEXT,"
                                  " reasons TEXT, action TEXT);"
                                  "CREATE INDEX decisions_time ON decisions(time);"
                                  "CREATE INDEX decisions_caller ON decisions(caller);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(cg_declog_open(&l, path), CG_OK);
    for (i = 0; i < 40; i++)
        append_n(l, i * 200, 200);
    assert_int_equal(cg_declog_size(l, &before), CG_OK);
    assert_true(before > CAP);
    for (; i < 120; i++) {
        append_n(l, i * 200, 200);
        assert_int_equal(cg_declog_prune_to(l, CAP, NULL), CG_OK);
    }
    assert_int_equal(cg_declog_size(l, &bytes), CG_OK);
    assert_true(bytes <= before + CAP / 8);
    cg_declog_close(l);
    remaining(path, &count, &lo, &hi);
    assert_int_equal(hi, 120 * 200 - 1);
    assert_int_equal(hi - lo + 1, count);
    assert_true(count > 3000);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    unlink_db(path);
}

/* A limit lowered below the file: a database made by this version gives
 * the pages past it back to the file system.  Also times the size check. */
static void test_prune_to_lower_limit(void **state)
{
    char path[] = "/tmp/cg-declog-XXXXXX";
    int fd = mkstemp(path), i, count, lo, hi;
    struct cg_declog *l;
    uint64_t bytes;
    struct timespec t0, t1;
    double us;
    (void)state;
    close(fd);
    assert_int_equal(cg_declog_open(&l, path), CG_OK);
    for (i = 0; i < 60; i++)
        append_n(l, i * 200, 200);
    assert_int_equal(cg_declog_prune_to(l, 4 * CAP, NULL), CG_OK);
    assert_int_equal(cg_declog_size(l, &bytes), CG_OK);
    assert_true(bytes > CAP + CAP / 2);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < 1000; i++)
        assert_int_equal(cg_declog_size(l, &bytes), CG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1000 / 1e3;
    print_message("cg_declog_size: %.2f us per call (%.1f MB log)\n", us, (double)bytes / 1048576);
    /* a burst may take several calls (each spends 200 ms at most) */
    for (i = 0; i < 100; i++) {
        size_t del;
        assert_int_equal(cg_declog_prune_to(l, CAP / 2, &del), CG_OK);
        assert_int_equal(cg_declog_size(l, &bytes), CG_OK);
        if (!del && bytes <= CAP / 2)
            break;
    }
    assert_true(bytes <= CAP / 2);
    cg_declog_close(l);
    assert_true(file_bytes(path) <= CAP / 2);
    remaining(path, &count, &lo, &hi);
    print_message("pruned to %d records of 12000 in %d calls\n", count, i + 1);
    assert_int_equal(hi, 60 * 200 - 1);
    assert_int_equal(hi - lo + 1, count);
    /* the target is about 2,500 of these records: a burst that deletes
     * past it loses records the limit had room for */
    assert_true(count > 1800);
    unlink_db(path);
}

/* The WAL's checkpoint sequence number (its header's fourth word, big
 * endian): it grows each time the WAL restarts after a whole checkpoint. */
static uint32_t wal_seq(const char *path)
{
    char wal[80];
    unsigned char h[16] = {0};
    FILE *f;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if ((f = fopen(wal, "rb"))) {
        if (fread(h, 1, sizeof h, f) != sizeof h)
            memset(h, 0, sizeof h);
        fclose(f);
    }
    return (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
}

/* Deferred checkpoints: commits past the WAL's bound leave it whole until
 * the checkpointer's call, which lets the next commit restart it; a
 * checkpointer that never comes is made up for at four bounds. */
static void test_deferred_checkpoints(void **state)
{
    char path[] = "/tmp/cg-declog-XXXXXX";
    int fd = mkstemp(path), i, count, lo, hi;
    struct cg_declog *l;
    uint32_t seq;
    (void)state;
    close(fd);
    assert_int_equal(cg_declog_open(&l, path), CG_OK);
    assert_int_equal(cg_declog_defer_checkpoints(l), CG_OK);
    assert_int_equal(cg_declog_checkpoint(l), CG_OK); /* none due: nothing done */
    /* an 8 MB limit: a bound of 256 pages (1 MB) of WAL */
    assert_int_equal(cg_declog_prune_to(l, 8 << 20, NULL), CG_OK);
    append_n(l, 0, 200);
    seq = wal_seq(path);
    for (i = 1; i < 16; i++) /* about two bounds of WAL (36 pages a batch) */
        append_n(l, i * 200, 200);
    assert_int_equal(wal_seq(path), seq); /* the writer made no checkpoint */
    assert_int_equal(cg_declog_checkpoint(l), CG_OK);
    append_n(l, 16 * 200, 200);
    assert_int_equal(wal_seq(path), seq + 1); /* checkpointed, then restarted */
    seq = wal_seq(path);
    for (i = 17; i < 120; i++) /* no checkpointer: the writer's own at four bounds */
        append_n(l, i * 200, 200);
    assert_true(wal_seq(path) > seq);
    cg_declog_close(l);
    remaining(path, &count, &lo, &hi);
    assert_int_equal(count, 120 * 200);
    unlink_db(path);

    /* a memory database has no WAL to defer */
    assert_int_equal(cg_declog_open(&l, ":memory:"), CG_OK);
    assert_int_equal(cg_declog_defer_checkpoints(l), CG_EINVAL);
    cg_declog_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_read),        cmocka_unit_test(test_prune_to_size),
        cmocka_unit_test(test_prune_to_size_existing), cmocka_unit_test(test_prune_to_lower_limit),
        cmocka_unit_test(test_deferred_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
