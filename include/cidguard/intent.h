/*
 * Call intents: how a protected (bank) number is defended on unsigned
 * calls.
 *
 * Just before a bank dials, it registers an intent {from, to, valid_for}:
 * from is its protected number, to the number it is about to call.  A call
 * presenting a protected number without a verified signature may then be
 * allowed when a live intent for (from, to) exists; every call matched
 * consumes one of the intent's uses (retries within the window are allowed
 * up to max_uses).
 *
 * Numbers here are canonical E.164: 1 to CG_INTENT_TN_MAX digits without
 * '+', not starting with 0 (a country code never does).  Anything else
 * (the '#'/'*' forms tn.h allows, longer strings, national numbers) never
 * matches and is refused where it is registered.
 *
 * The store (struct cg_intents) is in memory, bounded and thread-safe: a
 * hash table in 64 shards, each behind its own mutex, so that lookups on
 * the call path (cg_intents_use) cost one short lock and a few probes and
 * rarely contend.  About 32 bytes per entry at a load of at most one half
 * (64 bytes per entry at worst: 64 MB for a million).
 *
 * Shared with other daemons through Redis, an intent is one key (see
 * cg_intent_redis_key) whose value is the number of uses left and whose
 * time to live is valid_for.
 */
#ifndef CIDGUARD_INTENT_H
#define CIDGUARD_INTENT_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "customers.h"
#include "policy.h" /* cg_policy_report_cb */

#ifdef __cplusplus
extern "C" {
#endif

#define CG_INTENT_TN_MAX 15 /* digits of an E.164 number */
/* Largest batch a parser accepts, whatever `max` the caller asks for. */
#define CG_INTENT_BATCH_MAX 100000u
/* Largest JSON body (bytes) cg_intents_parse_json reads. */
#define CG_INTENT_JSON_MAX (8u << 20)
/* Largest CSV text (bytes) cg_intents_parse_csv reads, and longest line. */
#define CG_INTENT_CSV_MAX (64u << 20)
#define CG_INTENT_CSV_LINE_MAX 1024u
/* valid_for when an intent does not give one (capped at max_valid_for). */
#define CG_INTENT_VALID_FOR_DEFAULT 120
/* Most uses an intent may have (cg_intents_new's max_uses). */
#define CG_INTENT_USES_MAX 1000u

/* One intent as registered: canonical numbers and seconds of validity. */
struct cg_intent {
    char from[CG_INTENT_TN_MAX + 1];
    char to[CG_INTENT_TN_MAX + 1];
    int valid_for;
};

/* One live intent as listed. */
struct cg_intent_entry {
    char from[CG_INTENT_TN_MAX + 1];
    char to[CG_INTENT_TN_MAX + 1];
    int64_t expires; /* Unix time at which it stops matching */
    unsigned uses;   /* uses left, at least 1 */
};

/*
 * Canonicalizes one number as an intent holds it: cg_tn_canon without a
 * numbering plan ("+447700900123", "447700900123" and "+44 7700 900123"
 * all give "447700900123"), then 1 to CG_INTENT_TN_MAX digits not starting
 * with 0.  `out` is written only on success.  Returns CG_OK, CG_EINVAL
 * (NULL argument) or CG_EPARSE.
 */
CG_EXTERN int cg_intent_number(const char *in, size_t len, char out[CG_INTENT_TN_MAX + 1]);

/* --- the store ---------------------------------------------------------------- */

struct cg_intents;

/*
 * A store of at most `max_entries` intents (1 to 100,000,000), each good
 * for `max_uses` calls (1 to CG_INTENT_USES_MAX).  *out is set only on
 * success.  Returns CG_OK, CG_EINVAL or CG_ENOMEM.
 */
CG_EXTERN int cg_intents_new(struct cg_intents **out, size_t max_entries, unsigned max_uses);
CG_EXTERN void cg_intents_free(struct cg_intents *s);

/*
 * Registers (from, to) until `expires` (Unix time; it matches while now <
 * expires) with max_uses fresh uses.  An intent already held for (from,
 * to) is replaced: fresh uses and the new expiry.  Returns CG_OK,
 * CG_EINVAL (a number that is not canonical E.164 as above, expires not
 * after now), CG_ETOOBIG (full even after dropping the expired ones) or
 * CG_ENOMEM.  Thread-safe.
 */
CG_EXTERN int cg_intents_add(struct cg_intents *s, const char *from, const char *to,
                             int64_t expires, int64_t now);
/*
 * Registers `n` intents, each until now + its valid_for, all or none: the
 * numbers and valid_for (at least 1) are checked and room for all `n` is
 * reserved before any is stored, so CG_EINVAL and CG_ETOOBIG leave the
 * store as it was.  (The reservation counts every element as new, so a
 * batch replacing intents can be refused by a nearly full store.)  Only
 * CG_ENOMEM, when a shard cannot grow, can leave part of a batch stored.
 */
CG_EXTERN int cg_intents_add_batch(struct cg_intents *s, const struct cg_intent *v, size_t n,
                                   int64_t now);

/* Removes the intent for (from, to).  Returns CG_OK, CG_ENOTFOUND (none
 * held, including an expired one) or CG_EINVAL. */
CG_EXTERN int cg_intents_cancel(struct cg_intents *s, const char *from, const char *to);

/*
 * The call path's lookup: true when a live intent for (from, to) with a
 * use left is held, and one use is then consumed (an intent whose last use
 * it was, or that has expired, is removed).  False for NULL arguments and
 * numbers an intent cannot hold.  Thread-safe, allocates nothing: one
 * shard lock, held for a few probes.
 */
CG_EXTERN bool cg_intents_use(struct cg_intents *s, const char *from, const char *to, int64_t now);

/*
 * Lists live intents whose `from` starts with `from_prefix` ("" or NULL:
 * all), calling cb(entry, arg) for each, outside the store's locks (cb
 * may use the store).  cb returns true when the entry counts towards
 * `max`, false to pass it over (a filter); the listing stops after `max`
 * counted entries.  Returns how many were counted.  Entries are visited
 * shard by shard in no particular order; one that is added, replaced or
 * removed during the listing may be missed or seen twice.
 */
CG_EXTERN size_t cg_intents_list(struct cg_intents *s, const char *from_prefix, int64_t now,
                                 size_t max, bool (*cb)(const struct cg_intent_entry *e, void *arg),
                                 void *arg);

/* Entries held, expired ones included until they are dropped. */
CG_EXTERN size_t cg_intents_count(const struct cg_intents *s);
/* Drops every expired entry; returns how many. */
CG_EXTERN size_t cg_intents_expire(struct cg_intents *s, int64_t now);
/* The uses a fresh intent gets. */
CG_EXTERN unsigned cg_intents_max_uses(const struct cg_intents *s);

/* --- batches: the HTTP API and the CLI -------------------------------------------- */

/*
 * Parses a registration body of `len` bytes (at most CG_INTENT_JSON_MAX),
 * one of:
 *     {"from":"+447700900123","to":"+447700900456","valid_for":120}
 *     {"intents":[{...},{...}]}
 *     [{...},{...}]
 * Each intent has "from" and "to" (strings, cg_intent_number) and may have
 * "valid_for" (an integer from 1 to max_valid_for; CG_INTENT_VALID_FOR_
 * DEFAULT, or max_valid_for when smaller, when absent); any other member
 * is refused, so that a misspelt "valid_for" is not silently ignored.  A
 * batch holds 1 to `max` intents (at most CG_INTENT_BATCH_MAX).
 *
 * All or nothing: on any error nothing counts, *n is 0 and `err` (when
 * errlen > 0) says why, naming the element ("intents[3]: to: not an E.164
 * number").  Returns CG_OK with *n intents in out[0..*n), CG_EPARSE (not
 * JSON, not this shape, a bad element), CG_ETOOBIG (body over the limit or
 * more than `max` intents) or CG_EINVAL/CG_ENOMEM.
 */
CG_EXTERN int cg_intents_parse_json(const char *body, size_t len, struct cg_intent *out, size_t max,
                                    size_t *n, int max_valid_for, char *err, size_t errlen);

/*
 * Parses CSV text (at most CG_INTENT_CSV_MAX bytes, lines at most
 * CG_INTENT_CSV_LINE_MAX):
 *     from,to,valid_for
 *     # comment lines and blank lines are ignored
 *     +447700900123,+447700900456,120
 *     447700900123,447700900789
 * The header is optional (a first line whose first field is "from"); the
 * third field is optional (the default above).  Whitespace around fields,
 * CRLF line ends and a UTF-8 byte-order mark are accepted.  Every bad line
 * is reported through cb(name, line, message, arg) (cb may be NULL) and
 * counted in *bad; the good ones are stored in out[0..*n).  Whether a file
 * with bad lines is used at all is the caller's choice.  Returns CG_OK,
 * CG_ETOOBIG (text over the limit, or more than `max` good lines: *n is
 * then 0) or CG_EINVAL.
 */
CG_EXTERN int cg_intents_parse_csv(const char *text, size_t len, const char *name,
                                   struct cg_intent *out, size_t max, size_t *n, size_t *bad,
                                   int max_valid_for, cg_policy_report_cb cb, void *arg);

/* --- keys of the registration API ------------------------------------------------- */

/*
 * Loads the keys file of the registration API:
 *     name,key_sha256,numbers
 *     bank1,sha256:<64 hex digits>,+442079460000;+44207946001*
 * One key per line: a unique name, the SHA-256 of the bearer key (64 hex
 * digits, "sha256:" optional; cidguard intent key makes one) and the
 * ';'-separated numbers the key may register as `from` (canonical E.164,
 * '+' optional, a trailing '*' makes a prefix).  It is loaded as a
 * customers set (customers.h) without addresses, so lookups by key and
 * ownership follow that file's rules: cg_customers_by_token(keys, bearer)
 * finds the key's row (its name: cg_customer_name), cg_customer_owns says
 * whether it holds a number.  Bad lines are reported with their line
 * number and skipped.  Returns as cg_customers_load_file.
 */
CG_EXTERN int cg_intent_keys_load_file(struct cg_customers **out, const char *path,
                                       cg_policy_report_cb cb, void *arg);
/* The same from `len` bytes of text named `name` in reports. */
CG_EXTERN int cg_intent_keys_load_text(struct cg_customers **out, const char *name,
                                       const char *text, size_t len, cg_policy_report_cb cb,
                                       void *arg);

/* --- Redis --------------------------------------------------------------------------- */

/* Bytes of the longest key cg_intent_redis_key writes, with its NUL, for a
 * prefix of at most 63 bytes. */
#define CG_INTENT_REDIS_KEY_SIZE (63 + 7 + 2 * CG_INTENT_TN_MAX + 2)

/*
 * The Redis key of the intent (from, to): "<prefix>intent:<from>:<to>",
 * e.g. "cidguard:intent:447700900123:447700900456" (prefix NULL:
 * CG_REDIS_PREFIX).  Its value is the number of uses left as a decimal
 * integer, and its time to live the intent's valid_for: a registration
 * writes SET key <max_uses> EX <valid_for>, a call consumes a use with GET
 * and, when above 0, DECR (in one script), a cancellation deletes it.  A
 * key whose value is 0 or less matches no call.  Returns the key's length,
 * or 0 when it does not fit in `cap` or a number is not canonical E.164.
 */
CG_EXTERN size_t cg_intent_redis_key(char *buf, size_t cap, const char *prefix, const char *from,
                                     const char *to);

#ifdef __cplusplus
}
#endif
#endif
