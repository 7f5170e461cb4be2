/*
 * cidguard-sipload: a SIP load generator for the verification listener.
 * Sends INVITEs carrying valid Identity headers over UDP, at a fixed rate or
 * as fast as they are answered (a window of outstanding calls), and prints
 * calls/s, answer codes and latency percentiles.  It signs a fresh token for
 * every call with the library (about 25 us on its own core), outside the
 * timed request/answer path.  --presign N signs the first N calls' tokens
 * before the clock starts, so that the generator's core, when it shares one
 * with a Redis server under test, is not spent signing during the run
 * (tokens are fresh for 60 s: size N to the run).  With --unsigned it sends
 * INVITEs without an
 * Identity header, for the signing listener: a customer's calls from one
 * network number, presenting one of --numbers N presentation numbers in turn.
 *
 *   cidguard-sipload --key KEY --x5u URL [--target 127.0.0.1:5060]
 *                    [--rate N | --window N] [--seconds S] [--busy-poll]
 *                    [--presign N]
 *   cidguard-sipload --unsigned [--numbers N] [--target 127.0.0.1:5070] ...
 * --busy-poll: with --window, poll the socket without sleeping (always so
 * with --rate).  The daemon's answers then never pay for waking the load
 * generator, which a peer on another machine would not cost them; use it
 * when the generator has a core of its own.
 * Pin it and the daemon to separate cores with taskset (docs/cidguardd.md,
 * "Load").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cidguard/cidguard.h"

#define MAXCALLS (1u << 24)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *m)
{
    fprintf(stderr, "cidguard-sipload: %s\n", m);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *key = NULL, *x5u = NULL, *target = "127.0.0.1:5060";
    double rate = 0, seconds = 10, *lat, *sent_at, t0, next_send;
    unsigned window = 64, outstanding = 0, i;
    unsigned long long sent = 0, answered = 0, codes[7] = {0}, nlat = 0;
    struct cg_key *k = NULL;
    struct cg_signer *s = NULL;
    char *identity = NULL, host[64], msg[4096], buf[65536];
    struct sockaddr_in to = {.sin_family = AF_INET};
    int fd, port;
    unsigned run, numbers = 1;
    char **presigned = NULL;
    unsigned long long npresigned = 0;
    bool busy_poll = false, unsigned_calls = false;

    for (i = 1; i < (unsigned)argc; i++) {
        if (!strcmp(argv[i], "--key") && i + 1 < (unsigned)argc)
            key = argv[++i];
        else if (!strcmp(argv[i], "--x5u") && i + 1 < (unsigned)argc)
            x5u = argv[++i];
        else if (!strcmp(argv[i], "--target") && i + 1 < (unsigned)argc)
            target = argv[++i];
        else if (!strcmp(argv[i], "--rate") && i + 1 < (unsigned)argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--window") && i + 1 < (unsigned)argc)
            window = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--unsigned"))
            unsigned_calls = true;
        else if (!strcmp(argv[i], "--numbers") && i + 1 < (unsigned)argc)
            numbers = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--busy-poll"))
            busy_poll = true;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < (unsigned)argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--presign") && i + 1 < (unsigned)argc)
            npresigned = strtoull(argv[++i], NULL, 10);
        else
            die("usage: cidguard-sipload --key KEY --x5u URL [--target H:P] [--rate N | --window "
                "N] "
                "[--seconds S] [--busy-poll] [--presign N]");
    }
    if ((!unsigned_calls && (!key || !x5u)) || seconds <= 0 || window == 0 || !numbers)
        die("--key and --x5u are required (or --unsigned)");
    if (sscanf(target, "%63[^:]:%d", host, &port) != 2 ||
        inet_pton(AF_INET, host, &to.sin_addr) != 1)
        die("--target wants IPv4:port");
    to.sin_port = htons((uint16_t)port);
    if (!unsigned_calls && (cg_key_load_file(&k, key) || cg_signer_new(&s, k, x5u)))
        die("cannot load the key or bad x5u");
    if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || connect(fd, (struct sockaddr *)&to, sizeof to))
        die("socket");
    {
        int sz = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    lat = malloc(sizeof *lat * MAXCALLS);
    sent_at = calloc(MAXCALLS, sizeof *sent_at);
    if (!lat || !sent_at)
        die("out of memory");
    if (npresigned > MAXCALLS)
        npresigned = MAXCALLS;
    if (unsigned_calls)
        npresigned = 0;
    if (npresigned && !(presigned = calloc(npresigned, sizeof *presigned)))
        die("out of memory");
    for (i = 0; i < npresigned; i++) {
        const char *dest = "+14155550100";
        struct cg_sign_request r = {
            .orig = "+442079460000", .dest = &dest, .ndest = 1, .attest = 'A'};
        if (cg_sign(s, &r, &presigned[i], NULL) != CG_OK)
            die("signing failed");
    }

    /* Call-IDs and branches unique to this run: a daemon still holding an
     * earlier run's transactions would answer those from its cache */
    run = (unsigned)getpid() ^ (unsigned)time(NULL);
    t0 = next_send = now_s();
    for (;;) {
        double t = now_s();
        struct pollfd p = {fd, POLLIN, 0};
        bool may_send = t - t0 < seconds && sent < MAXCALLS &&
                        (rate > 0 ? t >= next_send : outstanding < window);
        if (may_send) {
            /* a fresh PASSporT per call, as real traffic has: the daemon
             * blocks one token seen on two calls as a replay */
            const char *dest = "+14155550100";
            struct cg_sign_request r = {
                .orig = "+442079460000", .dest = &dest, .ndest = 1, .attest = 'A'};
            int n;
            if (unsigned_calls) { /* the network number, and a presentation number in turn */
                n = snprintf(msg, sizeof msg,
                             "INVITE sip:+14155550100@%s;user=phone SIP/2.0\r\n"
                             "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKld%x.%llu\r\n"
                             "From: <sip:+4420794%05u@load.example;user=phone>;tag=ld\r\n"
                             "P-Asserted-Identity: <sip:+442079460000@load.example;user=phone>\r\n"
                             "To: <sip:+14155550100@%s;user=phone>\r\n"
                             "Call-ID: ld%x.%llu@load\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                             "Content-Length: 0\r\n\r\n",
                             host, run, sent, (unsigned)(sent % numbers), host, run, sent);
            } else {
                free(identity);
                identity = NULL;
                if (sent < npresigned) {
                    identity = presigned[sent];
                    presigned[sent] = NULL;
                } else if (cg_sign(s, &r, &identity, NULL) != CG_OK) {
                    die("signing failed");
                }
                n = snprintf(msg, sizeof msg,
                             "INVITE sip:+14155550100@%s;user=phone SIP/2.0\r\n"
                             "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKld%x.%llu\r\n"
                             "From: <sip:+442079460000@load.example;user=phone>;tag=ld\r\n"
                             "To: <sip:+14155550100@%s;user=phone>\r\n"
                             "Call-ID: ld%x.%llu@load\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                             "Identity: %s\r\nContent-Length: 0\r\n\r\n",
                             host, run, sent, host, run, sent, identity);
            }
            sent_at[sent] = now_s();
            if (send(fd, msg, (size_t)n, 0) == n) {
                sent++;
                outstanding++;
            }
            if (rate > 0)
                next_send += 1.0 / rate;
            continue;
        }
        if (t - t0 >= seconds + 2 || (t - t0 >= seconds && outstanding == 0))
            break;
        if (poll(&p, 1, rate > 0 || busy_poll ? 0 : 100) > 0) {
            ssize_t n;
            while ((n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
                char *cid;
                unsigned long long id;
                unsigned rid;
                int code = 0;
                buf[n] = '\0';
                sscanf(buf, "SIP/2.0 %d", &code);
                if ((cid = strstr(buf, "Call-ID: ld")) &&
                    sscanf(cid, "Call-ID: ld%x.%llu@", &rid, &id) == 2 && rid == run && id < sent &&
                    sent_at[id] > 0) {
                    lat[nlat++] = now_s() - sent_at[id];
                    sent_at[id] = -1;
                    answered++;
                    outstanding--;
                    codes[code >= 100 && code < 700 ? code / 100 : 0]++;
                }
            }
        }
    }
    qsort(lat, nlat, sizeof *lat, cmp_d);
    printf("sent %llu, answered %llu (302: %llu, 4xx: %llu, 5xx: %llu, 6xx: %llu), lost %llu\n",
           sent, answered, codes[3], codes[4], codes[5], codes[6], sent - answered);
    printf("%.0f calls/s over %.1f s", (double)answered / seconds, seconds);
    if (rate > 0)
        printf(" (offered %.0f/s)", rate);
    else
        printf(" (window %u)", window);
    if (nlat)
        printf("; latency p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
               lat[nlat / 2] * 1e3, lat[(size_t)(nlat * 0.99)] * 1e3,
               lat[(size_t)(nlat * 0.999)] * 1e3, lat[nlat - 1] * 1e3);
    else
        printf("\n");
    /* everything given back, so that a sanitizer's leak check at exit
     * passes (the tests run this under AddressSanitizer) */
    for (i = 0; i < npresigned; i++)
        free(presigned[i]);
    free(presigned);
    free(identity);
    free(lat);
    free(sent_at);
    cg_signer_free(s);
    cg_key_free(k);
    close(fd);
    return 0;
}
