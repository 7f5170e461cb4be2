#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void bad(const char *body, const char *id, int status, const char *var)
{
    struct cg_atis_verify_req r;
    struct cg_atis_error e;
    char *json;
    assert_int_equal(cg_atis_parse_verify(body, strlen(body), NULL, &r, &e), CG_EPARSE);
    assert_string_equal(e.message_id, id);
    assert_int_equal(e.http_status, status);
    assert_string_equal(e.variable, var);
    assert_int_equal(cg_atis_error_json(&e, &json), CG_OK);
    assert_non_null(strstr(json, id));
    free(json);
}

static void test_parse_ok(void **state)
{
    const char *b =
        "{\"verificationRequest\":{\"from\":{\"tn\":\"+44 20 7946 0000\"},\"to\":"
        "{\"tn\":[\"14155550100\"]},\"time\":1700000000,\"identity\":\"a.b.c;info=<x>\","
        "\"ingress\":\"intl-gw-1\"}}";
    struct cg_atis_verify_req r;
    struct cg_atis_error e;
    (void)state;
    assert_int_equal(cg_atis_parse_verify(b, strlen(b), NULL, &r, &e), CG_OK);
    assert_string_equal(r.from, "442079460000");
    assert_string_equal(r.to, "14155550100");
    assert_int_equal(r.time, 1700000000);
    assert_string_equal(r.identity, "a.b.c;info=<x>");
    assert_string_equal(r.ingress, "intl-gw-1");
    assert_int_equal(r.nto_more, 0);
    cg_atis_verify_req_clear(&r);
    /* several called numbers: all kept, canonical */
    b = "{\"verificationRequest\":{\"from\":{\"tn\":\"442079460000\"},\"to\":"
        "{\"tn\":[\"14155550100\",\"+1 415 555 "
        "0101\"]},\"time\":1700000000,\"identity\":\"a.b.c\"}}";
    assert_int_equal(cg_atis_parse_verify(b, strlen(b), NULL, &r, &e), CG_OK);
    assert_string_equal(r.to, "14155550100");
    assert_int_equal(r.nto_more, 1);
    assert_string_equal(r.to_more[0], "14155550101");
    cg_atis_verify_req_clear(&r);
    b = "{\"verificationRequest\":{\"from\":{\"tn\":\"442079460000\"},\"to\":"
        "{\"tn\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]},\"time\":1700000000,"
        "\"identity\":\"a.b.c\"}}";
    assert_int_equal(cg_atis_parse_verify(b, strlen(b), NULL, &r, &e), CG_EPARSE);
    assert_string_equal(e.message_id, "SVC4005");
    assert_string_equal(e.variable, "to");
}

/* E1 (missing parameter, SVC4001) and E2 (bad value, SVC4005) of
 * docs/standards.md#error-cases, plus the body-level exceptions. */
static void test_request_errors(void **state)
{
    (void)state;
    bad("", "SVC4000", 400, "");
    bad("{", "SVC4006", 400, "");
    bad("{\"a\":1,\"a\":2}", "SVC4006", 400, "");
    bad("{}", "SVC4001", 400, "verificationRequest");
    bad("{\"verificationRequest\":{\"to\":{\"tn\":[\"1\"]},\"time\":1,\"identity\":\"x\"}}",
        "SVC4001", 400, "from");
    bad("{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"time\":1,\"identity\":\"x\"}}",
        "SVC4001", 400, "to");
    bad("{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":[\"2\"]},"
        "\"identity\":\"x\"}}",
        "SVC4001", 400, "time");
    bad("{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":[\"2\"]},\"time\":1}}",
        "SVC4001", 400, "identity");
    bad("{\"verificationRequest\":{\"from\":{\"tn\":\"bob\"},\"to\":{\"tn\":[\"2\"]},\"time\":1,"
        "\"identity\":\"x\"}}",
        "SVC4005", 400, "from");
    bad("{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":[\"2\"]},"
        "\"time\":\"1\",\"identity\":\"x\"}}",
        "SVC4005", 400, "time");
    bad("{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":[\"2\"]},\"time\":1,"
        "\"identity\":7}}",
        "SVC4005", 400, "identity");
    bad("{\"verificationRequest\":[[[[[[[[[[[[]]]]]]]]]]]]}", "SVC4006", 400, "");
    /* not strict JSON: a byte-order mark, trailing text, a NUL escaped or
     * raw, invalid UTF-8, a lone surrogate, an integer past 64 bits */
    bad("\xef\xbb\xbf{}", "SVC4006", 400, "");
    bad("{} x", "SVC4006", 400, "");
    bad("{\"verificationRequest\":{\"identity\":\"a\\u0000\"}}", "SVC4006", 400, "");
    bad("{\"verificationRequest\":{\"identity\":\"a\xff\"}}", "SVC4006", 400, "");
    bad("{\"verificationRequest\":{\"identity\":\"\\ud800\"}}", "SVC4006", 400, "");
    bad("{\"verificationRequest\":{\"time\":18446744073709551616}}", "SVC4006", 400, "");
}

/* A body of CG_ATIS_BODY_MAX bytes is read (an unknown member is ignored,
 * however long); one byte more is not JSON to the API (SVC4006), whatever
 * it holds. */
static void test_body_limit(void **state)
{
    static const char head[] = "{\"verificationRequest\":{\"from\":{\"tn\":\"1\"},\"to\":{\"tn\":"
                               "[\"2\"]},\"time\":1,\"identity\":\"x\",\"unknown\":\"";
    struct cg_atis_verify_req r;
    struct cg_atis_error e;
    size_t n;
    char *b = malloc(CG_ATIS_BODY_MAX + 2);
    (void)state;
    assert_non_null(b);
    for (n = CG_ATIS_BODY_MAX; n <= CG_ATIS_BODY_MAX + 1; n++) {
        memcpy(b, head, sizeof head - 1);
        memset(b + sizeof head - 1, 'a', n - (sizeof head - 1) - 3);
        memcpy(b + n - 3, "\"}}", 3);
        if (n == CG_ATIS_BODY_MAX) {
            assert_int_equal(cg_atis_parse_verify(b, n, NULL, &r, &e), CG_OK);
            cg_atis_verify_req_clear(&r);
        } else {
            assert_int_equal(cg_atis_parse_verify(b, n, NULL, &r, &e), CG_EPARSE);
            assert_string_equal(e.message_id, "SVC4006");
        }
    }
    free(b);
}

static void test_verdict_json(void **state)
{
    struct cg_verdict v;
    char *s;
    (void)state;
    memset(&v, 0, sizeof v);
    v.verstat = CG_VERSTAT_FAILED;
    v.reason = CG_R_SIGNATURE;
    v.reason_code = 438;
    v.reason_text = "Invalid Identity Header";
    strcpy(v.detail, "bad");
    v.attest = 'C';
    v.warnings = 1u << CG_W_NO_CRL_ISSUER;
    v.identity_index = 0;
    assert_int_equal(cg_verdict_json(&v, &s), CG_OK);
    assert_string_equal(s, "{\"verstat\":\"TN-Validation-Failed\",\"reason_code\":438,\"reason\":"
                           "\"Invalid Identity Header\",\"reason_name\":\"signature\",\"detail\":"
                           "\"bad\",\"attest\":\"C\",\"origid\":null,\"spc\":null,\"orig\":null,"
                           "\"dest\":null,\"iat\":null,\"x5u\":null,\"orig_match\":\"none\","
                           "\"dest_match\":\"none\",\"identity_index\":0,\"warnings\":"
                           "[\"no_crl_issuer\"]}");
    free(s);
}

/* Every control character is escaped (the short forms where JSON has
 * them), quotes and backslashes too, DEL and valid UTF-8 pass as they are,
 * and each byte of invalid UTF-8 becomes U+FFFD: the verdict is always
 * JSON that a strict reader takes. */
static void test_verdict_json_escapes(void **state)
{
    struct cg_verdict v;
    char *s, *d;
    int i;
    (void)state;
    memset(&v, 0, sizeof v);
    for (i = 1; i < 0x20; i++)
        v.detail[i - 1] = (char)i;
    strcpy(v.detail + 0x1f, "\"\\\x7f\xc3\xa9\xff\xed\xa0\x80x");
    assert_int_equal(cg_verdict_json(&v, &s), CG_OK);
    assert_non_null(d = strstr(s, "\"detail\":"));
    assert_non_null(
        strstr(d, "\"detail\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b"
                  "\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013"
                  "\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c"
                  "\\u001d\\u001e\\u001f\\\"\\\\\x7f\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffdx\","));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),     cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_verdict_json), cmocka_unit_test(test_verdict_json_escapes),
        cmocka_unit_test(test_body_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
