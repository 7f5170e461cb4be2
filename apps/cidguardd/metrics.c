/* Prometheus text exposition of the daemon's counters (all atomics: the
 * call path never takes a lock to count). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidguard/behaviour.h"
#include "metrics.h"
#include "signers.h"

struct cgd_metrics cgd_m;
struct cg_intents *cgd_intents_store;
struct cg_behaviour *cgd_behaviour;

/* Now on the campaign behaviour's clock: the wall clock, or the replayed
 * calls' time when [policy] campaign_time_scale runs it faster. */
static int64_t campaign_now(void)
{
    int64_t wall = (int64_t)time(NULL), seen = cg_behaviour_clock(cgd_behaviour);
    return seen > wall ? seen : wall;
}

static const double bucket_s[] = {0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5};
static const char *const listener_name[] = {"sip_verify", "sip_sign", "http_verify", "http_sign"};

static const char *const sign_outcome[] = {"ok",   "no_signer", "unknown_client", "bad_token",
                                           "rate", "iat",       "sign_failed",    "policy"};

const char *cgd_sign_outcome_str(enum cgd_sign_outcome o)
{
    return sign_outcome[o];
}

const char *cgd_listener_name(enum cgd_listener l)
{
    return listener_name[l];
}

void cgd_metrics_fetch_latency(uint64_t us)
{
    size_t i;
    for (i = 0; i < 10; i++)
        if ((double)us / 1e6 <= bucket_s[i])
            break;
    atomic_fetch_add(&cgd_m.fetch_bucket[i], 1);
    atomic_fetch_add(&cgd_m.fetch_us_sum, us);
}

struct buf {
    char *p;
    size_t n, cap;
};

static void out(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int w;
    if (!b->p)
        return;
    for (;;) {
        va_start(ap, fmt);
        w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        char *np = realloc(b->p, b->cap * 2);
        if (!np) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = np;
        b->cap *= 2;
    }
}

static void (*_Atomic redis_render)(char *buf, size_t cap);

void cgd_metrics_set_redis_render(void (*render)(char *buf, size_t cap))
{
    atomic_store(&redis_render, render);
}

char *cgd_metrics_render(struct cg_certcache *cache)
{
    struct buf b = {malloc(16384), 0, 16384};
    unsigned long long cum = 0;
    struct cg_certcache_stats cs = {0};
    int l, r;
    size_t i;

    if (cache)
        cg_certcache_stats(cache, &cs);

    out(&b, "# HELP cidguard_calls_total Calls answered, by listener, verstat and reason.\n"
            "# TYPE cidguard_calls_total counter\n");
    for (l = 0; l < CGD_LISTENER__COUNT; l++)
        for (r = 0; r < CG_R__COUNT; r++) {
            unsigned long long v = atomic_load(&cgd_m.calls[l][r]);
            if (!v)
                continue;
            out(&b, "cidguard_calls_total{listener=\"%s\",verstat=\"%s\",reason=\"%s\"} %llu\n",
                listener_name[l], cg_verstat_str(cg_reason_verstat((enum cg_reason)r)),
                cg_reason_name((enum cg_reason)r), v);
        }
    out(&b, "# HELP cidguard_decisions_total Policy decisions by action.\n"
            "# TYPE cidguard_decisions_total counter\n");
    for (r = 0; r < CG_ACTION__COUNT; r++)
        out(&b, "cidguard_decisions_total{action=\"%s\"} %llu\n", cg_action_str((enum cg_action)r),
            atomic_load(&cgd_m.actions[r]));
    out(&b,
        "# HELP cidguard_campaign_calls_total Calls given campaign_suspected.\n"
        "# TYPE cidguard_campaign_calls_total counter\n"
        "cidguard_campaign_calls_total %llu\n"
        "# HELP cidguard_campaign_origins_total Times an origin crossed into campaign "
        "behaviour.\n"
        "# TYPE cidguard_campaign_origins_total counter\n"
        "cidguard_campaign_origins_total %llu\n"
        "# HELP cidguard_campaign_origins Origins in campaign behaviour now.\n"
        "# TYPE cidguard_campaign_origins gauge\n"
        "cidguard_campaign_origins %u\n"
        "# HELP cidguard_campaign_shared_total Calls' observations shared with the other "
        "daemons through Redis: sent, dropped (Redis could not take them), received, and "
        "received but refused (malformed, out of the window, or past a batch).\n"
        "# TYPE cidguard_campaign_shared_total counter\n"
        "cidguard_campaign_shared_total{direction=\"sent\"} %llu\n"
        "cidguard_campaign_shared_total{direction=\"dropped\"} %llu\n"
        "cidguard_campaign_shared_total{direction=\"received\"} %llu\n"
        "cidguard_campaign_shared_total{direction=\"refused\"} %llu\n",
        atomic_load(&cgd_m.campaign_calls), atomic_load(&cgd_m.campaign_origins),
        cg_behaviour_suspected(cgd_behaviour, campaign_now()),
        atomic_load(&cgd_m.campaign_shared_sent), atomic_load(&cgd_m.campaign_shared_dropped),
        atomic_load(&cgd_m.campaign_shared_received), atomic_load(&cgd_m.campaign_shared_refused));
    out(&b, "# HELP cidguard_signed_total Calls signed, by listener and attestation.\n"
            "# TYPE cidguard_signed_total counter\n");
    for (l = 0; l < CGD_LISTENER__COUNT; l++)
        for (r = 0; r < 3; r++)
            if (atomic_load(&cgd_m.signed_calls[l][r]))
                out(&b, "cidguard_signed_total{listener=\"%s\",attest=\"%c\"} %llu\n",
                    listener_name[l], 'A' + r, atomic_load(&cgd_m.signed_calls[l][r]));
    out(&b,
        "# HELP cidguard_cert_cache_total Certificate cache lookups by result.\n"
        "# TYPE cidguard_cert_cache_total counter\n"
        "cidguard_cert_cache_total{result=\"hit\"} %llu\n"
        "cidguard_cert_cache_total{result=\"miss\"} %llu\n"
        "cidguard_cert_cache_total{result=\"negative\"} %llu\n"
        "# HELP cidguard_cert_cache_entries Certificate cache entries by class: negative (failed "
        "fetches, unusable chains), unproven (no call verified with them yet), verified.\n"
        "# TYPE cidguard_cert_cache_entries gauge\n"
        "cidguard_cert_cache_entries{class=\"negative\"} %zu\n"
        "cidguard_cert_cache_entries{class=\"unproven\"} %zu\n"
        "cidguard_cert_cache_entries{class=\"verified\"} %zu\n"
        "# HELP cidguard_cert_cache_evicted_total Entries removed to make room.\n"
        "# TYPE cidguard_cert_cache_evicted_total counter\n"
        "cidguard_cert_cache_evicted_total %llu\n"
        "# HELP cidguard_fetch_total x5u fetches by result.\n"
        "# TYPE cidguard_fetch_total counter\n"
        "cidguard_fetch_total{result=\"ok\"} %llu\n"
        "cidguard_fetch_total{result=\"error\"} %llu\n"
        "# HELP cidguard_fetch_seconds x5u fetch latency.\n"
        "# TYPE cidguard_fetch_seconds histogram\n",
        atomic_load(&cgd_m.cache_hit), atomic_load(&cgd_m.cache_miss),
        atomic_load(&cgd_m.cache_negative), cs.negative, cs.unproven, cs.verified,
        (unsigned long long)cs.evicted, atomic_load(&cgd_m.fetch_ok),
        atomic_load(&cgd_m.fetch_err));
    for (i = 0; i < 10; i++) {
        cum += atomic_load(&cgd_m.fetch_bucket[i]);
        out(&b, "cidguard_fetch_seconds_bucket{le=\"%g\"} %llu\n", bucket_s[i], cum);
    }
    cum += atomic_load(&cgd_m.fetch_bucket[10]);
    out(&b,
        "cidguard_fetch_seconds_bucket{le=\"+Inf\"} %llu\n"
        "cidguard_fetch_seconds_sum %.6f\n"
        "cidguard_fetch_seconds_count %llu\n"
        "# HELP cidguard_inflight Calls waiting for a certificate.\n"
        "# TYPE cidguard_inflight gauge\n"
        "cidguard_inflight %lld\n"
        "# HELP cidguard_overload_total Calls answered 503 because a worker was full.\n"
        "# TYPE cidguard_overload_total counter\n",
        cum, (double)atomic_load(&cgd_m.fetch_us_sum) / 1e6, cum, atomic_load(&cgd_m.inflight));
    for (l = 0; l < CGD_LISTENER__COUNT; l++)
        out(&b, "cidguard_overload_total{listener=\"%s\"} %llu\n", listener_name[l],
            atomic_load(&cgd_m.overload[l]));
    out(&b,
        "# HELP cidguard_sip_bad_requests_total Malformed SIP requests.\n"
        "# TYPE cidguard_sip_bad_requests_total counter\n"
        "cidguard_sip_bad_requests_total{action=\"answered_400\"} %llu\n"
        "cidguard_sip_bad_requests_total{action=\"dropped\"} %llu\n"
        "# HELP cidguard_sip_retransmissions_total Retransmitted requests answered from the "
        "transaction cache.\n"
        "# TYPE cidguard_sip_retransmissions_total counter\n"
        "cidguard_sip_retransmissions_total %llu\n"
        "# HELP cidguard_sip_options_total OPTIONS keep-alives answered.\n"
        "# TYPE cidguard_sip_options_total counter\n"
        "cidguard_sip_options_total %llu\n"
        "# HELP cidguard_sip_udp_coalesce_total A busy worker's waits for more SIP/UDP datagrams "
        "(udp_coalesce_us), and the datagrams read after them.\n"
        "# TYPE cidguard_sip_udp_coalesce_total counter\n"
        "cidguard_sip_udp_coalesce_total{what=\"waits\"} %llu\n"
        "cidguard_sip_udp_coalesce_total{what=\"datagrams\"} %llu\n"
        "# HELP cidguard_decision_log_total Decision log records by outcome.\n"
        "# TYPE cidguard_decision_log_total counter\n"
        "cidguard_decision_log_total{result=\"written\"} %llu\n"
        "cidguard_decision_log_total{result=\"dropped\"} %llu\n"
        "cidguard_decision_log_total{result=\"error\"} %llu\n"
        "# HELP cidguard_http_bad_requests_total HTTP API requests answered 4xx.\n"
        "# TYPE cidguard_http_bad_requests_total counter\n"
        "cidguard_http_bad_requests_total %llu\n",
        atomic_load(&cgd_m.sip_bad_answered), atomic_load(&cgd_m.sip_bad_dropped),
        atomic_load(&cgd_m.sip_retransmissions), atomic_load(&cgd_m.sip_options),
        atomic_load(&cgd_m.sip_udp_waits), atomic_load(&cgd_m.sip_udp_waited),
        atomic_load(&cgd_m.declog_written), atomic_load(&cgd_m.declog_dropped),
        atomic_load(&cgd_m.declog_errors), atomic_load(&cgd_m.http_bad));
    out(&b,
        "# HELP cidguard_connections_refused_total TCP connections closed at once because their "
        "listener or their source address had reached its cap.\n"
        "# TYPE cidguard_connections_refused_total counter\n"
        "cidguard_connections_refused_total %llu\n"
        "# HELP cidguard_accept_errors_total accept() failures (no descriptors left, ...); the "
        "listener pauses 100 ms after each.\n"
        "# TYPE cidguard_accept_errors_total counter\n"
        "cidguard_accept_errors_total %llu\n"
        "# HELP cidguard_sip_tcp_slow_total SIP/TCP connections closed because a message did not "
        "arrive whole in time.\n"
        "# TYPE cidguard_sip_tcp_slow_total counter\n"
        "cidguard_sip_tcp_slow_total %llu\n"
        "# HELP cidguard_http_slow_total HTTP connections closed because a request did not "
        "arrive whole in time.\n"
        "# TYPE cidguard_http_slow_total counter\n"
        "cidguard_http_slow_total %llu\n",
        atomic_load(&cgd_m.conn_refused), atomic_load(&cgd_m.accept_errors),
        atomic_load(&cgd_m.sip_tcp_slow), atomic_load(&cgd_m.http_slow));
    out(&b,
        "# HELP cidguard_decision_log_bytes The decision log's size on disk.\n"
        "# TYPE cidguard_decision_log_bytes gauge\n"
        "cidguard_decision_log_bytes %llu\n"
        "# HELP cidguard_decision_log_max_bytes decision_log_max_mb (0: no cap).\n"
        "# TYPE cidguard_decision_log_max_bytes gauge\n"
        "cidguard_decision_log_max_bytes %llu\n"
        "# HELP cidguard_decision_log_pruned_total Oldest records removed to stay under the cap.\n"
        "# TYPE cidguard_decision_log_pruned_total counter\n"
        "cidguard_decision_log_pruned_total %llu\n",
        atomic_load(&cgd_m.declog_bytes), atomic_load(&cgd_m.declog_max_bytes),
        atomic_load(&cgd_m.declog_pruned));
    out(&b, "# HELP cidguard_sign_refused_total Signing requests refused, by why.\n"
            "# TYPE cidguard_sign_refused_total counter\n");
    for (i = 1; i < CGD_SIGN__COUNT; i++)
        out(&b, "cidguard_sign_refused_total{reason=\"%s\"} %llu\n", sign_outcome[i],
            atomic_load(&cgd_m.sign_refused[i]));
    out(&b, "# HELP cidguard_sign_origination_total The origination policy's decisions on calls "
            "to sign, by action (block: refused, label: signed at C).\n"
            "# TYPE cidguard_sign_origination_total counter\n");
    for (i = 0; i < CG_ACTION__COUNT; i++)
        if (i != CG_ACTION_WITHHOLD)
            out(&b, "cidguard_sign_origination_total{action=\"%s\"} %llu\n",
                cg_action_str((enum cg_action)i), atomic_load(&cgd_m.sign_actions[i]));
    out(&b,
        "# HELP cidguard_config_builds_total Configuration contexts built (start, SIGHUP, CRL "
        "refresh, lists from Redis) by result; a failed one leaves the running one in place.\n"
        "# TYPE cidguard_config_builds_total counter\n"
        "cidguard_config_builds_total{result=\"ok\"} %llu\n"
        "cidguard_config_builds_total{result=\"error\"} %llu\n"
        "# HELP cidguard_config_built_timestamp_seconds When the running context was built: its "
        "CRLs and lists are as of then.\n"
        "# TYPE cidguard_config_built_timestamp_seconds gauge\n"
        "cidguard_config_built_timestamp_seconds %lld\n",
        atomic_load(&cgd_m.context_builds[0]), atomic_load(&cgd_m.context_builds[1]),
        atomic_load(&cgd_m.context_built_at));
    out(&b, "# HELP cidguard_redis_up Whether every worker has its Redis connection (1), or some "
            "decide on local state (0); absent without [redis] url.\n"
            "# TYPE cidguard_redis_up gauge\n");
    if (cgd_m.redis_workers)
        out(&b, "cidguard_redis_up %d\n",
            atomic_load(&cgd_m.redis_connected) == cgd_m.redis_workers);
    out(&b,
        "# HELP cidguard_shared_state_total Calls whose replay and rate checks used Redis or "
        "only the local state.\n"
        "# TYPE cidguard_shared_state_total counter\n"
        "cidguard_shared_state_total{store=\"redis\"} %llu\n"
        "cidguard_shared_state_total{store=\"local\"} %llu\n"
        "# HELP cidguard_redis_errors_total Redis failures on the call path.\n"
        "# TYPE cidguard_redis_errors_total counter\n"
        "cidguard_redis_errors_total{kind=\"timeout\"} %llu\n"
        "cidguard_redis_errors_total{kind=\"reply\"} %llu\n"
        "cidguard_redis_errors_total{kind=\"disconnect\"} %llu\n"
        "# HELP cidguard_lists_version Version of the policy lists loaded from Redis.\n"
        "# TYPE cidguard_lists_version gauge\n"
        "cidguard_lists_version %lld\n"
        "# HELP cidguard_lists_loads_total Policy list loads from Redis by result.\n"
        "# TYPE cidguard_lists_loads_total counter\n"
        "cidguard_lists_loads_total{result=\"ok\"} %llu\n"
        "cidguard_lists_loads_total{result=\"error\"} %llu\n",
        atomic_load(&cgd_m.shared_state[CGD_STATE_REDIS]),
        atomic_load(&cgd_m.shared_state[CGD_STATE_LOCAL]),
        atomic_load(&cgd_m.redis_errors[CGD_REDIS_TIMEOUT]),
        atomic_load(&cgd_m.redis_errors[CGD_REDIS_REPLY]),
        atomic_load(&cgd_m.redis_errors[CGD_REDIS_DISCONNECT]), atomic_load(&cgd_m.lists_version),
        atomic_load(&cgd_m.lists_reloads), atomic_load(&cgd_m.lists_errors));
    {
        void (*render)(char *, size_t) = atomic_load(&redis_render);
        char topo[2048];
        if (render) {
            render(topo, sizeof topo);
            out(&b, "%s", topo);
        }
    }
    {
        static const char *const st[] = {"400", "401", "403", "413", "429", "503"};
        out(&b,
            "# HELP cidguard_intents_registered_total Call intents registered (each of a batch).\n"
            "# TYPE cidguard_intents_registered_total counter\n"
            "cidguard_intents_registered_total %llu\n"
            "# HELP cidguard_intents_cancelled_total Call intents cancelled.\n"
            "# TYPE cidguard_intents_cancelled_total counter\n"
            "cidguard_intents_cancelled_total %llu\n"
            "# HELP cidguard_intents_stored Call intents in this daemon's memory (expired ones "
            "until dropped).\n"
            "# TYPE cidguard_intents_stored gauge\n"
            "cidguard_intents_stored %zu\n"
            "# HELP cidguard_intent_requests_refused_total Intent API requests refused, by "
            "status.\n"
            "# TYPE cidguard_intent_requests_refused_total counter\n",
            atomic_load(&cgd_m.intents_registered), atomic_load(&cgd_m.intents_cancelled),
            cg_intents_count(cgd_intents_store));
        for (i = 0; i < sizeof st / sizeof st[0]; i++)
            out(&b, "cidguard_intent_requests_refused_total{status=\"%s\"} %llu\n", st[i],
                atomic_load(&cgd_m.intents_refused[i]));
    }
    {
        static const char *const res[] = {"roaming", "not_roaming", "error", "timeout"};
        out(&b, "# HELP cidguard_roaming_checks_total Roaming checks asked of the roaming "
                "service, by result (error and timeout withhold the caller ID).\n"
                "# TYPE cidguard_roaming_checks_total counter\n");
        for (i = 0; i < sizeof res / sizeof res[0]; i++)
            out(&b, "cidguard_roaming_checks_total{result=\"%s\"} %llu\n", res[i],
                atomic_load(&cgd_m.roaming_checks[i]));
        out(&b,
            "# HELP cidguard_roaming_cached_total Calls whose roaming answer came from the "
            "cache.\n"
            "# TYPE cidguard_roaming_cached_total counter\n"
            "cidguard_roaming_cached_total %llu\n",
            atomic_load(&cgd_m.roaming_cached));
    }
    {
        char *sg = cgd_signers_metrics(); /* cidguard_signer_cert_days_to_expiry */
        if (sg)
            out(&b, "%s", sg);
        free(sg);
    }
    {
        static const char *const tb[] = {"200", "400", "401", "404", "503", "500"};
        out(&b,
            "# HELP cidguard_signing_log_total Signing log records by outcome.\n"
            "# TYPE cidguard_signing_log_total counter\n"
            "cidguard_signing_log_total{result=\"written\"} %llu\n"
            "cidguard_signing_log_total{result=\"dropped\"} %llu\n"
            "cidguard_signing_log_total{result=\"error\"} %llu\n"
            "# HELP cidguard_signing_log_bytes The signing log's size on disk.\n"
            "# TYPE cidguard_signing_log_bytes gauge\n"
            "cidguard_signing_log_bytes %llu\n"
            "# HELP cidguard_signing_log_max_bytes signing_log_max_mb (0: no cap).\n"
            "# TYPE cidguard_signing_log_max_bytes gauge\n"
            "cidguard_signing_log_max_bytes %llu\n"
            "# HELP cidguard_signing_log_pruned_total Oldest records removed to stay under the "
            "cap.\n"
            "# TYPE cidguard_signing_log_pruned_total counter\n"
            "cidguard_signing_log_pruned_total %llu\n"
            "# HELP cidguard_traceback_requests_total Traceback requests by the status answered.\n"
            "# TYPE cidguard_traceback_requests_total counter\n",
            atomic_load(&cgd_m.signlog_written), atomic_load(&cgd_m.signlog_dropped),
            atomic_load(&cgd_m.signlog_errors), atomic_load(&cgd_m.signlog_bytes),
            atomic_load(&cgd_m.signlog_max_bytes), atomic_load(&cgd_m.signlog_pruned));
        for (i = 0; i < sizeof tb / sizeof tb[0]; i++)
            out(&b, "cidguard_traceback_requests_total{status=\"%s\"} %llu\n", tb[i],
                atomic_load(&cgd_m.traceback_answers[i]));
    }
    {
        struct cg_fastkeys_stats fs;
        cg_fastkeys_stats(&fs);
        out(&b,
            "# HELP cidguard_fast_keys_tables Busy keys with a verification table.\n"
            "# TYPE cidguard_fast_keys_tables gauge\n"
            "cidguard_fast_keys_tables %zu\n"
            "# HELP cidguard_fast_keys_bytes Memory charged to the tables.\n"
            "# TYPE cidguard_fast_keys_bytes gauge\n"
            "cidguard_fast_keys_bytes %zu\n"
            "# HELP cidguard_fast_keys_max_bytes Their budget, [verify] fast_keys_mb.\n"
            "# TYPE cidguard_fast_keys_max_bytes gauge\n"
            "cidguard_fast_keys_max_bytes %zu\n"
            "# HELP cidguard_fast_keys_built_total Tables built.\n"
            "# TYPE cidguard_fast_keys_built_total counter\n"
            "cidguard_fast_keys_built_total %llu\n"
            "# HELP cidguard_fast_keys_evicted_total Tables dropped for a busier key or the "
            "budget.\n"
            "# TYPE cidguard_fast_keys_evicted_total counter\n"
            "cidguard_fast_keys_evicted_total %llu\n"
            "# HELP cidguard_signatures_verified_total ES256 verifications by path: table (a busy "
            "key's) or evp.\n"
            "# TYPE cidguard_signatures_verified_total counter\n"
            "cidguard_signatures_verified_total{path=\"table\"} %llu\n"
            "cidguard_signatures_verified_total{path=\"evp\"} %llu\n",
            fs.tables, fs.bytes, fs.max_bytes, fs.built, fs.evicted, fs.fast_calls, fs.evp_calls);
    }
    if (b.p)
        b.p[b.n] = '\0';
    return b.p;
}
