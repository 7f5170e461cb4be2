/*
 * The traceback endpoint (traceback.h).
 *
 *   GET /traceback/v1?origid=ID[&from=TIME&to=TIME | &at=TIME[&window=S]]
 *   GET /traceback/v1?orig=N&dest=N&at=TIME[&window=S]
 *       [&span=S][&limit=N][&format=json|csv]
 *
 * A token whose SHA-256 is in [sign] traceback_tokens is required (401);
 * without any configured the endpoint does not exist (404).  Answers: 200
 * with the calls found (JSON as `cidguard trace`, or its CSV), 404 with
 * the same JSON and empty lists when nothing matches, 400 for a bad
 * parameter, 503 when the signing log is off or the query would take
 * longer than QUERY_BUDGET_MS.
 *
 * The writer thread holds the signing log's write connection; every
 * worker thread queries through a read-only connection of its own (WAL:
 * readers and the writer never wait for each other), opened on its first
 * request and closed when the thread ends.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "context.h"
#include "declogd.h"
#include "log.h"
#include "metrics.h"
#include "traceback.h"

/* A worker answers one query at a time: its other connections wait at
 * most this long. */
#define QUERY_BUDGET_MS 50
#define TOKENS_MAX 64

enum { CGD_TB_200, CGD_TB_400, CGD_TB_401, CGD_TB_404, CGD_TB_503, CGD_TB_500 };

static void reply(struct evhttp_request *req, int status, const char *ctype, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    const char *phrase = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 503 ? "Service Unavailable"
                                         : "Internal Server Error";
    int i = status == 200   ? CGD_TB_200
            : status == 401 ? CGD_TB_401
            : status == 404 ? CGD_TB_404
            : status == 503 ? CGD_TB_503
            : status == 500 ? CGD_TB_500
                            : CGD_TB_400;
    atomic_fetch_add(&cgd_m.traceback_answers[i], 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evbuffer_add(b, body, strlen(body));
    if (strcmp(ctype, "application/json") == 0)
        evbuffer_add(b, "\n", 1);
    evhttp_send_reply(req, status, phrase, b);
    evbuffer_free(b);
}

/* {"error": why}: `why` is one of our own sentences, never the client's text. */
static void refuse(struct evhttp_request *req, int status, const char *why)
{
    char body[256];
    snprintf(body, sizeof body, "{\"error\":\"%s\"}", why);
    if (status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"cidguard-traceback\"");
    reply(req, status, "application/json", body);
}

/* --- tokens ------------------------------------------------------------------------------ */

/* The i-th entry of a ';'-separated list, blanks trimmed: *p and *n, or false past the end. */
static bool entry(const char *list, size_t i, const char **p, size_t *n)
{
    const char *s = list;
    size_t k = 0;
    for (;;) {
        size_t len = strcspn(s, ";");
        const char *b = s, *e = s + len;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b && k++ == i) {
            *p = b;
            *n = (size_t)(e - b);
            return true;
        }
        if (!s[len])
            return false;
        s += len + 1;
    }
}

static bool hash_form(const char *p, size_t n)
{
    return n == CG_CUSTOMER_TOKEN_HASH_SIZE - 1 && strncasecmp(p, "sha256:", 7) == 0 &&
           strspn(p + 7, "0123456789abcdefABCDEF") >= 64;
}

int cgd_traceback_check(const struct cgd_conf *conf)
{
    const char *p;
    size_t n, i;
    for (i = 0; entry(conf->traceback_tokens, i, &p, &n); i++)
        if (i >= TOKENS_MAX || !hash_form(p, n)) {
            /* by position: a token pasted by mistake is not echoed */
            cgd_log(LOG_ERR,
                    "cidguardd: [sign] traceback_tokens: entry %zu is not sha256: and 64 hex "
                    "digits (cidguard customers token TOKEN makes one), or past %d entries",
                    i + 1, TOKENS_MAX);
            return -1;
        }
    return 0;
}

/* Whether `hash` ("sha256:" and lowercase hex) is in the list, comparing
 * every entry in full, so that the time taken tells nothing of them. */
static bool token_known(const char *list, const char *hash)
{
    const char *p;
    size_t n, i, j;
    unsigned diff_all = 1;
    for (i = 0; i < TOKENS_MAX && entry(list, i, &p, &n); i++) {
        unsigned diff = 0;
        if (!hash_form(p, n))
            continue;
        for (j = 7; j < n; j++) {
            unsigned char c = (unsigned char)p[j];
            diff |= (unsigned)((c >= 'A' && c <= 'F' ? c + 32 : c) ^ (unsigned char)hash[j]);
        }
        diff_all &= diff != 0;
    }
    return !diff_all;
}

/* --- the query -------------------------------------------------------------------------- */

/* This thread's read-only connection, closed when the thread ends. */
static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static void conn_free(void *p)
{
    cg_signlog_close(p);
}

static void conn_key_make(void)
{
    pthread_key_create(&conn_key, conn_free);
}

static struct cg_signlog *connection(const char *path)
{
    struct cg_signlog *l;
    pthread_once(&conn_once, conn_key_make);
    if ((l = pthread_getspecific(conn_key)))
        return l;
    if (cg_signlog_open_readonly(&l, path) != CG_OK)
        return NULL;
    pthread_setspecific(conn_key, l);
    return l;
}

static const char *const params[] = {"origid", "orig", "dest", "at",    "window",
                                     "from",   "to",   "span", "limit", "format"};
#define NPARAMS (sizeof params / sizeof params[0])

/* The parameters, each at most once and none unknown; the bad one's name in *bad. */
static bool read_params(const struct evkeyvalq *q, const char *v[NPARAMS], const char **bad)
{
    const struct evkeyval *kv;
    size_t i;
    memset(v, 0, NPARAMS * sizeof *v);
    for (kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
        for (i = 0; i < NPARAMS && strcmp(kv->key, params[i]) != 0; i++)
            ;
        if (i == NPARAMS || v[i]) {
            *bad = i == NPARAMS ? "an unknown parameter" : "a repeated parameter";
            return false;
        }
        v[i] = kv->value;
    }
    return true;
}

static bool time_param(const char *s, int64_t *t)
{
    return cg_time_parse(s, strlen(s), t) && *t <= CG_SIGNLOG_TIME_MAX;
}

static bool int_param(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < min || v > max || strspn(s, "0123456789") != strlen(s))
        return false;
    *out = v;
    return true;
}

/* A number as digits: a leading '+' arrives as a space from a form-encoded query. */
static const char *number_param(const char *s)
{
    const char *d = s[0] == '+' || s[0] == ' ' ? s + 1 : s;
    size_t n = strlen(d);
    return n >= 1 && n <= 15 && strspn(d, "0123456789") == n ? d : NULL;
}

/* The question of the parameters into q; NULL, or why it is bad. */
static const char *question(const char *v[NPARAMS], struct cg_signlog_query *q)
{
    int64_t at = 0, x;
    memset(q, 0, sizeof *q);
    q->budget_ms = QUERY_BUDGET_MS;
    if (v[4] && !int_param(v[4], 0, CG_SIGNLOG_WINDOW_MAX, &q->window))
        return "window wants seconds from 0 to 86400";
    if (v[7] && !int_param(v[7], 1, CG_SIGNLOG_SPAN_MAX, &q->span))
        return "span wants seconds from 1 to 86400";
    if (v[8]) {
        if (!int_param(v[8], 1, CG_SIGNLOG_CALLS_MAX, &x))
            return "limit wants a count from 1 to 10000";
        q->max_calls = (size_t)x;
    }
    if (v[9] && strcmp(v[9], "json") != 0 && strcmp(v[9], "csv") != 0)
        return "format wants json or csv";
    if (v[3] && !time_param(v[3], &at))
        return "at wants ISO 8601 UTC (2025-01-06T09:15:02Z) or Unix seconds";
    if (v[0]) {
        size_t n = strlen(v[0]);
        if (v[1] || v[2])
            return "origid goes without orig and dest";
        if (!n || n > CG_ORIGID_MAX || strcspn(v[0], " \t\r\n") != n)
            return "origid wants an origid (a UUID)";
        q->origid = v[0];
        if (v[3] && (v[5] || v[6]))
            return "at goes without from and to";
        if (v[4] && !v[3])
            return "window goes with at";
        if (v[3]) {
            int64_t w = v[4] ? q->window : CG_SIGNLOG_WINDOW_DEFAULT;
            q->has_range = true;
            q->from = at - w < 0 ? 0 : at - w;
            q->to = at + w > CG_SIGNLOG_TIME_MAX ? CG_SIGNLOG_TIME_MAX : at + w;
        } else if (v[5] || v[6]) {
            if (!v[5] || !v[6])
                return "from and to go together";
            if (!time_param(v[5], &q->from) || !time_param(v[6], &q->to))
                return "from and to want ISO 8601 UTC or Unix seconds";
            if (q->from > q->to)
                return "from is after to";
            q->has_range = true;
        }
        return NULL;
    }
    if (!v[1] || !v[2] || !v[3])
        return "give origid, or orig, dest and at";
    if (v[5] || v[6])
        return "from and to go with origid";
    if (!(q->orig = number_param(v[1])) || !(q->dest = number_param(v[2])))
        return "orig and dest want E.164 numbers";
    q->at = at;
    return NULL;
}

static void audit(struct evhttp_request *req, const struct cg_signlog_query *q, int status,
                  size_t calls)
{
    char addr[INET6_ADDRSTRLEN];
    cgd_addr_text(evhttp_connection_get_addr(evhttp_request_get_connection(req)), addr,
                  sizeof addr);
    if (q->origid)
        cgd_log(LOG_NOTICE, "cidguardd: audit: traceback from %s: origid %s: %d, %zu call(s)", addr,
                q->origid, status, calls);
    else
        cgd_log(LOG_NOTICE,
                "cidguardd: audit: traceback from %s: orig %s dest %s at %lld: %d, %zu call(s)",
                addr, q->orig, q->dest, (long long)q->at, status, calls);
}

void cgd_traceback_http(struct evhttp_request *req)
{
    struct cgd_ctx *ctx = cgd_ctx_get();
    char tokens[CGD_LIST], hash[CG_CUSTOMER_TOKEN_HASH_SIZE], *body = NULL;
    const char *tok, *why, *v[NPARAMS], *path, *uri_q;
    struct evkeyvalq qs;
    struct cg_signlog_query q;
    struct cg_signlog_result *res = NULL;
    struct cg_signlog *l;
    size_t len = 0;
    bool csv;
    int rc;

    snprintf(tokens, sizeof tokens, "%s", ctx->conf.traceback_tokens);
    cgd_ctx_put(ctx);
    if (!tokens[0]) {
        refuse(req, 404, "Resource not found.");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        refuse(req, 405, "only GET");
        return;
    }
    if (!(tok = cgd_bearer(req, &len))) {
        refuse(req, 401, "an Authorization: Bearer token is required");
        return;
    }
    if (cg_customers_token_hash(tok, len, hash) != CG_OK || !token_known(tokens, hash)) {
        refuse(req, 401, "unknown token");
        return;
    }
    TAILQ_INIT(&qs);
    uri_q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (uri_q && evhttp_parse_query_str(uri_q, &qs) != 0) {
        evhttp_clear_headers(&qs);
        refuse(req, 400, "the query string is malformed");
        return;
    }
    why = NULL;
    if (!read_params(&qs, v, &why) || (why = question(v, &q))) {
        evhttp_clear_headers(&qs);
        refuse(req, 400, why);
        return;
    }
    csv = v[9] && strcmp(v[9], "csv") == 0;
    if (!(path = cgd_signlog_path()) || !(l = connection(path))) {
        evhttp_clear_headers(&qs);
        refuse(req, 503, "the signing log is not open");
        return;
    }
    rc = cg_signlog_query(l, &q, &res);
    if (rc == CG_OK)
        rc = csv ? cg_signlog_result_csv(res, &body) : cg_signlog_result_json(&q, res, &body);
    if (rc == CG_OK) {
        int status = res->ncalls ? 200 : 404;
        audit(req, &q, status, res->ncalls);
        reply(req, status, csv ? "text/csv" : "application/json", body);
    } else if (rc == CG_ETOOBIG) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        refuse(req, 503, "the query took too long");
    } else if (rc == CG_EINVAL) {
        refuse(req, 400, "bad parameters");
    } else if (rc == CG_EUNSUPPORTED) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "30");
        refuse(req, 503, "the signing log is still being indexed");
    } else {
        refuse(req, 500, "the signing log could not be read");
    }
    free(body);
    cg_signlog_result_free(res);
    evhttp_clear_headers(&qs);
}
