/*
 * TLS for the daemon's listeners (tls.h).
 */
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cidguard/cidguard.h"
#include "tls.h"

/* The client CAs' extension caches filled now, while one thread owns them:
 * OpenSSL fills a certificate's on first use, and every worker's handshakes
 * share this store (src/x509/trust.c says what racing on it did). */
static void settle_store(X509_STORE *st)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    int i;
    for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x)
            (void)X509_check_purpose(x, -1, 0);
    }
}

SSL_CTX *cgd_tls_server_ctx(const struct cgd_conf *conf, const char **err)
{
    SSL_CTX *c;
    *err = NULL;
    if (!conf->tls_cert[0])
        return NULL;
    if (!(c = SSL_CTX_new(TLS_server_method()))) {
        *err = "no memory for a TLS context";
        return NULL;
    }
    /* TLS 1.2 at least (RFC 8446 and the SIP TLS profile, RFC 5630) */
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(c, conf->tls_cert) != 1) {
        *err = "[tls] cert: not a PEM certificate chain";
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c, conf->tls_key[0] ? conf->tls_key : conf->tls_cert,
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1) {
        *err = "[tls] key: not the private key of [tls] cert";
        goto fail;
    }
    if (conf->tls_client_ca[0]) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->tls_client_ca);
        if (SSL_CTX_load_verify_locations(c, conf->tls_client_ca, NULL) != 1 || !names) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            *err = "[tls] client_ca: not a PEM CA bundle";
            goto fail;
        }
        SSL_CTX_set_client_CA_list(c, names);
        settle_store(SSL_CTX_get_cert_store(c));
        /* a client certificate is asked for; without require_client_cert a
         * client without one still connects, and is known by its address */
        SSL_CTX_set_verify(
            c,
            SSL_VERIFY_PEER | (conf->tls_require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
            NULL);
        SSL_CTX_set_verify_depth(c, 8);
    }
    return c;
fail:
    ERR_clear_error();
    SSL_CTX_free(c);
    return NULL;
}

struct bufferevent *cgd_tls_bufferevent(struct event_base *base, int fd, SSL_CTX *sctx)
{
    SSL *ssl = SSL_new(sctx);
    struct bufferevent *bev;
    if (!ssl)
        return NULL;
    bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        SSL_free(ssl);
    return bev;
}

static size_t add_name(char *names, size_t cap, size_t n, const char *name, size_t len)
{
    size_t used = strlen(names);
    if (!len || memchr(name, ';', len) || memchr(name, '\0', len) || used + len + 2 > cap)
        return n;
    if (used)
        names[used++] = ';';
    memcpy(names + used, name, len);
    names[used + len] = '\0';
    return n + 1;
}

size_t cgd_tls_peer_names(struct bufferevent *bev, char *names, size_t cap)
{
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert;
    GENERAL_NAMES *sans;
    char cn[256];
    size_t n = 0;
    int i, len;
    if (cap)
        names[0] = '\0';
    if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK || !(cert = SSL_get1_peer_certificate(ssl)))
        return 0;
    len = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    if (len > 0 && (size_t)len < sizeof cn)
        n = add_name(names, cap, n, cn, (size_t)len);
    if ((sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL))) {
        for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
            if (g->type == GEN_DNS)
                n = add_name(names, cap, n, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
                             (size_t)ASN1_STRING_length(g->d.dNSName));
        }
        GENERAL_NAMES_free(sans);
    }
    X509_free(cert);
    return n;
}

bool cgd_tls_name_in(const char *names, const char *name)
{
    size_t l = strlen(name);
    const char *p = names;
    while (l && (p = strstr(p, name))) {
        if ((p == names || p[-1] == ';') && (p[l] == ';' || p[l] == '\0'))
            return true;
        p += l;
    }
    return false;
}

static bool names_hold(const char *name, void *names)
{
    return cgd_tls_name_in(names, name);
}

/* tls.h: an entry cert:NAME holds when NAME is one of the certificate's. */
bool cgd_trusted_peer(const void *sa, const char *names, const char *list)
{
    return cg_addr_in_cidr_list(sa, list, ';', names_hold, (void *)names);
}
