/*
 * Replay and rate state kept in this process.  With Redis (shared.c) the
 * daemon records every call here too, so that this state is warm when
 * Redis goes away (cg_policy_decide says how the findings combine).
 *
 * Replay: a fixed-size open-addressing table keyed by the PASSporT
 * signature, holding the Call-ID it was first seen with and when it leaves
 * the window; 64 stripes, each with its own lock, so that threads rarely
 * meet.  When a probe run is full of live entries the oldest is overwritten:
 * memory is bounded and the loss is a missed replay, never a false one.
 *
 * Rates: per key (ingress name, signing SPC) a 60-second ring of per-second
 * call counts, and the distinct calling numbers of the last 60 s, of which
 * at most threshold+1 are kept (enough to know the threshold is crossed).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "policy/policy_internal.h"

#define STRIPES 64
#define PROBE 8
#define RATE_KEYS 4096

struct rslot {
    uint64_t sig;     /* 0 = empty */
    uint64_t callid;
    int64_t expires;
};

struct stripe {
    pthread_mutex_t lock;
    struct rslot *slots;
};

struct ratekey {
    char key[64];
    int64_t last;          /* second of the newest bucket */
    uint32_t buckets[60];
    uint32_t nnum;
    uint64_t *num;         /* distinct caller hashes, nnum <= rate_numbers + 1 */
    int64_t *num_seen;
};

struct cg_policy_state {
    int window;
    unsigned rate_calls, rate_numbers;
    size_t slots_per_stripe;
    struct stripe stripes[STRIPES];
    pthread_mutex_t rlock;
    struct ratekey *keys;
    size_t nkeys;
};

static uint64_t hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ? h : 1;
}

int cg_policy_state_new(struct cg_policy_state **out, int window, unsigned rate_calls,
                        unsigned rate_numbers)
{
    struct cg_policy_state *s;
    size_t i;
    if (rate_numbers > 1000)
        return CG_EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return CG_ENOMEM;
    s->window = window > 0 ? window : 65;
    s->rate_calls = rate_calls;
    s->rate_numbers = rate_numbers;
    /* 64 stripes x 8192 slots = 524,288 signatures: a minute at ~8,000
     * calls/s; 24 bytes each, 12 MB */
    s->slots_per_stripe = 8192;
    for (i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&s->stripes[i].lock, NULL);
        if (!(s->stripes[i].slots = calloc(s->slots_per_stripe, sizeof(struct rslot)))) {
            cg_policy_state_free(s);
            return CG_ENOMEM;
        }
    }
    pthread_mutex_init(&s->rlock, NULL);
    *out = s;
    return CG_OK;
}

void cg_policy_state_free(struct cg_policy_state *s)
{
    size_t i;
    if (!s)
        return;
    for (i = 0; i < STRIPES; i++) {
        free(s->stripes[i].slots);
        pthread_mutex_destroy(&s->stripes[i].lock);
    }
    for (i = 0; i < s->nkeys; i++) {
        free(s->keys[i].num);
        free(s->keys[i].num_seen);
    }
    free(s->keys);
    pthread_mutex_destroy(&s->rlock);
    free(s);
}

/* True when the signature was seen under another Call-ID inside the window. */
static bool replay_check(struct cg_policy_state *s, uint64_t sig, uint64_t callid, int64_t now)
{
    struct stripe *st = &s->stripes[sig % STRIPES];
    size_t base = (size_t)(sig / STRIPES) % s->slots_per_stripe, i, victim = base;
    bool replay = false;
    pthread_mutex_lock(&st->lock);
    for (i = 0; i < PROBE; i++) {
        struct rslot *r = &st->slots[(base + i) % s->slots_per_stripe];
        if (r->sig == sig && r->expires > now) {
            replay = r->callid != callid; /* same Call-ID: a retransmission or fork */
            goto out;
        }
        if (r->sig == 0 || r->expires <= now) {
            victim = (base + i) % s->slots_per_stripe;
            break;
        }
        if (r->expires < st->slots[victim].expires)
            victim = (base + i) % s->slots_per_stripe;
    }
    st->slots[victim] = (struct rslot){sig, callid, now + s->window};
out:
    pthread_mutex_unlock(&st->lock);
    return replay;
}

static struct ratekey *rate_key(struct cg_policy_state *s, const char *key, int64_t now)
{
    size_t i, oldest = 0;
    for (i = 0; i < s->nkeys; i++) {
        if (strcmp(s->keys[i].key, key) == 0)
            return &s->keys[i];
        if (s->keys[i].last < s->keys[oldest].last)
            oldest = i;
    }
    if (s->nkeys < RATE_KEYS) {
        struct ratekey *nk = realloc(s->keys, (s->nkeys + 1) * sizeof *nk);
        if (!nk)
            return NULL;
        s->keys = nk;
        i = s->nkeys++;
        memset(&s->keys[i], 0, sizeof s->keys[i]);
    } else {
        i = oldest; /* bounded: the stalest key makes room */
        free(s->keys[i].num);
        free(s->keys[i].num_seen);
        memset(&s->keys[i], 0, sizeof s->keys[i]);
    }
    cg__strlcpy(s->keys[i].key, key, sizeof s->keys[i].key);
    s->keys[i].last = now;
    return &s->keys[i];
}

/* Counts a call for `key`; says whether either threshold is now exceeded. */
static void rate_observe(struct cg_policy_state *s, const char *key, const char *caller,
                         int64_t now, bool *calls, bool *numbers)
{
    struct ratekey *k = rate_key(s, key, now);
    uint32_t total = 0, i;
    uint64_t h;
    if (!k)
        return;
    if (now - k->last >= 60) {
        memset(k->buckets, 0, sizeof k->buckets);
    } else {
        for (int64_t t = k->last + 1; t <= now; t++)
            k->buckets[t % 60] = 0;
    }
    if (now > k->last)
        k->last = now;
    k->buckets[now % 60]++;
    for (i = 0; i < 60; i++)
        total += k->buckets[i];
    if (s->rate_calls && total > s->rate_calls)
        *calls = true;
    if (!s->rate_numbers || !caller)
        return;
    if (!k->num && (!(k->num = calloc(s->rate_numbers + 1, sizeof *k->num)) ||
                    !(k->num_seen = calloc(s->rate_numbers + 1, sizeof *k->num_seen))))
        return;
    h = hash64(caller, strlen(caller));
    for (i = 0; i < k->nnum;) {
        if (k->num_seen[i] <= now - 60) { /* left the window */
            k->num[i] = k->num[k->nnum - 1];
            k->num_seen[i] = k->num_seen[k->nnum - 1];
            k->nnum--;
            continue;
        }
        if (k->num[i] == h) {
            k->num_seen[i] = now;
            return;
        }
        i++;
    }
    if (k->nnum <= s->rate_numbers) {
        k->num[k->nnum] = h;
        k->num_seen[k->nnum++] = now;
    }
    if (k->nnum > s->rate_numbers)
        *numbers = true;
}

int cg__policy_state_observe(struct cg_policy_state *s, const struct cg_policy_call *c,
                             bool *replay, bool *rate_calls, bool *rate_numbers)
{
    const struct cg_verdict *v = c->verdict;
    if (c->sig && c->siglen && c->call_id)
        *replay = replay_check(s, hash64(c->sig, c->siglen),
                               hash64(c->call_id, strlen(c->call_id)), c->now);
    if (s->rate_calls || s->rate_numbers) {
        char key[80];
        pthread_mutex_lock(&s->rlock);
        if (c->ingress) {
            snprintf(key, sizeof key, "i:%s", c->ingress);
            rate_observe(s, key, c->caller, c->now, rate_calls, rate_numbers);
        }
        if (v && v->spc[0]) {
            snprintf(key, sizeof key, "s:%s", v->spc);
            rate_observe(s, key, c->caller, c->now, rate_calls, rate_numbers);
        }
        pthread_mutex_unlock(&s->rlock);
    }
    return CG_OK;
}
