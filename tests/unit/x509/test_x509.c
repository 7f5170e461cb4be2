#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

static void test_tnauth_der(void **state)
{
    /* RFC 8226's TNAuthList holding SPC 818H (docs/standards.md#tnauthlist) */
    static const unsigned char spc[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, 0x38, 0x31, 0x38, 0x48};
    /* range {start "12025550000", count 100} and one TN "12025559999", explicit tags */
    static const unsigned char mixed[] = {
        0x30, 0x27, 0xa1, 0x12, 0x30, 0x10, 0x16, 0x0b, '1',  '2',  '0',  '2',  '5', '5',
        '5',  '0',  '0',  '0',  '0',  0x02, 0x01, 0x64, 0xa2, 0x0d, 0x16, 0x0b, '1', '2',
        '0',  '2',  '5',  '5',  '5',  '9',  '9',  '9',  '9',  0xa0, 0x02, 0x16, 0x00};
    struct cg_tnauth a;
    unsigned char buf[64];
    size_t n;
    (void)state;
    assert_int_equal(cg_tnauth_parse_der(spc, sizeof spc, &a), CG_OK);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.e[0].kind, CG_TNAUTH_SPC);
    assert_string_equal(a.e[0].value, "818H");
    assert_int_equal(cg_tnauth_encode_spc("818H", buf, sizeof buf, &n), CG_OK);
    assert_int_equal(n, sizeof spc);
    assert_memory_equal(buf, spc, n);

    /* the trailing empty SPC makes it malformed; without it the list is fine */
    assert_int_equal(cg_tnauth_parse_der(mixed, sizeof mixed, &a), CG_EPARSE);
    memcpy(buf, mixed, sizeof mixed - 4);
    buf[1] = 0x23;
    assert_int_equal(cg_tnauth_parse_der(buf, sizeof mixed - 4, &a), CG_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.e[0].kind, CG_TNAUTH_RANGE);
    assert_int_equal(a.e[0].count, 100);
    assert_true(cg_tnauth_covers(&a, "12025550099"));
    assert_false(cg_tnauth_covers(&a, "12025550100"));
    assert_true(cg_tnauth_covers(&a, "12025559999"));
    assert_false(cg_tnauth_covers(&a, "1202555999"));

    /* truncations at every length never crash and never succeed */
    for (n = 0; n < sizeof spc; n++)
        assert_int_equal(cg_tnauth_parse_der(spc, n, &a), CG_EPARSE);
    buf[0] = 0x30;
    buf[1] = 0x84; /* 4-byte length: refused */
    assert_int_equal(cg_tnauth_parse_der(buf, 8, &a), CG_EPARSE);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = malloc(70000);
    assert_non_null(f);
    *n = fread(b, 1, 69999, f);
    b[*n] = '\0';
    fclose(f);
    return b;
}

static void test_bundle_any_order(void **state)
{
    struct cg_chain *c;
    const struct cg_cert_info *in;
    const char *why;
    size_t n1, n2;
    char *leaf = slurp(th_file("sp-1234-leaf.pem"), &n1), *ca = slurp(th_file("ca.pem"), &n2);
    char *rev = malloc(n1 + n2 + 1);
    (void)state;
    memcpy(rev, ca, n2);
    memcpy(rev + n2, leaf, n1 + 1);
    assert_int_equal(cg_chain_load_pem(&c, rev, n1 + n2, &why), CG_OK);
    in = cg_chain_info(c);
    assert_string_equal(in->spc, "1234");
    assert_int_equal(in->ncerts, 2);
    assert_true(in->has_tnauth);
    assert_true(in->key_ok);
    assert_true(in->ku_digital_signature);
    assert_true(in->warnings & (1u << CG_W_BUNDLE_ORDER));
    /* the test PKI follows the ATIS profile: no other lint */
    assert_int_equal(in->warnings & ~(1u << CG_W_BUNDLE_ORDER), 0);
    assert_non_null(strstr(in->subject, "CN=SHAKEN 1234"));
    assert_non_null(cg_chain_key(c));
    cg_chain_unref(c);

    /* no end-entity certificate (two CAs), nothing at all, garbage */
    {
        size_t n3;
        char *root = slurp(th_file("root.pem"), &n3), *two = malloc(n2 + n3 + 1);
        memcpy(two, ca, n2);
        memcpy(two + n2, root, n3 + 1);
        assert_int_equal(cg_chain_load_pem(&c, two, n2 + n3, &why), CG_ECERT);
        free(two);
        free(root);
    }
    assert_non_null(why);
    assert_int_equal(cg_chain_load_pem(&c, "", 0, &why), CG_ECERT);
    assert_int_equal(cg_chain_load_pem(&c,
                                       "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                       "-----END CERTIFICATE-----\n",
                                       58, &why),
                     CG_ECERT);
    free(leaf);
    free(ca);
    free(rev);
}

static void test_trust_and_revocation(void **state)
{
    struct cg_trust *t, *t2;
    struct cg_chain *c;
    const char *why;
    bool ok;
    int revoked;
    int64_t now = time(NULL);
    char dir[] = "/tmp/cg-x509-XXXXXX", path[128], cmd[200];
    const char *spcs[] = {"77"};
    struct cg_pki_opts o = {.dir = dir, .spcs = spcs, .nspcs = 1};
    (void)state;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(cg_pki_init(&o, &why), CG_OK);
    snprintf(path, sizeof path, "%s/sp-77.pem", dir);
    assert_int_equal(cg_chain_load_file(&c, path, &why), CG_OK);

    /* trusted, and cached: the second call is a hit within the window */
    assert_int_equal(cg_trust_new(&t, CG_TRUST_CRL_REQUIRED), CG_OK);
    snprintf(path, sizeof path, "%s/root.pem", dir);
    assert_int_equal(cg_trust_add_anchors_file(t, path), CG_OK);
    snprintf(path, sizeof path, "%s/crl.pem", dir);
    assert_int_equal(cg_trust_add_crl_file(t, path), CG_OK);
    assert_int_equal(cg_trust_check(t, c, now, &ok, &revoked, &why), CG_OK);
    assert_true(ok);
    assert_int_equal(cg_trust_check(t, c, now + 1, &ok, &revoked, &why), CG_OK);
    assert_true(ok);
    /* expired at a time past notAfter, not yet valid before notBefore */
    assert_int_equal(cg_trust_check(t, c, now + 400 * 86400, &ok, &revoked, &why), CG_OK);
    assert_false(ok);
    if (!strstr(why, "expired"))
        fail_msg("why: %s", why);
    assert_int_equal(cg_trust_check(t, c, now - 2 * 86400, &ok, &revoked, &why), CG_OK);
    assert_false(ok);

    /* revoked through the indirect CRL: a new trust object sees it */
    snprintf(path, sizeof path, "%s/sp-77-leaf.pem", dir);
    assert_int_equal(cg_pki_revoke(dir, path, &why), CG_OK);
    assert_int_equal(cg_trust_new(&t2, 0), CG_OK);
    snprintf(path, sizeof path, "%s/root.pem", dir);
    assert_int_equal(cg_trust_add_anchors_file(t2, path), CG_OK);
    snprintf(path, sizeof path, "%s/crl.pem", dir);
    assert_int_equal(cg_trust_add_crl_file(t2, path), CG_OK);
    assert_int_equal(cg_trust_check(t2, c, now, &ok, &revoked, &why), CG_OK);
    assert_false(ok);
    assert_true(revoked);
    cg_trust_free(t2);

    /* untrusted: another PKI's root */
    assert_int_equal(cg_trust_new(&t2, 0), CG_OK);
    assert_int_equal(cg_trust_add_anchors_file(t2, th_file("root.pem")), CG_OK);
    assert_int_equal(cg_trust_check(t2, c, now, &ok, &revoked, &why), CG_OK);
    assert_false(ok);
    assert_false(revoked);
    cg_trust_free(t2);

    /* no CRL at all with CRL_REQUIRED: fail closed */
    assert_int_equal(cg_trust_new(&t2, CG_TRUST_CRL_REQUIRED), CG_OK);
    snprintf(path, sizeof path, "%s/root.pem", dir);
    assert_int_equal(cg_trust_add_anchors_file(t2, path), CG_OK);
    assert_int_equal(cg_trust_check(t2, c, now, &ok, &revoked, &why), CG_OK);
    assert_false(ok);
    cg_trust_free(t2);

    assert_int_equal(cg_trust_add_crl_file(t, "/nonexistent.pem"), CG_EIO);
    cg_trust_free(t);
    cg_chain_unref(c);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Threads validating at once against a trust just loaded, each with its own
 * chain (so no chain's cache answers): the anchor is shared by all of them,
 * and nothing of it may be written after the load (run under ThreadSanitizer
 * by the test script). */
#define RACERS 4

struct racer {
    struct cg_trust *t;
    struct cg_chain *c;
    pthread_barrier_t *go;
    bool ok;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    const char *why;
    int revoked;
    pthread_barrier_wait(r->go);
    if (cg_trust_check(r->t, r->c, time(NULL), &r->ok, &revoked, &why) != CG_OK)
        r->ok = false;
    return NULL;
}

static void test_trust_shared_by_threads(void **state)
{
    char dir[] = "/tmp/cg-x509-XXXXXX", path[128], cmd[200];
    const char *spcs[] = {"77"}, *why;
    struct cg_pki_opts o = {.dir = dir, .spcs = spcs, .nspcs = 1};
    struct racer r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t go;
    (void)state;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(cg_pki_init(&o, &why), CG_OK);
    for (int round = 0; round < 20; round++) {
        struct cg_trust *t;
        assert_int_equal(cg_trust_new(&t, 0), CG_OK);
        snprintf(path, sizeof path, "%s/root.pem", dir);
        assert_int_equal(cg_trust_add_anchors_file(t, path), CG_OK);
        pthread_barrier_init(&go, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            snprintf(path, sizeof path, "%s/sp-77.pem", dir);
            assert_int_equal(cg_chain_load_file(&r[i].c, path, &why), CG_OK);
            r[i] = (struct racer){t, r[i].c, &go, false};
            assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
        }
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            assert_true(r[i].ok);
            cg_chain_unref(r[i].c);
        }
        pthread_barrier_destroy(&go);
        cg_trust_free(t);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tnauth_der),
        cmocka_unit_test(test_bundle_any_order),
        cmocka_unit_test(test_trust_and_revocation),
        cmocka_unit_test(test_trust_shared_by_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
