/* The signing log's internals: its index (keys.c), and the SQL of its
 * questions for the tests. */
#ifndef CG_SIGNLOG_INTERNAL_H
#define CG_SIGNLOG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "cidguard/signlog.h"

/* The SQL of the traceback queries, i from 0 until NULL: their plans must
 * search, never scan. */
const char *cg__signlog_sql(int i);

/*
 * The rows of signing_keys, by kind: an origid's records, a call's (its
 * signed number and callee) records, and a customer's totals by second.
 * Each row covers one key in one time bucket of one appended batch.
 */
enum { CG__SK_ORIGID = 1, CG__SK_CALL = 2, CG__SK_CUSTOMER = 3, CG__SK__COUNT };

/* What the index reads from a record. */
struct cg__sk_record {
    int64_t time;
    const char *customer, *source, *orig, *presented, *dest, *origid; /* NULL or "": none */
    char attest;
    bool refused;
};

/* A batch's rows in the making, and the statements that write them. */
struct cg__skeys;
int cg__skeys_new(struct cg__skeys **out, sqlite3 *db);
void cg__skeys_free(struct cg__skeys *k);
/* Adds one record (appended as `rowid`, rowids ascending) to the batch. */
int cg__skeys_add(struct cg__skeys *k, int64_t rowid, const struct cg__sk_record *r);
/* Writes the batch's rows, inside the caller's transaction, and forgets them. */
int cg__skeys_flush(struct cg__skeys *k);
/* Forgets the batch's rows (its transaction was rolled back). */
void cg__skeys_discard(struct cg__skeys *k);
/* The last rowid indexed, as the database holds it once the transaction
 * commits; set back when it was rolled back. */
int64_t cg__skeys_upto(const struct cg__skeys *k);
void cg__skeys_set_upto(struct cg__skeys *k, int64_t upto);
/* Indexes the records appended by another writer (or by a version of the
 * log without this index), in transactions of its own. */
int cg__skeys_catch_up(struct cg__skeys *k, size_t *indexed);
/* Deletes the rows whose records all lie before rowid `bound`, in buckets
 * up to that of the time `before` (INT64_MAX: any). */
int cg__skeys_prune(struct cg__skeys *k, int64_t bound, int64_t before);

/* Reading: the bucket of a time, a row's varints and hashes. */
int64_t cg__sk_bucket(int kind, int64_t t);
bool cg__sk_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);
uint64_t cg__sk_u64(const unsigned char *p);
/* The key of a call: "ORIG DEST". */
void cg__sk_call_key(const char *orig, const char *dest, char out[2 * CG_TN_MAX + 2]);
/* Origids are UUIDs, whose case means nothing: kept and matched in
 * lowercase.  False (and "") when longer than an origid may be. */
bool cg__sk_lower_origid(const char *in, char out[CG_ORIGID_MAX + 1]);
int cg__sk_error(int sqlite_step);

/* A customer's second, decoded in place from its row's data. */
struct cg__sk_customer_row {
    int64_t second;
    uint64_t n, refused, by_attest[3];
    const unsigned char *orig, *shown; /* norig, nshown hashes of 8 bytes */
    size_t norig, nshown;
    const char *sources[CG_SIGNLOG_ADDRS_MAX];
    size_t nsources;
};
int cg__sk_customer(const unsigned char *p, size_t n, struct cg__sk_customer_row *c);

/* A set of 64-bit hashes (never 0): 1 when added, 0 when present, -1
 * out of memory.  Distinct numbers are counted by their hashes (two
 * sharing one count once). */
struct cg__hset {
    uint64_t *slot;
    size_t cap, n;
};
int cg__hset_add(struct cg__hset *h, uint64_t v);
uint64_t cg__sk_hash(const char *s);

/* Calls fn for each row of (kind, key) in the buckets from `from` to `to`
 * (times), in bucket order: fn returns 0 to go on, 1 to stop, or an
 * error.  The statements: "at" selects (first, data) by (kind, bucket,
 * key), "next" the first bucket of a kind from ?2 to ?3. */
typedef int cg__sk_row_fn(void *arg, int64_t first, const unsigned char *data, size_t n);
int cg__sk_each(sqlite3_stmt *at, sqlite3_stmt *next, int kind, const char *key, int64_t from,
                int64_t to, cg__sk_row_fn *fn, void *arg);

#endif
