/* The policy list loaders: the operator lists (CSV, from files or as Redis
 * holds them) and the numbering data files (Ofcom, NANPA, CO codes).  The
 * same bytes are also a [redis] url and the fields of a shared-state
 * command.
 *
 * The operator lists go through cg_policy_load_list_text, which runs the
 * same line parsers as the file loaders.  The numbering data is read from
 * paths only, so the input is written to an anonymous memory file created
 * once and named through /proc/self/fd: a file on disk per input made the
 * file system most of the cost of a run. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cidguard/cidguard.h"

static int in_fd = -1;
static char in_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    in_fd = memfd_create("cg-fuzz-policy", 0);
    if (in_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const struct cg_policy_config cfg = {.uk_rules = true, .nanp_rules = true};
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "X"};
    struct cg_policy_call c = {.verdict = &v};
    struct cg_decision d;
    bool intl;
    unsigned flags;
    if (ftruncate(in_fd, 0) != 0 || pwrite(in_fd, data, size, 0) != (ssize_t)size)
        abort();
    if (cg_policy_new(&p, &cfg) != CG_OK)
        return 0;
    for (int l = 0; l < CG_LIST__COUNT; l++)
        cg_policy_load_list_text(p, (enum cg_list)l, "fuzz", (const char *)data, size, NULL, NULL);
    /* one numbering-data reader per input, picked by the first byte: each
     * opens the file, and three opens an input were most of a run's cost */
    if (size && data[0] % 3 == 0)
        cg_policy_load_ofcom(p, in_path, NULL, NULL);
    else if (size && data[0] % 3 == 1)
        cg_policy_load_nanpa(p, in_path, NULL, NULL);
    else
        cg_policy_load_cocodes(p, in_path, NULL, NULL);
    c.caller = "442079460100";
    cg_policy_decide(p, NULL, &c, &d);
    c.caller = "14155550100";
    cg_policy_decide(p, NULL, &c, &d);
    cg_policy_ingress(p, "intl-gw-1", NULL, &intl);
    /* both numbers, behind an agent's network number or not, from abroad:
     * the protected rows' intents and agents columns and the ingress's
     * roaming flag, as the lists just loaded set them */
    c.caller = "447400055001";
    c.presented = "442079460500";
    c.callee = "447400099000";
    c.international = true;
    c.ingress = cg_policy_ingress_flags(p, "roam-1", NULL, &flags);
    c.roaming_partner = flags & CG_INGRESS_ROAMING;
    c.intents = cg_policy_intents_needed(p, &c);
    cg_policy_roaming_needed(p, &c);
    cg_policy_decide(p, NULL, &c, &d);
    c = (struct cg_policy_call){.verdict = &v};
    cg_policy_free(p);
    {
        char s[600];
        struct cg_redis_addr a;
        struct cg_redis_cmd cmd;
        size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
        memcpy(s, data, n);
        s[n] = '\0';
        cg_redis_parse_url(s, &a);
        c.call_id = s;
        c.ingress = s;
        c.caller = s;
        c.presented = s;
        c.callee = s;
        c.sig = data;
        c.siglen = size;
        cg_redis_observe_cmd(&cmd, NULL, &c, 65, 10, 10,
                             CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED);
    }
    return 0;
}
