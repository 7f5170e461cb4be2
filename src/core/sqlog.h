/*
 * What the library's SQLite logs (the decision log, the signing log)
 * share: the pragmas they are created with, and how they are kept within
 * a size on disk.  Internal (cg__).
 */
#ifndef CG_CORE_SQLOG_H
#define CG_CORE_SQLOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * The first statements of a log's schema, before any table exists.
 * auto_vacuum=INCREMENTAL lets a new database give pages back to the file
 * system (cg__sqlog_prune_to) without a full VACUUM; a database created
 * without it keeps its mode and reuses its free pages.  A checkpoint every
 * 64 MB of WAL rather than every 4 MB: each one syncs twice, and the
 * disk's completions interrupt whichever core they are routed to, which
 * may be a worker's (at 8,300 calls/s on one core, p99 1.03 -> 0.74 ms,
 * p99.9 10.7 -> 3.5 ms).  After a checkpoint the WAL shrinks back to that
 * interval, however far a reader that held up checkpoints let it grow.
 */
#define CG__SQLOG_PRAGMAS                                                                          \
    "PRAGMA auto_vacuum=INCREMENTAL;"                                                              \
    "PRAGMA journal_mode=WAL;"                                                                     \
    "PRAGMA synchronous=NORMAL;"                                                                   \
    "PRAGMA wal_autocheckpoint=16384;"                                                             \
    "PRAGMA journal_size_limit=67108864;"

/* One log's size bound, over a database its owner opened. */
struct cg__sqlog {
    sqlite3 *db; /* the owner's */
    sqlite3_stmt *page_count, *freelist_count, *del_oldest;
    uint64_t page_size;
    const char *what;       /* "decision log": the log's name in messages */
    const char *wal;        /* the WAL's file name (SQLite's), NULL for a memory database */
    bool incremental;       /* auto_vacuum=INCREMENTAL: free pages can go back to the disk */
    bool warned;            /* said once that the file cannot shrink */
    bool pruning;           /* a burst of deletions is under way */
    uint64_t batch;         /* records the next deletion takes, learnt from the last */
    uint64_t wal_sized_for; /* the size limit the WAL's bounds follow; 0: the defaults */
    /* Checkpoints deferred to another thread (cg__sqlog_defer_checkpoints) */
    bool deferred;
    uint64_t wal_pages; /* the WAL's frames that make a checkpoint due */
    atomic_bool due;    /* set by the writer's commits, cleared by the checkpointer */
    sqlite3 *ckpt;      /* the checkpointer's connection, opened at its first use */
    const char *file;   /* the database's name (SQLite's), for that connection */
};

/* One integer from a prepared PRAGMA (CG_OK or CG_EIO). */
int cg__sqlog_pragma_u64(sqlite3_stmt *st, uint64_t *out);
/* Sets up `s` for the append-only `table` of `db` (schema made): its
 * statements, page size and vacuum mode, and a 2 s busy timeout.  `table`
 * and `what` are static strings.  CG_OK or CG_EIO (s is then finished). */
int cg__sqlog_init(struct cg__sqlog *s, sqlite3 *db, const char *table, const char *what);
/* Finalizes s's statements (not the database). */
void cg__sqlog_fini(struct cg__sqlog *s);
/* The database's pages plus the WAL, in bytes (cg_declog_size). */
int cg__sqlog_size(struct cg__sqlog *s, uint64_t *bytes);
/* Keeps the log within max_bytes, oldest records first (cg_declog_prune_to). */
int cg__sqlog_prune_to(struct cg__sqlog *s, uint64_t max_bytes, size_t *deleted);
/* The writer's commits stop checkpointing and say when one is due
 * (cg_declog_defer_checkpoints). */
int cg__sqlog_defer_checkpoints(struct cg__sqlog *s);
/* A due checkpoint, on a connection of the calling thread's (cg_declog_checkpoint). */
int cg__sqlog_checkpoint(struct cg__sqlog *s);

#endif
