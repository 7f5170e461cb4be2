/* The version macros, cg_version() and cg_version_number() agree with each
 * other and with the project's version; linked against libcidguard.so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cidguard/cidguard.h"

static void test_macros(void **state)
{
    char s[32];
    (void)state;
    snprintf(s, sizeof s, "%d.%d.%d", CG_VERSION_MAJOR, CG_VERSION_MINOR, CG_VERSION_PATCH);
    assert_string_equal(CG_VERSION_STRING, s);
    assert_string_equal(CIDGUARD_VERSION, s);
    /* CG_PROJECT_VERSION comes from CMake's project(). */
    assert_string_equal(CG_VERSION_STRING, CG_PROJECT_VERSION);
    assert_int_equal(CG_VERSION_HEX,
                     (CG_VERSION_MAJOR << 16) | (CG_VERSION_MINOR << 8) | CG_VERSION_PATCH);
}

static void test_runtime(void **state)
{
    (void)state;
    assert_string_equal(cg_version(), CG_VERSION_STRING);
    assert_int_equal(cg_version_number(), CG_VERSION_HEX);
    assert_true(cg_version() == cg_version()); /* static storage */
}

/* Versions compare as integers: 0.9.x < 0.10.0 < 1.0.0. */
static void test_ordering(void **state)
{
    (void)state;
    assert_true(((0u << 16) | (9u << 8) | 255u) < ((0u << 16) | (10u << 8) | 0u));
    assert_true(((0u << 16) | (255u << 8) | 255u) < (1u << 16));
    assert_true(cg_version_number() >= 0x000100u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_macros),
        cmocka_unit_test(test_runtime),
        cmocka_unit_test(test_ordering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
