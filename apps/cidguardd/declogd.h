/*
 * The decision log's writer: workers append records to their own lane
 * without blocking on I/O; one low-priority thread writes them to SQLite
 * in batches.
 */
#ifndef CIDGUARDD_DECLOGD_H
#define CIDGUARDD_DECLOGD_H

#include "cidguard/cidguard.h"

/* Starts the writer for the log at `path`, keeping `keep_days` of records
 * (0: all) and at most `max_mb` megabytes on disk (0: no cap; the oldest
 * records go first). */
int cgd_declog_start(const char *path, int keep_days, int max_mb);
/* Appends one record, written in place by fill(rec, arg) (rec is zeroed)
 * under the worker's lane lock, never blocking on I/O; when the lane is
 * full the record is counted as dropped and fill is not called.  A no-op
 * when the log is off. */
void cgd_declog_push(void (*fill)(struct cg_declog_record *rec, void *arg), void *arg);
void cgd_declog_stop(void); /* writes what is queued */

#endif
