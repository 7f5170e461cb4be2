/* The ATIS-1000082 bodies, both ways.  The same bytes are parsed as a
 * verificationRequest and as a signingRequest: what is accepted must be
 * canonical numbers, a bounded identity and a printable callId, and every
 * refusal must name its exception.  Then the writer: the bytes become a
 * verdict's strings (control characters, quotes, invalid UTF-8 and all),
 * and the verdict and the exception objects written must be strict JSON
 * that reads back, with each valid UTF-8 string unchanged. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"
#include "core/sjson.h"

#define NODES 256

static struct cg__jnode nodes[NODES];
static char scratch[8192 + NODES + 8];

static bool canonical(const char *tn)
{
    size_t i, n = strlen(tn);
    if (n == 0 || n > CG_TN_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (tn[i] < '0' || tn[i] > '9')
            return false;
    return true;
}

/* Parses a writer's output strictly; aborts when it is not JSON. */
static struct cg__json reread(const char *text)
{
    struct cg__json j = {.nodes = nodes, .maxnodes = NODES, .maxdepth = 8};
    size_t len = strlen(text);
    if (len + NODES + 8 > sizeof scratch)
        abort();
    j.scratch = scratch;
    j.scratch_cap = sizeof scratch;
    if (cg__json_parse(&j, text, len) != 0 || nodes[0].type != CGJ_OBJ)
        abort();
    return j;
}

static void check_error(const struct cg_atis_error *e)
{
    char *out = NULL;
    if (!e->message_id || !e->text || e->http_status != 400)
        abort();
    if (cg_atis_error_json(e, &out) != CG_OK)
        abort();
    reread(out);
    free(out);
}

static bool utf8_clean(const char *s, size_t n)
{
    /* what sjson would accept as a string's content: no control
     * characters (they are escaped, and read back the same), valid UTF-8;
     * checked by parsing it as a JSON string */
    char buf[256];
    struct cg__jnode nd[2];
    struct cg__json j = {.nodes = nd, .maxnodes = 2, .maxdepth = 1};
    char sc[256 + 8];
    size_t i, k = 0;
    if (n + 3 > sizeof buf)
        return false;
    buf[k++] = '"';
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
            return false;
        buf[k++] = s[i];
    }
    buf[k++] = '"';
    j.scratch = sc;
    j.scratch_cap = sizeof sc;
    return cg__json_parse(&j, buf, k) == 0;
}

static void writer(const unsigned char *data, size_t size)
{
    struct cg_verdict v = {0};
    const struct cg__jnode *d;
    struct cg__json j;
    char *out = NULL;
    size_t n = size < sizeof v.detail - 1 ? size : sizeof v.detail - 1;
    memcpy(v.detail, data, n);
    v.detail[n] = '\0';
    n = strlen(v.detail);
    memcpy(v.origid, v.detail, n < CG_ORIGID_MAX ? n : CG_ORIGID_MAX);
    v.attest = size ? (char)data[0] : 0;
    v.iat = size > 1 ? (int64_t)data[1] - 128 : 0;
    v.reason_code = size > 2 ? data[2] : 0;
    v.warnings = size > 3 ? data[3] : 0;
    v.identity_index = -1;
    if (cg_verdict_json(&v, &out) != CG_OK)
        abort();
    j = reread(out);
    d = cg__json_get(&j, &nodes[0], "detail");
    if (!d || d->type != CGJ_STR)
        abort();
    if (utf8_clean(v.detail, n) && (d->len != n || memcmp(d->str, v.detail, n) != 0))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_atis_verify_req vr;
    struct cg_atis_sign_req sr;
    struct cg_atis_error err;
    size_t i;
    int rc;

    rc = cg_atis_parse_verify((const char *)data, size, NULL, &vr, &err);
    if (rc == CG_OK) {
        if (!canonical(vr.from) || !canonical(vr.to) || vr.nto_more > CG_ATIS_TO_MORE ||
            vr.time <= 0 || !vr.identity || !vr.identity[0] ||
            strlen(vr.identity) > CG_IDENTITY_MAX ||
            (vr.presentation[0] && !canonical(vr.presentation)))
            abort();
        for (i = 0; i < vr.nto_more; i++)
            if (!canonical(vr.to_more[i]))
                abort();
        for (i = 0; vr.call_id[i]; i++)
            if (vr.call_id[i] <= ' ' || vr.call_id[i] >= 0x7f)
                abort();
        cg_atis_verify_req_clear(&vr);
    } else if (rc == CG_EPARSE) {
        check_error(&err);
    } else if (rc != CG_ENOMEM) {
        abort();
    }

    rc = cg_atis_parse_sign((const char *)data, size, NULL, &sr, &err);
    if (rc == CG_OK) {
        if (!strchr("ABC", sr.attest) || !canonical(sr.orig) || sr.ndest == 0 ||
            sr.ndest > CG_PASSPORT_DEST_MAX || sr.iat < 0)
            abort();
        for (i = 0; i < sr.ndest; i++)
            if (!canonical(sr.dest[i]))
                abort();
    } else if (rc == CG_EPARSE) {
        check_error(&err);
    } else if (rc != CG_ENOMEM) {
        abort();
    }

    writer(data, size);
    return 0;
}
