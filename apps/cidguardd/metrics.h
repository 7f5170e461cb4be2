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
    atomic_ullong http_bad;
    atomic_ullong conn_refused, accept_errors; /* TCP connections over a cap; accept() failures */
    atomic_ullong sip_tcp_slow;                /* SIP/TCP connections cut for sending too slowly */
    atomic_ullong actions[3]; /* by enum cg_action */
    atomic_ullong declog_written, declog_dropped, declog_errors;
    atomic_int redis_connected;                /* workers with a Redis connection */
    atomic_ullong shared_state[2];             /* calls decided with Redis / local state */
    atomic_ullong redis_errors[3];
    atomic_ullong lists_reloads, lists_errors; /* lists loaded from Redis */
    atomic_llong lists_version;
    atomic_int redis_workers;                  /* workers configured with Redis */
};
extern struct cgd_metrics cgd_m;

void cgd_metrics_fetch_latency(uint64_t us);
/* Renders the Prometheus text exposition into a malloc'ed string;
 * `cache_entries` is the certificate cache's size. */
char *cgd_metrics_render(size_t cache_entries);

#endif
