/*
 * Policy lists, numbering rules and the decision.  Lookups on the call path
 * are digit-trie walks (at most 24 steps): no allocation, no lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidguard/policy.h"
#include "core/internal.h"
#include "policy/policy_internal.h"

struct reason_row {
    const char *code, *text;
    enum cg_action action;
};

/* reasons are bits of a uint32_t (cg_decision.reasons) */
_Static_assert(CG_PR__COUNT <= 32, "policy reasons must fit their 32-bit mask");
_Static_assert(CG_PR__COUNT <= CG_POLICY_REASONS_MAX,
               "struct cg_policy_config's action_override must hold every reason");
_Static_assert(CG_ACTION__COUNT < 255, "an action override is stored as action + 1 in a byte");

static const struct reason_row reasons[] = {
#define CG_PR_ROW(name, code, act, text) {code, text, CG_ACTION_##act},
    CG_POLICY_REASON_MAP(CG_PR_ROW)
#undef CG_PR_ROW
};

const char *cg_policy_reason_code(enum cg_policy_reason r)
{
    return (unsigned)r < CG_PR__COUNT ? reasons[r].code : "unknown";
}

const char *cg_policy_reason_text(enum cg_policy_reason r)
{
    return (unsigned)r < CG_PR__COUNT ? reasons[r].text : "";
}

enum cg_action cg_policy_reason_action(enum cg_policy_reason r)
{
    return (unsigned)r < CG_PR__COUNT ? reasons[r].action : CG_ACTION_ALLOW;
}

const char *cg_action_str(enum cg_action a)
{
    return a == CG_ACTION_BLOCK      ? "block"
           : a == CG_ACTION_LABEL    ? "label"
           : a == CG_ACTION_WITHHOLD ? "withhold"
                                     : "allow";
}

/* The enum's values are stable, so the order of strictness is a table:
 * withhold came after block. */
static int strictness(enum cg_action a)
{
    static const int rank[CG_ACTION__COUNT] = {[CG_ACTION_ALLOW] = 0,
                                               [CG_ACTION_LABEL] = 1,
                                               [CG_ACTION_WITHHOLD] = 2,
                                               [CG_ACTION_BLOCK] = 3};
    return (unsigned)a < CG_ACTION__COUNT ? rank[a] : 3;
}

enum cg_action cg_action_stricter(enum cg_action a, enum cg_action b)
{
    return strictness(b) > strictness(a) ? b : a;
}

/* --- digit trie ---------------------------------------------------------------- */

#define TRIE_MAX_NODES (1u << 22)

struct tnode {
    int32_t child[10];
    int32_t exact, prefix; /* value indexes, -1 none */
};

struct trie {
    struct tnode *n;
    uint32_t count, cap;
};

static int32_t node_new(struct trie *t)
{
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        struct tnode *nn;
        if (cap > TRIE_MAX_NODES || !(nn = realloc(t->n, cap * sizeof *nn)))
            return -1;
        t->n = nn;
        t->cap = cap;
    }
    memset(&t->n[t->count], 0xff, sizeof t->n[0]); /* all -1 */
    return (int32_t)t->count++;
}

/* Inserts digits (all '0'-'9') as an exact number or a prefix. */
static int trie_put(struct trie *t, const char *digits, bool prefix, int32_t value)
{
    int32_t cur;
    if (!t->count && node_new(t) < 0)
        return CG_ENOMEM;
    cur = 0;
    for (; *digits; digits++) {
        int d = *digits - '0';
        if (t->n[cur].child[d] < 0) {
            int32_t nn = node_new(t);
            if (nn < 0)
                return CG_ETOOBIG;
            t->n[cur].child[d] = nn;
        }
        cur = t->n[cur].child[d];
    }
    if (prefix)
        t->n[cur].prefix = value;
    else
        t->n[cur].exact = value;
    return CG_OK;
}

/* The value put for exactly `digits` (as a prefix or not), -1 when none. */
static int32_t trie_find(const struct trie *t, const char *digits, bool prefix)
{
    int32_t cur = 0;
    if (!t->count)
        return -1;
    for (; *digits; digits++)
        if ((cur = t->n[cur].child[*digits - '0']) < 0)
            return -1;
    return prefix ? t->n[cur].prefix : t->n[cur].exact;
}

/* The exact entry for tn if any, else the longest prefix entry, else -1. */
static int32_t trie_get(const struct trie *t, const char *tn)
{
    int32_t cur = 0, best = -1;
    if (!t->count)
        return -1;
    for (;;) {
        if (t->n[cur].prefix >= 0)
            best = t->n[cur].prefix;
        if (!*tn)
            return t->n[cur].exact >= 0 ? t->n[cur].exact : best;
        if (*tn < '0' || *tn > '9' || t->n[cur].child[*tn - '0'] < 0)
            return best;
        cur = t->n[cur].child[*tn - '0'];
        tn++;
    }
}

/* --- the policy ---------------------------------------------------------------- */

/* How a protected number takes call intents (the list's `intents` column). */
enum intent_use {
    INTENTS_ACCEPT,  /* an intent stands in for a missing verification (default) */
    INTENTS_REQUIRE, /* every call needs one, signed or not */
    INTENTS_NO       /* verification only */
};

#define AGENTS_MAX 8

struct protected_entry {
    char brand[CG_BRAND_MAX + 1];
    char spcs[8][CG_SPC_MAX + 1];
    size_t nspcs;
    char min_attest;
    enum intent_use intents;
    /* who may present the number behind a network number of its own (an
     * outsourced call centre): network numbers or prefixes ("4420794600*"),
     * or ingresses ("ingress:NAME") */
    char agents[AGENTS_MAX][64];
    size_t nagents;
    int line; /* where it was listed, for a report of a repeat */
};

struct ingress_entry {
    char name[64];
    bool international, roaming;
    char addrs[16][48];
    size_t naddrs;
    int line;
};

struct cg_policy {
    struct cg_policy_config cfg;
    enum cg_action action[CG_PR__COUNT];
    struct trie dno, protected_numbers, ofcom;
    /* NANP: "1NPA" -> 1 in service / 0 not (NANPA); "1NPANXX" -> 1 assigned
     * / 0 not (CO-code files), longest prefix wins */
    struct trie nanp;
    int nanpa_col; /* IN_SERVICE column of the NANPA report, 0 = not seen */
    bool nanpa_loaded;
    uint8_t nxx_covers[1000]; /* NPAs with CO-code data */
    struct protected_entry *prot;
    size_t nprot, prot_cap;
    struct ingress_entry *ing;
    size_t ning, ing_cap;
    bool ofcom_covers[10];                /* UK NSN first digit with loaded allocation data */
    char mobile_spcs[16][CG_SPC_MAX + 1]; /* cfg.uk_mobile_spcs, split */
    size_t nmobile_spcs;
};

int cg_policy_config_set_action(struct cg_policy_config *cfg, enum cg_policy_reason r,
                                enum cg_action a)
{
    if (!cfg || (unsigned)r >= CG_PR__COUNT || (unsigned)a >= CG_ACTION__COUNT)
        return CG_EINVAL;
    /* 0 means "the default", so an action is stored plus one. */
    cfg->action_override[r] = (unsigned char)(a + 1);
    return CG_OK;
}

enum cg_action cg_policy_config_action(const struct cg_policy_config *cfg, enum cg_policy_reason r)
{
    unsigned v;
    if ((unsigned)r >= CG_PR__COUNT)
        return CG_ACTION_ALLOW;
    v = cfg ? cfg->action_override[r] : 0;
    return v && v <= CG_ACTION__COUNT ? (enum cg_action)(v - 1) : reasons[r].action;
}

enum cg_action cg_policy_action(const struct cg_policy *p, enum cg_policy_reason r)
{
    return p && (unsigned)r < CG_PR__COUNT ? p->action[r] : CG_ACTION_ALLOW;
}

int cg_policy_new(struct cg_policy **out, const struct cg_policy_config *cfg)
{
    struct cg_policy *p = calloc(1, sizeof *p);
    int i;
    if (!p)
        return CG_ENOMEM;
    if (cfg)
        p->cfg = *cfg;
    for (i = 0; i < CG_PR__COUNT; i++)
        p->action[i] = cg_policy_config_action(&p->cfg, (enum cg_policy_reason)i);
    {
        char list[sizeof p->cfg.uk_mobile_spcs], *save, *tok;
        cg__strlcpy(list, p->cfg.uk_mobile_spcs, sizeof list);
        for (tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save))
            if (p->nmobile_spcs == 16 ||
                !cg__strlcpy(p->mobile_spcs[p->nmobile_spcs++], tok, sizeof p->mobile_spcs[0])) {
                free(p);
                return CG_EINVAL; /* more than 16, or one longer than an SPC */
            }
    }
    *out = p;
    return CG_OK;
}

void cg_policy_free(struct cg_policy *p)
{
    if (!p)
        return;
    free(p->dno.n);
    free(p->protected_numbers.n);
    free(p->ofcom.n);
    free(p->nanp.n);
    free(p->prot);
    free(p->ing);
    free(p);
}

/* --- CSV ------------------------------------------------------------------------------ */

#define CSV_FIELDS 12
/* A list is read whole, so it has a size: the largest real inputs, Ofcom's
 * and the numbering administrators' files, are a few MB. */
#define LIST_FILE_MAX (64u << 20)
/* The longest line, its newline included. */
#define LIST_LINE_MAX 4096
/* E.164: a number has at most 15 digits, its country code included. */
#define E164_MAX 15
/* Rows kept per list: a protected row takes about 850 bytes, an ingress
 * row as much, and every call scans the ingresses. */
#define PROTECTED_MAX 100000
#define INGRESS_MAX 10000

#define NOT_CANONICAL "number is not canonical E.164 digits (optionally ending in '*')"

/* One row of a list as a line reader sees it. */
struct row {
    char **f;
    int nf;
    int line;
    const char *why; /* why the row is skipped, with CG_EPARSE */
    char msg[160];   /* room for a why that names a value or a line */
};

typedef int (*line_fn)(struct cg_policy *p, struct row *r);

static void report(cg_policy_report_cb cb, void *arg, const char *name, int line, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static void report(cg_policy_report_cb cb, void *arg, const char *name, int line, const char *fmt,
                   ...)
{
    char msg[256];
    va_list ap;
    if (!cb)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb(name, line, msg, arg);
}

/* Skips a row: CG_EPARSE with its reason. */
static int skip(struct row *r, const char *why)
{
    r->why = why;
    return CG_EPARSE;
}

static int skipf(struct row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int skipf(struct row *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return skip(r, r->msg);
}

/* Splits a line in place on commas.  The list formats have no quoting: a
 * quote in a number field makes the line bad, and in a text field (brand,
 * note) is kept as text; cidguard policy add refuses both. */
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

/* The field without its surrounding blanks: cut at the end, skipped at
 * the start (no copy: every field of every line comes through here). */
static char *trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* A field without the quotes some exports put around it. */
static char *unquote(char *f)
{
    size_t n = strlen(f);
    if (n >= 2 && f[0] == '"' && f[n - 1] == '"') {
        f[n - 1] = '\0';
        return f + 1;
    }
    return f;
}

/* "4420794600*" -> digits and prefix flag; NULL, else why it is not a
 * number. */
static const char *parse_number(const char *s, char *digits, bool *prefix)
{
    size_t n = strlen(s);
    *prefix = n && s[n - 1] == '*';
    if (*prefix)
        n--;
    if (n == 0 || strspn(s, "0123456789") != n)
        return NOT_CANONICAL;
    if (n > E164_MAX)
        return "number longer than 15 digits (an E.164 number has at most 15)";
    memcpy(digits, s, n);
    digits[n] = '\0';
    return NULL;
}

/* Whether the line's first field, trimmed and unquoted, is one of the
 * header's names (in any case): a data row that merely starts with one,
 * such as an ingress named "ingress-intl", is data. */
static bool is_header(const char *line, const char *const *names)
{
    char first[64], *f;
    size_t n = strcspn(line, ","), i;
    if (n >= sizeof first)
        return false;
    memcpy(first, line, n);
    first[n] = '\0';
    f = trim(unquote(trim(first)));
    for (i = 0; names[i]; i++)
        if (strcasecmp(f, names[i]) == 0)
            return true;
    return false;
}

/* Reads a list of `len` bytes at `text` (not NUL-terminated; a NUL byte
 * makes its line bad); `name` names it in reports.  Lines are cut on '\n'
 * by their real length, so that a bad line never takes its neighbour with
 * it.  The first line that is not blank or a comment is skipped when its
 * first field is a header name. */
static int load_text(struct cg_policy *p, const char *text, size_t len, const char *name,
                     const char *const *header, line_fn fn, cg_policy_report_cb cb, void *arg)
{
    const char *s = text, *end = text + len;
    char line[LIST_LINE_MAX + 1];
    int lineno = 0, rc = CG_OK;
    bool first = true;
    if (len > LIST_FILE_MAX) {
        report(cb, arg, name, 0, "larger than %u bytes", LIST_FILE_MAX);
        return CG_ETOOBIG;
    }
    /* a byte-order mark, as editors on Windows write one */
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        s += 3;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s)), *start = s;
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        char *fields[CSV_FIELDS], *l;
        struct row r;
        int i;
        s = nl ? nl + 1 : end;
        lineno++;
        if (n + (nl ? 1 : 0) > LIST_LINE_MAX) {
            report(cb, arg, name, lineno, "line longer than %d bytes", LIST_LINE_MAX);
            continue;
        }
        if (memchr(start, '\0', n)) {
            report(cb, arg, name, lineno, "line holds a NUL byte");
            continue;
        }
        memcpy(line, start, n);
        line[n] = '\0';
        l = trim(line);
        if (!*l || *l == '#')
            continue;
        if (first) {
            first = false;
            if (header && is_header(l, header))
                continue;
        }
        memset(&r, 0, sizeof r);
        r.f = fields;
        r.nf = split_csv(l, fields, CSV_FIELDS);
        r.line = lineno;
        for (i = 0; i < r.nf; i++)
            fields[i] = trim(fields[i]);
        rc = fn(p, &r);
        if (rc == CG_EPARSE) {
            if (cb)
                cb(name, lineno, r.why, arg);
            rc = CG_OK;
            continue;
        }
        if (rc != CG_OK) {
            if (rc == CG_ETOOBIG)
                report(cb, arg, name, lineno, "the list is over its size limit: not loaded");
            break;
        }
    }
    return rc;
}

/* Reads the regular file `path` whole, refusing anything else before a
 * byte is read: a device or a pipe may never end (/dev/zero) or never
 * open (a FIFO without a writer), and the loaders run on a daemon's main
 * thread.  Why a file is refused is reported with line 0. */
static int read_list(const char *path, char **out, size_t *outlen, cg_policy_report_cb cb,
                     void *arg)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), rc = CG_OK;
    struct stat st;
    char *buf = NULL, *nb;
    size_t n = 0, cap;
    if (fd < 0) {
        report(cb, arg, path, 0, "%s", strerror(errno));
        return CG_EIO;
    }
    if (fstat(fd, &st) != 0) {
        report(cb, arg, path, 0, "%s", strerror(errno));
        rc = CG_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        report(cb, arg, path, 0, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        rc = CG_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > LIST_FILE_MAX) {
        report(cb, arg, path, 0, "larger than %u bytes", LIST_FILE_MAX);
        rc = CG_ETOOBIG;
        goto out;
    }
    /* room to see the end without growing; a file that grows meanwhile
     * is read up to one byte past the limit */
    cap = (size_t)st.st_size + 1;
    if (!(buf = malloc(cap))) {
        rc = CG_ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t got;
        if (n == cap) {
            if (cap > LIST_FILE_MAX) {
                report(cb, arg, path, 0, "larger than %u bytes", LIST_FILE_MAX);
                rc = CG_ETOOBIG;
                goto out;
            }
            cap = cap * 2 > LIST_FILE_MAX + 1u ? LIST_FILE_MAX + 1u : cap * 2;
            if (!(nb = realloc(buf, cap))) {
                rc = CG_ENOMEM;
                goto out;
            }
            buf = nb;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            report(cb, arg, path, 0, "%s", strerror(errno));
            rc = CG_EIO;
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
out:
    close(fd);
    if (rc != CG_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = n;
    return CG_OK;
}

static int load_file(struct cg_policy *p, const char *path, const char *const *header, line_fn fn,
                     cg_policy_report_cb cb, void *arg)
{
    char *buf;
    size_t n;
    int rc;
    if (!p || !path)
        return CG_EINVAL;
    if ((rc = read_list(path, &buf, &n, cb, arg)) != CG_OK)
        return rc;
    rc = load_text(p, buf, n, path, header, fn, cb, arg);
    free(buf);
    return rc;
}

static const char *const number_header[] = {"number", NULL};
static const char *const ingress_header[] = {"ingress", NULL};

/* `arr` (*cap elements of `size` bytes) with room for more, at most
 * `max`: it grows by doubling, so that n rows cost log(n) copies, not n. */
static void *grow(void *arr, size_t *cap, size_t size, size_t max)
{
    size_t nc = *cap ? *cap * 2 : 16;
    void *na;
    if (nc > max)
        nc = max;
    if (!(na = realloc(arr, nc * size)))
        return NULL;
    *cap = nc;
    return na;
}

static int dno_line(struct cg_policy *p, struct row *r)
{
    char digits[CG_TN_MAX + 1];
    const char *why;
    bool prefix;
    if ((why = parse_number(r->f[0], digits, &prefix)))
        return skip(r, why);
    return trie_put(&p->dno, digits, prefix, 0);
}

int cg_policy_load_dno(struct cg_policy *p, const char *path, cg_policy_report_cb cb, void *arg)
{
    return load_file(p, path, number_header, dno_line, cb, arg);
}

static int protected_line(struct cg_policy *p, struct row *r)
{
    struct protected_entry e, *ne;
    char digits[CG_TN_MAX + 1], **f = r->f;
    const char *why;
    bool prefix;
    char *save, *tok;
    int nf = r->nf, rc;
    int32_t first;
    memset(&e, 0, sizeof e);
    if (nf < 3)
        return skip(r, "want number,brand,spcs[,min_attest[,intents[,agents]]]");
    if ((why = parse_number(f[0], digits, &prefix)))
        return skip(r, why);
    if (!f[1][0] || !cg__strlcpy(e.brand, f[1], sizeof e.brand))
        return skip(r, "brand is empty or longer than 64 bytes");
    for (tok = strtok_r(f[2], ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        tok = trim(tok);
        if (!*tok)
            continue;
        if (e.nspcs == 8 || !cg__strlcpy(e.spcs[e.nspcs], tok, sizeof e.spcs[0]))
            return skip(r, "more than 8 SPCs, or an SPC longer than 32 bytes");
        e.nspcs++;
    }
    e.min_attest = nf > 3 && f[3][0] ? f[3][0] : 'A';
    if (nf > 3 && f[3][0] && (strlen(f[3]) != 1 || !strchr("ABC", f[3][0])))
        return skip(r, "min_attest must be A, B or C");
    if (nf > 4 && f[4][0]) {
        if (strcmp(f[4], "accept") == 0)
            e.intents = INTENTS_ACCEPT;
        else if (strcmp(f[4], "require") == 0)
            e.intents = INTENTS_REQUIRE;
        else if (strcmp(f[4], "no") == 0)
            e.intents = INTENTS_NO;
        else
            return skip(r, "intents must be accept, require or no");
    }
    for (tok = nf > 5 ? strtok_r(f[5], ";", &save) : NULL; tok; tok = strtok_r(NULL, ";", &save)) {
        char digits2[CG_TN_MAX + 1];
        bool pfx;
        tok = trim(tok);
        if (!*tok)
            continue;
        if (!strncmp(tok, "ingress:", 8)    ? !tok[8]
            : !strncmp(tok, "customer:", 9) ? !tok[9]
                                            : parse_number(tok, digits2, &pfx) != NULL)
            return skip(r, "an agent is a number, a prefix ending in '*', ingress:NAME or "
                           "customer:NAME");
        if (e.nagents == AGENTS_MAX || !cg__strlcpy(e.agents[e.nagents], tok, sizeof e.agents[0]))
            return skip(r, "more than 8 agents, or one longer than 63 bytes");
        e.nagents++;
    }
    /* The first row of a number stands, as a repeated customer does in
     * the customers file: a later one neither overrides it silently nor
     * takes memory. */
    if ((first = trie_find(&p->protected_numbers, digits, prefix)) >= 0)
        return skipf(r, "number already listed on line %d", p->prot[first].line);
    if (p->nprot >= PROTECTED_MAX)
        return skipf(r, "more than %d protected numbers", PROTECTED_MAX);
    if (p->nprot == p->prot_cap) {
        if (!(ne = grow(p->prot, &p->prot_cap, sizeof *ne, PROTECTED_MAX)))
            return CG_ENOMEM;
        p->prot = ne;
    }
    e.line = r->line;
    p->prot[p->nprot] = e;
    if ((rc = trie_put(&p->protected_numbers, digits, prefix, (int32_t)p->nprot)) == CG_OK)
        p->nprot++;
    return rc;
}

int cg_policy_load_protected(struct cg_policy *p, const char *path, cg_policy_report_cb cb,
                             void *arg)
{
    return load_file(p, path, number_header, protected_line, cb, arg);
}

static int ingress_line(struct cg_policy *p, struct row *r)
{
    struct ingress_entry e, *ne;
    char *save, *tok, **f = r->f;
    int nf = r->nf;
    size_t i;
    memset(&e, 0, sizeof e);
    if (nf < 2 || !f[0][0] || !cg__strlcpy(e.name, f[0], sizeof e.name))
        return skip(r, "want ingress,international,addresses,note");
    if (strcmp(f[1], "yes") && strcmp(f[1], "no") && strcmp(f[1], "roaming"))
        return skip(r, "international must be yes, no or roaming");
    /* roaming: an international roaming partner, whose +447 callers are UK
     * mobiles roaming abroad */
    e.roaming = strcmp(f[1], "roaming") == 0;
    e.international = e.roaming || strcmp(f[1], "yes") == 0;
    for (tok = nf > 2 ? strtok_r(f[2], ";", &save) : NULL; tok; tok = strtok_r(NULL, ";", &save)) {
        tok = trim(tok);
        if (!*tok)
            continue;
        if (e.naddrs == 16 || !cg__strlcpy(e.addrs[e.naddrs], tok, sizeof e.addrs[0]))
            return skip(r, "more than 16 addresses, or one too long");
        e.naddrs++;
    }
    /* a lookup by name takes the first row of a name: a later one is
     * reported rather than left unused */
    for (i = 0; i < p->ning; i++)
        if (strcmp(p->ing[i].name, e.name) == 0)
            return skipf(r, "ingress already listed on line %d", p->ing[i].line);
    if (p->ning >= INGRESS_MAX)
        return skipf(r, "more than %d ingresses", INGRESS_MAX);
    if (p->ning == p->ing_cap) {
        if (!(ne = grow(p->ing, &p->ing_cap, sizeof *ne, INGRESS_MAX)))
            return CG_ENOMEM;
        p->ing = ne;
    }
    e.line = r->line;
    p->ing[p->ning++] = e;
    return CG_OK;
}

int cg_policy_load_ingress(struct cg_policy *p, const char *path, cg_policy_report_cb cb, void *arg)
{
    return load_file(p, path, ingress_header, ingress_line, cb, arg);
}

/* The index of `status` (in any case) in `names`, -1 when not there. */
static int status_of(const char *status, const char *const *names, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcasecmp(status, names[i]) == 0)
            return (int)i;
    return -1;
}

/*
 * Ofcom's block statuses, the allocated ones first.  A closed range
 * ("Allocated(Closed Range)", most of 080's old blocks) is still allocated
 * to its provider, only closed to new allocations of its numbers: the
 * numbers already given out in it stay in service, so they are valid
 * CLIs.  Free, Protected (the drama ranges), Designated, Quarantined and
 * Reserved blocks are allocated to no one.
 */
static const char *const ofcom_statuses[] = {
    "Allocated", "Allocated(Closed Range)", "Free", "Protected", "Designated", "Quarantined",
    "Reserved"};
#define OFCOM_ALLOCATED 2 /* the first two */

/* "7000 0,Allocated,..." -> prefix 447000 0 -> "4470000"; value 1 when allocated */
static int ofcom_line(struct cg_policy *p, struct row *r)
{
    char digits[2 + 16] = "44", d[16], *blk, *nsn;
    size_t nd = 0, i;
    int s;
    if (r->nf < 2)
        return skip(r, "want Number Block,Block Status,...");
    blk = unquote(r->f[0]);
    for (i = 0; blk[i]; i++) {
        if (blk[i] == ' ')
            continue;
        if (blk[i] < '0' || blk[i] > '9')
            return skip(r, "number block is not digits");
        if (nd == sizeof d - 1)
            return skip(r, "number block longer than a UK number (10 digits)");
        d[nd++] = blk[i];
    }
    d[nd] = '\0';
    /* a block written nationally ("07402 0") is the same block as Ofcom's
     * own "7402 0": its trunk prefix is not part of the number */
    nsn = d[0] == '0' ? d + 1 : d;
    if (nsn[0] == '0')
        return skip(r, "number block starts with 00");
    if (strlen(nsn) < 2)
        return skip(r, "number block too short");
    if (strlen(nsn) > 10)
        return skip(r, "number block longer than a UK number (10 digits)");
    memcpy(digits + 2, nsn, strlen(nsn) + 1);
    if ((s = status_of(trim(unquote(r->f[1])), ofcom_statuses,
                       sizeof ofcom_statuses / sizeof ofcom_statuses[0])) < 0)
        return skipf(r, "unknown block status '%.60s'", trim(unquote(r->f[1])));
    p->ofcom_covers[digits[2] - '0'] = true;
    return trie_put(&p->ofcom, digits, true, s < OFCOM_ALLOCATED ? 1 : 0);
}

int cg_policy_load_ofcom(struct cg_policy *p, const char *path, cg_policy_report_cb cb, void *arg)
{
    static const char *const header[] = {"NMS Number Block: Number Block", "Number Block", NULL};
    return load_file(p, path, header, ofcom_line, cb, arg);
}

static bool three_digits(const char *s)
{
    return strlen(s) == 3 && strspn(s, "0123456789") == 3;
}

/* NANPA report: line 1 "File Date,...", then a header naming IN_SERVICE */
static int nanpa_line(struct cg_policy *p, struct row *r)
{
    static const char *const in_service[] = {"Y", "Yes", "N", "No"};
    char digits[5] = "1", **f = r->f;
    int i, s;
    for (i = 0; i < r->nf; i++)
        f[i] = trim(unquote(f[i]));
    if (strcasecmp(f[0], "NPA_ID") == 0) {
        p->nanpa_col = 0;
        for (i = 1; i < r->nf; i++)
            if (strcasecmp(f[i], "IN_SERVICE") == 0)
                p->nanpa_col = i;
        return p->nanpa_col ? CG_OK : skip(r, "the NPA_ID header has no IN_SERVICE column");
    }
    if (!p->nanpa_col)
        return skip(r, "no NPA_ID,...,IN_SERVICE header before the data");
    if (!three_digits(f[0]) || r->nf <= p->nanpa_col)
        return skip(r, "want a 3-digit NPA_ID and an IN_SERVICE column");
    if ((s = status_of(f[p->nanpa_col], in_service, 4)) < 0)
        return skipf(r, "IN_SERVICE is '%.60s', not Y or N", f[p->nanpa_col]);
    memcpy(digits + 1, f[0], 3);
    digits[4] = '\0';
    p->nanpa_loaded = true;
    return trie_put(&p->nanp, digits, true, s < 2 ? 1 : 0);
}

int cg_policy_load_nanpa(struct cg_policy *p, const char *path, cg_policy_report_cb cb, void *arg)
{
    static const char *const header[] = {"File Date", NULL};
    if (p)
        p->nanpa_col = 0;
    return load_file(p, path, header, nanpa_line, cb, arg);
}

/*
 * CO-code statuses in the CNA's export, the assigned ones first.  A code
 * is assigned when a provider holds it, and the export names one (its
 * company and OCN) for exactly these: In Service, Assigned, Being
 * Recovered (the provider's until the recovery is done) and TBP Test
 * Code.  The others name no provider and so no number in them is anyone's
 * to present: Available, Not Available, Moratorium on Assignment, For
 * Special Use (555, 950, 976, 988...), Plant Test (958, 959), Protected,
 * New Entrants Reserved, Temporarily Unavailable and Stranded Code.
 */
static const char *const cocode_statuses[] = {"In Service",
                                              "Assigned",
                                              "Being Recovered",
                                              "TBP Test Code",
                                              "Available",
                                              "Not Available",
                                              "For Special Use",
                                              "Plant Test",
                                              "Protected",
                                              "New Entrants Reserved",
                                              "Temporarily Unavailable",
                                              "Stranded Code"};
#define COCODE_ASSIGNED 4 /* the first four */

static int cocode_line(struct cg_policy *p, struct row *r)
{
    char digits[8] = "1", *npa, *nxx, *st, **f = r->f;
    int s;
    if (r->nf >= 2 && !f[0][0] && !f[1][0]) /* the export's date line */
        return CG_OK;
    if (r->nf < 3)
        return skip(r, "want NPA,NXX,Status,...");
    npa = trim(unquote(f[0]));
    nxx = trim(unquote(f[1]));
    st = trim(unquote(f[2]));
    if (!three_digits(npa) || !three_digits(nxx))
        return skip(r, "NPA and NXX must be 3 digits");
    /* "Moratorium on Assignment", and any other moratorium */
    if (strncasecmp(st, "Moratorium", 10) == 0)
        s = COCODE_ASSIGNED;
    else if ((s = status_of(st, cocode_statuses,
                            sizeof cocode_statuses / sizeof cocode_statuses[0])) < 0)
        return skipf(r, "unknown CO code status '%.60s'", st);
    memcpy(digits + 1, npa, 3);
    memcpy(digits + 4, nxx, 3);
    digits[7] = '\0';
    p->nxx_covers[atoi(npa)] = 1;
    return trie_put(&p->nanp, digits, true, s < COCODE_ASSIGNED ? 1 : 0);
}

int cg_policy_load_cocodes(struct cg_policy *p, const char *path, cg_policy_report_cb cb, void *arg)
{
    static const char *const header[] = {"NPA", NULL};
    return load_file(p, path, header, cocode_line, cb, arg);
}

static const char *const list_names[CG_LIST__COUNT] = {"dno", "protected", "ingress"};

const char *cg_list_name(enum cg_list l)
{
    return (unsigned)l < CG_LIST__COUNT ? list_names[l] : "?";
}

int cg_list_from_name(const char *name)
{
    int i;
    for (i = 0; i < CG_LIST__COUNT; i++)
        if (strcmp(name, list_names[i]) == 0)
            return i;
    return -1;
}

int cg_policy_load_list_text(struct cg_policy *p, enum cg_list l, const char *name,
                             const char *text, size_t len, cg_policy_report_cb cb, void *arg)
{
    static const struct {
        const char *const *header;
        line_fn fn;
    } kinds[CG_LIST__COUNT] = {
        {number_header, dno_line}, {number_header, protected_line}, {ingress_header, ingress_line}};
    if (!p || (unsigned)l >= CG_LIST__COUNT || (!text && len))
        return CG_EINVAL;
    if (!len)
        return CG_OK;
    return load_text(p, text, len, name ? name : list_names[l], kinds[l].header, kinds[l].fn, cb,
                     arg);
}

static unsigned ingress_flags(const struct ingress_entry *e)
{
    return (e->international ? CG_INGRESS_INTERNATIONAL : 0) |
           (e->roaming ? CG_INGRESS_ROAMING : 0);
}

const char *cg_policy_ingress_flags(const struct cg_policy *p, const char *tgrp, const void *addr,
                                    unsigned *flags)
{
    size_t i, j;
    *flags = 0;
    for (i = 0; tgrp && i < p->ning; i++)
        if (strcmp(p->ing[i].name, tgrp) == 0) {
            *flags = ingress_flags(&p->ing[i]);
            return p->ing[i].name;
        }
    for (i = 0; addr && i < p->ning; i++)
        for (j = 0; j < p->ing[i].naddrs; j++)
            if (cg_addr_in_cidr(addr, p->ing[i].addrs[j])) {
                *flags = ingress_flags(&p->ing[i]);
                return p->ing[i].name;
            }
    return NULL;
}

const char *cg_policy_ingress(const struct cg_policy *p, const char *tgrp, const void *addr,
                              bool *international)
{
    unsigned flags;
    const char *name = cg_policy_ingress_flags(p, tgrp, addr, &flags);
    *international = flags & CG_INGRESS_INTERNATIONAL;
    return name;
}

/* --- numbering rules -------------------------------------------------------------- */

static bool nanp_valid(const char *tn);

/* Structure always; assignment when NANPA / CO-code data is loaded. */
static void nanp_rules(const struct cg_policy *p, const char *tn, uint32_t *r)
{
    int32_t v;
    if (!nanp_valid(tn)) {
        *r |= 1u << CG_PR_NANP_INVALID;
        return;
    }
    if (!p->nanpa_loaded && !p->nanp.count)
        return;
    v = trie_get(&p->nanp, tn);
    if (v == 0)
        *r |= 1u << CG_PR_NANP_UNASSIGNED;
    else if (!p->nxx_covers[(tn[1] - '0') * 100 + (tn[2] - '0') * 10 + (tn[3] - '0')])
        *r |= 1u << CG_PR_NANP_ASSIGNMENT_UNKNOWN;
}

static void uk_rules(const struct cg_policy *p, const char *tn, uint32_t *r)
{
    const char *nsn = tn + 2;
    size_t n = strlen(nsn);
    int32_t v;
    /* Ofcom CLI guidance: 10 or 11 digits in national format (0 + NSN) */
    if (n < 9 || n > 10 || nsn[0] == '0') {
        *r |= 1u << CG_PR_UK_INVALID;
        return;
    }
    if (nsn[0] == '9') {
        *r |= 1u << CG_PR_UK_PREMIUM;
        return;
    }
    if (!p->ofcom_covers[nsn[0] - '0']) {
        *r |= 1u << CG_PR_UK_ALLOCATION_UNKNOWN;
        return;
    }
    v = trie_get(&p->ofcom, tn);
    if (v != 1)
        *r |= 1u << CG_PR_UK_UNALLOCATED;
}

/* NANP: 1 + NPA (NXX form, not N11, middle digit not 9) + NXX (not N11) + 4 */
static bool nanp_valid(const char *tn)
{
    if (strlen(tn) != 11 || strspn(tn, "0123456789") != 11)
        return false;
    if (tn[1] < '2' || tn[2] == '9' || (tn[2] == '1' && tn[3] == '1'))
        return false;
    if (tn[4] < '2' || (tn[5] == '1' && tn[6] == '1'))
        return false;
    return true;
}

const char *cg_policy_protected_brand(const struct cg_policy *p, const char *tn)
{
    int32_t pe = tn ? trie_get(&p->protected_numbers, tn) : -1;
    return pe >= 0 ? p->prot[pe].brand : NULL;
}

static bool spc_allowed(const struct protected_entry *e, const char *spc)
{
    size_t i;
    for (i = 0; i < e->nspcs; i++)
        if (strcmp(e->spcs[i], spc) == 0)
            return true;
    return false;
}

/* Whether the protected entry lets its number be presented behind the
 * network number `network` (an agent's own) or from the call's ingress.  A
 * network number counts only when `network_verified` (a PASSporT for it
 * passed): unsigned, anyone can write it; an ingress is what the carrier
 * itself knows. */
static bool agent_allowed(const struct protected_entry *e, const struct cg_policy_call *c,
                          const char *network, bool network_verified)
{
    size_t i;
    for (i = 0; i < e->nagents; i++) {
        const char *a = e->agents[i];
        size_t n = strlen(a);
        if (strncmp(a, "customer:", 9) == 0) {
            continue; /* a signing customer: for origination only */
        } else if (strncmp(a, "ingress:", 8) == 0) {
            if (c->ingress && strcmp(a + 8, c->ingress) == 0)
                return true;
        } else if (network && network_verified &&
                   (a[n - 1] == '*' ? strncmp(a, network, n - 1) == 0 : strcmp(a, network) == 0)) {
            return true;
        }
    }
    return false;
}

/* A UK mobile number: 07 but not 070 (personal numbers) or 076 (pagers),
 * except 07624 (Isle of Man mobiles). */
static bool uk_mobile(const char *tn)
{
    return strncmp(tn, "447", 3) == 0 &&
           ((tn[3] >= '1' && tn[3] <= '9' && tn[3] != '6') || strncmp(tn, "447624", 6) == 0);
}

static bool mobile_spc(const struct cg_policy *p, const char *spc)
{
    size_t i;
    for (i = 0; i < p->nmobile_spcs; i++)
        if (strcmp(p->mobile_spcs[i], spc) == 0)
            return true;
    return false;
}

/* What one number of the call is, given whether the verification covers it
 * and whether a call intent was found for it; `other` is the call's other
 * number (the network number, when tn is the presentation number). */
struct number_view {
    const char *tn, *other;
    bool covers, intent, other_verified;
    unsigned which; /* CG_POLICY_NUM_*: which of the call's numbers it is */
};

/* The protected entry of tn, and whether verification alone is enough for
 * it: its signer, at its attestation. */
static const struct protected_entry *protected_of(const struct cg_policy *p, const char *tn,
                                                  const struct cg_verdict *v, bool covers,
                                                  bool *verified)
{
    int32_t pe = trie_get(&p->protected_numbers, tn);
    const struct protected_entry *e = pe >= 0 ? &p->prot[pe] : NULL;
    *verified = e && covers && v->attest && v->attest <= e->min_attest && spc_allowed(e, v->spc);
    return e;
}

static uint32_t number_rules(const struct cg_policy *p, const struct cg_policy_call *c,
                             const struct number_view *n, struct cg_decision *out)
{
    const struct cg_verdict *v = c->verdict;
    const char *tn = n->tn;
    const struct protected_entry *e;
    bool uk = strncmp(tn, "44", 2) == 0, verified;
    uint32_t r = 0;

    if (trie_get(&p->dno, tn) >= 0)
        r |= 1u << CG_PR_DNO;
    if ((e = protected_of(p, tn, v, n->covers, &verified))) {
        /* the owner's word: its signature, its agent, or its call intent;
         * the finding says which, and the brand goes with any of them */
        bool agent = !verified && agent_allowed(e, c, n->other, n->other_verified);
        int why = e->intents == INTENTS_REQUIRE
                      ? (n->intent ? (verified ? CG_PR_BRAND : CG_PR_BRAND_INTENT) : -1)
                  : verified                                  ? CG_PR_BRAND
                  : agent                                     ? CG_PR_BRAND_AGENT
                  : e->intents == INTENTS_ACCEPT && n->intent ? CG_PR_BRAND_INTENT
                                                              : -1;
        if (why >= 0) {
            r |= 1u << why;
            cg__strlcpy(out->brand, e->brand, sizeof out->brand);
        } else {
            r |= 1u << (e->intents == INTENTS_NO ? CG_PR_PROTECTED_UNVERIFIED
                                                 : CG_PR_PROTECTED_NO_INTENT);
        }
    }
    if (uk && p->cfg.uk_rules)
        uk_rules(p, tn, &r);
    if (tn[0] == '1' && p->cfg.nanp_rules)
        nanp_rules(p, tn, &r);
    if (uk && c->international) {
        /* Ofcom, in force 29 January 2025: no UK CLI from abroad.  A UK
         * mobile may be roaming: its caller ID is withheld unless the
         * roaming is shown (Ofcom's proposal of July 2025) by the ingress
         * (a roaming partner), a signature of a UK mobile network, or the
         * host's roaming check. */
        if (!uk_mobile(tn))
            r |= 1u << CG_PR_INTL_UK_CLI;
        else if (!c->roaming_partner && !(c->roaming_confirmed & n->which) &&
                 !(n->covers && mobile_spc(p, v->spc)))
            r |= 1u << CG_PR_UK_MOBILE_ABROAD;
    }
    return r;
}

/* Whether a passed verdict's orig is tn.  For the network number, an empty
 * orig counts too: cg_verify never passes a token without one, so it can
 * only be a verdict a host built from a verstat reported for the caller (a
 * CDR, the CLI): policy.h. */
static bool orig_is(const struct cg_verdict *v, const char *tn, bool network)
{
    return tn && (v->orig[0] ? strcmp(v->orig, tn) == 0 : network);
}

static const unsigned num_bit[2] = {CG_POLICY_NUM_CALLER, CG_POLICY_NUM_PRESENTED};

unsigned cg_policy_intents_needed(const struct cg_policy *p, const struct cg_policy_call *c)
{
    const struct cg_verdict *v = c->verdict;
    bool passed = v && v->verstat == CG_VERSTAT_PASSED;
    const char *nums[2] = {c->caller, c->presented};
    unsigned need = 0, i;
    for (i = 0; i < 2; i++) {
        const struct protected_entry *e;
        bool verified;
        if (!nums[i] || !c->callee || (i == 1 && c->caller && !strcmp(nums[1], c->caller)))
            continue;
        e = protected_of(p, nums[i], v, passed && orig_is(v, nums[i], i == 0), &verified);
        if (e && (e->intents == INTENTS_REQUIRE ||
                  (e->intents == INTENTS_ACCEPT && !verified &&
                   !agent_allowed(e, c, i ? c->caller : NULL,
                                  i && passed && orig_is(v, c->caller, true)))))
            need |= num_bit[i];
    }
    if (need) {
        /* A call its numbers block whatever the intent (a DNO network
         * number, a UK number from abroad) spends none of the bank's
         * uses: a spoofer copying a bank's announced call cannot use them
         * up with calls that are refused anyway. */
        struct cg_policy_call with = *c;
        struct cg_decision d;
        uint32_t r = 0;
        with.intents = need;
        memset(&d, 0, sizeof d);
        for (i = 0; i < 2; i++)
            if (nums[i] && (i == 0 || !c->caller || strcmp(nums[1], c->caller))) {
                struct number_view n = {.tn = nums[i],
                                        .other = i ? c->caller : NULL,
                                        .covers = passed && orig_is(v, nums[i], i == 0),
                                        .intent = true,
                                        .other_verified =
                                            i && passed && orig_is(v, c->caller, true),
                                        .which = num_bit[i]};
                r |= number_rules(p, &with, &n, &d);
            }
        if (c->caller_unreadable)
            r |= 1u << CG_PR_CALLER_UNREADABLE;
        for (i = 0; i < CG_PR__COUNT; i++)
            if ((r & (1u << i)) && p->action[i] == CG_ACTION_BLOCK)
                return 0;
    }
    return need;
}

unsigned cg_policy_roaming_needed(const struct cg_policy *p, const struct cg_policy_call *c)
{
    const struct cg_verdict *v = c->verdict;
    bool passed = v && v->verstat == CG_VERSTAT_PASSED;
    const char *nums[2] = {c->caller, c->presented};
    unsigned need = 0, i;
    if (!c->international || c->roaming_partner)
        return 0;
    for (i = 0; i < 2; i++)
        if (nums[i] && uk_mobile(nums[i]) && !(c->roaming_confirmed & num_bit[i]) &&
            !(passed && orig_is(v, nums[i], i == 0) && mobile_spc(p, v->spc)))
            need |= num_bit[i];
    return need;
}

/* --- origination -------------------------------------------------------------------- */

/* Whether the protected entry names `customer` (customer:NAME) or the
 * call's ingress (ingress:NAME) as its owner or agent. */
static bool customer_allowed(const struct protected_entry *e, const char *customer,
                             const char *ingress)
{
    size_t i;
    for (i = 0; i < e->nagents; i++) {
        const char *a = e->agents[i];
        if ((customer && *customer && !strncmp(a, "customer:", 9) && !strcmp(a + 9, customer)) ||
            (ingress && *ingress && !strncmp(a, "ingress:", 8) && !strcmp(a + 8, ingress)))
            return true;
    }
    return false;
}

/* A UK non-geographic customer-service number (03, 080, 084, 087): the
 * ranges banks answer on, whose presentation by a reseller's customers is
 * what an iSpoof-like service sells. */
static bool bank_like(const char *tn)
{
    return !strncmp(tn, "443", 3) || !strncmp(tn, "4480", 4) || !strncmp(tn, "4484", 4) ||
           !strncmp(tn, "4487", 4);
}

/* The originating rules for one number: DNO, protected, numbering; *flag
 * set for a protected or bank-like number. */
static uint32_t origin_rules(const struct cg_policy *p, const struct cg_policy_origination *o,
                             const char *tn, bool *flag)
{
    int32_t pe;
    uint32_t r = 0;
    if (trie_get(&p->dno, tn) >= 0)
        r |= 1u << CG_PR_DNO;
    /* What counts towards the share is what is not the customer's to
     * present: a bank's number its owner or agent presents, or a bank-like
     * number among the customer's own, is the customer's business */
    if ((pe = trie_get(&p->protected_numbers, tn)) >= 0) {
        if (!customer_allowed(&p->prot[pe], o->customer, o->ingress)) {
            r |= 1u << CG_PR_PROTECTED_NOT_CUSTOMERS;
            *flag = true;
        }
    } else if (bank_like(tn) && !(o->owns && o->owns(tn, o->owns_arg))) {
        *flag = true;
    }
    if (!strncmp(tn, "44", 2) && p->cfg.uk_rules)
        uk_rules(p, tn, &r);
    if (tn[0] == '1' && p->cfg.nanp_rules)
        nanp_rules(p, tn, &r);
    return r;
}

int cg_policy_originate(const struct cg_policy *p, struct cg_policy_state *state,
                        const struct cg_policy_origination *o, struct cg_decision *out)
{
    const char *pres =
        o->presented && !(o->caller && !strcmp(o->presented, o->caller)) ? o->presented : NULL;
    bool flagged = false, calls = false, numbers = false, share = false;
    int i;
    memset(out, 0, sizeof *out);
    out->verstat = CG_VERSTAT_NONE;
    if (o->caller)
        out->caller_reasons = origin_rules(p, o, o->caller, &flagged);
    else
        out->caller_reasons = 1u << CG_PR_CALLER_UNREADABLE; /* nothing to sign */
    if (pres)
        out->presented_reasons = origin_rules(p, o, pres, &flagged);
    out->reasons = out->caller_reasons | out->presented_reasons;
    if (state) {
        cg__policy_state_originate(state, o->customer ? o->customer : "", o->caller, pres, flagged,
                                   o->now, &calls, &numbers, &share);
        out->reasons |= (calls ? 1u << CG_PR_RATE_CALLS : 0) |
                        (numbers ? 1u << CG_PR_RATE_NUMBERS : 0) |
                        (share ? 1u << CG_PR_PROTECTED_SHARE : 0);
    }
    out->action = CG_ACTION_ALLOW;
    for (i = 0; i < CG_PR__COUNT; i++)
        if (out->reasons & (1u << i))
            out->action = cg_action_stricter(out->action, p->action[i]);
    /* a signature is given or not: withheld caller IDs are the terminating
     * side's answer */
    if (out->action == CG_ACTION_WITHHOLD)
        out->action = CG_ACTION_LABEL;
    return CG_OK;
}

int cg_policy_decide(const struct cg_policy *p, struct cg_policy_state *state,
                     const struct cg_policy_call *c, struct cg_decision *out)
{
    const struct cg_verdict *v = c->verdict;
    /* the presentation number, when it is a number of its own */
    const char *pres =
        c->presented && !(c->caller && strcmp(c->presented, c->caller) == 0) ? c->presented : NULL;
    uint32_t r = 0;
    int i, rc = CG_OK;
    bool passed = v && v->verstat == CG_VERSTAT_PASSED, on_caller, on_pres;
    const char *verified_tn;
    char min;

    memset(out, 0, sizeof *out);
    out->verstat = v ? v->verstat : CG_VERSTAT_NONE;
    if (!v || v->verstat == CG_VERSTAT_NONE)
        r |= 1u << CG_PR_NO_TN_VALIDATION;
    else if (v->verstat == CG_VERSTAT_FAILED)
        r |= 1u << CG_PR_STIR_FAILED;

    {
        uint32_t sh = c->has_shared ? c->shared : 0;
        bool replay = false, rate_calls = sh & (1u << CG_PR_RATE_CALLS),
             rate_numbers = sh & (1u << CG_PR_RATE_NUMBERS);
        if (state)
            rc = cg__policy_state_observe(state, c, &replay, &rate_calls, &rate_numbers);
        if (c->has_shared)
            replay = sh & (1u << CG_PR_REPLAY);
        if (replay) {
            r |= 1u << CG_PR_REPLAY;
            out->verstat = CG_VERSTAT_FAILED; /* a replayed token verifies nothing */
            passed = false;
        }
        if (rate_calls)
            r |= 1u << CG_PR_RATE_CALLS;
        if (rate_numbers)
            r |= 1u << CG_PR_RATE_NUMBERS;
    }
    /* A token verifies the number it signed, and only that one: a passed
     * verdict for another orig says nothing about this call's numbers. */
    on_caller = passed && orig_is(v, c->caller, true);
    on_pres = passed && pres && orig_is(v, pres, false);
    if (passed && !on_caller && !on_pres) {
        /* for these numbers the call is as good as unsigned: no verstat of
         * their own, no attestation to meet a minimum with */
        out->verstat = CG_VERSTAT_NONE;
        r |= 1u << CG_PR_NO_TN_VALIDATION;
        passed = false;
    }
    /* the verstat goes on the number it is about: a failed or replayed
     * token's on the network number, as the SBC would put it without us */
    if (out->verstat != CG_VERSTAT_NONE)
        out->verstat_on = on_pres && !on_caller ? CG_POLICY_NUM_PRESENTED : CG_POLICY_NUM_CALLER;

    if (c->caller_unreadable)
        r |= 1u << CG_PR_CALLER_UNREADABLE;
    if (c->caller) {
        struct number_view n = {.tn = c->caller,
                                .covers = on_caller,
                                .intent = c->intents & CG_POLICY_NUM_CALLER,
                                .which = CG_POLICY_NUM_CALLER};
        out->caller_reasons = number_rules(p, c, &n, out);
    }
    if (pres) {
        struct number_view n = {.tn = pres,
                                .other = c->caller,
                                .covers = on_pres,
                                .intent = c->intents & CG_POLICY_NUM_PRESENTED,
                                .other_verified = on_caller,
                                .which = CG_POLICY_NUM_PRESENTED};
        out->brand[0] = '\0'; /* the brand goes with the number the callee sees */
        out->presented_reasons = number_rules(p, c, &n, out);
    }
    /* a brand is shown only when every protected number of the call is its
     * owner's: a bank's name must not dress up a spoof of another bank */
    if ((out->caller_reasons | out->presented_reasons) &
        (1u << CG_PR_PROTECTED_UNVERIFIED | 1u << CG_PR_PROTECTED_NO_INTENT)) {
        const uint32_t brands =
            1u << CG_PR_BRAND | 1u << CG_PR_BRAND_INTENT | 1u << CG_PR_BRAND_AGENT;
        out->caller_reasons &= ~brands;
        out->presented_reasons &= ~brands;
        out->brand[0] = '\0';
    }
    r |= out->caller_reasons | out->presented_reasons;

    /* A PASSporT without attest (ppt=div or rcd alone) attests nothing: it
     * meets no minimum.  The minimum is the verified number's category's. */
    verified_tn = on_caller ? c->caller : on_pres ? pres : c->caller;
    min = verified_tn && strncmp(verified_tn, "44", 2) == 0 ? p->cfg.min_attest_uk
                                                            : p->cfg.min_attest_other;
    if (passed && min && (!v->attest || v->attest > min))
        r |= 1u << CG_PR_ATTEST_LOW;

    out->reasons = r;
    out->action = CG_ACTION_ALLOW;
    for (i = 0; i < CG_PR__COUNT; i++)
        if (r & (1u << i))
            out->action = cg_action_stricter(out->action, p->action[i]);
    return rc;
}

size_t cg_decision_reasons(const struct cg_decision *d, char *buf, size_t cap)
{
    return cg_policy_reasons_str(d->reasons, buf, cap);
}

size_t cg_policy_reasons_str(uint32_t reasons_set, char *buf, size_t cap)
{
    size_t n = 0;
    int i;
    if (cap)
        buf[0] = '\0';
    for (i = 0; i < CG_PR__COUNT; i++)
        if (reasons_set & (1u << i)) {
            int w = snprintf(buf + n, cap > n ? cap - n : 0, "%s%s", n ? "," : "", reasons[i].code);
            if (w < 0 || (size_t)w >= (cap > n ? cap - n : 0))
                break;
            n += (size_t)w;
        }
    return n;
}
