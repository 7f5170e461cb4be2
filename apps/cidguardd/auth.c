/*
 * Credentials and audit lines (auth.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "log.h"

const char *cgd_bearer(struct evhttp_request *req, size_t *len)
{
    const struct evkeyval *kv;
    const char *a = NULL;
    size_t t;
    int n = 0;
    for (kv = evhttp_request_get_input_headers(req)->tqh_first; kv; kv = kv->next.tqe_next)
        if (strcasecmp(kv->key, "Authorization") == 0 && n++ == 0)
            a = kv->value;
    if (!a)
        return NULL;
    *len = 0;
    if (n == 1 && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7 + strspn(a + 7, " \t");
        t = strcspn(a, " \t");
        if (a[t + strspn(a + t, " \t")] == '\0') {
            *len = t;
            return a;
        }
    }
    return "";
}

void cgd_addr_text(const void *addr, char *out, size_t cap)
{
    const struct sockaddr *sa = addr;
    snprintf(out, cap, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

bool cgd_audit_may(struct cgd_audit *a, const char *what)
{
    unsigned long long suppressed = 0;
    time_t now = time(NULL);
    bool say;
    pthread_mutex_lock(&a->lock);
    if (a->second != now) {
        a->second = now;
        a->lines = 0;
    }
    say = a->lines < 20;
    if (say) {
        a->lines++;
        suppressed = a->suppressed;
        a->suppressed = 0;
    } else {
        a->suppressed++;
    }
    pthread_mutex_unlock(&a->lock);
    if (say && suppressed)
        cgd_log(LOG_NOTICE, "cidguardd: audit: %llu more %s in an earlier second", suppressed,
                what);
    return say;
}

bool cgd_rate_take(struct cgd_rates *r, const char *name, double cost, double rate, double burst)
{
    unsigned long long h = 1469598103934665603ull;
    struct cgd_bucket *b;
    struct timespec now;
    bool ok;
    if (rate <= 0)
        return true;
    if (cost > burst)
        cost = burst;
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 1099511628211ull;
    h |= 1; /* never 0: 0 is an empty slot */
    b = &r->slot[h % CGD_RATE_SLOTS];
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&r->lock);
    if (b->name_hash == 0) {
        b->name_hash = h;
        b->tokens = burst;
    } else {
        double dt = (double)(now.tv_sec - b->last.tv_sec) + (now.tv_nsec - b->last.tv_nsec) / 1e9;
        b->tokens += dt * rate;
        if (b->tokens > burst)
            b->tokens = burst;
    }
    b->last = now;
    ok = b->tokens >= cost;
    if (ok)
        b->tokens -= cost;
    pthread_mutex_unlock(&r->lock);
    return ok;
}
