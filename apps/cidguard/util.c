#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_die(const char *fmt, ...)
{
    va_list ap;
    fputs("cidguard: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

char *cli_slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f)
        cli_die("cannot open %s: %s", path, strerror(errno));
    if (!(buf = malloc(max + 1)))
        cli_die("out of memory");
    n = fread(buf, 1, max + 1, f);
    if (ferror(f))
        cli_die("cannot read %s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    if (n > max)
        cli_die("%s is larger than %zu bytes", path, max);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

long long cli_int(const char *opt, const char *s, long long min, long long max)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        cli_die("%s wants an integer from %lld to %lld, not \"%s\"", opt, min, max, s);
    return v;
}

const struct cg_tn_plan *cli_plan(const char *cc)
{
    static struct cg_tn_plan custom;
    if (!cc)
        return NULL;
    if (strcmp(cc, "44") == 0)
        return &cg_tn_plan_uk;
    if (strcmp(cc, "1") == 0)
        return &cg_tn_plan_nanp;
    if (!*cc || strspn(cc, "0123456789") != strlen(cc) || strlen(cc) > 3)
        cli_die("--country-code wants 1-3 digits, not \"%s\"", cc);
    custom.country_code = cc;
    custom.trunk_prefix = "0";
    custom.intl_prefix = "00";
    return &custom;
}

json_t *cli_verdict_json(const struct cg_verdict *v)
{
    json_t *o = json_object(), *w = json_array();
    char a[2] = {v->attest, 0};
    unsigned i;
    for (i = 0; i < CG_W__COUNT; i++)
        if (v->warnings & (1u << i))
            json_array_append_new(w, json_string(cg_warning_name(i)));
    json_object_set_new(o, "verstat", json_string(cg_verstat_str(v->verstat)));
    json_object_set_new(o, "reason_code", json_integer(v->reason_code));
    json_object_set_new(o, "reason", json_string(v->reason_text ? v->reason_text : ""));
    json_object_set_new(o, "reason_name", json_string(cg_reason_name(v->reason)));
    json_object_set_new(o, "detail", json_string(v->detail));
    json_object_set_new(o, "attest", v->attest ? json_string(a) : json_null());
    json_object_set_new(o, "origid", v->origid[0] ? json_string(v->origid) : json_null());
    json_object_set_new(o, "spc", v->spc[0] ? json_string(v->spc) : json_null());
    json_object_set_new(o, "orig", v->orig[0] ? json_string(v->orig) : json_null());
    json_object_set_new(o, "dest", v->dest[0] ? json_string(v->dest) : json_null());
    json_object_set_new(o, "iat", v->iat ? json_integer(v->iat) : json_null());
    json_object_set_new(o, "x5u", v->x5u[0] ? json_string(v->x5u) : json_null());
    json_object_set_new(o, "orig_match", json_string(cg_match_str(v->orig_match)));
    json_object_set_new(o, "dest_match", json_string(cg_match_str(v->dest_match)));
    json_object_set_new(o, "identity_index", json_integer(v->identity_index));
    json_object_set_new(o, "warnings", w);
    return o;
}

void cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}
