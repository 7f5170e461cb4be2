/* A fixed x5u -> chain map: the CLI's --cert and tests.  The daemon plugs
 * its own cache-and-fetch source into the same interface. */
#include <stdlib.h>
#include <string.h>

#include "cidguard/error.h"
#include "cidguard/verify.h"

#define CERTMAP_MAX 256

struct cg_certmap {
    size_t n;
    char *url[CERTMAP_MAX];
    struct cg_chain *chain[CERTMAP_MAX];
};

int cg_certmap_new(struct cg_certmap **out)
{
    return (*out = calloc(1, sizeof **out)) ? CG_OK : CG_ENOMEM;
}

void cg_certmap_free(struct cg_certmap *m)
{
    size_t i;
    if (!m)
        return;
    for (i = 0; i < m->n; i++) {
        free(m->url[i]);
        cg_chain_unref(m->chain[i]);
    }
    free(m);
}

int cg_certmap_add(struct cg_certmap *m, const char *url, struct cg_chain *chain)
{
    char *u = NULL;
    if (m->n >= CERTMAP_MAX)
        return CG_ETOOBIG;
    if (url && !(u = strdup(url)))
        return CG_ENOMEM;
    m->url[m->n] = u;
    m->chain[m->n++] = cg_chain_ref(chain);
    return CG_OK;
}

static int certmap_get_cb(void *arg, const char *x5u, struct cg_chain **out)
{
    struct cg_certmap *m = arg;
    struct cg_chain *any = NULL;
    size_t i;
    for (i = 0; i < m->n; i++) {
        if (m->url[i] && strcmp(m->url[i], x5u) == 0) {
            *out = cg_chain_ref(m->chain[i]);
            return CG_OK;
        }
        if (!m->url[i] && !any)
            any = m->chain[i];
    }
    if (!any)
        return CG_ENOTFOUND;
    *out = cg_chain_ref(any);
    return CG_OK;
}

struct cg_certsrc cg_certmap_source(struct cg_certmap *m)
{
    struct cg_certsrc s = {certmap_get_cb, m};
    return s;
}
