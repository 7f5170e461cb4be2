#include <string.h>

#include "core/sjson.h"

struct st {
    struct cg__json *j;
    const char *p, *end;
};

static void ws(struct st *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0, i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

size_t cg__utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return end - p >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* A string at s->p (on the opening quote), decoded into scratch. */
static int string(struct st *s, const char **out, uint32_t *outlen)
{
    struct cg__json *j = s->j;
    char *o = j->scratch + j->used, *start = o;
    /* decoded text is never longer than its source; +1 for the NUL */
    if (j->scratch_cap - j->used < (size_t)(s->end - s->p) + 1)
        return -1;
    s->p++;
    for (;;) {
        unsigned char c;
        if (s->p >= s->end)
            return -1;
        c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            unsigned cp;
            if (s->end - s->p < 2)
                return -1;
            switch (s->p[1]) {
            case '"':
                *o++ = '"';
                break;
            case '\\':
                *o++ = '\\';
                break;
            case '/':
                *o++ = '/';
                break;
            case 'b':
                *o++ = '\b';
                break;
            case 'f':
                *o++ = '\f';
                break;
            case 'n':
                *o++ = '\n';
                break;
            case 'r':
                *o++ = '\r';
                break;
            case 't':
                *o++ = '\t';
                break;
            case 'u':
                if (s->end - s->p < 6 || hex4(s->p + 2, &cp))
                    return -1;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (s->end - s->p < 12 || s->p[6] != '\\' || s->p[7] != 'u' ||
                        hex4(s->p + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return -1;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s->p += 6;
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return -1;
                }
                if (cp == 0)
                    return -1; /* NUL inside a string: refused, as jansson does */
                o = put_utf8(o, cp);
                s->p += 4;
                break;
            default:
                return -1;
            }
            s->p += 2;
        } else if (c < 0x80) {
            /* plain ASCII, nearly every byte of a PASSporT: no call per
             * byte (cg__utf8_len and memcpy for each were this parser's
             * largest cost) */
            *o++ = (char)c;
            s->p++;
        } else {
            size_t n = cg__utf8_len((const unsigned char *)s->p, (const unsigned char *)s->end);
            if (!n)
                return -1;
            memcpy(o, s->p, n);
            o += n;
            s->p += n;
        }
    }
    *o++ = '\0';
    *out = start;
    *outlen = (uint32_t)(o - start - 1);
    j->used += (size_t)(o - start);
    return 0;
}

static int number(struct st *s, struct cg__jnode *n)
{
    const char *p = s->p;
    bool neg = false, real = false, big = false;
    uint64_t v = 0;
    if (p < s->end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= s->end || *p < '0' || *p > '9')
        return -1;
    if (*p == '0') {
        p++;
    } else {
        /* an integer part past 64 bits is refused only if no fraction or
         * exponent follows: 12345678901234567890.5 is a real like any other */
        while (p < s->end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (big || v > (UINT64_MAX - d) / 10)
                big = true;
            else
                v = v * 10 + d;
            p++;
        }
    }
    if (p < s->end && *p == '.') {
        real = true;
        p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return -1;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return -1;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (!real) {
        if (big || (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX))
            return -1; /* jansson too refuses integers it cannot hold */
        n->type = CGJ_INT;
        n->i = neg ? (int64_t)(0 - v) : (int64_t)v;
    } else {
        n->type = CGJ_REAL;
    }
    s->p = p;
    return 0;
}

static int literal(struct st *s, const char *word, enum cg__jtype t, struct cg__jnode *n)
{
    size_t l = strlen(word);
    if ((size_t)(s->end - s->p) < l || memcmp(s->p, word, l) != 0)
        return -1;
    s->p += l;
    n->type = t;
    return 0;
}

static int value(struct st *s, uint32_t idx, unsigned depth);

/* A fresh node's index, or 0 when the budget is spent (0 is the root). */
static uint32_t new_node(struct cg__json *j)
{
    if (j->nnodes >= j->maxnodes)
        return 0;
    memset(&j->nodes[j->nnodes], 0, sizeof j->nodes[0]);
    return j->nnodes++;
}

static int container(struct st *s, uint32_t idx, unsigned depth, bool obj)
{
    struct cg__json *j = s->j;
    char close = obj ? '}' : ']';
    uint32_t prev = 0;
    if (depth >= j->maxdepth)
        return -1;
    j->nodes[idx].type = obj ? CGJ_OBJ : CGJ_ARR;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        uint32_t keylen = 0, c;
        if (obj) {
            uint32_t k;
            if (s->p >= s->end || *s->p != '"' || string(s, &key, &keylen))
                return -1;
            /* duplicate member names are refused (RFC 8225 section 9) */
            for (k = j->nodes[idx].child; k; k = j->nodes[k].next)
                if (strcmp(j->nodes[k].key, key) == 0)
                    return -1;
            ws(s);
            if (s->p >= s->end || *s->p != ':')
                return -1;
            s->p++;
            ws(s);
        }
        if (!(c = new_node(j)))
            return -1;
        j->nodes[c].key = key;
        if (prev)
            j->nodes[prev].next = c;
        else
            j->nodes[idx].child = c;
        prev = c;
        j->nodes[idx].count++;
        if (value(s, c, depth + 1))
            return -1;
        ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ',') {
            s->p++;
            ws(s);
            continue;
        }
        if (*s->p != close)
            return -1;
        s->p++;
        return 0;
    }
}

static int value(struct st *s, uint32_t idx, unsigned depth)
{
    struct cg__jnode *n = &s->j->nodes[idx];
    const char *start = s->p;
    int rc;
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
        rc = container(s, idx, depth, true);
        break;
    case '[':
        rc = container(s, idx, depth, false);
        break;
    case '"':
        n->type = CGJ_STR;
        rc = string(s, &n->str, &n->len);
        break;
    case 't':
        rc = literal(s, "true", CGJ_TRUE, n);
        break;
    case 'f':
        rc = literal(s, "false", CGJ_FALSE, n);
        break;
    case 'n':
        rc = literal(s, "null", CGJ_NULL, n);
        break;
    default:
        rc = number(s, n);
        break;
    }
    s->j->nodes[idx].raw = start;
    s->j->nodes[idx].rawlen = (uint32_t)(s->p - start);
    return rc;
}

int cg__json_parse(struct cg__json *j, const char *text, size_t len)
{
    struct st s = {j, text, text + len};
    if (len > UINT32_MAX || j->maxnodes == 0)
        return -1;
    memset(&j->nodes[0], 0, sizeof j->nodes[0]); /* the root */
    j->nnodes = 1;
    j->used = 0;
    ws(&s);
    if (value(&s, 0, 0))
        return -1;
    ws(&s);
    return s.p == s.end ? 0 : -1;
}

const struct cg__jnode *cg__json_get(const struct cg__json *j, const struct cg__jnode *obj,
                                     const char *key)
{
    uint32_t k;
    if (!obj || obj->type != CGJ_OBJ)
        return NULL;
    for (k = obj->child; k; k = j->nodes[k].next)
        if (strcmp(j->nodes[k].key, key) == 0)
            return &j->nodes[k];
    return NULL;
}
