/*
 * One worker: a thread's event loop and what it offers the calls it runs
 * (pool.c starts the threads).  Each worker has its own listening sockets
 * (SO_REUSEPORT), its own SIP transaction cache and Redis connection, and
 * shares no lock with the others on the call path.
 */
#ifndef CIDGUARDD_WORKER_H
#define CIDGUARDD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/event.h>

struct cgd_redis;
struct cgd_outq;

struct cgd_worker {
    int id;
    struct event_base *base;
    struct cgd_redis *redis; /* shared replay and rate state, or NULL (redis.c) */
    int pending;             /* calls parked on a fetch or on Redis */
    int max_pending;         /* parked calls before the next is refused (503) */
    bool stopping;           /* draining: new requests are refused */
    struct cgd_outq *outq;   /* UDP answers waiting for the batch to end */
};

/* Creates the worker's event loop and answer queue.  -1 on failure. */
int cgd_worker_init(struct cgd_worker *w, int id, int max_pending);
/* After its loop has ended. */
void cgd_worker_free(struct cgd_worker *w);

/*
 * Answer batching: UDP answers sent between cgd_worker_batch(w, true) and
 * cgd_worker_batch(w, false) leave together (sendmmsg), a few at a time;
 * outside a batch each leaves at once.  Whoever answers many calls in one
 * loop iteration (a burst of datagrams, a burst of Redis replies) opens a
 * batch around them.
 */
void cgd_worker_batch(struct cgd_worker *w, bool on);
void cgd_worker_send_udp(struct cgd_worker *w, int fd, const struct sockaddr_storage *addr,
                         socklen_t alen, const char *buf, size_t n);

/*
 * Concatenates the strings up to NULL into buf (cap bytes, always
 * NUL-terminated, cut short when full) and returns the length.  Used
 * instead of snprintf on the call path, where the printf machinery was
 * 1-2% of the daemon's cycles.  Only for values whose cut cannot change a
 * decision (header lines whose parts are bounded by their own limits).
 */
size_t cgd_join(char *buf, size_t cap, ...) __attribute__((sentinel));

#endif
