/*
 * Replay and rate state shared through Redis, on the call path.
 *
 * Each worker has its own hiredis connections driven by its own event loop
 * (no lock, no thread hop): a verified call sends its EVALSHA (the script
 * and its keys are the library's) and is answered when the reply arrives;
 * many calls are in flight on one connection (pipelining).  Replies come
 * back in order, so the send times of the commands in flight on a
 * connection are a FIFO ring and one timer sees the oldest one age.
 *
 * The script is the library's cluster script in every topology: it is
 * given only the keys that apply (a mask says which), never "", so an ACL
 * user whose keys are limited to the prefix may run it.
 *
 * Three topologies:
 *   - one server ([redis] url): one connection;
 *   - Redis Sentinel (sentinels, master_name): one connection to the
 *     master the sentinels name.  The sentinels are asked (asynchronously,
 *     one after the other) before every connection, so a connection that
 *     drops after a failover goes to the new master; a write refused with
 *     READONLY (the old master came back as a replica) drops the
 *     connection too, and so does a sentinel's +switch-master, which each
 *     worker subscribes to;
 *   - Redis Cluster (cluster): one connection per primary, a slot map read
 *     with CLUSTER SLOTS, one EVALSHA per slot a call touches (the library
 *     groups its keys by slot), the answers ORed together.  MOVED updates
 *     the map and resends the command to the node named; ASK resends it
 *     once, after ASKING, without touching the map.  Debian's hiredis has
 *     no cluster support, hence this small router.
 *
 * With campaign detection, every worker also publishes its calls'
 * behaviour observations to one stream (XADD, answered but never waited
 * for; the lines of the calls answered together in one entry), and the
 * first worker reads the other daemons' from it (XREAD) into the process's
 * behaviour table: each daemon then judges an origin on every daemon's
 * calls, however a load balancer spreads them.
 *
 * Redis is never allowed to stop calls: when it is not connected, slow
 * (no answer in [redis] timeout_ms), or the ring is full, the call is
 * decided on the local state, which records every call either way so that
 * it is warm when Redis goes.  A connection is dropped on a timeout and
 * made again with back-off; /metrics and the log show each transition.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "cidguard/behaviour.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"

#define RING 4096 /* commands in flight per connection before local state is used */
#define TICK_MS 20
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
/* Asking a sentinel costs one round trip: after a failover the master is
 * looked for often, so that calls go back to Redis soon after it. */
#define SENTINEL_BACKOFF_MAX_MS 500
#define SENTINEL_WAIT_MS 1000 /* a sentinel that has not answered by then is skipped */
#define NODES_MAX 64          /* cluster nodes one worker talks to */
#define REDIRECTS_MAX 4       /* MOVED/ASK/TRYAGAIN hops for one command */
#define SLOTS_REFRESH_MS 100  /* at most one CLUSTER SLOTS this often */
/* While a primary in the map is unreachable the map is read again this
 * often: the cluster may have promoted its replica meanwhile. */
#define SLOTS_DEGRADED_MS 500
/* A reply still being read past this size is not one a Redis server, a
 * sentinel or a cluster node gives: the connection is dropped. */
#define READ_MAX (16u << 20)

enum mode { SINGLE, SENTINEL, CLUSTER };

/* A call Redis has answered, waiting for this loop iteration's answers. */
struct ready {
    cgd_redis_done_cb done_cb;
    void *arg;
    bool ok;
    uint32_t bits;
    unsigned intents;
};

struct pend;

/* One command of a call in flight (one per slot on a cluster). */
struct sub {
    struct pend *p;
    char *fmt; /* the command in the protocol, kept to resend after MOVED/ASK */
    size_t len;
    bool own;      /* fmt was malloc'ed (it did not fit in the call's buffer) */
    int redirects; /* MOVED, ASK and TRYAGAIN followed */
    unsigned slot;
    bool replay_only; /* a SET of the replay key: its answer is the Call-ID before */
};

/* A call in flight: answered when its last command is. */
struct pend {
    cgd_redis_done_cb done_cb;
    void *arg;
    int left;
    bool ok;
    uint32_t bits;
    unsigned intents;
    struct sub sub[CG_REDIS_SLOT_CMDS_MAX];
    char call_id[129]; /* as a replay_only command sent it */
    size_t call_id_len;
    struct pend *next; /* on the free list */
    /* The commands in the protocol: a call's usually fit here (a replay
     * SET and one EVALSHA take 400-600 bytes), so a call allocates none. */
    size_t used;
    char buf[1024];
};

/*
 * Reply objects, recycled: hiredis's reader makes each reply with calloc
 * (an EVALSHA's answer is six objects: the array, its element vector and
 * four integers), and the call path reads one or two replies a call.  The
 * call connections' readers build them from this free list instead, with
 * small strings and element vectors inside the object; a larger one is
 * malloc'ed as hiredis would.  One list per worker (the reader's privdata),
 * used on the worker's thread only.
 */
#define ROBJ_STR 144  /* a Call-ID (128 bytes) fits, and the short errors */
#define ROBJ_ELEMS 4  /* the scripts' answer */
#define ROBJ_KEEP 512 /* objects kept on the list; the rest are freed */

struct rpool;
struct robj {
    redisReply r; /* first: hiredis and the callbacks see a redisReply */
    struct rpool *pool;
    struct robj *next; /* on the free list */
    redisReply *elems[ROBJ_ELEMS];
    char str[ROBJ_STR];
};
struct rpool {
    struct robj *free;
    size_t n;
};

struct cgd_redis;

/* One connection to one Redis server. */
struct conn {
    struct cgd_redis *r;
    char host[256];
    int port;
    redisAsyncContext *ac; /* NULL when there is no connection */
    bool connected, logged_down, used, seed;
    bool announced; /* the first connection was logged (as is a failure before it) */
    uint64_t next_try_ms;
    int backoff_ms;
    uint64_t sent[RING]; /* send times of the commands in flight, oldest at head */
    size_t head, n;
    bool readonly;          /* a write was refused: ask the sentinels again */
    bool refused;           /* AUTH, SELECT or SCRIPT LOAD failed: drop, try again later */
    unsigned logged_errors; /* the kinds of error reply logged on this connection */
    uint64_t connect_ms;    /* when the connection was begun */
};

struct cgd_redis {
    struct cgd_worker *w;
    enum mode mode;
    struct cg_redis_addr addr; /* credentials and database */
    char prefix[64];
    int timeout_ms, window;
    unsigned rate_calls, rate_numbers;
    bool up; /* counted in cgd_m.redis_connected */
    struct event *tick;
    /* Replies are read many at a time; their calls are answered together
     * from one deferred event so that UDP answers leave in batches
     * (sendmmsg), as they do without Redis, instead of one syscall each
     * from every reply callback. */
    struct ready ready[RING];
    size_t nready;
    struct event *answer_ev;
    struct pend *free_pends;
    /* one server, or the master: nodes[0]; a cluster: every node */
    struct conn *nodes[NODES_MAX];
    size_t nnodes;
    /* sentinels */
    struct cg_redis_node sentinels[CG_REDIS_NODES_MAX];
    size_t nsentinels, sidx;
    char master_name[128], sentinel_user[128], sentinel_password[128];
    redisAsyncContext *sac; /* the sentinel being asked, or NULL */
    uint64_t sac_deadline;
    uint32_t sentinel_logged; /* per sentinel: an unusable answer was logged (until a usable one) */
    /* A subscription to one sentinel's +switch-master: a planned switch
     * (SENTINEL FAILOVER) leaves the old master up, taking writes that its
     * demotion will drop, until the sentinels reconfigure it; the
     * announcement moves the worker at once. */
    redisAsyncContext *sub;
    size_t sub_idx;
    uint64_t sub_next_ms;
    bool sub_bad;               /* the subscription was refused: drop it */
    struct cg_redis_node moved; /* the master announced, port 0 = none pending */
    /* cluster: slot -> index in nodes + 1, 0 while unknown */
    uint8_t slots[CG_REDIS_SLOTS];
    bool map_ok, slots_asked, slots_wanted;
    bool map_logged; /* a refused or partial map was logged (until a whole one) */
    uint64_t slots_at;
    /* Commands answered TRYAGAIN (a multi-key script whose keys are split
     * between the two nodes of a slot being migrated): sent again on the
     * next tick, while the call's time allows. */
    struct sub *retry[RING];
    size_t nretry;
    struct rpool rpool; /* the call connections' reply objects */
    /* campaign behaviour shared ([redis] campaign): the stream, its slot,
     * and for the reading worker the last entry read */
    bool share, share_reader, share_reading;
    struct event *share_ev; /* the reader's: another worker has published */
    char share_buf[8192];   /* lines not yet published, each ending in '\n' */
    size_t share_len;
    unsigned share_lines;
    char share_key[96];
    size_t share_key_len;
    unsigned share_slot;
    char share_last[48];           /* "" until the stream's last ID is known */
    char share_published[48];      /* the ID of this worker's latest entry */
    int share_window, share_scale; /* [policy] campaign_window, campaign_time_scale */
};

/* --- process-wide: the master in use and the topology counters ---------------- */

static pthread_mutex_t topo_mu = PTHREAD_MUTEX_INITIALIZER;
static char topo_master[300]; /* "host:port", "" before the first connection */
static unsigned long long topo_switches;
static atomic_ullong topo_moved, topo_ask, topo_slot_maps;
static atomic_int topo_configured, topo_cluster_nodes;

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The port in a reply element (a string of digits, or an integer), 0
 * when it is not one. */
static int reply_port(const redisReply *e)
{
    long long v = 0;
    size_t i;
    if (e->type == REDIS_REPLY_INTEGER)
        v = e->integer;
    else if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 5)
        return 0;
    for (i = 0; e->type == REDIS_REPLY_STRING && i < e->len; i++) {
        if (e->str[i] < '0' || e->str[i] > '9')
            return 0;
        v = v * 10 + (e->str[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : 0;
}

/* A worker connected to host:port as its master: a change from the one
 * the daemon used is a switch (each worker sees it; it is counted once). */
static void note_master(const char *host, int port)
{
    char a[300];
    snprintf(a, sizeof a, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    pthread_mutex_lock(&topo_mu);
    if (strcmp(a, topo_master) != 0) {
        if (topo_master[0]) {
            topo_switches++;
            cgd_log(LOG_NOTICE, "cidguardd: redis master is now %s (was %s)", a, topo_master);
        }
        snprintf(topo_master, sizeof topo_master, "%s", a);
    }
    pthread_mutex_unlock(&topo_mu);
}

bool cgd_redis_master(char *host, size_t cap, int *port)
{
    bool ok;
    pthread_mutex_lock(&topo_mu);
    ok = topo_master[0] != '\0';
    if (ok) {
        const char *colon = strrchr(topo_master, ':');
        const char *h = topo_master[0] == '[' ? topo_master + 1 : topo_master;
        size_t n = (size_t)(colon - h) - (topo_master[0] == '[');
        snprintf(host, cap, "%.*s", (int)n, h);
        *port = atoi(colon + 1);
    }
    pthread_mutex_unlock(&topo_mu);
    return ok;
}

bool cgd_redis_slot_node(const struct cgd_worker *w, unsigned slot, char *host, size_t cap,
                         int *port)
{
    const struct cgd_redis *r = w->redis;
    unsigned n;
    if (!r || r->mode != CLUSTER || slot >= CG_REDIS_SLOTS || !(n = r->slots[slot]))
        return false;
    snprintf(host, cap, "%s", r->nodes[n - 1]->host);
    *port = r->nodes[n - 1]->port;
    return true;
}

void cgd_redis_metrics(char *buf, size_t cap)
{
    int n;
    buf[0] = '\0';
    if (!atomic_load(&topo_configured))
        return;
    pthread_mutex_lock(&topo_mu);
    n = snprintf(buf, cap,
                 "# HELP cidguard_redis_master_switches_total Times the workers moved to another "
                 "Redis master (a Sentinel failover).\n"
                 "# TYPE cidguard_redis_master_switches_total counter\n"
                 "cidguard_redis_master_switches_total %llu\n"
                 "# HELP cidguard_redis_master The Redis master in use, by address (absent with "
                 "a cluster or before the first connection).\n"
                 "# TYPE cidguard_redis_master gauge\n",
                 topo_switches);
    if (n > 0 && (size_t)n < cap && topo_master[0])
        n += snprintf(buf + n, cap - (size_t)n, "cidguard_redis_master{addr=\"%s\"} 1\n",
                      topo_master);
    pthread_mutex_unlock(&topo_mu);
    if (n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n,
                 "# HELP cidguard_redis_cluster_redirects_total Cluster redirections followed.\n"
                 "# TYPE cidguard_redis_cluster_redirects_total counter\n"
                 "cidguard_redis_cluster_redirects_total{kind=\"moved\"} %llu\n"
                 "cidguard_redis_cluster_redirects_total{kind=\"ask\"} %llu\n"
                 "# HELP cidguard_redis_cluster_slot_maps_total Slot maps read (CLUSTER SLOTS).\n"
                 "# TYPE cidguard_redis_cluster_slot_maps_total counter\n"
                 "cidguard_redis_cluster_slot_maps_total %llu\n"
                 "# HELP cidguard_redis_cluster_nodes Primaries in the last slot map read.\n"
                 "# TYPE cidguard_redis_cluster_nodes gauge\n"
                 "cidguard_redis_cluster_nodes %d\n",
                 atomic_load(&topo_moved), atomic_load(&topo_ask), atomic_load(&topo_slot_maps),
                 atomic_load(&topo_cluster_nodes));
}

void cgd_redis_opts(const struct cgd_conf *k, struct cg_redis_opts *o)
{
    memset(o, 0, sizeof *o);
    o->url = k->redis_url;
    o->sentinels = k->redis_sentinels;
    o->master_name = k->redis_master_name;
    o->sentinel_user = k->redis_sentinel_user;
    o->sentinel_password = k->redis_sentinel_password;
    o->cluster = k->redis_cluster;
}

/* --- the worker's state: up or not --------------------------------------------- */

/* Whether every call can go to Redis now: the connection (the master's),
 * or on a cluster the slot map and every primary in it. */
static bool is_up(const struct cgd_redis *r)
{
    size_t i;
    if (r->mode != CLUSTER)
        return r->nnodes && r->nodes[0]->connected;
    if (!r->map_ok)
        return false;
    for (i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->used && !r->nodes[i]->connected)
            return false;
    return true;
}

static void update_up(struct cgd_redis *r)
{
    bool up = is_up(r);
    if (up != r->up) {
        atomic_fetch_add(&cgd_m.redis_connected, up ? 1 : -1);
        r->up = up;
    }
}

/* --- connections ------------------------------------------------------------------ */

static void went_down(struct conn *c, const char *why)
{
    struct cgd_redis *r = c->r;
    int max = r->mode == SENTINEL ? SENTINEL_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
    c->connected = false;
    c->ac = NULL;
    c->next_try_ms = now_ms() + (uint64_t)c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > max ? max : c->backoff_ms * 2;
    if (!c->logged_down) {
        cgd_log(LOG_WARNING, "cidguardd: worker %d: redis %s:%d %s; calls continue on local state",
                r->w->id, c->host, c->port, why);
        c->logged_down = true;
    }
    if (r->mode == CLUSTER)
        r->slots_wanted = true; /* a primary gone: its replica may take its slots */
    update_up(r);
}

static void send_cluster_slots(struct conn *c);

/* The connection is usable once its set-up commands (AUTH, SELECT, SCRIPT
 * LOAD) are answered: the last one's answer says so. */
static void on_ready(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *c = ac->data;
    struct cgd_redis *r = c->r;
    redisReply *rep = reply;
    (void)privdata;
    if (c->ac != ac || !rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (!c->refused)
            cgd_log(LOG_ERR, "cidguardd: worker %d: redis %s:%d: %s", r->w->id, c->host, c->port,
                    rep->str);
        c->refused = true;
        return;
    }
    c->connected = true;
    c->backoff_ms = BACKOFF_MIN_MS;
    if (c->logged_down || !c->announced) {
        cgd_log(LOG_INFO, "cidguardd: worker %d: redis %s:%d connected; shared state in use",
                r->w->id, c->host, c->port);
        c->logged_down = false;
        c->announced = true;
    }
    if (r->mode != CLUSTER)
        note_master(c->host, c->port);
    else if (!r->map_ok || r->slots_wanted)
        send_cluster_slots(c);
    update_up(r);
}

/* An answer to AUTH or SELECT: an error (a wrong password, an unknown
 * user) is logged and the connection dropped by the timer. */
static void on_setup(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *c = ac->data;
    redisReply *rep = reply;
    (void)privdata;
    if (c->ac == ac && rep && rep->type == REDIS_REPLY_ERROR) {
        if (!c->refused)
            cgd_log(LOG_ERR, "cidguardd: worker %d: redis %s:%d: %s", c->r->w->id, c->host, c->port,
                    rep->str);
        c->refused = true;
    }
}

/* --- reply objects from the worker's free list ----------------------------------- */

static struct robj *robj_get(const redisReadTask *task, int type)
{
    struct rpool *pool = task->privdata; /* every task has the reader's */
    struct robj *o;
    if ((o = pool->free)) {
        pool->free = o->next;
        pool->n--;
    } else if (!(o = malloc(sizeof *o))) {
        return NULL;
    }
    o->r = (redisReply){.type = type};
    o->pool = pool;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = &o->r;
    }
    return o;
}

static void robj_free(void *reply)
{
    struct robj *o = reply;
    size_t i;
    if (!o)
        return;
    if (o->r.type == REDIS_REPLY_ARRAY && o->r.element) {
        for (i = 0; i < o->r.elements; i++)
            robj_free(o->r.element[i]);
        if (o->r.element != o->elems)
            free(o->r.element);
    } else if (o->r.str && o->r.str != o->str) {
        free(o->r.str);
    }
    if (o->pool->n >= ROBJ_KEEP) {
        free(o);
        return;
    }
    o->next = o->pool->free;
    o->pool->free = o;
    o->pool->n++;
}

static void *robj_string(const redisReadTask *task, char *str, size_t len)
{
    struct robj *o = robj_get(task, task->type);
    if (!o)
        return NULL;
    o->r.str = len < sizeof o->str ? o->str : malloc(len + 1);
    if (!o->r.str) {
        robj_free(o);
        return NULL;
    }
    memcpy(o->r.str, str, len);
    o->r.str[len] = '\0';
    o->r.len = len;
    return o;
}

static void *robj_array(const redisReadTask *task, int elements)
{
    struct robj *o = robj_get(task, REDIS_REPLY_ARRAY);
    if (!o)
        return NULL;
    if (elements > 0) {
        if (elements <= ROBJ_ELEMS) {
            memset(o->elems, 0, sizeof o->elems);
            o->r.element = o->elems;
        } else if (!(o->r.element = calloc((size_t)elements, sizeof *o->r.element))) {
            robj_free(o);
            return NULL;
        }
    }
    o->r.elements = (size_t)(elements > 0 ? elements : 0);
    return o;
}

static void *robj_integer(const redisReadTask *task, long long value)
{
    struct robj *o = robj_get(task, REDIS_REPLY_INTEGER);
    if (o)
        o->r.integer = value;
    return o;
}

static void *robj_nil(const redisReadTask *task)
{
    return robj_get(task, REDIS_REPLY_NIL);
}

static redisReplyObjectFunctions robj_fns = {robj_string, robj_array, robj_integer, robj_nil,
                                             robj_free};

static void rpool_clear(struct rpool *pool)
{
    while (pool->free) {
        struct robj *o = pool->free;
        pool->free = o->next;
        free(o);
    }
    pool->n = 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    if (status != REDIS_OK)
        went_down(c, ac->errstr[0] ? ac->errstr : "cannot connect"); /* hiredis frees ac */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    (void)status;
    if (c->ac == ac) {
        atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_DISCONNECT], 1);
        went_down(c, ac->errstr[0] ? ac->errstr : "disconnected");
    }
}

static void connect_now(struct conn *c)
{
    struct cgd_redis *r = c->r;
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);
    if (!ac || ac->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "cannot connect");
        if (ac)
            redisAsyncFree(ac);
        went_down(c, why);
        return;
    }
    ac->data = c;
    ac->c.reader->fn = &robj_fns;
    ac->c.reader->privdata = &r->rpool;
    /* Keep the read buffer: by default hiredis frees it whenever it is
     * empty with over 16 KiB to spare, and allocates it again on the next
     * read.  A reply too large is dropped by the timer (READ_MAX). */
    ac->c.reader->maxbuf = 0;
    redisLibeventAttach(ac, r->w->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* queued until the connection is up, and answered before any call */
    if (r->addr.password[0]) {
        if (r->addr.user[0])
            redisAsyncCommand(ac, on_setup, NULL, "AUTH %s %s", r->addr.user, r->addr.password);
        else
            redisAsyncCommand(ac, on_setup, NULL, "AUTH %s", r->addr.password);
    }
    if (r->addr.db && r->mode != CLUSTER)
        redisAsyncCommand(ac, on_setup, NULL, "SELECT %d", r->addr.db);
    redisAsyncCommand(ac, on_ready, NULL, "SCRIPT LOAD %s", cg_redis_cluster_script());
    c->ac = ac;
    c->readonly = c->refused = false;
    c->logged_errors = 0;
    c->connect_ms = now_ms();
}

/* Drops the connection: hiredis answers every command in flight with no
 * reply, and those calls are decided on local state at once. */
static void drop(struct conn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    went_down(c, why);
    redisAsyncFree(ac);
}

static struct conn *node_find(struct cgd_redis *r, const char *host, int port, bool add)
{
    struct conn *c;
    size_t i;
    for (i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->port == port && strcmp(r->nodes[i]->host, host) == 0)
            return r->nodes[i];
    if (!add || r->nnodes == NODES_MAX || strlen(host) >= sizeof c->host ||
        !(c = calloc(1, sizeof *c)))
        return NULL;
    c->r = r;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->backoff_ms = BACKOFF_MIN_MS;
    r->nodes[r->nnodes++] = c;
    return c;
}

/* --- Sentinel: which server is the master -------------------------------------- */

/* On to the next sentinel; after a round without a master, the worker
 * waits before the next round (went_down's backoff). */
static void sentinel_next(struct cgd_redis *r)
{
    r->sidx = (r->sidx + 1) % r->nsentinels;
    if (r->sidx == 0)
        went_down(r->nodes[0], "has no master the sentinels name");
}

/* A connection to sentinel i with its AUTH queued; NULL when it cannot be begun. */
static redisAsyncContext *sentinel_dial(struct cgd_redis *r, size_t i,
                                        redisConnectCallback *connected,
                                        redisDisconnectCallback *disconnected)
{
    redisAsyncContext *ac = redisAsyncConnect(r->sentinels[i].host, r->sentinels[i].port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    redisLibeventAttach(ac, r->w->base);
    redisAsyncSetConnectCallback(ac, connected);
    redisAsyncSetDisconnectCallback(ac, disconnected);
    if (r->sentinel_password[0] && r->sentinel_user[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", r->sentinel_user, r->sentinel_password);
    else if (r->sentinel_password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", r->sentinel_password);
    return ac;
}

static void sentinel_done(struct cgd_redis *r, bool advance)
{
    redisAsyncContext *sac = r->sac;
    r->sac = NULL;
    /* Freed, not disconnected: a disconnect waits for the answers still
     * due, which a sentinel that never answers never gives (the context
     * and its socket would stay, one more each second).  hiredis defers
     * the free when called from the context's own callback. */
    if (sac)
        redisAsyncFree(sac);
    if (advance)
        sentinel_next(r);
}

static void on_sentinel_connect(const redisAsyncContext *ac, int status)
{
    struct cgd_redis *r = ac->data;
    if (status != REDIS_OK && ac == r->sac) {
        r->sac = NULL; /* hiredis frees it */
        sentinel_next(r);
    }
}

static void on_sentinel_disconnect(const redisAsyncContext *ac, int status)
{
    struct cgd_redis *r = ac->data;
    (void)status;
    if (ac == r->sac)
        r->sac = NULL;
}

static void on_master(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cgd_redis *r = ac->data;
    redisReply *rep = reply;
    struct conn *c = r->nodes[0];
    (void)privdata;
    if (ac != r->sac)
        return; /* given up on (timeout), or the worker is stopping */
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len == 0 ||
        rep->element[0]->len >= sizeof c->host ||
        strlen(rep->element[0]->str) != rep->element[0]->len || !reply_port(rep->element[1])) {
        /* a nil: the sentinel does not monitor that name */
        if (rep && !(r->sentinel_logged & 1u << r->sidx))
            cgd_log(LOG_WARNING,
                    "cidguardd: worker %d: sentinel %s:%d: %s; asking the next sentinel", r->w->id,
                    r->sentinels[r->sidx].host, r->sentinels[r->sidx].port,
                    rep->type == REDIS_REPLY_ERROR ? rep->str
                    : rep->type == REDIS_REPLY_NIL ? "does not know the master name"
                                                   : "no host and port for the master");
        if (rep)
            r->sentinel_logged |= 1u << r->sidx;
        sentinel_done(r, true);
        return;
    }
    snprintf(c->host, sizeof c->host, "%s", rep->element[0]->str);
    c->port = reply_port(rep->element[1]);
    r->sentinel_logged = 0;
    sentinel_done(r, false);
    if (!c->ac)
        connect_now(c);
}

static void ask_sentinel(struct cgd_redis *r)
{
    redisAsyncContext *ac = sentinel_dial(r, r->sidx, on_sentinel_connect, on_sentinel_disconnect);
    if (!ac) {
        sentinel_next(r);
        return;
    }
    redisAsyncCommand(ac, on_master, NULL, "SENTINEL get-master-addr-by-name %s", r->master_name);
    r->sac = ac;
    r->sac_deadline = now_ms() + SENTINEL_WAIT_MS;
}

static void sub_lost(struct cgd_redis *r)
{
    r->sub = NULL;
    r->sub_idx = (r->sub_idx + 1) % r->nsentinels;
    r->sub_next_ms = now_ms() + 1000;
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    struct cgd_redis *r = ac->data;
    if (status != REDIS_OK && ac == r->sub)
        sub_lost(r); /* hiredis frees it */
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    struct cgd_redis *r = ac->data;
    (void)status;
    if (ac == r->sub)
        sub_lost(r);
}

/* A message on +switch-master: "<name> <old ip> <old port> <new ip> <new port>". */
static void on_switch(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cgd_redis *r = ac->data;
    redisReply *rep = reply;
    char name[128], host[256];
    int port;
    (void)privdata;
    if (ac != r->sub || !rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        r->sub_bad = true;
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || strcmp(rep->element[0]->str, "message") ||
        rep->element[2]->type != REDIS_REPLY_STRING || rep->element[2]->len > 600)
        return;
    if (sscanf(rep->element[2]->str, "%127s %*s %*s %255s %d", name, host, &port) == 3 &&
        strcmp(name, r->master_name) == 0 && port > 0 && port <= 65535) {
        snprintf(r->moved.host, sizeof r->moved.host, "%s", host);
        r->moved.port = port;
    }
}

static void subscribe_switch(struct cgd_redis *r)
{
    redisAsyncContext *ac = sentinel_dial(r, r->sub_idx, on_sub_connect, on_sub_disconnect);
    if (!ac) {
        sub_lost(r);
        return;
    }
    redisAsyncCommand(ac, on_switch, NULL, "SUBSCRIBE +switch-master");
    r->sub = ac;
    r->sub_bad = false;
}

/* --- Cluster: the slot map ------------------------------------------------------ */

static void on_slots(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *from = ac->data;
    struct cgd_redis *r = from->r;
    redisReply *rep = reply;
    uint8_t fresh[CG_REDIS_SLOTS] = {0};
    bool covered;
    size_t i, s, nodes = 0;
    (void)privdata;
    r->slots_asked = false;
    if (!rep || r->w->stopping)
        return;
    if (rep->type != REDIS_REPLY_ARRAY) {
        if (!r->map_logged)
            cgd_log(LOG_WARNING,
                    "cidguardd: worker %d: redis %s:%d: CLUSTER SLOTS: %s; calls continue on "
                    "local state",
                    r->w->id, from->host, from->port,
                    rep->type == REDIS_REPLY_ERROR ? rep->str : "not a slot map");
        r->map_logged = true;
        return;
    }
    for (i = 0; i < rep->elements; i++) {
        redisReply *e = rep->element[i], *n;
        struct conn *c;
        long long lo, hi, t;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY)
            continue;
        lo = e->element[0]->integer;
        hi = e->element[1]->integer;
        n = e->element[2];
        if (lo < 0 || hi >= CG_REDIS_SLOTS || lo > hi || n->elements < 2 ||
            n->element[0]->type != REDIS_REPLY_STRING ||
            n->element[1]->type != REDIS_REPLY_INTEGER || !reply_port(n->element[1]))
            continue;
        /* an empty host is the node that answered */
        c = node_find(r, n->element[0]->len ? n->element[0]->str : from->host,
                      reply_port(n->element[1]), true);
        if (!c)
            continue;
        for (s = 0; s < r->nnodes && r->nodes[s] != c; s++)
            ;
        for (t = lo; t <= hi; t++)
            fresh[t] = (uint8_t)(s + 1);
    }
    for (s = i = 0; s < CG_REDIS_SLOTS; s++)
        if (fresh[s])
            i++;
    covered = i == CG_REDIS_SLOTS;
    if (!covered && !r->map_logged)
        cgd_log(LOG_WARNING,
                "cidguardd: worker %d: redis %s:%d: CLUSTER SLOTS maps %zu of %d slots to a "
                "usable node; calls continue on local state until every slot has one",
                r->w->id, from->host, from->port, i, CG_REDIS_SLOTS);
    r->map_logged = !covered;
    memcpy(r->slots, fresh, sizeof fresh);
    for (i = 0; i < r->nnodes; i++)
        r->nodes[i]->used = false;
    for (s = 0; s < CG_REDIS_SLOTS; s++)
        if (r->slots[s])
            r->nodes[r->slots[s] - 1]->used = true;
    for (i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->used) {
            nodes++;
            if (!r->nodes[i]->ac && now_ms() >= r->nodes[i]->next_try_ms)
                connect_now(r->nodes[i]);
        }
    r->map_ok = covered;
    r->slots_wanted = !covered;
    atomic_fetch_add(&topo_slot_maps, 1);
    atomic_store(&topo_cluster_nodes, (int)nodes);
    update_up(r);
}

static void send_cluster_slots(struct conn *c)
{
    struct cgd_redis *r = c->r;
    if (r->slots_asked || !c->ac)
        return;
    if (redisAsyncCommand(c->ac, on_slots, NULL, "CLUSTER SLOTS") == REDIS_OK) {
        r->slots_asked = true;
        r->slots_at = now_ms();
    }
}

/* --- answers -------------------------------------------------------------------------- */

static void share_flush(struct cgd_redis *r);

static void answer_ready(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_redis *r = arg;
    size_t i, n = r->nready;
    (void)fd;
    (void)what;
    r->nready = 0;
    cgd_worker_batch(r->w, true);
    for (i = 0; i < n; i++)
        r->ready[i].done_cb(r->ready[i].arg, r->ready[i].ok, r->ready[i].bits, r->ready[i].intents);
    cgd_worker_batch(r->w, false);
    share_flush(r);
}

static void pend_put(struct cgd_redis *r, struct pend *p)
{
    p->next = r->free_pends;
    r->free_pends = p;
}

static struct pend *pend_get(struct cgd_redis *r)
{
    struct pend *p = r->free_pends;
    if (p)
        r->free_pends = p->next;
    else if (!(p = malloc(sizeof *p)))
        return NULL;
    return p;
}

/* One command of p has its answer: the call is answered with the last. */
static void sub_done(struct cgd_redis *r, struct sub *s, bool ok, uint32_t bits, unsigned intents)
{
    struct pend *p = s->p;
    if (s->fmt && s->own)
        free(s->fmt);
    s->fmt = NULL;
    if (ok) {
        p->bits |= bits;
        p->intents |= intents;
    } else {
        p->ok = false;
    }
    if (--p->left)
        return;
    atomic_fetch_add(&cgd_m.shared_state[p->ok ? CGD_STATE_REDIS : CGD_STATE_LOCAL], 1);
    if (r->nready == RING) /* not expected: at most RING are in flight */
        answer_ready(-1, 0, r);
    r->ready[r->nready++] = (struct ready){p->done_cb, p->arg, p->ok, p->bits, p->intents};
    if (r->nready == 1)
        event_active(r->answer_ev, EV_TIMEOUT, 0);
    pend_put(r, p);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Sends s's command on c; false when c cannot take it now. */
static bool sub_send(struct conn *c, struct sub *s, bool asking)
{
    if (!c->ac || !c->connected || c->n == RING)
        return false;
    if (asking && redisAsyncCommand(c->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return false;
    if (redisAsyncFormattedCommand(c->ac, on_reply, s, s->fmt, s->len) != REDIS_OK)
        return false;
    c->sent[(c->head + c->n) % RING] = now_ms();
    c->n++;
    return true;
}

/* Logs an error reply to a call or a stream command once per kind (its
 * first word) and connection: a node that fails every call writes a few
 * lines, not one per call, yet a new kind of failure after the first (an
 * unknown command, then a redirection that cannot be followed) still shows.
 * Kinds past the known ones share the last bit. */
static void log_reply_error(struct conn *c, const char *str)
{
    static const char *const kinds[] = {"ERR",      "MOVED",       "ASK",    "TRYAGAIN",
                                        "NOSCRIPT", "READONLY",    "BUSY",   "OOM",
                                        "NOPERM",   "CLUSTERDOWN", "LOADING"};
    size_t i, n = strcspn(str, " ");
    unsigned bit;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i]) == n && strncmp(str, kinds[i], n) == 0)
            break;
    bit = 1u << i;
    if (c->logged_errors & bit)
        return;
    c->logged_errors |= bit;
    cgd_log(LOG_WARNING, "cidguardd: worker %d: redis %s:%d: %s", c->r->w->id, c->host, c->port,
            str);
}

/* A cluster's MOVED or ASK: resends the command to the node named; false
 * when it is not followed. */
static bool redirect(struct cgd_redis *r, struct sub *s, const redisReply *rep)
{
    bool moved = strncmp(rep->str, "MOVED ", 6) == 0, ask = strncmp(rep->str, "ASK ", 4) == 0;
    const char *p, *colon;
    char host[256];
    unsigned long slot;
    struct conn *c;
    char *end;
    long port;
    size_t hl;
    if ((!moved && !ask) || !s->fmt || s->redirects >= REDIRECTS_MAX || r->w->stopping)
        return false;
    p = rep->str + (moved ? 6 : 4);
    slot = strtoul(p, &end, 10);
    if (end == p || *end != ' ' || slot >= CG_REDIS_SLOTS)
        return false;
    p = end + 1;
    if (!(colon = strrchr(p, ':')) || (hl = (size_t)(colon - p)) == 0 || hl >= sizeof host)
        return false;
    memcpy(host, p, hl);
    host[hl] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535 || !(c = node_find(r, host, (int)port, true)))
        return false;
    if (moved) {
        size_t i;
        atomic_fetch_add(&topo_moved, 1);
        for (i = 0; i < r->nnodes && r->nodes[i] != c; i++)
            ;
        r->slots[slot] = (uint8_t)(i + 1);
        c->used = true;
        r->slots_wanted = true; /* the rest of the map has moved too, probably */
    } else {
        atomic_fetch_add(&topo_ask, 1);
    }
    if (!c->ac && !c->connected)
        connect_now(c); /* the command fails now; the next ones find the node */
    s->redirects++;
    return sub_send(c, s, ask);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *c = ac->data;
    struct cgd_redis *r = c->r;
    struct sub *s = privdata;
    redisReply *rep = reply;

    c->head = (c->head + 1) % RING;
    c->n--;
    if (rep && s->replay_only &&
        (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_NIL)) {
        sub_done(r, s, true,
                 cg_redis_replay_answer(rep->type == REDIS_REPLY_STRING, rep->str, rep->len,
                                        s->p->call_id, s->p->call_id_len),
                 0);
        return;
    }
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER &&
        rep->element[2]->type == REDIS_REPLY_INTEGER &&
        rep->element[3]->type == REDIS_REPLY_INTEGER) {
        sub_done(r, s, true,
                 cg_redis_observe_result(rep->element[0]->integer, rep->element[1]->integer,
                                         rep->element[2]->integer),
                 (unsigned)rep->element[3]->integer &
                     (CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED));
        return;
    }
    if (rep && rep->type == REDIS_REPLY_ERROR && redirect(r, s, rep))
        return;
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "TRYAGAIN", 8) == 0 && s->fmt &&
        s->redirects < REDIRECTS_MAX && r->nretry < RING && !r->w->stopping) {
        s->redirects++;
        r->retry[r->nretry++] = s;
        return;
    }
    if (rep) {
        atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_REPLY], 1);
        if (rep->type == REDIS_REPLY_ERROR) {
            log_reply_error(c, rep->str);
            /* the script was flushed (or Redis restarted without it): load
             * it again for the next calls */
            if (strncmp(rep->str, "NOSCRIPT", 8) == 0)
                redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %s", cg_redis_cluster_script());
            /* a replica now (a failover happened): find the master again */
            else if (strncmp(rep->str, "READONLY", 8) == 0)
                c->readonly = true;
        }
    }
    sub_done(r, s, false, 0, 0);
}

/* --- campaign behaviour shared between daemons ----------------------------------- */

/* Entries the stream keeps (about: MAXLEN ~ trims whole nodes), each the
 * lines of up to SHARE_LINES calls; a reader that falls further behind
 * misses the oldest. */
#define SHARE_MAXLEN "10000"
#define SHARE_LINES 64
#define SHARE_READ 128 /* entries one XREAD returns; a full answer is followed at once */

/* This daemon's name on the stream, so that it skips its own entries. */
static char daemon_id[17];
static pthread_once_t daemon_id_once = PTHREAD_ONCE_INIT;
/* The reading worker's state, and whether another worker has published
 * since it last read: the reader reads as calls come, whichever worker
 * takes them, so that under load the other daemons' calls are a round
 * trip behind rather than a tick (a burst of calls fits in a tick). */
static struct cgd_redis *_Atomic share_reader_r;
static atomic_bool share_wanted;

static void make_daemon_id(void)
{
    unsigned char b[8];
    size_t i;
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) { /* not expected: still unique enough */
        uint64_t v = now_ms() ^ ((uint64_t)getpid() << 40);
        memcpy(b, &v, sizeof b);
    }
    for (i = 0; i < sizeof b; i++)
        snprintf(daemon_id + 2 * i, 3, "%02x", b[i]);
}

/* The connection that serves the stream (marked used on a cluster, so that
 * the timer connects it); NULL while it cannot take a command. */
static struct conn *share_conn(struct cgd_redis *r)
{
    struct conn *c;
    if (r->mode != CLUSTER) {
        c = r->nodes[0];
    } else {
        unsigned o = r->slots[r->share_slot];
        if (!o)
            return NULL;
        c = r->nodes[o - 1];
        c->used = true;
    }
    return c->ac && c->connected && c->n < RING ? c : NULL;
}

/* Queues one command on c (hiredis's format: %b is a pointer and a length),
 * timed in its ring as every command is. */
static bool share_send(struct conn *c, redisCallbackFn *fn, void *privdata, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = redisvAsyncCommand(c->ac, fn, privdata, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK)
        return false;
    c->sent[(c->head + c->n) % RING] = now_ms();
    c->n++;
    return true;
}

/* An answer to a stream command (none when the connection was dropped). */
static void share_answered(struct conn *c, const redisReply *rep)
{
    c->head = (c->head + 1) % RING;
    c->n--;
    if (!rep || rep->type != REDIS_REPLY_ERROR)
        return;
    atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_REPLY], 1);
    if (strncmp(rep->str, "READONLY", 8) == 0) {
        c->readonly = true;
    } else if (strncmp(rep->str, "MOVED ", 6) == 0 || strncmp(rep->str, "ASK ", 4) == 0) {
        c->r->slots_wanted = true; /* the stream's slot moved: read the map again */
    } else {
        log_reply_error(c, rep->str);
    }
}

/* A stream ID: "<ms>-<seq>", both decimal. */
static bool stream_id_ok(const char *s, size_t n)
{
    size_t i, dash = 0;
    if (!n || n >= 48)
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] == '-' && !dash && i > 0)
            dash = i;
        else if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return dash && dash + 1 < n;
}

/* privdata: the lines the entry carried */
static void on_published(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *c = ac->data;
    const redisReply *rep = reply;
    share_answered(c, rep);
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        atomic_fetch_add(&cgd_m.campaign_shared_dropped, (uintptr_t)privdata);
        return;
    }
    atomic_fetch_add(&cgd_m.campaign_shared_sent, (uintptr_t)privdata);
    if (stream_id_ok(rep->str, rep->len)) {
        memcpy(c->r->share_published, rep->str, rep->len);
        c->r->share_published[rep->len] = '\0';
    }
}

static void share_read(struct cgd_redis *r);

/* Publishes the lines gathered (one XADD, or none while Redis cannot take
 * it: they are dropped, as the calls' own state goes on locally), then has
 * the reader read.  Called when the calls answered together are, on the
 * timer, and when the buffer is full: each XADD made per call was its own
 * write(2) after the call's Redis answer, a fifth of the daemon's CPU. */
static void share_flush(struct cgd_redis *r)
{
    struct conn *c;
    if (!r->share_len)
        return;
    if (!(c = share_conn(r)) ||
        !share_send(c, on_published, (void *)(uintptr_t)r->share_lines,
                    "XADD %b MAXLEN ~ " SHARE_MAXLEN " * d %s v %b", r->share_key, r->share_key_len,
                    daemon_id, r->share_buf, r->share_len - 1))
        atomic_fetch_add(&cgd_m.campaign_shared_dropped, r->share_lines);
    r->share_len = 0;
    r->share_lines = 0;
    if (r->share_reader) {
        share_read(r);
    } else if (!atomic_exchange(&share_wanted, true)) { /* once until the reader reads */
        struct cgd_redis *reader = atomic_load(&share_reader_r);
        if (reader)
            event_active(reader->share_ev, EV_TIMEOUT, 0);
    }
}

/* [policy] campaign_exempt, asked of the origins that cross with another
 * daemon's call (cgd_redis_set_exempt) */
static bool (*_Atomic share_exempt)(const char *origin);

void cgd_redis_set_exempt(bool (*exempt)(const char *origin))
{
    atomic_store(&share_exempt, exempt);
}

static bool shared_exempt(const char *origin)
{
    bool (*exempt)(const char *origin) = atomic_load(&share_exempt);
    return exempt && exempt(origin);
}

void cgd_redis_share_call(struct cgd_worker *w, const struct cg_behaviour_call *bc)
{
    struct cgd_redis *r = w->redis;
    char line[CG_BEHAVIOUR_WIRE_MAX + 1];
    size_t n;
    if (!r || !r->share || !r->up || !(n = cg_behaviour_call_encode(bc, line, sizeof line)))
        return;
    if (r->share_len + n + 1 > sizeof r->share_buf)
        share_flush(r);
    memcpy(r->share_buf + r->share_len, line, n);
    r->share_buf[r->share_len + n] = '\n';
    r->share_len += n + 1;
    if (++r->share_lines == SHARE_LINES)
        share_flush(r);
}

/* On the reader's loop: another worker published.  A read in flight
 * leaves the wish for its answer to take up. */
static void share_wake(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_redis *r = arg;
    (void)fd;
    (void)what;
    if (!r->share_reading) {
        atomic_store(&share_wanted, false);
        share_read(r);
    }
}

/* Whether stream ID a comes after b (both stream_id_ok, or b ""). */
static bool stream_id_after(const char *a, const char *b)
{
    unsigned long long am, as, bm, bs;
    if (!b[0])
        return true;
    if (sscanf(a, "%llu-%llu", &am, &as) != 2 || sscanf(b, "%llu-%llu", &bm, &bs) != 2)
        return false;
    return am > bm || (am == bm && as > bs);
}

/* Seconds on the behaviour clock (call.c's): the wall clock, sped up for
 * a replay. */
static int64_t behaviour_now(const struct cgd_redis *r)
{
    uint64_t ms = wall_ms();
    return r->share_scale > 1 ? (int64_t)(ms * (uint64_t)r->share_scale / 1000)
                              : (int64_t)(ms / 1000);
}

/* How far a shared call's time may be from this daemon's clock: the
 * window behind (older calls have left every window), clocks' skew ahead.
 * A call from far in the future would hold its origin, and stop its window
 * rolling, until that time came. */
#define SHARE_SKEW_S 30

/*
 * One stream entry [id, [field, value, ...]]: another daemon's calls are
 * observed; this daemon's own were, when they were decided.  The stream is
 * trusted as the rest of Redis's state is (whoever may write the prefix's
 * keys can also make calls replays or register intents), but an entry is
 * held to what a daemon writes: an ID after the last, at most one batch of
 * lines, each a well-formed call of the current window.
 */
static void share_entry(struct cgd_redis *r, const redisReply *e)
{
    const redisReply *f, *d = NULL, *v = NULL;
    struct cg_behaviour_wire wire;
    struct cg_behaviour_call bc;
    struct cg_behaviour_result res;
    int64_t now, oldest, latest;
    char id[sizeof r->share_last];
    size_t i, lines = 0;
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        !stream_id_ok(e->element[0]->str, e->element[0]->len)) {
        atomic_fetch_add(&cgd_m.campaign_shared_refused, 1);
        return;
    }
    memcpy(id, e->element[0]->str, e->element[0]->len);
    id[e->element[0]->len] = '\0';
    if (!stream_id_after(id, r->share_last)) {
        atomic_fetch_add(&cgd_m.campaign_shared_refused, 1);
        return;
    }
    memcpy(r->share_last, id, sizeof id);
    f = e->element[1];
    for (i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i];
        if (k->type != REDIS_REPLY_STRING || k->len != 1 ||
            f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (k->str[0] == 'd')
            d = f->element[i + 1];
        else if (k->str[0] == 'v')
            v = f->element[i + 1];
    }
    if (d && d->len == sizeof daemon_id - 1 && memcmp(d->str, daemon_id, d->len) == 0)
        return;
    if (!d || !v || !cgd_behaviour || v->len >= sizeof r->share_buf) {
        atomic_fetch_add(&cgd_m.campaign_shared_refused, 1);
        return;
    }
    now = behaviour_now(r);
    oldest = now - r->share_window;
    latest = now + (int64_t)SHARE_SKEW_S * (r->share_scale > 1 ? r->share_scale : 1);
    for (i = 0; i < v->len && lines < SHARE_LINES; lines++) { /* one call a line */
        const char *nl = memchr(v->str + i, '\n', v->len - i);
        size_t n = nl ? (size_t)(nl - (v->str + i)) : v->len - i;
        if (cg_behaviour_call_decode(v->str + i, n, &wire, &bc) != CG_OK || bc.now < oldest ||
            bc.now > latest) {
            atomic_fetch_add(&cgd_m.campaign_shared_refused, 1);
        } else {
            cg_behaviour_observe(cgd_behaviour, &bc, &res);
            atomic_fetch_add(&cgd_m.campaign_shared_received, 1);
            /* this daemon's view: the origin crossed with another's call */
            if (res.crossed && !shared_exempt(bc.origin))
                atomic_fetch_add(&cgd_m.campaign_origins, 1);
        }
        i += n + 1;
    }
    if (i < v->len) /* lines past a batch's */
        atomic_fetch_add(&cgd_m.campaign_shared_refused, 1);
}

/* XREAD's answer: nil when nothing is new, else [[stream, [entry...]]]. */
static void on_shared(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *c = ac->data;
    struct cgd_redis *r = c->r;
    const redisReply *rep = reply, *entries = NULL;
    char before[sizeof r->share_last];
    size_t i;
    (void)privdata;
    share_answered(c, rep);
    r->share_reading = false;
    if (!rep) {
        /* the connection was dropped under the read (perhaps for an entry
         * too large to read): go on after this worker's latest entry, so
         * that the same entry is not read, and dropped, again */
        if (r->share_published[0] && stream_id_after(r->share_published, r->share_last))
            memcpy(r->share_last, r->share_published, sizeof r->share_last);
        return;
    }
    memcpy(before, r->share_last, sizeof before);
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
        rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
        entries = rep->element[0]->element[1];
    for (i = 0; entries && i < entries->elements; i++)
        share_entry(r, entries->element[i]);
    /* more are waiting (the last ID moved on), or another worker published
     * meanwhile */
    if ((entries && entries->elements == SHARE_READ && strcmp(before, r->share_last)) ||
        atomic_exchange(&share_wanted, false))
        share_read(r);
}

/* XREVRANGE's answer: the stream's last entry, or none. */
static void on_share_start(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct conn *c = ac->data;
    struct cgd_redis *r = c->r;
    const redisReply *rep = reply, *id;
    (void)privdata;
    share_answered(c, rep);
    r->share_reading = false;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return; /* asked again on the next tick */
    if (!rep->elements) {
        snprintf(r->share_last, sizeof r->share_last, "0-0");
    } else if (rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
               (id = rep->element[0]->element[0])->type == REDIS_REPLY_STRING &&
               stream_id_ok(id->str, id->len)) {
        memcpy(r->share_last, id->str, id->len);
        r->share_last[id->len] = '\0';
    }
}

/* The reading worker asks for what is new since its last entry. */
static void share_read(struct cgd_redis *r)
{
    struct conn *c;
    if (!r->share_reader || r->share_reading || r->w->stopping || !(c = share_conn(r)))
        return;
    /* first the server's last ID: the reader starts after it, whatever this
     * machine's clock says */
    if (!r->share_last[0])
        r->share_reading = share_send(c, on_share_start, NULL, "XREVRANGE %b + - COUNT 1",
                                      r->share_key, r->share_key_len);
    else
        r->share_reading = share_send(c, on_shared, NULL, "XREAD COUNT %d STREAMS %b %s",
                                      SHARE_READ, r->share_key, r->share_key_len, r->share_last);
}

/* --- the worker's timer ------------------------------------------------------------ */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_redis *r = arg;
    uint64_t now = now_ms();
    size_t i;
    (void)fd;
    (void)what;
    if (r->w->stopping)
        return;
    for (i = 0; i < r->nnodes; i++) {
        struct conn *c = r->nodes[i];
        if (c->ac && c->ac->c.reader->len > READ_MAX) {
            atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_REPLY], 1);
            drop(c, "sent a reply of over 16 MiB");
        } else if (c->ac && c->connected && c->n &&
                   now - c->sent[c->head] > (uint64_t)r->timeout_ms) {
            atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_TIMEOUT], 1);
            drop(c, "did not answer in time");
        } else if (c->ac && c->readonly) {
            drop(c, "refuses writes (a replica now)");
        } else if (c->ac && c->refused) {
            drop(c, "refused the connection's set-up");
        } else if (c->ac && !c->connected &&
                   now - c->connect_ms > (uint64_t)r->timeout_ms * 10 + 1000) {
            atomic_fetch_add(&cgd_m.redis_errors[CGD_REDIS_TIMEOUT], 1);
            drop(c, "did not answer the connection's set-up in time");
        } else if (!c->ac && now >= c->next_try_ms && (r->mode != CLUSTER || c->used || c->seed)) {
            if (r->mode == SENTINEL) {
                if (!r->sac)
                    ask_sentinel(r);
            } else {
                connect_now(c);
            }
        }
    }
    if (r->sac && (now > r->sac_deadline || r->sac->c.reader->len > READ_MAX)) {
        if (!(r->sentinel_logged & 1u << r->sidx))
            cgd_log(LOG_WARNING,
                    "cidguardd: worker %d: sentinel %s:%d: no answer in %d ms (or one of over "
                    "16 MiB); asking the next sentinel",
                    r->w->id, r->sentinels[r->sidx].host, r->sentinels[r->sidx].port,
                    SENTINEL_WAIT_MS);
        r->sentinel_logged |= 1u << r->sidx;
        sentinel_done(r, true);
    }
    if (r->mode == SENTINEL) {
        struct conn *c = r->nodes[0];
        if (r->sub && r->sub_bad) {
            redisAsyncContext *sub = r->sub;
            sub_lost(r);
            redisAsyncFree(sub);
        } else if (!r->sub && now >= r->sub_next_ms) {
            subscribe_switch(r);
        }
        if (r->moved.port) {
            bool same = r->moved.port == c->port && strcmp(r->moved.host, c->host) == 0;
            if (!same && c->ac)
                drop(c, "is no longer the master (+switch-master)");
            if (!same) {
                snprintf(c->host, sizeof c->host, "%s", r->moved.host);
                c->port = r->moved.port;
                if (!c->ac && !r->sac)
                    connect_now(c);
            }
            r->moved.port = 0;
        }
    }
    if (r->nretry) {
        size_t n = r->nretry;
        struct sub *again[RING];
        memcpy(again, r->retry, n * sizeof again[0]);
        r->nretry = 0;
        for (i = 0; i < n; i++) {
            unsigned o = r->mode == CLUSTER ? r->slots[again[i]->slot] : 1;
            if (!o || !sub_send(r->nodes[o - 1], again[i], false))
                sub_done(r, again[i], false, 0, 0);
        }
    }
    share_flush(r);
    share_read(r);
    if (r->mode == CLUSTER && !r->up && now - r->slots_at >= SLOTS_DEGRADED_MS)
        r->slots_wanted = true;
    if (r->mode == CLUSTER && (r->slots_wanted || !r->map_ok) && !r->slots_asked &&
        now - r->slots_at >= SLOTS_REFRESH_MS) {
        for (i = 0; i < r->nnodes && !(r->nodes[i]->connected && r->nodes[i]->ac); i++)
            ;
        if (i < r->nnodes)
            send_cluster_slots(r->nodes[i]);
    } else if (r->slots_asked && now - r->slots_at > (uint64_t)r->timeout_ms * 10 + 1000) {
        r->slots_asked = false; /* its connection was dropped with it */
    }
}

/* --- attach, free, observe --------------------------------------------------------- */

static int config_error(struct cgd_redis *r, const char *what)
{
    cgd_log(LOG_ERR, "cidguardd: [redis] %s", what);
    free(r);
    return -1;
}

int cgd_redis_attach(struct cgd_worker *w, const struct cgd_conf *conf)
{
    struct cgd_redis *r;
    struct timeval tv = {0, TICK_MS * 1000};
    struct cg_redis_node seeds[CG_REDIS_NODES_MAX];
    size_t nseeds = 0, i;
    cgd_metrics_set_redis_render(cgd_redis_metrics);
    if (!conf->redis_url[0]) {
        if (conf->redis_sentinels[0] || conf->redis_cluster[0]) {
            cgd_log(LOG_ERR, "cidguardd: [redis] sentinels and cluster need url too (the user, "
                             "password and database, and the node the lists are read from)");
            return -1;
        }
        return 0;
    }
    if (!(r = calloc(1, sizeof *r)))
        return -1;
    if (cg_redis_parse_url(conf->redis_url, &r->addr) != CG_OK)
        return config_error(r, "url: not a redis://[[user]:password@]host[:port][/db] URL");
    r->mode = conf->redis_cluster[0] ? CLUSTER : conf->redis_sentinels[0] ? SENTINEL : SINGLE;
    if (conf->redis_cluster[0] && conf->redis_sentinels[0])
        return config_error(r, "sentinels and cluster exclude each other");
    if (r->mode == SENTINEL) {
        if (cg_redis_parse_nodes(conf->redis_sentinels, r->sentinels, &r->nsentinels) != CG_OK)
            return config_error(r, "sentinels: not a host:port;host:port;... list");
        if (!conf->redis_master_name[0])
            return config_error(r, "sentinels needs master_name");
        snprintf(r->master_name, sizeof r->master_name, "%s", conf->redis_master_name);
        snprintf(r->sentinel_user, sizeof r->sentinel_user, "%s", conf->redis_sentinel_user);
        snprintf(r->sentinel_password, sizeof r->sentinel_password, "%s",
                 conf->redis_sentinel_password);
        /* a worker after the first starts with another sentinel: spread */
        r->sidx = (size_t)w->id % r->nsentinels;
        r->sub_idx = ((size_t)w->id + 1) % r->nsentinels;
    }
    if (r->mode == CLUSTER) {
        if (cg_redis_parse_nodes(conf->redis_cluster, seeds, &nseeds) != CG_OK)
            return config_error(r, "cluster: not a host:port;host:port;... list");
        if (r->addr.db)
            return config_error(r, "a cluster has database 0 only (url)");
    }
    r->w = w;
    snprintf(r->prefix, sizeof r->prefix, "%s", conf->redis_prefix);
    r->timeout_ms = conf->redis_timeout_ms;
    r->window = conf->freshness + 5;
    r->rate_calls = (unsigned)conf->rate_calls;
    r->rate_numbers = (unsigned)conf->rate_numbers;
    if (conf->campaign_detection && conf->redis_campaign) {
        pthread_once(&daemon_id_once, make_daemon_id);
        r->share_key_len = cg_redis_behaviour_stream(r->share_key, sizeof r->share_key, r->prefix);
        r->share = r->share_key_len > 0;
        r->share_slot = cg_redis_keyslot(r->share_key, r->share_key_len);
        r->share_window = conf->campaign_window;
        r->share_scale = conf->campaign_time_scale;
        /* one reader a daemon; it starts after the stream's last entry,
         * asked of the server (share_read) */
        r->share_reader = w->id == 0;
    }
    /* nodes[0]: the server, the master (host filled by the sentinels), or
     * the url's node, a seed among the cluster's */
    if (!node_find(r, r->addr.host, r->addr.port, true)) {
        free(r);
        return -1;
    }
    r->nodes[0]->seed = true;
    for (i = 0; i < nseeds; i++) {
        struct conn *c = node_find(r, seeds[i].host, seeds[i].port, true);
        if (c)
            c->seed = true;
    }
    if (r->share_reader) {
        if (!(r->share_ev = event_new(w->base, -1, 0, share_wake, r))) {
            free(r);
            return -1;
        }
        atomic_store(&share_reader_r, r);
    }
    r->tick = event_new(w->base, -1, EV_PERSIST, tick_cb, r);
    r->answer_ev = event_new(w->base, -1, 0, answer_ready, r);
    event_add(r->tick, &tv);
    if (r->mode == SENTINEL)
        ask_sentinel(r);
    else
        for (i = 0; i < r->nnodes; i++)
            connect_now(r->nodes[i]);
    w->redis = r;
    atomic_fetch_add(&cgd_m.redis_workers, 1);
    atomic_store(&topo_configured, 1);
    return 0;
}

void cgd_redis_free(struct cgd_worker *w)
{
    struct cgd_redis *r = w->redis;
    size_t i;
    if (!r)
        return;
    if (r->sub) {
        redisAsyncContext *sub = r->sub;
        r->sub = NULL;
        redisAsyncFree(sub);
    }
    if (r->sac) {
        redisAsyncContext *sac = r->sac;
        r->sac = NULL;
        redisAsyncFree(sac);
    }
    for (i = 0; i < r->nnodes; i++) {
        struct conn *c = r->nodes[i];
        if (c->ac) {
            redisAsyncContext *ac = c->ac;
            c->ac = NULL; /* on_disconnect ignores a context that is not current */
            c->connected = false;
            redisAsyncFree(ac);
        }
    }
    for (i = 0; i < r->nretry; i++)
        sub_done(r, r->retry[i], false, 0, 0);
    r->nretry = 0;
    if (r->up)
        atomic_fetch_sub(&cgd_m.redis_connected, 1);
    r->up = false;
    answer_ready(-1, 0, r); /* the loop has ended: answer what the free produced */
    event_free(r->answer_ev);
    event_free(r->tick);
    if (r->share_ev) {
        atomic_store(&share_reader_r, NULL);
        event_free(r->share_ev);
    }
    for (i = 0; i < r->nnodes; i++)
        free(r->nodes[i]);
    rpool_clear(&r->rpool);
    while (r->free_pends) {
        struct pend *p = r->free_pends;
        r->free_pends = p->next;
        free(p);
    }
    free(r);
    w->redis = NULL;
}

/* Writes v in decimal at o; returns the end. */
static char *put_dec(char *o, size_t v)
{
    char t[24];
    size_t n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *o++ = t[--n];
    return o;
}

/* Bytes of v in decimal. */
static size_t dec_len(size_t v)
{
    size_t n = 1;
    while ((v /= 10))
        n++;
    return n;
}

/* Puts c in the protocol (an array of bulk strings) into s->fmt: in p's
 * buffer when it fits (hiredis copies a command into its output buffer as
 * it is queued, so nothing is allocated for it), malloc'ed otherwise.
 * False when there is no memory. */
static bool sub_format(struct pend *p, struct sub *s, const struct cg_redis_slot_cmd *c)
{
    size_t n = 3 + dec_len((size_t)c->argc);
    char *o;
    int i;
    for (i = 0; i < c->argc; i++)
        n += 5 + dec_len(c->argvlen[i]) + c->argvlen[i];
    if (n <= sizeof p->buf - p->used) {
        s->fmt = p->buf + p->used;
        p->used += n;
        s->own = false;
    } else if ((s->fmt = malloc(n))) {
        s->own = true;
    } else {
        return false;
    }
    s->len = n;
    o = s->fmt;
    *o++ = '*';
    o = put_dec(o, (size_t)c->argc);
    *o++ = '\r';
    *o++ = '\n';
    for (i = 0; i < c->argc; i++) {
        *o++ = '$';
        o = put_dec(o, c->argvlen[i]);
        *o++ = '\r';
        *o++ = '\n';
        memcpy(o, c->argv[i], c->argvlen[i]);
        o += c->argvlen[i];
        *o++ = '\r';
        *o++ = '\n';
    }
    return true;
}

/* 1: sent; 0: nothing to record; -1: Redis cannot take it now. */
static int observe_call(struct cgd_redis *r, const struct cg_policy_call *pc, unsigned intents,
                        struct pend *p)
{
    struct cg_redis_cmds cmds;
    struct conn *to[CG_REDIS_SLOT_CMDS_MAX];
    int i;
    if (!cg_redis_observe_cmds(&cmds, r->prefix, pc, r->window, r->rate_calls, r->rate_numbers,
                               intents, r->mode == CLUSTER))
        return 0;
    for (i = 0; i < cmds.n; i++) {
        unsigned n = r->mode == CLUSTER ? r->slots[cmds.cmd[i].slot] : 1;
        if (!n || !(to[i] = r->nodes[n - 1])->connected || !to[i]->ac || to[i]->n == RING)
            return -1;
    }
    p->left = cmds.n;
    for (i = 0; i < cmds.n; i++) {
        struct sub *s = &p->sub[i];
        *s = (struct sub){p, NULL, 0, false, 0, cmds.cmd[i].slot, cmds.cmd[i].replay_only};
        if (s->replay_only) {
            p->call_id_len = cmds.cmd[i].argvlen[2] < sizeof p->call_id ? cmds.cmd[i].argvlen[2]
                                                                        : sizeof p->call_id - 1;
            memcpy(p->call_id, cmds.cmd[i].argv[2], p->call_id_len);
        }
        if (!sub_format(p, s, &cmds.cmd[i])) {
            int j;
            for (j = 0; j < i; j++)
                if (p->sub[j].own)
                    free(p->sub[j].fmt);
            return -1;
        }
    }
    /* every command can go: a call is sent whole or not at all */
    for (i = 0; i < cmds.n; i++)
        if (!sub_send(to[i], &p->sub[i], false))
            sub_done(r, &p->sub[i], false, 0, 0);
    return 1;
}

bool cgd_redis_observe(struct cgd_worker *w, const struct cg_policy_call *pc, unsigned intents,
                       cgd_redis_done_cb done_cb, void *arg)
{
    struct cgd_redis *r = w->redis;
    struct pend *p;
    int sent;
    if (!r)
        return false;
    if (!r->up || (r->mode != CLUSTER && r->nodes[0]->n == RING) || !(p = pend_get(r))) {
        atomic_fetch_add(&cgd_m.shared_state[CGD_STATE_LOCAL], 1);
        return false;
    }
    /* not the whole struct: its buffer is written as it is used */
    p->done_cb = done_cb;
    p->arg = arg;
    p->left = 0;
    p->ok = true;
    p->bits = 0;
    p->intents = 0;
    p->call_id_len = 0;
    p->used = 0;
    sent = observe_call(r, pc, intents, p);
    if (sent <= 0) {
        pend_put(r, p);
        if (sent < 0)
            atomic_fetch_add(&cgd_m.shared_state[CGD_STATE_LOCAL], 1);
    }
    return sent > 0;
}
