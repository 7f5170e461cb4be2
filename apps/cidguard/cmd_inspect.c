#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard inspect VALUE|FILE|-\n"
    "  Decodes, without verifying, an Identity header value, a bare PASSporT, or a PEM\n"
    "  certificate bundle, and prints what it holds as indented JSON with the problems found.\n";

static json_t *time_json(int64_t t)
{
    char buf[21];
    if (!t || t < 0 || t >= 253402300800) /* cg_time_iso covers years 0-9999 */
        return json_null();
    cg_time_iso(t, buf);
    return json_string(buf);
}

static json_t *inspect_cert(const char *pem, size_t len)
{
    struct cg_chain *c;
    const char *why;
    const struct cg_cert_info *in;
    json_t *o, *tl, *w;
    size_t i;
    int rc = cg_chain_load_pem(&c, pem, len, &why);
    if (rc != CG_OK)
        cli_die("not a usable certificate bundle: %s", why ? why : cg_strerror(rc));
    in = cg_chain_info(c);
    o = json_object();
    tl = json_array();
    w = json_array();
    for (i = 0; i < in->tnauth.n; i++) {
        const struct cg_tnauth_entry *e = &in->tnauth.e[i];
        if (e->kind == CG_TNAUTH_RANGE)
            json_array_append_new(
                tl, json_pack("{s:s,s:I}", "range", e->value, "count", (json_int_t)e->count));
        else
            json_array_append_new(
                tl, json_pack("{s:s}", e->kind == CG_TNAUTH_SPC ? "spc" : "tn", e->value));
    }
    for (i = 0; i < CG_W__COUNT; i++)
        if (in->warnings & (1u << i))
            json_array_append_new(
                w, json_pack("{s:s,s:s}", "lint", cg_warning_name(i), "text", cg_warning_text(i)));
    json_object_set_new(o, "subject", json_string(in->subject));
    json_object_set_new(o, "issuer", json_string(in->issuer));
    json_object_set_new(o, "serial", json_string(in->serial));
    json_object_set_new(o, "not_before", time_json(in->not_before));
    json_object_set_new(o, "not_after", time_json(in->not_after));
    json_object_set_new(o, "certificates_in_bundle", json_integer((json_int_t)in->ncerts));
    json_object_set_new(o, "spc", in->spc[0] ? json_string(in->spc) : json_null());
    json_object_set_new(o, "tnauthlist", in->has_tnauth ? tl : (json_decref(tl), json_null()));
    json_object_set_new(o, "key_es256", json_boolean(in->key_ok));
    json_object_set_new(o, "ku_digital_signature", json_boolean(in->ku_digital_signature));
    json_object_set_new(o, "profile_warnings", w);
    cg_chain_unref(c);
    return json_pack("{s:o}", "certificate", o);
}

static json_t *part_json(const char *tok, size_t len, int part)
{
    char *text;
    json_t *j;
    if (cg_passport_part_text(tok, len, part, &text) != CG_OK)
        return json_string("(not base64url)");
    j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!j)
        j = json_pack("{s:s}", "not_json", text);
    free(text);
    return j;
}

static json_t *inspect_identity(const char *value)
{
    struct cg_identity id;
    struct cg_passport pp;
    enum cg_passport_fault fault;
    unsigned char sig[64];
    size_t signed_len;
    const char *why;
    json_t *o = json_object(), *params;
    int rc = cg_identity_parse(value, strlen(value), &id, &why);
    if (rc != CG_OK)
        cli_die("not an Identity header or PASSporT: %s", why);
    params = json_object();
    if (id.has_info)
        json_object_set_new(params, "info", json_string(id.info));
    if (id.has_alg)
        json_object_set_new(params, "alg", json_string(id.alg));
    if (id.has_ppt)
        json_object_set_new(params, "ppt", json_string(id.ppt));
    json_object_set_new(o, "parameters", params);
    json_object_set_new(o, "form", json_string(id.compact ? "compact" : "full"));
    json_object_set_new(o, "header", part_json(id.token, id.token_len, 0));
    json_object_set_new(o, "claims", part_json(id.token, id.token_len, 1));
    rc = cg_passport_decode(id.token, id.token_len, &pp, sig, &signed_len, &fault, &why);
    if (rc == CG_OK) {
        json_object_set_new(o, "iat_utc", time_json(pp.iat));
        json_object_set_new(o, "problems", json_array());
        cg_passport_clear(&pp);
    } else {
        json_object_set_new(o, "problems", json_pack("[s]", why ? why : cg_strerror(rc)));
    }
    if (id.has_info && rc == CG_OK && strcmp(id.info, pp.x5u) != 0)
        json_array_append_new(json_object_get(o, "problems"),
                              json_string("x5u differs from the info parameter"));
    return json_pack("{s:o}", "identity", o);
}

int cmd_inspect(int argc, char **argv)
{
    char *buf = NULL;
    const char *arg;
    size_t n;
    json_t *j;
    char *s;

    if (argc != 2)
        cli_die("usage: cidguard inspect VALUE|FILE|-");
    arg = argv[1];
    if (strcmp(arg, "--help") == 0) {
        fputs(help, stdout);
        return 0;
    }
    if (strcmp(arg, "-") == 0 || (strchr(arg, '.') == NULL || access(arg, R_OK) == 0)) {
        if (strcmp(arg, "-") != 0 && access(arg, R_OK) != 0)
            cli_die("cannot read %s", arg);
        buf = cli_slurp(arg, CG_BUNDLE_MAX, &n);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        arg = buf;
    } else {
        n = strlen(arg);
    }
    j = strstr(arg, "-----BEGIN CERTIFICATE-----") ? inspect_cert(arg, n) : inspect_identity(arg);
    s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(j);
    free(buf);
    return 0;
}
