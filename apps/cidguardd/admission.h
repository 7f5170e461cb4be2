/*
 * Admission of TCP connections: a cap per listener and per source
 * address, and a listener that pauses instead of spinning when accept()
 * fails for want of descriptors.  One per listener per worker; not
 * thread-safe (a worker's loop only).
 */
#ifndef CIDGUARDD_ADMISSION_H
#define CIDGUARDD_ADMISSION_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

struct cgd_admission;

/*
 * Guards listener `l` (named `what` in the log) on `base`: at most
 * `max_total` connections at once and `max_per_source` from one address
 * (IPv4-mapped IPv6 counts as its IPv4 address).  When accept() fails
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM) the listener is disabled for 100 ms
 * and the failure is logged at most once every 10 s.  NULL on no memory.
 */
struct cgd_admission *cgd_admission_new(struct event_base *base, struct evconnlistener *l,
                                        const char *what, int max_total, int max_per_source);
void cgd_admission_free(struct cgd_admission *a);
/* A connection from `sa` was accepted: true when it may stay (counted),
 * false when a cap is reached (the caller closes it; nothing counted). */
bool cgd_admission_enter(struct cgd_admission *a, const struct sockaddr *sa);
/* A connection counted by cgd_admission_enter has closed. */
void cgd_admission_leave(struct cgd_admission *a, const struct sockaddr *sa);

#endif
