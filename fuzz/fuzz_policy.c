/* The policy list loaders (CSV from operators and Ofcom files): the input
 * goes through a temporary file, as the loaders read paths.  The same bytes
 * are also a [redis] url and the fields of a shared-state command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidguard/cidguard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64];
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "X"};
    struct cg_policy_call c = {.verdict = &v};
    struct cg_decision d;
    FILE *f;
    bool intl;
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/cg-fuzz-policy-%d.csv", (int)getpid());
    if (!(f = fopen(path, "wb")))
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (cg_policy_new(&p, &(struct cg_policy_config){.uk_rules = true, .nanp_rules = true}) != CG_OK)
        return 0;
    cg_policy_load_dno(p, path, NULL, NULL);
    cg_policy_load_protected(p, path, NULL, NULL);
    cg_policy_load_ingress(p, path, NULL, NULL);
    cg_policy_load_ofcom(p, path, NULL, NULL);
    for (int l = 0; l < CG_LIST__COUNT; l++) /* the same bytes as Redis would hold them */
        cg_policy_load_list_text(p, (enum cg_list)l, "fuzz", (const char *)data, size, NULL, NULL);
    c.caller = "442079460100";
    cg_policy_decide(p, NULL, &c, &d);
    c.caller = "14155550100";
    cg_policy_decide(p, NULL, &c, &d);
    cg_policy_ingress(p, "intl-gw-1", NULL, &intl);
    cg_policy_free(p);
    {
        char s[600];
        struct cg_redis_addr a;
        struct cg_shared_cmd cmd;
        size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
        memcpy(s, data, n);
        s[n] = '\0';
        cg_redis_parse_url(s, &a);
        c.call_id = s;
        c.ingress = s;
        c.caller = s;
        c.sig = data;
        c.siglen = size;
        cg_shared_observe_cmd(&cmd, NULL, &c, 65, 10, 10);
    }
    return 0;
}
