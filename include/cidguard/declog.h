/*
 * The decision log: one record per call (time, Call-ID, caller, callee,
 * ingress, verstat, attest, origid, SPC, x5u host, reasons, action, and
 * the presentation number with the reasons about each number) in
 * SQLite (WAL), written in batches.  The library writes; the host decides
 * from which thread (the daemon: a writer thread, never the call path).
 * `cidguard analyze` reads the same table.
 */
#ifndef CIDGUARD_DECLOG_H
#define CIDGUARD_DECLOG_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_declog_record {
    int64_t time;
    char call_id[128];
    char caller[CG_TN_MAX + 1];
    char callee[CG_TN_MAX + 1];
    char ingress[64];
    char listener[16];
    enum cg_verstat verstat;
    char attest;
    char origid[CG_ORIGID_MAX + 1];
    char spc[CG_SPC_MAX + 1];
    char x5u_host[128];
    char verify_reason[32]; /* cg_reason_name, "ok" */
    uint32_t reasons;       /* policy reasons, bit (1u << enum cg_policy_reason) */
    enum cg_action action;
    char presented[CG_TN_MAX + 1];              /* the presentation number (From), "" if none */
    uint32_t caller_reasons, presented_reasons; /* cg_decision's, by number */
};

/* Fills a record from a verdict and a decision (host-independent parts). */
CG_EXTERN void cg_declog_record_fill(struct cg_declog_record *r, const struct cg_verdict *v,
                                     const struct cg_decision *d, int64_t now);

struct cg_declog;
/* Opens (creating) the database in WAL mode with the `decisions` table. */
CG_EXTERN int cg_declog_open(struct cg_declog **out, const char *path);
CG_EXTERN void cg_declog_close(struct cg_declog *l);
/* Appends records in one transaction. */
CG_EXTERN int cg_declog_append(struct cg_declog *l, const struct cg_declog_record *recs, size_t n);
/* Deletes the records older than `before` (seconds since the epoch);
 * *deleted (may be NULL) receives how many. */
CG_EXTERN int cg_declog_prune(struct cg_declog *l, int64_t before, size_t *deleted);

/* What the log takes on disk, in bytes: the database's pages (page_count *
 * page_size, counting pages still in the WAL) plus the WAL file.  Cheap
 * (two cached PRAGMA reads and a stat): meant for a once-a-second check
 * and a metric. */
CG_EXTERN int cg_declog_size(struct cg_declog *l, uint64_t *bytes);
/*
 * Keeps the log within `max_bytes` on disk.  When the pages holding records
 * plus the WAL exceed it, deletes the oldest records (by insertion order, in
 * batches) until they fit in 90% of it, so that pruning comes in bursts
 * rather than every second.  A burst is spread over calls: each stops
 * after about 200 ms (later when a WAL checkpoint falls in its last batch;
 * deleting a record costs about as much as appending it) and the next call
 * goes on.  *deleted (may be NULL) receives
 * how many records this call deleted.  The freed pages are reused by the
 * next records; only when the file itself exceeds `max_bytes` (a limit
 * lowered, a log grown before it had one) are pages past the limit given
 * back to the file system (8 MB a call), which a database created by this
 * version can do (auto_vacuum=INCREMENTAL) and an older one cannot (it
 * stays at its size, reusing its free pages; a warning says so once).
 * Under a limit below 512 MB the WAL is kept to an eighth of it.  Cheap
 * when there is nothing to do (about 20 us): meant to be called by the
 * writer after every batch it writes, or at least every second.
 */
CG_EXTERN int cg_declog_prune_to(struct cg_declog *l, uint64_t max_bytes, size_t *deleted);

/*
 * Checkpoints on another thread.  By default a commit that finds the WAL
 * past its bound (64 MB, or an eighth of a smaller prune_to limit) copies
 * it into the database and syncs both files before it returns, which can
 * take most of a second.  After cg_declog_defer_checkpoints, commits only
 * note that a checkpoint is due, and cg_declog_checkpoint, called by one
 * other thread (a poll every few hundred milliseconds), makes it on a
 * connection of that thread's own without blocking the writer.  Should the
 * checkpoints fall four bounds behind, a commit makes one after all.  Stop
 * calling cg_declog_checkpoint before cg_declog_close.  CG_EINVAL for a
 * memory database (no WAL); cg_declog_checkpoint returns CG_OK whether or
 * not a checkpoint was due.
 */
CG_EXTERN int cg_declog_defer_checkpoints(struct cg_declog *l);
CG_EXTERN int cg_declog_checkpoint(struct cg_declog *l);

#ifdef __cplusplus
}
#endif
#endif
