/*
 * Policy state shared by many daemons, in Redis 7.
 *
 * What lives there: the replay cache and the rate windows (written on every
 * call, by one Lua script per call so that a call's checks are atomic), and
 * the policy lists (CSV text under a version number that daemons poll).
 *
 * The call path is asynchronous and belongs to the host's event loop: this
 * header gives it the command to send (cg_redis_observe_cmd) and the
 * meaning of the answer (cg_redis_observe_result).  The lists and the
 * administration use a synchronous connection (struct cg_redis) that is
 * never used on the call path.
 */
#ifndef CIDGUARD_REDIS_H
#define CIDGUARD_REDIS_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* redis://[:password@]host[:port][/db]; port 6379 and db 0 by default. */
struct cg_redis_addr {
    char host[256];
    int port;
    int db;
    char password[128];
};
CG_EXTERN int cg_redis_parse_url(const char *url,
                                 struct cg_redis_addr *out); /* CG_OK or CG_EINVAL */

#define CG_REDIS_PREFIX "cidguard:"

/* The lists that can live in Redis are policy.h's enum cg_list (the
 * numbering data stays in files). */

/* --- synchronous connection: lists and administration --------------------- */

struct cg_redis;
/* Connects and selects the database.  On failure returns CG_EIO and, when
 * err is given, a message in it. */
CG_EXTERN int cg_redis_connect(struct cg_redis **out, const char *url, const char *prefix,
                               int timeout_ms, char *err, size_t errlen);
CG_EXTERN void cg_redis_close(struct cg_redis *s);
CG_EXTERN const char *cg_redis_error(const struct cg_redis *s); /* the last failure */

/* The version of the lists (0 when none was ever stored). */
CG_EXTERN int cg_redis_lists_version(struct cg_redis *s, long long *version);
/* Every list's CSV text (malloc'ed; NULL when Redis has none of that kind)
 * and the version they belong to, read in one transaction. */
CG_EXTERN int cg_redis_lists_get(struct cg_redis *s, char *text[CG_LIST__COUNT],
                                 long long *version);
/* Replaces one list and bumps the version, in one transaction. */
CG_EXTERN int cg_redis_list_put(struct cg_redis *s, enum cg_list l, const char *text, size_t len);
/* The same, only if the lists are still at `version` (read with
 * cg_redis_lists_get): CG_ECONFLICT when someone changed them meanwhile,
 * so that an edit made on what was read is never lost. */
CG_EXTERN int cg_redis_list_replace(struct cg_redis *s, enum cg_list l, const char *text,
                                    size_t len, long long version);
/* Removes one list from Redis (daemons go back to their files). */
CG_EXTERN int cg_redis_list_delete(struct cg_redis *s, enum cg_list l);

/* --- the call path: one script per call ------------------------------------ */

#define CG_SHARED_ARGC 16

/* The EVALSHA command for one call: the argument vector points into cmd. */
struct cg_redis_cmd {
    int argc;
    const char *argv[CG_SHARED_ARGC];
    size_t argvlen[CG_SHARED_ARGC];
    char buf[1024];
};

/* The script (for SCRIPT LOAD at connect) and its SHA-1 (for EVALSHA). */
CG_EXTERN const char *cg_redis_script(void);
CG_EXTERN const char *cg_redis_script_sha(void);

/* Fills `cmd` for `call` with the same meaning as cg_policy_state: replay
 * keyed by r, for passed verdicts only, each kept until max(now, iat) +
 * `window` (freshness plus skew; 65 when 0), a call without a Call-ID
 * matching no other; per-minute thresholds per ingress and per signing SPC
 * (0 = off).  `intents` (CG_POLICY_NUM_* bits, from
 * cg_policy_intents_needed) names the numbers whose call intent to the
 * callee is looked up (cg_intent_redis_key), and a use of it spent.
 * `prefix` is the key prefix
 * (CG_REDIS_PREFIX).  Returns false when the call has nothing to record. */
CG_EXTERN bool cg_redis_observe_cmd(struct cg_redis_cmd *cmd, const char *prefix,
                                    const struct cg_policy_call *call, int window,
                                    unsigned rate_calls, unsigned rate_numbers, unsigned intents);
/* The reason bits (for cg_policy_call.shared) of the script's answer, an
 * array of four integers: replay, calls over, numbers over, and the
 * CG_POLICY_NUM_* bits of the numbers whose call intent was found (for
 * cg_policy_call.intents; read only the first three from an older
 * script). */
CG_EXTERN uint32_t cg_redis_observe_result(long long replay, long long calls, long long numbers);

#ifdef __cplusplus
}
#endif
#endif
