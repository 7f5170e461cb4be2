/* cidguard analyze: the investigator's command (see docs/analyze.md). */
#include <getopt.h>
#include <stdatomic.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard analyze FILE... [--format csv|asterisk|decisions|signing]\n"
    "                        [--protected FILE] [--dno FILE] [--ingress FILE] [--ofcom FILE]\n"
    "                        [--country-code CC] [--out DIR] [--truth FILE]\n"
    "                        [--baseline FILE] [--save-baseline FILE] [--threads N]\n"
    "  Finds spoofing campaigns in call records (CSV with a header row, Asterisk\n"
    "  Master.csv, or the daemon's decision log; plain or gzip) and writes\n"
    "  DIR/campaigns.json, victims.csv, origins.csv and report.html (DIR defaults to\n"
    "  cidguard-report).  Every signal is checked on both calling numbers: the network\n"
    "  number (calling, P-Asserted-Identity) and the presentation number (presented or\n"
    "  from, what the callee saw); an intent column (yes/no) says whether a live call\n"
    "  intent matched.  --ofcom loads Ofcom number-block status: UK numbers in ranges\n"
    "  not allocated are a signal.  --truth (from cidguard simulate) prints precision\n"
    "  and recall for victims and origins.  --format signing reads the signing\n"
    "  daemon's signing log and lists the customers that spoof: refused DNO,\n"
    "  protected or invalid numbers, rotation (a refused attempt reached no one, so\n"
    "  it has no victim).  Several files (or a quoted glob) are read as one set:\n"
    "  decision logs of many daemons merged in time order.  --baseline reads the\n"
    "  numbers' usual origins saved by --save-baseline (a number presented by\n"
    "  another origin while its usual one still uses it is borrowed).  --threads:\n"
    "  default one per core; the output does not depend on it.  Malformed rows are\n"
    "  reported as FILE:LINE and skipped.  Exit 0: analysed (with or without findings); 2: bad "
    "usage or\n"
    "  unreadable input.\n";

#define BAD_SHOWN 20

struct ctx {
    const char *file;
    bool tty;
    /* the progress callback runs on the reader's thread, the bad-row one on
     * the analysis's: the bar's state is shared */
    _Atomic int last_pct;
};

static void bad_input(const char *file, uint64_t line, const char *why, void *arg)
{
    static uint64_t shown;
    struct ctx *c = arg;
    if (shown++ < BAD_SHOWN)
        fprintf(stderr, "%s%s:%llu: %s%s\n", c->tty && c->last_pct >= 0 ? "\r\033[K" : "",
                file ? file : c->file, (unsigned long long)line, why,
                strstr(why, "(row kept)") || strstr(why, "skipped") ? "" : " (row skipped)");
}

static void progress(uint64_t done, uint64_t total, void *arg)
{
    struct ctx *c = arg;
    int pct = (int)(100 * done / total), i;
    char bar[41];
    if (!c->tty || pct == c->last_pct)
        return;
    c->last_pct = pct;
    for (i = 0; i < 40; i++)
        bar[i] = i < pct * 40 / 100 ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% of %.1f MB", bar, pct, (double)total / 1e6);
    if (pct == 100)
        fputc('\n', stderr);
}

/* A set of strings read from one column of a CSV (or truth rows of a kind). */
struct strset {
    char **s;
    size_t n, cap;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add(struct strset *s, const char *v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        if (!(s->s = realloc(s->s, s->cap * sizeof *s->s)))
            cli_die("out of memory");
    }
    if (!(s->s[s->n++] = strdup(v)))
        cli_die("out of memory");
}

static void finish(struct strset *s)
{
    size_t i, j = 0;
    qsort(s->s, s->n, sizeof *s->s, cmp);
    for (i = 0; i < s->n; i++) {
        if (j && !strcmp(s->s[j - 1], s->s[i])) {
            free(s->s[i]);
            continue;
        }
        s->s[j++] = s->s[i];
    }
    s->n = j;
}

static bool has(const struct strset *s, const char *v)
{
    return bsearch(&v, s->s, s->n, sizeof *s->s, cmp) != NULL;
}

static void free_set(struct strset *s)
{
    size_t i;
    for (i = 0; i < s->n; i++)
        free(s->s[i]);
    free(s->s);
}

/* Reads a findings CSV: the first field (victims) or the first three joined
 * by '|' (origins), skipping the header. */
static void read_found(const char *path, int fields, struct strset *out)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    bool header = true;
    if (!f)
        cli_die("cannot read %s", path);
    while (fgets(line, sizeof line, f)) {
        char key[1024] = "";
        const char *p = line;
        int i;
        line[strcspn(line, "\r\n")] = '\0';
        if (header) {
            header = false;
            continue;
        }
        for (i = 0; i < fields; i++) {
            size_t n = strcspn(p, ",");
            const char *v = p;
            if (fields == 1 && *v == '+') { /* victims: +E.164 */
                v++;
                n--;
            }
            snprintf(key + strlen(key), sizeof key - strlen(key), "%s%.*s", i ? "|" : "", (int)n,
                     v);
            p = v + n + (v[n] ? 1 : 0);
        }
        add(out, key);
    }
    fclose(f);
    finish(out);
}

static void score(const char *what, const struct strset *found, const struct strset *truth)
{
    size_t i, hit = 0;
    for (i = 0; i < found->n; i++)
        hit += has(truth, found->s[i]);
    printf("%s: precision %.4f recall %.4f (listed %zu, true %zu, correct %zu)\n", what,
           found->n ? (double)hit / (double)found->n : 1.0,
           truth->n ? (double)hit / (double)truth->n : 1.0, found->n, truth->n, hit);
}

static void evaluate(const char *truth_path, const char *dir)
{
    struct strset tv = {0}, to = {0}, fv = {0}, fo = {0};
    char line[4096], path[4096];
    FILE *f = fopen(truth_path, "r");
    if (!f)
        cli_die("cannot read %s", truth_path);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "victim,", 7))
            add(&tv, line[7] == '+' ? line + 8 : line + 7);
        else if (!strncmp(line, "origin,", 7))
            add(&to, line + 7);
    }
    fclose(f);
    finish(&tv);
    finish(&to);
    snprintf(path, sizeof path, "%s/victims.csv", dir);
    read_found(path, 1, &fv);
    snprintf(path, sizeof path, "%s/origins.csv", dir);
    read_found(path, 3, &fo);
    score("victims", &fv, &tv);
    score("origins", &fo, &to);
    free_set(&tv);
    free_set(&to);
    free_set(&fv);
    free_set(&fo);
}

int cmd_analyze(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"protected", required_argument, 0, 'p'},
                                         {"dno", required_argument, 0, 'd'},
                                         {"ingress", required_argument, 0, 'i'},
                                         {"ofcom", required_argument, 0, 'm'},
                                         {"out", required_argument, 0, 'o'},
                                         {"truth", required_argument, 0, 't'},
                                         {"country-code", required_argument, 0, 'k'},
                                         {"baseline", required_argument, 0, 'b'},
                                         {"save-baseline", required_argument, 0, 'B'},
                                         {"threads", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    glob_t g = {0};
    const char **files = NULL;
    size_t nfiles = 0, k;
    int gi;
    struct cg_analyze_opts o = {0};
    struct cg_analyze_summary s;
    struct ctx c = {NULL, false, -1};
    const char *out = "cidguard-report", *truth = NULL, *file = NULL;
    char err[512], first[21], last[21];
    int opt, rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (!strcmp(optarg, "csv"))
                o.format = CG_CDR_CSV;
            else if (!strcmp(optarg, "asterisk"))
                o.format = CG_CDR_ASTERISK;
            else if (!strcmp(optarg, "decisions"))
                o.format = CG_CDR_DECISIONS;
            else if (!strcmp(optarg, "signing"))
                o.format = CG_CDR_SIGNING;
            else
                cli_die("--format must be csv, asterisk, decisions or signing");
            break;
        case 'p':
            o.protected_path = optarg;
            break;
        case 'd':
            o.dno_path = optarg;
            break;
        case 'i':
            o.ingress_path = optarg;
            break;
        case 'm':
            o.ofcom_path = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 't':
            truth = optarg;
            break;
        case 'k':
            o.plan = cli_plan(optarg);
            break;
        case 'b':
            o.baseline_path = optarg;
            break;
        case 'B':
            o.save_baseline_path = optarg;
            break;
        case 'j':
            o.threads = (unsigned)cli_int("--threads", optarg, 1, 64);
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(opt, argv[optind - 1], "analyze");
        }
    }
    if (optind >= argc)
        cli_die("analyze needs an input FILE (try 'cidguard analyze --help')");
    /* a file that is not there may be a glob the shell did not expand */
    for (gi = optind; gi < argc; gi++)
        if (access(argv[gi], F_OK) != 0 && strpbrk(argv[gi], "*?[") &&
            glob(argv[gi], GLOB_APPEND, NULL, &g) != 0)
            cli_die("no file matches %s", argv[gi]);
    if (!(files = calloc((size_t)(argc - optind) + g.gl_pathc, sizeof *files)))
        cli_die("out of memory");
    for (gi = optind; gi < argc; gi++)
        if (access(argv[gi], F_OK) == 0 || !strpbrk(argv[gi], "*?["))
            files[nfiles++] = argv[gi];
    for (k = 0; k < g.gl_pathc; k++)
        files[nfiles++] = g.gl_pathv[k];
    file = files[0];
    c.file = file;
    c.tty = isatty(2);
    o.bad_input = bad_input;
    o.progress = progress;
    o.arg = &c;
    rc = cg_analyze_files(files, nfiles, out, &o, &s, err, sizeof err);
    free(files);
    globfree(&g);
    if (rc != CG_OK)
        cli_die("%s", err[0] ? err : cg_strerror(rc));
    if (s.bad_rows + s.out_of_order > BAD_SHOWN)
        fprintf(stderr,
                "%s: %llu malformed rows skipped, %llu out of time order (the first %d "
                "shown)\n",
                nfiles > 1 ? "input" : file, (unsigned long long)s.bad_rows,
                (unsigned long long)s.out_of_order, BAD_SHOWN);
    cg_time_iso(s.first_time, first);
    cg_time_iso(s.last_time, last);
    printf("%llu calls%s%s%s%s: %llu spoofed (%llu answered), %llu campaigns, %llu victims, "
           "%llu origins\n",
           (unsigned long long)s.rows, s.rows ? " from " : "", s.rows ? first : "",
           s.rows ? " to " : "", s.rows ? last : "", (unsigned long long)s.spoofed_calls,
           (unsigned long long)s.spoofed_answered, (unsigned long long)s.campaigns,
           (unsigned long long)s.victims, (unsigned long long)s.origins);
    if (s.bad_rows)
        printf("%llu malformed rows skipped\n", (unsigned long long)s.bad_rows);
    if (s.out_of_order)
        printf("%llu rows out of time order (kept)\n", (unsigned long long)s.out_of_order);
    if (s.borrowed)
        printf("%llu spoofed calls presenting a number another origin uses (borrowed)\n",
               (unsigned long long)s.borrowed);
    if (s.refused)
        printf("%llu of them refused by the signing policy (never signed: attempts without a "
               "victim)\n",
               (unsigned long long)s.refused);
    if (s.presentation_only)
        printf("%llu spoofed calls behind a network number with no signal of its own "
               "(presentation number spoofed)\n",
               (unsigned long long)s.presentation_only);
    if (s.own_no_intent)
        printf("%llu calls from banks' own diallers without a live intent (not spoofing; the "
               "daemon blocks them)\n",
               (unsigned long long)s.own_no_intent);
    printf("wrote %s/campaigns.json, victims.csv, origins.csv, report.html\n", out);
    if (truth)
        evaluate(truth, out);
    return 0;
}
