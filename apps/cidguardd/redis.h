/*
 * Replay and rate state shared through Redis, on the call path: one
 * hiredis connection per worker, driven by the worker's own event loop.
 */
#ifndef CIDGUARDD_REDIS_H
#define CIDGUARDD_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "cidguard/cidguard.h"
#include "config.h"
#include "worker.h"

/* Connects worker `w` (sets w->redis); a no-op without [redis] url.  -1
 * on a bad URL or no memory. */
int cgd_redis_attach(struct cgd_worker *w, const struct cgd_conf *conf);
/* After the loop has ended: calls still waiting are answered (not ok). */
void cgd_redis_free(struct cgd_worker *w);

/*
 * Sends one call's replay and rate observation.  True when the call now
 * waits: done_cb(arg, ok, bits) follows on the worker's loop, with ok
 * false when Redis failed or was too slow (decide on local state then) and
 * `bits` the reason bits for cg_policy_call.shared.  False when the call
 * is to be decided on local state now (no connection, or too many calls in
 * flight); done_cb is then never called.
 */
bool cgd_redis_observe(struct cgd_worker *w, const struct cg_policy_call *pc,
                       void (*done_cb)(void *arg, bool ok, uint32_t bits), void *arg);

#endif
