/*
 * The SIP front end of one worker: UDP and TCP on the verification and
 * signing listeners.  Verification INVITEs become calls (call.c) answered
 * 302 with the verstat or 608/603; signing INVITEs are answered 302 with
 * an Identity header.  The library's transaction cache answers
 * retransmissions, CANCEL, ACK, OPTIONS and malformed requests.
 */
#ifndef CIDGUARDD_SIPD_H
#define CIDGUARDD_SIPD_H

#include "config.h"
#include "worker.h"

struct cgd_sipd;

/* The worker's listening sockets (already bound; taken over, closed by
 * cgd_sip_free). */
struct cgd_sip_sockets {
    int udp_verify, udp_sign, tcp_verify, tcp_sign;
    int tls_verify, tls_sign; /* -1: no SIP over TLS */
};

/* With conf's TCP limits: connections per listener and per source,
 * message_timeout_ms. */
struct cgd_sipd *cgd_sip_attach(struct cgd_worker *w, const struct cgd_sip_sockets *s,
                                const struct cgd_conf *conf);
/* Stops taking requests; calls in progress still answer (drain). */
void cgd_sip_detach(struct cgd_sipd *d);
/* After the loop has ended. */
void cgd_sip_free(struct cgd_sipd *d);

#endif
