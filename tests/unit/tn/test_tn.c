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
    canon("sips:+14155550100;tgrp=intl-gw-1;trunk-context=example.net@sbc;user=phone", NULL,
          CG_OK, "14155550100");
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
    canon("sip:%2B14155550100@x", NULL, CG_EPARSE, "");
    canon("+1234567890123456789012345", NULL, CG_ETOOBIG, "");
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    canon(big, NULL, CG_ETOOBIG, "");
    /* French portability prefix: longer than E.164, accepted up to the limit. */
    canon("+3399991234567890", NULL, CG_OK, "3399991234567890");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e164_forms),
        cmocka_unit_test(test_national_plans),
        cmocka_unit_test(test_not_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
