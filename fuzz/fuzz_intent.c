/* The call-intent parsers: a registration body (JSON), an import file
 * (CSV) and a keys file, from the same bytes.  What they accept must be
 * what the store and the Redis key take: canonical E.164 numbers and a
 * valid_for within the cap; every parsed batch goes into a store made
 * once, is found there, and is cancelled again. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/cidguard.h"

#define MAX 64
#define CAP 300

static struct cg_intents *store;
static struct cg_intent v[MAX];

static void check_batch(size_t n)
{
    char key[CG_INTENT_REDIS_KEY_SIZE];
    size_t i;
    if (n > MAX)
        abort();
    for (i = 0; i < n; i++)
        if (v[i].valid_for < 1 || v[i].valid_for > CAP ||
            !cg_intent_redis_key(key, sizeof key, NULL, v[i].from, v[i].to))
            abort();
    if (cg_intents_add_batch(store, v, n, 1000) != CG_OK)
        abort();
    for (i = 0; i < n; i++) {
        /* a pair repeated in the batch was replaced, not added: found once */
        if (!cg_intents_use(store, v[i].from, v[i].to, 1000))
            continue;
        cg_intents_cancel(store, v[i].from, v[i].to);
    }
    if (cg_intents_count(store) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[256];
    size_t n, bad;
    struct cg_customers *k;
    if (!store && cg_intents_new(&store, 1000, 1) != CG_OK)
        abort();
    if (cg_intents_parse_json((const char *)data, size, v, MAX, &n, CAP, err, sizeof err) ==
        CG_OK) {
        if (!n || err[0])
            abort();
        check_batch(n);
    } else if (n || !err[0]) {
        abort();
    }
    if (cg_intents_parse_csv((const char *)data, size, "fuzz", v, MAX, &n, &bad, CAP, NULL, NULL) ==
        CG_OK)
        check_batch(n);
    if (cg_intent_keys_load_text(&k, "fuzz", (const char *)data, size, NULL, NULL) == CG_OK)
        cg_customers_free(k);
    return 0;
}
