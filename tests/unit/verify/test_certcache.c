/*
 * The certificate cache under pressure: what an unsigned INVITE can make
 * it fetch (negative entries, certificates no call verifies with, expired
 * or unfit chains) must not evict a certificate calls use, above all one a
 * call verified with; eviction follows use, not age; a local failure is
 * remembered for seconds only; lookups stay right while another thread
 * floods the cache.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"
#include "x509/x509.h"

#define BANK "https://cr.bank.example/sti/bank.pem"
#define FLOOD 12000 /* more than the daemon's 10,000 entries */

static int64_t now;
static struct cg_chain *good;    /* sp-1234.pem: a usable certificate */
static struct cg_chain *expired; /* the same bundle with its leaf's notAfter in the past */
static struct cg_chain *unfit;   /* a certificate with no TNAuthList */

static int setup(void **state)
{
    const char *why;
    (void)state;
    now = (int64_t)time(NULL);
    if (cg_chain_load_file(&good, th_file("sp-1234.pem"), &why) != CG_OK ||
        cg_chain_load_file(&expired, th_file("sp-567A.pem"), &why) != CG_OK ||
        cg_chain_load_file(&unfit, th_file("crl-signer.pem"), &why) != CG_OK)
        return -1;
    /* The PKI has no expired leaf; only the cache's view of it matters here. */
    expired->info.not_after = now - 3600;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cg_chain_unref(good);
    cg_chain_unref(expired);
    cg_chain_unref(unfit);
    cg_certcache_thread_done();
    return 0;
}

static void url_n(char *buf, size_t cap, const char *what, int i)
{
    snprintf(buf, cap, "https://attacker%d.example/%s/%d.pem", i % 97, what, i);
}

static int lookup(struct cg_certcache *cc, const char *url)
{
    struct cg_chain *got = NULL;
    int rc = cg_certcache_get(cc, url, now, &got);
    cg_chain_unref(got);
    return rc;
}

static void note(struct cg_certcache *cc, const char *url, enum cg_reason r)
{
    struct cg_verdict v;
    memset(&v, 0, sizeof v);
    v.reason = r;
    snprintf(v.x5u, sizeof v.x5u, "%s", url);
    cg_certcache_note(cc, &v);
}

/* 12,000 x5u URLs that refuse at once, as unsigned INVITEs can name, fill
 * the negative entries only: the bank's certificate, used or not yet,
 * stays, and the newest failures are still remembered. */
static void test_negatives_never_evict_certificates(void **state)
{
    struct cg_certcache *cc;
    struct cg_certcache_stats st;
    char url[128];
    int i;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 10000), CG_OK);
    assert_int_equal(cg_certcache_put(cc, BANK, good, now + 86400), CG_OK);
    assert_int_equal(lookup(cc, BANK), CG_OK);
    assert_int_equal(cg_certcache_put(cc, "https://cr.other.example/b.pem", good, now + 86400),
                     CG_OK);
    for (i = 0; i < FLOOD; i++) {
        url_n(url, sizeof url, "neg", i);
        assert_int_equal(cg_certcache_put(cc, url, NULL, now + 60), CG_OK);
    }
    assert_int_equal(lookup(cc, BANK), CG_OK);
    assert_int_equal(lookup(cc, "https://cr.other.example/b.pem"), CG_OK);
    assert_int_equal(lookup(cc, url), CG_EIO);
    assert_true(cg_certcache_size(cc) <= 10000);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.unproven, 2);
    assert_int_equal(st.negative, 10000 / 8);
    assert_int_equal(st.evicted, FLOOD - 10000 / 8);
    cg_certcache_free(cc);
}

/* Eviction follows use: a certificate looked up between stores outlives
 * any number of newer ones nobody asks for; those go oldest first. */
static void test_use_not_age(void **state)
{
    struct cg_certcache *cc;
    char url[128];
    int i;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 64), CG_OK);
    assert_int_equal(cg_certcache_put(cc, BANK, good, now + 86400), CG_OK);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(lookup(cc, BANK), CG_OK);
        url_n(url, sizeof url, "pos", i);
        assert_int_equal(cg_certcache_put(cc, url, good, now + 86400), CG_OK);
    }
    assert_int_equal(lookup(cc, BANK), CG_OK);
    assert_int_equal(lookup(cc, url), CG_OK);
    url_n(url, sizeof url, "pos", 0);
    assert_int_equal(lookup(cc, url), CG_ENOTFOUND);
    assert_int_equal(cg_certcache_size(cc), 64 - 64 / 16);
    cg_certcache_free(cc);
}

/* A certificate a call verified with is never displaced by certificates no
 * call verifies with, even when it is not looked up while 12,000 of them
 * (copies of a genuine certificate, each fetched and tried once) go by. */
static void test_verified_outlives_unproven(void **state)
{
    struct th_env env;
    struct cg_certcache *cc;
    struct cg_certcache_stats st;
    struct cg_certcache_miss miss = {0};
    struct cg_verify_config cfg = {0};
    struct cg_verifier *vf;
    struct cg_call call = {0};
    struct cg_verdict v;
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), *h = th_header(t, TH_X5U);
    const char *hv = h;
    char url[128];
    int i;
    (void)state;
    th_env_init(&env, "sp-1234.pem", true, 0);
    assert_int_equal(cg_certcache_new(&cc, 10000), CG_OK);
    cfg.trust = env.trust;
    cfg.certsrc = cg_certcache_source(cc);
    assert_int_equal(cg_verifier_new(&vf, &cfg), CG_OK);
    call.from = "+" TH_ORIG;
    call.to = "+" TH_DEST;
    call.identity = &hv;
    call.nidentity = 1;
    call.now = now;
    call.certsrc_arg = &miss;

    /* the bank's genuine call, as the daemon runs it: miss, fetch, pass, note */
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    assert_true(miss.missed);
    assert_int_equal(cg_certcache_put(cc, TH_X5U, good, now + 86400), CG_OK);
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    assert_int_equal(v.reason, CG_R_OK);
    cg_certcache_note(cc, &v);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.verified, 1);
    /* noting again changes nothing */
    cg_certcache_note(cc, &v);

    for (i = 0; i < FLOOD; i++) {
        url_n(url, sizeof url, "copy", i);
        assert_int_equal(cg_certcache_put(cc, url, good, now + 86400), CG_OK);
        assert_int_equal(lookup(cc, url), CG_OK);
        note(cc, url, CG_R_SIGNATURE); /* the forged signature fails */
    }
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.verified, 1);
    assert_true(st.unproven + st.verified <= 10000 - 10000 / 16);
    miss.missed = false;
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    assert_int_equal(v.reason, CG_R_OK);
    assert_false(miss.missed);

    cg_verifier_free(vf);
    cg_certcache_free(cc);
    th_env_free(&env);
    free(p);
    free(t);
    free(h);
}

/* Chains no call can pass with (an expired leaf, no TNAuthList, or one a
 * call found invalid) are negative entries: kept briefly, so that the
 * verifier can say why (437), but never at a usable certificate's expense. */
static void test_unusable_chains_are_negative(void **state)
{
    struct cg_certcache *cc;
    struct cg_certcache_stats st;
    struct cg_chain *got;
    char url[128];
    int i;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 64), CG_OK);
    for (i = 0; i < 60; i++) {
        url_n(url, sizeof url, "good", i);
        assert_int_equal(cg_certcache_put(cc, url, good, now + 86400), CG_OK);
    }
    for (i = 0; i < 300; i++) {
        url_n(url, sizeof url, "bad", i);
        assert_int_equal(cg_certcache_put(cc, url, i % 2 ? expired : unfit, now + 60), CG_OK);
    }
    /* the newest is served, chain and all */
    assert_int_equal(cg_certcache_get(cc, url, now, &got), CG_OK);
    assert_ptr_equal(got, expired);
    cg_chain_unref(got);
    for (i = 0; i < 60; i++) {
        url_n(url, sizeof url, "good", i);
        assert_int_equal(lookup(cc, url), CG_OK);
    }
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.unproven, 60);
    assert_int_equal(st.negative, 64 - 60);

    /* a call finds one invalid: it joins the negatives and a certificate's
     * place frees, while a signature failure says nothing of the chain */
    url_n(url, sizeof url, "good", 7);
    note(cc, url, CG_R_SIGNATURE);
    note(cc, url, CG_R_TN_NOT_AUTHORIZED);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.unproven, 60);
    note(cc, url, CG_R_CERT_INVALID);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.unproven, 59);
    assert_int_equal(st.negative, 64 - 60 + 1);
    assert_int_equal(lookup(cc, url), CG_OK);
    /* a certificate calls verified with is not demoted by one call's
     * cert_invalid (judged at a token's iat, which its sender chooses),
     * only by a revocation */
    url_n(url, sizeof url, "good", 8);
    note(cc, url, CG_R_OK);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.verified, 1);
    note(cc, url, CG_R_CERT_INVALID);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.verified, 1);
    note(cc, url, CG_R_CERT_REVOKED);
    cg_certcache_stats(cc, &st);
    assert_int_equal(st.verified, 0);
    /* an entry absent, or an empty x5u, is no error */
    note(cc, "https://nowhere.example/x.pem", CG_R_OK);
    note(cc, "", CG_R_OK);
    cg_certcache_free(cc);
}

/* A fetch that failed locally (EMFILE, ENOMEM, no resolver) is remembered
 * for seconds, not negative_ttl, and never replaces a live entry. */
static void test_local_error(void **state)
{
    struct cg_certcache *cc;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 64), CG_OK);
    assert_int_equal(cg_certcache_put_local_error(cc, "https://a.example/a.pem", now), CG_OK);
    assert_int_equal(lookup(cc, "https://a.example/a.pem"), CG_EIO);
    {
        struct cg_chain *got;
        assert_int_equal(cg_certcache_get(cc, "https://a.example/a.pem",
                                          now + CG_CERTCACHE_LOCAL_ERROR_TTL, &got),
                         CG_ENOTFOUND);
    }
    assert_int_equal(cg_certcache_put(cc, BANK, good, now + 86400), CG_OK);
    assert_int_equal(cg_certcache_put_local_error(cc, BANK, now), CG_OK);
    assert_int_equal(lookup(cc, BANK), CG_OK);
    /* an expired certificate is replaced */
    assert_int_equal(cg_certcache_put(cc, BANK, good, now - 1), CG_OK);
    assert_int_equal(cg_certcache_put_local_error(cc, BANK, now), CG_OK);
    assert_int_equal(lookup(cc, BANK), CG_EIO);
    cg_certcache_free(cc);
}

/* The smallest caches keep their promises: one entry holds a certificate,
 * and a negative entry that finds no room is simply not stored. */
static void test_tiny(void **state)
{
    struct cg_certcache *cc;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 1), CG_OK);
    assert_int_equal(cg_certcache_put(cc, BANK, good, now + 86400), CG_OK);
    assert_int_equal(cg_certcache_put(cc, "https://a.example/a.pem", NULL, now + 60), CG_OK);
    assert_int_equal(lookup(cc, "https://a.example/a.pem"), CG_ENOTFOUND);
    note(cc, BANK, CG_R_OK);
    assert_int_equal(lookup(cc, BANK), CG_OK);
    assert_int_equal(cg_certcache_put(cc, "https://b.example/b.pem", good, now + 86400), CG_OK);
    assert_int_equal(lookup(cc, BANK), CG_ENOTFOUND);
    assert_int_equal(cg_certcache_size(cc), 1);
    cg_certcache_free(cc);
}

struct reader {
    struct cg_certcache *cc;
    int failures;
    long hits;
};

static volatile int stop_readers;

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct cg_verdict v;
    memset(&v, 0, sizeof v);
    v.reason = CG_R_OK;
    strcpy(v.x5u, BANK);
    while (!__atomic_load_n(&stop_readers, __ATOMIC_RELAXED)) {
        struct cg_chain *got = NULL;
        if (cg_certcache_get(r->cc, BANK, now, &got) != CG_OK || got != good)
            r->failures++;
        cg_chain_unref(got);
        cg_certcache_note(r->cc, &v);
        r->hits++;
    }
    cg_certcache_thread_done();
    return NULL;
}

/* Readers on other threads always find the bank's certificate while one
 * thread floods the cache with every kind of entry, replaces entries and
 * moves them between classes. */
static void test_threads(void **state)
{
    struct cg_certcache *cc;
    struct reader r[3];
    pthread_t tid[3];
    char url[128];
    int i;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 256), CG_OK);
    assert_int_equal(cg_certcache_put(cc, BANK, good, now + 86400), CG_OK);
    note(cc, BANK, CG_R_OK);
    __atomic_store_n(&stop_readers, 0, __ATOMIC_RELAXED);
    for (i = 0; i < 3; i++) {
        r[i] = (struct reader){cc, 0, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, reader_main, &r[i]), 0);
    }
    for (i = 0; i < 20000; i++) {
        url_n(url, sizeof url, "mix", i % 3000);
        switch (i % 4) {
        case 0:
            cg_certcache_put(cc, url, NULL, now + 60);
            break;
        case 1:
            cg_certcache_put(cc, url, good, now + 86400);
            break;
        case 2:
            cg_certcache_put(cc, url, unfit, now + 60);
            break;
        default:
            cg_certcache_put_local_error(cc, url, now);
            break;
        }
        lookup(cc, url);
        /* 100 other certificates verify, fewer than the verified room:
         * however late the readers run, nothing displaces the bank's */
        note(cc, url,
             i % 8 == 1 && i % 3000 < 800 ? CG_R_OK
             : i % 8 == 5                 ? CG_R_SIGNATURE
                                          : CG_R_CERT_INVALID);
    }
    __atomic_store_n(&stop_readers, 1, __ATOMIC_RELAXED);
    for (i = 0; i < 3; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(r[i].failures, 0);
        assert_true(r[i].hits > 0);
    }
    assert_true(cg_certcache_size(cc) <= 256);
    cg_certcache_free(cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negatives_never_evict_certificates),
        cmocka_unit_test(test_use_not_age),
        cmocka_unit_test(test_verified_outlives_unproven),
        cmocka_unit_test(test_unusable_chains_are_negative),
        cmocka_unit_test(test_local_error),
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
