/*
 * Campaign behaviour, online (behaviour.h).
 *
 * Each origin keeps two generations of half a window each: the current one
 * and the one before, so that the features cover between half a window and
 * a whole one of the origin's latest calls.  A generation holds 512-bit
 * sketches of the unowned numbers, the suspect numbers and the callees
 * seen in it, and counters; the distinct numbers and callees of the window
 * are estimated from the union of the two generations' sketches (linear
 * counting), and a number is new to the origin when its bit is set in
 * neither generation nor its history.  The numbers of generations that rolled
 * out go into a history (two 512-bit generations of three windows each),
 * against which an origin's numbers are new or habitual: an agency that
 * presents the same clients' numbers all day has them in its history, a
 * spoofer rotating through borrowed numbers does not.
 *
 * A number's owner (the last origin that signed it at A) is remembered with
 * whether it is a wide signer: one that has signed at least min_numbers
 * distinct numbers at A since it was first seen (a consumer switch, a
 * hosted platform), unlike a business, a bank's lines or a police force's,
 * which have a few each.  Presenting several such subscribers' numbers of
 * more than one owner, several calls each, is borrowing even in an
 * origin's first session, before it has a history.  Judged on that alone,
 * the hold is tentative, since an agency presenting large clients' numbers
 * looks the same: a history showing the same numbers for long releases it.
 *
 * The population: the median and MAD of the judged feature (distinct
 * unowned numbers, suspect ones twice) over the origins with enough calls
 * in their window, recomputed from the table by one caller at most every
 * quarter window.  On a quiet network they are 0 and the floors decide.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/behaviour.h"
#include "cidguard/error.h"

#define WORDS 8 /* 512 bits */
#define BITS (WORDS * 64)
#define STRIPES 16
#define PROBE 8

enum { S_NUMS, S_SUS, S_CALLEE, S_BOR, S_WBOR, S__COUNT };

struct gen {
    /* the unowned presentation numbers, the suspect ones, the callees, the
     * borrowed numbers and those of them whose owner is a wide signer */
    uint64_t sk[S__COUNT][WORDS];
    uint16_t set[S__COUNT]; /* bits set in each sketch */
    uint32_t calls, unowned_calls, fresh, borrowed_calls, wide_calls, wide_fresh;
    uint32_t wide_owner[2]; /* the first two wide owners of its borrowed numbers (0: none) */
};

struct org {
    uint64_t hash; /* 0 = empty */
    int64_t gen;   /* the half-window index of g[0] */
    int64_t first, last, hist_since, held_until;
    uint32_t feature; /* numbers + suspect in the window at the last call */
    struct gen g[2];  /* g[0] the current generation, g[1] the one before */
    uint64_t hist[2][WORDS];
    /* Kept as bits are set, so that a call counts no bits: each sketch's
     * bits set in g[0] or g[1], and the bits set in either history. */
    uint16_t window_set[S__COUNT], hist_set;
    /* the numbers it has signed at A since it was first seen: whether it is a
     * wide signer */
    uint64_t signed_all[WORDS];
    uint16_t signed_set;
    /* held on subscribers' numbers that its history has not yet shown new
     * to it: released if its history shows them habitual instead */
    bool tentative;
};

struct stripe {
    pthread_mutex_t lock;
    struct org *orgs;
};

struct cg_behaviour {
    struct cg_behaviour_config cfg;
    int half;
    size_t per_stripe; /* a power of two */
    struct stripe stripes[STRIPES];
    _Atomic int64_t next_pop;
    _Atomic int64_t latest;                 /* the latest call's time: the behaviour clock */
    _Atomic uint32_t pop_median, pop_scale; /* hundredths */
    pthread_mutex_t pop_lock;
    uint32_t *pop_values;
    /* numbers' owners: the number's tag in the high half, the owning
     * origin's in the low half, one atomic word each (no lock) */
    _Atomic uint64_t *owners;
    size_t owners_mask;
    uint16_t linear[BITS]; /* distinct items for each count of bits set */
};

static unsigned linear_count(unsigned set);

void cg_behaviour_config_defaults(struct cg_behaviour_config *cfg)
{
    *cfg = (struct cg_behaviour_config){.window = 600,
                                        .min_calls = 10,
                                        .min_numbers = 16,
                                        .unowned_pct = 50,
                                        .fanout_pct = 50,
                                        .rotation_pct = 50,
                                        .fresh_pct = 60,
                                        .z_tenths = 35,
                                        .hold = 86400,
                                        .origins = 4096};
}

int cg_behaviour_new(struct cg_behaviour **out, const struct cg_behaviour_config *cfg)
{
    struct cg_behaviour *b;
    size_t i;
    if (!out || !cfg || cfg->window < 60 || cfg->window > 3600 || cfg->hold < 0 ||
        cfg->hold > 604800 || cfg->origins < 256 || cfg->origins > (1u << 20) ||
        (cfg->origins & (cfg->origins - 1)) || cfg->unowned_pct > 100 || cfg->fanout_pct > 100 ||
        cfg->rotation_pct > 100 || cfg->fresh_pct > 100 || cfg->min_numbers < 2 ||
        cfg->min_numbers > 400 || cfg->min_calls > 100000 || cfg->z_tenths > 1000)
        return CG_EINVAL;
    if (!(b = calloc(1, sizeof *b)))
        return CG_ENOMEM;
    b->cfg = *cfg;
    b->half = cfg->window / 2;
    for (i = 0; i < BITS; i++)
        b->linear[i] = linear_count((unsigned)i);
    b->per_stripe = cfg->origins / STRIPES;
    b->pop_values = malloc(sizeof *b->pop_values * cfg->origins);
    b->owners_mask = (size_t)cfg->origins * 16 - 1;
    b->owners = calloc(b->owners_mask + 1, sizeof *b->owners);
    for (i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&b->stripes[i].lock, NULL);
        b->stripes[i].orgs = calloc(b->per_stripe, sizeof(struct org));
        if (!b->stripes[i].orgs)
            break;
    }
    pthread_mutex_init(&b->pop_lock, NULL);
    atomic_init(&b->next_pop, 0);
    atomic_init(&b->latest, 0);
    atomic_init(&b->pop_median, 0);
    atomic_init(&b->pop_scale, 100);
    if (i < STRIPES || !b->pop_values || !b->owners) {
        cg_behaviour_free(b);
        return CG_ENOMEM;
    }
    *out = b;
    return CG_OK;
}

void cg_behaviour_free(struct cg_behaviour *b)
{
    size_t i;
    if (!b)
        return;
    for (i = 0; i < STRIPES; i++) {
        free(b->stripes[i].orgs);
        pthread_mutex_destroy(&b->stripes[i].lock);
    }
    pthread_mutex_destroy(&b->pop_lock);
    free(b->pop_values);
    free((void *)b->owners);
    free(b);
}

/* Eight bytes at a time (FNV-1a's multiplication per byte was a fifth of a
 * call's cost on a 50-byte origin key), then MurmurHash3's finalizer:
 * numbers that differ in their last digits must land on unrelated bits and
 * slots. */
static uint64_t hash(const char *s)
{
    size_t n = strlen(s), i;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    if (i < n) {
        w = 0;
        memcpy(&w, s + i, n - i);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h ? h : 1;
}

static bool bit_get(const uint64_t *m, unsigned i)
{
    return (m[i >> 6] >> (i & 63)) & 1;
}

static void bit_set(uint64_t *m, unsigned i)
{
    m[i >> 6] |= 1ull << (i & 63);
}

/* The natural logarithm of x in (0, 1], to 1e-5, without libm: halvings
 * bring x into [0.5, 1], where atanh's series converges fast. */
static double ln01(double x)
{
    double t, t2, r;
    int k = 0;
    while (x < 0.5) {
        x *= 2;
        k++;
    }
    t = (x - 1) / (x + 1);
    t2 = t * t;
    r = 2 * t * (1 + t2 / 3 + t2 * t2 / 5 + t2 * t2 * t2 / 7 + t2 * t2 * t2 * t2 / 9);
    return r - k * 0.6931471805599453;
}

/* Distinct items in a sketch with `set` bits set, by linear counting
 * (-m ln(empty/m)): exact enough while a window holds up to a few hundred,
 * and never counts a steady item twice.  Tabulated once (b->linear). */
static unsigned linear_count(unsigned set)
{
    if (set >= BITS)
        set = BITS - 1; /* saturated: the most the sketch can tell */
    return (unsigned)(-(double)BITS * ln01((double)(BITS - set) / BITS) + 0.5);
}

static unsigned distinct(const struct cg_behaviour *b, const struct org *o, int k)
{
    return b->linear[o->window_set[k] < BITS ? o->window_set[k] : BITS - 1];
}

/* Sets bit i of the current generation's sketch k, counting it. */
static void mark(struct org *o, int k, unsigned i)
{
    if (bit_get(o->g[0].sk[k], i))
        return;
    bit_set(o->g[0].sk[k], i);
    o->g[0].set[k]++;
    if (!bit_get(o->g[1].sk[k], i))
        o->window_set[k]++;
}

/* Moves the origin's generations to `now`: the ones that leave the window
 * go into its history. */
static void roll(const struct cg_behaviour *b, struct org *o, int64_t now)
{
    int64_t gi = now / b->half;
    unsigned w;
    bool hist_moved = false;
    int k;
    if (now - o->hist_since >= 3 * (int64_t)b->cfg.window) {
        memcpy(o->hist[1], o->hist[0], sizeof o->hist[0]);
        memset(o->hist[0], 0, sizeof o->hist[0]);
        o->hist_since = now;
        hist_moved = true;
    }
    /* a call a worker decided a moment after a later one counts in the
     * current generation: time never moves an origin backwards */
    if (gi > o->gen) {
        for (w = 0; w < WORDS; w++)
            o->hist[0][w] |= o->g[1].sk[S_NUMS][w] | (gi > o->gen + 1 ? o->g[0].sk[S_NUMS][w] : 0);
        if (gi == o->gen + 1)
            o->g[1] = o->g[0];
        else
            memset(&o->g[1], 0, sizeof o->g[1]);
        memset(&o->g[0], 0, sizeof o->g[0]);
        for (k = 0; k < S__COUNT; k++)
            o->window_set[k] = o->g[1].set[k];
        o->gen = gi;
        hist_moved = true;
    }
    if (hist_moved) {
        unsigned n = 0;
        for (w = 0; w < WORDS; w++)
            n += (unsigned)__builtin_popcountll(o->hist[0][w] | o->hist[1][w]);
        o->hist_set = (uint16_t)n;
    }
}

/* How much an origin's slot is worth keeping: a held origin most (its
 * calls keep their label), then the more calls in a live window.  Junk
 * origins of one call each must not push a campaign out of the table. */
static uint64_t keep_rank(const struct cg_behaviour *b, const struct org *o, int64_t now)
{
    uint64_t calls = o->last > now - b->cfg.window ? o->g[0].calls + o->g[1].calls : 0;
    return (uint64_t)(o->held_until > now) << 32 | calls;
}

/* The origin's slot: its own, else an empty one, else the one of the probe
 * run least worth keeping, the least recently seen of those (evicted). */
static struct org *slot(const struct cg_behaviour *b, struct stripe *s, uint64_t h, int64_t now)
{
    size_t mask = b->per_stripe - 1, i;
    struct org *victim = NULL;
    uint64_t vrank = 0;
    for (i = 0; i < PROBE && i < b->per_stripe; i++) {
        struct org *o = &s->orgs[(h + i) & mask];
        uint64_t rank;
        if (o->hash == h)
            return o;
        if (victim && !victim->hash)
            continue;
        rank = o->hash ? keep_rank(b, o, now) : 0;
        if (!victim || !o->hash || rank < vrank || (rank == vrank && o->last < victim->last)) {
            victim = o;
            vrank = rank;
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->hash = h;
    victim->first = victim->hist_since = now;
    victim->gen = now / b->half;
    return victim;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The population's median and MAD of the feature, over the origins judged
 * (enough calls in a live window).  One caller at a time; the others go on
 * with the previous figures. */
static void population(struct cg_behaviour *b, int64_t now)
{
    int64_t due = atomic_load(&b->next_pop);
    size_t n = 0, i, j;
    uint32_t med, mad;
    if (now < due || !atomic_compare_exchange_strong(&b->next_pop, &due, now + b->half / 2))
        return;
    if (pthread_mutex_trylock(&b->pop_lock) != 0)
        return;
    for (i = 0; i < STRIPES; i++) {
        struct stripe *s = &b->stripes[i];
        pthread_mutex_lock(&s->lock);
        for (j = 0; j < b->per_stripe; j++) {
            const struct org *o = &s->orgs[j];
            if (o->hash && o->last > now - b->cfg.window &&
                o->g[0].calls + o->g[1].calls >= b->cfg.min_calls)
                b->pop_values[n++] = o->feature;
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (n >= 8) { /* a median of a handful is no norm */
        qsort(b->pop_values, n, sizeof *b->pop_values, cmp_u32);
        med = b->pop_values[n / 2];
        for (i = 0; i < n; i++)
            b->pop_values[i] =
                b->pop_values[i] > med ? b->pop_values[i] - med : med - b->pop_values[i];
        qsort(b->pop_values, n, sizeof *b->pop_values, cmp_u32);
        mad = b->pop_values[n / 2];
        atomic_store(&b->pop_median, med * 100);
        atomic_store(&b->pop_scale, (uint32_t)(148.26 * mad));
    } else {
        atomic_store(&b->pop_median, 0);
        atomic_store(&b->pop_scale, 0);
    }
    pthread_mutex_unlock(&b->pop_lock);
}

/* A wide owner of a number the origin borrowed: the rule needs two, so
 * each generation keeps its first two, whole (a bit per owner in a small
 * set would let two owners collide into one). */
static void note_owner(struct gen *g, uint32_t tag)
{
    if (!g->wide_owner[0])
        g->wide_owner[0] = tag;
    else if (g->wide_owner[0] != tag && !g->wide_owner[1])
        g->wide_owner[1] = tag;
}

/* The window's distinct wide owners, counted up to 2. */
static unsigned owners(const struct gen *a, const struct gen *b)
{
    uint32_t t[4] = {a->wide_owner[0], a->wide_owner[1], b->wide_owner[0], b->wide_owner[1]};
    uint32_t first = 0;
    unsigned i;
    for (i = 0; i < 4; i++) {
        if (t[i] && !first)
            first = t[i];
        else if (t[i] && t[i] != first)
            return 2;
    }
    return first ? 1 : 0;
}

int cg_behaviour_observe(struct cg_behaviour *b, const struct cg_behaviour_call *c,
                         struct cg_behaviour_result *out)
{
    const struct cg_behaviour_config *cf;
    struct stripe *s;
    struct org *o;
    struct gen *g;
    uint64_t h, nh = 0, ch = 0;
    _Atomic uint64_t *own = NULL;
    unsigned calls, uc, nums, sus, fresh, callees, feature, bor, bor_calls, wbor, wcalls, wown,
        wfresh;
    double scale;
    bool judged, was, tentative = false, refuted = false;
    if (!b || !c || !out)
        return CG_EINVAL;
    memset(out, 0, sizeof *out);
    if (!c->origin || !c->origin[0])
        return CG_OK;
    cf = &b->cfg;
    if (c->now > atomic_load_explicit(&b->latest, memory_order_relaxed))
        atomic_store_explicit(&b->latest, c->now, memory_order_relaxed);
    population(b, c->now);
    h = hash(c->origin);
    s = &b->stripes[h >> 60];
    /* The origin's slot and the number's owner are each a cache miss in
     * tables of megabytes: both are fetched at once, before the lock. */
    __builtin_prefetch(&s->orgs[h & (b->per_stripe - 1)]);
    if (c->presented && c->presented[0]) {
        nh = hash(c->presented);
        own = &b->owners[(nh >> 16) & b->owners_mask];
        __builtin_prefetch((const void *)own);
    }
    if (c->callee && c->callee[0])
        ch = hash(c->callee);
    pthread_mutex_lock(&s->lock);
    o = slot(b, s, h, c->now);
    if (c->now > o->last)
        o->last = c->now;
    roll(b, o, c->now);
    g = &o->g[0];
    g->calls++;
    if (own) {
        unsigned i = (unsigned)(nh % BITS);
        /* the number's tag in the high half, the origin's in the low half,
         * whose bit 1 says whether the owner is a wide signer */
        uint64_t tag = (nh >> 32) << 32 | ((uint32_t)(h | 1) & ~2u);
        bool unowned = c->trunk ? c->suspect : !c->owned;
        if (c->owned && !c->trunk) {
            if (!bit_get(o->signed_all, i)) {
                bit_set(o->signed_all, i);
                o->signed_set++;
            }
            if (b->linear[o->signed_set < BITS ? o->signed_set : BITS - 1] >= cf->min_numbers)
                tag |= 2;
            if (atomic_load_explicit(own, memory_order_relaxed) != tag)
                atomic_store_explicit(own, tag, memory_order_relaxed);
        } else if (!c->trunk) {
            uint64_t cur = atomic_load_explicit(own, memory_order_relaxed);
            if (cur >> 32 == nh >> 32 && ((uint32_t)cur | 2) != ((uint32_t)tag | 2)) {
                /* another origin signs it at A */
                g->borrowed_calls++;
                mark(o, S_BOR, i);
                if (cur & 2) { /* among many numbers: a subscriber's */
                    g->wide_calls++;
                    if (!bit_get(g->sk[S_WBOR], i) && !bit_get(o->g[1].sk[S_WBOR], i) &&
                        !bit_get(o->hist[0], i) && !bit_get(o->hist[1], i))
                        g->wide_fresh++;
                    mark(o, S_WBOR, i);
                    note_owner(g, (uint32_t)cur);
                }
            }
        }
        if (unowned) {
            g->unowned_calls++;
            if (!bit_get(g->sk[S_NUMS], i) && !bit_get(o->g[1].sk[S_NUMS], i) &&
                !bit_get(o->hist[0], i) && !bit_get(o->hist[1], i))
                g->fresh++;
            mark(o, S_NUMS, i);
        }
        if (c->suspect)
            mark(o, S_SUS, i);
    }
    if (c->callee && c->callee[0])
        mark(o, S_CALLEE, (unsigned)(ch % BITS));
    calls = g->calls + o->g[1].calls;
    uc = g->unowned_calls + o->g[1].unowned_calls;
    nums = distinct(b, o, S_NUMS);
    sus = distinct(b, o, S_SUS);
    fresh = g->fresh + o->g[1].fresh;
    callees = distinct(b, o, S_CALLEE);
    bor = distinct(b, o, S_BOR);
    bor_calls = g->borrowed_calls + o->g[1].borrowed_calls;
    wbor = distinct(b, o, S_WBOR);
    wcalls = g->wide_calls + o->g[1].wide_calls;
    wfresh = g->wide_fresh + o->g[1].wide_fresh;
    wown = owners(g, &o->g[1]);
    feature = nums + sus;
    o->feature = feature;
    scale = atomic_load(&b->pop_scale) / 100.0;
    out->z = (feature - atomic_load(&b->pop_median) / 100.0) / (scale > 1.0 ? scale : 1.0);
    /* the floors, then what makes the unowned numbers a campaign's: one
     * new number every other call (rotation), suspect numbers, or, once
     * the origin has a history that is not saturated, numbers it never
     * used before.  Many callees are as many as the floor's numbers, even
     * when each is called a few times (a spoofer calling each victim back
     * with new numbers).  The population raises the bar on a network where many
     * origins present many numbers, but no higher than twice the floor:
     * a reseller's many accounts campaigning together would otherwise be
     * the norm and its spread. */
    {
        /* seen for a window, with numbers in its history; a saturated
         * history (most bits set) tells no longer what is new */
        bool seen = c->now - o->first >= cf->window && o->hist_set > 0;
        bool history = seen && o->hist_set <= BITS * 3 / 4;
        bool floors = calls >= cf->min_calls && uc * 100 >= cf->unowned_pct * calls &&
                      (callees * 100 >= cf->fanout_pct * calls || callees >= cf->min_numbers);
        bool habitual = history && fresh * 100 < cf->fresh_pct * nums;
        /* the population's bar; one point of z lower for subscribers'
         * numbers, as a slow borrower shows two or three at a time */
        bool apart = out->z * 10 >= cf->z_tenths || feature >= 2 * cf->min_numbers;
        bool apart_wide = out->z * 10 + 10 >= cf->z_tenths || feature >= 2 * cf->min_numbers;
        bool rotation = feature >= cf->min_numbers && (nums * 100 >= cf->rotation_pct * calls ||
                                                       sus >= 3 || (history && !habitual));
        /* slow rotation through borrowed numbers: several calls each (a
         * forwarder carries each subscriber's number once or twice), then
         * new ones (an agency keeps its clients') */
        bool borrowing = history && !habitual && bor >= 3 && bor_calls >= 3 * bor;
        /* subscribers' numbers (their owners sign many), of more than one
         * owner, several calls each (an agency presents businesses' few
         * lines, an outsourcer one enterprise's, a forwarder each
         * subscriber's once or twice), at least a third of them new to its
         * history once it has one; a saturated history (a platform's many
         * users) is not judged by this rule. */
        bool wide_turnover = !seen || (history && wfresh * 3 >= wbor);
        bool wide_new = history && wfresh * 100 >= cf->fresh_pct * wbor;
        bool subscribers = wide_turnover && wbor >= 2 && wown >= 2 && wcalls >= 3 * wbor;
        judged = floors && ((apart && (rotation || borrowing)) || (apart_wide && subscribers));
        /* Judged on subscribers' numbers that its history does not show
         * new to it (it has none yet, or carries some over), an origin
         * could be an agency presenting large clients' numbers: held, but
         * tentatively.  Its history decides: most of them new confirms the
         * hold; only numbers it has presented before, long after a
         * borrower's would have changed (three windows since it was first
         * seen), release it. */
        tentative = judged && !wide_new && !(apart && (rotation || borrowing));
        refuted = c->now - o->first >= 3 * (int64_t)cf->window && seen && floors && wbor >= 2 &&
                  wfresh == 0;
    }
    was = o->held_until > c->now;
    if (judged) {
        int64_t until = c->now + (cf->hold > 0 ? cf->hold : 1);
        if (!tentative)
            o->tentative = false;
        else if (!was)
            o->tentative = true;
        if (until > o->held_until) /* a call's time can be behind another's */
            o->held_until = until;
    } else if (o->tentative && refuted) {
        o->tentative = false;
        o->held_until = c->now;
    }
    out->campaign = o->held_until > c->now;
    out->active = judged;
    out->borrowed = bor;
    out->borrowed_calls = bor_calls;
    out->crossed = out->campaign && !was;
    out->calls = calls;
    out->unowned_calls = uc;
    out->numbers = nums;
    out->suspect = sus;
    out->fresh = fresh;
    out->callees = callees;
    pthread_mutex_unlock(&s->lock);
    return CG_OK;
}

unsigned cg_behaviour_suspected(struct cg_behaviour *b, int64_t now)
{
    unsigned n = 0;
    size_t i, j;
    if (!b)
        return 0;
    for (i = 0; i < STRIPES; i++) {
        struct stripe *s = &b->stripes[i];
        pthread_mutex_lock(&s->lock);
        for (j = 0; j < b->per_stripe; j++)
            n += s->orgs[j].hash && s->orgs[j].held_until > now;
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

int64_t cg_behaviour_clock(struct cg_behaviour *b)
{
    return b ? atomic_load_explicit(&b->latest, memory_order_relaxed) : 0;
}

/* --- the wire ------------------------------------------------------------------------------ */

/* past any wall clock in seconds, also one a replay runs 100,000 times
 * faster ([policy] campaign_time_scale) */
#define WIRE_TIME_MAX 1000000000000000LL

static bool wire_number_ok(const char *s, size_t n)
{
    size_t i;
    if (!n || n > CG_BEHAVIOUR_NUMBER_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '*' || s[i] == '#'))
            return false;
    return true;
}

static bool wire_origin_ok(const char *s, size_t n)
{
    size_t i;
    if (!n || n > CG_BEHAVIOUR_ORIGIN_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

size_t cg_behaviour_call_encode(const struct cg_behaviour_call *c, char *buf, size_t cap)
{
    const char *p = c && c->presented && c->presented[0] ? c->presented : "-";
    const char *e = c && c->callee && c->callee[0] ? c->callee : "-";
    size_t pn = strlen(p), en = strlen(e), on, tn = 0, n;
    char t[20];
    uint64_t now;
    if (!c || !buf || !c->origin || c->now < 0 || c->now >= WIRE_TIME_MAX ||
        !wire_origin_ok(c->origin, on = strlen(c->origin)) ||
        (strcmp(p, "-") && !wire_number_ok(p, pn)) || (strcmp(e, "-") && !wire_number_ok(e, en)))
        return 0;
    /* written by hand: snprintf was two thirds of sharing a call's cost */
    now = (uint64_t)c->now;
    do
        t[tn++] = (char)('0' + now % 10);
    while ((now /= 10) != 0);
    n = 2 + tn + 3 + pn + 1 + en + 1 + on;
    if (n >= cap)
        return 0;
    buf[0] = '1';
    buf[1] = ' ';
    for (n = 2; tn;)
        buf[n++] = t[--tn];
    buf[n++] = ' ';
    buf[n++] = (char)('0' + ((c->owned ? 1 : 0) | (c->suspect ? 2 : 0) | (c->trunk ? 4 : 0)));
    buf[n++] = ' ';
    memcpy(buf + n, p, pn);
    n += pn;
    buf[n++] = ' ';
    memcpy(buf + n, e, en);
    n += en;
    buf[n++] = ' ';
    memcpy(buf + n, c->origin, on);
    n += on;
    buf[n] = '\0';
    return n;
}

/* The next space-separated field of [*s, end) into dst (cap bytes with its
 * NUL); false when it is empty or too long. */
static bool wire_field(const char **s, const char *end, char *dst, size_t cap, size_t *len)
{
    const char *sp = memchr(*s, ' ', (size_t)(end - *s));
    size_t n;
    if (!sp)
        return false;
    n = (size_t)(sp - *s);
    if (!n || n >= cap)
        return false;
    memcpy(dst, *s, n);
    dst[n] = '\0';
    *len = n;
    *s = sp + 1;
    return true;
}

int cg_behaviour_call_decode(const char *s, size_t n, struct cg_behaviour_wire *w,
                             struct cg_behaviour_call *c)
{
    const char *end = s + n;
    char head[24];
    size_t len, i;
    int64_t now = 0;
    if (!s || !w || !c)
        return CG_EINVAL;
    memset(c, 0, sizeof *c);
    /* strict, so that a line decodes only as the encoder writes it: no NUL
     * inside, no leading zero */
    if (n > CG_BEHAVIOUR_WIRE_MAX || memchr(s, '\0', n) ||
        !wire_field(&s, end, head, sizeof head, &len) || strcmp(head, "1") ||
        !wire_field(&s, end, head, sizeof head, &len) || len > 15 || (len > 1 && head[0] == '0'))
        return CG_EPARSE;
    for (i = 0; i < len; i++) {
        if (head[i] < '0' || head[i] > '9')
            return CG_EPARSE;
        now = now * 10 + (head[i] - '0');
    }
    if (now >= WIRE_TIME_MAX || !wire_field(&s, end, head, sizeof head, &len) || len != 1 ||
        head[0] < '0' || head[0] > '7')
        return CG_EPARSE;
    c->owned = (head[0] - '0') & 1;
    c->suspect = (head[0] - '0') & 2;
    c->trunk = (head[0] - '0') & 4;
    c->now = now;
    if (!wire_field(&s, end, w->presented, sizeof w->presented, &len) ||
        (strcmp(w->presented, "-") && !wire_number_ok(w->presented, len)) ||
        !wire_field(&s, end, w->callee, sizeof w->callee, &len) ||
        (strcmp(w->callee, "-") && !wire_number_ok(w->callee, len)))
        return CG_EPARSE;
    len = (size_t)(end - s);
    if (!wire_origin_ok(s, len))
        return CG_EPARSE;
    memcpy(w->origin, s, len);
    w->origin[len] = '\0';
    c->origin = w->origin;
    c->presented = strcmp(w->presented, "-") ? w->presented : NULL;
    c->callee = strcmp(w->callee, "-") ? w->callee : NULL;
    return CG_OK;
}
