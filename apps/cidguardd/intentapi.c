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
 * process-wide store and, with [redis] url, to Redis in one script (one per
 * number's slot on a cluster), so that no refused or failed request leaves
 * part of itself behind.
 *
 * Redis is reached over connections of each worker's own, made when the
 * worker first needs them: never the call path's, so that a batch of a
 * thousand writes never queues ahead of the calls' observations.  Besides
 * the intent keys (cg_redis_intent_key), each number registering intents
 * has a sorted set "<prefix>intents:<from>" (cg_redis_intent_index;
 * member: the callee, score: the expiry), so that one number's intents are
 * listed without scanning the keyspace; it expires max_valid_for after its
 * last registration.  On a Redis Cluster both carry the number as their
 * hash tag, so that one script writes both; a command goes to the node
 * the worker's slot map names (cgd_redis_slot_node) and follows MOVED and
 * ASK from there.
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

/* --- Redis: connections of each worker's own, for intents only ------------------------------ */

#define INODES_MAX 16 /* servers one worker's intent requests reach (a cluster's primaries) */
#define HOPS_MAX 4    /* MOVED and ASK followed for one command */

/* One server: one connection, made when a request first needs it. */
struct inode {
    redisAsyncContext *ac; /* NULL: not connected */
    time_t next_try;       /* after a failure, not before this */
    char host[256];
    int port;
};

struct iredis {
    struct event_base *base;
    struct inode node[INODES_MAX]; /* one server or the master: node[0]; a cluster: any */
    size_t n;
};
static __thread struct iredis *tl_redis;
/* Frees a worker's connections when its thread ends (the loop is over, its
 * event base not yet freed): the key's destructor. */
static pthread_key_t ir_key;
static pthread_once_t ir_key_once = PTHREAD_ONCE_INIT;

static void node_drop(struct inode *n)
{
    redisAsyncContext *ac = n->ac;
    n->ac = NULL; /* its callbacks see a connection that is not current */
    n->next_try = time(NULL) + 1;
    if (ac)
        redisAsyncFree(ac); /* hiredis answers what waits with no reply */
}

static void ir_free(void *arg)
{
    struct iredis *r = arg;
    size_t i;
    for (i = 0; i < r->n; i++)
        node_drop(&r->node[i]);
    free(r);
}

static void ir_key_init(void)
{
    pthread_key_create(&ir_key, ir_free);
}

static struct inode *node_of(const redisAsyncContext *ac)
{
    struct iredis *r = ac->data;
    size_t i;
    for (i = 0; i < r->n; i++)
        if (r->node[i].ac == ac)
            return &r->node[i];
    return NULL;
}

static void ir_connected(const redisAsyncContext *ac, int status)
{
    struct inode *n = node_of(ac);
    if (status != REDIS_OK && n) {
        n->ac = NULL; /* hiredis frees it */
        n->next_try = time(NULL) + 1;
    }
}

static void ir_disconnected(const redisAsyncContext *ac, int status)
{
    struct inode *n = node_of(ac);
    (void)status;
    if (n) {
        n->ac = NULL;
        n->next_try = time(NULL) + 1;
    }
}

/* Drops every intent connection of this worker after a timeout: hiredis
 * answers what waits with no reply. */
static void ir_drop(void)
{
    struct iredis *r = tl_redis;
    size_t i;
    for (i = 0; r && i < r->n; i++)
        node_drop(&r->node[i]);
}

/* The worker's intent connections, made when first needed; NULL when the
 * allocation fails. */
static struct iredis *ir_get(struct cgd_worker *w)
{
    struct iredis *r = tl_redis;
    if (r)
        return r;
    if (!(r = calloc(1, sizeof *r)))
        return NULL;
    r->base = w->base;
    tl_redis = r;
    pthread_once(&ir_key_once, ir_key_init);
    pthread_setspecific(ir_key, r);
    return r;
}

/* The connection to host:port, connecting it when needed (hiredis queues
 * commands until it is up); NULL when it cannot be had now.  With one
 * server or sentinels only node[0] is used, moved when the master moves. */
static redisAsyncContext *node_conn(struct iredis *r, const struct cg_redis_addr *a,
                                    const char *host, int port, bool cluster)
{
    struct inode *n = NULL;
    redisAsyncContext *ac;
    size_t i;
    for (i = 0; i < r->n && !n; i++)
        if (r->node[i].port == port && strcmp(r->node[i].host, host) == 0)
            n = &r->node[i];
    if (!n && !cluster && r->n) {
        n = &r->node[0]; /* the sentinels named another master: go there now */
        node_drop(n);
        n->next_try = 0;
    } else if (!n) {
        if (r->n == INODES_MAX || strlen(host) >= sizeof n->host)
            return NULL;
        n = &r->node[r->n++];
        n->next_try = 0;
    }
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    if (n->ac)
        return n->ac;
    if (time(NULL) < n->next_try)
        return NULL;
    ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        n->next_try = time(NULL) + 1;
        return NULL;
    }
    ac->data = r;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, ir_connected);
    redisAsyncSetDisconnectCallback(ac, ir_disconnected);
    if (a->password[0] && a->user[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", a->user, a->password);
    else if (a->password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", a->password);
    if (a->db && !cluster)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", a->db);
    n->ac = ac;
    return ac;
}

/* Where the intent API writes: false without [redis] url, or with
 * sentinels before a master is known (the call path's connections find it:
 * cgd_redis_master, so registrations follow a failover). */
static bool ir_target(const struct cgd_conf *k, struct cg_redis_addr *a)
{
    if (!k->redis_url[0] || cg_redis_parse_url(k->redis_url, a) != CG_OK)
        return false;
    return !k->redis_sentinels[0] || cgd_redis_master(a->host, sizeof a->host, &a->port);
}

/* --- a request waiting for Redis ------------------------------------------------------------- */

enum op { OP_ADD, OP_CANCEL, OP_LIST };

struct pending {
    enum op op;
    struct evhttp_request *req;
    struct event *timer;
    bool answered;  /* the HTTP answer sent */
    int left;       /* Redis commands still due */
    bool failed;    /* one of them failed: the answer is memory's */
    json_t *answer; /* what is answered when Redis cannot say more */
    int status;
    bool mem_found; /* cancel: memory held it */
    long long del;  /* cancel: intents Redis deleted */
    json_t *listed; /* list: what Redis listed */
    char from[CG_INTENT_TN_MAX + 1];
    int64_t now;
};

/* One command of a request, in the protocol: kept to resend it where a
 * cluster's MOVED or ASK says. */
struct icmd {
    struct pending *p;
    struct cgd_worker *w;
    const struct cgd_conf *k;
    char *cmd;
    size_t len;
    int hops;
};

static void pending_done(struct pending *p)
{
    if (p->answered && !p->left) {
        if (p->timer)
            event_free(p->timer);
        json_decref(p->answer);
        json_decref(p->listed);
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

/* Every command has its answer: the request is answered from Redis's. */
static void answer_shared(struct pending *p)
{
    if (p->answered)
        return;
    if (p->failed) {
        answer_local(p);
        return;
    }
    p->answered = true;
    if (p->op == OP_ADD) {
        json_object_set_new(p->answer, "shared", json_true());
        reply(p->req, p->status, json_incref(p->answer));
    } else if (p->op == OP_CANCEL) {
        if (p->mem_found || p->del > 0) {
            atomic_fetch_add(&cgd_m.intents_cancelled, 1);
            json_object_set_new(p->answer, "shared", json_true());
            reply(p->req, 200, json_incref(p->answer));
        } else {
            reply(p->req, 404, json_pack("{s:s}", "error", "no such intent"));
        }
    } else {
        reply(p->req, 200,
              json_pack("{s:O,s:I,s:b}", "intents", p->listed, "count",
                        (json_int_t)json_array_size(p->listed), "shared", 1));
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    (void)fd;
    (void)what;
    answer_local(p);
    ir_drop(); /* the commands' callbacks run now, with no reply, and free p */
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

/* What one command's reply says, into p. */
static void take_reply(struct pending *p, const redisReply *r)
{
    size_t i;
    if (!r || r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_NIL) {
        p->failed = true;
    } else if (p->op == OP_CANCEL) {
        /* the cancel script's answer: the intent keys deleted */
        p->del += r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    } else if (p->op == OP_LIST) {
        /* the listing script's answer: to, uses, ttl, ... */
        for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 3 <= r->elements; i += 3) {
            redisReply *to = r->element[i], *u = r->element[i + 1], *t = r->element[i + 2];
            long long uses = u->type == REDIS_REPLY_STRING ? atoll(u->str) : 0;
            if (to->type != REDIS_REPLY_STRING || t->type != REDIS_REPLY_INTEGER || uses <= 0 ||
                t->integer <= 0 || strspn(to->str, "0123456789") != to->len || to->len > 15)
                continue;
            if (!list_add(p->listed, p->from, to->str, uses, t->integer, p->now))
                break;
        }
    }
}

static bool cmd_send(struct icmd *c, const char *host, int port, bool asking);

/* A cluster's MOVED or ASK answer to c: resent to the node it names (the
 * keys' slot moved, or is moving); false when it is not followed. */
static bool follow(struct icmd *c, const redisReply *r)
{
    bool moved = strncmp(r->str, "MOVED ", 6) == 0, ask = strncmp(r->str, "ASK ", 4) == 0;
    const char *p, *colon;
    char host[256], *end;
    long port;
    size_t hl;
    if ((!moved && !ask) || c->hops >= HOPS_MAX || c->p->answered || !c->k->redis_cluster[0])
        return false;
    p = strchr(r->str, ' ') + 1;
    if (!(p = strchr(p, ' ')) || !(colon = strrchr(++p, ':')) || (hl = (size_t)(colon - p)) == 0 ||
        hl >= sizeof host)
        return false;
    memcpy(host, p, hl);
    host[hl] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return false;
    c->hops++;
    return cmd_send(c, host, (int)port, ask);
}

static void on_cmd_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct icmd *c = privdata;
    struct pending *p = c->p;
    redisReply *r = reply_;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR && follow(c, r))
        return;
    take_reply(p, r);
    free(c->cmd);
    free(c);
    if (!--p->left)
        answer_shared(p);
    pending_done(p);
}

/* Queues c on host:port's connection (after ASKING for an ASK); false when
 * it cannot be queued (c is then the caller's). */
static bool cmd_send(struct icmd *c, const char *host, int port, bool asking)
{
    struct iredis *r = ir_get(c->w);
    struct cg_redis_addr a;
    redisAsyncContext *ac;
    if (!r || !ir_target(c->k, &a) ||
        !(ac = node_conn(r, &a, host, port, c->k->redis_cluster[0] != '\0')))
        return false;
    if (asking && redisAsyncCommand(ac, NULL, NULL, "ASKING") != REDIS_OK)
        return false;
    return redisAsyncFormattedCommand(ac, on_cmd_reply, c, c->cmd, c->len) == REDIS_OK;
}

/* Sends one command of p's for keys in `slot` (a cluster's: where the
 * workers' slot map says, or the url's node, which redirects; otherwise the
 * server or the master).  False when it cannot be sent: p then answers
 * from memory. */
static bool send_cmd(struct cgd_worker *w, const struct cgd_conf *k, struct pending *p,
                     unsigned slot, int argc, const char **argv, const size_t *argvlen)
{
    struct icmd *c = calloc(1, sizeof *c);
    struct cg_redis_addr a;
    long long n;
    if (!c || !ir_target(k, &a) || (n = redisFormatCommandArgv(&c->cmd, argc, argv, argvlen)) < 0 ||
        !c->cmd) {
        free(c);
        return false;
    }
    c->len = (size_t)n;
    c->p = p;
    c->w = w;
    c->k = k;
    if (k->redis_cluster[0])
        cgd_redis_slot_node(w, slot, a.host, sizeof a.host, &a.port);
    if (!cmd_send(c, a.host, a.port, false)) {
        free(c->cmd);
        free(c);
        return false;
    }
    p->left++;
    return true;
}

/* After p's commands were sent (ok: all of them): p waits for their
 * replies, at most [redis] timeout_ms (a second at least); the request's
 * HTTP answer waits too.  Returns false when nothing was sent, p answered
 * from memory. */
static bool await_replies(struct cgd_worker *w, const struct cgd_conf *k, struct pending *p,
                          bool ok)
{
    struct timeval tv;
    int wait_ms = k->redis_timeout_ms > REDIS_WAIT_MIN_MS ? k->redis_timeout_ms : REDIS_WAIT_MIN_MS;
    if (!ok)
        p->failed = true;
    if (!p->left)
        return false;
    evhttp_request_own(p->req); /* answered later, whatever the client does meanwhile */
    tv.tv_sec = wait_ms / 1000;
    tv.tv_usec = (wait_ms % 1000) * 1000;
    if ((p->timer = evtimer_new(w->base, on_timeout, p)))
        evtimer_add(p->timer, &tv);
    return true;
}

/* --- the scripts ------------------------------------------------------------------------------ */

/*
 * Each request is one script per slot (one in all without a cluster), so
 * that what it writes is written whole: a registration's keys for each
 * intent (SET key uses EX valid_for, ZADD index expiry callee, EXPIRE index
 * max_valid_for), a cancellation's DEL and ZREM.  On a cluster an intent's
 * key and its index share the presentation number's hash tag
 * (cg_redis_intent_key), so a batch is one script per number's slot.
 */
static const char add_script[] = "for i = 1, #KEYS / 2 do "
                                 "  local a = 3 * i "
                                 "  redis.call('SET', KEYS[2 * i - 1], ARGV[1], 'EX', ARGV[a + 1]) "
                                 "  redis.call('ZADD', KEYS[2 * i], ARGV[a + 2], ARGV[a]) "
                                 "  redis.call('EXPIRE', KEYS[2 * i], ARGV[2]) "
                                 "end "
                                 "return #KEYS / 2";
static const char cancel_script[] =
    "local n = redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[2], ARGV[1]) return n";

/* One intent of a registration: its keys and arguments. */
struct add_arg {
    unsigned slot;
    const char *to;
    char key[CG_REDIS_INTENT_KEY_SIZE], idx[CG_REDIS_INTENT_KEY_SIZE], valid_for[12], at[24];
};

static int by_slot(const void *a, const void *b)
{
    const struct add_arg *x = a, *y = b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Sends the registration of v[0..n) in one script per slot; false when
 * any could not be sent. */
static bool send_adds(struct cgd_worker *w, const struct cgd_conf *k, struct pending *p,
                      const struct cg_intent *v, size_t n, unsigned uses, int64_t now)
{
    bool cluster = k->redis_cluster[0] != '\0', ok = true;
    struct add_arg *x = calloc(n, sizeof *x);
    const char **argv = calloc(5 * n + 5, sizeof *argv);
    size_t *len = calloc(5 * n + 5, sizeof *len), i, j, g;
    char uses_s[16], ttl_s[16], nkeys[24];
    if (!x || !argv || !len) {
        ok = false;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (!cg_redis_intent_key(x[i].key, sizeof x[i].key, k->redis_prefix, v[i].from, v[i].to,
                                 cluster) ||
            !cg_redis_intent_index(x[i].idx, sizeof x[i].idx, k->redis_prefix, v[i].from,
                                   cluster)) {
            ok = false;
            goto out;
        }
        x[i].slot = cluster ? cg_redis_keyslot(x[i].key, strlen(x[i].key)) : 0;
        x[i].to = v[i].to;
        snprintf(x[i].valid_for, sizeof x[i].valid_for, "%d", v[i].valid_for);
        snprintf(x[i].at, sizeof x[i].at, "%lld", (long long)(now + v[i].valid_for));
    }
    if (cluster)
        qsort(x, n, sizeof *x, by_slot);
    snprintf(uses_s, sizeof uses_s, "%u", uses);
    snprintf(ttl_s, sizeof ttl_s, "%d", k->intent_max_valid_for);
    for (i = 0; ok && i < n; i = j) {
        int argc = 0;
        for (j = i; j < n && x[j].slot == x[i].slot; j++)
            ;
        snprintf(nkeys, sizeof nkeys, "%zu", 2 * (j - i));
        argv[argc++] = "EVAL";
        argv[argc++] = add_script;
        argv[argc++] = nkeys;
        for (g = i; g < j; g++) {
            argv[argc++] = x[g].key;
            argv[argc++] = x[g].idx;
        }
        argv[argc++] = uses_s;
        argv[argc++] = ttl_s;
        for (g = i; g < j; g++) {
            argv[argc++] = x[g].to;
            argv[argc++] = x[g].valid_for;
            argv[argc++] = x[g].at;
        }
        for (g = 0; g < (size_t)argc; g++)
            len[g] = strlen(argv[g]);
        ok = send_cmd(w, k, p, x[i].slot, argc, argv, len);
    }
out:
    free(x);
    free(argv);
    free(len);
    return ok;
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
    if (k->redis_url[0] &&
        await_replies(w, k, p, send_adds(w, k, p, v, n, cg_intents_max_uses(ctx->intents), now))) {
        p = NULL; /* answered when Redis replies */
        goto out;
    }
    answer_local(p);
out:
    if (p) {
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
    char ikey[CG_REDIS_INTENT_KEY_SIZE], idx[CG_REDIS_INTENT_KEY_SIZE];
    bool cluster = k->redis_cluster[0] != '\0';
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
    if (k->redis_url[0] &&
        cg_redis_intent_key(ikey, sizeof ikey, k->redis_prefix, from, to, cluster) &&
        cg_redis_intent_index(idx, sizeof idx, k->redis_prefix, from, cluster)) {
        const char *argv[] = {"EVAL", cancel_script, "2", ikey, idx, to};
        size_t len[6], i;
        for (i = 0; i < 6; i++)
            len[i] = strlen(argv[i]);
        if (await_replies(w, k, p,
                          send_cmd(w, k, p, cluster ? cg_redis_keyslot(ikey, strlen(ikey)) : 0, 6,
                                   argv, len)))
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
    char from[CG_INTENT_TN_MAX + 1] = "", idx[CG_REDIS_INTENT_KEY_SIZE],
                                 pre[CG_REDIS_INTENT_KEY_SIZE], now_s[24], max_s[16];
    bool cluster = k->redis_cluster[0] != '\0';
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
        p->listed = json_array();
        /* the index, and its callees' keys less the callee: the listing
         * script reads keys of the index's slot only */
        cg_redis_intent_index(idx, sizeof idx, k->redis_prefix, from, cluster);
        snprintf(pre, sizeof pre, cluster ? "%sintent:{%s}:" : "%sintent:%s:", k->redis_prefix,
                 from);
        snprintf(now_s, sizeof now_s, "%lld", (long long)l.now);
        snprintf(max_s, sizeof max_s, "%d", LIST_MAX);
        /* the memory's listing answers when Redis cannot */
        p->status = 200;
        cg_intents_list(ctx->intents, from, l.now, LIST_MAX, list_cb, &l);
        p->answer =
            json_pack("{s:O,s:I}", "intents", l.arr, "count", (json_int_t)json_array_size(l.arr));
        {
            const char *argv[] = {"EVAL", list_script, "1", idx, pre, now_s, max_s};
            size_t len[7], i;
            for (i = 0; i < 7; i++)
                len[i] = strlen(argv[i]);
            if (idx[0] && p->listed &&
                await_replies(w, k, p,
                              send_cmd(w, k, p, cluster ? cg_redis_keyslot(idx, strlen(idx)) : 0, 7,
                                       argv, len))) {
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
