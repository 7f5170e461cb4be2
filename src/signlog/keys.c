/*
 * The signing log's index (signlog_internal.h).
 *
 * Why not SQLite indexes on the records: an index entry lands where its
 * key sorts, so a log of a carrier's many numbers and origids puts every
 * record's three entries on three random pages, each read and then
 * written whole to the WAL.  Measured on a log of a million records with
 * 200,000 numbers: 65-80 us a record, against 2 us for the table alone;
 * with one customer and one number, still about 4 us.
 *
 * Here each appended batch adds one row per (kind, time bucket, key) to
 * signing_keys: the rowids of its records, or, for a customer, the totals
 * of its records in one second.  The bucket leads the key, so a batch's
 * rows all land in the newest part of the table, and a busy key costs one
 * row a batch rather than one entry a record.  A question then reads the
 * rows of its key bucket by bucket, and the records by rowid.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cidguard/signlog.h"
#include "core/internal.h"
#include "signlog/signlog_internal.h"

/* Seconds a bucket holds, by kind.  An origid may be asked for over the
 * whole log, a search a bucket, so its buckets are hours (a 90-day log
 * is 2,160 of them).  Days made a per-call origid's row cost 25 us
 * rather than 7.5 (ten million records, bench/tracebench.sh): a random
 * key's row lands anywhere in the newest bucket, the larger the bucket,
 * the more pages a batch writes.  The others are asked over at most a
 * day, and minute buckets keep the newest part of the table small. */
static const int64_t bucket_secs[CG__SK__COUNT] = {
    [CG__SK_ORIGID] = 3600, [CG__SK_CALL] = 60, [CG__SK_CUSTOMER] = 60};

int64_t cg__sk_bucket(int kind, int64_t t)
{
    int64_t s = bucket_secs[kind], b = t / s;
    return t % s < 0 ? b - 1 : b; /* floor, without negating INT64_MIN */
}

/* --- bytes --------------------------------------------------------------------------------- */

struct buf {
    unsigned char *p;
    size_t n, cap;
};

static bool put(struct buf *b, const void *p, size_t n)
{
    if (!n)
        return true;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        unsigned char *q;
        while (cap < b->n + n)
            cap *= 2;
        if (!(q = realloc(b->p, cap)))
            return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return true;
}

static bool put_varint(struct buf *b, uint64_t v)
{
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return put(b, t, n);
}

bool cg__sk_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    unsigned shift = 0;
    *v = 0;
    while (*p < end && shift < 64) {
        unsigned char c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
        shift += 7;
    }
    return false;
}

static bool put_u64(struct buf *b, uint64_t v)
{
    unsigned char t[8];
    int i;
    for (i = 0; i < 8; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    return put(b, t, 8);
}

uint64_t cg__sk_u64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* --- sets of hashes ------------------------------------------------------------------------ */

uint64_t cg__sk_hash(const char *s)
{
    return cg__fnv1a(s, strlen(s)) | 1; /* never 0, the empty slot */
}

int cg__hset_add(struct cg__hset *h, uint64_t v)
{
    size_t i;
    if (2 * (h->n + 1) > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64, k;
        uint64_t *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (k = 0; k < h->cap; k++)
            if (h->slot[k]) {
                for (i = h->slot[k] & (cap - 1); slot[i]; i = (i + 1) & (cap - 1))
                    ;
                slot[i] = h->slot[k];
            }
        free(h->slot);
        h->slot = slot;
        h->cap = cap;
    }
    for (i = v & (h->cap - 1); h->slot[i]; i = (i + 1) & (h->cap - 1))
        if (h->slot[i] == v)
            return 0;
    h->slot[i] = v;
    h->n++;
    return 1;
}

static void hset_clear(struct cg__hset *h)
{
    if (h->n)
        memset(h->slot, 0, h->cap * sizeof *h->slot);
    h->n = 0;
}

/* --- a batch's rows ------------------------------------------------------------------------ */

/* One row of signing_keys in the making. */
struct group {
    uint64_t h;
    int kind;
    int64_t bucket, second; /* second: a customer's, else 0 */
    char *key;
    int64_t first, last;
    struct buf rowids; /* varint deltas after `first` */
    /* a customer's second: its counts, the hashes of its distinct signed
     * and shown numbers, and its first distinct sources */
    uint64_t n, refused, by_attest[3];
    struct cg__hset orig, shown;
    struct buf orig_h, shown_h, sources;
    size_t nsources;
};

struct cg__skeys {
    sqlite3 *db;
    sqlite3_stmt *ins, *get_upto, *set_upto, *unindexed, *del;
    struct group *g;
    size_t ng, gcap;
    uint32_t *slot; /* 1 + index into g; 0 empty */
    size_t scap;
    int64_t upto; /* the last rowid indexed */
    struct buf blob;
};

static void group_free(struct group *g)
{
    free(g->key);
    free(g->rowids.p);
    free(g->orig.slot);
    free(g->shown.slot);
    free(g->orig_h.p);
    free(g->shown_h.p);
    free(g->sources.p);
}

void cg__skeys_free(struct cg__skeys *k)
{
    size_t i;
    if (!k)
        return;
    sqlite3_finalize(k->ins);
    sqlite3_finalize(k->get_upto);
    sqlite3_finalize(k->set_upto);
    sqlite3_finalize(k->unindexed);
    sqlite3_finalize(k->del);
    for (i = 0; i < k->gcap; i++)
        group_free(&k->g[i]);
    free(k->g);
    free(k->slot);
    free(k->blob.p);
    free(k);
}

int cg__skeys_new(struct cg__skeys **out, sqlite3 *db)
{
    struct cg__skeys *k = calloc(1, sizeof *k);
    if (!k)
        return CG_ENOMEM;
    k->db = db;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO signing_keys(kind, bucket, key, first, last, data) "
                           "VALUES(?,?,?,?,?,?)",
                           -1, &k->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT upto FROM signing_indexed", -1, &k->get_upto, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE signing_indexed SET upto = ?1", -1, &k->set_upto, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT rowid, time, customer, source, orig, presented, dest, attest, "
                           "origid, action FROM signings WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
                           -1, &k->unindexed, NULL) != SQLITE_OK ||
        /* in bounded batches, as the records are deleted */
        sqlite3_prepare_v2(db,
                           "DELETE FROM signing_keys WHERE (kind, bucket, key, first) IN (SELECT "
                           "kind, bucket, key, first FROM signing_keys WHERE kind = ?1 AND "
                           "bucket <= ?2 AND last < ?3 LIMIT 10000)",
                           -1, &k->del, NULL) != SQLITE_OK) {
        cg__skeys_free(k);
        return CG_EIO;
    }
    if (sqlite3_step(k->get_upto) == SQLITE_ROW)
        k->upto = sqlite3_column_int64(k->get_upto, 0);
    sqlite3_reset(k->get_upto);
    *out = k;
    return CG_OK;
}

static uint64_t group_hash(int kind, int64_t bucket, int64_t second, const char *key)
{
    uint64_t h = cg__fnv1a(key, strlen(key));
    h ^= (uint64_t)kind * 0x9e3779b97f4a7c15ull ^ (uint64_t)bucket * 0xbf58476d1ce4e5b9ull ^
         (uint64_t)second * 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

static bool grow(struct cg__skeys *k)
{
    size_t gcap = k->gcap ? k->gcap * 2 : 256, scap = gcap * 2, i;
    uint32_t *slot = calloc(scap, sizeof *slot);
    struct group *g;
    /* the slots first: groups without room in them would fill the table */
    if (!slot || !(g = realloc(k->g, gcap * sizeof *g))) {
        free(slot);
        return false;
    }
    memset(g + k->gcap, 0, (gcap - k->gcap) * sizeof *g);
    k->g = g;
    k->gcap = gcap;
    for (i = 0; i < k->ng; i++) {
        size_t j;
        for (j = k->g[i].h & (scap - 1); slot[j]; j = (j + 1) & (scap - 1))
            ;
        slot[j] = (uint32_t)i + 1;
    }
    free(k->slot);
    k->slot = slot;
    k->scap = scap;
    return true;
}

/* The batch's row for (kind, bucket, second, key), made when new. */
static struct group *group_of(struct cg__skeys *k, int kind, int64_t t, int64_t second,
                              const char *key, int64_t rowid)
{
    int64_t bucket = cg__sk_bucket(kind, t);
    uint64_t h = group_hash(kind, bucket, second, key);
    struct group *g;
    size_t j;
    if (k->ng == k->gcap && !grow(k))
        return NULL;
    for (j = h & (k->scap - 1); k->slot[j]; j = (j + 1) & (k->scap - 1)) {
        g = &k->g[k->slot[j] - 1];
        if (g->h == h && g->kind == kind && g->bucket == bucket && g->second == second &&
            strcmp(g->key, key) == 0)
            return g;
    }
    g = &k->g[k->ng];
    /* a slot's buffers are kept from batch to batch; its key is not */
    if (!(g->key = strdup(key)))
        return NULL;
    g->h = h;
    g->kind = kind;
    g->bucket = bucket;
    g->second = second;
    g->first = g->last = rowid;
    g->rowids.n = g->orig_h.n = g->shown_h.n = g->sources.n = 0;
    g->n = g->refused = g->by_attest[0] = g->by_attest[1] = g->by_attest[2] = 0;
    g->nsources = 0;
    hset_clear(&g->orig);
    hset_clear(&g->shown);
    k->slot[j] = (uint32_t)++k->ng;
    return g;
}

static bool add_rowid(struct group *g, int64_t rowid)
{
    bool ok = rowid == g->first || put_varint(&g->rowids, (uint64_t)(rowid - g->last));
    g->last = rowid;
    return ok;
}

static bool add_hash(struct cg__hset *set, struct buf *list, const char *s)
{
    uint64_t v = cg__sk_hash(s);
    int r = cg__hset_add(set, v);
    return r == 0 || (r == 1 && put_u64(list, v));
}

static bool add_customer(struct group *g, int64_t rowid, const struct cg__sk_record *r)
{
    const char *shown = r->presented && *r->presented ? r->presented : r->orig;
    size_t i, n;
    const char *s;
    g->last = rowid;
    g->n++;
    if (r->refused)
        g->refused++;
    else if (r->attest >= 'A' && r->attest <= 'C')
        g->by_attest[r->attest - 'A']++;
    if (r->orig && *r->orig && !add_hash(&g->orig, &g->orig_h, r->orig))
        return false;
    if (shown && *shown && !add_hash(&g->shown, &g->shown_h, shown))
        return false;
    if (!r->source || !*r->source || g->nsources == CG_SIGNLOG_ADDRS_MAX)
        return true;
    for (s = (const char *)g->sources.p, i = 0; i < g->nsources; i++, s += n + 1) {
        n = strlen(s);
        if (strcmp(s, r->source) == 0)
            return true;
    }
    n = strnlen(r->source, CG_SIGNLOG_ADDR_MAX - 1);
    if (!put(&g->sources, r->source, n) || !put(&g->sources, "", 1))
        return false;
    g->nsources++;
    return true;
}

int cg__skeys_add(struct cg__skeys *k, int64_t rowid, const struct cg__sk_record *r)
{
    struct group *g;
    if (r->origid && *r->origid) {
        if (!(g = group_of(k, CG__SK_ORIGID, r->time, 0, r->origid, rowid)) || !add_rowid(g, rowid))
            return CG_ENOMEM;
    }
    if (r->orig && *r->orig && r->dest && *r->dest) {
        char key[2 * CG_TN_MAX + 2];
        cg__sk_call_key(r->orig, r->dest, key);
        if (!(g = group_of(k, CG__SK_CALL, r->time, 0, key, rowid)) || !add_rowid(g, rowid))
            return CG_ENOMEM;
    }
    if (!(g = group_of(k, CG__SK_CUSTOMER, r->time, r->time, r->customer ? r->customer : "",
                       rowid)) ||
        !add_customer(g, rowid, r))
        return CG_ENOMEM;
    return CG_OK;
}

void cg__sk_call_key(const char *orig, const char *dest, char out[2 * CG_TN_MAX + 2])
{
    size_t a = strnlen(orig, CG_TN_MAX), b = strnlen(dest, CG_TN_MAX);
    memcpy(out, orig, a);
    out[a] = ' ';
    memcpy(out + a + 1, dest, b);
    out[a + 1 + b] = '\0';
}

/* A customer's second as stored: the second, its counts, then its hashes
 * and sources (cg__sk_customer reads it back). */
static bool customer_blob(struct buf *b, const struct group *g)
{
    b->n = 0;
    return put_varint(b, (uint64_t)g->second) && put_varint(b, g->n) && put_varint(b, g->refused) &&
           put_varint(b, g->by_attest[0]) && put_varint(b, g->by_attest[1]) &&
           put_varint(b, g->by_attest[2]) && put_varint(b, g->orig_h.n / 8) &&
           put_varint(b, g->shown_h.n / 8) && put_varint(b, g->nsources) &&
           put(b, g->orig_h.p, g->orig_h.n) && put(b, g->shown_h.p, g->shown_h.n) &&
           put(b, g->sources.p, g->sources.n);
}

int cg__sk_customer(const unsigned char *p, size_t n, struct cg__sk_customer_row *c)
{
    const unsigned char *end = p + n;
    uint64_t second, norig, nshown, nsrc, i;
    memset(c, 0, sizeof *c);
    if (!cg__sk_varint(&p, end, &second) || !cg__sk_varint(&p, end, &c->n) ||
        !cg__sk_varint(&p, end, &c->refused) || !cg__sk_varint(&p, end, &c->by_attest[0]) ||
        !cg__sk_varint(&p, end, &c->by_attest[1]) || !cg__sk_varint(&p, end, &c->by_attest[2]) ||
        !cg__sk_varint(&p, end, &norig) || !cg__sk_varint(&p, end, &nshown) ||
        !cg__sk_varint(&p, end, &nsrc) || norig > (size_t)(end - p) / 8 ||
        nshown > (size_t)(end - p) / 8 - norig || nsrc > CG_SIGNLOG_ADDRS_MAX)
        return CG_EPARSE;
    c->second = (int64_t)second;
    c->orig = p;
    c->norig = (size_t)norig;
    c->shown = p + 8 * norig;
    c->nshown = (size_t)nshown;
    p += 8 * (norig + nshown);
    for (i = 0; i < nsrc; i++) {
        const unsigned char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z)
            return CG_EPARSE;
        c->sources[i] = (const char *)p;
        p = z + 1;
    }
    c->nsources = (size_t)nsrc;
    return CG_OK;
}

int cg__skeys_flush(struct cg__skeys *k)
{
    size_t i;
    int rc = CG_OK;
    for (i = 0; i < k->ng && rc == CG_OK; i++) {
        const struct group *g = &k->g[i];
        const struct buf *data = &g->rowids;
        if (g->kind == CG__SK_CUSTOMER) {
            if (!customer_blob(&k->blob, g)) {
                rc = CG_ENOMEM;
                break;
            }
            data = &k->blob;
        }
        sqlite3_bind_int(k->ins, 1, g->kind);
        sqlite3_bind_int64(k->ins, 2, g->bucket);
        sqlite3_bind_text(k->ins, 3, g->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(k->ins, 4, g->first);
        sqlite3_bind_int64(k->ins, 5, g->last);
        sqlite3_bind_blob(k->ins, 6, data->p ? (const void *)data->p : "", (int)data->n,
                          SQLITE_STATIC);
        if (sqlite3_step(k->ins) != SQLITE_DONE)
            rc = CG_EIO;
        sqlite3_reset(k->ins);
        if (g->last > k->upto)
            k->upto = g->last;
    }
    if (rc == CG_OK && k->ng) {
        sqlite3_bind_int64(k->set_upto, 1, k->upto);
        if (sqlite3_step(k->set_upto) != SQLITE_DONE)
            rc = CG_EIO;
        sqlite3_reset(k->set_upto);
    }
    cg__skeys_discard(k);
    return rc;
}

/* A set kept for the next batch: a large one is given back, so that the
 * slots do not each keep the largest set they ever held. */
static void hset_trim(struct cg__hset *h)
{
    if (h->cap > 1024) {
        free(h->slot);
        memset(h, 0, sizeof *h);
    }
}

void cg__skeys_discard(struct cg__skeys *k)
{
    size_t i;
    for (i = 0; i < k->ng; i++) {
        free(k->g[i].key);
        k->g[i].key = NULL;
        hset_trim(&k->g[i].orig);
        hset_trim(&k->g[i].shown);
    }
    if (k->ng)
        memset(k->slot, 0, k->scap * sizeof *k->slot);
    k->ng = 0;
}

int64_t cg__skeys_upto(const struct cg__skeys *k)
{
    return k->upto;
}

void cg__skeys_set_upto(struct cg__skeys *k, int64_t upto)
{
    k->upto = upto;
}

static const char *column(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int cg__skeys_catch_up(struct cg__skeys *k, size_t *indexed)
{
    enum { CHUNK = 16384 }; /* records a transaction: the batch's rows stay a few MB */
    int rc = CG_OK;
    *indexed = 0;
    for (;;) {
        size_t n = 0;
        int64_t upto0 = k->upto;
        int step;
        if (sqlite3_exec(k->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
            return CG_EIO;
        sqlite3_bind_int64(k->unindexed, 1, k->upto);
        sqlite3_bind_int(k->unindexed, 2, CHUNK);
        while (rc == CG_OK && (step = sqlite3_step(k->unindexed)) == SQLITE_ROW) {
            const char *attest = column(k->unindexed, 7), *action = column(k->unindexed, 9);
            char origid[CG_ORIGID_MAX + 1];
            struct cg__sk_record r = {
                .time = sqlite3_column_int64(k->unindexed, 1),
                .customer = column(k->unindexed, 2),
                .source = column(k->unindexed, 3),
                .orig = column(k->unindexed, 4),
                .presented = column(k->unindexed, 5),
                .dest = column(k->unindexed, 6),
                .attest = attest ? attest[0] : 0,
                .refused = action && strcmp(action, "block") == 0,
            };
            cg__sk_lower_origid(column(k->unindexed, 8), origid);
            r.origid = origid;
            rc = cg__skeys_add(k, sqlite3_column_int64(k->unindexed, 0), &r);
            n++;
        }
        sqlite3_reset(k->unindexed);
        if (rc == CG_OK && step != SQLITE_DONE)
            rc = CG_EIO;
        if (rc == CG_OK)
            rc = cg__skeys_flush(k);
        else
            cg__skeys_discard(k);
        if (sqlite3_exec(k->db, rc == CG_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) !=
                SQLITE_OK &&
            rc == CG_OK)
            rc = CG_EIO;
        if (rc != CG_OK) {
            k->upto = upto0;
            return rc;
        }
        *indexed += n;
        if (n < CHUNK)
            return CG_OK;
    }
}

int cg__skeys_prune(struct cg__skeys *k, int64_t bound, int64_t before)
{
    int kind;
    for (kind = CG__SK_ORIGID; kind < CG__SK__COUNT; kind++) {
        for (;;) {
            int rc;
            sqlite3_bind_int(k->del, 1, kind);
            sqlite3_bind_int64(k->del, 2,
                               before == INT64_MAX ? INT64_MAX : cg__sk_bucket(kind, before));
            sqlite3_bind_int64(k->del, 3, bound);
            rc = sqlite3_step(k->del);
            sqlite3_reset(k->del);
            if (rc != SQLITE_DONE)
                return CG_EIO;
            if (!sqlite3_changes(k->db))
                break;
        }
    }
    return CG_OK;
}

/* --- reading ------------------------------------------------------------------------------- */

/* An SQLite failure as the library's error: a query past its budget was
 * interrupted by its progress handler. */
int cg__sk_error(int step)
{
    return step == SQLITE_INTERRUPT ? CG_ETOOBIG : step == SQLITE_NOMEM ? CG_ENOMEM : CG_EIO;
}

int cg__sk_each(sqlite3_stmt *at, sqlite3_stmt *next, int kind, const char *key, int64_t from,
                int64_t to, cg__sk_row_fn *fn, void *arg)
{
    int64_t b = cg__sk_bucket(kind, from), hi = cg__sk_bucket(kind, to);
    int rc = 0, step;
    while (rc == 0 && b <= hi) {
        /* the next bucket that holds anything of this kind, then the key's
         * rows in it: two searches a bucket the log holds, none for a gap,
         * however far apart its records lie */
        sqlite3_bind_int(next, 1, kind);
        sqlite3_bind_int64(next, 2, b);
        sqlite3_bind_int64(next, 3, hi);
        step = sqlite3_step(next);
        if (step == SQLITE_ROW)
            b = sqlite3_column_int64(next, 0);
        sqlite3_reset(next);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW)
            return cg__sk_error(step);
        sqlite3_bind_int(at, 1, kind);
        sqlite3_bind_int64(at, 2, b);
        sqlite3_bind_text(at, 3, key, -1, SQLITE_STATIC);
        while (rc == 0 && (step = sqlite3_step(at)) == SQLITE_ROW)
            rc = fn(arg, sqlite3_column_int64(at, 0), sqlite3_column_blob(at, 1),
                    (size_t)sqlite3_column_bytes(at, 1));
        sqlite3_reset(at);
        if (rc == 0 && step != SQLITE_DONE)
            return cg__sk_error(step);
        if (b == hi)
            break;
        b++;
    }
    return rc > 0 ? CG_OK : rc;
}

bool cg__sk_lower_origid(const char *in, char out[CG_ORIGID_MAX + 1])
{
    size_t i;
    for (i = 0; in && in[i]; i++) {
        if (i >= CG_ORIGID_MAX) {
            out[0] = '\0';
            return false;
        }
        out[i] = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] + 32) : in[i];
    }
    out[i] = '\0';
    return true;
}
