/*
 * The exempt origins (exempt.h): the items turned into origin keys as the
 * behaviour table writes them, sorted once, and looked up with bsearch.
 * The lookup runs only for an origin already in campaign behaviour, and
 * only when the list is not empty.
 */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"
#include "exempt.h"

struct cgd_exempt {
    size_t n;
    char **keys; /* sorted, into text */
    char text[];
};

static int by_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cgd_exempt_build(struct cgd_exempt **out, const char *list)
{
    struct cgd_exempt *ex;
    const char *p;
    char *t;
    size_t n, len = strlen(list);
    *out = NULL;
    if (!len)
        return 0;
    for (p = list, n = 1; (p = strchr(p, ';')); p++)
        n++;
    /* an item grows by at most "spc:" ("ingress:" shrinks to "in:") */
    if (!(ex = calloc(1, sizeof *ex + len + 4 * n + 1)) ||
        !(ex->keys = calloc(n, sizeof(char *)))) {
        free(ex);
        return -1;
    }
    t = ex->text;
    for (p = list; *p; p += *p == ';') {
        size_t k = strcspn(p, ";");
        if (!k) /* an empty item (config.c drops them; the API need not rely on it) */
            continue;
        ex->keys[ex->n++] = t;
        if (strncmp(p, "ingress:", 8) == 0) {
            memcpy(t, "in:", 3);
            memcpy(t + 3, p + 8, k - 8);
            t += 3 + k - 8;
        } else {
            memcpy(t, "spc:", 4);
            memcpy(t + 4, p, k);
            t += 4 + k;
        }
        *t++ = '\0';
        p += k;
    }
    qsort(ex->keys, ex->n, sizeof *ex->keys, by_key);
    *out = ex;
    return 0;
}

void cgd_exempt_free(struct cgd_exempt *ex)
{
    if (ex)
        free(ex->keys);
    free(ex);
}

static bool find(const struct cgd_exempt *ex, const char *key)
{
    return bsearch(&key, ex->keys, ex->n, sizeof *ex->keys, by_key) != NULL;
}

bool cgd_exempt_has(const struct cgd_exempt *ex, const char *origin)
{
    char spc[sizeof "spc:" + CG_SPC_MAX];
    const char *slash;
    size_t n;
    if (!ex)
        return false;
    if (find(ex, origin))
        return true;
    /* an account of an SPC exempt whole: its key without the origid (an
     * SPC is letters and digits, so the first '/' ends it) */
    if (strncmp(origin, "spc:", 4) != 0 || !(slash = strchr(origin + 4, '/')) ||
        (n = (size_t)(slash - origin)) >= sizeof spc)
        return false;
    memcpy(spc, origin, n);
    spc[n] = '\0';
    return find(ex, spc);
}
