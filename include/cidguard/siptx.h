/*
 * SIP server transactions for a redirect server (RFC 3261 section 17.2,
 * as far as a server that answers every INVITE with one final response
 * needs them): a retransmitted request gets the stored answer again, never
 * a second verification; CANCEL names a parked INVITE; ACK is absorbed;
 * OPTIONS gets 200, other methods 405, malformed requests 400 when they
 * can be answered.
 *
 * One cache per thread: nothing here is thread-safe.  Times are seconds
 * on any monotonic or wall clock, as long as the caller uses one clock.
 */
#ifndef CIDGUARD_SIPTX_H
#define CIDGUARD_SIPTX_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "sip.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_sip_txcache;
struct cg_sip_tx;

#define CG_SIP_TX_MAX_ENTRIES (1u << 24) /* largest max_entries accepted */

/*
 * A cache that holds up to max_entries answered transactions, each kept
 * ttl_seconds after its answer (32 s, Timer H, suits UDP).  Its table has
 * four buckets per entry and sits on huge pages where the kernel allows.
 * CG_EINVAL for max_entries 0 or above CG_SIP_TX_MAX_ENTRIES, or
 * ttl_seconds < 1; CG_ENOMEM.  *out is set only on success.
 */
CG_EXTERN int cg_sip_txcache_new(struct cg_sip_txcache **out, size_t max_entries, int ttl_seconds);
/* Frees every entry and stored answer; pending pointers are not touched
 * (their calls must not use their entries afterwards).  NULL is a no-op. */
CG_EXTERN void cg_sip_txcache_free(struct cg_sip_txcache *c);
/*
 * Drops answered entries whose time is up, oldest first.  Entries not yet
 * answered are never dropped, whatever their age.  Call it about once a
 * second.
 */
CG_EXTERN void cg_sip_txcache_expire(struct cg_sip_txcache *c, int64_t now);
/* Entries held, answered or not. */
CG_EXTERN size_t cg_sip_txcache_size(const struct cg_sip_txcache *c);

enum cg_sip_disposition {
    CG_SIP_IGNORE, /* nothing to send (ACK, keep-alive, unanswerable garbage, retransmission
                      of a request still being answered) */
    CG_SIP_SEND,   /* send out/outlen back to the request's sender */
    CG_SIP_INVITE, /* a new INVITE transaction: answer it with cg_sip_tx_answer */
};

/* What a request was, for metrics. */
enum cg_sip_kind {
    CG_SIP_K_INVITE,         /* a new INVITE (CG_SIP_INVITE) */
    CG_SIP_K_RETRANSMISSION, /* a known transaction: its stored answer, or nothing yet */
    CG_SIP_K_OPTIONS,        /* 200 with Allow and Accept, stored */
    CG_SIP_K_CANCEL,         /* 200, not stored; `cancelled` if it named a pending INVITE */
    CG_SIP_K_ACK,            /* absorbed */
    CG_SIP_K_OTHER_METHOD,   /* 405 with Allow, stored */
    CG_SIP_K_BAD_ANSWERED,   /* malformed but answerable: 400 with a Warning, not stored */
    CG_SIP_K_BAD_DROPPED,    /* malformed and unanswerable: ignored */
    CG_SIP_K_KEEPALIVE,      /* a bare CRLF or CRLFCRLF (RFC 5626 section 3.5.1): ignored */
};

struct cg_sip_received {
    enum cg_sip_disposition what;
    enum cg_sip_kind kind;
    /* CG_SIP_SEND: the answer, owned by the cache, valid until the next
     * call on this cache. */
    const char *out;
    size_t outlen;
    /* CG_SIP_INVITE: the parsed request, now the caller's (free it with
     * cg_sip_req_clear; clearing it is harmless in every other case), and
     * its transaction. */
    struct cg_sip_req req;
    struct cg_sip_tx *tx;
    /* A CANCEL that named an INVITE still pending: the pointer given to
     * cg_sip_tx_set_pending.  The caller marks that call; the INVITE is
     * then answered as usual (487) with cg_sip_tx_answer. */
    void *cancelled;
};

/*
 * Parses one request (msg need not be NUL-terminated) and applies the
 * transaction rules on it.  `listener` is a small integer naming where the
 * request arrived (signing, verification, ...): transactions on different
 * listeners never match.  A transaction is keyed on the whole of its
 * listener, method (INVITE for CANCEL and ACK), top Via branch, Call-ID and
 * CSeq number without leading zeros, never on a truncation.
 *
 * Returns CG_OK with *r filled (every disposition, including malformed
 * input); CG_ENOMEM with r->what CG_SIP_IGNORE when an entry or answer
 * could not be allocated (the request is dropped; a retransmission will be
 * treated as new; r->cancelled is still set for a CANCEL).
 *
 * NOTE: a CG_SIP_INVITE entry is never dropped until answered, so every
 * one must reach cg_sip_tx_answer or cg_sip_tx_drop.
 */
CG_EXTERN int cg_sip_txcache_receive(struct cg_sip_txcache *c, unsigned listener, const char *msg,
                                     size_t len, int64_t now, struct cg_sip_received *r);

/* The pointer a CANCEL of this INVITE will return (the call being answered). */
CG_EXTERN void cg_sip_tx_set_pending(struct cg_sip_tx *tx, void *call);

/*
 * Stores a copy of the final answer to tx's request for its
 * retransmissions, clears its pending pointer and keeps it ttl seconds
 * from `now`.  A second answer replaces the first.  CG_ENOMEM drops the
 * entry (as cg_sip_tx_drop).  tx must be an entry not dropped.  Once
 * answered, the entry may leave at any later call on the cache: the
 * caller forgets tx.
 */
CG_EXTERN int cg_sip_tx_answer(struct cg_sip_txcache *c, struct cg_sip_tx *tx, const char *resp,
                               size_t len, int64_t now);

/*
 * The same, taking `resp` (malloc'ed, as cg_sip_response makes it) rather
 * than copying it: one allocation and copy less per call.  resp is freed
 * on CG_EINVAL.  It should end with a NUL past len, as cg_sip_response's
 * answers do, since a retransmission hands it out as text.
 */
CG_EXTERN int cg_sip_tx_answer_take(struct cg_sip_txcache *c, struct cg_sip_tx *tx, char *resp,
                                    size_t len, int64_t now);

/* Forgets a transaction that will not be answered (an allocation failed
 * on the caller's side): a retransmission is then treated as new.  tx is
 * invalid afterwards. */
CG_EXTERN void cg_sip_tx_drop(struct cg_sip_txcache *c, struct cg_sip_tx *tx);

#ifdef __cplusplus
}
#endif
#endif
