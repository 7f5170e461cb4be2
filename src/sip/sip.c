/*
 * SIP requests through libosip2 (DESIGN.md: replace only if the benchmark
 * shows it costs more than 10% of a call).  Everything the daemon needs is
 * copied into one arena per request, so the osip message is freed before
 * returning and nothing of osip escapes.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "cidguard/error.h"
#include "cidguard/sip.h"
#include "core/internal.h"

static pthread_once_t parser_once = PTHREAD_ONCE_INIT;

/* osip traces parse errors to stdout by default; the library never
 * prints, so they go to the host's log at debug level.  The format string
 * is osip's own. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void osip_trace_cb(const char *fi, int li, osip_trace_level_t level, const char *fmt,
                          va_list ap)
{
    char buf[256];
    (void)fi;
    (void)li;
    (void)level;
    if (!cg__log_cb || cg__log_max < CG_LOG_DEBUG)
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    cg__log(CG_LOG_DEBUG, "osip: %s", buf);
}
#pragma GCC diagnostic pop

static void parser_setup(void)
{
    /* parser_init() fills global tables: once, before any thread parses. */
    parser_init();
    osip_trace_initialize_func(END_TRACE_LEVEL, osip_trace_cb);
}

static const char *keep(struct cg_sip_req *r, const char *s)
{
    size_t n;
    char *p;
    if (!s)
        return NULL;
    n = strlen(s) + 1;
    if (r->arena_cap - r->arena_used < n)
        return NULL;
    p = r->arena + r->arena_used;
    memcpy(p, s, n);
    r->arena_used += n;
    return p;
}

/* Keeps osip's string form of a header and frees it. */
static const char *keep_free(struct cg_sip_req *r, char *s)
{
    const char *k = keep(r, s);
    osip_free(s);
    return k;
}

/* Counts header lines (each CRLF before the blank line) without parsing,
 * so that 1000-header floods are refused before osip builds lists. */
static size_t count_lines(const char *msg, size_t len)
{
    size_t i, n = 0;
    for (i = 0; i + 1 < len; i++) {
        if (msg[i] == '\r' && msg[i + 1] == '\n') {
            if (i + 3 < len && msg[i + 2] == '\r' && msg[i + 3] == '\n')
                return n + 1;
            n++;
        }
    }
    return n;
}

#define BAD(code, text)                                                        \
    do {                                                                       \
        *why = (text);                                                         \
        rc = (code);                                                           \
        goto out;                                                              \
    } while (0)

int cg_sip_parse_request(const char *msg, size_t len, struct cg_sip_req *r, const char **why)
{
    static const char *dummy;
    osip_message_t *m = NULL;
    osip_via_t *via;
    osip_header_t *h;
    osip_generic_param_t *gp;
    char *s;
    int rc = CG_OK, pos;

    if (!why)
        why = &dummy;
    *why = NULL;
    memset(r, 0, sizeof *r);
    r->branch = ""; /* valid even when a failed parse is still answerable */
    if (len > CG_SIP_MSG_MAX) {
        *why = "request larger than 64 KB";
        return CG_ETOOBIG;
    }
    if (count_lines(msg, len) > CG_SIP_HEADERS_MAX) {
        *why = "more than 128 header lines";
        return CG_ETOOBIG;
    }
    /* Strings from osip's *_to_str are at most a little longer than their
     * source text; twice the message bounds them all. */
    r->arena_cap = 2 * len + 256;
    if (!(r->arena = malloc(r->arena_cap)))
        return CG_ENOMEM;
    pthread_once(&parser_once, parser_setup);
    if (osip_message_init(&m) != 0)
        BAD(CG_ENOMEM, "out of memory");
    if (osip_message_parse(m, msg, len) != 0)
        BAD(CG_EPARSE, "not a SIP message");
    if (!MSG_IS_REQUEST(m) || !m->sip_method || !m->req_uri)
        BAD(CG_EPARSE, "not a SIP request");
    r->method = keep(r, m->sip_method);
    if (osip_uri_to_str(m->req_uri, &s) == 0)
        r->ruri = keep_free(r, s);
    for (pos = 0; osip_message_get_via(m, pos, &via) >= 0 && via; pos++) {
        if (r->nvia >= CG_SIP_VIA_MAX)
            BAD(CG_ETOOBIG, "more than 16 Via headers");
        const char *kept = osip_via_to_str(via, &s) == 0 ? keep_free(r, s) : NULL;
        if (!kept)
            BAD(CG_ETOOBIG, "Via header cannot be kept");
        r->via[r->nvia++] = kept;
        if (pos == 0 && osip_via_param_get_byname(via, "branch", &gp) == 0 && gp && gp->gvalue) {
            const char *b = keep(r, gp->gvalue);
            if (b)
                r->branch = b;
        }
    }
    if (m->from && osip_from_to_str(m->from, &s) == 0)
        r->from = keep_free(r, s);
    if (m->to && osip_to_to_str(m->to, &s) == 0)
        r->to = keep_free(r, s);
    if (m->to && osip_to_get_tag(m->to, &gp) == 0 && gp && gp->gvalue)
        r->to_tag = keep(r, gp->gvalue);
    if (m->call_id && osip_call_id_to_str(m->call_id, &s) == 0)
        r->call_id = keep_free(r, s);
    if (m->cseq && osip_cseq_to_str(m->cseq, &s) == 0)
        r->cseq = keep_free(r, s);
    if (osip_message_header_get_byname(m, "p-asserted-identity", 0, &h) >= 0 && h && h->hvalue)
        r->pai = keep(r, h->hvalue);
    /* header_get_byname returns the index it found, searching from pos */
    for (int name = 0; name < 2; name++)
        for (pos = 0; (pos = osip_message_header_get_byname(m, name ? "y" : "identity", pos, &h)) >= 0 && h;
             pos++) {
            if (r->nidentity >= CG_SIP_IDENTITY_MAX)
                BAD(CG_ETOOBIG, "more than 8 Identity headers");
            if (h->hvalue)
                r->identity[r->nidentity++] = keep(r, h->hvalue);
        }
    if (r->nvia == 0 || !r->from || !r->to || !r->call_id || !r->cseq)
        BAD(CG_EPARSE, "missing Via, From, To, Call-ID or CSeq");
    if (!r->method || !r->ruri)
        BAD(CG_ENOMEM, "out of memory");
out:
    osip_message_free(m);
    return rc;
}

int cg_sip_req_answerable(const struct cg_sip_req *r)
{
    return r->arena && r->nvia > 0 && r->from && r->to && r->call_id && r->cseq;
}

void cg_sip_req_clear(struct cg_sip_req *r)
{
    free(r->arena);
    memset(r, 0, sizeof *r);
}

long cg_sip_frame(const char *buf, size_t len, size_t *skip)
{
    size_t s = 0, i, hdr_end = 0, clen = 0;
    bool have_cl = false;
    while (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
        s += 2;
    *skip = s;
    buf += s;
    len -= s;
    for (i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            hdr_end = i + 4;
            break;
        }
    if (!hdr_end)
        return len > CG_SIP_MSG_MAX ? CG_ETOOBIG : 0;
    /* Content-Length (or compact "l") is mandatory on streams. */
    for (i = 0; i < hdr_end;) {
        const char *line = buf + i, *eol = memchr(line, '\n', hdr_end - i);
        size_t n = eol ? (size_t)(eol - line) : hdr_end - i;
        if (cg__prefix_ci(line, n, "content-length") || (n > 1 && (line[0] == 'l' || line[0] == 'L') &&
                                                          (line[1] == ':' || line[1] == ' '))) {
            const char *c = memchr(line, ':', n), *e = line + n;
            unsigned long v = 0;
            size_t digits = 0;
            if (!c)
                return CG_EPARSE;
            /* bounded by the line: the buffer is not NUL-terminated */
            for (c++; c < e && (*c == ' ' || *c == '\t'); c++)
                ;
            for (; c < e && *c >= '0' && *c <= '9' && digits < 9; c++, digits++)
                v = v * 10 + (unsigned long)(*c - '0');
            while (c < e && (*c == ' ' || *c == '\t' || *c == '\r'))
                c++;
            if (digits == 0 || c != e)
                return CG_EPARSE;
            if (have_cl && v != clen)
                return CG_EPARSE;
            clen = v;
            have_cl = true;
        }
        i += n + 1;
    }
    if (!have_cl)
        return CG_EPARSE;
    if (hdr_end + clen > CG_SIP_MSG_MAX)
        return CG_ETOOBIG;
    return len >= hdr_end + clen ? (long)(hdr_end + clen) : 0;
}

/* FNV-1a: a stable To-tag for a transaction, so retransmissions match. */
static uint32_t fnv(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h;
}

/* Appends s and CRLF; the caller sized the buffer. */
static char *put_line(char *o, const char *name, const char *s)
{
    size_t n = strlen(name), m = strlen(s);
    memcpy(o, name, n);
    memcpy(o + n, s, m);
    o[n + m] = '\r';
    o[n + m + 1] = '\n';
    return o + n + m + 2;
}

/* Responses are built with memcpy rather than snprintf: the printf
 * machinery was 2% of the daemon's instructions per call (callgrind). */
int cg_sip_response(const struct cg_sip_req *req, int code, const char *phrase,
                    const char *const *extra, size_t nextra, char **out, size_t *outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t cap = 128 + strlen(phrase), i;
    char *buf, *o;

    if (code < 100 || code > 699)
        return CG_EINVAL;
    for (i = 0; i < req->nvia; i++)
        cap += strlen(req->via[i]) + 8;
    cap += strlen(req->from) + strlen(req->to) + strlen(req->call_id) + strlen(req->cseq) + 64;
    for (i = 0; i < nextra; i++)
        cap += strlen(extra[i]) + 2;
    if (!(buf = malloc(cap)))
        return CG_ENOMEM;
    o = buf;
    memcpy(o, "SIP/2.0 ", 8);
    o[8] = (char)('0' + code / 100);
    o[9] = (char)('0' + code / 10 % 10);
    o[10] = (char)('0' + code % 10);
    o[11] = ' ';
    o = put_line(o + 12, "", phrase);
    for (i = 0; i < req->nvia; i++)
        o = put_line(o, "Via: ", req->via[i]);
    o = put_line(o, "From: ", req->from);
    if (req->to_tag || code == 100) {
        o = put_line(o, "To: ", req->to);
    } else {
        uint32_t tag = fnv(req->call_id, req->branch);
        int k;
        memcpy(o, "To: ", 4);
        o += 4;
        memcpy(o, req->to, strlen(req->to));
        o += strlen(req->to);
        memcpy(o, ";tag=cg", 7);
        o += 7;
        for (k = 28; k >= 0; k -= 4)
            *o++ = hex[(tag >> k) & 15];
        *o++ = '\r';
        *o++ = '\n';
    }
    o = put_line(o, "Call-ID: ", req->call_id);
    o = put_line(o, "CSeq: ", req->cseq);
    for (i = 0; i < nextra; i++)
        o = put_line(o, "", extra[i]);
    {
        static const char tail[] = "Server: cidguard\r\nContent-Length: 0\r\n\r\n";
        memcpy(o, tail, sizeof tail); /* with its NUL */
        o += sizeof tail - 1;
    }
    *out = buf;
    *outlen = (size_t)(o - buf);
    return CG_OK;
}
