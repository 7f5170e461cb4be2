#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "helpers.h"

/* Builds "b64(hdr).b64(payload).<64 zero bytes>" (decode does not verify). */
static char *unsigned_token(const char *hdr, const char *payload)
{
    size_t cap = (strlen(hdr) + strlen(payload)) * 2 + 200, n, w;
    char *t = malloc(cap);
    unsigned char sig[64] = {0};
    cg__b64url_encode((const unsigned char *)hdr, strlen(hdr), t, cap, &w);
    n = w;
    t[n++] = '.';
    cg__b64url_encode((const unsigned char *)payload, strlen(payload), t + n, cap - n, &w);
    n += w;
    t[n++] = '.';
    cg__b64url_encode(sig, 64, t + n, cap - n, &w);
    return t;
}

static int decode(const char *hdr, const char *payload, struct cg_passport *p,
                  enum cg_passport_fault *fault)
{
    char *t = unsigned_token(hdr, payload);
    unsigned char sig[64];
    size_t sl;
    const char *why;
    int rc = cg_passport_decode(t, strlen(t), p, sig, &sl, fault, &why);
    if (rc == CG_OK)
        assert_int_equal(sl, strrchr(t, '.') - t);
    else
        assert_non_null(why);
    free(t);
    return rc;
}

static void expect_fault(const char *hdr, const char *payload, enum cg_passport_fault want)
{
    struct cg_passport p;
    enum cg_passport_fault f;
    assert_int_equal(decode(hdr, payload, &p, &f), CG_EPARSE);
    assert_int_equal(f, want);
}

#define P_OK                                                                                       \
    "{\"attest\":\"A\",\"dest\":{\"tn\":[\"14155550100\"]},\"iat\":1700000000,\"orig\":{\"tn\":"   \
    "\"442079460000\"},\"origid\":\"x\"}"

static void test_decode_shaken(void **state)
{
    struct cg_passport p;
    enum cg_passport_fault f;
    (void)state;
    assert_int_equal(decode(TH_HDR, P_OK, &p, &f), CG_OK);
    assert_int_equal(p.ppt, CG_PPT_SHAKEN);
    assert_string_equal(p.x5u, TH_X5U);
    assert_int_equal(p.attest, 'A');
    assert_int_equal(p.iat, 1700000000);
    assert_string_equal(p.orig_tn, "442079460000");
    assert_int_equal(p.ndest_tn, 1);
    assert_string_equal(p.dest_tn[0], "14155550100");
    assert_string_equal(p.origid, "x");
    cg_passport_clear(&p);
}

static void test_header_faults(void **state)
{
    (void)state;
    expect_fault("{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"https://x\"}", P_OK,
                 CG_PF_HDR_MISSING); /* no ppt */
    expect_fault("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}", P_OK,
                 CG_PF_HDR_MISSING); /* no x5u */
    expect_fault("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"JWT\",\"x5u\":\"https://x\"}",
                 P_OK, CG_PF_TYP);
    expect_fault("{\"alg\":\"none\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"https://x\"}",
                 P_OK, CG_PF_ALG);
    expect_fault(
        "{\"alg\":\"HS256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"https://x\"}", P_OK,
        CG_PF_ALG);
    expect_fault("{\"alg\":\"ES256\",\"ppt\":\"msg\",\"typ\":\"passport\",\"x5u\":\"https://x\"}",
                 P_OK, CG_PF_PPT);
    expect_fault("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                 "\"x5u\":\"https://x\"}",
                 P_OK, CG_PF_HDR_JSON); /* duplicate member */
    expect_fault("[1,2]", P_OK, CG_PF_HDR_JSON);
    expect_fault("not json", P_OK, CG_PF_HDR_JSON);
}

static void test_claim_faults(void **state)
{
    char deep[200];
    size_t i;
    (void)state;
    /* string iat (RFC 8225 erratum 5985) */
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":\"1700000000\","
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1.5e9,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    /* attest other than exactly A, B or C */
    expect_fault(TH_HDR,
                 "{\"attest\":\"a\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_ATTEST);
    expect_fault(TH_HDR,
                 "{\"attest\":\"Apple\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_ATTEST);
    expect_fault(TH_HDR,
                 "{\"attest\":\"D\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_ATTEST);
    expect_fault(TH_HDR,
                 "{\"attest\":1,\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_ATTEST);
    /* missing claims */
    expect_fault(TH_HDR,
                 "{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":\"2\"},"
                 "\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR, "{\"attest\":\"A\",\"iat\":1,\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"orig\":{\"tn\":\"2\"},"
                 "\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR, "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"}}",
                 CG_PF_CLAIMS);
    /* wrong shapes: dest an array (RFC 8224 erratum 5715), tn with '+', JSON-in-a-string */
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":[\"1\"],\"iat\":1,\"orig\":{\"tn\":\"2\"},"
                 "\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"+442079460000\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":\"{\\\"tn\\\":\\\"1\\\"}\",\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":\"1\"},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    /* duplicate member in the claims */
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"attest\":\"C\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,"
                 "\"orig\":{\"tn\":\"2\"},\"origid\":\"x\"}",
                 CG_PF_CLAIMS);
    /* deeply nested JSON is refused before the parser recurses */
    strcpy(deep, "{\"attest\":\"A\",\"x\":");
    for (i = 0; i < 40; i++)
        strcat(deep, "[");
    for (i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    expect_fault(TH_HDR, deep, CG_PF_CLAIMS);
}

static void test_form_faults(void **state)
{
    struct cg_passport p;
    enum cg_passport_fault f;
    unsigned char sig[64];
    size_t sl;
    const char *why;
    char *t = unsigned_token(TH_HDR, P_OK), *dot;
    (void)state;
    /* compact form */
    dot = strchr(t, '.');
    assert_int_equal(cg_passport_decode(dot, strlen(dot), &p, sig, &sl, &f, &why), CG_EPARSE);
    assert_int_equal(f, CG_PF_FORM);
    /* 71-byte DER signature instead of R||S */
    dot = strrchr(t, '.');
    strcpy(dot + 1,
           "MEUCIHlUek8KQZPh9PQRxyy7st4JNDaB9vvAj55f1V1fxsxPAiEAl5TANXspZkJd8QNp40fU4_iVn3wuu"
           "KjbnZENrIeKvbs");
    assert_int_equal(cg_passport_decode(t, strlen(t), &p, sig, &sl, &f, &why), CG_EPARSE);
    assert_int_equal(f, CG_PF_SIG_FORM);
    free(t);
}

static void test_div_and_rcd(void **state)
{
    struct cg_passport p;
    enum cg_passport_fault f;
    (void)state;
    assert_int_equal(
        decode("{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"https://x/d\"}",
               "{\"dest\":{\"tn\":[\"15715550002\"]},\"div\":{\"tn\":\"15715550000\"},"
               "\"iat\":1635178090,\"orig\":{\"tn\":\"17035550001\"}}",
               &p, &f),
        CG_OK);
    assert_int_equal(p.ppt, CG_PPT_DIV);
    assert_string_equal(p.div_tn, "15715550000");
    assert_int_equal(p.attest, 0);
    cg_passport_clear(&p);
    expect_fault("{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"https://x\"}",
                 "{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":\"2\"}}", CG_PF_CLAIMS);

    /* RCD inside a SHAKEN PASSporT, with the draft's bare-string rcdi. */
    assert_int_equal(
        decode(TH_HDR,
               "{\"attest\":\"A\",\"crn\":\"Your card payment\",\"dest\":{\"tn\":[\"1\"]},"
               "\"iat\":1,\"orig\":{\"tn\":\"2\"},\"origid\":\"x\",\"rcd\":{\"icn\":"
               "\"https://x/logo.png\",\"jcd\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"]]],"
               "\"nam\":\"Example Bank\"},\"rcdi\":\"sha256-abc=\"}",
               &p, &f),
        CG_OK);
    assert_true(p.rcd.present);
    assert_string_equal(p.rcd.nam, "Example Bank");
    assert_string_equal(p.rcd.crn, "Your card payment");
    assert_string_equal(p.rcd.icn, "https://x/logo.png");
    assert_string_equal(p.rcd.jcd, "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"]]]");
    assert_string_equal(p.rcd.rcdi, "sha256-abc=");
    cg_passport_clear(&p);
    expect_fault(TH_HDR,
                 "{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":"
                 "\"2\"},\"origid\":\"x\",\"rcd\":{\"nam\":7}}",
                 CG_PF_CLAIMS);
}

static void encode_expect(const struct cg_passport *p, const char *hdr, const char *payload)
{
    char *h, *c;
    assert_int_equal(cg_passport_encode(p, &h, &c), CG_OK);
    assert_string_equal(h, hdr);
    assert_string_equal(c, payload);
    free(h);
    free(c);
}

/* Byte-exact canonical JSON: the libstirshaken README example
 * (docs/standards.md#canonical-json) and the RCD key order attest, crn,
 * dest, iat, orig, origid, rcd, rcdi. */
static void test_encode_canonical(void **state)
{
    struct cg_passport p;
    (void)state;
    memset(&p, 0, sizeof p);
    p.ppt = CG_PPT_SHAKEN;
    strcpy(p.x5u, "https://sp.com/sp.pem");
    strcpy(p.orig_tn, "01256789999");
    strcpy(p.dest_tn[0], "01256500600");
    p.ndest_tn = 1;
    p.iat = 1614787094;
    p.attest = 'A';
    strcpy(p.origid, "ref");
    encode_expect(&p,
                  "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":"
                  "\"https://sp.com/sp.pem\"}",
                  "{\"attest\":\"A\",\"dest\":{\"tn\":[\"01256500600\"]},\"iat\":1614787094,"
                  "\"orig\":{\"tn\":\"01256789999\"},\"origid\":\"ref\"}");

    /* several dests are sorted; uri after tn */
    strcpy(p.dest_tn[0], "3");
    strcpy(p.dest_tn[1], "1");
    strcpy(p.dest_tn[2], "2");
    p.ndest_tn = 3;
    strcpy(p.dest_uri[0], "sip:b@x");
    strcpy(p.dest_uri[1], "sip:a@x");
    p.ndest_uri = 2;
    p.rcd.present = true;
    p.rcd.nam = "Bank \xc3\xa9";
    p.rcd.crn = "Fraud alert";
    p.rcd.jcd = "[\"vcard\", [[\"fn\", {}, \"text\", \"Bank\"]]]";
    p.rcd.rcdi = "{\"/jcd\":\"sha256-x\"}";
    encode_expect(
        &p,
        "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":"
        "\"https://sp.com/sp.pem\"}",
        "{\"attest\":\"A\",\"crn\":\"Fraud alert\",\"dest\":{\"tn\":[\"1\",\"2\",\"3\"],"
        "\"uri\":[\"sip:a@x\",\"sip:b@x\"]},\"iat\":1614787094,\"orig\":{\"tn\":"
        "\"01256789999\"},\"origid\":\"ref\",\"rcd\":{\"jcd\":[\"vcard\",[[\"fn\",{},"
        "\"text\",\"Bank\"]]],\"nam\":\"Bank \xc3\xa9\"},\"rcdi\":{\"/jcd\":\"sha256-x\"}}");

    /* div */
    memset(&p, 0, sizeof p);
    p.ppt = CG_PPT_DIV;
    strcpy(p.x5u, "https://x/d");
    strcpy(p.orig_tn, "17035550001");
    strcpy(p.dest_tn[0], "15715550002");
    p.ndest_tn = 1;
    strcpy(p.div_tn, "15715550000");
    p.iat = 1635178090;
    encode_expect(
        &p, "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"https://x/d\"}",
        "{\"dest\":{\"tn\":[\"15715550002\"]},\"div\":{\"tn\":\"15715550000\"},"
        "\"iat\":1635178090,\"orig\":{\"tn\":\"17035550001\"}}");
}

static void test_encode_rejects(void **state)
{
    struct cg_passport p;
    char *h, *c;
    (void)state;
    memset(&p, 0, sizeof p);
    p.ppt = CG_PPT_SHAKEN;
    strcpy(p.x5u, "https://x");
    strcpy(p.orig_tn, "+1");
    strcpy(p.dest_tn[0], "2");
    p.ndest_tn = 1;
    p.iat = 1;
    p.attest = 'A';
    strcpy(p.origid, "o");
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL); /* '+' in tn */
    strcpy(p.orig_tn, "1");
    p.attest = 'D';
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
    p.attest = 'A';
    p.rcd.present = true;
    p.rcd.jcd = "{not json";
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
}

/* Rich Call Data's free-form JSON is re-serialized canonically: members
 * sorted, no blanks, numbers as jansson writes them (the form tokens had
 * when jansson did this), strings with the same escapes as every other
 * claim; what the verifier would refuse is refused when signing. */
static void test_encode_rcd_json(void **state)
{
    struct cg_passport p;
    char *h, *c, deep[64];
    (void)state;
    memset(&p, 0, sizeof p);
    p.ppt = CG_PPT_SHAKEN;
    strcpy(p.x5u, "https://x");
    strcpy(p.orig_tn, "1");
    strcpy(p.dest_tn[0], "2");
    p.ndest_tn = 1;
    p.iat = 1;
    p.attest = 'A';
    strcpy(p.origid, "o");
    p.rcd.present = true;
    p.rcd.jcd = "[ \"vcard\", [[\"fn\", {\"b\": 1, \"a\": [2.5, 1e5, 0.1, -0, 1E-5, 3.0, -2E+21]}, "
                "\"text\", \"Caf\\u00e9\\n\\\"x\\\"\"]]]";
    p.rcd.rcdi = "{\"/jcd\":\"sha256-x\", \"/icn\":\"z\"}";
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_OK);
    assert_string_equal(c,
                        "{\"attest\":\"A\",\"dest\":{\"tn\":[\"2\"]},\"iat\":1,\"orig\":{\"tn\":"
                        "\"1\"},\"origid\":\"o\",\"rcd\":{\"jcd\":[\"vcard\",[[\"fn\",{\"a\":[2.5,"
                        "100000.0,0.10000000000000001,0,1.0000000000000001e-5,3.0,-2e21],\"b\":1},"
                        "\"text\",\"Caf\xc3\xa9\\n\\\"x\\\"\"]]]},\"rcdi\":{\"/icn\":\"z\","
                        "\"/jcd\":\"sha256-x\"}}");
    free(h);
    free(c);
    /* a number of any length is a number (jansson read them all) */
    p.rcd.jcd = "[\"vcard\",[0.100000000000000000000000000000000000000000000000000000000000000001,"
                "1000000000000000000000000000000000000000000000000000000000000000000.5]]";
    p.rcd.rcdi = NULL;
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_OK);
    assert_non_null(strstr(c, "\"jcd\":[\"vcard\",[0.10000000000000001,9.9999999999999995e65]]"));
    free(h);
    free(c);
    /* a jCard must be an array and an rcdi object an object */
    p.rcd.jcd = "{\"vcard\":1}";
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
    p.rcd.jcd = "[\"vcard\",[]]";
    p.rcd.rcdi = "{\"a\":1,\"a\":2}"; /* duplicate member */
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
    p.rcd.rcdi = "{\"a\":1} x"; /* trailing text */
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
    p.rcd.rcdi = NULL;
    memset(deep, '[', 20);
    memset(deep + 20, ']', 20);
    deep[40] = '\0';
    p.rcd.jcd = deep; /* deeper than a received PASSporT may be */
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
}

/* A jCard within the reader's limits on its own but not inside the claims
 * (two levels deeper, beside the other claims' nodes) is refused when
 * signing, since the token would not verify; one just within them is
 * signed and reads back. */
static void test_encode_rcd_verifiable(void **state)
{
    struct cg_passport p, q;
    char *h, *c, deep[32], *wide, *tok;
    unsigned char sig[64];
    size_t i, n, siglen;
    enum cg_passport_fault f;
    const char *why;
    (void)state;
    memset(&p, 0, sizeof p);
    p.ppt = CG_PPT_SHAKEN;
    strcpy(p.x5u, "https://x");
    strcpy(p.orig_tn, "1");
    strcpy(p.dest_tn[0], "2");
    p.ndest_tn = 1;
    p.iat = 1;
    p.attest = 'A';
    strcpy(p.origid, "o");
    p.rcd.present = true;
    for (n = CG_PASSPORT_JSON_DEPTH - 2; n <= CG_PASSPORT_JSON_DEPTH; n++) {
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        deep[2 * n] = '\0';
        p.rcd.jcd = deep;
        if (n > CG_PASSPORT_JSON_DEPTH - 2) {
            assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
            continue;
        }
        assert_int_equal(cg_passport_encode(&p, &h, &c), CG_OK);
        tok = unsigned_token(h, c);
        assert_int_equal(cg_passport_decode(tok, strlen(tok), &q, sig, &siglen, &f, &why), CG_OK);
        cg_passport_clear(&q);
        free(tok);
        free(h);
        free(c);
    }
    /* 250 values: within 256 nodes alone, not with the other claims */
    assert_non_null(wide = malloc(2 * 249 + 2));
    for (i = 0; i < 249; i++)
        memcpy(wide + 2 * i, i ? ",1" : "[1", 2);
    memcpy(wide + 2 * 249, "]", 2);
    p.rcd.jcd = wide;
    assert_int_equal(cg_passport_encode(&p, &h, &c), CG_EINVAL);
    free(wide);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_shaken),         cmocka_unit_test(test_header_faults),
        cmocka_unit_test(test_claim_faults),          cmocka_unit_test(test_form_faults),
        cmocka_unit_test(test_div_and_rcd),           cmocka_unit_test(test_encode_canonical),
        cmocka_unit_test(test_encode_rejects),        cmocka_unit_test(test_encode_rcd_json),
        cmocka_unit_test(test_encode_rcd_verifiable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
