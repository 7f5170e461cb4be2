/*
 * Campaign behaviour online (cidguard/behaviour.h): a rotating spoofer is
 * found within its first calls, the legitimate shapes (a call centre with
 * its own numbers, one-time-password traffic, an agency presenting its
 * clients' numbers all day, a quiet network) are not, the table's memory
 * is bounded, and workers can share it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/behaviour.h"
#include "helpers.h"

#define T0 1736121600

static struct cg_behaviour *make(void)
{
    struct cg_behaviour_config cfg;
    struct cg_behaviour *b;
    cg_behaviour_config_defaults(&cfg);
    assert_int_equal(cg_behaviour_new(&b, &cfg), CG_OK);
    return b;
}

static void num(char *buf, size_t cap, unsigned base, unsigned i)
{
    snprintf(buf, cap, "4474%02u%06u", base % 100, i);
}

/* One call; returns whether it was labelled. */
static bool call(struct cg_behaviour *b, const char *origin, const char *presented,
                 const char *callee, bool owned, bool suspect, int64_t now)
{
    struct cg_behaviour_call c = {.origin = origin,
                                  .presented = presented,
                                  .callee = callee,
                                  .owned = owned,
                                  .suspect = suspect,
                                  .now = now};
    struct cg_behaviour_result r;
    assert_int_equal(cg_behaviour_observe(b, &c, &r), CG_OK);
    return r.campaign;
}

static void test_config(void **state)
{
    struct cg_behaviour_config cfg;
    struct cg_behaviour *b;
    struct cg_behaviour_result r;
    (void)state;
    cg_behaviour_config_defaults(&cfg);
    cfg.origins = 1000; /* not a power of two */
    assert_int_equal(cg_behaviour_new(&b, &cfg), CG_EINVAL);
    cg_behaviour_config_defaults(&cfg);
    cfg.window = 10;
    assert_int_equal(cg_behaviour_new(&b, &cfg), CG_EINVAL);
    cg_behaviour_free(NULL);
    b = make();
    assert_int_equal(cg_behaviour_observe(b, NULL, &r), CG_EINVAL);
    /* a call without origin is not counted */
    assert_false(call(b, "", "447400000001", "447400000002", false, false, T0));
    cg_behaviour_free(b);
}

/* A spoofer rotating through numbers it does not own, one a call, ten
 * calls a minute: found within its first dozen calls, and its later calls
 * stay labelled even with its own number. */
static void test_rotation_found(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    for (i = 0; i < 60; i++) {
        num(p, sizeof p, 1, (unsigned)i);
        num(q, sizeof q, 2, (unsigned)i);
        if (call(b, "SMALL1/acct-9", p, q, false, false, T0 + i * 6) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 20);
    assert_true(call(b, "SMALL1/acct-9", "447400000001", "447411111111", true, false, T0 + 400));
    assert_int_equal(cg_behaviour_suspected(b, T0 + 400), 1);
    /* the clock is the latest call's, not the wall clock's */
    assert_true(cg_behaviour_clock(b) == T0 + 400);
    assert_true(cg_behaviour_clock(NULL) == 0);
    /* the hold runs out */
    assert_int_equal(cg_behaviour_suspected(b, T0 + 400 + 86401), 0);
    cg_behaviour_free(b);
}

/* A spoofer calling each victim three times, a new number every call:
 * a third of its calls go to distinct callees, but many of them. */
static void test_callbacks_found(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    for (i = 0; i < 120; i++) {
        num(p, sizeof p, 3, (unsigned)i);
        num(q, sizeof q, 4, (unsigned)i / 3);
        if (call(b, "SMALL1/acct-7", p, q, false, false, T0 + i * 6) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 60);
    cg_behaviour_free(b);
}

/* Workers decide calls slightly out of order: a call a second older than
 * the origin's last, across a generation's boundary, loses nothing. */
static void test_time_out_of_order(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    for (i = 0; i < 40; i++) {
        num(p, sizeof p, 60, (unsigned)i);
        num(q, sizeof q, 61, (unsigned)i);
        /* T0 is a multiple of 300: the calls straddle a boundary */
        if (call(b, "SMALL1/acct-5", p, q, false, false, T0 + 280 + i - (i % 2) * 2) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 20);
    cg_behaviour_free(b);
}

/* Suspect numbers (protected, DNO) count twice: a bank impersonator with
 * a third of its calls on ordinary numbers is found as fast. */
static void test_suspect_numbers(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    for (i = 0; i < 60; i++) {
        bool bank = i % 3 != 0;
        if (bank)
            snprintf(p, sizeof p, "4420794601%02d", i % 8);
        else
            num(p, sizeof p, 3, (unsigned)i);
        num(q, sizeof q, 4, (unsigned)i);
        if (call(b, "SMALL1/acct-7", p, q, false, bank, T0 + i * 5) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 15);
    cg_behaviour_free(b);
}

/* Legitimate shapes, each at a high rate for a day: none is labelled. */
static void test_legitimate_stay_clean(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i;
    (void)state;
    for (i = 0; i < 20000; i++) {
        int64_t t = T0 + i * 4;
        num(q, sizeof q, 5, (unsigned)i);
        /* a call centre presenting its 40 own numbers, attested A */
        num(p, sizeof p, 6, (unsigned)i % 40);
        assert_false(call(b, "CARR1/cc", p, q, true, false, t));
        /* one-time passwords: one number, a new callee every call */
        assert_false(call(b, "CPAAS/otp", "447700900100", q, false, false, t));
        /* an agency signing B for its clients' 12 numbers all day */
        num(p, sizeof p, 7, (unsigned)i % 12);
        assert_false(call(b, "CARR2/agency", p, q, false, false, t + 1));
        /* a consumer switch: many callers, each its own number at A */
        num(p, sizeof p, 8, (unsigned)i);
        assert_false(call(b, "CARR3/switch", p, q, true, false, t + 2));
    }
    assert_int_equal(cg_behaviour_suspected(b, T0 + 80000), 0);
    cg_behaviour_free(b);
}

/* A quiet origin rotating slowly (a forwarder: a few unowned numbers a
 * window) stays below the floors. */
static void test_quiet_floor(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i;
    (void)state;
    for (i = 0; i < 500; i++) {
        num(p, sizeof p, 9, (unsigned)i);
        num(q, sizeof q, 10, (unsigned)i);
        assert_false(call(b, "FWD1/fwd", p, q, false, false, T0 + i * 120));
    }
    cg_behaviour_free(b);
}

/* Slow rotation through borrowed numbers, several calls each, by an origin
 * with a history of its own: found by its numbers being new to it. */
static void test_slow_rotation_with_history(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    /* an hour of ordinary calls with its three usual numbers */
    for (i = 0; i < 360; i++) {
        num(p, sizeof p, 11, (unsigned)i % 3);
        num(q, sizeof q, 12, (unsigned)i);
        assert_false(call(b, "SMALL2/reseller", p, q, false, false, T0 + i * 10));
    }
    /* then borrowed numbers, 6 calls each, 12 calls a minute */
    for (i = 0; i < 200; i++) {
        num(p, sizeof p, 13, (unsigned)i / 6);
        num(q, sizeof q, 14, (unsigned)i);
        if (call(b, "SMALL2/reseller", p, q, false, false, T0 + 3600 + i * 5) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 100);
    cg_behaviour_free(b);
}

static bool trunk_call(struct cg_behaviour *b, const char *origin, const char *presented,
                       const char *callee, bool suspect, int64_t now, bool *active)
{
    struct cg_behaviour_call c = {.origin = origin,
                                  .presented = presented,
                                  .callee = callee,
                                  .suspect = suspect,
                                  .trunk = true,
                                  .now = now};
    struct cg_behaviour_result r;
    assert_int_equal(cg_behaviour_observe(b, &c, &r), CG_OK);
    *active = r.active;
    return r.campaign;
}

/* A trunk (a transit, a gateway) carries ordinary callers, a new number
 * every call: that is no campaign, nor a steady share of suspect numbers
 * among them; a burst of suspect numbers is. */
static void test_trunk(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    bool active;
    int i, found = -1;
    (void)state;
    for (i = 0; i < 5000; i++) {
        num(p, sizeof p, 40, (unsigned)i);
        num(q, sizeof q, 41, (unsigned)i);
        /* one call in eight presents a number the rules flag */
        assert_false(trunk_call(b, "in:gw1", p, q, i % 8 == 0, T0 + i * 2, &active));
    }
    /* a campaign of 60 calls a minute through it, beside its 30 ordinary
     * ones: found once it makes most of the trunk's window */
    for (i = 0; i < 600; i++) {
        num(p, sizeof p, 42, (unsigned)i);
        num(q, sizeof q, 43, (unsigned)i);
        trunk_call(b, "in:gw1", p, q, true, T0 + 10000 + i, &active);
        if (active && found < 0)
            found = i + 1;
        if (i % 2 == 0) {
            num(p, sizeof p, 44, (unsigned)i);
            trunk_call(b, "in:gw1", p, q, i % 16 == 0, T0 + 10000 + i, &active);
        }
    }
    assert_true(found > 0 && found <= 400);
    cg_behaviour_free(b);
}

/* Numbers another origin signs at A, each presented several times and then
 * dropped, by an origin with a history: borrowing.  A forwarder presenting
 * each subscriber's number once is not. */
static void test_borrowed(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    /* the owners sign their numbers at A */
    for (i = 0; i < 400; i++) {
        num(p, sizeof p, 50, (unsigned)i);
        num(q, sizeof q, 51, (unsigned)i);
        assert_false(call(b, "CARR1/switch", p, q, true, false, T0 + i));
    }
    /* an hour of the reseller's ordinary calls, and a forwarder's, one a
     * minute, each a subscriber's number */
    for (i = 0; i < 360; i++) {
        num(p, sizeof p, 52, (unsigned)i % 2);
        num(q, sizeof q, 53, (unsigned)i);
        assert_false(call(b, "SMALL3/reseller", p, q, false, false, T0 + i * 10));
        num(p, sizeof p, 50, (unsigned)i);
        if (i % 6 == 0)
            assert_false(call(b, "FWD2/forwarder", p, q, false, false, T0 + i * 10 + 1));
    }
    /* then the reseller presents the owners' numbers, 5 calls each, 6 a
     * minute, with only two or three in use at a time */
    for (i = 0; i < 120; i++) {
        num(p, sizeof p, 50, (unsigned)(100 + i / 5));
        num(q, sizeof q, 54, (unsigned)i);
        if (call(b, "SMALL3/reseller", p, q, false, false, T0 + 3600 + i * 10) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 40);
    cg_behaviour_free(b);
}

/* Two switches sign many callers' numbers at A (base and base + 1, even
 * and odd indices), so that their numbers are subscribers': those signed
 * after a switch's first min_numbers. */
static void wide_owners(struct cg_behaviour *b, unsigned base, int64_t t)
{
    char p[32], q[32];
    int i;
    for (i = 0; i < 400; i++) {
        num(p, sizeof p, base + (unsigned)i % 2, (unsigned)i);
        num(q, sizeof q, 99, (unsigned)i);
        assert_false(call(b, i % 2 ? "CARR1/sw1" : "CARR2/sw2", p, q, true, false, t + i));
    }
}

/* Subscribers' numbers (their switch signs many numbers at A) presented by
 * a new account, several calls each, two or three at a time: found in its
 * first session, without the history the borrowing rule needs. */
static void test_borrowed_subscribers_first_session(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, found = -1;
    (void)state;
    wide_owners(b, 60, T0);
    /* a new account presents them, 5 calls each, 12 a minute, with two in
     * use at a time, each number from one switch or the other */
    for (i = 0; i < 120; i++) {
        unsigned k = 100 + (unsigned)(i / 5 + i % 2);
        num(p, sizeof p, 60 + k % 2, 2 * k + k % 2);
        num(q, sizeof q, 63, (unsigned)i);
        if (call(b, "SMALL5/new", p, q, false, false, T0 + 600 + i * 5) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 30);
    cg_behaviour_free(b);
}

/* Not such borrowing: an agency presenting, from its first call, the numbers
 * of businesses that sign their own few lines at A; an agency presenting a
 * few of one enterprise's many numbers (one owner); a forwarder presenting
 * subscribers' numbers once or twice each. */
static void test_borrowed_subscribers_legitimate(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32], client[32];
    int i;
    (void)state;
    for (i = 0; i < 400; i++) { /* a switch and an enterprise sign at A */
        num(p, sizeof p, 70, (unsigned)i);
        num(q, sizeof q, 71, (unsigned)i);
        assert_false(call(b, "CARR1/sw1", p, q, true, false, T0 + i));
        num(p, sizeof p, 72, (unsigned)i % 100);
        assert_false(call(b, "CARR2/enterprise", p, q, true, false, T0 + i));
    }
    for (i = 0; i < 12; i++) { /* six clients, two lines each */
        snprintf(client, sizeof client, "SMALL6/client%d", i / 2);
        num(p, sizeof p, 73, (unsigned)i);
        num(q, sizeof q, 74, (unsigned)i);
        assert_false(call(b, client, p, q, true, false, T0 + 400 + i));
    }
    for (i = 0; i < 5000; i++) {
        int64_t t = T0 + 600 + i * 3;
        num(q, sizeof q, 75, (unsigned)i);
        num(p, sizeof p, 73, (unsigned)i % 12);
        assert_false(call(b, "CARR3/agency", p, q, false, false, t));
        num(p, sizeof p, 72, (unsigned)(i / 5 + i % 2) % 6);
        assert_false(call(b, "CARR3/outsourcer", p, q, false, false, t + 1));
        if (i % 10 == 0) { /* 20 calls a window, each subscriber twice */
            num(p, sizeof p, 70, (unsigned)(i / 20) % 400);
            assert_false(call(b, "CARR4/fwd", p, q, false, false, t + 2));
        }
    }
    cg_behaviour_free(b);
}

/* An outsourced call centre presenting at B the main numbers of three
 * clients whose own switches sign many numbers at A looks, in its first
 * window, like a borrower of subscribers' numbers.  Judged on that alone
 * it is held tentatively: once its history shows the same numbers for
 * long after a borrower's would have changed, it is released. */
static void test_subscribers_tentative_released(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int i, first = -1, last = -1;
    (void)state;
    wide_owners(b, 80, T0);
    for (i = 0; i < 1200; i++) { /* a call every 6 s for two hours */
        /* clients' mains, of the two switches */
        static const unsigned base[3] = {80, 81, 80}, idx[3] = {42, 43, 44};
        num(p, sizeof p, base[i % 3], idx[i % 3]);
        num(q, sizeof q, 98, (unsigned)i);
        if (call(b, "BPO/cc1", p, q, false, false, T0 + 600 + i * 6)) {
            if (first < 0)
                first = i;
            last = i;
        }
    }
    assert_true(first >= 0 && first < 20); /* it did look like one, at first */
    /* released three windows (300 calls) after its first call */
    assert_true(last >= 200 && last < 320);
    cg_behaviour_free(b);
}

/* A borrower that keeps taking new subscribers' numbers once it has a
 * history is held for campaign_hold, confirmed: its later sessions are
 * labelled from their first call, even one that goes back to numbers it
 * used before, for as long as an agency's would have been released. */
static void test_subscribers_with_history_held(void **state)
{
    struct cg_behaviour *b = make();
    char p[32], q[32];
    int s, i, k = 0;
    bool later = true, last = true;
    (void)state;
    wide_owners(b, 84, T0);
    /* a session an hour: 30 calls, 3 new numbers (too few for the
     * borrowing rule's bar), 10 calls each; the last session 90 calls over
     * 45 minutes with the numbers of the one before */
    for (s = 0; s < 5; s++) {
        int n_calls = s < 4 ? 30 : 90;
        for (i = 0; i < n_calls; i++, k++) {
            unsigned n = 40 + (unsigned)(3 * (s < 4 ? s : 3) + i % 3);
            bool got;
            num(p, sizeof p, 84 + n % 2, 2 * n + n % 2);
            num(q, sizeof q, 97, (unsigned)k);
            got = call(b, "SMALL7/acct", p, q, false, false,
                       T0 + 600 + s * 3600 + i * (s < 4 ? 10 : 30));
            if (s == 3 && i == 0)
                later = got;
            if (s == 4)
                last = last && got;
        }
    }
    assert_true(later);
    assert_true(last);
    cg_behaviour_free(b);
}

/* Memory is bounded: far more origins than slots evict the oldest, and a
 * campaign among them is still found. */
static void test_eviction(void **state)
{
    struct cg_behaviour_config cfg;
    struct cg_behaviour *b;
    char o[32], p[32], q[32];
    int i, found = -1;
    (void)state;
    cg_behaviour_config_defaults(&cfg);
    cfg.origins = 256;
    assert_int_equal(cg_behaviour_new(&b, &cfg), CG_OK);
    for (i = 0; i < 100000; i++) {
        snprintf(o, sizeof o, "TRUNK/%d", i);
        num(p, sizeof p, 15, (unsigned)i);
        num(q, sizeof q, 16, (unsigned)i);
        assert_false(call(b, o, p, q, false, false, T0 + i / 100));
        if (i % 10 == 0) {
            num(p, sizeof p, 17, (unsigned)i);
            if (call(b, "SMALL1/acct-1", p, q, false, false, T0 + i / 100) && found < 0)
                found = i / 10 + 1;
        }
    }
    assert_true(found > 0 && found <= 20);
    cg_behaviour_free(b);
}

/* A campaign that crossed and then floods the table with junk origins of
 * one call each (a new origid or source address per call) keeps its
 * label: the junk evicts itself, not the held origin. */
static void test_eviction_flood_keeps_held(void **state)
{
    struct cg_behaviour_config cfg;
    struct cg_behaviour *b;
    char o[32], p[32], q[32];
    int i, found = -1;
    (void)state;
    cg_behaviour_config_defaults(&cfg);
    cfg.origins = 256;
    assert_int_equal(cg_behaviour_new(&b, &cfg), CG_OK);
    for (i = 0; i < 40; i++) {
        num(p, sizeof p, 18, (unsigned)i);
        num(q, sizeof q, 19, (unsigned)i);
        if (call(b, "SMALL1/acct-2", p, q, false, false, T0 + i * 6) && found < 0)
            found = i + 1;
    }
    assert_true(found > 0 && found <= 20);
    /* a pause, then 20 junk origins per slot of the table */
    for (i = 0; i < 5120; i++) {
        snprintf(o, sizeof o, "SMALL1/junk-%d", i);
        num(p, sizeof p, 18, (unsigned)(100 + i));
        num(q, sizeof q, 19, (unsigned)(100 + i));
        assert_false(call(b, o, p, q, false, false, T0 + 1000 + i / 10));
    }
    assert_true(call(b, "SMALL1/acct-2", "447400000001", "447411111111", false, false, T0 + 1600));
    cg_behaviour_free(b);
}

/* A reseller's many accounts campaigning together, warming up slowly and
 * spread from no rotation to a new number every call, so that they make
 * the population's norm and its spread: the busiest still stand out, since
 * the population cannot raise the bar past twice the floor. */
static void test_population_poisoned(void **state)
{
    struct cg_behaviour *b = make();
    char o[32], p[32], q[32];
    int i, k, found = -1;
    (void)state;
    for (i = 0; i < 720; i++) {
        double ramp = i < 480 ? i / 480.0 : 1.0;
        for (k = 0; k < 20; k++) {
            snprintf(o, sizeof o, "RESELLER/acct-%d", k);
            num(p, sizeof p, (unsigned)(70 + k), (unsigned)(i * k / 20.0 * ramp));
            num(q, sizeof q, 90, (unsigned)(i * 20 + k));
            if (call(b, o, p, q, false, false, T0 + i * 10) && k == 19 && found < 0)
                found = i + 1;
        }
    }
    assert_true(found > 0);
    cg_behaviour_free(b);
}

struct worker_arg {
    struct cg_behaviour *b;
    int id;
    int labelled;
};

static void *worker(void *arg)
{
    struct worker_arg *w = arg;
    char o[32], p[32], q[32];
    int i;
    for (i = 0; i < 20000; i++) {
        /* origin 0 of each worker rotates numbers it does not own; the
         * others present their own */
        struct cg_behaviour_call c = {
            .origin = o, .presented = p, .callee = q, .owned = i % 64 != 0, .now = T0 + i / 20};
        struct cg_behaviour_result r;
        snprintf(o, sizeof o, "W%d/%d", w->id, i % 64);
        num(p, sizeof p, (unsigned)(20 + w->id), (unsigned)i);
        num(q, sizeof q, (unsigned)(30 + w->id), (unsigned)i);
        if (cg_behaviour_observe(w->b, &c, &r) == CG_OK && r.campaign)
            w->labelled += i % 64 == 0 ? 1 : 1000000;
    }
    return NULL;
}

/* Workers share the table (TSan checks the locking). */
static void test_threads(void **state)
{
    struct cg_behaviour *b = make();
    pthread_t t[4];
    struct worker_arg a[4];
    int i;
    (void)state;
    for (i = 0; i < 4; i++) {
        a[i] = (struct worker_arg){b, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        /* the rotating origin is labelled, no other one */
        assert_true(a[i].labelled > 0 && a[i].labelled < 1000000);
    }
    cg_behaviour_free(b);
}

/* A call through the wire comes back as it was; what the wire does not
 * carry, or carries wrong, is refused by name. */
static void test_wire(void **state)
{
    static const struct {
        const char *name, *line;
    } bad[] = {
        {"empty", ""},
        {"another version", "2 100 0 +442071112222 +447400000001 spc:1/a"},
        {"no origin", "1 100 0 +442071112222 +447400000001 "},
        {"a time with a sign", "1 -100 0 +442071112222 +447400000001 o"},
        {"a time of 10^15", "1 1000000000000000 0 +442071112222 +447400000001 o"},
        {"a time of 16 digits", "1 1000000000000001 0 +442071112222 +447400000001 o"},
        {"flags past 7", "1 100 8 +442071112222 +447400000001 o"},
        {"flags of two digits", "1 100 01 +442071112222 +447400000001 o"},
        {"a number with a letter", "1 100 0 +4420711122a2 +447400000001 o"},
        {"a number of 33 bytes", "1 100 0 123456789012345678901234567890123 - o"},
        {"two spaces", "1 100 0  +447400000001 o"},
        {"a control byte in the origin", "1 100 0 - - in:peer\x01"},
        {"fields missing", "1 100 0"},
        {"a time with a leading zero", "1 0100 0 - - o"},
    };
    struct cg_behaviour_call c = {.origin = "spc:1234/acct 7",
                                  .presented = "+442071112222",
                                  .callee = "+447400000001",
                                  .owned = false,
                                  .suspect = true,
                                  .trunk = false,
                                  .now = 1735689600},
                             back;
    struct cg_behaviour_wire w;
    char line[CG_BEHAVIOUR_WIRE_MAX + 1], origin[CG_BEHAVIOUR_ORIGIN_MAX + 2];
    size_t n = cg_behaviour_call_encode(&c, line, sizeof line), i;
    (void)state;
    assert_string_equal(line, "1 1735689600 2 +442071112222 +447400000001 spc:1234/acct 7");
    assert_int_equal(cg_behaviour_call_decode(line, n, &w, &back), CG_OK);
    assert_string_equal(back.origin, c.origin);
    assert_string_equal(back.presented, c.presented);
    assert_string_equal(back.callee, c.callee);
    assert_true(back.suspect && !back.owned && !back.trunk && back.now == c.now);
    /* missing numbers travel as "-" and come back NULL */
    c.presented = c.callee = NULL;
    c.trunk = true;
    n = cg_behaviour_call_encode(&c, line, sizeof line);
    assert_int_equal(cg_behaviour_call_decode(line, n, &w, &back), CG_OK);
    assert_null(back.presented);
    assert_null(back.callee);
    assert_true(back.trunk);
    /* what does not fit is not written */
    memset(origin, 'o', sizeof origin - 1);
    origin[sizeof origin - 1] = '\0';
    c.origin = origin;
    assert_int_equal(cg_behaviour_call_encode(&c, line, sizeof line), 0);
    c.origin = "";
    assert_int_equal(cg_behaviour_call_encode(&c, line, sizeof line), 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cg_behaviour_call_decode(bad[i].line, strlen(bad[i].line), &w, &back);
        if (rc != CG_EPARSE)
            fail_msg("%s: decoded (%d)", bad[i].name, rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_rotation_found),
        cmocka_unit_test(test_callbacks_found),
        cmocka_unit_test(test_time_out_of_order),
        cmocka_unit_test(test_suspect_numbers),
        cmocka_unit_test(test_legitimate_stay_clean),
        cmocka_unit_test(test_quiet_floor),
        cmocka_unit_test(test_slow_rotation_with_history),
        cmocka_unit_test(test_trunk),
        cmocka_unit_test(test_borrowed),
        cmocka_unit_test(test_borrowed_subscribers_first_session),
        cmocka_unit_test(test_borrowed_subscribers_legitimate),
        cmocka_unit_test(test_subscribers_tentative_released),
        cmocka_unit_test(test_subscribers_with_history_held),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_eviction_flood_keeps_held),
        cmocka_unit_test(test_population_poisoned),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
