#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cidguard/atis.h"
#include "core/internal.h"

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

static int tn_member(json_t *obj, const char *name, bool array, const struct cg_tn_plan *plan,
                     char *out, struct cg_atis_error *err)
{
    json_t *v = json_object_get(obj, name), *tn;
    const char *s;
    if (!v)
        return MISSING(name);
    tn = json_object_get(v, "tn");
    if (!tn)
        return MISSING(name);
    if (array && json_is_array(tn))
        tn = json_array_size(tn) ? json_array_get(tn, 0) : NULL;
    if (!tn)
        return MISSING(name);
    if (!json_is_string(tn))
        return INVALID(name);
    s = json_string_value(tn);
    if (cg_tn_canon(s, strlen(s), plan, out) != CG_OK)
        return INVALID(name);
    return CG_OK;
}

/* The body-level checks both API calls share: not empty, within limits,
 * strict JSON, and `member` an object.  Returns the parsed root (the caller
 * decrefs) and the member, or NULL with `err` filled. */
static json_t *load_body(const char *body, size_t len, const char *member, json_t **obj,
                         struct cg_atis_error *err)
{
    json_t *root;
    if (len == 0) {
        fail(err, "SVC4000", 400, "Error: Missing request body.", NULL);
        return NULL;
    }
    if (len > CG_ATIS_BODY_MAX || cg__json_depth(body, len) > 8 ||
        !(root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL))) {
        fail(err, "SVC4006", 400, "Error: JSON parse failure.", NULL);
        return NULL;
    }
    *obj = json_object_get(root, member);
    if (!json_is_object(*obj)) {
        if (*obj)
            INVALID(member);
        else
            MISSING(member);
        json_decref(root);
        return NULL;
    }
    return root;
}

int cg_atis_parse_verify(const char *body, size_t len, const struct cg_tn_plan *plan,
                         struct cg_atis_verify_req *req, struct cg_atis_error *err)
{
    json_t *root = NULL, *r, *v;
    int rc;

    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    if (!(root = load_body(body, len, "verificationRequest", &r, err)))
        return CG_EPARSE;
    if ((rc = tn_member(r, "from", false, plan, req->from, err)) ||
        (rc = tn_member(r, "to", true, plan, req->to, err)))
        goto out;
    { /* a forked or multi-party request: every to.tn is a called number */
        json_t *arr = json_object_get(json_object_get(r, "to"), "tn");
        size_t i;
        if (json_is_array(arr) && json_array_size(arr) > 1 + CG_ATIS_TO_MORE) {
            rc = INVALID("to");
            goto out;
        }
        for (i = 1; json_is_array(arr) && i < json_array_size(arr); i++) {
            const char *t = json_string_value(json_array_get(arr, i));
            if (!t || cg_tn_canon(t, strlen(t), plan, req->to_more[req->nto_more]) != CG_OK) {
                rc = INVALID("to");
                goto out;
            }
            req->nto_more++;
        }
    }
    v = json_object_get(r, "time");
    if (!v) {
        rc = MISSING("time");
        goto out;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        rc = INVALID("time");
        goto out;
    }
    req->time = (int64_t)json_integer_value(v);
    v = json_object_get(r, "identity");
    if (!v) {
        rc = MISSING("identity");
        goto out;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > CG_IDENTITY_MAX) {
        rc = INVALID("identity");
        goto out;
    }
    if (json_object_get(r, "presentation") &&
        (rc = tn_member(r, "presentation", false, plan, req->presentation, err)))
        goto out;
    v = json_object_get(r, "ingress");
    if (v && (!json_is_string(v) ||
              !cg__strlcpy(req->ingress, json_string_value(v), sizeof req->ingress))) {
        rc = INVALID("ingress");
        goto out;
    }
    v = json_object_get(r, "callId");
    if (v) {
        const char *cid = json_string_value(v);
        size_t i, n = cid ? strlen(cid) : 0;
        bool ok = cid && n && n == json_string_length(v) &&
                  cg__strlcpy(req->call_id, cid, sizeof req->call_id);
        for (i = 0; ok && i < n; i++)
            ok = cid[i] > ' ' && cid[i] < 0x7f;
        if (!ok) {
            req->call_id[0] = '\0';
            rc = INVALID("callId");
            goto out;
        }
    }
    if (!(req->identity = strdup(json_string_value(json_object_get(r, "identity"))))) {
        rc = CG_ENOMEM;
        goto out;
    }
    rc = CG_OK;
out:
    json_decref(root);
    return rc;
}

int cg_atis_parse_sign(const char *body, size_t len, const struct cg_tn_plan *plan,
                       struct cg_atis_sign_req *req, struct cg_atis_error *err)
{
    json_t *root = NULL, *r, *v, *arr;
    size_t i;
    int rc;

    memset(req, 0, sizeof *req);
    memset(err, 0, sizeof *err);
    if (!(root = load_body(body, len, "signingRequest", &r, err)))
        return CG_EPARSE;
    v = json_object_get(r, "attest");
    if (!v) {
        rc = MISSING("attest");
        goto out;
    }
    if (!json_is_string(v) || json_string_length(v) != 1 ||
        !strchr("ABC", json_string_value(v)[0])) {
        rc = INVALID("attest");
        goto out;
    }
    req->attest = json_string_value(v)[0];
    if ((rc = tn_member(r, "orig", false, plan, req->orig, err)) ||
        (json_object_get(r, "presentation") &&
         (rc = tn_member(r, "presentation", false, plan, req->presentation, err))))
        goto out;
    v = json_object_get(r, "dest");
    arr = v ? json_object_get(v, "tn") : NULL;
    if (!arr) {
        rc = MISSING("dest");
        goto out;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > CG_PASSPORT_DEST_MAX) {
        rc = INVALID("dest");
        goto out;
    }
    for (i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || cg_tn_canon(s, strlen(s), plan, req->dest[i]) != CG_OK) {
            rc = INVALID("dest");
            goto out;
        }
    }
    req->ndest = i;
    if ((v = json_object_get(r, "iat"))) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            rc = INVALID("iat");
            goto out;
        }
        req->iat = (int64_t)json_integer_value(v);
    }
    if ((v = json_object_get(r, "origid"))) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            !cg__strlcpy(req->origid, json_string_value(v), sizeof req->origid)) {
            rc = INVALID("origid");
            goto out;
        }
    }
    rc = CG_OK;
out:
    json_decref(root);
    return rc;
}

void cg_atis_verify_req_clear(struct cg_atis_verify_req *req)
{
    free(req->identity);
    req->identity = NULL;
}

static int dump(json_t *j, char **out)
{
    if (!j)
        return CG_ENOMEM;
    *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return *out ? CG_OK : CG_ENOMEM;
}

int cg_atis_error_json(const struct cg_atis_error *e, char **out)
{
    json_t *vars = json_array();
    if (vars && e->variable[0])
        json_array_append_new(vars, json_string(e->variable));
    return dump(json_pack("{s:{s:{s:s,s:s,s:o}}}", "requestError", "serviceException", "messageId",
                          e->message_id ? e->message_id : "POL5000", "text",
                          e->text ? e->text : "Error: internal error.", "variables", vars),
                out);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

int cg_verdict_json(const struct cg_verdict *v, char **out)
{
    json_t *o = json_object(), *w = json_array();
    char a[2] = {v->attest, 0};
    unsigned i;
    if (!o || !w) {
        json_decref(o);
        json_decref(w);
        return CG_ENOMEM;
    }
    for (i = 0; i < CG_W__COUNT; i++)
        if (v->warnings & (1u << i))
            json_array_append_new(w, json_string(cg_warning_name(i)));
    json_object_set_new(o, "verstat", json_string(cg_verstat_str(v->verstat)));
    json_object_set_new(o, "reason_code", json_integer(v->reason_code));
    json_object_set_new(o, "reason", json_string(v->reason_text ? v->reason_text : ""));
    json_object_set_new(o, "reason_name", json_string(cg_reason_name(v->reason)));
    json_object_set_new(o, "detail", json_string(v->detail));
    json_object_set_new(o, "attest", str_or_null(a));
    json_object_set_new(o, "origid", str_or_null(v->origid));
    json_object_set_new(o, "spc", str_or_null(v->spc));
    json_object_set_new(o, "orig", str_or_null(v->orig));
    json_object_set_new(o, "dest", str_or_null(v->dest));
    json_object_set_new(o, "iat", v->iat ? json_integer(v->iat) : json_null());
    json_object_set_new(o, "x5u", str_or_null(v->x5u));
    json_object_set_new(o, "orig_match", json_string(cg_match_str(v->orig_match)));
    json_object_set_new(o, "dest_match", json_string(cg_match_str(v->dest_match)));
    json_object_set_new(o, "identity_index", json_integer(v->identity_index));
    json_object_set_new(o, "warnings", w);
    return dump(o, out);
}
