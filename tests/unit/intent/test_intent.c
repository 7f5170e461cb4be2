/*
 * Call intents: the store (add, use, expiry, uses running out, cancel, a
 * full store, replacement, listing, expiry sweeps, a batch all or
 * nothing, many threads using one intent), the JSON and CSV batch
 * parsers (each bad case a named row), the keys file and the Redis key.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define A "447700900123"
#define B "447700900456"
#define C "14155550100"

/* --- the store -------------------------------------------------------------------- */

static void test_numbers(void **state)
{
    char out[CG_INTENT_TN_MAX + 1];
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } rows[] = {
        {"+447700900123", A},
        {"447700900123", A},
        {"+44 7700 900123", A},
        {"+1 (415) 555-0100", C},
        {"07700900123", NULL},       /* national: no country code */
        {"+4477009001234567", NULL}, /* 16 digits */
        {"#123", NULL},
        {"*123", NULL},
        {"", NULL},
        {"sip:alice@example.com", NULL},
        {"+44x7700", NULL},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int rc = cg_intent_number(rows[i].in, strlen(rows[i].in), out);
        if (rows[i].want) {
            assert_int_equal(rc, CG_OK);
            assert_string_equal(out, rows[i].want);
        } else if (rc == CG_OK) {
            fail_msg("%s was accepted as %s", rows[i].in, out);
        }
    }
    assert_int_equal(cg_intent_number(NULL, 0, out), CG_EINVAL);
}

static void test_add_use_expiry(void **state)
{
    struct cg_intents *s;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 100, 3), CG_OK);
    assert_false(cg_intents_use(s, A, B, 1000));
    assert_int_equal(cg_intents_add(s, A, B, 1120, 1000), CG_OK);
    assert_int_equal(cg_intents_count(s), 1);
    /* the other direction and other numbers are other intents */
    assert_false(cg_intents_use(s, B, A, 1000));
    assert_false(cg_intents_use(s, A, C, 1000));
    assert_true(cg_intents_use(s, A, B, 1000));
    assert_true(cg_intents_use(s, A, B, 1119));
    /* expired: no match, and the entry is gone */
    assert_false(cg_intents_use(s, A, B, 1120));
    assert_int_equal(cg_intents_count(s), 0);
    /* bad arguments */
    assert_int_equal(cg_intents_add(s, A, B, 1000, 1000), CG_EINVAL);
    assert_int_equal(cg_intents_add(s, "0770", B, 2000, 1000), CG_EINVAL);
    assert_int_equal(cg_intents_add(s, A, "44#1", 2000, 1000), CG_EINVAL);
    assert_int_equal(cg_intents_add(NULL, A, B, 2000, 1000), CG_EINVAL);
    assert_false(cg_intents_use(s, NULL, B, 1000));
    assert_false(cg_intents_use(s, "4477009001234567890", B, 1000));
    assert_false(cg_intents_use(NULL, A, B, 1000));
    cg_intents_free(s);
    cg_intents_free(NULL);
    assert_int_equal(cg_intents_new(&s, 0, 3), CG_EINVAL);
    assert_int_equal(cg_intents_new(&s, 10, 0), CG_EINVAL);
    assert_int_equal(cg_intents_new(&s, 10, CG_INTENT_USES_MAX + 1), CG_EINVAL);
}

static void test_uses_exhausted_and_replace(void **state)
{
    struct cg_intents *s;
    int i;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 100, 3), CG_OK);
    assert_int_equal(cg_intents_max_uses(s), 3);
    assert_int_equal(cg_intents_add(s, A, B, 2000, 1000), CG_OK);
    for (i = 0; i < 3; i++)
        assert_true(cg_intents_use(s, A, B, 1000));
    assert_false(cg_intents_use(s, A, B, 1000));
    assert_int_equal(cg_intents_count(s), 0);
    /* a registration again gives fresh uses and the new expiry */
    assert_int_equal(cg_intents_add(s, A, B, 2000, 1000), CG_OK);
    assert_true(cg_intents_use(s, A, B, 1000));
    assert_int_equal(cg_intents_add(s, A, B, 3000, 1500), CG_OK);
    assert_int_equal(cg_intents_count(s), 1);
    for (i = 0; i < 3; i++)
        assert_true(cg_intents_use(s, A, B, 2500));
    assert_false(cg_intents_use(s, A, B, 2500));
    cg_intents_free(s);
}

static void test_cancel(void **state)
{
    struct cg_intents *s;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 100, 3), CG_OK);
    assert_int_equal(cg_intents_cancel(s, A, B), CG_ENOTFOUND);
    assert_int_equal(cg_intents_add(s, A, B, 2000, 1000), CG_OK);
    assert_int_equal(cg_intents_add(s, A, C, 2000, 1000), CG_OK);
    assert_int_equal(cg_intents_cancel(s, A, B), CG_OK);
    assert_false(cg_intents_use(s, A, B, 1000));
    assert_true(cg_intents_use(s, A, C, 1000));
    assert_int_equal(cg_intents_cancel(s, A, B), CG_ENOTFOUND);
    assert_int_equal(cg_intents_cancel(s, "x", B), CG_EINVAL);
    cg_intents_free(s);
}

static void test_full(void **state)
{
    struct cg_intents *s;
    struct cg_intent v[3] = {{"441", "442", 10}, {"443", "444", 10}, {"445", "446", 10}};
    char to[16];
    int i;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 4, 1), CG_OK);
    for (i = 0; i < 4; i++) {
        snprintf(to, sizeof to, "4420%d", i);
        assert_int_equal(cg_intents_add(s, A, to, 1010, 1000), CG_OK);
    }
    assert_int_equal(cg_intents_add(s, A, B, 1010, 1000), CG_ETOOBIG);
    /* a replacement is reserved as a new entry: refused when full */
    assert_int_equal(cg_intents_add(s, A, "44200", 1020, 1000), CG_ETOOBIG);
    /* a batch that does not fit leaves the store as it was */
    assert_int_equal(cg_intents_cancel(s, A, "44200"), CG_OK);
    assert_int_equal(cg_intents_add_batch(s, v, 3, 1000), CG_ETOOBIG);
    assert_int_equal(cg_intents_count(s), 3);
    assert_false(cg_intents_use(s, "441", "442", 1000));
    /* once the others expire there is room: dropped when needed */
    assert_int_equal(cg_intents_add_batch(s, v, 3, 1010), CG_OK);
    assert_int_equal(cg_intents_count(s), 3);
    assert_true(cg_intents_use(s, "445", "446", 1010));
    cg_intents_free(s);
}

static void test_batch_all_or_nothing(void **state)
{
    struct cg_intents *s;
    struct cg_intent v[3] = {{A, B, 60}, {A, C, 60}, {"0123", B, 60}};
    (void)state;
    assert_int_equal(cg_intents_new(&s, 100, 2), CG_OK);
    assert_int_equal(cg_intents_add_batch(s, v, 3, 1000), CG_EINVAL);
    assert_int_equal(cg_intents_count(s), 0);
    v[2].valid_for = 0;
    snprintf(v[2].from, sizeof v[2].from, "%s", B);
    assert_int_equal(cg_intents_add_batch(s, v, 3, 1000), CG_EINVAL);
    v[2].valid_for = 5;
    assert_int_equal(cg_intents_add_batch(s, v, 3, 1000), CG_OK);
    assert_int_equal(cg_intents_count(s), 3);
    assert_true(cg_intents_use(s, B, B, 1004));
    assert_false(cg_intents_use(s, B, B, 1005));
    assert_true(cg_intents_use(s, A, C, 1059));
    assert_int_equal(cg_intents_add_batch(s, v, 0, 1000), CG_OK);
    assert_int_equal(cg_intents_add_batch(s, NULL, 1, 1000), CG_EINVAL);
    cg_intents_free(s);
}

struct seen {
    struct cg_intent_entry e[64];
    size_t n;
    const char *only_to; /* a filter, or NULL */
};

static bool collect(const struct cg_intent_entry *e, void *arg)
{
    struct seen *s = arg;
    if (s->only_to && strcmp(e->to, s->only_to) != 0)
        return false;
    if (s->n < 64)
        s->e[s->n++] = *e;
    return true;
}

static void test_list_and_expire(void **state)
{
    struct cg_intents *s;
    struct seen seen = {0};
    char to[16];
    int i;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 1000, 3), CG_OK);
    for (i = 0; i < 20; i++) {
        snprintf(to, sizeof to, "4420794600%02d", i);
        assert_int_equal(cg_intents_add(s, A, to, 1000 + 10 + i, 1000), CG_OK);
        assert_int_equal(cg_intents_add(s, C, to, 2000, 1000), CG_OK);
    }
    assert_true(cg_intents_use(s, A, "442079460005", 1000));
    assert_int_equal(cg_intents_list(s, "4477", 1000, 100, collect, &seen), 20);
    for (i = 0; i < 20; i++) {
        assert_string_equal(seen.e[i].from, A);
        if (strcmp(seen.e[i].to, "442079460005") == 0)
            assert_int_equal(seen.e[i].uses, 2);
        else
            assert_int_equal(seen.e[i].uses, 3);
    }
    seen.n = 0;
    assert_int_equal(cg_intents_list(s, NULL, 1000, 100, collect, &seen), 40);
    seen.n = 0;
    assert_int_equal(cg_intents_list(s, "", 1000, 7, collect, &seen), 7);
    seen.n = 0;
    seen.only_to = "442079460003";
    assert_int_equal(cg_intents_list(s, NULL, 1000, 100, collect, &seen), 2);
    seen.only_to = NULL;
    /* expired ones are not listed, and a sweep drops them */
    seen.n = 0;
    assert_int_equal(cg_intents_list(s, A, 1015, 100, collect, &seen), 14);
    assert_int_equal(cg_intents_expire(s, 1015), 6);
    assert_int_equal(cg_intents_count(s), 34);
    assert_int_equal(cg_intents_expire(s, 1500), 14);
    assert_int_equal(cg_intents_count(s), 20);
    assert_int_equal(cg_intents_list(s, A, 1500, 100, collect, &seen), 0);
    cg_intents_free(s);
}

/* Many entries through growth, removal and backward shifting: every one
 * is still found, and removed ones are not. */
static void test_many(void **state)
{
    struct cg_intents *s;
    char from[16], to[16];
    int i;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 100000, 1), CG_OK);
    for (i = 0; i < 50000; i++) {
        snprintf(from, sizeof from, "44%d", 100000 + i % 1000);
        snprintf(to, sizeof to, "1%d", 5550000 + i);
        assert_int_equal(cg_intents_add(s, from, to, 2000 + (i % 2), 1000), CG_OK);
    }
    assert_int_equal(cg_intents_count(s), 50000);
    assert_int_equal(cg_intents_expire(s, 2000), 25000);
    for (i = 0; i < 50000; i++) {
        snprintf(from, sizeof from, "44%d", 100000 + i % 1000);
        snprintf(to, sizeof to, "1%d", 5550000 + i);
        if (i % 2)
            assert_true(cg_intents_use(s, from, to, 2000));
        else
            assert_false(cg_intents_use(s, from, to, 2000));
    }
    assert_int_equal(cg_intents_count(s), 0);
    cg_intents_free(s);
}

/* --- threads ---------------------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 20000

struct worker {
    struct cg_intents *s;
    int id;
    long hits_shared, hits_own;
};

static void *use_many(void *arg)
{
    struct worker *w = arg;
    char own[16];
    int i;
    snprintf(own, sizeof own, "1415555%04d", w->id);
    for (i = 0; i < ROUNDS; i++) {
        /* one intent every thread races for, and one of its own */
        w->hits_shared += cg_intents_use(w->s, A, B, 1000);
        w->hits_own += cg_intents_use(w->s, A, own, 1000);
        if (i % 1000 == 0)
            cg_intents_add(w->s, C, own, 1100, 1000);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct cg_intents *s;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    long shared = 0;
    char own[16];
    int i;
    (void)state;
    assert_int_equal(cg_intents_new(&s, 1000, 500), CG_OK);
    assert_int_equal(cg_intents_add(s, A, B, 2000, 1000), CG_OK);
    for (i = 0; i < THREADS; i++) {
        snprintf(own, sizeof own, "1415555%04d", i);
        assert_int_equal(cg_intents_add(s, A, own, 2000, 1000), CG_OK);
        w[i] = (struct worker){s, i, 0, 0};
    }
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, use_many, &w[i]), 0);
    for (i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        shared += w[i].hits_shared;
        assert_int_equal(w[i].hits_own, 500);
    }
    /* exactly max_uses matches of the shared intent, whoever won them */
    assert_int_equal(shared, 500);
    assert_int_equal(cg_intents_count(s), THREADS);
    cg_intents_free(s);
}

/* --- JSON ------------------------------------------------------------------------- */

static void test_json_good(void **state)
{
    struct cg_intent v[4];
    size_t n = 99;
    char err[200];
    const char *one = "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":120}";
    const char *batch = "{\"intents\":[{\"from\":\"+447700900123\",\"to\":\"+14155550100\"},"
                        "{\"to\":\"447700900456\",\"from\":\"+44 7700 900123\",\"valid_for\":1}]}";
    const char *bare = "[{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":300}]";
    (void)state;
    assert_int_equal(cg_intents_parse_json(one, strlen(one), v, 4, &n, 300, err, sizeof err),
                     CG_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].from, A);
    assert_string_equal(v[0].to, B);
    assert_int_equal(v[0].valid_for, 120);
    assert_string_equal(err, "");
    assert_int_equal(cg_intents_parse_json(batch, strlen(batch), v, 4, &n, 300, err, sizeof err),
                     CG_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].to, C);
    assert_int_equal(v[0].valid_for, CG_INTENT_VALID_FOR_DEFAULT);
    assert_string_equal(v[1].from, A);
    assert_int_equal(v[1].valid_for, 1);
    /* the default is capped by max_valid_for */
    assert_int_equal(cg_intents_parse_json(batch, strlen(batch), v, 4, &n, 60, err, sizeof err),
                     CG_OK);
    assert_int_equal(v[0].valid_for, 60);
    assert_int_equal(cg_intents_parse_json(bare, strlen(bare), v, 4, &n, 300, err, sizeof err),
                     CG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].valid_for, 300);
}

static void test_json_bad(void **state)
{
    static const struct {
        const char *name, *body;
        int rc;
        const char *msg; /* a part of the message */
    } rows[] = {
        {"empty body", "", CG_EPARSE, "not JSON"},
        {"not JSON", "from=1&to=2", CG_EPARSE, "not JSON"},
        {"truncated", "{\"from\":\"+447700900123\"", CG_EPARSE, "not JSON"},
        {"a string", "\"+447700900123\"", CG_EPARSE, "not an intent"},
        {"a number", "42", CG_EPARSE, "not an intent"},
        {"no to", "{\"from\":\"+447700900123\"}", CG_EPARSE, "no \"to\""},
        {"no from", "{\"to\":\"+447700900123\"}", CG_EPARSE, "no \"from\""},
        {"from a number", "{\"from\":447700900123,\"to\":\"+447700900456\"}", CG_EPARSE,
         "from: not a string"},
        {"from national", "{\"from\":\"07700900123\",\"to\":\"+447700900456\"}", CG_EPARSE,
         "from: not an E.164"},
        {"to too long", "{\"from\":\"+447700900123\",\"to\":\"+4477009004567890\"}", CG_EPARSE,
         "to: not an E.164"},
        {"to a name", "{\"from\":\"+447700900123\",\"to\":\"sip:bob@example.com\"}", CG_EPARSE,
         "to: not an E.164"},
        {"valid_for zero", "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":0}",
         CG_EPARSE, "valid_for"},
        {"valid_for negative",
         "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":-5}", CG_EPARSE,
         "valid_for"},
        {"valid_for over the cap",
         "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":301}", CG_EPARSE,
         "from 1 to 300"},
        {"valid_for a string",
         "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":\"120\"}", CG_EPARSE,
         "valid_for"},
        {"valid_for a real",
         "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"valid_for\":1.5}", CG_EPARSE,
         "valid_for"},
        {"unknown member", "{\"from\":\"+447700900123\",\"to\":\"+447700900456\",\"validfor\":9}",
         CG_EPARSE, "unknown member \"validfor\""},
        {"duplicate member", "{\"from\":\"+447700900123\",\"from\":\"+447700900456\"}", CG_EPARSE,
         "not JSON"},
        {"intents not an array", "{\"intents\":{}}", CG_EPARSE, "must be an array"},
        {"intents beside another member", "{\"intents\":[],\"x\":1}", CG_EPARSE,
         "must be an array"},
        {"empty batch", "{\"intents\":[]}", CG_EPARSE, "no intents"},
        {"empty array", "[]", CG_EPARSE, "no intents"},
        {"bad second element",
         "{\"intents\":[{\"from\":\"+447700900123\",\"to\":\"+447700900456\"},"
         "{\"from\":\"+447700900123\",\"to\":\"12ab\"}]}",
         CG_EPARSE, "intents[1]: to: not an E.164"},
        {"element not an object",
         "[{\"from\":\"+447700900123\",\"to\":\"+447700900456\"},\"+447700900456\"]", CG_EPARSE,
         "[1]: not an object"},
        {"batch over max",
         "[{\"from\":\"+441\",\"to\":\"+442\"},{\"from\":\"+441\",\"to\":\"+443\"},"
         "{\"from\":\"+441\",\"to\":\"+444\"},{\"from\":\"+441\",\"to\":\"+445\"},"
         "{\"from\":\"+441\",\"to\":\"+446\"}]",
         CG_ETOOBIG, "more than 4"},
    };
    struct cg_intent v[4];
    size_t i, n;
    char err[200];
    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int rc = cg_intents_parse_json(rows[i].body, strlen(rows[i].body), v, 4, &n, 300, err,
                                       sizeof err);
        if (rc != rows[i].rc || n != 0 || !strstr(err, rows[i].msg))
            fail_msg("%s: rc %d n %zu \"%s\"", rows[i].name, rc, n, err);
    }
    /* over the size limit, without reading it */
    assert_int_equal(
        cg_intents_parse_json("{}", CG_INTENT_JSON_MAX + 1, v, 4, &n, 300, err, sizeof err),
        CG_ETOOBIG);
    assert_int_equal(cg_intents_parse_json("{}", 2, v, 4, NULL, 300, err, sizeof err), CG_EINVAL);
    /* a NUL byte inside */
    assert_int_equal(cg_intents_parse_json("{\"from\":\"+44\0\"}", 15, v, 4, &n, 300, NULL, 0),
                     CG_EPARSE);
}

/* --- CSV -------------------------------------------------------------------------- */

struct rep {
    int line;
    char msg[160];
};
static struct rep reps[32];
static int nreps;

static void report_cb(const char *file, int line, const char *msg, void *arg)
{
    (void)file;
    (void)arg;
    if (nreps < 32) {
        reps[nreps].line = line;
        snprintf(reps[nreps].msg, sizeof reps[nreps].msg, "%s", msg);
    }
    nreps++;
}

static void test_csv(void **state)
{
    static const char text[] = "\xef\xbb\xbf"
                               "from,to,valid_for\r\n"
                               "# a comment\n"
                               "\n"
                               "+447700900123,+447700900456,120\r\n"
                               " 447700900123 , +14155550100 \n"
                               "+447700900123,+447700900456,0\n"    /* 6: valid_for */
                               "+447700900123\n"                    /* 7: one field */
                               "07700900123,+447700900456,60\n"     /* 8: national */
                               "+447700900123,+447700900456,60,x\n" /* 9: four fields */
                               "+447700900123,+447700900456,1x\n"   /* 10: valid_for */
                               "+447700900123,+447700900789,300";
    struct cg_intent v[8];
    size_t n, bad;
    (void)state;
    nreps = 0;
    assert_int_equal(
        cg_intents_parse_csv(text, sizeof text - 1, "f.csv", v, 8, &n, &bad, 300, report_cb, NULL),
        CG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(bad, 5);
    assert_int_equal(nreps, 5);
    assert_string_equal(v[0].from, A);
    assert_string_equal(v[0].to, B);
    assert_int_equal(v[0].valid_for, 120);
    assert_string_equal(v[1].to, C);
    assert_int_equal(v[1].valid_for, CG_INTENT_VALID_FOR_DEFAULT);
    assert_string_equal(v[2].to, "447700900789");
    assert_int_equal(reps[0].line, 6);
    assert_non_null(strstr(reps[0].msg, "valid_for"));
    assert_int_equal(reps[1].line, 7);
    assert_int_equal(reps[2].line, 8);
    assert_non_null(strstr(reps[2].msg, "from: not an E.164"));
    assert_int_equal(reps[3].line, 9);
    assert_int_equal(reps[4].line, 10);
    /* without a header; more good lines than max */
    nreps = 0;
    assert_int_equal(cg_intents_parse_csv("441,442\n441,443\n441,444\n", 24, NULL, v, 2, &n, &bad,
                                          300, report_cb, NULL),
                     CG_ETOOBIG);
    assert_int_equal(n, 0);
    assert_int_equal(nreps, 1);
    assert_int_equal(reps[0].line, 3);
    assert_int_equal(
        cg_intents_parse_csv("441,442\n", 8, NULL, v, 2, &n, &bad, 300, report_cb, NULL), CG_OK);
    assert_int_equal(n, 1);
    /* a NUL byte, a line over the limit */
    {
        char *big = malloc(CG_INTENT_CSV_LINE_MAX + 20);
        memset(big, ' ', CG_INTENT_CSV_LINE_MAX + 19);
        memcpy(big, "441,442,", 8);
        big[CG_INTENT_CSV_LINE_MAX + 18] = '1';
        nreps = 0;
        assert_int_equal(cg_intents_parse_csv(big, CG_INTENT_CSV_LINE_MAX + 19, NULL, v, 2, &n,
                                              &bad, 300, report_cb, NULL),
                         CG_OK);
        assert_int_equal(bad, 1);
        assert_non_null(strstr(reps[0].msg, "too long"));
        free(big);
    }
    assert_int_equal(cg_intents_parse_csv("441,4\0"
                                          "42\n",
                                          9, NULL, v, 2, &n, &bad, 300, NULL, NULL),
                     CG_OK);
    assert_int_equal(bad, 1);
    assert_int_equal(
        cg_intents_parse_csv("", CG_INTENT_CSV_MAX + 1, NULL, v, 2, &n, &bad, 300, NULL, NULL),
        CG_ETOOBIG);
}

/* --- keys ------------------------------------------------------------------------- */

static void test_keys(void **state)
{
    char hash[CG_CUSTOMER_TOKEN_HASH_SIZE], text[1024];
    struct cg_customers *k;
    const struct cg_customer *cu;
    (void)state;
    assert_int_equal(cg_customers_token_hash("secret-key-1", 12, hash), CG_OK);
    snprintf(text, sizeof text,
             "name,key_sha256,numbers\n"
             "# bank one\n"
             "bank1,%s,+447700900123; +4420794600*\n"
             "bank2,%s,+14155550100\n"          /* 4: bare hex, but the same hash: skipped */
             "bank3,sha256:abcd,+14155550100\n" /* 5: a short hash */
             "bank4,+14155550100\n",            /* 6: two fields */
             hash, hash + 7);
    nreps = 0;
    assert_int_equal(cg_intent_keys_load_text(&k, "keys.csv", text, strlen(text), report_cb, NULL),
                     CG_OK);
    assert_int_equal(cg_customers_count(k), 1);
    assert_int_equal(nreps, 3);
    /* the rewrite's own reports first, then the customers loader's */
    assert_int_equal(reps[0].line, 5);
    assert_int_equal(reps[1].line, 6);
    assert_int_equal(reps[2].line, 4);
    assert_non_null(strstr(reps[2].msg, "already held"));
    cu = cg_customers_by_token(k, "secret-key-1", 12);
    assert_non_null(cu);
    assert_string_equal(cg_customer_name(cu), "bank1");
    assert_true(cg_customer_owns(cu, A));
    assert_true(cg_customer_owns(cu, "442079460012"));
    assert_false(cg_customer_owns(cu, B));
    assert_null(cg_customers_by_token(k, "secret-key-2", 12));
    cg_customers_free(k);
    assert_int_equal(cg_intent_keys_load_file(&k, "/nonexistent/keys.csv", NULL, NULL), CG_EIO);
}

static void test_redis_key(void **state)
{
    char buf[CG_INTENT_REDIS_KEY_SIZE];
    (void)state;
    assert_int_equal(cg_intent_redis_key(buf, sizeof buf, NULL, A, B),
                     strlen("cidguard:intent:" A ":" B));
    assert_string_equal(buf, "cidguard:intent:" A ":" B);
    assert_true(cg_intent_redis_key(buf, sizeof buf, "cg:", A, C) > 0);
    assert_string_equal(buf, "cg:intent:" A ":" C);
    assert_int_equal(cg_intent_redis_key(buf, 10, "cg:", A, C), 0);
    assert_int_equal(cg_intent_redis_key(buf, sizeof buf, "cg:", "+44", C), 0);
    assert_int_equal(cg_intent_redis_key(buf, sizeof buf, "cg:", A, "0123"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_add_use_expiry),
        cmocka_unit_test(test_uses_exhausted_and_replace),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_batch_all_or_nothing),
        cmocka_unit_test(test_list_and_expire),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_json_good),
        cmocka_unit_test(test_json_bad),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_redis_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
