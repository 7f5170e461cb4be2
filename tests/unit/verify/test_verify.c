/*
 * The verifier against every reason code, the E1-E19 cases of STANDARDS.md
 * section 1.8 (E1/E2 are request-level: see test_api), and the negative
 * corpus of the core issue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

static struct th_env env;
static int64_t now;

static int setup(void **state)
{
    (void)state;
    now = (int64_t)time(NULL);
    th_env_init(&env, "sp-1234.pem", true, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_env_free(&env);
    return 0;
}

static void expect(const struct cg_verdict *v, enum cg_reason r, const char *ecase)
{
    if (v->reason != r)
        fail_msg("reason %s (%s), wanted %s", cg_reason_name(v->reason), v->detail,
                 cg_reason_name(r));
    assert_int_equal(v->reason_code, cg_reason_sip_code(r));
    assert_string_equal(cg_reason_case(r), ecase);
    if (r != CG_R_OK) {
        assert_int_not_equal(v->verstat, CG_VERSTAT_PASSED);
        assert_true(v->detail[0] != '\0');
    }
}

/* A SHAKEN header over `payload`, signed with `key`, for `x5u`. */
static struct cg_verdict run(const char *hdr, const char *payload, const char *key,
                             const char *x5u)
{
    char *t = th_token(hdr, payload, key), *h = th_header(t, x5u);
    struct cg_verdict v = th_verify(&env, h, now);
    free(t);
    free(h);
    return v;
}

static struct cg_verdict run_payload(const char *payload)
{
    return run(TH_HDR, payload, "sp-1234.key", TH_X5U);
}

static struct cg_verdict run_iat(int64_t iat, const char *attest)
{
    char *p = th_payload(iat, attest, TH_ORIG, TH_DEST);
    struct cg_verdict v = run_payload(p);
    free(p);
    return v;
}

static struct cg_verdict run_raw(const char *value)
{
    return th_verify(&env, value, now);
}

static void test_pass(void **state)
{
    struct cg_verdict v = run_iat(now, "A");
    (void)state;
    expect(&v, CG_R_OK, "");
    assert_int_equal(v.verstat, CG_VERSTAT_PASSED);
    assert_int_equal(v.attest, 'A');
    assert_string_equal(v.spc, "1234");
    assert_string_equal(v.orig, TH_ORIG);
    assert_string_equal(v.dest, TH_DEST);
    assert_string_equal(v.origid, "de305d54-75b4-431b-adb2-eb6b9e546014");
    assert_int_equal(v.orig_match, CG_MATCH_FROM);
    assert_int_equal(v.dest_match, CG_MATCH_TO);
    assert_int_equal(v.identity_index, 0);
    assert_int_equal(v.warnings, 0);
    v = run_iat(now - 60, "C"); /* inside the window */
    expect(&v, CG_R_OK, "");
    assert_int_equal(v.attest, 'C');
    v = run_iat(now + 60, "B"); /* skew in the other direction */
    expect(&v, CG_R_OK, "");
}

static void test_identity_matching(void **state)
{
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), *h = th_header(t, TH_X5U);
    const char *hv = h;
    struct cg_call call = {0};
    struct cg_verdict v;
    (void)state;
    call.identity = &hv;
    call.nidentity = 1;
    call.now = now;
    /* PAI preferred; From may be anything else (e.g. a display number) */
    call.pai = "<sip:+442079460000@sbc.example;user=phone>";
    call.from = "\"Anonymous\" <sip:anonymous@anonymous.invalid>";
    call.to = "sip:someone@example.com";
    call.ruri = "sip:+14155550100@sbc.example;user=phone";
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_OK, "");
    assert_int_equal(v.orig_match, CG_MATCH_PAI);
    assert_int_equal(v.dest_match, CG_MATCH_RURI);
    /* E16: orig matches neither */
    call.pai = "tel:+442079460001";
    call.from = "tel:+442079460002";
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_ORIG_MISMATCH, "E16");
    /* E16: dest */
    call.pai = "tel:+442079460000";
    call.ruri = "tel:+14155550101";
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_DEST_MISMATCH, "E16");
    /* ... unless another called number of the request (ATIS to.tn list) is dest */
    {
        const char *more[] = {"+14155550199", "tel:+14155550100"};
        call.to_more = more;
        call.nto_more = 2;
        assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
        expect(&v, CG_R_OK, "");
        assert_int_equal(v.dest_match, CG_MATCH_TO);
        call.nto_more = 1;
        assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
        expect(&v, CG_R_DEST_MISMATCH, "E16");
        call.to_more = NULL;
        call.nto_more = 0;
    }
    /* no caller number at all */
    call.pai = call.from = NULL;
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_ORIG_MISMATCH, "E16");
    free(p);
    free(t);
    free(h);
}

static void test_no_identity_and_request_time(void **state)
{
    struct cg_call call = {0};
    struct cg_verdict v;
    (void)state;
    call.from = "+" TH_ORIG;
    call.to = "+" TH_DEST;
    call.now = now;
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_NO_IDENTITY, "");
    assert_int_equal(v.verstat, CG_VERSTAT_NONE);
    call.request_time = now - 61; /* E3 */
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_REQUEST_TIME, "E3");
    assert_int_equal(v.verstat, CG_VERSTAT_NONE);
    assert_int_equal(v.reason_code, 403);
}

static void test_header_cases(void **state)
{
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), buf[2048];
    struct cg_verdict v;
    (void)state;

    snprintf(buf, sizeof buf, "%s;info=<%s>;alg=ES256;ppt=shaken", strchr(t, '.'), TH_X5U);
    v = run_raw(buf + 0);
    expect(&v, CG_R_COMPACT_FORM, "E4"); /* ".payload.sig": empty header */
    snprintf(buf, sizeof buf, "%s;info=<%s>;alg=ES256;ppt=rph", t, TH_X5U);
    expect((v = run_raw(buf), &v), CG_R_PPT_PARAM, "E5");
    snprintf(buf, sizeof buf, "%s;info=<%s>;alg=ES256", t, TH_X5U);
    expect((v = run_raw(buf), &v), CG_R_PPT_PARAM, "E5");
    snprintf(buf, sizeof buf, "%s;alg=ES256;ppt=shaken", t);
    expect((v = run_raw(buf), &v), CG_R_NO_INFO, "E6");
    snprintf(buf, sizeof buf, "%s;info=<ftp://x/y.pem>;alg=ES256;ppt=shaken", t);
    expect((v = run_raw(buf), &v), CG_R_BAD_INFO, "E7");
    snprintf(buf, sizeof buf, "%s;info=<http://cert.example.net/sp-1234.pem>;ppt=shaken", t);
    expect((v = run_raw(buf), &v), CG_R_BAD_INFO, "E7"); /* http not allowed by default */
    snprintf(buf, sizeof buf, "%s;info=<https://other.example/x.pem>;alg=ES256;ppt=shaken", t);
    expect((v = run_raw(buf), &v), CG_R_X5U_MISMATCH, "E10");
    snprintf(buf, sizeof buf, "%s;info=<%s>;alg=HS256;ppt=shaken", t, TH_X5U);
    expect((v = run_raw(buf), &v), CG_R_ALG, "E12");
    snprintf(buf, sizeof buf, "%s;info=<%s>;alg=ES256;ppt=div", t, TH_X5U);
    expect((v = run_raw(buf), &v), CG_R_PPT, "E13"); /* parameter and JOSE header differ */
    expect((v = run_raw("not an identity header"), &v), CG_R_MALFORMED, "E4");
    snprintf(buf, sizeof buf, "eyJ!bGciOiJFUzI1NiJ9.eyJ.c2ln;info=<%s>;ppt=shaken", TH_X5U);
    expect((v = run_raw(buf), &v), CG_R_MALFORMED, "E4"); /* invalid base64url */
    free(p);
    free(t);
}

#define HDR(alg, typ, ppt, x5u)                                                                \
    "{\"alg\":\"" alg "\",\"ppt\":\"" ppt "\",\"typ\":\"" typ "\",\"x5u\":\"" x5u "\"}"

static void test_jose_header_cases(void **state)
{
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    struct cg_verdict v;
    (void)state;
    v = run("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}", p, "sp-1234.key", TH_X5U);
    expect(&v, CG_R_HDR_MISSING, "E9");
    v = run("{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" TH_X5U "\"}", p, "sp-1234.key",
            TH_X5U);
    expect(&v, CG_R_HDR_MISSING, "E9");
    v = run(HDR("ES256", "JWT", "shaken", TH_X5U), p, "sp-1234.key", TH_X5U);
    expect(&v, CG_R_TYP, "E11");
    v = run(HDR("none", "passport", "shaken", TH_X5U), p, "sp-1234.key", TH_X5U);
    expect(&v, CG_R_ALG, "E12");
    v = run(HDR("HS256", "passport", "shaken", TH_X5U), p, "sp-1234.key", TH_X5U);
    expect(&v, CG_R_ALG, "E12");
    v = run(HDR("ES256", "passport", "msg", TH_X5U), p, "sp-1234.key", TH_X5U);
    expect(&v, CG_R_PPT, "E13");
    v = run(HDR("ES256", "passport", "shaken", "https://evil.example/x.pem"), p, "sp-1234.key",
            TH_X5U);
    expect(&v, CG_R_X5U_MISMATCH, "E10");
    free(p);
}

static void test_claim_cases(void **state)
{
    struct cg_verdict v;
    char deep[512];
    int i;
    (void)state;
    v = run_payload("{\"attest\":\"A\",\"dest\":{\"tn\":[\"" TH_DEST "\"]},\"iat\":1,\"orig\":"
                    "{\"tn\":\"" TH_ORIG "\"}}");
    expect(&v, CG_R_CLAIMS, "E14"); /* no origid */
    snprintf(deep, sizeof deep, "{\"attest\":\"A\",\"dest\":{\"tn\":[\"%s\"]},\"iat\":\"%lld\","
             "\"orig\":{\"tn\":\"%s\"},\"origid\":\"x\"}", TH_DEST, (long long)now, TH_ORIG);
    expect((v = run_payload(deep), &v), CG_R_CLAIMS, "E14"); /* string iat */
    v = run_iat(now, "a");
    expect(&v, CG_R_ATTEST, "E19");
    v = run_iat(now, "AB");
    expect(&v, CG_R_ATTEST, "E19");
    strcpy(deep, "{\"attest\":\"A\",\"rcd\":");
    for (i = 0; i < 100; i++)
        strcat(deep, "[");
    for (i = 0; i < 100; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    expect((v = run_payload(deep), &v), CG_R_CLAIMS, "E14"); /* deeply nested */
}

static void test_freshness(void **state)
{
    struct cg_verdict v;
    (void)state;
    v = run_iat(now - 66, "A");
    expect(&v, CG_R_STALE, "E15");
    assert_int_equal(v.reason_code, 403);
    v = run_iat(now + 3600, "A"); /* future iat */
    expect(&v, CG_R_STALE, "E15");
    v = run_iat(now - 65, "A"); /* 60 s window + 5 s skew */
    expect(&v, CG_R_OK, "");
}

static void test_signature_cases(void **state)
{
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), *h, *dot;
    struct cg_verdict v;
    (void)state;
    /* tampered signature */
    h = th_header(t, TH_X5U);
    dot = strchr(h, ';') - 87;
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    expect((v = run_raw(h), &v), CG_R_SIGNATURE, "E18");
    assert_int_equal(v.verstat, CG_VERSTAT_FAILED);
    free(h);
    /* tampered payload: a different orig with the old signature */
    {
        char *p2 = th_payload(now, "A", TH_ORIG, TH_DEST), *t2;
        p2[strlen(p2) - 3] = 'X';
        t2 = th_token(TH_HDR, p2, "sp-1234.key");
        /* splice t2's header.payload with t's signature */
        dot = strrchr(t2, '.');
        strcpy(dot, strrchr(t, '.'));
        h = th_header(t2, TH_X5U);
        expect((v = run_raw(h), &v), CG_R_SIGNATURE, "E18");
        free(h);
        free(t2);
        free(p2);
    }
    /* wrong key: signed by SPC 567A, presented with 1234's certificate */
    v = run(TH_HDR, p, "sp-567A.key", TH_X5U);
    expect(&v, CG_R_SIGNATURE, "E18");
    /* DER signature (Asterisk test suite style) */
    h = th_header(t, TH_X5U);
    dot = strchr(h, ';') - 87;
    memmove(dot + 1 + 94, dot + 87, strlen(dot + 87) + 1);
    memcpy(dot + 1, "MEUCIHlUek8KQZPh9PQRxyy7st4JNDaB9vvAj55f1V1fxsxPAiEAl5TANXspZkJd8QNp40fU4_iVn3"
                    "wuuKjbnZENrIeKvbs", 94);
    expect((v = run_raw(h), &v), CG_R_SIGNATURE, "E18");
    free(h);
    free(t);
    free(p);
}

static void test_multiple_headers(void **state)
{
    char *p = th_payload(now, "B", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), *good = th_header(t, TH_X5U);
    const char *ids[3] = {"garbage", good, "also;garbage"};
    struct cg_call call = {0};
    struct cg_verdict v;
    (void)state;
    call.from = "+" TH_ORIG;
    call.to = "+" TH_DEST;
    call.now = now;
    call.identity = ids;
    call.nidentity = 3;
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_OK, "");
    assert_int_equal(v.identity_index, 1);
    ids[1] = "x.y.z;info=<https://a>;ppt=shaken";
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    assert_int_equal(v.verstat, CG_VERSTAT_FAILED);
    assert_int_equal(v.identity_index, 0); /* the first failure is reported */
    free(p);
    free(t);
    free(good);
}

static void test_div_passport(void **state)
{
    char payload[400];
    struct cg_verdict v;
    (void)state;
    snprintf(payload, sizeof payload,
             "{\"dest\":{\"tn\":[\"%s\"]},\"div\":{\"tn\":\"15715550000\"},\"iat\":%lld,"
             "\"orig\":{\"tn\":\"%s\"}}", TH_DEST, (long long)now, TH_ORIG);
    {
        char *t = th_token(HDR("ES256", "passport", "div", TH_X5U), payload, "sp-1234.key"), *h;
        assert_int_equal(cg_identity_format(t, TH_X5U, "div", &h), CG_OK);
        v = run_raw(h);
        expect(&v, CG_R_OK, "");
        assert_int_equal(v.ppt, CG_PPT_DIV);
        free(t);
        free(h);
    }
}

static void test_certificate_unavailable(void **state)
{
    struct cg_trust *t;
    struct cg_certmap *m;
    struct cg_verifier *vf;
    struct cg_verify_config cfg = {0};
    struct cg_chain *c;
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *tok = th_token(TH_HDR, p, "sp-1234.key"), *h = th_header(tok, TH_X5U);
    const char *hv = h, *why;
    struct cg_call call = {0};
    struct cg_verdict v;
    (void)state;
    assert_int_equal(cg_trust_new(&t, 0), CG_OK);
    assert_int_equal(cg_certmap_new(&m), CG_OK);
    assert_int_equal(cg_chain_load_file(&c, th_file("sp-1234.pem"), &why), CG_OK);
    assert_int_equal(cg_certmap_add(m, "https://elsewhere.example/a.pem", c), CG_OK);
    cg_chain_unref(c);
    cfg.trust = t;
    cfg.certsrc = cg_certmap_source(m);
    assert_int_equal(cg_verifier_new(&vf, &cfg), CG_OK);
    call.from = "+" TH_ORIG;
    call.to = "+" TH_DEST;
    call.identity = &hv;
    call.nidentity = 1;
    call.now = now;
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    expect(&v, CG_R_CERT_UNAVAILABLE, "E8");
    assert_int_equal(v.verstat, CG_VERSTAT_NONE);
    cg_verifier_free(vf);
    cg_certmap_free(m);
    cg_trust_free(t);
    free(p);
    free(tok);
    free(h);
}

/* Makes a certificate with the openssl command line (an independent source
 * of odd certificates) into the PKI directory; returns its bundle name. */
static const char *openssl_leaf_key(const char *name, const char *exts, bool signed_by_ca,
                                    const char *key)
{
    char cmd[2048];
    const char *d = th_pki();
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -new -key %s -subj '/C=US/O=t/CN=%s' -out %s.csr "
             "2>/dev/null && printf '%%s\\n' %s > %s.ext && "
             "openssl x509 -req -in %s.csr %s -days 30 -extfile %s.ext -out %s.pem 2>/dev/null"
             " && cat ca.pem >> %s.pem",
             d, key, name, name, exts, name, name,
             signed_by_ca ? "-CA ca.pem -CAkey ca.key -CAcreateserial" : "-signkey sp-1234.key",
             name, name, name);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.pem", name);
    return strdup(cmd);
}

static const char *openssl_leaf(const char *name, const char *exts, bool signed_by_ca)
{
    return openssl_leaf_key(name, exts, signed_by_ca, "sp-1234.key");
}

static void test_certificate_profile_cases(void **state)
{
    struct th_env e2;
    char *p, *t, *h;
    struct cg_verdict v;
    const char *b;
    int64_t at = (int64_t)time(NULL) + 5; /* after the openssl certificates' notBefore */
    (void)state;
    p = th_payload(at, "A", TH_ORIG, TH_DEST);
    t = th_token(TH_HDR, p, "sp-1234.key");
    h = th_header(t, TH_X5U);
    /* no TNAuthList */
    b = openssl_leaf("notn", "'basicConstraints=critical,CA:FALSE' "
                             "'keyUsage=critical,digitalSignature'", true);
    th_env_init(&e2, b, false, 0);
    v = th_verify(&e2, h, at);
    expect(&v, CG_R_CERT_PROFILE, "E17");
    th_env_free(&e2);
    free((void *)b);
    /* KeyUsage without digitalSignature */
    b = openssl_leaf("noku", "'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,keyAgreement' "
                             "'1.3.6.1.5.5.7.1.26=DER:30:08:a0:06:16:04:31:32:33:34'", true);
    th_env_init(&e2, b, false, 0);
    v = th_verify(&e2, h, at);
    expect(&v, CG_R_CERT_PROFILE, "E17");
    th_env_free(&e2);
    free((void *)b);
    /* TNAuthList of TNs only (no SPC), not covering orig; marked critical */
    b = openssl_leaf("tnonly", "'basicConstraints=critical,CA:FALSE' "
                               "'keyUsage=critical,digitalSignature' "
                               "'1.3.6.1.5.5.7.1.26=critical,DER:30:0f:a2:0d:16:0b:31:32:30:32:35:35:35:30:30:30:30'",
                      true);
    th_env_init(&e2, b, false, 0);
    v = th_verify(&e2, h, at);
    expect(&v, CG_R_TN_NOT_AUTHORIZED, "E17");
    assert_true(v.warnings & (1u << CG_W_TNAUTH_CRITICAL));
    assert_true(v.warnings & (1u << CG_W_TNAUTH_NOT_SPC));
    th_env_free(&e2);
    free((void *)b);
    /* a P-384 key: ES256 needs P-256 */
    {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "openssl ecparam -name secp384r1 -genkey -noout -out '%s/p384.key'",
                 th_pki());
        assert_int_equal(system(cmd), 0);
    }
    b = openssl_leaf_key("p384", "'basicConstraints=critical,CA:FALSE' "
                                 "'keyUsage=critical,digitalSignature' "
                                 "'1.3.6.1.5.5.7.1.26=DER:30:08:a0:06:16:04:31:32:33:34'",
                         true, "p384.key");
    th_env_init(&e2, b, false, 0);
    v = th_verify(&e2, h, at);
    expect(&v, CG_R_CERT_PROFILE, "E17");
    assert_non_null(strstr(v.detail, "P-256"));
    th_env_free(&e2);
    free((void *)b);
    /* self-signed leaf: chain failure */
    b = openssl_leaf("selfsigned", "'basicConstraints=critical,CA:FALSE' "
                                   "'keyUsage=critical,digitalSignature' "
                                   "'1.3.6.1.5.5.7.1.26=DER:30:08:a0:06:16:04:31:32:33:34'",
                     false);
    th_env_init(&e2, b, false, 0);
    v = th_verify(&e2, h, at);
    expect(&v, CG_R_CERT_INVALID, "E17");
    th_env_free(&e2);
    free((void *)b);
    free(p);
    free(t);
    free(h);
}

static void test_certificate_trust_cases(void **state)
{
    char dir[] = "/tmp/cg-verify-XXXXXX", path[200], cmd[1024];
    const char *spcs[] = {"1234"};
    struct cg_pki_opts o = {.dir = dir, .spcs = spcs, .nspcs = 1};
    struct cg_verdict v;
    struct th_env e2;
    char *p, *t, *h;
    (void)state;
    /* untrusted CA: a bundle from another PKI, same SPC */
    assert_non_null(mkdtemp(dir));
    assert_int_equal(cg_pki_init(&o, NULL), CG_OK);
    snprintf(path, sizeof path, "%s/sp-1234.key", dir);
    p = th_payload(now, "A", TH_ORIG, TH_DEST);
    {
        /* sign with the foreign key: copy it into the PKI dir under a name */
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/foreign.key' && cp '%s/sp-1234.pem' '%s/foreign.pem'",
                 path, th_pki(), dir, th_pki());
        assert_int_equal(system(cmd), 0);
    }
    t = th_token(TH_HDR, p, "foreign.key");
    h = th_header(t, TH_X5U);
    th_env_init(&e2, "foreign.pem", false, 0);
    v = th_verify(&e2, h, now);
    expect(&v, CG_R_CERT_INVALID, "E17");
    th_env_free(&e2);
    free(t);
    free(h);
    free(p);

    /* expired certificate: the leaf lives 365 days; a PASSporT from 400
     * days ahead, verified then, finds it expired */
    p = th_payload(now + 400 * 86400, "A", TH_ORIG, TH_DEST);
    t = th_token(TH_HDR, p, "sp-1234.key");
    h = th_header(t, TH_X5U);
    v = th_verify(&env, h, now + 400 * 86400);
    expect(&v, CG_R_CERT_INVALID, "E17");
    assert_non_null(strstr(v.detail, "expired"));
    free(t);
    free(h);
    free(p);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Last: it revokes 567A in the shared test PKI. */
static void test_revoked(void **state)
{
    struct th_env e2;
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-567A.key"), *h = th_header(t, TH_X5U);
    struct cg_verdict v;
    const char *why;
    (void)state;
    th_env_init(&e2, "sp-567A.pem", true, CG_TRUST_CRL_REQUIRED);
    v = th_verify(&e2, h, now);
    expect(&v, CG_R_OK, "");
    assert_string_equal(v.spc, "567A");
    th_env_free(&e2);
    assert_int_equal(cg_pki_revoke(th_pki(), th_file("sp-567A-leaf.pem"), &why), CG_OK);
    th_env_init(&e2, "sp-567A.pem", true, CG_TRUST_CRL_REQUIRED);
    v = th_verify(&e2, h, now);
    expect(&v, CG_R_CERT_REVOKED, "E17");
    assert_int_equal(v.verstat, CG_VERSTAT_FAILED);
    th_env_free(&e2);
    free(p);
    free(t);
    free(h);
}

static void test_certcache(void **state)
{
    struct cg_certcache *cc;
    struct cg_chain *c, *got;
    struct cg_certcache_miss miss = {0};
    struct cg_verify_config cfg = {0};
    struct cg_verifier *vf;
    struct cg_call call = {0};
    struct cg_verdict v;
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), *h = th_header(t, TH_X5U);
    const char *hv = h, *why;
    char url[64];
    int i;
    (void)state;
    assert_int_equal(cg_certcache_new(&cc, 4), CG_OK);
    assert_int_equal(cg_chain_load_file(&c, th_file("sp-1234.pem"), &why), CG_OK);
    cfg.trust = env.trust;
    cfg.certsrc = cg_certcache_source(cc);
    assert_int_equal(cg_verifier_new(&vf, &cfg), CG_OK);
    call.from = "+" TH_ORIG;
    call.to = "+" TH_DEST;
    call.identity = &hv;
    call.nidentity = 1;
    call.now = now;
    call.certsrc_arg = &miss;
    /* miss: recorded for the host to fetch */
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    expect(&v, CG_R_CERT_UNAVAILABLE, "E8");
    assert_true(miss.missed);
    assert_string_equal(miss.url, TH_X5U);
    /* fetched and cached: passes */
    assert_int_equal(cg_certcache_put(cc, TH_X5U, c, now + 60), CG_OK);
    miss.missed = false;
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    expect(&v, CG_R_OK, "");
    assert_false(miss.missed);
    /* a negative entry answers without a new miss; expiry brings the miss back */
    assert_int_equal(cg_certcache_put(cc, TH_X5U, NULL, now + 60), CG_OK);
    assert_int_equal(cg_verify(vf, &call, &v), CG_OK);
    expect(&v, CG_R_CERT_UNAVAILABLE, "E8");
    assert_false(miss.missed);
    assert_int_equal(cg_certcache_get(cc, TH_X5U, now + 61, &got), CG_ENOTFOUND);
    /* bounded: 10 URLs into 4 slots */
    for (i = 0; i < 10; i++) {
        snprintf(url, sizeof url, "https://x/%d.pem", i);
        assert_int_equal(cg_certcache_put(cc, url, c, now + 60 + i), CG_OK);
    }
    assert_int_equal(cg_certcache_size(cc), 4);
    assert_int_equal(cg_certcache_get(cc, "https://x/9.pem", now, &got), CG_OK);
    cg_chain_unref(got);
    assert_int_equal(cg_certcache_get(cc, "https://x/0.pem", now, &got), CG_ENOTFOUND);
    cg_verifier_free(vf);
    cg_certcache_free(cc);
    cg_chain_unref(c);
    free(p);
    free(t);
    free(h);
}

static void test_cert_expiry(void **state)
{
    (void)state;
    /* 24 h by default, longer only when the response says so, never past notAfter */
    assert_int_equal(cg_cert_expiry(1000, NULL, NULL, 0), 1000 + 86400);
    assert_int_equal(cg_cert_expiry(1000, "max-age=3600", NULL, 0), 1000 + 86400);
    assert_int_equal(cg_cert_expiry(1000, "public, max-age=172800", NULL, 0), 1000 + 172800);
    assert_int_equal(cg_cert_expiry(1000, "no-store", NULL, 0), 1000 + 86400);
    assert_int_equal(cg_cert_expiry(1000, "max-age=172800", NULL, 5000), 5000);
    assert_int_equal(cg_cert_expiry(1700000000, NULL, "Tue, 21 Nov 2023 00:00:00 GMT", 0),
                     1700524800);
}

static void test_reason_table(void **state)
{
    /* every reason has a name, a code in the RFC 8224 set, and a phrase */
    int r;
    (void)state;
    for (r = 0; r < CG_R__COUNT; r++) {
        int c = cg_reason_sip_code((enum cg_reason)r);
        assert_true(c == 0 || c == 403 || c == 428 || c == 436 || c == 437 || c == 438);
        assert_true(strlen(cg_reason_name((enum cg_reason)r)) > 0);
    }
    assert_string_equal(cg_reason_name(CG_R_SIGNATURE), "signature");
    assert_string_equal(cg_reason_phrase(CG_R_CERT_INVALID), "Unsupported Credential");
    assert_string_equal(cg_verstat_str(CG_VERSTAT_NONE), "No-TN-Validation");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass),
        cmocka_unit_test(test_identity_matching),
        cmocka_unit_test(test_no_identity_and_request_time),
        cmocka_unit_test(test_header_cases),
        cmocka_unit_test(test_jose_header_cases),
        cmocka_unit_test(test_claim_cases),
        cmocka_unit_test(test_freshness),
        cmocka_unit_test(test_signature_cases),
        cmocka_unit_test(test_multiple_headers),
        cmocka_unit_test(test_div_passport),
        cmocka_unit_test(test_certificate_unavailable),
        cmocka_unit_test(test_certificate_profile_cases),
        cmocka_unit_test(test_certificate_trust_cases),
        cmocka_unit_test(test_certcache),
        cmocka_unit_test(test_cert_expiry),
        cmocka_unit_test(test_reason_table),
        cmocka_unit_test(test_revoked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
