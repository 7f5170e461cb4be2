/*
 * The log writer: workers append records of the decision log and of the
 * signing log to their own lanes without blocking on I/O; one low-priority
 * thread writes them to SQLite in batches.
 */
#ifndef CIDGUARDD_DECLOGD_H
#define CIDGUARDD_DECLOGD_H

#include "cidguard/cidguard.h"
#include "cidguard/signlog.h"

#define CGD_LOG_PATH 512

/* Starts the writer for the decision log at `path`, keeping `keep_days` of
 * records (0: all) and at most `max_mb` megabytes on disk (0: no cap; the
 * oldest records go first). */
int cgd_declog_start(const char *path, int keep_days, int max_mb);
/* The same for the signing log; the same thread writes both. */
int cgd_signlog_start(const char *path, int keep_days, int max_mb);
/* The signing log's file while it is open (for the traceback endpoint's
 * own read-only connections), else NULL. */
const char *cgd_signlog_path(void);
/* Appends one record, written in place by fill(rec, arg) (rec is zeroed)
 * under the worker's lane lock, never blocking on I/O; when the lane is
 * full the record is counted as dropped and fill is not called.  A no-op
 * when the log is off. */
void cgd_declog_push(void (*fill)(struct cg_declog_record *rec, void *arg), void *arg);
void cgd_signlog_push(void (*fill)(struct cg_signlog_record *rec, void *arg), void *arg);
/* Stops the writer after writing what is queued in both logs, and closes them. */
void cgd_declog_stop(void);

#endif
