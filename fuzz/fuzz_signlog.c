/* The signing log's index as read back from a file someone handed over
 * (`cidguard trace --log FILE`): the bytes become the data of an origid's,
 * a call's and a customer's rows in signing_keys, beside a few real
 * records, and both kinds of traceback question are asked.  An answer or a
 * clear error, within the question's budget, and never a read outside a
 * row's bytes.  The first two bytes choose the rows' first rowid and
 * bucket offset, so that rows may point at records or past them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cidguard/cidguard.h"
#include "cidguard/signlog.h"

#define T0 1700000000
#define OID "de305d54-75b4-431b-adb2-eb6b9e546014"

static struct cg_signlog *log_;
static sqlite3 *db;
static sqlite3_stmt *ins;
static char path[] = "/tmp/cg-fuzz-signlog-XXXXXX";

/* The file goes with the process (not before: SQLite refuses to write to
 * a database whose file was unlinked). */
static void remove_log(void)
{
    char p[sizeof path + 4];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void setup(void)
{
    struct cg_signlog_record r[3];
    int fd = mkstemp(path), i;
    if (fd < 0)
        abort();
    close(fd);
    unlink(path);
    memset(r, 0, sizeof r);
    for (i = 0; i < 3; i++) {
        r[i].time = T0 + 20 * i;
        strcpy(r[i].customer, "acme");
        strcpy(r[i].source, "192.0.2.1");
        strcpy(r[i].orig, "442079460000");
        strcpy(r[i].dest, "14155550100");
        strcpy(r[i].origid, OID);
        r[i].attest = 'A';
    }
    if (cg_signlog_open(&log_, path) != CG_OK || cg_signlog_append(log_, r, 3) != CG_OK ||
        sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO signing_keys(kind, bucket, key, first, last, "
                           "data) VALUES(?, ?, ?, ?, ?, ?)",
                           -1, &ins, NULL) != SQLITE_OK)
        abort();
    atexit(remove_log);
}

static void row(int kind, int64_t bucket, const char *key, int64_t first, const uint8_t *d,
                size_t n)
{
    sqlite3_bind_int(ins, 1, kind);
    sqlite3_bind_int64(ins, 2, bucket);
    sqlite3_bind_text(ins, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 4, first);
    sqlite3_bind_int64(ins, 5, first);
    sqlite3_bind_blob(ins, 6, n ? (const void *)d : "", (int)n, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE)
        abort();
    sqlite3_reset(ins);
}

static void ask(struct cg_signlog_query *q)
{
    struct cg_signlog_result *res = NULL;
    int rc;
    q->budget_ms = 50;
    rc = cg_signlog_query(log_, q, &res);
    if (rc == CG_OK) {
        char *text = NULL;
        size_t i;
        if (res->ncalls > CG_SIGNLOG_CALLS_DEFAULT || res->ncustomers > CG_SIGNLOG_CUSTOMERS_MAX)
            abort();
        for (i = 1; i < res->ncalls; i++)
            if (res->calls[i - 1].time > res->calls[i].time)
                abort(); /* by time, whatever the rows said */
        for (i = 0; i < res->ncustomers; i++)
            if (res->customers[i].naddresses > CG_SIGNLOG_ADDRS_MAX)
                abort();
        if (cg_signlog_result_json(q, res, &text) != CG_OK)
            abort();
        free(text);
        cg_signlog_result_free(res);
    } else if (res || (rc != CG_EIO && rc != CG_ETOOBIG && rc != CG_ENOMEM)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_signlog_query q;
    int64_t first, shift;
    if (!log_)
        setup();
    if (size < 2)
        return 0;
    first = (int64_t)(data[0] % 8) - 2; /* -2 to 5: none, the records, past them */
    shift = (int64_t)(data[1] % 3) - 1;
    data += 2;
    size -= 2;
    if (sqlite3_exec(db, "BEGIN; DELETE FROM signing_keys", NULL, NULL, NULL) != SQLITE_OK)
        abort();
    row(1, T0 / 3600 + shift, OID, first, data, size);
    row(2, T0 / 60 + shift, "442079460000 14155550100", first, data, size);
    row(3, T0 / 60 + shift, "acme", first, data, size);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        abort();
    memset(&q, 0, sizeof q);
    q.origid = OID;
    ask(&q);
    memset(&q, 0, sizeof q);
    q.orig = "442079460000";
    q.dest = "14155550100";
    q.at = T0 + 30;
    ask(&q);
    return 0;
}
