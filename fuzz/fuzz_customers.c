/* The customers file loader, and lookups in what it loaded: the answers
 * must agree with each other (find, owns, attest, by_token, has_tokens).
 * The same bytes are also a CIDR for cg_addr_in_cidr and a bearer token
 * (the last line), whose hash is then put on a line ahead of the input:
 * that line's customer must be the one the token finds. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidguard/cidguard.h"

static const char *const ips[] = {"127.0.0.1", "::1",         "::ffff:127.0.0.1", "192.0.2.1",
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

/* The last line of the input that is not empty, as a token, at most one
 * byte over the limit. */
static size_t last_line(const unsigned char *d, size_t n, const char **tok)
{
    size_t start;
    while (n && d[n - 1] == '\n')
        n--;
    start = n;
    while (start && d[start - 1] != '\n' && n - start <= CG_CUSTOMER_TOKEN_MAX)
        start--;
    *tok = (const char *)d + start;
    return n - start;
}

/* The token's hash on a first line of its own, ahead of the input: a later
 * line can neither take the name nor the hash, so the token finds it.  The
 * input follows only when it has hashes of its own to search among; without
 * them the line alone says as much, in half the time. */
static void check_tokens(const unsigned char *data, size_t size, const struct cg_customers *c)
{
    static const char head[] = "fz,,4420794600,";
    char hash[CG_CUSTOMER_TOKEN_HASH_SIZE], *text;
    struct cg_customers *c2;
    const char *tok;
    size_t tlen = last_line(data, size, &tok), i;
    const struct cg_customer *cu = cg_customers_by_token(c, tok, tlen);
    bool any = false;
    for (i = 0; i < cg_customers_count(c); i++)
        any |= cg_customer_has_tokens(cg_customers_at(c, i));
    if (any != cg_customers_any_tokens(c) || (cu && !cg_customer_has_tokens(cu)))
        abort();
    if (cg_customers_token_hash(tok, tlen, hash) != CG_OK) {
        /* What cannot be hashed is never found. */
        if (cu || hash[0])
            abort();
        return;
    }
    if (strlen(hash) != CG_CUSTOMER_TOKEN_HASH_SIZE - 1)
        abort();
    if (!cg_customers_any_tokens(c))
        size = 0;
    if (!(text = malloc(sizeof head + sizeof hash + size)))
        return;
    memcpy(text, head, sizeof head - 1);
    memcpy(text + sizeof head - 1, hash, sizeof hash - 1);
    text[sizeof head + sizeof hash - 2] = '\n';
    memcpy(text + sizeof head + sizeof hash - 1, data, size);
    if (cg_customers_load_text(&c2, "fuzz", text, sizeof head + sizeof hash - 1 + size, NULL,
                               NULL) == CG_OK) {
        cu = cg_customers_by_token(c2, tok, tlen);
        if (cu != cg_customers_at(c2, 0) || cg_customer_attest(cu, "4420794600") != 'A' ||
            !cg_customers_any_tokens(c2))
            abort();
        cg_customers_free(c2);
    }
    free(text);
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
            a = !cu ? 'C' : cg_customer_owns(cu, tns[j]) ? 'A' : 'B';
            if (cg_customer_attest(cu, tns[j]) != a)
                abort();
        }
    }
    check_tokens(data, size, c);
    cg_customers_free(c);
    return 0;
}
