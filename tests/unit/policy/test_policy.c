/*
 * The policy, rule by rule, and the table of tests/vectors/policy/cases.txt:
 * (call, lists, verdict) -> decision, in a form a person can read.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    struct cg_policy_config cfg = {.uk_rules = true,
                                   .nanp_rules = true,
                                   .min_attest_uk = 'B',
                                   .uk_mobile_spcs = "UKMOB1;UKMOB2"};
    struct cg_policy *p;
    assert_int_equal(cg_policy_new(&p, &cfg), CG_OK);
    reported = 0;
    assert_int_equal(
        cg_policy_load_protected(p, CG_VECTORS "/policy/protected.csv", report_cb, NULL), CG_OK);
    assert_int_equal(cg_policy_load_dno(p, CG_VECTORS "/policy/dno.csv", report_cb, NULL), CG_OK);
    assert_int_equal(cg_policy_load_ingress(p, CG_VECTORS "/policy/ingress.csv", report_cb, NULL),
                     CG_OK);
    assert_int_equal(
        cg_policy_load_ofcom(p, CG_VECTORS "/policy/ofcom_sample.csv", report_cb, NULL), CG_OK);
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
        char *col[8], *s = line, *arrow, *at, *mark, pres[CG_TN_MAX + 1] = "", none[1] = "";
        struct cg_verdict v;
        struct cg_policy_call call = {0};
        struct cg_decision d;
        char got[256], got_pres[256];
        int i;
        unsigned flags = 0;
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        arrow = strstr(line, "||");
        assert_non_null(arrow);
        *arrow = '|';
        arrow[1] = ' ';
        /* seven columns, and an eighth (the presentation number's reasons)
         * when the call has a presentation number of its own */
        for (i = 0; i < 8; i++) {
            col[i] = s ? s : none;
            s = s ? strchr(s, '|') : NULL;
            if (s)
                *s++ = '\0';
            else if (i < 6)
                fail_msg("cases.txt:%d: want 7 or 8 columns", lineno);
            trim(col[i]);
        }
        /* NET/PRES: a presentation number of its own; +intent: a live call
         * intent for the call's protected numbers; +roaming: a roaming
         * check confirmed the caller */
        call.intents =
            strstr(col[0], "+intent") ? CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED : 0;
        call.roaming_confirmed =
            strstr(col[0], "+roaming") ? CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED : 0;
        if ((mark = strchr(col[0], '+')))
            *mark = '\0';
        if ((mark = strchr(col[0], '/'))) {
            *mark = '\0';
            snprintf(pres, sizeof pres, "%s", mark + 1);
            call.presented = pres;
            call.callee = "447400099000";
        }
        memset(&v, 0, sizeof v);
        v.verstat = !strncmp(col[1], "passed", 6) ? CG_VERSTAT_PASSED
                    : !strcmp(col[1], "failed")   ? CG_VERSTAT_FAILED
                                                  : CG_VERSTAT_NONE;
        /* the PASSporT signed the caller, unless "passed@ORIG" says otherwise */
        at = strchr(col[1], '@');
        snprintf(v.orig, sizeof v.orig, "%s", at ? at + 1 : col[0]);
        v.attest = col[2][0] == '-' ? 0 : col[2][0];
        if (col[3][0] != '-')
            snprintf(v.spc, sizeof v.spc, "%s", col[3]);
        call.verdict = &v;
        /* "-": no number (anonymous); "?": the caller could not be read */
        call.caller = col[0][0] == '-' || col[0][0] == '?' ? NULL : col[0];
        call.caller_unreadable = col[0][0] == '?';
        call.ingress = col[4][0] == '-' ? NULL : cg_policy_ingress_flags(p, col[4], NULL, &flags);
        call.international = call.ingress && (flags & CG_INGRESS_INTERNATIONAL);
        call.roaming_partner = call.ingress && (flags & CG_INGRESS_ROAMING);
        assert_int_equal(cg_policy_decide(p, NULL, &call, &d), CG_OK);
        cg_decision_reasons(&d, got, sizeof got);
        cg_policy_reasons_str(d.presented_reasons, got_pres, sizeof got_pres);
        if (strcmp(cg_action_str(d.action), col[5]) != 0 || strcmp(got, col[6]) != 0 ||
            strcmp(got_pres, col[7]) != 0)
            fail_msg("cases.txt:%d %s: got %s [%s] [%s], want %s [%s] [%s]", lineno, col[0],
                     cg_action_str(d.action), got, got_pres, col[5], col[6], col[7]);
        /* every finding is about one of the numbers, or about the call */
        assert_int_equal(d.reasons & (d.caller_reasons | d.presented_reasons),
                         d.caller_reasons | d.presented_reasons);
        /* the brand goes with the number the callee sees */
        if ((call.presented ? d.presented_reasons : d.caller_reasons) &
            (1u << CG_PR_BRAND | 1u << CG_PR_BRAND_INTENT | 1u << CG_PR_BRAND_AGENT))
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
    unsigned flags;
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
    assert_string_equal(cg_policy_ingress(p, NULL, &a, &intl), "callcentre-1");
    inet_pton(AF_INET, "192.0.2.50", &a.sin_addr);
    assert_string_equal(cg_policy_ingress_flags(p, NULL, &a, &flags), "roam-1");
    assert_int_equal(flags, CG_INGRESS_INTERNATIONAL | CG_INGRESS_ROAMING);
    inet_pton(AF_INET, "198.18.0.1", &a.sin_addr);
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
    struct cg_policy_call c = {
        .verdict = &v, .caller = "14155550100", .sig = sig, .siglen = sizeof sig, .now = 1000};
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

/* (r, s) -> (r, n - s) on P-256: the same message, a second valid signature. */
static void malleate(unsigned char sig[64])
{
    static const unsigned char n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                        0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    int i, borrow = 0;
    for (i = 31; i >= 0; i--) {
        int d = n[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (unsigned char)(d + (borrow ? 256 : 0));
    }
}

static bool replayed(const struct cg_policy *p, struct cg_policy_state *s,
                     const struct cg_policy_call *c)
{
    struct cg_decision d;
    assert_int_equal(cg_policy_decide(p, s, c, &d), CG_OK);
    return d.reasons & (1u << CG_PR_REPLAY);
}

/* A used token re-sent with s replaced by n - s is the same token. */
static void test_replay_keyed_on_r(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .orig = "14155550100"};
    unsigned char sig[64], twin[64];
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "14155550100",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1000,
                               .call_id = "first@a"};
    struct cg_redis_cmd a, b;
    int i;
    (void)state;
    for (i = 0; i < 64; i++)
        sig[i] = (unsigned char)(i * 7 + 3);
    memcpy(twin, sig, sizeof twin);
    malleate(twin);
    assert_memory_not_equal(sig + 32, twin + 32, 32);
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    assert_false(replayed(p, s, &c));
    c.sig = twin;
    c.call_id = "second@b";
    assert_true(replayed(p, s, &c));
    /* the shared store's key is r, whole, whatever s is */
    c.sig = sig;
    assert_true(cg_redis_observe_cmd(&a, NULL, &c, 65, 0, 0, 0));
    c.sig = twin;
    assert_true(cg_redis_observe_cmd(&b, NULL, &c, 65, 0, 0, 0));
    assert_string_equal(a.argv[3], b.argv[3]);
    assert_int_equal(strlen(a.argv[3]), strlen("cidguard:r:") + 64);
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* Every entry point detects replays: a call without a Call-ID (an HTTP
 * request that gave none) can be told from no other use of the token. */
static void test_replay_without_call_id(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .orig = "14155550100"};
    unsigned char sig[64];
    struct cg_policy_call c = {
        .verdict = &v, .caller = "14155550100", .sig = sig, .siglen = sizeof sig, .now = 1000};
    struct cg_redis_cmd cmd;
    (void)state;
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    /* none, then none again */
    memset(sig, 1, sizeof sig);
    assert_false(replayed(p, s, &c));
    assert_true(replayed(p, s, &c));
    /* none, then a Call-ID */
    memset(sig, 2, sizeof sig);
    c.call_id = NULL;
    assert_false(replayed(p, s, &c));
    c.call_id = "x@a";
    assert_true(replayed(p, s, &c));
    /* a Call-ID, then none ("" is none too) */
    memset(sig, 3, sizeof sig);
    c.call_id = "y@a";
    assert_false(replayed(p, s, &c));
    assert_false(replayed(p, s, &c)); /* a retransmission */
    c.call_id = NULL;
    assert_true(replayed(p, s, &c));
    c.call_id = "";
    assert_true(replayed(p, s, &c));
    /* the shared store gets the token with an empty Call-ID */
    c.call_id = NULL;
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
    assert_string_equal(cmd.argv[3], "cidguard:r:"
                                     "03030303030303030303030303030303"
                                     "03030303030303030303030303030303");
    assert_string_equal(cmd.argv[8], "");
    assert_int_equal(cmd.argvlen[8], 0);
    assert_true(strstr(cg_redis_script(), "old == ''") != NULL);
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* A token whose iat lies ahead is accepted until iat + freshness + skew:
 * it is remembered as long. */
static void test_replay_memory_follows_iat(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {
        .verstat = CG_VERSTAT_PASSED, .attest = 'A', .orig = "14155550100", .iat = 1060};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "14155550100",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1000,
                               .call_id = "first@a"};
    struct cg_redis_cmd cmd;
    (void)state;
    memset(sig, 0x5a, sizeof sig);
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    assert_false(replayed(p, s, &c));
    c.call_id = "again@b";
    c.now = 1067;
    assert_true(replayed(p, s, &c));
    c.now = 1124;
    assert_true(replayed(p, s, &c));
    c.now = 1125; /* iat + 65: the verifier no longer accepts it */
    assert_false(replayed(p, s, &c));
    /* the shared store keeps it as long: 60 s ahead + 65 s */
    c.now = 1000;
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
    assert_string_equal(cmd.argv[12], "125");
    v.iat = 990; /* in the past: the window from now */
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
    assert_string_equal(cmd.argv[12], "65");
    v.iat = 100000; /* further ahead than any verifier accepts: bounded */
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
    assert_string_equal(cmd.argv[12], "130");
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* A forged token carrying a genuine token's signature bytes must not make
 * the genuine call a replay: only verified tokens are remembered. */
static void test_replay_records_verified_only(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict forged = {.verstat = CG_VERSTAT_FAILED, .reason = CG_R_SIGNATURE};
    struct cg_verdict good = {.verstat = CG_VERSTAT_PASSED, .attest = 'A', .orig = "14155550100"};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &forged,
                               .caller = "14155550100",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1000,
                               .call_id = "forged@x"};
    struct cg_redis_cmd cmd;
    (void)state;
    memset(sig, 0x42, sizeof sig);
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    assert_false(replayed(p, s, &c));
    assert_false(replayed(p, s, &c));
    /* nothing for the shared store to record; with rates, no replay key */
    assert_false(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
    c.ingress = "uk-peer";
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 10, 0, 0));
    assert_string_equal(cmd.argv[3], "");
    assert_string_equal(cmd.argv[10], "");
    /* the genuine call */
    c.verdict = &good;
    c.call_id = "genuine@y";
    c.now = 1001;
    assert_false(replayed(p, s, &c));
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 10, 0, 0));
    assert_string_not_equal(cmd.argv[3], "");
    /* and a real replay of it still is one */
    c.call_id = "replay@z";
    assert_true(replayed(p, s, &c));
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* A replayed token verifies nothing: no brand, not even for its own number. */
static void test_replay_loses_brand(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *s;
    struct cg_verdict v = {
        .verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "BANK1", .orig = "442079460100"};
    unsigned char sig[64];
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "442079460100",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1000,
                               .call_id = "bank@a"};
    struct cg_decision d;
    (void)state;
    memset(sig, 0x77, sizeof sig);
    assert_int_equal(cg_policy_state_new(&s, 65, 0, 0), CG_OK);
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_BRAND));
    c.call_id = "fraud@b";
    assert_int_equal(cg_policy_decide(p, s, &c, &d), CG_OK);
    assert_true(d.reasons & (1u << CG_PR_REPLAY));
    assert_false(d.reasons & (1u << CG_PR_BRAND));
    assert_true(d.reasons & (1u << CG_PR_PROTECTED_NO_INTENT));
    assert_string_equal(d.brand, "");
    cg_policy_state_free(s);
    cg_policy_free(p);
}

/* An unreadable caller is a finding of its own, blocked by default; it can
 * be relaxed like any other reason. */
static void test_caller_unreadable(void **state)
{
    struct cg_policy_config cfg = {.uk_rules = true};
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v, .caller_unreadable = true};
    struct cg_decision d;
    char buf[128];
    int i;
    (void)state;
    assert_string_equal(cg_policy_reason_code(CG_PR_CALLER_UNREADABLE), "caller_unreadable");
    assert_int_equal(cg_policy_reason_action(CG_PR_CALLER_UNREADABLE), CG_ACTION_BLOCK);
    p = load();
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_BLOCK);
    cg_decision_reasons(&d, buf, sizeof buf);
    assert_string_equal(buf, "no_tn_validation,caller_unreadable");
    cg_policy_free(p);
    for (i = 0; i < CG_PR__COUNT; i++)
        assert_int_equal(cg_policy_config_action(&cfg, (enum cg_policy_reason)i),
                         cg_policy_reason_action((enum cg_policy_reason)i));
    assert_int_equal(cg_policy_config_set_action(&cfg, CG_PR_CALLER_UNREADABLE, CG_ACTION_LABEL),
                     CG_OK);
    assert_int_equal(cg_policy_config_action(&cfg, CG_PR_CALLER_UNREADABLE), CG_ACTION_LABEL);
    assert_int_equal(cg_policy_config_set_action(&cfg, CG_PR__COUNT, CG_ACTION_LABEL), CG_EINVAL);
    assert_int_equal(cg_policy_config_set_action(&cfg, CG_PR_CALLER_UNREADABLE, CG_ACTION__COUNT),
                     CG_EINVAL);
    assert_int_equal(cg_policy_config_action(&cfg, CG_PR__COUNT), CG_ACTION_ALLOW);
    assert_int_equal(cg_policy_new(&p, &cfg), CG_OK);
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_LABEL);
    cg_policy_free(p);
}

/* What a host does with the headers: the number rules still apply to a
 * caller written with a display name that holds '<', a 600-byte display
 * name or 600 bytes of parameters; what cannot be read is blocked. */
static void test_caller_from_headers(void **state)
{
    struct cg_policy *p = load();
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_decision d;
    char big[1024], tn[CG_TN_MAX + 1];
    const char *heads[4];
    size_t i;
    (void)state;
    heads[0] = "\"HMRC <Fraud Team>\" <sip:+448081570000@hmrc.example>;tag=1";
    snprintf(big, sizeof big, "\"%0600d\" <sip:+448081570000@x>", 0);
    heads[1] = big;
    heads[2] = "<sip:+448081570000@x;a=000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000"
               "000000000000000000000000000000000000000000>";
    heads[3] = "<tel:+448081570000>, <sip:+448081570000@x;user=phone>";
    for (i = 0; i < 4; i++) {
        struct cg_policy_call c = {.verdict = &v};
        assert_true(strlen(heads[i]) < 700);
        assert_int_equal(cg_tn_read(heads[i], strlen(heads[i]), &cg_tn_plan_uk, tn), CG_TN_NUMBER);
        c.caller = tn;
        assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
        if (!(d.reasons & (1u << CG_PR_DNO)) || d.action != CG_ACTION_BLOCK)
            fail_msg("%.60s: not blocked as dno", heads[i]);
    }
    {
        const char *bad = "\"HMRC <Fraud Team> <sip:+448081570000@hmrc.example>";
        struct cg_policy_call c = {.verdict = &v};
        c.caller_unreadable = cg_tn_read(bad, strlen(bad), &cg_tn_plan_uk, tn) == CG_TN_UNREADABLE;
        assert_true(c.caller_unreadable);
        assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
        assert_int_equal(d.action, CG_ACTION_BLOCK);
    }
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
    assert_int_equal(
        cg_policy_load_list_text(p, CG_LIST_DNO, "redis:dno", text, strlen(text), line_cb, NULL),
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

/* --- the list loaders' input rules ------------------------------------------------ */

/* Reports as "LINE:message|LINE:message". */
struct reports {
    char s[2048];
};

static void collect(const char *file, int line, const char *msg, void *arg)
{
    struct reports *r = arg;
    size_t n = strlen(r->s);
    (void)file;
    snprintf(r->s + n, sizeof r->s - n, "%s%d:%s", n ? "|" : "", line, msg);
}

#define NOT_E164 "number is not canonical E.164 digits (optionally ending in '*')"

/* Operator lists as text (the file loaders read the same way): what is
 * reported, and what loads. */
static void test_list_input_rules(void **state)
{
    static const struct {
        enum cg_list l;
        const char *text;
        size_t len; /* 0: strlen(text) */
        const char *reports;
        const char *listed;   /* a DNO or protected number, or an ingress, that loads */
        const char *brand;    /* protected: listed's brand; ingress: "intl" or "domestic" */
        const char *unlisted; /* a DNO number that does not */
    } rows[] = {
        /* a NUL byte spoils its own line only, and the line count stays right */
        {CG_LIST_DNO, "number\n4480\0junk\nbad\n448081570000\n", 34,
         "2:line holds a NUL byte|3:" NOT_E164, "448081570000", NULL, NULL},
        {CG_LIST_DNO, "448081570001\n\0\n448081570000\n", 28, "2:line holds a NUL byte",
         "448081570000", NULL, NULL},
        /* a byte-order mark before the header */
        {CG_LIST_DNO, "\xef\xbb\xbfnumber,note\n448081570000,x\n", 0, "", "448081570000", NULL,
         NULL},
        /* the header after comments, and CRLF line ends */
        {CG_LIST_DNO, "# the DNO list\r\nnumber,note\r\n448081570000,x\r\n", 0, "", "448081570000",
         NULL, NULL},
        /* E.164 numbers have at most 15 digits, prefixes too */
        {CG_LIST_DNO, "number\n448081570000123\n4480815700001234\n4480815700001234*\n", 0,
         "3:number longer than 15 digits (an E.164 number has at most 15)|4:number longer than "
         "15 digits (an E.164 number has at most 15)",
         "448081570000123", NULL, "4480815700001234"},
        /* no header: a first row whose name starts like one is data */
        {CG_LIST_INGRESS, "ingress-intl,yes,192.0.2.9,x\n", 0, "", "ingress-intl", "intl", NULL},
        {CG_LIST_INGRESS, "Ingress,international\ningress-intl,yes\n", 0, "", "ingress-intl",
         "intl", NULL},
        /* a repeated row: the first stands, the repeat is reported */
        {CG_LIST_INGRESS, "ingress,international\nuk-peer,no\nuk-peer,yes\n", 0,
         "3:ingress already listed on line 2", "uk-peer", "domestic", NULL},
        {CG_LIST_PROTECTED,
         "number,brand,spcs\n442079460100,Bank A,S1\n4420794601*,Bank P,S1\n"
         "442079460100,Bank B,S2\n4420794601*,Bank Q,S2\n",
         0, "4:number already listed on line 2|5:number already listed on line 3", "442079460100",
         "Bank A", NULL},
        {CG_LIST_PROTECTED, "number,brand,spcs\n442079460100,Bank A,S1,A,accept,4480815700001234\n",
         0, "2:an agent is a number, a prefix ending in '*', ingress:NAME or customer:NAME", NULL,
         NULL, NULL},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_policy *p;
        struct reports r = {""};
        size_t len = rows[i].len ? rows[i].len : strlen(rows[i].text);
        assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){0}), CG_OK);
        assert_int_equal(
            cg_policy_load_list_text(p, rows[i].l, "t", rows[i].text, len, collect, &r), CG_OK);
        if (strcmp(r.s, rows[i].reports))
            fail_msg("row %zu: reports \"%s\", want \"%s\"", i, r.s, rows[i].reports);
        if (rows[i].listed && rows[i].l == CG_LIST_DNO) {
            struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
            struct cg_policy_call c = {.verdict = &v, .caller = rows[i].listed};
            struct cg_decision d;
            assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
            if (!(d.reasons & (1u << CG_PR_DNO)))
                fail_msg("row %zu: %s is not on the DNO list", i, rows[i].listed);
        }
        if (rows[i].unlisted) {
            struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
            struct cg_policy_call c = {.verdict = &v, .caller = rows[i].unlisted};
            struct cg_decision d;
            assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
            if (d.reasons & (1u << CG_PR_DNO))
                fail_msg("row %zu: %s is on the DNO list", i, rows[i].unlisted);
        }
        if (rows[i].listed && rows[i].l == CG_LIST_PROTECTED) {
            const char *b = cg_policy_protected_brand(p, rows[i].listed);
            if (!b || strcmp(b, rows[i].brand))
                fail_msg("row %zu: brand %s, want %s", i, b ? b : "none", rows[i].brand);
        }
        if (rows[i].listed && rows[i].l == CG_LIST_INGRESS) {
            unsigned flags;
            const char *name = cg_policy_ingress_flags(p, rows[i].listed, NULL, &flags);
            if (!name || !(flags & CG_INGRESS_INTERNATIONAL) != !strcmp(rows[i].brand, "domestic"))
                fail_msg("row %zu: ingress %s %s", i, rows[i].listed, name ? "flags" : "missing");
        }
        cg_policy_free(p);
    }
}

/* A line is at most 4,096 bytes, its newline included: one of exactly that
 * loads, one byte more is reported, and the next line loads either way. */
static void test_list_line_limit(void **state)
{
    static char text[3 * 4200];
    size_t n, k;
    int extra;
    (void)state;
    for (extra = 0; extra < 2; extra++) {
        struct cg_policy *p;
        struct reports r = {""};
        struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
        struct cg_policy_call c = {.verdict = &v};
        struct cg_decision d;
        n = (size_t)snprintf(text, sizeof text, "number,note\n448081570000,");
        k = 4095 - strlen("448081570000,") + (size_t)extra;
        memset(text + n, 'x', k);
        n += k;
        n += (size_t)snprintf(text + n, sizeof text - n, "\n448081570001\n");
        assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){0}), CG_OK);
        assert_int_equal(cg_policy_load_list_text(p, CG_LIST_DNO, "t", text, n, collect, &r),
                         CG_OK);
        assert_string_equal(r.s, extra ? "2:line longer than 4096 bytes" : "");
        c.caller = "448081570000";
        assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
        assert_int_equal(!!(d.reasons & (1u << CG_PR_DNO)), !extra);
        c.caller = "448081570001";
        assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
        assert_true(d.reasons & (1u << CG_PR_DNO));
        cg_policy_free(p);
    }
}

static char tmpdir[64];

static const char *tmp_file(const char *name, const char *text)
{
    static char path[128];
    FILE *f;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cg-policy-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (text) {
        assert_non_null(f = fopen(path, "w"));
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* What a list path may be: a regular file of at most 64 MiB.  Anything
 * else is refused before it is read, and why is reported with line 0.
 * The old reader spun on /dev/zero and blocked on a FIFO: the alarm
 * turns a hang into a failure. */
static void test_list_files(void **state)
{
    char fifo[128], big[128], missing[128];
    int (*loaders[2])(struct cg_policy *, const char *, cg_policy_report_cb,
                      void *) = {cg_policy_load_dno, cg_policy_load_ofcom};
    FILE *f;
    int i;
    (void)state;
    alarm(30);
    snprintf(fifo, sizeof fifo, "%s", tmp_file("fifo", NULL));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(big, sizeof big, "%s", tmp_file("big.csv", NULL));
    assert_non_null(f = fopen(big, "w"));
    assert_int_equal(ftruncate(fileno(f), (64 << 20) + 1), 0);
    fclose(f);
    snprintf(missing, sizeof missing, "%s", tmp_file("nonexist.csv", NULL));
    for (i = 0; i < 2; i++) {
        static const struct {
            const char *path;
            int rc;
            const char *reports;
        } rows[] = {
            {"/dev/zero", CG_EIO, "0:not a regular file"},
            {NULL /* fifo */, CG_EIO, "0:not a regular file"},
            {NULL /* tmpdir */, CG_EIO, "0:is a directory"},
            {NULL /* missing */, CG_EIO, "0:No such file or directory"},
            {NULL /* big */, CG_ETOOBIG, "0:larger than 67108864 bytes"},
        };
        const char *paths[] = {"/dev/zero", fifo, tmpdir, missing, big};
        size_t j;
        for (j = 0; j < sizeof rows / sizeof rows[0]; j++) {
            struct cg_policy *p;
            struct reports r = {""};
            assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){0}), CG_OK);
            if (loaders[i](p, paths[j], collect, &r) != rows[j].rc || strcmp(r.s, rows[j].reports))
                fail_msg("loader %d, %s: reports \"%s\"", i, paths[j], r.s);
            cg_policy_free(p);
        }
    }
    /* text pushed to Redis has the same limit */
    {
        struct cg_policy *p;
        struct reports r = {""};
        char *huge = calloc(1, (64u << 20) + 1);
        assert_non_null(huge);
        assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){0}), CG_OK);
        assert_int_equal(cg_policy_load_list_text(p, CG_LIST_DNO, "redis:dno", huge,
                                                  (64u << 20) + 1, collect, &r),
                         CG_ETOOBIG);
        assert_string_equal(r.s, "0:larger than 67108864 bytes");
        cg_policy_free(p);
        free(huge);
    }
    alarm(0);
    unlink(fifo);
    unlink(big);
    rmdir(tmpdir);
    tmpdir[0] = '\0';
}

/* The numbering data's status values: quoted or not, in any case; an
 * unknown one is reported rather than guessed; Ofcom's closed ranges are
 * allocated; a block written with its trunk 0 is the same block. */
static void test_numbering_statuses(void **state)
{
    static const struct {
        int kind; /* 0 Ofcom, 1 NANPA, 2 CO codes */
        const char *text;
        const char *reports;
        const char *tn;
        uint32_t want; /* of UK_UNALLOCATED and NANP_UNASSIGNED */
    } rows[] = {
        {0,
         "NMS Number Block: Number Block,Block Status\n7400 0,\"Allocated\"\n7401 0,allocated\n"
         "8000 00,Allocated(Closed Range)\n07402 0,Allocated\n7403 0,Bogus\n7404 0,Free\n"
         "00740 5,Allocated\n7406 0,\n",
         "6:unknown block status 'Bogus'|8:number block starts with 00|9:unknown block status ''",
         NULL, 0},
        {1,
         "File Date,11/26/2025\n\"NPA_ID\",type_of_code,IN_SERVICE\n204,x,\"Y\"\n212,x,y\n456,x,N\n"
         "457,x,maybe\n",
         "6:IN_SERVICE is 'maybe', not Y or N", NULL, 0},
        {2,
         "\"NPA\",\"CO Code (NXX)\",\"Status\"\n,,,,2025-09-12\n204,200,\"In Service\"\n"
         "204,201,available\n204,202,\"\"\n204,203,junk\n204,204,\"Assigned\"\n"
         "204,205,\"For Special Use\"\n204,206,MORATORIUM ON ASSIGNMENT\n",
         "5:unknown CO code status ''|6:unknown CO code status 'junk'", NULL, 0},
    };
    static const struct {
        int kind;
        const char *tn;
        uint32_t want;
    } probes[] = {
        {0, "447400012345", 0},
        {0, "447401012345", 0},
        {0, "448000001234", 0}, /* a closed range: still allocated */
        {0, "447402012345", 0},
        {0, "447403012345", 1u << CG_PR_UK_UNALLOCATED}, /* its row was skipped */
        {0, "447404012345", 1u << CG_PR_UK_UNALLOCATED},
        {1, "12042000123", 0},
        {1, "12122000123", 0},
        {1, "14562000123", 1u << CG_PR_NANP_UNASSIGNED},
        {2, "12042000123", 0},
        {2, "12042010123", 1u << CG_PR_NANP_UNASSIGNED},
        {2, "12042040123", 0},
        {2, "12042050123", 1u << CG_PR_NANP_UNASSIGNED},
        {2, "12042060123", 1u << CG_PR_NANP_UNASSIGNED},
    };
    int (*loaders[3])(struct cg_policy *, const char *, cg_policy_report_cb, void *) = {
        cg_policy_load_ofcom, cg_policy_load_nanpa, cg_policy_load_cocodes};
    const uint32_t mask = 1u << CG_PR_UK_UNALLOCATED | 1u << CG_PR_NANP_UNASSIGNED;
    size_t i, j;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_policy *p;
        struct reports r = {""};
        const char *path = tmp_file("numbering.csv", rows[i].text);
        assert_int_equal(
            cg_policy_new(&p, &(struct cg_policy_config){.uk_rules = true, .nanp_rules = true}),
            CG_OK);
        assert_int_equal(loaders[rows[i].kind](p, path, collect, &r), CG_OK);
        if (strcmp(r.s, rows[i].reports))
            fail_msg("kind %d: reports \"%s\", want \"%s\"", rows[i].kind, r.s, rows[i].reports);
        for (j = 0; j < sizeof probes / sizeof probes[0]; j++) {
            struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
            struct cg_policy_call c = {.verdict = &v, .caller = probes[j].tn};
            struct cg_decision d;
            if (probes[j].kind != rows[i].kind)
                continue;
            assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
            if ((d.reasons & mask) != probes[j].want)
                fail_msg("kind %d, %s: reasons %#x", rows[i].kind, probes[j].tn, d.reasons);
        }
        cg_policy_free(p);
        unlink(path);
    }
    rmdir(tmpdir);
    tmpdir[0] = '\0';
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
        {"12042000123", 0},                                   /* 204-200 in service */
        {"12042010123", 1u << CG_PR_NANP_UNASSIGNED},         /* 204-201 available */
        {"12042020123", 1u << CG_PR_NANP_UNASSIGNED},         /* moratorium */
        {"12042030123", 0},                                   /* not listed: NPA in service */
        {"12125550100", 1u << CG_PR_NANP_ASSIGNMENT_UNKNOWN}, /* no CO-code data for 212 */
        {"14565550100", 1u << CG_PR_NANP_UNASSIGNED},         /* NPA not in service */
        {"19995550100", 1u << CG_PR_NANP_INVALID},            /* x9x NPA: structure */
    };
    size_t i;
    (void)state;
    assert_int_equal(cg_policy_new(&p, &(struct cg_policy_config){.nanp_rules = true}), CG_OK);
    reported = 0;
    assert_int_equal(
        cg_policy_load_nanpa(p, CG_VECTORS "/policy/nanpa_sample.csv", report_cb, NULL), CG_OK);
    assert_int_equal(reported, 1);
    assert_int_equal(
        cg_policy_load_cocodes(p, CG_VECTORS "/policy/cocodes_sample.csv", report_cb, NULL), CG_OK);
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
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "14155550100",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1000,
                               .call_id = "seen-elsewhere@b"};
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
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "447400012345",
                               .ingress = "peer-1",
                               .sig = sig,
                               .siglen = sizeof sig,
                               .now = 1700000000,
                               .call_id = "abc@host"};
    struct cg_redis_cmd cmd;
    struct cg_redis_addr a;
    (void)state;
    memset(sig, 0xab, sizeof sig);
    assert_true(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 10, 5, 0));
    assert_int_equal(cmd.argc, CG_SHARED_ARGC);
    assert_string_equal(cmd.argv[0], "EVALSHA");
    assert_string_equal(cmd.argv[1], cg_redis_script_sha());
    assert_int_equal(strlen(cg_redis_script_sha()), 40);
    assert_string_equal(cmd.argv[3], "cidguard:r:"
                                     "abababababababababababababababab"
                                     "abababababababababababababababab");
    assert_string_equal(cmd.argv[4], "cidguard:ic:peer-1");
    assert_string_equal(cmd.argv[5], "cidguard:in:peer-1");
    assert_string_equal(cmd.argv[6], "cidguard:sc:SPC1");
    assert_string_equal(cmd.argv[7], "cidguard:sn:SPC1");
    assert_string_equal(cmd.argv[8], ""); /* no call intent asked for */
    assert_string_equal(cmd.argv[9], "");
    assert_string_equal(cmd.argv[10], "abc@host");
    assert_string_equal(cmd.argv[11], "1700000000");
    assert_string_equal(cmd.argv[12], "65");
    assert_string_equal(cmd.argv[13], "447400012345");
    assert_string_equal(cmd.argv[14], "10");
    assert_string_equal(cmd.argv[15], "5");
    assert_int_equal(cmd.argvlen[4], strlen(cmd.argv[4]));
    /* rates off: no rate keys; no signature either: nothing to send */
    assert_true(cg_redis_observe_cmd(&cmd, "x:", &c, 65, 0, 0, 0));
    assert_string_equal(cmd.argv[3], "x:r:"
                                     "abababababababababababababababab"
                                     "abababababababababababababababab");
    assert_string_equal(cmd.argv[4], "");
    assert_string_equal(cmd.argv[6], "");
    c.sig = NULL;
    assert_false(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
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

/* The verstat goes on the number the token signed, and on no other. */
static void test_verstat_on_signed_number(void **state)
{
    struct cg_policy *p = load();
    struct cg_verdict v = {
        .verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "GW1", .orig = "447400012345"};
    struct cg_policy_call c = {
        .verdict = &v, .caller = "447400012345", .presented = "447400012399", .now = 1000};
    struct cg_decision d;
    (void)state;
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.verstat, CG_VERSTAT_PASSED);
    assert_int_equal(d.verstat_on, CG_POLICY_NUM_CALLER);
    snprintf(v.orig, sizeof v.orig, "447400012399"); /* a token for From */
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.verstat_on, CG_POLICY_NUM_PRESENTED);
    snprintf(v.orig, sizeof v.orig, "447400000000"); /* for neither */
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.verstat, CG_VERSTAT_NONE);
    assert_int_equal(d.verstat_on, 0);
    assert_true(d.reasons & (1u << CG_PR_NO_TN_VALIDATION));
    v.verstat = CG_VERSTAT_FAILED; /* a failure stays on the network number */
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.verstat_on, CG_POLICY_NUM_CALLER);
    cg_policy_free(p);
}

/* Which numbers need a call intent: protected ones that take intents and
 * are not vouched for otherwise, and only with a callee to match. */
static void test_intents_needed(void **state)
{
    struct cg_policy *p = load();
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "447400012345",
                               .presented = "442079460100",
                               .callee = "447400099000",
                               .now = 1000};
    (void)state;
    assert_int_equal(cg_policy_intents_needed(p, &c), CG_POLICY_NUM_PRESENTED);
    c.callee = NULL;
    assert_int_equal(cg_policy_intents_needed(p, &c), 0);
    c.callee = "447400099000";
    c.presented = "442079460400"; /* verification only */
    assert_int_equal(cg_policy_intents_needed(p, &c), 0);
    c.presented = "442079460500"; /* an agent's network number, unsigned: anyone's */
    c.caller = "447400055001";
    assert_int_equal(cg_policy_intents_needed(p, &c), CG_POLICY_NUM_PRESENTED);
    v = (struct cg_verdict){/* signed for it: the agent's own call */
                            .verstat = CG_VERSTAT_PASSED,
                            .attest = 'A',
                            .spc = "GW1",
                            .orig = "447400055001"};
    assert_int_equal(cg_policy_intents_needed(p, &c), 0);
    /* verified by its signer: no intent needed, unless the row requires one */
    v = (struct cg_verdict){
        .verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "BANK1", .orig = "442079460100"};
    c.caller = "442079460100";
    c.presented = NULL;
    assert_int_equal(cg_policy_intents_needed(p, &c), 0);
    snprintf(v.spc, sizeof v.spc, "BANK3");
    snprintf(v.orig, sizeof v.orig, "442079460300");
    c.caller = "442079460300";
    assert_int_equal(cg_policy_intents_needed(p, &c), CG_POLICY_NUM_CALLER);
    cg_policy_free(p);
}

/* A roaming check is asked only where it can change the decision. */
/* A roaming check is asked only where it can change the decision, and
 * about each number on its own. */
static void test_roaming_needed(void **state)
{
    struct cg_policy *p = load();
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {
        .verdict = &v, .caller = "447400012345", .international = true, .now = 1000};
    struct cg_decision d;
    (void)state;
    assert_int_equal(cg_policy_roaming_needed(p, &c), CG_POLICY_NUM_CALLER);
    c.roaming_partner = true;
    assert_int_equal(cg_policy_roaming_needed(p, &c), 0);
    c.roaming_partner = false;
    c.international = false;
    assert_int_equal(cg_policy_roaming_needed(p, &c), 0);
    c.international = true;
    c.caller = "442079460000"; /* a landline: blocked whatever a check says */
    assert_int_equal(cg_policy_roaming_needed(p, &c), 0);
    c.presented = "447624123456"; /* an Isle of Man mobile behind it */
    assert_int_equal(cg_policy_roaming_needed(p, &c), CG_POLICY_NUM_PRESENTED);
    /* a roaming network number does not vouch for another presentation
     * number: that one is still withheld */
    c.caller = "447400012001";
    c.presented = "447400012002";
    assert_int_equal(cg_policy_roaming_needed(p, &c),
                     CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED);
    c.roaming_confirmed = CG_POLICY_NUM_CALLER;
    assert_int_equal(cg_policy_roaming_needed(p, &c), CG_POLICY_NUM_PRESENTED);
    assert_int_equal(cg_policy_decide(p, NULL, &c, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_WITHHOLD);
    assert_int_equal(d.presented_reasons & (1u << CG_PR_UK_MOBILE_ABROAD),
                     1u << CG_PR_UK_MOBILE_ABROAD);
    assert_false(d.caller_reasons & (1u << CG_PR_UK_MOBILE_ABROAD));
    c.roaming_confirmed = 0;
    c.presented = NULL;
    v = (struct cg_verdict){
        .verstat = CG_VERSTAT_PASSED, .attest = 'A', .spc = "UKMOB2", .orig = "447400012001"};
    assert_int_equal(cg_policy_roaming_needed(p, &c), 0); /* signed by its own network */
    cg_policy_free(p);
}

/* A call that its numbers block anyway spends none of a bank's intent. */
static void test_intents_not_spent_on_refused_calls(void **state)
{
    struct cg_policy *p = load();
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "448081570000", /* DNO */
                               .presented = "442079460100",
                               .callee = "447400099000",
                               .now = 1000};
    (void)state;
    assert_int_equal(cg_policy_intents_needed(p, &c), 0);
    c.caller = "447400012345";
    assert_int_equal(cg_policy_intents_needed(p, &c), CG_POLICY_NUM_PRESENTED);
    c.international = true; /* a UK landline from abroad: blocked */
    assert_int_equal(cg_policy_intents_needed(p, &c), 0);
    cg_policy_free(p);
}

static bool owns_0300(const char *tn, void *arg)
{
    (void)arg;
    return strcmp(tn, "443001234567") == 0;
}

/* Origination: nothing spoofed gets signed; a customer that rotates or
 * leans on bank numbers is labelled. */
static void test_originate(void **state)
{
    struct cg_policy *p = load();
    struct cg_policy_state *st;
    struct cg_decision d;
    struct cg_policy_origination o = {
        .customer = "pbx-1", .caller = "447400012345", .presented = NULL, .now = 1000};
    int i;
    (void)state;
    assert_int_equal(cg_policy_state_new(&st, 65, 0, 5), CG_OK);
    assert_int_equal(cg_policy_state_set_share(st, 30, 10), CG_OK);
    assert_int_equal(cg_policy_state_set_share(st, 101, 10), CG_EINVAL);
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_ALLOW);
    o.presented = "448081570000"; /* DNO behind the customer's own number */
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_BLOCK);
    assert_true(d.presented_reasons & (1u << CG_PR_DNO));
    o.presented = "442079460100"; /* a bank's number, not this customer's */
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_BLOCK);
    assert_true(d.presented_reasons & (1u << CG_PR_PROTECTED_NOT_CUSTOMERS));
    o.presented = "447700900123"; /* unallocated */
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_true(d.presented_reasons & (1u << CG_PR_UK_UNALLOCATED));
    o.presented = NULL;
    o.caller = "448081570000";
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_true(d.caller_reasons & (1u << CG_PR_DNO));
    /* the owner's own customer account, or its agent, may present it */
    o.caller = "447400012345";
    o.presented = "442079460500";
    o.customer = "outsourced-bank";
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_ALLOW);
    o.customer = "someone-else";
    o.ingress = "callcentre-1";
    assert_int_equal(cg_policy_originate(p, NULL, &o, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_ALLOW);
    /* rotation: more than 5 distinct numbers a minute labels */
    o = (struct cg_policy_origination){.customer = "reseller", .now = 2000};
    for (i = 0; i < 7; i++) {
        char tn[16];
        snprintf(tn, sizeof tn, "4474000123%02d", i);
        o.caller = tn;
        assert_int_equal(cg_policy_originate(p, st, &o, &d), CG_OK);
    }
    assert_int_equal(d.action, CG_ACTION_LABEL);
    assert_true(d.reasons & (1u << CG_PR_RATE_NUMBERS));
    /* the share of bank-like numbers: 4 of 12 calls present 0800s */
    o = (struct cg_policy_origination){.customer = "caller-x", .now = 3000};
    for (i = 0; i < 12; i++) {
        o.caller = "447400012345";
        o.presented = i % 3 == 0 ? "448001234567" : NULL;
        assert_int_equal(cg_policy_originate(p, st, &o, &d), CG_OK);
    }
    assert_true(d.reasons & (1u << CG_PR_PROTECTED_SHARE));
    assert_int_equal(d.action, CG_ACTION_LABEL);
    /* its own bank-like numbers, and a bank's it is the agent of, do not
     * count: a call centre working for banks is not a reseller */
    o = (struct cg_policy_origination){
        .customer = "outsourced-bank", .now = 3500, .owns = owns_0300, .owns_arg = NULL};
    for (i = 0; i < 12; i++) {
        o.caller = "447400012345";
        o.presented = i % 2 ? "443001234567" : "442079460500";
        assert_int_equal(cg_policy_originate(p, st, &o, &d), CG_OK);
    }
    if (d.action != CG_ACTION_ALLOW) {
        char why[300];
        cg_decision_reasons(&d, why, sizeof why);
        fail_msg("an agent's and its own numbers: %s [%s]", cg_action_str(d.action), why);
    }
    /* a customer that presents its own number only is never labelled */
    o = (struct cg_policy_origination){.customer = "steady", .caller = "447400012345", .now = 4000};
    for (i = 0; i < 50; i++)
        assert_int_equal(cg_policy_originate(p, st, &o, &d), CG_OK);
    assert_int_equal(d.action, CG_ACTION_ALLOW);
    cg_policy_state_free(st);
    cg_policy_free(p);
}

static void test_actions(void **state)
{
    (void)state;
    assert_string_equal(cg_action_str(CG_ACTION_WITHHOLD), "withhold");
    assert_int_equal(cg_action_stricter(CG_ACTION_LABEL, CG_ACTION_WITHHOLD), CG_ACTION_WITHHOLD);
    assert_int_equal(cg_action_stricter(CG_ACTION_WITHHOLD, CG_ACTION_BLOCK), CG_ACTION_BLOCK);
    assert_int_equal(cg_action_stricter(CG_ACTION_BLOCK, CG_ACTION_WITHHOLD), CG_ACTION_BLOCK);
    assert_int_equal(cg_action_stricter(CG_ACTION_ALLOW, CG_ACTION_LABEL), CG_ACTION_LABEL);
    assert_int_equal(cg_policy_reason_action(CG_PR_UK_MOBILE_ABROAD), CG_ACTION_WITHHOLD);
}

/* The shared store looks up the intents asked for, keyed by both numbers. */
static void test_redis_intent_keys(void **state)
{
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v,
                               .caller = "447400012345",
                               .presented = "442079460100",
                               .callee = "447400099000",
                               .now = 1000};
    struct cg_redis_cmd cmd;
    (void)state;
    assert_false(cg_redis_observe_cmd(&cmd, NULL, &c, 65, 0, 0, 0));
    assert_true(cg_redis_observe_cmd(&cmd, "x:", &c, 65, 0, 0, CG_POLICY_NUM_PRESENTED));
    assert_string_equal(cmd.argv[8], "");
    assert_string_equal(cmd.argv[9], "x:intent:442079460100:447400099000");
    assert_string_equal(cmd.argv[13], "447400012345/442079460100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_table),
        cmocka_unit_test(test_ingress_by_address),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_shared_findings),
        cmocka_unit_test(test_shared_command),
        cmocka_unit_test(test_nanp_assignment),
        cmocka_unit_test(test_list_text),
        cmocka_unit_test(test_list_input_rules),
        cmocka_unit_test(test_list_line_limit),
        cmocka_unit_test(test_list_files),
        cmocka_unit_test(test_numbering_statuses),
        cmocka_unit_test(test_replay_keyed_on_r),
        cmocka_unit_test(test_replay_without_call_id),
        cmocka_unit_test(test_replay_memory_follows_iat),
        cmocka_unit_test(test_replay_records_verified_only),
        cmocka_unit_test(test_replay_loses_brand),
        cmocka_unit_test(test_caller_unreadable),
        cmocka_unit_test(test_caller_from_headers),
        cmocka_unit_test(test_verstat_on_signed_number),
        cmocka_unit_test(test_intents_needed),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_originate),
        cmocka_unit_test(test_roaming_needed),
        cmocka_unit_test(test_intents_not_spent_on_refused_calls),
        cmocka_unit_test(test_redis_intent_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
