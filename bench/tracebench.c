/*
 * cidguard-tracebench: the signing log at carrier size.
 *
 *   cidguard-tracebench build FILE N     N records through cg_signlog_append,
 *                                        1,024 to a transaction, as the
 *                                        daemon's writer appends them
 *   cidguard-tracebench append FILE N K  the same, printing the CPU time a
 *                                        record costs for each million; K
 *                                        "carrier" is the records below, K
 *                                        "one" a single customer signing one
 *                                        number to one callee with ten
 *                                        presentation numbers (as
 *                                        bench/signbench.sh sends)
 *   cidguard-tracebench query FILE N Q   Q traceback queries of each kind
 *                                        against a log built with N records
 *   cidguard-tracebench args FILE N K    prints the CLI arguments of query
 *                                        K of each kind (origid, then numbers)
 *
 * Record i is a function of i alone (a splitmix64 stream), so that the
 * queries ask about records the log holds without reading it first: a week
 * of calls from 1,000 customers (one sends a fifth of them, a few
 * hundred send a handful each), 200,000 calling numbers, a random origid
 * per call, 2% refused.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "cidguard/signlog.h"

#define T0 1735689600 /* 2025-01-01T00:00:00Z */
#define SPAN (7 * 86400)
#define BATCH 1024

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void record(uint64_t i, uint64_t n, struct cg_signlog_record *r)
{
    uint64_t h = mix(i), g = mix(h), c;
    memset(r, 0, sizeof *r);
    r->time = T0 + (int64_t)(i * SPAN / n);
    /* a fifth from one customer, the rest spread unevenly over 999 */
    c = h % 5 == 0 ? 0 : 1 + (h >> 8) % 999 * ((h >> 20) % 999) / 999;
    snprintf(r->customer, sizeof r->customer, "customer-%03u", (unsigned)c);
    snprintf(r->source, sizeof r->source, "198.51.%u.%u", (unsigned)(c / 250),
             (unsigned)(c % 250 + (h >> 40) % 2));
    snprintf(r->call_id, sizeof r->call_id, "%016llx@sbc.example.net", (unsigned long long)g);
    snprintf(r->ingress, sizeof r->ingress, "trunk-%u", (unsigned)(c % 40));
    snprintf(r->orig, sizeof r->orig, "442079%06u", (unsigned)((g >> 8) % 200000));
    if ((g >> 30) % 10 == 0)
        snprintf(r->presented, sizeof r->presented, "4420795%05u", (unsigned)((g >> 33) % 100000));
    snprintf(r->dest, sizeof r->dest, "1%010llu", (unsigned long long)((g >> 3) % 10000000000ull));
    r->attest = "AABC"[(h >> 50) % 4];
    snprintf(r->origid, sizeof r->origid, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(g >> 32),
             (unsigned)(g >> 16) & 0xffff, (unsigned)g & 0xfff, (unsigned)(h >> 4) & 0xfff,
             (unsigned long long)(h >> 16) & 0xffffffffffffull);
    strcpy(r->spc, "1234");
    r->action = (h >> 56) % 50 == 0 ? CG_ACTION_BLOCK : CG_ACTION_ALLOW;
    strcpy(r->listener, (h >> 44) % 3 ? "sip" : "http");
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* bench/signbench.sh's calls: one customer, number, callee and origid,
 * ten presentation numbers in turn. */
static void record_one(uint64_t i, uint64_t n, struct cg_signlog_record *r)
{
    memset(r, 0, sizeof *r);
    r->time = T0 + (int64_t)(i * SPAN / n);
    strcpy(r->customer, "bench");
    strcpy(r->source, "127.0.0.1");
    snprintf(r->call_id, sizeof r->call_id, "%llu-1@127.0.0.1", (unsigned long long)i);
    strcpy(r->orig, "442079460000");
    snprintf(r->presented, sizeof r->presented, "4420794%05u", (unsigned)(i % 10));
    strcpy(r->dest, "14155550100");
    r->attest = 'A';
    strcpy(r->origid, "5a1d38f4-8f0e-5c52-9b1e-3f6a2d7c4e10");
    strcpy(r->spc, "1234");
    strcpy(r->listener, "sip");
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* N records through cg_signlog_append in the writer's batches; with
 * `each`, the CPU a record cost over each million appended. */
static int build(const char *path, uint64_t n,
                 void (*make)(uint64_t, uint64_t, struct cg_signlog_record *), bool each)
{
    struct cg_signlog *l;
    struct cg_signlog_record *r = calloc(BATCH, sizeof *r);
    struct timespec t0;
    double c0 = cpu_s(), gen = 0;
    uint64_t i, k, mark = 0;
    if (!r || cg_signlog_open(&l, path) != CG_OK) {
        fprintf(stderr, "tracebench: cannot create %s\n", path);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i += k) {
        size_t j;
        double g0 = cpu_s();
        k = n - i < BATCH ? n - i : BATCH;
        for (j = 0; j < k; j++)
            make(i + j, n, &r[j]);
        gen += cpu_s() - g0;
        if (cg_signlog_append(l, r, k) != CG_OK) {
            fprintf(stderr, "tracebench: append failed at %llu\n", (unsigned long long)i);
            return 1;
        }
        if (each && (i + k) / 1000000 != i / 1000000) {
            double c = cpu_s();
            printf("records %8llu-%8llu: %6.2f us a record (CPU)\n", (unsigned long long)mark,
                   (unsigned long long)(i + k), (c - c0 - gen) * 1e6 / (double)(i + k - mark));
            fflush(stdout);
            c0 = c;
            gen = 0;
            mark = i + k;
        } else if (!each && (i / BATCH) % 1000 == 999) {
            fprintf(stderr, "\r%llu records, %.0f s", (unsigned long long)(i + k),
                    ms_since(&t0) / 1e3);
        }
    }
    cg_signlog_close(l);
    if (!each)
        fprintf(stderr, "\n%llu records in %.1f s\n", (unsigned long long)n, ms_since(&t0) / 1e3);
    free(r);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, int q, size_t found)
{
    qsort(ms, (size_t)q, sizeof *ms, cmp);
    printf("%-34s median %7.3f ms  p99 %7.3f ms  max %7.3f ms  (%zu calls found)\n", what,
           ms[q / 2], ms[(q * 99 + 99) / 100 - 1], ms[q - 1], found);
}

static int query(const char *path, uint64_t n, int q)
{
    struct cg_signlog *l;
    double *ms = calloc((size_t)q, sizeof *ms);
    int kind, k, rc;
    if (!ms || (rc = cg_signlog_open_readonly(&l, path)) != CG_OK) {
        fprintf(stderr, "tracebench: cannot read %s\n", path);
        return 1;
    }
    for (kind = 0; kind < 3; kind++) {
        static const char *const names[] = {"by origid", "by orig + dest + time (+-60 s)",
                                            "unknown origid"};
        size_t found = 0;
        for (k = 0; k < q; k++) {
            struct cg_signlog_record r;
            struct cg_signlog_query qu;
            struct cg_signlog_result *res;
            struct timespec t0;
            char unknown[48];
            record(mix((uint64_t)k * 7919 + 17) % n, n, &r);
            memset(&qu, 0, sizeof qu);
            qu.budget_ms = 1000;
            if (kind == 0) {
                qu.origid = r.origid;
            } else if (kind == 1) {
                qu.orig = r.orig;
                qu.dest = r.dest;
                qu.at = r.time + 17; /* the terminating side's clock differs */
            } else {
                snprintf(unknown, sizeof unknown, "ffffffff-%04x-4000-8000-000000000000", k);
                qu.origid = unknown;
            }
            clock_gettime(CLOCK_MONOTONIC, &t0);
            rc = cg_signlog_query(l, &qu, &res);
            ms[k] = ms_since(&t0);
            if (rc != CG_OK) {
                fprintf(stderr, "tracebench: query failed: %s\n", cg_strerror(rc));
                return 1;
            }
            if (getenv("TRACEBENCH_SLOW") && ms[k] > atof(getenv("TRACEBENCH_SLOW")))
                fprintf(stderr,
                        "slow: kind %d query %d: %.1f ms, %zu calls, customer %s, %llu signed\n",
                        kind, k, ms[k], res->ncalls,
                        res->ncustomers ? res->customers[0].customer : "-",
                        res->ncustomers ? (unsigned long long)res->customers[0].totals.signed_calls
                                        : 0ull);
            found += res->ncalls;
            cg_signlog_result_free(res);
        }
        report(names[kind], ms, q, found);
    }
    cg_signlog_close(l);
    free(ms);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    if (argc == 4 && strcmp(argv[1], "build") == 0 && n)
        return build(argv[2], n, record, false);
    if (argc == 5 && strcmp(argv[1], "append") == 0 && n)
        return build(argv[2], n, strcmp(argv[4], "one") == 0 ? record_one : record, true);
    if (argc == 5 && strcmp(argv[1], "query") == 0 && n)
        return query(argv[2], n, atoi(argv[4]) > 0 ? atoi(argv[4]) : 100);
    if (argc == 5 && strcmp(argv[1], "args") == 0 && n) {
        struct cg_signlog_record r;
        record(mix(strtoull(argv[4], NULL, 10) * 7919 + 17) % n, n, &r);
        printf("--origid %s\n--orig %s --dest %s --at %lld\n", r.origid, r.orig, r.dest,
               (long long)r.time + 17);
        return 0;
    }
    fprintf(stderr,
            "usage: cidguard-tracebench build FILE N | append FILE N carrier|one | query FILE N "
            "Q | args FILE N K\n");
    return 2;
}
