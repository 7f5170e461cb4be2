#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "helpers.h"

static char pki_dir[64];

static void cleanup(void)
{
    char cmd[128];
    if (pki_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", pki_dir);
    }
}

const char *th_pki(void)
{
    if (!pki_dir[0]) {
        const char *spcs[] = {"1234", "567A"};
        struct cg_pki_opts o = {.spcs = spcs, .nspcs = 2};
        const char *why;
        strcpy(pki_dir, "/tmp/cg-test-pki-XXXXXX");
        if (!mkdtemp(pki_dir))
            abort();
        o.dir = pki_dir;
        if (cg_pki_init(&o, &why) != CG_OK) {
            fprintf(stderr, "pki init: %s\n", why);
            abort();
        }
        atexit(cleanup);
    }
    return pki_dir;
}

const char *th_file(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", th_pki(), name);
    return path;
}

char *th_token(const char *hdr, const char *payload, const char *keyname)
{
    size_t cap = (strlen(hdr) + strlen(payload)) * 2 + 200, n, w;
    char *buf = malloc(cap);
    unsigned char sig[64];
    struct cg_key *k;
    assert_non_null(buf);
    assert_int_equal(cg_key_load_file(&k, th_file(keyname)), CG_OK);
    cg__b64url_encode((const unsigned char *)hdr, strlen(hdr), buf, cap, &w);
    n = w;
    buf[n++] = '.';
    cg__b64url_encode((const unsigned char *)payload, strlen(payload), buf + n, cap - n, &w);
    n += w;
    assert_int_equal(cg_es256_sign(k, buf, n, sig), CG_OK);
    buf[n++] = '.';
    cg__b64url_encode(sig, 64, buf + n, cap - n, &w);
    cg_key_free(k);
    return buf;
}

char *th_header(const char *token, const char *x5u)
{
    char *out;
    assert_int_equal(cg_identity_format(token, x5u, "shaken", &out), CG_OK);
    return out;
}

char *th_payload(int64_t iat, const char *attest, const char *orig, const char *dest)
{
    char *p = malloc(512);
    snprintf(p, 512,
             "{\"attest\":\"%s\",\"dest\":{\"tn\":[\"%s\"]},\"iat\":%lld,\"orig\":{\"tn\":\"%s\"},"
             "\"origid\":\"de305d54-75b4-431b-adb2-eb6b9e546014\"}",
             attest, dest, (long long)iat, orig);
    return p;
}

void th_env_init(struct th_env *e, const char *bundle, bool with_crl, unsigned trust_flags)
{
    struct cg_chain *c;
    struct cg_verify_config cfg = {0};
    const char *why;
    assert_int_equal(cg_trust_new(&e->trust, trust_flags), CG_OK);
    assert_int_equal(cg_trust_add_anchors_file(e->trust, th_file("root.pem")), CG_OK);
    if (with_crl)
        assert_int_equal(cg_trust_add_crl_file(e->trust, th_file("crl.pem")), CG_OK);
    assert_int_equal(cg_certmap_new(&e->map), CG_OK);
    assert_int_equal(cg_chain_load_file(&c, th_file(bundle), &why), CG_OK);
    assert_int_equal(cg_certmap_add(e->map, NULL, c), CG_OK);
    cg_chain_unref(c);
    cfg.trust = e->trust;
    cfg.certsrc = cg_certmap_source(e->map);
    assert_int_equal(cg_verifier_new(&e->v, &cfg), CG_OK);
}

void th_env_free(struct th_env *e)
{
    cg_verifier_free(e->v);
    cg_certmap_free(e->map);
    cg_trust_free(e->trust);
}

struct cg_verdict th_verify(struct th_env *e, const char *identity, int64_t now)
{
    struct cg_call call = {0};
    struct cg_verdict v;
    call.from = "+" TH_ORIG;
    call.to = "+" TH_DEST;
    call.identity = &identity;
    call.nidentity = 1;
    call.now = now;
    assert_int_equal(cg_verify(e->v, &call, &v), CG_OK);
    return v;
}
