/*
 * TLS for the daemon's listeners: SIP over TLS (RFC 3261 section 26.2,
 * port 5061) and HTTPS for both HTTP APIs, with optional client
 * certificates.  A verified client certificate names its holder: a
 * customer whose name is one of the certificate's names is known by it
 * (as by a token), and [policy] tgrp_from may trust an SBC by name
 * ("cert:NAME") instead of by address.
 */
#ifndef CIDGUARDD_TLS_H
#define CIDGUARDD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "config.h"

/* The server context of [tls] cert/key/client_ca, or NULL with *err set
 * (a static message, or NULL when TLS is not configured). */
SSL_CTX *cgd_tls_server_ctx(const struct cgd_conf *conf, const char **err);
/* A bufferevent that accepts TLS on `fd` (-1: evhttp sets it later) with a
 * new SSL of `sctx`; NULL on failure. */
struct bufferevent *cgd_tls_bufferevent(struct event_base *base, int fd, SSL_CTX *sctx);
/*
 * The names of a TLS connection's verified client certificate, written
 * into names (cap bytes) separated by ';': the subject's CN and every DNS
 * SAN.  Returns how many; 0 without a verified certificate (or without TLS).
 */
size_t cgd_tls_peer_names(struct bufferevent *bev, char *names, size_t cap);
/* Whether `name` is one of the ';'-separated `names`. */
bool cgd_tls_name_in(const char *names, const char *name);
/* Whether the peer at `sa` (a struct sockaddr), whose verified certificate
 * has `names`, is one of the ';'-separated entries of `list`: addresses or
 * CIDRs, or cert:NAME ([policy] tgrp_from). */
bool cgd_trusted_peer(const void *sa, const char *names, const char *list);

#endif
