/*
 * PASSporT decoding and canonical encoding.
 *
 * NOTE: decoding is for *checking* claims only.  The signature is verified
 * over the received "hdr.payload" bytes; nothing here is re-serialized on
 * the verification path (OpenSIPS rebuilt the JSON and broke every token
 * carrying claims it did not know).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/passport.h"
#include "core/internal.h"
#include "core/jsonw.h"
#include "core/sjson.h"

#define B64_JSON_MAX (CG_PASSPORT_JSON_MAX / 3 * 4 + 4)

#define FAULT(f, text)                                                                             \
    do {                                                                                           \
        *fault = (f);                                                                              \
        *why = (text);                                                                             \
        rc = CG_EPARSE;                                                                            \
        goto out;                                                                                  \
    } while (0)

/* A canonical tn (RFC 8224 section 8.3): optional leading '#' or '*', then
 * one or more digits, at most CG_TN_MAX characters. */
static bool tn_is_canonical(const char *s)
{
    size_t i = 0, n = strlen(s);
    if (n == 0 || n > CG_TN_MAX)
        return false;
    if (s[0] == '#' || s[0] == '*')
        i = 1;
    if (i == n)
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

#define NODES_HDR 32
#define NODES_PAYLOAD 256

/* One decoded JSON segment: base64url text, decoded bytes, parsed nodes. */
struct seg {
    unsigned char buf[CG_PASSPORT_JSON_MAX + 4];
    char scratch[CG_PASSPORT_JSON_MAX + 8];
    struct cg__jnode nodes[NODES_PAYLOAD];
    struct cg__json j;
};

/* The segment buffers (about 40 KB) are per thread: a malloc of that size
 * per call was 12% of the daemon's cycles (perf, cidguard-sipload), and the
 * stack of a caller's thread is no place for them either. */
static pthread_key_t seg_key;
static pthread_once_t seg_once = PTHREAD_ONCE_INIT;

static void seg_key_init(void)
{
    pthread_key_create(&seg_key, free);
}

static struct seg *seg_get(void)
{
    struct seg *sg;
    pthread_once(&seg_once, seg_key_init);
    if (!(sg = pthread_getspecific(seg_key))) {
        if (!(sg = malloc(sizeof *sg)) || pthread_setspecific(seg_key, sg) != 0) {
            free(sg);
            return NULL;
        }
    }
    return sg;
}

/* Decodes one base64url JSON segment and parses it strictly; the root must
 * be an object.  Size, depth, node count and duplicate members are limited
 * before anything else looks at it. */
static const struct cg__jnode *load_segment(struct seg *sg, const char *b64, size_t n,
                                            uint32_t maxnodes)
{
    size_t len;
    if (n > B64_JSON_MAX)
        return NULL;
    if (cg__b64url_decode(b64, n, sg->buf, sizeof sg->buf, &len) != CG_OK ||
        len > CG_PASSPORT_JSON_MAX)
        return NULL;
    sg->j.nodes = sg->nodes;
    sg->j.maxnodes = maxnodes;
    sg->j.scratch = sg->scratch;
    sg->j.scratch_cap = sizeof sg->scratch;
    sg->j.maxdepth = CG_PASSPORT_JSON_DEPTH;
    if (cg__json_parse(&sg->j, (const char *)sg->buf, len) || sg->nodes[0].type != CGJ_OBJ)
        return NULL;
    return &sg->nodes[0];
}

/* Copies a string member into dst; 0 ok, -1 absent, -2 wrong type or too long. */
static int get_str(const struct cg__json *j, const struct cg__jnode *obj, const char *key,
                   char *dst, size_t cap)
{
    const struct cg__jnode *v = cg__json_get(j, obj, key);
    if (!v)
        return -1;
    if (v->type != CGJ_STR || v->len >= cap)
        return -2;
    memcpy(dst, v->str, v->len + 1);
    return 0;
}

static char *dup_span(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Parses the rcd claim and the top-level crn and rcdi (RFC 9795).  Returns
 * 0, 1 with *why for a malformed claim, or CG_ENOMEM.  jcd and an rcdi
 * object are kept as the JSON text received. */
static int decode_rcd(const struct cg__json *j, const struct cg__jnode *claims, struct cg_rcd *r,
                      const char **why)
{
    static const char *const keys[] = {"nam", "apn", "icn", "jcl"};
    const struct cg__jnode *rcd = cg__json_get(j, claims, "rcd"), *v;
    char **slots[] = {&r->nam, &r->apn, &r->icn, &r->jcl};
    size_t i;

    if (rcd) {
        if (rcd->type != CGJ_OBJ) {
            *why = "rcd is not an object";
            return 1;
        }
        r->present = true;
        for (i = 0; i < 4; i++) {
            if (!(v = cg__json_get(j, rcd, keys[i])))
                continue;
            if (v->type != CGJ_STR) {
                *why = "rcd member is not a string";
                return 1;
            }
            if (!(*slots[i] = dup_span(v->str, v->len)))
                return CG_ENOMEM;
        }
        if ((v = cg__json_get(j, rcd, "jcd"))) {
            if (v->type != CGJ_ARR) {
                *why = "rcd.jcd is not a jCard array";
                return 1;
            }
            if (!(r->jcd = dup_span(v->raw, v->rawlen)))
                return CG_ENOMEM;
        }
    }
    if ((v = cg__json_get(j, claims, "crn"))) {
        if (v->type != CGJ_STR) {
            *why = "crn is not a string";
            return 1;
        }
        if (!(r->crn = dup_span(v->str, v->len)))
            return CG_ENOMEM;
        r->present = true;
    }
    if ((v = cg__json_get(j, claims, "rcdi"))) {
        /* RFC 9795 uses an object of JSON pointers to digests; Neustar's
         * published tokens carry the older draft's bare string. */
        if (v->type != CGJ_OBJ && v->type != CGJ_STR) {
            *why = "rcdi is neither an object nor a string";
            return 1;
        }
        r->rcdi = v->type == CGJ_STR ? dup_span(v->str, v->len) : dup_span(v->raw, v->rawlen);
        if (!r->rcdi)
            return CG_ENOMEM;
        r->present = true;
    }
    return 0;
}

int cg_passport_decode(const char *tok, size_t len, struct cg_passport *out, unsigned char sig[64],
                       size_t *signed_len, enum cg_passport_fault *fault, const char **why)
{
    const char *d1, *d2, *end = tok + len;
    const struct cg__jnode *hdr, *cl, *v, *arr;
    struct seg *sg = NULL;
    unsigned char sigbuf[CG_B64_DECODED_MAX(90)];
    size_t siglen;
    uint32_t k;
    int rc = CG_OK, r;

    out->ppt = CG_PPT_NONE;
    out->attest = 0;
    out->orig_tn[0] = out->orig_uri[0] = out->origid[0] = out->div_tn[0] = '\0';
    out->ndest_tn = out->ndest_uri = 0;
    memset(&out->rcd, 0, sizeof out->rcd);
    *fault = CG_PF_NONE;
    *why = NULL;

    d1 = memchr(tok, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        FAULT(CG_PF_FORM, "token is not header.payload.signature");
    if (d1 == tok || d2 == d1 + 1)
        FAULT(CG_PF_FORM, "compact form is not allowed in SHAKEN (RFC 8588)");
    if (end - d2 - 1 != 86 ||
        cg__b64url_decode(d2 + 1, (size_t)(end - d2 - 1), sigbuf, sizeof sigbuf, &siglen) !=
            CG_OK ||
        siglen != 64)
        FAULT(CG_PF_SIG_FORM, "signature is not 64 bytes of base64url (ES256 R||S)");
    if (!(sg = seg_get())) {
        rc = CG_ENOMEM;
        goto out;
    }

    /* --- protected header --- */
    if (!(hdr = load_segment(sg, tok, (size_t)(d1 - tok), NODES_HDR)))
        FAULT(CG_PF_HDR_JSON, "JOSE header is not a valid JSON object (base64url, size, "
                              "depth, duplicate members)");
    if (get_str(&sg->j, hdr, "alg", out->alg, sizeof out->alg) ||
        get_str(&sg->j, hdr, "typ", out->typ, sizeof out->typ) ||
        get_str(&sg->j, hdr, "x5u", out->x5u, sizeof out->x5u))
        FAULT(CG_PF_HDR_MISSING, "JOSE header lacks a string alg, typ or x5u");
    if ((r = get_str(&sg->j, hdr, "ppt", out->ppt_name, sizeof out->ppt_name)) == -2)
        FAULT(CG_PF_HDR_MISSING, "JOSE header ppt is not a string");
    if (r == -1)
        FAULT(CG_PF_HDR_MISSING, "JOSE header lacks ppt (SHAKEN requires ppt \"shaken\")");
    if (strcmp(out->typ, "passport") != 0)
        FAULT(CG_PF_TYP, "typ is not \"passport\"");
    if (strcmp(out->alg, "ES256") != 0)
        FAULT(CG_PF_ALG, "alg is not ES256");
    if (strcmp(out->ppt_name, "shaken") == 0)
        out->ppt = CG_PPT_SHAKEN;
    else if (strcmp(out->ppt_name, "div") == 0)
        out->ppt = CG_PPT_DIV;
    else if (strcmp(out->ppt_name, "rcd") == 0)
        out->ppt = CG_PPT_RCD;
    else
        FAULT(CG_PF_PPT, "unsupported ppt (RFC 8225 section 8.1)");

    /* --- claims (the header's nodes are not needed any more) --- */
    if (!(cl = load_segment(sg, d1 + 1, (size_t)(d2 - d1 - 1), NODES_PAYLOAD)))
        FAULT(CG_PF_CLAIMS, "claims are not a valid JSON object (base64url, size, depth, "
                            "duplicate members)");
    if (!(v = cg__json_get(&sg->j, cl, "iat")))
        FAULT(CG_PF_CLAIMS, "missing iat claim");
    if (v->type != CGJ_INT)
        FAULT(CG_PF_CLAIMS, "iat is not a JSON integer (RFC 8225 erratum 5985)");
    out->iat = v->i;
    if (out->iat <= 0)
        FAULT(CG_PF_CLAIMS, "iat is not a positive NumericDate");

    if (!(v = cg__json_get(&sg->j, cl, "orig")))
        FAULT(CG_PF_CLAIMS, "missing orig claim");
    if (v->type != CGJ_OBJ || v->count != 1)
        FAULT(CG_PF_CLAIMS, "orig is not an object with one identity");
    if ((r = get_str(&sg->j, v, "tn", out->orig_tn, sizeof out->orig_tn)) == 0) {
        if (!tn_is_canonical(out->orig_tn))
            FAULT(CG_PF_CLAIMS, "orig.tn is not canonical (digits only, RFC 8224 section 8.3)");
    } else if (r == -2 || get_str(&sg->j, v, "uri", out->orig_uri, sizeof out->orig_uri) != 0) {
        FAULT(CG_PF_CLAIMS, "orig has no string tn or uri");
    }

    if (!(v = cg__json_get(&sg->j, cl, "dest")))
        FAULT(CG_PF_CLAIMS, "missing dest claim");
    if (v->type != CGJ_OBJ)
        FAULT(CG_PF_CLAIMS, "dest is not an object (RFC 8224 erratum 5715)");
    if ((arr = cg__json_get(&sg->j, v, "tn"))) {
        if (arr->type != CGJ_ARR)
            FAULT(CG_PF_CLAIMS, "dest.tn is not an array");
        if (arr->count > CG_PASSPORT_DEST_MAX)
            FAULT(CG_PF_CLAIMS, "dest.tn has more than 16 entries");
        for (k = arr->child; k; k = sg->nodes[k].next) {
            const struct cg__jnode *e = &sg->nodes[k];
            if (e->type != CGJ_STR || !tn_is_canonical(e->str))
                FAULT(CG_PF_CLAIMS, "dest.tn entry is not a canonical number");
            memcpy(out->dest_tn[out->ndest_tn++], e->str, e->len + 1);
        }
    }
    if ((arr = cg__json_get(&sg->j, v, "uri"))) {
        if (arr->type != CGJ_ARR)
            FAULT(CG_PF_CLAIMS, "dest.uri is not an array");
        if (arr->count > CG_PASSPORT_DEST_MAX)
            FAULT(CG_PF_CLAIMS, "dest.uri has more than 16 entries");
        for (k = arr->child; k; k = sg->nodes[k].next) {
            const struct cg__jnode *e = &sg->nodes[k];
            if (e->type != CGJ_STR || e->len > CG_URI_MAX)
                FAULT(CG_PF_CLAIMS, "dest.uri entry is not a string");
            memcpy(out->dest_uri[out->ndest_uri++], e->str, e->len + 1);
        }
    }
    if (out->ndest_tn + out->ndest_uri == 0)
        FAULT(CG_PF_CLAIMS, "dest names no tn or uri");

    if (out->ppt == CG_PPT_SHAKEN) {
        if (!(v = cg__json_get(&sg->j, cl, "attest")))
            FAULT(CG_PF_CLAIMS, "missing attest claim");
        if (v->type != CGJ_STR || v->len != 1 || !strchr("ABC", v->str[0]))
            FAULT(CG_PF_ATTEST, "attest is not exactly \"A\", \"B\" or \"C\"");
        out->attest = v->str[0];
        if ((r = get_str(&sg->j, cl, "origid", out->origid, sizeof out->origid)) == -1)
            FAULT(CG_PF_CLAIMS, "missing origid claim");
        if (r == -2 || out->origid[0] == '\0')
            FAULT(CG_PF_CLAIMS, "origid is not a non-empty string of at most 128 bytes");
    } else if (out->ppt == CG_PPT_DIV) {
        if (!(v = cg__json_get(&sg->j, cl, "div")))
            FAULT(CG_PF_CLAIMS, "missing div claim");
        if (v->type != CGJ_OBJ || get_str(&sg->j, v, "tn", out->div_tn, sizeof out->div_tn) != 0 ||
            !tn_is_canonical(out->div_tn))
            FAULT(CG_PF_CLAIMS, "div is not an object with a canonical tn");
    }
    r = decode_rcd(&sg->j, cl, &out->rcd, why);
    if (r == CG_ENOMEM) {
        rc = CG_ENOMEM;
        goto out;
    }
    if (r)
        FAULT(CG_PF_CLAIMS, *why);
    if (out->ppt == CG_PPT_RCD && !cg__json_get(&sg->j, cl, "rcd"))
        FAULT(CG_PF_CLAIMS, "missing rcd claim");

    memcpy(sig, sigbuf, 64);
    *signed_len = (size_t)(d2 - tok);
out:
    if (rc != CG_OK)
        cg_passport_clear(out);
    return rc;
}

int cg_passport_part_text(const char *tok, size_t len, int part, char **out)
{
    const char *s = tok, *end = tok + len, *dot;
    size_t n, outlen;
    char *buf;
    int rc;
    if (part < 0 || part > 1)
        return CG_EINVAL;
    for (; part > 0; part--) {
        if (!(dot = memchr(s, '.', (size_t)(end - s))))
            return CG_EPARSE;
        s = dot + 1;
    }
    dot = memchr(s, '.', (size_t)(end - s));
    n = dot ? (size_t)(dot - s) : (size_t)(end - s);
    if (n > B64_JSON_MAX)
        return CG_ETOOBIG;
    if (!(buf = malloc(CG_B64_DECODED_MAX(n) + 1)))
        return CG_ENOMEM;
    rc = cg__b64url_decode(s, n, (unsigned char *)buf, CG_B64_DECODED_MAX(n), &outlen);
    if (rc != CG_OK) {
        free(buf);
        return rc;
    }
    buf[outlen] = '\0';
    *out = buf;
    return CG_OK;
}

void cg_passport_clear(struct cg_passport *p)
{
    struct cg_rcd *r = &p->rcd;
    free(r->nam);
    free(r->apn);
    free(r->icn);
    free(r->jcd);
    free(r->jcl);
    free(r->crn);
    free(r->rcdi);
    memset(r, 0, sizeof *r);
}

/*
 * Canonical encoding (RFC 8225 section 9) by a small writer for the fixed
 * PASSporT schema rather than building a jansson tree and dumping it with
 * JSON_SORT_KEYS: on the signing path the tree cost about 10% of the whole
 * sign (jansson 8% of cycles plus its mallocs, measured with perf on
 * cidguard-bench's sign loop), against a target of 85% of raw ECDSA.  The
 * members are written in code-point order by construction; free-form JSON
 * (rcd.jcd, an rcdi object) is read with the strict reader and written back
 * with its members sorted (put_value).  The writer is the library's
 * (core/jsonw.h), in strict mode: a string that is not valid UTF-8 fails
 * the encoding rather than being signed.
 */
static void member(struct cg__jw *o, bool *first, const char *key)
{
    if (!*first)
        CG__JW_LIT(o, ",");
    *first = false;
    cg__jw_str(o, key);
    CG__JW_LIT(o, ":");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_sorted(struct cg__jw *o, const char *base, size_t stride, size_t n)
{
    const char *ptrs[CG_PASSPORT_DEST_MAX];
    size_t i;
    for (i = 0; i < n; i++)
        ptrs[i] = base + i * stride;
    qsort(ptrs, n, sizeof *ptrs, cmp_str);
    CG__JW_LIT(o, "[");
    for (i = 0; i < n; i++) {
        if (i)
            CG__JW_LIT(o, ",");
        cg__jw_str(o, ptrs[i]);
    }
    CG__JW_LIT(o, "]");
}

/* A JSON number that is not an integer, written as jansson writes one
 * ("%.17g", a ".0" when that reads as an integer, no '+' or leading zeros
 * in the exponent), so that tokens keep the form they had when jansson
 * re-serialized these values. */
static void put_real(struct cg__jw *o, const struct cg__jnode *n)
{
    char num[40], *e, *end;
    double d;
    int len;
    /* The reader checked the number's syntax and the text is NUL-terminated
     * (put_json), so strtod stops where the number does, however many
     * digits it has. */
    errno = 0;
    d = strtod(n->raw, &end);
    if (end != n->raw + n->rawlen || (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))) {
        o->bad = true;
        return;
    }
    len = snprintf(num, sizeof num - 2, "%.17g", d);
    if (len < 0 || (size_t)len >= sizeof num - 2) {
        o->bad = true;
        return;
    }
    if (!strchr(num, '.') && !strchr(num, 'e'))
        memcpy(num + len, ".0", 3);
    if ((e = strchr(num, 'e'))) {
        char *from = ++e;
        if (*e == '-')
            e++, from++;
        else if (*e == '+')
            from++;
        while (*from == '0' && from[1])
            from++;
        memmove(e, from, strlen(from) + 1);
    }
    cg__jw_put(o, num, strlen(num));
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp((*(const struct cg__jnode *const *)a)->key,
                  (*(const struct cg__jnode *const *)b)->key);
}

/* One parsed value: compact, object members sorted by name. */
static void put_value(struct cg__jw *o, const struct cg__json *j, const struct cg__jnode *n)
{
    const struct cg__jnode *kids[NODES_PAYLOAD], *k;
    char num[24];
    uint32_t i, nk = 0;
    switch (n->type) {
    case CGJ_NULL:
        CG__JW_LIT(o, "null");
        return;
    case CGJ_FALSE:
        CG__JW_LIT(o, "false");
        return;
    case CGJ_TRUE:
        CG__JW_LIT(o, "true");
        return;
    case CGJ_INT:
        snprintf(num, sizeof num, "%lld", (long long)n->i);
        cg__jw_put(o, num, strlen(num));
        return;
    case CGJ_REAL:
        put_real(o, n);
        return;
    case CGJ_STR:
        cg__jw_str(o, n->str);
        return;
    case CGJ_ARR:
    case CGJ_OBJ:
        break;
    }
    for (k = cg__json_at(j, n->child); k && !o->bad; k = cg__json_at(j, k->next)) {
        if (nk == NODES_PAYLOAD) {
            o->bad = true;
            return;
        }
        kids[nk++] = k;
    }
    if (n->type == CGJ_OBJ)
        qsort(kids, nk, sizeof *kids, cmp_member);
    cg__jw_put(o, n->type == CGJ_OBJ ? "{" : "[", 1);
    for (i = 0; i < nk && !o->bad; i++) {
        if (i)
            CG__JW_LIT(o, ",");
        if (n->type == CGJ_OBJ) {
            cg__jw_str(o, kids[i]->key);
            CG__JW_LIT(o, ":");
        }
        put_value(o, j, kids[i]);
    }
    cg__jw_put(o, n->type == CGJ_OBJ ? "}" : "]", 1);
}

/* Free-form JSON text (a jCard, an rcdi object) re-serialized canonically:
 * parsed as strictly as a received PASSporT's claims, and within the same
 * limits, so that whatever is signed also verifies. */
static void put_json(struct cg__jw *o, const char *text, bool want_array)
{
    size_t len = strlen(text);
    struct cg__json j = {0};
    struct cg__jnode *nodes = NULL;
    char *scratch = NULL;
    if (len > CG_PASSPORT_JSON_MAX || !(nodes = malloc(NODES_PAYLOAD * sizeof *nodes)) ||
        !(scratch = malloc(len + NODES_PAYLOAD + 8))) {
        free(nodes);
        o->bad = true;
        return;
    }
    j.nodes = nodes;
    j.maxnodes = NODES_PAYLOAD;
    j.scratch = scratch;
    j.scratch_cap = len + NODES_PAYLOAD + 8;
    j.maxdepth = CG_PASSPORT_JSON_DEPTH;
    if (cg__json_parse(&j, text, len) || nodes[0].type != (want_array ? CGJ_ARR : CGJ_OBJ))
        o->bad = true;
    else
        put_value(o, &j, &nodes[0]);
    free(scratch);
    free(nodes);
}

/* Whether `len` bytes of claims parse within a received PASSporT's limits
 * (load_segment). */
static bool claims_verifiable(const char *pay, size_t len)
{
    struct seg *sg = seg_get();
    if (!sg || len > CG_PASSPORT_JSON_MAX)
        return false;
    sg->j.nodes = sg->nodes;
    sg->j.maxnodes = NODES_PAYLOAD;
    sg->j.scratch = sg->scratch;
    sg->j.scratch_cap = sizeof sg->scratch;
    sg->j.maxdepth = CG_PASSPORT_JSON_DEPTH;
    return cg__json_parse(&sg->j, pay, len) == 0;
}

int cg__passport_canon(const struct cg_passport *p, char *hdr, size_t hcap, size_t *hlen, char *pay,
                       size_t pcap, size_t *plen)
{
    struct cg__jw h = {.p = hdr, .cap = hcap, .strict = true},
                  c = {.p = pay, .cap = pcap, .strict = true};
    const struct cg_rcd *r = &p->rcd;
    const char *ppt = p->ppt == CG_PPT_DIV ? "div" : p->ppt == CG_PPT_RCD ? "rcd" : "shaken";
    bool first = true, shaken = p->ppt != CG_PPT_DIV;
    char num[24], a[2] = {p->attest, 0};
    size_t i;

    if (!p->x5u[0] || p->iat <= 0 || (!p->orig_tn[0] && !p->orig_uri[0]) ||
        p->ndest_tn + p->ndest_uri == 0 || p->ndest_tn > CG_PASSPORT_DEST_MAX ||
        p->ndest_uri > CG_PASSPORT_DEST_MAX)
        return CG_EINVAL;
    if (p->orig_tn[0] && !tn_is_canonical(p->orig_tn))
        return CG_EINVAL;
    for (i = 0; i < p->ndest_tn; i++)
        if (!tn_is_canonical(p->dest_tn[i]))
            return CG_EINVAL;
    if (shaken && (!p->attest || !strchr("ABC", p->attest) || !p->origid[0]))
        return CG_EINVAL;
    if (!shaken && !tn_is_canonical(p->div_tn))
        return CG_EINVAL;

    CG__JW_LIT(&h, "{\"alg\":\"ES256\",\"ppt\":");
    cg__jw_str(&h, ppt);
    CG__JW_LIT(&h, ",\"typ\":\"passport\",\"x5u\":");
    cg__jw_str(&h, p->x5u);
    CG__JW_LIT(&h, "}");

    /* attest, crn, dest, div, iat, orig, origid, rcd, rcdi */
    CG__JW_LIT(&c, "{");
    if (shaken) {
        member(&c, &first, "attest");
        cg__jw_str(&c, a);
    }
    if (r->present && r->crn) {
        member(&c, &first, "crn");
        cg__jw_str(&c, r->crn);
    }
    member(&c, &first, "dest");
    CG__JW_LIT(&c, "{");
    if (p->ndest_tn) {
        CG__JW_LIT(&c, "\"tn\":");
        put_sorted(&c, p->dest_tn[0], sizeof p->dest_tn[0], p->ndest_tn);
    }
    if (p->ndest_uri) {
        if (p->ndest_tn)
            CG__JW_LIT(&c, ",");
        CG__JW_LIT(&c, "\"uri\":");
        put_sorted(&c, p->dest_uri[0], sizeof p->dest_uri[0], p->ndest_uri);
    }
    CG__JW_LIT(&c, "}");
    if (!shaken) {
        member(&c, &first, "div");
        CG__JW_LIT(&c, "{\"tn\":");
        cg__jw_str(&c, p->div_tn);
        CG__JW_LIT(&c, "}");
    }
    member(&c, &first, "iat");
    snprintf(num, sizeof num, "%lld", (long long)p->iat);
    cg__jw_put(&c, num, strlen(num));
    member(&c, &first, "orig");
    CG__JW_LIT(&c, "{");
    cg__jw_str(&c, p->orig_tn[0] ? "tn" : "uri");
    CG__JW_LIT(&c, ":");
    cg__jw_str(&c, p->orig_tn[0] ? p->orig_tn : p->orig_uri);
    CG__JW_LIT(&c, "}");
    if (shaken) {
        member(&c, &first, "origid");
        cg__jw_str(&c, p->origid);
    }
    if (r->present && (r->apn || r->icn || r->jcd || r->jcl || r->nam)) {
        bool rf = true;
        member(&c, &first, "rcd");
        CG__JW_LIT(&c, "{");
        if (r->apn) {
            member(&c, &rf, "apn");
            cg__jw_str(&c, r->apn);
        }
        if (r->icn) {
            member(&c, &rf, "icn");
            cg__jw_str(&c, r->icn);
        }
        if (r->jcd) {
            member(&c, &rf, "jcd");
            put_json(&c, r->jcd, true);
        }
        if (r->jcl) {
            member(&c, &rf, "jcl");
            cg__jw_str(&c, r->jcl);
        }
        if (r->nam) {
            member(&c, &rf, "nam");
            cg__jw_str(&c, r->nam);
        }
        CG__JW_LIT(&c, "}");
    }
    if (r->present && r->rcdi) {
        member(&c, &first, "rcdi");
        if (r->rcdi[0] == '{')
            put_json(&c, r->rcdi, false);
        else
            cg__jw_str(&c, r->rcdi);
    }
    CG__JW_LIT(&c, "}");
    if (h.bad || c.bad)
        return h.cap - h.n <= 1 || c.cap - c.n <= 1 ? CG_ETOOBIG : CG_EINVAL;
    /* A jCard or rcdi object within the limits on its own may still take
     * the claims past the verifier's (two levels deeper, and beside the
     * other claims' nodes): the claims are read back as a receiver would
     * read them, so that nothing is signed that would not verify. */
    if (r->present && (r->jcd || (r->rcdi && r->rcdi[0] == '{')) && !claims_verifiable(pay, c.n))
        return CG_EINVAL;
    hdr[h.n] = pay[c.n] = '\0';
    *hlen = h.n;
    *plen = c.n;
    return CG_OK;
}

int cg_passport_encode(const struct cg_passport *p, char **hdr_json, char **payload_json)
{
    char *h = malloc(CG_URL_MAX * 2 + 128), *c = malloc(CG_PASSPORT_JSON_MAX + 1);
    size_t hl, cl;
    int rc = h && c ? cg__passport_canon(p, h, CG_URL_MAX * 2 + 128, &hl, c,
                                         CG_PASSPORT_JSON_MAX + 1, &cl)
                    : CG_ENOMEM;
    if (rc != CG_OK) {
        free(h);
        free(c);
        h = c = NULL;
    }
    *hdr_json = h;
    *payload_json = c;
    return rc;
}
