/*
 * cidguardd: start, signals, stop.  The configuration is read (or the
 * zero-configuration one made), the context built (context.c), the
 * decision log, the fetcher and the workers started; then the main thread
 * waits for signals and runs the context's timers: SIGHUP builds a new
 * context and swaps it in while calls continue on the old one;
 * SIGTERM/SIGINT drain and exit.
 */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "declogd.h"
#include "fetch.h"
#include "log.h"
#include "pool.h"
#include "traceback.h"
#include "zeroconf.h"

static void usage(FILE *f)
{
    fputs("usage: cidguardd [-c FILE] [--state-dir DIR] [--directives] [--version]\n"
          "  With no configuration file it starts in zero-configuration mode: a test PKI in\n"
          "  its state directory, its own certificate served at its x5u URL and trusted.\n"
          "  --directives prints every configuration directive with its default.\n",
          f);
}

/* Parses the command line into conf; returns -1 to go on, else the exit
 * status. */
static int options(int argc, char **argv, struct cgd_conf *conf, const char **config_file)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"state-dir", required_argument, 0, 's'},
        {"directives", no_argument, 0, 'd'},   {"version", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *state_dir = NULL;
    int c;
    cgd_conf_defaults(conf);
    conf->zero_config = true;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config_file = optarg;
            break;
        case 's':
            state_dir = optarg;
            break;
        case 'd':
            cgd_conf_print_directives();
            return 0;
        case 'v':
            printf("cidguardd %s\n", CIDGUARD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "cidguardd: bad option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (*config_file && cgd_conf_load(conf, *config_file))
        return 2;
    if (state_dir && snprintf(conf->state_dir, sizeof conf->state_dir, "%s", state_dir) >=
                         (int)sizeof conf->state_dir) {
        fprintf(stderr, "cidguardd: --state-dir is too long\n");
        return 2;
    }
    return -1;
}

static void banner(const struct cgd_conf *conf, int workers)
{
    const char *scheme = conf->https ? "https" : "http";
    printf("cidguardd %s: %d worker(s); state in %s%s\n"
           "  SIP verification  udp+tcp %s\n"
           "  SIP signing       udp+tcp %s\n",
           CIDGUARD_VERSION, workers, conf->state_dir,
           conf->zero_config ? " (zero-configuration: test PKI, SPC 1001)" : "",
           conf->sip_verify_listen, conf->sip_sign_listen);
    if (conf->sip_tls_verify_listen[0])
        printf("  SIP verification  tls %s\n", conf->sip_tls_verify_listen);
    if (conf->sip_tls_sign_listen[0])
        printf("  SIP signing       tls %s\n", conf->sip_tls_sign_listen);
    printf("  HTTP API          %s://%s/stir/v1/verification  /metrics /healthz /certs/\n", scheme,
           conf->http_listen);
    if (conf->sign_http_listen[0])
        printf("  HTTP signing API  %s://%s/stir/v1/signing\n", scheme, conf->sign_http_listen);
    if (conf->sign_x5u[0])
        printf("  signing as x5u   %s\n", conf->sign_x5u);
    if (!conf->sign_http_listen[0]) {
        fflush(stdout);
        return;
    }
    printf("Try it (signs a call, then verifies it):\n"
           "  ID=$(curl -s http://%s/stir/v1/signing -H 'Content-Type: application/json' -d "
           "'{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"442079460000\"},\"dest\":"
           "{\"tn\":[\"14155550100\"]}}}' | sed 's/.*\"identity\":\"\\([^\"]*\\)\".*/\\1/'); "
           "curl -s http://%s/stir/v1/verification -H 'Content-Type: application/json' -d "
           "\"{\\\"verificationRequest\\\":{\\\"from\\\":{\\\"tn\\\":\\\"442079460000\\\"},"
           "\\\"to\\\":{\\\"tn\\\":[\\\"14155550100\\\"]},\\\"time\\\":$(date +%%s),"
           "\\\"identity\\\":\\\"$ID\\\"}}\"; echo\n",
           conf->sign_http_listen, conf->http_listen);
    fflush(stdout);
}

/* The decision log of [server] decision_log ("" = state_dir/decisions.db). */
static int start_declog(const struct cgd_conf *conf)
{
    char path[sizeof conf->state_dir + 32];
    if (strcmp(conf->decision_log, "off") == 0)
        return 0;
    snprintf(path, sizeof path, "%s/decisions.db", conf->state_dir);
    return cgd_declog_start(conf->decision_log[0] ? conf->decision_log : path,
                            conf->decision_log_days, conf->decision_log_max_mb);
}

/* The signing log of [sign] signing_log ("" = state_dir/signings.db), and
 * the traceback endpoint's tokens checked. */
static int start_signlog(const struct cgd_conf *conf)
{
    char path[sizeof conf->state_dir + 32];
    if (cgd_traceback_check(conf))
        return -1;
    if (strcmp(conf->signing_log, "off") == 0)
        return 0;
    snprintf(path, sizeof path, "%s/signings.db", conf->state_dir);
    return cgd_signlog_start(conf->signing_log[0] ? conf->signing_log : path,
                             conf->signing_log_days, conf->signing_log_max_mb);
}

/*
 * SIGHUP, SIGTERM and SIGINT are blocked in every thread (they inherit the
 * mask from main, which sets it before creating any) and taken here with
 * sigwait: a process-directed signal could otherwise land on a worker and
 * leave main asleep.  Between signals, the context's timers run.
 */
static void wait_for_stop(const sigset_t *sigs)
{
    for (;;) {
        int wait = cgd_context_wait(), sig;
        struct timespec ts = {wait > 0 ? wait : 0, 0};
        sig = wait >= 0 ? sigtimedwait(sigs, NULL, &ts) : sigwaitinfo(sigs, NULL);
        if (sig < 0 && errno == EAGAIN)
            cgd_context_tick();
        else if (sig == SIGHUP)
            cgd_context_reload("configuration reloaded", true);
        else if (sig == SIGTERM || sig == SIGINT)
            return;
    }
}

/* Descriptors: as many as the hard limit allows.  At the common soft limit
 * of 1,024 a flood of connections left nothing for certificate fetches and
 * the decision log. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/*
 * Under systemd, stdout and stderr are the journal's stream: JOURNAL_STREAM
 * holds its device and inode.  The journal stamps every line itself; what it
 * cannot tell is a line's priority, so each line there starts with an
 * sd-daemon "<N>" prefix (syslog levels: 3 error, 4 warning, 5 notice, 6
 * info).  The messages are written with plain fprintf across the daemon, so
 * the stream itself is replaced by one that adds the prefix at every line's
 * start; elsewhere (a terminal, a file) lines are written as they are.
 */
struct journal_out {
    int fd;
    int prio; /* for a line that none of the words below names */
    int at_start;
};

static int line_priority(const struct journal_out *j, const char *s, size_t n)
{
    static const char *const info[] = {"draining", "reloaded", "refreshed", "connected;",
                                       "created "};
    static const char *const err[] = {"cannot",   "failed",        "error",
                                      "refus",    "unknown",       " wants ",
                                      "too long", "out of memory", "bad option"};
    char line[256];
    size_t i;
    if (j->prio == 6)
        return 6;
    snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), s);
    if (strstr(line, "audit:"))
        return 5;
    for (i = 0; i < sizeof info / sizeof *info; i++)
        if (strstr(line, info[i]))
            return 6;
    for (i = 0; i < sizeof err / sizeof *err; i++)
        if (strstr(line, err[i]))
            return 3;
    return j->prio;
}

/* One write per line (prefix and text together), so that lines from stdout
 * and stderr sharing one journal stream never split each other. */
static ssize_t journal_write(void *cookie, const char *buf, size_t n)
{
    struct journal_out *j = cookie;
    size_t done = 0;
    while (done < n) {
        const char *nl = memchr(buf + done, '\n', n - done);
        size_t len = nl ? (size_t)(nl - (buf + done)) + 1 : n - done;
        char prefix[4] = {'<', (char)('0' + line_priority(j, buf + done, len)), '>', 0};
        struct iovec iov[2] = {{prefix, j->at_start ? 3 : 0}, {(char *)buf + done, len}};
        if (writev(j->fd, iov, 2) < 0 && errno != EINTR)
            return done ? (ssize_t)done : -1;
        j->at_start = nl != NULL;
        done += len;
    }
    return (ssize_t)n;
}

static int is_journal(int fd)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Replaces *stream (glibc's stdout and stderr are assignable) when fd is
 * the journal's stream; line-buffered, so a line is one write. */
static void journal_stream(FILE **stream, int fd, int prio)
{
    static struct journal_out outs[2];
    struct journal_out *j = &outs[fd == 2];
    cookie_io_functions_t io = {.write = journal_write};
    FILE *f;
    if (!is_journal(fd))
        return;
    *j = (struct journal_out){fd, prio, 1};
    f = fopencookie(j, "w", io);
    if (!f)
        return;
    setvbuf(f, NULL, _IOLBF, 0);
    fflush(*stream);
    *stream = f;
}

int main(int argc, char **argv)
{
    struct cgd_conf conf;
    const char *config_file = NULL;
    sigset_t sigs;
    int rc, workers;

    cgd_log_init();
    journal_stream(&stdout, 1, 6);
    journal_stream(&stderr, 2, 4);
    if ((rc = options(argc, argv, &conf, &config_file)) >= 0)
        return rc;
    raise_nofile();
    if (cgd_state_dir(&conf) || (conf.zero_config && cgd_zeroconf(&conf)))
        return 1;
    if (cgd_context_start(&conf, config_file))
        return 1;
    if (conf.zero_config)
        cgd_zeroconf_preload(&conf);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (start_declog(&conf) || start_signlog(&conf))
        return 1;
    if (cgd_fetch_start()) {
        fprintf(stderr, "cidguardd: cannot start the x5u fetcher\n");
        return 1;
    }
    workers = conf.workers > 0 ? conf.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1)
        workers = 1;
    if (cgd_pool_start(&conf, workers))
        return 1;
    banner(&conf, workers);
    wait_for_stop(&sigs);
    fprintf(stderr, "cidguardd: draining\n");
    cgd_pool_stop();   /* stops the fetcher too, before freeing the loops */
    cgd_declog_stop(); /* after the workers: every answered call is written */
    cgd_context_stop();
    return 0;
}
