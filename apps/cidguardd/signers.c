/*
 * The signers of a context (signers.h).
 *
 * What /metrics and the daily expiry check need (name, SPC, certificate
 * file and expiry of each signer) is copied into a small process-wide
 * table when a context's signers are built, since the context itself may
 * be freed under a reader that holds no reference to it.  The signers are
 * built last in a context's build, which is swapped in as soon as it
 * succeeds, so the table always describes the current context.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "signers.h"

#define SECRET_LEN 32
#define WARN_DAYS 30
#define DAY 86400

struct cgd_signers {
    struct cg_signers *file;    /* [sign] signers, or NULL */
    struct cgd_signer *by_name; /* the file's signers, sorted by name */
    size_t n;
    struct cgd_signer dflt; /* .signer NULL without [sign] key */
    bool per_call;
    bool have_secret;
    unsigned char secret[SECRET_LEN];
    uint64_t gen; /* never reused: keys the origid memo */
};

static atomic_uint_fast64_t next_gen = 1;

/* --- the published table ------------------------------------------------------------ */

struct gauge {
    char name[CG_SIGNER_NAME_MAX + 1];
    char spc[CG_SPC_MAX + 1];
    char cert[CG_SIGNER_PATH_MAX + 1];
    int64_t not_after;
};

static struct {
    pthread_mutex_t lock;
    struct gauge *g;
    size_t n;
    time_t next_check; /* main thread only */
} pub = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void publish(const struct cgd_signers *s)
{
    struct gauge *g = NULL, *old;
    size_t i, n = cg_signers_count(s->file);
    if (n && !(g = calloc(n, sizeof *g))) {
        cgd_log(LOG_ERR, "cidguardd: out of memory for the signers' metrics");
        n = 0;
    }
    for (i = 0; i < n; i++) {
        const struct cg_signer_entry *e = cg_signers_at(s->file, i);
        snprintf(g[i].name, sizeof g[i].name, "%s", e->name);
        snprintf(g[i].spc, sizeof g[i].spc, "%s", e->spc);
        snprintf(g[i].cert, sizeof g[i].cert, "%s", e->cert_path);
        g[i].not_after = e->not_after;
    }
    pthread_mutex_lock(&pub.lock);
    old = pub.g;
    pub.g = g;
    pub.n = n;
    pthread_mutex_unlock(&pub.lock);
    free(old);
}

/* The warning for a certificate within WARN_DAYS days of its end, or past
 * it: at every load and once a day. */
static void warn_expiry(const struct gauge *g, int64_t now)
{
    struct cg_signer_entry e = {.not_after = g->not_after};
    int64_t days = cg_signers_days_left(&e, now);
    char when[32];
    time_t t = (time_t)g->not_after;
    struct tm tm;
    if (days > WARN_DAYS)
        return;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    if (g->not_after <= now)
        cgd_log(LOG_ERR,
                "cidguardd: warning: signer '%s' (SPC %s): certificate %s EXPIRED on %s; calls "
                "signed with it fail verification: renew it and reload",
                g->name, g->spc, g->cert, when);
    else
        cgd_log(LOG_WARNING,
                "cidguardd: warning: signer '%s' (SPC %s): certificate %s expires in %lld "
                "day(s), on %s: renew it and reload",
                g->name, g->spc, g->cert, (long long)days, when);
}

int cgd_signers_wait(void)
{
    time_t now = time(NULL);
    if (!pub.n)
        return -1;
    return pub.next_check > now ? (int)(pub.next_check - now) : 0;
}

void cgd_signers_tick(void)
{
    time_t now = time(NULL);
    size_t i;
    if (!pub.n || now < pub.next_check)
        return;
    pub.next_check = now + DAY;
    /* The main thread is the only writer: reading without the lock. */
    for (i = 0; i < pub.n; i++)
        warn_expiry(&pub.g[i], (int64_t)now);
}

char *cgd_signers_metrics(void)
{
    static const char head[] =
        "# HELP cidguard_signer_cert_days_to_expiry Whole days until each signer's SP "
        "certificate expires (negative once expired).\n"
        "# TYPE cidguard_signer_cert_days_to_expiry gauge\n";
    int64_t now = (int64_t)time(NULL);
    char *out = NULL;
    size_t i, cap, o;
    pthread_mutex_lock(&pub.lock);
    if (!pub.n)
        goto out;
    cap = sizeof head + pub.n * (CG_SIGNER_NAME_MAX + CG_SPC_MAX + 96);
    if (!(out = malloc(cap)))
        goto out;
    o = (size_t)snprintf(out, cap, "%s", head);
    for (i = 0; i < pub.n; i++) {
        struct cg_signer_entry e = {.not_after = pub.g[i].not_after};
        /* Names are letters, digits, '.', '_' and '-', SPCs digits and
         * letters: nothing to escape in a label. */
        o +=
            (size_t)snprintf(out + o, cap - o,
                             "cidguard_signer_cert_days_to_expiry{signer=\"%s\",spc=\"%s\"} "
                             "%lld\n",
                             pub.g[i].name, pub.g[i].spc, (long long)cg_signers_days_left(&e, now));
    }
out:
    pthread_mutex_unlock(&pub.lock);
    return out;
}

/* --- the origid secret -------------------------------------------------------------- */

/* Creates `path` with 32 random bytes, mode 0600, failing if it exists
 * (another daemon on the same state directory may have just made it). */
static int create_secret(const char *path)
{
    unsigned char b[SECRET_LEN];
    int fd;
    ssize_t w;
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        cgd_log(LOG_ERR, "cidguardd: no random bytes for %s: %s", path, strerror(errno));
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        memset(b, 0, sizeof b);
        if (e == EEXIST)
            return 0;
        cgd_log(LOG_ERR, "cidguardd: cannot create %s: %s", path, strerror(e));
        return -1;
    }
    w = write(fd, b, sizeof b);
    memset(b, 0, sizeof b);
    if (w != (ssize_t)sizeof b || fsync(fd) != 0) {
        cgd_log(LOG_ERR, "cidguardd: cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    cgd_log(LOG_NOTICE,
            "cidguardd: created %s, the secret that keys stable origids (keep it, and "
            "back it up: a new one changes every customer's origid)",
            path);
    return 0;
}

/* Reads STATE_DIR/origid.key into s->secret, creating it first when
 * missing.  Its bytes are never printed. */
static int load_secret(struct cgd_signers *s, const char *state_dir)
{
    char path[sizeof((struct cgd_conf *)0)->state_dir + 16];
    unsigned char extra;
    struct stat st;
    ssize_t r;
    int fd;
    snprintf(path, sizeof path, "%s/origid.key", state_dir);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (create_secret(path))
            return -1;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        cgd_log(LOG_ERR, "cidguardd: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (r = read(fd, s->secret, sizeof s->secret)) != (ssize_t)sizeof s->secret ||
        read(fd, &extra, 1) != 0) {
        cgd_log(LOG_ERR,
                "cidguardd: %s must be a file of exactly %d bytes (remove it to make a new one, "
                "which changes every stable origid)",
                path, SECRET_LEN);
        close(fd);
        memset(s->secret, 0, sizeof s->secret);
        return -1;
    }
    close(fd);
    if (st.st_mode & 077)
        cgd_log(LOG_WARNING,
                "cidguardd: warning: %s is readable by others (mode %03o): whoever reads it can "
                "tell which customer an origid belongs to; chmod 600 it",
                path, (unsigned)(st.st_mode & 0777));
    s->have_secret = true;
    return 0;
}

/* --- building ----------------------------------------------------------------------- */

struct reports {
    unsigned n;
};

/* Any bad row of the signers file refuses the context: a customer must
 * never be signed for with another signer because its own did not load. */
static void report_row(const char *file, int line, const char *msg, void *arg)
{
    struct reports *r = arg;
    r->n++;
    cgd_log(LOG_ERR, "cidguardd: [sign] signers %s:%d: %s", file, line, msg);
}

static int cmp_signer(const void *a, const void *b)
{
    const struct cgd_signer *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static const struct cgd_signer *find(const struct cgd_signers *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->by_name[mid].name, name);
        if (c == 0)
            return &s->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void cgd_signers_free(struct cgd_signers *s)
{
    if (!s)
        return;
    cg_signers_free(s->file);
    free(s->by_name);
    memset(s->secret, 0, sizeof s->secret);
    free(s);
}

int cgd_signers_build(struct cgd_signers **out, const struct cgd_conf *conf,
                      const struct cg_signer *dflt, const struct cg_customers *customers)
{
    struct cgd_signers *s = calloc(1, sizeof *s);
    struct reports reps = {0};
    size_t i, nc;
    int rc;
    if (!s) {
        cgd_log(LOG_ERR, "cidguardd: out of memory");
        return -1;
    }
    s->gen = atomic_fetch_add(&next_gen, 1);
    s->dflt.name = "default";
    s->dflt.spc = "";
    s->dflt.x5u = conf->sign_x5u;
    s->dflt.signer = dflt;
    if (strcmp(conf->sign_origid, "per_call") == 0) {
        s->per_call = true;
    } else if (strcmp(conf->sign_origid, "stable") != 0) {
        cgd_log(LOG_ERR, "cidguardd: [sign] origid wants stable or per_call, not \"%s\"",
                conf->sign_origid);
        goto fail;
    }
    if (conf->sign_signers[0]) {
        rc = cg_signers_load_file(&s->file, conf->sign_signers, report_row, &reps);
        if (rc != CG_OK) {
            cgd_log(LOG_ERR, "cidguardd: [sign] signers %s: %s", conf->sign_signers,
                    cg_strerror(rc));
            goto fail;
        }
        if (reps.n) {
            cgd_log(LOG_ERR,
                    "cidguardd: [sign] signers %s: %u signer(s) did not load (see above): "
                    "refusing to sign with the rest",
                    conf->sign_signers, reps.n);
            goto fail;
        }
        s->n = cg_signers_count(s->file);
        if (s->n && !(s->by_name = calloc(s->n, sizeof *s->by_name))) {
            cgd_log(LOG_ERR, "cidguardd: out of memory");
            goto fail;
        }
        for (i = 0; i < s->n; i++) {
            const struct cg_signer_entry *e = cg_signers_at(s->file, i);
            if (strcmp(e->name, "default") == 0) {
                cgd_log(LOG_ERR,
                        "cidguardd: [sign] signers %s:%d: the name 'default' is the [sign] key's; "
                        "choose another",
                        conf->sign_signers, e->line);
                goto fail;
            }
            s->by_name[i] = (struct cgd_signer){e->name, e->spc, e->x5u, e->signer};
        }
        if (s->n)
            qsort(s->by_name, s->n, sizeof *s->by_name, cmp_signer);
    }
    /* A customer whose signer is missing would be signed for by no one (or
     * worse, by the default): refused here, by name. */
    nc = cg_customers_count(customers);
    for (i = 0; i < nc; i++) {
        const struct cg_customer *cu = cg_customers_at(customers, i);
        const char *sg = cg_customer_signer(cu);
        if (sg[0] && !find(s, sg)) {
            cgd_log(LOG_ERR,
                    "cidguardd: [sign] customers %s: customer '%s' names signer '%s', which %s",
                    conf->customers, cg_customer_name(cu), sg,
                    conf->sign_signers[0] ? "the signers file does not define"
                                          : "needs [sign] signers (no signers file is set)");
            goto fail;
        }
    }
    if (!s->per_call && (dflt || s->n) && load_secret(s, conf->state_dir))
        goto fail;
    publish(s);
    pub.next_check = time(NULL) + DAY;
    for (i = 0; i < pub.n; i++)
        warn_expiry(&pub.g[i], (int64_t)time(NULL));
    *out = s;
    return 0;
fail:
    cgd_signers_free(s);
    return -1;
}

/* --- the call path ------------------------------------------------------------------ */

const struct cgd_signer *cgd_signer_for(const struct cgd_signers *s, const struct cg_customer *cu)
{
    const char *name = cg_customer_signer(cu);
    if (!s)
        return NULL;
    if (name[0])
        return find(s, name);
    return s->dflt.signer ? &s->dflt : NULL;
}

/*
 * A stable origid is the same for every call of a (customer, ingress): each
 * worker remembers the last ones it made, since the HMAC's two digests were
 * about a tenth of a signing worker's CPU a call once the signature itself
 * became cheap (perf).  Keyed by the signers' generation, so that a reload
 * with another secret never answers from before it; names longer than a
 * slot are not remembered.
 */
#define MEMO_SLOTS 64
#define MEMO_NAME 64

static __thread struct memo {
    uint64_t gen;
    char customer[MEMO_NAME], ingress[MEMO_NAME];
    char origid[37];
} memo[MEMO_SLOTS];

static struct memo *memo_slot(const char *customer, const char *ingress)
{
    uint64_t h = 1469598103934665603ull;
    const char *p;
    for (p = customer; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (p = ingress; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return &memo[(h ^ h >> 32) % MEMO_SLOTS];
}

void cgd_origid(const struct cgd_signers *s, const char *customer, const char *ingress,
                char out[37])
{
    customer = customer ? customer : "";
    ingress = ingress ? ingress : "";
    if (s && !s->per_call && s->have_secret) {
        struct memo *m = NULL;
        if (strlen(customer) < MEMO_NAME && strlen(ingress) < MEMO_NAME) {
            m = memo_slot(customer, ingress);
            if (m->gen == s->gen && !strcmp(m->customer, customer) &&
                !strcmp(m->ingress, ingress)) {
                memcpy(out, m->origid, 37);
                return;
            }
        }
        if (cg_origid_stable(s->secret, sizeof s->secret, customer, ingress, out) == CG_OK) {
            if (m) {
                m->gen = s->gen;
                strcpy(m->customer, customer);
                strcpy(m->ingress, ingress);
                memcpy(m->origid, out, 37);
            }
            return;
        }
    }
    /* per_call, or a stable origid could not be made: a fresh one, which
     * identifies the call rather than nobody. */
    if (cg_uuid4(out) != CG_OK)
        snprintf(out, 37, "00000000-0000-4000-8000-000000000000");
}

void cgd_origid_at(const struct cgd_signers *s, const char *customer, const char *ingress,
                   const void *addr, char out[37])
{
    char text[INET6_ADDRSTRLEN] = "";
    const struct sockaddr *sa = addr;
    if (!ingress || !ingress[0]) {
        if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
            cgd_addr_text(sa, text, sizeof text);
        ingress = text;
    }
    cgd_origid(s, customer, ingress, out);
}
