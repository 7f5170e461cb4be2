/*
 * The signers file: a good file (header, comments, CRLF, relative paths),
 * every bad-row report with its line while the rest loads, a key that is
 * not the certificate's, a missing key file, a public key given as the
 * key, a certificate without TNAuthList, limits, lookups by name, days to
 * expiry; a signer of the file signs what the verifier accepts.  Stable
 * origids: a known answer computed apart (Python's hmac), the UUID form,
 * different customers and ingresses, long secrets, bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cidguard/signers.h"
#include "helpers.h"

/* --- fixtures ------------------------------------------------------------------- */

struct rep {
    char file[256];
    int line;
    char msg[1400];
};

static struct rep reps[32];
static int nreps;

static void report_cb(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    if (nreps < (int)(sizeof reps / sizeof reps[0])) {
        snprintf(reps[nreps].file, sizeof reps[nreps].file, "%s", file);
        reps[nreps].line = line;
        snprintf(reps[nreps].msg, sizeof reps[nreps].msg, "%s", msg);
    }
    nreps++;
}

static void assert_report(int i, int line, const char *part)
{
    assert_true(i < nreps);
    if (reps[i].line != line || !strstr(reps[i].msg, part))
        fail_msg("report %d: want line %d with \"%s\", got line %d: %s", i, line, part,
                 reps[i].line, reps[i].msg);
}

static char textbuf[16384];

/* The text with every "@" replaced by the test PKI's directory. */
static const char *in_pki(const char *t)
{
    size_t o = 0;
    for (; *t; t++) {
        if (*t == '@') {
            o += (size_t)snprintf(textbuf + o, sizeof textbuf - o, "%s", th_pki());
        } else {
            textbuf[o++] = *t;
        }
        assert_true(o < sizeof textbuf - 1);
    }
    textbuf[o] = '\0';
    return textbuf;
}

static struct cg_signers *load(const char *text)
{
    struct cg_signers *s = NULL;
    const char *t = in_pki(text);
    nreps = 0;
    assert_int_equal(cg_signers_load_text(&s, "s.csv", t, strlen(t), report_cb, NULL), CG_OK);
    assert_non_null(s);
    return s;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A certificate whose leaf has no TNAuthList, with its key, in the PKI
 * directory (openssl, once). */
static void make_plain_cert(void)
{
    static int done;
    char cmd[1024];
    if (done)
        return;
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
             "'%s/plain.key' -out '%s/plain.pem' -subj '/CN=SHAKEN 9999' -days 30 -addext "
             "'basicConstraints=critical,CA:FALSE' >/dev/null 2>&1",
             th_pki(), th_pki());
    if (system(cmd) != 0)
        skip();
    snprintf(cmd, sizeof cmd,
             "openssl ec -in '%s/sp-1234.key' -pubout -out '%s/pub-1234.pem' 2>/dev/null", th_pki(),
             th_pki());
    if (system(cmd) != 0)
        skip();
    done = 1;
}

/* --- the file --------------------------------------------------------------------- */

static void test_good(void **state)
{
    struct cg_signers *s =
        load("\xef\xbb\xbf# signers\r\n"
             "signer,key,certificate,x5u\r\n"
             "\r\n"
             "  s1 , @/sp-1234.key , @/sp-1234.pem , https://cr.example.net/sp-1234.pem \r\n"
             "# a reseller\n"
             "reseller-2.b_x,@/sp-567A.key,@/sp-567A.pem,http://127.0.0.1:8085/certs/sp-567A.pem");
    const struct cg_signer_entry *e;
    int64_t now = (int64_t)time(NULL);
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(cg_signers_count(s), 2);
    e = cg_signers_at(s, 0);
    assert_string_equal(e->name, "s1");
    assert_string_equal(e->spc, "1234");
    assert_string_equal(e->x5u, "https://cr.example.net/sp-1234.pem");
    assert_int_equal(e->line, 4);
    assert_non_null(e->signer);
    assert_non_null(e->cert);
    assert_true(strstr(e->key_path, "/sp-1234.key") != NULL);
    assert_true(e->not_before <= now && e->not_after > now);
    /* the test PKI's leaves last 365 days */
    assert_true(cg_signers_days_left(e, now) >= 363 && cg_signers_days_left(e, now) <= 365);
    e = cg_signers_at(s, 1);
    assert_string_equal(e->name, "reseller-2.b_x");
    assert_string_equal(e->spc, "567A");
    assert_int_equal(e->line, 6);
    assert_ptr_equal(cg_signers_find(s, "reseller-2.b_x"), e);
    assert_ptr_equal(cg_signers_find(s, "s1"), cg_signers_at(s, 0));
    assert_null(cg_signers_find(s, "S1"));
    assert_null(cg_signers_find(s, ""));
    assert_null(cg_signers_find(s, NULL));
    assert_null(cg_signers_at(s, 2));
    cg_signers_free(s);
}

/* A signer of the file signs what a verifier holding its bundle accepts. */
static void test_signs(void **state)
{
    struct cg_signers *s = load("s1,@/sp-1234.key,@/sp-1234.pem," TH_X5U "\n");
    const char *dest[] = {TH_DEST};
    struct cg_sign_request r = {.orig = TH_ORIG, .dest = dest, .ndest = 1, .attest = 'A'};
    struct th_env env;
    struct cg_verdict v;
    char *id = NULL;
    (void)state;
    assert_int_equal(cg_sign(cg_signers_at(s, 0)->signer, &r, &id, NULL), CG_OK);
    assert_true(strstr(id, ";info=<" TH_X5U ">") != NULL);
    th_env_init(&env, "sp-1234.pem", true, 0);
    v = th_verify(&env, id, (int64_t)time(NULL));
    assert_int_equal(v.reason, CG_R_OK);
    assert_string_equal(v.spc, "1234");
    th_env_free(&env);
    free(id);
    cg_signers_free(s);
}

static void test_bad_rows(void **state)
{
    static const char text[] =
        "signer,key,certificate,x5u\n"                                        /* 1 */
        "good,@/sp-1234.key,@/sp-1234.pem,https://cr.example.net/a.pem\n"     /* 2 */
        "three,@/sp-1234.key,@/sp-1234.pem\n"                                 /* 3 */
        "five,@/sp-1234.key,@/sp-1234.pem,https://cr.example.net/a.pem,x\n"   /* 4 */
        "bad name,@/sp-1234.key,@/sp-1234.pem,https://cr.example.net/a.pem\n" /* 5 */
        ",@/sp-1234.key,@/sp-1234.pem,https://cr.example.net/a.pem\n"         /* 6 */
        "ftp,@/sp-1234.key,@/sp-1234.pem,ftp://cr.example.net/a.pem\n"        /* 7 */
        "semi,@/sp-1234.key,@/sp-1234.pem,https://cr.example.net/a;b.pem\n"   /* 8 */
        "good,@/sp-567A.key,@/sp-567A.pem,https://cr.example.net/b.pem\n"     /* 9 */
        "nokey,,@/sp-1234.pem,https://cr.example.net/a.pem\n"                 /* 10 */
        "nocert,@/sp-1234.key,,https://cr.example.net/a.pem\n"                /* 11 */
        "notpem,@/sp-1234.key,@/sp-1234.key,https://cr.example.net/a.pem\n"   /* 12 */
        "other,@/sp-567A.key,@/sp-567A.pem,https://cr.example.net/b.pem\n";   /* 13 */
    struct cg_signers *s = load(text);
    int i = 0;
    (void)state;
    assert_report(i++, 3, "want four fields signer,key,certificate,x5u");
    assert_report(i++, 4, "want four fields");
    assert_report(i++, 5, "signer name 'bad name' is not");
    assert_report(i++, 6, "signer name '' is not");
    assert_report(i++, 7, "x5u 'ftp://cr.example.net/a.pem' is not an https or http URL");
    assert_report(i++, 8, "x5u 'https://cr.example.net/a;b.pem'");
    assert_report(i++, 9, "signer 'good' is already defined on line 2");
    assert_report(i++, 10, "key path is empty");
    assert_report(i++, 11, "certificate path is empty");
    assert_report(i++, 12, "signer 'notpem': certificate file");
    assert_int_equal(nreps, i);
    assert_string_equal(reps[0].file, "s.csv");
    assert_int_equal(cg_signers_count(s), 2);
    assert_string_equal(cg_signers_at(s, 0)->name, "good");
    assert_string_equal(cg_signers_at(s, 0)->spc, "1234");
    assert_string_equal(cg_signers_at(s, 1)->name, "other");
    cg_signers_free(s);
}

/* The key of one signer with the certificate of another: refused, named. */
static void test_mismatch(void **state)
{
    struct cg_signers *s =
        load("signer,key,certificate,x5u\n"
             "ok,@/sp-1234.key,@/sp-1234.pem,https://cr.example.net/a.pem\n"
             "crossed,@/sp-567A.key,@/sp-1234.pem,https://cr.example.net/a.pem\n");
    (void)state;
    assert_int_equal(nreps, 1);
    assert_report(0, 3, "signer 'crossed': key ");
    assert_report(0, 3, "sp-567A.key does not match the public key of certificate ");
    assert_report(0, 3, "sp-1234.pem (subject ");
    assert_int_equal(cg_signers_count(s), 1);
    assert_null(cg_signers_find(s, "crossed"));
    cg_signers_free(s);
}

static void test_missing_files(void **state)
{
    struct cg_signers *s =
        load("gone,@/no-such.key,@/sp-1234.pem,https://cr.example.net/a.pem\n"
             "gonecert,@/sp-1234.key,@/no-such.pem,https://cr.example.net/a.pem\n"
             "dir,@,@/sp-1234.pem,https://cr.example.net/a.pem\n");
    (void)state;
    assert_report(0, 1, "signer 'gone': key file ");
    assert_report(0, 1, "/no-such.key: No such file or directory");
    assert_report(1, 2, "signer 'gonecert': certificate file ");
    assert_report(1, 2, "/no-such.pem: No such file or directory");
    assert_report(2, 3, "signer 'dir': key file ");
    assert_int_equal(nreps, 3);
    assert_int_equal(cg_signers_count(s), 0);
    assert_null(cg_signers_at(s, 0));
    cg_signers_free(s);
}

static void test_no_tnauthlist(void **state)
{
    struct cg_signers *s;
    (void)state;
    make_plain_cert();
    s = load("plain,@/plain.key,@/plain.pem,https://cr.example.net/p.pem\n"
             "pub,@/pub-1234.pem,@/sp-1234.pem,https://cr.example.net/a.pem\n");
    assert_report(0, 1, "signer 'plain': certificate ");
    assert_report(0, 1, "has no SPC in a TNAuthList");
    assert_report(1, 2, "holds a public key, not a private key");
    assert_int_equal(nreps, 2);
    assert_int_equal(cg_signers_count(s), 0);
    cg_signers_free(s);
}

/* Relative paths are the signers file's directory's; reports name the
 * file. */
static void test_load_file(void **state)
{
    char path[512];
    struct cg_signers *s = NULL;
    (void)state;
    snprintf(path, sizeof path, "%s/signers.csv", th_pki());
    write_file(path, "signer,key,certificate,x5u\n"
                     "s1,sp-1234.key,sp-1234.pem,https://cr.example.net/a.pem\n"
                     "s2,./sp-567A.key,sp-1234.pem,https://cr.example.net/b.pem\n");
    nreps = 0;
    assert_int_equal(cg_signers_load_file(&s, path, report_cb, NULL), CG_OK);
    assert_int_equal(cg_signers_count(s), 1);
    assert_string_equal(cg_signers_at(s, 0)->key_path, th_file("sp-1234.key"));
    assert_int_equal(nreps, 1);
    assert_string_equal(reps[0].file, path);
    assert_report(0, 3, "signer 's2'");
    assert_report(0, 3, "does not match");
    cg_signers_free(s);
    s = NULL;
    assert_int_equal(cg_signers_load_file(&s, "/nonexistent/signers.csv", report_cb, NULL), CG_EIO);
    assert_null(s);
    unlink(path);
}

static void test_limits(void **state)
{
    struct cg_signers *s = NULL;
    size_t big = CG_SIGNERS_FILE_MAX + 1;
    char *text = malloc(big), name[80];
    (void)state;
    assert_non_null(text);
    memset(text, '#', big);
    nreps = 0;
    assert_int_equal(cg_signers_load_text(&s, NULL, text, big, report_cb, NULL), CG_ETOOBIG);
    assert_null(s);
    assert_report(0, 0, "larger than");
    assert_string_equal(reps[0].file, "signers");
    /* a line over the limit, a NUL byte, a name over 64 bytes */
    memset(text, 'a', CG_SIGNERS_LINE_MAX + 1);
    memcpy(text + CG_SIGNERS_LINE_MAX + 1, "\nx\0y,a,b,https://c/d\n", 21);
    memset(name, 'n', 65);
    snprintf(text + CG_SIGNERS_LINE_MAX + 22, 200, "%.65s,a,b,https://c/d\n", name);
    nreps = 0;
    assert_int_equal(
        cg_signers_load_text(&s, "t", text,
                             strlen(text + CG_SIGNERS_LINE_MAX + 22) + CG_SIGNERS_LINE_MAX + 22,
                             report_cb, NULL),
        CG_OK);
    assert_report(0, 1, "line longer than");
    assert_report(1, 2, "NUL byte");
    assert_report(2, 3, "is not 1 to 64 letters");
    assert_int_equal(cg_signers_count(s), 0);
    cg_signers_free(s);
    free(text);
    /* empty, NULL */
    s = NULL;
    assert_int_equal(cg_signers_load_text(&s, "t", NULL, 0, NULL, NULL), CG_OK);
    assert_int_equal(cg_signers_count(s), 0);
    cg_signers_free(s);
    assert_int_equal(cg_signers_load_text(NULL, "t", "", 0, NULL, NULL), CG_EINVAL);
    assert_int_equal(cg_signers_load_text(&s, "t", NULL, 3, NULL, NULL), CG_EINVAL);
    assert_int_equal(cg_signers_load_file(&s, NULL, NULL, NULL), CG_EINVAL);
    assert_int_equal(cg_signers_count(NULL), 0);
    assert_null(cg_signers_find(NULL, "a"));
    cg_signers_free(NULL);
}

static void test_days_left(void **state)
{
    struct cg_signer_entry e = {.not_after = 1000000};
    (void)state;
    assert_int_equal(cg_signers_days_left(&e, 1000000 - 86400 * 30), 30);
    assert_int_equal(cg_signers_days_left(&e, 1000000 - 86400 * 30 + 1), 29);
    assert_int_equal(cg_signers_days_left(&e, 1000000 - 1), 0);
    assert_int_equal(cg_signers_days_left(&e, 1000000), 0);
    assert_int_equal(cg_signers_days_left(&e, 1000001), -1);
    assert_int_equal(cg_signers_days_left(&e, 1000000 + 86400), -1);
    assert_int_equal(cg_signers_days_left(&e, 1000000 + 86401), -2);
}

/* --- stable origid ----------------------------------------------------------------- */

static const unsigned char secret32[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                           11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                           22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* The expected values come from Python: hmac.new(secret, customer + b"\0" +
 * ingress, sha256), its first 16 bytes with the version and variant bits
 * set, printed by uuid.UUID. */
static void test_origid_known(void **state)
{
    unsigned char secret100[100];
    char out[37];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof secret100; i++)
        secret100[i] = (unsigned char)i;
    assert_int_equal(cg_origid_stable(secret32, 32, "acme", "192.0.2.1", out), CG_OK);
    assert_string_equal(out, "3f423ab1-33ae-8768-a040-9761dea9af2a");
    assert_int_equal(cg_origid_stable(secret32, 32, "", "", out), CG_OK);
    assert_string_equal(out, "e711546e-3faa-84c7-84aa-756bc26cad6a");
    /* a secret longer than a SHA-256 block is hashed first */
    assert_int_equal(cg_origid_stable(secret100, 100, "acme", "192.0.2.1", out), CG_OK);
    assert_string_equal(out, "f05b4f2b-f17e-8a6b-a909-653379bb4b19");
}

static void assert_uuid8(const char *u)
{
    size_t i;
    assert_int_equal(strlen(u), 36);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(strchr("0123456789abcdef", u[i]) != NULL);
    }
    assert_int_equal(u[14], '8');               /* version 8 */
    assert_true(strchr("89ab", u[19]) != NULL); /* variant 10 */
}

static void test_origid_distinct(void **state)
{
    static const char *const cust[] = {"acme", "acme2", "lab", "", "acme\x01"};
    static const char *const ingr[] = {"192.0.2.1", "192.0.2.2", "", "2001:db8::1", "tgrp:intl"};
    char seen[25][37], a[37], b[37];
    size_t i, j, k, n = 0;
    unsigned char other[32];
    (void)state;
    for (i = 0; i < 5; i++)
        for (j = 0; j < 5; j++) {
            assert_int_equal(cg_origid_stable(secret32, 32, cust[i], ingr[j], seen[n]), CG_OK);
            assert_uuid8(seen[n]);
            assert_int_equal(cg_origid_stable(secret32, 32, cust[i], ingr[j], a), CG_OK);
            assert_string_equal(a, seen[n]); /* deterministic */
            for (k = 0; k < n; k++)
                assert_string_not_equal(seen[k], seen[n]);
            n++;
        }
    /* the separator keeps ("ab", "c") and ("a", "bc") apart */
    assert_int_equal(cg_origid_stable(secret32, 32, "ab", "c", a), CG_OK);
    assert_int_equal(cg_origid_stable(secret32, 32, "a", "bc", b), CG_OK);
    assert_string_not_equal(a, b);
    /* another secret, another origid */
    memcpy(other, secret32, 32);
    other[31] ^= 1;
    assert_int_equal(cg_origid_stable(other, 32, "acme", "192.0.2.1", b), CG_OK);
    assert_string_not_equal(b, "3f423ab1-33ae-8768-a040-9761dea9af2a");
}

static void test_origid_bad(void **state)
{
    char out[37] = "x", *big = malloc(CG_ORIGID_INPUT_MAX + 2);
    unsigned char huge[CG_ORIGID_SECRET_MAX + 1] = {0};
    (void)state;
    assert_int_equal(cg_origid_stable(NULL, 32, "a", "b", out), CG_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(cg_origid_stable(secret32, 0, "a", "b", out), CG_EINVAL);
    assert_int_equal(cg_origid_stable(secret32, 32, NULL, "b", out), CG_EINVAL);
    assert_int_equal(cg_origid_stable(secret32, 32, "a", NULL, out), CG_EINVAL);
    assert_int_equal(cg_origid_stable(secret32, 32, "a", "b", NULL), CG_EINVAL);
    assert_int_equal(cg_origid_stable(huge, sizeof huge, "a", "b", out), CG_ETOOBIG);
    memset(big, 'x', CG_ORIGID_INPUT_MAX + 1);
    big[CG_ORIGID_INPUT_MAX + 1] = '\0';
    assert_int_equal(cg_origid_stable(secret32, 32, big, "b", out), CG_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(cg_origid_stable(secret32, 32, "a", big, out), CG_ETOOBIG);
    big[CG_ORIGID_INPUT_MAX] = '\0';
    assert_int_equal(cg_origid_stable(secret32, 32, big, big, out), CG_OK);
    assert_uuid8(out);
    assert_int_equal(cg_origid_stable(huge, CG_ORIGID_SECRET_MAX, "a", "b", out), CG_OK);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_signs),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_no_tnauthlist),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_days_left),
        cmocka_unit_test(test_origid_known),
        cmocka_unit_test(test_origid_distinct),
        cmocka_unit_test(test_origid_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
