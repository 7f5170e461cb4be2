/* Identity header parser and telephone-number canonicalization: the first
 * things that touch bytes from the network. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_identity id;
    const char *why;
    char tn[CG_TN_MAX + 1];
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cg_identity_parse(s, size, &id, &why) == CG_OK) {
        /* the borrowed token must lie inside the input */
        if (id.token < s || id.token + id.token_len > s + size)
            abort();
    }
    cg_tn_canon(s, size, NULL, tn);
    cg_tn_canon(s, size, &cg_tn_plan_uk, tn);
    cg_tn_canon(s, size, &cg_tn_plan_nanp, tn);
    free(s);
    return 0;
}
