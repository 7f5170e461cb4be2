/*
 * Who is asking, and the trail of what was refused: an HTTP request's
 * bearer token (RFC 6750), a client's address as text, and the limiter of
 * the audit lines that record refusals.  Shared by the signing, intent and
 * traceback APIs and the SIP signing listener.
 */
#ifndef CIDGUARDD_AUTH_H
#define CIDGUARDD_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct evhttp_request;

/* The token of "Authorization: Bearer <token>": NULL without the header, ""
 * (*len 0) when it is not one a token could be (another scheme, a second
 * Authorization header, anything after the token). */
const char *cgd_bearer(struct evhttp_request *req, size_t *len);

/* A struct sockaddr (IPv4 or IPv6, may be NULL) as text, "?" otherwise. */
void cgd_addr_text(const void *sa, char *out, size_t cap);

/*
 * One line per refusal lets an operator see who was refused and why; a
 * flood of refusals must not flood the log.  Past 20 lines in a second the
 * rest of that second's are counted, and the next line that may be written
 * is preceded by the count.
 */
struct cgd_audit {
    pthread_mutex_t lock;
    time_t second;
    unsigned lines;
    unsigned long long suppressed;
};
#define CGD_AUDIT_INITIALIZER                                                                      \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0, 0, 0                                                         \
    }

/* Whether a line may be written now; when it may, and earlier ones were
 * dropped, says so first ("N more `what` in an earlier second"). */
bool cgd_audit_may(struct cgd_audit *a, const char *what);

/*
 * Token buckets by name (a signing customer, an intent key), process-wide
 * since a client's requests reach every worker, in a small fixed table:
 * two names that land in one slot share a bucket (the first one's hash
 * stays), which can only make the limit stricter for them, never give a
 * fresh bucket to whoever alternates.  The lock around a bucket costs well
 * under 1% of a signature.
 */
#define CGD_RATE_SLOTS 4096
struct cgd_rates {
    pthread_mutex_t lock;
    struct cgd_bucket {
        unsigned long long name_hash;
        double tokens;
        struct timespec last;
    } slot[CGD_RATE_SLOTS];
};
#define CGD_RATES_INITIALIZER                                                                      \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER                                                          \
    }

/* Whether `name` may spend `cost` tokens of a bucket refilled at `rate` a
 * second up to `burst` (rate <= 0: no limit); a cost above the burst costs
 * the whole bucket. */
bool cgd_rate_take(struct cgd_rates *r, const char *name, double cost, double rate, double burst);

#endif
