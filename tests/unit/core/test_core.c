#include <string.h>

#include "core/internal.h"
#include "helpers.h"

static void dec_ok(const char *in, const char *want)
{
    unsigned char out[256];
    size_t n;
    assert_int_equal(cg__b64url_decode(in, strlen(in), out, sizeof out, &n), CG_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void dec_bad(const char *in)
{
    unsigned char out[256];
    size_t n;
    assert_int_equal(cg__b64url_decode(in, strlen(in), out, sizeof out, &n), CG_EPARSE);
}

static void test_b64url_rfc4648_vectors(void **state)
{
    (void)state;
    dec_ok("", "");
    dec_ok("Zg", "f");
    dec_ok("Zm8", "fo");
    dec_ok("Zm9v", "foo");
    dec_ok("Zm9vYg", "foob");
    dec_ok("Zm9vYmE", "fooba");
    dec_ok("Zm9vYmFy", "foobar");
    dec_ok("_-8", "\xff\xef");
}

static void test_b64url_rejects(void **state)
{
    (void)state;
    dec_bad("Zg==");   /* padding */
    dec_bad("Zm9v=");  /* padding */
    dec_bad("Zm+v");   /* standard alphabet */
    dec_bad("Zm/v");
    dec_bad("Zm9 v");  /* whitespace */
    dec_bad("Z");      /* impossible length */
    dec_bad("Zh");     /* non-zero trailing bits */
    dec_bad("Zm9vYh"); /* non-zero trailing bits */
    dec_bad("Zm\x80v");
}

static void test_b64url_roundtrip_and_caps(void **state)
{
    unsigned char in[256], back[256];
    char enc[400];
    size_t i, n, m;
    (void)state;
    for (i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    for (i = 0; i <= sizeof in; i += 17) {
        assert_int_equal(cg__b64url_encode(in, i, enc, sizeof enc, &n), CG_OK);
        assert_int_equal(n, (i * 4 + 2) / 3);
        assert_null(strchr(enc, '='));
        assert_int_equal(cg__b64url_decode(enc, n, back, sizeof back, &m), CG_OK);
        assert_int_equal(m, i);
        assert_memory_equal(back, in, i);
    }
    assert_int_equal(cg__b64url_encode(in, 10, enc, 5, &n), CG_ETOOBIG);
    assert_int_equal(cg__b64url_decode("Zm9vYmFy", 8, back, 3, &m), CG_ETOOBIG);
}

static void test_json_depth(void **state)
{
    (void)state;
    assert_int_equal(cg__json_depth("{}", 2), 1);
    assert_int_equal(cg__json_depth("{\"a\":[1,{\"b\":[]}]}", 18), 4);
    assert_int_equal(cg__json_depth("{\"a\":\"[[[[\\\"[[\"}", 16), 1);
}

static void test_error_strings(void **state)
{
    (void)state;
    assert_string_equal(cg_strerror(CG_OK), "success");
    assert_string_equal(cg_errname(CG_ENOMEM), "ENOMEM");
    assert_string_equal(cg_strerror(12345), "unknown error");
    /* Numbers are part of the ABI. */
    assert_int_equal(CG_EPARSE, -4);
    assert_int_equal(CG_ECERT, -10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_rfc4648_vectors),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b64url_roundtrip_and_caps),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_error_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
