/* The customers file loader, and lookups in what it loaded: the answers
 * must agree with each other (find, owns, attest).  The same bytes are also
 * a CIDR for cg_addr_in_cidr. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidguard/cidguard.h"

static const char *const ips[] = {"127.0.0.1", "::1",        "::ffff:127.0.0.1", "192.0.2.1",
                                  "10.0.0.1",  "2001:db8::1", "::ffff:192.0.2.1", "0.0.0.0",
                                  "::",        "fe80::1"};
#define NIPS (sizeof ips / sizeof ips[0])
static struct sockaddr_storage addrs[NIPS];

/* Parsed once, not per input. */
static void setup(void)
{
    size_t i;
    for (i = 0; i < NIPS; i++) {
        if (strchr(ips[i], ':')) {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)&addrs[i];
            s->sin6_family = AF_INET6;
            inet_pton(AF_INET6, ips[i], &s->sin6_addr);
        } else {
            struct sockaddr_in *s = (struct sockaddr_in *)&addrs[i];
            s->sin_family = AF_INET;
            inet_pton(AF_INET, ips[i], &s->sin_addr);
        }
    }
}

/* The last run of digits in the input (at most CG_TN_MAX), so that the
 * fuzzer can reach numbers the file names. */
static void last_digits(const unsigned char *d, size_t n, char *tn)
{
    size_t end = n, start;
    while (end && (d[end - 1] < '0' || d[end - 1] > '9'))
        end--;
    start = end;
    while (start && d[start - 1] >= '0' && d[start - 1] <= '9' && end - start < CG_TN_MAX)
        start--;
    memcpy(tn, d + start, end - start);
    tn[end - start] = '\0';
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static int ready;
    struct cg_customers *c;
    char tn[CG_TN_MAX + 1], cidr[64];
    const char *tns[] = {tn, "4420794600", NULL};
    size_t i, j, n = size < sizeof cidr - 1 ? size : sizeof cidr - 1;
    if (!ready) {
        setup();
        ready = 1;
    }
    memcpy(cidr, data, n);
    cidr[n] = '\0';
    for (i = 0; i < NIPS; i++)
        cg_addr_in_cidr(&addrs[i], cidr);
    if (cg_customers_load_text(&c, "fuzz", (const char *)data, size, NULL, NULL) != CG_OK)
        return 0;
    last_digits(data, size, tn);
    for (i = 0; i < cg_customers_count(c); i++)
        if (!cg_customer_name(cg_customers_at(c, i))[0])
            abort();
    for (i = 0; i < NIPS; i++) {
        const struct cg_customer *cu = cg_customers_find(c, &addrs[i]);
        for (j = 0; j < sizeof tns / sizeof tns[0]; j++) {
            char a = cg_customers_attest(c, &addrs[i], tns[j]);
            if ((cu == NULL) != (a == 'C') || (cu && cg_customer_owns(cu, tns[j]) && a != 'A'))
                abort();
        }
    }
    cg_customers_free(c);
    return 0;
}
