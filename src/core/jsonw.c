#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonw.h"
#include "core/sjson.h"

void cg__jw_init(struct cg__jw *w, size_t cap_hint)
{
    *w = (struct cg__jw){.grow = true};
    if (!(w->p = malloc(cap_hint ? cap_hint : 64)))
        w->bad = true;
    else
        w->cap = cap_hint ? cap_hint : 64;
}

char *cg__jw_take(struct cg__jw *w)
{
    char *t = w->p;
    if (w->bad || !t || w->n >= w->cap) {
        free(w->grow ? t : NULL);
        w->p = NULL;
        return NULL;
    }
    t[w->n] = '\0';
    w->p = NULL;
    return t;
}

void cg__jw_put(struct cg__jw *w, const char *s, size_t n)
{
    if (w->bad)
        return;
    /* one byte always stays free for the terminating NUL */
    if (w->cap - w->n <= n) {
        size_t cap = w->cap;
        char *p;
        if (!w->grow) {
            w->bad = true;
            return;
        }
        while (cap - w->n <= n) {
            if (cap > SIZE_MAX / 2) {
                w->bad = true;
                return;
            }
            cap *= 2;
        }
        if (!(p = realloc(w->p, cap))) {
            w->bad = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

void cg__jw_str(struct cg__jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s, *run = u, *end = u + strlen(s);
    CG__JW_LIT(w, "\"");
    /* Plain bytes go out in runs. */
    while (*u) {
        unsigned char c = *u;
        size_t len = c >= 0x20 && c != '"' && c != '\\' ? cg__utf8_len(u, end) : 0;
        if (len) {
            u += len;
            continue;
        }
        cg__jw_put(w, (const char *)run, (size_t)(u - run));
        if (c >= 0x80) {
            if (w->strict) {
                w->bad = true;
                return;
            }
            CG__JW_LIT(w, "\\ufffd");
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            cg__jw_put(w, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            const char *named = c == '\b'   ? "\\b"
                                : c == '\f' ? "\\f"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                            : NULL;
            if (named)
                cg__jw_put(w, named, 2);
            else
                cg__jw_put(w, e, 6);
        }
        run = ++u;
    }
    cg__jw_put(w, (const char *)run, (size_t)(u - run));
    CG__JW_LIT(w, "\"");
}

void cg__jw_str_or_null(struct cg__jw *w, const char *s)
{
    if (s && *s)
        cg__jw_str(w, s);
    else
        CG__JW_LIT(w, "null");
}

void cg__jw_int(struct cg__jw *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    cg__jw_put(w, b, (size_t)n);
}

void cg__jw_key(struct cg__jw *w, const char *name)
{
    if (!w->bad && w->n && w->p[w->n - 1] != '{' && w->p[w->n - 1] != '[')
        CG__JW_LIT(w, ",");
    cg__jw_str(w, name);
    CG__JW_LIT(w, ":");
}
