/*
 * The HTTP front end of one worker: the ATIS-1000082 API (POST
 * /stir/v1/signing and /stir/v1/verification), /metrics, /healthz and the
 * certificate repository /certs/.
 */
#ifndef CIDGUARDD_HTTPD_H
#define CIDGUARDD_HTTPD_H

#include "worker.h"

struct cgd_httpd;

/* Serves HTTP on the listening socket `fd` (taken over) on w's loop.
 * During a drain it answers 503 to new API calls. */
struct cgd_httpd *cgd_http_attach(struct cgd_worker *w, int fd);
/* After the loop has ended. */
void cgd_http_free(struct cgd_httpd *h);

#endif
