/*
 * Zero-configuration start (zeroconf.h): with no configuration file the
 * daemon makes a test PKI in its state directory, serves its own
 * certificate and CRL from /certs/, trusts its own root, and signs for a
 * loopback lab customer, so that it signs and verifies end to end out of
 * the box.  Nothing here is used once a configuration file is given,
 * except the state directory's creation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"
#include "log.h"
#include "zeroconf.h"

static int mkdirs(const char *path)
{
    char buf[CGD_PATH], *p;
    snprintf(buf, sizeof buf, "%s", path);
    for (p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[8192];
    size_t n;
    int rc = a && b ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (a)
        fclose(a);
    if (b && fclose(b))
        rc = -1;
    return rc;
}

/* The test PKI, the certificate repository and a customers file in the
 * state directory, and the configuration that uses them. */
int cgd_zeroconf(struct cgd_conf *c)
{
    char pki[300], certs[300], path[CGD_PATH + 64], path2[CGD_PATH + 64];
    const char *spcs[] = {"1001"};
    struct cg_pki_opts o = {.spcs = spcs, .nspcs = 1};
    const char *why;
    struct stat st;
    FILE *f;
    int port = 8085;
    const char *colon = strrchr(c->http_listen, ':');

    if (colon)
        port = atoi(colon + 1);
    snprintf(pki, sizeof pki, "%s/pki", c->state_dir);
    snprintf(certs, sizeof certs, "%s/certs", c->state_dir);
    if (mkdirs(c->state_dir) || mkdirs(certs)) {
        cgd_log(LOG_ERR, "cidguardd: cannot create %s", c->state_dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/sp-1001.key", pki);
    if (stat(path, &st) != 0) {
        snprintf(path2, sizeof path2, "http://127.0.0.1:%d/certs/crl.pem", port);
        o.dir = pki;
        o.crl_url = path2;
        if (cg_pki_init(&o, &why) != CG_OK) {
            cgd_log(LOG_ERR, "cidguardd: test PKI: %s", why);
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/sp-1001.pem", pki);
    snprintf(path2, sizeof path2, "%s/sp-1001.pem", certs);
    if (copy_file(path, path2))
        return -1;
    snprintf(path, sizeof path, "%s/crl.pem", pki);
    snprintf(path2, sizeof path2, "%s/crl.pem", certs);
    if (copy_file(path, path2))
        return -1;
    snprintf(c->trust, sizeof c->trust, "%s/root.pem", pki);
    snprintf(c->crl, sizeof c->crl, "%s/crl.pem", pki);
    snprintf(c->sign_key, sizeof c->sign_key, "%s/sp-1001.key", pki);
    snprintf(c->sign_x5u, sizeof c->sign_x5u, "http://127.0.0.1:%d/certs/sp-1001.pem", port);
    /* its own repository is on loopback over plain http: allowed explicitly */
    snprintf(c->fetch_allow, sizeof c->fetch_allow, "127.0.0.1/32");
    c->allow_http = true;
    /* the signing API beside the HTTP API, on loopback like everything here */
    if (!c->sign_http_listen[0] && colon)
        snprintf(c->sign_http_listen, sizeof c->sign_http_listen, "%.*s:%d",
                 (int)(colon - c->http_listen), c->http_listen, port + 1);
    c->sign_http_by_address = true; /* the loopback lab customer, as over SIP */
    snprintf(c->customers, sizeof c->customers, "%s/customers.csv", c->state_dir);
    if (stat(c->customers, &st) != 0 && (f = fopen(c->customers, "w"))) {
        /* A only for numbers reserved for drama (Ofcom 020 7946 0xxx, NANP
         * 555-01xx): a lab can never sign a real number with full attestation */
        fputs("customer,addresses,numbers\n"
              "# loopback lab customer: A for fictional numbers only, B for anything else\n"
              "lab,127.0.0.1;::1,4420794600*;4420794601*;1415555010*;1415555011*\n",
              f);
        fclose(f);
    }
    return 0;
}

int cgd_state_dir(struct cgd_conf *c)
{
    if (!c->state_dir[0]) {
        const char *home = getenv("HOME");
        if (geteuid() == 0 || !home)
            snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/cidguard");
        else
            snprintf(c->state_dir, sizeof c->state_dir, "%s/.cidguard", home);
    }
    if (mkdirs(c->state_dir)) {
        cgd_log(LOG_ERR, "cidguardd: cannot create %s", c->state_dir);
        return -1;
    }
    return 0;
}

void cgd_zeroconf_preload(const struct cgd_conf *c)
{
    /* its own bundle is in the cache from the start: verifying its own
     * calls never waits for a fetch */
    char path[CGD_PATH + 32];
    snprintf(path, sizeof path, "%s/certs/sp-1001.pem", c->state_dir);
    cgd_context_preload(c->sign_x5u, path);
}
