/* Certificate bundles (PEM, as fetched from an x5u) and the hand-written
 * TNAuthList DER walker. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_chain *c;
    struct cg_tnauth a;
    const char *why;
    char *s;
    if (cg_tnauth_parse_der(data, size, &a) == CG_OK) {
        if (a.n == 0 || a.n > CG_TNAUTH_ENTRIES)
            abort();
        cg_tnauth_covers(&a, "12025550100");
    }
    if (!(s = malloc(size + 1)))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cg_chain_load_pem(&c, s, size, &why) == CG_OK) {
        if (cg_chain_info(c)->key_ok != (cg_chain_key(c) != NULL))
            abort();
        cg_chain_unref(c);
    }
    free(s);
    return 0;
}
