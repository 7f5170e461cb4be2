#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define INVITE                                                                                 \
    "INVITE sip:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc.example;user=phone " \
    "SIP/2.0\r\n"                                                                              \
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"                             \
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;received=192.0.2.1\r\n"                 \
    "Max-Forwards: 70\r\n"                                                                     \
    "From: \"Bank\" <sip:+442079460000@carrier.example;user=phone>;tag=1928301774\r\n"         \
    "To: <sip:+14155550100@sbc.example;user=phone>\r\n"                                        \
    "Call-ID: a84b4c76e66710@pc33.example\r\n"                                                 \
    "CSeq: 314159 INVITE\r\n"                                                                  \
    "P-Asserted-Identity: <sip:+442079460000@carrier.example;user=phone>\r\n"                  \
    "Identity: aaa.bbb.ccc;info=<https://x/a.pem>;alg=ES256;ppt=shaken\r\n"                     \
    "Identity: ddd.eee.fff;info=<https://x/b.pem>;ppt=div\r\n"                                  \
    "y: ggg.hhh.iii;info=<https://x/c.pem>;ppt=shaken\r\n"                                      \
    "Content-Length: 0\r\n\r\n"

static void test_parse_invite(void **state)
{
    struct cg_sip_req r;
    const char *why;
    (void)state;
    if (cg_sip_parse_request(INVITE, strlen(INVITE), &r, &why) != CG_OK)
        fail_msg("%s", why);
    assert_string_equal(r.method, "INVITE");
    assert_non_null(strstr(r.ruri, "+14155550100"));
    assert_int_equal(r.nvia, 2);
    assert_string_equal(r.branch, "z9hG4bK776asdhds");
    assert_non_null(strstr(r.from, "+442079460000"));
    assert_null(r.to_tag);
    assert_string_equal(r.call_id, "a84b4c76e66710@pc33.example");
    assert_string_equal(r.cseq, "314159 INVITE");
    assert_non_null(strstr(r.pai, "+442079460000"));
    assert_int_equal(r.nidentity, 3);
    assert_string_equal(r.identity[0], "aaa.bbb.ccc;info=<https://x/a.pem>;alg=ES256;ppt=shaken");
    assert_string_equal(r.identity[2], "ggg.hhh.iii;info=<https://x/c.pem>;ppt=shaken");
    cg_sip_req_clear(&r);
}

static void test_response(void **state)
{
    struct cg_sip_req r;
    const char *extra[] = {"Contact: <sip:+14155550100@sbc.example>", "Cidguard-Action: allow"};
    char *out, *out2;
    size_t n, n2;
    (void)state;
    assert_int_equal(cg_sip_parse_request(INVITE, strlen(INVITE), &r, NULL), CG_OK);
    assert_int_equal(cg_sip_response(&r, 302, "Moved Temporarily", extra, 2, &out, &n), CG_OK);
    assert_int_equal(strlen(out), n);
    assert_true(strncmp(out, "SIP/2.0 302 Moved Temporarily\r\nVia: SIP/2.0/UDP 192.0.2.10", 57) == 0);
    assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc"));
    assert_non_null(strstr(out, ";tag=cg"));
    assert_non_null(strstr(out, "\r\nCSeq: 314159 INVITE\r\n"));
    assert_non_null(strstr(out, "\r\nCidguard-Action: allow\r\n"));
    assert_true(strcmp(out + n - 4, "\r\n\r\n") == 0);
    /* the same request again: byte-identical answer (same To-tag) */
    assert_int_equal(cg_sip_response(&r, 302, "Moved Temporarily", extra, 2, &out2, &n2), CG_OK);
    assert_string_equal(out, out2);
    free(out);
    free(out2);
    cg_sip_req_clear(&r);
}

static void test_bad_requests(void **state)
{
    struct cg_sip_req r;
    const char *why;
    char *big;
    size_t i;
    (void)state;
    assert_int_not_equal(cg_sip_parse_request("garbage\r\n\r\n", 11, &r, &why), CG_OK);
    cg_sip_req_clear(&r);
    assert_int_not_equal(cg_sip_parse_request("\x01\x02\xff\xfe", 4, &r, &why), CG_OK);
    cg_sip_req_clear(&r);
    /* a response is not a request */
    assert_int_not_equal(cg_sip_parse_request("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
                                              "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                                              "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                                              137, &r, &why),
                         CG_OK);
    cg_sip_req_clear(&r);
    /* 1000 headers */
    big = malloc(64000);
    strcpy(big, "INVITE sip:a@b SIP/2.0\r\n");
    for (i = 0; i < 1000; i++)
        strcat(big, "X-A: b\r\n");
    strcat(big, "\r\n");
    assert_int_equal(cg_sip_parse_request(big, strlen(big), &r, &why), CG_ETOOBIG);
    cg_sip_req_clear(&r);
    free(big);
    /* missing Call-ID */
    {
        const char *m = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                        "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert_int_equal(cg_sip_parse_request(m, strlen(m), &r, &why), CG_EPARSE);
        cg_sip_req_clear(&r);
    }
}

static void test_frame(void **state)
{
    size_t skip;
    const char *two = "\r\n\r\nOPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabcOPTIONS";
    (void)state;
    assert_int_equal(cg_sip_frame(INVITE, strlen(INVITE), &skip), strlen(INVITE));
    assert_int_equal(skip, 0);
    assert_int_equal(cg_sip_frame(INVITE, strlen(INVITE) - 2, &skip), 0); /* incomplete */
    assert_int_equal(cg_sip_frame(two, strlen(two), &skip), 34);
    assert_int_equal(skip, 4);
    assert_int_equal(cg_sip_frame("A b SIP/2.0\r\nX: y\r\n\r\n", 21, &skip), CG_EPARSE);
    assert_int_equal(cg_sip_frame("A b SIP/2.0\r\nContent-Length: x\r\n\r\n", 34, &skip), CG_EPARSE);
    assert_int_equal(cg_sip_frame("A b SIP/2.0\r\nContent-Length: 99999\r\n\r\n", 38, &skip),
                     CG_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_invite),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
