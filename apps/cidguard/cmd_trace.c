/* cidguard trace: who placed a call we signed (the signing log's traceback). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cidguard/signlog.h"
#include "cli.h"

static const char help[] =
    "usage: cidguard trace --log FILE --origid ID [--from TIME --to TIME | --at TIME\n"
    "                      [--window S]] [options]\n"
    "       cidguard trace --log FILE --orig N --dest N --at TIME [--window S] [options]\n"
    "  Finds the calls the daemon signed (or refused) in its signing log, by origid or\n"
    "  by calling and called number around a time, and names the customers who placed\n"
    "  them, with their addresses and their totals over --span seconds around the calls\n"
    "  (calls signed and refused, by attestation, distinct numbers).  TIME is ISO 8601\n"
    "  UTC (2025-01-06T09:15:02Z) or Unix seconds; numbers are E.164 with or without\n"
    "  '+'.  --window S: seconds either side of --at (default 60, at most 86400).\n"
    "  options: --format json|csv (csv: one row per call, the export a traceback\n"
    "  response carries), --span S (default 3600), --limit N (calls, default 1000).\n"
    "  Exit 0: calls found; 1: none; 2: bad usage or an unreadable log.\n";

/* A number as E.164 digits, '+' optional; dies naming the option otherwise. */
static const char *number(const char *opt, const char *s)
{
    const char *d = s[0] == '+' ? s + 1 : s;
    size_t n = strlen(d);
    if (n < 1 || n > 15 || strspn(d, "0123456789") != n)
        cli_die("%s wants an E.164 number (1 to 15 digits, '+' optional), not \"%s\"", opt, s);
    return d;
}

static int64_t when(const char *opt, const char *s)
{
    int64_t t;
    if (!cg_time_parse(s, strlen(s), &t) || t > CG_SIGNLOG_TIME_MAX)
        cli_die("%s wants a time, ISO 8601 UTC (2025-01-06T09:15:02Z) or Unix seconds, not "
                "\"%s\"",
                opt, s);
    return t;
}

/* A question's bound: a log handed over by someone else may hold rows
 * that would keep it searching for hours. */
#define TRACE_BUDGET_MS 30000

int cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {{"log", required_argument, 0, 'l'},
                                         {"origid", required_argument, 0, 'i'},
                                         {"orig", required_argument, 0, 'o'},
                                         {"dest", required_argument, 0, 'd'},
                                         {"at", required_argument, 0, 'a'},
                                         {"window", required_argument, 0, 'w'},
                                         {"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"span", required_argument, 0, 's'},
                                         {"limit", required_argument, 0, 'n'},
                                         {"format", required_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *log = NULL, *format = "json", *at = NULL, *from = NULL, *to = NULL;
    struct cg_signlog_query q;
    struct cg_signlog_result *res;
    struct cg_signlog *l;
    bool window = false;
    char *text;
    int c, rc;

    memset(&q, 0, sizeof q);
    q.budget_ms = TRACE_BUDGET_MS;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            log = optarg;
            break;
        case 'i':
            q.origid = optarg;
            break;
        case 'o':
            q.orig = number("--orig", optarg);
            break;
        case 'd':
            q.dest = number("--dest", optarg);
            break;
        case 'a':
            at = optarg;
            break;
        case 'w':
            q.window = cli_int("--window", optarg, 0, CG_SIGNLOG_WINDOW_MAX);
            window = true;
            break;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 's':
            q.span = cli_int("--span", optarg, 1, CG_SIGNLOG_SPAN_MAX);
            break;
        case 'n':
            q.max_calls = (size_t)cli_int("--limit", optarg, 1, CG_SIGNLOG_CALLS_MAX);
            break;
        case 'F':
            format = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(c, argv[optind - 1], "trace");
        }
    }
    if (optind < argc)
        cli_die("trace: unexpected argument \"%s\" (try 'cidguard trace --help')", argv[optind]);
    if (!log)
        cli_die("trace: --log FILE is required (the daemon's [sign] signing_log)");
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        cli_die("trace: --format wants json or csv, not \"%s\"", format);
    if (q.origid) {
        size_t n = strlen(q.origid);
        if (q.orig || q.dest)
            cli_die("trace: --origid goes without --orig and --dest");
        if (n < 1 || n > CG_ORIGID_MAX || strcspn(q.origid, " \t\r\n") != n)
            cli_die("trace: --origid wants an origid (a UUID), not \"%s\"", q.origid);
        if (at && (from || to))
            cli_die("trace: --at goes without --from and --to");
        if ((from != NULL) != (to != NULL))
            cli_die("trace: --from and --to go together");
        if (window && !at)
            cli_die("trace: --window goes with --at");
        if (at) {
            int64_t t = when("--at", at), w = window ? q.window : CG_SIGNLOG_WINDOW_DEFAULT;
            q.has_range = true;
            q.from = t - w < 0 ? 0 : t - w;
            q.to = t + w > CG_SIGNLOG_TIME_MAX ? CG_SIGNLOG_TIME_MAX : t + w;
        } else if (from) {
            q.has_range = true;
            q.from = when("--from", from);
            q.to = when("--to", to);
            if (q.from > q.to)
                cli_die("trace: --from %s is after --to %s", from, to);
        }
    } else {
        if (!q.orig || !q.dest || !at)
            cli_die("trace: give --origid ID, or --orig N --dest N --at TIME (try 'cidguard "
                    "trace --help')");
        if (from || to)
            cli_die("trace: --from and --to go with --origid; use --at and --window");
        q.at = when("--at", at);
    }

    rc = cg_signlog_open_readonly(&l, log);
    if (rc == CG_ENOTFOUND)
        cli_die("trace: no signing log at %s", log);
    if (rc == CG_EPARSE)
        cli_die("trace: %s is not a signing log", log);
    if (rc == CG_EUNSUPPORTED)
        cli_die("trace: %s is a signing log of an earlier version, not indexed yet: cidguardd "
                "indexes it when it next starts with it",
                log);
    if (rc != CG_OK)
        cli_die("trace: cannot read %s: %s", log, cg_strerror(rc));
    rc = cg_signlog_query(l, &q, &res);
    if (rc == CG_EUNSUPPORTED)
        cli_die("trace: %s is still being indexed by its writer; ask again when it has done", log);
    if (rc == CG_ETOOBIG)
        cli_die("trace: the query took longer than %d s", TRACE_BUDGET_MS / 1000);
    if (rc != CG_OK)
        cli_die("trace: the query failed: %s", cg_strerror(rc));
    rc = strcmp(format, "csv") == 0 ? cg_signlog_result_csv(res, &text)
                                    : cg_signlog_result_json(&q, res, &text);
    if (rc != CG_OK)
        cli_die("trace: %s", cg_strerror(rc));
    fputs(text, stdout);
    if (strcmp(format, "json") == 0)
        fputc('\n', stdout);
    rc = res->ncalls ? EXIT_PASS : EXIT_NOTPASS;
    if (!res->ncalls)
        fprintf(stderr, "cidguard: trace: no call in %s matches\n", log);
    free(text);
    cg_signlog_result_free(res);
    cg_signlog_close(l);
    return rc;
}
