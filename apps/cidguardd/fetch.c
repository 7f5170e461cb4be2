/*
 * The x5u fetcher: one thread driving a libcurl multi handle, so that a
 * call waiting for a certificate never blocks a worker.  Single flight per
 * URL (every waiter of a URL shares one transfer), and safe by default:
 * https only, no redirects, a total timeout, a byte cap, and the resolved
 * address checked against a deny list (loopback, RFC 1918, link-local and
 * cloud metadata, CGNAT, multicast, IPv6 ULA) in curl's opensocket hook,
 * after DNS, so that a name that resolves inside cannot be used for SSRF.
 * Results land in the shared certificate cache (negative entries for
 * failures); waiters are woken on their own event loops.
 *
 * The same thread asks the operator's roaming-check service about a UK
 * mobile calling from abroad ([policy] roaming_check_url).  That URL is the
 * operator's own, so its address is not checked; its answers go to the
 * roaming cache (roaming.h).
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "fetch.h"
#include "log.h"
#include "metrics.h"
#include "roaming.h"

#define MAX_FLIGHTS 256
#define MAX_WAITERS 4096
/*
 * Fair shares of the flights.  A fetch starts before any signature can be
 * checked, so unsigned INVITEs naming slow x5u URLs could take every slot
 * and leave a legitimate new certificate unfetched (436).  No x5u host and
 * no origin (the calls' ingress, else their source address, an IPv6 one by
 * its /64) may hold more than a quarter of the slots; and the last quarter
 * is kept for hosts and origins that hold only a few (LIGHT_USE), so that
 * attackers arriving from several origins at once still leave room for a
 * caller from elsewhere.  Joining a flight already running is always
 * allowed.
 */
#define HOST_SHARE (MAX_FLIGHTS / 4)
#define ORIGIN_SHARE (MAX_FLIGHTS / 4)
#define RESERVED_FROM (MAX_FLIGHTS * 3 / 4)
#define LIGHT_USE 4

struct waiter {
    struct waiter *next;
    struct event_base *base;
    void (*cb)(evutil_socket_t, short, void *);
    void *arg;
};

struct flight {
    struct flight *next;
    char url[CG_URL_MAX + 1];
    struct waiter *waiters;
    CURL *easy;
    char *body;
    size_t len;
    bool too_big, started, denied;
    char cache_control[128], expires[64];
    struct timespec t0;
    struct cgd_ctx *ctx; /* the [fetch] settings and the cache, held until the flight ends */
    char host[256];      /* the URL's host, for its share */
    char origin[64];     /* who asked first, for its share */
    bool local_error;    /* failed here (no descriptor, no memory), not at the server */
    /* a roaming check about this number, not an x5u ("" for an x5u) */
    char roaming_tn[CG_TN_MAX + 1];
};

static struct {
    pthread_mutex_t lock;
    pthread_t tid;
    CURLM *multi;
    struct flight *flights; /* all in flight (queued or started) */
    size_t nflights, nwaiters;
    bool stop;
} fetcher = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Where an x5u may never lead unless `[fetch] allow` says so. */
static const char *const deny[] = {
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "::/128",
    "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    /* IPv6 forms that carry an IPv4 address a gateway would reach for us:
     * NAT64 (RFC 6052, and RFC 8215's local-use prefix), 6to4 (RFC 3056)
     * and the deprecated IPv4-compatible addresses */
    "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "::/96"};

/* Whether connecting to `sa` is refused: denied range and not allowed.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry. */
static bool address_denied(const struct sockaddr *sa, const char *allow)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    size_t i;
    if (sa->sa_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
        memcpy(&v4.sin_addr, &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12], 4);
        sa = (const struct sockaddr *)&v4;
    }
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return true;
    if (cg_addr_in_cidr_list(sa, allow, ';', NULL, NULL))
        return false;
    for (i = 0; i < sizeof deny / sizeof deny[0]; i++)
        if (cg_addr_in_cidr(sa, deny[i]))
            return true;
    return false;
}

static curl_socket_t opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct flight *f = arg;
    bool denied =
        purpose != CURLSOCKTYPE_IPCXN || address_denied(&a->addr, f->ctx->conf.fetch_allow);
    curl_socket_t fd;
    if (denied) {
        f->denied = true;
        return CURL_SOCKET_BAD;
    }
    fd = socket(a->family, a->socktype, a->protocol);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM))
        f->local_error = true;
    return fd;
}

#define ROAMING_MAX_BYTES 4096 /* a roaming answer is a small JSON object */

static size_t write_cb(char *p, size_t sz, size_t n, void *arg)
{
    struct flight *f = arg;
    size_t max = f->roaming_tn[0] ? ROAMING_MAX_BYTES : (size_t)f->ctx->conf.max_bytes,
           len = sz * n;
    char *nb;
    if (f->len + len > max) {
        f->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (!(nb = realloc(f->body, f->len + len + 1)))
        return 0;
    f->body = nb;
    memcpy(f->body + f->len, p, len);
    f->len += len;
    f->body[f->len] = '\0';
    return len;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *arg)
{
    struct flight *f = arg;
    size_t len = sz * n;
    if (len > 14 && strncasecmp(p, "cache-control:", 14) == 0)
        snprintf(f->cache_control, sizeof f->cache_control, "%.*s", (int)(len - 14), p + 14);
    else if (len > 8 && strncasecmp(p, "expires:", 8) == 0)
        snprintf(f->expires, sizeof f->expires, "%.*s", (int)(len - 8), p + 8);
    return len;
}

/* Starts a flight's transfer; false when it cannot start (the caller
 * finishes it, so that its waiters are answered and its slot freed). */
static bool start_transfer(struct flight *f)
{
    const struct cgd_ctx *c = f->ctx;
    CURL *e = curl_easy_init();
    f->started = true;
    clock_gettime(CLOCK_MONOTONIC, &f->t0);
    if (!e)
        return false;
    curl_easy_setopt(e, CURLOPT_URL, f->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->conf.allow_http ? "https,http" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* never through a proxy: https_proxy in the environment would take the
     * connection past the address check above */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->conf.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->conf.timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->conf.max_bytes);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "cidguard/" CIDGUARD_VERSION);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    if (c->conf.ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, c->conf.ca_file);
    if (f->roaming_tn[0]) { /* the operator's own service: its settings, no address check */
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->conf.roaming_check_timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->conf.roaming_check_timeout_ms);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ROAMING_MAX_BYTES);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, NULL);
    }
    f->easy = e;
    return curl_multi_add_handle(fetcher.multi, e) == CURLM_OK;
}

static void flight_free(struct flight *f)
{
    cgd_ctx_put(f->ctx);
    free(f->body);
    free(f);
}

/* A finished roaming check: its answer into the roaming cache, errors for
 * a few seconds only (the service may be back). */
static void finish_roaming(struct flight *f, CURLcode res)
{
    const struct cgd_ctx *c = f->ctx;
    int64_t now = (int64_t)time(NULL);
    long status = 0;
    enum cgd_roaming_result r;
    if (f->easy)
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    r = res == CURLE_OPERATION_TIMEDOUT ? CGD_ROAMING_TIMEOUT
        : res != CURLE_OK || f->too_big ? CGD_ROAMING_ERROR
                                        : cgd_roaming_parse(status, f->body, f->len);
    atomic_fetch_add(&cgd_m.roaming_checks[r], 1);
    if (r == CGD_ROAMING_ERROR || r == CGD_ROAMING_TIMEOUT)
        cgd_log(LOG_WARNING, "cidguardd: roaming check for +%s: %s (caller ID withheld)",
                f->roaming_tn,
                res != CURLE_OK ? curl_easy_strerror(res)
                : status != 200 ? "HTTP status not 200"
                                : "no {\"roaming\": true|false} in the answer");
    cgd_roaming_store(f->roaming_tn, r,
                      now + (r <= CGD_ROAMING_NO ? c->conf.roaming_check_ttl : 5));
}

/* A finished transfer: parse, cache (positive or negative), wake waiters. */
static void finish(struct flight *f, CURLcode res)
{
    const struct cgd_ctx *c = f->ctx;
    struct cg_chain *chain = NULL;
    struct timespec t1;
    long status = 0;
    int64_t now = (int64_t)time(NULL), expires = now + c->conf.negative_ttl;
    const char *why = NULL;
    struct flight **pp;
    struct waiter *w;

    if (f->roaming_tn[0]) {
        finish_roaming(f, res);
        goto wake;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cgd_metrics_fetch_latency(
        (uint64_t)((t1.tv_sec - f->t0.tv_sec) * 1000000 + (t1.tv_nsec - f->t0.tv_nsec) / 1000));
    if (f->easy)
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (res == CURLE_OK && status == 200 && !f->too_big && f->body &&
        cg_chain_load_pem(&chain, f->body, f->len, &why) == CG_OK) {
        expires =
            cg_cert_expiry(now, f->cache_control[0] ? f->cache_control : NULL,
                           f->expires[0] ? f->expires : NULL, cg_chain_info(chain)->not_after);
        /* an expired bundle is still kept briefly, so that the verifier can
         * say why it fails (437, expired) instead of "unavailable" */
        if (expires < now + c->conf.negative_ttl)
            expires = now + c->conf.negative_ttl;
        atomic_fetch_add(&cgd_m.fetch_ok, 1);
    } else {
        atomic_fetch_add(&cgd_m.fetch_err, 1);
        cgd_log(LOG_WARNING, "cidguardd: x5u %s: %s", f->url,
                f->denied         ? "address denied (private, loopback or metadata range)"
                : f->too_big      ? "response larger than max_bytes"
                : res != CURLE_OK ? curl_easy_strerror(res)
                : status != 200   ? "HTTP status not 200 (redirects are not followed)"
                : why             ? why
                                  : "empty response");
    }
    /* a failure of ours says nothing about the certificate: remembering it
     * for negative_ttl would refuse a bank's genuine calls after a
     * descriptor flood; it is remembered only long enough to answer the
     * calls waiting now */
    if (!chain && (f->local_error || res == CURLE_OUT_OF_MEMORY || res == CURLE_FAILED_INIT ||
                   (res == CURLE_WRITE_ERROR && !f->too_big) ||
                   /* curl cannot tell a resolver that is down from a name
                    * that does not exist */
                   res == CURLE_COULDNT_RESOLVE_HOST))
        cg_certcache_put_local_error(c->certcache, f->url, now);
    else
        cg_certcache_put(c->certcache, f->url, chain, expires);
    cg_chain_unref(chain);

wake:
    pthread_mutex_lock(&fetcher.lock);
    for (pp = &fetcher.flights; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    fetcher.nflights--;
    w = f->waiters;
    f->waiters = NULL;
    pthread_mutex_unlock(&fetcher.lock);
    while (w) {
        struct waiter *next = w->next;
        struct timeval zero = {0, 0};
        event_base_once(w->base, -1, EV_TIMEOUT, w->cb, w->arg, &zero);
        pthread_mutex_lock(&fetcher.lock);
        fetcher.nwaiters--;
        pthread_mutex_unlock(&fetcher.lock);
        free(w);
        w = next;
    }
    if (f->easy) {
        curl_multi_remove_handle(fetcher.multi, f->easy);
        curl_easy_cleanup(f->easy);
    }
    flight_free(f);
}

static void *fetch_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct flight *f, *failed[MAX_FLIGHTS];
        size_t nfailed, i;
        CURLMsg *msg;
        int running, left;
        pthread_mutex_lock(&fetcher.lock);
        if (fetcher.stop) {
            pthread_mutex_unlock(&fetcher.lock);
            break;
        }
        nfailed = 0;
        for (f = fetcher.flights; f; f = f->next)
            if (!f->started && !start_transfer(f) && nfailed < MAX_FLIGHTS)
                failed[nfailed++] = f;
        pthread_mutex_unlock(&fetcher.lock);
        for (i = 0; i < nfailed; i++)
            finish(failed[i], CURLE_FAILED_INIT);
        curl_multi_perform(fetcher.multi, &running);
        while ((msg = curl_multi_info_read(fetcher.multi, &left)))
            if (msg->msg == CURLMSG_DONE) {
                char *priv;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                finish((struct flight *)priv, msg->data.result);
            }
        curl_multi_poll(fetcher.multi, NULL, 0, 1000, NULL);
    }
    cg_certcache_thread_done();
    return NULL;
}

int cgd_fetch_start(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(fetcher.multi = curl_multi_init()))
        return -1;
    if (pthread_create(&fetcher.tid, NULL, fetch_main, NULL) != 0)
        return -1;
    pthread_setname_np(fetcher.tid, "cidguardd-fetch");
    return 0;
}

void cgd_fetch_stop(void)
{
    pthread_mutex_lock(&fetcher.lock);
    fetcher.stop = true;
    pthread_mutex_unlock(&fetcher.lock);
    curl_multi_wakeup(fetcher.multi);
    pthread_join(fetcher.tid, NULL);
    /* transfers still running are abandoned: their waiters are gone */
    while (fetcher.flights) {
        struct flight *f = fetcher.flights;
        fetcher.flights = f->next;
        while (f->waiters) {
            struct waiter *w = f->waiters;
            f->waiters = w->next;
            free(w);
        }
        if (f->easy) {
            curl_multi_remove_handle(fetcher.multi, f->easy);
            curl_easy_cleanup(f->easy);
        }
        flight_free(f);
    }
    curl_multi_cleanup(fetcher.multi);
    curl_global_cleanup();
}

/* The authority of an http(s) URL (host and port, without user info), or
 * "": the unit of the per-host share. */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://"), *at;
    size_t n;
    out[0] = '\0';
    if (!p)
        return;
    p += 3;
    n = strcspn(p, "/?#");
    if ((at = memchr(p, '@', n))) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n < cap) {
        memcpy(out, p, n);
        out[n] = '\0';
    }
}

/* Whether a new flight for `host` asked by `origin` stays within the
 * shares.  Under fetcher.lock. */
static bool within_shares(const char *host, const char *origin)
{
    const struct flight *f;
    size_t same_host = 0, same_origin = 0;
    if (fetcher.nflights >= MAX_FLIGHTS)
        return false;
    for (f = fetcher.flights; f; f = f->next) {
        same_host += strcmp(f->host, host) == 0;
        same_origin += strcmp(f->origin, origin) == 0;
    }
    if (fetcher.nflights >= RESERVED_FROM)
        return same_host < LIGHT_USE && same_origin < LIGHT_USE;
    return same_host < HOST_SHARE && same_origin < ORIGIN_SHARE;
}

/* Joins the flight of `url` or starts one (roaming_tn: a roaming check). */
static int join(struct cgd_ctx *ctx, const char *url, const char *roaming_tn, const char *origin,
                struct event_base *base, void (*done_cb)(evutil_socket_t, short, void *), void *arg)
{
    struct flight *f;
    char host[256];
    struct waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->base = base;
    w->cb = done_cb;
    w->arg = arg;
    pthread_mutex_lock(&fetcher.lock);
    if (fetcher.nwaiters >= MAX_WAITERS)
        goto full;
    for (f = fetcher.flights; f; f = f->next)
        if (strcmp(f->url, url) == 0)
            break;
    if (!f) {
        url_host(url, host, sizeof host);
        if (!within_shares(host, origin) || !(f = calloc(1, sizeof *f)))
            goto full;
        snprintf(f->url, sizeof f->url, "%s", url);
        memcpy(f->host, host, sizeof f->host);
        snprintf(f->origin, sizeof f->origin, "%s", origin);
        snprintf(f->roaming_tn, sizeof f->roaming_tn, "%s", roaming_tn);
        f->ctx = ctx;
        atomic_fetch_add(&ctx->refs, 1);
        f->next = fetcher.flights;
        fetcher.flights = f;
        fetcher.nflights++;
    }
    w->next = f->waiters;
    f->waiters = w;
    fetcher.nwaiters++;
    pthread_mutex_unlock(&fetcher.lock);
    curl_multi_wakeup(fetcher.multi);
    return 0;
full:
    pthread_mutex_unlock(&fetcher.lock);
    free(w);
    return -1;
}

int cgd_fetch(struct cgd_ctx *ctx, const char *url, const char *origin, struct event_base *base,
              void (*done_cb)(evutil_socket_t, short, void *), void *arg)
{
    return join(ctx, url, "", origin, base, done_cb, arg);
}

int cgd_fetch_roaming(struct cgd_ctx *ctx, const char *tn, const char *origin,
                      struct event_base *base, void (*done_cb)(evutil_socket_t, short, void *),
                      void *arg)
{
    char url[CG_URL_MAX + 1];
    const char *base_url = ctx->conf.roaming_check_url;
    int n = snprintf(url, sizeof url, "%s%stn=%s", base_url, strchr(base_url, '?') ? "&" : "?", tn);
    if (n < 0 || (size_t)n >= sizeof url)
        return -1;
    return join(ctx, url, tn, origin, base, done_cb, arg);
}
