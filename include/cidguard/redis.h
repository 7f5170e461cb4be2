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

#include "intent.h"
#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* redis://[[user]:password@]host[:port][/db]; port 6379, db 0 and the
 * user "default" by default.  The user and password may be
 * percent-encoded (%40 for '@', %3A for ':', %2F for '/'). */
struct cg_redis_addr {
    char host[256];
    int port;
    int db;
    char password[128];
    char user[128]; /* an ACL user (Redis 6+); "" = AUTH with the password alone */
};
CG_EXTERN int cg_redis_parse_url(const char *url,
                                 struct cg_redis_addr *out); /* CG_OK or CG_EINVAL */

#define CG_REDIS_PREFIX "cidguard:"

/* Most nodes in a [redis] sentinels or cluster list. */
#define CG_REDIS_NODES_MAX 16
struct cg_redis_node {
    char host[256];
    int port;
};
/* Parses "host:port;host:port;..." (a bracketed [IPv6]:port too; blanks
 * around entries are skipped) into at most CG_REDIS_NODES_MAX nodes.
 * CG_EINVAL on a malformed entry, an empty list or too many. */
CG_EXTERN int cg_redis_parse_nodes(const char *list, struct cg_redis_node *out, size_t *n);

/* Where the shared state lives: one server (url alone), a master found
 * through Redis Sentinel (sentinels and master_name), or a Redis Cluster
 * (cluster: seed nodes).  url always gives the user, password and
 * database; with a cluster its node is one more seed, with sentinels its
 * node is not used. */
struct cg_redis_opts {
    const char *url;
    const char *sentinels;                         /* "host:port;...", NULL or "" = none */
    const char *master_name;                       /* the name the sentinels monitor */
    const char *sentinel_user, *sentinel_password; /* the sentinels' own AUTH, if any */
    const char *cluster;                           /* seed nodes, NULL or "" = none */
};

/* The lists that can live in Redis are policy.h's enum cg_list (the
 * numbering data stays in files). */

/* --- synchronous connection: lists and administration --------------------- */

struct cg_redis;
/* Connects and selects the database.  On failure returns CG_EIO and, when
 * err is given, a message in it. */
CG_EXTERN int cg_redis_connect(struct cg_redis **out, const char *url, const char *prefix,
                               int timeout_ms, char *err, size_t errlen);
/* The same for any topology: with sentinels, the master they name (each
 * asked in turn); with a cluster (or a url whose server is a cluster
 * node), the node that holds the lists' slot.  A url naming a replica is
 * followed to its master. */
CG_EXTERN int cg_redis_connect_opts(struct cg_redis **out, const struct cg_redis_opts *o,
                                    const char *prefix, int timeout_ms, char *err, size_t errlen);
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

/* --- the call path on a Redis Cluster: one script per slot ------------------- */

#define CG_REDIS_SLOTS 16384
/* The cluster slot of a key: CRC16 (XMODEM) of the key, or of its hash tag
 * (the part between the first '{' and the next '}', when not empty). */
CG_EXTERN unsigned cg_redis_keyslot(const char *key, size_t len);

/*
 * On a cluster every key of one script must be in one slot.  The keys of
 * a call are grouped by slot: the replay key (spread over the cluster by
 * the token's r), the two windows of the ingress (hash tag {ingress}), the
 * two of the SPC (hash tag {spc}), and each call-intent key (hash tag
 * {<presentation number>}: cg_redis_intent_key).  One EVALSHA
 * of the cluster script per slot; the answers are ORed together (each is
 * cg_redis_observe_result's array).  Within a slot the checks stay
 * atomic; across slots a call is several independent writes, as a
 * cluster requires.
 */
#define CG_REDIS_CLUSTER_ARGC 17
#define CG_REDIS_SLOT_CMDS_MAX 7
struct cg_redis_slot_cmd {
    unsigned slot;
    /* true: the call's replay key alone, checked without a script by
     * SET key call-id NX GET EX ttl (argv[2] is the Call-ID); its answer is
     * the Call-ID stored before, or nil: see cg_redis_replay_answer */
    bool replay_only;
    int argc;
    const char *argv[CG_REDIS_CLUSTER_ARGC];
    size_t argvlen[CG_REDIS_CLUSTER_ARGC];
};
struct cg_redis_cmds {
    int n;
    struct cg_redis_slot_cmd cmd[CG_REDIS_SLOT_CMDS_MAX];
    char buf[1536]; /* the keys and arguments that argv points to */
};
/* The reason bits of a replay_only command's answer: `found` with the
 * Call-ID stored before (old, oldlen) against the one sent (call_id,
 * len), with the script's meaning (a use without a Call-ID matches no
 * other). */
CG_EXTERN uint32_t cg_redis_replay_answer(bool found, const char *old, size_t oldlen,
                                          const char *call_id, size_t len);
CG_EXTERN const char *cg_redis_cluster_script(void);
CG_EXTERN const char *cg_redis_cluster_script_sha(void);
/* The commands for `call`, with cg_redis_observe_cmd's arguments and
 * meaning, for the cluster script; false when the call has nothing to
 * record.  With `cluster`, one command per slot and the rate windows'
 * and the call intents' keys under hash tags; without, one command with every key (the same
 * keys as cg_redis_observe_cmd's, none of them "": an ACL user limited to
 * the prefix's keys may run it). */
CG_EXTERN bool cg_redis_observe_cmds(struct cg_redis_cmds *out, const char *prefix,
                                     const struct cg_policy_call *call, int window,
                                     unsigned rate_calls, unsigned rate_numbers, unsigned intents,
                                     bool cluster);

/* --- call intents on any topology ------------------------------------------------ */

/* Bytes of the longest key cg_redis_intent_key or cg_redis_intent_index
 * writes, with its NUL, for a prefix of at most 63 bytes. */
#define CG_REDIS_INTENT_KEY_SIZE (CG_INTENT_REDIS_KEY_SIZE + 2)

/*
 * The key of the intent (from, to): cg_intent_redis_key's
 * "<prefix>intent:<from>:<to>", or with `cluster` the presentation number
 * as its hash tag, "<prefix>intent:{<from>}:<to>", so that on a cluster an
 * intent's key and its number's index (cg_redis_intent_index) share a slot
 * and one script writes both.  Returns the key's length, or 0 when it does
 * not fit in `cap` or a number is not canonical E.164.
 */
CG_EXTERN size_t cg_redis_intent_key(char *buf, size_t cap, const char *prefix, const char *from,
                                     const char *to, bool cluster);
/* The index of from's intents (a sorted set: member the callee, score the
 * expiry): "<prefix>intents:<from>", or "<prefix>intents:{<from>}" with
 * `cluster`.  Returns its length, or 0 as cg_redis_intent_key. */
CG_EXTERN size_t cg_redis_intent_index(char *buf, size_t cap, const char *prefix, const char *from,
                                       bool cluster);

/* --- campaign behaviour shared between daemons ------------------------------------ */

/*
 * The stream the daemons publish their observed calls to
 * (cg_behaviour_call_encode) and read the others' from:
 * "<prefix>{campaign}:calls".  One key, so one slot of a cluster (the hash
 * tag names it).  Returns its length, or 0 when it does not fit in cap.
 */
CG_EXTERN size_t cg_redis_behaviour_stream(char *buf, size_t cap, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
