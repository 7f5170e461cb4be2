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

void cli_bad_option(int c, const char *arg, const char *cmd)
{
    if (c == ':')
        cli_die("%s needs a value", arg);
    cli_die("unknown option %s (try 'cidguard %s --help')", arg, cmd);
}
