#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

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
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), min(x5u_host), min(reasons), "
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_append_and_read)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
