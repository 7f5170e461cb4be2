#include <string.h>

#include <jansson.h>

#include "core/internal.h"
#include "core/sjson.h"
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
    dec_bad("Zg==");  /* padding */
    dec_bad("Zm9v="); /* padding */
    dec_bad("Zm+v");  /* standard alphabet */
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
    assert_int_equal(CG_ECONFLICT, -11);
    assert_string_equal(cg_errname(CG_ECONFLICT), "ECONFLICT");
}

static struct cg__jnode nodes[64];
static char scratch[4096];

static int sj(const char *text, struct cg__json *j)
{
    j->nodes = nodes;
    j->maxnodes = 64;
    j->scratch = scratch;
    j->scratch_cap = sizeof scratch;
    j->maxdepth = 8;
    return cg__json_parse(j, text, strlen(text));
}

static void test_sjson_values(void **state)
{
    struct cg__json j;
    const struct cg__jnode *v;
    (void)state;
    assert_int_equal(sj(" {\"a\" : [1, -2, 3.5, 1e3, true, false, null, \"x\"], \"b\":{}} ", &j),
                     0);
    v = cg__json_get(&j, &nodes[0], "a");
    assert_non_null(v);
    assert_int_equal(v->type, CGJ_ARR);
    assert_int_equal(v->count, 8);
    assert_int_equal(nodes[v->child].type, CGJ_INT);
    assert_int_equal(nodes[v->child].i, 1);
    assert_int_equal(nodes[nodes[v->child].next].i, -2);
    assert_int_equal(nodes[nodes[nodes[v->child].next].next].type, CGJ_REAL);
    assert_memory_equal(v->raw, "[1, -2, 3.5, 1e3, true, false, null, \"x\"]", v->rawlen);
    assert_int_equal(cg__json_get(&j, &nodes[0], "b")->type, CGJ_OBJ);
    assert_null(cg__json_get(&j, &nodes[0], "c"));
    /* escapes and Unicode, decoded */
    assert_int_equal(sj("{\"s\":\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\xc3\xa9\"}", &j), 0);
    v = cg__json_get(&j, &nodes[0], "s");
    assert_string_equal(v->str, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9");
    assert_int_equal(sj("{\"i\":9223372036854775807,\"n\":-9223372036854775808}", &j), 0);
    assert_int_equal(cg__json_get(&j, &nodes[0], "i")->i, INT64_MAX);
    assert_int_equal(cg__json_get(&j, &nodes[0], "n")->i, INT64_MIN);
    /* a real whose integer part would not fit 64 bits is still a real;
     * only an integer that big is refused */
    assert_int_equal(sj("{\"r\":123456789012345678901.5,\"e\":-99999999999999999999e-3}", &j), 0);
    assert_int_equal(cg__json_get(&j, &nodes[0], "r")->type, CGJ_REAL);
    assert_int_equal(cg__json_get(&j, &nodes[0], "e")->type, CGJ_REAL);
    assert_int_equal(sj("{\"i\":123456789012345678901}", &j), -1);
}

static void test_sjson_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "{\"a\":1,}",
        "{\"a\":1 \"b\":2}",
        "{\"a\" 1}",
        "{a:1}",
        "[1,]",
        "{\"a\":1}x",
        "{\"a\":1,\"a\":2}",         /* duplicate member */
        "{\"a\":{\"b\":1,\"b\":1}}", /* duplicate, nested */
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":-}",
        "{\"a\":9223372036854775808}",
        "{\"a\":NaN}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe2\x82\"}",
        "{\"a\":\"unterminated}",
        "[[[[[[[[[1]]]]]]]]]", /* depth 9 > 8 */
    };
    struct cg__json j;
    size_t i;
    char many[400];
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sj(bad[i], &j) == 0)
            fail_msg("accepted: %s", bad[i]);
        /* jansson agrees that each is not a valid, duplicate-free document */
        json_t *jj = json_loads(bad[i], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        if (jj && i < sizeof bad / sizeof bad[0] - 1)
            fail_msg("jansson accepts what we refuse: %s", bad[i]);
        json_decref(jj);
    }
    /* node budget: 64 */
    strcpy(many, "[");
    for (i = 0; i < 70; i++)
        strcat(many, i ? ",1" : "1");
    strcat(many, "]");
    assert_int_equal(sj(many, &j), -1);
    /* a NUL byte inside the text */
    j.nodes = nodes;
    j.maxnodes = 64;
    j.scratch = scratch;
    j.scratch_cap = sizeof scratch;
    j.maxdepth = 8;
    assert_int_equal(cg__json_parse(&j, "{\"a\":\"x\0y\"}", 11), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_rfc4648_vectors),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b64url_roundtrip_and_caps),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_sjson_values),
        cmocka_unit_test(test_sjson_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
