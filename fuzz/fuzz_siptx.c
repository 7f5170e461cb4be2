/*
 * The daemon's SIP request handling as a whole: a sequence of requests
 * through the transaction cache on both listeners, with INVITEs answered
 * (302), left pending, cancelled, dropped, and time moving on.
 *
 * Input: records separated by "\n~~~".  A record's first byte says what to
 * do with it; the rest is one request:
 *   bit 0     listener (0 signing, 1 verification)
 *   bit 1     also on the other listener
 *   bits 2-3  a new INVITE: 0 answered at once, 1 left pending to the end,
 *             2 answered after the next record, 3 dropped
 *   bit 4     then a whole TTL passes (and expiry runs)
 *   bit 5     then one second passes (and expiry runs)
 *   bit 6     the same request is sent again at once
 *   bit 7     its INVITEs' answers are handed over (cg_sip_tx_answer_take)
 *             rather than copied
 *
 * Checked: an answered transaction's retransmission gets the stored answer
 * byte for byte; a stored answer always belongs to the request (same
 * Call-ID, same listener); a CANCEL only ever names a call still pending;
 * every answer is text; once everything is answered and expired, the
 * cache is empty.
 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"

#define TTL 32
#define MAX_ENTRIES 8 /* small, so that eviction happens */
#define MAX_CALLS 32
#define SEP "\n~~~"

struct call {
    struct cg_sip_req req;
    struct cg_sip_tx *tx;
    unsigned listener;
    bool cancelled, take;
    int due; /* the record after which it is answered; -1: at the end */
};

static struct cg_sip_txcache *cache;
static struct call calls[MAX_CALLS];
static size_t ncalls;
static int64_t now;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_siptx: %s\n", what);
        abort();
    }
}

/* The answer a call gets: 302 (487 once cancelled) naming its listener. */
static void answer(struct call *k)
{
    char lst[40], *out;
    const char *extra[] = {"Contact: <sip:+14155550100@127.0.0.1>", lst};
    size_t n;
    snprintf(lst, sizeof lst, "Cidguard-Listener: %u", k->listener);
    if (cg_sip_response(&k->req, k->cancelled ? 487 : 302,
                        k->cancelled ? "Request Terminated" : "Moved Temporarily", extra, 2, &out,
                        &n) == CG_OK) {
        if (k->take) {
            cg_sip_tx_answer_take(cache, k->tx, out, n, now);
        } else {
            cg_sip_tx_answer(cache, k->tx, out, n, now);
            free(out);
        }
    } else {
        cg_sip_tx_drop(cache, k->tx);
    }
    cg_sip_req_clear(&k->req);
    /* the last call moves into this slot: its pending pointer follows */
    *k = calls[--ncalls];
    if (k != &calls[ncalls])
        cg_sip_tx_set_pending(k->tx, k);
}

/* An answer that came from the cache belongs to this request. */
static void check_stored(const char *msg, size_t len, unsigned listener, const char *out,
                         size_t outlen)
{
    struct cg_sip_req req;
    const char *p;
    char tag[40];
    check(cg_sip_parse_request(msg, len, &req, NULL) == CG_OK, "a stored answer to a bad request");
    p = strstr(out, "\r\nCall-ID: ");
    check(p && strncmp(p + 11, req.call_id, strlen(req.call_id)) == 0 &&
              p[11 + strlen(req.call_id)] == '\r',
          "a stored answer with another Call-ID");
    cg_sip_req_clear(&req);
    if ((p = strstr(out, "\r\nCidguard-Listener: "))) {
        snprintf(tag, sizeof tag, "\r\nCidguard-Listener: %u\r\n", listener);
        check(strncmp(p, tag, strlen(tag)) == 0, "another listener's answer");
    }
    (void)outlen;
}

static void one(const char *msg, size_t len, unsigned listener, unsigned ctl, int rec)
{
    struct cg_sip_received r;
    size_t i;
    int rc = cg_sip_txcache_receive(cache, listener, msg, len, now, &r);
    if (rc != CG_OK) {
        check(r.what == CG_SIP_IGNORE, "an error with something to do");
        cg_sip_req_clear(&r.req);
        return;
    }
    if (r.what == CG_SIP_SEND) {
        check(r.out && r.outlen > 8 && strlen(r.out) == r.outlen &&
                  memcmp(r.out, "SIP/2.0 ", 8) == 0,
              "an answer that is not a SIP response");
        if (r.kind == CG_SIP_K_RETRANSMISSION)
            check_stored(msg, len, listener, r.out, r.outlen);
        else
            check(!strstr(r.out, "\r\nCidguard-Listener: "), "a call's answer to a new request");
    }
    if (r.cancelled) {
        for (i = 0; i < ncalls && &calls[i] != r.cancelled; i++)
            ;
        check(i < ncalls && calls[i].tx && calls[i].listener == listener,
              "a CANCEL named no pending call of its listener");
        calls[i].cancelled = true;
    }
    if (r.what == CG_SIP_SEND && (r.kind == CG_SIP_K_OPTIONS || r.kind == CG_SIP_K_OTHER_METHOD ||
                                  r.kind == CG_SIP_K_RETRANSMISSION)) {
        /* stored: the same request again gets the same bytes */
        char *first = malloc(r.outlen);
        size_t flen = r.outlen;
        check(first != NULL, "out of memory");
        memcpy(first, r.out, flen);
        check(cg_sip_txcache_receive(cache, listener, msg, len, now, &r) == CG_OK &&
                  r.what == CG_SIP_SEND && r.kind == CG_SIP_K_RETRANSMISSION && r.outlen == flen &&
                  memcmp(r.out, first, flen) == 0,
              "a retransmission did not get the stored answer");
        free(first);
    }
    if (r.what != CG_SIP_INVITE) {
        cg_sip_req_clear(&r.req);
        return;
    }
    check(r.tx && r.req.method && strcmp(r.req.method, "INVITE") == 0, "an INVITE without entry");
    if (ncalls == MAX_CALLS || ((ctl >> 2) & 3) == 3) {
        cg_sip_tx_drop(cache, r.tx);
        cg_sip_req_clear(&r.req);
        return;
    }
    calls[ncalls] = (struct call){.req = r.req,
                                  .tx = r.tx,
                                  .listener = listener,
                                  .take = (ctl & 128) != 0,
                                  .due = ((ctl >> 2) & 3) == 1 ? -1 : rec + 1};
    cg_sip_tx_set_pending(r.tx, &calls[ncalls]);
    ncalls++;
    /* a retransmission while it is being answered gets nothing */
    check(cg_sip_txcache_receive(cache, listener, msg, len, now, &r) == CG_OK &&
              r.what == CG_SIP_IGNORE && r.kind == CG_SIP_K_RETRANSMISSION,
          "a pending INVITE's retransmission was not absorbed");
    if (((ctl >> 2) & 3) == 0) {
        char *stored;
        size_t slen;
        answer(&calls[ncalls - 1]);
        check(cg_sip_txcache_receive(cache, listener, msg, len, now, &r) == CG_OK &&
                  r.what == CG_SIP_SEND && r.kind == CG_SIP_K_RETRANSMISSION,
              "an answered INVITE's retransmission got no answer");
        check_stored(msg, len, listener, r.out, r.outlen);
        stored = malloc(r.outlen);
        check(stored != NULL, "out of memory");
        memcpy(stored, r.out, r.outlen);
        slen = r.outlen;
        check(cg_sip_txcache_receive(cache, listener, msg, len, now, &r) == CG_OK &&
                  r.outlen == slen && memcmp(r.out, stored, slen) == 0,
              "two retransmissions got different answers");
        free(stored);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    int rec = 0;
    size_t i;

    if (!cache && cg_sip_txcache_new(&cache, MAX_ENTRIES, TTL) != CG_OK)
        abort();
    now = 1000;
    ncalls = 0;
    while (p < end) {
        const char *sep = memmem(p, (size_t)(end - p), SEP, sizeof SEP - 1);
        const char *stop = sep ? sep : end;
        unsigned ctl = (unsigned char)*p, listener = ctl & 1;
        const char *msg = p + 1;
        size_t len = (size_t)(stop - msg);
        if (stop > p) {
            one(msg, len, listener, ctl, rec);
            if (ctl & 2)
                one(msg, len, !listener, ctl, rec);
            if (ctl & 64)
                one(msg, len, listener, ctl, rec);
            /* calls due now are answered */
            for (i = ncalls; i-- > 0;)
                if (calls[i].due >= 0 && calls[i].due <= rec)
                    answer(&calls[i]);
            if (ctl & 16)
                now += TTL;
            if (ctl & 32)
                now += 1;
            if (ctl & 48)
                cg_sip_txcache_expire(cache, now);
        }
        rec++;
        p = sep ? sep + sizeof SEP - 1 : end;
    }
    /* pending entries survived whatever expired meanwhile */
    check(cg_sip_txcache_size(cache) >= ncalls, "a pending entry was dropped");
    while (ncalls)
        answer(&calls[ncalls - 1]);
    cg_sip_txcache_expire(cache, now + TTL);
    check(cg_sip_txcache_size(cache) == 0, "answered entries outlived their time");
    return 0;
}
