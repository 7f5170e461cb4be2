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

#endif
