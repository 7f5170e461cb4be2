#include "core/internal.h"

size_t cg__json_depth(const char *s, size_t n)
{
    size_t i, depth = 0, max = 0;
    bool in_str = false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    return max;
}
