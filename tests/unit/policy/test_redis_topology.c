/*
 * Redis topologies in the library (cidguard/redis.h): cluster slots (the
 * CRC16 Redis Cluster uses, hash tags), the per-slot split of a call's
 * checks, the replay-only command's answer, ACL users in URLs and node
 * lists.  The servers themselves are tested by
 * tests/integration/test_redis_{sentinel,cluster}.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/redis.h"
#include "helpers.h"

static unsigned slot_of(const char *k)
{
    return cg_redis_keyslot(k, strlen(k));
}

/* The values a Redis Cluster gives (CLUSTER KEYSLOT). */
static void test_keyslot(void **state)
{
    (void)state;
    assert_int_equal(slot_of("123456789"), 0x31c3); /* the CRC16-XMODEM check value */
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of(""), 0);
    /* a hash tag: the first {...} that is not empty */
    assert_int_equal(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    assert_int_equal(slot_of("foo{}{bar}"), 8363); /* empty: the whole key */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("x{open"), 5412); /* no closing brace: the whole key */
    assert_int_equal(slot_of("{}"), 15257);    /* an empty tag: the whole key */
    assert_int_equal(slot_of("}{bar}"), 5061); /* a '}' before the first '{' is text */
    assert_int_equal(slot_of("a{b}}c"), slot_of("b"));
    /* the length given, not the NUL: a tag past it is not seen */
    assert_int_equal(cg_redis_keyslot("bar{x}", 3), 5061);
}

static const struct cg_redis_slot_cmd *find(const struct cg_redis_cmds *c, const char *key)
{
    int g, i;
    for (g = 0; g < c->n; g++)
        for (i = 0; i < c->cmd[g].argc; i++)
            if (c->cmd[g].argvlen[i] == strlen(key) && !memcmp(c->cmd[g].argv[i], key, strlen(key)))
                return &c->cmd[g];
    return NULL;
}

/* A signed call with rates on, on a cluster: the replay key alone (a SET),
 * the ingress's two windows in one slot, the SPC's in one, every command
 * on the slot of its keys. */
static void test_cluster_split(void **state)
{
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "SPC1"};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "447400012345",
                               .ingress = "peer-1",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1700000000,
                               .call_id = "abc@host"};
    struct cg_redis_cmds *cmds = malloc(sizeof *cmds);
    const struct cg_redis_slot_cmd *r, *ing, *spc;
    int g, i;
    (void)state;
    memset(sig, 0xab, sizeof sig);
    assert_true(cg_redis_observe_cmds(cmds, NULL, &c, 65, 10, 5, 0, true));
    assert_int_equal(cmds->n, 3);
    r = find(cmds, "cidguard:r:abababababababababababababababababababababababababababababababab");
    ing = find(cmds, "cidguard:ic:{peer-1}");
    spc = find(cmds, "cidguard:sc:{SPC1}");
    assert_non_null(r);
    assert_non_null(ing);
    assert_non_null(spc);
    assert_ptr_equal(find(cmds, "cidguard:in:{peer-1}"), ing);
    assert_ptr_equal(find(cmds, "cidguard:sn:{SPC1}"), spc);
    assert_true(r->replay_only);
    assert_int_equal(r->argc, 7);
    assert_string_equal(r->argv[0], "SET");
    assert_string_equal(r->argv[2], "abc@host");
    assert_string_equal(r->argv[3], "NX");
    assert_string_equal(r->argv[4], "GET");
    assert_string_equal(r->argv[6], "65");
    assert_false(spc->replay_only);
    assert_string_equal(spc->argv[0], "EVALSHA");
    assert_string_equal(spc->argv[1], cg_redis_cluster_script_sha());
    assert_string_equal(spc->argv[2], "2");
    assert_string_equal(spc->argv[spc->argc - 1], "0001100"); /* keys 4 and 5 of 7 */
    assert_string_equal(ing->argv[ing->argc - 1], "0110000");
    for (g = 0; g < cmds->n; g++) {
        const struct cg_redis_slot_cmd *k = &cmds->cmd[g];
        int nkeys = k->replay_only ? 1 : atoi(k->argv[2]);
        for (i = 0; i < nkeys; i++) {
            const char *key = k->replay_only ? k->argv[1] : k->argv[3 + i];
            size_t len = k->replay_only ? k->argvlen[1] : k->argvlen[3 + i];
            assert_true(len > 0);
            assert_int_equal(cg_redis_keyslot(key, len), k->slot);
        }
    }
    /* the numbers window off: its keys are not passed */
    assert_true(cg_redis_observe_cmds(cmds, NULL, &c, 65, 10, 0, 0, true));
    assert_null(find(cmds, "cidguard:in:{peer-1}"));
    assert_non_null(find(cmds, "cidguard:ic:{peer-1}"));
    /* a prefix with a hash tag of its own: one slot, one script */
    assert_true(cg_redis_observe_cmds(cmds, "{cg}:", &c, 65, 10, 5, 0, true));
    assert_int_equal(cmds->n, 1);
    assert_string_equal(cmds->cmd[0].argv[2], "5");
    assert_string_equal(cmds->cmd[0].argv[cmds->cmd[0].argc - 1], "1111100");
    /* nothing to record */
    c.sig = NULL;
    c.ingress = NULL;
    assert_false(cg_redis_observe_cmds(cmds, NULL, &c, 65, 0, 0, 0, true));
    free(cmds);
}

/* Without a cluster: one command, the single server's key names, no "". */
static void test_one_command(void **state)
{
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "447400012345",
                               .presented = "442079460100",
                               .callee = "447400099000",
                               .ingress = "peer-1",
                               .now = 1000};
    struct cg_redis_cmds *cmds = malloc(sizeof *cmds);
    int i;
    (void)state;
    assert_true(cg_redis_observe_cmds(cmds, "x:", &c, 65, 10, 0, CG_POLICY_NUM_PRESENTED, false));
    assert_int_equal(cmds->n, 1);
    assert_string_equal(cmds->cmd[0].argv[0], "EVALSHA");
    assert_string_equal(cmds->cmd[0].argv[2], "2");
    assert_string_equal(cmds->cmd[0].argv[3], "x:ic:peer-1");
    assert_string_equal(cmds->cmd[0].argv[4], "x:intent:442079460100:447400099000");
    assert_string_equal(cmds->cmd[0].argv[cmds->cmd[0].argc - 1], "0100001");
    for (i = 3; i < 5; i++)
        assert_true(cmds->cmd[0].argvlen[i] > 0);
    /* the cluster script reads the same seven arguments and the mask */
    assert_non_null(strstr(cg_redis_cluster_script(), "ARGV[7]"));
    assert_string_not_equal(cg_redis_cluster_script_sha(), cg_redis_script_sha());
    free(cmds);
}

/* SET ... NX GET's answer means what the script's replay check means. */
static void test_replay_answer(void **state)
{
    uint32_t replay = 1u << CG_PR_REPLAY;
    (void)state;
    assert_int_equal(cg_redis_replay_answer(false, NULL, 0, "a@x", 3), 0); /* first use */
    assert_int_equal(cg_redis_replay_answer(true, "a@x", 3, "a@x", 3), 0); /* a retransmission */
    assert_int_equal(cg_redis_replay_answer(true, "a@x", 3, "b@x", 3), replay);
    assert_int_equal(cg_redis_replay_answer(true, "a@x", 3, "a@xy", 4), replay);
    /* a use without a Call-ID matches no other */
    assert_int_equal(cg_redis_replay_answer(true, "", 0, "", 0), replay);
    assert_int_equal(cg_redis_replay_answer(true, "a@x", 3, "", 0), replay);
}

/* An intent's key and its number's index share the presentation number's
 * slot on a cluster (one script writes both), keep their plain names on a
 * single server, and a number that is not canonical makes no key. */
static void test_intent_keys(void **state)
{
    char k[CG_REDIS_INTENT_KEY_SIZE], ix[CG_REDIS_INTENT_KEY_SIZE];
    char prefix[64];
    (void)state;
    assert_true(cg_redis_intent_key(k, sizeof k, NULL, "442079460100", "447700900501", true) > 0);
    assert_string_equal(k, "cidguard:intent:{442079460100}:447700900501");
    assert_true(cg_redis_intent_index(ix, sizeof ix, NULL, "442079460100", true) > 0);
    assert_string_equal(ix, "cidguard:intents:{442079460100}");
    assert_int_equal(cg_redis_keyslot(k, strlen(k)), cg_redis_keyslot(ix, strlen(ix)));
    assert_true(cg_redis_intent_key(k, sizeof k, "x:", "442079460100", "447700900501", false) > 0);
    assert_string_equal(k, "x:intent:442079460100:447700900501");
    assert_int_equal(cg_redis_intent_index(ix, sizeof ix, NULL, "+44", true), 0);
    assert_int_equal(cg_redis_intent_key(k, 10, NULL, "442079460100", "447700900501", true), 0);
    /* the longest prefix and numbers fit the documented size */
    memset(prefix, 'p', 63);
    prefix[63] = '\0';
    assert_true(
        cg_redis_intent_key(k, sizeof k, prefix, "123456789012345", "123456789012345", true) > 0);
}

static void test_urls_and_nodes(void **state)
{
    struct cg_redis_addr a;
    struct cg_redis_node n[CG_REDIS_NODES_MAX];
    char many[CG_REDIS_NODES_MAX * 16 + 16] = "";
    size_t nn, i;
    (void)state;
    assert_int_equal(cg_redis_parse_url("redis://cidguard:s3cret@cache.example:7000/2", &a), CG_OK);
    assert_string_equal(a.user, "cidguard");
    assert_string_equal(a.password, "s3cret");
    assert_string_equal(a.host, "cache.example");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 2);
    assert_int_equal(cg_redis_parse_url("redis://:pw@h", &a), CG_OK);
    assert_string_equal(a.user, "");
    assert_string_equal(a.password, "pw");
    /* percent-encoding, an '@' left in the password, IPv6 */
    assert_int_equal(cg_redis_parse_url("redis://u%40x:p%3Aw%2F@[::1]:7001", &a), CG_OK);
    assert_string_equal(a.user, "u@x");
    assert_string_equal(a.password, "p:w/");
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 7001);
    assert_int_equal(cg_redis_parse_url("redis://u:a@b@h:1", &a), CG_OK);
    assert_string_equal(a.password, "a@b");
    assert_string_equal(a.host, "h");
    assert_int_equal(cg_redis_parse_url("redis://u:%zz@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://u:%00@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://u:%4@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://user@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://[::1", &a), CG_EINVAL);
    /* an escape is '%' and two hex digits, nothing strtol would also take */
    assert_int_equal(cg_redis_parse_url("redis://u:%+1@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://u:% 1@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://u:%-1@h", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://u:%4a%4A@h", &a), CG_OK);
    assert_string_equal(a.password, "JJ");
    /* a port or a database is digits only, in range */
    assert_int_equal(cg_redis_parse_url("redis://h:+80", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h: 80", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:65536", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:99999999999999999999", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:0", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:65535/15", &a), CG_OK);
    assert_int_equal(a.db, 15);
    assert_int_equal(cg_redis_parse_url("redis://h/16", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h/+1", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h/-1", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h/1/2", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://[]:1", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://[::1]x", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://::1:6379", &a), CG_EINVAL);
    {
        /* overlong fields: refused, never cut */
        char url[1100];
        memset(url, 0, sizeof url);
        snprintf(url, sizeof url, "redis://u:%0128d@h", 0);
        assert_int_equal(cg_redis_parse_url(url, &a), CG_EINVAL);
        snprintf(url, sizeof url, "redis://u:%0127d@h", 0);
        assert_int_equal(cg_redis_parse_url(url, &a), CG_OK);
        snprintf(url, sizeof url, "redis://%0256d:1", 0);
        assert_int_equal(cg_redis_parse_url(url, &a), CG_EINVAL);
        snprintf(url, sizeof url, "redis://%01020d", 0);
        assert_int_equal(cg_redis_parse_url(url, &a), CG_EINVAL);
    }
    /* node lists */
    assert_int_equal(cg_redis_parse_nodes(" a:1; [::1]:2 ;b.example:26379;", n, &nn), CG_OK);
    assert_int_equal(nn, 3);
    assert_string_equal(n[0].host, "a");
    assert_int_equal(n[0].port, 1);
    assert_string_equal(n[1].host, "::1");
    assert_int_equal(n[1].port, 2);
    assert_string_equal(n[2].host, "b.example");
    assert_int_equal(cg_redis_parse_nodes("", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes(";", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:0", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:1x", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes(":1", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:+1", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:-1", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:65536", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:00000000001", n, &nn), CG_OK);
    assert_int_equal(cg_redis_parse_nodes("[::1]", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("[]:1", n, &nn), CG_EINVAL);
    assert_int_equal(cg_redis_parse_nodes("a:1;;b:2", n, &nn), CG_OK); /* an empty entry */
    assert_int_equal(nn, 2);
    for (i = 0; i <= CG_REDIS_NODES_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "h%zu:1;", i);
    assert_int_equal(cg_redis_parse_nodes(many, n, &nn), CG_EINVAL); /* one too many */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyslot),        cmocka_unit_test(test_cluster_split),
        cmocka_unit_test(test_one_command),    cmocka_unit_test(test_replay_answer),
        cmocka_unit_test(test_urls_and_nodes), cmocka_unit_test(test_intent_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
