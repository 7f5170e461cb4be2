/*
 * The policy, rule by rule, and the table of tests/vectors/policy/cases.txt:
 * (call, lists, verdict) -> decision, in a form a person can read.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#ifndef CG_VECTORS
#define CG_VECTORS "tests/vectors"
#endif

static int reported;

static void report_cb(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    (void)file;
    (void)line;
    (void)msg;
    reported++;
}

static struct cg_policy *load(void)
{
    struct cg_policy_config cfg = {.uk_rules = true, .nanp_rules = true, .roaming_447 = true,
                                   .min_attest_uk = 'B'};
    struct cg_policy *p;
    assert_int_equal(cg_policy_new(&p, &cfg), CG_OK);
    reported = 0;
    assert_int_equal(cg_policy_load_protected(p, CG_VECTORS "/policy/protected.csv", report_cb, NULL), CG_OK);
    assert_int_equal(cg_policy_load_dno(p, CG_VECTORS "/policy/dno.csv", report_cb, NULL), CG_OK);
    assert_int_equal(cg_policy_load_ingress(p, CG_VECTORS "/policy/ingress.csv", report_cb, NULL), CG_OK);
    assert_int_equal(cg_policy_load_ofcom(p, CG_VECTORS "/policy/ofcom_sample.csv", report_cb, NULL), CG_OK);
    assert_int_equal(reported, 2); /* the two bad lines, each reported, the rest loaded */
    return p;
}

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    while (s[i] == ' ')
        i++;
    memmove(s, s + i, n - i + 1);
}

static void test_case_table(void **state)
{
    struct cg_policy *p = load();
    FILE *f = fopen(CG_VECTORS "/policy/cases.txt", "r");
    char line[512];
    int n = 0, lineno = 0;
    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        char *col[7], *s = line, *arrow;
        struct cg_verdict v;
        struct cg_policy_call call = {0};
        struct cg_decision d;
        char got[256];
        int i;
        bool intl;
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        arrow = strstr(line, "||");
        assert_non_null(arrow);
        *arrow = '|';
        arrow[1] = ' ';
        for (i = 0; i < 7; i++) {
            col[i] = s;
            s = i < 6 ? strchr(s, '|') : NULL;
            if (i < 6) {
                assert_non_null(s);
                *s++ = '\0';
            }
            trim(col[i]);
        }
        memset(&v, 0, sizeof v);
        v.verstat = !strcmp(col[1], "passed")   ? CG_VERSTAT_PASSED
                    : !strcmp(col[1], "failed") ? CG_VERSTAT_FAILED
                                                : CG_VERSTAT_NONE;
        v.attest = col[2][0] == '-' ? 0 : col[2][0];
        if (col[3][0] != '-')
            snprintf(v.spc, sizeof v.spc, "%s", col[3]);
        call.verdict = &v;
        call.caller = col[0];
        call.ingress = col[4][0] == '-' ? NULL : cg_policy_ingress(p, col[4], NULL, &intl);
        call.international = call.ingress && intl;
        assert_int_equal(cg_policy_decide(p, NULL, &call, &d), CG_OK);
        cg_decision_reasons(&d, got, sizeof got);
        if (strcmp(cg_action_str(d.action), col[5]) != 0 || strcmp(got, col[6]) != 0)
            fail_msg("cases.txt:%d %s: got %s [%s], want %s [%s]", lineno, col[0],
                     cg_action_str(d.action), got, col[5], col[6]);
        if (d.reasons & (1u << CG_PR_BRAND))
            assert_true(d.brand[0] != '\0');
        else
            assert_string_equal(d.brand, "");
        n++;
    }
    fclose(f);
    assert_true(n >= 20);
    cg_policy_free(p);
}

static void test_ingress_by_address(void **state)
{
    struct cg_policy *p = load();
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    bool intl;
    (void)state;
    inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
    assert_string_equal(cg_policy_ingress(p, NULL, &a, &intl), "intl-gw-1");
    assert_true(intl);
    inet_pton(AF_INET, "198.51.100.77", &a.sin_addr);
    assert_string_equal(cg_policy_ingress(p, NULL, &a, &intl), "uk-peer");
    assert_false(intl);
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    assert_string_equal(cg_policy_ingress(p, NULL, &a6, &intl), "intl-gw-1");
    /* the trunk group wins over the address */
    assert_string_equal(cg_policy_ingress(p, "uk-peer", &a6, &intl), "uk-peer");
    inet_pton(AF_INET, "203.0.113.9", &a.sin_addr);
    assert_null(cg_policy_ingress(p, NULL, &a, &intl));
    assert_null(cg_policy_ingress(p, "unknown-trunk", NULL, &intl));
    cg_policy_free(p);
}

static void test_replay(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A'};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &v, .caller = "14155550100", .sig = sig,
                               .siglen = sizeof sig, .now = 1000};
    struct cg_decision d;
    (void)state;
    memset(sig, 7, sizeof sig);
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    c.call_id = "call-1@a";
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_false(d.reasons & (1u << CG_PR_REPLAY));
    /* the same call again (retransmission, fork): not a replay */
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_false(d.reasons & (1u << CG_PR_REPLAY));
    /* the same PASSporT under another Call-ID inside the window: replay */
    c.call_id = "call-2@b";
    c.now = 1030;
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_REPLAY));
    assert_int_equal(d.action, CG_ACTION_BLOCK);
    assert_int_equal(d.verstat, CG_VERSTAT_FAILED);
    /* after the window it is a new sighting (and stale anyway) */
    c.call_id = "call-3@c";
    c.now = 1100;
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_false(d.reasons & (1u << CG_PR_REPLAY));
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* A list from memory (as stored in Redis): same rules, same reports. */
static int last_line;
static void line_cb(const char *file, int line, const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
    assert_string_equal(file, "redis:dno");
    last_line = line;
    reported++;
}

static void test_list_text(void **state)
{
    static const char text[] = "number,note\n448081570000,helpline\nnot-a-number,x\n";
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A'};
    struct cg_policy_call c = {.verdict = &v, .caller = "448081570000"};
    struct cg_decision d;
    (void)state;
    assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){0}), CG_OK);
    reported = 0;
    assert_int_equal(cg_policy_load_list_text(p, CG_LIST_DNO, "redis:dno", text, strlen(text),
                                              line_cb, NULL),
                     CG_OK);
    assert_int_equal(reported, 1);
    assert_int_equal(last_line, 3);
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_DNO));
    assert_int_equal(cg_policy_load_list_text(p, CG_LIST__COUNT, "x", text, 3, NULL, NULL),
                     CG_EINVAL);
    assert_string_equal(cg_list_name(CG_LIST_INGRESS), "ingress");
    cg_policy_free(p);
}

/* NANP assignment: NANPA's NPA report and CO-code status files. */
static void test_nanp_assignment(void **state)
{
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A'};
    struct cg_policy_call c = {.verdict = &v};
    struct cg_decision d;
    static const struct {
        const char *tn;
        uint32_t want;
    } cases[] = {
        {"12042000123", 0},                                      /* 204-200 in service */
        {"12042010123", 1u << CG_PR_NANP_UNASSIGNED},            /* 204-201 available */
        {"12042020123", 1u << CG_PR_NANP_UNASSIGNED},            /* moratorium */
        {"12042030123", 0},                                      /* not listed: NPA in service */
        {"12125550100", 1u << CG_PR_NANP_ASSIGNMENT_UNKNOWN},    /* no CO-code data for 212 */
        {"14565550100", 1u << CG_PR_NANP_UNASSIGNED},            /* NPA not in service */
        {"19995550100", 1u << CG_PR_NANP_INVALID},               /* x9x NPA: structure */
    };
    size_t i;
    (void)state;
    assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){.nanp_rules = true}), CG_OK);
    reported = 0;
    assert_int_equal(cg_policy_load_nanpa(p, CG_VECTORS "/policy/nanpa_sample.csv", report_cb, NULL),
                     CG_OK);
    assert_int_equal(reported, 1);
    assert_int_equal(cg_policy_load_cocodes(p, CG_VECTORS "/policy/cocodes_sample.csv", report_cb,
                                            NULL),
                     CG_OK);
    assert_int_equal(reported, 1);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c.caller = cases[i].tn;
        assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
        if ((d.reasons & ~(1u << CG_PR_BRAND)) != cases[i].want)
            fail_msg("%s: reasons %#x, want %#x", cases[i].tn, d.reasons, cases[i].want);
    }
    cg_policy_free(p);
}

/* Findings from the shared store (Redis): its replay verdict replaces the
 * local one (it alone knows which Call-ID came first across daemons); rate
 * findings add to the local ones. */
static void test_shared_findings(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A'};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &v, .caller = "14155550100", .sig = sig,
                               .siglen = sizeof sig, .now = 1000, .call_id = "seen-elsewhere@b"};
    struct cg_decision d;
    (void)state;
    memset(sig, 9, sizeof sig);
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    /* another daemon saw this PASSporT first, under another Call-ID */
    c.has_shared = true;
    c.shared = 1u << CG_PR_REPLAY;
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_REPLAY));
    /* the original call's fork reaches this daemon: local state saw the
     * replay's Call-ID first, but the shared store says it is the original */
    c.call_id = "original@a";
    c.shared = 0;
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_false(d.reasons & (1u << CG_PR_REPLAY));
    /* without the shared store, local state decides (and remembers) */
    c.has_shared = false;
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_REPLAY));
    /* shared rate findings are reported; other bits are ignored */
    c.has_shared = true;
    c.call_id = "seen-elsewhere@b";
    c.shared = cg_redis_observe_result(0, 1, 1) | (1u << CG_PR_DNO);
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_RATE_CALLS));
    assert_true(d.reasons & (1u << CG_PR_RATE_NUMBERS));
    assert_false(d.reasons & (1u << CG_PR_DNO));
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* The Redis command for a call: keys and arguments in the script's order. */
static void test_shared_command(void **state)
{
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "SPC1"};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &v, .caller = "447400012345", .ingress = "peer-1",
                               .sig = sig, .siglen = sizeof sig, .now = 1700000000,
                               .call_id = "abc@host"};
    struct cg_redis_cmd cmd;
    struct cg_redis_addr a;
    (void)state;
    memset(sig, 0xab, sizeof sig);
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 10, 5));
    assert_int_equal(cmd.argc, CG_SHARED_ARGC);
    assert_string_equal(cmd.argv[0], "EVALSHA");
    assert_string_equal(cmd.argv[1], cg_redis_script_sha());
    assert_int_equal(strlen(cg_redis_script_sha()), 40);
    assert_string_equal(cmd.argv[3], "cidguard:r:abababababababababababababababab");
    assert_string_equal(cmd.argv[4], "cidguard:ic:peer-1");
    assert_string_equal(cmd.argv[5], "cidguard:in:peer-1");
    assert_string_equal(cmd.argv[6], "cidguard:sc:SPC1");
    assert_string_equal(cmd.argv[7], "cidguard:sn:SPC1");
    assert_string_equal(cmd.argv[8], "abc@host");
    assert_string_equal(cmd.argv[9], "1700000000");
    assert_string_equal(cmd.argv[10], "65");
    assert_string_equal(cmd.argv[11], "447400012345");
    assert_string_equal(cmd.argv[12], "10");
    assert_string_equal(cmd.argv[13], "5");
    assert_int_equal(cmd.argvlen[4], strlen(cmd.argv[4]));
    /* rates off: no rate keys; no signature either: nothing to send */
    assert_true(cg_redis_observe_cmd(&cmd, "x:", &c, 65, 0, 0));
    assert_string_equal(cmd.argv[3], "x:r:abababababababababababababababab");
    assert_string_equal(cmd.argv[4], "");
    assert_string_equal(cmd.argv[6], "");
    c.sig = NULL;
    assert_false(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0));
    /* URLs */
    assert_int_equal(cg_redis_parse_url("redis://10.0.0.5", &a), CG_OK);
    assert_string_equal(a.host, "10.0.0.5");
    assert_int_equal(a.port, 6379);
    assert_int_equal(cg_redis_parse_url("redis://:s3cret@cache.example:7000/2", &a), CG_OK);
    assert_string_equal(a.host, "cache.example");
    assert_string_equal(a.password, "s3cret");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 2);
    assert_int_equal(cg_redis_parse_url("http://x", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:99999", &a), CG_EINVAL);
    assert_int_equal(cg_redis_parse_url("redis://h:1/99", &a), CG_EINVAL);
    assert_int_equal(cg_list_from_name("protected"), CG_LIST_PROTECTED);
    assert_int_equal(cg_list_from_name("nope"), -1);
}

static void test_rates(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'C', .spc = "GW9"};
    struct cg_policy_call c = {.verdict = &v, .ingress = "intl-gw-1", .now = 5000};
    struct cg_decision d;
    char num[32];
    int i;
    (void)state;
    assert_int_equal(cg_policy_state_new(&s, 65, 10, 3), CG_OK);
    /* 3 distinct numbers: fine; the 4th trips the distinct-numbers window */
    for (i = 0; i < 4; i++) {
        snprintf(num, sizeof num, "3312345678%d", i);
        c.caller = num;
        assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
        assert_int_equal(!!(d.reasons & (1u << CG_PR_RATE_NUMBERS)), i == 3);
    }
    /* same number repeatedly: the calls-per-minute window trips after 10 */
    c.caller = "33123456780";
    for (i = 4; i < 12; i++) {
        assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
        assert_int_equal(!!(d.reasons & (1u << CG_PR_RATE_CALLS)), i >= 10);
    }
    assert_int_equal(d.action, CG_ACTION_LABEL);
    /* a minute later the windows are empty again */
    c.now += 61;
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_false(d.reasons & ((1u << CG_PR_RATE_CALLS) | (1u << CG_PR_RATE_NUMBERS)));
    cg_policy_state_free(s);
    cg_policy_free(p);
}

static void test_real_ofcom_data(void **state)
{
    const char *shared = getenv("CG_SHARED");
    struct cg_policy_config cfg = {.uk_rules = true};
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v};
    struct cg_decision d;
    char path[512];
    const char *files[] = {"ofcom_S3.csv", "ofcom_S5.csv", "ofcom_S7.csv", "ofcom_S8.csv",
                           "ofcom_S9.csv"};
    size_t i;
    (void)state;
    if (!shared)
        skip();
    assert_int_equal(cg_policy_new(&p, &cfg), CG_OK);
    for (i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/data/%s", shared, files[i]);
        if (cg_policy_load_ofcom(p, path, NULL, NULL) != CG_OK) {
            cg_policy_free(p);
            skip();
        }
    }
    c.caller = "447700900123"; /* the drama range: Protected */
    cg_policy_decide(p, NULL, &c, &d);
    assert_true(d.reasons & (1u << CG_PR_UK_UNALLOCATED));
    c.caller = "447000012345"; /* 07000 0: allocated */
    cg_policy_decide(p, NULL, &c, &d);
    assert_false(d.reasons & (1u << CG_PR_UK_UNALLOCATED));
    c.caller = "442079460000"; /* geographic: no S1 file, unknown */
    cg_policy_decide(p, NULL, &c, &d);
    assert_true(d.reasons & (1u << CG_PR_UK_ALLOCATION_UNKNOWN));
    cg_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_table),   cmocka_unit_test(test_ingress_by_address),
        cmocka_unit_test(test_replay),       cmocka_unit_test(test_rates),
        cmocka_unit_test(test_real_ofcom_data), cmocka_unit_test(test_shared_findings),
        cmocka_unit_test(test_shared_command), cmocka_unit_test(test_nanp_assignment),
        cmocka_unit_test(test_list_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
