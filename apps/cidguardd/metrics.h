/*
 * The daemon's counters, rendered as Prometheus text on /metrics.  All
 * atomics: the call path never takes a lock to count.
 */
#ifndef CIDGUARDD_METRICS_H
#define CIDGUARDD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cidguard/cidguard.h"

/* The four ways a request enters the daemon. */
enum cgd_listener {
    CGD_LISTENER_SIP_VERIFY,
    CGD_LISTENER_SIP_SIGN,
    CGD_LISTENER_HTTP_VERIFY,
    CGD_LISTENER_HTTP_SIGN,
    CGD_LISTENER__COUNT
};
/* "sip_verify", "sip_sign", "http_verify", "http_sign": metrics labels and
 * the decision log's listener column. */
const char *cgd_listener_name(enum cgd_listener l);

/* What became of a signing request (signing.c). */
enum cgd_sign_outcome {
    CGD_SIGN_OK,
    CGD_SIGN_NO_SIGNER,      /* no [sign] key */
    CGD_SIGN_UNKNOWN_CLIENT, /* neither a token nor an address of a customer: 403 */
    CGD_SIGN_BAD_TOKEN,      /* a bearer token no customer holds: 401 */
    CGD_SIGN_RATE,           /* the customer's [sign] rate_per_customer is spent */
    CGD_SIGN_IAT,            /* a client iat outside the freshness window: 400 */
    CGD_SIGN_FAILED,         /* the signer refused the request: 400 */
    CGD_SIGN_POLICY,         /* the origination policy refused it: SIP 603/608, HTTP 403 */
    CGD_SIGN__COUNT
};
/* "ok", "no_signer", "unknown_client", ...: log and metrics labels. */
const char *cgd_sign_outcome_str(enum cgd_sign_outcome o);

enum { CGD_STATE_REDIS, CGD_STATE_LOCAL };
enum { CGD_REDIS_TIMEOUT, CGD_REDIS_REPLY, CGD_REDIS_DISCONNECT };

struct cgd_metrics {
    atomic_ullong calls[CGD_LISTENER__COUNT][CG_R__COUNT];
    atomic_ullong signed_calls[CGD_LISTENER__COUNT][3]; /* by attestation A, B, C */
    atomic_ullong cache_hit, cache_miss, cache_negative;
    atomic_ullong fetch_ok, fetch_err, fetch_bucket[11], fetch_us_sum;
    atomic_llong inflight;
    atomic_ullong overload[CGD_LISTENER__COUNT];
    atomic_ullong sip_bad_answered, sip_bad_dropped, sip_retransmissions, sip_options;
    atomic_ullong sip_udp_waits, sip_udp_waited; /* coalescing waits; datagrams read after them */
    atomic_ullong http_bad;
    atomic_ullong sign_refused[CGD_SIGN__COUNT];
    atomic_ullong sign_actions[CG_ACTION__COUNT]; /* the origination policy's, by action */
    atomic_ullong conn_refused, accept_errors; /* TCP connections over a cap; accept() failures */
    atomic_ullong sip_tcp_slow;                /* SIP/TCP connections cut for sending too slowly */
    atomic_ullong http_slow;                   /* HTTP connections cut for sending too slowly */
    atomic_ullong actions[CG_ACTION__COUNT];   /* by enum cg_action */
    atomic_ullong declog_written, declog_dropped, declog_errors;
    atomic_ullong declog_bytes, declog_max_bytes; /* on disk; the cap (0: none) */
    atomic_ullong declog_pruned;                  /* records removed to stay under the cap */
    atomic_int redis_connected;                   /* workers with a Redis connection */
    atomic_ullong shared_state[2];                /* calls decided with Redis / local state */
    atomic_ullong redis_errors[3];
    atomic_ullong lists_reloads, lists_errors; /* lists loaded from Redis */
    /* configuration contexts built (start, SIGHUP, CRL refresh, lists from
     * Redis) ok / failed, and when the running one was built */
    atomic_ullong context_builds[2];
    atomic_llong context_built_at;
    atomic_llong lists_version;
    atomic_int redis_workers; /* workers configured with Redis */
    /* call intents (intentapi.c): intents registered and cancelled, requests refused by
     * status (enum cgd_intent_refusal) */
    atomic_ullong intents_registered, intents_cancelled, intents_refused[6];
    /* roaming checks (roaming.c) by result (enum cgd_roaming_result), and
     * the calls answered from its cache */
    atomic_ullong roaming_checks[4], roaming_cached;
    /* the signing log (declogd.c) and the traceback endpoint's answers by status,
     * CGD_TB_* (traceback.c) */
    atomic_ullong signlog_written, signlog_dropped, signlog_errors;
    atomic_ullong signlog_bytes, signlog_max_bytes, signlog_pruned;
    atomic_ullong traceback_answers[6];
    /* campaign detection (call.c): calls given campaign_suspected, and the
     * times an origin crossed into campaign behaviour */
    atomic_ullong campaign_calls, campaign_origins;
    /* observations shared through Redis ([redis] campaign, redis.c): sent
     * (Redis took them), dropped (it could not), received from other
     * daemons, and received lines refused */
    atomic_ullong campaign_shared_sent, campaign_shared_dropped, campaign_shared_received,
        campaign_shared_refused;
};
extern struct cgd_metrics cgd_m;
/* The refusals of the intent API, by HTTP status. */
enum cgd_intent_refusal { CGD_IR_400, CGD_IR_401, CGD_IR_403, CGD_IR_413, CGD_IR_429, CGD_IR_503 };
/* The process-wide intent store, for its size on /metrics (set by context.c). */
extern struct cg_intents *cgd_intents_store;
/* The process-wide campaign behaviour ([policy] campaign_detection), for
 * the call path and for its gauge on /metrics (set by context.c; NULL when
 * off). */
extern struct cg_behaviour *cgd_behaviour;

void cgd_metrics_fetch_latency(uint64_t us);
/* Renders the Prometheus text exposition into a malloc'ed string, with
 * the certificate cache's classes from `cache`. */
char *cgd_metrics_render(struct cg_certcache *cache);
/* The Redis topology's series (redis.c), registered by redis.c when a
 * worker attaches, so that metrics.c does not depend on it. */
void cgd_metrics_set_redis_render(void (*render)(char *buf, size_t cap));

#endif
