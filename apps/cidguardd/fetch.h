/*
 * The x5u fetcher: one thread driving a libcurl multi handle, so that a
 * call waiting for a certificate never blocks a worker.
 */
#ifndef CIDGUARDD_FETCH_H
#define CIDGUARDD_FETCH_H

#include <event2/event.h>

#include "context.h"

int cgd_fetch_start(void);
/* After the workers' loops have ended, before their event bases are
 * freed: waiters still queued point at those bases. */
void cgd_fetch_stop(void);
/*
 * Fetches `url` into ctx's certificate cache unless already in flight
 * (single flight) and calls done_cb(arg) on `base`'s thread when the cache
 * has an entry for it (positive or negative).  A transfer is made with the
 * [fetch] settings of the context of the call that started it, which it
 * holds a reference to until it ends.  `origin` names who asks (the call's
 * ingress, else its source address): no origin and no x5u host may hold
 * more than a quarter of the transfers.  Returns 0, or -1 when the fetcher
 * is saturated or the share is used up (the caller answers at once).
 */
int cgd_fetch(struct cgd_ctx *ctx, const char *url, const char *origin, struct event_base *base,
              void (*done_cb)(evutil_socket_t, short, void *), void *arg);
/* The same for a roaming check about the UK mobile `tn` ([policy]
 * roaming_check_url?tn=TN): done_cb follows when the roaming cache has an
 * answer for it (roaming.h), an error or a timeout included. */
int cgd_fetch_roaming(struct cgd_ctx *ctx, const char *tn, const char *origin,
                      struct event_base *base, void (*done_cb)(evutil_socket_t, short, void *),
                      void *arg);

#endif
