#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void canon(const char *in, const struct cg_tn_plan *plan, int rc, const char *want)
{
    char out[CG_TN_MAX + 1] = "unchanged";
    assert_int_equal(cg_tn_canon(in, strlen(in), plan, out), rc);
    if (rc == CG_OK)
        assert_string_equal(out, want);
    else
        assert_string_equal(out, "unchanged"); /* written only on success */
}

static void test_e164_forms(void **state)
{
    (void)state;
    canon("+44 20 7946-0000", NULL, CG_OK, "442079460000");
    canon("+1 (415) 555-0100", NULL, CG_OK, "14155550100");
    canon("tel:+442079460000", NULL, CG_OK, "442079460000");
    canon("tel:+44-20-7946-0000;phone-context=+44", NULL, CG_OK, "442079460000");
    canon("sip:+442079460000@sbc.example.net;user=phone", NULL, CG_OK, "442079460000");
    canon("<sip:+14155550100;verstat=TN-Validation-Passed@x.example;user=phone>", NULL, CG_OK,
          "14155550100");
    canon("\"Alice\" <sip:+14155550100@x.example>;tag=abc", NULL, CG_OK, "14155550100");
    canon("sips:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc;user=phone", NULL, CG_OK,
          "14155550100");
    canon("14155550100", NULL, CG_OK, "14155550100");
    canon("#31#", NULL, CG_EPARSE, "");
    canon("*67", NULL, CG_OK, "*67");
}

static void test_national_plans(void **state)
{
    (void)state;
    canon("020 7946 0000", &cg_tn_plan_uk, CG_OK, "442079460000");
    canon("07700900123", &cg_tn_plan_uk, CG_OK, "447700900123");
    canon("00 1 415 555 0100", &cg_tn_plan_uk, CG_OK, "14155550100");
    canon("sip:02079460000@pbx.example.co.uk", &cg_tn_plan_uk, CG_OK, "442079460000");
    canon("+442079460000", &cg_tn_plan_uk, CG_OK, "442079460000");
    canon("(415) 555-0100", &cg_tn_plan_nanp, CG_OK, "14155550100");
    canon("011 44 20 7946 0000", &cg_tn_plan_nanp, CG_OK, "442079460000");
    canon("14155550100", &cg_tn_plan_nanp, CG_OK, "14155550100");
    /* Without a plan a national number is kept as dialled: never matches E.164. */
    canon("02079460000", NULL, CG_OK, "02079460000");
}

static void test_not_numbers(void **state)
{
    char big[600];
    (void)state;
    canon("sip:alice@example.com", NULL, CG_EPARSE, "");
    canon("sip:example.com", NULL, CG_EPARSE, "");
    canon("tel:", NULL, CG_EPARSE, "");
    canon("", NULL, CG_EPARSE, "");
    canon("+", NULL, CG_EPARSE, "");
    canon("+44 20 7946 000O", NULL, CG_EPARSE, "");
    canon("+44+2079460000", NULL, CG_EPARSE, "");
    canon("<sip:+14155550100@x", NULL, CG_EPARSE, "");
    canon("sip:%zz14155550100@x", NULL, CG_EPARSE, "");
    canon("+1234567890123456789012345", NULL, CG_ETOOBIG, "");
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    canon(big, NULL, CG_ETOOBIG, "");
    /* French portability prefix: longer than E.164, accepted up to the limit. */
    canon("+3399991234567890", NULL, CG_OK, "3399991234567890");
}

static void kind(const char *in, enum cg_tn_kind want, const char *number)
{
    char out[CG_TN_MAX + 1] = "unchanged";
    enum cg_tn_kind got = cg_tn_read(in, strlen(in), NULL, out);
    if (got != want)
        fail_msg("%.80s: kind %d, want %d", in, (int)got, (int)want);
    assert_string_equal(out, want == CG_TN_NUMBER ? number : "unchanged");
}

/* The URI of a name-addr is the one after the display name: a quoted
 * display name may hold '<', '>', ',' and escaped quotes. */
static void test_display_names(void **state)
{
    (void)state;
    canon("\"HMRC <Fraud Team>\" <sip:+448001234567@hmrc.example>", NULL, CG_OK, "448001234567");
    canon("\"<sip:+14155550100@a>\" <sip:+448001234567@b>;tag=1", NULL, CG_OK, "448001234567");
    canon("\"say \\\"<sip:+1@a>\\\" twice, <x>\" <tel:+448001234567>", NULL, CG_OK, "448001234567");
    canon("Fraud Team <sip:+448001234567@b>", NULL, CG_OK, "448001234567");
    canon("\"\" <sip:+448001234567@b>", NULL, CG_OK, "448001234567");
    canon("\"Caf\xc3\xa9\" <sip:+448001234567@b>", NULL, CG_OK, "448001234567");
    canon("Caf\xc3\xa9 <sip:+448001234567@b>", NULL, CG_OK, "448001234567");
    canon("\"x\" <sip:+448001234567@b>;tag=\"a,b<c>\";user=phone", NULL, CG_OK, "448001234567");
    canon("sip:+448001234567@b;tag=1", NULL, CG_OK, "448001234567");
    /* escapes in the user part are the characters they stand for */
    canon("<sip:%2B%34%34800%31234567@b>", NULL, CG_OK, "448001234567");
    canon("<sip:+448001234567:secret@b>", NULL, CG_OK, "448001234567");
}

/* Long values are read through: a limit never turns a number into none. */
static void test_long_values(void **state)
{
    const size_t pad = 600, limit = CG_TN_INPUT_MAX;
    char s[2048], out[CG_TN_MAX + 1], *big, *p;
    (void)state;
    /* a 600-byte display name */
    s[0] = '"';
    memset(s + 1, 'A', pad);
    strcpy(s + 1 + pad, "\" <sip:+448001234567@b>");
    canon(s, NULL, CG_OK, "448001234567");
    /* 600 bytes of URI parameters */
    strcpy(s, "<sip:+448001234567@b;x=");
    memset(s + strlen(s), 'y', pad);
    strcpy(s + 23 + pad, ">;tag=1");
    canon(s, NULL, CG_OK, "448001234567");
    /* 600 bytes of header parameters, addr-spec form */
    strcpy(s, "sip:+448001234567@b;tag=");
    memset(s + strlen(s), 'z', pad);
    s[24 + pad] = '\0';
    canon(s, NULL, CG_OK, "448001234567");
    /* a display name as long as a SIP message allows, and one byte more:
     * unreadable, never "no number" */
    big = malloc(limit + 64);
    assert_non_null(big);
    p = big;
    *p++ = '"';
    memset(p, 'A', limit - 26);
    strcpy(p + limit - 26, "\" <sip:+448001234567@b>");
    assert_int_equal(strlen(big), limit - 2);
    canon(big, NULL, CG_OK, "448001234567");
    memset(p, 'A', limit);
    strcpy(p + limit, "\" <sip:+448001234567@b>");
    assert_int_equal(cg_tn_canon(big, strlen(big), NULL, out), CG_ETOOBIG);
    kind(big, CG_TN_UNREADABLE, "");
    free(big);
}

/* Three outcomes: a number, a well-formed value without one, unreadable. */
static void test_kinds(void **state)
{
    (void)state;
    kind("\"Alice\" <sip:+442079460000@a>;tag=1", CG_TN_NUMBER, "442079460000");
    kind("<sip:anonymous@anonymous.invalid>;tag=9", CG_TN_NOT_NUMBER, "");
    kind("\"Anonymous\" <sip:anonymous@anonymous.invalid>", CG_TN_NOT_NUMBER, "");
    kind("sip:alice@example.com", CG_TN_NOT_NUMBER, "");
    kind("<sips:example.com>", CG_TN_NOT_NUMBER, "");
    kind("<sip:0800123456x@b>", CG_TN_NOT_NUMBER, "");
    kind("<mailto:alice@example.com>", CG_TN_NOT_NUMBER, "");
    /* broken syntax */
    kind("\"HMRC <Fraud Team> <sip:+448001234567@b>", CG_TN_UNREADABLE, "");
    kind("\"HMRC\" <sip:+448001234567@b", CG_TN_UNREADABLE, "");
    kind("\"HMRC\" sip:+448001234567@b", CG_TN_UNREADABLE, "");
    kind("HMRC (fraud) <sip:+448001234567@b>", CG_TN_UNREADABLE, "");
    kind("<sip:+44 800 1234567@b>", CG_TN_UNREADABLE, "");
    kind("<sip:+448001234567@b> junk", CG_TN_UNREADABLE, "");
    kind("<sip:+448001234567@b>;tag=", CG_TN_UNREADABLE, "");
    kind("<sip:+448001234567@b>;lr", CG_TN_NUMBER, "448001234567");
    kind("<sip:+448001234567@b>;=x", CG_TN_UNREADABLE, "");
    kind("<sip:+448001234567@b>;tag=\"open", CG_TN_UNREADABLE, "");
    kind("<sip:+448001234567@>", CG_TN_UNREADABLE, "");
    kind("<>", CG_TN_UNREADABLE, "");
    kind("", CG_TN_UNREADABLE, "");
    kind("<sip:%4@b>", CG_TN_UNREADABLE, "");
    kind("<sip:%00448001234567@b>", CG_TN_UNREADABLE, "");
    kind("alice", CG_TN_UNREADABLE, "");
    /* what promises a number must be one */
    kind("<sip:+44800123456x@b>", CG_TN_UNREADABLE, "");
    kind("<sip:0800123456x@b;user=phone>", CG_TN_UNREADABLE, "");
    kind("sip:0800123456x@b;user=phone", CG_TN_UNREADABLE, "");
    kind("<tel:+44800FRAUD>", CG_TN_UNREADABLE, "");
    kind("<sip:+4480012345678901234567890@b>", CG_TN_UNREADABLE, "");
    kind("<sip:4480012345678901234567890@b>", CG_TN_UNREADABLE, "");
    /* lists (P-Asserted-Identity): one number, however many forms */
    kind("<sip:+448001234567@b;user=phone>, <tel:+448001234567>", CG_TN_NUMBER, "448001234567");
    kind("<sip:alice@b>, <tel:+448001234567>", CG_TN_NUMBER, "448001234567");
    kind("sip:alice@b, tel:+448001234567", CG_TN_NUMBER, "448001234567");
    kind("<sip:alice@b>, <sip:bob@b>", CG_TN_NOT_NUMBER, "");
    kind("<tel:+442079460000>, <tel:+448001234567>", CG_TN_UNREADABLE, "");
    kind("<tel:+448001234567>,", CG_TN_UNREADABLE, "");
    kind("<tel:+448001234567>, <sip:x", CG_TN_UNREADABLE, "");
    kind("\"a, b\" <tel:+448001234567>", CG_TN_NUMBER, "448001234567");
}

/* What a callee's screen would show (cg_tn_read_shown), one named row each:
 * the UK plan, or no plan ("-"). */
static void test_shown(void **state)
{
    static const struct {
        const char *name, *in;
        bool uk;
        enum cg_tn_kind kind;
        const char *number, *display;
    } rows[] = {
        {"a global number", "<sip:+442079460100@x;user=phone>", false, CG_TN_NUMBER, "442079460100",
         ""},
        {"a national form, UK plan", "<sip:02079460100@x>", true, CG_TN_NUMBER, "442079460100", ""},
        {"a national form without a plan is no E.164 number", "<sip:02079460100@x>", false,
         CG_TN_UNREADABLE, "", ""},
        {"00 without a plan", "<sip:00442079460100@x>", false, CG_TN_UNREADABLE, "", ""},
        {"a service code", "<sip:*6702079460100@x>", true, CG_TN_UNREADABLE, "", ""},
        {"a letter O for a zero", "<sip:0207946010O@x>", true, CG_TN_UNREADABLE, "", ""},
        {"slashes", "<sip:020/7946/0100@x>", true, CG_TN_UNREADABLE, "", ""},
        {"a trailing letter", "<sip:02079460100a@x>", true, CG_TN_UNREADABLE, "", ""},
        {"full-width digits", "<sip:%EF%BC%90%EF%BC%92%EF%BC%90@x>", true, CG_TN_UNREADABLE, "",
         ""},
        {"a name stays a name", "<sip:alice@x>", true, CG_TN_NOT_NUMBER, "", ""},
        {"a name with a few digits", "<sip:support24x7@x>", true, CG_TN_NOT_NUMBER, "", ""},
        {"anonymous", "\"Anonymous\" <sip:anonymous@anonymous.invalid>", true, CG_TN_NOT_NUMBER, "",
         ""},
        {"a local tel: number with a phone-context", "<tel:2079460100;phone-context=+44>", true,
         CG_TN_UNREADABLE, "", ""},
        {"a local user part with a phone-context",
         "<sip:2079460100;phone-context=+44@x;user=phone>", true, CG_TN_UNREADABLE, "", ""},
        {"a global tel: number may carry a phone-context", "<tel:+442079460100>", true,
         CG_TN_NUMBER, "442079460100", ""},
        {"a host that is a number", "<sip:+442079460100>", true, CG_TN_UNREADABLE, "", ""},
        {"a host that is a domain", "<sip:example.com>", true, CG_TN_NOT_NUMBER, "", ""},
        {"another scheme showing a number", "<im:+442079460100@x>", true, CG_TN_UNREADABLE, "", ""},
        {"another scheme with a name", "<mailto:alice@example.com>", true, CG_TN_NOT_NUMBER, "",
         ""},
        {"a display name that is a number", "\"+44 20 7946 0100\" <sip:anonymous@x>", true,
         CG_TN_NOT_NUMBER, "", "442079460100"},
        {"a national display name, UK plan", "\"020 7946 0100\" <sip:+447400012345@x>", true,
         CG_TN_NUMBER, "447400012345", "442079460100"},
        {"an unquoted display number", "02079460100 <sip:anonymous@x>", true, CG_TN_NOT_NUMBER, "",
         "442079460100"},
        {"a display name of digits that is no number", "\"020 7946 0100 99999\" <sip:a@x>", true,
         CG_TN_UNREADABLE, "", ""},
        {"a display name with letters is a name", "\"Bank 0800 123\" <sip:+447400012345@x>", true,
         CG_TN_NUMBER, "447400012345", ""},
        {"a short code in a display name is a name", "\"999\" <sip:+447400012345@x>", true,
         CG_TN_NUMBER, "447400012345", ""},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[CG_TN_MAX + 1] = "", display[CG_TN_MAX + 1] = "?";
        enum cg_tn_kind k = cg_tn_read_shown(rows[i].in, strlen(rows[i].in),
                                             rows[i].uk ? &cg_tn_plan_uk : NULL, out, display);
        if (k != rows[i].kind || (k == CG_TN_NUMBER && strcmp(out, rows[i].number)) ||
            (k != CG_TN_UNREADABLE && strcmp(display, rows[i].display)))
            fail_msg("%s (%s): got kind %d \"%s\" display \"%s\"", rows[i].name, rows[i].in, (int)k,
                     k == CG_TN_NUMBER ? out : "", display);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e164_forms),  cmocka_unit_test(test_national_plans),
        cmocka_unit_test(test_not_numbers), cmocka_unit_test(test_display_names),
        cmocka_unit_test(test_long_values), cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_shown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
