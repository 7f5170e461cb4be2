/*
 * The call-intent API (intentapi.h).
 *
 *   POST   /intent/v1   one intent, {"intents":[...]} or a bare array
 *   DELETE /intent/v1?from=N&to=M
 *   GET    /intent/v1[?from=N]
 *
 * A request is judged whole before anything is stored: the key (401), the
 * body (400, 413), every number's owner and protection (403), the key's
 * rate (429) and room in memory (503).  Then the intents go to the
 * process-wide store and, with [redis] url, to Redis in one MULTI/EXEC, so
 * that no refused or failed request leaves part of itself behind.
 *
 * Redis is reached over a connection of each worker's own, made when the
 * worker first needs it: never the call path's, so that a batch of a
 * thousand writes never queues ahead of the calls' observations.  Besides
 * the intent keys (cg_intent_redis_key), each number registering intents
 * has a sorted set "<prefix>intents:<from>" (member: the callee, score:
 * the expiry), so that one number's intents are listed without scanning
 * the keyspace; it expires max_valid_for after its last registration.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "auth.h"
#include "context.h"
#include "intentapi.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"

#define LIST_MAX 10000 /* intents one listing answers with */
#define REDIS_WAIT_MIN_MS 1000

/* --- answers ------------------------------------------------------------------------ */

static void reply(struct evhttp_request *req, int status, json_t *body)
{
    static const char *const phrase[] = {[200 - 200] = "OK",
                                         [201 - 200] = "Created",
                                         [400 - 200] = "Bad Request",
                                         [401 - 200] = "Unauthorized",
                                         [403 - 200] = "Forbidden",
                                         [404 - 200] = "Not Found",
                                         [405 - 200] = "Method Not Allowed",
                                         [413 - 200] = "Payload Too Large",
                                         [429 - 200] = "Too Many Requests",
                                         [500 - 200] = "Internal Server Error",
                                         [503 - 200] = "Service Unavailable"};
    struct evbuffer *b = evbuffer_new();
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (text) {
        evbuffer_add(b, text, strlen(text));
        evbuffer_add(b, "\n", 1);
    }
    evhttp_send_reply(
        req, status,
        status >= 200 && status <= 503 && phrase[status - 200] ? phrase[status - 200] : "Error", b);
    evbuffer_free(b);
    free(text);
    json_decref(body);
}

/* --- audit ---------------------------------------------------------------------------- */

/*
 * One line per registration and cancellation.  Refusals are logged too,
 * but a flood of them would flood the log: past 20 in a second the rest of
 * that second's are counted and summed up in the next line.
 */
static struct cgd_audit audit_lines = CGD_AUDIT_INITIALIZER;

static void addr_text(struct evhttp_request *req, char *out, size_t cap)
{
    cgd_addr_text(evhttp_connection_get_addr(evhttp_request_get_connection(req)), out, cap);
}

static void audit_refusal(struct evhttp_request *req, const char *key, int status, const char *why)
{
    char addr[INET6_ADDRSTRLEN];
    if (!cgd_audit_may(&audit_lines, "intent refusal(s)"))
        return;
    addr_text(req, addr, sizeof addr);
    cgd_log(LOG_NOTICE, "cidguardd: audit: intent request refused (%d: %s) from %s, key %s", status,
            why, addr, key ? key : "-");
}

/* A refusal: counted, logged, answered {"error": why}. */
static void refuse(struct evhttp_request *req, const char *key, int status, const char *why)
{
    int i = status == 400   ? CGD_IR_400
            : status == 401 ? CGD_IR_401
            : status == 403 ? CGD_IR_403
            : status == 413 ? CGD_IR_413
            : status == 429 ? CGD_IR_429
                            : CGD_IR_503;
    atomic_fetch_add(&cgd_m.intents_refused[i], 1);
    audit_refusal(req, key, status, why);
    if (status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"cidguard-intent\"");
    if (status == 429)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    reply(req, status, json_pack("{s:s}", "error", why));
}

/* --- per-key rate, counted in intents (auth.h) ------------------------------------------ */

static struct cgd_rates rates = CGD_RATES_INITIALIZER;

/* --- Redis: one connection per worker, for intents only ------------------------------------ */

struct iredis {
    struct event_base *base;
    redisAsyncContext *ac; /* NULL: not connected */
    bool up;
    time_t next_try; /* after a failure, not before this */
    char host[256];  /* the server ac is connected to */
    int port;
};
static __thread struct iredis *tl_redis;
/* Frees a worker's connection when its thread ends (the loop is over, its
 * event base not yet freed): the key's destructor. */
static pthread_key_t ir_key;
static pthread_once_t ir_key_once = PTHREAD_ONCE_INIT;

static void ir_free(void *arg)
{
    struct iredis *r = arg;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL; /* its callbacks see a connection that is not current */
    if (ac)
        redisAsyncFree(ac);
    free(r);
}

static void ir_key_init(void)
{
    pthread_key_create(&ir_key, ir_free);
}

static void ir_connected(const redisAsyncContext *ac, int status)
{
    struct iredis *r = ac->data;
    if (status != REDIS_OK) {
        r->ac = NULL; /* hiredis frees it */
        r->up = false;
        r->next_try = time(NULL) + 1;
        return;
    }
    r->up = true;
}

static void ir_disconnected(const redisAsyncContext *ac, int status)
{
    struct iredis *r = ac->data;
    (void)status;
    if (r->ac == ac) {
        r->ac = NULL;
        r->up = false;
        r->next_try = time(NULL) + 1;
    }
}

/* Drops the connection after a timeout or a switch of master: hiredis
 * answers what waits with no reply. */
static void ir_drop(void)
{
    struct iredis *r = tl_redis;
    redisAsyncContext *ac;
    if (!r || !r->ac)
        return;
    ac = r->ac;
    r->ac = NULL;
    r->up = false;
    r->next_try = time(NULL) + 1;
    redisAsyncFree(ac);
}

/* The worker's intent connection, connecting it when needed; NULL when
 * Redis is not configured or not reachable now.  With sentinels it is the
 * master the call path's connections last found (cgd_redis_master), so
 * registrations follow a failover; on a cluster there is none (below). */
static redisAsyncContext *ir_get(struct cgd_worker *w, const struct cgd_conf *k)
{
    struct iredis *r = tl_redis;
    struct cg_redis_addr a;
    redisAsyncContext *ac;
    /* An intent's keys and its number's set are in different slots: a
     * cluster refuses their MULTI, so intents stay in memory there. */
    if (!k->redis_url[0] || k->redis_cluster[0] || cg_redis_parse_url(k->redis_url, &a) != CG_OK)
        return NULL;
    if (k->redis_sentinels[0] && !cgd_redis_master(a.host, sizeof a.host, &a.port))
        return NULL; /* no master found yet */
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return NULL;
        r->base = w->base;
        tl_redis = r;
        pthread_once(&ir_key_once, ir_key_init);
        pthread_setspecific(ir_key, r);
    }
    if (r->ac && (r->port != a.port || strcmp(r->host, a.host) != 0)) {
        ir_drop(); /* the sentinels named another master: go there now */
        r->next_try = 0;
    }
    if (r->ac)
        return r->ac; /* connected, or connecting: hiredis queues until then */
    if (time(NULL) < r->next_try)
        return NULL;
    ac = redisAsyncConnect(a.host, a.port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        r->next_try = time(NULL) + 1;
        return NULL;
    }
    ac->data = r;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, ir_connected);
    redisAsyncSetDisconnectCallback(ac, ir_disconnected);
    if (a.password[0] && a.user[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", a.user, a.password);
    else if (a.password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", a.password);
    if (a.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", a.db);
    r->ac = ac;
    snprintf(r->host, sizeof r->host, "%s", a.host);
    r->port = a.port;
    return ac;
}

/* --- a request waiting for Redis ------------------------------------------------------------- */

enum op { OP_ADD, OP_CANCEL, OP_LIST };

struct pending {
    enum op op;
    struct evhttp_request *req;
    struct event *timer;
    bool answered, waiting; /* the HTTP answer sent; a Redis reply still due */
    json_t *answer;         /* what is answered when Redis cannot say more */
    int status;
    bool mem_found; /* cancel: memory held it */
    char key[256], from[CG_INTENT_TN_MAX + 1];
    int64_t now;
};

static void pending_done(struct pending *p)
{
    if (p->answered && !p->waiting) {
        if (p->timer)
            event_free(p->timer);
        json_decref(p->answer);
        free(p);
    }
}

/* Answers from what memory said (Redis failed or was too slow). */
static void answer_local(struct pending *p)
{
    if (p->answered)
        return;
    p->answered = true;
    if (p->op == OP_CANCEL && !p->mem_found) {
        reply(p->req, 404, json_pack("{s:s}", "error", "no such intent"));
    } else {
        if (p->op == OP_CANCEL)
            atomic_fetch_add(&cgd_m.intents_cancelled, 1);
        json_object_set_new(p->answer, "shared", json_false());
        reply(p->req, p->status, json_incref(p->answer));
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    (void)fd;
    (void)what;
    answer_local(p);
    ir_drop(); /* its reply callback runs now, with no reply */
}

static bool list_add(json_t *arr, const char *from, const char *to, long long uses, long long ttl,
                     int64_t now)
{
    if (json_array_size(arr) >= LIST_MAX)
        return false;
    json_array_append_new(arr,
                          json_pack("{s:s+,s:s+,s:I,s:I}", "from", "+", from, "to", "+", to, "uses",
                                    (json_int_t)uses, "expires", (json_int_t)(now + ttl)));
    return true;
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct pending *p = privdata;
    redisReply *r = reply_;
    (void)ac;
    p->waiting = false;
    if (p->answered) {
        pending_done(p);
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_NIL) {
        answer_local(p);
    } else if (p->op == OP_ADD) {
        p->answered = true;
        json_object_set_new(p->answer, "shared", json_true());
        reply(p->req, p->status, json_incref(p->answer));
    } else if (p->op == OP_CANCEL) {
        /* EXEC's answer: [DEL count, ZREM count] */
        bool found = p->mem_found ||
                     (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                      r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer > 0);
        p->answered = true;
        if (found) {
            atomic_fetch_add(&cgd_m.intents_cancelled, 1);
            json_object_set_new(p->answer, "shared", json_true());
            reply(p->req, 200, json_incref(p->answer));
        } else {
            reply(p->req, 404, json_pack("{s:s}", "error", "no such intent"));
        }
    } else {
        /* the listing script's answer: to, uses, ttl, ... */
        json_t *arr = json_array();
        size_t i;
        for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 3 <= r->elements; i += 3) {
            redisReply *to = r->element[i], *u = r->element[i + 1], *t = r->element[i + 2];
            long long uses = u->type == REDIS_REPLY_STRING ? atoll(u->str) : 0;
            if (to->type != REDIS_REPLY_STRING || t->type != REDIS_REPLY_INTEGER || uses <= 0 ||
                t->integer <= 0 || strspn(to->str, "0123456789") != to->len || to->len > 15)
                continue;
            if (!list_add(arr, p->from, to->str, uses, t->integer, p->now))
                break;
        }
        p->answered = true;
        reply(p->req, 200,
              json_pack("{s:o,s:I,s:b}", "intents", arr, "count", (json_int_t)json_array_size(arr),
                        "shared", 1));
    }
    pending_done(p);
}

/* The worker's intent connection with MULTI sent, or NULL (memory only). */
static redisAsyncContext *tx_begin(struct cgd_worker *w, const struct cgd_conf *k)
{
    redisAsyncContext *ac = ir_get(w, k);
    if (ac && redisAsyncCommand(ac, NULL, NULL, "MULTI") != REDIS_OK) {
        ir_drop();
        return NULL;
    }
    return ac;
}

/* After the command whose reply answers p was queued (rc, its result):
 * p waits for it, at most [redis] timeout_ms (a second at least).  False
 * when it could not be queued: a half-sent transaction is dropped with the
 * connection (Redis discards a MULTI whose connection closes), and p is
 * answered from memory. */
static bool await_reply(struct cgd_worker *w, const struct cgd_conf *k, struct pending *p, int rc)
{
    struct timeval tv;
    int wait_ms = k->redis_timeout_ms > REDIS_WAIT_MIN_MS ? k->redis_timeout_ms : REDIS_WAIT_MIN_MS;
    if (rc != REDIS_OK) {
        ir_drop();
        return false;
    }
    p->waiting = true;
    evhttp_request_own(p->req); /* answered later, whatever the client does meanwhile */
    tv.tv_sec = wait_ms / 1000;
    tv.tv_usec = (wait_ms % 1000) * 1000;
    if ((p->timer = evtimer_new(w->base, on_timeout, p)))
        evtimer_add(p->timer, &tv);
    return true;
}

/* --- requests --------------------------------------------------------------------------------- */

/* The query parameter `name`, canonicalized as an intent number into
 * out; 0 when absent, -1 when malformed. */
static int query_number(const struct evkeyvalq *q, const char *name, char *out)
{
    const char *v = evhttp_find_header(q, name);
    if (!v)
        return 0;
    return cg_intent_number(v, strlen(v), out) == CG_OK ? 1 : -1;
}

static void add_intents(struct evhttp_request *req, struct cgd_worker *w, struct cgd_ctx *ctx,
                        const struct cg_customer *cu, const char *name)
{
    const struct cgd_conf *k = &ctx->conf;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in), n = 0, i, max = (size_t)k->intent_max_batch;
    struct cg_intent *v = NULL;
    struct pending *p = NULL;
    int64_t now = (int64_t)time(NULL);
    char err[256], why[300], addr[INET6_ADDRSTRLEN];
    char *body = NULL;
    int rc;
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        refuse(req, name, 400, "Content-Type must be application/json");
        return;
    }
    /* An intent takes at least 30 bytes of JSON ({"from":"+1","to":"+1",
     * "valid_for":1}), so a body holds no more than len / 30 + 1 of them: a
     * single registration allocates room for one, not for the largest
     * batch.  A body with more elements than that has some that are no
     * intents; it is parsed again with the full room, for the right answer
     * (400, or 413 over the batch limit). */
    size_t room = len / 30 + 1 < max ? len / 30 + 1 : max;
    if (!(body = malloc(len + 1)) || !(v = calloc(room, sizeof *v))) {
        refuse(req, name, 503, "out of memory");
        goto out;
    }
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    rc = cg_intents_parse_json(body, len, v, room, &n, k->intent_max_valid_for, err, sizeof err);
    if (rc == CG_ETOOBIG && room < max) {
        free(v);
        if (!(v = calloc(max, sizeof *v))) {
            refuse(req, name, 503, "out of memory");
            goto out;
        }
        rc = cg_intents_parse_json(body, len, v, max, &n, k->intent_max_valid_for, err, sizeof err);
    }
    if (rc != CG_OK) {
        refuse(req, name, rc == CG_ETOOBIG ? 413 : 400, err);
        goto out;
    }
    for (i = 0; i < n; i++) {
        const char *whose = !cg_customer_owns(cu, v[i].from) ? "not a number of this key"
                            : !cg_policy_protected_brand(ctx->policy, v[i].from)
                                ? "not a protected number"
                                : NULL;
        if (whose) {
            snprintf(why, sizeof why, "intents[%zu]: from +%s is %s", i, v[i].from, whose);
            refuse(req, name, 403, why);
            goto out;
        }
    }
    if (!cgd_rate_take(&rates, name, (double)n, k->intent_rate, k->intent_burst)) {
        refuse(req, name, 429, "too many intents for this key; retry later");
        goto out;
    }
    if ((rc = cg_intents_add_batch(ctx->intents, v, n, now)) != CG_OK) {
        refuse(req, name, 503,
               rc == CG_ETOOBIG ? "the intent store is full; retry later" : "out of memory");
        goto out;
    }
    atomic_fetch_add(&cgd_m.intents_registered, n);
    addr_text(req, addr, sizeof addr);
    cgd_log(LOG_NOTICE,
            "cidguardd: audit: intents registered by key %s from %s: %zu, first +%s -> +%s for "
            "%d s",
            name, addr, n, v[0].from, v[0].to, v[0].valid_for);
    if (!(p = calloc(1, sizeof *p))) {
        reply(req, 201, json_pack("{s:I,s:b}", "registered", (json_int_t)n, "shared", 0));
        goto out;
    }
    p->op = OP_ADD;
    p->req = req;
    p->status = 201;
    p->answer = json_pack("{s:I,s:i,s:I}", "registered", (json_int_t)n, "uses",
                          (int)cg_intents_max_uses(ctx->intents), "expires",
                          (json_int_t)(now + v[0].valid_for));
    if (n > 1)
        json_object_del(p->answer, "expires");
    if (k->redis_url[0]) {
        /* per intent: SET key uses EX ttl, ZADD index expiry to, EXPIRE index; hiredis
         * formats (copies) each command as it is queued */
        redisAsyncContext *ac = tx_begin(w, k);
        unsigned uses = cg_intents_max_uses(ctx->intents);
        int qrc = ac ? REDIS_OK : REDIS_ERR;
        for (i = 0; ac && qrc == REDIS_OK && i < n; i++) {
            char ikey[CG_INTENT_REDIS_KEY_SIZE + 64], idx[128];
            cg_intent_redis_key(ikey, sizeof ikey, k->redis_prefix, v[i].from, v[i].to);
            snprintf(idx, sizeof idx, "%sintents:%s", k->redis_prefix, v[i].from);
            if ((qrc = redisAsyncCommand(ac, NULL, NULL, "SET %s %u EX %d", ikey, uses,
                                         v[i].valid_for)) == REDIS_OK &&
                (qrc = redisAsyncCommand(ac, NULL, NULL, "ZADD %s %lld %s", idx,
                                         (long long)(now + v[i].valid_for), v[i].to)) == REDIS_OK)
                qrc =
                    redisAsyncCommand(ac, NULL, NULL, "EXPIRE %s %d", idx, k->intent_max_valid_for);
        }
        if (ac &&
            await_reply(w, k, p,
                        qrc == REDIS_OK ? redisAsyncCommand(ac, on_reply, p, "EXEC") : REDIS_ERR)) {
            p = NULL; /* answered when Redis replies */
            goto out;
        }
    }
    answer_local(p);
out:
    if (p) {
        p->waiting = false;
        p->answered = true;
        pending_done(p);
    }
    free(body);
    free(v);
}

static void cancel_intent(struct evhttp_request *req, struct cgd_worker *w, struct cgd_ctx *ctx,
                          const struct cg_customer *cu, const char *name, const struct evkeyvalq *q)
{
    const struct cgd_conf *k = &ctx->conf;
    char from[CG_INTENT_TN_MAX + 1], to[CG_INTENT_TN_MAX + 1], addr[INET6_ADDRSTRLEN];
    char ikey[CG_INTENT_REDIS_KEY_SIZE], idx[128];
    struct pending *p;
    if (query_number(q, "from", from) != 1 || query_number(q, "to", to) != 1) {
        refuse(req, name, 400, "DELETE wants ?from=NUMBER&to=NUMBER (E.164)");
        return;
    }
    if (!cg_customer_owns(cu, from)) {
        refuse(req, name, 403, "from is not a number of this key");
        return;
    }
    if (!cgd_rate_take(&rates, name, 1, k->intent_rate, k->intent_burst)) {
        refuse(req, name, 429, "too many requests for this key; retry later");
        return;
    }
    if (!(p = calloc(1, sizeof *p))) {
        refuse(req, name, 503, "out of memory");
        return;
    }
    p->op = OP_CANCEL;
    p->req = req;
    p->status = 200;
    p->mem_found = cg_intents_cancel(ctx->intents, from, to) == CG_OK;
    p->answer = json_pack("{s:b}", "cancelled", 1);
    addr_text(req, addr, sizeof addr);
    cgd_log(LOG_NOTICE, "cidguardd: audit: intent cancelled by key %s from %s: +%s -> +%s (%s)",
            name, addr, from, to, p->mem_found ? "held in memory" : "not held in memory");
    cg_intent_redis_key(ikey, sizeof ikey, k->redis_prefix, from, to);
    snprintf(idx, sizeof idx, "%sintents:%s", k->redis_prefix, from);
    if (k->redis_url[0]) {
        redisAsyncContext *ac = tx_begin(w, k);
        if (ac &&
            await_reply(w, k, p,
                        redisAsyncCommand(ac, NULL, NULL, "DEL %s", ikey) == REDIS_OK &&
                                redisAsyncCommand(ac, NULL, NULL, "ZREM %s %s", idx, to) == REDIS_OK
                            ? redisAsyncCommand(ac, on_reply, p, "EXEC")
                            : REDIS_ERR))
            return;
    }
    answer_local(p);
    p->answered = true;
    pending_done(p);
}

/* The listing script: the index's live members, each with its uses left
 * and time to live, dropping members that expired. */
static const char list_script[] =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2]) "
    "local m = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1) "
    "local r = {} "
    "for _, to in ipairs(m) do "
    "  local k = ARGV[1] .. to "
    "  local v = redis.call('GET', k) "
    "  if v and tonumber(v) and tonumber(v) > 0 then "
    "    r[#r + 1] = to; r[#r + 1] = v; r[#r + 1] = redis.call('TTL', k) "
    "  end "
    "end "
    "return r";

struct listing {
    json_t *arr;
    const struct cg_customer *cu;
    int64_t now;
};

static bool list_cb(const struct cg_intent_entry *e, void *arg)
{
    struct listing *l = arg;
    if (!cg_customer_owns(l->cu, e->from))
        return false;
    return list_add(l->arr, e->from, e->to, e->uses, e->expires - l->now, l->now);
}

static void list_intents(struct evhttp_request *req, struct cgd_worker *w, struct cgd_ctx *ctx,
                         const struct cg_customer *cu, const char *name, const struct evkeyvalq *q)
{
    const struct cgd_conf *k = &ctx->conf;
    char from[CG_INTENT_TN_MAX + 1] = "", idx[128], pre[128], now_s[24], max_s[16];
    struct listing l = {json_array(), cu, (int64_t)time(NULL)};
    struct pending *p;
    int has = query_number(q, "from", from);
    if (has < 0) {
        json_decref(l.arr);
        refuse(req, name, 400, "from is not an E.164 number");
        return;
    }
    if (has && !cg_customer_owns(cu, from)) {
        json_decref(l.arr);
        refuse(req, name, 403, "from is not a number of this key");
        return;
    }
    if (!cgd_rate_take(&rates, name, 1, k->intent_rate, k->intent_burst)) {
        json_decref(l.arr);
        refuse(req, name, 429, "too many requests for this key; retry later");
        return;
    }
    if (has && k->redis_url[0] && (p = calloc(1, sizeof *p))) {
        p->op = OP_LIST;
        p->req = req;
        p->now = l.now;
        snprintf(p->from, sizeof p->from, "%s", from);
        snprintf(p->key, sizeof p->key, "%s", name);
        snprintf(idx, sizeof idx, "%sintents:%s", k->redis_prefix, from);
        snprintf(pre, sizeof pre, "%sintent:%s:", k->redis_prefix, from);
        snprintf(now_s, sizeof now_s, "%lld", (long long)l.now);
        snprintf(max_s, sizeof max_s, "%d", LIST_MAX);
        /* the memory's listing answers when Redis cannot */
        p->status = 200;
        cg_intents_list(ctx->intents, from, l.now, LIST_MAX, list_cb, &l);
        p->answer =
            json_pack("{s:O,s:I}", "intents", l.arr, "count", (json_int_t)json_array_size(l.arr));
        {
            redisAsyncContext *ac = ir_get(w, k);
            if (ac && await_reply(w, k, p,
                                  redisAsyncCommand(ac, on_reply, p, "EVAL %s 1 %s %s %s %s",
                                                    list_script, idx, pre, now_s, max_s))) {
                json_decref(l.arr);
                return;
            }
        }
        answer_local(p);
        p->answered = true;
        pending_done(p);
        json_decref(l.arr);
        return;
    }
    cg_intents_list(ctx->intents, has ? from : NULL, l.now, LIST_MAX, list_cb, &l);
    reply(req, 200,
          json_pack("{s:o,s:I,s:b}", "intents", l.arr, "count", (json_int_t)json_array_size(l.arr),
                    "shared", 0));
}

void cgd_intent_http(struct evhttp_request *req, struct cgd_worker *w)
{
    struct cgd_ctx *ctx = cgd_ctx_get();
    const struct cg_customer *cu;
    const char *tok, *uq;
    struct evkeyvalq q;
    size_t len = 0;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    static time_t last_sweep;
    time_t now = time(NULL);

    TAILQ_INIT(&q);
    if (!ctx->intent_keys) {
        reply(req, 404, json_pack("{s:s}", "error", "no intent API here ([intent] keys)"));
        goto out;
    }
    if (!(tok = cgd_bearer(req, &len))) {
        refuse(req, NULL, 401, "an Authorization: Bearer key is required");
        goto out;
    }
    if (!(cu = cg_customers_by_token(ctx->intent_keys, tok, len))) {
        refuse(req, NULL, 401, "unknown key");
        goto out;
    }
    /* Expired intents are dropped every ten seconds or so by whichever
     * request comes then (a sweep locks one shard at a time). */
    if (__atomic_load_n(&last_sweep, __ATOMIC_RELAXED) + 10 <= now) {
        __atomic_store_n(&last_sweep, now, __ATOMIC_RELAXED);
        cg_intents_expire(ctx->intents, (int64_t)now);
    }
    uq = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (uq && evhttp_parse_query_str(uq, &q) != 0) {
        refuse(req, cg_customer_name(cu), 400, "malformed query string");
        goto out;
    }
    if (cmd == EVHTTP_REQ_POST)
        add_intents(req, w, ctx, cu, cg_customer_name(cu));
    else if (cmd == EVHTTP_REQ_DELETE)
        cancel_intent(req, w, ctx, cu, cg_customer_name(cu), &q);
    else if (cmd == EVHTTP_REQ_GET)
        list_intents(req, w, ctx, cu, cg_customer_name(cu), &q);
    else
        reply(req, 405, json_pack("{s:s}", "error", "POST, GET or DELETE"));
out:
    evhttp_clear_headers(&q);
    cgd_ctx_put(ctx);
}
