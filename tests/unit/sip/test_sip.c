#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define INVITE                                                                                     \
    "INVITE sip:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc.example;user=phone "     \
    "SIP/2.0\r\n"                                                                                  \
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"                                 \
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;received=192.0.2.1\r\n"                     \
    "Max-Forwards: 70\r\n"                                                                         \
    "From: \"Bank\" <sip:+442079460000@carrier.example;user=phone>;tag=1928301774\r\n"             \
    "To: <sip:+14155550100@sbc.example;user=phone>\r\n"                                            \
    "Call-ID: a84b4c76e66710@pc33.example\r\n"                                                     \
    "CSeq: 314159 INVITE\r\n"                                                                      \
    "P-Asserted-Identity: <sip:+442079460000@carrier.example;user=phone>\r\n"                      \
    "Identity: aaa.bbb.ccc;info=<https://x/a.pem>;alg=ES256;ppt=shaken\r\n"                        \
    "Identity: ddd.eee.fff;info=<https://x/b.pem>;ppt=div\r\n"                                     \
    "y: ggg.hhh.iii;info=<https://x/c.pem>;ppt=shaken\r\n"                                         \
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
    assert_true(strncmp(out, "SIP/2.0 302 Moved Temporarily\r\nVia: SIP/2.0/UDP 192.0.2.10", 57) ==
                0);
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
    assert_int_not_equal(
        cg_sip_parse_request("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
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
    assert_string_equal(
        r.ruri, "sip:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc.example;user=phone");
    assert_string_equal(r.via[1],
                        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;received=192.0.2.1");
    assert_string_equal(r.from,
                        "\"Bank\" <sip:+442079460000@carrier.example;user=phone>;tag=1928301774");
    assert_string_equal(r.to, "<sip:+14155550100@sbc.example;user=phone>");
    cg_sip_req_clear(&r);
}

static void test_compact_folded_lists(void **state)
{
    /* compact names, any case, space before the colon, folding, bare LF,
     * a Via list on one line with a quoted comma, and a body */
    const char *m =
        "OPTIONS sip:a@b SIP/2.0\r\n"
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
    r = parse_ok(
        "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        "To: sip:c@d;tag=abc\r\nCall-ID: x\r\nCSeq: 1 ACK\r\n\r\n");
    assert_string_equal(r.to_tag, "abc");
    cg_sip_req_clear(&r);
}

/* Each malformed request gets its error and reason, and is answerable (400)
 * exactly when Via, From, To, Call-ID and CSeq were read.  Every row runs;
 * each mismatch is reported with the row's name before the test fails. */
static void test_malformed(void **state)
{
#define HEAD                                                                                       \
    "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"    \
    "To: <sip:c@d>\r\nCall-ID: x\r\n"
    /* the headers after a request line, and after a request line and a From */
#define TAIL                                                                                       \
    "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"             \
    "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"
#define RL "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
#define NOFROM "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"
#define NOTO "From: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"
    /* The length is the literal's, so that the NUL row is read whole. */
#define ROWC(name, rc, m, answerable, why)                                                         \
    {                                                                                              \
        name, m, sizeof m - 1, answerable, why, rc                                                 \
    }
#define ROW(name, m, answerable, why) ROWC(name, CG_EPARSE, m, answerable, why)
    static const struct {
        const char *name;
        const char *msg;
        size_t len;
        bool answerable;
        const char *why; /* the parser's reason, exactly */
        int rc;
    } rows[] = {
        ROW("body shorter than Content-Length",
            HEAD "CSeq: 1 INVITE\r\nContent-Length: 10\r\n\r\nshort", true,
            "body shorter than Content-Length"),
        ROW("Content-Length not a number", HEAD "CSeq: 1 INVITE\r\nContent-Length: 1x\r\n\r\n",
            true, "bad Content-Length"),
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
        /* the Request-URI runs from the first space to the last */
        ROW("two spaces after the method", "INVITE  sip:a@b SIP/2.0\r\n\r\n", false,
            "bad Request-URI"),
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

        /* The Request-URI goes back in the 302 as Contact: <Request-URI>,
         * so nothing in it may close the brackets or leave the URI. */
        ROW("Request-URI that closes the Contact and adds a second target",
            "INVITE sip:x@sbc>,<sip:evil@attacker.example SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI that adds Contact parameters",
            "INVITE sip:x@sbc>;expires=0 SIP/2.0\r\n" TAIL, true, "bad Request-URI"),
        ROW("Request-URI with a quote", "INVITE sip:\"x\"@sbc SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI in angle brackets (RFC 4475 3.1.2.6)",
            "INVITE <sip:user@example.com> SIP/2.0\r\n" TAIL, true, "bad Request-URI"),
        ROW("Request-URI with whitespace inside (RFC 4475 3.1.2.7)",
            "INVITE sip:user@example.com; lr SIP/2.0\r\n" TAIL, true, "bad Request-URI"),
        ROW("runs of spaces around the Request-URI (RFC 4475 3.1.2.8)",
            "INVITE  sip:user@example.com  SIP/2.0\r\n" TAIL, true, "bad Request-URI"),
        ROW("Request-URI with a tab", "INVITE sip:user@example.com\t SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with escaped headers (RFC 4475 3.1.2.10)",
            "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI without a scheme", "INVITE +14155550100@sbc.example SIP/2.0\r\n" TAIL,
            true, "bad Request-URI"),
        ROW("Request-URI whose scheme starts with a digit", "INVITE 1sip:a@b SIP/2.0\r\n" TAIL,
            true, "bad Request-URI"),
        ROW("Request-URI with a scheme alone", "INVITE sip: SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with a user and no host", "INVITE sip:a@ SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with an empty user", "INVITE sip:@b SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with a second @", "INVITE sip:a@b@c SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with a malformed escape", "INVITE sip:a%4g@b SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with an escape cut short", "INVITE sip:a@b;x=%4 SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI with a raw UTF-8 character", "INVITE sip:caf\xc3\xa9@b SIP/2.0\r\n" TAIL,
            true, "bad Request-URI"),
        ROW("Request-URI with an unescaped '#'", "INVITE sip:*21#@b SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("tel Request-URI with a '>'", "INVITE tel:+14155550100> SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("Request-URI of another scheme with a '<'", "INVITE urn:a<b SIP/2.0\r\n" TAIL, true,
            "bad Request-URI"),
        ROW("whitespace after the SIP version (RFC 4475 3.1.2.9)",
            "INVITE sip:a@b SIP/2.0 \r\n" TAIL, true, "not a SIP/2.0 request"),
        ROW("SIP version 7.0 (RFC 4475 3.1.2.15)", "INVITE sip:a@b SIP/7.0\r\n" TAIL, true,
            "not a SIP/2.0 request"),
        ROW("a response is never answered", "SIP/2.0 200 OK\r\n" TAIL, false, "not a SIP request"),

        /* From and To are a name-addr or an addr-spec. */
        ROW("From with an unclosed quoted display name (RFC 4475 3.1.2.5)",
            RL "From: \"Mr. J. User <sip:j.user@example.com>;tag=1\r\n" NOFROM, true,
            "bad From header"),
        ROW("To with an unclosed quoted display name (RFC 4475 3.1.2.5)",
            RL "To: \"Mr. J. User <sip:j.user@example.com>\r\n" NOTO, true, "bad To header"),
        ROW("From whose display name ends in an escaped quote",
            RL "From: \"a\\\" <sip:a@b>;tag=1\r\n" NOFROM, true, "bad From header"),
        ROW("From with a comma in an unquoted display name (RFC 4475 3.1.2.14)",
            RL "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\n" NOFROM, true,
            "bad From header"),
        ROW("To with spaces inside the angle brackets (RFC 4475 3.1.2.13)",
            RL "To: \"Watson, Thomas\" < sip:t.watson@example.org >\r\n" NOTO, true,
            "bad To header"),
        ROW("From without its closing angle bracket", RL "From: <sip:a@b;tag=1\r\n" NOFROM, true,
            "bad From header"),
        ROW("From with a second opening angle bracket", RL "From: <sip:a@<b>;tag=1\r\n" NOFROM,
            true, "bad From header"),
        ROW("From with a quoted display name and no angle brackets",
            RL "From: \"a\" sip:a@b;tag=1\r\n" NOFROM, true, "bad From header"),
        ROW("From whose URI has no scheme", RL "From: <+442079460000@b>;tag=1\r\n" NOFROM, true,
            "bad From header"),
        ROW("From with text after the angle brackets", RL "From: <sip:a@b> x;tag=1\r\n" NOFROM,
            true, "bad From header"),
        ROW("From with a parameter that is not a token", RL "From: <sip:a@b>;tag=1;<x>\r\n" NOFROM,
            true, "bad From header"),
        ROW("From with a parameter's quoted value not closed",
            RL "From: <sip:a@b>;tag=1;x=\"y\r\n" NOFROM, true, "bad From header"),
        ROW("From with a parameter and no value after '='", RL "From: <sip:a@b>;tag=\r\n" NOFROM,
            true, "bad From header"),
        ROW("To with two addresses", RL "To: sip:a@b, sip:c@d\r\n" NOTO, true, "bad To header"),
        ROW("To as an addr-spec holding '?'", RL "To: sip:a@b?x=y\r\n" NOTO, true, "bad To header"),
        ROW("empty From", RL "From:\r\n" NOFROM, true, "bad From header"),

        /* RFC 3261 8.1.1.5: the CSeq number is below 2^31 */
        ROW("CSeq of 2^31", HEAD "CSeq: 2147483648 INVITE\r\n\r\n", true, "bad CSeq header"),
        ROW("CSeq far beyond 2^31 (RFC 4475 3.1.2.4)",
            HEAD "CSeq: 36893488147419103232 INVITE\r\n\r\n", true, "bad CSeq header"),
        ROW("CSeq of 2^31 after leading zeros", HEAD "CSeq: 0002147483648 INVITE\r\n\r\n", true,
            "bad CSeq header"),

        ROW("Via with a slash missing", HEAD "CSeq: 1 INVITE\r\nVia: SIP / 2.0 UDP h\r\n\r\n", true,
            "bad Via header"),
        ROW("Via of SIP version 2.01", HEAD "CSeq: 1 INVITE\r\nVia: SIP/2.01/UDP h\r\n\r\n", true,
            "bad Via header"),
        ROW("header named Content-Length-Ext is not Content-Length",
            HEAD "CSeq: 1 INVITE\r\nContent-Length-Ext: x\r\nContent-Length: 1\r\n\r\n", true,
            "body shorter than Content-Length"),
        ROWC("method longer than 256 bytes", CG_ETOOBIG,
             "M12345678901234567890123456789012345678901234567890123456789012345678901234567890"
             "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
             "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
             "1234567890123456 sip:a@b SIP/2.0\r\n" TAIL,
             true, "method longer than 256 bytes"),
    };
    size_t i, failed = 0;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct cg_sip_req r;
        const char *why = NULL;
        int rc = cg_sip_parse_request(rows[i].msg, rows[i].len, &r, &why);
        bool answerable = cg_sip_req_answerable(&r) != 0;
        if (rc != rows[i].rc || !why || strcmp(why, rows[i].why) != 0 ||
            answerable != rows[i].answerable) {
            print_error("row \"%s\": expected %s, \"%s\", %sanswerable; got %s, \"%s\", "
                        "%sanswerable\n",
                        rows[i].name, cg_errname(rows[i].rc), rows[i].why,
                        rows[i].answerable ? "" : "not ", cg_errname(rc), why ? why : "(none)",
                        answerable ? "" : "not ");
            failed++;
        }
        cg_sip_req_clear(&r);
    }
    if (failed)
        fail_msg("%zu of %zu malformed-request rows failed", failed, i);
#undef ROW
#undef ROWC
#undef NOTO
#undef NOFROM
#undef RL
#undef TAIL
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
    /* with its headers, it is answered (400) */
    strcpy(m + 1036, " SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                     "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(cg_sip_parse_request(m, strlen(m), &r, &why), CG_ETOOBIG);
    assert_string_equal(why, "Request-URI longer than 1024 bytes");
    assert_true(cg_sip_req_answerable(&r));
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
        long want;   /* the message's length, 0 for incomplete, or an error */
        size_t skip; /* checked when want > 0 */
    } rows[] = {
        {"a whole INVITE", INVITE, sizeof INVITE - 1, sizeof INVITE - 1, 0},
        {"an INVITE short of its last CRLF (incomplete)", INVITE, sizeof INVITE - 3, 0, 0},
        {"keep-alive CRLFs, a message with a body, the start of the next", two, sizeof two - 1, 34,
         4},
        {"no Content-Length on a stream", "A b SIP/2.0\r\nX: y\r\n\r\n", 21, CG_EPARSE, 0},
        {"Content-Length not a number", "A b SIP/2.0\r\nContent-Length: x\r\n\r\n", 34, CG_EPARSE,
         0},
        {"Content-Length beyond the message limit", "A b SIP/2.0\r\nContent-Length: 99999\r\n\r\n",
         38, CG_ETOOBIG, 0},
    /* the length of each row below is its literal's */
#define F(name, lit, want, skip) {name, lit, sizeof lit - 1, want, skip}
#define WHOLE(name, lit)                                                                           \
    {                                                                                              \
        name, lit, sizeof lit - 1, sizeof lit - 1, 0                                               \
    }
        F("LF line ends throughout", "A b SIP/2.0\nl: 3\n\nabcA", 21, 0),
        F("CR LF lines, then an empty line of a bare LF", "A b SIP/2.0\r\nl: 1\r\n\nxA", 21, 0),
        F("LF lines, then an empty line of CR LF", "A b SIP/2.0\nl: 1\n\r\nxA", 20, 0),
        F("LF line ends, short of the empty line (incomplete)", "A b SIP/2.0\nl: 0\n", 0, 0),
        F("bare LF keep-alives", "\n\r\n\nA b SIP/2.0\nl: 0\n\n", 18, 4),
        WHOLE("a header named Content-Length-Ext beside Content-Length",
              "A b SIP/2.0\r\nContent-Length-Ext: 1\r\nContent-Length: 0\r\n\r\n"),
        F("a header named Content-Length-Ext alone is no Content-Length",
          "A b SIP/2.0\r\nContent-Length-Ext: 1\r\n\r\nx", CG_EPARSE, 0),
        WHOLE("a header named Content-Lengthy is no Content-Length",
              "A b SIP/2.0\r\nContent-Lengthy: 1\r\nl: 0\r\n\r\n"),
        WHOLE("a header named L-x is no compact Content-Length",
              "A b SIP/2.0\r\nL-x: 1\r\nl: 0\r\n\r\n"),
        WHOLE("compact form in upper case, whitespace before the colon",
              "A b SIP/2.0\r\nL\t : 2\r\n\r\nab"),
        WHOLE("Content-Length in any case, whitespace before the colon, folded value",
              "A b SIP/2.0\r\ncontent-LENGTH  :\r\n  2\r\nX: y\r\n\r\nab"),
        WHOLE("Content-Length with leading zeros", "A b SIP/2.0\r\nl: 0002\r\n\r\nab"),
        F("Content-Length with two numbers", "A b SIP/2.0\r\nl: 1 2\r\n\r\nab", CG_EPARSE, 0),
        WHOLE("the start line is not a header", "l: 5 SIP/2.0\r\nl: 0\r\n\r\n"),
#undef WHOLE
#undef F
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

/* RFC 4475 section 3.1.1.1: whitespace and folding wherever the grammar
 * allows it, spaces inside the Via protocol, compact and mixed-case names. */
#define WSINV                                                                                      \
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"                            \
    "TO :\r\n"                                                                                     \
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"                              \
    "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"                        \
    "  ;\r\n"                                                                                      \
    "  tag = 98asjd8\r\n"                                                                          \
    "MaX-fOrWaRdS: 0068\r\n"                                                                       \
    "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"                                                         \
    "Content-Length   : 150\r\n"                                                                   \
    "cseq: 0009\r\n"                                                                               \
    "  INVITE\r\n"                                                                                 \
    "Via  : SIP  /   2.0\r\n"                                                                      \
    " /UDP\r\n"                                                                                    \
    "    192.0.2.2;branch=390skdjuw\r\n"                                                           \
    "s :\r\n"                                                                                      \
    "NewFangledHeader:   newfangled value\r\n"                                                     \
    " continued newfangled value\r\n"                                                              \
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"                                                  \
    "Content-Type: application/sdp\r\n"                                                            \
    "Route:\r\n"                                                                                   \
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"                        \
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"                                        \
    "  branch  =   z9hG4bK9ikj8  ,\r\n"                                                            \
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"                                      \
    " z9hG4bK30239\r\n"                                                                            \
    "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n"                      \
    "      newvalue ;\r\n"                                                                         \
    "  secondparam ; q = 0.33\r\n"                                                                 \
    "\r\n"                                                                                         \
    "v=0\r\n"                                                                                      \
    "o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n"                                                \
    "s=-\r\n"                                                                                      \
    "c=IN IP4 192.0.2.4\r\n"                                                                       \
    "t=0 0\r\n"                                                                                    \
    "m=audio 49217 RTP/AVP 0 12\r\n"                                                               \
    "m=video 3227 RTP/AVP 31\r\n"                                                                  \
    "a=rtpmap:31 LPC\r\n"

/* RFC 4475 section 3.1.1.2: an unknown method of every token character, a
 * Request-URI of every character a SIP URI's user part allows. */
#define INTMETH_M "!interesting-Method0123456789_*+`.%indeed'~"
#define INTMETH_U                                                                                  \
    "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."          \
    "(doesn't-it)@example.com"
#define INTMETH                                                                                    \
    INTMETH_M                                                                                      \
    " " INTMETH_U " SIP/2.0\r\n"                                                                   \
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"                            \
    "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" "                                                    \
    "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r\n"                       \
    "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="          \
    "\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9\";"        \
    "tag=_token~1'+`*%!-.\r\n"                                                                     \
    "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"                                    \
    "CSeq: 139122385 " INTMETH_M "\r\n"                                                            \
    "Max-Forwards: 255\r\n"                                                                        \
    "extensionHeader-!.%*+_`'~: \xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\r\n"              \
    "Content-Length: 0\r\n\r\n"

/* Requests the torture tests and the grammar call valid are read, with
 * the values a response copies. */
static void test_valid_unusual(void **state)
{
    struct cg_sip_req r;
    const char *why = NULL;
    size_t skip;
    char *out;
    size_t n;
    (void)state;

    r = parse_ok(WSINV);
    assert_string_equal(r.method, "INVITE");
    assert_int_equal(r.nvia, 3);
    assert_string_equal(r.via[0], "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw");
    assert_string_equal(r.branch, "390skdjuw");
    assert_string_equal(r.via[2],
                        "SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239");
    assert_string_equal(r.to_tag, "1918181833n");
    assert_string_equal(r.cseq, "0009 INVITE");
    assert_string_equal(r.from,
                        "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ; tag = 98asjd8");
    cg_sip_req_clear(&r);
    /* the same on a stream, framed with its 150-byte body */
    assert_int_equal(cg_sip_frame(WSINV, sizeof WSINV - 1, &skip), sizeof WSINV - 1);

    /* INTMETH holds control characters inside a quoted string: refused
     * (kept values are C strings), but with everything else read */
    assert_int_equal(cg_sip_parse_request(INTMETH, sizeof INTMETH - 1, &r, &why), CG_EPARSE);
    assert_string_equal(why, "control character in a header");
    cg_sip_req_clear(&r);
    {
        /* the same without the control characters in To's display name */
        char m[sizeof INTMETH];
        char *bel;
        memcpy(m, INTMETH, sizeof INTMETH);
        bel = strstr(m, "BEL:");
        bel[5] = 'x';
        bel[12] = 'x';
        bel[19] = 'x';
        if (cg_sip_parse_request(m, sizeof INTMETH - 1, &r, &why) != CG_OK)
            fail_msg("%s", why);
        assert_string_equal(r.method, INTMETH_M);
        assert_string_equal(r.ruri, INTMETH_U);
        assert_string_equal(r.branch, "z9hG4bK-.!%66*_+`'~");
        assert_int_equal(cg_sip_response(&r, 405, "Method Not Allowed", NULL, 0, &out, &n), CG_OK);
        assert_non_null(strstr(out, "\r\nCSeq: 139122385 " INTMETH_M "\r\n"));
        free(out);
        cg_sip_req_clear(&r);
    }

    /* an unquoted UTF-8 display name (RFC 3261 wants quotes, real SBCs
     * send it without) and two P-Asserted-Identity headers are read */
    r = parse_ok("INVITE sip:+14155550100@127.0.0.1 SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKutf\r\n"
                 "From: J\xc3\xb6rg M\xc3\xbcller <sip:+447700900123@x>;tag=1\r\n"
                 "To: <sip:+14155550100@127.0.0.1>\r\nCall-ID: utf@x\r\nCSeq: 1 INVITE\r\n"
                 "P-Asserted-Identity: <sip:+447700900123@x>\r\n"
                 "P-Asserted-Identity: <tel:+447700900123>\r\nContent-Length: 0\r\n\r\n");
    assert_string_equal(r.pai, "<sip:+447700900123@x>");
    assert_string_equal(r.pai_more, "<tel:+447700900123>");
    cg_sip_req_clear(&r);
    assert_int_equal(
        cg_sip_parse_request("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\r\n"
                             "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: 3p\r\n"
                             "CSeq: 1 INVITE\r\nP-Asserted-Identity: <sip:1@x>\r\n"
                             "P-Asserted-Identity: <tel:+2>\r\n"
                             "P-Asserted-Identity: <tel:+3>\r\n\r\n",
                             223, &r, &why),
        CG_EPARSE);
    assert_string_equal(why, "more than two P-Asserted-Identity headers");
    cg_sip_req_clear(&r);

    /* RFC 4475 section 3.1.1.5: '%' in a method is no escape */
    r = parse_ok("RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n"
                 "To: \"%Z%45\" <sip:resource@example.com>\r\n"
                 "From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\r\n"
                 "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\r\n"
                 "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\r\n"
                 "CSeq: 29344 RE%47IST%45R\r\nC%6Fntact: <sip:alias2@host2.example.com>\r\n"
                 "l: 0\r\n\r\n");
    assert_string_equal(r.method, "RE%47IST%45R");
    cg_sip_req_clear(&r);

    /* RFC 4475 sections 3.1.1.3, 3.1.1.4, 3.1.1.6, 3.1.1.9: escapes (a NUL
     * too), a display name against its '<', a ';' in the user part */
    r = parse_ok("INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\r\n"
                 "To: sip:null-%00-null@example.com\r\n"
                 "From: caller<sip:caller@example.com>;tag=323\r\n"
                 "Call-ID: e\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_string_equal(r.ruri, "sip:sips%3Auser%40example.com@example.net");
    cg_sip_req_clear(&r);
    r = parse_ok("OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\r\n"
                 "To: sip:j_user@example.com\r\nFrom: sip:caller@example.org;tag=33242\r\n"
                 "Call-ID: semiuri\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "CSeq: 8 OPTIONS\r\n\r\n");
    cg_sip_req_clear(&r);

    /* other Request-URIs the grammar allows */
    {
        static const char *const uris[] = {
            "sip:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc.example;user=phone",
            "sips:[2001:db8::1]:5061;transport=tls;maddr=[2001:db8::2]",
            "sip:192.0.2.1",
            "SIP:Alice:secret@Example.COM:5060;lr;method=INVITE",
            "tel:+1-201-555-0123;phone-context=+1;ext=(1)",
            "tel:+442079460000",
            "soap.beep://192.0.2.103:3002",
            "urn:service:sos",
            "mailto:a@b.example?subject=x,y",
        };
        size_t i;
        for (i = 0; i < sizeof uris / sizeof uris[0]; i++) {
            char m[512];
            snprintf(m, sizeof m,
                     "INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                     "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                     "CSeq: 1 INVITE\r\n\r\n",
                     uris[i]);
            r = parse_ok(m);
            assert_string_equal(r.ruri, uris[i]);
            cg_sip_req_clear(&r);
        }
    }

    /* the highest CSeq number, and leading zeros */
    r = parse_ok("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                 "CSeq: 2147483647 OPTIONS\r\n\r\n");
    cg_sip_req_clear(&r);
    r = parse_ok("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                 "CSeq: 000000000002147483647 OPTIONS\r\n\r\n");
    cg_sip_req_clear(&r);

    /* From and To forms: a quoted display name with '<', ';' and escapes,
     * token display names, addr-spec with spaced parameters, quoted and
     * IPv6 parameter values */
    r = parse_ok("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "From: \"x <sip:evil@y>; \\\"q\\\" \\\\\" <sip:+442079460000@b>;tag=1;"
                 "p=\"a;b\"\r\n"
                 "To: Mr  J. User <sip:c@d>;x=[2001:db8::1] ; tag = t9\r\n"
                 "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_string_equal(r.to_tag, "t9");
    cg_sip_req_clear(&r);
    r = parse_ok("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "From: isbn:2983792873 ;tag=1\r\nTo: <soap.beep://192.0.2.103:3002>\r\n"
                 "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
    cg_sip_req_clear(&r);

    /* an INVITE with bare LF line ends, parsed and framed */
    {
        static const char lf[] = "INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\n"
                                 "From: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\n"
                                 "CSeq: 1 INVITE\nContent-Length: 4\n\nbody";
        r = parse_ok(lf);
        cg_sip_req_clear(&r);
        assert_int_equal(cg_sip_frame(lf, sizeof lf - 1, &skip), sizeof lf - 1);
    }
}

/* Any token up to CG_SIP_METHOD_MAX bytes is a method (the transaction
 * layer answers 405 to those it does not know). */
static void test_long_method(void **state)
{
    static const size_t lens[] = {200, CG_SIP_METHOD_MAX, CG_SIP_METHOD_MAX + 1};
    char m[1024], meth[CG_SIP_METHOD_MAX + 2];
    struct cg_sip_req r;
    const char *why;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        int rc;
        memset(meth, 'X', n);
        meth[0] = '!';
        meth[n - 1] = '~';
        meth[n] = '\0';
        snprintf(m, sizeof m,
                 "%s sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                 "CSeq: 1 %s\r\n\r\n",
                 meth, meth);
        rc = cg_sip_parse_request(m, strlen(m), &r, &why);
        if (n <= CG_SIP_METHOD_MAX) {
            if (rc != CG_OK)
                fail_msg("%zu-byte method: %s", n, why);
            assert_string_equal(r.method, meth);
        } else {
            assert_int_equal(rc, CG_ETOOBIG);
            assert_true(cg_sip_req_answerable(&r));
        }
        cg_sip_req_clear(&r);
    }
}

/* Every byte in each part of a Request-URI is accepted exactly when RFC
 * 3261's grammar allows it there. */
static void test_ruri_characters(void **state)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const struct {
        const char *where;
        const char *before, *after;
        const char *allowed; /* besides letters and digits; '%' is tested apart */
    } parts[] = {
        /* user = unreserved / escaped / user-unreserved, ":" password */
        {"sip user part", "sip:a", "z@h", "-_.!~*'()&=+$,;?/:"},
        /* host, port, uri-parameters (paramchar, ";" and "="), no headers */
        {"sip parameter", "sip:a@h;x=", "z", "-_.!~*'()[]/:&+$;="},
        {"sips host", "sips:u@h", "z", "-_.!~*'()[]/:&+$;="},
        {"tel number", "tel:+1", "2", "-_.!~*'()[]/:&+$;="},
        /* absoluteURI: reserved / unreserved / escaped, and IPv6 brackets */
        {"other scheme", "urn:x", "y", "-_.!~*'();/?:@&=+$,[]"},
    };
    size_t i, failed = 0;
    int b;
    (void)state;
    for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        for (b = 1; b < 256; b++) {
            char m[512];
            struct cg_sip_req r;
            bool want, got;
            int len;
            if (b == '\r' || b == '\n' || b == '%')
                continue;
            want = strchr(alnum, b) || strchr(parts[i].allowed, b);
            len = snprintf(m, sizeof m,
                           "INVITE %s%c%s SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                           "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                           "CSeq: 1 INVITE\r\n\r\n",
                           parts[i].before, b, parts[i].after);
            got = cg_sip_parse_request(m, (size_t)len, &r, NULL) == CG_OK;
            cg_sip_req_clear(&r);
            if (got != want) {
                print_error("%s, byte 0x%02x: %s, should be %s\n", parts[i].where, b,
                            got ? "accepted" : "refused", want ? "accepted" : "refused");
                failed++;
            }
        }
    }
    if (failed)
        fail_msg("%zu bytes judged wrongly", failed);
}

/* A Request-URI of up to 1024 bytes and a From up to the message limit are
 * kept whole, and copied whole into the answer. */
static void test_long_values(void **state)
{
    char *m = malloc(CG_SIP_MSG_MAX + 1), *out, *p;
    struct cg_sip_req r;
    const char *why;
    size_t n, fl;
    (void)state;
    p = m + sprintf(m, "INVITE sip:");
    memset(p, 'u', CG_URL_MAX - 6);
    p += CG_URL_MAX - 6;
    p += sprintf(p, "@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: \"");
    fl = CG_SIP_MSG_MAX - (size_t)(p - m) - 200;
    memset(p, 'd', fl);
    p += fl;
    p += sprintf(p, "\" <sip:+442079460000@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                    "CSeq: 1 INVITE\r\n\r\n");
    assert_true((size_t)(p - m) <= CG_SIP_MSG_MAX);
    if (cg_sip_parse_request(m, (size_t)(p - m), &r, &why) != CG_OK)
        fail_msg("%s", why);
    assert_int_equal(strlen(r.ruri), CG_URL_MAX);
    assert_int_equal(strlen(r.from), fl + 2 + strlen(" <sip:+442079460000@b>;tag=1"));
    assert_int_equal(cg_sip_response(&r, 400, "Bad Request", NULL, 0, &out, &n), CG_OK);
    p = strstr(out, "\r\nFrom: \"");
    assert_non_null(p);
    assert_memory_equal(p + 8, r.from, strlen(r.from));
    assert_memory_equal(p + 8 + strlen(r.from), "\r\nTo: ", 6);
    free(out);
    cg_sip_req_clear(&r);
    free(m);
}

/* No value can end a header line in an answer: the request's values hold
 * no line break (folding becomes a space), and a caller's phrase or extra
 * line that holds one is refused. */
static void test_response_line_breaks(void **state)
{
    struct cg_sip_req r =
        parse_ok("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                 "From: <sip:a@b>\r\n ;tag=1\r\nTo: <sip:c@d>\r\n\t;x=y\r\n"
                 "Call-ID: x\r\nCSeq: 1\r\n INVITE\r\n\r\n");
    const char *inject[] = {"Contact: <sip:a@b>\r\nContact: <sip:evil@x>"};
    const char *lf[] = {"X: a\nY: b"};
    const char *ok[] = {"Contact: <sip:a@b>"};
    char *out;
    size_t n, i;
    (void)state;
    assert_int_equal(cg_sip_response(&r, 302, "Moved Temporarily", ok, 1, &out, &n), CG_OK);
    /* every CR is followed by LF and every LF preceded by CR, and no line
     * starts with whitespace */
    for (i = 0; i < n; i++) {
        if (out[i] == '\r')
            assert_true(out[i + 1] == '\n');
        if (out[i] == '\n') {
            assert_true(i > 0 && out[i - 1] == '\r');
            assert_false(out[i + 1] == ' ' || out[i + 1] == '\t');
        }
    }
    assert_non_null(strstr(out, "\r\nFrom: <sip:a@b> ;tag=1\r\n"));
    free(out);
    assert_int_equal(cg_sip_response(&r, 302, "Moved Temporarily", inject, 1, &out, &n), CG_EINVAL);
    assert_int_equal(cg_sip_response(&r, 302, "Moved Temporarily", lf, 1, &out, &n), CG_EINVAL);
    assert_int_equal(cg_sip_response(&r, 302, "Moved\r\nX: y", ok, 1, &out, &n), CG_EINVAL);
    cg_sip_req_clear(&r);
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
        cmocka_unit_test(test_valid_unusual),
        cmocka_unit_test(test_long_method),
        cmocka_unit_test(test_ruri_characters),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_response_line_breaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
