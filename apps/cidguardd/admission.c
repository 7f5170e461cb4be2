/*
 * Admission of TCP connections (admission.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admission.h"
#include "log.h"
#include "metrics.h"

#define SOURCE_BUCKETS 1024 /* a power of two */

/* Connections from one address (IPv4 as ::ffff:a.b.c.d). */
struct source {
    struct source *next;
    unsigned char ip[16];
    int n;
};

struct cgd_admission {
    struct evconnlistener *l;
    struct event *resume;
    char what[64];
    int total, max_total, max_per_source;
    unsigned long long failures; /* accept() failures since the last log line */
    time_t logged;
    struct source *tab[SOURCE_BUCKETS];
};

/* The address as 16 bytes, IPv4 and IPv4-mapped IPv6 alike; false for
 * other families. */
static bool ip_of(const struct sockaddr *sa, unsigned char ip[16])
{
    if (sa->sa_family == AF_INET) {
        memset(ip, 0, 10);
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

static struct source **slot(struct cgd_admission *a, const unsigned char ip[16])
{
    uint32_t h = 2166136261u;
    struct source **pp;
    int i;
    for (i = 0; i < 16; i++)
        h = (h ^ ip[i]) * 16777619u;
    for (pp = &a->tab[(h ^ (h >> 15)) & (SOURCE_BUCKETS - 1)]; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->ip, ip, 16) == 0)
            break;
    return pp;
}

bool cgd_admission_enter(struct cgd_admission *a, const struct sockaddr *sa)
{
    unsigned char ip[16];
    struct source **pp, *s;
    if (a->total >= a->max_total || !ip_of(sa, ip)) {
        atomic_fetch_add(&cgd_m.conn_refused, 1);
        return false;
    }
    pp = slot(a, ip);
    if (*pp && (*pp)->n >= a->max_per_source) {
        atomic_fetch_add(&cgd_m.conn_refused, 1);
        return false;
    }
    if (!*pp) {
        if (!(s = calloc(1, sizeof *s)))
            return false;
        memcpy(s->ip, ip, 16);
        *pp = s;
    }
    (*pp)->n++;
    a->total++;
    return true;
}

void cgd_admission_leave(struct cgd_admission *a, const struct sockaddr *sa)
{
    unsigned char ip[16];
    struct source **pp, *s;
    if (!ip_of(sa, ip) || !*(pp = slot(a, ip)))
        return;
    a->total--;
    if (--(*pp)->n == 0) {
        s = *pp;
        *pp = s->next;
        free(s);
    }
}

/*
 * The guarded listeners, found by the error callback: libevent hands it the
 * listener's own argument, which for evhttp's listeners is evhttp's.
 * Written at start-up and shutdown only, when no loop runs.
 */
#define GUARDED_MAX 1024
static struct cgd_admission *guarded[GUARDED_MAX];
static int nguarded;

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_admission *a = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(a->l);
}

/*
 * accept() failed.  Without descriptors the listening socket stays
 * readable, so libevent would call accept() again at once, forever: both
 * workers spun at full CPU and wrote "Error from accept() call" hundreds of
 * megabytes a minute.  The listener rests instead, and the log says so at
 * most once every 10 s.
 */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct cgd_admission *a = NULL;
    struct timeval rest = {0, 100000};
    int err = EVUTIL_SOCKET_ERROR(), i;
    time_t now = time(NULL);
    (void)arg; /* the listener's own argument (evhttp's, for HTTP), not ours */
    for (i = 0; i < nguarded && !a; i++)
        if (guarded[i]->l == l)
            a = guarded[i];
    atomic_fetch_add(&cgd_m.accept_errors, 1);
    if (!a)
        return;
    a->failures++;
    if (now - a->logged >= 10) {
        cgd_log(LOG_ERR, "cidguardd: %s: accept: %s (%llu time(s)); pausing new connections",
                a->what, strerror(err), a->failures);
        a->failures = 0;
        a->logged = now;
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        evconnlistener_disable(l);
        event_add(a->resume, &rest);
    }
}

struct cgd_admission *cgd_admission_new(struct event_base *base, struct evconnlistener *l,
                                        const char *what, int max_total, int max_per_source)
{
    struct cgd_admission *a = calloc(1, sizeof *a);
    if (nguarded == GUARDED_MAX || !a || !(a->resume = evtimer_new(base, resume_cb, a))) {
        free(a);
        return NULL;
    }
    guarded[nguarded++] = a;
    a->l = l;
    snprintf(a->what, sizeof a->what, "%s", what);
    a->max_total = max_total;
    a->max_per_source = max_per_source;
    evconnlistener_set_error_cb(l, accept_error_cb);
    return a;
}

void cgd_admission_free(struct cgd_admission *a)
{
    size_t i;
    if (!a)
        return;
    for (i = 0; i < (size_t)nguarded; i++)
        if (guarded[i] == a)
            guarded[i] = guarded[--nguarded];
    for (i = 0; i < SOURCE_BUCKETS; i++)
        while (a->tab[i]) {
            struct source *s = a->tab[i];
            a->tab[i] = s->next;
            free(s);
        }
    event_free(a->resume);
    free(a);
}
