/* Campaign observations shared between daemons (cidguard/behaviour.h): a
 * line read back from Redis, which another daemon (or whoever can write to
 * the stream) wrote.  A line that decodes is encoded again to the same
 * bytes, and observed into one table kept across inputs. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/behaviour.h"
#include "cidguard/error.h"

static struct cg_behaviour *table;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_behaviour_wire w;
    struct cg_behaviour_call c;
    struct cg_behaviour_result r;
    char again[CG_BEHAVIOUR_WIRE_MAX + 1];
    size_t n;
    if (!table) {
        struct cg_behaviour_config cfg;
        cg_behaviour_config_defaults(&cfg);
        cfg.origins = 256;
        if (cg_behaviour_new(&table, &cfg) != CG_OK)
            abort();
    }
    if (cg_behaviour_call_decode((const char *)data, size, &w, &c) != CG_OK)
        return 0;
    n = cg_behaviour_call_encode(&c, again, sizeof again);
    if (n != size || memcmp(again, data, size) != 0)
        abort(); /* a line the decoder takes is the one the encoder writes */
    if (cg_behaviour_observe(table, &c, &r) != CG_OK)
        abort();
    return 0;
}
