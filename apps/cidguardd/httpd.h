/*
 * The HTTP front ends of one worker: the ATIS-1000082 verification API,
 * /metrics, /healthz and the certificate repository /certs/ on one
 * listener, the signing API on another.
 */
#ifndef CIDGUARDD_HTTPD_H
#define CIDGUARDD_HTTPD_H

#include <stdbool.h>

#include "config.h"
#include "worker.h"

struct cgd_httpd;

enum cgd_http_role {
    CGD_HTTP_API,     /* verification, /metrics, /healthz, /certs/ */
    CGD_HTTP_SIGNING, /* POST /stir/v1/signing, /healthz */
};

/* Serves HTTP in `role` on the listening socket `fd` (taken over) on w's
 * loop, with conf's https, connection caps and request deadline.  During a
 * drain it answers 503 to new API calls. */
struct cgd_httpd *cgd_http_attach(struct cgd_worker *w, int fd, enum cgd_http_role role,
                                  const struct cgd_conf *conf);
/* After the loop has ended. */
void cgd_http_free(struct cgd_httpd *h);

#endif
