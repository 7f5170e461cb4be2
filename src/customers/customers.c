/*
 * The customers file (include/cidguard/customers.h), parsed once into
 * sorted arrays so that the call path does binary searches and nothing
 * else: no string parsing, no allocation, no lock.
 *
 * Addresses: every customer's entries, in binary and masked to their
 * prefix length, in one array sorted by (family, prefix length, address,
 * customer).  Each (family, length) pair present is a table: a lookup masks
 * the client address once per length present and searches that table.
 * The entries equal to the masked address form a run sorted by customer.
 *
 * Numbers: (key, customer) pairs sorted by key then customer, one array for
 * exact numbers and one for prefixes.  A key is the digit count shifted
 * left by 50 bits OR'ed with the digits' value (10^15 < 2^50), so that "44"
 * and "044" differ.  A number is looked up exactly once and once per prefix
 * length present in the file.
 *
 * Tokens: (SHA-256, customer) pairs sorted by hash, each hash held by one
 * customer.  A presented token is hashed and its hash searched for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cidguard/customers.h"
#include "cidguard/signers.h"
#include "cidguard/tn.h"
#include "core/internal.h"

#define KEY_SHIFT 50
#define NLENS (CG_CUSTOMER_NUMBER_DIGITS + 1)
#define HASH_LEN 32
#define HASH_PREFIX "sha256:"
#define HASH_PREFIX_LEN 7

/* One address entry of one customer.  IPv4 addresses are in the low 32
 * bits of lo, hi = 0.  The family and length are kept for building. */
struct addr_entry {
    uint64_t hi, lo;
    uint32_t cust;
    uint8_t v6, bits;
};

struct addr_table {
    const struct addr_entry *e;
    size_t n;
};

struct num_pair {
    uint64_t key;
    uint32_t cust;
};

/* (key, customer) pairs, sorted, as two parallel arrays. */
struct num_table {
    uint64_t *key;
    uint32_t *cust;
    size_t n;
};

/* One token hash of one customer. */
struct token_entry {
    unsigned char h[HASH_LEN];
    uint32_t cust;
};

struct cg_customer {
    const struct cg_customers *set;
    const char *name;
    const char *signer; /* "" for the default signer */
    uint32_t index, naddrs, nnumbers, ntokens;
};

struct cg_customers {
    struct cg_customer *cu;
    size_t n;
    char *names;
    struct addr_entry *addrs; /* all tables, back to back */
    struct addr_table v4[33], v6[129];
    uint8_t v4_lens[33], v6_lens[129]; /* lengths that have entries */
    unsigned nv4_lens, nv6_lens;
    struct num_table exact, prefix;
    uint32_t prefix_lens;       /* bit L: some prefix has L digits */
    struct token_entry *tokens; /* sorted by hash, every hash once */
    size_t ntokens;
    const struct cg_customer **by_name; /* every customer, sorted by name (strcmp) */
};

/* --- addresses ------------------------------------------------------------------ */

/* A client address: IPv4 (v6 false, value in lo) or IPv6. */
struct ip {
    bool v6;
    uint64_t hi, lo;
};

static uint64_t be64(const unsigned char *b)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static uint64_t be32(const unsigned char *b)
{
    return (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
}

static bool v4mapped(const unsigned char *b)
{
    static const unsigned char pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(b, pfx, sizeof pfx) == 0;
}

/* 16 or 4 address bytes into an ip; an IPv4-mapped IPv6 address becomes
 * the IPv4 address it carries. */
static void ip_set(struct ip *ip, const unsigned char *b, bool v6)
{
    if (v6 && !v4mapped(b)) {
        ip->v6 = true;
        ip->hi = be64(b);
        ip->lo = be64(b + 8);
    } else {
        ip->v6 = false;
        ip->hi = 0;
        ip->lo = be32(v6 ? b + 12 : b);
    }
}

/* The client address of a struct sockaddr; false for NULL or another
 * family.  Copied out, as the caller's buffer need not be aligned. */
static bool ip_from_sockaddr(const void *addr, struct ip *ip)
{
    sa_family_t fam;
    if (!addr)
        return false;
    memcpy(&fam, (const char *)addr + offsetof(struct sockaddr, sa_family), sizeof fam);
    if (fam == AF_INET) {
        struct sockaddr_in s;
        memcpy(&s, addr, sizeof s);
        ip_set(ip, (const unsigned char *)&s.sin_addr, false);
        return true;
    }
    if (fam == AF_INET6) {
        struct sockaddr_in6 s;
        memcpy(&s, addr, sizeof s);
        ip_set(ip, s.sin6_addr.s6_addr, true);
        return true;
    }
    return false;
}

static uint64_t mask64(unsigned bits)
{
    return bits == 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

/* The address masked to `bits`. */
static void ip_mask(const struct ip *ip, unsigned bits, uint64_t *hi, uint64_t *lo)
{
    if (!ip->v6) {
        *hi = 0;
        *lo = ip->lo & (0xffffffffull << (32 - bits)) & 0xffffffffull;
    } else {
        *hi = ip->hi & mask64(bits > 64 ? 64 : bits);
        *lo = ip->lo & mask64(bits > 64 ? bits - 64 : 0);
    }
}

/* "192.0.2.0/24", "2001:db8::1" ... (s, n) into a masked entry; false when
 * it is not an address with an optional decimal prefix length in range. */
static bool parse_cidr(const char *s, size_t n, struct addr_entry *e)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char b[16];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n, i;
    unsigned bits = 0, max;
    struct ip ip;
    bool v6;
    if (alen == 0 || alen >= sizeof buf)
        return false;
    for (i = 0; i < alen; i++)
        if (!strchr("0123456789abcdefABCDEF:.", s[i]) || !s[i])
            return false;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, b) == 1)
        v6 = false;
    else if (inet_pton(AF_INET6, buf, b) == 1)
        v6 = true;
    else
        return false;
    max = v6 ? 128 : 32;
    if (slash) {
        size_t dl = n - alen - 1;
        if (dl < 1 || dl > 3)
            return false;
        for (i = 0; i < dl; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9')
                return false;
            bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
        }
        if (bits > max)
            return false;
    } else {
        bits = max;
    }
    /* An IPv4-mapped row is an IPv4 row: clients are unmapped before any
     * comparison, so as an IPv6 row it could never match.  A prefix shorter
     * than 96 bits reaches beyond the mapped range and stays IPv6. */
    if (v6 && v4mapped(b) && bits >= 96) {
        ip_set(&ip, b + 12, false);
        bits -= 96;
    } else if (v6) {
        ip.v6 = true;
        ip.hi = be64(b);
        ip.lo = be64(b + 8);
    } else {
        ip_set(&ip, b, false);
    }
    e->v6 = ip.v6;
    e->bits = (uint8_t)bits;
    ip_mask(&ip, bits, &e->hi, &e->lo);
    return true;
}

/* --- numbers ------------------------------------------------------------------ */

static uint64_t num_key(unsigned len, uint64_t value)
{
    return (uint64_t)len << KEY_SHIFT | value;
}

/* "4420794600" or "4420794600*" into a key; false when not 1 to 15 digits
 * with an optional trailing '*'. */
static bool parse_number(const char *s, size_t n, uint64_t *key, bool *prefix)
{
    uint64_t v = 0;
    size_t i;
    *prefix = n && s[n - 1] == '*';
    if (*prefix)
        n--;
    if (n < 1 || n > CG_CUSTOMER_NUMBER_DIGITS)
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *key = num_key((unsigned)n, v);
    return true;
}

/* The keys a number is looked up under: itself, and its leading digits at
 * every prefix length present. */
struct tn_keys {
    bool has_exact;
    uint64_t exact;
    unsigned np;
    uint64_t prefix[NLENS];
};

/* False when `tn` is not 1 to CG_TN_MAX digits. */
static bool tn_keys(const struct cg_customers *c, const char *tn, struct tn_keys *k)
{
    uint64_t v = 0;
    size_t i;
    if (!tn || !tn[0])
        return false;
    k->np = 0;
    for (i = 0; tn[i]; i++) {
        if (i == CG_TN_MAX || tn[i] < '0' || tn[i] > '9')
            return false;
        if (i < CG_CUSTOMER_NUMBER_DIGITS) {
            v = v * 10 + (uint64_t)(tn[i] - '0');
            if (c->prefix_lens & (1u << (i + 1)))
                k->prefix[k->np++] = num_key((unsigned)i + 1, v);
        }
    }
    k->has_exact = i <= CG_CUSTOMER_NUMBER_DIGITS;
    k->exact = num_key((unsigned)i, v);
    return true;
}

/* First index in t whose key is >= key. */
static size_t num_lower(const struct num_table *t, uint64_t key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->key[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether the sorted cust[0 .. n) holds `cust`. */
static bool cust_in(const uint32_t *list, size_t n, uint32_t cust)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list[mid] < cust)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && list[lo] == cust;
}

/* The owners of `key` (sorted), and how many; most numbers have one, so
 * the end of the run is found by galloping from its start. */
static size_t num_run(const struct num_table *t, uint64_t key, const uint32_t **owners)
{
    size_t a = num_lower(t, key), step = 1, lo, hi;
    if (a == t->n || t->key[a] != key)
        return 0;
    lo = a + 1; /* the run ends in [lo, hi] */
    hi = lo;
    while (hi < t->n && t->key[hi] == key) {
        lo = hi + 1;
        hi = hi + step > t->n ? t->n : hi + step;
        step *= 2;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->key[mid] == key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *owners = &t->cust[a];
    return lo - a;
}

/* The owners of a number: one run per key it matches (exact, prefixes). */
struct owner_runs {
    const uint32_t *cust[NLENS + 1];
    size_t n[NLENS + 1];
    unsigned nr;
    size_t total;
};

static void owner_runs(const struct cg_customers *c, const struct tn_keys *k, struct owner_runs *o)
{
    unsigned i;
    o->nr = 0;
    o->total = 0;
    if (k->has_exact && (o->n[o->nr] = num_run(&c->exact, k->exact, &o->cust[o->nr])))
        o->total += o->n[o->nr++];
    for (i = 0; i < k->np; i++)
        if ((o->n[o->nr] = num_run(&c->prefix, k->prefix[i], &o->cust[o->nr])))
            o->total += o->n[o->nr++];
}

static bool owners_have(const struct owner_runs *o, uint32_t cust)
{
    unsigned i;
    for (i = 0; i < o->nr; i++)
        if (cust_in(o->cust[i], o->n[i], cust))
            return true;
    return false;
}

/* --- address lookups ------------------------------------------------------------- */

/* The customers of one table holding an address: e[0 .. n), by customer. */
struct run {
    const struct addr_entry *e;
    size_t n;
};

static bool addr_less(const struct addr_entry *e, uint64_t hi, uint64_t lo)
{
    return e->hi < hi || (e->hi == hi && e->lo < lo);
}

static bool addr_equal(const struct addr_entry *e, uint64_t hi, uint64_t lo)
{
    return e->hi == hi && e->lo == lo;
}

/* The entries of `t` equal to (hi, lo); the end of the run is found by
 * galloping from its start, as most addresses have one customer. */
static struct run table_run(const struct addr_table *t, uint64_t hi, uint64_t lo)
{
    size_t a = 0, b = t->n, step = 1;
    struct run r = {NULL, 0};
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (addr_less(&t->e[mid], hi, lo))
            a = mid + 1;
        else
            b = mid;
    }
    if (a == t->n || !addr_equal(&t->e[a], hi, lo))
        return r;
    r.e = &t->e[a];
    a++; /* the run ends in [a, b] */
    b = a;
    while (b < t->n && addr_equal(&t->e[b], hi, lo)) {
        a = b + 1;
        b = b + step > t->n ? t->n : b + step;
        step *= 2;
    }
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (addr_equal(&t->e[mid], hi, lo))
            a = mid + 1;
        else
            b = mid;
    }
    r.n = (size_t)(&t->e[a] - r.e);
    return r;
}

/* The runs of customers holding `ip`, one per prefix length that matches;
 * `runs` has room for 129.  Returns how many, and their total length. */
static size_t holder_runs(const struct cg_customers *c, const struct ip *ip, struct run *runs,
                          size_t *total)
{
    const struct addr_table *tabs = ip->v6 ? c->v6 : c->v4;
    const uint8_t *lens = ip->v6 ? c->v6_lens : c->v4_lens;
    unsigned nl = ip->v6 ? c->nv6_lens : c->nv4_lens, i;
    size_t nr = 0;
    *total = 0;
    for (i = 0; i < nl; i++) {
        uint64_t hi, lo;
        ip_mask(ip, lens[i], &hi, &lo);
        runs[nr] = table_run(&tabs[lens[i]], hi, lo);
        if (runs[nr].n) {
            *total += runs[nr].n;
            nr++;
        }
    }
    return nr;
}

static bool holders_have(const struct run *runs, size_t nr, uint32_t cust)
{
    size_t i;
    for (i = 0; i < nr; i++) {
        size_t lo = 0, hi = runs[i].n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (runs[i].e[mid].cust < cust)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < runs[i].n && runs[i].e[lo].cust == cust)
            return true;
    }
    return false;
}

/* --- tokens ---------------------------------------------------------------------- */

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetched once, as EVP_sha256() and SHA256() look the implementation up in
 * the provider again on every digest. */
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static bool sha256(const char *s, size_t n, unsigned char h[HASH_LEN])
{
    unsigned int len = 0;
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md && EVP_Digest(s, n, h, &len, sha256_md, NULL) == 1 && len == HASH_LEN;
}

/* CG_OK when (t, n) can be a bearer token: 1 to CG_CUSTOMER_TOKEN_MAX
 * bytes from 0x21 to 0x7e, as an Authorization header carries one. */
static int token_check(const char *t, size_t n)
{
    size_t i;
    if (!t)
        return CG_EINVAL;
    if (!n)
        return CG_EPARSE;
    if (n > CG_CUSTOMER_TOKEN_MAX)
        return CG_ETOOBIG;
    for (i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return CG_EPARSE;
    return CG_OK;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "sha256:" (in either case) and 64 hex digits into the hash's bytes. */
static bool parse_token_hash(const char *s, size_t n, unsigned char h[HASH_LEN])
{
    size_t i;
    if (n != HASH_PREFIX_LEN + 2 * HASH_LEN || !cg__prefix_ci(s, n, HASH_PREFIX))
        return false;
    s += HASH_PREFIX_LEN;
    for (i = 0; i < HASH_LEN; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        h[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* `n` bytes in lowercase hex and a NUL into out (2 * n + 1 bytes). */
static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * The search compares hashes with memcmp, whose time depends on how many
 * leading bytes agree, and only the last comparison, the one that decides,
 * is constant-time.  That is enough because what is compared is the
 * token's SHA-256, not the token.  A byte-by-byte timing attack works by
 * keeping the guess whose first bytes took longer to reject and extending
 * it one byte at a time; here the client chooses the token but not its
 * hash, so learning that a stored hash starts with some bytes gives no way
 * to make a token whose hash starts with them and one byte more (that is a
 * preimage search against SHA-256).  At most the timing tells roughly
 * where the presented token's hash falls among the stored ones, which
 * helps nobody find a token.  CRYPTO_memcmp on the final candidate keeps
 * even a near miss from showing how near it was.
 */
const struct cg_customer *cg_customers_by_token(const struct cg_customers *c, const char *token,
                                                size_t len)
{
    unsigned char h[HASH_LEN];
    size_t lo = 0, hi;
    if (!c || !c->ntokens || token_check(token, len) != CG_OK || !sha256(token, len, h))
        return NULL;
    hi = c->ntokens;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(c->tokens[mid].h, h, HASH_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Past the end, the last hash is the candidate, so that every search
     * ends in one comparison of the same cost. */
    if (lo == c->ntokens)
        lo--;
    if (CRYPTO_memcmp(c->tokens[lo].h, h, HASH_LEN) != 0)
        return NULL;
    return &c->cu[c->tokens[lo].cust];
}

bool cg_customers_any_tokens(const struct cg_customers *c)
{
    return c && c->ntokens > 0;
}

int cg_customers_token_hash(const char *token, size_t len, char out[CG_CUSTOMER_TOKEN_HASH_SIZE])
{
    unsigned char h[HASH_LEN];
    int rc;
    if (!out)
        return CG_EINVAL;
    out[0] = '\0';
    if ((rc = token_check(token, len)) != CG_OK)
        return rc;
    if (!sha256(token, len, h))
        return CG_ECRYPTO;
    memcpy(out, HASH_PREFIX, HASH_PREFIX_LEN);
    to_hex(h, HASH_LEN, out + HASH_PREFIX_LEN);
    return CG_OK;
}

/* --- public lookups -------------------------------------------------------------- */

size_t cg_customers_count(const struct cg_customers *c)
{
    return c ? c->n : 0;
}

const struct cg_customer *cg_customers_at(const struct cg_customers *c, size_t i)
{
    return c && i < c->n ? &c->cu[i] : NULL;
}

/* Names are unique (load_line skips a repeated one), so at most one
 * customer compares equal. */
const struct cg_customer *cg_customers_by_name(const struct cg_customers *c, const char *name)
{
    size_t lo = 0, hi;
    if (!c || !c->n || !name || !name[0])
        return NULL;
    hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->by_name[mid]->name, name);
        if (d == 0)
            return c->by_name[mid];
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct cg_customer *cg_customers_find(const struct cg_customers *c, const void *addr)
{
    struct run runs[129];
    struct ip ip;
    size_t nr, total, i;
    uint32_t best = UINT32_MAX;
    if (!c || !c->n || !ip_from_sockaddr(addr, &ip))
        return NULL;
    nr = holder_runs(c, &ip, runs, &total);
    for (i = 0; i < nr; i++) /* each run starts with its first customer */
        if (runs[i].e[0].cust < best)
            best = runs[i].e[0].cust;
    return best == UINT32_MAX ? NULL : &c->cu[best];
}

const char *cg_customer_name(const struct cg_customer *cu)
{
    return cu ? cu->name : "";
}

const char *cg_customer_signer(const struct cg_customer *cu)
{
    return cu ? cu->signer : "";
}

size_t cg_customer_numbers(const struct cg_customer *cu)
{
    return cu ? cu->nnumbers : 0;
}

size_t cg_customer_addresses(const struct cg_customer *cu)
{
    return cu ? cu->naddrs : 0;
}

size_t cg_customer_tokens(const struct cg_customer *cu)
{
    return cu ? cu->ntokens : 0;
}

bool cg_customer_has_tokens(const struct cg_customer *cu)
{
    return cu && cu->ntokens > 0;
}

bool cg_customer_owns(const struct cg_customer *cu, const char *tn)
{
    struct tn_keys k;
    struct owner_runs o;
    if (!cu || !tn_keys(cu->set, tn, &k))
        return false;
    owner_runs(cu->set, &k, &o);
    return owners_have(&o, cu->index);
}

char cg_customer_attest(const struct cg_customer *cu, const char *tn)
{
    if (!cu)
        return 'C';
    return cg_customer_owns(cu, tn) ? 'A' : 'B';
}

/* Several customers may hold the address (an SBC shared by many) and
 * several may own the number: the smaller of the two sets is walked and
 * each of its customers searched for in the other. */
char cg_customers_attest(const struct cg_customers *c, const void *addr, const char *tn)
{
    struct run runs[129];
    struct owner_runs o;
    struct tn_keys k;
    struct ip ip;
    size_t nr, holders, i, j;
    if (!c || !c->n || !ip_from_sockaddr(addr, &ip))
        return 'C';
    nr = holder_runs(c, &ip, runs, &holders);
    if (!holders)
        return 'C';
    if (!tn_keys(c, tn, &k))
        return 'B';
    owner_runs(c, &k, &o);
    if (holders <= o.total) {
        for (i = 0; i < nr; i++)
            for (j = 0; j < runs[i].n; j++)
                if (owners_have(&o, runs[i].e[j].cust))
                    return 'A';
    } else {
        for (i = 0; i < o.nr; i++)
            for (j = 0; j < o.n[i]; j++)
                if (holders_have(runs, nr, o.cust[i][j]))
                    return 'A';
    }
    return 'B';
}

/* --- loading ---------------------------------------------------------------------- */

struct builder {
    const char *name;
    cg_policy_report_cb cb;
    void *arg;
    /* customers, with their name's and signer's offsets in the pool and
     * their line */
    struct cg_customer *cu;
    size_t *name_off, *signer_off;
    int *line;
    size_t ncu, cucap, offcap, soffcap, linecap;
    char *names;
    size_t nnames, namescap;
    /* name -> customer index + 1, open addressing, power-of-two size */
    uint32_t *htab;
    size_t hcap;
    struct addr_entry *ad;
    size_t nad, adcap;
    struct num_pair *ex, *px;
    size_t nex, excap, npx, pxcap;
    /* token hashes; hash -> entry index + 1, open addressing, power-of-two
     * size */
    struct token_entry *tk;
    size_t ntk, tkcap;
    uint32_t *ttab;
    size_t tcap;
};

/* Grows the array whose pointer is at `arrp` (elements of `size` bytes,
 * capacity *cap) to hold `need`.  The pointer is copied in and out as
 * bytes, as it is not a void * but a pointer to the element type. */
static bool grow(void *arrp, size_t *cap, size_t need, size_t size)
{
    void *p, *np;
    size_t nc;
    if (need <= *cap)
        return true;
    nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    memcpy(&p, arrp, sizeof p);
    if (!(np = realloc(p, nc * size)))
        return false;
    memcpy(arrp, &np, sizeof np);
    *cap = nc;
    return true;
}

static void report(struct builder *b, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct builder *b, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (!b->cb)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->cb(b->name, line, msg, b->arg);
}

/* The next ';'-separated item of (*s, *n), trimmed; false at the end. */
static bool next_item(const char **s, size_t *n, bool *more, const char **item, size_t *len)
{
    const char *semi;
    if (!*more)
        return false;
    semi = memchr(*s, ';', *n);
    *item = *s;
    *len = semi ? (size_t)(semi - *s) : *n;
    *more = semi != NULL;
    if (semi) {
        *n -= *len + 1;
        *s = semi + 1;
    }
    cg__trim_span(item, len);
    return true;
}

/* The charset of signer names (signers.h): they are metrics labels. */
static bool signer_name_ok(const char *s, size_t n)
{
    size_t i;
    if (n > CG_SIGNER_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static uint32_t *name_slot(struct builder *b, const char *s, size_t n)
{
    size_t i = (size_t)cg__fnv1a(s, n) & (b->hcap - 1);
    for (;; i = (i + 1) & (b->hcap - 1)) {
        uint32_t v = b->htab[i];
        const char *nm;
        if (!v)
            return &b->htab[i];
        nm = b->names + b->name_off[v - 1];
        if (strlen(nm) == n && memcmp(nm, s, n) == 0)
            return &b->htab[i];
    }
}

/* Keeps the table at most half full. */
static bool name_table_grow(struct builder *b)
{
    uint32_t *old = b->htab;
    size_t oldcap = b->hcap, i;
    if (b->hcap && (b->ncu + 1) * 2 <= b->hcap)
        return true;
    b->hcap = oldcap ? oldcap * 2 : 64;
    if (!(b->htab = calloc(b->hcap, sizeof *b->htab))) {
        b->htab = old;
        b->hcap = oldcap;
        return false;
    }
    for (i = 0; i < oldcap; i++)
        if (old[i]) {
            const char *nm = b->names + b->name_off[old[i] - 1];
            *name_slot(b, nm, strlen(nm)) = old[i];
        }
    free(old);
    return true;
}

static uint32_t *token_slot(struct builder *b, const unsigned char h[HASH_LEN])
{
    size_t i = (size_t)cg__fnv1a(h, HASH_LEN) & (b->tcap - 1);
    for (;; i = (i + 1) & (b->tcap - 1)) {
        uint32_t v = b->ttab[i];
        if (!v || memcmp(b->tk[v - 1].h, h, HASH_LEN) == 0)
            return &b->ttab[i];
    }
}

/* The customer holding hash h so far, or UINT32_MAX. */
static uint32_t token_holder(struct builder *b, const unsigned char h[HASH_LEN])
{
    uint32_t v;
    if (!b->tcap)
        return UINT32_MAX;
    v = *token_slot(b, h);
    return v ? b->tk[v - 1].cust : UINT32_MAX;
}

/* Room in the hash table and the array for `more` hashes, the table kept
 * at most half full. */
static bool tokens_grow(struct builder *b, size_t more)
{
    uint32_t *old = b->ttab;
    size_t oldcap = b->tcap, need = b->ntk + more, nc, i;
    if (!grow(&b->tk, &b->tkcap, need, sizeof *b->tk))
        return false;
    if (need * 2 <= oldcap)
        return true;
    for (nc = oldcap ? oldcap * 2 : 128; need * 2 > nc; nc *= 2)
        ;
    if (!(b->ttab = calloc(nc, sizeof *b->ttab))) {
        b->ttab = old;
        return false;
    }
    b->tcap = nc;
    for (i = 0; i < oldcap; i++)
        if (old[i])
            *token_slot(b, b->tk[old[i] - 1].h) = old[i];
    free(old);
    return true;
}

/* The tokens field of a line into lt (distinct hashes, *nlt of them).
 * False when the line is to be skipped (reported). */
static bool line_tokens(struct builder *b, const char *f, size_t flen, int lineno,
                        unsigned char lt[][HASH_LEN], size_t *nlt)
{
    const char *item;
    size_t len, count = 0, k;
    bool more = true;
    char buf[2 * 6 + 1];
    *nlt = 0;
    while (next_item(&f, &flen, &more, &item, &len)) {
        uint32_t holder;
        if (!len)
            continue;
        if (++count > CG_CUSTOMER_TOKENS_MAX) {
            report(b, lineno, "more than %u tokens", CG_CUSTOMER_TOKENS_MAX);
            return false;
        }
        /* Not shown: it might be a token pasted instead of its hash. */
        if (!parse_token_hash(item, len, lt[*nlt])) {
            report(b, lineno,
                   "token %zu is not \"sha256:\" and 64 hex digits (the hash of a token, never "
                   "the token)",
                   count);
            return false;
        }
        for (k = 0; k < *nlt && memcmp(lt[k], lt[*nlt], HASH_LEN) != 0; k++)
            ;
        if (k < *nlt)
            continue;
        if ((holder = token_holder(b, lt[*nlt])) != UINT32_MAX) {
            to_hex(lt[*nlt], 6, buf);
            report(b, lineno, "token %zu (sha256:%s...) is already held by customer '%s' (line %d)",
                   count, buf, b->names + b->name_off[holder], b->line[holder]);
            return false;
        }
        (*nlt)++;
    }
    return true;
}

/* One line that is neither blank nor a comment.  Returns CG_OK (loaded,
 * or reported and skipped) or CG_ENOMEM. */
static int load_line(struct builder *b, const char *s, size_t n, int lineno)
{
    const char *end = s + n, *c1 = memchr(s, ',', n), *c2, *c3, *c4, *name, *f, *item, *sg = "";
    size_t nlen, flen, len, i, nad0 = b->nad, nex0 = b->nex, npx0 = b->npx, count, nlt = 0,
                               sglen = 0;
    uint32_t cust = (uint32_t)b->ncu, *slot;
    unsigned char lt[CG_CUSTOMER_TOKENS_MAX][HASH_LEN];
    char buf[72];
    bool more;
    c2 = c1 ? memchr(c1 + 1, ',', (size_t)(end - c1 - 1)) : NULL;
    c3 = c2 ? memchr(c2 + 1, ',', (size_t)(end - c2 - 1)) : NULL;
    c4 = c3 ? memchr(c3 + 1, ',', (size_t)(end - c3 - 1)) : NULL;
    if (!c2 || (c4 && memchr(c4 + 1, ',', (size_t)(end - c4 - 1)))) {
        report(b, lineno,
               "want three to five fields customer,addresses,numbers[,tokens[,signer]] (no "
               "quoting)");
        return CG_OK;
    }
    name = s;
    nlen = (size_t)(c1 - s);
    cg__trim_span(&name, &nlen);
    if (!nlen) {
        report(b, lineno, "customer name is empty");
        return CG_OK;
    }
    if (nlen > CG_CUSTOMER_NAME_MAX) {
        report(b, lineno, "customer name longer than %u bytes", CG_CUSTOMER_NAME_MAX);
        return CG_OK;
    }
    for (i = 0; i < nlen; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f || name[i] == '"') {
            report(b, lineno, "customer name '%s' holds a control character or '\"'",
                   cg__shown(name, nlen, buf, sizeof buf));
            return CG_OK;
        }
    if (b->ncu >= CG_CUSTOMERS_MAX) {
        report(b, lineno, "more than %u customers", CG_CUSTOMERS_MAX);
        return CG_OK;
    }
    if (!name_table_grow(b))
        return CG_ENOMEM;
    slot = name_slot(b, name, nlen);
    if (*slot) {
        report(b, lineno, "customer '%s' is already defined on line %d",
               cg__shown(name, nlen, buf, sizeof buf), b->line[*slot - 1]);
        return CG_OK;
    }

    if (c4) {
        sg = c4 + 1;
        sglen = (size_t)(end - sg);
        cg__trim_span(&sg, &sglen);
        if (sglen && !signer_name_ok(sg, sglen)) {
            report(b, lineno, "signer '%s' is not 1 to %u letters, digits, '.', '_' or '-'",
                   cg__shown(sg, sglen, buf, sizeof buf), CG_SIGNER_NAME_MAX);
            return CG_OK;
        }
    }

    f = c1 + 1;
    flen = (size_t)(c2 - f);
    more = true;
    count = 0;
    while (next_item(&f, &flen, &more, &item, &len)) {
        struct addr_entry e;
        if (!len)
            continue;
        if (++count > CG_CUSTOMER_ADDRS_MAX) {
            report(b, lineno, "more than %u addresses", CG_CUSTOMER_ADDRS_MAX);
            goto skip;
        }
        if (!parse_cidr(item, len, &e)) {
            report(b, lineno, "address '%s' is not an IPv4 or IPv6 address or CIDR",
                   cg__shown(item, len, buf, sizeof buf));
            goto skip;
        }
        e.cust = cust;
        if (!grow(&b->ad, &b->adcap, b->nad + 1, sizeof *b->ad))
            goto nomem;
        b->ad[b->nad++] = e;
    }

    f = c2 + 1;
    flen = (size_t)((c3 ? c3 : end) - f);
    more = true;
    count = 0;
    while (next_item(&f, &flen, &more, &item, &len)) {
        struct num_pair p = {0, cust};
        bool prefix;
        if (!len)
            continue;
        if (++count > CG_CUSTOMER_NUMBERS_MAX) {
            report(b, lineno, "more than %u numbers", CG_CUSTOMER_NUMBERS_MAX);
            goto skip;
        }
        if (!parse_number(item, len, &p.key, &prefix)) {
            report(b, lineno,
                   "number '%s' is not 1 to %u digits without '+' (a trailing '*' makes a "
                   "prefix)",
                   cg__shown(item, len, buf, sizeof buf), CG_CUSTOMER_NUMBER_DIGITS);
            goto skip;
        }
        if (prefix) {
            if (!grow(&b->px, &b->pxcap, b->npx + 1, sizeof *b->px))
                goto nomem;
            b->px[b->npx++] = p;
        } else {
            if (!grow(&b->ex, &b->excap, b->nex + 1, sizeof *b->ex))
                goto nomem;
            b->ex[b->nex++] = p;
        }
    }

    if (c3 && !line_tokens(b, c3 + 1, (size_t)((c4 ? c4 : end) - c3 - 1), lineno, lt, &nlt))
        goto skip;

    if ((nlt && !tokens_grow(b, nlt)) || !grow(&b->cu, &b->cucap, b->ncu + 1, sizeof *b->cu) ||
        !grow(&b->name_off, &b->offcap, b->ncu + 1, sizeof *b->name_off) ||
        !grow(&b->signer_off, &b->soffcap, b->ncu + 1, sizeof *b->signer_off) ||
        !grow(&b->line, &b->linecap, b->ncu + 1, sizeof *b->line) ||
        !grow(&b->names, &b->namescap, b->nnames + nlen + sglen + 2, 1))
        goto nomem;
    memcpy(b->names + b->nnames, name, nlen);
    b->names[b->nnames + nlen] = '\0';
    b->name_off[b->ncu] = b->nnames;
    b->nnames += nlen + 1;
    /* The signer's name after the customer's, in the same pool. */
    memcpy(b->names + b->nnames, sg, sglen);
    b->names[b->nnames + sglen] = '\0';
    b->signer_off[b->ncu] = b->nnames;
    b->nnames += sglen + 1;
    b->line[b->ncu] = lineno;
    memset(&b->cu[b->ncu], 0, sizeof b->cu[0]);
    b->cu[b->ncu].index = cust;
    b->cu[b->ncu].ntokens = (uint32_t)nlt;
    b->ncu++;
    *slot = cust + 1;
    for (i = 0; i < nlt; i++) {
        memcpy(b->tk[b->ntk].h, lt[i], HASH_LEN);
        b->tk[b->ntk].cust = cust;
        b->ntk++;
        *token_slot(b, lt[i]) = (uint32_t)b->ntk;
    }
    return CG_OK;

skip:
    b->nad = nad0;
    b->nex = nex0;
    b->npx = npx0;
    return CG_OK;
nomem:
    b->nad = nad0;
    b->nex = nex0;
    b->npx = npx0;
    return CG_ENOMEM;
}

static int cmp_pair(const void *a, const void *b)
{
    const struct num_pair *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->cust < y->cust ? -1 : x->cust > y->cust;
}

static int cmp_token(const void *a, const void *b)
{
    const struct token_entry *x = a, *y = b;
    return memcmp(x->h, y->h, HASH_LEN);
}

static int cmp_name(const void *a, const void *b)
{
    const struct cg_customer *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_addr(const void *a, const void *b)
{
    const struct addr_entry *x = a, *y = b;
    if (x->v6 != y->v6)
        return x->v6 < y->v6 ? -1 : 1;
    if (x->bits != y->bits)
        return x->bits < y->bits ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->cust < y->cust ? -1 : x->cust > y->cust;
}

/* Sorts and deduplicates pairs into a table; counts each customer's. */
static int build_numbers(struct num_pair *p, size_t n, struct num_table *t, struct cg_customer *cu,
                         uint32_t *lens)
{
    size_t i, m = 0;
    if (n)
        qsort(p, n, sizeof *p, cmp_pair);
    for (i = 0; i < n; i++)
        if (!m || p[i].key != p[m - 1].key || p[i].cust != p[m - 1].cust)
            p[m++] = p[i];
    t->n = m;
    if (!m)
        return CG_OK;
    if (!(t->key = malloc(m * sizeof *t->key)) || !(t->cust = malloc(m * sizeof *t->cust)))
        return CG_ENOMEM;
    for (i = 0; i < m; i++) {
        t->key[i] = p[i].key;
        t->cust[i] = p[i].cust;
        cu[p[i].cust].nnumbers++;
        if (lens)
            *lens |= 1u << (p[i].key >> KEY_SHIFT);
    }
    return CG_OK;
}

/* Turns what the builder gathered into the immutable set. */
static int finish(struct builder *b, struct cg_customers *c)
{
    size_t i, m = 0;
    int rc;
    c->cu = b->cu;
    c->n = b->ncu;
    c->names = b->names;
    b->cu = NULL;
    b->names = NULL;
    for (i = 0; i < c->n; i++) {
        c->cu[i].set = c;
        c->cu[i].name = c->names + b->name_off[i];
        c->cu[i].signer = c->names + b->signer_off[i];
    }
    if (c->n) {
        if (!(c->by_name = malloc(c->n * sizeof *c->by_name)))
            return CG_ENOMEM;
        for (i = 0; i < c->n; i++)
            c->by_name[i] = &c->cu[i];
        qsort(c->by_name, c->n, sizeof *c->by_name, cmp_name);
    }
    if ((rc = build_numbers(b->ex, b->nex, &c->exact, c->cu, NULL)) != CG_OK ||
        (rc = build_numbers(b->px, b->npx, &c->prefix, c->cu, &c->prefix_lens)) != CG_OK)
        return rc;
    if (b->nad)
        qsort(b->ad, b->nad, sizeof *b->ad, cmp_addr);
    for (i = 0; i < b->nad; i++)
        if (!m || cmp_addr(&b->ad[i], &b->ad[m - 1]) != 0)
            b->ad[m++] = b->ad[i];
    c->addrs = b->ad;
    b->ad = NULL;
    /* Every hash is held once (load_line saw to it): sorting is enough. */
    if (b->ntk)
        qsort(b->tk, b->ntk, sizeof *b->tk, cmp_token);
    c->tokens = b->tk;
    c->ntokens = b->ntk;
    b->tk = NULL;
    /* The runs of one (family, length) are the tables.  Walked backwards,
     * so that each table ends up pointing at its first entry. */
    for (i = m; i > 0; i--) {
        const struct addr_entry *e = &c->addrs[i - 1];
        struct addr_table *t = e->v6 ? &c->v6[e->bits] : &c->v4[e->bits];
        c->cu[e->cust].naddrs++;
        if (!t->n) {
            if (e->v6)
                c->v6_lens[c->nv6_lens++] = e->bits;
            else
                c->v4_lens[c->nv4_lens++] = e->bits;
        }
        t->e = e;
        t->n++;
    }
    return CG_OK;
}

static void builder_free(struct builder *b)
{
    free(b->cu);
    free(b->name_off);
    free(b->signer_off);
    free(b->line);
    free(b->names);
    free(b->htab);
    free(b->ad);
    free(b->ex);
    free(b->px);
    free(b->tk);
    free(b->ttab);
}

void cg_customers_free(struct cg_customers *c)
{
    if (!c)
        return;
    free(c->cu);
    free(c->names);
    free(c->addrs);
    free(c->exact.key);
    free(c->exact.cust);
    free(c->prefix.key);
    free(c->prefix.cust);
    free(c->tokens);
    free(c->by_name);
    free(c);
}

int cg_customers_new_empty(struct cg_customers **out)
{
    struct cg_customers *c;
    if (!out)
        return CG_EINVAL;
    if (!(c = calloc(1, sizeof *c)))
        return CG_ENOMEM;
    *out = c;
    return CG_OK;
}

int cg_customers_load_text(struct cg_customers **out, const char *name, const char *text,
                           size_t len, cg_policy_report_cb cb, void *arg)
{
    struct builder b = {.name = name ? name : "customers", .cb = cb, .arg = arg};
    struct cg_customers *c = NULL;
    const char *p = len ? text : NULL, *end = len ? text + len : NULL;
    bool header = true;
    int lineno = 0, rc = CG_OK;
    if (!out || (!text && len))
        return CG_EINVAL;
    if (len > CG_CUSTOMERS_FILE_MAX) {
        report(&b, 0, "larger than %u bytes", CG_CUSTOMERS_FILE_MAX);
        return CG_ETOOBIG;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p;
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        p = nl ? nl + 1 : NULL;
        lineno++;
        cg__trim_span(&s, &n);
        if (!n || s[0] == '#')
            continue;
        if (n > CG_CUSTOMERS_LINE_MAX) {
            report(&b, lineno, "line longer than %u bytes", CG_CUSTOMERS_LINE_MAX);
            continue;
        }
        if (header) {
            const char *c1 = memchr(s, ',', n);
            size_t fl = c1 ? (size_t)(c1 - s) : n;
            const char *f = s;
            header = false;
            cg__trim_span(&f, &fl);
            if (fl == 8 && cg__prefix_ci(f, fl, "customer"))
                continue;
        }
        if ((rc = load_line(&b, s, n, lineno)) != CG_OK)
            goto out;
    }
    if (!(c = calloc(1, sizeof *c))) {
        rc = CG_ENOMEM;
        goto out;
    }
    if ((rc = finish(&b, c)) != CG_OK)
        goto out;
    *out = c;
    c = NULL;
out:
    cg_customers_free(c);
    builder_free(&b);
    return rc;
}

/* Reads a whole regular file of at most CG_CUSTOMERS_FILE_MAX bytes.  A
 * FIFO or a device could block the reader (on the daemon's main thread, at
 * a reload) or feed it without end, so nothing else is read; *why says why
 * a file is refused. */
static int read_file(const char *path, char **out, size_t *outlen, const char **why)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), rc = CG_EIO;
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    ssize_t got;
    *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *why = strerror(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
        goto out;
    }
    if ((uint64_t)st.st_size > CG_CUSTOMERS_FILE_MAX) {
        rc = CG_ETOOBIG;
        goto out;
    }
    /* one byte more than fstat said, to see a file that grows as it is read */
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = CG_ENOMEM;
        goto out;
    }
    while (n <= (size_t)st.st_size && (got = read(fd, buf + n, (size_t)st.st_size + 1 - n)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *why = strerror(errno);
            goto out;
        }
        n += (size_t)got;
    }
    if (n != (size_t)st.st_size) {
        *why = "changed while it was read";
        goto out;
    }
    rc = CG_OK;
out:
    if (fd >= 0)
        close(fd);
    if (rc != CG_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = n;
    return CG_OK;
}

int cg_customers_load_file(struct cg_customers **out, const char *path, cg_policy_report_cb cb,
                           void *arg)
{
    char *buf = NULL;
    const char *why;
    size_t n = 0;
    int rc;
    if (!out || !path)
        return CG_EINVAL;
    rc = read_file(path, &buf, &n, &why);
    if (rc == CG_ETOOBIG && cb) {
        char msg[64];
        snprintf(msg, sizeof msg, "larger than %u bytes", CG_CUSTOMERS_FILE_MAX);
        cb(path, 0, msg, arg);
    } else if (why && cb) {
        cb(path, 0, why, arg);
    }
    if (rc != CG_OK)
        return rc;
    rc = cg_customers_load_text(out, path, buf, n, cb, arg);
    free(buf);
    return rc;
}
