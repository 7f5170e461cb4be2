/*
 * The ATIS-1000082 bodies, read with the library's strict JSON reader and
 * written with its writer.  jansson was measured here first: on
 * `cidguard verify --batch` it took 20% of the cycles (a hash table per
 * object, a node per value, a tree built again for every verdict), more
 * than everything else outside the ECDSA operation together.  The reader
 * parses a body into one node array with one allocation; duplicate
 * members, depth, size and UTF-8 are checked as before.
 */
#include <stdlib.h>
#include <string.h>

#include "cidguard/atis.h"
#include "core/internal.h"
#include "core/jsonw.h"
#include "core/sjson.h"

/* Nodes one body may hold: a request is about a dozen values; a signing
 * request with every dest and unknown members stays well within this. */
#define ATIS_NODES 512
#define ATIS_DEPTH 8

static int fail(struct cg_atis_error *e, const char *id, int status, const char *text,
                const char *var)
{
    e->message_id = id;
    e->http_status = status;
    e->text = text;
    cg__strlcpy(e->variable, var ? var : "", sizeof e->variable);
    return CG_EPARSE;
}

#define MISSING(var) fail(err, "SVC4001", 400, "Error: Missing mandatory parameter '%1'.", var)
#define INVALID(var) fail(err, "SVC4005", 400, "Error: Invalid parameter value '%1'.", var)

struct body {
    struct cg__json j;
    struct cg__jnode nodes[ATIS_NODES];
};

static const struct cg__jnode *get(const struct body *b, const struct cg__jnode *obj,
                                   const char *name)
{
    return obj && obj->type == CGJ_OBJ ? cg__json_get(&b->j, obj, name) : NULL;
}

static const struct cg__jnode *first(const struct body *b, const struct cg__jnode *arr)
{
    return cg__json_at(&b->j, arr->child);
}

static const struct cg__jnode *next(const struct body *b, const struct cg__jnode *n)
{
    return cg__json_at(&b->j, n->next);
}

/* A telephone number in the canonical form a PASSporT carries: digits
 * only.  cg_tn_canon keeps a service code's leading '*' or '#' ("*67"),
 * which names no subscriber, so it is no number to sign or verify. */
static int canon(const struct cg__jnode *tn, const struct cg_tn_plan *plan, char *out)
{
    return tn && tn->type == CGJ_STR && cg_tn_canon(tn->str, tn->len, plan, out) == CG_OK &&
                   out[0] != '*' && out[0] != '#'
               ? CG_OK
               : CG_EPARSE;
}

/* `name`.tn: a string, or with `array` the first of an array of them. */
static int tn_member(const struct body *b, const struct cg__jnode *obj, const char *name,
                     bool array, const struct cg_tn_plan *plan, char *out,
                     struct cg_atis_error *err)
{
    const struct cg__jnode *tn = get(b, get(b, obj, name), "tn");
    if (tn && array && tn->type == CGJ_ARR)
        tn = first(b, tn);
    if (!tn)
        return MISSING(name);
    return canon(tn, plan, out) == CG_OK ? CG_OK : INVALID(name);
}

/* The body-level checks both API calls share: not empty, within limits,
 * strict JSON, and `member` an object, which is returned (NULL with `err`
 * filled).  b->j.scratch is malloc'ed when the body parsed: the caller
 * frees it. */
static const struct cg__jnode *load_body(struct body *b, const char *body, size_t len,
                                         const char *member, struct cg_atis_error *err)
{
    const struct cg__jnode *m;
    memset(&b->j, 0, sizeof b->j);
    if (len == 0) {
        fail(err, "SVC4000", 400, "Error: Missing request body.", NULL);
        return NULL;
    }
    b->j.nodes = b->nodes;
    b->j.maxnodes = ATIS_NODES;
    b->j.maxdepth = ATIS_DEPTH;
    b->j.scratch_cap = len + ATIS_NODES + 8;
    if (len > CG_ATIS_BODY_MAX || !(b->j.scratch = malloc(b->j.scratch_cap)) ||
        cg__json_parse(&b->j, body, len) != 0) {
        fail(err, "SVC4006", 400, "Error: JSON parse failure.", NULL);
        return NULL;
    }
    m = get(b, &b->nodes[0], member);
    if (!m || m->type != CGJ_OBJ) {
        if (m)
            INVALID(member);
        else
            MISSING(member);
        return NULL;
    }
    return m;
}

/* A positive integer member; *v untouched when absent. */
static int positive(const struct body *b, const struct cg__jnode *r, const char *name,
                    bool required, int64_t *v, struct cg_atis_error *err)
{
    const struct cg__jnode *n = get(b, r, name);
    if (!n)
        return required ? MISSING(name) : CG_OK;
    if (n->type != CGJ_INT || n->i <= 0)
        return INVALID(name);
    *v = n->i;
    return CG_OK;
}

/* An optional string member copied into out[cap]: it fits, and with `token`
 * it is printable ASCII without spaces, with `nonempty` not empty. */
static int string_member(const struct body *b, const struct cg__jnode *r, const char *name,
                         bool token, bool nonempty, char *out, size_t cap,
                         struct cg_atis_error *err)
{
    const struct cg__jnode *n = get(b, r, name);
    uint32_t i;
    bool ok;
    if (!n)
        return CG_OK;
    ok = n->type == CGJ_STR && (n->len > 0 || !nonempty) && n->len < cap;
    for (i = 0; ok && token && i < n->len; i++)
        ok = n->str[i] > ' ' && n->str[i] < 0x7f;
    if (!ok)
        return INVALID(name);
    memcpy(out, n->str, n->len + 1);
    return CG_OK;
}

static int parse_verify(struct body *b, const char *body, size_t len, const struct cg_tn_plan *plan,
                        struct cg_atis_verify_req *req, struct cg_atis_error *err)
{
    const struct cg__jnode *r, *v, *t;
    int rc;

    if (!(r = load_body(b, body, len, "verificationRequest", err)))
        return CG_EPARSE;
    if ((rc = tn_member(b, r, "from", false, plan, req->from, err)) ||
        (rc = tn_member(b, r, "to", true, plan, req->to, err)))
        return rc;
    /* a forked or multi-party request: every to.tn is a called number */
    v = get(b, get(b, r, "to"), "tn");
    if (v->type == CGJ_ARR) {
        if (v->count > 1 + CG_ATIS_TO_MORE)
            return INVALID("to");
        for (t = next(b, first(b, v)); t; t = next(b, t))
            if (canon(t, plan, req->to_more[req->nto_more++]) != CG_OK)
                return INVALID("to");
    }
    if ((rc = positive(b, r, "time", true, &req->time, err)))
        return rc;
    if (!(v = get(b, r, "identity")))
        return MISSING("identity");
    if (v->type != CGJ_STR || v->len == 0 || v->len > CG_IDENTITY_MAX)
        return INVALID("identity");
    if (get(b, r, "presentation") &&
        (rc = tn_member(b, r, "presentation", false, plan, req->presentation, err)))
        return rc;
    if ((rc = string_member(b, r, "ingress", false, false, req->ingress, sizeof req->ingress,
                            err)) ||
        (rc = string_member(b, r, "callId", true, true, req->call_id, sizeof req->call_id, err)))
        return rc;
    if (!(req->identity = strdup(v->str)))
        return CG_ENOMEM;
    return CG_OK;
}

int cg_atis_parse_verify(const char *body, size_t len, const struct cg_tn_plan *plan,
                         struct cg_atis_verify_req *req, struct cg_atis_error *err)
{
    struct body *b;
    int rc;
    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    if (!(b = malloc(sizeof *b)))
        return CG_ENOMEM;
    rc = parse_verify(b, body, len, plan, req, err);
    if (rc != CG_OK) {
        /* nothing half-filled leaves: the caller may skip the clear */
        free(req->identity);
        memset(req, 0, sizeof *req);
    }
    free(b->j.scratch);
    free(b);
    return rc;
}

static int parse_sign(struct body *b, const char *body, size_t len, const struct cg_tn_plan *plan,
                      struct cg_atis_sign_req *req, struct cg_atis_error *err)
{
    const struct cg__jnode *r, *v, *arr, *t;
    int rc;

    if (!(r = load_body(b, body, len, "signingRequest", err)))
        return CG_EPARSE;
    if (!(v = get(b, r, "attest")))
        return MISSING("attest");
    if (v->type != CGJ_STR || v->len != 1 || !strchr("ABC", v->str[0]))
        return INVALID("attest");
    req->attest = v->str[0];
    if ((rc = tn_member(b, r, "orig", false, plan, req->orig, err)) ||
        (get(b, r, "presentation") &&
         (rc = tn_member(b, r, "presentation", false, plan, req->presentation, err))))
        return rc;
    if (!(arr = get(b, get(b, r, "dest"), "tn")))
        return MISSING("dest");
    if (arr->type != CGJ_ARR || arr->count == 0 || arr->count > CG_PASSPORT_DEST_MAX)
        return INVALID("dest");
    for (t = first(b, arr); t; t = next(b, t))
        if (canon(t, plan, req->dest[req->ndest++]) != CG_OK)
            return INVALID("dest");
    if ((rc = positive(b, r, "iat", false, &req->iat, err)))
        return rc;
    return string_member(b, r, "origid", false, true, req->origid, sizeof req->origid, err);
}

int cg_atis_parse_sign(const char *body, size_t len, const struct cg_tn_plan *plan,
                       struct cg_atis_sign_req *req, struct cg_atis_error *err)
{
    struct body *b;
    int rc;
    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    if (!(b = malloc(sizeof *b)))
        return CG_ENOMEM;
    rc = parse_sign(b, body, len, plan, req, err);
    free(b->j.scratch);
    free(b);
    return rc;
}

void cg_atis_verify_req_clear(struct cg_atis_verify_req *req)
{
    free(req->identity);
    req->identity = NULL;
}

static int done(struct cg__jw *w, char **out)
{
    return (*out = cg__jw_take(w)) ? CG_OK : CG_ENOMEM;
}

int cg_atis_error_json(const struct cg_atis_error *e, char **out)
{
    struct cg__jw w;
    cg__jw_init(&w, 192);
    CG__JW_LIT(&w, "{\"requestError\":{\"serviceException\":{");
    cg__jw_key(&w, "messageId");
    cg__jw_str(&w, e->message_id ? e->message_id : "POL5000");
    cg__jw_key(&w, "text");
    cg__jw_str(&w, e->text ? e->text : "Error: internal error.");
    cg__jw_key(&w, "variables");
    CG__JW_LIT(&w, "[");
    if (e->variable[0])
        cg__jw_str(&w, e->variable);
    CG__JW_LIT(&w, "]}}}");
    return done(&w, out);
}

int cg_verdict_json(const struct cg_verdict *v, char **out)
{
    struct cg__jw w;
    char a[2] = {v->attest, 0};
    unsigned i;
    bool any = false;
    cg__jw_init(&w, 512);
    CG__JW_LIT(&w, "{");
    cg__jw_key(&w, "verstat");
    cg__jw_str(&w, cg_verstat_str(v->verstat));
    cg__jw_key(&w, "reason_code");
    cg__jw_int(&w, v->reason_code);
    cg__jw_key(&w, "reason");
    cg__jw_str(&w, v->reason_text ? v->reason_text : "");
    cg__jw_key(&w, "reason_name");
    cg__jw_str(&w, cg_reason_name(v->reason));
    cg__jw_key(&w, "detail");
    cg__jw_str(&w, v->detail);
    cg__jw_key(&w, "attest");
    cg__jw_str_or_null(&w, a);
    cg__jw_key(&w, "origid");
    cg__jw_str_or_null(&w, v->origid);
    cg__jw_key(&w, "spc");
    cg__jw_str_or_null(&w, v->spc);
    cg__jw_key(&w, "orig");
    cg__jw_str_or_null(&w, v->orig);
    cg__jw_key(&w, "dest");
    cg__jw_str_or_null(&w, v->dest);
    cg__jw_key(&w, "iat");
    if (v->iat)
        cg__jw_int(&w, v->iat);
    else
        CG__JW_LIT(&w, "null");
    cg__jw_key(&w, "x5u");
    cg__jw_str_or_null(&w, v->x5u);
    cg__jw_key(&w, "orig_match");
    cg__jw_str(&w, cg_match_str(v->orig_match));
    cg__jw_key(&w, "dest_match");
    cg__jw_str(&w, cg_match_str(v->dest_match));
    cg__jw_key(&w, "identity_index");
    cg__jw_int(&w, v->identity_index);
    cg__jw_key(&w, "warnings");
    CG__JW_LIT(&w, "[");
    for (i = 0; i < CG_W__COUNT; i++)
        if (v->warnings & (1u << i)) {
            if (any)
                CG__JW_LIT(&w, ",");
            cg__jw_str(&w, cg_warning_name(i));
            any = true;
        }
    CG__JW_LIT(&w, "]}");
    return done(&w, out);
}
