/*
 * Real carriers' signed calls, spec examples, real certificates and Ofcom's
 * numbering data, from the directory named by $CG_SHARED (read at run time,
 * never copied: 01-05 carry real numbers).  Without that directory the whole
 * executable reports itself skipped (exit 77, CTest's SKIP_RETURN_CODE);
 * with it, a missing file is a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"

static const char *dir;

struct row {
    char file[96], iat[32], orig[32], dest[48];
};
static struct row rows[16];
static size_t nrows;

/* Splits one CSV line with "quoted, fields" into at most n fields. */
static size_t csv_split(char *line, char **f, size_t n)
{
    size_t k = 0;
    char *p = line, *w;
    while (k < n) {
        f[k++] = w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"' || !*p) {
                    if (*p)
                        p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            f[k - 1] = f[k - 1]; /* field starts at the opening quote position */
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
        }
        if (*p != ',') {
            *w = '\0';
            break;
        }
        p++;
        *w = '\0';
    }
    return k;
}

static int setup(void **state)
{
    char path[512], line[2048];
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/vectors/expected.csv", dir);
    if (!(f = fopen(path, "r"))) {
        print_error("cannot read %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f) && nrows < 16) {
        char *fl[12];
        line[strcspn(line, "\r\n")] = '\0';
        if (csv_split(line, fl, 12) < 8 || strncmp(fl[0], "vector_file", 11) == 0)
            continue;
        snprintf(rows[nrows].file, sizeof rows[0].file, "%s", fl[0]);
        snprintf(rows[nrows].iat, sizeof rows[0].iat, "%s", fl[3]);
        snprintf(rows[nrows].orig, sizeof rows[0].orig, "%s", fl[6]);
        snprintf(rows[nrows].dest, sizeof rows[0].dest, "%s", fl[7]);
        nrows++;
    }
    fclose(f);
    return 0;
}

static const struct row *row(const char *prefix)
{
    size_t i;
    for (i = 0; i < nrows; i++)
        if (strncmp(rows[i].file, prefix, strlen(prefix)) == 0)
            return &rows[i];
    fail_msg("no row %s in expected.csv", prefix);
    return NULL;
}

static char *read_vector(const char *name)
{
    char path[512], *buf = malloc(4096);
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "%s/vectors/%s", dir, name);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, 4095, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

/* Verifies vector `r` with `bundle` (files under certs/, concatenated) and
 * trust anchor `root`, at time `at` (0: the vector's iat). */
static struct cg_verdict verify_vector(const struct row *r, const char *const *bundle,
                                       const char *root, int64_t at, bool allow_http)
{
    struct cg_trust *t;
    struct cg_certmap *m;
    struct cg_verifier *v;
    struct cg_verify_config cfg = {0};
    struct cg_call call = {0};
    struct cg_verdict vd;
    char path[512], pem[65536], *tok = read_vector(r->file), from[40], to[60];
    const char *why, *id = tok;
    size_t n = 0;

    assert_int_equal(cg_trust_new(&t, 0), CG_OK);
    assert_int_equal(cg_certmap_new(&m), CG_OK);
    if (root) {
        snprintf(path, sizeof path, "%s/vectors/certs/%s", dir, root);
        assert_int_equal(cg_trust_add_anchors_file(t, path), CG_OK);
    }
    for (; bundle && *bundle; bundle++) {
        FILE *f;
        snprintf(path, sizeof path, "%s/vectors/certs/%s", dir, *bundle);
        assert_non_null(f = fopen(path, "r"));
        n += fread(pem + n, 1, sizeof pem - 1 - n, f);
        fclose(f);
    }
    if (n) {
        struct cg_chain *c;
        pem[n] = '\0';
        assert_int_equal(cg_chain_load_pem(&c, pem, n, &why), CG_OK);
        cg_certmap_add(m, NULL, c);
        cg_chain_unref(c);
    }
    cfg.trust = t;
    cfg.certsrc = cg_certmap_source(m);
    cfg.allow_http = allow_http;
    assert_int_equal(cg_verifier_new(&v, &cfg), CG_OK);
    snprintf(from, sizeof from, "+%s", r->orig);
    snprintf(to, sizeof to, "+%s", strncmp(r->dest, "tn:", 3) == 0 ? r->dest + 3 : r->dest);
    call.from = from;
    call.to = to;
    call.identity = &id;
    call.nidentity = 1;
    call.now = at ? at : strtoll(r->iat, NULL, 10);
    call.bare_token = strchr(tok, ';') == NULL;
    assert_int_equal(cg_verify(v, &call, &vd), CG_OK);
    cg_verifier_free(v);
    cg_certmap_free(m);
    cg_trust_free(t);
    free(tok);
    return vd;
}

static void test_real_carriers_pass_at_iat(void **state)
{
    const char *bw[] = {"bandwidth_shaken_20230716_leaf.pem", "neustar_ccid_ca1_intermediate.pem",
                        NULL};
    const char *vz[] = {"verizon_vzshaken-02-2024_leaf.pem", "metaswitch_sti-ca_issuing1_2020.pem",
                        NULL};
    const char *vz23[] = {"verizon_vzshaken-02-2024_leaf.pem",
                          "metaswitch_sti-ca_issuing1_2023reissue.pem", NULL};
    const char *vzboth[] = {"verizon_vzshaken-02-2024_leaf.pem",
                            "metaswitch_sti-ca_issuing1_2023reissue.pem",
                            "metaswitch_sti-ca_issuing1_2020.pem", NULL};
    const char *lu[] = {"lumen_11001.10012_centurylink_2020_leaf.pem",
                        "neustar_ccid_ca1_intermediate.pem", NULL};
    struct cg_verdict v;
    (void)state;
    v = verify_vector(row("01_"), bw, "neustar_ccid_root.pem", 0, false);
    if (v.verstat != CG_VERSTAT_PASSED)
        fail_msg("01: %s %s", cg_reason_name(v.reason), v.detail);
    assert_int_equal(v.attest, 'A');
    assert_string_equal(v.spc, "997E");
    v = verify_vector(row("02_"), vz, "metaswitch_sti-ca_root.pem", 0, false);
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
    assert_string_equal(v.origid, "FFFFFFFF-FFFF-FFFF-FFFF-010100000000");
    /* The 2023 re-issue of the intermediate did not exist at iat (2021):
     * validating at iat rejects it alone, and picks the 2020 one when the
     * bundle holds both. */
    v = verify_vector(row("02_"), vz23, "metaswitch_sti-ca_root.pem", 0, false);
    assert_int_equal(v.reason, CG_R_CERT_INVALID);
    assert_non_null(strstr(v.detail, "not yet valid"));
    v = verify_vector(row("02_"), vzboth, "metaswitch_sti-ca_root.pem", 0, false);
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
    v = verify_vector(row("03_"), lu, "neustar_ccid_root.pem", 0, false);
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
    assert_int_equal(v.attest, 'C');
    v = verify_vector(row("04_"), lu, "neustar_ccid_root.pem", 0, false);
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
}

static void test_real_carriers_fail_now(void **state)
{
    const char *bw[] = {"bandwidth_shaken_20230716_leaf.pem", "neustar_ccid_ca1_intermediate.pem",
                        NULL};
    const char *lu22[] = {"lumen_11001.10012_shaken7575_2022_leaf.pem",
                          "neustar_ccid_ca1_intermediate.pem", NULL};
    struct cg_verdict v;
    (void)state;
    v = verify_vector(row("01_"), bw, "neustar_ccid_root.pem", (int64_t)time(NULL), false);
    assert_int_equal(v.reason, CG_R_STALE);
    /* same x5u URL, later key: the signature must not verify */
    v = verify_vector(row("03_"), lu22, "neustar_ccid_shaken_root.pem", 0, false);
    assert_int_not_equal(v.verstat, CG_VERSTAT_PASSED);
    /* 05: no certificate obtainable */
    v = verify_vector(row("05_"), NULL, NULL, 0, false);
    assert_int_equal(v.reason, CG_R_CERT_UNAVAILABLE);
    assert_int_not_equal(v.verstat, CG_VERSTAT_PASSED);
}

static void test_spec_examples_rejected(void **state)
{
    const char *ls[] = {"libstirshaken_test_sp.pem", NULL};
    const char *ast[] = {"asterisk_testsuite_public_x509_cert.pem", NULL};
    struct cg_verdict v;
    (void)state;
    v = verify_vector(row("09b_"), ls, "libstirshaken_test_ca.pem", 0, true);
    assert_int_equal(v.reason, CG_R_CLAIMS); /* orig/dest are JSON strings */
    v = verify_vector(row("09a_"), ls, "libstirshaken_test_ca.pem", 0, true);
    assert_int_equal(v.reason, CG_R_CLAIMS);
    v = verify_vector(row("10_"), ast, NULL, 0, true);
    assert_int_equal(v.reason, CG_R_SIGNATURE); /* 71-byte DER signature */
    v = verify_vector(row("06_"), NULL, NULL, 0, false);
    assert_int_not_equal(v.verstat, CG_VERSTAT_PASSED);
    v = verify_vector(row("07_"), NULL, NULL, 0, false);
    assert_int_not_equal(v.verstat, CG_VERSTAT_PASSED);
    v = verify_vector(row("08_"), NULL, NULL, 0, false);
    assert_int_not_equal(v.verstat, CG_VERSTAT_PASSED);
}

/* 06-08 at the JWS level: the signature check agrees with the published
 * verdicts, and the claim checks reject the draft-era payloads. */
static void test_spec_signatures(void **state)
{
    static const struct {
        const char *file;
        bool sig_valid;
    } cases[] = {{"06_rfc8225_appendixA.passport.txt", false},
                 {"07_draft_passport_iat_string.passport.txt", true},
                 {"08_draft_passport_noncanonical.passport.txt", true}};
    char path[512];
    struct cg_key *k;
    size_t i;
    (void)state;
    snprintf(path, sizeof path, "%s/vectors/keys/rfc8225_appendixA_public.pem", dir);
    assert_int_equal(cg_key_load_file(&k, path), CG_OK);
    for (i = 0; i < 3; i++) {
        char *tok = read_vector(cases[i].file), *sigb = strrchr(tok, '.');
        struct cg_passport p;
        enum cg_passport_fault f;
        unsigned char sig[64];
        size_t sl;
        const char *why;
        bool valid;
        /* 06-08 have no ppt: decoding fails on the header, not a crash */
        assert_int_equal(cg_passport_decode(tok, strlen(tok), &p, sig, &sl, &f, &why), CG_EPARSE);
        assert_int_equal(f, CG_PF_HDR_MISSING);
        {
            /* signature check over the received bytes */
            char *text;
            unsigned char raw[64];
            assert_int_equal(cg_passport_part_text(tok, strlen(tok), 1, &text), CG_OK);
            free(text);
            (void)raw;
        }
        {
            extern int cg__b64url_decode(const char *, size_t, unsigned char *, size_t, size_t *);
            size_t n;
            assert_int_equal(cg__b64url_decode(sigb + 1, strlen(sigb + 1), sig, 64, &n), CG_OK);
            assert_int_equal(n, 64);
        }
        assert_int_equal(cg_es256_verify(k, tok, (size_t)(sigb - tok), sig, &valid), CG_OK);
        assert_int_equal(valid, cases[i].sig_valid);
        free(tok);
    }
    cg_key_free(k);
}

/* Real SHAKEN certificates: the SPC is read, and real-world non-compliance
 * is recorded as a warning, not refused. */
static void test_real_certificates(void **state)
{
    char path[512];
    struct cg_chain *c;
    const char *why;
    (void)state;
    snprintf(path, sizeof path, "%s/vectors/certs/bandwidth_shaken_20230716_leaf.pem", dir);
    assert_int_equal(cg_chain_load_file(&c, path, &why), CG_OK);
    assert_string_equal(cg_chain_info(c)->spc, "997E");
    assert_true(cg_chain_info(c)->warnings & (1u << CG_W_NO_CRL_ISSUER));
    cg_chain_unref(c);
    snprintf(path, sizeof path, "%s/vectors/certs/asterisk_testsuite_public_x509_cert.pem", dir);
    assert_int_equal(cg_chain_load_file(&c, path, &why), CG_OK);
    assert_string_equal(cg_chain_info(c)->spc, "1001");
    cg_chain_unref(c);
}

/* Ofcom's published block-status files: allocation is known where a file
 * covers the range, unknown elsewhere. */
static void test_real_ofcom_data(void **state)
{
    struct cg_policy_config cfg = {.uk_rules = true};
    struct cg_policy *p;
    struct cg_verdict v = {.verstat = CG_VERSTAT_NONE};
    struct cg_policy_call c = {.verdict = &v};
    struct cg_decision d;
    char path[512];
    const char *files[] = {"ofcom_S3.csv", "ofcom_S5.csv", "ofcom_S7.csv", "ofcom_S8.csv",
                           "ofcom_S9.csv"};
    size_t i;
    (void)state;
    assert_int_equal(cg_policy_new(&p, &cfg), CG_OK);
    for (i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/data/%s", dir, files[i]);
        if (cg_policy_load_ofcom(p, path, NULL, NULL) != CG_OK) {
            cg_policy_free(p);
            fail_msg("cannot load %s", path);
        }
    }
    c.caller = "447700900123"; /* the drama range: Protected */
    cg_policy_decide(p, NULL, &c, &d);
    assert_true(d.reasons & (1u << CG_PR_UK_UNALLOCATED));
    c.caller = "447000012345"; /* 07000 0: allocated */
    cg_policy_decide(p, NULL, &c, &d);
    assert_false(d.reasons & (1u << CG_PR_UK_UNALLOCATED));
    c.caller = "442079460000"; /* geographic: no S1 file, unknown */
    cg_policy_decide(p, NULL, &c, &d);
    assert_true(d.reasons & (1u << CG_PR_UK_ALLOCATION_UNKNOWN));
    cg_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_carriers_pass_at_iat),
        cmocka_unit_test(test_real_carriers_fail_now),
        cmocka_unit_test(test_spec_examples_rejected),
        cmocka_unit_test(test_spec_signatures),
        cmocka_unit_test(test_real_certificates),
        cmocka_unit_test(test_real_ofcom_data),
    };
    struct stat st;
    dir = getenv("CG_SHARED");
    /* Skipped, not passed: a run without the data has tested nothing here
     * (a CI run treats any skip as a failure). */
    if (!dir || !*dir) {
        printf("SKIP: CG_SHARED is not set (the directory of real vectors and numbering data)\n");
        return 77;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: CG_SHARED=%s is not a directory (real vectors and numbering data)\n", dir);
        return 77;
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}
