/* SIP server transactions: retransmissions, CANCEL, ACK, OPTIONS, 405, 400,
 * expiry, the capacity bound and keys that are never cut short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define SIGN 0u
#define VERIFY 1u

/* A request from a template; every value is the caller's, whatever its
 * length.  malloc'ed. */
static char *req(const char *method, const char *branch, const char *call_id, const char *cseq,
                 const char *cseq_method)
{
    static const char fmt[] = "%s sip:+14155550100@sbc.example;user=phone SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=%s\r\n"
                              "Max-Forwards: 70\r\n"
                              "From: <sip:+442079460000@carrier.example;user=phone>;tag=19283\r\n"
                              "To: <sip:+14155550100@sbc.example;user=phone>\r\n"
                              "Call-ID: %s\r\n"
                              "CSeq: %s %s\r\n"
                              "Content-Length: 0\r\n\r\n";
    size_t n = sizeof fmt + strlen(method) + strlen(branch) + strlen(call_id) + strlen(cseq) +
               strlen(cseq_method);
    char *m = malloc(n);
    assert_non_null(m);
    snprintf(m, n, fmt, method, branch, call_id, cseq, cseq_method);
    return m;
}

#define INVITE(branch, cid, cseq) req("INVITE", branch, cid, cseq, "INVITE")

static struct cg_sip_txcache *cache(size_t max, int ttl)
{
    struct cg_sip_txcache *c = NULL;
    assert_int_equal(cg_sip_txcache_new(&c, max, ttl), CG_OK);
    assert_non_null(c);
    return c;
}

/* Receives msg (then frees it) and checks the disposition and kind. */
static void recv_msg(struct cg_sip_txcache *c, unsigned listener, char *msg, int64_t now,
                     struct cg_sip_received *r, enum cg_sip_disposition what, enum cg_sip_kind kind,
                     const char *label)
{
    int rc = cg_sip_txcache_receive(c, listener, msg, strlen(msg), now, r);
    free(msg);
    if (rc != CG_OK)
        fail_msg("%s: receive returned %s", label, cg_errname(rc));
    if (r->what != what || r->kind != kind)
        fail_msg("%s: disposition %d kind %d, expected %d and %d", label, (int)r->what,
                 (int)r->kind, (int)what, (int)kind);
    if (what == CG_SIP_INVITE && (!r->tx || !r->req.method))
        fail_msg("%s: an INVITE without its entry or request", label);
    if (what == CG_SIP_SEND && (!r->out || r->outlen == 0 || strlen(r->out) != r->outlen))
        fail_msg("%s: nothing (or not text) to send", label);
}

/* Answers a new INVITE with a 302 built from it; the answer (malloc'ed)
 * is returned to compare retransmissions with. */
static char *answer(struct cg_sip_txcache *c, struct cg_sip_received *r, const char *contact,
                    int64_t now, size_t *len)
{
    const char *extra[] = {contact};
    char *out;
    assert_int_equal(cg_sip_response(&r->req, 302, "Moved Temporarily", extra, 1, &out, len),
                     CG_OK);
    assert_int_equal(cg_sip_tx_answer(c, r->tx, out, *len, now), CG_OK);
    cg_sip_req_clear(&r->req);
    return out;
}

static void expect_answer(const struct cg_sip_received *r, const char *a, size_t alen,
                          const char *label)
{
    if (r->what != CG_SIP_SEND || r->outlen != alen || memcmp(r->out, a, alen) != 0)
        fail_msg("%s: not the stored answer:\n%.*s", label, (int)r->outlen,
                 r->out ? r->out : "(nothing)");
}

static void test_retransmission(void **state)
{
    struct cg_sip_txcache *c = cache(64, 32);
    struct cg_sip_received r;
    char *a;
    size_t alen;
    int i;
    (void)state;
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call-1@a", "1"), 100, &r, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "first INVITE");
    cg_sip_tx_set_pending(r.tx, c);
    {
        struct cg_sip_received r2;
        recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call-1@a", "1"), 100, &r2, CG_SIP_IGNORE,
                 CG_SIP_K_RETRANSMISSION, "retransmission while pending");
    }
    a = answer(c, &r, "Contact: <sip:a@b>", 100, &alen);
    for (i = 0; i < 3; i++) {
        recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call-1@a", "1"), 101 + i, &r, CG_SIP_SEND,
                 CG_SIP_K_RETRANSMISSION, "retransmission after the answer");
        expect_answer(&r, a, alen, "retransmission after the answer");
    }
    assert_int_equal(cg_sip_txcache_size(c), 1);
    /* another CSeq, branch or Call-ID is another transaction */
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call-1@a", "2"), 101, &r, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "next CSeq");
    cg_sip_req_clear(&r.req);
    recv_msg(c, VERIFY, INVITE("z9hG4bK2", "call-1@a", "1"), 101, &r, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "other branch");
    cg_sip_req_clear(&r.req);
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call-2@a", "1"), 101, &r, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "other Call-ID");
    cg_sip_req_clear(&r.req);
    free(a);
    cg_sip_txcache_free(c);
}

/*
 * Two requests that agree on their first 1,023 bytes of Call-ID or branch
 * (more than a 1,024-byte key holds) and differ after: two transactions.
 */
static char *filled(size_t n, char fill, size_t at, char mark)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, fill, n);
    s[at] = mark;
    s[n] = '\0';
    return s;
}

static void test_long_identifiers(void **state)
{
    static const struct {
        const char *name;
        size_t len, at; /* the identifier's length; where the two differ */
        int which;      /* 0 Call-ID, 1 branch, 2 CSeq after a long Call-ID */
    } rows[] = {
        {"Call-ID differing at byte 1,024", 1100, 1023, 0},
        {"Call-ID differing at byte 1,025", 1100, 1024, 0},
        {"Call-ID differing in its last byte (60,000)", 60000, 59999, 0},
        {"branch differing at byte 1,024", 1100, 1023, 1},
        {"branch differing in its last byte (3,000)", 3000, 2999, 1},
        {"CSeq differing after a 1,100-byte Call-ID", 1100, 0, 2},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_sip_txcache *c = cache(64, 32);
        struct cg_sip_received r;
        char label[128], *a, *b, *ans, *m1, *m2;
        size_t alen;
        if (rows[i].which == 2) {
            a = filled(rows[i].len, 'c', 0, 'c');
            b = filled(rows[i].len, 'c', 0, 'c');
        } else {
            a = filled(rows[i].len, rows[i].which == 1 ? 'b' : 'c', rows[i].at, 'X');
            b = filled(rows[i].len, rows[i].which == 1 ? 'b' : 'c', rows[i].at, 'Y');
        }
        if (rows[i].which == 1) {
            memcpy(a, "z9hG4bK", 7);
            memcpy(b, "z9hG4bK", 7);
        }
        switch (rows[i].which) {
        case 0:
            m1 = INVITE("z9hG4bKx", a, "1");
            m2 = INVITE("z9hG4bKx", b, "1");
            break;
        case 1:
            m1 = INVITE(a, "call@a", "1");
            m2 = INVITE(b, "call@a", "1");
            break;
        default:
            m1 = INVITE("z9hG4bKx", a, "1");
            m2 = INVITE("z9hG4bKx", b, "2");
            break;
        }
        snprintf(label, sizeof label, "%s, first", rows[i].name);
        recv_msg(c, VERIFY, m1, 100, &r, CG_SIP_INVITE, CG_SIP_K_INVITE, label);
        ans = answer(c, &r, "Contact: <sip:first@b>", 100, &alen);
        snprintf(label, sizeof label, "%s, second", rows[i].name);
        recv_msg(c, VERIFY, m2, 100, &r, CG_SIP_INVITE, CG_SIP_K_INVITE, label);
        cg_sip_req_clear(&r.req);
        if (cg_sip_txcache_size(c) != 2)
            fail_msg("%s: %zu entries, expected 2", rows[i].name, cg_sip_txcache_size(c));
        free(ans);
        free(a);
        free(b);
        cg_sip_txcache_free(c);
    }
}

static void test_listeners(void **state)
{
    struct cg_sip_txcache *c = cache(64, 32);
    struct cg_sip_received rs, rv, r;
    char *sa, *va;
    size_t sl, vl;
    (void)state;
    recv_msg(c, SIGN, INVITE("z9hG4bK1", "call@a", "1"), 100, &rs, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "INVITE on the signing listener");
    cg_sip_tx_set_pending(rs.tx, &sl);
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "1"), 100, &rv, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "same INVITE on the verification listener");
    cg_sip_tx_set_pending(rv.tx, &vl);
    if (rs.tx == rv.tx)
        fail_msg("the two listeners share one entry");
    recv_msg(c, SIGN, req("CANCEL", "z9hG4bK1", "call@a", "1", "CANCEL"), 100, &r, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL on the signing listener");
    if (r.cancelled != &sl)
        fail_msg("CANCEL on the signing listener did not name the signing INVITE");
    recv_msg(c, VERIFY, req("CANCEL", "z9hG4bK1", "call@a", "1", "CANCEL"), 100, &r, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL on the verification listener");
    if (r.cancelled != &vl)
        fail_msg("CANCEL on the verification listener did not name the verification INVITE");
    recv_msg(c, 5, req("CANCEL", "z9hG4bK1", "call@a", "1", "CANCEL"), 100, &r, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL on a third listener");
    if (r.cancelled)
        fail_msg("CANCEL on a third listener cancelled another listener's INVITE");
    sa = answer(c, &rs, "Cidguard-Attest: A", 100, &sl);
    va = answer(c, &rv, "Cidguard-Verstat: TN-Validation-Passed", 100, &vl);
    recv_msg(c, SIGN, INVITE("z9hG4bK1", "call@a", "1"), 101, &r, CG_SIP_SEND,
             CG_SIP_K_RETRANSMISSION, "retransmission on the signing listener");
    expect_answer(&r, sa, sl, "retransmission on the signing listener");
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "1"), 101, &r, CG_SIP_SEND,
             CG_SIP_K_RETRANSMISSION, "retransmission on the verification listener");
    expect_answer(&r, va, vl, "retransmission on the verification listener");
    recv_msg(c, 7, INVITE("z9hG4bK1", "call@a", "1"), 101, &r, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "a third listener");
    cg_sip_req_clear(&r.req);
    recv_msg(c, SIGN, req("OPTIONS", "z9hG4bK1", "call@a", "1", "OPTIONS"), 101, &r, CG_SIP_SEND,
             CG_SIP_K_OPTIONS, "OPTIONS on the signing listener");
    recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bK1", "call@a", "1", "OPTIONS"), 101, &r, CG_SIP_SEND,
             CG_SIP_K_OPTIONS, "OPTIONS on the verification listener");
    assert_int_equal(cg_sip_txcache_size(c), 5);
    free(sa);
    free(va);
    cg_sip_txcache_free(c);
}

static void test_cancel(void **state)
{
    struct cg_sip_txcache *c = cache(64, 32);
    struct cg_sip_received r, rc;
    int call;
    char *a;
    size_t alen;
    (void)state;
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "7"), 100, &r, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "INVITE");
    cg_sip_tx_set_pending(r.tx, &call);
    recv_msg(c, VERIFY, req("CANCEL", "z9hG4bK1", "call@a", "7", "CANCEL"), 100, &rc, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL of the pending INVITE");
    if (rc.cancelled != &call)
        fail_msg("CANCEL of the pending INVITE: its pending pointer not returned");
    if (strncmp(rc.out, "SIP/2.0 200 OK\r\n", 16) != 0 || !strstr(rc.out, "\r\nCSeq: 7 CANCEL\r\n"))
        fail_msg("CANCEL of the pending INVITE: not a 200 to the CANCEL:\n%s", rc.out);
    if (cg_sip_txcache_size(c) != 1)
        fail_msg("CANCEL of the pending INVITE: the CANCEL got an entry of its own");
    /* CSeq with leading zeros names the same INVITE */
    recv_msg(c, VERIFY, req("CANCEL", "z9hG4bK1", "call@a", "007", "CANCEL"), 100, &rc, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL with CSeq 007");
    if (rc.cancelled != &call)
        fail_msg("CANCEL with CSeq 007: the INVITE with CSeq 7 not found");
    /* the call answers 487 as usual; a CANCEL after that cancels nothing */
    a = answer(c, &r, "Reason: SIP;cause=487", 101, &alen);
    recv_msg(c, VERIFY, req("CANCEL", "z9hG4bK1", "call@a", "7", "CANCEL"), 101, &rc, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL of an answered INVITE");
    if (rc.cancelled)
        fail_msg("CANCEL of an answered INVITE returned a pending pointer");
    /* an INVITE nobody sent: 200 all the same (what the daemon always did) */
    recv_msg(c, VERIFY, req("CANCEL", "z9hG4bK9", "other@a", "1", "CANCEL"), 101, &rc, CG_SIP_SEND,
             CG_SIP_K_CANCEL, "CANCEL of an unknown INVITE");
    if (rc.cancelled || strncmp(rc.out, "SIP/2.0 200 OK\r\n", 16) != 0)
        fail_msg("CANCEL of an unknown INVITE: expected 200 and nothing cancelled");
    assert_int_equal(cg_sip_txcache_size(c), 1);
    free(a);
    cg_sip_txcache_free(c);
}

static void test_ack(void **state)
{
    struct cg_sip_txcache *c = cache(64, 32);
    struct cg_sip_received r;
    char *a;
    size_t alen;
    (void)state;
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "1"), 100, &r, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "INVITE");
    a = answer(c, &r, "Contact: <sip:a@b>", 100, &alen);
    recv_msg(c, VERIFY, req("ACK", "z9hG4bK1", "call@a", "1", "ACK"), 100, &r, CG_SIP_IGNORE,
             CG_SIP_K_ACK, "ACK of the 302");
    recv_msg(c, VERIFY, req("ACK", "z9hG4bK5", "nobody@a", "1", "ACK"), 100, &r, CG_SIP_IGNORE,
             CG_SIP_K_ACK, "ACK of nothing");
    assert_int_equal(cg_sip_txcache_size(c), 1);
    /* the INVITE's answer is still there */
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "1"), 100, &r, CG_SIP_SEND,
             CG_SIP_K_RETRANSMISSION, "INVITE after its ACK");
    expect_answer(&r, a, alen, "INVITE after its ACK");
    free(a);
    cg_sip_txcache_free(c);
}

static void test_options_and_other_methods(void **state)
{
    static const struct {
        const char *method, *status, *header[2];
        enum cg_sip_kind kind;
    } rows[] = {
        {"OPTIONS",
         "SIP/2.0 200 OK\r\n",
         {"\r\nAllow: INVITE, ACK, CANCEL, OPTIONS\r\n", "\r\nAccept: application/sdp\r\n"},
         CG_SIP_K_OPTIONS},
        {"BYE",
         "SIP/2.0 405 Method Not Allowed\r\n",
         {"\r\nAllow: INVITE, ACK, CANCEL, OPTIONS\r\n", "\r\nCSeq: 1 BYE\r\n"},
         CG_SIP_K_OTHER_METHOD},
        {"REGISTER",
         "SIP/2.0 405 Method Not Allowed\r\n",
         {"\r\nAllow: INVITE, ACK, CANCEL, OPTIONS\r\n", "\r\nCSeq: 1 REGISTER\r\n"},
         CG_SIP_K_OTHER_METHOD},
        {"invite",
         "SIP/2.0 405 Method Not Allowed\r\n", /* methods are case-sensitive */
         {"\r\nAllow: INVITE, ACK, CANCEL, OPTIONS\r\n", "\r\nCSeq: 1 invite\r\n"},
         CG_SIP_K_OTHER_METHOD},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_sip_txcache *c = cache(64, 32);
        struct cg_sip_received r;
        char *first;
        size_t flen;
        recv_msg(c, SIGN, req(rows[i].method, "z9hG4bK1", "call@a", "1", rows[i].method), 100, &r,
                 CG_SIP_SEND, rows[i].kind, rows[i].method);
        if (strncmp(r.out, rows[i].status, strlen(rows[i].status)) != 0 ||
            !strstr(r.out, rows[i].header[0]) || !strstr(r.out, rows[i].header[1]))
            fail_msg("%s: unexpected answer:\n%s", rows[i].method, r.out);
        if (cg_sip_txcache_size(c) != 1)
            fail_msg("%s: answer not stored", rows[i].method);
        first = strdup(r.out);
        flen = r.outlen;
        recv_msg(c, SIGN, req(rows[i].method, "z9hG4bK1", "call@a", "1", rows[i].method), 100, &r,
                 CG_SIP_SEND, CG_SIP_K_RETRANSMISSION, rows[i].method);
        expect_answer(&r, first, flen, rows[i].method);
        free(first);
        cg_sip_txcache_free(c);
    }
}

static void test_malformed(void **state)
{
    static const struct {
        const char *name, *msg;
        enum cg_sip_disposition what;
        enum cg_sip_kind kind;
        const char *warning; /* expected in the 400 */
    } rows[] = {
        {"empty datagram", "", CG_SIP_IGNORE, CG_SIP_K_KEEPALIVE, NULL},
        {"CRLF keep-alive", "\r\n", CG_SIP_IGNORE, CG_SIP_K_KEEPALIVE, NULL},
        {"CRLFCRLF keep-alive", "\r\n\r\n", CG_SIP_IGNORE, CG_SIP_K_KEEPALIVE, NULL},
        {"binary garbage", "\x01\x02\xff\xfe garbage", CG_SIP_IGNORE, CG_SIP_K_BAD_DROPPED, NULL},
        {"a response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\r\n",
         CG_SIP_IGNORE, CG_SIP_K_BAD_DROPPED, NULL},
        {"no CSeq (unanswerable)",
         "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nContent-Length: 0\r\n\r\n",
         CG_SIP_IGNORE, CG_SIP_K_BAD_DROPPED, NULL},
        {"CSeq method not the request's",
         "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
         CG_SIP_SEND, CG_SIP_K_BAD_ANSWERED, "Warning: 399 cidguard \"bad CSeq header\""},
        {"CSeq 2^31 (RFC 3261 8.1.1.5)",
         "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nCSeq: 2147483648 INVITE\r\nContent-Length: 0\r\n\r\n",
         CG_SIP_SEND, CG_SIP_K_BAD_ANSWERED, "Warning: 399 cidguard \"bad CSeq header\""},
        {"CSeq 9999999999",
         "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: "
         "<sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nCSeq: 9999999999 OPTIONS\r\nContent-Length: 0\r\n\r\n",
         CG_SIP_SEND, CG_SIP_K_BAD_ANSWERED, "Warning: 399 cidguard \"bad CSeq header\""},
        {"body shorter than Content-Length",
         "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nCSeq: 1 INVITE\r\nContent-Length: 10\r\n\r\nabc",
         CG_SIP_SEND, CG_SIP_K_BAD_ANSWERED,
         "Warning: 399 cidguard \"body shorter than Content-Length\""},
        {"CSeq 2^31 - 1 (accepted)",
         "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nCSeq: 2147483647 INVITE\r\nContent-Length: 0\r\n\r\n",
         CG_SIP_INVITE, CG_SIP_K_INVITE, NULL},
        {"CSeq 0 (accepted)",
         "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
         "To: <sip:a@b>\r\nCall-ID: c@a\r\nCSeq: 0 INVITE\r\nContent-Length: 0\r\n\r\n",
         CG_SIP_INVITE, CG_SIP_K_INVITE, NULL},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_sip_txcache *c = cache(64, 32);
        struct cg_sip_received r;
        recv_msg(c, VERIFY, strdup(rows[i].msg), 100, &r, rows[i].what, rows[i].kind, rows[i].name);
        if (rows[i].warning && (strncmp(r.out, "SIP/2.0 400 Bad Request\r\n", 25) != 0 ||
                                !strstr(r.out, rows[i].warning)))
            fail_msg("%s: unexpected answer:\n%s", rows[i].name, r.out);
        if (rows[i].what != CG_SIP_INVITE && cg_sip_txcache_size(c) != 0)
            fail_msg("%s: stored", rows[i].name);
        cg_sip_req_clear(&r.req);
        cg_sip_txcache_free(c);
    }
}

/* Answered entries leave ttl seconds after their answer; entries still
 * pending never do, even at the head of the queue. */
static void test_expiry(void **state)
{
    struct cg_sip_txcache *c = cache(64, 32);
    struct cg_sip_received r, pending;
    char *a;
    size_t alen;
    int call;
    (void)state;
    recv_msg(c, VERIFY, INVITE("z9hG4bKp", "pending@a", "1"), 100, &pending, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "pending INVITE");
    cg_sip_tx_set_pending(pending.tx, &call);
    recv_msg(c, VERIFY, INVITE("z9hG4bKa", "answered@a", "1"), 100, &r, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "answered INVITE");
    a = answer(c, &r, "Contact: <sip:a@b>", 100, &alen);
    recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", "options@a", "1", "OPTIONS"), 110, &r,
             CG_SIP_SEND, CG_SIP_K_OPTIONS, "OPTIONS");
    cg_sip_txcache_expire(c, 131);
    if (cg_sip_txcache_size(c) != 3)
        fail_msg("expire(131): %zu entries, expected 3", cg_sip_txcache_size(c));
    cg_sip_txcache_expire(c, 132); /* the INVITE answered at 100 */
    if (cg_sip_txcache_size(c) != 2)
        fail_msg("expire(132): %zu entries, expected 2", cg_sip_txcache_size(c));
    cg_sip_txcache_expire(c, 142); /* OPTIONS answered at 110 */
    if (cg_sip_txcache_size(c) != 1)
        fail_msg("expire(142): %zu entries, expected 1 (the pending one)", cg_sip_txcache_size(c));
    cg_sip_txcache_expire(c, 100000);
    if (cg_sip_txcache_size(c) != 1)
        fail_msg("expire(100000): the pending entry was dropped");
    /* still the same transaction, still cancellable */
    recv_msg(c, VERIFY, req("CANCEL", "z9hG4bKp", "pending@a", "1", "CANCEL"), 100000, &r,
             CG_SIP_SEND, CG_SIP_K_CANCEL, "CANCEL of the old pending INVITE");
    assert_ptr_equal(r.cancelled, &call);
    /* an expired transaction's retransmission is a new transaction */
    recv_msg(c, VERIFY, INVITE("z9hG4bKa", "answered@a", "1"), 100000, &r, CG_SIP_INVITE,
             CG_SIP_K_INVITE, "INVITE after its entry expired");
    cg_sip_tx_drop(c, r.tx);
    cg_sip_req_clear(&r.req);
    free(a);
    a = answer(c, &pending, "Contact: <sip:late@b>", 100001, &alen);
    cg_sip_txcache_expire(c, 100032);
    if (cg_sip_txcache_size(c) != 1)
        fail_msg("expire(100032): the late answer left early");
    cg_sip_txcache_expire(c, 100033);
    if (cg_sip_txcache_size(c) != 0)
        fail_msg("expire(100033): %zu entries left", cg_sip_txcache_size(c));
    free(a);
    cg_sip_txcache_free(c);
}

/* With max_entries 4, the oldest answered entries leave first; pending ones
 * stay, even past the maximum. */
static void test_capacity(void **state)
{
    struct cg_sip_txcache *c = cache(4, 32);
    struct cg_sip_received r, p[3];
    char cid[32];
    int i, call;
    (void)state;
    recv_msg(c, VERIFY, INVITE("z9hG4bKp", "pending@a", "1"), 100, &p[0], CG_SIP_INVITE,
             CG_SIP_K_INVITE, "pending INVITE");
    cg_sip_tx_set_pending(p[0].tx, &call);
    for (i = 1; i <= 4; i++) {
        snprintf(cid, sizeof cid, "o%d@a", i);
        recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", cid, "1", "OPTIONS"), 100 + i, &r,
                 CG_SIP_SEND, CG_SIP_K_OPTIONS, cid);
        if (cg_sip_txcache_size(c) > 4)
            fail_msg("after OPTIONS %d: %zu entries, the maximum is 4", i, cg_sip_txcache_size(c));
    }
    /* o1 (the oldest answered) left; the pending INVITE and o2-o4 stayed */
    recv_msg(c, VERIFY, INVITE("z9hG4bKp", "pending@a", "1"), 105, &r, CG_SIP_IGNORE,
             CG_SIP_K_RETRANSMISSION, "pending INVITE at the maximum");
    for (i = 4; i >= 2; i--) {
        snprintf(cid, sizeof cid, "o%d@a", i);
        recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", cid, "1", "OPTIONS"), 105, &r, CG_SIP_SEND,
                 CG_SIP_K_RETRANSMISSION, cid);
    }
    recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", "o1@a", "1", "OPTIONS"), 105, &r, CG_SIP_SEND,
             CG_SIP_K_OPTIONS, "o1, evicted, is new again");
    /* that pushed o2 out */
    recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", "o2@a", "1", "OPTIONS"), 105, &r, CG_SIP_SEND,
             CG_SIP_K_OPTIONS, "o2, evicted by o1, is new again");
    assert_int_equal(cg_sip_txcache_size(c), 4);
    cg_sip_tx_drop(c, p[0].tx);
    cg_sip_req_clear(&p[0].req);
    cg_sip_txcache_free(c);

    /* a cache full of pending entries grows rather than drop one */
    c = cache(2, 32);
    for (i = 0; i < 3; i++) {
        snprintf(cid, sizeof cid, "p%d@a", i);
        recv_msg(c, VERIFY, INVITE("z9hG4bKp", cid, "1"), 100, &p[i], CG_SIP_INVITE,
                 CG_SIP_K_INVITE, cid);
        cg_sip_tx_set_pending(p[i].tx, &p[i]);
    }
    assert_int_equal(cg_sip_txcache_size(c), 3);
    for (i = 0; i < 3; i++) {
        struct cg_sip_received rc;
        snprintf(cid, sizeof cid, "p%d@a", i);
        recv_msg(c, VERIFY, req("CANCEL", "z9hG4bKp", cid, "1", "CANCEL"), 100, &rc, CG_SIP_SEND,
                 CG_SIP_K_CANCEL, cid);
        assert_ptr_equal(rc.cancelled, &p[i]);
    }
    for (i = 0; i < 3; i++) {
        size_t alen;
        free(answer(c, &p[i], "Contact: <sip:a@b>", 100, &alen));
    }
    /* answered now: the next entry brings the cache back to its maximum */
    recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", "o@a", "1", "OPTIONS"), 101, &r, CG_SIP_SEND,
             CG_SIP_K_OPTIONS, "OPTIONS after the pending ones were answered");
    assert_int_equal(cg_sip_txcache_size(c), 2);
    cg_sip_txcache_free(c);

    /* over the maximum with pending entries, each answered one pushes out
     * the answered one before it */
    c = cache(2, 32);
    for (i = 0; i < 3; i++) {
        snprintf(cid, sizeof cid, "p%d@a", i);
        recv_msg(c, VERIFY, INVITE("z9hG4bKp", cid, "1"), 100, &p[i], CG_SIP_INVITE,
                 CG_SIP_K_INVITE, cid);
    }
    for (i = 0; i < 5; i++) {
        snprintf(cid, sizeof cid, "o%d@a", i);
        recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", cid, "1", "OPTIONS"), 100, &r, CG_SIP_SEND,
                 CG_SIP_K_OPTIONS, cid);
        if (cg_sip_txcache_size(c) != 4)
            fail_msg("3 pending, then OPTIONS %d: %zu entries, expected 4", i,
                     cg_sip_txcache_size(c));
    }
    recv_msg(c, VERIFY, req("OPTIONS", "z9hG4bKo", "o4@a", "1", "OPTIONS"), 100, &r, CG_SIP_SEND,
             CG_SIP_K_RETRANSMISSION, "the newest OPTIONS among pending entries");
    for (i = 0; i < 3; i++) {
        cg_sip_tx_drop(c, p[i].tx);
        cg_sip_req_clear(&p[i].req);
    }
    assert_int_equal(cg_sip_txcache_size(c), 1);
    cg_sip_txcache_free(c);
}

static void test_cseq_leading_zeros(void **state)
{
    static const struct {
        const char *name, *first, *second;
        bool same;
    } rows[] = {
        {"1 and 0001", "1", "0001", true},
        {"0 and 00", "0", "00", true},
        {"10 and 010", "10", "010", true},
        {"1 and 10", "1", "10", false},
        {"10 and 100", "10", "100", false},
        {"1 and 0000000001 (ten digits)", "1", "0000000001", true},
        {"2147483 and 0002147483 (ten digits)", "2147483", "0002147483", true},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_sip_txcache *c = cache(64, 32);
        struct cg_sip_received r;
        char *a;
        size_t alen;
        recv_msg(c, SIGN, INVITE("z9hG4bK1", "call@a", rows[i].first), 100, &r, CG_SIP_INVITE,
                 CG_SIP_K_INVITE, rows[i].name);
        a = answer(c, &r, "Contact: <sip:a@b>", 100, &alen);
        if (rows[i].same) {
            recv_msg(c, SIGN, INVITE("z9hG4bK1", "call@a", rows[i].second), 100, &r, CG_SIP_SEND,
                     CG_SIP_K_RETRANSMISSION, rows[i].name);
            expect_answer(&r, a, alen, rows[i].name);
        } else {
            recv_msg(c, SIGN, INVITE("z9hG4bK1", "call@a", rows[i].second), 100, &r, CG_SIP_INVITE,
                     CG_SIP_K_INVITE, rows[i].name);
            cg_sip_req_clear(&r.req);
        }
        free(a);
        cg_sip_txcache_free(c);
    }
}

static void test_drop_and_arguments(void **state)
{
    struct cg_sip_txcache *c = NULL;
    struct cg_sip_received r;
    (void)state;
    assert_int_equal(cg_sip_txcache_new(&c, 0, 32), CG_EINVAL);
    assert_int_equal(cg_sip_txcache_new(&c, 16, 0), CG_EINVAL);
    assert_int_equal(cg_sip_txcache_new(&c, (size_t)CG_SIP_TX_MAX_ENTRIES + 1, 32), CG_EINVAL);
    assert_null(c);
    cg_sip_txcache_free(NULL);
    /* 65,536 entries: a 2 MB table, aligned for a huge page */
    c = cache(65536, 32);
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "1"), 100, &r, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "INVITE");
    cg_sip_tx_drop(c, r.tx);
    cg_sip_req_clear(&r.req);
    assert_int_equal(cg_sip_txcache_size(c), 0);
    recv_msg(c, VERIFY, INVITE("z9hG4bK1", "call@a", "1"), 100, &r, CG_SIP_INVITE, CG_SIP_K_INVITE,
             "INVITE again after its entry was dropped");
    cg_sip_req_clear(&r.req);
    /* left unanswered: freed with the cache */
    cg_sip_txcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retransmission),
        cmocka_unit_test(test_long_identifiers),
        cmocka_unit_test(test_listeners),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_options_and_other_methods),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_cseq_leading_zeros),
        cmocka_unit_test(test_drop_and_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
