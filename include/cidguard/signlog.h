/*
 * The signing log and traceback.
 *
 * An originating carrier signs calls for its customers.  When a call is
 * traced back (a terminating carrier holds its SPC and origid, or its
 * numbers and time, and asks who placed it), the carrier must name the
 * customer and show what else that customer sent.  The signing log keeps
 * one record per signing request, signed or refused: who asked (customer,
 * source address, ingress), for which numbers, with which attestation and
 * origid, and what the policy decided.
 *
 * Storage: SQLite in WAL mode, one table `signings`, written in batches of
 * one transaction (the host chooses the thread: the daemon uses a writer
 * thread, never the call path), bounded by age (cg_signlog_prune) and by
 * size (cg_signlog_prune_to).  Readers (the daemon's traceback endpoint,
 * `cidguard trace`) open their own read-only connection
 * (cg_signlog_open_readonly) and never hold up the writer.
 *
 * Queries use the indexes only, bounded in rows and in time: an unknown
 * origid or a time with no calls costs one index probe.  Records are
 * assumed to arrive in about time order (as a daemon appends them); the
 * age prune relies on it (see cg_signlog_prune).
 */
#ifndef CIDGUARD_SIGNLOG_H
#define CIDGUARD_SIGNLOG_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "customers.h"
#include "error.h"
#include "passport.h"
#include "policy.h"
#include "tn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_SIGNLOG_CUSTOMER_MAX CG_CUSTOMER_NAME_MAX
#define CG_SIGNLOG_ADDR_MAX 46 /* an IPv6 address as text, with its NUL */

struct cg_signlog_record {
    int64_t time; /* Unix seconds */
    char call_id[128];
    char customer[CG_SIGNLOG_CUSTOMER_MAX + 1]; /* "" when the caller is no customer */
    char source[CG_SIGNLOG_ADDR_MAX];           /* the client's address as text */
    char ingress[64];
    char orig[CG_TN_MAX + 1];      /* the signed number, canonical digits */
    char presented[CG_TN_MAX + 1]; /* the presentation number; may equal orig, or "" */
    char dest[CG_TN_MAX + 1];      /* the first destination */
    char attest;                   /* 'A', 'B', 'C'; 0 when refused before one was chosen */
    char origid[CG_ORIGID_MAX + 1];
    char spc[CG_SPC_MAX + 1];
    enum cg_action action; /* allow or label: signed; block: refused, never signed */
    uint32_t reasons;      /* policy reasons, bit (1u << enum cg_policy_reason) */
    char listener[16];     /* "sip", "http" */
};

struct cg_signlog;

/* Opens (creating) the log for writing: WAL, the `signings` table and the
 * log's index of it; records it has not indexed (another writer's, or a
 * log of an earlier layout) are indexed first (10-20 s a million).
 * CG_OK, CG_EINVAL or CG_EIO (logged). */
CG_EXTERN int cg_signlog_open(struct cg_signlog **out, const char *path);
/*
 * Opens an existing log for queries only (cg_signlog_query): no table is
 * created, nothing is written.  CG_ENOTFOUND when there is no file at
 * `path`, CG_EPARSE when it is not a signing log, CG_EUNSUPPORTED when it
 * is a log of an earlier layout that no writer has opened since (the
 * writer indexes its records when it opens it), CG_EIO otherwise.
 */
CG_EXTERN int cg_signlog_open_readonly(struct cg_signlog **out, const char *path);
CG_EXTERN void cg_signlog_close(struct cg_signlog *l);

/* Appends records in one transaction (CG_OK, CG_EINVAL on a read-only
 * log, CG_EIO: nothing of the batch is written).  Origids are stored in
 * lowercase. */
CG_EXTERN int cg_signlog_append(struct cg_signlog *l, const struct cg_signlog_record *recs,
                                size_t n);
/*
 * Deletes the records older than `before` (Unix seconds), oldest first, in
 * batches of 10,000 (one transaction each); *deleted (may be NULL)
 * receives how many.  The cost follows what is deleted, not the log's
 * size: the records are taken in the order they were appended up to the
 * first one at or after `before`, so a record whose time is out of order
 * with its neighbours (a clock stepped back) waits for a later prune.
 */
CG_EXTERN int cg_signlog_prune(struct cg_signlog *l, int64_t before, size_t *deleted);
/* Bytes on disk (database pages and WAL), as cg_declog_size. */
CG_EXTERN int cg_signlog_size(struct cg_signlog *l, uint64_t *bytes);
/* Keeps the log within `max_bytes`, oldest records first, in bursts of
 * about 200 ms a call, exactly as cg_declog_prune_to. */
CG_EXTERN int cg_signlog_prune_to(struct cg_signlog *l, uint64_t max_bytes, size_t *deleted);
/* Checkpoints on another thread, as cg_declog_defer_checkpoints and
 * cg_declog_checkpoint (a writer's log only). */
CG_EXTERN int cg_signlog_defer_checkpoints(struct cg_signlog *l);
CG_EXTERN int cg_signlog_checkpoint(struct cg_signlog *l);

/* --- traceback ----------------------------------------------------------------- */

#define CG_SIGNLOG_CALLS_DEFAULT 1000    /* calls a query returns unless told */
#define CG_SIGNLOG_CALLS_MAX 10000       /* ... at most */
#define CG_SIGNLOG_WINDOW_DEFAULT 60     /* seconds either side of `at` */
#define CG_SIGNLOG_WINDOW_MAX 86400      /* ... at most */
#define CG_SIGNLOG_SPAN_DEFAULT 3600     /* seconds of a customer's totals */
#define CG_SIGNLOG_SPAN_MAX 86400        /* ... at most */
#define CG_SIGNLOG_TOTALS_ROWS 100000    /* records one customer's totals read */
#define CG_SIGNLOG_CUSTOMERS_MAX 16      /* customers one answer describes */
#define CG_SIGNLOG_ADDRS_MAX 16          /* addresses per customer */
#define CG_SIGNLOG_TIME_MAX 253402300799 /* 9999-12-31T23:59:59Z */

/*
 * A traceback question: either `origid` (with `from`/`to` when has_range,
 * inclusive), or `orig`, `dest` and `at` with `window` seconds either side
 * (0: CG_SIGNLOG_WINDOW_DEFAULT).  Numbers are canonical digits (1 to 15,
 * no '+'); an origid is 1 to CG_ORIGID_MAX printable characters without
 * spaces, matched without regard to case.
 */
struct cg_signlog_query {
    const char *origid; /* NULL: by numbers */
    bool has_range;
    int64_t from, to;
    const char *orig, *dest;
    int64_t at, window;
    int64_t span;       /* totals cover this many seconds (0: CG_SIGNLOG_SPAN_DEFAULT) */
    size_t max_calls;   /* 0: CG_SIGNLOG_CALLS_DEFAULT; at most CG_SIGNLOG_CALLS_MAX */
    unsigned budget_ms; /* the whole query's time (0: no bound) */
};

/* One customer's activity over [from, to]. */
struct cg_signlog_totals {
    int64_t from, to;
    uint64_t signed_calls, refused; /* action allow/label; block */
    uint64_t by_attest[3];          /* signed at A, B, C */
    uint64_t distinct_orig;         /* distinct signed numbers */
    uint64_t distinct_presented;    /* distinct numbers shown (presented, else orig) */
    /* false when the totals stopped at CG_SIGNLOG_TOTALS_ROWS records or at
     * the query's time budget: the counts are then lower bounds */
    bool complete;
};

struct cg_signlog_customer {
    char customer[CG_SIGNLOG_CUSTOMER_MAX + 1]; /* "": calls from callers who are no customer */
    char addresses[CG_SIGNLOG_ADDRS_MAX][CG_SIGNLOG_ADDR_MAX]; /* from its calls' sources */
    size_t naddresses;
    struct cg_signlog_totals totals;
};

struct cg_signlog_result {
    struct cg_signlog_record *calls; /* by time */
    size_t ncalls;
    /* more calls matched than max_calls: the calls kept are the first
     * appended, which are the earliest unless the clock stepped back within
     * an hour (origid) or a minute (numbers) */
    bool truncated;
    struct cg_signlog_customer *customers;
    size_t ncustomers; /* the customers of `calls`, at most CG_SIGNLOG_CUSTOMERS_MAX */
};

/*
 * Answers a traceback question.  *out (set only on success, free with
 * cg_signlog_result_free) may hold no calls.  Each customer's totals cover
 * `span` seconds centred on its matched calls (from the first's time less
 * half the span to the last's plus half), and its addresses are the
 * distinct sources of its records in that span.  Returns CG_OK, CG_EINVAL
 * (a bad question: a malformed number or origid, a time outside 0 to
 * CG_SIGNLOG_TIME_MAX, from after to, a window or span out of bounds),
 * CG_ETOOBIG (the calls could not be found within budget_ms),
 * CG_EUNSUPPORTED (a writer is still indexing the log's records), CG_ENOMEM
 * or CG_EIO.  Thread-compatible: one query at a time per cg_signlog.
 */
CG_EXTERN int cg_signlog_query(struct cg_signlog *l, const struct cg_signlog_query *q,
                               struct cg_signlog_result **out);
CG_EXTERN void cg_signlog_result_free(struct cg_signlog_result *r);

/*
 * The answer to a traceback question as JSON (malloc'ed, NUL-terminated,
 * compact, in *out): {"query": the question, "customers": [{"customer",
 * "addresses", "totals"}], "calls": [...], "truncated": bool}.  Times are
 * ISO 8601 UTC, numbers canonical digits, reasons policy reason codes
 * (docs/cidguardd.md, "Signing log and traceback", shows one).  CG_OK,
 * CG_EINVAL or CG_ENOMEM.
 */
CG_EXTERN int cg_signlog_result_json(const struct cg_signlog_query *q,
                                     const struct cg_signlog_result *r, char **out);
/*
 * The calls as CSV with a header row, one call a line (CRLF), the export a
 * traceback response carries: time, customer, source, ingress, orig,
 * presented, dest, attest, origid, spc, action, reasons, listener,
 * call_id.  Fields holding a comma, a quote or a line end are quoted; a
 * field starting with '=', '+', '-' or '@' gets a leading apostrophe, so
 * that a spreadsheet never runs a caller's Call-ID as a formula.
 */
CG_EXTERN int cg_signlog_result_csv(const struct cg_signlog_result *r, char **out);

#ifdef __cplusplus
}
#endif
#endif
