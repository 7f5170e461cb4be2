/*
 * Replay and rate state kept in this process.  With Redis (redis.c) the
 * daemon records every call here too, so that this state is warm when
 * Redis goes away (cg_policy_decide says how the findings combine).
 *
 * Replay: a fixed-size open-addressing table keyed by the ECDSA r of a
 * PASSporT that passed verification (policy.h says why r and why only
 * passed ones), holding the Call-ID it was first seen with (0 when it had
 * none) and when it leaves the window; 64 stripes, each with its own lock,
 * so that threads rarely meet.  When a probe run is full of live entries
 * the one that expires first is overwritten: memory is bounded and the loss
 * is a missed replay, never a false one.
 *
 * Rates: per key (ingress name, signing SPC; on the signing side, the
 * customer) a 60-second ring of per-second call counts, and of the calls
 * that presented a protected or bank-like number, and the distinct calling
 * numbers of the last 60 s, of which at most threshold+1 are kept (enough
 * to know the threshold is crossed).  Keys live in 16 stripes by hash, each
 * with its own lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/internal.h"
#include "policy/policy_internal.h"

#define STRIPES 64
#define SLOTS 8192 /* per stripe; a power of two, so that slots wrap by mask */
#define PROBE 8
#define RSTRIPES 16
#define RATE_KEYS_PER_STRIPE 256 /* 4096 keys in all */

struct rslot {
    uint64_t sig;    /* hash of r; 0 = empty */
    uint64_t callid; /* hash of the Call-ID; 0 = the call had none */
    int64_t expires;
};

struct stripe {
    pthread_mutex_t lock;
    struct rslot *slots;
};

struct ratekey {
    uint64_t hash;
    char key[64];
    int64_t last;                      /* second of the newest bucket */
    uint32_t buckets[60], flagged[60]; /* calls; of them, flagged ones */
    uint32_t nnum;
    uint64_t *num; /* distinct caller hashes, nnum <= rate_numbers + 1 */
    int64_t *num_seen;
};

/* Rate keys are striped by their hash: calls on different ingresses and
 * SPCs take different locks. */
struct rstripe {
    pthread_mutex_t lock;
    struct ratekey *keys;
    size_t nkeys;
};

struct cg_policy_state {
    struct rslot *slots_mem; /* every stripe's slots, on huge pages */
    size_t slots_bytes;
    int window;
    unsigned rate_calls, rate_numbers;
    unsigned share_percent, share_min_calls; /* 0: no share threshold */
    struct stripe stripes[STRIPES];
    struct rstripe rstripes[RSTRIPES];
};

/* Never 0: 0 marks an empty replay slot. */
static uint64_t hash64(const void *data, size_t n)
{
    uint64_t h = cg__fnv1a(data, n);
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
    /* 64 stripes x 8192 slots = 524,288 signatures: a 65 s window at
     * ~8,000 calls/s (a token whose iat lies ahead is kept longer, up to
     * twice the window, but real signers put iat at or before now); 24
     * bytes each, 12 MB */
    /* One region on 2 MB pages where the kernel allows: a replay lookup
     * lands anywhere in 12 MB, and with 4 KB pages each was a TLB miss
     * as well as a cache miss (perf: 1.1% of the daemon's cycles). */
    s->slots_bytes = STRIPES * SLOTS * sizeof(struct rslot);
    if (posix_memalign((void **)&s->slots_mem, 2u << 20, s->slots_bytes) != 0) {
        free(s);
        return CG_ENOMEM;
    }
    madvise(s->slots_mem, s->slots_bytes, MADV_HUGEPAGE);
    memset(s->slots_mem, 0, s->slots_bytes);
    for (i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&s->stripes[i].lock, NULL);
        s->stripes[i].slots = s->slots_mem + i * SLOTS;
    }
    for (i = 0; i < RSTRIPES; i++)
        pthread_mutex_init(&s->rstripes[i].lock, NULL);
    *out = s;
    return CG_OK;
}

void cg_policy_state_free(struct cg_policy_state *s)
{
    size_t i;
    if (!s)
        return;
    for (i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&s->stripes[i].lock);
    free(s->slots_mem);
    for (i = 0; i < RSTRIPES; i++) {
        struct rstripe *r = &s->rstripes[i];
        size_t k;
        for (k = 0; k < r->nkeys; k++) {
            free(r->keys[k].num);
            free(r->keys[k].num_seen);
        }
        free(r->keys);
        pthread_mutex_destroy(&r->lock);
    }
    free(s);
}

/* True when the signature was seen under another Call-ID, or without one,
 * before it expired; records it until `expires` otherwise.  callid 0: the
 * call has no Call-ID and can be told from no other use. */
static bool replay_check(struct cg_policy_state *s, uint64_t sig, uint64_t callid, int64_t now,
                         int64_t expires)
{
    struct stripe *st = &s->stripes[sig % STRIPES];
    size_t base = (size_t)(sig / STRIPES) % SLOTS, i, victim = base;
    bool replay = false;
    pthread_mutex_lock(&st->lock);
    for (i = 0; i < PROBE; i++) {
        struct rslot *r = &st->slots[(base + i) % SLOTS];
        if (r->sig == sig && r->expires > now) {
            /* same Call-ID: a retransmission or fork */
            replay = r->callid != callid || callid == 0;
            goto out;
        }
        if (r->sig == 0 || r->expires <= now) {
            victim = (base + i) % SLOTS;
            break;
        }
        if (r->expires < st->slots[victim].expires)
            victim = (base + i) % SLOTS;
    }
    st->slots[victim] = (struct rslot){sig, callid, expires};
out:
    pthread_mutex_unlock(&st->lock);
    return replay;
}

/* The key's record in its stripe (locked by the caller). */
static struct ratekey *rate_key(struct rstripe *r, uint64_t h, const char *key, int64_t now)
{
    size_t i, oldest = 0;
    for (i = 0; i < r->nkeys; i++) {
        if (r->keys[i].hash == h && strcmp(r->keys[i].key, key) == 0)
            return &r->keys[i];
        if (r->keys[i].last < r->keys[oldest].last)
            oldest = i;
    }
    if (r->nkeys < RATE_KEYS_PER_STRIPE) {
        struct ratekey *nk = realloc(r->keys, (r->nkeys + 1) * sizeof *nk);
        if (!nk)
            return NULL;
        r->keys = nk;
        i = r->nkeys++;
        memset(&r->keys[i], 0, sizeof r->keys[i]);
    } else {
        i = oldest; /* bounded: the stalest key makes room */
        free(r->keys[i].num);
        free(r->keys[i].num_seen);
        memset(&r->keys[i], 0, sizeof r->keys[i]);
    }
    cg__strlcpy(r->keys[i].key, key, sizeof r->keys[i].key);
    r->keys[i].hash = h;
    r->keys[i].last = now;
    return &r->keys[i];
}

int cg_policy_state_set_share(struct cg_policy_state *s, unsigned percent, unsigned min_calls)
{
    if (percent > 100)
        return CG_EINVAL;
    s->share_percent = percent;
    s->share_min_calls = min_calls ? min_calls : 1;
    return CG_OK;
}

/* Counts a call for `key` (`flagged`: it presented a protected or bank-like
 * number); says whether a threshold is now exceeded: calls, distinct
 * numbers, and (with `share`) the flagged calls' share. */
static void rate_observe(struct cg_policy_state *s, const char *key, uint64_t nh, int64_t now,
                         bool flagged, bool *calls, bool *numbers, bool *share)
{
    uint64_t h = hash64(key, strlen(key));
    struct rstripe *r = &s->rstripes[h % RSTRIPES];
    struct ratekey *k;
    uint32_t total = 0, nflagged = 0, i;
    pthread_mutex_lock(&r->lock);
    if (!(k = rate_key(r, h, key, now)))
        goto out;
    if (now - k->last >= 60) {
        memset(k->buckets, 0, sizeof k->buckets);
        memset(k->flagged, 0, sizeof k->flagged);
    } else {
        for (int64_t t = k->last + 1; t <= now; t++)
            k->buckets[t % 60] = k->flagged[t % 60] = 0;
    }
    if (now > k->last)
        k->last = now;
    k->buckets[now % 60]++;
    k->flagged[now % 60] += flagged;
    for (i = 0; i < 60; i++) {
        total += k->buckets[i];
        nflagged += k->flagged[i];
    }
    if (s->rate_calls && total > s->rate_calls)
        *calls = true;
    if (share && s->share_percent && total >= s->share_min_calls &&
        (uint64_t)nflagged * 100 > (uint64_t)s->share_percent * total)
        *share = true;
    if (!s->rate_numbers || !nh)
        goto out;
    if (!k->num && (!(k->num = calloc(s->rate_numbers + 1, sizeof *k->num)) ||
                    !(k->num_seen = calloc(s->rate_numbers + 1, sizeof *k->num_seen))))
        goto out;
    for (i = 0; i < k->nnum;) {
        if (k->num_seen[i] <= now - 60) { /* left the window */
            k->num[i] = k->num[k->nnum - 1];
            k->num_seen[i] = k->num_seen[k->nnum - 1];
            k->nnum--;
            continue;
        }
        if (k->num[i] == nh) {
            k->num_seen[i] = now;
            goto out;
        }
        i++;
    }
    if (k->nnum <= s->rate_numbers) {
        k->num[k->nnum] = nh;
        k->num_seen[k->nnum++] = now;
    }
    if (k->nnum > s->rate_numbers)
        *numbers = true;
out:
    pthread_mutex_unlock(&r->lock);
}

int cg__policy_state_observe(struct cg_policy_state *s, const struct cg_policy_call *c,
                             bool *replay, bool *rate_calls, bool *rate_numbers)
{
    const struct cg_verdict *v = c->verdict;
    if (v && v->verstat == CG_VERSTAT_PASSED && c->sig && c->siglen >= CG_REPLAY_KEY_LEN) {
        uint64_t callid = c->call_id && *c->call_id ? hash64(c->call_id, strlen(c->call_id)) : 0;
        *replay = replay_check(s, hash64(c->sig, CG_REPLAY_KEY_LEN), callid, c->now,
                               cg__replay_expiry(v->iat, c->now, s->window));
    }
    if (s->rate_calls || s->rate_numbers) {
        char key[80];
        /* the call's numbers as a pair: a rotation of the network number or
         * of the presentation number is a new one (0: no number) */
        uint64_t nh = c->caller ? hash64(c->caller, strlen(c->caller)) : 0;
        if (c->presented)
            nh = (nh * 0x9e3779b97f4a7c15ull) ^ hash64(c->presented, strlen(c->presented));
        if (c->ingress) {
            snprintf(key, sizeof key, "i:%s", c->ingress);
            rate_observe(s, key, nh, c->now, false, rate_calls, rate_numbers, NULL);
        }
        if (v && v->spc[0]) {
            snprintf(key, sizeof key, "s:%s", v->spc);
            rate_observe(s, key, nh, c->now, false, rate_calls, rate_numbers, NULL);
        }
    }
    return CG_OK;
}

int cg__policy_state_originate(struct cg_policy_state *s, const char *customer, const char *caller,
                               const char *presented, bool flagged, int64_t now, bool *calls,
                               bool *numbers, bool *share)
{
    char key[80];
    uint64_t nh = caller ? hash64(caller, strlen(caller)) : 0;
    if (presented)
        nh = (nh * 0x9e3779b97f4a7c15ull) ^ hash64(presented, strlen(presented));
    snprintf(key, sizeof key, "c:%s", customer);
    rate_observe(s, key, nh, now, flagged, calls, numbers, share);
    return CG_OK;
}
