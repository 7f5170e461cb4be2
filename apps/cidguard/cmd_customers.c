#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard customers token [TOKEN]\n"
    "       cidguard customers check FILE\n"
    "  token: prints a new random bearer token (256 bits) and the sha256: line that goes in\n"
    "  the tokens column of the customers file; with TOKEN, only that token's line.  Give the\n"
    "  token to the customer; the file keeps the hash only.\n"
    "  check: loads a customers file, reports every bad line, and prints each customer.\n";

/* 43 characters of base64url: 256 bits from the system's random source. */
static int new_token(char out[64])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[32];
    size_t i;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (i = 0; i < 43; i++) {
        size_t bit = i * 6, byte = bit / 8, off = bit % 8;
        unsigned v =
            ((unsigned)raw[byte] << 8 | (byte + 1 < sizeof raw ? raw[byte + 1] : 0)) >> (10 - off);
        out[i] = b64[v & 63];
    }
    out[43] = '\0';
    return 0;
}

/* Why the file was refused whole (a report with line 0), for the error. */
static char refused[256];

static void report(const char *file, int line, const char *msg, void *arg)
{
    int *bad = arg;
    if (line == 0) {
        snprintf(refused, sizeof refused, "%s", msg);
        return;
    }
    (*bad)++;
    fprintf(stderr, "%s:%d: %s (line skipped)\n", file, line, msg);
}

int cmd_customers(int argc, char **argv)
{
    char token[64], hash[CG_CUSTOMER_TOKEN_HASH_SIZE];
    if (argc >= 2 && strcmp(argv[1], "token") == 0 && argc <= 3) {
        const char *t = argc == 3 ? argv[2] : token;
        int rc;
        if (argc == 2 && new_token(token))
            cli_die("customers token: no random bytes");
        if ((rc = cg_customers_token_hash(t, strlen(t), hash)) != CG_OK)
            cli_die("customers token: %s (printable ASCII without spaces, at most %u bytes)",
                    cg_strerror(rc), CG_CUSTOMER_TOKEN_MAX);
        if (argc == 2)
            printf("token:  %s\n", token);
        printf("%s%s\n", argc == 2 ? "tokens: " : "", hash);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "check") == 0) {
        struct cg_customers *c;
        int bad = 0, rc;
        size_t i;
        if ((rc = cg_customers_load_file(&c, argv[2], report, &bad)) != CG_OK)
            cli_die("customers check: %s: %s", argv[2], refused[0] ? refused : cg_strerror(rc));
        for (i = 0; i < cg_customers_count(c); i++) {
            const struct cg_customer *cu = cg_customers_at(c, i);
            printf("%s: %zu address(es), %zu number(s), %zu token(s)\n", cg_customer_name(cu),
                   cg_customer_addresses(cu), cg_customer_numbers(cu), cg_customer_tokens(cu));
        }
        cg_customers_free(c);
        return bad ? 1 : 0;
    }
    fputs(help, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : EXIT_USAGE;
}
