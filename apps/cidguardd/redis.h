/*
 * Replay and rate state shared through Redis, on the call path: one
 * hiredis connection per worker (one per cluster node with a Redis
 * Cluster), driven by the worker's own event loop.
 */
#ifndef CIDGUARDD_REDIS_H
#define CIDGUARDD_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidguard/behaviour.h"
#include "cidguard/cidguard.h"
#include "config.h"
#include "worker.h"

/* Connects worker `w` (sets w->redis); a no-op without [redis] url.  -1
 * on a bad URL, inconsistent [redis] directives or no memory. */
int cgd_redis_attach(struct cgd_worker *w, const struct cgd_conf *conf);
/* After the loop has ended: calls still waiting are answered (not ok). */
void cgd_redis_free(struct cgd_worker *w);

/* The answer of one call's observation: ok false when Redis failed or was
 * too slow (decide on local state then), `bits` the reason bits for
 * cg_policy_call.shared, `intents` the CG_POLICY_NUM_* bits of the numbers
 * whose call intent was found (and a use of it spent). */
typedef void (*cgd_redis_done_cb)(void *arg, bool ok, uint32_t bits, unsigned intents);

/*
 * Sends one call's replay, rate and call-intent observation (`intents`:
 * the CG_POLICY_NUM_* bits of the numbers whose intent to look up).  True
 * when the call now waits: done_cb follows on the worker's loop.  False
 * when the call is to be decided on local state now (no connection, or too
 * many calls in flight); done_cb is then never called.
 */
bool cgd_redis_observe(struct cgd_worker *w, const struct cg_policy_call *pc, unsigned intents,
                       cgd_redis_done_cb done_cb, void *arg);

/* Publishes a call's campaign behaviour observation (already observed here)
 * for the other daemons, when [redis] campaign is on; never waited for,
 * and skipped while Redis cannot take it. */
void cgd_redis_share_call(struct cgd_worker *w, const struct cg_behaviour_call *bc);
/* Whether an origin is exempt ([policy] campaign_exempt), so that its
 * crossing with another daemon's call is not counted: set by context.c,
 * which holds the list, so that this module does not depend on it. */
void cgd_redis_set_exempt(bool (*exempt)(const char *origin));

/* The [redis] directives as the library's options (pointing into conf),
 * for cg_redis_connect_opts. */
void cgd_redis_opts(const struct cgd_conf *conf, struct cg_redis_opts *o);

/* The master the workers last connected to (with sentinels: the one they
 * named), as host and port; false before any connection or with a
 * cluster. */
bool cgd_redis_master(char *host, size_t cap, int *port);

/* The node that serves `slot` in worker w's cluster slot map, as host and
 * port; false without a cluster or while the slot has no node. */
bool cgd_redis_slot_node(const struct cgd_worker *w, unsigned slot, char *host, size_t cap,
                         int *port);

/* The /metrics lines of the topology (master switches, the master's
 * address, cluster redirects), written into buf (NUL-terminated, cut at
 * cap); nothing without [redis] url. */
void cgd_redis_metrics(char *buf, size_t cap);

#endif
