/*
 * Policy state shared by many daemons, in Redis 7 (hiredis).
 *
 * Keys, under a prefix ("cidguard:" by default):
 *   r:<hex>       replay: the ECDSA r value of a PASSporT that passed
 *                 verification (the first 32 bytes of R||S: policy.h says
 *                 why) -> the Call-ID it was first seen with, "" when it had
 *                 none; expires at max(now, iat) + window, when the
 *                 verifier can no longer accept the token
 *   ic:<ingress>  sc:<spc>   calls: a hash of 10-second buckets
 *   in:<ingress>  sn:<spc>   distinct calling numbers: a sorted set scored
 *                 by last-seen second, trimmed to threshold+1 members
 *   list:<name>   a policy list's CSV text;  lists:version  its version
 *
 * One script per call does the replay check and both rate windows, so a
 * call costs one round trip and is counted atomically however many
 * daemons share the store.  The calls window is the last six 10-second
 * buckets (50-60 s), a little shorter than the local state's exact 60 s.
 * A bucket's first call clears the buckets before the window and renews
 * the key's lifetime, which outlasts the window: the other calls of the
 * bucket pay for neither (Redis spends its time on each command a script
 * calls, and Redis's core is what a shared store runs out of first).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "cidguard/error.h"
#include "cidguard/intent.h"
#include "cidguard/redis.h"
#include "core/internal.h"
#include "policy/policy_internal.h"

/* The checks of one call, on the keys K[1..7] ("" for a key that does not
 * apply): the single-server script takes them as KEYS; the cluster script
 * gets only the keys of one slot and a mask in ARGV[7] saying which of
 * the seven they are. */
#define BODY                                                                                       \
    "local now = tonumber(ARGV[2])\n"                                                              \
    "local rc, rn = tonumber(ARGV[5]), tonumber(ARGV[6])\n"                                        \
    "local replay, over_c, over_n = 0, 0, 0\n"                                                     \
    "if K[1] ~= '' then\n"                                                                         \
    "  local old = redis.call('SET', K[1], ARGV[1], 'NX', 'GET', 'EX', ARGV[3])\n"                 \
    "  if old and (old ~= ARGV[1] or old == '') then replay = 1 end\n"                             \
    "end\n"                                                                                        \
    "for i = 2, 4, 2 do\n"                                                                         \
    "  local kc, kn = K[i], K[i + 1]\n"                                                            \
    "  if kc ~= '' and rc > 0 then\n"                                                              \
    "    local b = math.floor(now / 10)\n"                                                         \
    "    if redis.call('HINCRBY', kc, b, 1) == 1 then\n"                                           \
    "      redis.call('HDEL', kc, b - 6, b - 7, b - 8, b - 9, b - 10, b - 11, b - 12)\n"           \
    "      redis.call('EXPIRE', kc, 70)\n"                                                         \
    "    end\n"                                                                                    \
    "    local sum = 0\n"                                                                          \
    "    for _, x in ipairs(redis.call('HMGET', kc, b - 5, b - 4, b - 3, b - 2, b - 1, b)) do\n"   \
    "      if x then sum = sum + tonumber(x) end\n"                                                \
    "    end\n"                                                                                    \
    "    if sum > rc then over_c = 1 end\n"                                                        \
    "  end\n"                                                                                      \
    "  if kn ~= '' and rn > 0 and ARGV[4] ~= '' then\n"                                            \
    "    redis.call('ZADD', kn, now, ARGV[4])\n"                                                   \
    "    redis.call('ZREMRANGEBYSCORE', kn, '-inf', now - 60)\n"                                   \
    "    local n = redis.call('ZCARD', kn)\n"                                                      \
    "    if n > rn + 1 then redis.call('ZREMRANGEBYRANK', kn, 0, n - rn - 2) end\n"                \
    "    redis.call('EXPIRE', kn, 61)\n"                                                           \
    "    if n > rn then over_n = 1 end\n"                                                          \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local intents = 0\n"                                                                          \
    "for i = 6, 7 do\n"                                                                            \
    "  if K[i] ~= '' then\n"                                                                       \
    "    local left = tonumber(redis.call('GET', K[i]) or '0') or 0\n"                             \
    "    if left > 0 then\n"                                                                       \
    "      redis.call('DECR', K[i])\n"                                                             \
    "      intents = intents + (i - 5)\n"                                                          \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "return {replay, over_c, over_n, intents}\n"

static const char script[] = "local K = KEYS\n" BODY;
static const char cluster_script[] =
    "local K, j, m = {}, 1, ARGV[7]\n"
    "for i = 1, 7 do\n"
    "  if string.sub(m, i, i) == '1' then K[i] = KEYS[j]; j = j + 1 else K[i] = '' end\n"
    "end\n" BODY;

static char script_sha[41], cluster_script_sha[41];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_hex(const char *text, size_t len, char hex[41])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    int i;
    SHA1((const unsigned char *)text, len, md);
    for (i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void sha_init(void)
{
    sha_hex(script, sizeof script - 1, script_sha);
    sha_hex(cluster_script, sizeof cluster_script - 1, cluster_script_sha);
}

const char *cg_redis_script(void)
{
    return script;
}

const char *cg_redis_script_sha(void)
{
    pthread_once(&sha_once, sha_init);
    return script_sha;
}

const char *cg_redis_cluster_script(void)
{
    return cluster_script;
}

const char *cg_redis_cluster_script_sha(void)
{
    pthread_once(&sha_once, sha_init);
    return cluster_script_sha;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The decimal number [p, end) in *v: digits only (no sign, no blank, no
 * leading text strtol would skip), at most max. */
static bool decimal(const char *p, const char *end, long max, long *v)
{
    long x = 0;
    if (p == end)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || (x = x * 10 + (*p - '0')) > max)
            return false;
    }
    *v = x;
    return true;
}

/* Copies [p, p+n) percent-decoded into out (cap bytes with the NUL);
 * false on a bad escape, a NUL byte or no room. */
static bool pct_decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            /* two hex digits exactly: strtol would take a sign or a blank */
            if (n - i < 3 || !isxdigit((unsigned char)p[i + 1]) ||
                !isxdigit((unsigned char)p[i + 2]))
                return false;
            c = hexval(p[i + 1]) << 4 | hexval(p[i + 2]);
            if (c == 0)
                return false;
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

int cg_redis_parse_url(const char *url, struct cg_redis_addr *a)
{
    const char *p, *at, *host, *end, *colon;
    size_t n;
    long v;

    memset(a, 0, sizeof *a);
    a->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0 || strlen(url) > 1024)
        return CG_EINVAL;
    p = url + 8;
    end = p + strcspn(p, "/");
    /* the last '@' of the authority: a password may hold one unencoded */
    for (at = NULL, host = p; host < end; host++)
        if (*host == '@')
            at = host;
    if (at) {
        const char *pw = memchr(p, ':', (size_t)(at - p));
        if (!pw || !pct_decode(p, (size_t)(pw - p), a->user, sizeof a->user) ||
            !pct_decode(pw + 1, (size_t)(at - pw - 1), a->password, sizeof a->password))
            return CG_EINVAL;
        p = at + 1;
    }
    host = p;
    if (*host == '[') { /* [IPv6]:port */
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (!rb || rb == host + 1)
            return CG_EINVAL;
        n = (size_t)(rb - host - 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb + 1 != end)
            return CG_EINVAL;
        host++;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        n = (size_t)((colon ? colon : end) - host);
    }
    if (n == 0 || n >= sizeof a->host)
        return CG_EINVAL;
    memcpy(a->host, host, n);
    if (colon) {
        if (!decimal(colon + 1, end, 65535, &v) || v < 1)
            return CG_EINVAL;
        a->port = (int)v;
    }
    if (*end == '/' && end[1]) {
        if (!decimal(end + 1, end + strlen(end), 15, &v))
            return CG_EINVAL;
        a->db = (int)v;
    }
    return CG_OK;
}

int cg_redis_parse_nodes(const char *list, struct cg_redis_node *out, size_t *np)
{
    size_t n = 0;
    const char *p = list;
    *np = 0;
    if (!list || strlen(list) > 8192)
        return CG_EINVAL;
    for (;;) {
        const char *sep = p + strcspn(p, ";"), *e = sep, *s = p, *colon;
        size_t hl;
        long v;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s < e) {
            if (n == CG_REDIS_NODES_MAX)
                return CG_EINVAL;
            if (*s == '[') {
                const char *rb = memchr(s, ']', (size_t)(e - s));
                if (!rb || rb + 1 >= e || rb[1] != ':')
                    return CG_EINVAL;
                colon = rb + 1;
                hl = (size_t)(rb - s - 1);
                s++;
            } else {
                colon = NULL;
                for (const char *q = s; q < e; q++)
                    if (*q == ':')
                        colon = q;
                if (!colon)
                    return CG_EINVAL;
                hl = (size_t)(colon - s);
            }
            if (hl == 0 || hl >= sizeof out[n].host || !decimal(colon + 1, e, 65535, &v) || v < 1)
                return CG_EINVAL;
            memcpy(out[n].host, s, hl);
            out[n].host[hl] = '\0';
            out[n++].port = (int)v;
        }
        if (!*sep)
            break;
        p = sep + 1;
    }
    if (!n)
        return CG_EINVAL;
    *np = n;
    return CG_OK;
}

/* --- synchronous connection --------------------------------------------------- */

struct cg_redis {
    redisContext *rc;
    bool cluster; /* the lists' keys share the hash tag {lists} */
    char prefix[64];
    char err[256];
};

static void set_err(struct cg_redis *s, const char *what)
{
    snprintf(s->err, sizeof s->err, "%s: %s", what,
             s->rc && s->rc->err ? s->rc->errstr : "unexpected reply");
}

/* Runs one command; NULL (with the error recorded) on failure or an error reply. */
static redisReply *cmd(struct cg_redis *s, int argc, const char **argv, const size_t *len)
{
    redisReply *r = redisCommandArgv(s->rc, argc, argv, len);
    if (!r) {
        set_err(s, argv[0]);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->err, sizeof s->err, "%s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Runs a command given as words separated by single spaces (no binary
 * data): for the few fixed commands of connection set-up. */
static redisReply *cmdv(struct cg_redis *s, const char *w0, const char *w1, const char *w2)
{
    const char *av[3] = {w0, w1, w2};
    size_t al[3] = {strlen(w0), w1 ? strlen(w1) : 0, w2 ? strlen(w2) : 0};
    return cmd(s, w2 ? 3 : w1 ? 2 : 1, av, al);
}

/* Connects s->rc to host:port and authenticates (user and password, or
 * the password alone) and selects db.  On failure s->err says why. */
static int dial(struct cg_redis *s, const char *host, int port, struct timeval tv, const char *user,
                const char *password, int db)
{
    redisReply *r;
    if (s->rc)
        redisFree(s->rc);
    s->rc = redisConnectWithTimeout(host, port, tv);
    if (!s->rc || s->rc->err) {
        snprintf(s->err, sizeof s->err, "redis %s:%d: %s", host, port,
                 s->rc ? s->rc->errstr : "cannot connect");
        return CG_EIO;
    }
    redisSetTimeout(s->rc, tv);
    if (password && *password) {
        if (!(r = user && *user ? cmdv(s, "AUTH", user, password)
                                : cmdv(s, "AUTH", password, NULL)))
            goto fail;
        freeReplyObject(r);
    }
    if (db) {
        char n[8];
        snprintf(n, sizeof n, "%d", db);
        if (!(r = cmdv(s, "SELECT", n, NULL)))
            goto fail;
        freeReplyObject(r);
    }
    return CG_OK;
fail : {
    char why[256];
    snprintf(why, sizeof why, "%s", s->err);
    snprintf(s->err, sizeof s->err, "redis %.64s:%d: %.160s", host, port, why);
}
    return CG_EIO;
}

/* The master that one of the sentinels names, in *m. */
static int ask_sentinels(struct cg_redis *s, const struct cg_redis_opts *o, struct timeval tv,
                         struct cg_redis_node *m)
{
    struct cg_redis_node sn[CG_REDIS_NODES_MAX];
    size_t n, i;
    long port;
    if (!o->master_name || !*o->master_name) {
        snprintf(s->err, sizeof s->err, "sentinels given without a master name");
        return CG_EINVAL;
    }
    if (cg_redis_parse_nodes(o->sentinels, sn, &n) != CG_OK) {
        snprintf(s->err, sizeof s->err, "sentinels: not a host:port;... list");
        return CG_EINVAL;
    }
    for (i = 0; i < n; i++) {
        redisReply *r;
        if (dial(s, sn[i].host, sn[i].port, tv, o->sentinel_user, o->sentinel_password, 0))
            continue;
        r = cmdv(s, "SENTINEL", "get-master-addr-by-name", o->master_name);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len > 0 &&
            r->element[0]->len < sizeof m->host &&
            strlen(r->element[0]->str) == r->element[0]->len &&
            decimal(r->element[1]->str, r->element[1]->str + r->element[1]->len, 65535, &port) &&
            port > 0) {
            cg__strlcpy(m->host, r->element[0]->str, sizeof m->host);
            m->port = (int)port;
            freeReplyObject(r);
            return CG_OK;
        }
        if (r)
            snprintf(s->err, sizeof s->err, "sentinel %.64s:%d %s master %.64s", sn[i].host,
                     sn[i].port,
                     r->type == REDIS_REPLY_NIL ? "does not know" : "gives no host and port for",
                     o->master_name);
        freeReplyObject(r);
    }
    return CG_EIO;
}

/* The master of a replica (ROLE), in *m; false for a master, or when ROLE
 * is not allowed (an ACL user need not have it). */
static bool replica_of(struct cg_redis *s, struct cg_redis_node *m)
{
    redisReply *r = cmdv(s, "ROLE", NULL, NULL);
    bool yes = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               strcmp(r->element[0]->str, "slave") == 0 &&
               r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len < sizeof m->host &&
               r->element[2]->type == REDIS_REPLY_INTEGER;
    if (yes) {
        cg__strlcpy(m->host, r->element[1]->str, sizeof m->host);
        m->port = (int)r->element[2]->integer;
    }
    freeReplyObject(r);
    return yes;
}

/* Whether the server is a cluster node (INFO cluster). */
static bool is_cluster(struct cg_redis *s)
{
    redisReply *r = cmdv(s, "INFO", "cluster", NULL);
    bool yes = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_enabled:1");
    freeReplyObject(r);
    return yes;
}

static void key(const struct cg_redis *s, char *buf, size_t cap, const char *suffix)
{
    /* on a cluster, the version and every list in one slot: one MGET and
     * one MULTI reach them all */
    snprintf(buf, cap, s->cluster ? "%s{lists}:%s" : "%s%s", s->prefix, suffix);
}

/* The primary that serves `slot` (CLUSTER SLOTS), in *m. */
static bool slot_owner(struct cg_redis *s, unsigned slot, struct cg_redis_node *m)
{
    redisReply *r = cmdv(s, "CLUSTER", "SLOTS", NULL);
    size_t i;
    bool found = false;
    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++) {
        redisReply *e = r->element[i], *n;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY)
            continue;
        n = e->element[2];
        if ((long long)slot < e->element[0]->integer || (long long)slot > e->element[1]->integer ||
            n->elements < 2 || n->element[0]->type != REDIS_REPLY_STRING ||
            n->element[1]->type != REDIS_REPLY_INTEGER || n->element[0]->len >= sizeof m->host)
            continue;
        /* an empty host means "the node you asked" */
        if (n->element[0]->len)
            cg__strlcpy(m->host, n->element[0]->str, sizeof m->host);
        m->port = (int)n->element[1]->integer;
        found = true;
    }
    freeReplyObject(r);
    return found;
}

int cg_redis_connect_opts(struct cg_redis **out, const struct cg_redis_opts *o, const char *prefix,
                          int timeout_ms, char *err, size_t errlen)
{
    struct cg_redis_addr a;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct cg_redis_node seeds[CG_REDIS_NODES_MAX + 1], m;
    size_t nseeds = 0, i;
    bool sentinel = o->sentinels && *o->sentinels;
    struct cg_redis *s;
    int rc = CG_EIO;

    *out = NULL;
    if (cg_redis_parse_url(o->url, &a) != CG_OK) {
        if (err)
            snprintf(err, errlen, "not a redis://[user:password@]host[:port][/db] URL: %s",
                     o->url ? o->url : "");
        return CG_EINVAL;
    }
    if (o->cluster && *o->cluster && cg_redis_parse_nodes(o->cluster, seeds, &nseeds) != CG_OK) {
        if (err)
            snprintf(err, errlen, "cluster: not a host:port;... list: %s", o->cluster);
        return CG_EINVAL;
    }
    if (!(s = calloc(1, sizeof *s)))
        return CG_ENOMEM;
    cg__strlcpy(s->prefix, prefix && *prefix ? prefix : CG_REDIS_PREFIX, sizeof s->prefix);
    if (sentinel) {
        if ((rc = ask_sentinels(s, o, tv, &m)) != CG_OK)
            goto fail;
        cg__strlcpy(a.host, m.host, sizeof a.host);
        a.port = m.port;
    }
    cg__strlcpy(seeds[nseeds].host, a.host, sizeof seeds[nseeds].host);
    seeds[nseeds++].port = a.port;
    /* the url's node first, then the cluster's seeds */
    rc = CG_EIO;
    for (i = 0; i < nseeds && rc != CG_OK; i++)
        rc = dial(s, seeds[(i + nseeds - 1) % nseeds].host, seeds[(i + nseeds - 1) % nseeds].port,
                  tv, a.user, a.password, nseeds > 1 ? 0 : a.db);
    if (rc != CG_OK)
        goto fail;
    s->cluster = nseeds > 1 || is_cluster(s);
    if (s->cluster) {
        char k[128];
        key(s, k, sizeof k, "lists:version");
        m.host[0] = '\0';
        if (!slot_owner(s, cg_redis_keyslot(k, strlen(k)), &m)) {
            snprintf(s->err, sizeof s->err, "CLUSTER SLOTS: no node serves the lists' slot");
            rc = CG_EIO;
            goto fail;
        }
        if (m.host[0] && (strcmp(m.host, s->rc->tcp.host) || m.port != s->rc->tcp.port) &&
            (rc = dial(s, m.host, m.port, tv, a.user, a.password, 0)) != CG_OK)
            goto fail;
    } else if (replica_of(s, &m) &&
               (rc = dial(s, m.host, m.port, tv, a.user, a.password, a.db)) != CG_OK) {
        goto fail;
    }
    *out = s;
    return CG_OK;
fail:
    if (err)
        snprintf(err, errlen, "%s", s->err);
    cg_redis_close(s);
    return rc == CG_OK ? CG_EIO : rc;
}

int cg_redis_connect(struct cg_redis **out, const char *url, const char *prefix, int timeout_ms,
                     char *err, size_t errlen)
{
    struct cg_redis_opts o = {.url = url};
    return cg_redis_connect_opts(out, &o, prefix, timeout_ms, err, errlen);
}

void cg_redis_close(struct cg_redis *s)
{
    if (!s)
        return;
    if (s->rc)
        redisFree(s->rc);
    free(s);
}

const char *cg_redis_error(const struct cg_redis *s)
{
    return s->err;
}

int cg_redis_lists_version(struct cg_redis *s, long long *version)
{
    char k[128];
    const char *av[2] = {"GET", k};
    size_t al[2];
    redisReply *r;
    key(s, k, sizeof k, "lists:version");
    al[0] = 3;
    al[1] = strlen(k);
    if (!(r = cmd(s, 2, av, al)))
        return CG_EIO;
    *version = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return CG_OK;
}

int cg_redis_lists_get(struct cg_redis *s, char *text[CG_LIST__COUNT], long long *version)
{
    char keys[CG_LIST__COUNT + 1][128];
    const char *av[CG_LIST__COUNT + 2];
    size_t al[CG_LIST__COUNT + 2];
    redisReply *r;
    int i;

    for (i = 0; i < CG_LIST__COUNT; i++)
        text[i] = NULL;
    /* MGET reads every key at one instant: a version and its lists */
    av[0] = "MGET";
    al[0] = 4;
    key(s, keys[0], sizeof keys[0], "lists:version");
    for (i = 0; i < CG_LIST__COUNT; i++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "list:%s", cg_list_name((enum cg_list)i));
        key(s, keys[i + 1], sizeof keys[i + 1], suffix);
    }
    for (i = 0; i <= CG_LIST__COUNT; i++) {
        av[i + 1] = keys[i];
        al[i + 1] = strlen(keys[i]);
    }
    if (!(r = cmd(s, CG_LIST__COUNT + 2, av, al)))
        return CG_EIO;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != CG_LIST__COUNT + 1) {
        freeReplyObject(r);
        snprintf(s->err, sizeof s->err, "MGET: unexpected reply");
        return CG_EIO;
    }
    *version =
        r->element[0]->type == REDIS_REPLY_STRING ? strtoll(r->element[0]->str, NULL, 10) : 0;
    for (i = 0; i < CG_LIST__COUNT; i++) {
        redisReply *e = r->element[i + 1];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        if (!(text[i] = malloc(e->len + 1))) {
            while (i--)
                free(text[i]);
            freeReplyObject(r);
            return CG_ENOMEM;
        }
        memcpy(text[i], e->str, e->len);
        text[i][e->len] = '\0';
    }
    freeReplyObject(r);
    return CG_OK;
}

/* [WATCH lists:version, compare]; MULTI; SET or DEL list:<name>;
 * INCR lists:version; EXEC.  With expect >= 0 the write happens only if
 * the version is still `expect` when EXEC runs (CG_ECONFLICT otherwise). */
static int list_write(struct cg_redis *s, enum cg_list l, const char *text, size_t len,
                      long long expect)
{
    char lk[128], vk[128], suffix[32];
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    size_t ml[] = {5}, el[] = {4};
    const char *av[3];
    size_t al[3];
    redisReply *r;
    int rc = CG_EIO;

    if ((unsigned)l >= CG_LIST__COUNT)
        return CG_EINVAL;
    snprintf(suffix, sizeof suffix, "list:%s", cg_list_name(l));
    key(s, lk, sizeof lk, suffix);
    key(s, vk, sizeof vk, "lists:version");
    if (expect >= 0) {
        const char *w[] = {"WATCH", vk}, *g[] = {"GET", vk}, *u[] = {"UNWATCH"};
        size_t wl[] = {5, strlen(vk)}, gl[] = {3, strlen(vk)}, ul[] = {7};
        long long now;
        if (!(r = cmd(s, 2, w, wl)))
            return CG_EIO;
        freeReplyObject(r);
        if (!(r = cmd(s, 2, g, gl)))
            return CG_EIO;
        now = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
        freeReplyObject(r);
        if (now != expect) {
            if ((r = cmd(s, 1, u, ul)))
                freeReplyObject(r);
            return CG_ECONFLICT;
        }
    }
    if (!(r = cmd(s, 1, multi, ml)))
        return CG_EIO;
    freeReplyObject(r);
    av[0] = text ? "SET" : "DEL";
    al[0] = 3;
    av[1] = lk;
    al[1] = strlen(lk);
    av[2] = text;
    al[2] = len;
    if (!(r = cmd(s, text ? 3 : 2, av, al)))
        goto discard;
    freeReplyObject(r);
    av[0] = "INCR";
    al[0] = 4;
    av[1] = vk;
    al[1] = strlen(vk);
    if (!(r = cmd(s, 2, av, al)))
        goto discard;
    freeReplyObject(r);
    if (!(r = cmd(s, 1, exec, el)))
        return CG_EIO;
    /* a nil EXEC: the watched version moved between WATCH and EXEC */
    rc = r->type == REDIS_REPLY_ARRAY ? CG_OK : r->type == REDIS_REPLY_NIL ? CG_ECONFLICT : CG_EIO;
    freeReplyObject(r);
    return rc;
discard : {
    const char *d[] = {"DISCARD"};
    size_t dl[] = {7};
    if ((r = redisCommandArgv(s->rc, 1, d, dl)))
        freeReplyObject(r);
}
    return CG_EIO;
}

int cg_redis_list_put(struct cg_redis *s, enum cg_list l, const char *text, size_t len)
{
    return text ? list_write(s, l, text, len, -1) : CG_EINVAL;
}

int cg_redis_list_replace(struct cg_redis *s, enum cg_list l, const char *text, size_t len,
                          long long version)
{
    return text && version >= 0 ? list_write(s, l, text, len, version) : CG_EINVAL;
}

int cg_redis_list_delete(struct cg_redis *s, enum cg_list l)
{
    return list_write(s, l, NULL, 0, -1);
}

/* --- the call path ------------------------------------------------------------ */

/* Appends a (alen bytes), b and d (strings, NULL = "") to buf at *used
 * (cap bytes in all) with a NUL; the piece, its length in *len, or NULL
 * when it does not fit.  memcpy, not snprintf: this runs for every
 * argument of every call. */
static char *cat3(char *buf, size_t cap, size_t *used, size_t *len, const char *a, size_t alen,
                  const char *b, const char *d)
{
    size_t bl = b ? strlen(b) : 0, dl = d ? strlen(d) : 0, n = alen + bl + dl;
    char *p = buf + *used;
    if (n >= cap - *used)
        return NULL;
    if (alen)
        memcpy(p, a, alen);
    if (bl)
        memcpy(p + alen, b, bl);
    if (dl)
        memcpy(p + alen + bl, d, dl);
    p[n] = '\0';
    *len = n;
    *used += n + 1;
    return p;
}

/* Appends the argument a+b+d (NULL = "") to cmd's buffer; false when full. */
static bool arg(struct cg_redis_cmd *c, size_t *used, const char *a, const char *b, const char *d)
{
    size_t n;
    const char *p = cat3(c->buf, sizeof c->buf, used, &n, a, a ? strlen(a) : 0, b, d);
    if (!p)
        return false;
    c->argv[c->argc] = p;
    c->argvlen[c->argc++] = n;
    return true;
}

bool cg_redis_observe_cmd(struct cg_redis_cmd *c, const char *prefix,
                          const struct cg_policy_call *call, int window, unsigned rate_calls,
                          unsigned rate_numbers, unsigned intents)
{
    const struct cg_verdict *v = call->verdict;
    const char *spc = v && v->spc[0] ? v->spc : NULL;
    const char *ing = call->ingress && *call->ingress ? call->ingress : NULL;
    bool rates = rate_calls || rate_numbers;
    /* only a verified token is recorded (policy.h) */
    bool replay =
        v && v->verstat == CG_VERSTAT_PASSED && call->sig && call->siglen >= CG_REPLAY_KEY_LEN;
    char hex[2 * CG_REPLAY_KEY_LEN + 1] = "", now[24], ttl[24], rc[16], rn[16], callid[129],
                                     ikey[2][160] = {"", ""};
    const char *nums[2] = {call->caller, call->presented};
    size_t used = 0, i;

    if (!prefix || !*prefix)
        prefix = CG_REDIS_PREFIX;
    if (window <= 0)
        window = 65;
    for (i = 0; i < 2; i++)
        if ((intents & (1u << i)) && nums[i] && call->callee &&
            !cg_intent_redis_key(ikey[i], sizeof ikey[i], prefix, nums[i], call->callee))
            ikey[i][0] = '\0';
    if (!replay && !(rates && (ing || spc)) && !ikey[0][0] && !ikey[1][0])
        return false;
    if (!rates)
        ing = spc = NULL;
    c->argc = 0;
    c->argv[c->argc] = "EVALSHA";
    c->argvlen[c->argc++] = 7;
    c->argv[c->argc] = cg_redis_script_sha();
    c->argvlen[c->argc++] = 40;
    c->argv[c->argc] = "7";
    c->argvlen[c->argc++] = 1;
    if (replay) {
        static const char xd[] = "0123456789abcdef";
        for (i = 0; i < CG_REPLAY_KEY_LEN; i++) {
            hex[2 * i] = xd[call->sig[i] >> 4];
            hex[2 * i + 1] = xd[call->sig[i] & 15];
        }
        hex[2 * CG_REPLAY_KEY_LEN] = '\0';
    }
    /* "" for a call without a Call-ID: the script takes it as a use that
     * matches no other */
    cg__strlcpy(callid, replay && call->call_id ? call->call_id : "", sizeof callid);
    snprintf(now, sizeof now, "%lld", (long long)call->now);
    snprintf(
        ttl, sizeof ttl, "%lld",
        (long long)(replay ? cg__replay_expiry(v->iat, call->now, window) - call->now : window));
    snprintf(rc, sizeof rc, "%u", rate_calls);
    snprintf(rn, sizeof rn, "%u", rate_numbers);
    /* KEYS: replay, ingress calls, ingress numbers, SPC calls, SPC numbers,
     * the network and the presentation number's call intents, "" for each
     * that does not apply; ARGV: Call-ID, now, the replay entry's lifetime
     * in seconds, the call's numbers (network/presentation: a rotation of
     * either is a new pair), rate_calls, rate_numbers */
    return arg(c, &used, replay ? prefix : NULL, replay ? "r:" : NULL, hex) &&
           arg(c, &used, ing ? prefix : NULL, ing ? "ic:" : NULL, ing) &&
           arg(c, &used, ing ? prefix : NULL, ing ? "in:" : NULL, ing) &&
           arg(c, &used, spc ? prefix : NULL, spc ? "sc:" : NULL, spc) &&
           arg(c, &used, spc ? prefix : NULL, spc ? "sn:" : NULL, spc) &&
           arg(c, &used, ikey[0], NULL, NULL) && arg(c, &used, ikey[1], NULL, NULL) &&
           arg(c, &used, callid, NULL, NULL) && arg(c, &used, now, NULL, NULL) &&
           arg(c, &used, ttl, NULL, NULL) &&
           arg(c, &used, call->caller, call->presented ? "/" : NULL, call->presented) &&
           arg(c, &used, rc, NULL, NULL) && arg(c, &used, rn, NULL, NULL);
}

uint32_t cg_redis_replay_answer(bool found, const char *old, size_t oldlen, const char *call_id,
                                size_t len)
{
    bool replay = found && (!oldlen || oldlen != len || memcmp(old, call_id, len) != 0);
    return cg_redis_observe_result(replay, 0, 0);
}

uint32_t cg_redis_observe_result(long long replay, long long calls, long long numbers)
{
    return (replay ? 1u << CG_PR_REPLAY : 0) | (calls ? 1u << CG_PR_RATE_CALLS : 0) |
           (numbers ? 1u << CG_PR_RATE_NUMBERS : 0);
}

/* --- the call path on a cluster -------------------------------------------------- */

static uint16_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as a Redis Cluster
 * maps keys to slots. */
static void crc_init(void)
{
    unsigned i, b;
    for (i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (b = 0; b < 8; b++)
            c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
        crc_table[i] = c;
    }
}

unsigned cg_redis_keyslot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;
    uint16_t crc = 0;
    size_t i;
    pthread_once(&crc_once, crc_init);
    if (open && (close = memchr(open + 1, '}', len - (size_t)(open + 1 - key))) &&
        close > open + 1) {
        key = open + 1;
        len = (size_t)(close - open - 1);
    }
    for (i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ (unsigned char)key[i]) & 0xff]);
    return crc & (CG_REDIS_SLOTS - 1);
}

size_t cg_redis_intent_key(char *buf, size_t cap, const char *prefix, const char *from,
                           const char *to, bool cluster)
{
    size_t n = cg_intent_redis_key(buf, cap, prefix, from, to);
    int w;
    if (!n || !cluster)
        return n;
    w = snprintf(buf, cap, "%sintent:{%s}:%s", prefix ? prefix : CG_REDIS_PREFIX, from, to);
    if (w < 0 || (size_t)w >= cap) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)w;
}

size_t cg_redis_intent_index(char *buf, size_t cap, const char *prefix, const char *from,
                             bool cluster)
{
    char check[CG_REDIS_INTENT_KEY_SIZE];
    int w;
    /* the number checked as an intent's key checks it */
    if (!buf || !cg_intent_redis_key(check, sizeof check, "", from, from))
        return 0;
    w = snprintf(buf, cap, cluster ? "%sintents:{%s}" : "%sintents:%s",
                 prefix ? prefix : CG_REDIS_PREFIX, from);
    if (w < 0 || (size_t)w >= cap) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)w;
}

/* Copies a+b+c into out's buffer; NULL when full. */
static const char *put(struct cg_redis_cmds *o, size_t *used, size_t *len, const char *a,
                       size_t alen, const char *b, const char *c)
{
    return cat3(o->buf, sizeof o->buf, used, len, a, alen, b, c);
}

/* Appends v in decimal (with its NUL) to out's buffer; NULL when full.
 * Not snprintf: this runs for several arguments of every call. */
static const char *put_int(struct cg_redis_cmds *o, size_t *used, size_t *len, long long v)
{
    char t[24], *e = t + sizeof t;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do
        *--e = (char)('0' + u % 10);
    while ((u /= 10));
    if (v < 0)
        *--e = '-';
    return put(o, used, len, e, (size_t)(t + sizeof t - e), NULL, NULL);
}

/* Appends a key: prefix, head ("ic:"), and the name, under a hash tag when
 * `tag` ("<prefix>ic:{<name>}"); NULL when full. */
static const char *put_key(struct cg_redis_cmds *o, size_t *used, size_t *len, const char *prefix,
                           size_t plen, const char *head, const char *name, size_t nlen, bool tag)
{
    const char *k = put(o, used, len, prefix, plen, head, tag ? "{" : NULL);
    size_t more;
    if (!k)
        return NULL;
    (*used)--; /* the name, then the closing brace, appended to the same key */
    if (!put(o, used, &more, name, nlen, tag ? "}" : NULL, NULL))
        return NULL;
    *len += more;
    return k;
}

bool cg_redis_observe_cmds(struct cg_redis_cmds *o, const char *prefix,
                           const struct cg_policy_call *call, int window, unsigned rate_calls,
                           unsigned rate_numbers, unsigned intents, bool cluster)
{
    static const char *const nkeys[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    static const char xd[] = "0123456789abcdef";
    const struct cg_verdict *v = call->verdict;
    const char *spc = v && v->spc[0] ? v->spc : NULL;
    const char *ing = call->ingress && *call->ingress ? call->ingress : NULL;
    const char *nums[2] = {call->caller, call->presented};
    /* only a verified token is recorded (policy.h) */
    bool replay =
        v && v->verstat == CG_VERSTAT_PASSED && call->sig && call->siglen >= CG_REPLAY_KEY_LEN;
    const char *k[7], *av[6];
    size_t kl[7], al[6], used = 0, plen, i;
    int g, group[7];
    char mask[CG_REDIS_SLOT_CMDS_MAX][8];

    if (!prefix || !*prefix)
        prefix = CG_REDIS_PREFIX;
    plen = strlen(prefix);
    if (window <= 0)
        window = 65;
    if (!rate_calls && !rate_numbers)
        ing = spc = NULL;
    o->n = 0;
    /* KEYS, as cg_redis_observe_cmd's: replay, ingress calls, ingress
     * numbers, SPC calls, SPC numbers, the network and the presentation
     * number's call intents; a window that is off is not passed (no key the
     * script leaves alone: on a cluster, a key that never exists would make
     * every call a multi-key TRYAGAIN while its slot migrates).  On a
     * cluster the two windows of one ingress or one SPC share its hash tag
     * ("<prefix>ic:{<ingress>}"), and an intent's key its presentation
     * number's ("<prefix>intent:{<from>}:<to>", cg_redis_intent_key). */
    for (i = 0; i < 7; i++) {
        k[i] = "";
        kl[i] = 0;
    }
    if (replay) {
        char hex[2 * CG_REPLAY_KEY_LEN];
        for (i = 0; i < CG_REPLAY_KEY_LEN; i++) {
            hex[2 * i] = xd[call->sig[i] >> 4];
            hex[2 * i + 1] = xd[call->sig[i] & 15];
        }
        if (!(k[0] = put_key(o, &used, &kl[0], prefix, plen, "r:", hex, sizeof hex, false)))
            return false;
    }
    for (i = 1; i <= 4; i++) {
        const char *name = i <= 2 ? ing : spc;
        static const char *const head[] = {NULL, "ic:", "in:", "sc:", "sn:"};
        if (!name || (i % 2 ? !rate_calls : !rate_numbers))
            continue;
        if (!(k[i] = put_key(o, &used, &kl[i], prefix, plen, head[i], name, strlen(name), cluster)))
            return false;
    }
    for (i = 0; i < 2; i++) {
        char ikey[CG_REDIS_INTENT_KEY_SIZE + 64]; /* room for a longer prefix too */
        size_t n;
        if (!(intents & (1u << i)) || !nums[i] || !call->callee ||
            !(n = cg_redis_intent_key(ikey, sizeof ikey, prefix, nums[i], call->callee, cluster)))
            continue;
        if (!(k[5 + i] = put(o, &used, &kl[5 + i], ikey, n, NULL, NULL)))
            return false;
    }
    if (!kl[0] && !kl[1] && !kl[2] && !kl[3] && !kl[4] && !kl[5] && !kl[6])
        return false;
    /* ARGV, shared by every slot's command: Call-ID ("" for a call without
     * one: the script takes it as a use that matches no other), now, the
     * replay entry's lifetime in seconds, the call's numbers
     * (network/presentation: a rotation of either is a new pair),
     * rate_calls, rate_numbers */
    {
        const char *cid = replay && call->call_id ? call->call_id : "";
        size_t cl = strlen(cid);
        if (cl > 128) /* as cg_redis_observe_cmd cuts it */
            cl = 128;
        if (!(av[0] = put(o, &used, &al[0], cid, cl, NULL, NULL)) ||
            !(av[1] = put_int(o, &used, &al[1], (long long)call->now)) ||
            !(av[2] = put_int(
                  o, &used, &al[2],
                  (long long)(replay ? cg__replay_expiry(v->iat, call->now, window) - call->now
                                     : window))) ||
            !(av[3] = put(o, &used, &al[3], call->caller, call->caller ? strlen(call->caller) : 0,
                          call->presented ? "/" : NULL, call->presented)) ||
            !(av[4] = put_int(o, &used, &al[4], rate_calls)) ||
            !(av[5] = put_int(o, &used, &al[5], rate_numbers)))
            return false;
    }
    /* group by slot (one group without a cluster) */
    for (i = 0; i < 7; i++) {
        unsigned slot;
        group[i] = -1;
        if (!kl[i])
            continue;
        slot = cluster ? cg_redis_keyslot(k[i], kl[i]) : 0;
        for (g = 0; g < o->n && o->cmd[g].slot != slot; g++)
            ;
        if (g == o->n) {
            o->cmd[g].slot = slot;
            memcpy(mask[g], "0000000", 8);
            o->n++;
        }
        mask[g][i] = '1';
        group[i] = g;
    }
    for (g = 0; g < o->n; g++) {
        struct cg_redis_slot_cmd *c = &o->cmd[g];
        int nk = 0;
        size_t ml;
        c->argc = 0;
        /* the replay key alone: a plain SET costs Redis a fraction of a
         * script's run (a cluster sends most calls' replay key alone) */
        c->replay_only = group[0] == g && !strcmp(mask[g], "1000000");
        if (c->replay_only) {
            static const char *const w[] = {"SET", NULL, NULL, "NX", "GET", "EX", NULL};
            for (i = 0; i < 7; i++) {
                c->argv[i] = w[i];
                c->argvlen[i] = w[i] ? strlen(w[i]) : 0;
            }
            c->argv[1] = k[0];
            c->argvlen[1] = kl[0];
            c->argv[2] = av[0]; /* the Call-ID, "" for none */
            c->argvlen[2] = al[0];
            c->argv[6] = av[2]; /* the lifetime */
            c->argvlen[6] = al[2];
            c->argc = 7;
            continue;
        }
        c->argv[c->argc] = "EVALSHA";
        c->argvlen[c->argc++] = 7;
        c->argv[c->argc] = cg_redis_cluster_script_sha();
        c->argvlen[c->argc++] = 40;
        c->argc++; /* the number of keys, below */
        for (i = 0; i < 7; i++)
            if (group[i] == g) {
                c->argv[c->argc] = k[i];
                c->argvlen[c->argc++] = kl[i];
                nk++;
            }
        c->argv[2] = nkeys[nk];
        c->argvlen[2] = 1;
        for (i = 0; i < 6; i++) {
            c->argv[c->argc] = av[i];
            c->argvlen[c->argc++] = al[i];
        }
        if (!(c->argv[c->argc] = put(o, &used, &ml, mask[g], 7, NULL, NULL)))
            return false;
        c->argvlen[c->argc++] = ml;
    }
    return o->n > 0;
}

size_t cg_redis_behaviour_stream(char *buf, size_t cap, const char *prefix)
{
    int w;
    if (!buf || !cap)
        return 0;
    w = snprintf(buf, cap, "%s{campaign}:calls", prefix ? prefix : CG_REDIS_PREFIX);
    if (w < 0 || (size_t)w >= cap) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)w;
}
