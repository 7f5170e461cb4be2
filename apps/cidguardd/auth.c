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
        fprintf(stderr, "cidguardd: audit: %llu more %s in an earlier second\n", suppressed, what);
    return say;
}
