/*
 * The verifier: passing calls, then every way a call fails as one table
 * (failure_rows below), each row naming the error case E3-E19 it covers
 * (docs/standards.md#error-cases; E1/E2 are request-level: see test_api),
 * then multiple headers, div, the certificate cache and the reason table.
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
    assert_int_equal(v->verstat, cg_reason_verstat(r));
    if (r != CG_R_OK) {
        assert_int_not_equal(v->verstat, CG_VERSTAT_PASSED);
        assert_true(v->detail[0] != '\0');
    }
}

/* A SHAKEN header over `payload`, signed with `key`, for `x5u`. */
static struct cg_verdict run(const char *hdr, const char *payload, const char *key, const char *x5u)
{
    char *t = th_token(hdr, payload, key), *h = th_header(t, x5u);
    struct cg_verdict v = th_verify(&env, h, now);
    free(t);
    free(h);
    return v;
}

static struct cg_verdict run_iat(int64_t iat, const char *attest)
{
    char *p = th_payload(iat, attest, TH_ORIG, TH_DEST);
    struct cg_verdict v = run(TH_HDR, p, "sp-1234.key", TH_X5U);
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
    v = run_iat(now - 65, "A"); /* 60 s window + 5 s skew */
    expect(&v, CG_R_OK, "");
}

/* 567A passes with a CRL required, before the failure table revokes it. */
static void test_pass_crl_required(void **state)
{
    struct th_env e2;
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-567A.key"), *h = th_header(t, TH_X5U);
    struct cg_verdict v;
    (void)state;
    th_env_init(&e2, "sp-567A.pem", true, CG_TRUST_CRL_REQUIRED);
    v = th_verify(&e2, h, now);
    expect(&v, CG_R_OK, "");
    assert_string_equal(v.spc, "567A");
    th_env_free(&e2);
    free(p);
    free(t);
    free(h);
}

static void test_identity_matching(void **state)
{
    char *p = th_payload(now, "A", TH_ORIG, TH_DEST);
    char *t = th_token(TH_HDR, p, "sp-1234.key"), *h = th_header(t, TH_X5U);
    const char *hv = h;
    const char *more[] = {"+14155550199", "tel:+14155550100"};
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
    /* dest matches neither To nor the R-URI, but another called number of
     * the request (ATIS to.tn list); the mismatches are failure rows */
    call.pai = "tel:+442079460000";
    call.from = "tel:+442079460002";
    call.ruri = "tel:+14155550101";
    call.to_more = more;
    call.nto_more = 2;
    assert_int_equal(cg_verify(env.v, &call, &v), CG_OK);
    expect(&v, CG_R_OK, "");
    assert_int_equal(v.dest_match, CG_MATCH_TO);
    free(p);
    free(t);
    free(h);
}

static void test_no_identity(void **state)
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
}

/* --- Every way a call fails, as one table --------------------------------- */

/* The verification error cases of ATIS-1000082 / RFC 8224, worded as in
 * docs/standards.md#error-cases; a row's case must be its reason's
 * (cg_reason_case). */
#define E3 "E3: request time outside the freshness window"
#define E4 "E4: compact form, or an unparseable header"
#define E5 "E5: ppt parameter missing or unsupported"
#define E6 "E6: no info parameter"
#define E7 "E7: info not an https URI"
#define E8 "E8: the certificate cannot be obtained"
#define E9 "E9: JOSE header lacks alg, typ, ppt or x5u"
#define E10 "E10: x5u differs from info"
#define E11 "E11: typ is not passport"
#define E12 "E12: alg is not ES256"
#define E13 "E13: JOSE ppt unsupported or differs from the parameter"
#define E14 "E14: bad payload or missing claim"
#define E15 "E15: iat outside the freshness window"
#define E16 "E16: orig/dest do not match the call"
#define E17 "E17: chain, CA, CRL or profile failure"
#define E18 "E18: signature failure"
#define E19 "E19: bad attest"

/*
 * Templates.  "${...}" placeholders are filled in per row:
 *   ${now}, ${now-66}   the row's time (seconds), optionally offset
 *   ${100*[}            a character repeated
 *   ${token}            hdr.payload.sig as the row signs it
 *   ${hdr} ${payload} ${sig}   its parts; ${sig^4} with character 4 changed
 *   ${genuine-sig}      the signature of the unspoiled token
 *   ${x5u}              TH_X5U
 */
#define ORIGID "de305d54-75b4-431b-adb2-eb6b9e546014"
#define CLAIMS_ID(attest, iat, origid)                                                             \
    "{\"attest\":\"" attest "\",\"dest\":{\"tn\":[\"" TH_DEST "\"]},\"iat\":" iat                  \
    ",\"orig\":{\"tn\":\"" TH_ORIG "\"},\"origid\":\"" origid "\"}"
#define CLAIMS(attest, iat) CLAIMS_ID(attest, iat, ORIGID)
#define GOOD_CLAIMS CLAIMS("A", "${now}")
#define GOOD_IDENTITY "${token};info=<${x5u}>;alg=ES256;ppt=shaken"
#define NO_IDENTITY "(no Identity header)"
#define HDR(alg, typ, ppt, x5u)                                                                    \
    "{\"alg\":\"" alg "\",\"ppt\":\"" ppt "\",\"typ\":\"" typ "\",\"x5u\":\"" x5u "\"}"
/* openssl x509 -extfile lines for a test leaf */
#define EE "'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' "
#define SPC_1234 "'1.3.6.1.5.5.7.1.26=DER:30:08:a0:06:16:04:31:32:33:34'"
/* An ECDSA signature in DER, as Asterisk's test suite sends it. */
#define DER_SIG                                                                                    \
    "MEUCIHlUek8KQZPh9PQRxyy7st4JNDaB9vvAj55f1V1fxsxPAiEAl5TANXspZkJd8QNp40fU4_iVn3wuuKjbnZENr"    \
    "IeKvbs"

/* How a row spoils an otherwise passing call; zero fields keep it genuine. */
struct spoil {
    const char *jose;     /* JOSE header JSON (default TH_HDR) */
    const char *claims;   /* payload JSON template (default GOOD_CLAIMS) */
    const char *key;      /* signing key in the test PKI (default sp-1234.key) */
    const char *identity; /* Identity header template (default GOOD_IDENTITY) */
    /* the request's numbers; all NULL: From +TH_ORIG, To +TH_DEST */
    const char *pai, *from, *to, *ruri;
    const char *const *to_more;
    size_t nto_more;
    int64_t request_time; /* ATIS request time, relative to the row's time (0: none) */
    int64_t shift;        /* the row's time (iat and verification) after now */
    /* a fresh leaf made by openssl with these extensions, served for the x5u */
    const char *cert_ext;
    const char *cert_key; /* its key (default sp-1234.key) */
    bool self_signed;     /* signed by its own key instead of the PKI's CA */
    /* another verifier: serving this bundle of the PKI directory ... */
    const char *bundle;
    const char *served_at; /* ... for this x5u only (NULL: any) */
    bool crl;              /* ... with the PKI's CRL */
    unsigned trust_flags;
    const char *revoke; /* a certificate of the PKI revoked first (once, for good) */
};

struct failure_row {
    const char *name; /* what the row exercises */
    struct spoil how;
    enum cg_reason reason;
    const char *ecase;
    const char *detail; /* a phrase the verdict's detail must contain (optional) */
    uint32_t warnings;  /* warning bits the verdict must carry */
};

static const char *const OTHER_CALLED[] = {"+14155550199"};

/* ROW(name, expected reason, E-case, how the call is spoiled...) */
#define ROW(nm, rs, ec, ...)                                                                       \
    {                                                                                              \
        .name = nm, .reason = rs, .ecase = ec, .how = { __VA_ARGS__ }                              \
    }

static const struct failure_row failure_rows[] = {
    /* The Identity header and its parameters */
    ROW("compact form (\".payload.sig\", empty header part)", CG_R_COMPACT_FORM, E4,
        .identity = ".${payload}.${sig};info=<${x5u}>;alg=ES256;ppt=shaken"),
    ROW("not an Identity header at all", CG_R_MALFORMED, E4, .identity = "not an identity header"),
    ROW("invalid base64url in the token", CG_R_MALFORMED, E4,
        .identity = "eyJ!bGciOiJFUzI1NiJ9.eyJ.c2ln;info=<${x5u}>;ppt=shaken"),
    ROW("ppt parameter rph", CG_R_PPT_PARAM, E5,
        .identity = "${token};info=<${x5u}>;alg=ES256;ppt=rph"),
    ROW("no ppt parameter", CG_R_PPT_PARAM, E5, .identity = "${token};info=<${x5u}>;alg=ES256"),
    ROW("no info parameter", CG_R_NO_INFO, E6, .identity = "${token};alg=ES256;ppt=shaken"),
    ROW("info is an ftp URL", CG_R_BAD_INFO, E7,
        .identity = "${token};info=<ftp://x/y.pem>;alg=ES256;ppt=shaken"),
    ROW("info is http (not allowed by default)", CG_R_BAD_INFO, E7,
        .identity = "${token};info=<http://cert.example.net/sp-1234.pem>;ppt=shaken"),
    ROW("info differs from the JOSE x5u", CG_R_X5U_MISMATCH, E10,
        .identity = "${token};info=<https://other.example/x.pem>;alg=ES256;ppt=shaken"),
    ROW("alg parameter HS256", CG_R_ALG, E12,
        .identity = "${token};info=<${x5u}>;alg=HS256;ppt=shaken"),
    ROW("ppt parameter div over a shaken JOSE header (they differ)", CG_R_PPT, E13,
        .identity = "${token};info=<${x5u}>;alg=ES256;ppt=div"),

    /* The JOSE header */
    ROW("JOSE header without x5u", CG_R_HDR_MISSING, E9,
        .jose = "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}"),
    ROW("JOSE header without ppt", CG_R_HDR_MISSING, E9,
        .jose = "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" TH_X5U "\"}"),
    ROW("JOSE typ JWT", CG_R_TYP, E11, .jose = HDR("ES256", "JWT", "shaken", TH_X5U)),
    ROW("JOSE alg none", CG_R_ALG, E12, .jose = HDR("none", "passport", "shaken", TH_X5U)),
    ROW("JOSE alg HS256", CG_R_ALG, E12, .jose = HDR("HS256", "passport", "shaken", TH_X5U)),
    ROW("JOSE ppt msg", CG_R_PPT, E13, .jose = HDR("ES256", "passport", "msg", TH_X5U)),
    ROW("JOSE x5u elsewhere than info", CG_R_X5U_MISMATCH, E10,
        .jose = HDR("ES256", "passport", "shaken", "https://evil.example/x.pem")),

    /* The claims */
    ROW("no origid claim", CG_R_CLAIMS, E14,
        .claims = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" TH_DEST "\"]},\"iat\":1,"
                  "\"orig\":{\"tn\":\"" TH_ORIG "\"}}"),
    ROW("iat as a string", CG_R_CLAIMS, E14, .claims = CLAIMS("A", "\"${now}\"")),
    ROW("claims nested 100 deep", CG_R_CLAIMS, E14,
        .claims = "{\"attest\":\"A\",\"rcd\":${100*[}${100*]}}"),
    ROW("iat 66 s old (60 s window + 5 s skew)", CG_R_STALE, E15,
        .claims = CLAIMS("A", "${now-66}")),
    ROW("iat an hour in the future", CG_R_STALE, E15, .claims = CLAIMS("A", "${now+3600}")),
    ROW("attest lowercase a", CG_R_ATTEST, E19, .claims = CLAIMS("a", "${now}")),
    ROW("attest AB", CG_R_ATTEST, E19, .claims = CLAIMS("AB", "${now}")),

    /* The request around the PASSporT */
    ROW("ATIS request time 61 s old (no Identity header)", CG_R_REQUEST_TIME, E3,
        .identity = NO_IDENTITY, .request_time = -61),
    ROW("orig matches neither PAI nor From", CG_R_ORIG_MISMATCH, E16, .pai = "tel:+442079460001",
        .from = "tel:+442079460002", .to = "sip:someone@example.com",
        .ruri = "sip:+14155550100@sbc.example;user=phone"),
    ROW("no caller number at all", CG_R_ORIG_MISMATCH, E16, .to = "sip:someone@example.com",
        .ruri = "tel:+14155550101"),
    ROW("dest matches neither To nor the R-URI", CG_R_DEST_MISMATCH, E16,
        .pai = "tel:+442079460000", .from = "tel:+442079460002", .to = "sip:someone@example.com",
        .ruri = "tel:+14155550101"),
    ROW("dest matches no other called number either", CG_R_DEST_MISMATCH, E16,
        .pai = "tel:+442079460000", .from = "tel:+442079460002", .to = "sip:someone@example.com",
        .ruri = "tel:+14155550101", .to_more = OTHER_CALLED, .nto_more = 1),

    /* The signature */
    ROW("signature changed (character 4)", CG_R_SIGNATURE, E18,
        .identity = "${hdr}.${payload}.${sig^4};info=<${x5u}>;alg=ES256;ppt=shaken"),
    ROW("claims changed after signing (origid), genuine signature kept", CG_R_SIGNATURE, E18,
        .claims = CLAIMS_ID("A", "${now}", "de305d54-75b4-431b-adb2-eb6b9e54601X"),
        .identity = "${hdr}.${payload}.${genuine-sig};info=<${x5u}>;alg=ES256;ppt=shaken"),
    ROW("signed by SPC 567A, presented with 1234's certificate", CG_R_SIGNATURE, E18,
        .key = "sp-567A.key"),
    ROW("DER signature instead of R||S", CG_R_SIGNATURE, E18,
        .identity = "${hdr}.${payload}." DER_SIG ";info=<${x5u}>;alg=ES256;ppt=shaken"),

    /* The certificate */
    ROW("no certificate for the x5u", CG_R_CERT_UNAVAILABLE, E8, .bundle = "sp-1234.pem",
        .served_at = "https://elsewhere.example/a.pem"),
    ROW("leaf without TNAuthList", CG_R_CERT_PROFILE, E17, .cert_ext = EE),
    ROW("leaf KeyUsage keyAgreement, not digitalSignature", CG_R_CERT_PROFILE, E17,
        .cert_ext =
            "'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,keyAgreement' " SPC_1234),
    {.name = "leaf TNAuthList of TNs only (no SPC), not covering orig, marked critical",
     .reason = CG_R_TN_NOT_AUTHORIZED,
     .ecase = E17,
     .how = {.cert_ext = EE "'1.3.6.1.5.5.7.1.26=critical,"
                            "DER:30:0f:a2:0d:16:0b:31:32:30:32:35:35:35:30:30:30:30'"},
     .warnings = (1u << CG_W_TNAUTH_CRITICAL) | (1u << CG_W_TNAUTH_NOT_SPC)},
    {.name = "leaf with a P-384 key (ES256 needs P-256)",
     .reason = CG_R_CERT_PROFILE,
     .ecase = E17,
     .how = {.cert_ext = EE SPC_1234, .cert_key = "p384.key"},
     .detail = "P-256"},
    ROW("self-signed leaf (no path to the CA)", CG_R_CERT_INVALID, E17, .cert_ext = EE SPC_1234,
        .self_signed = true),
    ROW("bundle from another PKI with the same SPC (untrusted CA)", CG_R_CERT_INVALID, E17,
        .key = "foreign.key", .bundle = "foreign.pem"),
    {.name = "leaf expired (call and iat 400 days ahead)",
     .reason = CG_R_CERT_INVALID,
     .ecase = E17,
     .how = {.shift = 400 * 86400},
     .detail = "expired"},
    /* Last: it revokes 567A in the shared test PKI for good. */
    ROW("leaf revoked, CRL required", CG_R_CERT_REVOKED, E17, .key = "sp-567A.key",
        .bundle = "sp-567A.pem", .crl = true, .trust_flags = CG_TRUST_CRL_REQUIRED,
        .revoke = "sp-567A-leaf.pem"),
};
#undef ROW

/* What a row's templates are filled in from. */
struct fill {
    int64_t t;
    const char *token, *genuine; /* NULL while the claims are being filled */
};

static void put(char **o, const char *end, const char *s, size_t n)
{
    assert_true((size_t)(end - *o) > n);
    memcpy(*o, s, n);
    *o += n;
}

/* Part i (0 header, 1 payload, 2 signature) of a token, and its length. */
static const char *token_part(const char *tok, int i, size_t *n)
{
    const char *s = tok, *e;
    assert_non_null(tok);
    for (; i > 0; i--) {
        s = strchr(s, '.');
        assert_non_null(s);
        s++;
    }
    e = strchr(s, '.');
    *n = e ? (size_t)(e - s) : strlen(s);
    return s;
}

/* `tmpl` with its placeholders filled in; malloc'ed. */
static char *fill(const char *tmpl, const struct fill *f)
{
    size_t cap = 16384, n;
    char *out = malloc(cap), *o = out, *end = out + cap, name[32], num[32], *x;
    const char *p = tmpl, *close, *s;
    assert_non_null(out);
    while (*p) {
        if (p[0] != '$' || p[1] != '{') {
            put(&o, end, p++, 1);
            continue;
        }
        close = strchr(p, '}');
        assert_non_null(close);
        n = (size_t)(close - p - 2);
        assert_true(n < sizeof name);
        memcpy(name, p + 2, n);
        name[n] = '\0';
        p = close + 1;
        if (strncmp(name, "now", 3) == 0) {
            snprintf(num, sizeof num, "%lld", (long long)(f->t + strtoll(name + 3, NULL, 10)));
            put(&o, end, num, strlen(num));
        } else if (strcmp(name, "token") == 0) {
            assert_non_null(f->token);
            put(&o, end, f->token, strlen(f->token));
        } else if (strcmp(name, "hdr") == 0 || strcmp(name, "payload") == 0 ||
                   strcmp(name, "sig") == 0) {
            s = token_part(f->token, name[0] == 'h' ? 0 : name[0] == 'p' ? 1 : 2, &n);
            put(&o, end, s, n);
        } else if (strncmp(name, "sig^", 4) == 0) {
            long i = strtol(name + 4, NULL, 10);
            s = token_part(f->token, 2, &n);
            assert_true(i >= 0 && (size_t)i < n);
            x = o;
            put(&o, end, s, n);
            x[i] = x[i] == 'A' ? 'B' : 'A';
        } else if (strcmp(name, "genuine-sig") == 0) {
            s = token_part(f->genuine, 2, &n);
            put(&o, end, s, n);
        } else if (strcmp(name, "x5u") == 0) {
            put(&o, end, TH_X5U, strlen(TH_X5U));
        } else {
            long k = strtol(name, &x, 10);
            if (x == name || x[0] != '*' || !x[1] || x[2])
                fail_msg("unknown placeholder ${%s} in %s", name, tmpl);
            for (; k > 0; k--)
                put(&o, end, x + 1, 1);
        }
    }
    *o = '\0';
    return out;
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

/* A verifier trusting the PKI root as the row says. */
static void env_open(struct th_env *e, const struct spoil *s, const char *bundle)
{
    struct cg_chain *c;
    struct cg_verify_config cfg = {0};
    const char *why;
    assert_int_equal(cg_trust_new(&e->trust, s->trust_flags), CG_OK);
    assert_int_equal(cg_trust_add_anchors_file(e->trust, th_file("root.pem")), CG_OK);
    if (s->crl)
        assert_int_equal(cg_trust_add_crl_file(e->trust, th_file("crl.pem")), CG_OK);
    assert_int_equal(cg_certmap_new(&e->map), CG_OK);
    assert_int_equal(cg_chain_load_file(&c, th_file(bundle), &why), CG_OK);
    assert_int_equal(cg_certmap_add(e->map, s->served_at, c), CG_OK);
    cg_chain_unref(c);
    cfg.trust = e->trust;
    cfg.certsrc = cg_certmap_source(e->map);
    assert_int_equal(cg_verifier_new(&e->v, &cfg), CG_OK);
}

/* Builds row i's call and verifies it. */
static struct cg_verdict run_row(size_t i)
{
    const struct spoil *s = &failure_rows[i].how;
    struct th_env own, *e = &env;
    struct fill f = {now + s->shift, NULL, NULL};
    const char *bundle = s->bundle, *hv, *why;
    char leaf[32], *claims, *genuine_claims, *ident;
    struct cg_call call = {0};
    struct cg_verdict v;
    if (s->cert_ext) {
        snprintf(leaf, sizeof leaf, "leaf%zu", i);
        bundle = openssl_leaf_key(leaf, s->cert_ext, !s->self_signed,
                                  s->cert_key ? s->cert_key : "sp-1234.key");
        f.t = (int64_t)time(NULL) + 5; /* after the new certificate's notBefore */
    }
    if (s->revoke)
        assert_int_equal(cg_pki_revoke(th_pki(), th_file(s->revoke), &why), CG_OK);
    if (bundle) {
        env_open(&own, s, bundle);
        e = &own;
    }
    claims = fill(s->claims ? s->claims : GOOD_CLAIMS, &f);
    genuine_claims = fill(GOOD_CLAIMS, &f);
    f.token = th_token(s->jose ? s->jose : TH_HDR, claims, s->key ? s->key : "sp-1234.key");
    f.genuine = th_token(TH_HDR, genuine_claims, "sp-1234.key");
    ident = fill(s->identity ? s->identity : GOOD_IDENTITY, &f);
    hv = ident;
    if (strcmp(ident, NO_IDENTITY) != 0) {
        call.identity = &hv;
        call.nidentity = 1;
    }
    if (s->pai || s->from || s->to || s->ruri) {
        call.pai = s->pai;
        call.from = s->from;
        call.to = s->to;
        call.ruri = s->ruri;
    } else {
        call.from = "+" TH_ORIG;
        call.to = "+" TH_DEST;
    }
    call.to_more = s->to_more;
    call.nto_more = s->nto_more;
    call.now = f.t;
    call.request_time = s->request_time ? f.t + s->request_time : 0;
    assert_int_equal(cg_verify(e->v, &call, &v), CG_OK);
    if (e == &own)
        th_env_free(&own);
    if (s->cert_ext)
        free((void *)bundle);
    free(claims);
    free(genuine_claims);
    free((void *)f.token);
    free((void *)f.genuine);
    free(ident);
    return v;
}

/* Whether row r's verdict is right; if not, why, into msg. */
static bool row_holds(const struct failure_row *r, const struct cg_verdict *v, char *msg,
                      size_t cap)
{
    const char *code = cg_reason_case(r->reason);
    size_t clen = strcspn(r->ecase, ":");
    if (strlen(code) != clen || strncmp(code, r->ecase, clen) != 0)
        snprintf(msg, cap, "the table says %.*s but reason %s is case %s", (int)clen, r->ecase,
                 cg_reason_name(r->reason), code[0] ? code : "(none)");
    else if (v->reason != r->reason)
        snprintf(msg, cap, "expected reason %s, got %s (%s)", cg_reason_name(r->reason),
                 cg_reason_name(v->reason), v->detail);
    else if (v->reason_code != cg_reason_sip_code(r->reason))
        snprintf(msg, cap, "expected SIP code %d, got %d", cg_reason_sip_code(r->reason),
                 v->reason_code);
    else if (v->verstat != cg_reason_verstat(r->reason) || v->verstat == CG_VERSTAT_PASSED)
        snprintf(msg, cap, "expected verstat %s, got %s",
                 cg_verstat_str(cg_reason_verstat(r->reason)), cg_verstat_str(v->verstat));
    else if (!v->detail[0])
        snprintf(msg, cap, "no detail");
    else if (r->detail && !strstr(v->detail, r->detail))
        snprintf(msg, cap, "expected a detail containing \"%s\", got \"%s\"", r->detail, v->detail);
    else if ((v->warnings & r->warnings) != r->warnings)
        snprintf(msg, cap, "expected warning bits %#x, got %#x", r->warnings, v->warnings);
    else
        return true;
    return false;
}

/* Another PKI with the same SPC, whose leaf and key are copied into the
 * test PKI as foreign.pem and foreign.key; and a P-384 key, p384.key. */
static void make_foreign_material(void)
{
    char dir[] = "/tmp/cg-verify-XXXXXX", cmd[1024];
    const char *spcs[] = {"1234"};
    struct cg_pki_opts o = {.dir = dir, .spcs = spcs, .nspcs = 1};
    assert_non_null(mkdtemp(dir));
    assert_int_equal(cg_pki_init(&o, NULL), CG_OK);
    snprintf(cmd, sizeof cmd,
             "cp '%s/sp-1234.key' '%s/foreign.key' && cp '%s/sp-1234.pem' '%s/foreign.pem' && "
             "rm -rf '%s' && openssl ecparam -name secp384r1 -genkey -noout -out '%s/p384.key'",
             dir, th_pki(), dir, th_pki(), dir, th_pki());
    assert_int_equal(system(cmd), 0);
}

/* Every row runs; each one that does not hold is reported by name, with
 * its case and the mismatch, before the test fails. */
static void test_failure_table(void **state)
{
    size_t i, n = sizeof failure_rows / sizeof failure_rows[0], failed = 0;
    char msg[400];
    (void)state;
    make_foreign_material();
    for (i = 0; i < n; i++) {
        struct cg_verdict v = run_row(i);
        if (!row_holds(&failure_rows[i], &v, msg, sizeof msg)) {
            print_error("row \"%s\" [%s]: %s\n", failure_rows[i].name, failure_rows[i].ecase, msg);
            failed++;
        }
    }
    if (failed)
        fail_msg("%zu of %zu failure rows failed", failed, n);
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
             "\"orig\":{\"tn\":\"%s\"}}",
             TH_DEST, (long long)now, TH_ORIG);
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
        cmocka_unit_test(test_pass_crl_required),
        cmocka_unit_test(test_identity_matching),
        cmocka_unit_test(test_no_identity),
        cmocka_unit_test(test_multiple_headers),
        cmocka_unit_test(test_div_passport),
        cmocka_unit_test(test_certcache),
        cmocka_unit_test(test_cert_expiry),
        cmocka_unit_test(test_reason_table),
        /* Last: a row revokes 567A in the shared test PKI. */
        cmocka_unit_test(test_failure_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
