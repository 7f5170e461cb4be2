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
 */
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

static const char script[] =
    "local now = tonumber(ARGV[2])\n"
    "local rc, rn = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local replay, over_c, over_n = 0, 0, 0\n"
    "if KEYS[1] ~= '' then\n"
    "  local old = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'GET', 'EX', ARGV[3])\n"
    "  if old and (old ~= ARGV[1] or old == '') then replay = 1 end\n"
    "end\n"
    "for i = 2, 4, 2 do\n"
    "  local kc, kn = KEYS[i], KEYS[i + 1]\n"
    "  if kc ~= '' and rc > 0 then\n"
    "    local b = math.floor(now / 10)\n"
    "    redis.call('HINCRBY', kc, b, 1)\n"
    "    local sum = 0\n"
    "    for _, x in ipairs(redis.call('HMGET', kc, b - 5, b - 4, b - 3, b - 2, b - 1, b)) do\n"
    "      if x then sum = sum + tonumber(x) end\n"
    "    end\n"
    "    redis.call('HDEL', kc, b - 6, b - 7, b - 8, b - 9, b - 10, b - 11, b - 12)\n"
    "    redis.call('EXPIRE', kc, 70)\n"
    "    if sum > rc then over_c = 1 end\n"
    "  end\n"
    "  if kn ~= '' and rn > 0 and ARGV[4] ~= '' then\n"
    "    redis.call('ZADD', kn, now, ARGV[4])\n"
    "    redis.call('ZREMRANGEBYSCORE', kn, '-inf', now - 60)\n"
    "    local n = redis.call('ZCARD', kn)\n"
    "    if n > rn + 1 then redis.call('ZREMRANGEBYRANK', kn, 0, n - rn - 2) end\n"
    "    redis.call('EXPIRE', kn, 61)\n"
    "    if n > rn then over_n = 1 end\n"
    "  end\n"
    "end\n"
    "local intents = 0\n"
    "for i = 6, 7 do\n"
    "  if KEYS[i] ~= '' then\n"
    "    local left = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
    "    if left > 0 then\n"
    "      redis.call('DECR', KEYS[i])\n"
    "      intents = intents + (i - 5)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {replay, over_c, over_n, intents}\n";

static char script_sha[41];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_init(void)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    int i;
    SHA1((const unsigned char *)script, sizeof script - 1, md);
    for (i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(script_sha + 2 * i, 3, "%02x", md[i]);
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

int cg_redis_parse_url(const char *url, struct cg_redis_addr *a)
{
    const char *p, *at, *host, *end, *colon;
    size_t n;
    char *e;
    long v;

    memset(a, 0, sizeof *a);
    a->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0)
        return CG_EINVAL;
    p = url + 8;
    end = p + strcspn(p, "/");
    if ((at = memchr(p, '@', (size_t)(end - p)))) {
        const char *pw = memchr(p, ':', (size_t)(at - p));
        if (!pw || (size_t)(at - pw - 1) >= sizeof a->password)
            return CG_EINVAL;
        memcpy(a->password, pw + 1, (size_t)(at - pw - 1));
        p = at + 1;
    }
    host = p;
    colon = memchr(host, ':', (size_t)(end - host));
    n = (size_t)((colon ? colon : end) - host);
    if (n == 0 || n >= sizeof a->host)
        return CG_EINVAL;
    memcpy(a->host, host, n);
    if (colon) {
        v = strtol(colon + 1, &e, 10);
        if (e != end || v < 1 || v > 65535)
            return CG_EINVAL;
        a->port = (int)v;
    }
    if (*end == '/' && end[1]) {
        v = strtol(end + 1, &e, 10);
        if (*e || v < 0 || v > 15)
            return CG_EINVAL;
        a->db = (int)v;
    }
    return CG_OK;
}

/* --- synchronous connection --------------------------------------------------- */

struct cg_redis {
    redisContext *rc;
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

int cg_redis_connect(struct cg_redis **out, const char *url, const char *prefix, int timeout_ms,
                     char *err, size_t errlen)
{
    struct cg_redis_addr a;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct cg_redis *s;
    redisReply *r;

    *out = NULL;
    if (cg_redis_parse_url(url, &a) != CG_OK) {
        if (err)
            snprintf(err, errlen, "not a redis://host[:port][/db] URL: %s", url ? url : "");
        return CG_EINVAL;
    }
    if (!(s = calloc(1, sizeof *s)))
        return CG_ENOMEM;
    cg__strlcpy(s->prefix, prefix && *prefix ? prefix : CG_REDIS_PREFIX, sizeof s->prefix);
    s->rc = redisConnectWithTimeout(a.host, a.port, tv);
    if (!s->rc || s->rc->err) {
        if (err)
            snprintf(err, errlen, "redis %s:%d: %s", a.host, a.port,
                     s->rc ? s->rc->errstr : "cannot connect");
        cg_redis_close(s);
        return CG_EIO;
    }
    redisSetTimeout(s->rc, tv);
    if (a.password[0]) {
        const char *av[] = {"AUTH", a.password};
        size_t al[] = {4, strlen(a.password)};
        if (!(r = cmd(s, 2, av, al)))
            goto fail;
        freeReplyObject(r);
    }
    if (a.db) {
        char db[8];
        const char *av[] = {"SELECT", db};
        size_t al[2];
        snprintf(db, sizeof db, "%d", a.db);
        al[0] = 6;
        al[1] = strlen(db);
        if (!(r = cmd(s, 2, av, al)))
            goto fail;
        freeReplyObject(r);
    }
    *out = s;
    return CG_OK;
fail:
    if (err)
        snprintf(err, errlen, "redis %s:%d: %s", a.host, a.port, s->err);
    cg_redis_close(s);
    return CG_EIO;
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

static void key(const struct cg_redis *s, char *buf, size_t cap, const char *suffix)
{
    snprintf(buf, cap, "%s%s", s->prefix, suffix);
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

/* Appends the argument a+b+d (NULL = "") to cmd's buffer; false when full. */
static bool arg(struct cg_redis_cmd *c, size_t *used, const char *a, const char *b, const char *d)
{
    size_t cap = sizeof c->buf - *used;
    int n = snprintf(c->buf + *used, cap, "%s%s%s", a ? a : "", b ? b : "", d ? d : "");
    if (n < 0 || (size_t)n >= cap)
        return false;
    c->argv[c->argc] = c->buf + *used;
    c->argvlen[c->argc++] = (size_t)n;
    *used += (size_t)n + 1;
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

uint32_t cg_redis_observe_result(long long replay, long long calls, long long numbers)
{
    return (replay ? 1u << CG_PR_REPLAY : 0) | (calls ? 1u << CG_PR_RATE_CALLS : 0) |
           (numbers ? 1u << CG_PR_RATE_NUMBERS : 0);
}
