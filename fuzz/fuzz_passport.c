/* JWS/PASSporT decoder and the ATIS-1000082 request parser.  The input is
 * tried as a token, and as a request body. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_passport p;
    struct cg_atis_verify_req req;
    struct cg_atis_error err;
    enum cg_passport_fault fault;
    unsigned char sig[64];
    size_t signed_len;
    const char *why;
    char *s = malloc(size + 1), *text;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cg_passport_decode(s, size, &p, sig, &signed_len, &fault, &why) == CG_OK) {
        if (signed_len >= size)
            abort();
        /* what decodes must re-encode canonically (or be refused cleanly) */
        char *h, *c;
        if (cg_passport_encode(&p, &h, &c) == CG_OK) {
            free(h);
            free(c);
        }
        cg_passport_clear(&p);
    }
    if (cg_passport_part_text(s, size, 1, &text) == CG_OK)
        free(text);
    if (cg_atis_parse_verify(s, size, &cg_tn_plan_nanp, &req, &err) == CG_OK)
        cg_atis_verify_req_clear(&req);
    free(s);
    return 0;
}
