/*
 * cidguard-intentload: what call intents cost.
 *
 *   cidguard-intentload --lookup [--entries N] [--seconds S]
 *       cg_intents_use on a store of N intents (default 1,000,000), hits
 *       and misses, in ns per lookup, next to a raw OpenSSL ES256 verify
 *       measured in the same run, and the ratio.
 *   cidguard-intentload --url http://127.0.0.1:PORT --key KEY --from NUMBER
 *                       [--batch N] [--connections C] [--seconds S]
 *       registers intents over keep-alive HTTP/1.1 (POST /intent/v1,
 *       batches of N, default 100; N = 1 sends single-intent objects) on C
 *       connections (default 4) for S seconds and prints intents/s,
 *       requests/s and the answers' statuses.  The callees are fresh
 *       numbers, so that every intent is a new entry.  Loopback only.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "cidguard/cidguard.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *m) __attribute__((noreturn));
static void die(const char *m)
{
    fprintf(stderr, "cidguard-intentload: %s\n", m);
    exit(2);
}

/* --- lookups --------------------------------------------------------------------------- */

static double es256_verify_us(double seconds)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    EVP_PKEY_CTX *c;
    unsigned char md[32] = {1, 2, 3}, sig[80];
    size_t siglen = sizeof sig;
    double t0, t;
    long n = 0;
    if (!k || !(c = EVP_PKEY_CTX_new(k, NULL)) || EVP_PKEY_sign_init(c) <= 0 ||
        EVP_PKEY_sign(c, sig, &siglen, md, sizeof md) <= 0 || EVP_PKEY_verify_init(c) <= 0)
        die("OpenSSL cannot make a P-256 key");
    t0 = now_s();
    do {
        int i;
        for (i = 0; i < 100; i++)
            if (EVP_PKEY_verify(c, sig, siglen, md, sizeof md) != 1)
                die("verify failed");
        n += 100;
    } while ((t = now_s()) - t0 < seconds);
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    return (t - t0) / (double)n * 1e6;
}

/* The k-th test intent's numbers, written without printf: the call path
 * has its numbers at hand, so the benchmark must not spend its time (or
 * its cache misses) reading them from a large array. */
static void numbers(size_t k, char from[16], char to[16])
{
    size_t i, v = k % 100000, w = k % 100000000;
    memcpy(from, "4420794", 7);
    for (i = 0; i < 5; i++, v /= 10)
        from[11 - i] = (char)('0' + v % 10);
    from[12] = '\0';
    memcpy(to, "4477", 4);
    for (i = 0; i < 8; i++, w /= 10)
        to[11 - i] = (char)('0' + w % 10);
    to[12] = '\0';
}

/* ns per call of op(k) over scattered k, for `seconds`. */
static double time_ns(struct cg_intents *s, size_t entries, double seconds, int op, size_t *hits)
{
    char f[16], t[16];
    size_t n = 0, h = 0;
    double t0 = now_s(), t1;
    do {
        size_t j;
        for (j = 0; j < 10000; j++, n++) {
            size_t k = (n * 2654435761u) % entries;
            numbers(k, f, t);
            if (op == 1)
                h += cg_intents_use(s, f, t, 1000);
            else if (op == 2)
                h += cg_intents_use(s, t, f, 1000); /* the other way round: none */
            else
                h += (size_t)(f[11] ^ t[11]) & 1; /* the numbers alone: the baseline */
        }
        /* an intent has CG_INTENT_USES_MAX uses: stop before they run out */
    } while ((t1 = now_s()) - t0 < seconds && n < entries * (CG_INTENT_USES_MAX - 10));
    if (hits)
        *hits = n - h;
    return (t1 - t0) / (double)n * 1e9;
}

static int lookup(size_t entries, double seconds)
{
    struct cg_intents *s;
    char f[16], t[16];
    size_t i, missed;
    double base, hit_ns, miss_ns, vus;
    if (entries > 100000000 || cg_intents_new(&s, entries, CG_INTENT_USES_MAX) != CG_OK)
        die("--entries wants 1 to 100,000,000");
    for (i = 0; i < entries; i++) {
        numbers(i, f, t);
        if (cg_intents_add(s, f, t, 4000000000, 1000) != CG_OK)
            die("cannot fill the store");
    }
    base = time_ns(s, entries, seconds / 4, 0, NULL);
    hit_ns = time_ns(s, entries, seconds, 1, &missed) - base;
    if (missed)
        fprintf(stderr, "note: %zu lookups missed (uses ran out)\n", missed);
    miss_ns = time_ns(s, entries, seconds, 2, NULL) - base;
    vus = es256_verify_us(seconds);
    printf("cg_intents_use, %zu intents: hit %.0f ns, miss %.0f ns; raw OpenSSL ES256 verify "
           "%.1f us; a hit costs %.2f%% of a verify\n",
           entries, hit_ns, miss_ns, vus, hit_ns / (vus * 1000) * 100);
    cg_intents_free(s);
    return 0;
}

/* --- HTTP ----------------------------------------------------------------------------- */

#define MAXCONN 64

struct conn {
    int fd;
    char in[65536];
    size_t got;
};

static int connect_to(const char *host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("cannot connect (an IPv4 loopback address is needed)");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Length of a whole answer at the start of c->in, with its status, or 0. */
static size_t whole(const struct conn *c, int *status)
{
    const char *end = memmem(c->in, c->got, "\r\n\r\n", 4), *cl;
    size_t hl, bl = 0;
    if (!end)
        return 0;
    hl = (size_t)(end - c->in) + 4;
    cl = memmem(c->in, hl, "Content-Length:", 15);
    if (cl)
        bl = (size_t)strtoul(cl + 15, NULL, 10);
    if (c->got < hl + bl)
        return 0;
    *status = atoi(c->in + 9);
    return hl + bl;
}

static size_t make_request(char *buf, size_t cap, const char *host, int port, const char *key,
                           const char *from, size_t batch, unsigned long long *seq)
{
    char body[65536];
    size_t bl = 0, i;
    if (batch == 1) {
        bl = (size_t)snprintf(body, sizeof body,
                              "{\"from\":\"+%s\",\"to\":\"+1%010llu\",\"valid_for\":300}", from,
                              (*seq)++ % 10000000000ull);
    } else {
        bl = (size_t)snprintf(body, sizeof body, "{\"intents\":[");
        for (i = 0; i < batch && bl < sizeof body - 100; i++)
            bl += (size_t)snprintf(body + bl, sizeof body - bl,
                                   "%s{\"from\":\"+%s\",\"to\":\"+1%010llu\",\"valid_for\":300}",
                                   i ? "," : "", from, (*seq)++ % 10000000000ull);
        bl += (size_t)snprintf(body + bl, sizeof body - bl, "]}");
    }
    return (size_t)snprintf(buf, cap,
                            "POST /intent/v1 HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer "
                            "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n"
                            "%.*s",
                            host, port, key, bl, (int)bl, body);
}

static int load(const char *url, const char *key, const char *from, size_t batch, int nconn,
                double seconds)
{
    char host[64], *req = malloc(70000);
    int port, i;
    struct conn *c = calloc((size_t)nconn, sizeof *c);
    struct pollfd pf[MAXCONN];
    unsigned long long seq = 0, ok = 0, other = 0, reqs = 0, st[600] = {0};
    double t0, t;
    if (!req || !c)
        die("out of memory");
    if (sscanf(url, "http://%63[^:]:%d", host, &port) != 2)
        die("--url wants http://IPv4:PORT");
    for (i = 0; i < nconn; i++) {
        size_t n = make_request(req, 70000, host, port, key, from, batch, &seq);
        c[i].fd = connect_to(host, port);
        if (send(c[i].fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
            die("send failed");
        pf[i] = (struct pollfd){c[i].fd, POLLIN, 0};
    }
    t0 = now_s();
    while ((t = now_s()) - t0 < seconds) {
        if (poll(pf, (nfds_t)nconn, 1000) <= 0)
            continue;
        for (i = 0; i < nconn; i++) {
            ssize_t r;
            size_t used;
            int status;
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = recv(c[i].fd, c[i].in + c[i].got, sizeof c[i].in - c[i].got, 0);
            if (r <= 0)
                die("the daemon closed a connection");
            c[i].got += (size_t)r;
            while ((used = whole(&c[i], &status))) {
                size_t n;
                memmove(c[i].in, c[i].in + used, c[i].got - used);
                c[i].got -= used;
                reqs++;
                st[status > 0 && status < 600 ? status : 0]++;
                if (status == 201)
                    ok += batch;
                else
                    other++;
                n = make_request(req, 70000, host, port, key, from, batch, &seq);
                if (send(c[i].fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
                    die("send failed");
            }
        }
    }
    t -= t0;
    printf("batch %zu, %d connection(s), %.1f s: %.0f intents/s, %.0f requests/s", batch, nconn, t,
           (double)ok / t, (double)reqs / t);
    for (i = 0; i < 600; i++)
        if (st[i])
            printf(", %llu x %d", st[i], i);
    printf("\n");
    for (i = 0; i < nconn; i++)
        close(c[i].fd);
    free(c);
    free(req);
    return other ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *key = getenv("CIDGUARD_INTENT_KEY"), *from = NULL;
    size_t entries = 1000000, batch = 100;
    int nconn = 4, i;
    double seconds = 2;
    bool lk = false;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--lookup") == 0)
            lk = true;
        else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
            entries = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            nconn = atoi(argv[++i]);
        else
            die("usage: see the comment at the top of bench/intentload.c");
    }
    if (lk)
        return lookup(entries ? entries : 1, seconds);
    if (!url || !key || !from || batch < 1 || batch > 800 || nconn < 1 || nconn > MAXCONN)
        die("--url, --key and --from are needed; --batch 1-800, --connections 1-64");
    if (*from == '+')
        from++;
    return load(url, key, from, batch, nconn, seconds);
}
