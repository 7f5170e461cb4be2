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

/* Parses m, which must succeed, and returns the request. */
static struct cg_sip_req parse_ok(const char *m)
{
    struct cg_sip_req r;
    const char *why = NULL;
    if (cg_sip_parse_request(m, strlen(m), &r, &why) != CG_OK)
        fail_msg("%s: %s", why ? why : "?", m);
    return r;
}

static void test_raw_values(void **state)
{
    struct cg_sip_req r = parse_ok(INVITE);
    (void)state;
    /* values are the request's own text, not a re-serialization */
    assert_string_equal(r.ruri, "sip:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc.example;user=phone");
    assert_string_equal(r.via[1], "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;received=192.0.2.1");
    assert_string_equal(r.from, "\"Bank\" <sip:+442079460000@carrier.example;user=phone>;tag=1928301774");
    assert_string_equal(r.to, "<sip:+14155550100@sbc.example;user=phone>");
    cg_sip_req_clear(&r);
}

static void test_compact_folded_lists(void **state)
{
    /* compact names, any case, space before the colon, folding, bare LF,
     * a Via list on one line with a quoted comma, and a body */
    const char *m = "OPTIONS sip:a@b SIP/2.0\r\n"
                    "v: SIP/2.0/UDP h1;branch=z9hG4bK1;x=\"a,b\" ,SIP/2.0/TCP h2:5060 ;branch=z9hG4bK2\r\n"
                    "VIA  : SIP/2.0/UDP h3;branch=z9hG4bK3\n"
                    "f: <sip:+442079460000@x>;tag=9\r\n"
                    "t: \"x;tag=no <\" <sip:b@c;tag=no>;foo=1; TAG = yes\r\n"
                    "i:   cid-1@h  \r\n"
                    "CSEQ: 7   OPTIONS\r\n"
                    "y: aaa.bbb.ccc;\r\n"
                    "\t info=<https://x/a.pem>\r\n"
                    "  ;ppt=shaken\r\n"
                    "X-Other: ignored\r\n"
                    "l: 4\r\n"
                    "\r\n"
                    "body";
    struct cg_sip_req r = parse_ok(m);
    (void)state;
    assert_int_equal(r.nvia, 3);
    assert_string_equal(r.via[0], "SIP/2.0/UDP h1;branch=z9hG4bK1;x=\"a,b\"");
    assert_string_equal(r.via[1], "SIP/2.0/TCP h2:5060 ;branch=z9hG4bK2");
    assert_string_equal(r.via[2], "SIP/2.0/UDP h3;branch=z9hG4bK3");
    assert_string_equal(r.branch, "z9hG4bK1");
    assert_string_equal(r.to_tag, "yes");
    assert_string_equal(r.call_id, "cid-1@h");
    assert_string_equal(r.cseq, "7   OPTIONS");
    assert_int_equal(r.nidentity, 1);
    assert_string_equal(r.identity[0], "aaa.bbb.ccc; info=<https://x/a.pem> ;ppt=shaken");
    assert_null(r.pai);
    cg_sip_req_clear(&r);
    /* a To without brackets: all its parameters are the header's */
    r = parse_ok("ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: sip:c@d;tag=abc\r\nCall-ID: x\r\nCSeq: 1 ACK\r\n\r\n");
    assert_string_equal(r.to_tag, "abc");
    cg_sip_req_clear(&r);
}

/* Each malformed request gets its error and reason, and is answerable (400)
 * exactly when Via, From, To, Call-ID and CSeq were read.  Every row runs;
 * each mismatch is reported with the row's name before the test fails. */
static void test_malformed(void **state)
{
#define HEAD "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n" \
             "To: <sip:c@d>\r\nCall-ID: x\r\n"
    /* The length is the literal's, so that the NUL row is read whole. */
#define ROW(name, m, answerable, why) {name, m, sizeof m - 1, answerable, why}
    static const struct {
        const char *name;
        const char *msg;
        size_t len;
        bool answerable;
        const char *why; /* the parser's reason, exactly */
    } rows[] = {
        ROW("body shorter than Content-Length",
            HEAD "CSeq: 1 INVITE\r\nContent-Length: 10\r\n\r\nshort", true,
            "body shorter than Content-Length"),
        ROW("Content-Length not a number",
            HEAD "CSeq: 1 INVITE\r\nContent-Length: 1x\r\n\r\n", true, "bad Content-Length"),
        ROW("two Content-Lengths that disagree (long and compact form)",
            HEAD "CSeq: 1 INVITE\r\nContent-Length: 1\r\nl: 2\r\n\r\nab", true,
            "bad Content-Length"),
        ROW("CSeq method differs from the request's", HEAD "CSeq: 1 OPTIONS\r\n\r\n", true,
            "bad CSeq header"),
        ROW("CSeq without a sequence number", HEAD "CSeq: INVITE\r\n\r\n", true, "bad CSeq header"),
        ROW("a second Call-ID", HEAD "CSeq: 1 INVITE\r\nCall-ID: y\r\n\r\n", true,
            "more than one Call-ID header"),
        ROW("a second From", HEAD "CSeq: 1 INVITE\r\nFrom: <sip:e@f>\r\n\r\n", true,
            "more than one From header"),
        ROW("headers end without an empty line", HEAD "CSeq: 1 INVITE\r\nX-A: b\r\n", true,
            "headers end without an empty line"),
        ROW("NUL inside a header value", HEAD "CSeq: 1 INVITE\r\nX-A: b\0c\r\n\r\n", true,
            "control character in a header"),
        ROW("header line without a colon", HEAD "CSeq: 1 INVITE\r\nX-A b\r\n\r\n", true,
            "header line without a name and colon"),
        ROW("second Via without SIP/2.0/transport", HEAD "CSeq: 1 INVITE\r\nVia: TCP h\r\n\r\n",
            true, "bad Via header"),
        ROW("continuation line right after the request line",
            "INVITE sip:a@b SIP/2.0\r\n f: <sip:a@b>\r\n\r\n", false,
            "continuation line without a header"),
        ROW("SIP version 3.0", "INVITE sip:a@b SIP/3.0\r\n\r\n", false, "not a SIP/2.0 request"),
        ROW("two spaces after the method", "INVITE  sip:a@b SIP/2.0\r\n\r\n", false,
            "not a SIP/2.0 request"),
        ROW("Request-URI without a scheme", "INVITE nocolon SIP/2.0\r\n\r\n", false,
            "bad Request-URI"),
        ROW("method with a non-token character", "IN<VITE sip:a@b SIP/2.0\r\n\r\n", false,
            "not a SIP request"),
        ROW("request line without CRLF", "INVITE sip:a@b SIP/2.0", false, "not a SIP request"),
        ROW("Call-ID with a space", "INVITE sip:a@b SIP/2.0\r\nCall-ID: x y\r\n\r\n", false,
            "bad Call-ID header"),
        ROW("From without a URI",
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: nouri\r\n\r\n", false,
            "bad From header"),
    };
    size_t i, failed = 0;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_sip_req r;
        const char *why = NULL;
        int rc = cg_sip_parse_request(rows[i].msg, rows[i].len, &r, &why);
        bool answerable = cg_sip_req_answerable(&r) != 0;
        if (rc != CG_EPARSE || !why || strcmp(why, rows[i].why) != 0 ||
            answerable != rows[i].answerable) {
            print_error("row \"%s\": expected %s, \"%s\", %sanswerable; got %s, \"%s\", "
                        "%sanswerable\n",
                        rows[i].name, cg_errname(CG_EPARSE), rows[i].why,
                        rows[i].answerable ? "" : "not ", cg_errname(rc), why ? why : "(none)",
                        answerable ? "" : "not ");
            failed++;
        }
        cg_sip_req_clear(&r);
    }
    if (failed)
        fail_msg("%zu of %zu malformed-request rows failed", failed, i);
#undef ROW
#undef HEAD
}

static void test_limits(void **state)
{
    char *m = malloc(70000);
    struct cg_sip_req r;
    const char *why;
    int i;
    (void)state;
    /* 17 Via entries in one header, 9 Identity headers, a 1025-byte R-URI */
    strcpy(m, "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK0");
    for (i = 1; i < 17; i++)
        strcat(m, ", SIP/2.0/UDP h");
    strcat(m, "\r\n\r\n");
    assert_int_equal(cg_sip_parse_request(m, strlen(m), &r, &why), CG_ETOOBIG);
    assert_string_equal(why, "more than 16 Via headers");
    cg_sip_req_clear(&r);
    strcpy(m, "INVITE sip:a@b SIP/2.0\r\n");
    for (i = 0; i < 9; i++)
        strcat(m, "Identity: a.b.c;info=<https://x/a.pem>\r\n");
    strcat(m, "\r\n");
    assert_int_equal(cg_sip_parse_request(m, strlen(m), &r, &why), CG_ETOOBIG);
    cg_sip_req_clear(&r);
    strcpy(m, "INVITE sip:");
    memset(m + 11, 'a', 1025);
    strcpy(m + 1036, " SIP/2.0\r\n\r\n");
    assert_int_equal(cg_sip_parse_request(m, strlen(m), &r, &why), CG_ETOOBIG);
    cg_sip_req_clear(&r);
    /* 128 folded continuation lines count as header lines */
    strcpy(m, "INVITE sip:a@b SIP/2.0\r\nX-A: b\r\n");
    for (i = 0; i < 128; i++)
        strcat(m, " c\r\n");
    strcat(m, "\r\n");
    assert_int_equal(cg_sip_parse_request(m, strlen(m), &r, &why), CG_ETOOBIG);
    cg_sip_req_clear(&r);
    /* larger than a datagram */
    memset(m, 'a', 66000);
    assert_int_equal(cg_sip_parse_request(m, 66000, &r, &why), CG_ETOOBIG);
    cg_sip_req_clear(&r);
    free(m);
}

/* Stream framing: how long the first message is, what leading CRLFs to
 * skip, and the errors.  Every row runs; mismatches name their row. */
static void test_frame(void **state)
{
    static const char two[] = "\r\n\r\nOPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabcOPTIONS";
    static const struct {
        const char *name;
        const char *buf;
        size_t len;
        long want; /* the message's length, 0 for incomplete, or an error */
        size_t skip; /* checked when want > 0 */
    } rows[] = {
        {"a whole INVITE", INVITE, sizeof INVITE - 1, sizeof INVITE - 1, 0},
        {"an INVITE short of its last CRLF (incomplete)", INVITE, sizeof INVITE - 3, 0, 0},
        {"keep-alive CRLFs, a message with a body, the start of the next", two, sizeof two - 1,
         34, 4},
        {"no Content-Length on a stream", "A b SIP/2.0\r\nX: y\r\n\r\n", 21, CG_EPARSE, 0},
        {"Content-Length not a number", "A b SIP/2.0\r\nContent-Length: x\r\n\r\n", 34,
         CG_EPARSE, 0},
        {"Content-Length beyond the message limit",
         "A b SIP/2.0\r\nContent-Length: 99999\r\n\r\n", 38, CG_ETOOBIG, 0},
    };
    size_t i, failed = 0;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t skip = (size_t)-1;
        long got = cg_sip_frame(rows[i].buf, rows[i].len, &skip);
        if (got != rows[i].want || (rows[i].want > 0 && skip != rows[i].skip)) {
            print_error("row \"%s\": expected %ld (skip %zu), got %ld (skip %zu)\n", rows[i].name,
                        rows[i].want, rows[i].skip, got, skip);
            failed++;
        }
    }
    if (failed)
        fail_msg("%zu of %zu framing rows failed", failed, i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_invite),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_raw_values),
        cmocka_unit_test(test_compact_folded_lists),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
