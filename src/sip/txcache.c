/*
 * SIP server transactions: the cache that answers retransmissions.
 *
 * A transaction is keyed on its listener, method (INVITE for the CANCEL and
 * ACK that belong to an INVITE), top Via branch, Call-ID and CSeq number.
 * The key's components are stored whole, inline in the entry, and compared
 * with their lengths: a key built into a fixed buffer would be cut short,
 * and two requests that agree up to the cut would share one answer.
 *
 * The table has four buckets per entry it may hold, and an entry keeps its
 * key's full hash: a lookup for a new transaction (most of them) usually
 * finds an empty bucket, and a chain is walked without reading keys.  With
 * one bucket per entry and keys in separate allocations, the walk was 2.5%
 * of the daemon's cycles under load (perf).  Entries also sit in a queue
 * in arrival order, from whose head answered entries leave when their time
 * is up or the cache is full; an entry not yet answered is moved to the
 * back instead, since its caller still holds a pointer to it.
 */
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "cidguard/error.h"
#include "cidguard/sip.h"
#include "cidguard/siptx.h"

#define HUGE_PAGE (2u << 20)
#define ALLOW "Allow: INVITE, ACK, CANCEL, OPTIONS"

struct cg_sip_tx {
    struct cg_sip_tx *hnext, *qnext; /* hash chain; queue (arrival order) */
    char *resp;                      /* the stored answer; NULL until answered */
    size_t resplen;
    void *pending; /* the call being answered */
    int64_t expires;
    uint32_t hash;
    uint32_t listener;
    uint32_t len[4]; /* of method, branch, Call-ID, CSeq number in key[] */
    bool dead;       /* out of the table, freed when it reaches the queue's head */
    char key[];
};

struct cg_sip_txcache {
    struct cg_sip_tx **tab;
    size_t mask;       /* buckets - 1 */
    size_t n, nq;      /* entries in the table; in the queue (also the dead) */
    size_t unanswered; /* entries in the table without an answer */
    size_t max;
    int ttl;
    uint64_t seed;
    struct cg_sip_tx *qhead, *qtail;
    char *scratch; /* the last answer that is not stored (400, CANCEL's 200) */
};

/* A request's key, pointing into the parsed request. */
struct key {
    uint32_t listener;
    uint32_t hash;
    const char *part[4];
    uint32_t len[4];
};

/*
 * The hash reads eight bytes at a time: FNV-1a's multiply per byte was
 * the larger part of the lookup for keys of a hundred bytes.  The seed is
 * random per cache, so that chains cannot be lengthened at will by
 * choosing identifiers offline.
 */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint64_t hash_part(uint64_t h, const char *p, size_t n)
{
    h = mix(h, n);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h, w);
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = mix(h, w);
    }
    return h;
}

static uint32_t hash_key(uint64_t seed, const struct key *k)
{
    uint64_t h = mix(seed, k->listener);
    int i;
    for (i = 0; i < 4; i++)
        h = hash_part(h, k->part[i], k->len[i]);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

int cg_sip_txcache_new(struct cg_sip_txcache **out, size_t max_entries, int ttl_seconds)
{
    struct cg_sip_txcache *c;
    size_t nb = 4, bytes;

    if (!out || max_entries == 0 || max_entries > CG_SIP_TX_MAX_ENTRIES || ttl_seconds < 1)
        return CG_EINVAL;
    while (nb < 4 * max_entries)
        nb <<= 1;
    bytes = nb * sizeof *c->tab;
    if (!(c = calloc(1, sizeof *c)))
        return CG_ENOMEM;
    /* The table (2 MB for 65,536 entries, looked up at random) on a huge
     * page where the kernel allows: one TLB entry instead of 512. */
    if (bytes >= HUGE_PAGE) {
        if (posix_memalign((void **)&c->tab, HUGE_PAGE, bytes) != 0)
            c->tab = NULL;
#ifdef MADV_HUGEPAGE
        if (c->tab)
            madvise(c->tab, bytes, MADV_HUGEPAGE);
#endif
        if (c->tab)
            memset(c->tab, 0, bytes);
    } else {
        c->tab = calloc(nb, sizeof *c->tab);
    }
    if (!c->tab) {
        free(c);
        return CG_ENOMEM;
    }
    if (getrandom(&c->seed, sizeof c->seed, GRND_NONBLOCK) != (ssize_t)sizeof c->seed)
        c->seed = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    c->mask = nb - 1;
    c->max = max_entries;
    c->ttl = ttl_seconds;
    *out = c;
    return CG_OK;
}

void cg_sip_txcache_free(struct cg_sip_txcache *c)
{
    struct cg_sip_tx *t, *next;
    if (!c)
        return;
    for (t = c->qhead; t; t = next) {
        next = t->qnext;
        free(t->resp);
        free(t);
    }
    free(c->tab);
    free(c->scratch);
    free(c);
}

size_t cg_sip_txcache_size(const struct cg_sip_txcache *c)
{
    return c->n;
}

static bool same(const struct cg_sip_tx *t, const struct key *k)
{
    size_t total;
    if (t->hash != k->hash || t->listener != k->listener || t->len[0] != k->len[0] ||
        t->len[1] != k->len[1] || t->len[2] != k->len[2] || t->len[3] != k->len[3])
        return false;
    /* Equal lengths put the components at equal offsets. */
    total = 0;
    for (int i = 0; i < 4; i++) {
        if (memcmp(t->key + total, k->part[i], k->len[i]) != 0)
            return false;
        total += k->len[i];
    }
    return true;
}

static struct cg_sip_tx *find(const struct cg_sip_txcache *c, const struct key *k)
{
    struct cg_sip_tx *t;
    for (t = c->tab[k->hash & c->mask]; t; t = t->hnext)
        if (same(t, k))
            return t;
    return NULL;
}

static void unlink_hash(struct cg_sip_txcache *c, struct cg_sip_tx *t)
{
    struct cg_sip_tx **pp;
    for (pp = &c->tab[t->hash & c->mask]; *pp; pp = &(*pp)->hnext)
        if (*pp == t) {
            *pp = t->hnext;
            break;
        }
    c->n--;
}

/*
 * Drops answered entries from the head of the queue while they are
 * expired or the cache holds more than its maximum.  An unanswered entry
 * at the head goes to the back (its call holds a pointer to it), where it
 * is not met again before the entries now behind it; when only unanswered
 * entries are left, nothing moves, and the cache exceeds its maximum
 * until they are answered.  Each entry is looked at once at most.
 */
static void purge(struct cg_sip_txcache *c, int64_t now)
{
    size_t budget = c->nq;
    while (c->qhead && budget-- > 0) {
        struct cg_sip_tx *t = c->qhead;
        if (!t->dead) {
            if (!t->resp) {
                if (c->unanswered == c->n || !t->qnext)
                    break;
                c->qhead = t->qnext;
                t->qnext = NULL;
                c->qtail->qnext = t;
                c->qtail = t;
                continue;
            }
            if (c->n <= c->max && t->expires > now)
                break;
            unlink_hash(c, t);
        }
        c->qhead = t->qnext;
        if (!c->qhead)
            c->qtail = NULL;
        c->nq--;
        free(t->resp);
        free(t);
    }
}

void cg_sip_txcache_expire(struct cg_sip_txcache *c, int64_t now)
{
    purge(c, now);
}

static struct cg_sip_tx *add(struct cg_sip_txcache *c, const struct key *k, int64_t now)
{
    size_t kl = (size_t)k->len[0] + k->len[1] + k->len[2] + k->len[3], off = 0;
    struct cg_sip_tx *t = malloc(sizeof *t + kl);
    struct cg_sip_tx **b;
    int i;
    if (!t)
        return NULL;
    for (i = 0; i < 4; i++) {
        memcpy(t->key + off, k->part[i], k->len[i]);
        off += k->len[i];
        t->len[i] = k->len[i];
    }
    t->resp = NULL;
    t->resplen = 0;
    t->pending = NULL;
    t->expires = now + c->ttl;
    t->hash = k->hash;
    t->listener = k->listener;
    t->dead = false;
    b = &c->tab[k->hash & c->mask];
    t->hnext = *b;
    *b = t;
    t->qnext = NULL;
    if (c->qtail)
        c->qtail->qnext = t;
    else
        c->qhead = t;
    c->qtail = t;
    c->n++;
    c->nq++;
    c->unanswered++;
    if (c->n > c->max) {
        purge(c, now);
        /* the next eviction's entry: see cg_sip_txcache_receive */
        if (c->qhead)
            __builtin_prefetch(c->qhead);
    }
    return t;
}

void cg_sip_tx_drop(struct cg_sip_txcache *c, struct cg_sip_tx *tx)
{
    if (!tx || tx->dead)
        return;
    unlink_hash(c, tx);
    if (!tx->resp)
        c->unanswered--;
    tx->dead = true;
    tx->pending = NULL;
    free(tx->resp);
    tx->resp = NULL;
}

void cg_sip_tx_set_pending(struct cg_sip_tx *tx, void *call)
{
    tx->pending = call;
}

int cg_sip_tx_answer_take(struct cg_sip_txcache *c, struct cg_sip_tx *tx, char *resp, size_t len,
                          int64_t now)
{
    if (!tx || tx->dead || !resp) {
        free(resp);
        return CG_EINVAL;
    }
    if (tx->resp)
        free(tx->resp);
    else
        c->unanswered--;
    tx->resp = resp;
    tx->resplen = len;
    tx->pending = NULL;
    tx->expires = now + c->ttl;
    return CG_OK;
}

int cg_sip_tx_answer(struct cg_sip_txcache *c, struct cg_sip_tx *tx, const char *resp, size_t len,
                     int64_t now)
{
    char *copy;
    if (!tx || tx->dead || (!resp && len))
        return CG_EINVAL;
    if (!(copy = malloc(len + 1))) {
        cg_sip_tx_drop(c, tx);
        return CG_ENOMEM;
    }
    if (len)
        memcpy(copy, resp, len);
    copy[len] = '\0';
    return cg_sip_tx_answer_take(c, tx, copy, len, now);
}

/* The CSeq number without leading zeros; false when it is not below 2^31
 * (RFC 3261 section 8.1.1.5). */
static bool cseq_number(const char *cseq, const char **num, uint32_t *len)
{
    uint64_t v = 0;
    size_t d;
    while (*cseq == '0')
        cseq++;
    d = strspn(cseq, "0123456789");
    if (d > 10)
        return false;
    for (size_t i = 0; i < d; i++)
        v = v * 10 + (uint64_t)(cseq[i] - '0');
    if (v >= (1u << 31))
        return false;
    *num = cseq;
    *len = (uint32_t)d;
    return true;
}

/* A malformed request: 400 with the parser's reason when it can be
 * answered, else nothing. */
static int bad(struct cg_sip_txcache *c, struct cg_sip_received *r, const char *why)
{
    int rc = CG_OK;
    if (cg_sip_req_answerable(&r->req)) {
        char warn[160];
        const char *extra[] = {warn};
        snprintf(warn, sizeof warn, "Warning: 399 cidguard \"%s\"", why ? why : "bad request");
        rc = cg_sip_response(&r->req, 400, "Bad Request", extra, 1, &c->scratch, &r->outlen);
        if (rc == CG_OK) {
            r->what = CG_SIP_SEND;
            r->out = c->scratch;
        } else {
            c->scratch = NULL;
        }
        r->kind = CG_SIP_K_BAD_ANSWERED;
    } else {
        r->kind = CG_SIP_K_BAD_DROPPED;
    }
    cg_sip_req_clear(&r->req);
    return rc;
}

/* A request answered at once (OPTIONS, 405): its answer is stored in a new
 * entry for its retransmissions. */
static int answer_now(struct cg_sip_txcache *c, struct cg_sip_received *r, const struct key *k,
                      int64_t now, int code, const char *phrase, const char *const *extra,
                      size_t nextra)
{
    struct cg_sip_tx *t;
    char *out;
    size_t n;
    int rc = cg_sip_response(&r->req, code, phrase, extra, nextra, &out, &n);
    /* NOTE: the key points into the request: it is cleared after add(). */
    t = rc == CG_OK ? add(c, k, now) : NULL;
    cg_sip_req_clear(&r->req);
    if (rc != CG_OK)
        return rc;
    if (!t) {
        free(out);
        return CG_ENOMEM;
    }
    t->resp = out;
    t->resplen = n;
    c->unanswered--;
    r->what = CG_SIP_SEND;
    r->out = out;
    r->outlen = n;
    return CG_OK;
}

int cg_sip_txcache_receive(struct cg_sip_txcache *c, unsigned listener, const char *msg, size_t len,
                           int64_t now, struct cg_sip_received *r)
{
    struct cg_sip_tx *t;
    struct key k;
    const char *why;
    size_t i;
    bool invite, cancel, ack;
    int rc;

    /* r->req is zeroed by the parser, or below when it is not called */
    r->what = CG_SIP_IGNORE;
    r->kind = CG_SIP_K_BAD_DROPPED;
    r->out = NULL;
    r->outlen = 0;
    r->tx = NULL;
    r->cancelled = NULL;
    free(c->scratch);
    c->scratch = NULL;
    /*
     * A full cache evicts its oldest entry when this request adds one: an
     * entry, its bucket and its answer (whose memory the allocator hands
     * to the next answer) untouched for max_entries calls.  With 65,536
     * entries held, this cold memory cost a new INVITE about 0.4 us more
     * than with 256 (bench/bench_core.c's loop, on a busy two-core
     * machine).  Asked for now, it can arrive while the request is parsed;
     * the entry itself was asked for at the last eviction.
     */
    if (c->n >= c->max && c->qhead && c->qhead->resp) {
        const struct cg_sip_tx *h = c->qhead;
        size_t off;
        for (off = 0; off < h->resplen && off < 2048; off += 64)
            __builtin_prefetch(h->resp + off, 1);
        __builtin_prefetch(&c->tab[h->hash & c->mask], 1);
    }

    /* A bare CRLF or CRLFCRLF keeps a NAT binding open. */
    if (len <= 4) {
        for (i = 0; i < len && (msg[i] == '\r' || msg[i] == '\n'); i++)
            ;
        if (i == len) {
            memset(&r->req, 0, sizeof r->req);
            r->kind = CG_SIP_K_KEEPALIVE;
            return CG_OK;
        }
    }
    rc = cg_sip_parse_request(msg, len, &r->req, &why);
    if (rc == CG_ENOMEM) {
        cg_sip_req_clear(&r->req);
        return rc;
    }
    if (rc != CG_OK)
        return bad(c, r, why);

    invite = strcmp(r->req.method, "INVITE") == 0;
    cancel = !invite && strcmp(r->req.method, "CANCEL") == 0;
    ack = !invite && !cancel && strcmp(r->req.method, "ACK") == 0;
    if (ack) {
        /* ACK of our final answer: absorbed, never answered. */
        r->kind = CG_SIP_K_ACK;
        cg_sip_req_clear(&r->req);
        return CG_OK;
    }
    k.listener = listener;
    k.part[0] = invite || cancel ? "INVITE" : r->req.method;
    k.len[0] = (uint32_t)strlen(k.part[0]);
    k.part[1] = r->req.branch;
    k.len[1] = (uint32_t)strlen(r->req.branch);
    k.part[2] = r->req.call_id;
    k.len[2] = (uint32_t)strlen(r->req.call_id);
    if (!cseq_number(r->req.cseq, &k.part[3], &k.len[3]))
        return bad(c, r, "bad CSeq header");
    k.hash = hash_key(c->seed, &k);
    t = find(c, &k);

    if (cancel) {
        /* 200 from the CANCEL itself, whether or not it names an INVITE
         * still pending; the INVITE then gets its own answer. */
        r->kind = CG_SIP_K_CANCEL;
        if (t && !t->resp)
            r->cancelled = t->pending;
        rc = cg_sip_response(&r->req, 200, "OK", NULL, 0, &c->scratch, &r->outlen);
        if (rc == CG_OK) {
            r->what = CG_SIP_SEND;
            r->out = c->scratch;
        } else {
            c->scratch = NULL;
            r->outlen = 0;
        }
        cg_sip_req_clear(&r->req);
        return rc;
    }
    if (t) {
        r->kind = CG_SIP_K_RETRANSMISSION;
        if (t->resp) {
            r->what = CG_SIP_SEND;
            r->out = t->resp;
            r->outlen = t->resplen;
        }
        cg_sip_req_clear(&r->req);
        return CG_OK;
    }
    if (strcmp(r->req.method, "OPTIONS") == 0) {
        const char *extra[] = {ALLOW, "Accept: application/sdp"};
        r->kind = CG_SIP_K_OPTIONS;
        return answer_now(c, r, &k, now, 200, "OK", extra, 2);
    }
    if (!invite) {
        const char *extra[] = {ALLOW};
        r->kind = CG_SIP_K_OTHER_METHOD;
        return answer_now(c, r, &k, now, 405, "Method Not Allowed", extra, 1);
    }
    r->kind = CG_SIP_K_INVITE;
    if (!(r->tx = add(c, &k, now))) {
        cg_sip_req_clear(&r->req);
        return CG_ENOMEM;
    }
    r->what = CG_SIP_INVITE;
    return CG_OK;
}
