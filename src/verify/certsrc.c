#define _GNU_SOURCE /* strptime */
/* Certificate sources: a fixed x5u -> chain map (the CLI's --cert and
 * tests), and the library's certificate cache (cg_certcache), which the
 * daemon's asynchronous fetcher fills and its workers read through
 * cg_certcache_source().  Lifetimes: docs/standards.md#certificate-cache. */
#include <pthread.h>
#include <stdatomic.h>
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

struct centry {
    struct centry *next;   /* hash chain */
    char *url;
    struct cg_chain *chain; /* NULL: negative */
    int64_t expires;
    uint64_t seq;          /* insertion order, for eviction */
};

struct cg_certcache {
    pthread_rwlock_t lock; /* misses and stores; hits use the thread's front */
    struct centry **tab;
    size_t nbuckets, n, max;
    uint64_t seq;
    _Atomic uint64_t gen;  /* bumped by every store: fronts older than it are void */
};

/*
 * Each thread's front of the cache: a few recent answers with their own
 * references, valid while the cache's generation is the one they were read
 * at.  A hit takes no lock and writes nothing shared but the chain's
 * reference count: on the call path every worker asks for the same few
 * x5u URLs, and a shared read lock made all of them write one cache line.
 * Generations start at a distinct base per cache, so a front entry never
 * matches another cache allocated at the same address.
 */
#define FRONT_SLOTS 8

struct front {
    const struct cg_certcache *cache;
    uint64_t gen;
    size_t hash;
    char *url;
    struct cg_chain *chain; /* NULL: negative */
    int64_t expires;
};

static __thread struct front front[FRONT_SLOTS];
static _Atomic uint64_t gen_base;

void cg_certcache_thread_done(void)
{
    size_t i;
    for (i = 0; i < FRONT_SLOTS; i++) {
        free(front[i].url);
        cg_chain_unref(front[i].chain);
        memset(&front[i], 0, sizeof front[i]);
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
    c->nbuckets = 1024;
    while (c->nbuckets < c->max)
        c->nbuckets *= 2;
    if (!(c->tab = calloc(c->nbuckets, sizeof *c->tab))) {
        free(c);
        return CG_ENOMEM;
    }
    pthread_rwlock_init(&c->lock, NULL);
    atomic_init(&c->gen, atomic_fetch_add(&gen_base, 1ull << 32) + (1ull << 32));
    *out = c;
    return CG_OK;
}

static void centry_free(struct centry *e)
{
    free(e->url);
    cg_chain_unref(e->chain);
    free(e);
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
            centry_free(e);
        }
    free(c->tab);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* Removes one entry: an expired one if any, else the oldest.  Locked. */
static void evict_one(struct cg_certcache *c, int64_t now)
{
    struct centry **victim = NULL, **pp;
    size_t i;
    for (i = 0; i < c->nbuckets; i++)
        for (pp = &c->tab[i]; *pp; pp = &(*pp)->next) {
            if ((*pp)->expires <= now) {
                victim = pp;
                goto found;
            }
            if (!victim || (*pp)->seq < (*victim)->seq)
                victim = pp;
        }
found:
    if (victim) {
        struct centry *e = *victim;
        *victim = e->next;
        centry_free(e);
        c->n--;
    }
}

int cg_certcache_put(struct cg_certcache *c, const char *url, struct cg_chain *chain,
                     int64_t expires)
{
    size_t b = hash_url(url) & (c->nbuckets - 1);
    struct centry *e, *n;
    if (!(n = calloc(1, sizeof *n)) || !(n->url = strdup(url))) {
        free(n);
        return CG_ENOMEM;
    }
    n->chain = chain ? cg_chain_ref(chain) : NULL;
    n->expires = expires;
    pthread_rwlock_wrlock(&c->lock);
    atomic_fetch_add(&c->gen, 1);
    n->seq = ++c->seq;
    for (e = c->tab[b]; e; e = e->next)
        if (strcmp(e->url, url) == 0) {
            /* replace in place: readers hold their own references */
            struct cg_chain *old = e->chain;
            e->chain = n->chain;
            e->expires = expires;
            e->seq = n->seq;
            pthread_rwlock_unlock(&c->lock);
            n->chain = old;
            centry_free(n);
            return CG_OK;
        }
    if (c->n >= c->max)
        evict_one(c, (int64_t)time(NULL));
    n->next = c->tab[b];
    c->tab[b] = n;
    c->n++;
    pthread_rwlock_unlock(&c->lock);
    return CG_OK;
}

int cg_certcache_get(struct cg_certcache *c, const char *url, int64_t now, struct cg_chain **out)
{
    size_t h = hash_url(url), b = h & (c->nbuckets - 1);
    struct front *f = &front[(h >> 16) % FRONT_SLOTS];
    uint64_t gen = atomic_load_explicit(&c->gen, memory_order_acquire);
    struct centry *e;
    int rc = CG_ENOTFOUND;

    if (f->cache == c && f->gen == gen && f->hash == h && strcmp(f->url, url) == 0 &&
        f->expires > now) {
        if (!f->chain)
            return CG_EIO;
        *out = cg_chain_ref(f->chain);
        return CG_OK;
    }
    pthread_rwlock_rdlock(&c->lock);
    for (e = c->tab[b]; e; e = e->next)
        if (strcmp(e->url, url) == 0) {
            if (e->expires > now) {
                char *u = strdup(url);
                if (e->chain) {
                    *out = cg_chain_ref(e->chain);
                    rc = CG_OK;
                } else {
                    rc = CG_EIO;
                }
                if (u) { /* remember it in this thread's front, read at `gen` */
                    free(f->url);
                    cg_chain_unref(f->chain);
                    f->cache = c;
                    f->gen = gen;
                    f->hash = h;
                    f->url = u;
                    f->chain = e->chain ? cg_chain_ref(e->chain) : NULL;
                    f->expires = e->expires;
                }
            }
            break;
        }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

size_t cg_certcache_size(struct cg_certcache *c)
{
    size_t n;
    pthread_rwlock_rdlock(&c->lock);
    n = c->n;
    pthread_rwlock_unlock(&c->lock);
    return n;
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
