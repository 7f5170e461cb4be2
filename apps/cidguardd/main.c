/*
 * cidguardd: start, signals, stop.  The configuration is read (or the
 * zero-configuration one made), the context built (context.c), the
 * decision log, the fetcher and the workers started; then the main thread
 * waits for signals and runs the context's timers: SIGHUP builds a new
 * context and swaps it in while calls continue on the old one;
 * SIGTERM/SIGINT drain and exit.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "declogd.h"
#include "fetch.h"
#include "log.h"
#include "pool.h"
#include "traceback.h"
#include "zeroconf.h"

static const char usage[] =
    "usage: cidguardd [-c FILE] [--state-dir DIR] [--directives] [--version]\n"
    "  With no configuration file it starts in zero-configuration mode: a test PKI in\n"
    "  its state directory, its own certificate served at its x5u URL and trusted.\n"
    "  --directives prints every configuration directive with its default.";

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
            puts(usage);
            return 0;
        default:
            cgd_log(LOG_ERR, "cidguardd: bad option %s", argv[optind - 1]);
            cgd_log(LOG_INFO, "%s", usage);
            return 2;
        }
    }
    if (*config_file && cgd_conf_load(conf, *config_file))
        return 2;
    if (state_dir && snprintf(conf->state_dir, sizeof conf->state_dir, "%s", state_dir) >=
                         (int)sizeof conf->state_dir) {
        cgd_log(LOG_ERR, "cidguardd: --state-dir is too long");
        return 2;
    }
    return -1;
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
            cgd_context_reload("configuration reloaded", "reload", true);
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

int main(int argc, char **argv)
{
    struct cgd_conf conf;
    const char *config_file = NULL;
    sigset_t sigs;
    int rc, workers;

    cgd_log_init();
    if ((rc = options(argc, argv, &conf, &config_file)) >= 0)
        return rc;
    raise_nofile();
    /* blocked before anything starts: a reload asked for while the lists
     * load (SIGHUP's default action ends the process) waits for the start
     * to finish, and a stop is taken once it has */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cgd_state_dir(&conf) || (conf.zero_config && cgd_zeroconf(&conf)))
        return 1;
    if (cgd_context_start(&conf, config_file))
        return 1;
    if (conf.zero_config)
        cgd_zeroconf_preload(&conf);
    if (start_declog(&conf) || start_signlog(&conf))
        return 1;
    if (cgd_fetch_start()) {
        cgd_log(LOG_ERR, "cidguardd: cannot start the x5u fetcher");
        return 1;
    }
    workers = conf.workers > 0 ? conf.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1)
        workers = 1;
    if (cgd_pool_start(&conf, workers))
        return 1;
    cgd_conf_banner(&conf, workers);
    wait_for_stop(&sigs);
    cgd_log(LOG_INFO, "cidguardd: draining");
    cgd_pool_stop();   /* stops the fetcher too, before freeing the loops */
    cgd_declog_stop(); /* after the workers: every answered call is written */
    cgd_context_stop();
    return 0;
}
