/*
 * Busy keys: which signing keys get a verification table (fastverify.c),
 * built where, and freed when.
 *
 * Every key that verifies is linked, on its first call, to an entry keyed
 * by its public point, shared by every cg_key with that point (a
 * certificate fetched again, or renewed over the same key, finds the table
 * its predecessor earned).  The call path counts calls in the entry; once a
 * key has verified `promote_after` calls it asks for a table, and the
 * promotion thread builds it (tens of milliseconds) and publishes it with
 * one atomic store.  The call path takes no lock: it reads the entry's
 * table pointer and announces the table it is using in its thread's hazard
 * pointer, so that an evicted table is freed only when no thread still
 * uses it.
 *
 * The budget: tables cost FK_TABLE_BYTES each (measured: the table is a
 * 151,552-byte array of multiples of the key, plus the group and the
 * allocator's rounding).  When a candidate finds no room, the table of the
 * least busy key (calls per second, decayed each second) is evicted, but
 * only for a candidate at least twice as busy, so that two keys of similar
 * traffic do not trade one table back and forth, and at most FK_BUILDS_PER_TICK
 * tables are built a second, so that churn cannot take a core.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "cidguard/error.h"
#include "cidguard/key.h"
#include "crypto/fastverify.h"

#define FK_TABLE_BYTES ((size_t)160 * 1024)
#define FK_BUILDS_PER_TICK 8
#define FK_BUCKETS 1024
#define FK_PUB_MAX 65

#ifndef CG_HAVE_FASTVERIFY
/* OpenSSL without EC_GROUP_precompute_mult: every call goes through EVP. */
bool cg__fktab_available(void)
{
    return false;
}

int cg__fktab_new(struct cg__fktab **out, const unsigned char *pub, size_t len)
{
    (void)out;
    (void)pub;
    (void)len;
    return CG_EUNSUPPORTED;
}

void cg__fktab_free(struct cg__fktab *t)
{
    (void)t;
}

int cg__fktab_verify(const struct cg__fktab *t, const unsigned char md[32],
                     const unsigned char sig[64], bool *valid)
{
    (void)t;
    (void)md;
    (void)sig;
    *valid = false;
    return CG_EUNSUPPORTED;
}
#endif

struct cg__fkent {
    struct cg__fkent *next; /* hash chain */
    unsigned char pub[FK_PUB_MAX];
    size_t len, hash;
    int refs; /* keys linked to it, and a build in progress; under the lock */
    struct cg__fktab *_Atomic tab;
    atomic_uint_fast64_t calls; /* calls verified, by either path */
    atomic_bool wanted;         /* reached promote_after */
    uint64_t seen, score;       /* the promotion thread's, under the lock */
    bool failed;                /* its table cannot be built: never tried again */
};

/* A thread's hazard pointer and path counters; never freed, reused by a
 * later thread once its thread has ended. */
struct hprec {
    struct cg__fktab *_Atomic hp;
    atomic_bool taken;
    atomic_uint_fast64_t fast, evp; /* written by the owning thread only */
    struct hprec *next;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct cg__fkent *bucket[FK_BUCKETS];
    atomic_size_t max_bytes;
    atomic_uint promote_after;
    size_t bytes, in_use;
    uint64_t built, evicted, failed;
    bool thread_started;
    struct cg__fktab **retired;
    size_t nretired, capretired;
    struct hprec *_Atomic hprecs;
} fk = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .max_bytes = CG_FASTKEYS_DEFAULT_MB * (size_t)1024 * 1024,
    .promote_after = CG_FASTKEYS_DEFAULT_AFTER,
};

static pthread_key_t hp_key;
static pthread_once_t hp_once = PTHREAD_ONCE_INIT;
static __thread struct hprec *my_hp;

static void hp_release(void *arg)
{
    struct hprec *r = arg;
    atomic_store(&r->hp, NULL);
    atomic_store_explicit(&r->taken, false, memory_order_release);
}

static void hp_init(void)
{
    pthread_key_create(&hp_key, hp_release);
}

static struct hprec *hp_get(void)
{
    struct hprec *r;
    if (my_hp)
        return my_hp;
    pthread_once(&hp_once, hp_init);
    for (r = atomic_load(&fk.hprecs); r; r = r->next) {
        bool no = false;
        if (!atomic_load_explicit(&r->taken, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&r->taken, &no, true))
            break;
    }
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return NULL;
        atomic_init(&r->taken, true);
        r->next = atomic_load(&fk.hprecs);
        while (!atomic_compare_exchange_weak(&fk.hprecs, &r->next, r))
            ;
    }
    if (pthread_setspecific(hp_key, r) != 0) {
        hp_release(r);
        return NULL;
    }
    return my_hp = r;
}

static void count(atomic_uint_fast64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void cg__fk_count_evp(void)
{
    struct hprec *r = hp_get();
    if (r)
        count(&r->evp);
}

/* --- the registry (under fk.lock) ------------------------------------------ */

static size_t hash_pub(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return (size_t)h;
}

static void ent_unlink_free(struct cg__fkent *e)
{
    struct cg__fkent **pp = &fk.bucket[e->hash % FK_BUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    free(e);
}

/* Frees an entry nothing needs any more: no key, no build, no table. */
static void ent_maybe_free(struct cg__fkent *e)
{
    if (e->refs == 0 && !atomic_load(&e->tab))
        ent_unlink_free(e);
}

static int retire(struct cg__fktab *t)
{
    if (fk.nretired == fk.capretired) {
        size_t cap = fk.capretired ? fk.capretired * 2 : 16;
        struct cg__fktab **n = realloc(fk.retired, cap * sizeof *n);
        if (!n)
            return CG_ENOMEM;
        fk.retired = n;
        fk.capretired = cap;
    }
    fk.retired[fk.nretired++] = t;
    return CG_OK;
}

/* Takes the table out of the call path; it is freed once no thread's
 * hazard pointer names it. */
static void evict(struct cg__fkent *e)
{
    struct cg__fktab *t = atomic_exchange(&e->tab, NULL);
    if (!t)
        return;
    if (retire(t) != CG_OK) {
        /* No memory to remember it: keep it published rather than free a
         * table a thread may be reading. */
        atomic_store(&e->tab, t);
        return;
    }
    fk.bytes -= FK_TABLE_BYTES;
    fk.in_use--;
    fk.evicted++;
    ent_maybe_free(e);
}

static void reclaim(void)
{
    size_t i = 0;
    while (i < fk.nretired) {
        struct cg__fktab *t = fk.retired[i];
        struct hprec *r;
        for (r = atomic_load(&fk.hprecs); r; r = r->next)
            if (atomic_load(&r->hp) == t)
                break;
        if (r) {
            i++;
            continue;
        }
        cg__fktab_free(t);
        fk.retired[i] = fk.retired[--fk.nretired];
    }
}

static struct cg__fkent *least_busy(void)
{
    struct cg__fkent *v = NULL, *e;
    size_t b;
    for (b = 0; b < FK_BUCKETS; b++)
        for (e = fk.bucket[b]; e; e = e->next)
            if (atomic_load_explicit(&e->tab, memory_order_relaxed) && (!v || e->score < v->score))
                v = e;
    return v;
}

static struct cg__fkent *best_candidate(void)
{
    struct cg__fkent *c = NULL, *e;
    size_t b;
    for (b = 0; b < FK_BUCKETS; b++)
        for (e = fk.bucket[b]; e; e = e->next)
            if (atomic_load_explicit(&e->wanted, memory_order_relaxed) && !e->failed &&
                !atomic_load_explicit(&e->tab, memory_order_relaxed) && (!c || e->score > c->score))
                c = e;
    return c;
}

/* Builds e's table with the lock released; e is held meanwhile. */
static void build(struct cg__fkent *e)
{
    struct cg__fktab *t = NULL;
    int rc;
    e->refs++;
    pthread_mutex_unlock(&fk.lock);
    rc = cg__fktab_new(&t, e->pub, e->len);
    pthread_mutex_lock(&fk.lock);
    if (rc == CG_OK && !atomic_load(&e->tab)) {
        atomic_store_explicit(&e->tab, t, memory_order_release);
        fk.bytes += FK_TABLE_BYTES;
        fk.in_use++;
        fk.built++;
    } else {
        cg__fktab_free(t);
        if (rc != CG_OK && rc != CG_ENOMEM) {
            e->failed = true;
            fk.failed++;
        }
    }
    e->refs--;
    ent_maybe_free(e);
}

/* One second's work: scores, the budget, the promotions, the frees. */
static void tick(void)
{
    size_t max = atomic_load(&fk.max_bytes), b;
    struct cg__fkent *e, *next;
    int builds;

    for (b = 0; b < FK_BUCKETS; b++)
        for (e = fk.bucket[b]; e; e = next) {
            uint64_t c = atomic_load_explicit(&e->calls, memory_order_relaxed);
            next = e->next;
            e->score = e->score / 2 + (c - e->seen);
            e->seen = c;
            /* A table no key is linked to any more, unused for a while. */
            if (e->refs == 0 && e->score == 0)
                evict(e);
        }
    while (fk.bytes > max && (e = least_busy()))
        evict(e);
    for (builds = 0; builds < FK_BUILDS_PER_TICK && (e = best_candidate()); builds++) {
        if (fk.bytes + FK_TABLE_BYTES > max) {
            struct cg__fkent *v = least_busy();
            if (!v || v->score * 2 >= e->score)
                break;
            evict(v);
            if (fk.bytes + FK_TABLE_BYTES > max)
                break;
        }
        build(e);
    }
    reclaim();
}

static void *promoter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fk.lock);
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
        tick();
    }
    return NULL;
}

/*
 * A child of fork() has no promotion thread: it starts its own.  The lock
 * is held across fork() so that the child does not inherit it taken by
 * another thread, and the child makes the condition variable anew: it
 * still counts the parent's waiting promotion thread, and signalling it
 * would wait for that thread forever.
 */
static void fork_prepare(void)
{
    pthread_mutex_lock(&fk.lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&fk.lock);
}

static void fork_child(void)
{
    fk.thread_started = false;
    pthread_cond_init(&fk.cond, NULL);
    pthread_mutex_unlock(&fk.lock);
}

/* Under the lock. */
static void start_thread(void)
{
    static bool atfork;
    pthread_t th;
    pthread_attr_t a;
    if (!atfork)
        atfork = pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
    if (fk.thread_started || pthread_attr_init(&a) != 0)
        return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, promoter, NULL) == 0)
        fk.thread_started = true;
    pthread_attr_destroy(&a);
}

/* Links a key to the entry of its public point (creating it). */
static struct cg__fkent *attach(struct cg__fkent *_Atomic *slot, EVP_PKEY *pkey)
{
    unsigned char pub[FK_PUB_MAX];
    size_t len = 0, h;
    struct cg__fkent *e;

    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub,
                                        &len) != 1 ||
        len == 0)
        return NULL;
    h = hash_pub(pub, len);
    pthread_mutex_lock(&fk.lock);
    if ((e = atomic_load(slot)))
        goto out;
    for (e = fk.bucket[h % FK_BUCKETS]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->pub, pub, len) == 0)
            break;
    if (!e) {
        if (!(e = calloc(1, sizeof *e)))
            goto out;
        memcpy(e->pub, pub, len);
        e->len = len;
        e->hash = h;
        e->next = fk.bucket[h % FK_BUCKETS];
        fk.bucket[h % FK_BUCKETS] = e;
    }
    e->refs++;
    atomic_store_explicit(slot, e, memory_order_release);
    start_thread();
out:
    pthread_mutex_unlock(&fk.lock);
    return e;
}

void cg__fk_detach(struct cg__fkent *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&fk.lock);
    e->refs--;
    ent_maybe_free(e);
    pthread_mutex_unlock(&fk.lock);
}

bool cg__fk_verify(struct cg__fkent *_Atomic *slot, EVP_PKEY *pkey, const unsigned char md[32],
                   const unsigned char sig[64], bool *valid)
{
    struct cg__fkent *e = atomic_load_explicit(slot, memory_order_acquire);
    struct cg__fktab *t;
    struct hprec *r;
    uint64_t c;
    int rc;

    if (!e) {
        if (atomic_load_explicit(&fk.max_bytes, memory_order_relaxed) == 0 ||
            !cg__fktab_available() || !(e = attach(slot, pkey)))
            return false;
    }
    c = atomic_fetch_add_explicit(&e->calls, 1, memory_order_relaxed) + 1;
    if (!(t = atomic_load_explicit(&e->tab, memory_order_acquire))) {
        if (c >= atomic_load_explicit(&fk.promote_after, memory_order_relaxed) &&
            !atomic_load_explicit(&e->wanted, memory_order_relaxed) &&
            atomic_load_explicit(&fk.max_bytes, memory_order_relaxed) != 0) {
            /* Once per key: the promotion thread wakes within a second
             * anyway, so a lost wake-up costs nothing. */
            atomic_store(&e->wanted, true);
            pthread_cond_signal(&fk.cond);
        }
        return false;
    }
    if (!(r = hp_get()))
        return false;
    /* Announce, then check it is still published: an evictor that
     * unpublished it in between either sees the announcement or is seen. */
    atomic_store(&r->hp, t);
    if (atomic_load(&e->tab) != t) {
        atomic_store_explicit(&r->hp, NULL, memory_order_release);
        return false;
    }
    rc = cg__fktab_verify(t, md, sig, valid);
    atomic_store_explicit(&r->hp, NULL, memory_order_release);
    if (rc != CG_OK)
        return false; /* EVP decides */
    count(&r->fast);
    return true;
}

int cg__fk_promote_now(struct cg__fkent *_Atomic *slot, EVP_PKEY *pkey)
{
    struct cg__fkent *e = atomic_load_explicit(slot, memory_order_acquire);
    int rc = CG_OK;
    if (!cg__fktab_available())
        return CG_EUNSUPPORTED;
    if (!e && !(e = attach(slot, pkey)))
        return CG_ENOMEM;
    pthread_mutex_lock(&fk.lock);
    atomic_store(&e->wanted, true);
    if (!atomic_load(&e->tab)) {
        build(e);
        if (!atomic_load(&e->tab))
            rc = e->failed ? CG_EKEY : CG_ENOMEM;
    }
    pthread_mutex_unlock(&fk.lock);
    return rc;
}

/* --- public ------------------------------------------------------------------ */

bool cg_fastkeys_available(void)
{
    return cg__fktab_available();
}

int cg_fastkeys_configure(size_t max_bytes, unsigned promote_after)
{
    if (promote_after == 0)
        return CG_EINVAL;
    atomic_store(&fk.max_bytes, max_bytes);
    atomic_store(&fk.promote_after, promote_after);
    /* A smaller budget is enforced by the promotion thread, at once. */
    pthread_cond_signal(&fk.cond);
    return CG_OK;
}

void cg_fastkeys_stats(struct cg_fastkeys_stats *out)
{
    struct hprec *r;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&fk.lock);
    out->tables = fk.in_use;
    out->bytes = fk.bytes;
    out->max_bytes = atomic_load(&fk.max_bytes);
    out->built = fk.built;
    out->evicted = fk.evicted;
    out->failed = fk.failed;
    pthread_mutex_unlock(&fk.lock);
    for (r = atomic_load(&fk.hprecs); r; r = r->next) {
        out->fast_calls += atomic_load_explicit(&r->fast, memory_order_relaxed);
        out->evp_calls += atomic_load_explicit(&r->evp, memory_order_relaxed);
    }
    out->table_bytes = FK_TABLE_BYTES;
}
