/*
 * The traceback endpoint on the HTTP API listener: GET /traceback/v1 asks
 * the signing log who placed a call we signed (docs/cidguardd.md,
 * "Signing log and traceback").  Served only with [sign] traceback_tokens.
 */
#ifndef CIDGUARDD_TRACEBACK_H
#define CIDGUARDD_TRACEBACK_H

#include <event2/http.h>

#include "config.h"

/* Answers one request for /traceback/v1 on the calling worker's thread,
 * within about 50 ms, on a read-only connection of that thread's own. */
void cgd_traceback_http(struct evhttp_request *req);
/* Whether [sign] traceback_tokens is well formed; prints what is not and
 * returns -1. */
int cgd_traceback_check(const struct cgd_conf *conf);

#endif
