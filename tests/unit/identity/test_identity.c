#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define TOK "eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln"

static struct cg_identity parse_ok(const char *in)
{
    struct cg_identity id;
    const char *why = "unset";
    int rc = cg_identity_parse(in, strlen(in), &id, &why);
    if (rc != CG_OK)
        fail_msg("parse failed: %s (%s)", why, in);
    return id;
}

static void parse_bad(const char *in, int want)
{
    struct cg_identity id;
    const char *why = NULL;
    assert_int_equal(cg_identity_parse(in, strlen(in), &id, &why), want);
    assert_non_null(why);
}

static void test_canonical(void **state)
{
    struct cg_identity id =
        parse_ok(TOK ";info=<https://cr.example.net/a.pem>;alg=ES256;ppt=shaken");
    (void)state;
    assert_int_equal(id.token_len, strlen(TOK));
    assert_memory_equal(id.token, TOK, id.token_len);
    assert_string_equal(id.info, "https://cr.example.net/a.pem");
    assert_string_equal(id.alg, "ES256");
    assert_string_equal(id.ppt, "shaken");
    assert_false(id.compact);
}

static void test_real_world_tolerance(void **state)
{
    struct cg_identity id;
    (void)state;
    id = parse_ok(TOK ";info=<https://x/a.pem>;ppt=\"shaken\";alg=ES256"); /* quoted, reordered */
    assert_string_equal(id.ppt, "shaken");
    id = parse_ok(TOK ";info=<https://x/a.pem>;ppt=shaken"); /* no alg */
    assert_false(id.has_alg);
    id = parse_ok("Identity: " TOK " ;\r\n info=<https://x/a.pem> ; alg=ES256 ; ppt=shaken");
    assert_string_equal(id.info, "https://x/a.pem");
    id = parse_ok("y: " TOK ";info=<https://x/a.pem>;ppt=shaken"); /* compact header name */
    assert_true(id.has_info);
    id = parse_ok(TOK ";info=<https://x/a.pem>alg=ES256;ppt=shaken"); /* old Asterisk */
    assert_string_equal(id.alg, "ES256");
    id = parse_ok(TOK ";INFO=<https://x/a.pem>;Ppt=shaken;foo=bar;baz"); /* case, extensions */
    assert_string_equal(id.ppt, "shaken");
    id = parse_ok(TOK); /* bare PASSporT */
    assert_false(id.has_info);
    id = parse_ok(TOK ";info=<https://x/a.pem>;ppt=shaken;");
    assert_true(id.has_ppt);
}

static void test_compact_form_flagged(void **state)
{
    struct cg_identity id = parse_ok("..c2lnbmF0dXJl;info=<https://x/a.pem>;ppt=shaken");
    (void)state;
    assert_true(id.compact);
    id = parse_ok("eyJh..c2ln;info=<https://x/a.pem>;ppt=shaken");
    assert_true(id.compact);
}

static void test_strict(void **state)
{
    char *big;
    (void)state;
    parse_bad("", CG_EPARSE);
    parse_bad(";info=<https://x>", CG_EPARSE);
    parse_bad("abc.def;info=<https://x>", CG_EPARSE);               /* two parts */
    parse_bad("a.b.c.d;info=<https://x>", CG_EPARSE);               /* four parts */
    parse_bad("a.b.;info=<https://x>", CG_EPARSE);                  /* no signature */
    parse_bad("a+b.c.d;info=<https://x>", CG_EPARSE);               /* not base64url */
    parse_bad(TOK ";info=<https://x>;info=<https://y>", CG_EPARSE); /* duplicated */
    parse_bad(TOK ";ppt=shaken;ppt=div", CG_EPARSE);
    parse_bad(TOK ";info=<https://x", CG_EPARSE);
    parse_bad(TOK ";ppt=\"shaken", CG_EPARSE);
    parse_bad(TOK " info=<https://x>", CG_EPARSE); /* no ';' */
    parse_bad(TOK ";=x", CG_EPARSE);
    parse_bad(TOK ";a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q", CG_ETOOBIG);
    big = malloc(100 * 1024 + 1);
    memset(big, 'A', 100 * 1024);
    big[100 * 1024] = '\0';
    big[10] = '.';
    big[20] = '.';
    parse_bad(big, CG_ETOOBIG); /* 100 KB header */
    free(big);
}

static void test_format(void **state)
{
    char *s;
    (void)state;
    assert_int_equal(cg_identity_format("a.b.c", "https://x/y.pem", "shaken", &s), CG_OK);
    assert_string_equal(s, "a.b.c;info=<https://x/y.pem>;alg=ES256;ppt=shaken");
    free(s);
    assert_int_equal(cg_identity_format("a.b.c", "https://x/>", "shaken", &s), CG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_real_world_tolerance),
        cmocka_unit_test(test_compact_form_flagged),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
