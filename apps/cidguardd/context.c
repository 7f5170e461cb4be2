/*
 * The context (context.h): built from a configuration, made current,
 * swapped whole, and freed when its last call lets go of it.  Everything
 * here runs on the main thread except cgd_ctx_get/put, which every thread
 * calls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cidguard/behaviour.h"
#include "context.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "signers.h"
#include "tls.h"

static struct cgd_ctx *current;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *config_file;
static struct cg_certcache *certcache;
static struct cg_policy_state *pstate;
static struct cg_policy_state *ostate; /* the signing customers' windows */
static struct cg_intents *intents;
static time_t next_crl;

/*
 * The context on the call path without a global lock: each thread keeps a
 * reference to the context it last saw and takes the lock only when the
 * generation says a reload happened since.  A call's reference (taken
 * once, when its request is accepted) is an atomic increment, and keeps
 * its context alive after the thread has moved on to a newer one.
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
    cg_customers_free(c->customers);
    cg_customers_free(c->intent_keys);
    cgd_signers_free(c->signers);
    cgd_exempt_free(c->exempt);
    SSL_CTX_free(c->tls); /* connections hold their own references */
    free(c);
}

void cgd_ctx_put(struct cgd_ctx *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        ctx_free(c);
}

/* Why the file at `path` cannot be read, or NULL.  Only a regular file is
 * read: a FIFO would block the thread that opens it (a worker, for a file
 * a library opens on each use), and a device could feed it without end. */
static const char *file_problem(const char *path)
{
    struct stat st;
    return stat(path, &st) != 0   ? strerror(errno)
           : S_ISDIR(st.st_mode)  ? "a directory"
           : !S_ISREG(st.st_mode) ? "not a regular file"
           : access(path, R_OK)   ? strerror(errno)
                                  : NULL;
}

/* The files named alone by a directive, read by OpenSSL or libcurl (which
 * would open a FIFO and wait) or by the intent keys' loader: each must be a
 * regular file we can read. */
static bool files_readable(const struct cgd_conf *k)
{
    const struct {
        const char *directive, *path;
    } files[] = {{"[tls] cert", k->tls_cert},
                 {"[tls] key", k->tls_key},
                 {"[tls] client_ca", k->tls_client_ca},
                 {"[fetch] ca_file", k->ca_file},
                 {"[intent] keys", k->intent_keys}};
    size_t i;
    bool ok = true;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *why = files[i].path[0] ? file_problem(files[i].path) : NULL;
        if (why) {
            cgd_log(LOG_ERR, "cidguardd: %s %s: %s", files[i].directive, files[i].path, why);
            ok = false;
        }
    }
    return ok;
}

/* Each file of a ';'-separated list (its items trimmed when the
 * configuration was read) to fn; the directive names the list in errors. */
static int each_file(const char *directive, const char *list,
                     int (*fn)(struct cg_trust *, const char *), struct cg_trust *t)
{
    char buf[CGD_LIST], *save, *tok;
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        int rc;
        if ((rc = fn(t, tok)) != CG_OK) {
            /* the library says what failed; the file system, why a file was not read */
            const char *why = file_problem(tok);
            cgd_log(LOG_ERR, "cidguardd: %s %s: %s%s%s%s", directive, tok, cg_strerror(rc),
                    why ? " (" : "", why ? why : "", why ? ")" : "");
            return -1;
        }
    }
    return 0;
}

/* A list's skipped lines: the first REPORT_LINES of each file are logged
 * with their line, the rest counted, so that a list of a million bad lines
 * (a wrong column, another format) says so in a few lines rather than a
 * million on every reload.  Contexts are built on the main thread only. */
#define REPORT_LINES 10
static struct {
    char file[CGD_LIST]; /* any item of a list directive fits */
    unsigned long skipped;
    char why[160]; /* why a file was refused whole, for load_failed */
} report;

static void report_flush(void)
{
    if (report.skipped > REPORT_LINES)
        cgd_log(LOG_WARNING, "%s: %lu more lines skipped (the first %d are above)", report.file,
                report.skipped - REPORT_LINES, REPORT_LINES);
    report.file[0] = '\0';
    report.skipped = 0;
    report.why[0] = '\0';
}

static void report_line(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    if (line == 0) { /* the file refused whole: the load fails, and load_failed says why */
        snprintf(report.why, sizeof report.why, "%s", msg);
        return;
    }
    if (strcmp(file, report.file) != 0) {
        report_flush();
        snprintf(report.file, sizeof report.file, "%s", file);
    }
    if (++report.skipped <= REPORT_LINES)
        cgd_log(LOG_WARNING, "%s:%d: %s (line skipped)", file, line, msg);
}

/* One line for a file the directive names that did not load: why the
 * loader refused it whole, else the library's error. */
static void load_failed(const char *directive, const char *path, int rc)
{
    cgd_log(LOG_ERR, "cidguardd: %s %s: %s", directive, path,
            report.why[0] ? report.why : cg_strerror(rc));
    report.why[0] = '\0';
}

/* --- policy lists kept in Redis ------------------------------------------------- */
/*
 * With [redis] url and lists = yes, the main thread polls the lists'
 * version once a second over its own synchronous connection (never the
 * call path's).  A new version is kept in memory, loaded with the same
 * rules and line-numbered reports as the files, and a new context is built
 * and swapped in whole.  Only the main thread touches these.
 */
static struct cg_redis *lists_conn;
static long long lists_version = -1;
static char *redis_text[CG_LIST__COUNT]; /* NULL: the [policy] file */
static bool lists_logged;

/* True when Redis has a version of the lists other than the loaded one (and
 * it is now in redis_text). */
static bool fetch_lists(const struct cgd_conf *k)
{
    /* with sentinels, the master the workers named when lists_conn was made */
    static char conn_master[300];
    char err[300], *text[CG_LIST__COUNT], master[300] = "";
    struct cg_redis_opts o;
    long long v;
    int i, port;
    if (!k->redis_url[0] || !k->redis_lists)
        return false;
    /* The topology the calls use: the sentinels name the master.  A
     * planned switch leaves the old master up as a replica, which may lag
     * or lose its link: the connection follows the workers' master. */
    if (k->redis_sentinels[0] && cgd_redis_master(master, sizeof master - 8, &port))
        snprintf(master + strlen(master), 8, ":%d", port);
    if (lists_conn && strcmp(master, conn_master) != 0) {
        cg_redis_close(lists_conn);
        lists_conn = NULL;
    }
    cgd_redis_opts(k, &o);
    if (!lists_conn &&
        cg_redis_connect_opts(&lists_conn, &o, k->redis_prefix, 500, err, sizeof err)) {
        if (!lists_logged)
            cgd_log(LOG_WARNING, "cidguardd: lists: %s; keeping the lists loaded", err);
        lists_logged = true;
        return false;
    }
    snprintf(conn_master, sizeof conn_master, "%s", master);
    if (cg_redis_lists_version(lists_conn, &v) != CG_OK) {
        cgd_log(LOG_WARNING, "cidguardd: lists: %s; keeping the lists loaded",
                cg_redis_error(lists_conn));
        cg_redis_close(lists_conn);
        lists_conn = NULL;
        return false;
    }
    lists_logged = false;
    if (v == lists_version)
        return false;
    if (cg_redis_lists_get(lists_conn, text, &v) != CG_OK) {
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

/* [policy] actions = reason=action;...: the defaults with these changed
 * (each item was checked when the file was read). */
static void set_actions(const char *spec, struct cg_policy_config *pc)
{
    char buf[CGD_LIST], *save, *tok;
    snprintf(buf, sizeof buf, "%s", spec);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        enum cg_policy_reason r;
        enum cg_action a;
        if (cgd_action_item(tok, &r, &a))
            cg_policy_config_set_action(pc, r, a);
    }
}

/* [policy] min_attest_*: a letter, or 0 for none (empty or "none"). */
static char attest_min(const char *v)
{
    return strcmp(v, "none") == 0 ? 0 : v[0];
}

/* The policy lists of [policy]: each file loads whole or is refused; bad
 * lines are reported with file and line and the rest loads. */
static int build_policy(struct cgd_ctx *c)
{
    const struct cgd_conf *k = &c->conf;
    struct cg_policy_config pc = {.uk_rules = k->uk_rules,
                                  .nanp_rules = k->nanp_rules,
                                  .min_attest_uk = attest_min(k->min_attest_uk),
                                  .min_attest_other = attest_min(k->min_attest_other)};
    char buf[CGD_LIST], *save, *tok;
    /* in enum cg_list order; a list stored in Redis replaces the file */
    struct {
        const char *directive, *path;
        int (*fn)(struct cg_policy *, const char *, cg_policy_report_cb, void *);
    } lists[] = {{"[policy] dno", k->dno, cg_policy_load_dno},
                 {"[policy] protected", k->protected_numbers, cg_policy_load_protected},
                 {"[policy] ingress", k->ingress, cg_policy_load_ingress}};
    size_t i;
    int rc;
    set_actions(k->actions, &pc);
    snprintf(pc.uk_mobile_spcs, sizeof pc.uk_mobile_spcs, "%s", k->uk_mobile_spcs);
    if (cg_policy_new(&c->policy, &pc) != CG_OK) {
        cgd_log(LOG_ERR, "cidguardd: [policy] uk_mobile_spcs: at most 16 SPCs of at most 32 "
                         "bytes each");
        return -1;
    }
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
            load_failed(redis_text[i] ? "[redis] lists" : lists[i].directive,
                        redis_text[i] ? name : lists[i].path, rc);
            return -1;
        }
    }
    snprintf(buf, sizeof buf, "%s", k->ofcom);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
        if ((rc = cg_policy_load_ofcom(c->policy, tok, report_line, NULL))) {
            load_failed("[policy] ofcom", tok, rc);
            return -1;
        }
    if (k->nanpa[0] && (rc = cg_policy_load_nanpa(c->policy, k->nanpa, report_line, NULL))) {
        load_failed("[policy] nanpa", k->nanpa, rc);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", k->cocodes);
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
        if ((rc = cg_policy_load_cocodes(c->policy, tok, report_line, NULL))) {
            load_failed("[policy] cocodes", tok, rc);
            return -1;
        }
    return 0;
}

/* Whether "host:port" names a loopback address only. */
static bool loopback(const char *hostport)
{
    return strncmp(hostport, "127.", 4) == 0 || strncmp(hostport, "[::1]:", 6) == 0 ||
           strncmp(hostport, "localhost:", 10) == 0;
}

/* Refuses (prints why, -1) a configuration whose signing listeners are
 * bound beyond loopback without credentials to tell customers apart. */
static int check_sign_exposure(const struct cgd_conf *conf, const struct cg_customers *customers)
{
    bool http_out = conf->sign_http_listen[0] && !loopback(conf->sign_http_listen),
         sip_out = !loopback(conf->sip_sign_listen) ||
                   (conf->sip_tls_sign_listen[0] && !loopback(conf->sip_tls_sign_listen));
    if (!conf->sign_key[0])
        return 0;
    if (conf->sign_unknown) {
        if (http_out || sip_out)
            cgd_log(LOG_WARNING,
                    "cidguardd: warning: [sign] sign_unknown = yes: anyone who reaches "
                    "%s or %s gets C-attested signatures",
                    conf->sign_http_listen, conf->sip_sign_listen);
        return 0;
    }
    if (http_out && !cg_customers_any_tokens(customers)) {
        cgd_log(LOG_ERR,
                "cidguardd: the signing API listens on %s, beyond loopback, but no "
                "customer has a token ([sign] customers, column tokens): refusing",
                conf->sign_http_listen);
        return -1;
    }
    if (sip_out && cg_customers_count(customers) == 0) {
        cgd_log(LOG_ERR, "cidguardd: a SIP signing listener is beyond loopback, but there are "
                         "no customers ([sign] customers): refusing");
        return -1;
    }
    return 0;
}

static struct cgd_ctx *ctx_build(const struct cgd_conf *conf)
{
    struct cgd_ctx *c = calloc(1, sizeof *c);
    struct cg_verify_config vc = {0};
    const char *why;
    int rc;
    if (!c)
        return NULL;
    if (!files_readable(conf)) {
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->conf = *conf;
    c->certcache = certcache;
    c->pstate = pstate;
    c->ostate = ostate;
    c->intents = intents;
    /* another country code: its national numbers lose a trunk 0, and 00
     * is the international prefix (most of the world's plans; the CLI's
     * --country-code reads them alike) */
    c->own_plan = (struct cg_tn_plan){c->conf.country_code, "0", "00"};
    c->plan = !conf->country_code[0]                  ? NULL
              : strcmp(conf->country_code, "44") == 0 ? &cg_tn_plan_uk
              : strcmp(conf->country_code, "1") == 0  ? &cg_tn_plan_nanp
                                                      : &c->own_plan;
    if (cg_trust_new(&c->trust, conf->crl_required && (conf->crl[0] || conf->crl_url[0])
                                    ? CG_TRUST_CRL_REQUIRED
                                    : 0))
        goto fail;
    if (each_file("[verify] trust", conf->trust, cg_trust_add_anchors_file, c->trust) ||
        each_file("[verify] crl", conf->crl, cg_trust_add_crl_file, c->trust))
        goto fail;
    if (conf->crl_url[0]) {
        char path[sizeof conf->state_dir + 32];
        snprintf(path, sizeof path, "%s/crl-downloaded.crl", conf->state_dir);
        if (access(path, R_OK) == 0 && cg_trust_add_crl_file(c->trust, path) != CG_OK)
            cgd_log(LOG_WARNING, "cidguardd: %s: not a CRL; ignored", path);
    }
    vc.trust = c->trust;
    vc.certsrc = cg_certcache_source(certcache);
    vc.plan = c->plan;
    vc.freshness = conf->freshness;
    vc.allow_http = conf->allow_http;
    if (cg_verifier_new(&c->verifier, &vc))
        goto fail;
    if (conf->sign_key[0]) {
        if ((rc = cg_key_load_file(&c->key, conf->sign_key)) != CG_OK) {
            cgd_log(LOG_ERR, "cidguardd: [sign] key %s: %s", conf->sign_key, cg_strerror(rc));
            goto fail;
        }
        if (cg_signer_new(&c->signer, c->key, conf->sign_x5u) != CG_OK) {
            cgd_log(LOG_ERR, "cidguardd: [sign] needs a private key and an http(s) x5u");
            goto fail;
        }
    }
    if (conf->customers[0] &&
        (rc = cg_customers_load_file(&c->customers, conf->customers, report_line, NULL)) != CG_OK) {
        load_failed("[sign] customers", conf->customers, rc);
        goto fail;
    }
    if (conf->intent_keys[0] && (rc = cg_intent_keys_load_file(&c->intent_keys, conf->intent_keys,
                                                               report_line, NULL)) != CG_OK) {
        load_failed("[intent] keys", conf->intent_keys, rc);
        goto fail;
    }
    if (build_policy(c) || check_sign_exposure(conf, c->customers))
        goto fail;
    if (cgd_exempt_build(&c->exempt, conf->campaign_exempt)) {
        cgd_log(LOG_ERR, "cidguardd: [policy] campaign_exempt: out of memory");
        goto fail;
    }
    if (!(c->tls = cgd_tls_server_ctx(conf, &why)) && why) {
        cgd_log(LOG_ERR, "cidguardd: %s", why);
        goto fail;
    }
    if (!c->tls &&
        (conf->https || conf->sip_tls_verify_listen[0] || conf->sip_tls_sign_listen[0])) {
        cgd_log(LOG_ERR, "cidguardd: a TLS listener or https = yes needs [tls] cert");
        goto fail;
    }
    /* Last: it publishes the signers for /metrics, as this context is now current. */
    if (cgd_signers_build(&c->signers, conf, c->signer, c->customers))
        goto fail;
    /* Busy keys' verification tables are process-wide: this context's budget. */
    cg_fastkeys_configure((size_t)conf->fast_keys_mb << 20, (unsigned)conf->fast_keys_after);
    report_flush();
    atomic_fetch_add(&cgd_m.context_builds[0], 1);
    atomic_store(&cgd_m.context_built_at, (long long)time(NULL));
    return c;
fail:
    report_flush();
    atomic_fetch_add(&cgd_m.context_builds[1], 1);
    ctx_free(c);
    return NULL;
}

/* Builds a new context and swaps it in; with reread, from the configuration
 * file again (SIGHUP), else from the running configuration (CRL timer). */
/*
 * What only a restart changes, carried from the running configuration into
 * a re-read one: the listeners, threads and their limits (bound and
 * attached at start), the Redis connections and the decision log (opened
 * at start), and the freshness window, which also sizes the replay memory
 * made at start: a longer window on reload would let tokens outlive it.
 */
static void keep_start_only(struct cgd_conf *fresh, const struct cgd_conf *running)
{
#define KEEP(field) memcpy(&fresh->field, &running->field, sizeof fresh->field)
    KEEP(state_dir);
    KEEP(http_listen);
    KEEP(sip_verify_listen);
    KEEP(sip_sign_listen);
    KEEP(sign_http_listen);
    KEEP(sip_tls_verify_listen);
    KEEP(sip_tls_sign_listen);
    KEEP(https);
    KEEP(workers);
    KEEP(max_pending);
    KEEP(share_ports);
    KEEP(max_connections);
    KEEP(max_connections_per_source);
    KEEP(message_timeout_ms);
    KEEP(udp_coalesce_us);
    KEEP(decision_log);
    KEEP(decision_log_days);
    KEEP(decision_log_max_mb);
    KEEP(redis_url);
    KEEP(redis_prefix);
    KEEP(redis_timeout_ms);
    KEEP(freshness);
    KEEP(rate_calls);
    KEEP(rate_numbers);
    KEEP(campaign_detection);
    KEEP(campaign_window);
    KEEP(campaign_min_numbers);
    KEEP(campaign_hold);
    KEEP(campaign_origins);
    KEEP(campaign_time_scale);
    KEEP(intent_max_entries);
    KEEP(intent_max_uses);
#undef KEEP
}

void cgd_context_reload(const char *done, const char *task, bool reread)
{
    struct cgd_conf conf = current->conf; /* only this thread swaps `current` */
    struct cgd_ctx *n, *old;
    if (reread && config_file) {
        struct cgd_conf fresh;
        cgd_conf_defaults(&fresh);
        if (cgd_conf_load(&fresh, config_file)) {
            atomic_fetch_add(&cgd_m.context_builds[1], 1);
            cgd_log(LOG_ERR, "cidguardd: %s failed; keeping the running configuration", task);
            return;
        }
        keep_start_only(&fresh, &conf);
        conf = fresh;
    }
    if (!(n = ctx_build(&conf))) {
        cgd_log(LOG_ERR, "cidguardd: %s failed; keeping the running configuration", task);
        return;
    }
    pthread_mutex_lock(&ctx_lock);
    old = current;
    current = n;
    atomic_fetch_add(&ctx_gen, 1);
    pthread_mutex_unlock(&ctx_lock);
    cgd_ctx_put(old);
    cgd_log(LOG_INFO, "cidguardd: %s", done);
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
    cgd_log(LOG_WARNING,
            "cidguardd: CRL download from %s failed (%s, HTTP %ld); keeping the previous one",
            c->crl_url, curl_easy_strerror(rc), status);
}

/* [policy] campaign_exempt for the calls other daemons share (redis.c):
 * no call of this daemon holds a context for them, so the current one. */
static bool exempt_now(const char *origin)
{
    struct cgd_ctx *c = cgd_ctx_get();
    bool exempt = cgd_exempt_has(c->exempt, origin);
    cgd_ctx_put(c);
    return exempt;
}

int cgd_context_start(const struct cgd_conf *conf, const char *file)
{
    config_file = file;
    cgd_redis_set_exempt(exempt_now);
    if (cg_certcache_new(&certcache, 10000) ||
        cg_policy_state_new(&pstate, conf->freshness + 5, (unsigned)conf->rate_calls,
                            (unsigned)conf->rate_numbers) ||
        cg_policy_state_new(&ostate, conf->freshness + 5, (unsigned)conf->sign_customer_calls,
                            (unsigned)conf->sign_customer_numbers) ||
        cg_policy_state_set_share(ostate, (unsigned)conf->sign_customer_share, 10) ||
        cg_intents_new(&intents, (size_t)conf->intent_max_entries, (unsigned)conf->intent_max_uses))
        return -1;
    cgd_intents_store = intents;
    if (conf->campaign_detection) {
        struct cg_behaviour_config bc;
        cg_behaviour_config_defaults(&bc);
        bc.window = conf->campaign_window;
        bc.min_numbers = (unsigned)conf->campaign_min_numbers;
        bc.hold = conf->campaign_hold;
        bc.origins = (unsigned)conf->campaign_origins;
        if (cg_behaviour_new(&cgd_behaviour, &bc) != CG_OK) {
            cgd_log(LOG_ERR, "cidguardd: [policy] campaign_origins must be a power of two");
            return -1;
        }
    }
    fetch_lists(conf);
    if (conf->crl_url[0]) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        download_crl(conf);
    }
    return (current = ctx_build(conf)) ? 0 : -1;
}

void cgd_context_preload(const char *url, const char *path)
{
    struct cg_chain *ch;
    if (cg_chain_load_file(&ch, path, NULL) == CG_OK) {
        cg_certcache_put(certcache, url, ch, cg_chain_info(ch)->not_after);
        cg_chain_unref(ch);
    }
}

void cgd_context_stop(void)
{
    int i;
    cgd_ctx_thread_done();
    cgd_ctx_put(current);
    current = NULL;
    cg_certcache_free(certcache);
    cg_policy_state_free(pstate);
    cg_policy_state_free(ostate);
    cg_behaviour_free(cgd_behaviour);
    cgd_behaviour = NULL;
    cgd_intents_store = NULL;
    cg_intents_free(intents);
    cg_redis_close(lists_conn);
    for (i = 0; i < CG_LIST__COUNT; i++)
        free(redis_text[i]);
}

/* The running configuration's timers; only the main thread reads it, and
 * only the main thread swaps contexts, so `current` needs no reference. */
static bool crl_timer(const struct cgd_conf *k)
{
    return k->crl_refresh > 0 && (k->crl[0] || k->crl_url[0]);
}

static bool lists_poll(const struct cgd_conf *k)
{
    return k->redis_url[0] && k->redis_lists;
}

static int timers_wait(void)
{
    const struct cgd_conf *k = &current->conf;
    time_t now = time(NULL);
    if (crl_timer(k) && !next_crl)
        next_crl = now + k->crl_refresh;
    if (lists_poll(k))
        return crl_timer(k) && next_crl - now < 1 ? 0 : 1;
    if (crl_timer(k))
        return next_crl > now ? (int)(next_crl - now) : 0;
    return -1;
}

/* The context's timers and the signers' daily expiry check (signers.c). */
int cgd_context_wait(void)
{
    int t = timers_wait(), s = cgd_signers_wait();
    return t < 0 ? s : s < 0 || t < s ? t : s;
}

void cgd_context_tick(void)
{
    const struct cgd_conf *k = &current->conf;
    if (lists_poll(k) && fetch_lists(k)) {
        char what[96];
        snprintf(what, sizeof what, "policy lists version %lld loaded from Redis", lists_version);
        cgd_context_reload(what, "loading the policy lists from Redis", false);
        k = &current->conf;
    }
    if (crl_timer(k) && time(NULL) >= next_crl) {
        next_crl = 0;
        if (k->crl_url[0])
            download_crl(k);
        cgd_context_reload("CRLs refreshed",
                           "CRL refresh (the running CRLs stay until it succeeds)", false);
    }
    cgd_signers_tick();
}
