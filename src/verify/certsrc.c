#define _GNU_SOURCE /* strptime */
/* Certificate sources: a fixed x5u -> chain map (the CLI's --cert and
 * tests), and the library's certificate cache (cg_certcache), which the
 * daemon's asynchronous fetcher fills and its workers read through
 * cg_certcache_source().  Lifetimes: docs/standards.md#certificate-cache. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidguard/error.h"
#include "cidguard/verify.h"
#include "core/internal.h"

#define CERTMAP_MAX 256

struct cg_certmap {
    size_t n;
    char *url[CERTMAP_MAX];
    struct cg_chain *chain[CERTMAP_MAX];
};

int cg_certmap_new(struct cg_certmap **out)
{
    return (*out = calloc(1, sizeof **out)) ? CG_OK : CG_ENOMEM;
}

void cg_certmap_free(struct cg_certmap *m)
{
    size_t i;
    if (!m)
        return;
    for (i = 0; i < m->n; i++) {
        free(m->url[i]);
        cg_chain_unref(m->chain[i]);
    }
    free(m);
}

int cg_certmap_add(struct cg_certmap *m, const char *url, struct cg_chain *chain)
{
    char *u = NULL;
    if (m->n >= CERTMAP_MAX)
        return CG_ETOOBIG;
    if (url && !(u = strdup(url)))
        return CG_ENOMEM;
    m->url[m->n] = u;
    m->chain[m->n++] = cg_chain_ref(chain);
    return CG_OK;
}

static int certmap_get_cb(void *arg, void *call_arg, const char *x5u, struct cg_chain **out)
{
    (void)call_arg;
    struct cg_certmap *m = arg;
    struct cg_chain *any = NULL;
    size_t i;
    for (i = 0; i < m->n; i++) {
        if (m->url[i] && strcmp(m->url[i], x5u) == 0) {
            *out = cg_chain_ref(m->chain[i]);
            return CG_OK;
        }
        if (!m->url[i] && !any)
            any = m->chain[i];
    }
    if (!any)
        return CG_ENOTFOUND;
    *out = cg_chain_ref(any);
    return CG_OK;
}

struct cg_certsrc cg_certmap_source(struct cg_certmap *m)
{
    struct cg_certsrc s = {certmap_get_cb, m};
    return s;
}

/* --- cache ---------------------------------------------------------------- */

/*
 * Every entry is in one hash table, for lookups, and in one of three clock
 * rings, for eviction:
 *   NEG  negative entries, and chains no call can pass with (an expired
 *        leaf, a key or profile the verifier refuses, a chain a call found
 *        invalid or revoked);
 *   NEW  certificates no call has verified with yet;
 *   VER  certificates a call verified with (cg_certcache_note).
 * Each ring has its own bound, and room is only ever made at the expense of
 * an entry worth no more than the newcomer: a negative entry never displaces
 * a certificate, so x5u URLs that answer nothing, which any unsigned INVITE
 * can name, cannot flush the cache; an unproven certificate never displaces
 * a verified one, which costs a valid signature to become.  Within a ring a
 * clock approximates least recently used: a hit sets the entry's `used` bit
 * and the hand spares, once, an entry whose bit it finds set.
 *
 * The bounds, for `max` entries in all: negatives at most max/8, and
 * certificates never in their last max/16 (a reserve, so that failures can
 * still be remembered when certificates fill the cache); verified
 * certificates leave an eighth of the certificates' room to new ones, so
 * that a newly fetched certificate has a place to prove itself in.
 */
enum { RING_NEG, RING_NEW, RING_VER, RING__N };

struct centry {
    struct centry *next;          /* hash chain */
    struct centry *rprev, *rnext; /* clock ring */
    const struct cg_certcache *cache;
    char *url;
    size_t hash;
    struct cg_chain *chain; /* NULL: negative; never changes */
    int64_t expires;
    atomic_int refs;            /* the table's, and each thread front's */
    _Atomic unsigned char ring; /* written under the write lock */
    atomic_bool dead;           /* out of the table: fronts must look again */
    atomic_bool used;           /* hit since the hand last passed */
};

struct ring {
    struct centry *hand; /* the next the clock considers; newcomers go just behind it */
    size_t n;
};

struct cg_certcache {
    pthread_rwlock_t lock; /* misses, stores and moves; hits use the thread's front */
    struct centry **tab;
    size_t nbuckets, max, negcap, poscap, vercap;
    struct ring ring[RING__N];
    uint64_t evicted;
};

/*
 * Each thread's front of the cache: the entries of its recent answers, each
 * held by a reference.  A hit takes no lock and writes nothing shared but
 * the chain's reference count (and the entry's `used` bit when the clock
 * has cleared it): on the call path every worker asks for the same few x5u
 * URLs, and a shared read lock made all of them write one cache line.  An
 * entry replaced or evicted is marked dead, so the front looks again; the
 * other entries' fronts stay valid however many stores happen.
 */
#define FRONT_SLOTS 8

static __thread struct centry *front[FRONT_SLOTS];

static void centry_unref(struct centry *e)
{
    if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(e->url);
    cg_chain_unref(e->chain);
    free(e);
}

void cg_certcache_thread_done(void)
{
    size_t i;
    for (i = 0; i < FRONT_SLOTS; i++) {
        centry_unref(front[i]);
        front[i] = NULL;
    }
}

static size_t hash_url(const char *s)
{
    return (size_t)cg__fnv1a(s, strlen(s));
}

int cg_certcache_new(struct cg_certcache **out, size_t max_entries)
{
    struct cg_certcache *c = calloc(1, sizeof *c);
    if (!c)
        return CG_ENOMEM;
    c->max = max_entries ? max_entries : 10000;
    c->negcap = c->max / 8 ? c->max / 8 : 1;
    c->poscap = c->max - c->max / 16;
    c->vercap = c->poscap > 1 ? c->poscap - (c->poscap / 8 ? c->poscap / 8 : 1) : 0;
    c->nbuckets = 1024;
    while (c->nbuckets < c->max)
        c->nbuckets *= 2;
    if (!(c->tab = calloc(c->nbuckets, sizeof *c->tab))) {
        free(c);
        return CG_ENOMEM;
    }
    pthread_rwlock_init(&c->lock, NULL);
    *out = c;
    return CG_OK;
}

void cg_certcache_free(struct cg_certcache *c)
{
    size_t i;
    if (!c)
        return;
    for (i = 0; i < c->nbuckets; i++)
        while (c->tab[i]) {
            struct centry *e = c->tab[i];
            c->tab[i] = e->next;
            /* a front may still hold it; dead, it never answers for a
             * cache allocated later at the same address */
            atomic_store_explicit(&e->dead, true, memory_order_release);
            centry_unref(e);
        }
    free(c->tab);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

static int ring_of(const struct centry *e)
{
    return atomic_load_explicit(&e->ring, memory_order_relaxed);
}

static size_t total(const struct cg_certcache *c)
{
    return c->ring[RING_NEG].n + c->ring[RING_NEW].n + c->ring[RING_VER].n;
}

/* Puts `e` just behind the hand of ring `r`: the last the clock reaches.  Locked. */
static void ring_insert(struct cg_certcache *c, struct centry *e, int r)
{
    struct ring *g = &c->ring[r];
    if (!g->hand) {
        e->rprev = e->rnext = e;
        g->hand = e;
    } else {
        e->rnext = g->hand;
        e->rprev = g->hand->rprev;
        e->rprev->rnext = e;
        g->hand->rprev = e;
    }
    g->n++;
    atomic_store_explicit(&e->ring, (unsigned char)r, memory_order_relaxed);
}

static void ring_remove(struct cg_certcache *c, struct centry *e)
{
    struct ring *g = &c->ring[ring_of(e)];
    if (e->rnext == e) {
        g->hand = NULL;
    } else {
        e->rprev->rnext = e->rnext;
        e->rnext->rprev = e->rprev;
        if (g->hand == e)
            g->hand = e->rnext;
    }
    e->rprev = e->rnext = NULL;
    g->n--;
}

/* The entry of ring `r` the clock gives up: the first from the hand that is
 * expired or was not hit since the hand last passed, sparing (and clearing)
 * the others.  Two turns at most: after the first every bit has been
 * cleared once, so the second stops at the first entry not hit since,
 * unless readers hit every entry all the while.  NULL when the ring is
 * empty.  Locked. */
static struct centry *clock_victim(struct cg_certcache *c, int r, int64_t now)
{
    struct ring *g = &c->ring[r];
    struct centry *e = g->hand;
    size_t spared = 0;
    while (e && e->expires > now && spared < 2 * g->n &&
           atomic_load_explicit(&e->used, memory_order_relaxed)) {
        atomic_store_explicit(&e->used, false, memory_order_relaxed);
        e = g->hand = e->rnext;
        spared++;
    }
    return e;
}

static struct centry *lookup(const struct cg_certcache *c, const char *url, size_t h)
{
    struct centry *e;
    for (e = c->tab[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->url, url) == 0)
            return e;
    return NULL;
}

/* Takes `e` out of the cache; fronts holding it see it dead.  Locked. */
static void cache_remove(struct cg_certcache *c, struct centry *e)
{
    struct centry **pp = &c->tab[e->hash & (c->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    ring_remove(c, e);
    atomic_store_explicit(&e->dead, true, memory_order_release);
    centry_unref(e);
}

static bool evict(struct cg_certcache *c, int r, int64_t now)
{
    struct centry *v = clock_victim(c, r, now);
    if (!v)
        return false;
    cache_remove(c, v);
    c->evicted++;
    return true;
}

/* Room for one more certificate: negatives beyond their reserve go first,
 * then unproven certificates, verified ones only when nothing else is left
 * (which the bound on verified certificates makes impossible).  Locked. */
static void room_for_certificate(struct cg_certcache *c, int64_t now)
{
    for (;;) {
        size_t neg = c->ring[RING_NEG].n, pos = c->ring[RING_NEW].n + c->ring[RING_VER].n;
        int r = RING_VER;
        if (pos < c->poscap && neg + pos < c->max)
            return;
        if (pos < c->poscap && neg)
            r = RING_NEG;
        else if (c->ring[RING_NEW].n)
            r = RING_NEW;
        if (!evict(c, r, now))
            return;
    }
}

/* Room for one more negative entry, made among negatives only; false when
 * there are none to give way (a cache of fewer than 16 entries full of
 * certificates).  Locked. */
static bool room_for_negative(struct cg_certcache *c, int64_t now)
{
    while (c->ring[RING_NEG].n >= c->negcap || total(c) >= c->max)
        if (!evict(c, RING_NEG, now))
            return false;
    return true;
}

/* A call verified with `e`'s certificate: into VER, where only other
 * verified certificates compete with it; when VER is full, the one its
 * clock gives up goes back to NEW, to prove itself again.  Locked. */
static void promote(struct cg_certcache *c, struct centry *e, int64_t now)
{
    int from = ring_of(e);
    if (from == RING_VER || !e->chain || !c->vercap)
        return;
    ring_remove(c, e);
    if (from == RING_NEG)
        room_for_certificate(c, now);
    if (c->ring[RING_VER].n >= c->vercap) {
        /* never NULL with the ring full; said, so that -O3 does not warn
         * of a NULL entry's ring (and -Werror stop a release build) */
        struct centry *d = clock_victim(c, RING_VER, now);
        if (d) {
            ring_remove(c, d);
            atomic_store_explicit(&d->used, false, memory_order_relaxed);
            ring_insert(c, d, RING_NEW);
        }
    }
    ring_insert(c, e, RING_VER);
}

/* A call found `e`'s chain invalid, revoked or unfit: it is worth no more
 * than a negative entry.  Locked. */
static void demote(struct cg_certcache *c, struct centry *e, int64_t now)
{
    int from = ring_of(e);
    if (from == RING_NEG)
        return;
    ring_remove(c, e);
    /* e's own place is free, so a negative can always be made room for */
    ring_insert(c, e, room_for_negative(c, now) ? RING_NEG : from);
}

/* Whether no call can pass with `chain`: none, an expired leaf, or a leaf
 * the verifier refuses before any signature (key, TNAuthList, KeyUsage). */
static bool unusable(const struct cg_chain *chain, int64_t now)
{
    const struct cg_cert_info *in;
    if (!chain)
        return true;
    in = cg_chain_info(chain);
    return (in->not_after > 0 && in->not_after <= now) || !in->key_ok || !in->has_tnauth ||
           !in->ku_digital_signature;
}

static int put(struct cg_certcache *c, const char *url, struct cg_chain *chain, int64_t expires,
               int64_t now, bool keep_live)
{
    size_t h = hash_url(url);
    int r = unusable(chain, now) ? RING_NEG : RING_NEW;
    struct centry *e, *n;
    if (!(n = calloc(1, sizeof *n)) || !(n->url = strdup(url))) {
        free(n);
        return CG_ENOMEM;
    }
    n->cache = c;
    n->hash = h;
    n->chain = chain ? cg_chain_ref(chain) : NULL;
    n->expires = expires;
    atomic_init(&n->refs, 1);
    atomic_init(&n->ring, (unsigned char)r);
    atomic_init(&n->dead, false);
    atomic_init(&n->used, false);
    pthread_rwlock_wrlock(&c->lock);
    if ((e = lookup(c, url, h))) {
        if (keep_live && e->expires > now) {
            pthread_rwlock_unlock(&c->lock);
            centry_unref(n);
            return CG_OK;
        }
        /* replaced, not updated in place: fronts holding the old entry
         * see it dead and look again */
        cache_remove(c, e);
    }
    if (r == RING_NEG) {
        if (!room_for_negative(c, now)) {
            pthread_rwlock_unlock(&c->lock);
            centry_unref(n);
            return CG_OK;
        }
    } else {
        room_for_certificate(c, now);
    }
    n->next = c->tab[h & (c->nbuckets - 1)];
    c->tab[h & (c->nbuckets - 1)] = n;
    ring_insert(c, n, r);
    pthread_rwlock_unlock(&c->lock);
    return CG_OK;
}

int cg_certcache_put(struct cg_certcache *c, const char *url, struct cg_chain *chain,
                     int64_t expires)
{
    return put(c, url, chain, expires, (int64_t)time(NULL), false);
}

int cg_certcache_put_local_error(struct cg_certcache *c, const char *url, int64_t now)
{
    return put(c, url, NULL, now + CG_CERTCACHE_LOCAL_ERROR_TTL, now, true);
}

/* A hit: marks it used for the clock (a load, and a store only when the
 * hand has cleared the bit, so that hits do not all write one line). */
static int answer(struct centry *e, struct cg_chain **out)
{
    if (!atomic_load_explicit(&e->used, memory_order_relaxed))
        atomic_store_explicit(&e->used, true, memory_order_relaxed);
    if (!e->chain)
        return CG_EIO;
    *out = cg_chain_ref(e->chain);
    return CG_OK;
}

/* This thread's front entry for `url`, if it holds a live one. */
static struct centry *front_find(const struct cg_certcache *c, const char *url, size_t h)
{
    struct centry *e = front[(h >> 16) % FRONT_SLOTS];
    if (e && e->hash == h && e->cache == c &&
        !atomic_load_explicit(&e->dead, memory_order_acquire) && strcmp(e->url, url) == 0)
        return e;
    return NULL;
}

int cg_certcache_get(struct cg_certcache *c, const char *url, int64_t now, struct cg_chain **out)
{
    size_t h = hash_url(url);
    struct centry **f = &front[(h >> 16) % FRONT_SLOTS], *e, *old = NULL;
    int rc = CG_ENOTFOUND;

    if ((e = front_find(c, url, h)))
        return e->expires > now ? answer(e, out) : CG_ENOTFOUND;
    pthread_rwlock_rdlock(&c->lock);
    if ((e = lookup(c, url, h)) && e->expires > now) {
        rc = answer(e, out);
        /* remember it in this thread's front */
        old = *f;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        *f = e;
    }
    pthread_rwlock_unlock(&c->lock);
    centry_unref(old);
    return rc;
}

/* Whether noting `want` for `e` would move it (a negative entry or a cache
 * too small for verified certificates has nowhere to go). */
/*
 * Whether a note moves `e` to ring `want`.  A certificate calls verified
 * with is not demoted by one call's cert_invalid: that verdict is judged at
 * the token's iat, which the sender chooses inside the freshness window, so
 * one forged INVITE dated past a certificate's notAfter (or before its
 * notBefore) would otherwise demote it, and a flood of failing URLs then
 * evict it.  Revocation and the profile are the certificate's own.
 */
static bool moves(const struct cg_certcache *c, const struct centry *e, int want, int reason)
{
    if (ring_of(e) == want)
        return false;
    if (want == RING_NEG)
        return !(ring_of(e) == RING_VER && reason == CG_R_CERT_INVALID);
    return e->chain && c->vercap;
}

void cg_certcache_note(struct cg_certcache *c, const struct cg_verdict *v)
{
    int want;
    size_t h;
    struct centry *e;
    bool move;

    if (v->reason == CG_R_OK)
        want = RING_VER;
    else if (v->reason == CG_R_CERT_INVALID || v->reason == CG_R_CERT_REVOKED ||
             v->reason == CG_R_CERT_PROFILE)
        want = RING_NEG;
    else
        return;
    if (!v->x5u[0])
        return;
    h = hash_url(v->x5u);
    /* Usually the verifier's own lookup has just left the entry in this
     * thread's front, and it has been moved already: no lock at all. */
    if ((e = front_find(c, v->x5u, h))) {
        if (!moves(c, e, want, v->reason))
            return;
    } else {
        pthread_rwlock_rdlock(&c->lock);
        move = (e = lookup(c, v->x5u, h)) && moves(c, e, want, v->reason);
        pthread_rwlock_unlock(&c->lock);
        if (!move)
            return;
    }
    pthread_rwlock_wrlock(&c->lock);
    if ((e = lookup(c, v->x5u, h)) && moves(c, e, want, v->reason)) {
        if (want == RING_VER)
            promote(c, e, (int64_t)time(NULL));
        else
            demote(c, e, (int64_t)time(NULL));
    }
    pthread_rwlock_unlock(&c->lock);
}

size_t cg_certcache_size(struct cg_certcache *c)
{
    size_t n;
    pthread_rwlock_rdlock(&c->lock);
    n = total(c);
    pthread_rwlock_unlock(&c->lock);
    return n;
}

void cg_certcache_stats(struct cg_certcache *c, struct cg_certcache_stats *out)
{
    pthread_rwlock_rdlock(&c->lock);
    out->negative = c->ring[RING_NEG].n;
    out->unproven = c->ring[RING_NEW].n;
    out->verified = c->ring[RING_VER].n;
    out->evicted = c->evicted;
    pthread_rwlock_unlock(&c->lock);
}

static int certcache_get_cb(void *arg, void *call_arg, const char *x5u, struct cg_chain **out)
{
    int rc = cg_certcache_get(arg, x5u, (int64_t)time(NULL), out);
    struct cg_certcache_miss *m = call_arg;
    if (rc == CG_ENOTFOUND && m) {
        m->missed = true;
        snprintf(m->url, sizeof m->url, "%s", x5u);
    }
    return rc;
}

struct cg_certsrc cg_certcache_source(struct cg_certcache *c)
{
    struct cg_certsrc s = {certcache_get_cb, c};
    return s;
}

int64_t cg_cert_expiry(int64_t now, const char *cache_control, const char *expires,
                       int64_t not_after)
{
    int64_t exp = now + 86400;
    const char *p;
    if (cache_control && (p = strstr(cache_control, "max-age="))) {
        long long v = strtoll(p + 8, NULL, 10);
        if (v > 86400 && v < 400LL * 86400)
            exp = now + v;
    }
    if (expires) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        if (strptime(expires, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
            int64_t t = (int64_t)timegm(&tm);
            if (t > exp && t < now + 400LL * 86400)
                exp = t;
        }
    }
    if (not_after > 0 && exp > not_after)
        exp = not_after;
    return exp;
}
