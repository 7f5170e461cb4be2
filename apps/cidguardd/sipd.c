/*
 * SIP redirect server over UDP and TCP.  Verification listener: every
 * INVITE's Identity headers are verified and the answer is 302 with the
 * verstat in P-Asserted-Identity.  Signing listener: 302 with an Identity
 * header whose attestation the customers file allows.  Retransmissions are
 * answered from a per-worker transaction cache, never verified twice.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "worker.h"

#define TX_TTL 32        /* seconds: RFC 3261 Timer H-like lifetime for answers */
#define TX_MAX 65536     /* per worker */
#define TCP_INPUT_MAX (2 * CG_SIP_MSG_MAX)

/* --- transport ------------------------------------------------------------- */

struct tconn {
    struct bufferevent *bev;
    int refs;
    bool closed;
};

struct peer {
    int udp_fd;                 /* -1 for TCP */
    struct sockaddr_storage addr;
    socklen_t alen;
    struct tconn *tcp;
};

static void tconn_put(struct tconn *t)
{
    if (--t->refs == 0) {
        if (t->bev)
            bufferevent_free(t->bev);
        free(t);
    }
}

/*
 * Datagrams are read 32 at a time (recvmmsg), and the answers produced
 * meanwhile leave 8 at a time (sendmmsg): on loopback under load, a syscall
 * and a receiver wake-up per answer was 15% of the daemon's cycles.
 * Reading 32 rather than 8 gave 77.0% of raw OpenSSL against 70.4%
 * (bench/sipbench.sh, six alternating runs each, 2026-11-26); holding
 * answers for a whole batch of 32 put p99 at half the raw rate at 2.4-2.9
 * ms (32 verifications of 70 us), so they leave every 8.  The receive
 * buffers are touched only as far as datagrams reach.
 */
#define BATCH 32
#define OUT_BATCH 8
/*
 * Buffers 64 KB (or 4 KB) apart map to the same cache sets, so the first
 * kilobyte of 32 datagrams, where every request is read, would evict each
 * other.  Each buffer is set 17 cache lines past a multiple of 64 KB (4 KB)
 * from the one before.
 */
#define RECV_STRIDE (CG_SIP_MSG_MAX + 1 + 17 * 64)
#define BATCH_BYTES (4096 + 17 * 64)

struct outq {
    bool on;
    int fd, n;
    struct mmsghdr msg[OUT_BATCH];
    struct iovec iov[OUT_BATCH];
    struct sockaddr_storage addr[OUT_BATCH];
    char buf[OUT_BATCH][BATCH_BYTES];
};

static void outq_flush(struct outq *outq)
{
    int sent = 0;
    while (outq && sent < outq->n) {
        int r = sendmmsg(outq->fd, outq->msg + sent, (unsigned)(outq->n - sent), MSG_DONTWAIT);
        if (r <= 0)
            break;
        sent += r;
    }
    if (outq)
        outq->n = 0;
}

static void send_to(struct outq *q, const struct peer *p, const char *buf, size_t n)
{
    if (p->udp_fd >= 0) {
        if (q && q->on && n <= BATCH_BYTES) {
            if (q->n == OUT_BATCH || q->fd != p->udp_fd)
                outq_flush(q);
            q->fd = p->udp_fd;
            memcpy(q->buf[q->n], buf, n);
            memcpy(&q->addr[q->n], &p->addr, p->alen);
            q->iov[q->n] = (struct iovec){q->buf[q->n], n};
            q->msg[q->n].msg_hdr = (struct msghdr){.msg_name = &q->addr[q->n], .msg_namelen = p->alen,
                                                   .msg_iov = &q->iov[q->n], .msg_iovlen = 1};
            q->n++;
            return;
        }
        sendto(p->udp_fd, buf, n, MSG_DONTWAIT, (const struct sockaddr *)&p->addr, p->alen);
    } else if (p->tcp && !p->tcp->closed) {
        bufferevent_write(p->tcp->bev, buf, n);
    }
}

/* --- transaction cache --------------------------------------------------------- */

/*
 * The table has four buckets per entry it may hold, and an entry keeps its
 * key's full hash: a lookup for a new transaction (most of them) usually
 * finds an empty bucket, and a chain is walked without reading keys.  With
 * one bucket per entry and keys in separate allocations, the walk was 2.5%
 * of the daemon's cycles under load (perf).
 */
#define TX_BUCKETS (4 * TX_MAX)

struct tx {
    struct tx *hnext, *qnext;   /* hash chain; expiry queue (arrival order) */
    char *resp;                 /* NULL while pending */
    size_t len;
    time_t expires;
    struct sipcall *pending;    /* the call being verified */
    uint32_t hash;
    char key[];
};

struct sipd {
    struct cgd_worker *w;
    struct outq *outq;                 /* UDP answers of the batch being read */
    char (*bufs)[RECV_STRIDE];         /* recvmmsg buffers */
    struct event *ev_uv, *ev_us, *purge;
    struct evconnlistener *tl_v, *tl_s;
    int fd_uv, fd_us;
    struct tx **tab;                   /* TX_BUCKETS */
    struct tx *qhead, *qtail;
    size_t ntx;
};

static uint32_t hkey(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h ^ (h >> 15);
}

static struct tx *tx_find(struct sipd *d, const char *key, uint32_t h)
{
    struct tx *t;
    for (t = d->tab[h % TX_BUCKETS]; t; t = t->hnext)
        if (t->hash == h && strcmp(t->key, key) == 0)
            return t;
    return NULL;
}

static void tx_unlink(struct sipd *d, struct tx *t)
{
    struct tx **pp;
    for (pp = &d->tab[t->hash % TX_BUCKETS]; *pp; pp = &(*pp)->hnext)
        if (*pp == t) {
            *pp = t->hnext;
            break;
        }
    d->ntx--;
}

/* Expired answers leave from the head of the arrival queue. */
static void tx_purge(struct sipd *d, bool all)
{
    time_t now = time(NULL);
    while (d->qhead && (all || d->qhead->expires <= now || d->ntx > TX_MAX)) {
        struct tx *t = d->qhead;
        if (t->pending && !all)
            break; /* a parked call keeps its entry until answered */
        d->qhead = t->qnext;
        if (!d->qhead)
            d->qtail = NULL;
        tx_unlink(d, t);
        free(t->resp);
        free(t);
    }
}

static struct tx *tx_add(struct sipd *d, const char *key, uint32_t h)
{
    size_t kl = strlen(key);
    struct tx *t = calloc(1, sizeof *t + kl + 1);
    if (!t)
        return NULL;
    memcpy(t->key, key, kl + 1);
    t->hash = h;
    t->expires = time(NULL) + TX_TTL;
    t->hnext = d->tab[t->hash % TX_BUCKETS];
    d->tab[t->hash % TX_BUCKETS] = t;
    if (d->qtail)
        d->qtail->qnext = t;
    else
        d->qhead = t;
    d->qtail = t;
    d->ntx++;
    if (d->ntx > TX_MAX)
        tx_purge(d, false);
    return t;
}

static void purge_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tx_purge(arg, false);
}

/* --- answering ------------------------------------------------------------------- */

struct sipcall {
    struct cgd_call c;          /* first: the worker's view */
    struct sipd *d;
    struct peer peer;
    struct cg_sip_req req;
    struct tx *tx;
    bool cancelled;
};

/* Sends a response and stores it in the transaction for retransmissions. */
static void respond(struct sipd *d, const struct peer *p, struct tx *tx, const struct cg_sip_req *req,
                    int code, const char *phrase, const char *const *extra, size_t nextra)
{
    char *out;
    size_t n;
    if (cg_sip_response(req, code, phrase, extra, nextra, &out, &n) != CG_OK)
        return;
    send_to(d->outq, p, out, n);
    if (tx) {
        free(tx->resp);
        tx->resp = out;
        tx->len = n;
        tx->pending = NULL;
        tx->expires = time(NULL) + TX_TTL;
    } else {
        free(out);
    }
}

static void sipcall_free(struct sipcall *s)
{
    if (s->peer.tcp)
        tconn_put(s->peer.tcp);
    cg_sip_req_clear(&s->req);
    free(s);
}

/*
 * The Reason header of a call that failed verification but continues:
 * RFC 8224's "SIP" protocol, or with rfc9410_reason RFC 9410's "STIR"
 * protocol with the ppi parameter naming the failed Identity header by its
 * PASSporT in compact form ("..signature"), as RFC 9410 recommends.
 */
static void reason_header(char *out, size_t cap, bool stir, const struct cg_verdict *v,
                          const char *const *identities)
{
    const char *id = v->identity_index >= 0 && v->identity_index < CG_SIP_IDENTITY_MAX
                         ? identities[v->identity_index]
                         : NULL;
    size_t n, sl = 0;
    const char *sig = NULL;
    if (id) { /* the JWS signature: after the second '.', before ';' or space */
        const char *d1 = strchr(id, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (d2) {
            sig = d2 + 1;
            sl = strcspn(sig, "; \t>");
        }
    }
    n = (size_t)snprintf(out, cap, "Reason: %s;cause=%d;text=\"%s\"", stir ? "STIR" : "SIP",
                         v->reason_code, v->reason_text);
    if (stir && sig && sl && sl < 200 && n < cap)
        snprintf(out + n, cap - n, ";ppi=\"..%.*s\"", (int)sl, sig);
}

static void answer_verify(struct cgd_call *c, const struct cg_verdict *v,
                          const struct cg_decision *d)
{
    struct sipcall *s = (struct sipcall *)c;
    struct cgd_ctx *ctx;
    char contact[CG_URL_MAX + 16], pai[96], reason[384], action[40], reasons[300], verstat[64],
        brand[CG_BRAND_MAX + 24], codes[256];
    const char *extra[8];
    size_t n = 0;

    if (s->cancelled) {
        respond(s->d, &s->peer, s->tx, &s->req, 487, "Request Terminated", NULL, 0);
        sipcall_free(s);
        return;
    }
    cg_decision_reasons(d, codes, sizeof codes);
    cgd_join(action, sizeof action, "Cidguard-Action: ", cg_action_str(d->action), NULL);
    cgd_join(reasons, sizeof reasons, "Cidguard-Reasons: ", codes, NULL);
    cgd_join(verstat, sizeof verstat, "Cidguard-Verstat: ", cg_verstat_str(d->verstat), NULL);
    if (d->action == CG_ACTION_BLOCK) {
        /* RFC 8688: an intermediary's rejection; the reasons stay in our
         * headers for the SBC, nothing of the detection goes in the phrase */
        ctx = cgd_ctx_get();
        int code = ctx->conf.block_response;
        cgd_ctx_put(ctx);
        extra[n++] = verstat;
        extra[n++] = action;
        extra[n++] = reasons;
        respond(s->d, &s->peer, s->tx, &s->req, code, code == 603 ? "Decline" : "Rejected", extra, n);
        sipcall_free(s);
        return;
    }
    cgd_join(contact, sizeof contact, "Contact: <", s->req.ruri, ">", NULL);
    extra[n++] = contact;
    /* the verstat is ours, derived here: any inbound one is not copied */
    if (s->c.caller[0]) {
        cgd_join(pai, sizeof pai, "P-Asserted-Identity: <tel:+", s->c.caller, ";verstat=",
                 cg_verstat_str(d->verstat), ">", NULL);
        extra[n++] = pai;
    }
    if (v->reason_code && v->reason != CG_R_NO_IDENTITY) {
        ctx = cgd_ctx_get();
        bool stir = ctx->conf.rfc9410_reason;
        cgd_ctx_put(ctx);
        reason_header(reason, sizeof reason, stir, v, s->c.identities);
        extra[n++] = reason;
    }
    extra[n++] = verstat;
    extra[n++] = action;
    extra[n++] = reasons;
    if (d->brand[0]) {
        cgd_join(brand, sizeof brand, "Cidguard-Brand: ", d->brand, NULL);
        extra[n++] = brand;
    }
    respond(s->d, &s->peer, s->tx, &s->req, 302, "Moved Temporarily", extra, n);
    sipcall_free(s);
}

static void answer_overload(struct cgd_call *c)
{
    struct sipcall *s = (struct sipcall *)c;
    const char *extra[] = {"Retry-After: 5"};
    respond(s->d, &s->peer, s->tx, &s->req, 503, "Service Unavailable", extra, 1);
    sipcall_free(s);
}

static void sign_invite(struct sipd *d, const struct peer *p, struct tx *tx,
                        const struct cg_sip_req *req)
{
    struct cgd_ctx *ctx = cgd_ctx_get();
    char caller[CG_TN_MAX + 1], callee[CG_TN_MAX + 1], contact[CG_URL_MAX + 16], att[32];
    const char *src = req->pai ? req->pai : req->from, *dest = callee, *why;
    const char *extra[5];
    char *identity = NULL, *idh = NULL;
    size_t n = 0;
    struct cg_sign_request r = {0};
    char attest;

    cgd_join(contact, sizeof contact, "Contact: <", req->ruri, ">", NULL);
    extra[n++] = contact;
    if (req->nidentity) {
        /* ATIS-1000074: never re-sign a call that already carries one */
        extra[n++] = "Cidguard-Action: allow";
        extra[n++] = "Cidguard-Reasons: already_signed";
    } else if (!ctx->signer || cg_tn_canon(src, strlen(src), ctx->plan, caller) != CG_OK ||
               (cg_tn_canon(req->to, strlen(req->to), ctx->plan, callee) != CG_OK &&
                cg_tn_canon(req->ruri, strlen(req->ruri), ctx->plan, callee) != CG_OK)) {
        extra[n++] = "Cidguard-Action: allow";
        extra[n++] = ctx->signer ? "Cidguard-Reasons: not_a_number" : "Cidguard-Reasons: no_signer";
    } else {
        attest = cgd_attest_for(ctx, (const struct sockaddr *)&p->addr, caller);
        r.orig = caller;
        r.dest = &dest;
        r.ndest = 1;
        r.attest = attest;
        if (cg_sign(ctx->signer, &r, &identity, &why) == CG_OK &&
            (idh = malloc(strlen(identity) + 16))) {
            sprintf(idh, "Identity: %s", identity);
            extra[n++] = idh;
            snprintf(att, sizeof att, "Cidguard-Attest: %c", attest);
            extra[n++] = att;
            extra[n++] = "Cidguard-Action: allow";
            atomic_fetch_add(&cgd_m.signed_calls[L_SIP_SIGN][attest - 'A'], 1);
        } else {
            extra[n++] = "Cidguard-Action: allow";
            extra[n++] = "Cidguard-Reasons: sign_failed";
        }
    }
    respond(d, p, tx, req, 302, "Moved Temporarily", extra, n);
    free(identity);
    free(idh);
    cgd_ctx_put(ctx);
}

/* One SIP message from the network. */
static void handle(struct sipd *d, bool verify_listener, const char *buf, size_t len,
                   const struct peer *p)
{
    struct cg_sip_req req;
    const char *why;
    char key[1024];
    struct tx *tx;
    int rc;
    const char *cseq;
    char cseqn[12];
    size_t cseqlen;
    uint32_t h;

    rc = cg_sip_parse_request(buf, len, &req, &why);
    if (rc != CG_OK) {
        if (cg_sip_req_answerable(&req)) {
            char warn[160];
            const char *extra[] = {warn};
            snprintf(warn, sizeof warn, "Warning: 399 cidguard \"%s\"", why ? why : "bad request");
            respond(d, p, NULL, &req, 400, "Bad Request", extra, 1);
            atomic_fetch_add(&cgd_m.sip_bad_answered, 1);
        } else {
            atomic_fetch_add(&cgd_m.sip_bad_dropped, 1);
        }
        cg_sip_req_clear(&req);
        return;
    }
    /* CANCEL and ACK belong to the INVITE transaction they name; the
     * CSeq number is written without leading zeros */
    cseq = req.cseq + strspn(req.cseq, "0");
    cseqlen = strspn(cseq, "0123456789");
    memcpy(cseqn, cseq, cseqlen);
    cseqn[cseqlen] = '\0';
    cgd_join(key, sizeof key,
             strcmp(req.method, "CANCEL") == 0 || strcmp(req.method, "ACK") == 0 ? "INVITE"
                                                                                    : req.method,
             "|", req.branch, "|", req.call_id, "|", cseqn, NULL);
    h = hkey(key);
    tx = tx_find(d, key, h);
    if (strcmp(req.method, "ACK") == 0) {
        cg_sip_req_clear(&req); /* ACK of our 3xx: absorbed, never answered */
        return;
    }
    if (strcmp(req.method, "CANCEL") == 0) {
        respond(d, p, NULL, &req, 200, "OK", NULL, 0);
        if (tx && tx->pending)
            tx->pending->cancelled = true;
        cg_sip_req_clear(&req);
        return;
    }
    if (tx) {
        atomic_fetch_add(&cgd_m.sip_retransmissions, 1);
        if (tx->resp)
            send_to(d->outq, p, tx->resp, tx->len);
        cg_sip_req_clear(&req);
        return;
    }
    tx = tx_add(d, key, h);
    if (strcmp(req.method, "OPTIONS") == 0) {
        const char *extra[] = {"Allow: INVITE, ACK, CANCEL, OPTIONS", "Accept: application/sdp"};
        atomic_fetch_add(&cgd_m.sip_options, 1);
        respond(d, p, tx, &req, 200, "OK", extra, 2);
    } else if (strcmp(req.method, "INVITE") != 0) {
        const char *extra[] = {"Allow: INVITE, ACK, CANCEL, OPTIONS"};
        respond(d, p, tx, &req, 405, "Method Not Allowed", extra, 1);
    } else if (!verify_listener) {
        sign_invite(d, p, tx, &req);
    } else {
        struct sipcall *s = calloc(1, sizeof *s);
        struct cgd_ctx *ctx;
        size_t i;
        if (!s) {
            cg_sip_req_clear(&req);
            return;
        }
        s->c.w = d->w;
        s->c.listener = L_SIP_VERIFY;
        s->c.answer = answer_verify;
        s->c.overload = answer_overload;
        s->d = d;
        s->peer = *p;
        if (s->peer.tcp)
            s->peer.tcp->refs++;
        s->req = req; /* ownership moves */
        s->tx = tx;
        if (tx)
            tx->pending = s;
        for (i = 0; i < req.nidentity; i++)
            s->c.identities[i] = s->req.identity[i];
        s->c.call.identity = s->c.identities;
        s->c.call.nidentity = req.nidentity;
        s->c.call.pai = s->req.pai;
        s->c.call.from = s->req.from;
        s->c.call.to = s->req.to;
        s->c.call.ruri = s->req.ruri;
        s->c.call_id = s->req.call_id;
        ctx = cgd_ctx_get();
        if (cg_tn_canon(s->req.pai ? s->req.pai : s->req.from,
                        strlen(s->req.pai ? s->req.pai : s->req.from), ctx->plan, s->c.caller) != CG_OK)
            s->c.caller[0] = '\0';
        cgd_set_ingress(&s->c, ctx, s->req.ruri, &s->peer.addr);
        cgd_ctx_put(ctx);
        cgd_verify_call(&s->c);
        return;
    }
    cg_sip_req_clear(&req);
}

/* --- UDP ---------------------------------------------------------------------------- */

/* Answers leave in batches (sendmmsg) between on and off; off flushes. */
static void batch(struct sipd *d, bool on)
{
    if (!on)
        outq_flush(d->outq);
    d->outq->on = on;
}

/* Reads up to two rounds of BATCH datagrams a wake-up with recvmmsg and
 * answers them; the answers leave OUT_BATCH at a time and at the end. */
static void udp_read(struct sipd *d, int fd, bool verify)
{
    char (*bufs)[RECV_STRIDE] = d->bufs;
    struct mmsghdr msg[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage addr[BATCH];
    int round, n, i;

    batch(d, true);
    for (round = 0; round < 2; round++) {
        for (i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], CG_SIP_MSG_MAX};
            msg[i].msg_hdr = (struct msghdr){.msg_name = &addr[i], .msg_namelen = sizeof addr[i],
                                             .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        n = recvmmsg(fd, msg, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        for (i = 0; i < n; i++) {
            struct peer p = {.udp_fd = fd, .alen = msg[i].msg_hdr.msg_namelen};
            size_t len = msg[i].msg_len;
            memcpy(&p.addr, &addr[i], sizeof p.addr);
            bufs[i][len] = '\0';
            /* a bare CRLF (or CRLFCRLF) is a keep-alive */
            if (len <= 4 && strspn(bufs[i], "\r\n") == len)
                continue;
            handle(d, verify, bufs[i], len, &p);
        }
        if (n < BATCH)
            break;
    }
    batch(d, false);
}

static void udp_verify_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    udp_read(arg, fd, true);
}

static void udp_sign_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    udp_read(arg, fd, false);
}

/* --- TCP ---------------------------------------------------------------------------- */

struct tcpctx {
    struct sipd *d;
    bool verify;
    struct tconn *t;
    struct sockaddr_storage addr;
    socklen_t alen;
};

static void tcp_close(struct tcpctx *c)
{
    c->t->closed = true;
    bufferevent_disable(c->t->bev, EV_READ | EV_WRITE);
    tconn_put(c->t);
    free(c);
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
    struct tcpctx *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len = evbuffer_get_length(in), skip;
        const char *buf;
        long m;
        struct peer p = {.udp_fd = -1, .tcp = c->t};
        if (len == 0)
            return;
        if (len > TCP_INPUT_MAX)
            len = TCP_INPUT_MAX; /* frame only what was pulled up */
        buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
        m = cg_sip_frame(buf, len, &skip);
        if (m < 0) {
            /* no usable Content-Length, or too big: the stream cannot be
             * resynchronised; answer 400 if we can, then close */
            struct cg_sip_req req;
            if (cg_sip_parse_request(buf + skip, len - skip > CG_SIP_MSG_MAX ? 0 : len - skip, &req,
                                     NULL) != CG_OK &&
                cg_sip_req_answerable(&req)) {
                const char *extra[] = {"Warning: 399 cidguard \"bad Content-Length\""};
                char *out;
                size_t n;
                if (cg_sip_response(&req, 400, "Bad Request", extra, 1, &out, &n) == CG_OK) {
                    bufferevent_write(bev, out, n);
                    free(out);
                }
                atomic_fetch_add(&cgd_m.sip_bad_answered, 1);
            } else {
                atomic_fetch_add(&cgd_m.sip_bad_dropped, 1);
            }
            cg_sip_req_clear(&req);
            evbuffer_drain(in, evbuffer_get_length(in));
            tcp_close(c);
            return;
        }
        if (skip) {
            evbuffer_drain(in, skip);
            continue;
        }
        if (m == 0) {
            if (len > TCP_INPUT_MAX)
                tcp_close(c);
            return;
        }
        {
            char *msg = malloc((size_t)m + 1);
            if (!msg) {
                tcp_close(c);
                return;
            }
            evbuffer_remove(in, msg, (size_t)m);
            msg[m] = '\0';
            memcpy(&p.addr, &c->addr, sizeof p.addr);
            p.alen = c->alen;
            handle(c->d, c->verify, msg, (size_t)m, &p);
            free(msg);
        }
    }
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        tcp_close(arg);
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int slen,
                       void *arg, bool verify)
{
    struct sipd *d = arg;
    struct tcpctx *c = calloc(1, sizeof *c);
    struct timeval idle = {120, 0};
    (void)l;
    if (!c || !(c->t = calloc(1, sizeof *c->t))) {
        free(c);
        close(fd);
        return;
    }
    c->d = d;
    c->verify = verify;
    c->t->refs = 1;
    memcpy(&c->addr, sa, (size_t)slen);
    c->alen = (socklen_t)slen;
    c->t->bev = bufferevent_socket_new(d->w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->t->bev, tcp_read_cb, NULL, tcp_event_cb, c);
    bufferevent_setwatermark(c->t->bev, EV_READ, 0, TCP_INPUT_MAX);
    bufferevent_set_timeouts(c->t->bev, &idle, NULL);
    bufferevent_enable(c->t->bev, EV_READ | EV_WRITE);
}

static void tcp_accept_verify(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int slen, void *arg)
{
    tcp_accept(l, fd, sa, slen, arg, true);
}

static void tcp_accept_sign(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int slen, void *arg)
{
    tcp_accept(l, fd, sa, slen, arg, false);
}

int cgd_sip_attach(struct cgd_worker *w, struct event_base *base, int uv, int us, int tv, int ts)
{
    struct sipd *d = calloc(1, sizeof *d);
    struct timeval sec = {1, 0};
    if (!d || !(d->outq = calloc(1, sizeof *d->outq)) ||
        !(d->bufs = malloc(BATCH * sizeof *d->bufs)) ||
        posix_memalign((void **)&d->tab, 2u << 20, TX_BUCKETS * sizeof *d->tab) != 0)
        return -1;
    /* the transaction table (2 MB, looked up at random) on a huge page
     * where the kernel allows: one TLB entry instead of 512 */
    madvise(d->tab, TX_BUCKETS * sizeof *d->tab, MADV_HUGEPAGE);
    memset(d->tab, 0, TX_BUCKETS * sizeof *d->tab);
    d->w = w;
    d->fd_uv = uv;
    d->fd_us = us;
    d->ev_uv = event_new(base, uv, EV_READ | EV_PERSIST, udp_verify_cb, d);
    d->ev_us = event_new(base, us, EV_READ | EV_PERSIST, udp_sign_cb, d);
    d->purge = event_new(base, -1, EV_PERSIST, purge_cb, d);
    d->tl_v = evconnlistener_new(base, tcp_accept_verify, d, LEV_OPT_CLOSE_ON_FREE, -1, tv);
    d->tl_s = evconnlistener_new(base, tcp_accept_sign, d, LEV_OPT_CLOSE_ON_FREE, -1, ts);
    if (!d->ev_uv || !d->ev_us || !d->purge || !d->tl_v || !d->tl_s)
        return -1;
    event_add(d->ev_uv, NULL);
    event_add(d->ev_us, NULL);
    event_add(d->purge, &sec);
    w->sip = d;
    return 0;
}

void cgd_sip_batch(struct cgd_worker *w, bool on)
{
    if (w->sip)
        batch(w->sip, on);
}

void cgd_sip_detach(struct cgd_worker *w)
{
    struct sipd *d = w->sip;
    if (!d)
        return;
    /* Stop taking requests; the UDP sockets stay open (parked calls answer
     * through them) until the process exits. */
    event_del(d->ev_uv);
    event_del(d->ev_us);
    evconnlistener_disable(d->tl_v);
    evconnlistener_disable(d->tl_s);
}

/* After the loop has ended: everything the SIP side owns. */
void cgd_sip_free(struct cgd_worker *w)
{
    struct sipd *d = w->sip;
    if (!d)
        return;
    tx_purge(d, true);
    event_free(d->ev_uv);
    event_free(d->ev_us);
    event_free(d->purge);
    evconnlistener_free(d->tl_v);
    evconnlistener_free(d->tl_s);
    close(d->fd_uv);
    close(d->fd_us);
    free(d->outq);
    free(d->bufs);
    free(d->tab);
    free(d);
    w->sip = NULL;
}
