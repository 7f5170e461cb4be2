/*
 * SIP redirect server over UDP and TCP (sipd.h).  Verification listener:
 * every INVITE's Identity headers are verified and the answer is 302 with
 * the verstat in P-Asserted-Identity, or 608/603 when the policy blocks.
 * Signing listener: 302 with an Identity header at the attestation the
 * customers file allows.  Retransmissions are answered from the worker's
 * transaction cache (the library's), never verified twice.
 */
#define _GNU_SOURCE /* recvmmsg */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "admission.h"
#include "call.h"
#include "signing.h"
#include "sipd.h"
#include "tls.h"

#define TX_TTL 32    /* seconds: RFC 3261 Timer H-like lifetime for answers */
#define TX_MAX 65536 /* answered transactions kept per worker */
#define TCP_INPUT_MAX (2 * CG_SIP_MSG_MAX)

/* --- transport ------------------------------------------------------------- */

/* A TCP connection, shared by the calls that arrived on it: the last of
 * them (or the connection's own close) frees it. */
struct tconn {
    struct bufferevent *bev;
    int refs;
    bool closed;
    bool tls;
    char *cert_names; /* TLS: the client certificate's names, read once; "" none */
};

struct peer {
    int udp_fd; /* -1 for TCP */
    struct sockaddr_storage addr;
    socklen_t alen;
    struct tconn *tcp;
};

static void tconn_put(struct tconn *t)
{
    if (--t->refs == 0) {
        if (t->bev)
            bufferevent_free(t->bev);
        free(t->cert_names);
        free(t);
    }
}

/* The names of a TLS peer's verified certificate ("" for none or no TLS),
 * read from the handshake once per connection. */
static const char *peer_cert_names(struct tconn *t)
{
    char names[1024];
    if (!t || !t->tls)
        return "";
    if (!t->cert_names) {
        cgd_tls_peer_names(t->bev, names, sizeof names);
        t->cert_names = strdup(names);
    }
    return t->cert_names ? t->cert_names : "";
}

/*
 * Datagrams are read 32 at a time (recvmmsg); their answers leave in the
 * worker's batches (worker.h).  Reading 32 rather than 8 gave 77.0% of raw
 * OpenSSL against 70.4% (bench/sipbench.sh, six alternating runs each).
 * Buffers 64 KB apart map to the same cache sets, so the first kilobyte of
 * 32 datagrams, where every request is read, would evict each other: each
 * buffer is set 17 cache lines past a multiple of 64 KB from the one
 * before.  They are touched only as far as datagrams reach.
 */
#define BATCH 32
#define RECV_STRIDE (CG_SIP_MSG_MAX + 1 + 17 * 64)

struct cgd_sipd {
    struct cgd_worker *w;
    struct cg_sip_txcache *tx;
    char (*bufs)[RECV_STRIDE]; /* recvmmsg buffers */
    struct event *udp_verify_ev, *udp_sign_ev, *expire;
    struct stream_listener {
        struct cgd_sipd *d;
        bool verify, tls;
        struct evconnlistener *l;
        struct cgd_admission *adm;
    } streams[4]; /* TCP and TLS, verification and signing */
    int udp_verify_fd, udp_sign_fd;
    int message_timeout_ms; /* a TCP message must arrive whole in this time */
    int coalesce_us;        /* [server] udp_coalesce_us; 0: never wait */
    bool slack_set;         /* this thread's timer slack made fine */
    /* UDP coalescing (udp_read), for each listener (0 verification, 1
     * signing): the current window, and the wait the last one set */
    struct coalesce {
        int wait_us;       /* 0: the last window was not busy */
        int64_t win_start; /* ns, CLOCK_MONOTONIC */
        int64_t win_busy;  /* ns spent reading and answering its datagrams */
        uint64_t win_datagrams;
    } co[2];
};

static void send_to(struct cgd_sipd *d, const struct peer *p, const char *buf, size_t n)
{
    if (p->udp_fd >= 0)
        cgd_worker_send_udp(d->w, p->udp_fd, &p->addr, p->alen, buf, n);
    else if (p->tcp && !p->tcp->closed)
        bufferevent_write(p->tcp->bev, buf, n);
}

/* --- answering ------------------------------------------------------------------- */

struct sipcall {
    struct cgd_call c; /* first: the call's view */
    struct cgd_sipd *d;
    struct peer peer;
    struct cg_sip_req req;
    struct cg_sip_tx *tx;
    bool cancelled;
};

/* Sends a response and, for a transaction, stores it for retransmissions. */
static void respond(struct cgd_sipd *d, const struct peer *p, struct cg_sip_tx *tx,
                    const struct cg_sip_req *req, int code, const char *phrase,
                    const char *const *extra, size_t nextra)
{
    char *out;
    size_t n;
    if (cg_sip_response(req, code, phrase, extra, nextra, &out, &n) != CG_OK) {
        if (tx)
            cg_sip_tx_drop(d->tx, tx);
        return;
    }
    send_to(d, p, out, n);
    if (tx)
        cg_sip_tx_answer_take(d->tx, tx, out, n, (int64_t)time(NULL)); /* the cache keeps out */
    else
        free(out);
}

static void sipcall_free(struct sipcall *s)
{
    cgd_call_end(&s->c);
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
            /* base64url only: a '"' or ',' copied from the caller's header
             * would end the quoted ppi and add parameters of its own */
            sig = d2 + 1;
            sl = strspn(sig, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        }
    }
    n = (size_t)snprintf(out, cap, "Reason: %s;cause=%d;text=\"%s\"", stir ? "STIR" : "SIP",
                         v->reason_code, v->reason_text);
    if (stir && sig && sl && sl < 200 && n < cap)
        snprintf(out + n, cap - n, ";ppi=\"..%.*s\"", (int)sl, sig);
}

/* The verstat of one of the call's numbers (CG_POLICY_NUM_*): the
 * verification's when it is about that number, else No-TN-Validation. */
static enum cg_verstat number_verstat(const struct cg_decision *d, unsigned which)
{
    return d->verstat_on & which ? d->verstat : CG_VERSTAT_NONE;
}

static void answer_verify(struct cgd_call *c, const struct cg_verdict *v,
                          const struct cg_decision *d)
{
    struct sipcall *s = (struct sipcall *)c;
    const struct cgd_conf *conf = &c->ctx->conf;
    char contact[CG_URL_MAX + 16], pai[96], pres[96], reason[384], action[40], reasons[300],
        pres_reasons[300], verstat[64], brand[CG_BRAND_MAX + 24], codes[256];
    const char *extra[12];
    size_t n = 0;
    bool own_presented = s->c.presented[0] && strcmp(s->c.presented, s->c.caller) != 0;

    if (s->cancelled) {
        respond(s->d, &s->peer, s->tx, &s->req, 487, "Request Terminated", NULL, 0);
        sipcall_free(s);
        return;
    }
    cg_decision_reasons(d, codes, sizeof codes);
    cgd_join(action, sizeof action, "Cidguard-Action: ", cg_action_str(d->action), NULL);
    cgd_join(reasons, sizeof reasons, "Cidguard-Reasons: ", codes, NULL);
    cgd_join(verstat, sizeof verstat, "Cidguard-Verstat: ", cg_verstat_str(d->verstat), NULL);
    /* the findings about the presentation number, when it is one of its own */
    cg_policy_reasons_str(d->presented_reasons, codes, sizeof codes);
    cgd_join(pres_reasons, sizeof pres_reasons, "Cidguard-Presentation-Reasons: ", codes, NULL);
    if (d->action == CG_ACTION_BLOCK) {
        /* RFC 8688: an intermediary's rejection; the reasons stay in our
         * headers for the SBC, nothing of the detection goes in the phrase */
        int code = conf->block_response;
        extra[n++] = verstat;
        extra[n++] = action;
        extra[n++] = reasons;
        if (d->presented_reasons)
            extra[n++] = pres_reasons;
        respond(s->d, &s->peer, s->tx, &s->req, code, code == 603 ? "Decline" : "Rejected", extra,
                n);
        sipcall_free(s);
        return;
    }
    cgd_join(contact, sizeof contact, "Contact: <", s->req.ruri, ">", NULL);
    extra[n++] = contact;
    /* The verstat is ours: any inbound one is not copied.  The number the
     * PASSporT's orig is (d->verstat_on) gets the verification's; every
     * other number No-TN-Validation, so that a number nobody signed never
     * looks verified.  P-Asserted-Identity is the network number's, and
     * Cidguard-Presentation the number the SBC leaves in From. */
    if (s->c.caller[0]) {
        cgd_join(pai, sizeof pai, "P-Asserted-Identity: <tel:+", s->c.caller,
                 ";verstat=", cg_verstat_str(number_verstat(d, CG_POLICY_NUM_CALLER)), ">", NULL);
        extra[n++] = pai;
    }
    if (s->c.presented[0]) {
        cgd_join(pres, sizeof pres, "Cidguard-Presentation: <tel:+", s->c.presented, ";verstat=",
                 cg_verstat_str(number_verstat(d, own_presented ? CG_POLICY_NUM_PRESENTED
                                                                : CG_POLICY_NUM_CALLER)),
                 ">", NULL);
        extra[n++] = pres;
    }
    /* RFC 3323: the SBC delivers the call with an anonymous From */
    if (d->action == CG_ACTION_WITHHOLD)
        extra[n++] = "Privacy: id";
    if (c->international && conf->mark_international)
        extra[n++] = "Cidguard-Origin: international";
    if (v->reason_code && v->reason != CG_R_NO_IDENTITY) {
        reason_header(reason, sizeof reason, conf->rfc9410_reason, v, s->c.identities);
        extra[n++] = reason;
    }
    extra[n++] = verstat;
    extra[n++] = action;
    extra[n++] = reasons;
    if (d->presented_reasons)
        extra[n++] = pres_reasons;
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

/*
 * The calling numbers of a request: the network number, P-Asserted-
 * Identity's (both of them, if there are two, must name the same number),
 * else From's; and the presentation number, the one the callee is shown:
 * From's display name when it is a number (phones show it instead of the
 * URI), else From's URI.  "" when there is none.  Both are read as a
 * callee's screen would show them (cg_tn_read_shown).  False when a
 * calling-number header cannot be read, or From shows two numbers of its
 * own besides the network number: that is itself a finding, since a rule
 * must never be switched off by a value it cannot read.
 */
static bool read_caller(const struct cg_sip_req *req, const struct cg_tn_plan *plan,
                        char caller[CG_TN_MAX + 1], char presented[CG_TN_MAX + 1])
{
    char from_tn[CG_TN_MAX + 1], display[CG_TN_MAX + 1], ignored[CG_TN_MAX + 1];
    enum cg_tn_kind kp, kf;
    kp = req->pai ? cg_tn_read_shown(req->pai, strlen(req->pai), plan, caller, ignored)
                  : CG_TN_NOT_NUMBER;
    if (req->pai_more) {
        char more_tn[CG_TN_MAX + 1];
        enum cg_tn_kind km =
            cg_tn_read_shown(req->pai_more, strlen(req->pai_more), plan, more_tn, ignored);
        if (km == CG_TN_UNREADABLE ||
            (km == CG_TN_NUMBER && kp == CG_TN_NUMBER && strcmp(more_tn, caller) != 0))
            kp = CG_TN_UNREADABLE;
        else if (km == CG_TN_NUMBER && kp == CG_TN_NOT_NUMBER) {
            memcpy(caller, more_tn, sizeof more_tn);
            kp = CG_TN_NUMBER;
        }
    }
    kf = cg_tn_read_shown(req->from, strlen(req->from), plan, from_tn, display);
    if (kf != CG_TN_NUMBER)
        from_tn[0] = '\0';
    if (kf == CG_TN_UNREADABLE)
        display[0] = '\0';
    if (kp != CG_TN_NUMBER)
        memcpy(caller, from_tn, CG_TN_MAX + 1);
    memcpy(presented, from_tn, CG_TN_MAX + 1);
    if (display[0] && strcmp(display, from_tn) != 0) {
        if (from_tn[0] && strcmp(from_tn, caller) != 0)
            return false; /* display name, From's URI and the network number: three numbers */
        memcpy(presented, display, CG_TN_MAX + 1);
    }
    return kp != CG_TN_UNREADABLE && kf != CG_TN_UNREADABLE;
}

/*
 * The Cidguard-Customer header of a request (`len` bytes at `msg`), by
 * which an SBC of [sign] customer_from names the signing customer: 1 with
 * the name in out, 0 when there is none, -1 when there is one that names
 * no one readably (cgd_customer_header), or there are two (a caller's
 * left beside the SBC's), or it is folded onto a further line.  The
 * parser keeps no header it has no use for, so the headers are read again
 * here, up to the blank line that ends them; names are matched without
 * regard to case, with spaces or tabs allowed before the colon.
 */
static int customer_header(const char *msg, size_t len, char out[CG_CUSTOMER_NAME_MAX + 1])
{
    static const char name[] = "Cidguard-Customer";
    const char *p = msg, *end = msg + len;
    bool ours = false, first = true;
    int found = 0;
    out[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end, *c;
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (first) { /* the request line */
            first = false;
        } else if (!n) {
            break; /* the end of the headers */
        } else if (p[0] == ' ' || p[0] == '\t') {
            if (ours)
                return -1; /* a continuation of ours: read it as nobody's */
        } else {
            ours = n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0;
            for (c = p + sizeof name - 1; ours && c < p + n && (*c == ' ' || *c == '\t'); c++)
                ;
            if (ours && (c >= p + n || *c != ':'))
                ours = false;
            if (ours) {
                if (found++ || !cgd_customer_header(c + 1, (size_t)(p + n - c - 1), out))
                    return -1;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return found;
}

static void sign_invite(struct cgd_sipd *d, const struct peer *p, struct cg_sip_tx *tx,
                        const struct cg_sip_req *req, const char *msg, size_t len)
{
    struct cgd_ctx *ctx = cgd_ctx_get();
    char caller[CG_TN_MAX + 1], from_tn[CG_TN_MAX + 1], callee[CG_TN_MAX + 1],
        contact[CG_URL_MAX + 16], att[32], codes[300], reasons[330],
        ingress[64] = "", named[CG_CUSTOMER_NAME_MAX + 1];
    const char *dest = callee;
    const char *extra[6];
    char *idh = NULL;
    size_t il;
    size_t n = 0;
    struct cgd_sign_req r = {
        .listener = CGD_LISTENER_SIP_SIGN, .addr = &p->addr, .cert_names = peer_cert_names(p->tcp)};
    struct cgd_signed sg = {0};

    cgd_join(contact, sizeof contact, "Contact: <", req->ruri, ">", NULL);
    extra[n++] = contact;
    if (req->nidentity) {
        /* ATIS-1000074: never re-sign a call that already carries one */
        extra[n++] = "Cidguard-Action: allow";
        extra[n++] = "Cidguard-Reasons: already_signed";
    } else if (!read_caller(req, ctx->plan, caller, from_tn)) {
        /* a number nobody can read is neither signed nor passed on */
        const char *why[] = {"Cidguard-Action: block", "Cidguard-Reasons: caller_unreadable"};
        respond(d, p, tx, req, ctx->conf.sign_refuse_response,
                ctx->conf.sign_refuse_response == 603 ? "Decline" : "Rejected", why, 2);
        goto out;
    } else if (!caller[0] ||
               (cg_tn_canon(req->to, strlen(req->to), ctx->plan, callee) != CG_OK &&
                cg_tn_canon(req->ruri, strlen(req->ruri), ctx->plan, callee) != CG_OK)) {
        extra[n++] = "Cidguard-Action: allow";
        extra[n++] = "Cidguard-Reasons: not_a_number";
    } else {
        r.orig = caller;
        r.presented = from_tn[0] && strcmp(from_tn, caller) ? from_tn : NULL;
        r.call_id = req->call_id;
        r.dest = &dest;
        r.ndest = 1;
        /* the customer an SBC names: heeded only from [sign] customer_from
         * (signing.c), never copied into the answer */
        if (ctx->conf.sign_customer_from[0]) {
            int h = customer_header(msg, len, named);
            r.named = h > 0 ? named : NULL;
            r.named_bad = h < 0;
        }
        /* the customer's ingress, for agents named by ingress: the row whose
         * addresses hold the source */
        if (ctx->policy) {
            bool intl;
            const char *ing = cg_policy_ingress(ctx->policy, NULL, &p->addr, &intl);
            cgd_join(ingress, sizeof ingress, ing ? ing : "", NULL);
            r.ingress = ingress[0] ? ingress : NULL;
        }
        switch (cgd_sign(ctx, &r, &sg)) {
        case CGD_SIGN_OK:
            /* copied, not printed: the header is 600 bytes */
            il = strlen(sg.identity);
            if (!(idh = malloc(il + sizeof "Identity: ")))
                break;
            memcpy(idh, "Identity: ", sizeof "Identity: " - 1);
            memcpy(idh + sizeof "Identity: " - 1, sg.identity, il + 1);
            extra[n++] = idh;
            cgd_join(att, sizeof att, "Cidguard-Attest: ", (char[2]){sg.attest, 0}, NULL);
            extra[n++] = att;
            extra[n++] = sg.decision.action == CG_ACTION_LABEL ? "Cidguard-Action: label"
                                                               : "Cidguard-Action: allow";
            if (sg.decision.reasons) {
                cg_decision_reasons(&sg.decision, codes, sizeof codes);
                cgd_join(reasons, sizeof reasons, "Cidguard-Reasons: ", codes, NULL);
                extra[n++] = reasons;
            }
            break;
        case CGD_SIGN_POLICY: {
            /* nothing spoofed is signed, or passed on */
            const char *why[] = {"Cidguard-Action: block", reasons};
            cg_decision_reasons(&sg.decision, codes, sizeof codes);
            cgd_join(reasons, sizeof reasons, "Cidguard-Reasons: ", codes, NULL);
            respond(d, p, tx, req, ctx->conf.sign_refuse_response,
                    ctx->conf.sign_refuse_response == 603 ? "Decline" : "Rejected", why, 2);
            goto out;
        }
        case CGD_SIGN_UNKNOWN_CLIENT: {
            /* a trusted SBC naming a customer the file lacks says so */
            const char *why[] = {"Cidguard-Action: block", "Cidguard-Reasons: unknown_customer"};
            respond(d, p, tx, req, 403, "Forbidden", sg.unknown_named ? why : NULL,
                    sg.unknown_named ? 2 : 0);
            goto out;
        }
        case CGD_SIGN_RATE: {
            const char *retry[] = {"Retry-After: 1"};
            respond(d, p, tx, req, 503, "Service Unavailable", retry, 1);
            goto out;
        }
        case CGD_SIGN_NO_SIGNER:
            extra[n++] = "Cidguard-Action: allow";
            extra[n++] = "Cidguard-Reasons: no_signer";
            break;
        default:
            extra[n++] = "Cidguard-Action: allow";
            extra[n++] = "Cidguard-Reasons: sign_failed";
        }
    }
    respond(d, p, tx, req, 302, "Moved Temporarily", extra, n);
out:
    free(sg.identity);
    free(idh);
    cgd_ctx_put(ctx);
}

/*
 * The trunk group of a Request-URI (RFC 4904) into out: the tgrp parameter
 * of the user part of a sip/sips URI (sip:+4420...;tgrp=x;trunk-context=y@sbc)
 * or of a tel URI, its name matched without regard to case.  A tgrp among
 * the URI's own parameters (after the host) is not RFC 4904's and is not
 * read.  Returns 1 with out set, 0 when there is none, and -1 when it is
 * ambiguous: two tgrp parameters (a caller's and an SBC's, in either
 * order), a percent-escape in a parameter's name or in the value (an
 * element comparing the escaped form would read another trunk), or a value
 * that is not RFC 4904 trunk-group characters.
 */
static int ruri_tgrp(const char *ruri, char *out, size_t cap)
{
    const char *p, *end;
    int found = 0;
    out[0] = '\0';
    if (!ruri)
        return 0;
    if (strncasecmp(ruri, "tel:", 4) == 0) {
        p = ruri + 4;
        end = p + strlen(p);
    } else if (strncasecmp(ruri, "sip:", 4) == 0 || strncasecmp(ruri, "sips:", 5) == 0) {
        p = strchr(ruri, ':') + 1;
        if (!(end = strchr(p, '@')))
            return 0; /* no user part */
    } else {
        return 0;
    }
    while ((p = memchr(p, ';', (size_t)(end - p)))) {
        const char *eq, *next;
        size_t namelen, n;
        p++;
        if (!(next = memchr(p, ';', (size_t)(end - p))))
            next = end;
        eq = memchr(p, '=', (size_t)(next - p));
        namelen = (size_t)((eq ? eq : next) - p);
        if (memchr(p, '%', namelen))
            return -1;
        if (namelen != 4 || strncasecmp(p, "tgrp", 4) != 0)
            continue;
        if (found++ || !eq)
            return -1;
        n = (size_t)(next - eq - 1);
        if (!n || n >= cap ||
            strspn(eq + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "-_.!~*'()/&+$") < n)
            return -1;
        memcpy(out, eq + 1, n);
        out[n] = '\0';
    }
    return found;
}

/* A new INVITE on the verification listener: it becomes a call. */
static void verify_invite(struct cgd_sipd *d, const struct peer *p, struct cg_sip_received *r)
{
    struct sipcall *s = calloc(1, sizeof *s);
    char tgrp[64];
    int has_tgrp;
    bool trusted;
    size_t i;
    if (!s) {
        cg_sip_tx_drop(d->tx, r->tx);
        cg_sip_req_clear(&r->req);
        return;
    }
    cgd_call_begin(&s->c, d->w, CGD_LISTENER_SIP_VERIFY);
    s->c.answer = answer_verify;
    s->c.overload = answer_overload;
    s->d = d;
    s->peer = *p;
    if (s->peer.tcp)
        s->peer.tcp->refs++;
    s->req = r->req; /* ownership moves */
    s->tx = r->tx;
    cg_sip_tx_set_pending(s->tx, s);
    for (i = 0; i < s->req.nidentity; i++)
        s->c.identities[i] = s->req.identity[i];
    s->c.call.identity = s->c.identities;
    s->c.call.nidentity = s->req.nidentity;
    s->c.call.pai = s->req.pai;
    s->c.call.from = s->req.from;
    s->c.call.to = s->req.to;
    s->c.call.ruri = s->req.ruri;
    s->c.call_id = s->req.call_id;
    s->c.caller_unreadable = !read_caller(&s->req, s->c.ctx->plan, s->c.caller, s->c.presented);
    /* the callee a call intent names: where the call goes (the Request-URI),
     * else To's number; To alone can be anyone's */
    if (cg_tn_canon(s->req.ruri, strlen(s->req.ruri), s->c.ctx->plan, s->c.callee) != CG_OK &&
        cg_tn_canon(s->req.to, strlen(s->req.to), s->c.ctx->plan, s->c.callee) != CG_OK)
        s->c.callee[0] = '\0';
    /* a trunk group names the ingress only when a trusted SBC set it: any
     * caller can write ;tgrp= into a Request-URI */
    has_tgrp = ruri_tgrp(s->req.ruri, tgrp, sizeof tgrp); /* cheap: most calls have none */
    trusted =
        has_tgrp && s->c.ctx->conf.tgrp_from[0] &&
        cgd_trusted_peer(&s->peer.addr, peer_cert_names(s->peer.tcp), s->c.ctx->conf.tgrp_from);
    cgd_call_set_ingress(&s->c, trusted && has_tgrp > 0 ? tgrp : NULL, &s->peer.addr);
    /* a trusted SBC's trunk group that cannot be read as one: the stricter
     * reading, a call from abroad */
    if (trusted && has_tgrp < 0)
        s->c.international = true;
    cgd_call_run(&s->c);
}

/* One SIP message from the network. */
static void handle(struct cgd_sipd *d, bool verify_listener, const char *buf, size_t len,
                   const struct peer *p)
{
    struct cg_sip_received r;
    enum cgd_listener l = verify_listener ? CGD_LISTENER_SIP_VERIFY : CGD_LISTENER_SIP_SIGN;
    if (cg_sip_txcache_receive(d->tx, (unsigned)l, buf, len, (int64_t)time(NULL), &r) != CG_OK) {
        cg_sip_req_clear(&r.req);
        return;
    }
    switch (r.kind) {
    case CG_SIP_K_BAD_ANSWERED:
        atomic_fetch_add(&cgd_m.sip_bad_answered, 1);
        break;
    case CG_SIP_K_BAD_DROPPED:
        atomic_fetch_add(&cgd_m.sip_bad_dropped, 1);
        break;
    case CG_SIP_K_RETRANSMISSION:
        atomic_fetch_add(&cgd_m.sip_retransmissions, 1);
        break;
    case CG_SIP_K_OPTIONS:
        atomic_fetch_add(&cgd_m.sip_options, 1);
        break;
    default:
        break;
    }
    if (r.cancelled)
        ((struct sipcall *)r.cancelled)->cancelled = true;
    if (r.what == CG_SIP_SEND) {
        send_to(d, p, r.out, r.outlen);
    } else if (r.what == CG_SIP_INVITE) {
        if (verify_listener) {
            verify_invite(d, p, &r);
            return;
        }
        sign_invite(d, p, r.tx, &r.req, buf, len);
    }
    cg_sip_req_clear(&r.req);
}

/* --- UDP ---------------------------------------------------------------------------- */

/*
 * Coalescing.  A worker woken for each datagram pays, for each, a wake-up,
 * an epoll_wait, a recvmmsg and a sendmmsg.  Where a system call costs
 * 1-2 us (this project's benchmark VM), that took a signed call from 15 us
 * at saturation to 20 us when the same calls came one by one at 85% of the
 * core's raw signing rate: the core was full, and the signing log's writer,
 * which runs only on idle time, dropped records.  So a listener whose
 * datagrams kept the worker busy over half of the last window (and until
 * they fall under 40%), having answered what one read found, waits about
 * as long as four of its datagrams take to come (never over
 * udp_coalesce_us) and reads again: a NIC's interrupt moderation, with its
 * trade of at most that much more time an answer, made only under load.
 * The wait sleeps the whole worker, so a wake-up stops waiting once it has
 * run for twice udp_coalesce_us: for its waits, the loop's other sockets
 * and timers wait no longer than that, besides the answering it does.
 */
#define WINDOW_NS 20000000
#define MIN_WAIT_US 20

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* At the end of a listener's window: the wait the next one makes, 0 for none. */
static void coalesce_window(struct cgd_sipd *d, struct coalesce *c, int64_t now)
{
    int64_t span = now - c->win_start, four;
    bool busy;
    if (span < WINDOW_NS)
        return;
    /* on over half busy, off under two fifths: a wait lowers the share */
    busy = c->wait_us ? c->win_busy * 5 > span * 2 : c->win_busy * 2 > span;
    four = c->win_datagrams ? 4 * span / 1000 / (int64_t)c->win_datagrams : INT64_MAX;
    c->wait_us = 0;
    /* busy, and at least two datagrams expected in the longest wait */
    if (d->coalesce_us && busy && four / 2 <= d->coalesce_us) {
        if (four < MIN_WAIT_US)
            four = MIN_WAIT_US;
        c->wait_us = four > d->coalesce_us ? d->coalesce_us : (int)four;
        if (!d->slack_set) { /* a 50 us default slack would stretch each wait */
            prctl(PR_SET_TIMERSLACK, 5000UL, 0, 0, 0);
            d->slack_set = true;
        }
    }
    c->win_start = now;
    c->win_busy = 0;
    c->win_datagrams = 0;
}

/* Reads datagrams with recvmmsg, BATCH at a time, and answers them in the
 * worker's batches: up to two full reads a wake-up, and coalescing waits
 * when reads come back short, for up to twice udp_coalesce_us. */
static void udp_read(struct cgd_sipd *d, int fd, bool verify)
{
    char(*bufs)[RECV_STRIDE] = d->bufs;
    struct mmsghdr msg[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage addr[BATCH];
    struct coalesce *co = &d->co[!verify];
    int full = 0, n, i;
    bool waited_once = false;
    int64_t t0 = now_ns(), waited = 0, t1, budget = 2000 * (int64_t)d->coalesce_us;

    coalesce_window(d, co, t0); /* a window that ended idle makes no wait */
    cgd_worker_batch(d->w, true);
    for (;;) {
        for (i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], CG_SIP_MSG_MAX};
            msg[i].msg_hdr = (struct msghdr){.msg_name = &addr[i],
                                             .msg_namelen = sizeof addr[i],
                                             .msg_iov = &iov[i],
                                             .msg_iovlen = 1};
        }
        n = recvmmsg(fd, msg, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        co->win_datagrams += (uint64_t)n;
        if (waited_once)
            atomic_fetch_add(&cgd_m.sip_udp_waited, (unsigned long long)n);
        for (i = 0; i < n; i++) {
            struct peer p = {.udp_fd = fd, .alen = msg[i].msg_hdr.msg_namelen};
            size_t len = msg[i].msg_len;
            memcpy(&p.addr, &addr[i], sizeof p.addr);
            bufs[i][len] = '\0';
            handle(d, verify, bufs[i], len, &p);
        }
        if (n == BATCH) {
            if (++full == 2)
                break;
            continue; /* more waiting: read again at once */
        }
        if (!co->wait_us || now_ns() - t0 >= budget)
            break;
        {
            struct timespec w = {0, (long)co->wait_us * 1000};
            int64_t a;
            cgd_worker_batch(d->w, false); /* these answers leave before the wait */
            cgd_worker_batch(d->w, true);
            a = now_ns();
            clock_nanosleep(CLOCK_MONOTONIC, 0, &w, NULL);
            atomic_fetch_add(&cgd_m.sip_udp_waits, 1);
            waited += now_ns() - a;
            waited_once = true;
        }
    }
    cgd_worker_batch(d->w, false);
    t1 = now_ns();
    co->win_busy += t1 - t0 - waited;
    coalesce_window(d, co, t1);
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

/*
 * A connection's answers queue in its output buffer.  A client that sends
 * and never reads would make that queue grow without limit (1.4 GB in 15 s
 * when it was unbounded), so past TCP_OUTPUT_MAX bytes the connection is
 * not read until the client has taken half of it.
 */
#define TCP_OUTPUT_MAX (1 << 20)

/* The reading side of a TCP or TLS connection (framing, deadline,
 * admission), owned by the connection; struct tconn is the part its calls
 * share to answer through. */
struct tcp_reader {
    struct cgd_sipd *d;
    bool verify;
    bool paused; /* not read until the output drains */
    struct tconn *t;
    struct cgd_admission *adm; /* the listener's, which counted this connection */
    struct event *deadline;    /* armed while a message is incomplete */
    struct sockaddr_storage addr;
    socklen_t alen;
};

static void tcp_close(struct tcp_reader *c)
{
    c->t->closed = true;
    /* NOTE: a parked call may keep the bufferevent alive after c is freed;
     * no callback of it may reach c again (TLS bufferevents can run the
     * read callback right after the event one) */
    bufferevent_setcb(c->t->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->t->bev, EV_READ | EV_WRITE);
    cgd_admission_leave(c->adm, (const struct sockaddr *)&c->addr);
    event_free(c->deadline);
    tconn_put(c->t);
    free(c);
}

/* A message began arriving and did not finish in time: a slow sender
 * holding a connection (and a descriptor) open is cut. */
static void tcp_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    atomic_fetch_add(&cgd_m.sip_tcp_slow, 1);
    tcp_close(arg);
}

/* Answers what the stream cannot be resynchronised after (no usable
 * Content-Length, or too big) with 400 when it can, then closes. */
static void tcp_unframeable(struct tcp_reader *c, const char *buf, size_t len)
{
    struct cg_sip_req req;
    if (cg_sip_parse_request(buf, len > CG_SIP_MSG_MAX ? 0 : len, &req, NULL) != CG_OK &&
        cg_sip_req_answerable(&req)) {
        const char *extra[] = {"Warning: 399 cidguard \"bad Content-Length\""};
        char *out;
        size_t n;
        if (cg_sip_response(&req, 400, "Bad Request", extra, 1, &out, &n) == CG_OK) {
            bufferevent_write(c->t->bev, out, n);
            free(out);
        }
        atomic_fetch_add(&cgd_m.sip_bad_answered, 1);
    } else {
        atomic_fetch_add(&cgd_m.sip_bad_dropped, 1);
    }
    cg_sip_req_clear(&req);
    tcp_close(c);
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
    struct tcp_reader *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len = evbuffer_get_length(in), skip;
        const char *buf;
        long m;
        char *msg;
        struct peer p = {.udp_fd = -1, .tcp = c->t};
        if (len == 0) {
            event_del(c->deadline);
            return;
        }
        if (evbuffer_get_length(bufferevent_get_output(bev)) > TCP_OUTPUT_MAX) {
            c->paused = true;
            bufferevent_disable(bev, EV_READ);
            return;
        }
        if (len > TCP_INPUT_MAX)
            len = TCP_INPUT_MAX; /* frame only what was pulled up */
        buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
        m = cg_sip_frame(buf, len, &skip);
        if (m < 0) {
            tcp_unframeable(c, buf + skip, len - skip);
            return;
        }
        if (skip) {
            evbuffer_drain(in, skip);
            continue;
        }
        if (m == 0) {
            if (len >= TCP_INPUT_MAX) {
                tcp_close(c);
            } else if (!event_pending(c->deadline, EV_TIMEOUT, NULL)) {
                struct timeval tv = {c->d->message_timeout_ms / 1000,
                                     (c->d->message_timeout_ms % 1000) * 1000};
                event_add(c->deadline, &tv);
            }
            return;
        }
        event_del(c->deadline); /* a whole message: the next one's clock starts with its bytes */
        if (!(msg = malloc((size_t)m + 1))) {
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

/* The output fell under the low watermark: a paused connection is read
 * again, starting with what it had already sent. */
static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
    struct tcp_reader *c = arg;
    if (!c->paused)
        return;
    c->paused = false;
    bufferevent_enable(bev, EV_READ);
    tcp_read_cb(bev, c);
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct tcp_reader *c = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        tcp_close(c);
    else if (what & BEV_EVENT_CONNECTED)
        event_del(c->deadline); /* TLS handshake done: an idle connection may stay */
}

/* A stream socket, plain or TLS (the handshake of a new context's
 * certificate, taken when the connection is accepted). */
static struct bufferevent *stream_bev(struct cgd_sipd *d, evutil_socket_t fd, bool tls)
{
    struct cgd_ctx *ctx;
    struct bufferevent *bev;
    if (!tls)
        return bufferevent_socket_new(d->w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    ctx = cgd_ctx_get();
    bev = ctx->tls ? cgd_tls_bufferevent(d->w->base, fd, ctx->tls) : NULL;
    cgd_ctx_put(ctx);
    return bev;
}

static void tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int slen, void *arg)
{
    struct stream_listener *sl = arg;
    struct cgd_sipd *d = sl->d;
    struct cgd_admission *adm = sl->adm;
    bool verify = sl->verify;
    struct tcp_reader *c;
    struct timeval idle = {120, 0}, stuck = {30, 0};
    (void)l;
    if (!cgd_admission_enter(adm, sa)) {
        close(fd);
        return;
    }
    if (!(c = calloc(1, sizeof *c)) || !(c->t = calloc(1, sizeof *c->t)) ||
        !(c->deadline = evtimer_new(d->w->base, tcp_deadline_cb, c)) ||
        !(c->t->bev = stream_bev(d, fd, sl->tls))) {
        if (c) {
            if (c->deadline)
                event_free(c->deadline);
            free(c->t);
        }
        free(c);
        close(fd);
        cgd_admission_leave(adm, sa);
        return;
    }
    c->d = d;
    c->verify = verify;
    c->adm = adm;
    c->t->refs = 1;
    c->t->tls = sl->tls;
    memcpy(&c->addr, sa, (size_t)slen);
    c->alen = (socklen_t)slen;
    bufferevent_setcb(c->t->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
    bufferevent_setwatermark(c->t->bev, EV_READ, 0, TCP_INPUT_MAX);
    bufferevent_setwatermark(c->t->bev, EV_WRITE, TCP_OUTPUT_MAX / 2, 0);
    /* a client that stops reading its answers is cut after 30 s (reading
     * from it is paused meanwhile, so the idle timeout would never fire) */
    bufferevent_set_timeouts(c->t->bev, &idle, &stuck);
    bufferevent_enable(c->t->bev, EV_READ | EV_WRITE);
    if (sl->tls) {
        /* the handshake, like a message, must finish within the deadline */
        struct timeval tv = {d->message_timeout_ms / 1000, (d->message_timeout_ms % 1000) * 1000};
        event_add(c->deadline, &tv);
    }
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_sipd *d = arg;
    (void)fd;
    (void)what;
    cg_sip_txcache_expire(d->tx, (int64_t)time(NULL));
}

struct cgd_sipd *cgd_sip_attach(struct cgd_worker *w, const struct cgd_sip_sockets *s,
                                const struct cgd_conf *conf)
{
    struct cgd_sipd *d = calloc(1, sizeof *d);
    struct event_base *base = w->base;
    struct timeval sec = {1, 0};
    int i;
    if (!d)
        return NULL;
    d->w = w;
    d->udp_verify_fd = s->udp_verify;
    d->udp_sign_fd = s->udp_sign;
    if (cg_sip_txcache_new(&d->tx, TX_MAX, TX_TTL) != CG_OK ||
        !(d->bufs = malloc(BATCH * sizeof *d->bufs)))
        goto fail;
    d->udp_verify_ev = event_new(base, s->udp_verify, EV_READ | EV_PERSIST, udp_verify_cb, d);
    d->udp_sign_ev = event_new(base, s->udp_sign, EV_READ | EV_PERSIST, udp_sign_cb, d);
    d->expire = event_new(base, -1, EV_PERSIST, expire_cb, d);
    if (!d->udp_verify_ev || !d->udp_sign_ev || !d->expire)
        goto fail;
    d->message_timeout_ms = conf->message_timeout_ms;
    d->coalesce_us = conf->udp_coalesce_us;
    d->co[0].win_start = d->co[1].win_start = now_ns();
    for (i = 0; i < 4; i++) {
        static const char *const what[] = {"SIP/TCP verification", "SIP/TCP signing",
                                           "SIP/TLS verification", "SIP/TLS signing"};
        const int fds[] = {s->tcp_verify, s->tcp_sign, s->tls_verify, s->tls_sign};
        struct stream_listener *sl = &d->streams[i];
        sl->d = d;
        sl->verify = i % 2 == 0;
        sl->tls = i >= 2;
        if (fds[i] < 0)
            continue; /* no TLS listener configured */
        if (!(sl->l =
                  evconnlistener_new(base, tcp_accept_cb, sl, LEV_OPT_CLOSE_ON_FREE, -1, fds[i])) ||
            !(sl->adm = cgd_admission_new(base, sl->l, what[i], conf->max_connections,
                                          conf->max_connections_per_source)))
            goto fail;
    }
    event_add(d->udp_verify_ev, NULL);
    event_add(d->udp_sign_ev, NULL);
    event_add(d->expire, &sec);
    return d;
fail:
    cgd_sip_free(d);
    return NULL;
}

void cgd_sip_detach(struct cgd_sipd *d)
{
    int i;
    if (!d)
        return;
    /* Stop taking requests; the UDP sockets stay open (parked calls answer
     * through them) until the process exits. */
    event_del(d->udp_verify_ev);
    event_del(d->udp_sign_ev);
    for (i = 0; i < 4; i++)
        if (d->streams[i].l)
            evconnlistener_disable(d->streams[i].l);
}

void cgd_sip_free(struct cgd_sipd *d)
{
    int i;
    if (!d)
        return;
    if (d->udp_verify_ev)
        event_free(d->udp_verify_ev);
    if (d->udp_sign_ev)
        event_free(d->udp_sign_ev);
    if (d->expire)
        event_free(d->expire);
    for (i = 0; i < 4; i++) {
        if (d->streams[i].l)
            evconnlistener_free(d->streams[i].l);
        cgd_admission_free(d->streams[i].adm);
    }
    close(d->udp_verify_fd);
    close(d->udp_sign_fd);
    cg_sip_txcache_free(d->tx);
    free(d->bufs);
    free(d);
}
