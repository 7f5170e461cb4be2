/* cg__strlcpy on its own, so that the core and each companion library
 * (src/core/companion.c) compile the one definition into their objects. */
#include <string.h>

#include "core/internal.h"

bool cg__strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap == 0)
        return false;
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}
