/*
 * The customers file: parsing, every bad-line report, limits, attestation
 * A/B/C, address families (IPv4-mapped clients, IPv6 rows), prefixes, NULL
 * and empty sets, a customer with 50,000 numbers, a randomized
 * comparison with a straightforward reference (string CIDRs, strncmp), and
 * token hashes: the fourth column, lookups by bearer token, the hash
 * helper and attestation for a customer known by its token, and lookups
 * by name.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

/* --- fixtures ------------------------------------------------------------------- */

struct rep {
    char file[128];
    int line;
    char msg[256];
};

static struct rep reps[64];
static int nreps;

static void report_cb(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    if (nreps < (int)(sizeof reps / sizeof reps[0])) {
        snprintf(reps[nreps].file, sizeof reps[nreps].file, "%s", file);
        reps[nreps].line = line;
        snprintf(reps[nreps].msg, sizeof reps[nreps].msg, "%s", msg);
    }
    nreps++;
}

static struct cg_customers *load(const char *text)
{
    struct cg_customers *c = NULL;
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", text, strlen(text), report_cb, NULL),
                     CG_OK);
    assert_non_null(c);
    return c;
}

/* A struct sockaddr for "192.0.2.1" or "2001:db8::1". */
static struct sockaddr_storage sa(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    return ss;
}

static char attest(const struct cg_customers *c, const char *ip, const char *tn)
{
    struct sockaddr_storage s = sa(ip);
    return cg_customers_attest(c, &s, tn);
}

static const char *found(const struct cg_customers *c, const char *ip)
{
    struct sockaddr_storage s = sa(ip);
    const struct cg_customer *cu = cg_customers_find(c, &s);
    return cu ? cg_customer_name(cu) : NULL;
}

static const struct cg_customer *by_name(const struct cg_customers *c, const char *name)
{
    size_t i;
    for (i = 0; i < cg_customers_count(c); i++)
        if (strcmp(cg_customer_name(cg_customers_at(c, i)), name) == 0)
            return cg_customers_at(c, i);
    return NULL;
}

/* Asserts that report i is for `line` and mentions `what`. */
static void assert_report(int i, int line, const char *what)
{
    assert_true(i < nreps);
    if (reps[i].line != line || !strstr(reps[i].msg, what))
        fail_msg("report %d: line %d \"%s\", expected line %d with \"%s\"", i, reps[i].line,
                 reps[i].msg, line, what);
    assert_string_equal(reps[i].file, "t.csv");
}

/* A text buffer that grows. */
struct buf {
    char *p;
    size_t n, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* --- parsing -------------------------------------------------------------------- */

static void test_parse(void **state)
{
    static const char text[] =
        "\xef\xbb\xbf"
        "customer , addresses , numbers\r\n"
        "# a comment\r\n"
        "\r\n"
        "   \t \n"
        "  # an indented comment\n"
        " acme , 192.0.2.10 ; 198.51.100.0/24 ;2001:db8:1::/48 , 442079460000 ; 4420794601* \r\n"
        "lab,127.0.0.1;::1,1415555010*;;1415555011*\n"
        "empty,,\n"
        "Zoë Ltd (UK);branch,203.0.113.0/25,4420794602*;4420794602*;4420794602*\n"
        "last,10.0.0.0/8,14155550123";
    struct cg_customers *c = load(text);
    const struct cg_customer *cu;
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(cg_customers_count(c), 5);
    cu = cg_customers_at(c, 0);
    assert_string_equal(cg_customer_name(cu), "acme");
    assert_int_equal(cg_customer_addresses(cu), 3);
    assert_int_equal(cg_customer_numbers(cu), 2);
    assert_true(cg_customer_owns(cu, "442079460000"));
    assert_true(cg_customer_owns(cu, "4420794601"));
    assert_true(cg_customer_owns(cu, "442079460199"));
    assert_false(cg_customer_owns(cu, "442079460001"));
    cu = cg_customers_at(c, 1);
    assert_string_equal(cg_customer_name(cu), "lab");
    assert_int_equal(cg_customer_addresses(cu), 2);
    assert_int_equal(cg_customer_numbers(cu), 2); /* the empty item is skipped */
    cu = cg_customers_at(c, 2);
    assert_string_equal(cg_customer_name(cu), "empty");
    assert_int_equal(cg_customer_addresses(cu), 0);
    assert_int_equal(cg_customer_numbers(cu), 0);
    cu = cg_customers_at(c, 3);
    assert_string_equal(cg_customer_name(cu), "Zoë Ltd (UK);branch");
    assert_int_equal(cg_customer_numbers(cu), 1); /* duplicates kept once */
    assert_string_equal(cg_customer_name(cg_customers_at(c, 4)), "last");
    assert_null(cg_customers_at(c, 5));

    assert_string_equal(found(c, "192.0.2.10"), "acme");
    assert_null(found(c, "192.0.2.11"));
    assert_string_equal(found(c, "198.51.100.255"), "acme");
    assert_string_equal(found(c, "2001:db8:1:ffff::7"), "acme");
    assert_null(found(c, "2001:db8:2::1"));
    assert_string_equal(found(c, "127.0.0.1"), "lab");
    assert_string_equal(found(c, "::1"), "lab");
    assert_string_equal(found(c, "203.0.113.127"), "Zoë Ltd (UK);branch");
    assert_null(found(c, "203.0.113.128"));
    assert_string_equal(found(c, "10.255.0.1"), "last");
    assert_int_equal(attest(c, "10.1.2.3", "14155550123"), 'A'); /* no newline at the end */
    cg_customers_free(c);
}

static void test_header_optional(void **state)
{
    struct cg_customers *c;
    (void)state;
    c = load("# only comments\n\n");
    assert_int_equal(cg_customers_count(c), 0);
    cg_customers_free(c);
    c = load("customer,addresses,numbers\n");
    assert_int_equal(cg_customers_count(c), 0);
    assert_int_equal(nreps, 0);
    cg_customers_free(c);
    c = load("a,192.0.2.1,44\n");
    assert_int_equal(cg_customers_count(c), 1);
    cg_customers_free(c);
    /* The header is the first line that is not a comment, and only that. */
    c = load("# file\nCUSTOMER,addresses,numbers\na,192.0.2.1,44\ncustomer,addresses,numbers\n");
    assert_int_equal(cg_customers_count(c), 1);
    assert_int_equal(nreps, 1);
    assert_report(0, 4, "address 'addresses'");
    cg_customers_free(c);
}

/* --- bad lines ------------------------------------------------------------------- */

static void test_bad_lines(void **state)
{
    static const char text[] = "customer,addresses,numbers\n"
                               "good1,192.0.2.1,441\n"
                               "two fields,192.0.2.1\n"
                               "four,192.0.2.1,441,note\n"
                               " ,192.0.2.1,441\n"
                               "ctl\x01name,192.0.2.1,441\n"
                               "\"quoted\",192.0.2.1,441\n"
                               "a1,garbage,441\n"
                               "a2,192.0.2.1/33,441\n"
                               "a3,192.0.2.1/,441\n"
                               "a4,192.0.2.1/abc,441\n"
                               "a5,2001:db8::/129,441\n"
                               "a6,fe80::1%eth0,441\n"
                               "a7,192.0.2.256,441\n"
                               "a8,192.0.2.1/-1,441\n"
                               "a9,192.0.2.1/0024,441\n"
                               "n1,192.0.2.1,+442079460000\n"
                               "n2,192.0.2.1,44a\n"
                               "n3,192.0.2.1,*\n"
                               "n4,192.0.2.1,44**\n"
                               "n5,192.0.2.1,1234567890123456\n"
                               "n6,192.0.2.1,4*4\n"
                               "good1,192.0.2.2,442\n"
                               "good2,192.0.2.2,1234567890123456*\n"
                               "good3,192.0.2.3,123456789012345;123456789012345*\n"
                               "six,192.0.2.1,441,,,\n";
    struct cg_customers *c = load(text);
    int i = 0;
    (void)state;
    assert_report(i++, 3, "want three to five fields customer,addresses,numbers[,tokens[,signer]]");
    assert_report(i++, 4, "token 1 is not \"sha256:\" and 64 hex digits");
    assert_report(i++, 5, "name is empty");
    assert_report(i++, 6, "control character");
    assert_report(i++, 7, "control character or '\"'");
    assert_report(i++, 8, "address 'garbage' is not");
    assert_report(i++, 9, "address '192.0.2.1/33'");
    assert_report(i++, 10, "address '192.0.2.1/'");
    assert_report(i++, 11, "address '192.0.2.1/abc'");
    assert_report(i++, 12, "address '2001:db8::/129'");
    assert_report(i++, 13, "address 'fe80::1%eth0'");
    assert_report(i++, 14, "address '192.0.2.256'");
    assert_report(i++, 15, "address '192.0.2.1/-1'");
    assert_report(i++, 16, "address '192.0.2.1/0024'");
    assert_report(i++, 17, "number '+442079460000' is not 1 to 15 digits");
    assert_report(i++, 18, "number '44a'");
    assert_report(i++, 19, "number '*'");
    assert_report(i++, 20, "number '44**'");
    assert_report(i++, 21, "number '1234567890123456'");
    assert_report(i++, 22, "number '4*4'");
    assert_report(i++, 23, "customer 'good1' is already defined on line 2");
    assert_report(i++, 24, "number '1234567890123456*'");
    assert_report(i++, 26, "want three to five fields");
    assert_int_equal(nreps, i);
    assert_int_equal(cg_customers_count(c), 2);
    assert_string_equal(cg_customer_name(cg_customers_at(c, 0)), "good1");
    assert_string_equal(cg_customer_name(cg_customers_at(c, 1)), "good3");
    /* The duplicate's address and number did not join the first one. */
    assert_null(found(c, "192.0.2.2"));
    assert_false(cg_customer_owns(cg_customers_at(c, 0), "442"));
    /* A skipped line leaves nothing behind: good2's address is unknown. */
    assert_int_equal(attest(c, "192.0.2.1", "441"), 'A');
    assert_int_equal(attest(c, "192.0.2.3", "123456789012345"), 'A');
    cg_customers_free(c);
}

static void test_bad_bytes(void **state)
{
    static const char text[] = "a,192.0.2.1,441\nb\0x,192.0.2.1,441\nc,192.0.2.1\0,441\n"
                               "d,192.0.2.1,44\0\nd2,192.0.2.9,49";
    struct cg_customers *c = NULL;
    (void)state;
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", text, sizeof text - 1, report_cb, NULL),
                     CG_OK);
    assert_int_equal(nreps, 3);
    assert_report(0, 2, "control character");
    assert_report(1, 3, "address '192.0.2.1?'");
    assert_report(2, 4, "number '44?'");
    assert_int_equal(cg_customers_count(c), 2);
    assert_int_equal(attest(c, "192.0.2.9", "49"), 'A');
    cg_customers_free(c);
}

/* --- limits ---------------------------------------------------------------------- */

static void test_limits_addresses_numbers(void **state)
{
    struct buf b = {0};
    struct cg_customers *c;
    char item[64];
    unsigned i;
    (void)state;
    /* line 1: 1,024 addresses (fine); line 2: 1,025 (reported, skipped) */
    for (int line = 0; line < 2; line++) {
        snprintf(item, sizeof item, "addr%d,", line);
        puts_(&b, item);
        for (i = 0; i < CG_CUSTOMER_ADDRS_MAX + (unsigned)line; i++) {
            snprintf(item, sizeof item, "%s10.%u.%u.%u", i ? ";" : "", line, i / 256, i % 256);
            puts_(&b, item);
        }
        puts_(&b, ",441\n");
    }
    /* line 3: 100,000 numbers; line 4: 100,001 */
    for (int line = 0; line < 2; line++) {
        snprintf(item, sizeof item, "num%d,192.0.2.%d,", line, line + 1);
        puts_(&b, item);
        for (i = 0; i < CG_CUSTOMER_NUMBERS_MAX + (unsigned)line; i++) {
            snprintf(item, sizeof item, "%s44%09u", i ? ";" : "", i);
            puts_(&b, item);
        }
        puts_(&b, "\n");
    }
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", b.p, b.n, report_cb, NULL), CG_OK);
    assert_int_equal(nreps, 2);
    assert_report(0, 2, "more than 1024 addresses");
    assert_report(1, 4, "more than 100000 numbers");
    assert_int_equal(cg_customers_count(c), 2);
    assert_int_equal(cg_customer_addresses(by_name(c, "addr0")), CG_CUSTOMER_ADDRS_MAX);
    assert_int_equal(cg_customer_numbers(by_name(c, "num0")), CG_CUSTOMER_NUMBERS_MAX);
    assert_null(by_name(c, "addr1"));
    assert_null(by_name(c, "num1"));
    assert_string_equal(found(c, "10.0.3.255"), "addr0");
    assert_null(found(c, "10.1.0.0")); /* not truncated into the set */
    assert_null(found(c, "192.0.2.2"));
    assert_int_equal(attest(c, "192.0.2.1", "44000099999"), 'A');
    cg_customers_free(c);
    free(b.p);
}

static void test_limits_names_lines(void **state)
{
    struct buf b = {0};
    struct cg_customers *c;
    char name[CG_CUSTOMER_NAME_MAX + 2];
    (void)state;
    memset(name, 'n', sizeof name - 1);
    name[CG_CUSTOMER_NAME_MAX] = '\0';
    puts_(&b, name);
    puts_(&b, ",192.0.2.1,441\n");
    name[CG_CUSTOMER_NAME_MAX] = 'X';
    name[CG_CUSTOMER_NAME_MAX + 1] = '\0';
    puts_(&b, name);
    puts_(&b, ",192.0.2.2,442\n");
    /* a line of 2 MiB (fine) and one of 2 MiB + 1 byte: a customer with
     * many empty items */
    for (int extra = 0; extra < 2; extra++) {
        size_t start = b.n;
        puts_(&b, extra ? "long2,192.0.2.4,444" : "long1,192.0.2.3,443");
        while (b.n - start < CG_CUSTOMERS_LINE_MAX - 1 + (size_t)extra)
            puts_(&b, ";");
        puts_(&b, "4\r\n"); /* the line end is not part of the line */
    }
    puts_(&b, "after,192.0.2.5,445\n");
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", b.p, b.n, report_cb, NULL), CG_OK);
    assert_int_equal(nreps, 2);
    assert_report(0, 2, "name longer than 255 bytes");
    assert_report(1, 4, "line longer than 2097152 bytes");
    assert_int_equal(cg_customers_count(c), 3);
    assert_int_equal(strlen(cg_customer_name(cg_customers_at(c, 0))), CG_CUSTOMER_NAME_MAX);
    assert_string_equal(cg_customer_name(cg_customers_at(c, 1)), "long1");
    assert_int_equal(attest(c, "192.0.2.3", "443"), 'A');
    assert_int_equal(attest(c, "192.0.2.3", "4"), 'A');
    assert_string_equal(cg_customer_name(cg_customers_at(c, 2)), "after");
    cg_customers_free(c);
    free(b.p);
}

static void test_limit_customers(void **state)
{
    struct buf b = {0};
    struct cg_customers *c;
    char line[64];
    unsigned i;
    (void)state;
    puts_(&b, "customer,addresses,numbers\n");
    for (i = 0; i < CG_CUSTOMERS_MAX + 2; i++) {
        snprintf(line, sizeof line, "c%u,10.%u.%u.%u,44%u\n", i, i >> 16, (i >> 8) & 255, i & 255,
                 i);
        puts_(&b, line);
    }
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", b.p, b.n, report_cb, NULL), CG_OK);
    assert_int_equal(nreps, 2);
    assert_report(0, CG_CUSTOMERS_MAX + 2, "more than 100000 customers");
    assert_report(1, CG_CUSTOMERS_MAX + 3, "more than 100000 customers");
    assert_int_equal(cg_customers_count(c), CG_CUSTOMERS_MAX);
    assert_int_equal(attest(c, "10.1.134.159", "4499999"), 'A'); /* the last one loaded */
    /* every name is found by its index, and one past the limit is not */
    for (i = 0; i < CG_CUSTOMERS_MAX; i += 997) {
        snprintf(line, sizeof line, "c%u", i);
        assert_ptr_equal(cg_customers_by_name(c, line), cg_customers_at(c, i));
    }
    assert_ptr_equal(cg_customers_by_name(c, "c99999"), cg_customers_at(c, CG_CUSTOMERS_MAX - 1));
    assert_null(cg_customers_by_name(c, "c100000"));
    assert_int_equal(attest(c, "10.1.134.160", "44100000"), 'C');
    cg_customers_free(c);
    free(b.p);
}

static void test_limit_file(void **state)
{
    char *big, path[] = "/tmp/cg-customers-XXXXXX";
    struct cg_customers *c = NULL;
    int fd;
    (void)state;
    big = calloc(1, (size_t)CG_CUSTOMERS_FILE_MAX + 1); /* zero pages, never touched */
    assert_non_null(big);
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", big, (size_t)CG_CUSTOMERS_FILE_MAX + 1,
                                            report_cb, NULL),
                     CG_ETOOBIG);
    assert_null(c);
    assert_report(0, 0, "larger than 67108864 bytes");
    free(big);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)CG_CUSTOMERS_FILE_MAX + 1), 0);
    close(fd);
    nreps = 0;
    assert_int_equal(cg_customers_load_file(&c, path, report_cb, NULL), CG_ETOOBIG);
    assert_null(c);
    assert_int_equal(nreps, 1);
    assert_int_equal(reps[0].line, 0);
    assert_string_equal(reps[0].file, path);
    unlink(path);
}

/* --- files ------------------------------------------------------------------------ */

static void test_load_file(void **state)
{
    char path[] = "/tmp/cg-customers-XXXXXX";
    struct cg_customers *c = NULL;
    FILE *f;
    int fd;
    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("customer,addresses,numbers\nlab,127.0.0.1;::1,4420794600*\nbad,x,1\n", f);
    fclose(f);
    nreps = 0;
    assert_int_equal(cg_customers_load_file(&c, path, report_cb, NULL), CG_OK);
    assert_int_equal(cg_customers_count(c), 1);
    assert_int_equal(nreps, 1);
    assert_string_equal(reps[0].file, path);
    assert_int_equal(reps[0].line, 3);
    assert_int_equal(attest(c, "::1", "442079460042"), 'A');
    cg_customers_free(c);
    c = NULL;
    /* An empty file is an empty set. */
    f = fopen(path, "w");
    fclose(f);
    assert_int_equal(cg_customers_load_file(&c, path, NULL, NULL), CG_OK);
    assert_int_equal(cg_customers_count(c), 0);
    cg_customers_free(c);
    unlink(path);
    c = NULL;
    assert_int_equal(cg_customers_load_file(&c, path, NULL, NULL), CG_EIO);
    assert_null(c);
}

/* Only a regular file is read: a FIFO without a writer would block the
 * reader (the daemon's main thread, at a reload) and a device feed it
 * without end.  Each is refused at once, saying why with line 0. */
static void test_load_not_regular(void **state)
{
    char dir[] = "/tmp/cg-customers-XXXXXX", fifo[64];
    static const struct {
        const char *path, *why;
    } rows[] = {{"/dev/zero", "not a regular file"},
                {"/dev/null", "not a regular file"},
                {"/", "is a directory"},
                {"/nonexistent/customers.csv", "No such file or directory"},
                {NULL, "not a regular file"}}; /* the FIFO */
    struct cg_customers *c = NULL;
    size_t i;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *path = rows[i].path ? rows[i].path : fifo;
        nreps = 0;
        assert_int_equal(cg_customers_load_file(&c, path, report_cb, NULL), CG_EIO);
        assert_null(c);
        assert_int_equal(nreps, 1);
        assert_int_equal(reps[0].line, 0);
        assert_string_equal(reps[0].file, path);
        assert_string_equal(reps[0].msg, rows[i].why);
    }
    unlink(fifo);
    rmdir(dir);
}

/* --- attestation ------------------------------------------------------------------- */

static void test_attest(void **state)
{
    struct cg_customers *c = load("customer,addresses,numbers\n"
                                  "acme,192.0.2.10,442079460000;4420794601*\n"
                                  "shared1,198.51.100.1,14155550100\n"
                                  "shared2,198.51.100.1;198.51.100.0/24,14155550101\n"
                                  "shared3,198.51.100.0/24,14155550102\n"
                                  "noaddr,,14155550103\n"
                                  "nonumbers,203.0.113.1,\n");
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(attest(c, "192.0.2.10", "442079460000"), 'A');
    assert_int_equal(attest(c, "192.0.2.10", "442079460155"), 'A');
    assert_int_equal(attest(c, "192.0.2.10", "14155550100"), 'B');
    assert_int_equal(attest(c, "192.0.2.10", NULL), 'B');
    assert_int_equal(attest(c, "192.0.2.10", ""), 'B');
    assert_int_equal(attest(c, "192.0.2.10", "#442079460000"), 'B');
    assert_int_equal(attest(c, "192.0.2.10", "44207946000x"), 'B');
    assert_int_equal(attest(c, "192.0.2.11", "442079460000"), 'C');
    assert_int_equal(attest(c, "192.0.2.11", NULL), 'C');
    /* several customers on one address: A when any of them owns the number */
    assert_int_equal(attest(c, "198.51.100.1", "14155550100"), 'A');
    assert_int_equal(attest(c, "198.51.100.1", "14155550101"), 'A');
    assert_int_equal(attest(c, "198.51.100.1", "14155550102"), 'A');
    assert_int_equal(attest(c, "198.51.100.1", "14155550103"), 'B');
    assert_int_equal(attest(c, "198.51.100.2", "14155550100"), 'B');
    assert_int_equal(attest(c, "198.51.100.2", "14155550102"), 'A');
    assert_int_equal(attest(c, "203.0.113.1", "14155550103"), 'B');
    assert_string_equal(found(c, "198.51.100.1"), "shared1"); /* the first in file order */
    assert_string_equal(found(c, "198.51.100.77"), "shared2");
    assert_string_equal(found(c, "203.0.113.1"), "nonumbers");
    cg_customers_free(c);
}

/* Many customers behind one address, and one number owned by many: both
 * ways of intersecting the two sets. */
static void test_attest_crowds(void **state)
{
    struct buf b = {0};
    struct cg_customers *c;
    char line[96];
    unsigned i;
    (void)state;
    for (i = 0; i < 3000; i++) {
        /* everyone shares 192.0.2.1; each also has its own 10.x address and
         * number; everyone owns 4477* and only the last owns 4499 */
        snprintf(line, sizeof line, "c%u,192.0.2.1;10.0.%u.%u,4400%u;4477*%s\n", i, i / 256,
                 i % 256, i, i == 2999 ? ";4499" : "");
        puts_(&b, line);
    }
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", b.p, b.n, report_cb, NULL), CG_OK);
    assert_int_equal(nreps, 0);
    assert_int_equal(attest(c, "192.0.2.1", "4499"), 'A');
    assert_int_equal(attest(c, "192.0.2.1", "44002999"), 'A');
    assert_int_equal(attest(c, "192.0.2.1", "4400"), 'B');
    assert_int_equal(attest(c, "192.0.2.1", "447700000"), 'A');
    assert_int_equal(attest(c, "10.0.11.183", "44002999"), 'A');
    assert_int_equal(attest(c, "10.0.11.183", "44002998"), 'B');
    assert_int_equal(attest(c, "10.0.11.183", "4477123"), 'A');
    assert_int_equal(attest(c, "10.0.0.0", "44000"), 'A');
    assert_int_equal(attest(c, "10.0.0.0", "44001"), 'B');
    assert_string_equal(found(c, "192.0.2.1"), "c0");
    assert_string_equal(found(c, "10.0.11.183"), "c2999");
    cg_customers_free(c);
    free(b.p);
}

/* --- address families -------------------------------------------------------------- */

static void test_mapped(void **state)
{
    struct cg_customers *c = load("v4,192.0.2.0/24,441\n"
                                  "mappedrow,::ffff:198.51.100.0/120,442\n"
                                  "mappedhost,::ffff:203.0.113.5,443\n"
                                  "all6,::/0,444\n"
                                  "wide6,::ffff:0:0/95,445\n");
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(attest(c, "::ffff:192.0.2.77", "441"), 'A');
    assert_int_equal(attest(c, "192.0.2.77", "441"), 'A');
    assert_string_equal(found(c, "::ffff:192.0.2.77"), "v4");
    assert_int_equal(attest(c, "198.51.100.9", "442"), 'A');
    assert_int_equal(attest(c, "::ffff:198.51.100.9", "442"), 'A');
    assert_int_equal(attest(c, "203.0.113.5", "443"), 'A');
    assert_int_equal(attest(c, "::ffff:203.0.113.5", "443"), 'A');
    assert_int_equal(attest(c, "203.0.113.6", "443"), 'C');
    /* IPv6 rows never take an IPv4 client, mapped or not */
    assert_int_equal(attest(c, "8.8.8.8", "444"), 'C');
    assert_int_equal(attest(c, "::ffff:8.8.8.8", "444"), 'C');
    assert_int_equal(attest(c, "2001:db8::1", "444"), 'A');
    assert_string_equal(found(c, "2001:db8::1"), "all6");
    assert_int_equal(attest(c, "::fffe:0:1", "445"), 'A');
    cg_customers_free(c);

    /* IPv4 rows never take an IPv6 client, even "everything" */
    c = load("all4,0.0.0.0/0,1\n");
    assert_int_equal(attest(c, "8.8.8.8", "1"), 'A');
    assert_int_equal(attest(c, "::ffff:8.8.8.8", "1"), 'A');
    assert_int_equal(attest(c, "2001:db8::1", "1"), 'C');
    assert_int_equal(attest(c, "::", "1"), 'C');
    assert_int_equal(attest(c, "::8.8.8.8", "1"), 'C'); /* IPv4-compatible is not mapped */
    cg_customers_free(c);
}

static void test_ipv6_and_lengths(void **state)
{
    struct cg_customers *c = load("a,2001:db8:1::/48,1\n"
                                  "b,2001:db8:2::1,2\n"
                                  "c,2001:db8:3:0:8000::/65;2001:db8:4::/63,3\n"
                                  "d,192.0.2.0/31;198.51.100.7/24,4\n"
                                  "e,2001:DB8:5::1/128,5\n");
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(attest(c, "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "1"), 'A');
    assert_int_equal(attest(c, "2001:db8:0:ffff::1", "1"), 'C');
    assert_int_equal(attest(c, "2001:db8:2::1", "2"), 'A');
    assert_int_equal(attest(c, "2001:db8:2::2", "2"), 'C');
    assert_int_equal(attest(c, "2001:db8:3::8000:0:0:1", "3"), 'A');
    assert_int_equal(attest(c, "2001:db8:3::7fff:0:0:1", "3"), 'C');
    assert_int_equal(attest(c, "2001:db8:4:1:ffff::", "3"), 'A');
    assert_int_equal(attest(c, "2001:db8:4:2::", "3"), 'C');
    assert_int_equal(attest(c, "192.0.2.1", "4"), 'A');
    assert_int_equal(attest(c, "192.0.2.2", "4"), 'C');
    assert_int_equal(attest(c, "198.51.100.200", "4"), 'A'); /* host bits ignored */
    assert_int_equal(attest(c, "2001:db8:5::1", "5"), 'A');
    cg_customers_free(c);
}

static void test_other_family(void **state)
{
    struct cg_customers *c = load("a,0.0.0.0/0;::/0,1\n");
    struct sockaddr_storage s;
    (void)state;
    memset(&s, 0, sizeof s);
    s.ss_family = AF_UNIX;
    assert_int_equal(cg_customers_attest(c, &s, "1"), 'C');
    assert_null(cg_customers_find(c, &s));
    assert_int_equal(cg_customers_attest(c, NULL, "1"), 'C');
    assert_null(cg_customers_find(c, NULL));
    cg_customers_free(c);
}

/* --- numbers ------------------------------------------------------------------------- */

static void test_prefix_exact(void **state)
{
    struct cg_customers *c = load("a,192.0.2.1,4420794600;4420794601*;1*;999999999999999\n"
                                  "b,192.0.2.2,0044*;44\n");
    const struct cg_customer *a = cg_customers_at(c, 0), *b = cg_customers_at(c, 1);
    (void)state;
    assert_true(cg_customer_owns(a, "4420794600"));
    assert_false(cg_customer_owns(a, "44207946000")); /* exact is exact */
    assert_false(cg_customer_owns(a, "442079460"));
    assert_true(cg_customer_owns(a, "4420794601")); /* a prefix holds itself */
    assert_true(cg_customer_owns(a, "44207946019"));
    assert_false(cg_customer_owns(a, "442079460"));
    assert_true(cg_customer_owns(a, "1"));
    assert_true(cg_customer_owns(a, "123456789012345678901234")); /* CG_TN_MAX digits */
    assert_false(cg_customer_owns(a, "1234567890123456789012345"));
    assert_true(cg_customer_owns(a, "999999999999999"));
    assert_false(cg_customer_owns(a, "99999999999999"));
    assert_false(cg_customer_owns(a, "*1"));
    assert_false(cg_customer_owns(a, "#1"));
    assert_false(cg_customer_owns(a, "1 "));
    assert_false(cg_customer_owns(a, ""));
    assert_false(cg_customer_owns(a, NULL));
    /* leading zeros count: "0044*" is not "44*" */
    assert_true(cg_customer_owns(b, "004412"));
    assert_false(cg_customer_owns(b, "4412"));
    assert_true(cg_customer_owns(b, "44"));
    assert_false(cg_customer_owns(b, "044"));
    assert_false(cg_customer_owns(b, "1")); /* not a's */
    assert_false(cg_customer_owns(NULL, "1"));
    cg_customers_free(c);
}

/* A number claimed by two customers is each one's. */
static void test_shared_number(void **state)
{
    struct cg_customers *c = load("a,192.0.2.1,4420794600\nb,192.0.2.2,4420794600;44*\n");
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(attest(c, "192.0.2.1", "4420794600"), 'A');
    assert_int_equal(attest(c, "192.0.2.2", "4420794600"), 'A');
    assert_int_equal(attest(c, "192.0.2.1", "4420794601"), 'B');
    assert_int_equal(attest(c, "192.0.2.2", "4420794601"), 'A');
    cg_customers_free(c);
}

static void test_big_customer(void **state)
{
    struct buf b = {0};
    struct cg_customers *c;
    const struct cg_customer *big;
    char item[32];
    unsigned i, a = 0;
    (void)state;
    puts_(&b, "customer,addresses,numbers\n"
              "small,192.0.2.1,14155550100\n"
              "big,192.0.2.2;2001:db8::/32,");
    for (i = 0; i < 50000; i++) {
        snprintf(item, sizeof item, "%s1415%07u", i ? ";" : "", i * 7);
        puts_(&b, item);
    }
    puts_(&b, "\n");
    c = load(b.p);
    assert_int_equal(nreps, 0);
    big = cg_customers_at(c, 1);
    assert_int_equal(cg_customer_numbers(big), 50000);
    for (i = 0; i < 350000; i++) {
        snprintf(item, sizeof item, "1415%07u", i);
        assert_int_equal(cg_customer_owns(big, item), i % 7 == 0);
        if (i % 7 == 0) {
            a += attest(c, "192.0.2.2", item) == 'A';
            a += attest(c, "2001:db8:ffff::1", item) == 'A';
            a += attest(c, "192.0.2.1", item) == 'A'; /* small's address: never */
        }
    }
    assert_int_equal(a, 100000);
    assert_int_equal(attest(c, "192.0.2.1", "14155550100"), 'A');
    assert_int_equal(attest(c, "192.0.2.2", "14155550100"), 'B');
    cg_customers_free(c);
    free(b.p);
}

/* --- NULL and empty -------------------------------------------------------------------- */

static void test_null_empty(void **state)
{
    struct cg_customers *c = NULL, *e;
    struct sockaddr_storage s = sa("192.0.2.1");
    (void)state;
    assert_int_equal(cg_customers_new_empty(&e), CG_OK);
    assert_int_equal(cg_customers_new_empty(NULL), CG_EINVAL);
    assert_int_equal(cg_customers_count(NULL), 0);
    assert_int_equal(cg_customers_count(e), 0);
    assert_null(cg_customers_at(NULL, 0));
    assert_null(cg_customers_at(e, 0));
    assert_null(cg_customers_find(NULL, &s));
    assert_null(cg_customers_find(e, &s));
    assert_int_equal(cg_customers_attest(NULL, &s, "1"), 'C');
    assert_int_equal(cg_customers_attest(e, &s, "1"), 'C');
    assert_int_equal(cg_customers_attest(e, NULL, NULL), 'C');
    assert_string_equal(cg_customer_name(NULL), "");
    assert_int_equal(cg_customer_numbers(NULL), 0);
    assert_int_equal(cg_customer_addresses(NULL), 0);
    cg_customers_free(e);
    cg_customers_free(NULL);

    assert_int_equal(cg_customers_load_text(NULL, "t", "a,,", 3, NULL, NULL), CG_EINVAL);
    assert_int_equal(cg_customers_load_text(&c, "t", NULL, 1, NULL, NULL), CG_EINVAL);
    assert_null(c);
    assert_int_equal(cg_customers_load_text(&c, NULL, NULL, 0, NULL, NULL), CG_OK);
    assert_int_equal(cg_customers_count(c), 0);
    cg_customers_free(c);
    c = NULL;
    assert_int_equal(cg_customers_load_file(NULL, "/dev/null", NULL, NULL), CG_EINVAL);
    assert_int_equal(cg_customers_load_file(&c, NULL, NULL, NULL), CG_EINVAL);
    assert_int_equal(cg_customers_load_file(&c, "/dev/null", NULL, NULL), CG_EIO);
    assert_null(c);
    /* Without a callback bad lines are still skipped; the name defaults. */
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, NULL, "x,y,z\n", 6, report_cb, NULL), CG_OK);
    assert_int_equal(nreps, 1);
    assert_string_equal(reps[0].file, "customers");
    cg_customers_free(c);
    assert_int_equal(cg_customers_load_text(&c, "t", "x,y,z\n", 6, NULL, NULL), CG_OK);
    assert_int_equal(cg_customers_count(c), 0);
    cg_customers_free(c);
}

/* --- against a reference ---------------------------------------------------------------- */

struct ref_customer {
    char addrs[8][48];
    int naddrs;
    char numbers[8][20];
    int nnumbers;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void rnd_addr(char *out, size_t cap, bool with_len)
{
    static const int v4lens[] = {0, 8, 16, 23, 24, 25, 30, 31, 32};
    static const int v6lens[] = {0, 32, 48, 63, 64, 65, 96, 120, 127, 128};
    int k = (int)rnd(4);
    if (k == 0 || k == 1) {
        snprintf(out, cap, "10.%u.%u.%u", rnd(2), rnd(3), rnd(6));
        if (with_len)
            snprintf(out + strlen(out), cap - strlen(out), "/%d", v4lens[rnd(9)]);
    } else if (k == 2) {
        snprintf(out, cap, "2001:db8:%x::%x:%x", rnd(2), rnd(3), rnd(6));
        if (with_len)
            snprintf(out + strlen(out), cap - strlen(out), "/%d", v6lens[rnd(10)]);
    } else {
        snprintf(out, cap, "::ffff:10.%u.%u.%u", rnd(2), rnd(3), rnd(6));
        if (with_len)
            snprintf(out + strlen(out), cap - strlen(out), "/%d", 96 + v4lens[rnd(9)]);
    }
}

static void rnd_number(char *out, size_t cap, bool may_be_prefix)
{
    unsigned len = 1 + rnd(6), i;
    for (i = 0; i < len && i < cap - 2; i++)
        out[i] = (char)('1' + rnd(3));
    if (may_be_prefix && rnd(3) == 0)
        out[i++] = '*';
    out[i] = '\0';
}

static bool ref_owns(const struct ref_customer *r, const char *tn)
{
    int k;
    for (k = 0; k < r->nnumbers; k++) {
        const char *n = r->numbers[k];
        size_t l = strlen(n);
        if (n[l - 1] == '*' ? strncmp(tn, n, l - 1) == 0 : strcmp(tn, n) == 0)
            return true;
    }
    return false;
}

static void test_reference(void **state)
{
    enum { NC = 60, QUERIES = 20000 };
    static struct ref_customer ref[NC];
    struct buf b = {0};
    struct cg_customers *c;
    int i, j, q;
    (void)state;
    for (i = 0; i < NC; i++) {
        char line[32];
        snprintf(line, sizeof line, "c%d,", i);
        puts_(&b, line);
        ref[i].naddrs = (int)rnd(4);
        for (j = 0; j < ref[i].naddrs; j++) {
            rnd_addr(ref[i].addrs[j], sizeof ref[i].addrs[j], true);
            if (j)
                puts_(&b, ";");
            puts_(&b, ref[i].addrs[j]);
        }
        puts_(&b, ",");
        ref[i].nnumbers = (int)rnd(6);
        for (j = 0; j < ref[i].nnumbers; j++) {
            rnd_number(ref[i].numbers[j], sizeof ref[i].numbers[j], true);
            if (j)
                puts_(&b, ";");
            puts_(&b, ref[i].numbers[j]);
        }
        puts_(&b, "\n");
    }
    c = load(b.p);
    assert_int_equal(nreps, 0);
    for (q = 0; q < QUERIES; q++) {
        char ip[48], tn[20];
        struct sockaddr_storage s;
        const struct cg_customer *got;
        int first = -1;
        char want = 'C';
        rnd_addr(ip, sizeof ip, false);
        rnd_number(tn, sizeof tn, false);
        s = sa(ip);
        for (i = 0; i < NC; i++) {
            bool holds = false;
            for (j = 0; j < ref[i].naddrs && !holds; j++)
                holds = cg_addr_in_cidr(&s, ref[i].addrs[j]);
            if (!holds)
                continue;
            if (first < 0)
                first = i;
            if (want == 'C')
                want = 'B';
            if (ref_owns(&ref[i], tn))
                want = 'A';
        }
        got = cg_customers_find(c, &s);
        if (cg_customers_attest(c, &s, tn) != want ||
            (first < 0 ? got != NULL : got != cg_customers_at(c, (size_t)first)))
            fail_msg("%s %s: want %c and c%d, got %c and %s", ip, tn, want, first,
                     cg_customers_attest(c, &s, tn), got ? cg_customer_name(got) : "none");
    }
    cg_customers_free(c);
    free(b.p);
}

/* --- tokens ------------------------------------------------------------------------ */

/* The file's form of a token's hash. */
static const char *hash_of(const char *token, char out[CG_CUSTOMER_TOKEN_HASH_SIZE])
{
    assert_int_equal(cg_customers_token_hash(token, strlen(token), out), CG_OK);
    return out;
}

static const struct cg_customer *by_token(const struct cg_customers *c, const char *token)
{
    return cg_customers_by_token(c, token, strlen(token));
}

static void test_token_hash(void **state)
{
    char out[CG_CUSTOMER_TOKEN_HASH_SIZE], big[CG_CUSTOMER_TOKEN_MAX + 1];
    (void)state;
    /* FIPS 180-2, appendix B.1 */
    assert_int_equal(cg_customers_token_hash("abc", 3, out), CG_OK);
    assert_string_equal(out,
                        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(strlen(out) + 1, CG_CUSTOMER_TOKEN_HASH_SIZE);
    /* Only the first `len` bytes count. */
    assert_int_equal(cg_customers_token_hash("abcdef", 3, out), CG_OK);
    assert_string_equal(out + 7,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    memset(big, 'x', sizeof big);
    assert_int_equal(cg_customers_token_hash(big, CG_CUSTOMER_TOKEN_MAX, out), CG_OK);
    assert_int_equal(strlen(out), 71);
    assert_int_equal(cg_customers_token_hash(big, CG_CUSTOMER_TOKEN_MAX + 1, out), CG_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(cg_customers_token_hash("abc", 0, out), CG_EPARSE);
    assert_int_equal(cg_customers_token_hash("abc\n", 4, out), CG_EPARSE); /* read with its end */
    assert_int_equal(cg_customers_token_hash("a c", 3, out), CG_EPARSE);
    assert_int_equal(cg_customers_token_hash("a\0c", 3, out), CG_EPARSE);
    assert_int_equal(cg_customers_token_hash("\x7f", 1, out), CG_EPARSE);
    assert_int_equal(cg_customers_token_hash("\xc3\xa9", 2, out), CG_EPARSE);
    assert_int_equal(cg_customers_token_hash(NULL, 3, out), CG_EINVAL);
    assert_int_equal(cg_customers_token_hash("abc", 3, NULL), CG_EINVAL);
    /* Every printable byte but space is allowed. */
    for (int ch = 0x21; ch <= 0x7e; ch++) {
        char t = (char)ch;
        assert_int_equal(cg_customers_token_hash(&t, 1, out), CG_OK);
    }
}

static void test_tokens_three_columns(void **state)
{
    struct cg_customers *c = load("customer,addresses,numbers\n"
                                  "acme,192.0.2.10,4420794600*\n"
                                  "lab,127.0.0.1,1415555010*\n");
    (void)state;
    assert_int_equal(nreps, 0);
    assert_int_equal(cg_customers_count(c), 2);
    assert_false(cg_customers_any_tokens(c));
    assert_false(cg_customer_has_tokens(cg_customers_at(c, 0)));
    assert_int_equal(cg_customer_tokens(cg_customers_at(c, 0)), 0);
    assert_null(by_token(c, "acme"));
    assert_null(
        by_token(c, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_int_equal(attest(c, "192.0.2.10", "442079460012"), 'A');
    assert_int_equal(attest(c, "192.0.2.10", "14155550100"), 'B');
    cg_customers_free(c);
}

static void test_tokens_parse(void **state)
{
    char text[2048], h1[72], h2[72], h3[72], up[72];
    struct cg_customers *c;
    const struct cg_customer *cu;
    size_t i;
    (void)state;
    hash_of("acme-token-1", h1);
    hash_of("acme-token-2", h2);
    hash_of("api-token", h3);
    /* The same hash in upper case, prefix too. */
    for (i = 0; h3[i]; i++)
        up[i] = (char)(h3[i] >= 'a' && h3[i] <= 'z' ? h3[i] - 32 : h3[i]);
    up[i] = '\0';
    snprintf(text, sizeof text,
             "customer,addresses,numbers,tokens\r\n"
             "acme , 192.0.2.10 , 4420794600* , %s ; ; %s ;%s\r\n"
             "lab,127.0.0.1,1415555010*\n"
             "api,,4420794602*,%s\n"
             "none,,4420794603*,\n"
             "blank,,, \n",
             h1, h2, h1, up);
    c = load(text);
    assert_int_equal(nreps, 0);
    assert_int_equal(cg_customers_count(c), 5);
    assert_true(cg_customers_any_tokens(c));
    cu = by_name(c, "acme");
    assert_int_equal(cg_customer_tokens(cu), 2); /* the repeated hash once */
    assert_true(cg_customer_has_tokens(cu));
    assert_ptr_equal(by_token(c, "acme-token-1"), cu);
    assert_ptr_equal(by_token(c, "acme-token-2"), cu);
    assert_ptr_equal(by_token(c, "api-token"), by_name(c, "api"));
    assert_int_equal(cg_customer_tokens(by_name(c, "api")), 1);
    assert_false(cg_customer_has_tokens(by_name(c, "lab")));
    assert_false(cg_customer_has_tokens(by_name(c, "none")));
    assert_false(cg_customer_has_tokens(by_name(c, "blank")));
    assert_false(cg_customer_has_tokens(NULL));
    assert_int_equal(cg_customer_tokens(NULL), 0);
    /* Addresses and numbers are read as before. */
    assert_string_equal(found(c, "192.0.2.10"), "acme");
    assert_int_equal(attest(c, "192.0.2.10", "442079460099"), 'A');
    assert_int_equal(cg_customer_numbers(by_name(c, "api")), 1);
    cg_customers_free(c);
}

static void test_tokens_match(void **state)
{
    char text[4096], h[3][72], big[CG_CUSTOMER_TOKEN_MAX + 1];
    struct cg_customers *c, *e;
    const struct cg_customer *a, *b2;
    (void)state;
    memset(big, 'k', sizeof big);
    big[CG_CUSTOMER_TOKEN_MAX] = '\0'; /* a token of the largest size */
    hash_of("tok-alpha-7f3c9a", h[0]);
    hash_of("tok-beta-51e0d2", h[1]);
    hash_of(big, h[2]);
    snprintf(text, sizeof text,
             "alpha,192.0.2.1,4420794600*,%s\n"
             "beta,192.0.2.2,4420794601*,%s;%s\n",
             h[0], h[1], h[2]);
    c = load(text);
    assert_int_equal(nreps, 0);
    a = by_name(c, "alpha");
    b2 = by_name(c, "beta");
    assert_ptr_equal(by_token(c, "tok-alpha-7f3c9a"), a);
    assert_ptr_equal(by_token(c, "tok-beta-51e0d2"), b2);
    assert_ptr_equal(cg_customers_by_token(c, big, CG_CUSTOMER_TOKEN_MAX), b2);
    /* Wrong tokens: near misses, another case, with "Bearer ", with spaces
     * or a line end, a hash given as the token, a prefix of a token. */
    assert_null(by_token(c, "tok-alpha-7f3c9b"));
    assert_null(by_token(c, "TOK-ALPHA-7F3C9A"));
    assert_null(by_token(c, "Bearer tok-alpha-7f3c9a"));
    assert_null(by_token(c, " tok-alpha-7f3c9a"));
    assert_null(by_token(c, "tok-alpha-7f3c9a\r\n"));
    assert_null(by_token(c, h[0]));
    assert_null(by_token(c, h[0] + 7));
    assert_null(cg_customers_by_token(c, "tok-alpha-7f3c9a", 15));
    assert_ptr_equal(cg_customers_by_token(c, "tok-alpha-7f3c9a-and-more", 16), a);
    /* Empty, NULL, over-long (one byte more than the largest), NUL inside. */
    assert_null(cg_customers_by_token(c, "", 0));
    assert_null(cg_customers_by_token(c, "tok-alpha-7f3c9a", 0));
    assert_null(cg_customers_by_token(c, NULL, 5));
    assert_null(cg_customers_by_token(c, NULL, 0));
    big[CG_CUSTOMER_TOKEN_MAX] = 'k';
    assert_null(cg_customers_by_token(c, big, CG_CUSTOMER_TOKEN_MAX + 1));
    assert_null(cg_customers_by_token(c, big, SIZE_MAX));
    assert_null(cg_customers_by_token(c, "tok-alpha-7f3c9a\0", 17));
    /* A NULL or empty set. */
    assert_null(by_token(NULL, "tok-alpha-7f3c9a"));
    assert_int_equal(cg_customers_new_empty(&e), CG_OK);
    assert_null(by_token(e, "tok-alpha-7f3c9a"));
    assert_false(cg_customers_any_tokens(e));
    assert_false(cg_customers_any_tokens(NULL));
    cg_customers_free(e);
    cg_customers_free(c);
}

/* The attestation for a customer found by its token. */
static void test_customer_attest(void **state)
{
    char text[512], h[72];
    struct cg_customers *c;
    const struct cg_customer *cu;
    (void)state;
    snprintf(text, sizeof text, "api,,442079460000;4420794601*,%s\nother,,14155550100\n",
             hash_of("api-secret-0c41", h));
    c = load(text);
    cu = by_token(c, "api-secret-0c41");
    assert_non_null(cu);
    assert_int_equal(cg_customer_attest(cu, "442079460000"), 'A');
    assert_int_equal(cg_customer_attest(cu, "442079460155"), 'A');
    assert_int_equal(cg_customer_attest(cu, "442079460001"), 'B');
    assert_int_equal(cg_customer_attest(cu, "14155550100"), 'B'); /* another customer's */
    assert_int_equal(cg_customer_attest(cu, "44207946015x"), 'B');
    assert_int_equal(cg_customer_attest(cu, ""), 'B');
    assert_int_equal(cg_customer_attest(cu, NULL), 'B');
    assert_int_equal(cg_customer_attest(NULL, "442079460000"), 'C');
    assert_int_equal(cg_customer_attest(by_name(c, "other"), "14155550100"), 'A');
    cg_customers_free(c);
}

/* Lookups by name: exact bytes, no folding or trimming, file order kept
 * for cg_customers_at, a repeated name skipped (the first row wins). */
static void test_by_name(void **state)
{
    struct cg_customers *c, *e;
    const struct cg_customer *cu;
    (void)state;
    c = load("customer,addresses,numbers,tokens,signer\n"
             "zulu,192.0.2.30,442079460300*\n"
             "acme,192.0.2.10,442079460000;4420794601*,,resellerx\n"
             "Acme,,14155550100\n"
             "acme,192.0.2.99,449999\n"
             "a,,1\n"
             "acme-2,,2\n");
    assert_int_equal(nreps, 1); /* the second acme */
    assert_int_equal(cg_customers_count(c), 5);
    cu = cg_customers_by_name(c, "acme");
    assert_non_null(cu);
    assert_ptr_equal(cu, cg_customers_at(c, 1));
    assert_string_equal(cg_customer_name(cu), "acme");
    assert_string_equal(cg_customer_signer(cu), "resellerx");
    assert_int_equal(cg_customer_attest(cu, "442079460155"), 'A');
    assert_int_equal(cg_customer_attest(cu, "449999"), 'B'); /* the skipped row's */
    assert_ptr_equal(cg_customers_by_name(c, "Acme"), cg_customers_at(c, 2));
    assert_ptr_equal(cg_customers_by_name(c, "zulu"), cg_customers_at(c, 0));
    assert_ptr_equal(cg_customers_by_name(c, "a"), cg_customers_at(c, 3));
    assert_ptr_equal(cg_customers_by_name(c, "acme-2"), cg_customers_at(c, 4));
    assert_null(cg_customers_by_name(c, "ACME"));
    assert_null(cg_customers_by_name(c, " acme"));
    assert_null(cg_customers_by_name(c, "acme "));
    assert_null(cg_customers_by_name(c, "acm"));
    assert_null(cg_customers_by_name(c, "acme-"));
    assert_null(cg_customers_by_name(c, "zz"));
    assert_null(cg_customers_by_name(c, ""));
    assert_null(cg_customers_by_name(c, NULL));
    assert_null(cg_customers_by_name(NULL, "acme"));
    assert_int_equal(cg_customers_new_empty(&e), CG_OK);
    assert_null(cg_customers_by_name(e, "acme"));
    cg_customers_free(e);
    cg_customers_free(c);
}

static void test_tokens_bad(void **state)
{
    struct buf b = {0};
    struct cg_customers *c;
    char h1[72], h2[72], h3[72], line[8192];
    int i = 0, k;
    (void)state;
    hash_of("first-holder-token", h1);
    hash_of("second-token", h2);
    hash_of("third-token", h3);
    snprintf(line, sizeof line, "first,192.0.2.1,441,%s\n", h1);
    puts_(&b, line);                                                    /* line 1 */
    puts_(&b, "t1,192.0.2.2,442,my-secret-bearer-token\n");             /* 2 */
    snprintf(line, sizeof line, "t2,192.0.2.3,443,%s;%.70s\n", h2, h3); /* 3: 63 digits */
    puts_(&b, line);
    snprintf(line, sizeof line, "t3,192.0.2.4,444,%s0\n", h2); /* 4: 65 digits */
    puts_(&b, line);
    snprintf(line, sizeof line, "t4,192.0.2.5,445,sha1:%s\n", h2 + 7); /* 5 */
    puts_(&b, line);
    snprintf(line, sizeof line, "t5,192.0.2.6,446,%s\n", h2 + 7); /* 6: no prefix */
    puts_(&b, line);
    snprintf(line, sizeof line, "t6,192.0.2.7,447,%.70sg\n", h2); /* 7: not hex */
    puts_(&b, line);
    snprintf(line, sizeof line, "t7,192.0.2.8,448,sha256 :%s\n", h2 + 7); /* 8 */
    puts_(&b, line);
    /* 9: the first customer's hash, in upper case, after a good one */
    snprintf(line, sizeof line, "dup,192.0.2.9,449,%s;SHA256:", h2);
    for (k = 7; h1[k]; k++)
        snprintf(line + strlen(line), 2, "%c", h1[k] >= 'a' ? h1[k] - 32 : h1[k]);
    puts_(&b, line);
    puts_(&b, "\n");
    /* 10: bad tokens do not hide a bad number before them */
    snprintf(line, sizeof line, "t8,192.0.2.10,44x,%s\n", h3);
    puts_(&b, line);
    /* 11: 65 tokens (too many); 12: 64 (fine) */
    for (int extra = 1; extra >= 0; extra--) {
        puts_(&b, extra ? "many1,192.0.2.11,451," : "many0,192.0.2.12,452,");
        for (k = 0; k < (int)CG_CUSTOMER_TOKENS_MAX + extra; k++) {
            char tok[32], h[72];
            snprintf(tok, sizeof tok, "many%d-%d", extra, k);
            if (k)
                puts_(&b, ";");
            puts_(&b, hash_of(tok, h));
        }
        puts_(&b, "\n");
    }
    /* 13: the hash the skipped line 9 tried first is free for a later one */
    snprintf(line, sizeof line, "later,192.0.2.13,453,%s\n", h2);
    puts_(&b, line);
    /* 14: a hash the same line repeats is no duplicate */
    snprintf(line, sizeof line, "again,192.0.2.14,454,%s;%s\n", h3, h3);
    puts_(&b, line);
    nreps = 0;
    assert_int_equal(cg_customers_load_text(&c, "t.csv", b.p, b.n, report_cb, NULL), CG_OK);
    assert_report(i++, 2, "token 1 is not \"sha256:\" and 64 hex digits");
    assert_report(i++, 3, "token 2 is not");
    assert_report(i++, 4, "token 1 is not");
    assert_report(i++, 5, "token 1 is not");
    assert_report(i++, 6, "token 1 is not");
    assert_report(i++, 7, "token 1 is not");
    assert_report(i++, 8, "token 1 is not");
    assert_report(i++, 9, ") is already held by customer 'first' (line 1)");
    assert_report(i++, 10, "number '44x'");
    assert_report(i++, 11, "more than 64 tokens");
    assert_int_equal(nreps, i);
    /* What was pasted in place of a hash is never repeated in a report. */
    for (k = 0; k < nreps; k++)
        assert_null(strstr(reps[k].msg, "my-secret"));
    /* The hash's first digits name it in the duplicate's report. */
    snprintf(line, sizeof line, "token 2 (sha256:%.12s...) is", h1 + 7);
    assert_non_null(strstr(reps[7].msg, line));

    assert_int_equal(cg_customers_count(c), 4);
    assert_ptr_equal(by_token(c, "first-holder-token"), by_name(c, "first"));
    assert_ptr_equal(by_token(c, "second-token"), by_name(c, "later"));
    assert_ptr_equal(by_token(c, "third-token"), by_name(c, "again"));
    assert_int_equal(cg_customer_tokens(by_name(c, "again")), 1);
    assert_int_equal(cg_customer_tokens(by_name(c, "many0")), CG_CUSTOMER_TOKENS_MAX);
    assert_ptr_equal(by_token(c, "many0-63"), by_name(c, "many0"));
    /* Skipped lines leave nothing behind: no address, no token. */
    assert_null(by_name(c, "dup"));
    assert_null(found(c, "192.0.2.9"));
    assert_null(found(c, "192.0.2.11"));
    assert_null(by_token(c, "many1-0"));
    assert_null(by_token(c, "many1-64"));
    cg_customers_free(c);
    free(b.p);
}

/*
 * The last comparison decides, whatever the search saw: stored hashes that
 * differ from the presented token's only in their last byte, only in their
 * first, hashes all below it (the search runs off the end and the last one
 * is the candidate) and all above it.  Then many customers with many
 * tokens, each found, and unknown tokens never found.
 */
static void test_tokens_near_misses(void **state)
{
    static const char *const hex = "0123456789abcdef";
    char h[72], text[1024], w[4][72];
    struct cg_customers *c;
    struct buf b = {0};
    int k;
    (void)state;
    hash_of("the-token", h);
    /* last digit changed, first digit changed, all 0s, all f */
    for (k = 0; k < 4; k++)
        memcpy(w[k], h, sizeof h);
    w[0][70] = hex[(strchr(hex, h[70]) - hex + 1) % 16];
    w[1][7] = hex[(strchr(hex, h[7]) - hex + 1) % 16];
    memset(w[2] + 7, '0', 64);
    memset(w[3] + 7, 'f', 64);
    for (k = 0; k < 4; k++) {
        snprintf(text, sizeof text, "near,192.0.2.1,441,%s\n", w[k]);
        c = load(text);
        assert_int_equal(nreps, 0);
        assert_true(cg_customers_any_tokens(c));
        assert_null(by_token(c, "the-token"));
        cg_customers_free(c);
    }
    /* Below and above together, and the real one among them. */
    snprintf(text, sizeof text, "lo,,,%s;%s\nhi,,,%s;%s\nreal,,,%s\n", w[2], w[0], w[3], w[1], h);
    c = load(text);
    assert_int_equal(nreps, 0);
    assert_ptr_equal(by_token(c, "the-token"), by_name(c, "real"));
    cg_customers_free(c);
    snprintf(text, sizeof text, "lo,,,%s;%s\nhi,,,%s;%s\n", w[2], w[0], w[3], w[1]);
    c = load(text);
    assert_null(by_token(c, "the-token"));
    cg_customers_free(c);

    /* 2,000 customers of 5 tokens each. */
    for (k = 0; k < 2000; k++) {
        char line[512], tok[32];
        snprintf(line, sizeof line, "c%d,,", k);
        puts_(&b, line);
        for (int t = 0; t < 5; t++) {
            snprintf(tok, sizeof tok, "tok-%d-%d", k, t);
            puts_(&b, t ? ";" : ",");
            puts_(&b, hash_of(tok, h));
        }
        puts_(&b, "\n");
    }
    c = load(b.p);
    assert_int_equal(nreps, 0);
    assert_int_equal(cg_customers_count(c), 2000);
    for (k = 0; k < 2000; k++) {
        char tok[32];
        const struct cg_customer *want = cg_customers_at(c, (size_t)k);
        for (int t = 0; t < 5; t++) {
            snprintf(tok, sizeof tok, "tok-%d-%d", k, t);
            assert_ptr_equal(by_token(c, tok), want);
        }
        snprintf(tok, sizeof tok, "tok-%d-5", k);
        assert_null(by_token(c, tok));
        snprintf(tok, sizeof tok, "tok-%d-%d", k + 2000, k % 5);
        assert_null(by_token(c, tok));
    }
    cg_customers_free(c);
    free(b.p);
}

/* --- cg_addr_in_cidr ------------------------------------------------------------------- */

static void test_addr_in_cidr(void **state)
{
    struct sockaddr_storage v4 = sa("192.0.2.77"), m4 = sa("::ffff:192.0.2.77"),
                            v6 = sa("2001:db8::77");
    (void)state;
    assert_true(cg_addr_in_cidr(&v4, "192.0.2.0/24"));
    assert_true(cg_addr_in_cidr(&v4, "192.0.2.77"));
    assert_false(cg_addr_in_cidr(&v4, "192.0.2.78"));
    assert_true(cg_addr_in_cidr(&v4, "0.0.0.0/0"));
    assert_true(cg_addr_in_cidr(&v4, "192.0.2.0/24 "));
    assert_true(cg_addr_in_cidr(&m4, "192.0.2.0/24"));
    assert_true(cg_addr_in_cidr(&m4, "192.0.2.77"));
    assert_true(cg_addr_in_cidr(&v4, "::ffff:192.0.2.0/120"));
    assert_true(cg_addr_in_cidr(&m4, "::ffff:192.0.2.77"));
    assert_false(cg_addr_in_cidr(&v4, "::/0"));
    assert_false(cg_addr_in_cidr(&m4, "::/0"));
    assert_true(cg_addr_in_cidr(&v6, "::/0"));
    assert_true(cg_addr_in_cidr(&v6, "2001:db8::/32"));
    assert_false(cg_addr_in_cidr(&v6, "0.0.0.0/0"));
    assert_false(cg_addr_in_cidr(&v6, "2001:db9::/32"));
    /* a prefix length that is not one matches nothing (it used to be 0) */
    assert_false(cg_addr_in_cidr(&v4, "192.0.2.0/abc"));
    assert_false(cg_addr_in_cidr(&v4, "1.0.0.0/"));
    assert_false(cg_addr_in_cidr(&v4, "192.0.2.0/33"));
    assert_false(cg_addr_in_cidr(&v4, "192.0.2.0/-1"));
    assert_false(cg_addr_in_cidr(&v4, "nonsense"));
    assert_false(cg_addr_in_cidr(NULL, "0.0.0.0/0"));
    assert_false(cg_addr_in_cidr(&v4, NULL));
}

static bool name_is_sbc1(const char *name, void *arg)
{
    (void)arg;
    return strcmp(name, "sbc1") == 0;
}

/* The fifth column: the customer's signer; empty or absent is the default
 * (""), a bad name skips the line, tokens still work beside it. */
static void test_signer_column(void **state)
{
    char hash[CG_CUSTOMER_TOKEN_HASH_SIZE], text[512];
    struct cg_customers *c;
    (void)state;
    assert_int_equal(cg_customers_token_hash("tok-0123456789abcdef", 20, hash), CG_OK);
    snprintf(text, sizeof text,
             "customer,addresses,numbers,tokens,signer\n"
             "three,192.0.2.1,441\n"
             "four,192.0.2.2,442,\n"
             "fiveempty,192.0.2.3,443,, \n"
             "resold,192.0.2.4,444,, reseller-2.b_x \n"
             "withtoken,,445,%s,s1\n"
             "badsigner,192.0.2.6,446,,bad name\n"
             "ctlsigner,192.0.2.7,447,,a\x01"
             "b\n"
             "longsigner,192.0.2.8,448,,"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
             "badtoken,192.0.2.9,449,nothash,s1\n",
             hash);
    c = load(text);
    assert_int_equal(nreps, 4);
    assert_report(0, 7, "signer 'bad name' is not 1 to 64 letters");
    assert_report(1, 8, "signer 'a?b' is not");
    assert_report(2, 9, "signer 'aaaa");
    assert_report(3, 10, "token 1 is not");
    assert_int_equal(cg_customers_count(c), 5);
    assert_string_equal(cg_customer_signer(cg_customers_at(c, 0)), "");
    assert_string_equal(cg_customer_signer(cg_customers_at(c, 1)), "");
    assert_string_equal(cg_customer_signer(cg_customers_at(c, 2)), "");
    assert_string_equal(cg_customer_name(cg_customers_at(c, 3)), "resold");
    assert_string_equal(cg_customer_signer(cg_customers_at(c, 3)), "reseller-2.b_x");
    assert_int_equal(attest(c, "192.0.2.4", "444"), 'A');
    assert_ptr_equal(cg_customers_by_token(c, "tok-0123456789abcdef", 20), cg_customers_at(c, 4));
    assert_string_equal(cg_customer_signer(cg_customers_at(c, 4)), "s1");
    assert_true(cg_customer_owns(cg_customers_at(c, 4), "445"));
    assert_null(found(c, "192.0.2.6"));
    assert_string_equal(cg_customer_signer(NULL), "");
    cg_customers_free(c);
}

static bool name_is_long(const char *name, void *arg)
{
    (void)arg;
    return strlen(name) == 255;
}

static void test_addr_in_cidr_list(void **state)
{
    struct sockaddr_storage v4 = sa("192.0.2.77"), m4 = sa("::ffff:192.0.2.77");
    char long_entry[80];
    (void)state;
    assert_true(cg_addr_in_cidr_list(&v4, "10.0.0.0/8;192.0.2.0/24", ';', NULL, NULL));
    assert_true(cg_addr_in_cidr_list(&m4, ";;192.0.2.77;", ';', NULL, NULL));
    assert_false(cg_addr_in_cidr_list(&v4, "10.0.0.0/8;192.0.3.0/24", ';', NULL, NULL));
    assert_false(cg_addr_in_cidr_list(&v4, "", ';', NULL, NULL));
    assert_false(cg_addr_in_cidr_list(&v4, NULL, ';', NULL, NULL));
    /* cert: entries go to the callback, never to the address parser */
    assert_true(cg_addr_in_cidr_list(&v4, "cert:sbc1", ';', name_is_sbc1, NULL));
    assert_false(cg_addr_in_cidr_list(&v4, "cert:sbc2;10.0.0.1", ';', name_is_sbc1, NULL));
    assert_false(cg_addr_in_cidr_list(&v4, "cert:sbc1", ';', NULL, NULL));
    /* blanks around an entry are not part of it */
    assert_true(cg_addr_in_cidr_list(&v4, "10.0.0.0/8; 192.0.2.0/24 ", ';', NULL, NULL));
    assert_true(cg_addr_in_cidr_list(&v4, "10.0.0.1;\tcert:sbc1", ';', name_is_sbc1, NULL));
    assert_true(cg_cidr_valid("192.0.2.0/24") && cg_cidr_valid("2001:db8::/32") &&
                cg_cidr_valid("::ffff:192.0.2.1") && cg_cidr_valid("10.0.0.1"));
    assert_false(cg_cidr_valid("192.0.2.0/33") || cg_cidr_valid("999.0.0.1") ||
                 cg_cidr_valid("192.0.2.0/") || cg_cidr_valid("") || cg_cidr_valid(NULL) ||
                 cg_cidr_valid("sbc.example"));
    /* a certificate name of 255 bytes is passed whole */
    {
        char list[5 + 256];
        memcpy(list, "cert:", 5);
        memset(list + 5, 'n', 255);
        list[260] = '\0';
        assert_true(cg_addr_in_cidr_list(&v4, list, ';', name_is_long, NULL));
    }
    /* an over-long entry never matches, and does not end the list */
    memset(long_entry, 'x', sizeof long_entry - 1);
    long_entry[sizeof long_entry - 1] = '\0';
    assert_false(cg_addr_in_cidr_list(&v4, long_entry, ';', NULL, NULL));
    {
        char list[128];
        snprintf(list, sizeof list, "%s;192.0.2.0/24", long_entry);
        assert_true(cg_addr_in_cidr_list(&v4, list, ';', NULL, NULL));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_header_optional),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_limits_addresses_numbers),
        cmocka_unit_test(test_limits_names_lines),
        cmocka_unit_test(test_limit_customers),
        cmocka_unit_test(test_limit_file),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_not_regular),
        cmocka_unit_test(test_attest),
        cmocka_unit_test(test_attest_crowds),
        cmocka_unit_test(test_mapped),
        cmocka_unit_test(test_ipv6_and_lengths),
        cmocka_unit_test(test_addr_in_cidr_list),
        cmocka_unit_test(test_other_family),
        cmocka_unit_test(test_prefix_exact),
        cmocka_unit_test(test_shared_number),
        cmocka_unit_test(test_big_customer),
        cmocka_unit_test(test_null_empty),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_token_hash),
        cmocka_unit_test(test_tokens_three_columns),
        cmocka_unit_test(test_tokens_parse),
        cmocka_unit_test(test_tokens_match),
        cmocka_unit_test(test_customer_attest),
        cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_tokens_bad),
        cmocka_unit_test(test_tokens_near_misses),
        cmocka_unit_test(test_addr_in_cidr),
        cmocka_unit_test(test_signer_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
