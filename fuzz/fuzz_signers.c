/* The signers file parser, and stable origids.  Key and certificate paths
 * in the input name files that mostly do not exist (the loader reads only
 * regular files, so no device or FIFO can block a run): what is fuzzed is
 * the CSV, the names, the URLs and the path resolution.  Every signer
 * loaded must be found by its name.  The input split at its first NUL
 * into a customer and an ingress also gives an origid, which must be a
 * version-8 UUID and the same twice. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/error.h"
#include "cidguard/signers.h"

static const unsigned char secret[32] = "fuzz-origid-secret-0123456789ab";

static void check_origid(const unsigned char *data, size_t size)
{
    char a[CG_ORIGID_INPUT_MAX + 1], b[CG_ORIGID_INPUT_MAX + 1], o1[37], o2[37];
    const unsigned char *nul = memchr(data, 0, size);
    size_t al = nul ? (size_t)(nul - data) : size, bl = nul ? size - al - 1 : 0;
    if (al > CG_ORIGID_INPUT_MAX || bl > CG_ORIGID_INPUT_MAX)
        return;
    memcpy(a, data, al);
    a[al] = '\0';
    memcpy(b, nul ? nul + 1 : data, bl);
    b[bl] = '\0';
    if (cg_origid_stable(secret, sizeof secret, a, b, o1) != CG_OK ||
        cg_origid_stable(secret, sizeof secret, a, b, o2) != CG_OK || strcmp(o1, o2) != 0 ||
        strlen(o1) != 36 || o1[14] != '8' || !strchr("89ab", o1[19]))
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_signers *s;
    size_t i;
    check_origid(data, size);
    if (cg_signers_load_text(&s, "fuzz", (const char *)data, size, NULL, NULL) != CG_OK)
        return 0;
    for (i = 0; i < cg_signers_count(s); i++) {
        const struct cg_signer_entry *e = cg_signers_at(s, i);
        if (!e->name[0] || !e->spc[0] || cg_signers_find(s, e->name) != e || !e->signer)
            abort();
    }
    cg_signers_free(s);
    return 0;
}
