/*
 * The worker pool: one thread and one event loop per worker, each with
 * its own listening sockets (SO_REUSEPORT) so that the kernel spreads the
 * calls and no lock is shared on the call path.
 */
#ifndef CIDGUARDD_POOL_H
#define CIDGUARDD_POOL_H

#include "config.h"

/* Opens every worker's sockets, then starts the threads.  Prints why and
 * returns -1 on failure. */
int cgd_pool_start(const struct cgd_conf *conf, int nworkers);
/* Stops accepting, lets the calls in progress finish (3 s at most), joins
 * the threads, stops the fetcher and frees the loops. */
void cgd_pool_stop(void);

#endif
