#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

static struct cg_key *key;
static struct cg_signer *signer;
static struct th_env env;

static int setup(void **state)
{
    (void)state;
    if (cg_key_load_file(&key, th_file("sp-1234.key")) || cg_signer_new(&signer, key, TH_X5U))
        return -1;
    th_env_init(&env, "sp-1234.pem", true, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cg_signer_free(signer);
    cg_key_free(key);
    th_env_free(&env);
    return 0;
}

static void test_sign_then_verify(void **state)
{
    const char *dest[] = {"+1 415 555 0100", "+14155550199"};
    struct cg_sign_request r = {
        .orig = "tel:+44-20-7946-0000", .dest = dest, .ndest = 2, .attest = 'B'};
    struct cg_identity id;
    struct cg_passport p;
    struct cg_verdict v;
    enum cg_passport_fault f;
    unsigned char sig[64];
    size_t sl;
    char *out;
    const char *why;
    (void)state;
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_OK);
    assert_non_null(strstr(out, ";info=<" TH_X5U ">;alg=ES256;ppt=shaken"));
    assert_int_equal(cg_identity_parse(out, strlen(out), &id, &why), CG_OK);
    assert_int_equal(cg_passport_decode(id.token, id.token_len, &p, sig, &sl, &f, &why), CG_OK);
    assert_int_equal(p.attest, 'B');
    assert_string_equal(p.orig_tn, TH_ORIG);
    assert_string_equal(p.dest_tn[0], "14155550100");
    assert_string_equal(p.dest_tn[1], "14155550199");
    assert_int_equal(strlen(p.origid), 36); /* a fresh UUID */
    assert_int_equal(p.origid[14], '4');
    assert_true(llabs(p.iat - (int64_t)time(NULL)) <= 2);
    cg_passport_clear(&p);
    v = th_verify(&env, out, 0);
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
    assert_int_equal(v.attest, 'B');
    free(out);
}

static void test_deterministic_claims(void **state)
{
    const char *dest[] = {"14155550100"};
    struct cg_sign_request r = {.orig = "442079460000",
                                .dest = dest,
                                .ndest = 1,
                                .attest = 'A',
                                .origid = "ref",
                                .iat = 1614787094};
    char *a, *b;
    (void)state;
    assert_int_equal(cg_sign(signer, &r, &a, NULL), CG_OK);
    assert_int_equal(cg_sign(signer, &r, &b, NULL), CG_OK);
    /* header and payload identical byte for byte; ECDSA signatures differ */
    assert_memory_equal(a, b, strchr(a, ';') - 87 - a);
    assert_memory_not_equal(strchr(a, ';') - 86, strchr(b, ';') - 86, 86);
    assert_string_equal(strchr(a, ';'), strchr(b, ';'));
    free(a);
    free(b);
}

static void test_national_numbers_and_div(void **state)
{
    const char *dest[] = {"020 7946 0001"};
    struct cg_sign_request r = {
        .orig = "020 7946 0000", .dest = dest, .ndest = 1, .attest = 'A', .plan = &cg_tn_plan_uk};
    struct cg_identity id;
    struct cg_passport p;
    enum cg_passport_fault f;
    unsigned char sig[64];
    size_t sl;
    char *out;
    const char *why;
    (void)state;
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_OK);
    cg_identity_parse(out, strlen(out), &id, &why);
    assert_int_equal(cg_passport_decode(id.token, id.token_len, &p, sig, &sl, &f, &why), CG_OK);
    assert_string_equal(p.orig_tn, "442079460000");
    assert_string_equal(p.dest_tn[0], "442079460001");
    cg_passport_clear(&p);
    free(out);

    r.ppt = CG_PPT_DIV;
    r.div = "+442079469999";
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_OK);
    assert_non_null(strstr(out, ";ppt=div"));
    cg_identity_parse(out, strlen(out), &id, &why);
    assert_int_equal(cg_passport_decode(id.token, id.token_len, &p, sig, &sl, &f, &why), CG_OK);
    assert_string_equal(p.div_tn, "442079469999");
    cg_passport_clear(&p);
    free(out);
}

static void test_rcd(void **state)
{
    const char *dest[] = {"14155550100"};
    struct cg_rcd rcd = {.present = true, .nam = "Example Bank", .crn = "Card payment check"};
    struct cg_sign_request r = {
        .orig = "442079460000", .dest = dest, .ndest = 1, .attest = 'A', .rcd = &rcd};
    struct cg_verdict v;
    char *out;
    (void)state;
    assert_int_equal(cg_sign(signer, &r, &out, NULL), CG_OK);
    v = th_verify(&env, out, 0);
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
    free(out);
}

static void test_bad_requests(void **state)
{
    const char *dest[] = {"14155550100"};
    struct cg_sign_request r = {
        .orig = "sip:alice@example.com", .dest = dest, .ndest = 1, .attest = 'A'};
    struct cg_signer *s2;
    struct cg_key *pub;
    char *out = (char *)"untouched";
    const char *why;
    (void)state;
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_EINVAL);
    assert_non_null(why);
    assert_null(out);
    r.orig = "+442079460000";
    r.attest = 'D';
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_EINVAL);
    r.attest = 'A';
    r.ndest = 0;
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_EINVAL);
    r.ndest = 1;
    r.origid = "";
    assert_int_equal(cg_sign(signer, &r, &out, &why), CG_EINVAL);
    assert_int_equal(cg_signer_new(&s2, key, "ftp://x"), CG_EINVAL);
    assert_int_equal(cg_signer_new(&s2, key, "https://x/a>b"), CG_EINVAL);
    assert_int_equal(cg_key_load_file(&pub, th_file("sp-1234-leaf.pem")), CG_OK);
    assert_int_equal(cg_signer_new(&s2, pub, TH_X5U), CG_EINVAL);
    cg_key_free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_then_verify),
        cmocka_unit_test(test_deterministic_claims),
        cmocka_unit_test(test_national_numbers_and_div),
        cmocka_unit_test(test_rcd),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
