/* SIP requests from the network (the parser behind its limits), stream
 * framing and response building. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_sip_req r;
    const char *why;
    size_t skip;
    long n;
    char *out;
    size_t outlen;
    n = cg_sip_frame((const char *)data, size, &skip);
    if (n > 0 && (size_t)n + skip > size)
        abort();
    if (cg_sip_parse_request((const char *)data, size, &r, &why) == CG_OK ||
        cg_sip_req_answerable(&r)) {
        const char *extra[] = {"Cidguard-Action: allow"};
        if (cg_sip_response(&r, 302, "Moved Temporarily", extra, 1, &out, &outlen) == CG_OK) {
            if (strlen(out) != outlen)
                abort();
            free(out);
        }
    }
    cg_sip_req_clear(&r);
    return 0;
}
