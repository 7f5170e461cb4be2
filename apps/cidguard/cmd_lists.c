/*
 * cidguard policy push | add | remove | show: managing the policy lists,
 * in their CSV files or in the Redis that a cluster of daemons shares.
 *
 * Every change is checked with the library's own loader before it is
 * written (a row the daemon would skip is refused here), and is written
 * whole: a file by rename, Redis in one transaction that also bumps the
 * version the daemons poll.  A daemon therefore sees the old list or the
 * new one, never half of a change.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Edits of the lists in Redis are optimistic: one version covers every
 * list, so editors of any list collide, and editors that retry at once
 * collide again.  Each retry waits a random time under a ceiling that
 * doubles from 1 ms to 256 ms: 10 s of attempts on average, 20 s at most. */
#define EDIT_ATTEMPTS 80

static void edit_backoff(int attempt)
{
    unsigned ceiling_us = 1000u << (attempt < 8 ? attempt : 8);
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    usleep(rand_r(&seed) % ceiling_us + 1);
}

#define LIST_MAX (64u << 20)

static const char help[] =
    "usage: cidguard policy push --redis URL [--prefix P] [--dno FILE] [--protected FILE]\n"
    "                            [--ingress FILE]\n"
    "       cidguard policy add LIST FIELD... (--file FILE | --redis URL [--prefix P])\n"
    "       cidguard policy remove LIST KEY (--file FILE | --redis URL [--prefix P])\n"
    "       cidguard policy show LIST --redis URL [--prefix P]\n"
    "  LIST is dno, protected or ingress; FIELDs are one row of that list's CSV\n"
    "  (dno: number,note; protected: number,brand,spcs,min_attest; ingress:\n"
    "  ingress,international,addresses,note) and KEY its first field.  add replaces a\n"
    "  row with the same first field.  Daemons with [redis] lists = yes load a change\n"
    "  within a second; for files, send the daemon SIGHUP.\n";

static const char *const header[CG_LIST__COUNT] = {
    "number,note\n", "number,brand,spcs,min_attest\n", "ingress,international,addresses,note\n"};

struct check {
    int watch_line; /* a report on this line refuses the change */
    char refused[256];
};

static void report(const char *file, int line, const char *msg, void *arg)
{
    struct check *c = arg;
    if (line == c->watch_line)
        snprintf(c->refused, sizeof c->refused, "%s", msg);
    else if (line == 0) /* the text refused whole */
        fprintf(stderr, "%s: %s\n", file, msg);
    else
        fprintf(stderr, "%s:%d: %s (line skipped)\n", file, line, msg);
}

/* Loads `text` as list `l` the way the daemon would; dies when it cannot,
 * or when the row on `watch_line` would be skipped. */
static void check_text(enum cg_list l, const char *text, int watch_line, const char *shown_as)
{
    struct check c = {watch_line, ""};
    struct cg_policy *p;
    int rc;
    if (cg_policy_new(&p, &(struct cg_policy_config){0}) != CG_OK)
        cli_die("out of memory");
    rc = cg_policy_load_list_text(p, l, shown_as, text, strlen(text), report, &c);
    cg_policy_free(p);
    if (rc != CG_OK)
        cli_die("%s: %s", shown_as, cg_strerror(rc));
    if (c.refused[0])
        cli_die("the row is not a valid %s entry: %s", cg_list_name(l), c.refused);
}

static struct cg_redis *connect_or_die(const char *url, const char *prefix)
{
    struct cg_redis *s;
    char err[300];
    if (cg_redis_connect(&s, url, prefix, 2000, err, sizeof err) != CG_OK)
        cli_die("%s", err);
    return s;
}

/* One field of a list row: the list formats have no quoting
 * (docs/cidguardd.md#policy-lists), so a comma, quote or line break cannot
 * be stored. */
static void csv_field(char *out, size_t cap, size_t *n, const char *f)
{
    size_t k = strlen(f);
    if (strpbrk(f, ",\"\r\n"))
        cli_die("a field may not contain a comma, a quote or a line break: %s", f);
    if (*n + k >= cap)
        cli_die("the row is too long");
    memcpy(out + *n, f, k);
    *n += k;
}

/* The first field of a CSV line, without a leading '+' or spaces. */
static size_t first_field(const char *line, size_t len, const char **start)
{
    size_t i = 0, end;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '"'))
        i++;
    if (i < len && line[i] == '+')
        i++;
    end = i;
    while (end < len && line[end] != ',' && line[end] != '"' && line[end] != '\r')
        end++;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    *start = line + i;
    return end - i;
}

/* Rewrites `text` without the rows whose first field is `key` and, when
 * `row` is given, with it appended.  Returns the new text (malloc'ed). */
static char *edit(const char *text, const char *key, const char *row, int *removed, int *row_line)
{
    size_t cap = strlen(text) + (row ? strlen(row) : 0) + 4, n = 0;
    char *out = malloc(cap);
    const char *p = text, *k = key[0] == '+' ? key + 1 : key;
    int line = 0;
    if (!out)
        cli_die("out of memory");
    *removed = 0;
    while (*p) {
        const char *nl = strchr(p, '\n'), *f;
        size_t len = nl ? (size_t)(nl - p) : strlen(p), flen = first_field(p, len, &f);
        if (flen == strlen(k) && memcmp(f, k, flen) == 0 && line > 0) {
            (*removed)++;
        } else {
            memcpy(out + n, p, len);
            n += len;
            out[n++] = '\n';
            line++;
        }
        p += len + (nl ? 1 : 0);
    }
    if (row) {
        n += (size_t)sprintf(out + n, "%s\n", row);
        *row_line = line + 1;
    }
    out[n] = '\0';
    return out;
}

static void write_file_atomically(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        cli_die("%s: path too long", path);
    if (!(f = fopen(tmp, "w")) || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        cli_die("cannot write %s: %s", path, strerror(errno));
}

/* One list's text as Redis has it now (NULL: none), and the lists' version. */
static char *read_list(struct cg_redis *s, enum cg_list l, long long *version)
{
    char *lists[CG_LIST__COUNT];
    int i;
    if (cg_redis_lists_get(s, lists, version) != CG_OK)
        cli_die("%s", cg_redis_error(s));
    for (i = 0; i < CG_LIST__COUNT; i++)
        if (i != (int)l)
            free(lists[i]);
    return lists[l];
}

int cmd_lists(int argc, char **argv)
{
    static const struct option opts[] = {{"redis", required_argument, 0, 'r'},
                                         {"prefix", required_argument, 0, 'P'},
                                         {"file", required_argument, 0, 'f'},
                                         {"dno", required_argument, 0, 'd'},
                                         {"protected", required_argument, 0, 'p'},
                                         {"ingress", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *verb = argv[0], *url = NULL, *prefix = NULL, *file = NULL;
    const char *push[CG_LIST__COUNT] = {NULL, NULL, NULL};
    struct cg_redis *s = NULL;
    int c, l = -1, i;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            url = optarg;
            break;
        case 'P':
            prefix = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'd':
            push[CG_LIST_DNO] = optarg;
            break;
        case 'p':
            push[CG_LIST_PROTECTED] = optarg;
            break;
        case 'i':
            push[CG_LIST_INGRESS] = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(c, argv[optind - 1], "policy");
        }
    }

    if (strcmp(verb, "push") == 0) {
        long long v = 0;
        int n = 0;
        if (!url)
            cli_die("policy push needs --redis URL");
        if (optind != argc)
            cli_die("unexpected argument \"%s\"", argv[optind]);
        for (i = 0; i < CG_LIST__COUNT; i++) {
            size_t len;
            char *text;
            if (!push[i])
                continue;
            text = cli_slurp(push[i], LIST_MAX, &len);
            if (strlen(text) != len)
                cli_die("%s: contains a NUL byte", push[i]);
            check_text((enum cg_list)i, text, 0, push[i]);
            if (!s)
                s = connect_or_die(url, prefix);
            if (cg_redis_list_put(s, (enum cg_list)i, text, len) != CG_OK)
                cli_die("%s", cg_redis_error(s));
            free(text);
            n++;
        }
        if (!n)
            cli_die("policy push needs --dno, --protected or --ingress");
        cg_redis_lists_version(s, &v);
        printf("pushed %d list(s); lists version %lld\n", n, v);
        cg_redis_close(s);
        return 0;
    }

    if (optind >= argc || (l = cg_list_from_name(argv[optind])) < 0)
        cli_die("policy %s needs a list: dno, protected or ingress", verb);
    optind++;
    if (!!file == !!url)
        cli_die("policy %s needs --file FILE or --redis URL", verb);
    if (file && strcmp(verb, "show") == 0)
        cli_die("policy show reads Redis; the file is plain CSV");

    {
        char *text = NULL, *next, row[2048] = "";
        const char *shown_as = file ? file : cg_list_name((enum cg_list)l);
        long long v = 0;
        int removed = 0, row_line = 0, attempt, rc;
        size_t n = 0, len;

        if (url) {
            s = connect_or_die(url, prefix);
            text = read_list(s, (enum cg_list)l, &v);
        } else if (access(file, F_OK) == 0) {
            text = cli_slurp(file, LIST_MAX, &len);
        }
        if (strcmp(verb, "show") == 0) {
            if (!text)
                cli_die("Redis has no %s list", cg_list_name((enum cg_list)l));
            fputs(text, stdout);
            free(text);
            cg_redis_close(s);
            return 0;
        }
        if (strcmp(verb, "add") == 0) {
            if (optind >= argc)
                cli_die("policy add needs the row's fields");
            for (i = optind; i < argc; i++) {
                const char *f = argv[i];
                if (i > optind && n + 1 < sizeof row)
                    row[n++] = ',';
                else if (l != CG_LIST_INGRESS && f[0] == '+')
                    f++; /* numbers are stored as E.164 digits */
                csv_field(row, sizeof row, &n, f);
            }
            row[n] = '\0';
        } else if (strcmp(verb, "remove") == 0) {
            if (optind + 1 != argc)
                cli_die("policy remove needs exactly one key");
        } else {
            cli_die("unknown policy command \"%s\"", verb);
        }
        /* an edit of what was read; in Redis it is written only if nobody
         * changed the lists meanwhile, else read and made again */
        for (attempt = 0;; attempt++) {
            if (!text && !(text = strdup(header[l])))
                cli_die("out of memory");
            next = edit(text, argv[optind], row[0] ? row : NULL, &removed, &row_line);
            if (!row[0] && !removed) {
                fprintf(stderr, "cidguard: %s is not in the %s list\n", argv[optind],
                        cg_list_name((enum cg_list)l));
                return EXIT_NOTPASS;
            }
            check_text((enum cg_list)l, next, row_line, shown_as);
            if (file) {
                write_file_atomically(file, next);
                break;
            }
            rc = cg_redis_list_replace(s, (enum cg_list)l, next, strlen(next), v);
            if (rc == CG_OK)
                break;
            if (rc != CG_ECONFLICT || attempt == EDIT_ATTEMPTS - 1)
                cli_die("%s", rc == CG_ECONFLICT ? "the lists kept changing; try again"
                                                 : cg_redis_error(s));
            edit_backoff(attempt);
            free(text);
            free(next);
            text = read_list(s, (enum cg_list)l, &v);
        }
        if (file) {
            printf("%s %s in %s\n", removed ? (row_line ? "replaced" : "removed") : "added",
                   argv[optind], file);
        } else {
            if (cg_redis_lists_version(s, &v) != CG_OK)
                cli_die("%s", cg_redis_error(s));
            printf("%s %s in the %s list; lists version %lld\n",
                   removed ? (row_line ? "replaced" : "removed") : "added", argv[optind],
                   cg_list_name((enum cg_list)l), v);
        }
        free(text);
        free(next);
        cg_redis_close(s);
    }
    return 0;
}
