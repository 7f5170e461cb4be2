/*
 * Call intents (intent.h): the store, the batch parsers, the keys file and
 * the Redis key.
 *
 * The store keeps each number as one 64-bit value, its digits read as a
 * decimal integer with the digit count above bit 50 (15 digits stay below
 * 2^50), so that an entry is two integers, an expiry and a use count: 32
 * bytes, compared without string work.  A number with a leading 0 is not
 * E.164, so the value and the count always name one digit string, and no
 * number encodes to 0, which marks an empty slot.
 *
 * The table is split in 64 shards by the top bits of a keyed hash, each an
 * open-addressing table with linear probing, kept at most half full, and
 * backward-shift deletion (no tombstones, so probes stay short however
 * many intents come and go).  The hash key is random per store, so that
 * whoever registers intents cannot choose numbers that collide.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <jansson.h>

#include "cidguard/error.h"
#include "cidguard/intent.h"
#include "cidguard/redis.h"
#include "cidguard/tn.h"

#define SHARDS 64
#define SHARD_BITS 6
#define SHARD_MIN 16 /* slots of a fresh shard */
#define LEN_SHIFT 50

/* --- numbers --------------------------------------------------------------------- */

/* The 64-bit form of a canonical E.164 number, or 0 when `tn` is not one. */
static uint64_t encode(const char *tn)
{
    uint64_t v = 0;
    size_t i;
    if (!tn || tn[0] < '1' || tn[0] > '9')
        return 0;
    for (i = 0; tn[i]; i++) {
        if (i == CG_INTENT_TN_MAX || tn[i] < '0' || tn[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(tn[i] - '0');
    }
    return v | (uint64_t)i << LEN_SHIFT;
}

static void decode(uint64_t e, char out[CG_INTENT_TN_MAX + 1])
{
    size_t len = (size_t)(e >> LEN_SHIFT), i;
    uint64_t v = e & ((1ull << LEN_SHIFT) - 1);
    for (i = len; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    out[len] = '\0';
}

int cg_intent_number(const char *in, size_t len, char out[CG_INTENT_TN_MAX + 1])
{
    char tn[CG_TN_MAX + 1];
    if (!in || !out)
        return CG_EINVAL;
    if (cg_tn_canon(in, len, NULL, tn) != CG_OK || !encode(tn))
        return CG_EPARSE;
    memcpy(out, tn, strlen(tn) + 1);
    return CG_OK;
}

/* --- the store ------------------------------------------------------------------- */

struct slot {
    uint64_t from, to; /* from == 0: empty */
    int64_t expires;
    uint32_t uses;
};

struct shard {
    pthread_mutex_t lock;
    struct slot *t;
    size_t mask; /* slots - 1 */
    size_t n;
} __attribute__((aligned(64)));

struct cg_intents {
    struct shard shard[SHARDS];
    uint64_t k0, k1;
    size_t max;
    unsigned max_uses;
    atomic_size_t count; /* entries held plus reservations of batches in progress */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash(const struct cg_intents *s, uint64_t from, uint64_t to)
{
    return mix(mix(from ^ s->k0) ^ to ^ s->k1);
}

int cg_intents_new(struct cg_intents **out, size_t max_entries, unsigned max_uses)
{
    struct cg_intents *s;
    size_t i;
    if (!out || max_entries < 1 || max_entries > 100000000 || max_uses < 1 ||
        max_uses > CG_INTENT_USES_MAX)
        return CG_EINVAL;
    if (!(s = aligned_alloc(64, sizeof *s)))
        return CG_ENOMEM;
    memset(s, 0, sizeof *s);
    /* Without the random source the hash is still a good spread, only a
     * guessable one: not a reason to refuse to start. */
    if (getrandom(&s->k0, sizeof s->k0, GRND_NONBLOCK) != (ssize_t)sizeof s->k0 ||
        getrandom(&s->k1, sizeof s->k1, GRND_NONBLOCK) != (ssize_t)sizeof s->k1) {
        s->k0 = (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ull;
        s->k1 = mix(s->k0);
    }
    s->max = max_entries;
    s->max_uses = max_uses;
    atomic_init(&s->count, 0);
    for (i = 0; i < SHARDS; i++) {
        struct shard *h = &s->shard[i];
        pthread_mutex_init(&h->lock, NULL);
        if (!(h->t = calloc(SHARD_MIN, sizeof *h->t))) {
            while (i--) {
                free(s->shard[i].t);
                pthread_mutex_destroy(&s->shard[i].lock);
            }
            pthread_mutex_destroy(&h->lock);
            free(s);
            return CG_ENOMEM;
        }
        h->mask = SHARD_MIN - 1;
    }
    *out = s;
    return CG_OK;
}

void cg_intents_free(struct cg_intents *s)
{
    size_t i;
    if (!s)
        return;
    for (i = 0; i < SHARDS; i++) {
        free(s->shard[i].t);
        pthread_mutex_destroy(&s->shard[i].lock);
    }
    free(s);
}

size_t cg_intents_count(const struct cg_intents *s)
{
    size_t i, n = 0;
    if (!s)
        return 0;
    /* The shards' own counts, not `count`, which also holds reservations. */
    for (i = 0; i < SHARDS; i++)
        n += __atomic_load_n(&s->shard[i].n, __ATOMIC_RELAXED);
    return n;
}

unsigned cg_intents_max_uses(const struct cg_intents *s)
{
    return s ? s->max_uses : 0;
}

/* The slot holding (from, to), or the empty slot ending its probe.  The
 * shard's lock is held. */
static size_t probe(const struct shard *h, uint64_t hv, uint64_t from, uint64_t to)
{
    size_t i = (size_t)hv & h->mask;
    while (h->t[i].from && (h->t[i].from != from || h->t[i].to != to))
        i = (i + 1) & h->mask;
    return i;
}

/* Empties slot i and moves up the entries of its probe run that belonged
 * before it (backward-shift deletion).  The shard's lock is held. */
static void remove_at(struct cg_intents *s, struct shard *h, size_t i)
{
    size_t j = i;
    for (;;) {
        size_t home;
        j = (j + 1) & h->mask;
        if (!h->t[j].from)
            break;
        home = (size_t)hash(s, h->t[j].from, h->t[j].to) & h->mask;
        /* The entry at j may fill the hole at i when its home is not in
         * the cyclic range (i, j]. */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            h->t[i] = h->t[j];
            i = j;
        }
    }
    h->t[i].from = 0;
    __atomic_store_n(&h->n, h->n - 1, __ATOMIC_RELAXED);
    atomic_fetch_sub(&s->count, 1);
}

/* Drops the shard's expired entries.  A scan that deletes in place checks
 * slot i again after a deletion, since backward shifting may have moved
 * an unvisited entry into it; entries are only ever moved into the hole,
 * so none is skipped.  The shard's lock is held. */
static size_t expire_shard(struct cg_intents *s, struct shard *h, int64_t now)
{
    size_t i = 0, dropped = 0;
    while (i <= h->mask) {
        if (h->t[i].from && h->t[i].expires <= now) {
            remove_at(s, h, i);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

size_t cg_intents_expire(struct cg_intents *s, int64_t now)
{
    size_t i, n = 0;
    if (!s)
        return 0;
    for (i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&s->shard[i].lock);
        n += expire_shard(s, &s->shard[i], now);
        pthread_mutex_unlock(&s->shard[i].lock);
    }
    return n;
}

/* Doubles the shard's table.  The shard's lock is held. */
static int grow(struct cg_intents *s, struct shard *h)
{
    size_t cap = (h->mask + 1) * 2, i;
    struct slot *t = calloc(cap, sizeof *t), *old = h->t;
    size_t oldcap = h->mask + 1;
    if (!t)
        return CG_ENOMEM;
    h->t = t;
    h->mask = cap - 1;
    for (i = 0; i < oldcap; i++)
        if (old[i].from)
            t[probe(h, hash(s, old[i].from, old[i].to), old[i].from, old[i].to)] = old[i];
    free(old);
    return CG_OK;
}

/* Stores one intent, whose room in `count` is already reserved (released
 * here when it replaces an entry). */
static int put(struct cg_intents *s, uint64_t from, uint64_t to, int64_t expires, int64_t now)
{
    uint64_t hv = hash(s, from, to);
    struct shard *h = &s->shard[hv >> (64 - SHARD_BITS)];
    size_t i;
    int rc = CG_OK;
    pthread_mutex_lock(&h->lock);
    i = probe(h, hv, from, to);
    if (h->t[i].from) {
        atomic_fetch_sub(&s->count, 1);
    } else {
        /* At most half full: expired entries go first, then the table grows. */
        if ((h->n + 1) * 2 > h->mask + 1 && !expire_shard(s, h, now) &&
            (rc = grow(s, h)) != CG_OK) {
            atomic_fetch_sub(&s->count, 1);
            goto out;
        }
        i = probe(h, hv, from, to);
        h->t[i].from = from;
        h->t[i].to = to;
        __atomic_store_n(&h->n, h->n + 1, __ATOMIC_RELAXED);
    }
    h->t[i].expires = expires;
    h->t[i].uses = s->max_uses;
out:
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* Reserves room for n entries, dropping expired ones when full. */
static int reserve(struct cg_intents *s, size_t n, int64_t now)
{
    int pass;
    for (pass = 0; pass < 2; pass++) {
        size_t c = atomic_load(&s->count);
        while (c + n <= s->max)
            if (atomic_compare_exchange_weak(&s->count, &c, c + n))
                return CG_OK;
        if (pass == 0)
            cg_intents_expire(s, now);
    }
    return CG_ETOOBIG;
}

int cg_intents_add(struct cg_intents *s, const char *from, const char *to, int64_t expires,
                   int64_t now)
{
    uint64_t f = encode(from), t = encode(to);
    int rc;
    if (!s || !f || !t || expires <= now)
        return CG_EINVAL;
    if ((rc = reserve(s, 1, now)) != CG_OK)
        return rc;
    return put(s, f, t, expires, now);
}

int cg_intents_add_batch(struct cg_intents *s, const struct cg_intent *v, size_t n, int64_t now)
{
    size_t i;
    int rc;
    if (!s || (n && !v) || n > s->max)
        return !s || (n && !v) ? CG_EINVAL : CG_ETOOBIG;
    for (i = 0; i < n; i++)
        if (!encode(v[i].from) || !encode(v[i].to) || v[i].valid_for < 1)
            return CG_EINVAL;
    if (!n)
        return CG_OK;
    if ((rc = reserve(s, n, now)) != CG_OK)
        return rc;
    for (i = 0; i < n; i++)
        if ((rc = put(s, encode(v[i].from), encode(v[i].to), now + v[i].valid_for, now)) != CG_OK) {
            atomic_fetch_sub(&s->count, n - i - 1); /* the rest's reservations */
            return rc;
        }
    return CG_OK;
}

int cg_intents_cancel(struct cg_intents *s, const char *from, const char *to)
{
    uint64_t f = encode(from), t = encode(to), hv;
    struct shard *h;
    size_t i;
    int rc = CG_ENOTFOUND;
    if (!s || !f || !t)
        return CG_EINVAL;
    hv = hash(s, f, t);
    h = &s->shard[hv >> (64 - SHARD_BITS)];
    pthread_mutex_lock(&h->lock);
    i = probe(h, hv, f, t);
    if (h->t[i].from) {
        remove_at(s, h, i);
        rc = CG_OK;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

bool cg_intents_use(struct cg_intents *s, const char *from, const char *to, int64_t now)
{
    uint64_t f = encode(from), t = encode(to), hv;
    struct shard *h;
    struct slot *e;
    bool ok = false;
    if (!s || !f || !t)
        return false;
    hv = hash(s, f, t);
    h = &s->shard[hv >> (64 - SHARD_BITS)];
    pthread_mutex_lock(&h->lock);
    e = &h->t[probe(h, hv, f, t)];
    if (e->from) {
        if (e->expires > now && e->uses > 0) {
            ok = true;
            e->uses--;
        }
        if (e->expires <= now || e->uses == 0)
            remove_at(s, h, (size_t)(e - h->t));
    }
    pthread_mutex_unlock(&h->lock);
    return ok;
}

#define LIST_CHUNK 128

size_t cg_intents_list(struct cg_intents *s, const char *from_prefix, int64_t now, size_t max,
                       bool (*cb)(const struct cg_intent_entry *e, void *arg), void *arg)
{
    struct cg_intent_entry buf[LIST_CHUNK];
    size_t plen = from_prefix ? strlen(from_prefix) : 0, counted = 0, sh;
    if (!s || !cb || plen > CG_INTENT_TN_MAX)
        return 0;
    for (sh = 0; sh < SHARDS && counted < max; sh++) {
        struct shard *h = &s->shard[sh];
        size_t pos = 0, done = 0;
        /* In chunks, so that the callback runs without the lock and the
         * lock is never held for a whole large shard. */
        while (!done && counted < max) {
            size_t nb = 0, k;
            pthread_mutex_lock(&h->lock);
            for (; pos <= h->mask && nb < LIST_CHUNK; pos++) {
                struct slot *e = &h->t[pos];
                if (!e->from || e->expires <= now || !e->uses)
                    continue;
                decode(e->from, buf[nb].from);
                if (plen && strncmp(buf[nb].from, from_prefix, plen) != 0)
                    continue;
                decode(e->to, buf[nb].to);
                buf[nb].expires = e->expires;
                buf[nb].uses = e->uses;
                nb++;
            }
            done = pos > h->mask;
            pthread_mutex_unlock(&h->lock);
            for (k = 0; k < nb && counted < max; k++)
                if (cb(&buf[k], arg))
                    counted++;
        }
    }
    return counted;
}

/* --- parsing ------------------------------------------------------------------------- */

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int default_valid_for(int max_valid_for)
{
    return max_valid_for < CG_INTENT_VALID_FOR_DEFAULT ? max_valid_for
                                                       : CG_INTENT_VALID_FOR_DEFAULT;
}

/* One element of a JSON batch into `out`; false with the reason in why. */
static bool json_intent(json_t *o, struct cg_intent *out, int max_valid_for, char *why, size_t cap)
{
    const char *k;
    json_t *v;
    bool have_from = false, have_to = false;
    if (!json_is_object(o)) {
        snprintf(why, cap, "not an object");
        return false;
    }
    out->valid_for = default_valid_for(max_valid_for);
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "from") == 0 || strcmp(k, "to") == 0) {
            char *dst = k[0] == 'f' ? out->from : out->to;
            if (!json_is_string(v)) {
                snprintf(why, cap, "%s: not a string", k);
                return false;
            }
            if (cg_intent_number(json_string_value(v), json_string_length(v), dst) != CG_OK) {
                snprintf(why, cap, "%s: not an E.164 number (+ and up to %d digits)", k,
                         CG_INTENT_TN_MAX);
                return false;
            }
            *(k[0] == 'f' ? &have_from : &have_to) = true;
        } else if (strcmp(k, "valid_for") == 0) {
            json_int_t s;
            if (!json_is_integer(v) || (s = json_integer_value(v)) < 1 || s > max_valid_for) {
                snprintf(why, cap, "valid_for: not an integer from 1 to %d", max_valid_for);
                return false;
            }
            out->valid_for = (int)s;
        } else {
            /* A name taken from the input is cut short and kept printable. */
            char name[40];
            size_t i;
            for (i = 0; k[i] && i < sizeof name - 1; i++)
                name[i] = (unsigned char)k[i] >= 0x20 && (unsigned char)k[i] < 0x7f ? k[i] : '?';
            name[i] = '\0';
            snprintf(why, cap, "unknown member \"%s\"", name);
            return false;
        }
    }
    if (!have_from || !have_to) {
        snprintf(why, cap, "no \"%s\"", have_from ? "to" : "from");
        return false;
    }
    return true;
}

int cg_intents_parse_json(const char *body, size_t len, struct cg_intent *out, size_t max,
                          size_t *n, int max_valid_for, char *err, size_t errlen)
{
    json_t *root = NULL, *arr;
    json_error_t je;
    const char *what = "intents";
    size_t i, count;
    int rc = CG_EPARSE;
    if (n)
        *n = 0;
    say(err, errlen, "%s", "");
    if (!body || !out || !n || max_valid_for < 1) {
        say(err, errlen, "invalid argument");
        return CG_EINVAL;
    }
    if (max > CG_INTENT_BATCH_MAX)
        max = CG_INTENT_BATCH_MAX;
    if (len > CG_INTENT_JSON_MAX) {
        say(err, errlen, "body larger than %u bytes", CG_INTENT_JSON_MAX);
        return CG_ETOOBIG;
    }
    if (!(root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je))) {
        say(err, errlen, "not JSON: %s (at byte %d)", je.text, je.position);
        return CG_EPARSE;
    }
    if (json_is_array(root)) {
        arr = root;
        what = "";
    } else if (json_is_object(root) && json_object_get(root, "intents")) {
        if (json_object_size(root) != 1 || !json_is_array(arr = json_object_get(root, "intents"))) {
            say(err, errlen, "\"intents\" must be an array and the only member");
            goto out;
        }
    } else if (json_is_object(root)) {
        char why[160];
        if (max < 1) {
            say(err, errlen, "more than %zu intents", max);
            rc = CG_ETOOBIG;
        } else if (json_intent(root, &out[0], max_valid_for, why, sizeof why)) {
            *n = 1;
            rc = CG_OK;
        } else {
            say(err, errlen, "%s", why);
        }
        goto out;
    } else {
        say(err, errlen, "not an intent, an array of intents or {\"intents\":[...]}");
        goto out;
    }
    count = json_array_size(arr);
    if (count == 0) {
        say(err, errlen, "no intents");
        goto out;
    }
    if (count > max) {
        say(err, errlen, "%zu intents, more than %zu", count, max);
        rc = CG_ETOOBIG;
        goto out;
    }
    for (i = 0; i < count; i++) {
        char why[160];
        if (!json_intent(json_array_get(arr, i), &out[i], max_valid_for, why, sizeof why)) {
            say(err, errlen, "%s[%zu]: %s", what, i, why);
            goto out;
        }
    }
    *n = count;
    rc = CG_OK;
out:
    json_decref(root);
    return rc;
}

/* A field with the blanks around it removed. */
static void trim(const char **p, size_t *len)
{
    while (*len && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
        (*len)--;
}

/* One CSV line (without its end) into `out`; false with the reason. */
static bool csv_intent(const char *line, size_t len, struct cg_intent *out, int max_valid_for,
                       char *why, size_t cap)
{
    const char *f[4];
    size_t fl[4], nf = 0, i;
    const char *p = line, *end = line + len;
    for (;;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        if (nf == 3) {
            snprintf(why, cap, "more than three fields");
            return false;
        }
        f[nf] = p;
        fl[nf] = c ? (size_t)(c - p) : (size_t)(end - p);
        trim(&f[nf], &fl[nf]);
        nf++;
        if (!c)
            break;
        p = c + 1;
    }
    if (nf < 2) {
        snprintf(why, cap, "not from,to[,valid_for]");
        return false;
    }
    for (i = 0; i < 2; i++)
        if (cg_intent_number(f[i], fl[i], i ? out->to : out->from) != CG_OK) {
            snprintf(why, cap, "%s: not an E.164 number (+ and up to %d digits)", i ? "to" : "from",
                     CG_INTENT_TN_MAX);
            return false;
        }
    out->valid_for = default_valid_for(max_valid_for);
    if (nf == 3 && fl[2]) {
        long v = 0;
        for (i = 0; i < fl[2] && f[2][i] >= '0' && f[2][i] <= '9' && v <= max_valid_for; i++)
            v = v * 10 + (f[2][i] - '0');
        if (i != fl[2] || v < 1 || v > max_valid_for) {
            snprintf(why, cap, "valid_for: not an integer from 1 to %d", max_valid_for);
            return false;
        }
        out->valid_for = (int)v;
    }
    return true;
}

int cg_intents_parse_csv(const char *text, size_t len, const char *name, struct cg_intent *out,
                         size_t max, size_t *n, size_t *bad, int max_valid_for,
                         cg_policy_report_cb cb, void *arg)
{
    const char *p = text, *end = text + len;
    size_t count = 0, nbad = 0;
    int line = 0;
    bool first = true;
    if (n)
        *n = 0;
    if (bad)
        *bad = 0;
    if (!text || !out || !n || !bad || max_valid_for < 1)
        return CG_EINVAL;
    if (!name)
        name = "intents";
    if (len > CG_INTENT_CSV_MAX) {
        if (cb)
            cb(name, 0, "larger than the limit for an intents file", arg);
        return CG_ETOOBIG;
    }
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *l = p;
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char why[160];
        p = nl ? nl + 1 : end;
        line++;
        if (ll && l[ll - 1] == '\r')
            ll--;
        if (memchr(l, '\0', ll)) {
            nbad++;
            if (cb)
                cb(name, line, "a NUL byte", arg);
            continue;
        }
        trim(&l, &ll);
        if (!ll || l[0] == '#')
            continue;
        if (first) {
            first = false;
            if (ll >= 4 && strncmp(l, "from", 4) == 0 &&
                (ll == 4 || l[4] == ',' || l[4] == ' ' || l[4] == '\t'))
                continue; /* the header */
        }
        if (ll > CG_INTENT_CSV_LINE_MAX) {
            nbad++;
            if (cb)
                cb(name, line, "line too long", arg);
            continue;
        }
        if (count == max) {
            char msg[96];
            snprintf(msg, sizeof msg, "more than %zu intents", max);
            if (cb)
                cb(name, line, msg, arg);
            return CG_ETOOBIG;
        }
        if (!csv_intent(l, ll, &out[count], max_valid_for, why, sizeof why)) {
            nbad++;
            if (cb)
                cb(name, line, why, arg);
            continue;
        }
        count++;
    }
    *n = count;
    *bad = nbad;
    return CG_OK;
}

/* --- keys ------------------------------------------------------------------------------ */

/*
 * The keys file is rewritten line for line into the customers file's form
 * (customer,addresses,numbers,tokens: "name,,numbers,sha256:hash"), so
 * that one loader, with its limits, reports and constant-time-enough
 * token lookups, serves both; lines keep their numbers.  A line that
 * cannot be rewritten is reported here and left empty.
 */
struct keys_text {
    char *p;
    size_t n, cap;
};

static bool kt_add(struct keys_text *k, const char *s, size_t len)
{
    if (k->n + len + 1 > k->cap) {
        size_t cap = (k->n + len + 1) * 2;
        char *np = realloc(k->p, cap);
        if (!np)
            return false;
        k->p = np;
        k->cap = cap;
    }
    memcpy(k->p + k->n, s, len);
    k->n += len;
    k->p[k->n] = '\0';
    return true;
}

/* The numbers field without the '+' its items may start with. */
static bool kt_numbers(struct keys_text *k, const char *s, size_t len)
{
    const char *end = s + len;
    for (;;) {
        const char *semi = memchr(s, ';', (size_t)(end - s)), *item = s;
        size_t il = (size_t)((semi ? semi : end) - s);
        trim(&item, &il);
        if (il && item[0] == '+') {
            item++;
            il--;
        }
        if (!kt_add(k, item, il) || (semi && !kt_add(k, ";", 1)))
            return false;
        if (!semi)
            return true;
        s = semi + 1;
    }
}

int cg_intent_keys_load_text(struct cg_customers **out, const char *name, const char *text,
                             size_t len, cg_policy_report_cb cb, void *arg)
{
    struct keys_text k = {0};
    const char *p = text, *end = text + len;
    int line = 0, rc;
    bool first = true;
    if (!out || !text)
        return CG_EINVAL;
    if (!name)
        name = "intent keys";
    if (len > CG_CUSTOMERS_FILE_MAX) {
        if (cb)
            cb(name, 0, "larger than the limit for a keys file", arg);
        return CG_ETOOBIG;
    }
    if (!kt_add(&k, "", 0))
        return CG_ENOMEM;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *l = p, *c1, *c2, *h;
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p), hl;
        bool ok = true;
        p = nl ? nl + 1 : end;
        line++;
        if (ll && l[ll - 1] == '\r')
            ll--;
        trim(&l, &ll);
        if (memchr(l, '\0', ll)) {
            if (cb)
                cb(name, line, "a NUL byte", arg);
            goto next;
        }
        if (!ll || l[0] == '#')
            goto next; /* comments and blank lines: an empty line in their place */
        c1 = memchr(l, ',', ll);
        c2 = c1 ? memchr(c1 + 1, ',', (size_t)(l + ll - c1 - 1)) : NULL;
        if (first) {
            first = false;
            if (c1 && c1 - l == 4 && strncmp(l, "name", 4) == 0) {
                ok = kt_add(&k, "customer,addresses,numbers,tokens", 33);
                goto next;
            }
        }
        if (!c2 || memchr(c2 + 1, ',', (size_t)(l + ll - c2 - 1))) {
            if (cb)
                cb(name, line, "not name,key_sha256,numbers", arg);
            goto next;
        }
        h = c1 + 1;
        hl = (size_t)(c2 - h);
        trim(&h, &hl);
        if (hl >= 7 && strncasecmp(h, "sha256:", 7) == 0) {
            h += 7;
            hl -= 7;
        }
        if (hl != 64 || strspn(h, "0123456789abcdefABCDEF") < 64) {
            if (cb)
                cb(name, line, "key_sha256 (field 2) is not 64 hexadecimal digits", arg);
            goto next;
        }
        ok = kt_add(&k, l, (size_t)(c1 - l)) && kt_add(&k, ",,", 2) &&
             kt_numbers(&k, c2 + 1, (size_t)(l + ll - c2 - 1)) && kt_add(&k, ",sha256:", 8) &&
             kt_add(&k, h, 64);
    next:
        if (!ok || !kt_add(&k, "\n", 1)) {
            free(k.p);
            return CG_ENOMEM;
        }
    }
    rc = cg_customers_load_text(out, name, k.p, k.n, cb, arg);
    free(k.p);
    return rc;
}

int cg_intent_keys_load_file(struct cg_customers **out, const char *path, cg_policy_report_cb cb,
                             void *arg)
{
    FILE *f;
    char *buf;
    size_t n;
    int rc;
    if (!out || !path)
        return CG_EINVAL;
    if (!(f = fopen(path, "rb")))
        return CG_EIO;
    if (!(buf = malloc(CG_CUSTOMERS_FILE_MAX + 1))) {
        fclose(f);
        return CG_ENOMEM;
    }
    n = fread(buf, 1, CG_CUSTOMERS_FILE_MAX + 1, f);
    rc = ferror(f) ? CG_EIO : CG_OK;
    fclose(f);
    if (rc == CG_OK && n > CG_CUSTOMERS_FILE_MAX) {
        if (cb)
            cb(path, 0, "larger than the limit for a keys file", arg);
        rc = CG_ETOOBIG;
    }
    if (rc == CG_OK)
        rc = cg_intent_keys_load_text(out, path, buf, n, cb, arg);
    free(buf);
    return rc;
}

/* --- Redis ------------------------------------------------------------------------------ */

size_t cg_intent_redis_key(char *buf, size_t cap, const char *prefix, const char *from,
                           const char *to)
{
    int w;
    if (!buf || !encode(from) || !encode(to))
        return 0;
    w = snprintf(buf, cap, "%sintent:%s:%s", prefix ? prefix : CG_REDIS_PREFIX, from, to);
    if (w < 0 || (size_t)w >= cap) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)w;
}
