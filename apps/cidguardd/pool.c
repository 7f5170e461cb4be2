/*
 * The worker pool (pool.h): sockets, threads, and the drain at shutdown.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "context.h"
#include "fetch.h"
#include "httpd.h"
#include "log.h"
#include "pool.h"
#include "redis.h"
#include "sipd.h"

/* A worker and the front ends attached to its loop. */
struct slot {
    struct cgd_worker w;
    pthread_t tid;
    struct cgd_sipd *sip;
    struct cgd_httpd *http, *http_sign;
    struct event *drain_timer;
    struct timespec drain_deadline;
};

static struct slot *slots;
static int nslots;

/* The address of "host:port" or "[v6]:port" (numeric), or NULL. */
static struct addrinfo *resolve(const char *hostport, int type)
{
    char host[64], *colon;
    const char *port;
    struct addrinfo hints = {0}, *ai = NULL;

    snprintf(host, sizeof host, "%s", hostport);
    if (host[0] == '[') {
        char *rb = strchr(host, ']');
        if (!rb || rb[1] != ':')
            return NULL;
        *rb = '\0';
        port = rb + 2;
        memmove(host, host + 1, strlen(host));
    } else {
        if (!(colon = strrchr(host, ':')))
            return NULL;
        *colon = '\0';
        port = colon + 1;
    }
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    return getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) == 0 ? ai : NULL;
}

/* A socket bound to "host:port" or "[v6]:port", with SO_REUSEPORT so that
 * each worker has its own. */
static int listen_socket(const char *hostport, int type)
{
    struct addrinfo *ai = resolve(hostport, type);
    int fd = -1, one = 1;
    if (!ai)
        return -1;
    fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || (type == SOCK_STREAM && listen(fd, 1024))) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    if (type == SOCK_DGRAM) {
        int sz = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    freeaddrinfo(ai);
    return fd;
}

/*
 * Whether another process already listens on `hostport`.  Every worker
 * binds with SO_REUSEPORT, and so would a second daemon started by mistake
 * on the same ports: the kernel would then quietly hand it part of the
 * calls.  A probe bound without SO_REUSEPORT fails when anyone holds the
 * port.  For TCP the probe sets SO_REUSEADDR, so that connections of an
 * earlier run still in TIME_WAIT do not count; for UDP it must not (two
 * UDP sockets with SO_REUSEADDR may share a port).
 */
static bool port_taken(const char *hostport, int type)
{
    struct addrinfo *ai = resolve(hostport, type);
    int fd, one = 1;
    bool taken = false;
    if (!ai)
        return false; /* listen_socket says why */
    fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        if (type == SOCK_STREAM)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        taken = bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE;
        close(fd);
    }
    freeaddrinfo(ai);
    return taken;
}

static int refuse_twin(const struct cgd_conf *conf)
{
    const char *const addrs[] = {conf->sip_verify_listen,     conf->sip_sign_listen,
                                 conf->http_listen,           conf->sign_http_listen,
                                 conf->sip_tls_verify_listen, conf->sip_tls_sign_listen};
    size_t i;
    int t;
    if (conf->share_ports)
        return 0;
    for (i = 0; i < 6; i++)
        for (t = 0; t < 2; t++) {
            int type = t ? SOCK_STREAM : SOCK_DGRAM;
            if ((i >= 2 && type == SOCK_DGRAM) || !addrs[i][0])
                continue; /* HTTP; a listener not configured */
            if (port_taken(addrs[i], type)) {
                cgd_log(LOG_ERR,
                        "cidguardd: %s/%s is already in use (another cidguardd?); refusing to "
                        "share it ([server] share_ports = yes allows it)",
                        addrs[i], t ? "tcp" : "udp");
                return -1;
            }
        }
    return 0;
}

/* A TCP listener that may be left unconfigured: -2 for "", -1 on failure. */
static int optional_socket(const char *hostport)
{
    return hostport[0] ? listen_socket(hostport, SOCK_STREAM) : -2;
}

static void *worker_main(void *arg)
{
    struct slot *s = arg;
    event_base_dispatch(s->w.base);
    cgd_ctx_thread_done();
    return NULL;
}

static int open_slot(struct slot *s, int id, const struct cgd_conf *conf)
{
    struct cgd_sip_sockets sk;
    int http_fd, sign_fd;
    if (cgd_worker_init(&s->w, id, conf->max_pending))
        return -1;
    sk.udp_verify = listen_socket(conf->sip_verify_listen, SOCK_DGRAM);
    sk.udp_sign = listen_socket(conf->sip_sign_listen, SOCK_DGRAM);
    sk.tcp_verify = listen_socket(conf->sip_verify_listen, SOCK_STREAM);
    sk.tcp_sign = listen_socket(conf->sip_sign_listen, SOCK_STREAM);
    sk.tls_verify = optional_socket(conf->sip_tls_verify_listen);
    sk.tls_sign = optional_socket(conf->sip_tls_sign_listen);
    http_fd = listen_socket(conf->http_listen, SOCK_STREAM);
    sign_fd = optional_socket(conf->sign_http_listen);
    if (sk.udp_verify < 0 || sk.udp_sign < 0 || sk.tcp_verify < 0 || sk.tcp_sign < 0 ||
        http_fd < 0 || sign_fd == -1 || sk.tls_verify == -1 || sk.tls_sign == -1) {
        cgd_log(LOG_ERR, "cidguardd: cannot listen on %s, %s, %s, %s, %s or %s: %s",
                conf->sip_verify_listen, conf->sip_sign_listen, conf->http_listen,
                conf->sign_http_listen, conf->sip_tls_verify_listen, conf->sip_tls_sign_listen,
                strerror(errno));
        return -1;
    }
    if (!(s->sip = cgd_sip_attach(&s->w, &sk, conf)) ||
        !(s->http = cgd_http_attach(&s->w, http_fd, CGD_HTTP_API, conf)) ||
        (sign_fd >= 0 &&
         !(s->http_sign = cgd_http_attach(&s->w, sign_fd, CGD_HTTP_SIGNING, conf))) ||
        cgd_redis_attach(&s->w, conf))
        return -1;
    return 0;
}

int cgd_pool_start(const struct cgd_conf *conf, int n)
{
    int i;
    evthread_use_pthreads();
    if (refuse_twin(conf))
        return -1;
    if (!(slots = calloc((size_t)n, sizeof *slots)))
        return -1;
    nslots = n;
    for (i = 0; i < n; i++)
        if (open_slot(&slots[i], i, conf))
            return -1;
    for (i = 0; i < n; i++) {
        char name[16];
        if (pthread_create(&slots[i].tid, NULL, worker_main, &slots[i]))
            return -1;
        /* named for top -H, perf and the benchmarks' per-thread CPU */
        snprintf(name, sizeof name, "cidguardd-w%d", i % 1000);
        pthread_setname_np(slots[i].tid, name);
    }
    return 0;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;
    struct timespec now;
    (void)fd;
    (void)what;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (s->w.pending == 0 || now.tv_sec > s->drain_deadline.tv_sec)
        event_base_loopbreak(s->w.base);
}

/* On the worker's own thread: stop taking calls, then tick until the
 * parked ones are answered or the deadline passes. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;
    struct timeval tick = {0, 50000};
    (void)fd;
    (void)what;
    s->w.stopping = true;
    cgd_sip_detach(s->sip);
    clock_gettime(CLOCK_MONOTONIC, &s->drain_deadline);
    s->drain_deadline.tv_sec += 3;
    s->drain_timer = event_new(s->w.base, -1, EV_PERSIST, drain_tick, s);
    event_add(s->drain_timer, &tick);
}

void cgd_pool_stop(void)
{
    int i;
    struct timeval zero = {0, 0};
    for (i = 0; i < nslots; i++)
        event_base_once(slots[i].w.base, -1, EV_TIMEOUT, stop_cb, &slots[i], &zero);
    for (i = 0; i < nslots; i++)
        pthread_join(slots[i].tid, NULL);
    /* NOTE: the fetcher may still hold waiters that point at these event
     * bases: it must be stopped before they are freed. */
    cgd_fetch_stop();
    for (i = 0; i < nslots; i++) {
        struct slot *s = &slots[i];
        if (s->drain_timer)
            event_free(s->drain_timer);
        cgd_redis_free(&s->w);
        cgd_sip_free(s->sip);
        cgd_http_free(s->http);
        cgd_http_free(s->http_sign);
        cgd_worker_free(&s->w);
    }
    free(slots);
}
