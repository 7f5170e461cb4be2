/*
 * cg_analyze: spoofing campaigns, their victims and their origins, from
 * call records.
 *
 * One streaming pass reads the input (zlib reads gzip and plain files
 * alike), interns numbers and origins, and writes a 32-byte record per row
 * to an unlinked temporary file; the analysis then reads those twice:
 *
 *   per call   protected number not verified by its signer (the policy's own
 *              rule), DNO number, UK number from an international ingress
 *              (+447 roaming excepted), failed or missing verification on a
 *              number that usually verifies (>= 3 passes, >= 80%);
 *   per origin (ingress, SPC, origid): an account (origid known) is spoofing
 *              when any of its calls carries a per-call signal, or when it
 *              rotates: >= 20 distinct presented numbers, at least one per
 *              two calls, mostly without A attestation.  A call centre or
 *              bank signing A for its own few numbers never rotates.
 *
 * A spoofing account's calls are all one campaign (offences stack per
 * account); on a trunk without origid (unsigned traffic) only the calls
 * with a per-call signal count, one campaign per kind.  Burst, reach and
 * talk time are reported as evidence for each campaign.
 */
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "analyze/analyze_internal.h"
#include "cidguard/error.h"
#include "cidguard/policy.h"
#include "core/internal.h"

#define LINE_MAX_BYTES 65536
#define RANGE_READ (4 * LINE_MAX_BYTES) /* a large input's reads */
#define MAX_FIELDS 32

#ifdef CG_ANALYZE_PHASES /* tuning: each phase's wall time on stderr */
#include <time.h>
static double seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void phase(const char *name)
{
    static double wall, cpu;
    double w, c;
    if (!getenv("CG_ANALYZE_PHASES"))
        return;
    w = seconds(CLOCK_MONOTONIC);
    c = seconds(CLOCK_PROCESS_CPUTIME_ID);
    if (wall > 0)
        fprintf(stderr, "phase %-16s %7.3f s wall %7.3f s cpu\n", name, w - wall, c - cpu);
    wall = w;
    cpu = c;
}
#else
#define phase(name) ((void)0)
#endif

/* --- small containers -------------------------------------------------------- */

/*
 * Asks for large (2 MB) pages under a big table's whole pages: its
 * lookups land anywhere in it, and with 4 KB pages nearly every one also
 * missed the TLB.  Where the system gives them only on request
 * (transparent_hugepage=madvise, Debian's default); a hint, nothing
 * depends on it.
 */
#define HUGE_PAGE (2u << 20)
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (p && end > start)
        madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

/*
 * realloc for a block that may be large (its first `used` bytes kept),
 * with large pages under it.  A large block is moved by hand: realloc
 * copied it into fresh pages before they could be advised (its mremap
 * cannot move a mapping that advice has split), so the copy faulted in
 * 4 KB pages, one fault each, and the table then missed the TLB as if it
 * had never been advised.  10 million rows: 140,000 page faults, most of
 * them in these copies, each dear under virtualisation.
 */
static void *grow_block(void *p, size_t used, size_t bytes)
{
    void *np;
    if (bytes < 2 * HUGE_PAGE) {
        if ((np = realloc(p, bytes)))
            advise_huge(np, bytes);
        return np;
    }
    if (!(np = malloc(bytes)))
        return NULL;
    advise_huge(np, bytes);
    if (used)
        memcpy(np, p, used);
    free(p);
    return np;
}

/* Makes room in the array *p (of *cap elements of `size` bytes) for the
 * element at `index`: the capacity doubles from `first`, on huge pages
 * where the array is large enough to use them. */
static int grow(void **p, size_t *cap, size_t index, size_t size, size_t first)
{
    size_t nc = *cap ? *cap * 2 : first;
    void *np;
    if (index < *cap)
        return CG_OK;
    while (nc <= index)
        nc *= 2;
    if (!(np = grow_block(*p, *cap * size, nc * size)))
        return CG_ENOMEM;
    *p = np;
    *cap = nc;
    return CG_OK;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Eight bytes at a time, each word mixed in (FNV-1a's byte at a time was
 * most of hashing an origin's key, "ingress|spc|origid", some 50 bytes on
 * every row); the result mixed, as numbers share long prefixes and the
 * low bits are the slot index. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    memcpy(&w, s, n);
    return mix64((h ^ w) * 0x94d049bb133111ebull);
}

/* Interned strings: ids are dense from 0.  A string may also be pushed
 * without a slot (st_push), when an index of its own finds it: the slots
 * then hold only the strings interned here (nslot of them). */
struct stslot {
    uint32_t fp, id;   /* the hash's high half; id + 1, 0 = empty */
    uint32_t off, len; /* the string's, so that a probe reads the arena and no more */
};
struct strtab {
    /* a probe that misses never reads the string; a hit reads the slot and
     * the text (with the offset and length by id, a hit read four cache
     * lines, and its memcmp, where they were waited for, was a tenth of a
     * 10-million-row run under perf) */
    struct stslot *slot;
    uint32_t cap, n, nslot;
    uint32_t *off, *len; /* per id: where in the arena, how long */
    uint32_t idcap;
    char *arena;
    size_t alen, acap;
};

static int st_grow(struct strtab *t)
{
    uint32_t ncap = t->cap ? t->cap * 2 : 64, i;
    struct stslot *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return -1;
    advise_huge(ns, ncap * sizeof *ns);
    memset(ns, 0, ncap * sizeof *ns);
    for (i = 0; i < t->cap; i++)
        if (t->slot[i].id) {
            const struct stslot *o = &t->slot[i];
            uint32_t j = (uint32_t)hash_bytes(t->arena + o->off, o->len) & (ncap - 1);
            while (ns[j].id)
                j = (j + 1) & (ncap - 1);
            ns[j] = *o;
        }
    free(t->slot);
    t->slot = ns;
    t->cap = ncap;
    return 0;
}

/* Appends s (n bytes) as the next id, in no slot; -1 when out of memory. */
static int64_t st_push(struct strtab *t, const char *s, size_t n)
{
    if (t->n == t->idcap) {
        uint32_t nc = t->idcap ? t->idcap * 2 : 64;
        uint32_t *no = grow_block(t->off, t->idcap * sizeof *no, nc * sizeof *no), *nl;
        if (!no)
            return -1;
        t->off = no;
        if (!(nl = grow_block(t->len, t->idcap * sizeof *nl, nc * sizeof *nl)))
            return -1;
        t->len = nl;
        t->idcap = nc;
    }
    if (t->alen + n + 1 > t->acap) {
        size_t nc = t->acap ? t->acap * 2 : 4096;
        char *na;
        while (nc < t->alen + n + 1)
            nc *= 2;
        if (!(na = grow_block(t->arena, t->alen, nc)))
            return -1;
        t->arena = na;
        t->acap = nc;
    }
    memcpy(t->arena + t->alen, s, n);
    t->arena[t->alen + n] = '\0';
    t->off[t->n] = (uint32_t)t->alen;
    t->len[t->n] = (uint32_t)n;
    t->alen += n + 1;
    return t->n++;
}

/* The id of s (created when new, *created set); -1 when out of memory. */
static int64_t intern_hashed(struct strtab *t, const char *s, size_t n, uint64_t h, bool *created)
{
    uint32_t fp = (uint32_t)(h >> 32), j;
    int64_t id;
    *created = false;
    if ((t->nslot + 1) * 2 > t->cap && st_grow(t))
        return -1;
    for (j = (uint32_t)h & (t->cap - 1); t->slot[j].id; j = (j + 1) & (t->cap - 1)) {
        const struct stslot *o = &t->slot[j];
        if (o->fp == fp && o->len == n && memcmp(t->arena + o->off, s, n) == 0)
            return o->id - 1;
    }
    if ((id = st_push(t, s, n)) < 0)
        return -1;
    t->slot[j] = (struct stslot){fp, (uint32_t)id + 1, t->off[id], (uint32_t)n};
    t->nslot++;
    *created = true;
    return id;
}

static int64_t intern(struct strtab *t, const char *s, size_t n, bool *created)
{
    return intern_hashed(t, s, n, hash_bytes(s, n), created);
}

static const char *st_str(const struct strtab *t, uint32_t id)
{
    return t->arena + t->off[id];
}

static void st_free(struct strtab *t)
{
    free(t->slot);
    free(t->off);
    free(t->len);
    free(t->arena);
}

/*
 * One open-addressing table of 64-bit keys to 32-bit values serves as the
 * number index, the pair sets and the counters; key and value share a slot
 * (one cache line a probe).  ~0 marks an empty slot: no key here is ~0 (a
 * packed number's top bits hold its length, pairs hold two ids < 2^32-1).
 */
static int map_grow(struct map64 *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64, i;
    struct mslot *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return -1;
    advise_huge(ns, ncap * sizeof *ns);
    memset(ns, 0xff, ncap * sizeof *ns);
    for (i = 0; i < m->cap; i++)
        if (m->s[i].k != ~0ull) {
            size_t q = mix64(m->s[i].k) & (ncap - 1);
            while (ns[q].k != ~0ull)
                q = (q + 1) & (ncap - 1);
            ns[q] = m->s[i];
        }
    free(m->s);
    m->s = ns;
    m->cap = ncap;
    return 0;
}

/* The value of `key`, created as 0 when missing (*fresh says which); NULL
 * when out of memory. */
static uint32_t *map_slot(struct map64 *m, uint64_t key, bool *fresh)
{
    size_t j;
    *fresh = false;
    if ((m->n + 1) * 2 > m->cap && map_grow(m))
        return NULL;
    for (j = mix64(key) & (m->cap - 1); m->s[j].k != ~0ull; j = (j + 1) & (m->cap - 1))
        if (m->s[j].k == key)
            return &m->s[j].v;
    m->s[j].k = key;
    m->s[j].v = 0;
    m->n++;
    *fresh = true;
    return &m->s[j].v;
}

/*
 * Asks the cache for the slot a key probes first.  Always inlined: GCC 12
 * (Debian 12's) took a function that only prefetches for one without side
 * effects and dropped its calls (its IPA mod/ref analysis), so that none
 * of the index's prefetches were made and each lookup waited for memory.
 */
#define PREFETCHER static inline __attribute__((always_inline))
PREFETCHER void map_prefetch(const struct map64 *m, uint64_t key)
{
    if (m->cap)
        __builtin_prefetch(&m->s[mix64(key) & (m->cap - 1)]);
}

/* The value of a present key, else NULL (no insertion). */
static const uint32_t *map_peek(const struct map64 *m, uint64_t key)
{
    size_t j;
    if (!m->cap)
        return NULL;
    for (j = mix64(key) & (m->cap - 1); m->s[j].k != ~0ull; j = (j + 1) & (m->cap - 1))
        if (m->s[j].k == key)
            return &m->s[j].v;
    return NULL;
}

static bool map_has(const struct map64 *m, uint64_t key)
{
    size_t j;
    if (!m->cap)
        return false;
    for (j = mix64(key) & (m->cap - 1); m->s[j].k != ~0ull; j = (j + 1) & (m->cap - 1))
        if (m->s[j].k == key)
            return true;
    return false;
}

static uint32_t map_get(const struct map64 *m, uint64_t key)
{
    size_t j;
    if (!m->cap)
        return 0;
    for (j = mix64(key) & (m->cap - 1); m->s[j].k != ~0ull; j = (j + 1) & (m->cap - 1))
        if (m->s[j].k == key)
            return m->s[j].v;
    return 0;
}

/* Bit sets by id, for the passes: one that tests a bit of a few hundred
 * KB (which stays in the cache) before the record it stands for skips
 * most rows' trips to memory. */
static uint64_t *bits_new(size_t n)
{
    return calloc(n / 64 + 1, sizeof(uint64_t));
}

static bool bit_get(const uint64_t *b, size_t i)
{
    return b[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *b, size_t i)
{
    b[i / 64] |= 1ull << (i % 64);
}

/* Adds the pair (a, b) to a set: 1 when new, 0 when present, -1 out of memory. */
static int set_add(struct map64 *m, uint32_t a, uint32_t b)
{
    bool fresh;
    return map_slot(m, (uint64_t)a << 32 | b, &fresh) ? fresh : -1;
}

/* A counter of the map (created at 0); NULL when out of memory. */
static uint32_t *counter(struct map64 *m, uint64_t key)
{
    bool fresh;
    return map_slot(m, key, &fresh);
}

/*
 * Numbers by value: a number of up to 17 digits packed with its length into
 * 64 bits indexes its id.  Interning numbers as strings touched four cache
 * lines a lookup (slot, hash, length, text) and was two thirds of a
 * 2-million-row run under perf; this is one.  Longer numbers go by string.
 */
static uint64_t pack_number(const char *d, size_t n)
{
    uint64_t v = 0;
    size_t i;
    if (n == 0 || n > 17)
        return 0;
    for (i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(d[i] - '0');
    return (uint64_t)n << 58 | v;
}

/* The id of the canonical number d (in t when new).  A number packed
 * into a key is found by x alone: its text goes into t without a slot
 * (hashing it there again, and the slots' growth, were a tenth of the
 * reading). */
static int64_t intern_packed(struct map64 *x, struct strtab *t, const char *d, size_t n,
                             uint64_t key, bool *created)
{
    uint32_t *slot;
    int64_t id;
    if (!key)
        return intern(t, d, n, created);
    if (!(slot = map_slot(x, key, created)))
        return -1;
    if (!*created)
        return *slot;
    if ((id = st_push(t, d, n)) < 0)
        return -1;
    *slot = (uint32_t)id;
    return id;
}

static int64_t intern_number(struct map64 *x, struct strtab *t, const char *d, size_t n,
                             bool *created)
{
    return intern_packed(x, t, d, n, pack_number(d, n), created);
}

/* --- the state -------------------------------------------------------------------- */

/*
 * One call as the passes read it back from the spill file: 32 bytes.
 * `calling` is the network number (P-Asserted-Identity), `presented` the
 * presentation number (From's, what the callee is shown; the same id when
 * the two are one number).  flags holds the signals about the network
 * number, pflags those about the presentation number (ROW_*): the
 * presentation number took what was the structure's padding, so a row
 * costs no more than before.
 */
struct row {
    int64_t t;
    uint32_t calling, called, origin, dur, presented; /* number ids, origin id, seconds */
    uint8_t verstat, attest, flags, pflags;           /* VERSTAT_*, 'A'-'C' or 0, ROW_* */
};
_Static_assert(sizeof(struct row) == 32, "a spilled row is 32 bytes");

/* What the lists and the input say about one number, by number id. */
struct number {
    uint32_t verified_calls, calls; /* the calls presenting it: verified, all */
    int16_t brand;                  /* -1: not protected */
    bool dno;
    bool unallocated; /* a UK number in a range the loaded Ofcom data does not allocate */
    bool uk_mobile;   /* +447: may be a subscriber roaming abroad */
    /* its usual origin (the pair that signs it with A, or the trunk it
     * normally arrives on: pair index + 1, 0 = none), and the other
     * origins that presented it (others[first .. first + n) in the run's
     * list of pair indexes) */
    uint32_t owner, others_first, others_n;
};

/*
 * One (presentation number, origin) pair: how often the origin presented
 * the number, how often with A attestation verified for it, and when.  The
 * usual origin of a number is the pair that dominates its A-attested
 * calls (or, with none, its calls on one domestic trunk); a pair of
 * another origin is borrowing while the usual one keeps using the number.
 */
struct pair {
    /* what reading counts on every row first: in one cache line, not two */
    int64_t first, last;
    uint32_t calls, a_calls;
    uint32_t current; /* calls in this run's records (the rest from the baseline) */
    uint32_t number, origin;
    uint32_t inside; /* the usual origin's calls within this pair's first..last */
    bool borrowed;
};

/*
 * One origin (ingress, SPC, origid), by origin id.  The first pass counts
 * its behaviour over all its calls and decides whether it is spoofing; the
 * second counts what its spoofed calls did.
 */
#define ORIGIN_DETAILS 4 /* SPCs, origids, source addresses kept per customer (signing log) */

struct origin {
    /* What reading counts and the first pass asks on every row comes
     * first, within 64 bytes: the record is read at random, and these
     * fields were spread over three or four cache lines of it. */
    bool international; /* its ingress is an international gateway */
    bool account;       /* its origid is known: one customer, not a trunk */
    bool rotates;       /* decided by the first pass */
    uint32_t calls;
    int64_t first_call, last_call;
    uint32_t conclusive_calls;     /* calls with a ROW_CONCLUSIVE signal */
    uint32_t calls_not_verified_a; /* calls not verified, or verified below A */
    /* behaviour over all its calls (the first pass) */
    uint32_t answered, borrowed_numbers, foreign_calls;
    uint32_t neighbour_calls; /* calls presenting a neighbour of the callee (row_neighbour) */
    uint64_t talk;
    int32_t pop; /* index in the run's behaviour arrays (-1: too few calls to judge) */
    uint32_t distinct_presented; /* distinct calling numbers */
    /*
     * Signing log (the origin is a customer): attempts refused, calls
     * labelled rate_numbers and protected_share, conclusive calls about a
     * DNO or protected number, distinct numbers among the conclusive calls;
     * its first SPCs, origids and source addresses (ids in origin_details,
     * + 1; 0 = none), and whether it had more of each.
     */
    uint32_t refused, labelled[2], strong_calls, conclusive_numbers;
    uint32_t details[3][ORIGIN_DETAILS];
    bool more_details[3];
    bool spoofing;
    int reason; /* CG__R_*: the rule that listed it */
    uint32_t borrowed_calls;
    double lifetime;      /* sum over its numbers of calls times span of use */
    double lifetime_even; /* the same, were each number's calls spread over its whole span */
    bool borrows;         /* its borrowed calls count as spoofed (a trunk's others do not) */
    /* whose numbers it borrows (each presented at least 3 times): a
     * private subscriber's (its usual origin is a subscriber switch), a
     * bank's line (its usual origin signs a protected number); the
     * numbers it is the usual origin of, and whether it signs a protected
     * number A itself (decide_owners) */
    uint32_t private_calls, private_numbers, bank_calls, bank_numbers, owned;
    bool bank;
    uint32_t shared_calls; /* calls presenting a number another origin presents too */
    /* borrowed calls to a callee the number's owner called too, and the
     * borrowed numbers with such a call (count_contacts) */
    uint32_t contact_calls, contact_numbers;
    double contact_chance; /* the contact calls that chance alone would make */
    bool neighbours;       /* its neighbour calls count as spoofed (neighbouring) */
    /* of its spoofed calls */
    uint32_t spoofed_calls, victims, campaigns;
    int64_t first_spoofed, last_spoofed;
};

/*
 * One run of cg_analyze.  It owns everything here (freed by analysis_free)
 * except the options, which are the caller's; the findings borrow the three
 * string tables until the run is freed.
 */
struct analysis {
    const struct cg_analyze_opts *opts;
    struct cg_policy *policy;
    struct strtab number_text, origin_keys, brand_names; /* ids for numbers, origins, brands */
    /* signing log: the customers' SPCs, origids and addresses; the origins'
     * keys as the reports show them (customer|spcs|origids|addresses) */
    struct strtab origin_details, origin_display;
    bool signing;
    struct map64 number_index; /* packed number -> id */
    /* (network number, presentation number) pairs seen with a live call
     * intent on a protected number: a bank's own dialler */
    struct map64 intent_pairs;
    /* (presentation number, origin) pairs: the numbers' usual origins */
    struct map64 pair_index; /* number << 32 | origin -> pair index */
    struct pair *pairs;
    size_t npairs, pairs_cap;
    uint32_t *others; /* the non-usual pairs of each number (struct number) */
    /* by number id: usually verifies (usually_verifies), has others (a
     * usual origin and other pairs); by origin id: spoofing */
    uint64_t *verifies, *with_others, *spoofs;
    bool need_inside; /* some pair's borrowing depends on the usual origin's calls inside it */
    /* the origins with enough calls to be judged by behaviour */
    struct beh_pop *pop;
    size_t npop;
    /* by number id: a UK mobile's block (its first five national digits)
     * + 1, 0 for other numbers (row_neighbour); the fewest numbers a
     * subscriber switch is the usual origin of (decide_owners); over all
     * origins, the calls presenting a neighbour of their callee, and all
     * calls (neighbouring) */
    uint16_t *block;
    uint32_t switch_min;
    bool owners_told; /* switches are told from enterprises by size (owner_kinds) */
    uint64_t neighbour_calls, all_calls;
    struct map64 campaign_hours; /* a trunk's hours with calls of a kind -> segment */
    uint64_t out_of_order;       /* rows earlier than the latest time before them (kept) */
    const char *input;           /* the file being read (bad-row reports) */
    struct number *numbers;      /* by number id */
    size_t numbers_cap, numbers_made;
    struct origin *origins; /* by origin id */
    size_t origins_cap, origins_made;
    /* rows go to an unlinked temporary file, 32 bytes each, and are read
     * back twice: memory holds only numbers, origins and findings.  The
     * file is made when the first chunk is full; an input of fewer rows
     * stays in the chunk (no file at all for small inputs), which grows
     * to CHUNK_ROWS as rows come, so a small input costs little memory */
    FILE *spill;
    struct row *chunk;
    size_t nchunk, chunk_cap, nrows;
    bool chunk_unread; /* no file: the chunk is the rows, not yet read back */
    uint64_t line, bad_rows;
    int64_t tmin, tmax;
    uint64_t own_no_intent; /* a bank's own calls without a live intent (settle_flags) */
    /* the decision log's columns beyond the first eight, by name (-1: absent) */
    int dec_presented, dec_reasons[3], dec_intent;
};

/* Tells the caller about a row (by file and line) and why. */
static void report_row(struct analysis *a, const char *why)
{
    if (a->opts->bad_input)
        a->opts->bad_input(a->input, a->line, why, a->opts->arg);
    else if (a->opts->bad_row)
        a->opts->bad_row(a->line, why, a->opts->arg);
}

/* Counts a malformed row, which is skipped, and tells the caller why. */
static void skip_row(struct analysis *a, const char *why)
{
    a->bad_rows++;
    report_row(a, why);
}

/* --- time ------------------------------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void cg_time_iso(int64_t t, char out[21])
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - days * 86400,
            z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097),
             yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365,
             doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153,
             d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    unsigned f[6] = {
        (unsigned)(y % 10000), m, d, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
        (unsigned)(secs % 60)};
    static const char sep[6] = {'-', '-', 'T', ':', ':', 'Z'};
    int i, p = 0;
    /* digits written directly: no format parsing for every row's timestamp */
    out[p++] = (char)('0' + f[0] / 1000);
    out[p++] = (char)('0' + f[0] / 100 % 10);
    out[p++] = (char)('0' + f[0] / 10 % 10);
    out[p++] = (char)('0' + f[0] % 10);
    out[p++] = sep[0];
    for (i = 1; i < 6; i++) {
        out[p++] = (char)('0' + f[i] / 10 % 10);
        out[p++] = (char)('0' + f[i] % 10);
        out[p++] = sep[i];
    }
    out[p] = '\0';
}

static int num2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* The last second cg_time_iso writes, 9999-12-31T23:59:59Z: a later time
 * would be reported in another year. */
#define TIME_MAX 253402300799

/* The days of month mo (1-12) of year y. */
static unsigned month_days(int64_t y, unsigned mo)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[mo - 1] + (mo == 2 && leap);
}

/* The day of the last ISO time parsed, "YYYY-MM-DD" (a day that exists),
 * and its days since 1970: the rows of one day mostly follow one another,
 * and checking the day and counting its days were half of reading a time. */
struct day_memo {
    char date[10];
    int64_t days;
};

/* Unix seconds, or ISO 8601 UTC: YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|+00:00],
 * a day that exists, up to the year 9999.  m, when not NULL, remembers
 * the day between calls. */
static bool parse_time(const char *s, size_t n, int64_t *out, struct day_memo *m)
{
    size_t i;
    if (n && n <= 12 && strspn(s, "0123456789") >= n) {
        int64_t v = 0;
        for (i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        if (v > TIME_MAX)
            return false;
        *out = v;
        return true;
    }
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return false;
    {
        /* where "YYYY-MM-DD HH:MM:SS" has its digits: one test each, rather
         * than five position tests for every byte (every row has a time) */
        static const unsigned char digit_at[14] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
        unsigned bad = 0;
        for (i = 0; i < sizeof digit_at; i++)
            bad |= (unsigned char)(s[digit_at[i]] - '0') > 9;
        if (bad)
            return false;
    }
    {
        unsigned h = (unsigned)num2(s + 11), mi = (unsigned)num2(s + 14),
                 se = (unsigned)num2(s + 17);
        const char *rest = s + 19, *end = s + n;
        int64_t v, days;
        if (m && !memcmp(s, m->date, sizeof m->date)) {
            days = m->days;
        } else {
            int64_t y = num2(s) * 100 + num2(s + 2);
            unsigned mo = (unsigned)num2(s + 5), d = (unsigned)num2(s + 8);
            if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
                return false;
            days = days_from_civil(y, mo, d);
            if (m) {
                memcpy(m->date, s, sizeof m->date);
                m->days = days;
            }
        }
        if (h > 23 || mi > 59 || se > 60)
            return false;
        if (rest < end && *rest == '.')
            for (rest++; rest < end && *rest >= '0' && *rest <= '9'; rest++)
                ;
        if (!(rest == end || (end - rest == 1 && *rest == 'Z') ||
              (end - rest == 6 && (!memcmp(rest, "+00:00", 6) || !memcmp(rest, "-00:00", 6)))))
            return false;
        v = days * 86400 + h * 3600 + mi * 60 + se;
        if (v > TIME_MAX)
            return false;
        *out = v;
    }
    return true;
}

bool cg_time_parse(const char *s, size_t n, int64_t *out)
{
    return s && out && parse_time(s, n, out, NULL);
}

/* --- rows ------------------------------------------------------------------------------ */

/* VERSTAT_REFUSED: a signing-log record the policy refused, never signed
 * (its attest is 0); the log's signed calls are VERSTAT_PASSED. */
enum { VERSTAT_NONE, VERSTAT_PASSED, VERSTAT_FAILED, VERSTAT_REFUSED };

/*
 * What a call shows (a row's flags about its network number, pflags about
 * its presentation number).  All but ROW_VERIFY_FAILURE are per-call
 * signals that the lists decide as the row is read, and each is evidence
 * enough on its own: ROW_CONCLUSIVE.  ROW_VERIFY_FAILURE, an unverified
 * call presenting a number that usually verifies, needs every row's
 * verification first: the passes set it on the rows they read back, and it
 * only ever counts on an origin already found spoofing.
 * ROW_PROTECTED_NO_INTENT is a protected number neither verified nor
 * announced by a live call intent, when the input says whether one was;
 * the passes clear it on a bank's own dialler (settle_flags).
 */
#define ROW_PROTECTED_UNVERIFIED 1
#define ROW_DNO 2
#define ROW_UK_FROM_ABROAD 4
#define ROW_VERIFY_FAILURE 8
#define ROW_PROTECTED_NO_INTENT 16
#define ROW_UNALLOCATED 32
/* From a signing log's reasons: protected_not_customers, and a number that
 * is not valid or not assigned (uk_cli_invalid, uk_cli_premium_rate,
 * nanp_cli_invalid, nanp_cli_unassigned). */
#define ROW_NOT_CUSTOMERS 64
#define ROW_BAD_NUMBER 128
#define ROW_CONCLUSIVE                                                                             \
    (ROW_PROTECTED_UNVERIFIED | ROW_DNO | ROW_UK_FROM_ABROAD | ROW_PROTECTED_NO_INTENT |           \
     ROW_UNALLOCATED | ROW_NOT_CUSTOMERS | ROW_BAD_NUMBER)
/* The signals a typo or a misconfigured PBX does not produce: a DNO number
 * or a bank's number is chosen. */
#define ROW_STRONG                                                                                 \
    (ROW_PROTECTED_UNVERIFIED | ROW_DNO | ROW_PROTECTED_NO_INTENT | ROW_NOT_CUSTOMERS)

/* The signals of a call, about either number. */
static unsigned row_signals(const struct row *r)
{
    return (unsigned)r->flags | r->pflags;
}

/* Whether a live call intent matched the call: the input's `intent`. */
enum { INTENT_UNKNOWN, INTENT_YES, INTENT_NO };

/* A string view into the reader's buffer. */
struct sv {
    const char *p;
    size_t n;
};

/* One input row's fields as the readers found them, borrowed for add_row. */
struct raw_row {
    struct sv time, calling, called, dur, ingress, verstat, attest, origid, spc;
    struct sv presented, intent; /* empty: the network number; not said */
    /* signing log only (else empty): the customer is `ingress` */
    struct sv source, action, reasons;
};

#define CHUNK_ROWS 4096 /* rows written to, and read back from, the spill file at once */

/* Longest origin key, "ingress|spc|origid" with its terminator. */
#define ORIGIN_KEY_MAX 512

static int spill_flush(struct analysis *a)
{
    if (!a->nchunk)
        return CG_OK;
    if (!a->spill && !(a->spill = tmpfile()))
        return CG_EIO; /* read_input says why */
    if (fwrite(a->chunk, sizeof a->chunk[0], a->nchunk, a->spill) != a->nchunk)
        return CG_EIO;
    a->nchunk = 0;
    return CG_OK;
}

/* The rows again, a chunk at a time (after rows_rewind); 0 at the end. */
static size_t rows_next(struct analysis *a)
{
    size_t n;
    if (!a->spill) {
        n = a->chunk_unread ? a->nchunk : 0;
        a->chunk_unread = false;
        return n;
    }
    return fread(a->chunk, sizeof a->chunk[0], a->chunk_cap, a->spill); /* full: CHUNK_ROWS */
}

static int rows_rewind(struct analysis *a)
{
    if (!a->spill) {
        a->chunk_unread = true;
        return CG_OK;
    }
    return spill_flush(a) == CG_OK && fflush(a->spill) == 0 && fseek(a->spill, 0, SEEK_SET) == 0
               ? CG_OK
               : CG_EIO;
}

/* The record of number id, whose text is tn: made when the id is new (ids
 * are made in order, so a new one is the next record), with what the
 * lists say about the number. */
static int number_record(struct analysis *a, int64_t id, const char *tn)
{
    struct number *number;
    bool created;
    if (grow((void **)&a->numbers, &a->numbers_cap, (size_t)id, sizeof *a->numbers, 64) != CG_OK)
        return CG_ENOMEM;
    if ((size_t)id < a->numbers_made)
        return CG_OK;
    a->numbers_made++;
    number = &a->numbers[id];
    memset(number, 0, sizeof *number);
    number->brand = -1;
    number->uk_mobile = tn[0] == '4' && tn[1] == '4' && tn[2] == '7';
    if (a->policy) {
        const char *brand = cg_policy_protected_brand(a->policy, tn);
        struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A'};
        struct cg_policy_call c = {.verdict = &v, .caller = tn};
        struct cg_decision d;
        if (brand) {
            int64_t b = intern(&a->brand_names, brand, strlen(brand), &created);
            if (b < 0)
                return CG_ENOMEM;
            number->brand = (int16_t)(b < 32767 ? b : 32767);
        }
        cg_policy_decide(a->policy, NULL, &c, &d);
        number->dno = d.reasons & (1u << CG_PR_DNO);
        number->unallocated = d.reasons & (1u << CG_PR_UK_UNALLOCATED);
    }
    return CG_OK;
}

/* The id of a canonical number; a new one is looked up in the lists once. */
static int64_t number_id(struct analysis *a, const char *tn)
{
    bool created;
    int64_t id = intern_number(&a->number_index, &a->number_text, tn, strlen(tn), &created);
    return id >= 0 && number_record(a, id, tn) == CG_OK ? id : -1;
}

/* yes, no or empty (any case): whether a live call intent matched. */
static bool parse_intent(struct sv v, int *intent)
{
    *intent = v.n == 0                                  ? INTENT_UNKNOWN
              : v.n == 3 && !strncasecmp(v.p, "yes", 3) ? INTENT_YES
              : v.n == 2 && !strncasecmp(v.p, "no", 2)  ? INTENT_NO
                                                        : -1;
    return *intent >= 0;
}

/*
 * A field's canonical number, as cg_tn_canon reads it.  A global number
 * written as '+' and its digits alone (1 to CG_TN_MAX), as nearly every
 * record writes one, is those digits: read here without the header
 * reader's steps, which were a fifth of parsing a row.
 */
static int tn_canon(const char *p, size_t n, const struct cg_tn_plan *plan, char out[CG_TN_MAX + 1])
{
    if (n >= 2 && n <= CG_TN_MAX + 1 && p[0] == '+') {
        size_t i = 1;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == n) {
            memcpy(out, p + 1, n - 1);
            out[n - 1] = '\0';
            return CG_OK;
        }
    }
    return cg_tn_canon(p, n, plan, out);
}

/*
 * Parses a row's time, numbers (canonical, into calling, presented and
 * called), duration, verstat, attestation and intent into r and *intent,
 * and checks that its origin key fits.  A malformed field skips the row:
 * the reason (for the first in that order) is returned, NULL for a row.  A
 * presentation number that is not a number (empty, "anonymous", a
 * withheld From) is the network number: the callee was shown nothing else
 * to trust.
 */
static const char *parse_row(const struct cg_tn_plan *plan, const struct raw_row *in, struct row *r,
                             char calling[CG_TN_MAX + 1], char presented[CG_TN_MAX + 1],
                             char called[CG_TN_MAX + 1], int *intent, struct day_memo *day)
{
    size_t i;
    if (!in->time.n)
        return "time is missing";
    if (!parse_time(in->time.p, in->time.n, &r->t, day))
        return "time is neither ISO 8601 UTC nor Unix seconds";
    if (tn_canon(in->calling.p, in->calling.n, plan, calling) != CG_OK)
        return in->calling.n ? "calling is not a telephone number" : "calling is missing";
    if (!in->presented.n || tn_canon(in->presented.p, in->presented.n, plan, presented) != CG_OK)
        memcpy(presented, calling, CG_TN_MAX + 1);
    if (tn_canon(in->called.p, in->called.n, plan, called) != CG_OK)
        return in->called.n ? "called is not a telephone number" : "called is missing";
    if (!parse_intent(in->intent, intent))
        return "intent is neither yes, no nor empty";
    if (in->dur.n && in->dur.p[0] == '-')
        return "duration is negative";
    for (i = 0; i < in->dur.n; i++) {
        if (in->dur.p[i] < '0' || in->dur.p[i] > '9' || r->dur > 100000000)
            return "duration is not a whole number of seconds";
        r->dur = r->dur * 10 + (uint32_t)(in->dur.p[i] - '0');
    }
    if (in->ingress.n + in->spc.n + in->origid.n + 3 > ORIGIN_KEY_MAX)
        return "ingress, spc or origid too long";
    r->verstat =
        in->verstat.n == 20 && !memcmp(in->verstat.p, "TN-Validation-Passed", 20)   ? VERSTAT_PASSED
        : in->verstat.n == 20 && !memcmp(in->verstat.p, "TN-Validation-Failed", 20) ? VERSTAT_FAILED
                                                                                    : VERSTAT_NONE;
    r->attest = in->attest.n == 1 && in->attest.p[0] >= 'A' && in->attest.p[0] <= 'C'
                    ? (uint8_t)in->attest.p[0]
                    : 0;
    return NULL;
}

/* An origin's key "ingress|spc|origid" (parse_row has checked that it
 * fits in ORIGIN_KEY_MAX) into key; returns its length. */
static size_t origin_key(const struct raw_row *in, char *key)
{
    const struct sv *ingress = &in->ingress, *spc = &in->spc, *origid = &in->origid;
    memcpy(key, ingress->p, ingress->n);
    key[ingress->n] = '|';
    memcpy(key + ingress->n + 1, spc->p, spc->n);
    key[ingress->n + 1 + spc->n] = '|';
    memcpy(key + ingress->n + 2 + spc->n, origid->p, origid->n);
    return ingress->n + spc->n + origid->n + 2;
}

/* The record of origin id (its ingress, spc and origid in `in`), made
 * when the id is new: a new origin learns from the ingress list whether it
 * is international. */
static int origin_record(struct analysis *a, int64_t id, const struct raw_row *in)
{
    struct origin *origin;
    char name[256];
    if (grow((void **)&a->origins, &a->origins_cap, (size_t)id, sizeof *a->origins, 64) != CG_OK)
        return CG_ENOMEM;
    if ((size_t)id < a->origins_made)
        return CG_OK;
    a->origins_made++;
    origin = &a->origins[id];
    memset(origin, 0, sizeof *origin);
    if (a->policy && in->ingress.n && in->ingress.n < sizeof name) {
        memcpy(name, in->ingress.p, in->ingress.n);
        name[in->ingress.n] = '\0';
        cg_policy_ingress(a->policy, name, NULL, &origin->international);
    }
    /* An origid names the signer's customer, an account answerable for all
     * its calls.  On an international ingress it names a gateway's upstream
     * partner (signed C: the gateway does not know the callers), whose
     * foreign callers each bring a new number: judged as a trunk is, by its
     * calls' signals, not taken whole for rotating or spoofing. */
    origin->account = in->origid.n > 0 && !origin->international;
    return CG_OK;
}

/* The id of the row's origin, the key "ingress|spc|origid" (parse_row has
 * checked that it fits); -1 when out of memory. */
static int64_t origin_id(struct analysis *a, const struct raw_row *in)
{
    char key[ORIGIN_KEY_MAX];
    size_t n = origin_key(in, key);
    bool created;
    int64_t id = intern(&a->origin_keys, key, n, &created);
    return id >= 0 && origin_record(a, id, in) == CG_OK ? id : -1;
}

/* Keeps a customer's SPC, origid or address v among its first
 * ORIGIN_DETAILS of that kind (ids in origin_details + 1), or notes that
 * it had more.  Compared before it is interned: nearly every row repeats
 * what its customer already has, and hashing three strings a row was a
 * fifth of a signing log's analysis. */
static int add_detail(struct analysis *a, struct origin *origin, int kind, struct sv v)
{
    const struct strtab *t = &a->origin_details;
    bool created;
    int64_t id;
    int k;
    if (!v.n)
        return CG_OK;
    for (k = 0; k < ORIGIN_DETAILS && origin->details[kind][k]; k++) {
        uint32_t d = origin->details[kind][k] - 1;
        if (t->len[d] == v.n && !memcmp(t->arena + t->off[d], v.p, v.n))
            return CG_OK;
    }
    if (k == ORIGIN_DETAILS) {
        origin->more_details[kind] = true;
        return CG_OK;
    }
    if ((id = intern(&a->origin_details, v.p, v.n, &created)) < 0)
        return CG_ENOMEM;
    origin->details[kind][k] = (uint32_t)id + 1;
    return CG_OK;
}

/*
 * The id of a signing log row's origin: its customer (`ingress` here), or
 * its source address for a caller who is no customer.  A customer is one
 * account whatever its ingresses, origids and addresses (offences stack
 * per customer), which it keeps as details for the traceback.  -1 when
 * out of memory.
 */
static int64_t customer_id(struct analysis *a, const struct raw_row *in)
{
    struct sv who = in->ingress.n ? in->ingress : in->source;
    char key[ORIGIN_KEY_MAX];
    bool created;
    int64_t id;
    struct origin *origin;

    if (who.n + 2 > sizeof key)
        who.n = sizeof key - 2;
    key[0] = in->ingress.n ? 'c' : 's'; /* a customer named like an address is not it */
    key[1] = '|';
    memcpy(key + 2, who.p, who.n);
    if ((id = intern(&a->origin_keys, key, who.n + 2, &created)) < 0)
        return -1;
    if (grow((void **)&a->origins, &a->origins_cap, (size_t)id, sizeof *a->origins, 64) != CG_OK)
        return -1;
    origin = &a->origins[id];
    if (created) {
        memset(origin, 0, sizeof *origin);
        origin->account = true;
    }
    if (add_detail(a, origin, 0, in->spc) != CG_OK ||
        add_detail(a, origin, 1, in->origid) != CG_OK ||
        add_detail(a, origin, 2, in->source) != CG_OK)
        return -1;
    return id;
}

/* Whether the row's verification (of its network number, tn) is by one of
 * the protected number's allowed signers at its attestation: the policy's
 * own rule, which names the brand only then. */
static bool signer_verified(const struct analysis *a, const struct row *r, const char *tn,
                            struct sv spc)
{
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = (char)r->attest};
    struct cg_policy_call c = {.verdict = &v, .caller = tn};
    struct cg_decision d;
    if (r->verstat != VERSTAT_PASSED || spc.n >= sizeof v.spc)
        return false;
    memcpy(v.spc, spc.p, spc.n);
    v.spc[spc.n] = '\0';
    cg_policy_decide(a->policy, NULL, &c, &d);
    return d.reasons & (1u << CG_PR_BRAND);
}

/* What the lists say about a number, as a row's signals ask it: carried
 * with a staged row, so that a reader thread that keeps the numbers'
 * records can hand it over. */
#define LISTED_DNO 1
#define LISTED_UNALLOCATED 2
#define LISTED_PROTECTED 4

static uint8_t listed(const struct number *number)
{
    return (uint8_t)((number->dno ? LISTED_DNO : 0) |
                     (number->unallocated ? LISTED_UNALLOCATED : 0) |
                     (number->brand >= 0 ? LISTED_PROTECTED : 0));
}

/*
 * The signals the lists decide about one number of a row (ROW_CONCLUSIVE):
 * DNO, Ofcom-unallocated, UK from abroad (+447 roaming excepted), and a
 * protected number neither verified by its signer (`verified` says whether
 * the row's verification is about this number) nor announced by a live
 * call intent.  Without intent data that is protected_unverified, as the
 * daemon decides without intents; with intent=no, protected_no_intent.
 */
static uint8_t number_signals(const struct analysis *a, const struct row *r, unsigned lists,
                              const char *tn, bool verified, struct sv spc, int intent)
{
    uint8_t f = 0;
    if (lists & LISTED_DNO)
        f |= ROW_DNO;
    if (lists & LISTED_UNALLOCATED)
        f |= ROW_UNALLOCATED;
    /* A signing log's protected numbers are judged by the daemon, which
     * knows their owners (protected_not_customers in its reasons); its
     * customers are not gateways. */
    if (a->signing)
        return f;
    if ((lists & LISTED_PROTECTED) && intent != INTENT_YES &&
        !(verified && signer_verified(a, r, tn, spc)))
        f |= intent == INTENT_NO ? ROW_PROTECTED_NO_INTENT : ROW_PROTECTED_UNVERIFIED;
    if (a->origins[r->origin].international && tn[0] == '4' && tn[1] == '4' && tn[2] != '7')
        f |= ROW_UK_FROM_ABROAD;
    return f;
}

/* Sets the row's per-call signals that the lists decide, about each of its
 * numbers (what the lists say of each in lists[]); spc is its signer.  The
 * verification in a record is of the network number: a different
 * presentation number is unverified. */
static void mark_listed_signals(struct analysis *a, struct row *r, const uint8_t lists[2],
                                const char *calling, const char *presented, struct sv spc,
                                int intent)
{
    r->flags = number_signals(a, r, lists[0], calling, true, spc, intent);
    r->pflags = r->presented == r->calling
                    ? r->flags
                    : number_signals(a, r, lists[1], presented, false, spc, intent);
}

static bool has_code(struct sv list, const char *code);

/*
 * A signing log row's own findings: whether the policy refused it (never
 * signed: VERSTAT_REFUSED, else VERSTAT_PASSED at its attestation), the
 * signals in its reasons, and its labels (counted on its customer).  The
 * log does not say which number a reason was about: one the lists already
 * flagged for it keeps it, else it goes to the presentation number when
 * the call had a different one (what the customer chose to show), else to
 * the one number.
 */
static void mark_signing(struct analysis *a, struct row *r, const struct raw_row *in)
{
    static const struct {
        const char *code;
        uint8_t flag;
    } map[] = {{"dno", ROW_DNO},
               {"protected_not_customers", ROW_NOT_CUSTOMERS},
               {"protected_unverified", ROW_PROTECTED_UNVERIFIED},
               {"protected_no_intent", ROW_PROTECTED_NO_INTENT},
               {"uk_cli_unallocated", ROW_UNALLOCATED},
               {"uk_cli_invalid", ROW_BAD_NUMBER},
               {"uk_cli_premium_rate", ROW_BAD_NUMBER},
               {"nanp_cli_invalid", ROW_BAD_NUMBER},
               {"nanp_cli_unassigned", ROW_BAD_NUMBER}};
    struct origin *origin = &a->origins[r->origin];
    uint8_t f = 0;
    size_t i;
    bool refused = in->action.n == 5 && !memcmp(in->action.p, "block", 5);
    r->verstat = refused ? VERSTAT_REFUSED : VERSTAT_PASSED;
    if (refused)
        r->attest = 0;
    origin->refused += refused;
    if (!in->reasons.n)
        return;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (has_code(in->reasons, map[i].code))
            f |= map[i].flag;
    origin->labelled[0] += has_code(in->reasons, "rate_numbers");
    origin->labelled[1] += has_code(in->reasons, "protected_share");
    f &= (uint8_t) ~(r->flags | r->pflags);
    if (r->presented == r->calling)
        r->flags |= f;
    r->pflags |= f;
}

/* How far back a row's time may be from the latest before it without
 * being reported as out of order: records from several switches interleave
 * by a few seconds. */
#define OUT_OF_ORDER_SLACK 300

static uint32_t sat_add(uint32_t x, uint32_t y)
{
    return x > UINT32_MAX - y ? UINT32_MAX : x + y;
}

/*
 * Counts calls into the (number, origin) pair: `a_calls` of them attested
 * A and verified for that number, between first and last; `current` says
 * whether they are in this run's records (else from a saved baseline).
 */
static int pair_add(struct analysis *a, uint32_t number, uint32_t origin, uint32_t calls,
                    uint32_t a_calls, int64_t first, int64_t last, bool current)
{
    bool fresh;
    uint32_t *slot = map_slot(&a->pair_index, (uint64_t)number << 32 | origin, &fresh);
    struct pair *p;
    if (!slot)
        return CG_ENOMEM;
    if (fresh) {
        if (grow((void **)&a->pairs, &a->pairs_cap, a->npairs, sizeof *a->pairs, 64) != CG_OK)
            return CG_ENOMEM;
        p = &a->pairs[a->npairs];
        memset(p, 0, sizeof *p);
        p->number = number;
        p->origin = origin;
        p->first = first;
        p->last = last;
        *slot = (uint32_t)a->npairs++;
    }
    p = &a->pairs[*slot];
    /* a baseline merged over many runs, or one with a number repeated,
     * adds up: the counts stop at their largest rather than wrap */
    p->calls = sat_add(p->calls, calls);
    p->a_calls = sat_add(p->a_calls, a_calls);
    p->current = sat_add(p->current, current ? calls : 0);
    if (first < p->first)
        p->first = first;
    if (last > p->last)
        p->last = last;
    return CG_OK;
}

static int spill_row(struct analysis *a, const struct row *r);

/* Reports a row (the next to be kept) earlier than the latest before it. */
static void row_time(struct analysis *a, int64_t t)
{
    if (a->nrows && t + OUT_OF_ORDER_SLACK < a->tmax) {
        a->out_of_order++;
        report_row(a, "time earlier than an earlier row's by more than 5 minutes (row kept)");
    }
}

/* Counts the row into its origin's span and the (presentation number,
 * origin) pairs (its calling number's verification habit is counted where
 * the numbers' records are kept: number_call), and queues it
 * for the spill file.  A row earlier than the latest before it is kept
 * (nothing in the analysis depends on the order) and reported. */
static int keep_row(struct analysis *a, const struct row *r)
{
    struct origin *origin = &a->origins[r->origin];
    if (!a->signing &&
        pair_add(a, r->presented, r->origin, 1,
                 r->verstat == VERSTAT_PASSED && r->attest == 'A' && r->presented == r->calling,
                 r->t, r->t, true) != CG_OK)
        return CG_ENOMEM;
    if (!origin->calls || r->t < origin->first_call)
        origin->first_call = r->t;
    if (!origin->calls || r->t > origin->last_call)
        origin->last_call = r->t;
    origin->calls++;
    row_time(a, r->t);
    if (!a->nrows || r->t < a->tmin)
        a->tmin = r->t;
    if (!a->nrows || r->t > a->tmax)
        a->tmax = r->t;
    return spill_row(a, r);
}

/* Queues a row for the spill file (the rows in order, by their ids). */
static int spill_row(struct analysis *a, const struct row *r)
{
    if (a->nchunk == a->chunk_cap) {
        size_t nc = a->chunk_cap ? a->chunk_cap * 4 : 64;
        struct row *n = realloc(a->chunk, nc * sizeof *n);
        if (!n)
            return CG_ENOMEM;
        a->chunk = n;
        a->chunk_cap = nc;
    }
    a->nrows++;
    a->chunk[a->nchunk++] = *r;
    if (a->nchunk == CHUNK_ROWS)
        return spill_flush(a);
    return CG_OK;
}

/* A row into its calling number's verification habit. */
static void number_call(struct analysis *a, const struct row *r)
{
    a->numbers[r->calling].calls++;
    if (r->verstat == VERSTAT_PASSED)
        a->numbers[r->calling].verified_calls++;
}

/* A row whose ids are made into the analysis (what the lists say of its
 * calling and presentation numbers in lists[]): its per-call signals, a
 * bank's dialler seen with an intent, and the row kept. */
static int finish_row(struct analysis *a, const struct raw_row *in, struct row r,
                      const uint8_t lists[2], const char *calling, const char *presented,
                      int intent)
{
    mark_listed_signals(a, &r, lists, calling, presented, in->spc, intent);
    if (a->signing)
        mark_signing(a, &r, in);
    /* a protected number announced by an intent: its network number is
     * the bank's dialler (settle_flags) */
    if (intent == INTENT_YES && ((lists[0] | lists[1]) & LISTED_PROTECTED) &&
        set_add(&a->intent_pairs, r.calling, r.presented) < 0)
        return CG_ENOMEM;
    return keep_row(a, &r);
}

static int add_parsed_row(struct analysis *a, const struct raw_row *in, struct row r,
                          const char *calling, const char *presented, const char *called,
                          int intent)
{
    int64_t id;

    if ((id = number_id(a, calling)) < 0)
        return CG_ENOMEM;
    r.calling = r.presented = (uint32_t)id;
    if (strcmp(presented, calling) != 0) {
        if ((id = number_id(a, presented)) < 0)
            return CG_ENOMEM;
        r.presented = (uint32_t)id;
    }
    if ((id = number_id(a, called)) < 0)
        return CG_ENOMEM;
    r.called = (uint32_t)id;
    if ((id = a->signing ? customer_id(a, in) : origin_id(a, in)) < 0)
        return CG_ENOMEM;
    r.origin = (uint32_t)id;
    number_call(a, &r);
    return finish_row(
        a, in, r,
        (const uint8_t[2]){listed(&a->numbers[r.calling]), listed(&a->numbers[r.presented])},
        calling, presented, intent);
}

/* One input row into the analysis: CG_OK also when it was malformed (and
 * skipped); an error only when the analysis cannot go on. */
static int add_row(struct analysis *a, const struct raw_row *in)
{
    char calling[CG_TN_MAX + 1], presented[CG_TN_MAX + 1], called[CG_TN_MAX + 1];
    struct row r = {0};
    int intent;
    const char *why = parse_row(a->opts->plan, in, &r, calling, presented, called, &intent, NULL);
    if (why)
        return skip_row(a, why), CG_OK;
    return add_parsed_row(a, in, r, calling, presented, called, intent);
}

/* --- readers -------------------------------------------------------------------------- */

/* A field of an unquoted line, without its leading spaces and trailing
 * spaces and carriage return (as split trims one). */
static struct sv field_trimmed(const char *p, size_t n)
{
    while (n && p[0] == ' ') {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\r'))
        n--;
    return (struct sv){p, n};
}

/*
 * Splits a line with no quote in it, 16 bytes at a time: the commas of
 * each 16 found at once (a memchr a field, ten a row, was most of
 * splitting a row).  Field k goes to base + to[k], so that a row's fields
 * land where the row is read from (copied from an array of fields as soon
 * as they were written, each field was loaded while its two halves were
 * still being stored, a stall of its own).  -1, having split the line in
 * part or not at all, when it has a quote: split reads those.
 */
static int split_plain(const char *s, size_t n, char *base, const uint16_t *to, int max)
{
    size_t i = 0, start = 0;
    int nf = 0;
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned c = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)))
            return -1;
        for (; c; c &= c - 1) {
            size_t at = i + (size_t)__builtin_ctz(c);
            if (nf == max)
                return nf;
            *(struct sv *)(void *)(base + to[nf++]) = field_trimmed(s + start, at - start);
            start = at + 1;
        }
    }
#endif
    for (; i < n; i++) {
        if (s[i] == '"')
            return -1;
        if (s[i] == ',') {
            if (nf == max)
                return nf;
            *(struct sv *)(void *)(base + to[nf++]) = field_trimmed(s + start, i - start);
            start = i + 1;
        }
    }
    if (nf == max)
        return nf;
    *(struct sv *)(void *)(base + to[nf++]) = field_trimmed(s + start, n - start);
    return nf;
}

/* Where split_plain puts field k of an array of fields. */
#define SV(k) (uint16_t)((k) * sizeof(struct sv))
static const uint16_t field_at[MAX_FIELDS] = {
    SV(0),  SV(1),  SV(2),  SV(3),  SV(4),  SV(5),  SV(6),  SV(7),  SV(8),  SV(9),  SV(10),
    SV(11), SV(12), SV(13), SV(14), SV(15), SV(16), SV(17), SV(18), SV(19), SV(20), SV(21),
    SV(22), SV(23), SV(24), SV(25), SV(26), SV(27), SV(28), SV(29), SV(30), SV(31)};
#undef SV
_Static_assert(MAX_FIELDS == 32, "field_at names every field");
/* 16 bits: a byte would wrap past field 15 (16 bytes a field), leaving the
 * later fields unwritten (the analyze fuzzer found a header read through
 * them from a freed buffer) */
_Static_assert(MAX_FIELDS * sizeof(struct sv) <= UINT16_MAX, "a field's place fits");

/* Splits a CSV line in place (RFC 4180 quotes); returns the field count. */
static int split(char *s, size_t n, struct sv *f, int max)
{
    size_t i = 0;
    int nf = split_plain(s, n, (char *)f, field_at, max);
    if (nf >= 0)
        return nf;
    nf = 0;
    for (;;) {
        char *w;
        if (nf == max)
            return nf;
        if (i < n && s[i] == '"') {
            size_t start = ++i;
            w = s + start;
            f[nf].p = w;
            while (i < n) {
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        *w++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                *w++ = s[i++];
            }
            f[nf].n = (size_t)(w - f[nf].p);
            while (i < n && s[i] != ',')
                i++;
        } else {
            /* memchr rather than a loop a byte at a time: the loop was most
             * of splitting a row (and, instrumented, of a fuzzer's run) */
            size_t start = i;
            const char *comma = memchr(s + i, ',', n - i);
            i = comma ? (size_t)(comma - s) : n;
            f[nf].p = s + start;
            f[nf].n = i - start;
            while (f[nf].n && (f[nf].p[0] == ' ')) {
                f[nf].p++;
                f[nf].n--;
            }
            while (f[nf].n && (f[nf].p[f[nf].n - 1] == ' ' || f[nf].p[f[nf].n - 1] == '\r'))
                f[nf].n--;
        }
        nf++;
        if (i >= n)
            return nf;
        i++; /* the comma */
    }
}

enum col {
    C_TIME,
    C_CALLING,
    C_CALLED,
    C_DURATION,
    C_INGRESS,
    C_VERSTAT,
    C_ATTEST,
    C_ORIGID,
    C_SPC,
    C_PRESENTED,
    C_INTENT,
    C_FROM, /* the presentation number's other name, when there is no `presented` */
    C__COUNT
};
static const char *const col_name[C__COUNT] = {"time",    "calling",   "called", "duration",
                                               "ingress", "verstat",   "attest", "origid",
                                               "spc",     "presented", "intent", "from"};

struct reader {
    int col[C__COUNT];
    bool header_done;
    uint16_t to[MAX_FIELDS]; /* by field: where csv_line's split puts it in a csv_fields */
};

/* A CSV row's fields as csv_line splits them: each column's in the raw
 * row, a field of no column in `unused`. */
struct csv_fields {
    struct raw_row r;
    struct sv unused;
};
_Static_assert(sizeof(struct csv_fields) <= UINT16_MAX, "a field's place fits in a reader's to[]");

/* Where a column goes in a csv_fields (the columns a raw row has). */
static const uint8_t column_at[C_INTENT + 1] = {
    offsetof(struct csv_fields, r.time),    offsetof(struct csv_fields, r.calling),
    offsetof(struct csv_fields, r.called),  offsetof(struct csv_fields, r.dur),
    offsetof(struct csv_fields, r.ingress), offsetof(struct csv_fields, r.verstat),
    offsetof(struct csv_fields, r.attest),  offsetof(struct csv_fields, r.origid),
    offsetof(struct csv_fields, r.spc),     offsetof(struct csv_fields, r.presented),
    offsetof(struct csv_fields, r.intent)};

static const struct sv empty = {"", 0};

/* Finds the columns in a CSV header row; CG_EPARSE, with the missing ones
 * named in err, when a required one is not there. */
static int csv_header(struct reader *rd, const struct sv *f, int nf, char *err, size_t errlen)
{
    char missing[128] = "";
    int i, c;
    for (c = 0; c < C__COUNT; c++)
        rd->col[c] = -1;
    for (i = 0; i < nf; i++)
        for (c = 0; c < C__COUNT; c++)
            if (f[i].n == strlen(col_name[c]) && !strncasecmp(f[i].p, col_name[c], f[i].n))
                rd->col[c] = i;
    for (c = 0; c <= C_CALLED; c++)
        if (rd->col[c] < 0)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     missing[0] ? ", " : "", col_name[c]);
    if (missing[0]) {
        snprintf(err, errlen,
                 "missing required column(s): %s (the header row names time, "
                 "calling, called, and optionally presented (or from), intent, duration, "
                 "ingress, verstat, attest, origid, spc, call_id)",
                 missing);
        return CG_EPARSE;
    }
    if (rd->col[C_PRESENTED] < 0)
        rd->col[C_PRESENTED] = rd->col[C_FROM];
    for (i = 0; i < MAX_FIELDS; i++)
        rd->to[i] = offsetof(struct csv_fields, unused);
    for (c = 0; c <= C_INTENT; c++)
        if (rd->col[c] >= 0)
            rd->to[rd->col[c]] = column_at[c];
    rd->header_done = true;
    return CG_OK;
}

/* --- the text reader's rows, staged ---------------------------------------------------- */

/*
 * The text formats are parsed apart from the analysis: the reader splits
 * lines and parses each row's fields into a staged row (canonical numbers,
 * time, the origin's key as text), chunks of which the analysis then takes
 * in, in order.  With more than one thread the reader runs on a thread of
 * its own, a few chunks ahead; it touches nothing of the analysis, so the
 * rows are taken in exactly as with one thread, and the output is the same.
 */
struct staged {
    struct row r;
    int intent;
    uint64_t line;
    const char *why; /* a skipped row's reason, else NULL */
    uint32_t key;    /* its origin's key "ingress|spc|origid" in the chunk's text */
    uint16_t ing_n, spc_n, org_n;
    uint64_t packed[3], key_hash; /* to look the ids up, the tables' slots prefetched */
    uint8_t lists[2];             /* what the lists say of calling, presented (LISTED_*) */
    uint8_t fresh;                /* bit k: number k's id is new, its record still to be made */
    uint8_t len[3];               /* of calling, presented, called */
    char calling[CG_TN_MAX + 1], presented[CG_TN_MAX + 1], called[CG_TN_MAX + 1];
};

#define STAGE_ROWS 16384
#define PIPE_CHUNKS 4

struct stage_chunk {
    struct staged *rows; /* grows to STAGE_ROWS: a small input costs little */
    size_t n, cap;
    const char *path;
    char *text;
    size_t tlen, tcap;
};

/* Chunks handed from the reader's thread to the analysis. */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct stage_chunk *chunk[PIPE_CHUNKS];
    size_t head, tail; /* filled: [tail, head); the reader fills chunk[head % PIPE_CHUNKS] */
    bool done, stop;
};

struct stager {
    const struct cg_analyze_opts *opts;
    /* the analysis's id tables: it makes the rows' number and origin
     * ids, in row order as the analysis would (the number index and
     * texts and the origins' keys are the reader's alone while it reads);
     * the analysis makes the numbers' and origins' records as it takes
     * the chunks in.  The work of a row is about even between the two:
     * 10 million rows on two cores, 2.4-2.7 s of the reader's CPU and
     * 2.0-2.5 s of the analysis's (the reader, with the numbers' records
     * and without the origins' ids, had been the longer stage, 5.0-5.4 s
     * against 4.1-4.9 s, on a busier machine) */
    struct map64 *number_index;
    struct strtab *number_text, *origin_keys;
    const char *path;
    uint64_t line;
    struct stage_chunk *cur;
    struct analysis *a;
    struct pipe *pipe; /* chunks handed over; NULL: taken in as they fill */
    struct day_memo day;
};

static int commit_chunk(struct analysis *a, struct stage_chunk *c);

PREFETCHER void st_prefetch(const struct strtab *t, uint64_t h)
{
    if (t->cap)
        __builtin_prefetch(&t->slot[(uint32_t)h & (t->cap - 1)]);
}

/* Asks for the text a lookup of hash h will compare, its slot being in the
 * cache by now (st_prefetch, some rows before). */
PREFETCHER void st_prefetch_text(const struct strtab *t, uint64_t h)
{
    uint32_t fp = (uint32_t)(h >> 32), j;
    if (!t->cap)
        return;
    for (j = (uint32_t)h & (t->cap - 1); t->slot[j].id; j = (j + 1) & (t->cap - 1))
        if (t->slot[j].fp == fp) {
            const char *p = t->arena + t->slot[j].off;
            __builtin_prefetch(p);
            __builtin_prefetch(p + t->slot[j].len);
            return;
        }
}

/*
 * The tables' lookups are prefetched a block of rows at a time, a block or
 * two ahead.  Here (a KVM guest on AMD EPYC) a prefetch that misses holds
 * up the instructions after it much as a load would, so that prefetches
 * spread among the lookups, one a row a few rows ahead, had only two or
 * three rows' in flight; issued together, a block's are.  10 million
 * rows, `perf` on a loaded machine: the reader's id-making took 1.86 s of
 * CPU, 1.40 s with blocks of 8, 1.32 s of 16, 1.23 s of 32.
 */
#define PREFETCH_BLOCK 32

/* The end of the rows `blocks` blocks on from row i of a chunk. */
static size_t block_end(const struct stage_chunk *c, size_t i, size_t blocks)
{
    size_t end = i + blocks * PREFETCH_BLOCK;
    return end < c->n ? end : c->n;
}

/*
 * The ids of a chunk's numbers, made in row order (calling, presentation,
 * then called number), as the analysis would make them: the number index
 * is the reader's while it reads.  The index's slots of the rows a block
 * ahead are prefetched, so that the lookups wait less for memory.  The
 * numbers' records are the analysis's (number_records): a new id is only
 * marked, and its record made as the chunk is taken in, in the same order.
 */
static int make_number_ids(struct stager *st, struct stage_chunk *c)
{
    size_t i, k;
    for (i = 0; i < c->n; i++) {
        struct staged *s = &c->rows[i];
        const char *tn[3] = {s->calling, s->presented, s->called};
        int64_t id[3];
        bool created;
        if (i % PREFETCH_BLOCK == 0) {
            size_t j, end = block_end(c, i, 2);
            for (j = i ? i + PREFETCH_BLOCK : 0; j < end; j++) {
                const struct staged *f = &c->rows[j];
                for (k = 0; k < 3 && !f->why; k++)
                    if (f->packed[k] && f->packed[k] != ~0ull)
                        map_prefetch(st->number_index, f->packed[k]);
            }
        }
        if (s->why)
            continue;
        s->fresh = 0;
        for (k = 0; k < 3; k++) {
            if (k == 1 && s->packed[1] == ~0ull) {
                id[k] = id[0];
                continue;
            }
            id[k] = intern_packed(st->number_index, st->number_text, tn[k], s->len[k], s->packed[k],
                                  &created);
            if (id[k] < 0)
                return CG_ENOMEM;
            s->fresh |= (uint8_t)(created << k);
        }
        s->r.calling = (uint32_t)id[0];
        s->r.presented = (uint32_t)id[1];
        s->r.called = (uint32_t)id[2];
    }
    return CG_OK;
}

/* The records of a staged row's new numbers (made in the order their ids
 * were), what the lists say of its calling and presentation numbers, and
 * the row counted into its calling number's verification habit. */
static int number_records(struct analysis *a, struct staged *s)
{
    if (s->fresh) {
        const char *tn[3] = {s->calling, s->presented, s->called};
        const uint32_t id[3] = {s->r.calling, s->r.presented, s->r.called};
        int k;
        for (k = 0; k < 3; k++)
            if (s->fresh >> k & 1 && number_record(a, id[k], tn[k]) != CG_OK)
                return CG_ENOMEM;
    }
    s->lists[0] = listed(&a->numbers[s->r.calling]);
    s->lists[1] = listed(&a->numbers[s->r.presented]);
    number_call(a, &s->r);
    return CG_OK;
}

/* The ids of a chunk's origins, in row order, the same way (the origins'
 * keys are the reader's too; their records, the analysis's). */
static int make_origin_ids(struct strtab *origin_keys, struct stage_chunk *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        struct staged *s = &c->rows[i];
        int64_t id;
        bool created;
        /* the slots of the rows two blocks ahead, and the texts their
         * slots name of the next block */
        if (i % PREFETCH_BLOCK == 0) {
            size_t j, end = block_end(c, i, 3);
            for (j = i ? i + 2 * PREFETCH_BLOCK : 0; j < end; j++)
                if (!c->rows[j].why)
                    st_prefetch(origin_keys, c->rows[j].key_hash);
            for (j = i ? i + PREFETCH_BLOCK : 0, end = block_end(c, i, 2); j < end; j++)
                if (!c->rows[j].why)
                    st_prefetch_text(origin_keys, c->rows[j].key_hash);
        }
        if (s->why)
            continue;
        id = intern_hashed(origin_keys, c->text + s->key,
                           (size_t)s->ing_n + s->spc_n + s->org_n + 2, s->key_hash, &created);
        if (id < 0)
            return CG_ENOMEM;
        s->r.origin = (uint32_t)id;
    }
    return CG_OK;
}

/* Hands the full chunk over (or takes it in, on one thread) and starts the
 * next; an error when the analysis cannot go on. */
static int stage_flush(struct stager *st)
{
    struct pipe *p = st->pipe;
    int rc = CG_OK;
    if (!st->cur->n)
        return CG_OK;
    st->cur->path = st->path;
    if ((rc = make_number_ids(st, st->cur)) != CG_OK ||
        (rc = make_origin_ids(st->origin_keys, st->cur)) != CG_OK)
        return rc;
    if (!p) {
        rc = commit_chunk(st->a, st->cur);
    } else {
        pthread_mutex_lock(&p->mu);
        p->head++;
        pthread_cond_broadcast(&p->cv);
        while (p->head - p->tail >= PIPE_CHUNKS && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        rc = p->stop ? CG_EIO : CG_OK;
        st->cur = p->chunk[p->head % PIPE_CHUNKS];
        pthread_mutex_unlock(&p->mu);
    }
    st->cur->n = 0;
    st->cur->tlen = 0;
    return rc;
}

static struct staged *stage_next(struct stager *st)
{
    struct stage_chunk *c = st->cur;
    struct staged *s;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 4 : 16;
        struct staged *nr = realloc(c->rows, (nc < STAGE_ROWS ? nc : STAGE_ROWS) * sizeof *nr);
        if (!nr)
            return NULL;
        c->rows = nr;
        c->cap = nc < STAGE_ROWS ? nc : STAGE_ROWS;
    }
    s = &c->rows[c->n];
    memset(&s->r, 0, sizeof s->r);
    s->why = NULL;
    s->line = st->line;
    return s;
}

/* A malformed row, to be counted and reported in its place. */
static int stage_skip(struct stager *st, const char *why)
{
    struct staged *s = stage_next(st);
    if (!s)
        return CG_ENOMEM;
    s->why = why;
    return ++st->cur->n == STAGE_ROWS ? stage_flush(st) : CG_OK;
}

/* One row's fields, parsed, staged for the analysis. */
static int stage_row(struct stager *st, const struct raw_row *in)
{
    struct stage_chunk *c = st->cur;
    struct staged *s = stage_next(st);
    size_t need = in->ingress.n + in->spc.n + in->origid.n + 2;
    if (!s)
        return CG_ENOMEM;
    s->why = parse_row(st->opts->plan, in, &s->r, s->calling, s->presented, s->called, &s->intent,
                       &st->day);
    if (!s->why) {
        if (c->tlen + need > c->tcap) {
            size_t nc = c->tcap ? c->tcap * 2 : 1024;
            char *nt;
            while (nc < c->tlen + need)
                nc *= 2;
            if (!(nt = realloc(c->text, nc)))
                return CG_ENOMEM;
            c->text = nt;
            c->tcap = nc;
        }
        s->key = (uint32_t)c->tlen;
        s->ing_n = (uint16_t)in->ingress.n;
        s->spc_n = (uint16_t)in->spc.n;
        s->org_n = (uint16_t)in->origid.n;
        origin_key(in, c->text + c->tlen);
        s->key_hash = hash_bytes(c->text + c->tlen, need);
        s->len[0] = (uint8_t)strlen(s->calling);
        s->len[1] = (uint8_t)strlen(s->presented);
        s->len[2] = (uint8_t)strlen(s->called);
        s->packed[0] = pack_number(s->calling, s->len[0]);
        s->packed[1] = s->len[1] != s->len[0] || memcmp(s->presented, s->calling, s->len[0])
                           ? pack_number(s->presented, s->len[1])
                           : ~0ull; /* the same number */
        s->packed[2] = pack_number(s->called, s->len[2]);
        c->tlen += need;
    }
    return ++c->n == STAGE_ROWS ? stage_flush(st) : CG_OK;
}

/* A chunk of staged rows into the analysis, in order. */
static int commit_chunk(struct analysis *a, struct stage_chunk *c)
{
    size_t i;
    int rc = CG_OK;
    a->input = c->path;
    for (i = 0; i < c->n && rc == CG_OK; i++) {
        struct staged *s = &c->rows[i];
        struct raw_row in;
        const char *k;
        a->line = s->line;
        /* the pairs' slots of the rows two blocks ahead, with their
         * origins' and numbers' records; the pairs of the next block, whose
         * slots, in the cache by then, name them */
        if (i % PREFETCH_BLOCK == 0) {
            size_t j, end = block_end(c, i, 3);
            for (j = i ? i + 2 * PREFETCH_BLOCK : 0; j < end; j++) {
                const struct staged *f = &c->rows[j];
                if (f->why)
                    continue;
                map_prefetch(&a->pair_index, (uint64_t)f->r.presented << 32 | f->r.origin);
                if (f->r.origin < a->origins_made)
                    __builtin_prefetch(&a->origins[f->r.origin]);
                if (f->r.calling < a->numbers_made)
                    __builtin_prefetch(&a->numbers[f->r.calling]);
                if (f->r.presented < a->numbers_made)
                    __builtin_prefetch(&a->numbers[f->r.presented]);
            }
            for (j = i ? i + PREFETCH_BLOCK : 0, end = block_end(c, i, 2); j < end; j++) {
                const struct staged *f = &c->rows[j];
                const uint32_t *v =
                    f->why ? NULL
                           : map_peek(&a->pair_index, (uint64_t)f->r.presented << 32 | f->r.origin);
                if (v)
                    __builtin_prefetch(&a->pairs[*v]);
            }
        }
        if (s->why) {
            skip_row(a, s->why);
            continue;
        }
        k = c->text + s->key;
        if (number_records(a, s) != CG_OK)
            return CG_ENOMEM;
        memset(&in, 0, sizeof in);
        in.ingress = (struct sv){k, s->ing_n};
        in.spc = (struct sv){k + s->ing_n + 1, s->spc_n};
        in.origid = (struct sv){k + s->ing_n + s->spc_n + 2, s->org_n};
        if (origin_record(a, s->r.origin, &in) != CG_OK)
            return CG_ENOMEM;
        rc = finish_row(a, &in, s->r, s->lists, s->calling, s->presented, s->intent);
    }
    return rc;
}

static struct stage_chunk *chunk_new(void)
{
    return calloc(1, sizeof(struct stage_chunk));
}

static void chunk_free(struct stage_chunk *c)
{
    if (c) {
        free(c->rows);
        free(c->text);
    }
    free(c);
}

/* One line of a CSV with a header row: the header first, then rows. */
static int csv_line(struct stager *a, struct reader *rd, char *line, size_t n, char *err,
                    size_t errlen)
{
    struct sv f[MAX_FIELDS];
    struct csv_fields v = {{empty, empty, empty, empty, empty, empty, empty, empty, empty, empty,
                            empty, empty, empty, empty},
                           empty};
    int nf, c;
    if (!rd->header_done)
        return csv_header(rd, f, split(line, n, f, MAX_FIELDS), err, errlen);
    /* the fields straight to their columns (a column past the row's last
     * field is empty); a line with quotes split as ever */
    if ((nf = split_plain(line, n, (char *)&v, rd->to, MAX_FIELDS)) < 0) {
        nf = split(line, n, f, MAX_FIELDS);
        for (c = 0; c <= C_INTENT; c++)
            *(struct sv *)(void *)((char *)&v + column_at[c]) =
                rd->col[c] >= 0 && rd->col[c] < nf ? f[rd->col[c]] : empty;
    }
    if (rd->col[C_CALLED] >= nf)
        return stage_skip(a, "fewer fields than the header"), CG_OK;
    return stage_row(a, &v.r);
}

/* The number of an Asterisk clid, '"Barclays" <03457345345>': what is
 * between the last '<' and the '>' after it, else the whole field. */
static struct sv clid_number(struct sv clid)
{
    const char *lt = clid.n ? memrchr(clid.p, '<', clid.n) : NULL, *gt;
    if (!lt)
        return clid;
    gt = memchr(lt, '>', clid.n - (size_t)(lt - clid.p));
    return gt ? (struct sv){lt + 1, (size_t)(gt - lt - 1)} : clid;
}

/* Asterisk Master.csv: accountcode,src,dst,dcontext,clid,channel,dstchannel,
 * lastapp,lastdata,start,answer,end,duration,billsec,disposition,amaflags[,
 * uniqueid,userfield]; no header.  The ingress is the accountcode, else the
 * channel's peer ("SIP/peer-1-0000002a" -> "peer-1").  src is the network
 * number, clid's number the presentation number. */
static int asterisk_line(struct stager *a, char *line, size_t n)
{
    struct sv f[MAX_FIELDS], ing;
    int nf = split(line, n, f, MAX_FIELDS);
    if (nf < 16)
        return stage_skip(a, "an Asterisk CDR has at least 16 fields"), CG_OK;
    ing = f[0];
    if (!ing.n && f[5].n) {
        const char *slash = memchr(f[5].p, '/', f[5].n), *dash;
        ing.p = slash ? slash + 1 : f[5].p;
        ing.n = f[5].n - (size_t)(ing.p - f[5].p);
        dash = ing.n ? (const char *)memrchr(ing.p, '-', ing.n) : NULL;
        if (dash)
            ing.n = (size_t)(dash - ing.p);
    }
    return stage_row(a, &(struct raw_row){f[9], f[1], f[2], f[13], ing, empty, empty, empty, empty,
                                          clid_number(f[4]), empty, empty, empty, empty});
}

/* One line of a text input, in the format the options name. */
static int text_line(struct stager *a, struct reader *rd, char *line, size_t n, char *err,
                     size_t errlen)
{
    if (a->opts->format == CG_CDR_ASTERISK)
        return asterisk_line(a, line, n);
    return csv_line(a, rd, line, n, err, errlen);
}

/*
 * The text reader's state between two reads: the lines of buf up to len
 * are complete or not yet; `skipping` is set while the rest of an
 * over-long line is being thrown away.
 */
struct text_input {
    struct reader rd;
    char *buf;
    size_t have;
    bool skipping;
};

#define LINE_TOO_LONG "line longer than 65536 bytes"

/* Hands every complete line of the buffer (its first len bytes) to
 * text_line, and keeps the incomplete last one for the next read.  A line
 * over LINE_MAX_BYTES is one skipped row, however many reads it spans: it
 * is reported (and counted in the line numbers) once, when it is found too
 * long, and the rest of it is thrown away up to its newline. */
static int text_lines(struct stager *a, struct text_input *in, size_t len, char *err, size_t errlen)
{
    char *buf = in->buf, *nl;
    size_t start = 0;
    int rc = CG_OK;
    while (rc == CG_OK && (nl = memchr(buf + start, '\n', len - start))) {
        size_t n = (size_t)(nl - (buf + start));
        if (in->skipping) {
            in->skipping = false; /* the tail of an over-long line, already counted */
        } else {
            a->line++;
            if (n > LINE_MAX_BYTES)
                rc = stage_skip(a, LINE_TOO_LONG);
            else if (n && buf[start + n - 1] == '\r' ? n > 1 : n > 0)
                rc = text_line(a, &in->rd, buf + start, n, err, errlen);
        }
        start += n + 1;
    }
    if (rc != CG_OK)
        return rc;
    in->have = len - start;
    memmove(buf, buf + start, in->have);
    if (in->have > LINE_MAX_BYTES) { /* no newline in sight: skip the line */
        if (!in->skipping) {
            a->line++;
            rc = stage_skip(a, LINE_TOO_LONG);
        }
        in->have = 0;
        in->skipping = true;
    }
    return rc;
}

/*
 * Where read_text's bytes come from.  zlib reads plain files too, but a
 * gzFile costs its state, its buffers and an inflate state on every file
 * (half the cost of reading a short CSV, counting the page faults); so a
 * regular file that does not start with gzip's magic is read with read(2),
 * and zlib reads the rest: gzip files, and pipes, which cannot be peeked
 * at without consuming them.
 */
struct text_source {
    const char *path;
    int fd; /* read directly when gz is NULL */
    gzFile gz;
    uint64_t total; /* a regular file's size, else 0 */
    uint64_t done;  /* bytes of the file consumed, for progress */
};

static int source_open(struct text_source *src, const char *path)
{
    struct stat stt;
    unsigned char magic[2];
    memset(src, 0, sizeof *src);
    src->path = path;
    if ((src->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    if (fstat(src->fd, &stt) == 0) {
        if (S_ISDIR(stt.st_mode)) {
            close(src->fd);
            errno = EISDIR;
            return -1;
        }
        if (S_ISREG(stt.st_mode)) {
            src->total = (uint64_t)stt.st_size;
            if (pread(src->fd, magic, 2, 0) != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
                return 0;
        }
    }
    if (!(src->gz = gzdopen(src->fd, "rb"))) {
        close(src->fd);
        errno = ENOMEM;
        return -1;
    }
    /* zlib's reads are 64 KB for a large file, and no larger than the file */
    gzbuffer(src->gz, src->total < (64 << 10)
                          ? (src->total < (8 << 10) ? 8 << 10 : (unsigned)src->total)
                          : 64 << 10);
    return 0;
}

/* Up to n bytes; 0 at the end, -1 on an error, described in err. */
static long source_read(struct text_source *src, char *buf, size_t n, char *err, size_t errlen)
{
    long got;
    if (src->gz) {
        int zerr;
        const char *why, *after;
        got = gzread(src->gz, buf, (unsigned)n);
        src->done = (uint64_t)gzoffset(src->gz);
        if (got >= 0)
            return got;
        /* zlib names the file "<fd:N>": the message names it by its path */
        why = gzerror(src->gz, &zerr);
        if (zerr == Z_ERRNO)
            why = strerror(errno);
        else if (!strncmp(why, "<fd:", 4) && (after = strstr(why, ">: ")))
            why = after + 3;
        snprintf(err, errlen, "cannot read %s: %s", src->path, why);
        return -1;
    }
    do
        got = (long)read(src->fd, buf, n);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        snprintf(err, errlen, "cannot read %s: %s", src->path, strerror(errno));
    else
        src->done += (uint64_t)got;
    return got;
}

static void source_close(struct text_source *src)
{
    if (src->gz)
        gzclose(src->gz); /* and its descriptor */
    else
        close(src->fd);
}

/* CSV or Asterisk CDRs, plain or gzip, a buffer at a time. */
static int read_text(struct stager *a, const char *path, char *err, size_t errlen)
{
    struct text_source src;
    uint64_t next_progress = 0;
    /* Lines are handled as soon as they are whole, so the buffer only has
     * to hold the longest line and a read: it starts small and grows to a
     * few lines' worth when a line needs it.  A small input then never
     * costs a fresh mapping and its page faults (most inputs of the
     * fuzzer, and every short CSV a person tries).  A large file is read
     * RANGE_READ at a time: with 16 KB reads, 80,000 of them
     * for 10 million rows, the reader spent 19% of its time in the kernel,
     * with these 15%. */
    size_t cap = 16 << 10;
    struct text_input in = {{{0}, false, {0}}, NULL, 0, false};
    int rc = CG_OK;
    long got = 0;

    if (source_open(&src, path) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CG_EIO;
    }
    if (src.total > 16 * RANGE_READ)
        cap = RANGE_READ;
    if (!(in.buf = malloc(cap + 1))) {
        source_close(&src);
        return CG_ENOMEM;
    }
    while (rc == CG_OK) {
        if (in.have * 2 > cap && cap < 4 * LINE_MAX_BYTES) { /* a long line: room to finish it */
            char *nb = realloc(in.buf, cap * 4 + 1);
            if (!nb) {
                rc = CG_ENOMEM;
                break;
            }
            in.buf = nb;
            cap *= 4;
        }
        if ((got = source_read(&src, in.buf + in.have, cap - in.have, err, errlen)) <= 0)
            break;
        rc = text_lines(a, &in, in.have + (size_t)got, err, errlen);
        if (a->opts->progress && src.total && src.done >= next_progress) {
            a->opts->progress(src.done, src.total, a->opts->arg);
            next_progress = src.done + src.total / 100;
        }
    }
    if (rc == CG_OK && in.have && !in.skipping) { /* a last line without a newline */
        a->line++;
        rc = text_line(a, &in.rd, in.buf, in.have, err, errlen);
    }
    if (rc == CG_OK && got < 0)
        rc = CG_EIO;
    if (a->opts->progress && src.total)
        a->opts->progress(src.total, src.total, a->opts->arg);
    source_close(&src);
    free(in.buf);
    if (rc == CG_ENOMEM)
        snprintf(err, errlen, "out of memory after %llu lines", (unsigned long long)a->line);
    return rc;
}

static struct sv col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    struct sv v = {t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(st, i) : 0};
    return v;
}

/* Whether the comma-separated list `list` holds the reason code `code`. */
static bool has_code(struct sv list, const char *code)
{
    size_t n = strlen(code), i = 0;
    while (i < list.n) {
        size_t j = i;
        while (j < list.n && list.p[j] != ',')
            j++;
        if (j - i == n && !memcmp(list.p + i, code, n))
            return true;
        i = j + 1;
    }
    return false;
}

/*
 * Which optional columns the decision log has (older logs have none of
 * them): the SELECT names the ones there, after the first eight, and their
 * indexes are kept (-1: absent).  Returns the SELECT's text in q.
 */
static void decision_columns(struct analysis *a, sqlite3 *db, char *q, size_t qlen)
{
    static const char *const opt[5] = {"presented", "reasons", "caller_reasons",
                                       "presented_reasons", "intent"};
    int *idx[5] = {&a->dec_presented, &a->dec_reasons[0], &a->dec_reasons[1], &a->dec_reasons[2],
                   &a->dec_intent};
    bool there[5] = {false};
    sqlite3_stmt *st = NULL;
    int i, next = 8;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(decisions)", -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 1);
            for (i = 0; name && i < 5; i++)
                there[i] |= !strcmp(name, opt[i]);
        }
    sqlite3_finalize(st);
    snprintf(q, qlen, "SELECT time, caller, callee, ingress, verstat, attest, origid, spc");
    for (i = 0; i < 5; i++) {
        *idx[i] = there[i] ? next++ : -1;
        if (there[i])
            snprintf(q + strlen(q), qlen - strlen(q), ", %s", opt[i]);
    }
    snprintf(q + strlen(q), qlen - strlen(q), " FROM decisions ORDER BY time");
}

/*
 * Whether a live call intent matched a logged call.  The daemon says so in
 * its reasons: protected_no_intent, none.  A log with reasons per number
 * comes from a daemon that checks intents, so there a call it flagged with
 * neither protected_no_intent nor protected_unverified had one (or its
 * number was not protected when the call was decided).  An `intent`
 * column, when there is one, says it directly.
 */
static int decision_intent(const struct analysis *a, sqlite3_stmt *st)
{
    bool per_number = a->dec_reasons[1] >= 0 || a->dec_reasons[2] >= 0, unverified = false;
    int i, intent;
    if (a->dec_intent >= 0) {
        struct sv v = col_text(st, a->dec_intent);
        if (v.n == 1 && (v.p[0] == '1' || v.p[0] == '0'))
            return v.p[0] == '1' ? INTENT_YES : INTENT_NO;
        if (parse_intent(v, &intent) && intent != INTENT_UNKNOWN)
            return intent;
    }
    for (i = 0; i < 3; i++)
        if (a->dec_reasons[i] >= 0) {
            struct sv v = col_text(st, a->dec_reasons[i]);
            if (has_code(v, "protected_no_intent"))
                return INTENT_NO;
            unverified |= has_code(v, "protected_unverified");
        }
    return per_number && !unverified ? INTENT_YES : INTENT_UNKNOWN;
}

/* One decision log among those read as one set: its statement, its
 * optional columns' places, its next row's time and its line count. */
struct dec_source {
    const char *path;
    sqlite3 *db;
    sqlite3_stmt *st;
    int presented, reasons[3], intent;
    bool has_row;
    int64_t t;
    uint64_t line;
};

/* One logged row into the analysis (a->dec_* say where its columns are). */
static int decision_row(struct analysis *a, sqlite3_stmt *st)
{
    char t[24], yn[4];
    int intent = decision_intent(a, st);
    struct raw_row in = {{t, 0},          col_text(st, 1),
                         col_text(st, 2), empty,
                         col_text(st, 3), col_text(st, 4),
                         col_text(st, 5), col_text(st, 6),
                         col_text(st, 7), empty,
                         empty,           empty,
                         empty,           empty};
    if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        return skip_row(a, "time is missing"), CG_OK;
    in.time.n = (size_t)snprintf(t, sizeof t, "%lld", (long long)sqlite3_column_int64(st, 0));
    in.presented = a->dec_presented >= 0 ? col_text(st, a->dec_presented) : empty;
    in.intent.p = yn;
    in.intent.n = intent == INTENT_UNKNOWN
                      ? 0
                      : (size_t)snprintf(yn, sizeof yn, "%s", intent == INTENT_YES ? "yes" : "no");
    return add_row(a, &in);
}

/*
 * The daemons' decision logs (SQLite), read as one set in time order: each
 * log is read in its own time order and the logs' rows are merged (at one
 * time, the earlier file first).  A row is reported by its file and its
 * place in that file's time order.
 */
static int read_decisions(struct analysis *a, const char *const *paths, size_t n, char *err,
                          size_t errlen)
{
    struct dec_source *src = calloc(n ? n : 1, sizeof *src);
    size_t i;
    int rc = CG_OK;
    if (!src)
        return CG_ENOMEM;
    for (i = 0; i < n && rc == CG_OK; i++) {
        struct dec_source *s = &src[i];
        char q[256] = "";
        int opened = sqlite3_open_v2(paths[i], &s->db, SQLITE_OPEN_READONLY, NULL);
        s->path = paths[i];
        if (opened == SQLITE_OK)
            decision_columns(a, s->db, q, sizeof q);
        if (opened != SQLITE_OK || sqlite3_prepare_v2(s->db, q, -1, &s->st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: not a cidguard decision log (%s)", paths[i],
                     s->db ? sqlite3_errmsg(s->db) : "cannot open");
            rc = CG_EIO;
            break;
        }
        s->presented = a->dec_presented;
        memcpy(s->reasons, a->dec_reasons, sizeof s->reasons);
        s->intent = a->dec_intent;
        if ((s->has_row = sqlite3_step(s->st) == SQLITE_ROW))
            s->t = sqlite3_column_int64(s->st, 0);
    }
    while (rc == CG_OK) {
        struct dec_source *s = NULL;
        for (i = 0; i < n; i++)
            if (src[i].has_row && (!s || src[i].t < s->t))
                s = &src[i];
        if (!s)
            break;
        a->input = s->path;
        a->line = ++s->line;
        a->dec_presented = s->presented;
        memcpy(a->dec_reasons, s->reasons, sizeof s->reasons);
        a->dec_intent = s->intent;
        rc = decision_row(a, s->st);
        if ((s->has_row = sqlite3_step(s->st) == SQLITE_ROW))
            s->t = sqlite3_column_int64(s->st, 0);
    }
    for (i = 0; i < n; i++) {
        sqlite3_finalize(src[i].st);
        sqlite3_close(src[i].db);
    }
    free(src);
    return rc;
}

/* The signing log's columns that the analysis reads, by name: the first
 * five are required. */
enum {
    SG_TIME,
    SG_CUSTOMER,
    SG_ORIG,
    SG_DEST,
    SG_ACTION,
    SG_PRESENTED,
    SG_SOURCE,
    SG_ATTEST,
    SG_ORIGID,
    SG_SPC,
    SG_REASONS,
    SG__COUNT
};
static const char *const signing_col[SG__COUNT] = {"time",   "customer",  "orig",   "dest",
                                                   "action", "presented", "source", "attest",
                                                   "origid", "spc",       "reasons"};

/*
 * The SELECT over the signing log's columns (PRAGMA table_info: a newer
 * log with more columns reads the same, an older one without an optional
 * column reads it as empty), into q; CG_EPARSE with the missing columns in
 * err when a required one is not there (or there is no `signings` table).
 * idx receives each column's place in the SELECT (-1: absent).
 */
static int signing_columns(sqlite3 *db, int idx[SG__COUNT], char *q, size_t qlen, char *err,
                           size_t errlen)
{
    sqlite3_stmt *st = NULL;
    bool there[SG__COUNT] = {false};
    char missing[128] = "";
    int i, next = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(signings)", -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 1);
            for (i = 0; name && i < SG__COUNT; i++)
                there[i] |= !strcmp(name, signing_col[i]);
        }
    sqlite3_finalize(st);
    for (i = 0; i <= SG_ACTION; i++)
        if (!there[i])
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     missing[0] ? ", " : "", signing_col[i]);
    if (missing[0]) {
        snprintf(err, errlen, "not a cidguard signing log: no table signings with %s", missing);
        return CG_EPARSE;
    }
    snprintf(q, qlen, "SELECT ");
    for (i = 0; i < SG__COUNT; i++) {
        idx[i] = there[i] ? next++ : -1;
        if (there[i])
            snprintf(q + strlen(q), qlen - strlen(q), "%s%s", idx[i] ? ", " : "", signing_col[i]);
    }
    /* in the order of appending, which is about time order (the log's own
     * assumption); nothing in the analysis depends on the order, and
     * sorting a large log by an unindexed time costs more than reading it */
    snprintf(q + strlen(q), qlen - strlen(q), " FROM signings ORDER BY rowid");
    return CG_OK;
}

/*
 * The signing log (SQLite): one row per signing request.  The customer is
 * the origin (its source address when the caller was no customer), the
 * signed number the network number, `presented` the presentation number.
 * A refused record may lack a number: with no signed number its
 * presentation number stands for it, and with no destination its calling
 * number does (a refused attempt reached no one: its callee is never a
 * victim).  A record with neither calling number is skipped.
 */
static int read_signing(struct analysis *a, const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char q[256] = "";
    int idx[SG__COUNT], rc = CG_OK;
    /* one thread reads: SQLite's mutexes were a tenth of the reading */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a cidguard signing log (%s)", path,
                 db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return CG_EIO;
    }
    if ((rc = signing_columns(db, idx, q, sizeof q, err, errlen)) != CG_OK ||
        sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        if (rc == CG_OK)
            snprintf(err, errlen, "%s: not a cidguard signing log (%s)", path, sqlite3_errmsg(db));
        else
            snprintf(err + strlen(err), errlen - strlen(err), " (%s)", path);
        sqlite3_close(db);
        return CG_EPARSE;
    }
    while (rc == CG_OK && sqlite3_step(st) == SQLITE_ROW) {
        char t[24];
        struct sv v[SG__COUNT];
        int i;
        struct raw_row in;
        for (i = 0; i < SG__COUNT; i++)
            v[i] = idx[i] >= 0 ? col_text(st, idx[i]) : empty;
        a->line++;
        if (!v[SG_ORIG].n)
            v[SG_ORIG] = v[SG_PRESENTED];
        if (!v[SG_DEST].n && v[SG_ACTION].n == 5 && !memcmp(v[SG_ACTION].p, "block", 5))
            v[SG_DEST] = v[SG_ORIG];
        memset(&in, 0, sizeof in);
        in.time.p = t;
        in.time.n = (size_t)snprintf(t, sizeof t, "%lld", (long long)sqlite3_column_int64(st, 0));
        in.calling = v[SG_ORIG];
        in.called = v[SG_DEST];
        in.dur = in.verstat = in.intent = empty;
        in.ingress = v[SG_CUSTOMER];
        in.attest = v[SG_ATTEST];
        in.origid = v[SG_ORIGID];
        in.spc = v[SG_SPC];
        in.presented = v[SG_PRESENTED];
        in.source = v[SG_SOURCE];
        in.action = v[SG_ACTION];
        in.reasons = v[SG_REASONS];
        rc = add_row(a, &in);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* --- reading the input ------------------------------------------------------------------ */

static void analysis_free(struct analysis *a)
{
    cg_policy_free(a->policy);
    st_free(&a->number_text);
    free(a->number_index.s);
    free(a->intent_pairs.s);
    free(a->pair_index.s);
    free(a->pairs);
    free(a->others);
    free(a->verifies);
    free(a->with_others);
    free(a->spoofs);
    free(a->pop);
    free(a->block);
    free(a->campaign_hours.s);
    st_free(&a->origin_keys);
    st_free(&a->brand_names);
    st_free(&a->origin_details);
    st_free(&a->origin_display);
    free(a->numbers);
    free(a->origins);
    free(a->chunk);
    if (a->spill)
        fclose(a->spill);
}

/* The policy lists and Ofcom data the options name, into a policy of the
 * run's own that the readers ask about each new number and ingress.  Its
 * UK rules are on only with Ofcom data: the one finding of theirs the
 * analysis uses is an unallocated range. */
/* A list file refused whole says why with line 0; its bad rows are
 * skipped as the daemon skips them. */
static void list_refused(const char *file, int line, const char *msg, void *arg)
{
    (void)file;
    if (line == 0)
        snprintf(arg, 256, "%s", msg);
}

static int load_lists(struct analysis *a, char *err, size_t errlen)
{
    const struct cg_analyze_opts *o = a->opts;
    const char *paths[4] = {o->dno_path, o->protected_path, o->ingress_path, o->ofcom_path};
    int (*fn[4])(struct cg_policy *, const char *, cg_policy_report_cb, void *) = {
        cg_policy_load_dno, cg_policy_load_protected, cg_policy_load_ingress, cg_policy_load_ofcom};
    char why[256] = "";
    int i, rc;
    if (cg_policy_new(&a->policy, &(struct cg_policy_config){.uk_rules = o->ofcom_path != NULL}) !=
        CG_OK)
        return CG_ENOMEM;
    for (i = 0; i < 4; i++)
        if (paths[i] && (rc = fn[i](a->policy, paths[i], list_refused, why)) != CG_OK) {
            snprintf(err, errlen, "cannot load %s: %s", paths[i], why[0] ? why : cg_strerror(rc));
            return rc;
        }
    return CG_OK;
}

/* The threads a run uses: the option, else one per core. */
static unsigned run_threads(const struct analysis *a)
{
    long n = a->opts->threads ? (long)a->opts->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* The text reader's work: every input in turn, staged. */
struct reader_job {
    struct stager st;
    const char *const *inputs;
    size_t n;
    int rc;
    char err[512];
};

static void *reader_main(void *arg)
{
    struct reader_job *j = arg;
    struct pipe *p = j->st.pipe;
    size_t i;
    int rc = CG_OK;
    for (i = 0; i < j->n && rc == CG_OK; i++) {
        j->st.path = j->inputs[i];
        j->st.line = 0;
        rc = read_text(&j->st, j->inputs[i], j->err, sizeof j->err);
    }
    if (rc == CG_OK)
        rc = stage_flush(&j->st);
    j->rc = rc;
#ifdef CG_ANALYZE_PHASES
    if (getenv("CG_ANALYZE_PHASES"))
        fprintf(stderr, "reader thread %.3f s cpu\n", seconds(CLOCK_THREAD_CPUTIME_ID));
#endif
    if (p) {
        pthread_mutex_lock(&p->mu);
        p->done = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/*
 * CSV or Asterisk inputs, in order: on one thread, each chunk of staged
 * rows is taken in as it fills; on two or more, a reader parses the rows
 * and makes their numbers' ids and records, running ahead on a thread of
 * its own, while the chunks are taken in here (the origins' ids, the
 * pairs, the spill file), in the same order.  More threads do not read:
 * the file read in parts, a thread each, built tables of nearly every
 * number and origin in each part before merging them (10 million rows, two
 * parts: 7 to 8 s and 860 MB against the pipeline's 5.2 s and 600 MB;
 * three parts: 1,185 MB, over the analyzer's 1 GB), so the threads beyond
 * two serve the first pass after the reading (profile_rows).
 */
static int read_texts(struct analysis *a, const char *const *inputs, size_t n, char *err,
                      size_t errlen)
{
    struct reader_job *j = calloc(1, sizeof *j);
    struct pipe p;
    pthread_t th;
    bool started = false;
    int rc = CG_OK, k;
    if (!j)
        return CG_ENOMEM;
    j->st.opts = a->opts;
    j->st.number_index = &a->number_index;
    j->st.number_text = &a->number_text;
    j->st.origin_keys = &a->origin_keys;
    j->inputs = inputs;
    j->n = n;
    if (run_threads(a) < 2) {
        j->st.a = a;
        if (!(j->st.cur = chunk_new())) {
            free(j);
            return CG_ENOMEM;
        }
        reader_main(j);
        rc = j->rc;
        chunk_free(j->st.cur);
    } else {
        memset(&p, 0, sizeof p);
        pthread_mutex_init(&p.mu, NULL);
        pthread_cond_init(&p.cv, NULL);
        for (k = 0; k < PIPE_CHUNKS; k++)
            if (!(p.chunk[k] = chunk_new()))
                rc = CG_ENOMEM;
        j->st.pipe = &p;
        j->st.a = a;
        j->st.cur = p.chunk[0];
        if (rc == CG_OK && !(started = pthread_create(&th, NULL, reader_main, j) == 0))
            rc = CG_ENOMEM;
        while (rc == CG_OK) {
            struct stage_chunk *c;
            pthread_mutex_lock(&p.mu);
            while (p.tail == p.head && !p.done)
                pthread_cond_wait(&p.cv, &p.mu);
            if (p.tail == p.head) {
                pthread_mutex_unlock(&p.mu);
                break;
            }
            c = p.chunk[p.tail % PIPE_CHUNKS];
            pthread_mutex_unlock(&p.mu);
            rc = commit_chunk(a, c);
            pthread_mutex_lock(&p.mu);
            p.tail++;
            p.stop = rc != CG_OK;
            pthread_cond_broadcast(&p.cv);
            pthread_mutex_unlock(&p.mu);
        }
        if (started)
            pthread_join(th, NULL);
        if (rc == CG_OK)
            rc = j->rc;
        for (k = 0; k < PIPE_CHUNKS; k++)
            chunk_free(p.chunk[k]);
        pthread_mutex_destroy(&p.mu);
        pthread_cond_destroy(&p.cv);
    }
    if (j->err[0] && err && errlen)
        snprintf(err, errlen, "%s", j->err);
    free(j);
    return rc;
}

/* Reads every row of the input, in the format the options name, into the
 * number and origin tables and the spill file (made when needed, owned by
 * the run). */
static int read_input(struct analysis *a, const char *const *inputs, size_t n, char *err,
                      size_t errlen)
{
    size_t i;
    int rc = CG_OK;
    if (a->opts->format == CG_CDR_DECISIONS) {
        rc = read_decisions(a, inputs, n, err, errlen);
    } else {
        if (!a->signing)
            rc = read_texts(a, inputs, n, err, errlen);
        for (i = 0; a->signing && i < n && rc == CG_OK; i++) {
            a->input = inputs[i];
            a->line = 0;
            rc = read_signing(a, inputs[i], err, errlen);
        }
    }
    if (rc == CG_EIO && err && errlen && !err[0])
        snprintf(err, errlen, "cannot keep the rows in a temporary file: %s", strerror(errno));
    return rc;
}

/* Appends s (n bytes) to a string table as the next id, whether or not it
 * is there already. */
static int st_append(struct strtab *t, const char *s, size_t n)
{
    bool created;
    int64_t id = intern(t, s, n, &created);
    if (id < 0)
        return CG_ENOMEM;
    if (!created) { /* a second id for the same text: only the arrays matter here */
        uint32_t *no, *nl;
        if (t->n == t->idcap) {
            uint32_t nc = t->idcap * 2;
            if (!(no = realloc(t->off, nc * sizeof *no)))
                return CG_ENOMEM;
            t->off = no;
            if (!(nl = realloc(t->len, nc * sizeof *nl)))
                return CG_ENOMEM;
            t->len = nl;
            t->idcap = nc;
        }
        t->off[t->n] = t->off[id];
        t->len[t->n] = t->len[id];
        t->n++;
    }
    return CG_OK;
}

/*
 * The signing log's origins as the reports show them, in origin id order:
 * "customer|spcs|origids|addresses", each list ';'-separated, its first
 * ORIGIN_DETAILS and "..." when there were more.  A '|' or ';' inside a
 * name would split it: it is shown as '/'.
 */
static int display_customers(struct analysis *a)
{
    uint32_t i;
    for (i = 0; i < a->origin_keys.n; i++) {
        const struct origin *origin = &a->origins[i];
        char key[ORIGIN_KEY_MAX + 4 * 3 * ORIGIN_DETAILS * 64], *p;
        size_t n = (size_t)snprintf(key, sizeof key, "%s", st_str(&a->origin_keys, i) + 2);
        int kind, k;
        for (p = key; *p; p++)
            if (*p == '|' || *p == ';')
                *p = '/';
        for (kind = 0; kind < 3; kind++) {
            n += (size_t)snprintf(key + n, sizeof key - n, "|");
            for (k = 0; k < ORIGIN_DETAILS && origin->details[kind][k] && n < sizeof key; k++)
                n += (size_t)snprintf(key + n, sizeof key - n, "%s%.60s", k ? ";" : "",
                                      st_str(&a->origin_details, origin->details[kind][k] - 1));
            if (origin->more_details[kind] && n < sizeof key)
                n += (size_t)snprintf(key + n, sizeof key - n, ";...");
            if (n >= sizeof key)
                n = sizeof key - 1;
        }
        if (st_append(&a->origin_display, key, n) != CG_OK)
            return CG_ENOMEM;
    }
    return CG_OK;
}

/* At most this many input files are read as one set. */
#define MAX_INPUTS 4096
/* A baseline's limits: its lines, and their length. */
#define BASELINE_MAX_LINES 100000000
#define BASELINE_LINE_MAX 2048

/* An unsigned decimal of up to 19 digits (a time may be negative). */
static bool parse_i64(struct sv v, int64_t *out)
{
    size_t i = v.n && v.p[0] == '-';
    int64_t x = 0;
    if (v.n == i || v.n - i > 18)
        return false;
    for (; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        x = x * 10 + (v.p[i] - '0');
    }
    *out = v.n && v.p[0] == '-' ? -x : x;
    return true;
}

/*
 * A saved baseline (save_baseline): each number's usual origin and how it
 * used the number, "number,ingress,spc,origid,calls,a_calls,first,last"
 * after a header row.  Its pairs count as history: a usual origin known
 * only from it is taken as still using its number, unless the records
 * show it moved (another origin attesting it A).  A malformed line is
 * reported and skipped.
 */
/* The next line of a baseline into line (its newline and a CR before it
 * dropped), its length in *n: 1, or 0 at the end of the file.  Read a byte
 * at a time, so that a NUL inside a line is part of it rather than its end;
 * a line longer than BASELINE_LINE_MAX is read to its newline and left
 * empty, *too_long set. */
static int baseline_line(gzFile gz, char line[BASELINE_LINE_MAX], size_t *n, bool *too_long)
{
    int c;
    *n = 0;
    *too_long = false;
    while ((c = gzgetc(gz)) != -1 && c != '\n') {
        if (*n < BASELINE_LINE_MAX)
            line[(*n)++] = (char)c;
        else
            *too_long = true;
    }
    if (c == -1 && !*n && !*too_long)
        return 0;
    if (*too_long)
        *n = 0;
    else if (*n && line[*n - 1] == '\r')
        (*n)--;
    return 1;
}

static int load_baseline(struct analysis *a, const char *path, char *err, size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    char line[BASELINE_LINE_MAX];
    uint64_t lines = 0;
    size_t n;
    bool too_long;
    int rc = CG_OK;
    if (!gz) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CG_EIO;
    }
    a->input = path;
    a->line = 0;
    while (rc == CG_OK && baseline_line(gz, line, &n, &too_long)) {
        struct sv f[9];
        char tn[CG_TN_MAX + 1];
        int64_t calls, a_calls, first, last, num, org;
        a->line++;
        if (too_long) {
            report_row(a, "baseline line too long (skipped)");
            continue;
        }
        if (a->line == 1 || !n)
            continue; /* the header */
        if (++lines > BASELINE_MAX_LINES) {
            snprintf(err, errlen, "%s: more than %d lines", path, BASELINE_MAX_LINES);
            rc = CG_ETOOBIG;
            break;
        }
        if (split(line, n, f, 9) != 8 || cg_tn_canon(f[0].p, f[0].n, a->opts->plan, tn) != CG_OK ||
            !parse_i64(f[4], &calls) || !parse_i64(f[5], &a_calls) || !parse_i64(f[6], &first) ||
            !parse_i64(f[7], &last) || calls < 0 || calls > UINT32_MAX || a_calls < 0 ||
            a_calls > calls || first > last || f[1].n + f[2].n + f[3].n + 3 > ORIGIN_KEY_MAX) {
            report_row(a, "not a baseline line (number,ingress,spc,origid,calls,a_calls,first,"
                          "last; skipped)");
            continue;
        }
        if ((num = number_id(a, tn)) < 0 ||
            (org = origin_id(a, &(struct raw_row){.ingress = f[1], .spc = f[2], .origid = f[3]})) <
                0 ||
            pair_add(a, (uint32_t)num, (uint32_t)org, (uint32_t)calls, (uint32_t)a_calls, first,
                     last, false) != CG_OK)
            rc = CG_ENOMEM;
    }
    gzclose(gz);
    a->input = NULL;
    a->line = 0;
    return rc;
}

/* This run's numbers' usual origins (merged with the baseline it read)
 * into `path`, for load_baseline. */
static int save_baseline(const struct analysis *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    size_t i;
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return CG_EIO;
    }
    fputs("number,ingress,spc,origid,calls,a_calls,first,last\n", f);
    for (i = 0; i < a->number_text.n; i++) {
        const struct pair *p;
        const char *key, *bar1, *bar2;
        if (!a->numbers[i].owner)
            continue;
        p = &a->pairs[a->numbers[i].owner - 1];
        key = st_str(&a->origin_keys, p->origin);
        bar1 = strchr(key, '|');
        bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
        if (!bar2 || strpbrk(key, ",\"\r\n"))
            continue; /* not a key this format can carry */
        fprintf(f, "+%s,%.*s,%.*s,%s,%u,%u,%lld,%lld\n", st_str(&a->number_text, (uint32_t)i),
                (int)(bar1 - key), key, (int)(bar2 - bar1 - 1), bar1 + 1, bar2 + 1, p->calls,
                p->a_calls, (long long)p->first, (long long)p->last);
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return CG_EIO;
    }
    return CG_OK;
}

int cg_analyze_files(const char *const *inputs, size_t ninputs, const char *outdir,
                     const struct cg_analyze_opts *o, struct cg_analyze_summary *sum, char *err,
                     size_t errlen)
{
    struct analysis a;
    struct cg__findings fd;
    int rc;

    memset(&a, 0, sizeof a);
    memset(sum, 0, sizeof *sum);
    a.opts = o;
    a.signing = o->format == CG_CDR_SIGNING;
    if (err && errlen)
        err[0] = '\0';
    if (!ninputs || ninputs > MAX_INPUTS) {
        snprintf(err, errlen, "from 1 to %d input files", MAX_INPUTS);
        return CG_EINVAL;
    }
    phase("start");
    if ((rc = load_lists(&a, err, errlen)) != CG_OK ||
        (o->baseline_path && !a.signing &&
         (rc = load_baseline(&a, o->baseline_path, err, errlen)) != CG_OK) ||
        (rc = read_input(&a, inputs, ninputs, err, errlen)) != CG_OK)
        goto out;
    memset(&fd, 0, sizeof fd);
    fd.nums = &a.number_text;
    fd.origins = &a.origin_keys;
    fd.brands = &a.brand_names;
    fd.signing = a.signing;
    if (a.signing) {
        if ((rc = display_customers(&a)) != CG_OK) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        fd.origins = &a.origin_display;
    }
    sum->rows = a.nrows;
    sum->bad_rows = a.bad_rows;
    phase("read+merge");
#ifdef CG_ANALYZE_PHASES
    if (getenv("CG_ANALYZE_PHASES"))
        fprintf(stderr, "rows %zu numbers %u origins %u pairs %zu intent_pairs %zu slots %u/%zu\n",
                a.nrows, a.number_text.n, a.origin_keys.n, a.npairs, a.intent_pairs.n,
                a.number_text.cap, a.number_index.cap);
#endif
    rc = cg__analyze_run(&a, &fd, sum);
    if (rc == CG_OK && o->save_baseline_path && !a.signing)
        rc = save_baseline(&a, o->save_baseline_path, err, errlen);
    if (rc == CG_OK && outdir)
        rc = cg__analyze_write(&fd, outdir, sum, err, errlen);
    phase("write");
    cg__findings_free(&fd);
    if (rc == CG_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    if (rc == CG_EIO && err && errlen && !err[0])
        snprintf(err, errlen, "cannot write or read back the rows' temporary file (disk full?)");
out:
    sum->rows = a.nrows;
    sum->bad_rows = a.bad_rows;
    analysis_free(&a);
    phase("free");
    return rc;
}

int cg_analyze(const char *input, const char *outdir, const struct cg_analyze_opts *o,
               struct cg_analyze_summary *sum, char *err, size_t errlen)
{
    return cg_analyze_files(&input, 1, outdir, o, sum, err, errlen);
}

/* --- the first pass: which origins spoof ------------------------------------------------ */

/* An unverified call from a (network) number that usually verifies (at
 * least 3 passes, at least 80% of its calls). */
static bool number_verifies(const struct analysis *a, uint32_t id)
{
    const struct number *number = &a->numbers[id];
    /* a signing log has no verification: a refused call is no failure */
    return !a->signing && number->verified_calls >= 3 &&
           (uint64_t)number->verified_calls * 5 >= (uint64_t)number->calls * 4;
}

/* The numbers that usually verify, as a bit set (a->verifies). */
static int mark_verifying(struct analysis *a)
{
    size_t i;
    if (!(a->verifies = bits_new(a->number_text.n)))
        return CG_ENOMEM;
    for (i = 0; i < a->number_text.n; i++)
        if (number_verifies(a, (uint32_t)i))
            bit_set(a->verifies, i);
    return CG_OK;
}

static bool usually_verifies(const struct analysis *a, const struct row *r)
{
    /* a number that verifies at home arrives unverified from abroad when
     * its subscriber roams: no failure (a borrowed one is found as such) */
    return r->verstat != VERSTAT_PASSED && bit_get(a->verifies, r->calling) &&
           !a->origins[r->origin].international;
}

/*
 * Whether the origin signs number itself, so that a failed verification of
 * its call with the number is a fault, not a forgery: it presents the
 * number, verified at A, on at least OWN_MIN_CALLS calls, and its other
 * calls with it (failed, or below A) are at most one and a fiftieth of
 * those.  A signature broken by a B2BUA or a certificate lapsed for a
 * moment fails a few of a bank's own calls (0.1-0.3%); without this, one
 * such call made the bank's whole account a campaign and every customer it
 * called a victim.  A forger who copies the bank's SPC and origid into
 * broken Identity headers shares its origin and passes for it only while
 * under a fiftieth of the bank's own calls with the number (and the daemon
 * still blocks or labels each of those calls).  A failure found before the
 * certificate was fetched (a stale iat, a fetch that failed) carries no SPC
 * in the daemon's logs: its origin is not the bank's, and it is judged as
 * any other account's call.
 */
#define OWN_MIN_CALLS 10

static bool signs_itself(const struct analysis *a, uint32_t number, uint32_t origin)
{
    const uint32_t *i = map_peek(&a->pair_index, (uint64_t)number << 32 | origin);
    const struct pair *p = i ? &a->pairs[*i] : NULL;
    return p && p->a_calls >= OWN_MIN_CALLS && p->calls - p->a_calls <= 1 + p->a_calls / 50;
}

/*
 * Completes a row's flags as the passes read it back, once the whole input
 * is known: ROW_VERIFY_FAILURE, a bank's own call that failed verification
 * (signs_itself: its protected number then carries no signal), and a
 * bank's own dialler.  A protected number without a live intent from a
 * network number that presented it with one elsewhere in the input is the
 * bank's own call placed after its intent expired (a retry, a late dial):
 * the daemon blocks it, but it is not spoofing, and it is counted apart
 * (*own).  A spoofer borrows a consumer's network number, which never
 * carried the bank's intents.
 */
static void settle_flags(const struct analysis *a, struct row *r, uint64_t *own)
{
    r->flags |= usually_verifies(a, r) ? ROW_VERIFY_FAILURE : 0;
    /* only the number the signature was about: a presentation number
     * apart from it is unverified whether the signature held or not */
    if (r->verstat == VERSTAT_FAILED && r->presented == r->calling &&
        a->origins[r->origin].account && (row_signals(r) & ROW_PROTECTED_UNVERIFIED) &&
        signs_itself(a, r->calling, r->origin)) {
        r->flags &= (uint8_t)~ROW_PROTECTED_UNVERIFIED;
        r->pflags &= (uint8_t)~ROW_PROTECTED_UNVERIFIED;
    }
    if ((row_signals(r) & ROW_PROTECTED_NO_INTENT) &&
        map_has(&a->intent_pairs, (uint64_t)r->calling << 32 | r->presented)) {
        r->flags &= (uint8_t)~ROW_PROTECTED_NO_INTENT;
        r->pflags &= (uint8_t)~ROW_PROTECTED_NO_INTENT;
        ++*own;
    }
}

/* --- the numbers' usual origins -------------------------------------------------------- */

static int cmp_u32_desc(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/*
 * What kind of owner each usual origin is, for the borrowing rule: how many
 * numbers it is the usual origin of, whether it signs a protected number A
 * itself (a bank: its other numbers are the bank's unprotected lines), and
 * the fewest numbers that make a subscriber switch; and each origin's calls
 * presenting a number that another origin presents too (behaving_badly).
 *
 * A consumer's number lives on its carrier's switch, which is the usual
 * origin of a large share of all numbers; a business's, a bank's, a police
 * force's or a contact centre's on an account or trunk of its own with a
 * few, a few dozen, a few hundred.  The records' own scale decides: half of
 * the owned numbers belong to origins of at least M numbers each (the
 * number-weighted median of the owners' sizes: the switch a typical number
 * lives on), and a subscriber switch is an origin owning at least a quarter
 * of M.  Only records whose switches are clearly larger than enterprises
 * tell the two apart: a quarter of M must be at least SWITCH_MIN_NUMBERS.
 * In smaller records (a small network's, or a short stretch of a large
 * one's) no number is taken for a private subscriber's (owners_told false).
 */
#define SWITCH_MIN_NUMBERS 100

static int owner_kinds(struct analysis *a)
{
    size_t i, n = 0, norigins = a->origin_keys.n;
    uint64_t total = 0, acc = 0;
    uint32_t *size, median = 0;
    uint8_t *presenters;
    for (i = 0; i < norigins; i++) {
        a->origins[i].owned = a->origins[i].shared_calls = 0;
        a->origins[i].bank = false;
    }
    for (i = 0; i < a->number_text.n; i++)
        if (a->numbers[i].owner)
            a->origins[a->pairs[a->numbers[i].owner - 1].origin].owned++;
    for (i = 0; i < a->npairs; i++)
        if (a->pairs[i].a_calls && a->numbers[a->pairs[i].number].brand >= 0)
            a->origins[a->pairs[i].origin].bank = true;
    /* the origins presenting each number (2 are enough to know), then each
     * origin's calls presenting a number another origin presents too */
    if (!(presenters = calloc(a->number_text.n + 1, 1)))
        return CG_ENOMEM;
    for (i = 0; i < a->npairs; i++)
        if (presenters[a->pairs[i].number] < 2)
            presenters[a->pairs[i].number]++;
    for (i = 0; i < a->npairs; i++)
        if (presenters[a->pairs[i].number] >= 2)
            a->origins[a->pairs[i].origin].shared_calls += a->pairs[i].current;
    free(presenters);
    if (!(size = malloc((norigins + 1) * sizeof *size)))
        return CG_ENOMEM;
    for (i = 0; i < norigins; i++)
        if (a->origins[i].owned) {
            size[n++] = a->origins[i].owned;
            total += a->origins[i].owned;
        }
    qsort(size, n, sizeof *size, cmp_u32_desc);
    for (i = 0; i < n && acc * 2 < total; i++) {
        acc += size[i];
        median = size[i];
    }
    free(size);
    a->owners_told = median / 4 >= SWITCH_MIN_NUMBERS;
    a->switch_min = a->owners_told ? median / 4 : UINT32_MAX;
    return CG_OK;
}

/*
 * Each number's usual origin: the pair with most of its A-attested calls,
 * when it has at least 80% of them (a number only its owner's carrier can
 * attest A); for a number never attested A, the domestic origin that
 * carried at least 80% of its calls and at least 3.  The other pairs of a
 * number with a usual origin are listed for the borrowing test.
 */
static int decide_owners(struct analysis *a)
{
    size_t nn = a->number_text.n, i;
    uint32_t *best_a = calloc(nn + 1, sizeof *best_a), *best_c = calloc(nn + 1, sizeof *best_c);
    /* a number's calls over all its origins: past 32 bits with a large baseline */
    uint64_t *sum_a = calloc(nn + 1, sizeof *sum_a), *sum_c = calloc(nn + 1, sizeof *sum_c);
    size_t total = 0;
    int rc = CG_ENOMEM;
    if (!best_a || !sum_a || !best_c || !sum_c)
        goto out;
    for (i = 0; i < a->npairs; i++) {
        const struct pair *p = &a->pairs[i];
        uint32_t n = p->number;
        sum_a[n] += p->a_calls;
        sum_c[n] += p->calls;
        if (p->a_calls && (!best_a[n] || p->a_calls > a->pairs[best_a[n] - 1].a_calls))
            best_a[n] = (uint32_t)i + 1;
        if (!best_c[n] || p->calls > a->pairs[best_c[n] - 1].calls)
            best_c[n] = (uint32_t)i + 1;
    }
    for (i = 0; i < nn; i++) {
        struct number *num = &a->numbers[i];
        num->owner = num->others_first = num->others_n = 0;
        if (best_a[i]) {
            if ((uint64_t)a->pairs[best_a[i] - 1].a_calls * 5 >= sum_a[i] * 4)
                num->owner = best_a[i];
        } else if (best_c[i]) {
            const struct pair *p = &a->pairs[best_c[i] - 1];
            if (p->calls >= 3 && (uint64_t)p->calls * 5 >= sum_c[i] * 4 &&
                !a->origins[p->origin].international)
                num->owner = best_c[i];
        }
    }
    /* the other pairs of each owned number, grouped by number */
    for (i = 0; i < a->npairs; i++) {
        struct number *num = &a->numbers[a->pairs[i].number];
        if (num->owner && num->owner != i + 1) {
            num->others_n++;
            total++;
        }
    }
    free(a->others);
    if (!(a->others = malloc((total + 1) * sizeof *a->others)))
        goto out;
    total = 0;
    free(a->with_others);
    if (!(a->with_others = bits_new(nn)))
        goto out;
    for (i = 0; i < nn; i++) {
        a->numbers[i].others_first = (uint32_t)total;
        total += a->numbers[i].others_n;
        if (a->numbers[i].others_n)
            bit_set(a->with_others, i);
        a->numbers[i].others_n = 0;
    }
    for (i = 0; i < a->npairs; i++) {
        const struct pair *p = &a->pairs[i];
        struct number *num = &a->numbers[p->number];
        if (!num->owner || num->owner == i + 1)
            continue;
        a->others[num->others_first + num->others_n++] = (uint32_t)i;
        a->need_inside |= !p->a_calls && (a->pairs[num->owner - 1].a_calls == 0 ||
                                          a->origins[p->origin].international);
    }
    rc = owner_kinds(a);
out:
    free(best_a);
    free(sum_a);
    free(best_c);
    free(sum_c);
    return rc;
}

/* A pass over the rows: each usual origin's calls that fall within another
 * origin's use of the same number (first..last), for the pairs whose
 * borrowing depends on it. */
static int count_inside(struct analysis *a)
{
    size_t i, n;
    if (!a->need_inside)
        return CG_OK;
    if (rows_rewind(a) != CG_OK)
        return CG_EIO;
    while ((n = rows_next(a)) > 0)
        for (i = 0; i < n; i++) {
            const struct row *r = &a->chunk[i];
            const struct number *num = &a->numbers[r->presented];
            uint32_t k;
            if (!bit_get(a->with_others, r->presented) ||
                a->pairs[num->owner - 1].origin != r->origin)
                continue;
            for (k = 0; k < num->others_n; k++) {
                struct pair *p = &a->pairs[a->others[num->others_first + k]];
                p->inside += r->t >= p->first && r->t <= p->last;
            }
        }
    return CG_OK;
}

/*
 * Which pairs borrow their number: another origin than its usual one
 * presents it, without attesting it A (an origin that attests it A has it
 * too: a second line, a ported number), while the usual origin keeps using
 * it (its last call is not before the pair's first: a number that moved
 * away for good was ported).  A UK mobile arriving from abroad is a
 * subscriber roaming unless the usual origin called with it during that
 * time (one phone is not in two countries), and a number whose usual
 * origin is only the trunk it arrives on needs the same proof.  Each
 * borrowed number presented at least 3 times is counted by its owner's
 * kind (owner_kinds): a private subscriber's, a bank's line, or else an
 * enterprise's.
 */
static void mark_borrowed(struct analysis *a)
{
    size_t i;
    for (i = 0; i < a->npairs; i++) {
        struct pair *p = &a->pairs[i];
        const struct number *num = &a->numbers[p->number];
        const struct pair *u;
        struct origin *origin = &a->origins[p->origin];
        p->borrowed = false;
        if (!num->owner || num->owner == i + 1 || p->a_calls || !p->current)
            continue;
        u = &a->pairs[num->owner - 1];
        /* an A-attested number presented unattested by another is borrowed
         * whenever that was (a number that moves to another carrier is
         * attested A there); one only carried moved when its usual trunk
         * stopped carrying it before */
        if (u->a_calls == 0 && u->current && u->last < p->first)
            continue;
        if ((u->a_calls == 0 || origin->international) && !p->inside)
            continue;
        p->borrowed = true;
        origin->borrowed_calls += p->current;
        origin->borrowed_numbers++;
        if (p->current < 3) /* presented once or twice: forwarded, carried in transit */
            continue;
        if (a->origins[u->origin].owned >= a->switch_min) {
            origin->private_calls += p->current;
            origin->private_numbers++;
        } else if (a->origins[u->origin].bank) {
            origin->bank_calls += p->current;
            origin->bank_numbers++;
        }
    }
}

/* Whether the row presents a number its origin borrows. */
static bool row_borrowed(const struct analysis *a, const struct row *r)
{
    uint64_t key = (uint64_t)r->presented << 32 | r->origin;
    return a->origins[r->origin].borrowed_numbers &&
           a->pairs[map_get(&a->pair_index, key)].borrowed;
}

/*
 * The owner's own contacts: of an origin's borrowed calls, those to a
 * callee whom the number's usual origin also called with the number.  A
 * platform presenting its users' own numbers (an app that calls with the
 * user's mobile number, verified caller ID), a sim-ring or a forwarded
 * call reaches the people the number's owner calls from home; a spoofer's
 * victims are strangers to it.  Only a person's number counts, one its
 * owner called with at most CONTACT_MAX_CALLS times a day of the records:
 * a bank's or a business's line reaches so many people that a spoofer's
 * victims would be among them by chance.  Nor does a callee on the lists
 * (a bank's inbound line, a DNO number): everyone calls those, and a
 * spoofer taking over accounts calls them with its victims' numbers.
 * Counted for the origins that may be such a platform (owners_platform's
 * floors), once the borrowed pairs are known, in two passes over the rows:
 * their borrowed calls' (number, callee) first, then the owners' calls that
 * match one (a set of the owners' calls held 2.5 million pairs, 150 MB, at
 * 10 million rows; this one a quarter of a million).
 */
#define CONTACT_MAX_CALLS 100
#define BORROW_MIN_NUMBERS 3 /* the borrowing rule's floors (borrowing) */
#define BORROW_MIN_CALLS 50

/* owners_platform's floors: enough borrowed calls, four in five of its calls */
static bool contact_candidate(const struct origin *o)
{
    return o->borrowed_numbers >= BORROW_MIN_NUMBERS && o->borrowed_calls >= BORROW_MIN_CALLS &&
           (uint64_t)o->borrowed_calls * 5 >= (uint64_t)o->calls * 4;
}

static int count_contacts(struct analysis *a)
{
    struct map64 reached = {0}; /* number << 32 | callee of a judged borrowed call -> 1 if
                                 * the number's owner called the callee too */
    uint64_t *key = NULL;       /* the judged borrowed calls, in row order */
    uint32_t *origin = NULL;
    uint64_t *pairs_reached = NULL, *called = NULL, callees = 0;
    int64_t days = (a->tmax - a->tmin) / 86400 + 1;
    uint64_t max_calls = CONTACT_MAX_CALLS * (uint64_t)(days > 0 ? days : 1);
    size_t i, n, pass, nj = 0, cap = 0;
    int rc = CG_OK;
    bool any = false;
    for (i = 0; i < a->origin_keys.n && !any; i++)
        any = contact_candidate(&a->origins[i]);
    if (any && !(called = bits_new(a->number_text.n)))
        return CG_ENOMEM;
    for (pass = 0; pass < 2 && any && rc == CG_OK; pass++) {
        if (rows_rewind(a) != CG_OK) {
            rc = CG_EIO;
            break;
        }
        while (rc == CG_OK && (n = rows_next(a)) > 0)
            for (i = 0; i < n && rc == CG_OK; i++) {
                const struct row *r = &a->chunk[i];
                const struct pair *owner;
                const struct number *callee = &a->numbers[r->called];
                uint64_t k = (uint64_t)r->presented << 32 | r->called;
                uint32_t *v;
                bool fresh;
                if (pass == 1 && !bit_get(called, r->called)) {
                    bit_set(called, r->called);
                    callees++;
                }
                if (!bit_get(a->with_others, r->presented) || callee->dno || callee->brand >= 0)
                    continue;
                owner = &a->pairs[a->numbers[r->presented].owner - 1];
                if (pass == 0 && owner->origin != r->origin &&
                    contact_candidate(&a->origins[r->origin]) && row_borrowed(a, r)) {
                    if (nj == cap &&
                        (rc = grow((void **)&key, &cap, nj, sizeof *key, 4096)) == CG_OK) {
                        uint32_t *o = realloc(origin, cap * sizeof *origin);
                        rc = o ? CG_OK : CG_ENOMEM;
                        origin = o ? o : origin;
                    }
                    if (rc == CG_OK && !map_slot(&reached, k, &fresh))
                        rc = CG_ENOMEM;
                    if (rc == CG_OK) {
                        key[nj] = k;
                        origin[nj++] = r->origin;
                    }
                } else if (pass == 1 && owner->origin == r->origin && owner->current <= max_calls &&
                           (v = (uint32_t *)map_peek(&reached, k))) {
                    *v = 1;
                }
            }
    }
    /* each borrowed pair counted once among the numbers reached */
    if (rc == CG_OK && nj && !(pairs_reached = bits_new(a->npairs)))
        rc = CG_ENOMEM;
    for (i = 0; i < nj && rc == CG_OK; i++) {
        const struct pair *owner = &a->pairs[a->numbers[key[i] >> 32].owner - 1];
        uint32_t p;
        /* a stranger called at random is one of the owner's callees (at
         * most its calls) with this chance */
        if (callees && owner->current <= max_calls)
            a->origins[origin[i]].contact_chance +=
                (double)(owner->current < callees ? owner->current : callees) / (double)callees;
        if (!map_get(&reached, key[i]))
            continue;
        a->origins[origin[i]].contact_calls++;
        p = map_get(&a->pair_index, (key[i] >> 32) << 32 | origin[i]);
        if (!bit_get(pairs_reached, p)) {
            bit_set(pairs_reached, p);
            a->origins[origin[i]].contact_numbers++;
        }
    }
    free(pairs_reached);
    free(called);
    free(reached.s);
    free(key);
    free(origin);
    return rc;
}

/*
 * Whether an origin is its numbers' owners' own platform (count_contacts):
 * four in five of its calls present borrowed numbers, at least one in
 * CONTACT_SHARE of those reaches a callee the number's owner called too,
 * and at least one in CONTACT_NUMBERS of its borrowed numbers does, so that
 * a spoofer cannot buy the exemption with one number of its own presented
 * to its own line again and again; and at least CONTACT_CHANCE times the
 * calls that would reach an owner's callee by chance (where few people are
 * called, as in a small network's records, strangers often are: a
 * simulated day of 683 callees gave a borrower 18 such calls of 321, on 13
 * of its 52 numbers, where chance alone makes 14).  On an independent generator's
 * days (tests/eval/gen_carrier_day.py) every fraud stayed at 0.3% of its calls (and at most 2 of
 * its numbers) or under; apps calling with their users' own numbers were at 18-22% of calls and
 * 32-77% of numbers.  Such an origin is not listed for borrowing, rotating, neighbour spoofing or
 * its behaviour: its users call their own families (whose numbers were issued with theirs) and
 * friends, a few calls each.
 */
#define CONTACT_SHARE 20
#define CONTACT_NUMBERS 5
#define CONTACT_CHANCE 4

static bool owners_platform(const struct origin *o)
{
    return contact_candidate(o) &&
           (uint64_t)o->contact_calls * CONTACT_SHARE >= o->borrowed_calls &&
           o->contact_calls >= CONTACT_CHANCE * o->contact_chance &&
           (uint64_t)o->contact_numbers * CONTACT_NUMBERS >= o->borrowed_numbers;
}

/*
 * Neighbour spoofing: a presentation number chosen to share the callee's
 * leading digits, so that the callee takes it for someone local or known.
 * A UK mobile number carries no locality: two subscribers' numbers share
 * their first five national digits (07xxx x, one block of 100,000 numbers
 * among thousands) by chance only rarely, and a family or a company's
 * fleet whose numbers were issued together calls from its own numbers,
 * whose usual origin is the origin itself.  Geographic numbers are not
 * judged: a local business shares its callers' area code and exchange.
 */
static int number_blocks(struct analysis *a)
{
    size_t i, n = a->number_text.n;
    if (!(a->block = calloc(n + 1, sizeof *a->block)))
        return CG_ENOMEM;
    for (i = 0; i < n; i++) {
        const char *tn = st_str(&a->number_text, (uint32_t)i);
        if (a->numbers[i].uk_mobile && strlen(tn) == 12)
            a->block[i] = (uint16_t)(1 + (tn[3] - '0') * 1000 + (tn[4] - '0') * 100 +
                                     (tn[5] - '0') * 10 + (tn[6] - '0'));
    }
    return CG_OK;
}

/* Whether the row presents a number in its callee's block that is not
 * its origin's own (number_blocks). */
static bool row_neighbour(const struct analysis *a, const struct row *r)
{
    uint32_t owner;
    if (!a->block || !a->block[r->presented] || r->presented == r->called ||
        a->block[r->presented] != a->block[r->called])
        return false;
    owner = a->numbers[r->presented].owner;
    return !owner || a->pairs[owner - 1].origin != r->origin;
}

/* --- behaviour ---------------------------------------------------------------------------- */

/* Origins with at least BEH_MIN_CALLS calls are judged by their behaviour,
 * against the population of those with at least POP_MIN_CALLS when there
 * are at least POP_MIN_ORIGINS of them (else no one is judged: a median of
 * a handful is no norm). */
#define BEH_MIN_CALLS 20
#define POP_MIN_CALLS 30
#define POP_MIN_ORIGINS 8
#define HLL_REGS 128 /* distinct callees estimated in 128 one-byte registers */

/* What the profile pass counts for one judged origin. */
struct beh_pop {
    uint32_t origin;
    uint32_t hours[24]; /* calls per hour of the day (UTC) */
    uint8_t hll[HLL_REGS];
    struct cg__behaviour beh;
};

/* The natural logarithm of x > 0 (0 otherwise), to 1e-12: the library
 * does not link libm for these few scores.  x = m * 2^e with m in [1, 2),
 * ln m = 2 atanh((m - 1) / (m + 1)) by its series. */
static double ln(double x)
{
    union {
        double d;
        uint64_t u;
    } v = {x};
    int e;
    double m, t, t2, term, sum = 0;
    int k;
    if (!(x > 0) || x > 1e300)
        return 0;
    e = (int)((v.u >> 52) & 0x7ff) - 1023;
    if (e == -1023) /* subnormal: scale up first */
        return ln(x * 4503599627370496.0) - 36.04365338911715;
    v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    m = v.d;
    t = (m - 1) / (m + 1);
    t2 = t * t;
    term = t;
    for (k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= t2;
    }
    return 2 * sum + e * 0.69314718055994530942;
}

static double absd(double x)
{
    return x < 0 ? -x : x;
}

static void hll_add(uint8_t *reg, uint32_t v)
{
    uint64_t h = mix64((uint64_t)v * 0x9e3779b97f4a7c15ull + 1);
    unsigned j = (unsigned)(h & (HLL_REGS - 1)), rank = 1;
    h >>= 7;
    while (!(h & 1) && rank < 57) {
        rank++;
        h >>= 1;
    }
    if (rank > reg[j])
        reg[j] = (uint8_t)rank;
}

static double hll_count(const uint8_t *reg)
{
    double sum = 0, m = HLL_REGS, est;
    int zeros = 0, j;
    for (j = 0; j < HLL_REGS; j++) {
        sum += 1.0 / (double)(1ull << reg[j]);
        zeros += !reg[j];
    }
    est = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (est <= 2.5 * m && zeros)
        est = m * ln(m / zeros);
    return est;
}

/* The origins with enough calls to be judged get their behaviour arrays. */
static int make_population(struct analysis *a)
{
    size_t i, norigins = a->origin_keys.n;
    a->npop = 0;
    for (i = 0; i < norigins; i++) {
        struct origin *o = &a->origins[i];
        o->pop = !a->signing && o->calls >= BEH_MIN_CALLS ? (int32_t)a->npop++ : -1;
    }
    if (!a->npop)
        return CG_OK;
    if (!(a->pop = calloc(a->npop, sizeof *a->pop)))
        return CG_ENOMEM;
    for (i = 0; i < norigins; i++)
        if (a->origins[i].pop >= 0)
            a->pop[a->origins[i].pop].origin = (uint32_t)i;
    return CG_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The median of v (n values, reordered). */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double clip6(double z)
{
    return z < 0 ? 0 : z > 6 ? 6 : z;
}

/*
 * Each judged origin's features, their robust z-scores against the judged
 * origins (median, and MAD scaled to a standard deviation, floored so that
 * a population of near-identical origins does not make small differences
 * large), the largest of each family and the score, their sum.
 */
static int judge_behaviour(struct analysis *a)
{
    /* the smallest spread a feature's z-score divides by */
    static const double floor_sd[CG__F__COUNT] = {0.05, 0.05, 0.05, 0.08, 0.3, 0.5, 0.08, 0.08};
    /* the hour-of-day shape is reported, not scored: a small origin's few
     * calls spread unevenly over 24 hours by chance alone */
    static const int family[CG__F__COUNT] = {0, 0, 0, 2, 1, 2, 2, -1};
    double *v = malloc((a->npop + 1) * sizeof *v), pooled[24] = {0}, all = 0;
    size_t i, n;
    int f, h;
    if (!v)
        return CG_ENOMEM;
    for (i = n = 0; i < a->npop; i++)
        n += a->origins[a->pop[i].origin].calls >= POP_MIN_CALLS;
    if (n < POP_MIN_ORIGINS) {
        free(v);
        return CG_OK;
    }
    for (i = 0; i < a->npop; i++)
        for (h = 0; h < 24; h++) {
            pooled[h] += a->pop[i].hours[h];
            all += a->pop[i].hours[h];
        }
    for (i = 0; i < a->npop; i++) {
        struct beh_pop *p = &a->pop[i];
        const struct origin *o = &a->origins[p->origin];
        double calls = o->calls, d = 0, *x = p->beh.feat;
        p->beh.judged = true;
        p->beh.callees = (uint32_t)(hll_count(p->hll) + 0.5);
        if (p->beh.callees > o->calls)
            p->beh.callees = o->calls;
        p->beh.borrowed_calls = o->borrowed_calls;
        p->beh.borrowed_numbers = o->borrowed_numbers;
        p->beh.private_calls = o->private_calls;
        p->beh.bank_calls = o->bank_calls;
        p->beh.neighbour_calls = o->neighbour_calls;
        x[CG__F_BORROWED] = o->foreign_calls / calls;
        x[CG__F_NEW] = o->distinct_presented / calls;
        x[CG__F_TURNOVER] =
            o->last_call > o->first_call && o->lifetime_even > 0
                ? 1 - o->lifetime / ((double)(o->last_call - o->first_call) * o->lifetime_even)
                : 0;
        if (x[CG__F_TURNOVER] < 0)
            x[CG__F_TURNOVER] = 0;
        x[CG__F_ANSWER] = o->answered / calls;
        p->beh.mean_talk = o->answered ? (double)o->talk / o->answered : 0;
        x[CG__F_TALK] = ln(1 + p->beh.mean_talk);
        x[CG__F_PEAK] = ln(1.0 + p->beh.peak) / 0.69314718055994530942;
        x[CG__F_REACH] = p->beh.callees / calls;
        for (h = 0; h < 24; h++)
            d += absd(p->hours[h] / calls - (all > 0 ? pooled[h] / all : 0));
        x[CG__F_HOURS] = d / 2;
    }
    for (f = 0; f < CG__F__COUNT; f++) {
        double med, mad, sd;
        for (i = n = 0; i < a->npop; i++)
            if (a->origins[a->pop[i].origin].calls >= POP_MIN_CALLS)
                v[n++] = a->pop[i].beh.feat[f];
        med = median(v, n);
        for (i = n = 0; i < a->npop; i++)
            if (a->origins[a->pop[i].origin].calls >= POP_MIN_CALLS)
                v[n++] = absd(a->pop[i].beh.feat[f] - med);
        mad = median(v, n);
        sd = 1.4826 * mad > floor_sd[f] ? 1.4826 * mad : floor_sd[f];
        for (i = 0; i < a->npop; i++) {
            struct cg__behaviour *b = &a->pop[i].beh;
            b->z[f] = (b->feat[f] - med) / sd;
            if (family[f] >= 0 && clip6(b->z[f]) > b->family[family[f]])
                b->family[family[f]] = clip6(b->z[f]);
        }
    }
    for (i = 0; i < a->npop; i++) {
        struct cg__behaviour *b = &a->pop[i].beh;
        b->score = b->family[0] + b->family[1] + b->family[2];
    }
    free(v);
    return CG_OK;
}

/*
 * The rules on behaviour (docs/analyze.md), each needing the origin to
 * present numbers that are not its own and to harm its callees.
 *
 * borrowing: at least BORROW_MIN_NUMBERS borrowed numbers on at least
 * BORROW_MIN_CALLS calls, each borrowed number used at least 3 times on
 * average (a forwarded call or a transit carries each subscriber's number
 * once or twice), on at least a fifth of its calls, a borrowed_share z of
 * at least 3 and a score of at least BORROW_SCORE, and not its numbers'
 * owners' own platform (owners_platform).  Whose numbers they are then
 * decides what else it takes:
 *
 *   - Private subscribers' numbers, or banks' lines, on at least a tenth of
 *     its borrowed calls.  No one has a reason to present a stranger's
 *     mobile or home number again and again, nor a bank's line unless it is
 *     the bank's agent, whose one-time passwords and reminders are short
 *     calls.  Harm is then enough: a talk_log z of at least 2 (answered
 *     calls far longer than the other origins': callees kept on the line;
 *     the answer rate is no harm here, one-time passwords are answered more
 *     often than anything).  Or slow rotation through them: a turnover z of
 *     at least 2 with harm + dialling at least 1.5.
 *   - Enterprises' numbers only: what an agency presents for its clients
 *     and a CPaaS for its customers, with their leave, which call records
 *     cannot show.  How briefly each number is used (turnover) then says
 *     how the dialler schedules its clients (one client's campaign at a
 *     time reads as high a turnover as slow rotation), and a debt
 *     collector's calls are long: no behaviour tells the agency from a
 *     fraud presenting the same businesses' numbers, so neither is listed
 *     by this rule.  A police force's or a business's numbers that must not
 *     be presented by others belong on the protected list.
 *   - In records too small to tell a subscriber switch from an enterprise
 *     (owners_told false), any borrowed numbers: a turnover z of at least
 *     2, some harm (talk time or answer rate above the population's:
 *     bursts of short calls alone are how one-time-password traffic looks)
 *     with harm + dialling at least 1.5.
 *
 * behaviour: an account that presents at least 10 numbers, mostly without
 * A attestation, a score of at least BEHAVIOUR_SCORE, and either a
 * new_number_rate or turnover z of at least 3 with harm at least 3 and
 * dialling at least 2, or a turnover z of at least 3 with harm + dialling
 * at least 4.  It is for numbers without an owner in the records: when the
 * records tell whose numbers are whose, an origin whose calls mostly present
 * numbers that other origins present too (borrowed ones, or an agency's
 * clients' numbers that the clients sign B themselves, of which neither is
 * the usual origin) is the borrowing rule's to judge.
 */
#define BORROW_SCORE 7.0
#define BEHAVIOUR_SCORE 10.0

static bool borrowing(const struct analysis *a, const struct origin *o,
                      const struct cg__behaviour *b)
{
    uint64_t unrelated = (uint64_t)o->private_calls + o->bank_calls;
    bool rotation = b->z[CG__F_TURNOVER] >= 2 && b->family[1] + b->family[2] >= 1.5;
    if (o->borrowed_numbers < BORROW_MIN_NUMBERS || o->borrowed_calls < BORROW_MIN_CALLS ||
        o->borrowed_calls < 3 * o->borrowed_numbers || o->borrowed_calls * 5 < o->calls ||
        b->z[CG__F_BORROWED] < 3 || b->score < BORROW_SCORE || owners_platform(o))
        return false;
    if (unrelated * 10 >= o->borrowed_calls && (b->z[CG__F_TALK] >= 2 || rotation))
        return true;
    return !a->owners_told && rotation && b->family[1] > 0;
}

static bool behaving_badly(const struct analysis *a, const struct origin *o,
                           const struct cg__behaviour *b)
{
    bool numbers = b->z[CG__F_NEW] >= 3 || b->z[CG__F_TURNOVER] >= 3;
    return o->account && o->distinct_presented >= 10 && o->calls_not_verified_a * 2 > o->calls &&
           !owners_platform(o) && (!a->owners_told || o->shared_calls * 2 < o->calls) &&
           ((numbers && b->family[1] >= 3 && b->family[2] >= 2) ||
            (b->z[CG__F_TURNOVER] >= 3 && b->family[1] + b->family[2] >= 4)) &&
           b->score >= BEHAVIOUR_SCORE;
}

/*
 * Neighbour spoofing (row_neighbour), on an account or a trunk (an
 * international gateway included): at least NEIGHBOUR_MIN_CALLS calls
 * presenting a neighbour of the callee, on a share of its calls at least
 * NEIGHBOUR_RATIO times the rest of the records' (all other origins'
 * calls together), that rate taken as at least NEIGHBOUR_CHANCE (the
 * chance that two UK mobiles share a block, family plans included: the
 * records of a small network may show none).  Subscribers roaming abroad
 * call their contacts, whose numbers share their block no more often than
 * anyone's.
 */
#define NEIGHBOUR_MIN_CALLS 20
#define NEIGHBOUR_RATIO 10
#define NEIGHBOUR_CHANCE 0.001

static bool neighbouring(const struct analysis *a, const struct origin *o)
{
    uint64_t rest_calls = a->all_calls - o->calls;
    double rest = rest_calls ? (double)(a->neighbour_calls - o->neighbour_calls) / rest_calls : 0;
    if (rest < NEIGHBOUR_CHANCE)
        rest = NEIGHBOUR_CHANCE;
    return o->neighbour_calls >= NEIGHBOUR_MIN_CALLS &&
           o->neighbour_calls >= NEIGHBOUR_RATIO * rest * o->calls && !owners_platform(o);
}

/*
 * The campaign kind of a call by its strongest signal (a borrowed number,
 * then a neighbour of the callee, last), -1 for a call without one.
 */
static int call_kind(const struct row *r, bool borrowed, bool neighbour)
{
    unsigned f = row_signals(r);
    if (f & (ROW_PROTECTED_UNVERIFIED | ROW_PROTECTED_NO_INTENT))
        return CG__K_BANK;
    if (f & ROW_DNO)
        return CG__K_DNO;
    if (f & ROW_UNALLOCATED)
        return CG__K_UNALLOC;
    if (f & ROW_UK_FROM_ABROAD)
        return CG__K_INTL;
    if (f & ROW_VERIFY_FAILURE)
        return CG__K_VERIFY;
    return borrowed ? CG__K_BORROWED : neighbour ? CG__K_NEIGHBOUR : -1;
}

/* A trunk's campaigns are split where its calls of a kind pause for more
 * than this many hours. */
#define CAMPAIGN_GAP_HOURS 3
#define HOUR_BITS 20

/* The key of a trunk's calls of one kind in one hour (since the first row). */
static uint64_t hour_key(const struct analysis *a, uint32_t origin, int kind, int64_t t)
{
    uint64_t hour = (uint64_t)(t - a->tmin) / 3600;
    if (hour >= (1u << HOUR_BITS))
        hour = (1u << HOUR_BITS) - 1;
    return ((uint64_t)origin << 8 | (uint32_t)kind) << HOUR_BITS | hour;
}

/* The first pass's own sets, freed by profile_origins. */
struct profile_pass {
    struct map64 presented;  /* signing log: (origin, presentation number) pairs */
    struct map64 conclusive; /* (origin, number) pairs of conclusive calls */
    struct map64 minutes;    /* judged origin << 32 | minute -> calls */
    struct map64 hours;      /* a trunk's hours with calls of a kind (campaign_hours) */
};

static void profile_pass_free(struct profile_pass *pp)
{
    free(pp->presented.s);
    free(pp->conclusive.s);
    free(pp->minutes.s);
    free(pp->hours.s);
}

/*
 * The first pass runs on every thread: each takes the rows of its share
 * of the origins (origin id modulo the shares), whose counters are its
 * alone, with sets of its own; what they count does not depend on how the
 * origins are shared out.  The rows come a chunk at a time, read by the
 * first thread while the others wait for the next round.
 */
#define PROFILE_BATCH (16 * CHUNK_ROWS)

struct profile_round {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t round;    /* bumped for each batch */
    size_t rows;       /* the batch's rows (0: the pass is over) */
    struct row *batch; /* PROFILE_BATCH rows: few rounds, for threads that wait for a core */
    unsigned active;   /* workers still counting the chunk */
};

struct profile_worker {
    struct analysis *a;
    struct profile_pass pp;
    unsigned k, n;
    uint64_t own;
    int rc;
    struct profile_round *round;
};

static int profile_call(struct analysis *a, struct profile_pass *pp, struct row *r, uint64_t *own);

static void profile_share(struct profile_worker *w, size_t rows)
{
    const struct analysis *a = w->a;
    const struct row *batch = w->round->batch;
    size_t i, j;
    for (i = 0; i < rows && w->rc == CG_OK; i++) {
        struct row *r = &w->round->batch[i];
        /* a block at a time (PREFETCH_BLOCK): the origins' records of the
         * rows two blocks ahead (each row touches their first 64 bytes,
         * two cache lines at most) and their numbers' blocks; of the next
         * block, whose origins are in the cache by then, a borrower's
         * pair's slot, and a judged origin's hour and minute counters */
        if (i % PREFETCH_BLOCK == 0) {
            size_t end = i + 3 * PREFETCH_BLOCK < rows ? i + 3 * PREFETCH_BLOCK : rows;
            for (j = i ? i + 2 * PREFETCH_BLOCK : 0; j < end; j++) {
                const struct row *f = &batch[j];
                if (f->origin % w->n != w->k)
                    continue;
                __builtin_prefetch(&a->origins[f->origin]);
                __builtin_prefetch((const char *)&a->origins[f->origin] + 63);
                if (a->block) {
                    __builtin_prefetch(&a->block[f->presented]);
                    __builtin_prefetch(&a->block[f->called]);
                }
            }
            end = i + 2 * PREFETCH_BLOCK < rows ? i + 2 * PREFETCH_BLOCK : rows;
            for (j = i ? i + PREFETCH_BLOCK : 0; j < end; j++) {
                const struct row *f = &batch[j];
                const struct origin *o = &a->origins[f->origin];
                if (f->origin % w->n != w->k)
                    continue;
                if (o->borrowed_numbers)
                    map_prefetch(&a->pair_index, (uint64_t)f->presented << 32 | f->origin);
                if (o->pop >= 0) {
                    int64_t second = f->t % 86400;
                    __builtin_prefetch(
                        &a->pop[o->pop].hours[(second < 0 ? second + 86400 : second) / 3600]);
                    map_prefetch(&w->pp.minutes,
                                 (uint64_t)o->pop << 32 | (uint32_t)((f->t - a->tmin) / 60));
                }
            }
        }
        if (r->origin % w->n == w->k)
            w->rc = profile_call(w->a, &w->pp, r, &w->own);
    }
}

static void *profile_worker_main(void *arg)
{
    struct profile_worker *w = arg;
    struct profile_round *pr = w->round;
    uint64_t seen = 0;
    for (;;) {
        size_t rows;
        pthread_mutex_lock(&pr->mu);
        while (pr->round == seen)
            pthread_cond_wait(&pr->cv, &pr->mu);
        seen = pr->round;
        rows = pr->rows;
        pthread_mutex_unlock(&pr->mu);
        if (!rows)
            break;
        profile_share(w, rows);
        pthread_mutex_lock(&pr->mu);
        if (--pr->active == 0)
            pthread_cond_broadcast(&pr->cv);
        pthread_mutex_unlock(&pr->mu);
    }
    return NULL;
}

/* Counts one call into its origin's behaviour: rotation is in what the
 * callees are shown, whatever the network number; `conclusive` counts
 * the numbers of the conclusive calls, by the number that carried the
 * signal; a trunk's calls with a signal mark their hour (campaign_hours). */
static int profile_call(struct analysis *a, struct profile_pass *pp, struct row *r, uint64_t *own)
{
    struct origin *origin = &a->origins[r->origin];
    unsigned f;
    int s;
    settle_flags(a, r, own);
    f = row_signals(r);
    origin->calls_not_verified_a += r->verstat != VERSTAT_PASSED || r->attest != 'A';
    if (a->signing) {
        if ((s = set_add(&pp->presented, r->origin, r->presented)) < 0)
            return CG_ENOMEM;
        origin->distinct_presented += (uint32_t)s;
    }
    if (f & ROW_CONCLUSIVE) {
        origin->conclusive_calls++;
        origin->strong_calls += (f & ROW_STRONG) != 0;
        if ((s = set_add(&pp->conclusive, r->origin,
                         r->pflags & ROW_CONCLUSIVE ? r->presented : r->calling)) < 0)
            return CG_ENOMEM;
        origin->conclusive_numbers += (uint32_t)s;
    }
    if (!a->signing) {
        bool borrowed = row_borrowed(a, r), neighbour = row_neighbour(a, r);
        int kind;
        origin->neighbour_calls += neighbour;
        origin->answered += r->dur > 0;
        origin->talk += r->dur;
        origin->foreign_calls +=
            borrowed || (f & (ROW_PROTECTED_UNVERIFIED | ROW_PROTECTED_NO_INTENT));
        if (origin->pop >= 0) {
            struct beh_pop *p = &a->pop[origin->pop];
            int64_t second = r->t % 86400;
            uint32_t *slot;
            p->hours[(second < 0 ? second + 86400 : second) / 3600]++;
            hll_add(p->hll, r->called);
            if (!(slot = counter(&pp->minutes,
                                 (uint64_t)origin->pop << 32 | (uint32_t)((r->t - a->tmin) / 60))))
                return CG_ENOMEM;
            if (++*slot > p->beh.peak)
                p->beh.peak = *slot;
        }
        if (!origin->account && (kind = call_kind(r, borrowed, neighbour)) >= 0 &&
            set_add(&pp->hours, (uint32_t)(hour_key(a, r->origin, kind, r->t) >> 32),
                    (uint32_t)hour_key(a, r->origin, kind, r->t)) < 0)
            return CG_ENOMEM;
        /* a borrowed neighbour is the neighbour campaign's when the trunk
         * is not found borrowing (spoofed_kind) */
        if (!origin->account && borrowed && neighbour &&
            set_add(&pp->hours, (uint32_t)(hour_key(a, r->origin, CG__K_NEIGHBOUR, r->t) >> 32),
                    (uint32_t)hour_key(a, r->origin, CG__K_NEIGHBOUR, r->t)) < 0)
            return CG_ENOMEM;
    }
    return CG_OK;
}

/*
 * Whether a customer in a signing log is spoofing.  A refused attempt is
 * evidence of intent (it was never signed, but the customer sent it),
 * though one alone convicts no one: a mistyped presentation number is a
 * single number, refused on every call until it is fixed, and usually
 * invalid or unallocated rather than a bank's or a DNO number.  So a
 * customer is spoofing when it rotates, or sent at least
 * SIGNING_MIN_CONCLUSIVE calls presenting a DNO or protected number (those
 * are chosen, not mistyped), or calls with any conclusive signal on at
 * least SIGNING_MIN_CONCLUSIVE distinct numbers.
 */
#define SIGNING_MIN_CONCLUSIVE 3

static bool customer_spoofing(const struct origin *origin)
{
    return origin->rotates || origin->strong_calls >= SIGNING_MIN_CONCLUSIVE ||
           origin->conclusive_numbers >= SIGNING_MIN_CONCLUSIVE;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/*
 * A trunk's campaigns of one kind split by pauses: the hours in which it
 * had calls of that kind, in order, numbered into segments that start
 * again after more than CAMPAIGN_GAP_HOURS without one.  The map's values
 * become the segment of each hour.
 */
static int campaign_segments(struct analysis *a)
{
    struct map64 *m = &a->campaign_hours;
    uint64_t *keys = malloc((m->n + 1) * sizeof *keys), prev = ~0ull;
    size_t i, n = 0;
    uint32_t seg = 0;
    if (!keys)
        return CG_ENOMEM;
    for (i = 0; i < m->cap; i++)
        if (m->s[i].k != ~0ull)
            keys[n++] = m->s[i].k;
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (i = 0; i < n; i++) {
        uint64_t group = keys[i] >> HOUR_BITS, hour = keys[i] & ((1u << HOUR_BITS) - 1);
        if (prev == ~0ull || prev >> HOUR_BITS != group)
            seg = 0;
        else if (hour - (prev & ((1u << HOUR_BITS) - 1)) > CAMPAIGN_GAP_HOURS && seg < 0xffff)
            seg++;
        *counter(m, keys[i]) = seg; /* present: no growth, no failure */
        prev = keys[i];
    }
    free(keys);
    return CG_OK;
}

/*
 * Whether an origin's rotation looks like a carrier forwarding calls: most
 * of its calls present numbers that others attest or carry (borrowed), each
 * once or twice, as a diverted call keeps its caller's number.  Such an
 * origin is listed for rotating only when it also harms or bursts.
 */
static bool forwarding(const struct origin *o)
{
    return o->borrowed_calls * 5 >= o->calls * 4 &&
           o->borrowed_calls * 2 <= o->borrowed_numbers * 3;
}

/* Whether an origin is spoofing, and by which rule (non-signing input). */
static void decide_origin(struct analysis *a, struct origin *origin)
{
    const struct cg__behaviour *b =
        origin->pop >= 0 && a->pop[origin->pop].beh.judged ? &a->pop[origin->pop].beh : NULL;
    origin->borrows = b && borrowing(a, origin, b);
    origin->neighbours = neighbouring(a, origin);
    origin->spoofing = true;
    if (origin->conclusive_calls)
        origin->reason = CG__R_SIGNAL;
    else if (origin->rotates && !owners_platform(origin) &&
             !(forwarding(origin) && !(b && (b->family[1] >= 2 || b->z[CG__F_PEAK] >= 2))))
        origin->reason = CG__R_ROTATION;
    else if (origin->borrows)
        origin->reason = CG__R_BORROWED;
    else if (origin->neighbours)
        origin->reason = CG__R_NEIGHBOUR;
    else if (b && behaving_badly(a, origin, b))
        origin->reason = CG__R_BEHAVIOUR;
    else
        origin->spoofing = false;
#ifdef CG_ANALYZE_TRACE /* tuning: every judged origin's features on stderr */
    if (b && getenv("CG_ANALYZE_DEBUG"))
        fprintf(
            stderr,
            "judged %s calls %u spoofing %d reason %d score %.2f fam %.2f %.2f %.2f bn %u bc %u "
            "feat %.3f %.3f %.3f %.3f %.2f %.2f %.3f %.3f zt %.2f zb %.2f priv %u/%u bank %u/%u "
            "nb %u\n",
            st_str(&a->origin_keys, (uint32_t)(origin - a->origins)), origin->calls,
            origin->spoofing, origin->reason, b->score, b->family[0], b->family[1], b->family[2],
            origin->borrowed_numbers, origin->borrowed_calls, b->feat[0], b->feat[1], b->feat[2],
            b->feat[3], b->feat[4], b->feat[5], b->feat[6], b->feat[7], b->z[CG__F_TURNOVER],
            b->z[CG__F_BORROWED], origin->private_numbers, origin->private_calls,
            origin->bank_numbers, origin->bank_calls, origin->neighbour_calls);
#endif
}

/* Up to cap rows (room for one read at least), chunks of them, into
 * batch; 0 at the end.  From the spill file they are read into the batch
 * itself, not through the chunk (a copy of every row). */
static size_t rows_batch(struct analysis *a, struct row *batch, size_t cap)
{
    size_t n = 0, got, step = a->nchunk; /* the most one read gives */
    if (a->spill)
        return fread(batch, sizeof *batch, cap, a->spill);
    while (n + step <= cap && (got = rows_next(a)) > 0) {
        memcpy(batch + n, a->chunk, got * sizeof *batch);
        n += got;
    }
    return n;
}

/* The first pass's rows, on the run's threads (profile_worker), at most
 * PROFILE_MAX_THREADS: each keeps maps of its own (the busiest minutes,
 * the trunks' hours), about 9 MB a thread at 10 million rows, and the pass
 * took 0.6 s on two.  The trunks' hours merge into campaign_hours.  A
 * thread that cannot be started leaves its share to the first. */
#define PROFILE_MAX_THREADS 8

static int profile_rows(struct analysis *a)
{
    unsigned n = run_threads(a) < PROFILE_MAX_THREADS ? run_threads(a) : PROFILE_MAX_THREADS, k,
             started = 1;
    struct profile_worker *w = calloc(n, sizeof *w);
    pthread_t *th = calloc(n, sizeof *th);
    struct profile_round pr = {.round = 0};
    size_t i, rows;
    int rc = CG_OK;
    if (!w || !th) {
        free(w);
        free(th);
        return CG_ENOMEM;
    }
    /* a batch no larger than the rows (a small input, a fuzzer's, costs
     * no 2 MB buffer) */
    size_t cap = a->nrows < PROFILE_BATCH ? a->nrows : PROFILE_BATCH;
    if (a->spill && cap < CHUNK_ROWS)
        cap = CHUNK_ROWS;
    if (!cap)
        cap = 1;
    if (!(pr.batch = malloc(cap * sizeof *pr.batch))) {
        free(w);
        free(th);
        return CG_ENOMEM;
    }
    pthread_mutex_init(&pr.mu, NULL);
    pthread_cond_init(&pr.cv, NULL);
    for (k = 0; k < n; k++)
        w[k] = (struct profile_worker){.a = a, .k = k, .n = n, .round = &pr};
    while (started < n && pthread_create(&th[started], NULL, profile_worker_main, &w[started]) == 0)
        started++;
    do {
        rows = rows_batch(a, pr.batch, cap);
        pthread_mutex_lock(&pr.mu);
        pr.rows = rows;
        pr.active = started - 1;
        pr.round++;
        pthread_cond_broadcast(&pr.cv);
        pthread_mutex_unlock(&pr.mu);
        if (!rows)
            break;
        profile_share(&w[0], rows);
        for (k = started; k < n; k++)
            profile_share(&w[k], rows);
        pthread_mutex_lock(&pr.mu);
        while (pr.active)
            pthread_cond_wait(&pr.cv, &pr.mu);
        pthread_mutex_unlock(&pr.mu);
    } while (rows);
    for (k = 1; k < started; k++)
        pthread_join(th[k], NULL);
    pthread_mutex_destroy(&pr.mu);
    pthread_cond_destroy(&pr.cv);
    for (k = 0; k < n; k++) {
        const struct map64 *h = &w[k].pp.hours;
        rc = rc != CG_OK ? rc : w[k].rc;
        a->own_no_intent += w[k].own;
        for (i = 0; i < h->cap && rc == CG_OK; i++)
            if (h->s[i].k != ~0ull && !counter(&a->campaign_hours, h->s[i].k))
                rc = CG_ENOMEM;
        profile_pass_free(&w[k].pp);
    }
    free(pr.batch);
    free(w);
    free(th);
    return rc;
}

/*
 * The first pass over the rows: every origin's behaviour over all its
 * calls, then whether it is spoofing: one of its calls carried a
 * conclusive signal; or it is an account that rotates (at least 20
 * distinct numbers, at least one new number per two calls, most calls not
 * verified at A); or it borrows numbers, or behaves as no other origin
 * does (decide_origin).  The numbers' verification habit is complete once
 * the input is read, so ROW_VERIFY_FAILURE is known from here on.
 */
static int profile_origins(struct analysis *a)
{
    size_t i, norigins = a->origin_keys.n;
    int rc = CG_OK;

    for (i = 0; i < a->npairs; i++) {
        const struct pair *p = &a->pairs[i];
        struct origin *o = &a->origins[p->origin];
        if (!p->current)
            continue;
        o->distinct_presented++;
        /* each number's span of use, weighted by its calls, and the span
         * as many calls spread over the origin's whole span would cover:
         * (k - 1) / (k + 1) of it for k calls (turnover) */
        o->lifetime += (double)p->current * (double)(p->last - p->first);
        o->lifetime_even +=
            (double)p->current * (double)(p->current - 1) / (double)(p->current + 1);
    }
    if ((rc = make_population(a)) != CG_OK) /* none in a signing log */
        return rc;
    phase("pairs+population");
    if (rows_rewind(a) != CG_OK)
        return CG_EIO;
    if ((rc = profile_rows(a)) != CG_OK)
        return rc;
    phase("profile rows");
    for (i = 0; i < norigins; i++) {
        a->neighbour_calls += a->origins[i].neighbour_calls;
        a->all_calls += a->origins[i].calls;
    }
    if (!a->signing && ((rc = judge_behaviour(a)) != CG_OK || (rc = campaign_segments(a)) != CG_OK))
        return rc;
    for (i = 0; i < norigins; i++) {
        struct origin *origin = &a->origins[i];
        origin->rotates = origin->account && origin->distinct_presented >= 20 &&
                          origin->distinct_presented * 2 >= origin->calls &&
                          origin->calls_not_verified_a * 2 > origin->calls;
        if (a->signing) {
            origin->spoofing = customer_spoofing(origin);
            origin->reason =
                origin->rotates && !origin->conclusive_calls ? CG__R_ROTATION : CG__R_SIGNAL;
        } else {
            decide_origin(a, origin);
        }
    }
    return CG_OK;
}

/* --- the second pass: spoofed calls into campaigns and victims -------------------------- */

/* The second pass's own sets and counters, freed together by
 * spoof_pass_free; what it finds goes into the caller's findings. */
struct spoof_pass {
    struct map64 campaign_of;        /* origin << 8 | kind -> campaign index + 1 */
    struct map64 victim_of;          /* called number -> victim index + 1 */
    struct map64 campaign_victims;   /* (campaign, called number) pairs */
    struct map64 campaign_presented; /* (campaign, presentation number) pairs */
    struct map64 campaign_network;   /* (campaign, network number) pairs */
    struct map64 origin_victims;     /* (origin, called number) pairs */
    struct map64 minute_calls;       /* campaign << 32 | minute since tmin -> calls */
};

static void spoof_pass_free(struct spoof_pass *p)
{
    free(p->campaign_of.s);
    free(p->victim_of.s);
    free(p->campaign_victims.s);
    free(p->campaign_presented.s);
    free(p->campaign_network.s);
    free(p->origin_victims.s);
    free(p->minute_calls.s);
}

/* The brand whose number the call presents (its presentation number's,
 * else its network number's), among the first 64; -1 if none. */
static int calling_brand(const struct analysis *a, const struct row *r)
{
    int brand = a->numbers[r->presented].brand;
    if (brand < 0)
        brand = a->numbers[r->calling].brand;
    return brand >= 0 && brand < 64 ? brand : -1;
}

/*
 * The campaign kind of a call from a spoofing origin: CG__K_NONE for an
 * account (all its calls are one campaign, named at the end by its
 * strongest signal), else the call's strongest signal (a borrowed number
 * only on a trunk convicted of borrowing, a neighbour of the callee only on
 * one convicted of neighbour spoofing); -1 for an ordinary call on a trunk
 * that also carried spoofing.
 */
static int spoofed_kind(const struct origin *origin, const struct row *r, bool borrowed,
                        bool neighbour)
{
    int kind;
    if (origin->account)
        return CG__K_NONE;
    kind = call_kind(r, borrowed, neighbour);
    if (kind == CG__K_BORROWED && !origin->borrows)
        kind = neighbour ? CG__K_NEIGHBOUR : -1;
    return kind == CG__K_NEIGHBOUR && !origin->neighbours ? -1 : kind;
}

/* The index of the call's campaign (one per origin, kind and, on a trunk,
 * stretch of time between pauses), created in the findings at the call
 * when new. */
static int campaign_of_call(const struct analysis *a, struct spoof_pass *p, struct cg__findings *fd,
                            struct origin *origin, const struct row *r, int kind, uint32_t *cid)
{
    uint32_t seg =
        origin->account ? 0 : map_get(&a->campaign_hours, hour_key(a, r->origin, kind, r->t));
    uint32_t *slot =
        counter(&p->campaign_of, ((uint64_t)r->origin << 8 | (uint32_t)kind) << 16 | seg);
    if (!slot)
        return CG_ENOMEM;
    if (!*slot) {
        struct cg__campaign *nc = realloc(fd->camp, (fd->ncamp + 1) * sizeof *nc);
        if (!nc)
            return CG_ENOMEM;
        fd->camp = nc;
        memset(&nc[fd->ncamp], 0, sizeof nc[0]);
        nc[fd->ncamp].origin = r->origin;
        nc[fd->ncamp].kind = kind;
        nc[fd->ncamp].first = r->t;
        nc[fd->ncamp].last = r->t;
        *slot = (uint32_t)++fd->ncamp;
        origin->campaigns++;
    }
    *cid = *slot - 1;
    return CG_OK;
}

/* Counts a call's signals into its campaign, each by the number that
 * carried it: network (flags), presentation (pflags), or both. */
static void count_signals(struct cg__campaign *c, const struct row *r, bool borrowed,
                          bool neighbour)
{
    static const uint8_t bit[CG__S__COUNT] = {
        [CG__S_PROT] = ROW_PROTECTED_UNVERIFIED,   [CG__S_NO_INTENT] = ROW_PROTECTED_NO_INTENT,
        [CG__S_NOT_CUSTOMERS] = ROW_NOT_CUSTOMERS, [CG__S_DNO] = ROW_DNO,
        [CG__S_UNALLOC] = ROW_UNALLOCATED,         [CG__S_BAD_NUMBER] = ROW_BAD_NUMBER,
        [CG__S_INTL] = ROW_UK_FROM_ABROAD,         [CG__S_VERIFY] = ROW_VERIFY_FAILURE};
    int i;
    for (i = 0; i < CG__S__COUNT; i++) {
        bool net = r->flags & bit[i], pres = r->pflags & bit[i];
        c->sig[i] += net || pres;
        c->sig_net[i] += net;
        c->sig_pres[i] += pres;
    }
    /* a borrowed number is the presentation number (the one callees see) */
    c->sig[CG__S_BORROWED] += borrowed;
    c->sig_pres[CG__S_BORROWED] += borrowed;
    c->sig[CG__S_NEIGHBOUR] += neighbour;
    c->sig_pres[CG__S_NEIGHBOUR] += neighbour;
}

/* Counts a spoofed call into its campaign: volume, span, signals, brands,
 * reach, the busiest minute and the calls per hour. */
static int count_campaign_call(const struct analysis *a, struct spoof_pass *p,
                               struct cg__findings *fd, uint32_t cid, const struct row *r,
                               bool borrowed, bool neighbour)
{
    struct cg__campaign *c = &fd->camp[cid];
    uint32_t minute = (uint32_t)((r->t - a->tmin) / 60), hour = (uint32_t)((r->t - a->tmin) / 3600);
    int brand = calling_brand(a, r), s;
    uint32_t *slot;
    c->calls++;
    c->answered += r->dur > 0;
    c->talk += r->dur;
    c->refused += r->verstat == VERSTAT_REFUSED;
    if (r->t < c->first)
        c->first = r->t;
    if (r->t > c->last)
        c->last = r->t;
    count_signals(c, r, borrowed, neighbour);
    if (brand >= 0) {
        c->brands |= 1ull << brand;
        fd->brand_calls[brand]++;
    }
    /* a refused attempt was never signed: it reached no one */
    if (r->verstat != VERSTAT_REFUSED) {
        if ((s = set_add(&p->campaign_victims, cid, r->called)) < 0)
            return CG_ENOMEM;
        c->victims += (uint32_t)s;
    }
    if ((s = set_add(&p->campaign_presented, cid, r->presented)) < 0)
        return CG_ENOMEM;
    c->presented += (uint32_t)s;
    if ((s = set_add(&p->campaign_network, cid, r->calling)) < 0)
        return CG_ENOMEM;
    c->network += (uint32_t)s;
    if (!(slot = counter(&p->minute_calls, (uint64_t)cid << 32 | minute)))
        return CG_ENOMEM;
    if (++*slot > c->peak)
        c->peak = *slot;
    if (!(slot = counter(&fd->hourly, (uint64_t)cid << 32 | hour)))
        return CG_ENOMEM;
    ++*slot;
    return CG_OK;
}

/* Counts a spoofed call into its origin: span, calls and victims. */
static int count_origin_call(struct spoof_pass *p, struct origin *origin, const struct row *r)
{
    int s;
    if (!origin->spoofed_calls || r->t < origin->first_spoofed)
        origin->first_spoofed = r->t;
    if (!origin->spoofed_calls || r->t > origin->last_spoofed)
        origin->last_spoofed = r->t;
    origin->spoofed_calls++;
    if (r->verstat == VERSTAT_REFUSED)
        return CG_OK;
    if ((s = set_add(&p->origin_victims, r->origin, r->called)) < 0)
        return CG_ENOMEM;
    origin->victims += (uint32_t)s;
    return CG_OK;
}

/* The call's victim (its called number), created in the findings at the
 * call when new. */
static struct cg__victim *victim_of_call(struct spoof_pass *p, struct cg__findings *fd,
                                         const struct row *r)
{
    uint32_t *slot = counter(&p->victim_of, r->called);
    if (!slot)
        return NULL;
    if (!*slot) {
        if (fd->nvict == fd->victcap) {
            size_t nc = fd->victcap ? fd->victcap * 2 : 64;
            struct cg__victim *nv = grow_block(fd->vict, fd->nvict * sizeof *nv, nc * sizeof *nv);
            if (!nv)
                return NULL;
            fd->vict = nv;
            fd->victcap = nc;
        }
        memset(&fd->vict[fd->nvict], 0, sizeof fd->vict[0]);
        fd->vict[fd->nvict].called = r->called;
        fd->vict[fd->nvict].first = r->t;
        fd->vict[fd->nvict].last = r->t;
        *slot = (uint32_t)++fd->nvict;
    }
    return &fd->vict[*slot - 1];
}

/* Counts a spoofed call into its victim: harm (answered, talk time), span,
 * brands, and the first CG__VICTIM_LIST campaigns and presented numbers. */
static void count_victim_call(const struct analysis *a, struct cg__victim *v, uint32_t cid,
                              const struct row *r)
{
    int brand = calling_brand(a, r);
    unsigned k;
    v->calls++;
    v->answered += r->dur > 0;
    v->talk += r->dur;
    if (r->t < v->first)
        v->first = r->t;
    if (r->t > v->last)
        v->last = r->t;
    if (brand >= 0)
        v->brands |= 1ull << brand;
    for (k = 0; k < v->ncamps && v->camps[k] != cid; k++)
        ;
    if (k == v->ncamps && k < CG__VICTIM_LIST)
        v->camps[v->ncamps++] = cid;
    for (k = 0; k < v->npres && v->pres[k] != r->presented; k++)
        ;
    if (k == v->npres && k < CG__VICTIM_LIST)
        v->pres[v->npres++] = r->presented;
}

/* One call of the second pass: nothing unless its origin is spoofing and
 * the call is part of it; else it counts into its campaign, its origin,
 * its victim and the summary. */
static int collect_call(struct analysis *a, struct spoof_pass *p, struct cg__findings *fd,
                        struct cg_analyze_summary *sum, struct row *r)
{
    struct origin *origin = &a->origins[r->origin];
    struct cg__victim *v;
    uint32_t cid;
    int kind, rc;
    uint64_t own = 0;
    bool borrowed, neighbour;
    if (!bit_get(a->spoofs, r->origin))
        return CG_OK;
    settle_flags(a, r, &own);
    borrowed = !a->signing && row_borrowed(a, r);
    neighbour = !a->signing && row_neighbour(a, r);
    if ((kind = spoofed_kind(origin, r, borrowed, neighbour)) < 0)
        return CG_OK;
    if ((rc = campaign_of_call(a, p, fd, origin, r, kind, &cid)) != CG_OK ||
        (rc = count_campaign_call(a, p, fd, cid, r, borrowed, neighbour)) != CG_OK ||
        (rc = count_origin_call(p, origin, r)) != CG_OK)
        return rc;
    sum->spoofed_calls++;
    sum->borrowed += borrowed;
    if (r->verstat == VERSTAT_REFUSED) { /* an attempt without a victim */
        sum->refused++;
        return CG_OK;
    }
    if (!(v = victim_of_call(p, fd, r)))
        return CG_ENOMEM;
    count_victim_call(a, v, cid, r);
    sum->spoofed_answered += r->dur > 0;
    /* behind a network number that carried no signal of its own */
    sum->presentation_only +=
        r->pflags && r->presented != r->calling && !(r->flags & ROW_CONCLUSIVE);
    return CG_OK;
}

/* The second pass over the rows: the spoofing origins' spoofed calls into
 * campaigns and victims (the findings, the caller's). */
static int collect_spoofed_calls(struct analysis *a, struct cg__findings *fd,
                                 struct cg_analyze_summary *sum)
{
    struct spoof_pass p = {0};
    size_t i, n;
    int rc = CG_OK;

    if (rows_rewind(a) != CG_OK)
        return CG_EIO;
    while ((n = rows_next(a)) > 0)
        for (i = 0; i < n; i++)
            if ((rc = collect_call(a, &p, fd, sum, &a->chunk[i])) != CG_OK)
                goto out;
out:
    spoof_pass_free(&p);
    return rc;
}

/* --- the findings ------------------------------------------------------------------------- */

/* Names each account's campaign by its strongest signal, and gives every
 * campaign its origin's facts for the evidence. */
static void name_campaigns(const struct analysis *a, struct cg__findings *fd)
{
    size_t i;
    for (i = 0; i < fd->ncamp; i++) {
        struct cg__campaign *c = &fd->camp[i];
        const struct origin *origin = &a->origins[c->origin];
        if (c->kind == CG__K_NONE)
            c->kind = c->sig[CG__S_PROT] || c->sig[CG__S_NO_INTENT] || c->sig[CG__S_NOT_CUSTOMERS]
                          ? CG__K_BANK
                      : c->sig[CG__S_DNO]                                 ? CG__K_DNO
                      : c->sig[CG__S_UNALLOC] || c->sig[CG__S_BAD_NUMBER] ? CG__K_UNALLOC
                      : c->sig[CG__S_INTL]                                ? CG__K_INTL
                      : origin->reason == CG__R_BORROWED                  ? CG__K_BORROWED
                      : origin->reason == CG__R_BEHAVIOUR                 ? CG__K_BEHAVIOUR
                      : origin->reason == CG__R_NEIGHBOUR                 ? CG__K_NEIGHBOUR
                                                                          : CG__K_ROTATION;
        c->account = origin->account;
        c->origin_presented = origin->distinct_presented;
        c->origin_calls = origin->calls;
        c->labelled[0] = origin->labelled[0];
        c->labelled[1] = origin->labelled[1];
        c->reason = origin->reason;
        if (origin->pop >= 0)
            c->beh = a->pop[origin->pop].beh;
    }
}

/* The origins that spoofed, with what they did, into the findings (in
 * origin id order; the writer sorts them). */
static int list_spoofing_origins(const struct analysis *a, struct cg__findings *fd)
{
    size_t i;
    for (i = 0; i < a->origin_keys.n; i++) {
        const struct origin *origin = &a->origins[i];
        struct cg__origin_out *oo;
        if (!origin->spoofed_calls)
            continue;
        if (!(oo = realloc(fd->org, (fd->norg + 1) * sizeof *oo)))
            return CG_ENOMEM;
        fd->org = oo;
        oo = &fd->org[fd->norg++];
        oo->id = (uint32_t)i;
        oo->calls = origin->calls;
        oo->spoofed = origin->spoofed_calls;
        oo->presented = origin->distinct_presented;
        oo->victims = origin->victims;
        oo->campaigns = origin->campaigns;
        oo->first = origin->first_spoofed;
        oo->last = origin->last_spoofed;
        oo->conclusive_calls = origin->conclusive_calls;
        oo->account = origin->account;
        oo->rotates = a->signing ? origin->rotates : origin->account && !origin->conclusive_calls;
        oo->refused = origin->refused;
        oo->conclusive_numbers = origin->conclusive_numbers;
        oo->reason = origin->reason;
        memset(&oo->beh, 0, sizeof oo->beh);
        if (origin->pop >= 0)
            oo->beh = a->pop[origin->pop].beh;
        oo->beh.borrowed_calls = origin->borrowed_calls;
        oo->beh.borrowed_numbers = origin->borrowed_numbers;
        oo->beh.private_calls = origin->private_calls;
        oo->beh.bank_calls = origin->bank_calls;
        oo->beh.neighbour_calls = origin->neighbour_calls;
    }
    return CG_OK;
}

/*
 * The analysis proper, once the input is read: the first pass over the
 * rows finds the spoofing origins, the second gathers their spoofed calls
 * into campaigns and victims, then the findings are completed.  The
 * findings are the caller's (cg__findings_free), also after an error.
 */
int cg__analyze_run(struct analysis *a, struct cg__findings *fd, struct cg_analyze_summary *sum)
{
    size_t i;
    int rc;

    sum->first_time = a->tmin;
    sum->last_time = a->tmax;
    fd->tmin = a->tmin;
    if ((rc = mark_verifying(a)) != CG_OK)
        return rc;
    if (!a->signing) {
        if ((rc = decide_owners(a)) != CG_OK)
            return rc;
        phase("owners");
        if ((rc = count_inside(a)) != CG_OK)
            return rc;
        mark_borrowed(a);
        if ((rc = count_contacts(a)) != CG_OK || (rc = number_blocks(a)) != CG_OK)
            return rc;
        phase("inside+borrowed");
    }
    if ((rc = profile_origins(a)) != CG_OK)
        return rc;
    if (!(a->spoofs = bits_new(a->origin_keys.n)))
        return CG_ENOMEM;
    for (i = 0; i < a->origin_keys.n; i++)
        if (a->origins[i].spoofing)
            bit_set(a->spoofs, i);
    phase("first pass");
    if ((rc = collect_spoofed_calls(a, fd, sum)) != CG_OK)
        return rc;
    phase("second pass");
    sum->out_of_order = a->out_of_order;
    sum->own_no_intent = a->own_no_intent;
    name_campaigns(a, fd);
    if ((rc = list_spoofing_origins(a, fd)) != CG_OK)
        return rc;
    sum->campaigns = fd->ncamp;
    sum->victims = fd->nvict;
    sum->origins = fd->norg;
    return CG_OK;
}

uint32_t cg__hourly(const struct cg__findings *fd, uint32_t cid, uint32_t hour)
{
    return map_get(&fd->hourly, (uint64_t)cid << 32 | hour);
}

const char *cg__num(const struct cg__findings *fd, uint32_t id)
{
    return st_str(fd->nums, id);
}
const char *cg__origin_key(const struct cg__findings *fd, uint32_t id)
{
    return st_str(fd->origins, id);
}
const char *cg__brand(const struct cg__findings *fd, uint32_t id)
{
    return st_str(fd->brands, id);
}
uint32_t cg__nbrands(const struct cg__findings *fd)
{
    return fd->brands->n;
}

void cg__findings_free(struct cg__findings *fd)
{
    free(fd->camp);
    free(fd->vict);
    free(fd->org);
    free(fd->hourly.s);
}
