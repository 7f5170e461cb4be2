/*
 * cidguard-replay: replays the call records of `cidguard simulate` through
 * a real cidguardd, as SIP INVITEs over UDP at the recorded pace sped up,
 * and measures campaign detection against the simulation's truth.
 *
 *   cidguard-replay --calls calls.csv --truth truth.csv --pki DIR --x5u URL
 *                   [--target 127.0.0.1:5060]... [--speed 1440] [--rows N] [--tgrp]
 *                   [--wait SECONDS]
 *
 * With several --target, the calls go to them in turn (call i to target
 * i mod n), as a load balancer spreads calls over daemons that share their
 * campaign behaviour through Redis.
 *
 * A row the records say was verified (verstat TN-Validation-Passed, an SPC)
 * is signed with DIR/sp-SPC.key (`cidguard pki init DIR --spc SPC...`), its
 * x5u URL/sp-SPC.pem, at the row's attestation and origid, so that the
 * daemon verifies it and knows its origin; other rows go unsigned.  The
 * calling number goes in P-Asserted-Identity and the presentation number
 * (the `presented` column, else the calling number) in From; with --tgrp
 * the row's ingress goes in the Request-URI's tgrp (the daemon must trust
 * 127.0.0.1 in [policy] tgrp_from).  A row is sent at (its time - the
 * first row's) / speed after the start; the daemon's behaviour clock must
 * run as fast ([policy] campaign_time_scale = speed).
 *
 * A row is fraud when its origin (ingress|spc|origid) is one truth.csv
 * lists and it is the next victim call in truth.csv's order (every call of
 * an account is; a trunk's legitimate calls are not).  Each fraud origin is
 * a campaign.  Printed: per campaign, its calls and when it was detected
 * (its first call labelled campaign_suspected: calls and recorded seconds
 * after its first call); then the median delay, the share of fraud calls
 * labelled from their campaign's detection on, and the legitimate calls
 * labelled.  Exit 0, or 2 on bad input.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cidguard/cidguard.h"

#define MAXROWS (1u << 22)
#define MAXORIGINS 256
#define MAXSIGNERS 64
#define F 16 /* columns read */

struct row {
    int64_t t;
    char calling[20], called[20], shown[20], ingress[32], spc[16], origid[40], attest;
    bool signed_;
    int origin; /* fraud origin index, or -1 */
    bool fraud, answered, labelled;
};

struct origin {
    char key[128];
    unsigned calls;
    int first, detected; /* row indexes, -1 none */
    unsigned detected_at;
    unsigned after, after_labelled; /* fraud calls from detection on, labelled */
};

static void die(const char *m)
{
    fprintf(stderr, "cidguard-replay: %s\n", m);
    exit(2);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Splits a CSV line without quotes (simulate writes none) in place. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        f[n++] = p;
        if (!(p = strchr(p, ',')))
            break;
        *p++ = '\0';
    }
    return n;
}

static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        die("a field is too long");
    memcpy(dst, src, n + 1);
}

static const char *digits(const char *tn)
{
    return tn[0] == '+' ? tn + 1 : tn;
}

int main(int argc, char **argv)
{
    const char *calls = NULL, *truthf = NULL, *pki = NULL, *x5u = NULL;
    const char *target[8] = {"127.0.0.1:5060"};
    unsigned ntargets = 0, ti;
    double speed = 1440, t0, wait = 3;
    unsigned maxrows = MAXROWS, nrows = 0, i, norigins = 0, nvictims = 0, vi = 0, nsigners = 0;
    unsigned outstanding = 0;
    bool tgrp = false;
    struct row *rows;
    struct origin *org;
    char **victims, line[4096], msg[8192], buf[8192], host[64];
    char *spcs[MAXSIGNERS];
    struct cg_signer *signers[MAXSIGNERS];
    struct cg_key *keys[MAXSIGNERS];
    int col[F], ncol, fd, port, a;
    struct sockaddr_in to[8];
    unsigned run = (unsigned)getpid() ^ (unsigned)time(NULL);
    FILE *f;

    for (a = 1; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (!strcmp(argv[a], "--tgrp")) {
            tgrp = true;
            continue;
        }
        if (!v)
            die("usage: cidguard-replay --calls FILE --truth FILE --pki DIR --x5u URL "
                "[--target IP:PORT]... [--speed F] [--rows N] [--tgrp] [--wait S]");
        if (!strcmp(argv[a], "--calls"))
            calls = v;
        else if (!strcmp(argv[a], "--truth"))
            truthf = v;
        else if (!strcmp(argv[a], "--pki"))
            pki = v;
        else if (!strcmp(argv[a], "--x5u"))
            x5u = v;
        else if (!strcmp(argv[a], "--target") && ntargets < 8)
            target[ntargets++] = v;
        else if (!strcmp(argv[a], "--speed"))
            speed = atof(v);
        else if (!strcmp(argv[a], "--rows"))
            maxrows = (unsigned)atoi(v);
        else if (!strcmp(argv[a], "--wait"))
            wait = atof(v);
        else
            die("unknown option");
        a++;
    }
    if (!calls || !truthf || !pki || !x5u || speed <= 0 || maxrows == 0 || maxrows > MAXROWS)
        die("--calls, --truth, --pki and --x5u are required; --speed > 0");
    if (!ntargets)
        ntargets = 1;
    for (ti = 0; ti < ntargets; ti++) {
        memset(&to[ti], 0, sizeof to[ti]);
        to[ti].sin_family = AF_INET;
        if (sscanf(target[ti], "%63[^:]:%d", host, &port) != 2 ||
            inet_pton(AF_INET, host, &to[ti].sin_addr) != 1)
            die("--target wants IPv4:port");
        to[ti].sin_port = htons((uint16_t)port);
    }

    /* truth.csv: the fraud origins and the victims, in call order */
    if (!(f = fopen(truthf, "r")))
        die("cannot read --truth");
    org = calloc(MAXORIGINS, sizeof *org);
    victims = malloc(sizeof *victims * MAXROWS);
    if (!org || !victims)
        die("out of memory");
    while (fgets(line, sizeof line, f)) {
        char *fl[2];
        if (split(line, fl, 2) != 2)
            continue;
        if (!strcmp(fl[0], "origin") && norigins < MAXORIGINS) {
            copy(org[norigins].key, sizeof org[0].key, fl[1]);
            org[norigins].first = org[norigins].detected = -1;
            norigins++;
        } else if (!strcmp(fl[0], "victim") && nvictims < MAXROWS) {
            victims[nvictims++] = strdup(digits(fl[1]));
        }
    }
    fclose(f);

    /* calls.csv, by column name */
    if (!(f = fopen(calls, "r")) || !fgets(line, sizeof line, f))
        die("cannot read --calls");
    {
        static const char *names[F] = {"time",   "calling", "called", "ingress",  "verstat",
                                       "attest", "origid",  "spc",    "presented"};
        char *fl[64];
        int n = split(line, fl, 64), k, j;
        for (k = 0; k < F; k++) {
            col[k] = -1;
            for (j = 0; names[k] && j < n; j++)
                if (!strcmp(fl[j], names[k]))
                    col[k] = j;
        }
        ncol = n;
        if (col[0] < 0 || col[1] < 0 || col[2] < 0)
            die("calls.csv needs time, calling and called columns");
    }
    rows = calloc(maxrows, sizeof *rows);
    if (!rows)
        die("out of memory");
    while (nrows < maxrows && fgets(line, sizeof line, f)) {
        char *fl[64], key[128];
        struct row *r = &rows[nrows];
        int n = split(line, fl, 64), k;
#define FIELD(k) (col[k] >= 0 && col[k] < n ? fl[col[k]] : "")
        if (n < ncol || !cg_time_parse(FIELD(0), strlen(FIELD(0)), &r->t))
            die("a row of calls.csv is malformed");
        copy(r->calling, sizeof r->calling, digits(FIELD(1)));
        copy(r->called, sizeof r->called, digits(FIELD(2)));
        copy(r->shown, sizeof r->shown, FIELD(8)[0] ? digits(FIELD(8)) : r->calling);
        copy(r->ingress, sizeof r->ingress, FIELD(3));
        copy(r->origid, sizeof r->origid, FIELD(6));
        copy(r->spc, sizeof r->spc, FIELD(7));
        r->attest = FIELD(5)[0] ? FIELD(5)[0] : 'C';
        r->signed_ = !strcmp(FIELD(4), "TN-Validation-Passed") && r->spc[0];
        r->origin = -1;
        snprintf(key, sizeof key, "%s|%s|%s", r->ingress, r->spc, r->origid);
        for (k = 0; k < (int)norigins; k++)
            if (!strcmp(org[k].key, key) ||
                (!r->origid[0] && !strncmp(org[k].key, r->ingress, strlen(r->ingress)) &&
                 !strcmp(org[k].key + strlen(r->ingress), "||")))
                break;
        if (k < (int)norigins && vi < nvictims && !strcmp(victims[vi], r->called)) {
            r->fraud = true;
            r->origin = k;
            vi++;
        }
#undef FIELD
        nrows++;
    }
    fclose(f);
    if (!nrows)
        die("calls.csv has no rows");

    if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
        die("socket");
    {
        int sz = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }

    /* send at the recorded pace, reading answers in between */
    t0 = now_s();
    for (i = 0;;) {
        double due = i < nrows ? t0 + (double)(rows[i].t - rows[0].t) / speed : 0, t = now_s();
        struct pollfd p = {fd, POLLIN, 0};
        if (i < nrows && t >= due) {
            struct row *r = &rows[i];
            char identity_hdr[4096] = "", pai[128] = "", ruri_tgrp[96] = "";
            int n;
            if (r->signed_) {
                struct cg_signer *s = NULL;
                unsigned k;
                const char *dest = r->called;
                char *identity = NULL;
                struct cg_sign_request req = {.orig = r->calling,
                                              .dest = &dest,
                                              .ndest = 1,
                                              .attest = r->attest,
                                              .origid = r->origid[0] ? r->origid : NULL};
                for (k = 0; k < nsigners; k++)
                    if (!strcmp(spcs[k], r->spc))
                        s = signers[k];
                if (!s) {
                    char kp[1024], url[1024];
                    struct cg_key *key;
                    if (nsigners == MAXSIGNERS)
                        die("too many SPCs");
                    snprintf(kp, sizeof kp, "%s/sp-%s.key", pki, r->spc);
                    snprintf(url, sizeof url, "%s/sp-%s.pem", x5u, r->spc);
                    if (cg_key_load_file(&key, kp) != CG_OK || cg_signer_new(&s, key, url) != CG_OK)
                        die("cannot load an SPC's key (cidguard pki init DIR --spc SPC)");
                    spcs[nsigners] = strdup(r->spc);
                    keys[nsigners] = key;
                    signers[nsigners++] = s;
                }
                if (cg_sign(s, &req, &identity, NULL) != CG_OK)
                    die("signing failed");
                snprintf(identity_hdr, sizeof identity_hdr, "Identity: %s\r\n", identity);
                free(identity);
            }
            if (strcmp(r->shown, r->calling))
                snprintf(pai, sizeof pai,
                         "P-Asserted-Identity: <sip:+%s@replay.invalid;user=phone>\r\n",
                         r->calling);
            if (tgrp && r->ingress[0])
                snprintf(ruri_tgrp, sizeof ruri_tgrp, ";tgrp=%s;trunk-context=replay.invalid",
                         r->ingress);
            n = snprintf(msg, sizeof msg,
                         "INVITE sip:+%s%s@%s;user=phone SIP/2.0\r\n"
                         "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKrp%x.%u\r\n"
                         "From: <sip:+%s@replay.invalid;user=phone>;tag=rp\r\n%s"
                         "To: <sip:+%s@%s;user=phone>\r\n"
                         "Call-ID: rp%x.%u@replay\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                         "%sContent-Length: 0\r\n\r\n",
                         r->called, ruri_tgrp, host, run, i, r->shown, pai, r->called, host, run, i,
                         identity_hdr);
            if (n > 0 && n < (int)sizeof msg &&
                sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&to[i % ntargets], sizeof to[0]) ==
                    n)
                outstanding++;
            i++;
            continue;
        }
        /* after the last row, answers are awaited --wait seconds at most */
        if (i >= nrows &&
            (outstanding == 0 || t - (t0 + (double)(rows[nrows - 1].t - rows[0].t) / speed) > wait))
            break;
        if (poll(&p, 1, i < nrows ? (int)((due - t) * 1000) : 100) > 0) {
            ssize_t n;
            while ((n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
                unsigned rid, id;
                int code = 0;
                char *cid, *reasons;
                buf[n] = '\0';
                sscanf(buf, "SIP/2.0 %d", &code);
                if (code < 200 || !(cid = strstr(buf, "Call-ID: rp")) ||
                    sscanf(cid, "Call-ID: rp%x.%u@", &rid, &id) != 2 || rid != run || id >= nrows)
                    continue;
                if (!rows[id].answered)
                    outstanding--;
                rows[id].answered = true;
                reasons = strstr(buf, "Cidguard-Reasons:");
                rows[id].labelled = reasons && strstr(reasons, "campaign_suspected") &&
                                    strstr(reasons, "campaign_suspected") < strstr(reasons, "\r\n");
            }
        }
    }

    /* the figures */
    {
        unsigned legit = 0, legit_labelled = 0, fraud = 0, answered = 0, after = 0, after_l = 0;
        unsigned detected = 0, k, nd = 0;
        double *delay_calls = calloc(norigins + 1, sizeof(double));
        double *delay_s = calloc(norigins + 1, sizeof(double));
        for (i = 0; i < nrows; i++) {
            struct row *r = &rows[i];
            answered += r->answered;
            if (!r->fraud) {
                legit++;
                legit_labelled += r->labelled;
                continue;
            }
            fraud++;
            struct origin *o = &org[r->origin];
            o->calls++;
            if (o->first < 0)
                o->first = (int)i;
            if (o->detected < 0 && r->labelled) {
                o->detected = (int)i;
                o->detected_at = o->calls;
            }
            if (o->detected >= 0) {
                o->after++;
                o->after_labelled += r->labelled;
            }
        }
        printf("replayed %u calls (%u answered) at %.0fx: %u fraud, %u legitimate\n", nrows,
               answered, speed, fraud, legit);
        for (k = 0; k < norigins; k++) {
            struct origin *o = &org[k];
            if (!o->calls)
                continue;
            if (o->detected >= 0) {
                double s = (double)(rows[o->detected].t - rows[o->first].t);
                printf("campaign %s: %u calls, detected at call %u, %.0f s after its first; "
                       "labelled %u of %u from then on\n",
                       o->key, o->calls, o->detected_at, s, o->after_labelled, o->after);
                delay_calls[nd] = o->detected_at;
                delay_s[nd++] = s;
                detected++;
                after += o->after;
                after_l += o->after_labelled;
            } else {
                printf("campaign %s: %u calls, not detected\n", o->key, o->calls);
                delay_calls[nd] = 1e9;
                delay_s[nd++] = 1e9;
            }
        }
        /* the median over every campaign, an undetected one counting as never */
        for (k = 0; k < nd; k++) {
            unsigned j;
            for (j = k + 1; j < nd; j++) {
                double x;
                if (delay_calls[j] < delay_calls[k]) {
                    x = delay_calls[j], delay_calls[j] = delay_calls[k], delay_calls[k] = x;
                }
                if (delay_s[j] < delay_s[k]) {
                    x = delay_s[j], delay_s[j] = delay_s[k], delay_s[k] = x;
                }
            }
        }
        printf("campaigns: %u, detected %u\n", nd, detected);
        if (nd)
            printf("median detection delay: %.0f calls, %.0f s\n", delay_calls[(nd - 1) / 2],
                   delay_s[(nd - 1) / 2]);
        printf("fraud calls labelled from detection on: %u of %u (%.4f)\n", after_l, after,
               after ? (double)after_l / after : 0.0);
        printf("legitimate calls labelled: %u of %u (%.4f%%)\n", legit_labelled, legit,
               legit ? 100.0 * legit_labelled / legit : 0.0);
        /* where they came from: the first origins, in row order */
        {
            char seen[8][128];
            unsigned nseen = 0, cnt[8] = {0}, j;
            for (i = 0; i < nrows; i++) {
                char key[128];
                if (rows[i].fraud || !rows[i].labelled)
                    continue;
                snprintf(key, sizeof key, "%s|%s|%s", rows[i].ingress, rows[i].spc, rows[i].origid);
                for (j = 0; j < nseen && strcmp(seen[j], key); j++)
                    ;
                if (j == nseen && nseen < 8)
                    memcpy(seen[nseen++], key, sizeof key);
                if (j < nseen)
                    cnt[j]++;
            }
            for (j = 0; j < nseen; j++)
                printf("  legitimate calls labelled from %s: %u\n", seen[j], cnt[j]);
        }
        free(delay_calls);
        free(delay_s);
    }
    close(fd);
    for (i = 0; i < nsigners; i++) {
        cg_signer_free(signers[i]);
        cg_key_free(keys[i]);
        free(spcs[i]);
    }
    for (i = 0; i < nvictims; i++)
        free(victims[i]);
    free(victims);
    free(org);
    free(rows);
    return 0;
}
