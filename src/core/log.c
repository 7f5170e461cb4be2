#include <stdio.h>
#include <string.h>

#include "core/internal.h"

enum cg_log_level cg__log_max = CG_LOG_ERROR;
cg_log_cb cg__log_cb;
static void *log_arg;

void cg_log_set(cg_log_cb cb, enum cg_log_level max_level, void *arg)
{
    cg__log_cb = cb;
    cg__log_max = max_level;
    log_arg = arg;
}

void cg__log_emit(enum cg_log_level lvl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (cg__log_cb)
        cg__log_cb(lvl, buf, log_arg);
}

bool cg__prefix_ci(const char *s, size_t n, const char *prefix)
{
    size_t i;
    for (i = 0; prefix[i]; i++) {
        char a, b;
        if (i >= n)
            return false;
        a = s[i];
        b = prefix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

const char *cg__shown(const char *s, size_t n, char *buf, size_t cap)
{
    size_t i, max = cap - 4;
    for (i = 0; i < n && i < max; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > max) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

void cg__trim_span(const char **s, size_t *n)
{
    while (*n && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_blank((*s)[*n - 1]))
        (*n)--;
}
