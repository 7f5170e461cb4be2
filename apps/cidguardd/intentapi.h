/*
 * The call-intent registration API on the HTTP API listener: a bank's key
 * registers, lists and cancels the intents of the protected numbers it
 * owns (POST, GET and DELETE /intent/v1; docs/cidguardd.md, "Call
 * intents").  Intents go to the process-wide store in memory and, with
 * [redis] url, to Redis for every daemon sharing it.
 */
#ifndef CIDGUARDD_INTENTAPI_H
#define CIDGUARDD_INTENTAPI_H

#include <event2/http.h>

#include "worker.h"

/* Serves one request for /intent/v1 on worker w's loop.  It may answer
 * later, once Redis has answered (or after [redis] timeout_ms, at least a
 * second, from memory). */
void cgd_intent_http(struct evhttp_request *req, struct cgd_worker *w);

#endif
