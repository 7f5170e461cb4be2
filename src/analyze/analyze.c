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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>
#include <zlib.h>

#include "analyze/analyze_internal.h"
#include "cidguard/error.h"
#include "cidguard/policy.h"
#include "core/internal.h"

#define LINE_MAX_BYTES 65536
#define MAX_FIELDS 32

/* --- small containers -------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* FNV-1a, then mixed: numbers share long prefixes, and FNV's low bits
 * alone (the slot index) clustered them into probe runs that made interning
 * two thirds of the analysis (perf, 2 million rows). */
static uint64_t hash_bytes(const char *s, size_t n)
{
    return mix64(cg__fnv1a(s, n));
}

/* Interned strings: ids are dense from 0. */
struct strtab {
    uint64_t *slot; /* hash's high half << 32 | id + 1; 0 = empty: a probe that
                       misses never reads the string */
    uint32_t cap, n;
    uint32_t *off, *len; /* per id: where in the arena, how long */
    uint32_t idcap;
    char *arena;
    size_t alen, acap;
};

static int st_grow(struct strtab *t)
{
    uint32_t ncap = t->cap ? t->cap * 2 : 1024, i;
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (i = 0; i < t->cap; i++)
        if (t->slot[i]) {
            uint32_t id = (uint32_t)t->slot[i] - 1;
            uint32_t j = (uint32_t)hash_bytes(t->arena + t->off[id], t->len[id]) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = t->slot[i];
        }
    free(t->slot);
    t->slot = ns;
    t->cap = ncap;
    return 0;
}

/* The id of s (created when new, *created set); -1 when out of memory. */
static int64_t intern(struct strtab *t, const char *s, size_t n, bool *created)
{
    uint64_t h = hash_bytes(s, n), fp = h >> 32 << 32;
    uint32_t j;
    *created = false;
    if ((t->n + 1) * 2 > t->cap && st_grow(t))
        return -1;
    for (j = (uint32_t)h & (t->cap - 1); t->slot[j]; j = (j + 1) & (t->cap - 1)) {
        uint32_t id = (uint32_t)t->slot[j] - 1;
        if ((t->slot[j] & 0xffffffff00000000ull) == fp && t->len[id] == n &&
            memcmp(t->arena + t->off[id], s, n) == 0)
            return id;
    }
    if (t->n == t->idcap) {
        uint32_t nc = t->idcap ? t->idcap * 2 : 1024;
        uint32_t *no = realloc(t->off, nc * sizeof *no), *nl;
        if (!no)
            return -1;
        t->off = no;
        if (!(nl = realloc(t->len, nc * sizeof *nl)))
            return -1;
        t->len = nl;
        t->idcap = nc;
    }
    if (t->alen + n + 1 > t->acap) {
        size_t nc = t->acap ? t->acap * 2 : 65536;
        char *na;
        while (nc < t->alen + n + 1)
            nc *= 2;
        if (!(na = realloc(t->arena, nc)))
            return -1;
        t->arena = na;
        t->acap = nc;
    }
    memcpy(t->arena + t->alen, s, n);
    t->arena[t->alen + n] = '\0';
    t->off[t->n] = (uint32_t)t->alen;
    t->len[t->n] = (uint32_t)n;
    t->alen += n + 1;
    t->slot[j] = fp | (t->n + 1);
    *created = true;
    return t->n++;
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
    size_t ncap = m->cap ? m->cap * 2 : 1024, i;
    struct mslot *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return -1;
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

/* The id of the canonical number d (interned in t when new). */
static int64_t intern_number(struct map64 *x, struct strtab *t, const char *d, size_t n,
                             bool *created)
{
    uint64_t key = pack_number(d, n);
    uint32_t *slot;
    int64_t id;
    if (!key)
        return intern(t, d, n, created);
    if (!(slot = map_slot(x, key, created)))
        return -1;
    if (!*created)
        return *slot;
    if ((id = intern(t, d, n, created)) < 0)
        return -1;
    *slot = (uint32_t)id;
    return id;
}

/* --- the state -------------------------------------------------------------------- */

struct row {
    int64_t t;
    uint32_t calling, called, origin, dur;
    uint8_t verstat, attest, flags, pad;
};

struct number {
    uint32_t passed, total;
    int16_t brand; /* -1: not protected */
    bool dno;
};

struct origin {
    bool intl, account;
    uint32_t calls, hard, s4, presented, not_a, answered;
    uint64_t talk;
    bool spoofing;
    /* of its spoofed calls */
    uint32_t spoofed, victims, campaigns;
    int64_t first, last;
};

struct an {
    const struct cg_analyze_opts *o;
    struct cg_policy *policy;
    struct strtab nums, origins, brands;
    struct map64 numidx; /* packed number -> id */
    struct number *num;
    size_t numcap;
    struct origin *org;
    size_t orgcap;
    /* rows go to an unlinked temporary file, 32 bytes each, and are read
     * back twice: memory holds only numbers, origins and findings */
    FILE *spill;
    struct row chunk[4096];
    size_t nchunk, nrows;
    uint64_t line, bad;
    int64_t tmin, tmax;
};

static void bad(struct an *a, const char *why)
{
    a->bad++;
    if (a->o->bad_row)
        a->o->bad_row(a->line, why, a->o->arg);
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
    unsigned f[6] = {(unsigned)(y % 10000), m, d, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
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

/* Unix seconds, or ISO 8601 UTC: YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|+00:00]. */
static bool parse_time(const char *s, size_t n, int64_t *out)
{
    size_t i;
    if (n && n <= 12 && strspn(s, "0123456789") >= n) {
        int64_t v = 0;
        for (i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        *out = v;
        return true;
    }
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return false;
    for (i = 0; i < 19; i++)
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && (s[i] < '0' || s[i] > '9'))
            return false;
    {
        int64_t y = num2(s) * 100 + num2(s + 2);
        unsigned mo = (unsigned)num2(s + 5), d = (unsigned)num2(s + 8), h = (unsigned)num2(s + 11),
                 mi = (unsigned)num2(s + 14), se = (unsigned)num2(s + 17);
        const char *rest = s + 19, *end = s + n;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
            return false;
        if (rest < end && *rest == '.')
            for (rest++; rest < end && *rest >= '0' && *rest <= '9'; rest++)
                ;
        if (!(rest == end || (end - rest == 1 && *rest == 'Z') ||
              (end - rest == 6 && (!memcmp(rest, "+00:00", 6) || !memcmp(rest, "-00:00", 6)))))
            return false;
        *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    }
    return true;
}

/* --- rows ------------------------------------------------------------------------------ */

enum { V_NONE, V_PASSED, V_FAILED };
#define F_PROT 1
#define F_DNO 2
#define F_INTL 4
#define F_S4 8
#define F_HARD (F_PROT | F_DNO | F_INTL)
#define F_SPOOFED 16

struct sv {
    const char *p;
    size_t n;
};

static int spill_flush(struct an *a)
{
    if (a->nchunk && fwrite(a->chunk, sizeof a->chunk[0], a->nchunk, a->spill) != a->nchunk)
        return CG_EIO;
    a->nchunk = 0;
    return CG_OK;
}

/* The rows again, a chunk at a time (after rows_rewind); 0 at the end. */
static size_t rows_next(struct an *a)
{
    return fread(a->chunk, sizeof a->chunk[0], sizeof a->chunk / sizeof a->chunk[0], a->spill);
}

static int rows_rewind(struct an *a)
{
    return spill_flush(a) == CG_OK && fflush(a->spill) == 0 && fseek(a->spill, 0, SEEK_SET) == 0
               ? CG_OK
               : CG_EIO;
}

/* The id of a canonical number; a new one is looked up in the lists once. */
static int64_t number_id(struct an *a, const char *tn)
{
    bool created;
    int64_t id = intern_number(&a->numidx, &a->nums, tn, strlen(tn), &created);
    struct number *nu;
    if (id < 0)
        return -1;
    if ((size_t)id >= a->numcap) {
        size_t nc = a->numcap ? a->numcap * 2 : 4096;
        struct number *nn = realloc(a->num, nc * sizeof *nn);
        if (!nn)
            return -1;
        a->num = nn;
        a->numcap = nc;
    }
    if (!created)
        return id;
    nu = &a->num[id];
    memset(nu, 0, sizeof *nu);
    nu->brand = -1;
    if (a->policy) {
        const char *brand = cg_policy_protected_brand(a->policy, tn);
        struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A'};
        struct cg_policy_call c = {.verdict = &v, .caller = tn};
        struct cg_decision d;
        if (brand) {
            int64_t b = intern(&a->brands, brand, strlen(brand), &created);
            if (b < 0)
                return -1;
            nu->brand = (int16_t)(b < 32767 ? b : 32767);
        }
        cg_policy_decide(a->policy, NULL, &c, &d);
        nu->dno = d.reasons & (1u << CG_PR_DNO);
    }
    return id;
}

static int add_row(struct an *a, struct sv time, struct sv calling, struct sv called, struct sv dur,
                   struct sv ingress, struct sv verstat, struct sv attest, struct sv origid,
                   struct sv spc)
{
    char cing[CG_TN_MAX + 1], ced[CG_TN_MAX + 1], okey[512];
    struct row r = {0};
    int64_t id;
    bool created;
    size_t i;

    if (!parse_time(time.p, time.n, &r.t))
        return bad(a, "time is neither ISO 8601 UTC nor Unix seconds"), CG_OK;
    if (cg_tn_canon(calling.p, calling.n, a->o->plan, cing) != CG_OK)
        return bad(a, "calling is not a telephone number"), CG_OK;
    if (cg_tn_canon(called.p, called.n, a->o->plan, ced) != CG_OK)
        return bad(a, "called is not a telephone number"), CG_OK;
    for (i = 0; i < dur.n; i++) {
        if (dur.p[i] < '0' || dur.p[i] > '9' || r.dur > 100000000)
            return bad(a, "duration is not a whole number of seconds"), CG_OK;
        r.dur = r.dur * 10 + (uint32_t)(dur.p[i] - '0');
    }
    if (ingress.n + spc.n + origid.n + 3 > sizeof okey)
        return bad(a, "ingress, spc or origid too long"), CG_OK;
    r.verstat = verstat.n == 20 && !memcmp(verstat.p, "TN-Validation-Passed", 20)   ? V_PASSED
                : verstat.n == 20 && !memcmp(verstat.p, "TN-Validation-Failed", 20) ? V_FAILED
                                                                                     : V_NONE;
    r.attest = attest.n == 1 && attest.p[0] >= 'A' && attest.p[0] <= 'C' ? (uint8_t)attest.p[0] : 0;

    /* the numbers, and what the lists say about them */
    if ((id = number_id(a, cing)) < 0)
        return CG_ENOMEM;
    r.calling = (uint32_t)id;
    if ((id = number_id(a, ced)) < 0)
        return CG_ENOMEM;
    r.called = (uint32_t)id;

    /* the origin: ingress, signer, origination point */
    memcpy(okey, ingress.p, ingress.n);
    okey[ingress.n] = '|';
    memcpy(okey + ingress.n + 1, spc.p, spc.n);
    okey[ingress.n + 1 + spc.n] = '|';
    memcpy(okey + ingress.n + 2 + spc.n, origid.p, origid.n);
    if ((id = intern(&a->origins, okey, ingress.n + spc.n + origid.n + 2, &created)) < 0)
        return CG_ENOMEM;
    r.origin = (uint32_t)id;
    if ((size_t)id >= a->orgcap) {
        size_t nc = a->orgcap ? a->orgcap * 2 : 1024;
        struct origin *no = realloc(a->org, nc * sizeof *no);
        if (!no)
            return CG_ENOMEM;
        a->org = no;
        a->orgcap = nc;
    }
    if (created) {
        struct origin *og = &a->org[id];
        char ing[256];
        memset(og, 0, sizeof *og);
        og->account = origid.n > 0;
        if (a->policy && ingress.n && ingress.n < sizeof ing) {
            memcpy(ing, ingress.p, ingress.n);
            ing[ingress.n] = '\0';
            cg_policy_ingress(a->policy, ing, NULL, &og->intl);
        }
    }

    /* per-call signals */
    if (a->num[r.calling].dno)
        r.flags |= F_DNO;
    if (a->num[r.calling].brand >= 0) {
        struct cg_verdict v = {.verstat = r.verstat == V_PASSED   ? CG_VERSTAT_PASSED
                                          : r.verstat == V_FAILED ? CG_VERSTAT_FAILED
                                                                  : CG_VERSTAT_NONE,
                               .attest = (char)r.attest};
        struct cg_policy_call c = {.verdict = &v, .caller = cing};
        struct cg_decision d;
        if (spc.n < sizeof v.spc) {
            memcpy(v.spc, spc.p, spc.n);
            v.spc[spc.n] = '\0';
        }
        cg_policy_decide(a->policy, NULL, &c, &d);
        if (d.reasons & (1u << CG_PR_PROTECTED_UNVERIFIED))
            r.flags |= F_PROT;
    }
    if (a->org[r.origin].intl && cing[0] == '4' && cing[1] == '4' && cing[2] != '7')
        r.flags |= F_INTL;
    a->num[r.calling].total++;
    if (r.verstat == V_PASSED)
        a->num[r.calling].passed++;

    if (!a->nrows || r.t < a->tmin)
        a->tmin = r.t;
    if (!a->nrows || r.t > a->tmax)
        a->tmax = r.t;
    a->nrows++;
    a->chunk[a->nchunk++] = r;
    if (a->nchunk == sizeof a->chunk / sizeof a->chunk[0])
        return spill_flush(a);
    return CG_OK;
}

/* --- readers -------------------------------------------------------------------------- */

/* Splits a CSV line in place (RFC 4180 quotes); returns the field count. */
static int split(char *s, size_t n, struct sv *f, int max)
{
    size_t i = 0;
    int nf = 0;
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
            size_t start = i;
            while (i < n && s[i] != ',')
                i++;
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

enum col { C_TIME, C_CALLING, C_CALLED, C_DURATION, C_INGRESS, C_VERSTAT, C_ATTEST, C_ORIGID, C_SPC,
           C__COUNT };
static const char *const col_name[C__COUNT] = {"time",   "calling", "called", "duration", "ingress",
                                               "verstat", "attest", "origid", "spc"};

struct reader {
    int col[C__COUNT];
    bool header_done;
};

static const struct sv empty = {"", 0};

static int csv_line(struct an *a, struct reader *rd, char *line, size_t n, char *err, size_t errlen)
{
    struct sv f[MAX_FIELDS];
    int nf = split(line, n, f, MAX_FIELDS), i, c;
    if (!rd->header_done) {
        char missing[128] = "";
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
            snprintf(err, errlen, "missing required column(s): %s (the header row names time, "
                                  "calling, called, and optionally duration, ingress, verstat, "
                                  "attest, origid, spc, call_id)", missing);
            return CG_EPARSE;
        }
        rd->header_done = true;
        return CG_OK;
    }
    {
        struct sv v[C__COUNT];
        for (c = 0; c < C__COUNT; c++)
            v[c] = rd->col[c] >= 0 && rd->col[c] < nf ? f[rd->col[c]] : empty;
        if (rd->col[C_CALLED] >= nf)
            return bad(a, "fewer fields than the header"), CG_OK;
        return add_row(a, v[C_TIME], v[C_CALLING], v[C_CALLED], v[C_DURATION], v[C_INGRESS],
                       v[C_VERSTAT], v[C_ATTEST], v[C_ORIGID], v[C_SPC]);
    }
}

/* Asterisk Master.csv: accountcode,src,dst,dcontext,clid,channel,dstchannel,
 * lastapp,lastdata,start,answer,end,duration,billsec,disposition,amaflags[,
 * uniqueid,userfield]; no header.  The ingress is the accountcode, else the
 * channel's peer ("SIP/peer-1-0000002a" -> "peer-1"). */
static int asterisk_line(struct an *a, char *line, size_t n)
{
    struct sv f[MAX_FIELDS], ing;
    int nf = split(line, n, f, MAX_FIELDS);
    if (nf < 16)
        return bad(a, "an Asterisk CDR has at least 16 fields"), CG_OK;
    ing = f[0];
    if (!ing.n && f[5].n) {
        const char *slash = memchr(f[5].p, '/', f[5].n), *dash;
        ing.p = slash ? slash + 1 : f[5].p;
        ing.n = f[5].n - (size_t)(ing.p - f[5].p);
        dash = ing.n ? (const char *)memrchr(ing.p, '-', ing.n) : NULL;
        if (dash)
            ing.n = (size_t)(dash - ing.p);
    }
    return add_row(a, f[9], f[1], f[2], f[13], ing, empty, empty, empty, empty);
}

static int read_text(struct an *a, const char *path, char *err, size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    struct reader rd = {{0}, false};
    struct stat stt;
    uint64_t total = stat(path, &stt) == 0 ? (uint64_t)stt.st_size : 0, next_progress = 0;
    size_t cap = 4 << 20, have = 0;
    char *buf = malloc(cap + 1);
    bool skipping = false;
    int rc = CG_OK, got;

    if (!gz || !buf) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (gz)
            gzclose(gz);
        free(buf);
        return CG_EIO;
    }
    gzbuffer(gz, 1 << 20);
    while (rc == CG_OK && (got = gzread(gz, buf + have, (unsigned)(cap - have))) > 0) {
        size_t len = have + (size_t)got, start = 0;
        char *nl;
        while (rc == CG_OK && (nl = memchr(buf + start, '\n', len - start))) {
            size_t n = (size_t)(nl - (buf + start));
            a->line++;
            if (skipping) {
                skipping = false; /* the tail of an over-long line */
            } else if (n && buf[start + n - 1] == '\r' ? n > 1 : n > 0) {
                if (a->o->format == CG_CDR_ASTERISK)
                    rc = asterisk_line(a, buf + start, n);
                else
                    rc = csv_line(a, &rd, buf + start, n, err, errlen);
            }
            start += n + 1;
        }
        have = len - start;
        memmove(buf, buf + start, have);
        if (have > LINE_MAX_BYTES) { /* no newline in sight: skip the line */
            a->line++;
            bad(a, "line longer than 65536 bytes");
            have = 0;
            skipping = true;
        }
        if (a->o->progress && total) {
            uint64_t done = (uint64_t)gzoffset(gz);
            if (done >= next_progress) {
                a->o->progress(done, total, a->o->arg);
                next_progress = done + total / 100;
            }
        }
    }
    if (rc == CG_OK && have && !skipping) { /* a last line without a newline */
        a->line++;
        if (a->o->format == CG_CDR_ASTERISK)
            rc = asterisk_line(a, buf, have);
        else
            rc = csv_line(a, &rd, buf, have, err, errlen);
    }
    if (rc == CG_OK && got < 0) {
        int zerr;
        snprintf(err, errlen, "%s: %s", path, gzerror(gz, &zerr));
        rc = CG_EIO;
    }
    if (a->o->progress && total)
        a->o->progress(total, total, a->o->arg);
    gzclose(gz);
    free(buf);
    if (rc == CG_ENOMEM)
        snprintf(err, errlen, "out of memory after %llu rows", (unsigned long long)a->nrows);
    return rc;
}

static struct sv col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    struct sv v = {t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(st, i) : 0};
    return v;
}

static int read_decisions(struct an *a, const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = CG_OK, s;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT time, caller, callee, ingress, verstat, attest, origid, spc "
                           "FROM decisions ORDER BY time",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a cidguard decision log (%s)", path,
                 db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return CG_EIO;
    }
    while (rc == CG_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        char t[24];
        struct sv tv = {t, 0};
        a->line++;
        tv.n = (size_t)snprintf(t, sizeof t, "%lld", (long long)sqlite3_column_int64(st, 0));
        rc = add_row(a, tv, col_text(st, 1), col_text(st, 2), empty, col_text(st, 3), col_text(st, 4),
                     col_text(st, 5), col_text(st, 6), col_text(st, 7));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* --- analysis -------------------------------------------------------------------------- */

static void free_an(struct an *a)
{
    cg_policy_free(a->policy);
    st_free(&a->nums);
    free(a->numidx.s);
    st_free(&a->origins);
    st_free(&a->brands);
    free(a->num);
    free(a->org);
    if (a->spill)
        fclose(a->spill);
}

static int load_lists(struct an *a, char *err, size_t errlen)
{
    const struct cg_analyze_opts *o = a->o;
    const char *paths[3] = {o->dno_path, o->protected_path, o->ingress_path};
    int (*fn[3])(struct cg_policy *, const char *, cg_policy_report_cb, void *) = {
        cg_policy_load_dno, cg_policy_load_protected, cg_policy_load_ingress};
    int i, rc;
    if (cg_policy_new(&a->policy, &(struct cg_policy_config){.roaming_447 = true}) != CG_OK)
        return CG_ENOMEM;
    for (i = 0; i < 3; i++)
        if (paths[i] && (rc = fn[i](a->policy, paths[i], NULL, NULL)) != CG_OK) {
            snprintf(err, errlen, "cannot load %s: %s", paths[i], cg_strerror(rc));
            return rc;
        }
    return CG_OK;
}

int cg_analyze(const char *input, const char *outdir, const struct cg_analyze_opts *o,
               struct cg_analyze_summary *sum, char *err, size_t errlen)
{
    struct an a;
    struct cg__findings fd;
    int rc;

    memset(&a, 0, sizeof a);
    memset(sum, 0, sizeof *sum);
    a.o = o;
    if (err && errlen)
        err[0] = '\0';
    if ((rc = load_lists(&a, err, errlen)) != CG_OK)
        goto out;
    if (!(a.spill = tmpfile())) {
        snprintf(err, errlen, "cannot create a temporary file for the rows: %s", strerror(errno));
        rc = CG_EIO;
        goto out;
    }
    rc = o->format == CG_CDR_DECISIONS ? read_decisions(&a, input, err, errlen)
                                       : read_text(&a, input, err, errlen);
    if (rc != CG_OK)
        goto out;
    memset(&fd, 0, sizeof fd);
    fd.nums = &a.nums;
    fd.origins = &a.origins;
    fd.brands = &a.brands;
    sum->rows = a.nrows;
    sum->bad_rows = a.bad;
    rc = cg__analyze_run(&a, &fd, sum);
    if (rc == CG_OK)
        rc = cg__analyze_write(&fd, outdir, sum, err, errlen);
    cg__findings_free(&fd);
    if (rc == CG_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    if (rc == CG_EIO && !err[0])
        snprintf(err, errlen, "cannot write or read back the rows' temporary file (disk full?)");
out:
    sum->rows = a.nrows;
    sum->bad_rows = a.bad;
    free_an(&a);
    return rc;
}

/* An unverified call presenting a number that usually verifies (at least
 * 3 passes, at least 80% of its calls). */
static bool usually_verifies(const struct an *a, const struct row *r)
{
    const struct number *nu = &a->num[r->calling];
    return r->verstat != V_PASSED && nu->passed >= 3 &&
           (uint64_t)nu->passed * 5 >= (uint64_t)nu->total * 4;
}

/* The per-origin and per-campaign passes over the rows. */
int cg__analyze_run(struct an *a, struct cg__findings *fd, struct cg_analyze_summary *sum)
{
    struct map64 pres = {0}, cvict = {0}, cpres = {0}, ovict = {0}; /* pair sets */
    struct map64 minute = {0}, camp_of = {0}, vict_of = {0};
    size_t i, n, norg = a->origins.n;
    int rc = CG_ENOMEM;

    sum->first_time = a->tmin;
    sum->last_time = a->tmax;
    fd->tmin = a->tmin;
    /* pass 1: per-origin behaviour (the numbers' verification habit is
     * complete once the input is read) */
    if (rows_rewind(a) != CG_OK)
        goto io;
    while ((n = rows_next(a)) > 0)
        for (i = 0; i < n; i++) {
            struct row *r = &a->chunk[i];
            struct origin *og = &a->org[r->origin];
            int s;
            r->flags |= usually_verifies(a, r) ? F_S4 : 0;
            og->calls++;
            og->hard += (r->flags & F_HARD) != 0;
            og->s4 += (r->flags & F_S4) != 0;
            og->not_a += r->verstat != V_PASSED || r->attest != 'A';
            og->answered += r->dur > 0;
            og->talk += r->dur;
            if ((s = set_add(&pres, r->origin, r->calling)) < 0)
                goto out;
            og->presented += (uint32_t)s;
        }
    for (i = 0; i < norg; i++) {
        struct origin *og = &a->org[i];
        bool rotates = og->presented >= 20 && og->presented * 2 >= og->calls && og->not_a * 2 > og->calls;
        og->spoofing = og->hard > 0 || (og->account && rotates);
    }
    /* pass 2: spoofed calls into campaigns and victims */
    if (rows_rewind(a) != CG_OK)
        goto io;
    while ((n = rows_next(a)) > 0) {
        for (i = 0; i < n; i++) {
            struct row *r = &a->chunk[i];
            struct origin *og = &a->org[r->origin];
            struct cg__campaign *c;
            struct cg__victim *v;
            uint32_t *slot, kind, cid, vid;
            int s;
            if (!og->spoofing)
                continue;
            r->flags |= usually_verifies(a, r) ? F_S4 : 0;
            if (og->account)
                kind = 0; /* decided at the end from the campaign's signals */
            else if (r->flags & F_PROT)
                kind = CG__K_BANK;
            else if (r->flags & F_DNO)
                kind = CG__K_DNO;
            else if (r->flags & F_INTL)
                kind = CG__K_INTL;
            else if (r->flags & F_S4)
                kind = CG__K_VERIFY;
            else
                continue; /* an ordinary call on a trunk that also carried spoofing */
            r->flags |= F_SPOOFED;
            if (!(slot = counter(&camp_of, (uint64_t)r->origin << 8 | kind)))
                goto out;
            if (!*slot) {
                struct cg__campaign *nc = realloc(fd->camp, (fd->ncamp + 1) * sizeof *nc);
                if (!nc)
                    goto out;
                fd->camp = nc;
                memset(&nc[fd->ncamp], 0, sizeof nc[0]);
                nc[fd->ncamp].origin = r->origin;
                nc[fd->ncamp].kind = (int)kind;
                nc[fd->ncamp].first = r->t;
                nc[fd->ncamp].last = r->t;
                *slot = (uint32_t)++fd->ncamp;
                og->campaigns++;
            }
            cid = *slot - 1;
            c = &fd->camp[cid];
            c->calls++;
            c->answered += r->dur > 0;
            c->talk += r->dur;
            if (r->t < c->first)
                c->first = r->t;
            if (r->t > c->last)
                c->last = r->t;
            c->sig[CG__S_PROT] += (r->flags & F_PROT) != 0;
            c->sig[CG__S_DNO] += (r->flags & F_DNO) != 0;
            c->sig[CG__S_INTL] += (r->flags & F_INTL) != 0;
            c->sig[CG__S_VERIFY] += (r->flags & F_S4) != 0;
            if (a->num[r->calling].brand >= 0 && a->num[r->calling].brand < 64) {
                c->brands |= 1ull << a->num[r->calling].brand;
                fd->brand_calls[a->num[r->calling].brand]++;
            }
            if ((s = set_add(&cvict, cid, r->called)) < 0)
                goto out;
            c->victims += (uint32_t)s;
            if ((s = set_add(&cpres, cid, r->calling)) < 0)
                goto out;
            c->presented += (uint32_t)s;
            if (!(slot = counter(&minute, (uint64_t)cid << 32 | (uint32_t)((r->t - a->tmin) / 60))))
                goto out;
            if (++*slot > c->peak)
                c->peak = *slot;
            if (!(slot = counter(&fd->hourly, (uint64_t)cid << 32 | (uint32_t)((r->t - a->tmin) / 3600))))
                goto out;
            ++*slot;
            /* the origin's spoofed calls and victims */
            if (!og->spoofed || r->t < og->first)
                og->first = r->t;
            if (!og->spoofed || r->t > og->last)
                og->last = r->t;
            og->spoofed++;
            if ((s = set_add(&ovict, r->origin, r->called)) < 0)
                goto out;
            og->victims += (uint32_t)s;
            /* the victim */
            if (!(slot = counter(&vict_of, r->called)))
                goto out;
            if (!*slot) {
                if (fd->nvict == fd->victcap) {
                    size_t nc = fd->victcap ? fd->victcap * 2 : 1024;
                    struct cg__victim *nv = realloc(fd->vict, nc * sizeof *nv);
                    if (!nv)
                        goto out;
                    fd->vict = nv;
                    fd->victcap = nc;
                }
                memset(&fd->vict[fd->nvict], 0, sizeof fd->vict[0]);
                fd->vict[fd->nvict].called = r->called;
                fd->vict[fd->nvict].first = r->t;
                fd->vict[fd->nvict].last = r->t;
                *slot = (uint32_t)++fd->nvict;
            }
            vid = *slot - 1;
            v = &fd->vict[vid];
            v->calls++;
            v->answered += r->dur > 0;
            v->talk += r->dur;
            if (r->t < v->first)
                v->first = r->t;
            if (r->t > v->last)
                v->last = r->t;
            if (a->num[r->calling].brand >= 0 && a->num[r->calling].brand < 64)
                v->brands |= 1ull << a->num[r->calling].brand;
            {
                unsigned k;
                for (k = 0; k < v->ncamps && v->camps[k] != cid; k++)
                    ;
                if (k == v->ncamps && k < CG__VICTIM_LIST)
                    v->camps[v->ncamps++] = cid;
                for (k = 0; k < v->npres && v->pres[k] != r->calling; k++)
                    ;
                if (k == v->npres && k < CG__VICTIM_LIST)
                    v->pres[v->npres++] = r->calling;
            }
            sum->spoofed_calls++;
            sum->spoofed_answered += r->dur > 0;
        }
    }
    /* an account's campaign is named by its strongest signal */
    for (i = 0; i < fd->ncamp; i++) {
        struct cg__campaign *c = &fd->camp[i];
        const struct origin *og = &a->org[c->origin];
        if (c->kind == 0)
            c->kind = c->sig[CG__S_PROT] ? CG__K_BANK
                      : c->sig[CG__S_DNO] ? CG__K_DNO
                      : c->sig[CG__S_INTL] ? CG__K_INTL
                                           : CG__K_ROTATION;
        c->account = og->account;
        c->origin_presented = og->presented;
        c->origin_calls = og->calls;
    }
    /* the origins that spoofed, with what they did */
    for (i = 0; i < norg; i++) {
        const struct origin *og = &a->org[i];
        struct cg__origin_out *oo;
        if (!og->spoofed)
            continue;
        oo = realloc(fd->org, (fd->norg + 1) * sizeof *oo);
        if (!oo)
            goto out;
        fd->org = oo;
        oo = &fd->org[fd->norg++];
        oo->id = (uint32_t)i;
        oo->calls = og->calls;
        oo->spoofed = og->spoofed;
        oo->presented = og->presented;
        oo->victims = og->victims;
        oo->campaigns = og->campaigns;
        oo->first = og->first;
        oo->last = og->last;
        oo->hard = og->hard;
        oo->account = og->account;
        oo->rotates = og->account && !og->hard;
    }
    sum->campaigns = fd->ncamp;
    sum->victims = fd->nvict;
    sum->origins = fd->norg;
    rc = CG_OK;
out:
    if (0) {
io:
        rc = CG_EIO;
    }
    free(pres.s);
    free(cvict.s);
    free(cpres.s);
    free(ovict.s);
    free(minute.s);
    free(camp_of.s);
    free(vict_of.s);
    return rc;
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
