/* The decision log in SQLite: one prepared INSERT, one transaction per
 * batch, WAL so that `cidguard analyze` can read while the daemon writes;
 * bounded in age (cg_declog_prune) and in size (cg_declog_prune_to). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cidguard/declog.h"
#include "core/internal.h"
#include "core/sqlog.h"

struct cg_declog {
    struct cg__sqlog s; /* the database and its size bound */
    sqlite3_stmt *ins;
};

static const char schema[] = CG__SQLOG_PRAGMAS
    "CREATE TABLE IF NOT EXISTS decisions ("
    " time INTEGER NOT NULL, call_id TEXT, caller TEXT, callee TEXT, ingress TEXT,"
    " listener TEXT, verstat TEXT, attest TEXT, origid TEXT, spc TEXT, x5u_host TEXT,"
    " verify_reason TEXT, reasons TEXT, action TEXT, presented TEXT, caller_reasons TEXT,"
    " presented_reasons TEXT);"
    "CREATE INDEX IF NOT EXISTS decisions_time ON decisions(time);"
    "CREATE INDEX IF NOT EXISTS decisions_caller ON decisions(caller);";

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
    sqlite3 *db = NULL;
    if (!l)
        return CG_ENOMEM;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK || add_columns(db) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO decisions(time, call_id, caller, callee, ingress, "
                           "listener, verstat, attest, origid, spc, x5u_host, verify_reason, "
                           "reasons, action, presented, caller_reasons, presented_reasons) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &l->ins, NULL) != SQLITE_OK ||
        cg__sqlog_init(&l->s, db, "decisions", "decision log") != CG_OK) {
        cg__log(CG_LOG_ERROR, "decision log %s: %s", path, db ? sqlite3_errmsg(db) : "");
        l->s.db = db;
        cg_declog_close(l);
        return CG_EIO;
    }
    *out = l;
    return CG_OK;
}

void cg_declog_close(struct cg_declog *l)
{
    if (!l)
        return;
    sqlite3_finalize(l->ins);
    cg__sqlog_fini(&l->s);
    sqlite3_close(l->s.db);
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
    if (sqlite3_exec(l->s.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
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
    if (sqlite3_exec(l->s.db, rc == CG_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        rc = CG_EIO;
    return rc;
}

int cg_declog_prune(struct cg_declog *l, int64_t before, size_t *deleted)
{
    sqlite3_stmt *st;
    int rc = CG_EIO;
    if (sqlite3_prepare_v2(l->s.db, "DELETE FROM decisions WHERE time < ?", -1, &st, NULL) !=
        SQLITE_OK)
        return CG_EIO;
    sqlite3_bind_int64(st, 1, before);
    if (sqlite3_step(st) == SQLITE_DONE) {
        if (deleted)
            *deleted = (size_t)sqlite3_changes(l->s.db);
        rc = CG_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int cg_declog_size(struct cg_declog *l, uint64_t *bytes)
{
    return cg__sqlog_size(&l->s, bytes);
}

int cg_declog_prune_to(struct cg_declog *l, uint64_t max_bytes, size_t *deleted)
{
    return cg__sqlog_prune_to(&l->s, max_bytes, deleted);
}

int cg_declog_defer_checkpoints(struct cg_declog *l)
{
    return l ? cg__sqlog_defer_checkpoints(&l->s) : CG_EINVAL;
}

int cg_declog_checkpoint(struct cg_declog *l)
{
    return l ? cg__sqlog_checkpoint(&l->s) : CG_EINVAL;
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
