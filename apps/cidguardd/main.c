/*
 * cidguardd: wiring.  Reads the configuration (or builds the zero-config
 * one: a test PKI in the state directory, its own certificate served and
 * trusted), builds the shared context, starts the fetcher and the workers,
 * and handles signals: SIGHUP builds a new context and swaps it in while
 * calls continue on the old one; SIGTERM/SIGINT drain and exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cidguardd.h"

struct cg_certcache *cgd_cache;
struct cg_policy_state *cgd_pstate;
static struct cgd_ctx *current;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *config_file;

/*
 * The context on the call path without a global lock: each thread keeps a
 * reference to the context it last saw and takes the lock only when the
 * generation says a reload happened since.  The per-call reference is an
 * atomic increment; it keeps the context alive if a nested get on the same
 * thread moves to a newer one.
 */
static atomic_uint_fast64_t ctx_gen = 1;
static __thread struct cgd_ctx *tl_ctx;
static __thread uint64_t tl_gen;

struct cgd_ctx *cgd_ctx_get(void)
{
    struct cgd_ctx *c = tl_ctx;
    if (!c || tl_gen != atomic_load_explicit(&ctx_gen, memory_order_acquire)) {
        struct cgd_ctx *old = tl_ctx;
        pthread_mutex_lock(&ctx_lock);
        c = current;
        atomic_fetch_add(&c->refs, 1); /* the thread's own reference */
        tl_gen = atomic_load(&ctx_gen);
        pthread_mutex_unlock(&ctx_lock);
        tl_ctx = c;
        cgd_ctx_put(old);
    }
    atomic_fetch_add(&c->refs, 1);
    return c;
}

void cgd_ctx_thread_done(void)
{
    cgd_ctx_put(tl_ctx);
    tl_ctx = NULL;
    cg_certcache_thread_done();
}

static void ctx_free(struct cgd_ctx *c)
{
    cg_policy_free(c->policy);
    cg_verifier_free(c->verifier);
    cg_trust_free(c->trust);
    cg_signer_free(c->signer);
    cg_key_free(c->key);
    free(c->customers);
    free(c);
}

void cgd_ctx_put(struct cgd_ctx *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        ctx_free(c);
}

/* --- addresses ------------------------------------------------------------- */

bool cgd_addr_in_cidrs(const struct sockaddr *sa, const char *list, char sep)
{
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, sep);
        char one[64];
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            if (cg_addr_in_cidr(sa, one))
                return true;
        }
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* --- customers ------------------------------------------------------------ */

static void split(const char *field, char sep, char *out, size_t each, size_t max, size_t *n)
{
    const char *p = field;
    *n = 0;
    while (p && *p && *n < max) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ')) {
            p++;
            len--;
        }
        if (len && len < each) {
            memcpy(out + *n * each, p, len);
            out[*n * each + len] = '\0';
            (*n)++;
        }
        p = e ? e + 1 : NULL;
    }
}

/* CSV customer,addresses,numbers with a header row; '#' lines are
 * comments.  Bad lines are reported with their number and skipped. */
static int load_customers(struct cgd_ctx *c, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0;
    if (!f) {
        fprintf(stderr, "cidguardd: cannot read customers file %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *a, *b;
        struct cgd_customer *cu, *nc;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#' || (lineno == 1 && strncmp(line, "customer,", 9) == 0))
            continue;
        if (!(a = strchr(line, ',')) || !(b = strchr(a + 1, ','))) {
            fprintf(stderr, "%s:%d: want customer,addresses,numbers\n", path, lineno);
            continue;
        }
        *a++ = '\0';
        *b++ = '\0';
        if (!(nc = realloc(c->customers, (c->ncustomers + 1) * sizeof *nc))) {
            fclose(f);
            return -1;
        }
        c->customers = nc;
        cu = &c->customers[c->ncustomers++];
        memset(cu, 0, sizeof *cu);
        snprintf(cu->name, sizeof cu->name, "%.63s", line);
        split(a, ';', cu->addrs[0], sizeof cu->addrs[0], 16, &cu->naddrs);
        split(b, ';', cu->numbers[0], sizeof cu->numbers[0], 64, &cu->nnumbers);
    }
    fclose(f);
    return 0;
}

char cgd_attest_for(const struct cgd_ctx *c, const struct sockaddr *addr, const char *caller)
{
    size_t i, j, k;
    char best = 'C';
    for (i = 0; i < c->ncustomers; i++) {
        const struct cgd_customer *cu = &c->customers[i];
        bool known = false;
        for (j = 0; j < cu->naddrs && !known; j++)
            known = cg_addr_in_cidr(addr, cu->addrs[j]);
        if (!known)
            continue;
        best = 'B';
        for (k = 0; caller && k < cu->nnumbers; k++) {
            const char *n = cu->numbers[k];
            size_t l = strlen(n);
            if ((l && n[l - 1] == '*') ? strncmp(caller, n, l - 1) == 0 : strcmp(caller, n) == 0)
                return 'A';
        }
    }
    return best;
}

/* --- context ---------------------------------------------------------------- */

static int each_file(const char *list, int (*fn)(struct cg_trust *, const char *), struct cg_trust *t)
{
    char buf[CGD_LIST], *save, *tok;
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        int rc = fn(t, tok);
        if (rc != CG_OK) {
            fprintf(stderr, "cidguardd: %s: %s\n", tok, cg_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static void report_line(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s:%d: %s (line skipped)\n", file, line, msg);
}

/* --- policy lists kept in Redis ------------------------------------------------- */
/*
 * With [redis] url and lists = yes, the main thread polls the lists'
 * version once a second over its own synchronous connection (never the
 * call path's).  A new version is kept in memory, loaded with the same
 * rules and line-numbered reports as the files, and a new context is built
 * and swapped in whole.  Only the main thread touches these.
 */
static struct cg_shared *lists_conn;
static long long lists_version = -1;
static char *redis_text[CG_LIST__COUNT]; /* NULL: the [policy] file */
static bool lists_logged;

/* True when Redis has a version of the lists other than the loaded one (and
 * it is now in redis_text). */
static bool fetch_lists(const struct cgd_conf *k)
{
    char err[300], *text[CG_LIST__COUNT];
    long long v;
    int i;
    if (!k->redis_url[0] || !k->redis_lists)
        return false;
    if (!lists_conn &&
        cg_shared_connect(&lists_conn, k->redis_url, k->redis_prefix, 500, err, sizeof err)) {
        if (!lists_logged)
            fprintf(stderr, "cidguardd: lists: %s; keeping the lists loaded\n", err);
        lists_logged = true;
        return false;
    }
    if (cg_shared_lists_version(lists_conn, &v) != CG_OK) {
        fprintf(stderr, "cidguardd: lists: %s; keeping the lists loaded\n",
                cg_shared_error(lists_conn));
        cg_shared_close(lists_conn);
        lists_conn = NULL;
        return false;
    }
    lists_logged = false;
    if (v == lists_version)
        return false;
    if (cg_shared_lists_get(lists_conn, text, &v) != CG_OK) {
        atomic_fetch_add(&cgd_m.lists_errors, 1);
        return false;
    }
    for (i = 0; i < CG_LIST__COUNT; i++) {
        free(redis_text[i]);
        redis_text[i] = text[i];
    }
    lists_version = v;
    atomic_store(&cgd_m.lists_version, v);
    atomic_fetch_add(&cgd_m.lists_reloads, 1);
    return true;
}

/* [policy] actions = reason=action;...: the defaults with these changed. */
static int parse_actions(const char *spec, struct cg_policy_config *pc)
{
    char buf[CGD_LIST], *save, *tok;
    int i;
    for (i = 0; i < CG_PR__COUNT; i++)
        pc->action[i] = cg_policy_reason_action((enum cg_policy_reason)i);
    pc->override_actions = true;
    snprintf(buf, sizeof buf, "%s", spec);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        int a = -1;
        if (eq) {
            *eq = '\0';
            for (a = 0; a < 3 && strcmp(eq + 1, cg_action_str((enum cg_action)a)); a++)
                ;
        }
        for (i = 0; i < CG_PR__COUNT && strcmp(tok, cg_policy_reason_code((enum cg_policy_reason)i)); i++)
            ;
        if (!eq || a == 3 || i == CG_PR__COUNT) {
            fprintf(stderr, "cidguardd: [policy] actions: \"%s\" is not reason=allow|label|block "
                            "with a known reason\n", tok);
            return -1;
        }
        pc->action[i] = (enum cg_action)a;
    }
    return 0;
}

/* The policy lists of [policy]: each file loads whole or is refused; bad
 * lines are reported with file and line and the rest loads. */
static int build_policy(struct cgd_ctx *c)
{
    const struct cgd_conf *k = &c->conf;
    struct cg_policy_config pc = {.uk_rules = k->uk_rules, .nanp_rules = k->nanp_rules,
                                  .roaming_447 = k->roaming_447,
                                  .min_attest_uk = k->min_attest_uk[0],
                                  .min_attest_other = k->min_attest_other[0]};
    char buf[CGD_LIST], *save, *tok;
    /* in enum cg_list order; a list stored in Redis replaces the file */
    struct {
        const char *path;
        int (*fn)(struct cg_policy *, const char *, cg_policy_report_cb, void *);
    } lists[] = {{k->dno, cg_policy_load_dno},
                 {k->protected_numbers, cg_policy_load_protected},
                 {k->ingress, cg_policy_load_ingress}};
    size_t i;
    int rc;
    if ((k->min_attest_uk[0] && !strchr("ABC", k->min_attest_uk[0])) ||
        (k->min_attest_other[0] && !strchr("ABC", k->min_attest_other[0])) ||
        (k->block_response != 603 && k->block_response != 608)) {
        fprintf(stderr, "cidguardd: [policy] min_attest_* must be A, B or C and block_response 603 or 608\n");
        return -1;
    }
    if (k->actions[0] && parse_actions(k->actions, &pc))
        return -1;
    if (cg_policy_new(&c->policy, &pc) != CG_OK)
        return -1;
    for (i = 0; i < CG_LIST__COUNT; i++) {
        char name[32];
        snprintf(name, sizeof name, "redis:%s", cg_list_name((enum cg_list)i));
        if (redis_text[i])
            rc = cg_policy_load_list_text(c->policy, (enum cg_list)i, name, redis_text[i],
                                          strlen(redis_text[i]), report_line, NULL);
        else if (lists[i].path[0])
            rc = lists[i].fn(c->policy, lists[i].path, report_line, NULL);
        else
            continue;
        if (rc) {
            fprintf(stderr, "cidguardd: %s: %s\n", redis_text[i] ? name : lists[i].path,
                    cg_strerror(rc));
            return -1;
        }
    }
    snprintf(buf, sizeof buf, "%s", k->ofcom);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
        if ((rc = cg_policy_load_ofcom(c->policy, tok, report_line, NULL))) {
            fprintf(stderr, "cidguardd: %s: %s\n", tok, cg_strerror(rc));
            return -1;
        }
    if (k->nanpa[0] && (rc = cg_policy_load_nanpa(c->policy, k->nanpa, report_line, NULL))) {
        fprintf(stderr, "cidguardd: %s: %s\n", k->nanpa, cg_strerror(rc));
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", k->cocodes);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
        if ((rc = cg_policy_load_cocodes(c->policy, tok, report_line, NULL))) {
            fprintf(stderr, "cidguardd: %s: %s\n", tok, cg_strerror(rc));
            return -1;
        }
    return 0;
}

static struct cgd_ctx *ctx_build(const struct cgd_conf *conf)
{
    struct cgd_ctx *c = calloc(1, sizeof *c);
    struct cg_verify_config vc = {0};
    int rc;
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->conf = *conf;
    c->plan = !conf->country_code[0]               ? NULL
              : strcmp(conf->country_code, "44") == 0 ? &cg_tn_plan_uk
              : strcmp(conf->country_code, "1") == 0  ? &cg_tn_plan_nanp
                                                      : NULL;
    if (cg_trust_new(&c->trust, conf->crl_required && (conf->crl[0] || conf->crl_url[0])
                                    ? CG_TRUST_CRL_REQUIRED
                                    : 0))
        goto fail;
    if (each_file(conf->trust, cg_trust_add_anchors_file, c->trust) ||
        each_file(conf->crl, cg_trust_add_crl_file, c->trust))
        goto fail;
    if (conf->crl_url[0]) {
        char path[sizeof conf->state_dir + 32];
        snprintf(path, sizeof path, "%s/crl-downloaded.crl", conf->state_dir);
        if (access(path, R_OK) == 0 && cg_trust_add_crl_file(c->trust, path) != CG_OK)
            fprintf(stderr, "cidguardd: %s: not a CRL; ignored\n", path);
    }
    vc.trust = c->trust;
    vc.certsrc = cg_certcache_source(cgd_cache);
    vc.plan = c->plan;
    vc.freshness = conf->freshness;
    vc.allow_http = conf->allow_http;
    if (cg_verifier_new(&c->verifier, &vc))
        goto fail;
    if (conf->sign_key[0]) {
        if ((rc = cg_key_load_file(&c->key, conf->sign_key)) != CG_OK) {
            fprintf(stderr, "cidguardd: [sign] key %s: %s\n", conf->sign_key, cg_strerror(rc));
            goto fail;
        }
        if (cg_signer_new(&c->signer, c->key, conf->sign_x5u) != CG_OK) {
            fprintf(stderr, "cidguardd: [sign] needs a private key and an http(s) x5u\n");
            goto fail;
        }
    }
    if (conf->customers[0] && load_customers(c, conf->customers))
        goto fail;
    if (build_policy(c))
        goto fail;
    return c;
fail:
    ctx_free(c);
    return NULL;
}

/* --- zero configuration ------------------------------------------------------ */

static int mkdirs(const char *path)
{
    char buf[CGD_PATH], *p;
    snprintf(buf, sizeof buf, "%s", path);
    for (p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[8192];
    size_t n;
    int rc = a && b ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (a)
        fclose(a);
    if (b && fclose(b))
        rc = -1;
    return rc;
}

/* The test PKI, the certificate repository and a customers file in the
 * state directory, and the configuration that uses them. */
static int zero_config(struct cgd_conf *c)
{
    char pki[300], certs[300], path[CGD_PATH + 64], path2[CGD_PATH + 64];
    const char *spcs[] = {"1001"};
    struct cg_pki_opts o = {.spcs = spcs, .nspcs = 1};
    const char *why;
    struct stat st;
    FILE *f;
    int port = 8085;
    const char *colon = strrchr(c->http_listen, ':');

    if (colon)
        port = atoi(colon + 1);
    snprintf(pki, sizeof pki, "%s/pki", c->state_dir);
    snprintf(certs, sizeof certs, "%s/certs", c->state_dir);
    if (mkdirs(c->state_dir) || mkdirs(certs)) {
        fprintf(stderr, "cidguardd: cannot create %s\n", c->state_dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/sp-1001.key", pki);
    if (stat(path, &st) != 0) {
        snprintf(path2, sizeof path2, "http://127.0.0.1:%d/certs/crl.pem", port);
        o.dir = pki;
        o.crl_url = path2;
        if (cg_pki_init(&o, &why) != CG_OK) {
            fprintf(stderr, "cidguardd: test PKI: %s\n", why);
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/sp-1001.pem", pki);
    snprintf(path2, sizeof path2, "%s/sp-1001.pem", certs);
    if (copy_file(path, path2))
        return -1;
    snprintf(path, sizeof path, "%s/crl.pem", pki);
    snprintf(path2, sizeof path2, "%s/crl.pem", certs);
    if (copy_file(path, path2))
        return -1;
    snprintf(c->trust, sizeof c->trust, "%s/root.pem", pki);
    snprintf(c->crl, sizeof c->crl, "%s/crl.pem", pki);
    snprintf(c->sign_key, sizeof c->sign_key, "%s/sp-1001.key", pki);
    snprintf(c->sign_x5u, sizeof c->sign_x5u, "http://127.0.0.1:%d/certs/sp-1001.pem", port);
    /* its own repository is on loopback over plain http: allowed explicitly */
    snprintf(c->fetch_allow, sizeof c->fetch_allow, "127.0.0.1/32");
    c->allow_http = true;
    snprintf(c->customers, sizeof c->customers, "%s/customers.csv", c->state_dir);
    if (stat(c->customers, &st) != 0 && (f = fopen(c->customers, "w"))) {
        /* A only for numbers reserved for drama (Ofcom 020 7946 0xxx, NANP
         * 555-01xx): a lab can never sign a real number with full attestation */
        fputs("customer,addresses,numbers\n"
              "# loopback lab customer: A for fictional numbers only, B for anything else\n"
              "lab,127.0.0.1;::1,4420794600*;4420794601*;1415555010*;1415555011*\n",
              f);
        fclose(f);
    }
    return 0;
}

/* --- signals ----------------------------------------------------------------- */
/* SIGHUP, SIGTERM and SIGINT are blocked in every thread (they inherit the
 * mask from main, which sets it before creating any) and taken by main with
 * sigwait: a process-directed signal could otherwise land on a worker and
 * leave main asleep. */

/* Builds a new context and swaps it in; with reread, from the configuration
 * file again (SIGHUP), else from the running configuration (CRL timer). */
static void reload(const char *what, bool reread)
{
    struct cgd_ctx *cur = cgd_ctx_get();
    struct cgd_conf conf = cur->conf;
    struct cgd_ctx *n, *old;
    cgd_ctx_put(cur);
    if (reread && config_file) {
        struct cgd_conf fresh;
        cgd_conf_defaults(&fresh);
        if (cgd_conf_load(&fresh, config_file)) {
            fprintf(stderr, "cidguardd: reload failed; keeping the running configuration\n");
            return;
        }
        /* listeners and threads stay as started */
        memcpy(fresh.state_dir, conf.state_dir, sizeof fresh.state_dir);
        memcpy(fresh.http_listen, conf.http_listen, sizeof fresh.http_listen);
        memcpy(fresh.sip_verify_listen, conf.sip_verify_listen, sizeof fresh.sip_verify_listen);
        memcpy(fresh.sip_sign_listen, conf.sip_sign_listen, sizeof fresh.sip_sign_listen);
        fresh.workers = conf.workers;
        conf = fresh;
    }
    if (!(n = ctx_build(&conf))) {
        fprintf(stderr, "cidguardd: reload failed; keeping the running configuration\n");
        return;
    }
    pthread_mutex_lock(&ctx_lock);
    old = current;
    current = n;
    atomic_fetch_add(&ctx_gen, 1);
    pthread_mutex_unlock(&ctx_lock);
    cgd_ctx_put(old);
    fprintf(stderr, "cidguardd: %s\n", what);
}

/* Downloads crl_url into the state directory (atomically: a failed or
 * partial download keeps the previous file).  Runs on the main thread,
 * never on the call path. */
static void download_crl(const struct cgd_conf *c)
{
    char tmp[sizeof c->state_dir + 32], path[sizeof c->state_dir + 32];
    CURL *e;
    FILE *f;
    CURLcode rc;
    long status = 0;
    snprintf(tmp, sizeof tmp, "%s/crl-downloaded.tmp", c->state_dir);
    snprintf(path, sizeof path, "%s/crl-downloaded.crl", c->state_dir);
    if (!(f = fopen(tmp, "wb")) || !(e = curl_easy_init())) {
        if (f)
            fclose(f);
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, c->crl_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(64 << 20));
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (c->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (fclose(f) == 0 && rc == CURLE_OK && status == 200 && rename(tmp, path) == 0)
        return;
    unlink(tmp);
    fprintf(stderr, "cidguardd: CRL download from %s failed (%s, HTTP %ld); keeping the previous one\n",
            c->crl_url, curl_easy_strerror(rc), status);
}

static void usage(FILE *f)
{
    fputs("usage: cidguardd [-c FILE] [--state-dir DIR] [--directives] [--version]\n"
          "  With no configuration file it starts in zero-configuration mode: a test PKI in\n"
          "  its state directory, its own certificate served at its x5u URL and trusted.\n"
          "  --directives prints every configuration directive with its default.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"state-dir", required_argument, 0, 's'},
                                         {"directives", no_argument, 0, 'd'},
                                         {"version", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct cgd_conf conf;
    sigset_t sigs;
    const char *state_dir = NULL;
    int c, workers, sig;
    time_t next_crl = 0;

    cgd_conf_defaults(&conf);
    conf.zero_config = true;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 's': state_dir = optarg; break;
        case 'd': cgd_conf_print_directives(); return 0;
        case 'v': printf("cidguardd %s\n", CIDGUARD_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "cidguardd: bad option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (config_file && cgd_conf_load(&conf, config_file))
        return 2;
    if (state_dir && snprintf(conf.state_dir, sizeof conf.state_dir, "%s", state_dir) >=
                         (int)sizeof conf.state_dir) {
        fprintf(stderr, "cidguardd: --state-dir is too long\n");
        return 2;
    }
    if (!conf.state_dir[0]) {
        const char *home = getenv("HOME");
        if (geteuid() == 0 || !home)
            snprintf(conf.state_dir, sizeof conf.state_dir, "/var/lib/cidguard");
        else
            snprintf(conf.state_dir, sizeof conf.state_dir, "%s/.cidguard", home);
    }
    if (mkdirs(conf.state_dir)) {
        fprintf(stderr, "cidguardd: cannot create %s\n", conf.state_dir);
        return 1;
    }
    if (conf.zero_config && zero_config(&conf))
        return 1;
    if (cg_certcache_new(&cgd_cache, 10000) ||
        cg_policy_state_new(&cgd_pstate, conf.freshness + 5, (unsigned)conf.rate_calls,
                            (unsigned)conf.rate_numbers))
        return 1;
    fetch_lists(&conf);
    if (!(current = ctx_build(&conf)))
        return 1;
    if (conf.crl_url[0]) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        download_crl(&conf);
        cgd_ctx_put(current);
        if (!(current = ctx_build(&conf)))
            return 1;
    }
    if (conf.zero_config) {
        /* its own bundle is in the cache from the start: verifying its own
         * calls never waits for a fetch */
        char path[CGD_PATH + 32];
        struct cg_chain *ch;
        snprintf(path, sizeof path, "%s/certs/sp-1001.pem", conf.state_dir);
        if (cg_chain_load_file(&ch, path, NULL) == CG_OK) {
            cg_certcache_put(cgd_cache, conf.sign_x5u, ch, cg_chain_info(ch)->not_after);
            cg_chain_unref(ch);
        }
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(conf.decision_log, "off") != 0) {
        char path[sizeof conf.state_dir + 32];
        if (!conf.decision_log[0])
            snprintf(path, sizeof path, "%s/decisions.db", conf.state_dir);
        if (cgd_declog_start(conf.decision_log[0] ? conf.decision_log : path, conf.decision_log_days))
            return 1;
    }
    if (cgd_fetch_start()) {
        fprintf(stderr, "cidguardd: cannot start the x5u fetcher\n");
        return 1;
    }
    workers = conf.workers > 0 ? conf.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1)
        workers = 1;
    if (cgd_workers_start(workers))
        return 1;
    printf("cidguardd %s: %d worker(s); state in %s%s\n"
           "  SIP verification  udp+tcp %s\n"
           "  SIP signing       udp+tcp %s\n"
           "  HTTP API          http://%s/stir/v1/{signing,verification}  /metrics /healthz "
           "/certs/\n",
           CIDGUARD_VERSION, workers, conf.state_dir,
           conf.zero_config ? " (zero-configuration: test PKI, SPC 1001)" : "",
           conf.sip_verify_listen, conf.sip_sign_listen, conf.http_listen);
    if (conf.sign_x5u[0])
        printf("  signing as x5u   %s\n", conf.sign_x5u);
    printf("Try it (signs a call, then verifies it):\n"
           "  ID=$(curl -s http://%s/stir/v1/signing -H 'Content-Type: application/json' -d "
           "'{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"442079460000\"},\"dest\":"
           "{\"tn\":[\"14155550100\"]}}}' | sed 's/.*\"identity\":\"\\([^\"]*\\)\".*/\\1/'); "
           "curl -s http://%s/stir/v1/verification -H 'Content-Type: application/json' -d "
           "\"{\\\"verificationRequest\\\":{\\\"from\\\":{\\\"tn\\\":\\\"442079460000\\\"},"
           "\\\"to\\\":{\\\"tn\\\":[\\\"14155550100\\\"]},\\\"time\\\":$(date +%%s),"
           "\\\"identity\\\":\\\"$ID\\\"}}\"; echo\n",
           conf.http_listen, conf.http_listen);
    fflush(stdout);
    for (;;) {
        /* CRLs are refreshed on a timer: a new context with the re-read (or
         * re-downloaded) CRLs replaces the old one; cached chains are
         * validated again against it on their next use.  Lists in Redis are
         * polled every second. */
        struct cgd_ctx *cur = cgd_ctx_get();
        int refresh = cur->conf.crl_refresh;
        bool crl_timer = refresh > 0 && (cur->conf.crl[0] || cur->conf.crl_url[0]);
        bool poll = cur->conf.redis_url[0] && cur->conf.redis_lists;
        struct timespec ts = {poll ? 1 : refresh, 0};
        time_t now = time(NULL);
        cgd_ctx_put(cur);
        if (crl_timer && !next_crl)
            next_crl = now + refresh;
        if (crl_timer && poll && next_crl - now < 1)
            ts.tv_sec = 0;
        sig = crl_timer || poll ? sigtimedwait(&sigs, NULL, &ts) : sigwaitinfo(&sigs, NULL);
        if (sig < 0 && errno == EAGAIN) {
            cur = cgd_ctx_get();
            if (poll && fetch_lists(&cur->conf)) {
                char what[96];
                snprintf(what, sizeof what, "policy lists version %lld loaded from Redis",
                         lists_version);
                cgd_ctx_put(cur);
                reload(what, false);
                cur = cgd_ctx_get();
            }
            if (crl_timer && time(NULL) >= next_crl) {
                next_crl = 0;
                if (cur->conf.crl_url[0])
                    download_crl(&cur->conf);
                cgd_ctx_put(cur);
                reload("CRLs refreshed", false);
                continue;
            }
            cgd_ctx_put(cur);
            continue;
        }
        if (sig == SIGHUP)
            reload("configuration reloaded", true);
        else if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    fprintf(stderr, "cidguardd: draining\n");
    cgd_workers_stop(); /* stops the fetcher too, before freeing the loops */
    cgd_declog_stop();  /* after the workers: every answered call is written */
    cgd_ctx_thread_done();
    cgd_ctx_put(current);
    cg_certcache_free(cgd_cache);
    cg_policy_state_free(cgd_pstate);
    cg_shared_close(lists_conn);
    for (c = 0; c < CG_LIST__COUNT; c++)
        free(redis_text[c]);
    return 0;
}
