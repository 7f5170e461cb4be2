/*
 * The HTTP side: the ATIS-1000082 API with the SVC/POL exceptions.  The
 * API listener serves POST /stir/v1/verification, /metrics, /healthz and
 * the certificate repository /certs/<file>; the signing listener serves
 * POST /stir/v1/signing (and /healthz) only, so that the signing API can be
 * exposed, or not, on its own.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "admission.h"
#include "auth.h"
#include "call.h"
#include "httpd.h"
#include "intentapi.h"
#include "signing.h"
#include "tls.h"
#include "traceback.h"

/* Whether `s` is shorter than `max` and only visible ASCII and spaces:
 * what may be echoed into a response header. */
static bool printable(const char *s, size_t max)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (i + 1 >= max || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static void reply_json(struct evhttp_request *req, int code, const char *phrase, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req), "X-RequestID");
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    evhttp_add_header(oh, "Content-Type", "application/json");
    if (rid && printable(rid, 128))
        evhttp_add_header(oh, "X-RequestID", rid);
    evbuffer_add(b, body, strlen(body));
    evbuffer_add(b, "\n", 1);
    evhttp_send_reply(req, code, phrase, b);
    evbuffer_free(b);
}

static void reply_error(struct evhttp_request *req, const struct cg_atis_error *e)
{
    char *body = NULL;
    static const char *const phrases[] = {[400] = "Bad Request",
                                          [401] = "Unauthorized",
                                          [403] = "Forbidden",
                                          [404] = "Not Found",
                                          [429] = "Too Many Requests",
                                          [405] = "Method Not Allowed",
                                          [406] = "Not Acceptable",
                                          [411] = "Length Required",
                                          [415] = "Unsupported Media Type",
                                          [500] = "Internal Server Error",
                                          [503] = "Service Unavailable"};
    atomic_fetch_add(&cgd_m.http_bad, 1);
    cg_atis_error_json(e, &body);
    reply_json(req, e->http_status,
               e->http_status < 504 && phrases[e->http_status] ? phrases[e->http_status] : "Error",
               body ? body : "{}");
    free(body);
}

static void err(struct evhttp_request *req, const char *id, int status, const char *text)
{
    struct cg_atis_error e = {id, status, text, ""};
    reply_error(req, &e);
}

/* The transport rules of ATIS-1000082 for both API calls.  Returns the body
 * (NUL-terminated, malloc'ed) or NULL after answering the error. */
static char *api_body(struct evhttp_request *req, size_t *len)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(h, "Content-Type"), *acc = evhttp_find_header(h, "Accept");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    char *body;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        err(req, "POL4050", 405, "Error: Method not allowed.");
        return NULL;
    }
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        err(req, "SVC4004", 415, "Error: Unsupported Content-Type.");
        return NULL;
    }
    if (acc && !strstr(acc, "application/json") && !strstr(acc, "*/*")) {
        err(req, "SVC4002", 406, "Error: Unsupported Accept type.");
        return NULL;
    }
    if (!evhttp_find_header(h, "Content-Length")) {
        err(req, "SVC4007", 411, "Error: Missing Content-Length.");
        return NULL;
    }
    *len = evbuffer_get_length(in);
    if (*len > CG_ATIS_BODY_MAX) {
        err(req, "SVC4006", 400, "Error: JSON parse failure.");
        return NULL;
    }
    if (!(body = malloc(*len + 1))) {
        err(req, "POL5000", 500, "Error: internal error.");
        return NULL;
    }
    evbuffer_copyout(in, body, *len);
    body[*len] = '\0';
    return body;
}

/* --- verification ---------------------------------------------------------------------- */

struct httpcall {
    struct cgd_call c;
    struct evhttp_request *req;
    struct cg_atis_verify_req vr;
    const char *ident;
    const char *to_more[CG_ATIS_TO_MORE];
};

static void httpcall_free(struct httpcall *h)
{
    cgd_call_end(&h->c);
    cg_atis_verify_req_clear(&h->vr);
    free(h);
}

/* {"tn": "+N", "verstat": V, "reasons": [the findings about it]}: an
 * extension member's entry for one of the call's numbers; V is the
 * verification's when it is about this number, else No-TN-Validation. */
static json_t *number_json(const char *tn, const struct cg_decision *d, unsigned which,
                           uint32_t reasons)
{
    json_t *o = json_object(), *list = json_array();
    char plus[CG_TN_MAX + 2];
    int i;
    snprintf(plus, sizeof plus, "+%s", tn);
    json_object_set_new(o, "tn", json_string(plus));
    json_object_set_new(
        o, "verstat",
        json_string(cg_verstat_str(d->verstat_on & which ? d->verstat : CG_VERSTAT_NONE)));
    for (i = 0; i < CG_PR__COUNT; i++)
        if (reasons & (1u << i))
            json_array_append_new(list,
                                  json_string(cg_policy_reason_code((enum cg_policy_reason)i)));
    json_object_set_new(o, "reasons", list);
    return o;
}

static void answer_verify(struct cgd_call *c, const struct cg_verdict *v,
                          const struct cg_decision *d)
{
    struct httpcall *h = (struct httpcall *)c;
    json_t *r = json_object(), *reasons = json_array();
    char a[2] = {v->attest, 0}, *body;
    int i;
    json_object_set_new(r, "verstat", json_string(cg_verstat_str(d->verstat)));
    if (v->reason != CG_R_OK) {
        json_object_set_new(r, "reasonCode", json_integer(v->reason_code));
        json_object_set_new(r, "reasonText", json_string(v->reason_text));
        json_object_set_new(r, "reasonDesc", json_string(v->detail));
    }
    for (i = 0; i < CG_PR__COUNT; i++)
        if (d->reasons & (1u << i))
            json_array_append_new(reasons,
                                  json_string(cg_policy_reason_code((enum cg_policy_reason)i)));
    if (v->attest)
        json_object_set_new(r, "attest", json_string(a));
    if (v->origid[0])
        json_object_set_new(r, "origid", json_string(v->origid));
    if (v->spc[0])
        json_object_set_new(r, "spc", json_string(v->spc));
    /* extension members: the decision for the SBC */
    json_object_set_new(r, "action", json_string(cg_action_str(d->action)));
    json_object_set_new(r, "reasons", reasons);
    if (d->brand[0])
        json_object_set_new(r, "brand", json_string(d->brand));
    /* the call's numbers, each with what was found about it */
    if (c->caller[0]) {
        json_t *nums = json_object();
        json_object_set_new(nums, "network",
                            number_json(c->caller, d, CG_POLICY_NUM_CALLER, d->caller_reasons));
        if (c->presented[0] && strcmp(c->presented, c->caller) != 0)
            json_object_set_new(
                nums, "presentation",
                number_json(c->presented, d, CG_POLICY_NUM_PRESENTED, d->presented_reasons));
        json_object_set_new(r, "numbers", nums);
    }
    if (c->international && c->ctx->conf.mark_international)
        json_object_set_new(r, "origin", json_string("international"));
    {
        json_t *top = json_pack("{s:o}", "verificationResponse", r);
        body = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(top);
    }
    reply_json(h->req, 200, "OK", body ? body : "{}");
    free(body);
    httpcall_free(h);
}

static void answer_overload(struct cgd_call *c)
{
    struct httpcall *h = (struct httpcall *)c;
    err(h->req, "POL5000", 503, "Error: overloaded, retry later.");
    httpcall_free(h);
}

/* The names of an HTTPS client's verified certificate ("" otherwise). */
static const char *cert_names(struct evhttp_request *req, bool https, char *names, size_t cap)
{
    names[0] = '\0';
    if (https)
        cgd_tls_peer_names(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)),
                           names, cap);
    return names;
}

static void verification(struct evhttp_request *req, struct cgd_worker *w, bool https)
{
    struct cg_atis_error e;
    struct httpcall *h;
    const struct sockaddr *addr;
    char names[1024];
    bool trusted;
    size_t len;
    char *body = api_body(req, &len);
    int rc;
    if (!body)
        return;
    if (!(h = calloc(1, sizeof *h))) {
        free(body);
        err(req, "POL5000", 500, "Error: internal error.");
        return;
    }
    cgd_call_begin(&h->c, w, CGD_LISTENER_HTTP_VERIFY);
    rc = cg_atis_parse_verify(body, len, h->c.ctx->plan, &h->vr, &e);
    free(body);
    if (rc != CG_OK) {
        httpcall_free(h);
        if (rc == CG_EPARSE)
            reply_error(req, &e);
        else
            err(req, "POL5000", 500, "Error: internal error.");
        return;
    }
    /* the answer may come after a fetch: keep the request even if the
     * client goes away (evhttp then frees it in send_reply) */
    evhttp_request_own(req);
    h->req = req;
    h->ident = h->vr.identity;
    h->c.answer = answer_verify;
    h->c.overload = answer_overload;
    h->c.call.identity = &h->ident;
    h->c.call.nidentity = 1;
    h->c.call.from = h->vr.from;
    h->c.call.to = h->vr.to;
    for (size_t i = 0; i < h->vr.nto_more; i++)
        h->to_more[i] = h->vr.to_more[i];
    h->c.call.to_more = h->to_more;
    h->c.call.nto_more = h->vr.nto_more;
    h->c.call.request_time = h->vr.time;
    /* canonical: parsed as numbers */
    snprintf(h->c.caller, sizeof h->c.caller, "%s", h->vr.from);
    snprintf(h->c.presented, sizeof h->c.presented, "%s", h->vr.presentation);
    snprintf(h->c.callee, sizeof h->c.callee, "%s", h->vr.to);
    /* a number no callee can be shown as E.164 ("0..." without the
     * configured country code) is unreadable, as over SIP */
    h->c.caller_unreadable =
        !cg_tn_is_e164(h->c.caller) || (h->c.presented[0] && !cg_tn_is_e164(h->c.presented));
    /* the call's Call-ID (extension member "callId") keys replay detection;
     * without one the request matches no other use of its token */
    h->c.call_id = h->vr.call_id[0] ? h->vr.call_id : NULL;
    /* the ingress: the request's extension member "ingress" (a trunk name)
     * when the client is trusted to name trunks ([policy] tgrp_from; a name
     * no row holds is a call from abroad), else the client's address: any
     * client could otherwise name a domestic trunk for a call from abroad */
    addr = evhttp_connection_get_addr(evhttp_request_get_connection(req));
    trusted = h->vr.ingress[0] && h->c.ctx->conf.tgrp_from[0] &&
              cgd_trusted_peer(addr, cert_names(req, https, names, sizeof names),
                               h->c.ctx->conf.tgrp_from);
    cgd_call_set_ingress(&h->c, trusted ? h->vr.ingress : NULL, addr);
    cgd_call_run(&h->c);
}

/* --- signing ---------------------------------------------------------------------------- */

/* Whether a header's name is Cidguard-Customer in any case.  libevent
 * keeps spaces or tabs written before the colon in the name; they are
 * allowed, as the SIP listener allows them, so that the header an SBC
 * writes names the same customer whichever listener reads it. */
static bool customer_key(const char *key)
{
    static const char name[] = "Cidguard-Customer";
    if (strncasecmp(key, name, sizeof name - 1) != 0)
        return false;
    key += sizeof name - 1;
    return key[strspn(key, " \t")] == '\0';
}

/* The request's Cidguard-Customer header, by which an SBC of [sign]
 * customer_from names the signing customer (signing.h): 1 with the name
 * in out, 0 without one, -1 for one that names no one readably or two. */
static int customer_header(struct evhttp_request *req, char out[CG_CUSTOMER_NAME_MAX + 1])
{
    const struct evkeyval *kv;
    int found = 0;
    out[0] = '\0';
    for (kv = evhttp_request_get_input_headers(req)->tqh_first; kv; kv = kv->next.tqe_next)
        if (customer_key(kv->key) &&
            (found++ || !cgd_customer_header(kv->value, strlen(kv->value), out)))
            return -1;
    return found;
}

static void signing(struct evhttp_request *req, bool https)
{
    char names[1024], named[CG_CUSTOMER_NAME_MAX + 1];
    struct cg_atis_sign_req sr;
    struct cg_atis_error e;
    struct cgd_ctx *ctx = cgd_ctx_get();
    struct cgd_sign_req r = {.listener = CGD_LISTENER_HTTP_SIGN};
    const char *dests[CG_PASSPORT_DEST_MAX];
    struct cgd_signed sg = {0};
    char *body, *out, codes[300];
    size_t len, i;
    int rc;

    if (!(body = api_body(req, &len)))
        goto out;
    rc = cg_atis_parse_sign(body, len, ctx->plan, &sr, &e);
    free(body);
    if (rc != CG_OK) {
        reply_error(req, &e);
        goto out;
    }
    for (i = 0; i < sr.ndest; i++)
        dests[i] = sr.dest[i];
    r.addr = evhttp_connection_get_addr(evhttp_request_get_connection(req));
    r.cert_names = cert_names(req, https, names, sizeof names);
    r.bearer = cgd_bearer(req, &r.bearer_len);
    r.orig = sr.orig;
    r.presented = sr.presentation[0] && strcmp(sr.presentation, sr.orig) ? sr.presentation : NULL;
    r.dest = dests;
    r.ndest = sr.ndest;
    r.attest = sr.attest;
    r.iat = sr.iat;
    /* an SBC's word for the customer: heeded only from [sign] customer_from
     * and without a token (signing.c) */
    if (ctx->conf.sign_customer_from[0]) {
        int h = customer_header(req, named);
        r.named = h > 0 ? named : NULL;
        r.named_bad = h < 0;
    }
    switch (cgd_sign(ctx, &r, &sg)) {
    case CGD_SIGN_OK:
        break;
    case CGD_SIGN_NO_SIGNER:
        err(req, "POL5000", 500, "Error: no signing key configured.");
        goto out;
    case CGD_SIGN_BAD_TOKEN:
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"cidguard\", error=\"invalid_token\"");
        err(req, "POL4010", 401, "Error: Unauthorized.");
        goto out;
    case CGD_SIGN_UNKNOWN_CLIENT:
        if (sg.unknown_named) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Cidguard-Reasons",
                              "unknown_customer");
            err(req, "POL4030", 403, "Error: Forbidden: the customer named is unknown.");
            goto out;
        }
        err(req, "POL4030", 403, "Error: Forbidden.");
        goto out;
    case CGD_SIGN_RATE:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        err(req, "POL4290", 429, "Error: Too many requests.");
        goto out;
    case CGD_SIGN_IAT:
        err(req, "SVC4005", 400,
            "Error: Invalid parameter value: iat outside the freshness window.");
        goto out;
    case CGD_SIGN_POLICY: {
        /* nothing spoofed is signed: the reason codes, for the client */
        char text[360];
        cg_decision_reasons(&sg.decision, codes, sizeof codes);
        snprintf(text, sizeof text, "Error: Forbidden by the origination policy (%s).", codes);
        err(req, "POL4031", 403, text);
        goto out;
    }
    default:
        err(req, "SVC4005", 400, "Error: Invalid parameter value.");
        goto out;
    }
    {
        json_t *j = json_pack("{s:{s:s}}", "signingResponse", "identity", sg.identity);
        char att[2] = {sg.attest, 0};
        if (sg.attest != sr.attest)
            json_object_set_new(json_object_get(j, "signingResponse"), "attestDowngradedTo",
                                json_string(att));
        if (sg.decision.reasons) { /* extension members: what the policy found */
            cg_decision_reasons(&sg.decision, codes, sizeof codes);
            json_object_set_new(json_object_get(j, "signingResponse"), "action",
                                json_string(cg_action_str(sg.decision.action)));
            json_object_set_new(json_object_get(j, "signingResponse"), "reasons",
                                json_string(codes));
        }
        out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
    }
    reply_json(req, 200, "OK", out ? out : "{}");
    free(out);
out:
    free(sg.identity);
    cgd_ctx_put(ctx);
}

/* --- the rest ---------------------------------------------------------------------------- */

static void certs(struct evhttp_request *req, const char *state_dir, const char *name)
{
    char path[CGD_PATH + 300];
    struct evbuffer *b;
    struct stat st;
    int fd;
    if (!*name || strlen(name) > 200 ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
            strlen(name) ||
        name[0] == '.') {
        err(req, "SVC4003", 404, "Error: Resource not found.");
        return;
    }
    snprintf(path, sizeof path, "%s/certs/%s", state_dir, name);
    fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CG_BUNDLE_MAX) {
        if (fd >= 0)
            close(fd);
        err(req, "SVC4003", 404, "Error: Resource not found.");
        return;
    }
    b = evbuffer_new();
    evbuffer_add_file(b, fd, 0, st.st_size);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      strstr(name, "crl") ? "application/pkix-crl"
                                          : "application/pem-certificate-chain");
    /* ATIS-1000074: the repository must send a caching directive */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "max-age=86400");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

#define CONN_BUCKETS 4096 /* a power of two */
#define NEW_MAX 256

struct cgd_httpd {
    struct evhttp *evhttp;
    struct cgd_worker *w;
    enum cgd_http_role role;
    bool https;
    struct cgd_admission *adm; /* caps per listener and source; accept() back-off */
    time_t message_timeout_s;
    struct hconn *conns[CONN_BUCKETS]; /* every connection, hashed by bufferevent */
    size_t nconns;
    struct hconn *fresh[NEW_MAX]; /* accepted in this loop iteration */
    size_t nnew;
    struct event *fresh_ev, *sweep_ev;
};

static void request_done(struct cgd_httpd *h, struct evhttp_request *req);

static void route(struct evhttp_request *req, void *arg)
{
    struct cgd_httpd *h = arg;
    struct cgd_worker *w = h->w;
    bool api = h->role == CGD_HTTP_API;
    const char *uri = evhttp_request_get_uri(req);
    char path[512];
    const char *q;
    size_t n;
    if (!uri) {
        err(req, "SVC4003", 404, "Error: Resource not found.");
        return;
    }
    q = strchr(uri, '?');
    n = q ? (size_t)(q - uri) : strlen(uri);
    if (n >= sizeof path) {
        err(req, "SVC4003", 404, "Error: Resource not found.");
        return;
    }
    memcpy(path, uri, n);
    path[n] = '\0';
    request_done(h, req);
    if (w->stopping) {
        err(req, "POL5000", 503, "Error: shutting down.");
    } else if (api && strcmp(path, "/stir/v1/verification") == 0) {
        verification(req, w, h->https);
    } else if (!api && strcmp(path, "/stir/v1/signing") == 0) {
        signing(req, h->https);
    } else if (strcmp(path, "/healthz") == 0) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "ok\n");
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
    } else if (api && strcmp(path, "/metrics") == 0) {
        struct cgd_ctx *ctx = cgd_ctx_get();
        char *m = cgd_metrics_render(ctx->certcache);
        cgd_ctx_put(ctx);
        struct evbuffer *b = evbuffer_new();
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4");
        evbuffer_add(b, m ? m : "", m ? strlen(m) : 0);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        free(m);
    } else if (api && strcmp(path, "/intent/v1") == 0) {
        cgd_intent_http(req, w);
    } else if (api && strcmp(path, "/traceback/v1") == 0) {
        cgd_traceback_http(req);
    } else if (api && strncmp(path, "/certs/", 7) == 0) {
        struct cgd_ctx *ctx = cgd_ctx_get();
        certs(req, ctx->conf.state_dir, path + 7);
        cgd_ctx_put(ctx);
    } else {
        err(req, "SVC4003", 404, "Error: Resource not found.");
    }
}

/* --- connections -------------------------------------------------------------------- */

/*
 * Each connection's bufferevent is made here, so that its input is bounded:
 * evhttp answers pipelined requests one at a time and keeps reading while
 * an answer waits for a client that does not read, so without a high
 * watermark one connection could queue requests without limit.  With it,
 * reading stops until the queued requests have been answered.
 *
 * libevent 2.1's evhttp accepts connections itself and has no per-connection
 * hook, so the caps per listener and per source and the request deadline
 * are kept by watching the bufferevents it is given: each holds a reference
 * of ours, is looked at right after evhttp set it up (its peer is counted,
 * or the connection shut down over a cap), and every 100 ms (a request that
 * has been arriving longer than message_timeout_ms is cut: evhttp's own
 * timeout restarts with every byte, so a sender of a byte every few seconds
 * was never cut).  A connection evhttp has freed has no callbacks left; its
 * reference is then dropped, which closes the descriptor.
 */
#define HTTP_INPUT_MAX (CG_ATIS_BODY_MAX + 16384 + 4096)

struct hconn {
    struct hconn *next;      /* hash chain, by bufferevent */
    struct bufferevent *bev; /* our reference */
    struct sockaddr_storage peer;
    bool live, counted;
    size_t received; /* bytes of the request being read */
    time_t since;    /* when its first byte came (or the connection) */
};

static size_t conn_bucket(const struct bufferevent *bev)
{
    uintptr_t p = (uintptr_t)bev;
    return (size_t)((p >> 4) ^ (p >> 16)) & (CONN_BUCKETS - 1);
}

static struct hconn *conn_of(const struct cgd_httpd *h, const struct bufferevent *bev)
{
    struct hconn *c;
    for (c = h->conns[conn_bucket(bev)]; c && c->bev != bev; c = c->next)
        ;
    return c;
}

static void received_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct hconn *c = arg;
    (void)buf;
    if (!info->n_added)
        return;
    if (!c->received)
        c->since = time(NULL); /* a request's first byte starts its deadline */
    c->received += info->n_added;
}

static void cut(struct hconn *c)
{
    int fd = bufferevent_getfd(c->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR); /* evhttp sees the end and frees its connection */
}

/* Looks at one connection; true when evhttp is done with it and it was
 * released (c is freed). */
static bool conn_check(struct cgd_httpd *h, struct hconn *c, time_t now)
{
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    if (!rd && !wr && !ev) {
        struct hconn **pp;
        if (!c->live && now - c->since < 2)
            return false; /* not set up yet */
        for (pp = &h->conns[conn_bucket(c->bev)]; *pp != c; pp = &(*pp)->next)
            ;
        *pp = c->next;
        if (c->counted)
            cgd_admission_leave(h->adm, (const struct sockaddr *)&c->peer);
        bufferevent_decref(c->bev);
        free(c);
        h->nconns--;
        return true;
    }
    if (!c->live) {
        socklen_t len = sizeof c->peer;
        int fd = bufferevent_getfd(c->bev);
        c->live = true;
        evbuffer_add_cb(bufferevent_get_input(c->bev), received_cb, c);
        if (fd >= 0 && getpeername(fd, (struct sockaddr *)&c->peer, &len) == 0 &&
            cgd_admission_enter(h->adm, (const struct sockaddr *)&c->peer))
            c->counted = true;
        else
            cut(c);
    } else if (c->received && now - c->since > h->message_timeout_s) {
        atomic_fetch_add(&cgd_m.http_slow, 1);
        cut(c);
        c->received = 0;
    }
    return false;
}

/* The connections accepted in this loop iteration, set up by evhttp by now. */
static void fresh_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_httpd *h = arg;
    time_t now = time(NULL);
    size_t i, n = h->nnew;
    (void)fd;
    (void)what;
    h->nnew = 0;
    for (i = 0; i < n; i++)
        conn_check(h, h->fresh[i], now);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_httpd *h = arg;
    time_t now = time(NULL);
    size_t b;
    (void)fd;
    (void)what;
    h->nnew = 0; /* all of them are looked at here */
    for (b = 0; b < CONN_BUCKETS; b++) {
        struct hconn *c = h->conns[b], *next;
        for (; c; c = next) {
            next = c->next;
            conn_check(h, c, now);
        }
    }
}

static struct bufferevent *connection_bev_cb(struct event_base *base, void *arg)
{
    struct cgd_httpd *h = arg;
    struct bufferevent *bev;
    struct hconn *c;
    if (h->https) {
        /* the certificate of the context in force when the connection came */
        struct cgd_ctx *ctx = cgd_ctx_get();
        bev = ctx->tls ? cgd_tls_bufferevent(base, -1, ctx->tls) : NULL;
        cgd_ctx_put(ctx);
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev)
        return NULL;
    bufferevent_setwatermark(bev, EV_READ, 0, HTTP_INPUT_MAX);
    if ((c = calloc(1, sizeof *c))) {
        size_t b = conn_bucket(bev);
        bufferevent_incref(bev);
        c->bev = bev;
        c->since = time(NULL);
        c->next = h->conns[b];
        h->conns[b] = c;
        h->nconns++;
        if (h->nnew < NEW_MAX)
            h->fresh[h->nnew++] = c;
        event_active(h->fresh_ev, EV_TIMEOUT, 0);
    }
    return bev;
}

/* A whole request arrived on its connection: its deadline starts again. */
static void request_done(struct cgd_httpd *h, struct evhttp_request *req)
{
    struct hconn *c =
        conn_of(h, evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)));
    if (c) {
        c->received = 0;
        c->since = time(NULL);
    }
}

struct cgd_httpd *cgd_http_attach(struct cgd_worker *w, int fd, enum cgd_http_role role,
                                  const struct cgd_conf *conf)
{
    bool https = conf->https;
    /* often enough that a closed connection's descriptor is not held long */
    struct timeval tick = {0, 100000};
    struct cgd_httpd *h = calloc(1, sizeof *h);
    struct evhttp_bound_socket *bound;
    if (!h || !(h->evhttp = evhttp_new(w->base))) {
        free(h);
        return NULL;
    }
    evhttp_set_max_body_size(h->evhttp, CG_ATIS_BODY_MAX);
    evhttp_set_max_headers_size(h->evhttp, 16384);
    evhttp_set_timeout(h->evhttp, 30);
    evhttp_set_allowed_methods(h->evhttp, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    h->w = w;
    h->role = role;
    h->https = https;
    evhttp_set_gencb(h->evhttp, route, h);
    evhttp_set_bevcb(h->evhttp, connection_bev_cb, h);
    h->message_timeout_s = (conf->message_timeout_ms + 999) / 1000;
    if (!(bound = evhttp_accept_socket_with_handle(h->evhttp, fd)) ||
        !(h->adm = cgd_admission_new(w->base, evhttp_bound_socket_get_listener(bound),
                                     role == CGD_HTTP_API ? "HTTP API" : "HTTP signing API",
                                     conf->max_connections, conf->max_connections_per_source)) ||
        !(h->fresh_ev = event_new(w->base, -1, 0, fresh_cb, h)) ||
        !(h->sweep_ev = event_new(w->base, -1, EV_PERSIST, sweep_cb, h)) ||
        event_add(h->sweep_ev, &tick)) {
        cgd_http_free(h);
        return NULL;
    }
    return h;
}

/* evhttp keeps answering during the drain (503 for new calls). */
void cgd_http_free(struct cgd_httpd *h)
{
    size_t b;
    if (!h)
        return;
    if (h->evhttp)
        evhttp_free(h->evhttp); /* frees its connections: our references remain */
    for (b = 0; b < CONN_BUCKETS; b++)
        while (h->conns[b]) {
            struct hconn *c = h->conns[b];
            h->conns[b] = c->next;
            bufferevent_decref(c->bev);
            free(c);
        }
    if (h->fresh_ev)
        event_free(h->fresh_ev);
    if (h->sweep_ev)
        event_free(h->sweep_ev);
    cgd_admission_free(h->adm);
    free(h);
}
