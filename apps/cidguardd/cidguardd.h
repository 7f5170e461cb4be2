/*
 * cidguardd: the daemon that puts libcidguard on the network.  A thin host:
 * configuration, sockets, threads, the x5u fetcher, metrics.  Everything
 * about PASSporTs, certificates and SIP messages is the library's.
 */
#ifndef CIDGUARDD_H
#define CIDGUARDD_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "cidguard/cidguard.h"

/* ---- configuration (config.c): every directive in one table ------------ */

#define CGD_PATH 512
#define CGD_LIST 2048

struct cgd_conf {
    char state_dir[256];
    char http_listen[64], sip_verify_listen[64], sip_sign_listen[64];
    int workers;
    int max_pending;           /* parked calls per worker before 503 */
    char trust[CGD_LIST];      /* ';'-separated PEM files */
    char crl[CGD_LIST];
    int freshness;
    bool crl_required;
    int crl_refresh;           /* seconds between CRL reloads (and crl_url fetches); 0 = off */
    char crl_url[1024];        /* a CRL to download, e.g. the STI-PA's */
    char country_code[8];
    bool rfc9410_reason;       /* Reason: STIR;...;ppi= instead of Reason: SIP;... */
    char fetch_allow[CGD_LIST]; /* CIDRs exempt from the private-address deny list */
    bool allow_http;
    int timeout_ms, max_bytes;
    char ca_file[CGD_PATH];    /* CA bundle for HTTPS fetches ("" = system) */
    int negative_ttl;          /* seconds a failed x5u is not fetched again */
    char sign_key[CGD_PATH], sign_x5u[1024], customers[CGD_PATH];
    char dno[CGD_PATH], protected_numbers[CGD_PATH], ingress[CGD_PATH], ofcom[CGD_LIST];
    char nanpa[CGD_PATH], cocodes[CGD_LIST], actions[CGD_LIST];
    bool uk_rules, nanp_rules, roaming_447;
    char min_attest_uk[4], min_attest_other[4];
    int block_response, rate_calls, rate_numbers;
    char decision_log[CGD_PATH]; /* SQLite file; "" = state_dir/decisions.db; "off" */
    int decision_log_days;       /* retention; 0 = keep everything */
    char redis_url[256];       /* [redis] url: shared state for clusters; "" = in process */
    char redis_prefix[64];
    int redis_timeout_ms;
    bool redis_lists;          /* lists stored in Redis replace the files */
    bool zero_config;          /* no config file: test PKI in state_dir */
};

void cgd_conf_defaults(struct cgd_conf *c);
/* Loads FILE over the defaults; on error prints "FILE:LINE: message" to
 * stderr and returns -1. */
int cgd_conf_load(struct cgd_conf *c, const char *file);
/* Prints the annotated table of directives (cidguardd --directives). */
void cgd_conf_print_directives(void);

/* ---- shared state, swapped whole on SIGHUP (main.c) --------------------- */

struct cgd_customer {
    char name[64];
    char addrs[16][64];        /* IPs or CIDRs */
    size_t naddrs;
    char numbers[64][CG_TN_MAX + 2]; /* canonical, trailing '*' = prefix */
    size_t nnumbers;
};

struct cgd_ctx {
    atomic_int refs;
    struct cgd_conf conf;
    const struct cg_tn_plan *plan;
    struct cg_trust *trust;
    struct cg_verifier *verifier;
    struct cg_key *key;
    struct cg_signer *signer;
    struct cgd_customer *customers;
    size_t ncustomers;
    struct cg_policy *policy;
};

/* Replay and rate state: shared by every context (survives reloads). */
extern struct cg_policy_state *cgd_pstate;

struct cgd_ctx *cgd_ctx_get(void);  /* a reference to the current context */
void cgd_ctx_put(struct cgd_ctx *c);
void cgd_ctx_thread_done(void);     /* a thread that used contexts is ending */
extern struct cg_certcache *cgd_cache;

/* Attestation the customers file allows for `caller` from `addr`:
 * A for a customer's own numbers, B for a known customer, C otherwise. */
char cgd_attest_for(const struct cgd_ctx *c, const struct sockaddr *addr, const char *caller);
bool cgd_addr_in_cidrs(const struct sockaddr *sa, const char *list, char sep);

/* ---- metrics (metrics.c) ------------------------------------------------- */

enum cgd_listener { L_SIP_VERIFY, L_SIP_SIGN, L_HTTP_VERIFY, L_HTTP_SIGN, L__COUNT };

struct cgd_metrics {
    atomic_ullong calls[L__COUNT][CG_R__COUNT];
    atomic_ullong signed_calls[L__COUNT][3]; /* by attestation A, B, C */
    atomic_ullong cache_hit, cache_miss, cache_negative;
    atomic_ullong fetch_ok, fetch_err, fetch_bucket[11], fetch_us_sum;
    atomic_llong inflight;
    atomic_ullong overload[L__COUNT];
    atomic_ullong sip_bad_answered, sip_bad_dropped, sip_retransmissions, sip_options;
    atomic_ullong http_bad;
    atomic_ullong actions[3]; /* by enum cg_action */
    atomic_ullong declog_written, declog_dropped, declog_errors;
    atomic_int redis_connected;                /* workers with a Redis connection */
    atomic_ullong shared_state[2];             /* calls decided with Redis / local state */
    atomic_ullong redis_errors[3];
    atomic_ullong lists_reloads, lists_errors; /* lists loaded from Redis */
    atomic_llong lists_version;
    int redis_workers;                         /* workers configured with Redis */
};
enum { CGD_STATE_REDIS, CGD_STATE_LOCAL };
enum { CGD_REDIS_TIMEOUT, CGD_REDIS_REPLY, CGD_REDIS_DISCONNECT };
extern struct cgd_metrics cgd_m;
void cgd_metrics_fetch_latency(uint64_t us);
/* Renders the Prometheus text exposition into a malloc'ed string. */
char *cgd_metrics_render(void);

/* ---- x5u fetcher (fetch.c) ---------------------------------------------- */

int cgd_fetch_start(void);
void cgd_fetch_stop(void);
/*
 * Fetches `url` into the certificate cache unless already in flight
 * (single flight) and calls done_cb(arg) on `base`'s thread when the cache
 * has an entry for it (positive or negative).  Returns 0, or -1 when the
 * fetcher is saturated (the caller answers at once).
 */
int cgd_fetch(const char *url, struct event_base *base, void (*done_cb)(evutil_socket_t, short, void *),
              void *arg);

/* ---- decision log (declogd.c) --------------------------------------------- */
int cgd_declog_start(const char *path, int keep_days);
/* Appends one record, written in place by fill(rec, arg) (rec is zeroed)
 * under the worker's lane lock, never blocking on I/O; when the lane is
 * full the record is counted as dropped and fill is not called. */
void cgd_declog_push(void (*fill)(struct cg_declog_record *rec, void *arg), void *arg);
void cgd_declog_stop(void);                              /* writes what is queued */

/* ---- workers (sipd.c, httpd.c) ------------------------------------------ */

struct cgd_worker;
int cgd_workers_start(int n);
void cgd_workers_stop(void); /* stop accepting, drain, join, stop the fetcher */
int cgd_listen_socket(const char *hostport, int type, int *port_out);

/* SIP over UDP and TCP (sipd.c). */
int cgd_sip_attach(struct cgd_worker *w, struct event_base *base, int udp_verify, int udp_sign,
                   int tcp_verify, int tcp_sign);
void cgd_sip_detach(struct cgd_worker *w);
/* Answers sent between on and off leave together (sendmmsg). */
void cgd_sip_batch(struct cgd_worker *w, bool on);
void cgd_sip_free(struct cgd_worker *w);
/* HTTP (httpd.c). */
void *cgd_http_attach(struct event_base *base, int fd);
void cgd_http_detach(void *http);
void cgd_http_free(void *http);

#endif
