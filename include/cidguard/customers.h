/*
 * Customers: who may sign which numbers, and from where.
 *
 * An originating carrier signs a customer's calls with attestation A only
 * for numbers that customer holds, B for other numbers of a customer it
 * knows by its source address or by a credential, and C for everyone else
 * (ATIS-1000074).  The customers file says who is who:
 *
 *     customer,addresses,numbers,tokens,signer
 *     # comment lines and blank lines are ignored
 *     acme,192.0.2.10;198.51.100.0/24;2001:db8:1::/48,442079460000;4420794601*
 *     lab,127.0.0.1;::1,1415555010*
 *     api,,4420794602*,sha256:<64 hex digits>;sha256:<64 hex digits>
 *     resold,192.0.2.20,4420794603*,,resellerx
 *
 * One customer per line, three to five comma-separated fields (no CSV
 * quoting):
 *   - customer: a unique name, 1 to CG_CUSTOMER_NAME_MAX bytes, without
 *     control characters or '"'.  A later line with the same name is
 *     reported and skipped.
 *   - addresses: ';'-separated IPv4 or IPv6 addresses or CIDRs
 *     ("192.0.2.0/24", "2001:db8::/32").  Bits set past the prefix length
 *     are ignored.  An IPv4-mapped IPv6 entry ("::ffff:192.0.2.1", or a
 *     "::ffff:0:0/96"-style prefix of 96 bits or more) is the IPv4 entry it
 *     carries.  An IPv6 entry never matches an IPv4 client and an IPv4
 *     entry never matches an IPv6 client, except that a client address
 *     that is IPv4-mapped ("::ffff:a.b.c.d", as a dual-stack listener sees
 *     IPv4 peers) is always judged as the IPv4 address it carries.
 *   - numbers: ';'-separated canonical E.164 numbers, 1 to 15 digits
 *     without '+'; a trailing '*' makes a prefix ("4420794601*" holds every
 *     number that starts with 4420794601, including 4420794601 itself).
 *     The same number may belong to several customers.
 *   - tokens (optional; a three-field line has none): ';'-separated
 *     credentials, each the SHA-256 of a bearer token the customer
 *     presents, written "sha256:" and 64 hexadecimal digits (either case;
 *     cg_customers_token_hash makes one).  The file never holds a token
 *     itself, and a malformed entry is reported by its position, not its
 *     text, in case a token was pasted by mistake.  A hash is unsalted, so
 *     tokens must be random, 128 bits or more (32 random bytes in hex, for
 *     example), never chosen words.  A hash held by an earlier customer is
 *     reported and its line skipped; one repeated within a line counts
 *     once.
 *   - signer (optional; empty or absent means the default signer): the
 *     name of the signer, in the signers file (signers.h), whose key and
 *     certificate sign this customer's calls: 1 to CG_SIGNER_NAME_MAX
 *     letters, digits, '.', '_' or '-'.  Whether that signer exists is
 *     for the host to check against its signers file.
 * Whitespace around fields and items is ignored, empty items are skipped,
 * lines may end in CRLF and a UTF-8 byte-order mark at the start is
 * skipped.  The first line that is not a comment is the header when its
 * first field is "customer"; the header is optional.
 *
 * Every line that cannot be used (a bad name, address, number or token
 * hash, a duplicate name or token hash, a limit crossed) is reported
 * through the callback with the file name and line number, and skipped
 * whole: a customer is never loaded with part of its row.  The rest of the
 * file loads.
 *
 * Memory: about 12 bytes per number, 24 per address entry and 36 per token
 * hash, plus the names and 8 bytes per customer for the index by name.
 * Address and number lookups take no lock and allocate nothing: binary
 * searches over sorted arrays, one per address prefix length and per
 * number prefix length present in the file.  A token lookup hashes the
 * token (OpenSSL) and searches one sorted array.
 */
#ifndef CIDGUARD_CUSTOMERS_H
#define CIDGUARD_CUSTOMERS_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#include "policy.h" /* cg_policy_report_cb */

#ifdef __cplusplus
extern "C" {
#endif

/* Limits.  A file or text over CG_CUSTOMERS_FILE_MAX is refused whole
 * (CG_ETOOBIG); a line over any other limit is reported and skipped. */
#define CG_CUSTOMERS_FILE_MAX (64u << 20) /* bytes in a file or text */
/* Bytes in a line, without its end: room for the per-customer limits
 * written out in full (100,000 15-digit numbers, 1,024 IPv6 CIDRs and 64
 * token hashes). */
#define CG_CUSTOMERS_LINE_MAX (2u << 20)
#define CG_CUSTOMERS_MAX 100000u        /* customers in a file */
#define CG_CUSTOMER_NAME_MAX 255u       /* bytes in a customer name */
#define CG_CUSTOMER_ADDRS_MAX 1024u     /* address entries of one customer */
#define CG_CUSTOMER_NUMBERS_MAX 100000u /* numbers and prefixes of one customer */
#define CG_CUSTOMER_NUMBER_DIGITS 15u   /* digits in a number or prefix */
#define CG_CUSTOMER_TOKENS_MAX 64u      /* token hashes of one customer */
#define CG_CUSTOMER_TOKEN_MAX 4096u     /* bytes in a bearer token */
/* Bytes of "sha256:" and 64 hex digits with its NUL, as written by
 * cg_customers_token_hash. */
#define CG_CUSTOMER_TOKEN_HASH_SIZE 72u

/* The customers of a file.  Immutable once loaded: any number of threads
 * may look up in it at the same time.  A reload builds a new one and the
 * host swaps the pointer. */
struct cg_customers;
/* One customer (one row), owned by its cg_customers and valid as long as
 * it is. */
struct cg_customer;

/*
 * Loads the customers file at `path`.  Bad lines are reported through `cb`
 * (may be NULL) with `path` and their line number, and skipped.  *out is
 * set only on success.  Returns CG_OK (even when lines were skipped),
 * CG_EINVAL (NULL out or path), CG_EIO (unreadable, or not a regular file:
 * a FIFO or a device is never read), CG_ETOOBIG (larger than
 * CG_CUSTOMERS_FILE_MAX) or CG_ENOMEM; a file refused whole says why
 * through `cb` with line 0.
 */
CG_EXTERN int cg_customers_load_file(struct cg_customers **out, const char *path,
                                     cg_policy_report_cb cb, void *arg);
/*
 * The same from `len` bytes at `text` (not necessarily NUL-terminated; a
 * NUL byte is bad input like any other).  `name` names the text in reports
 * (NULL: "customers").  The text is not kept.
 */
CG_EXTERN int cg_customers_load_text(struct cg_customers **out, const char *name, const char *text,
                                     size_t len, cg_policy_report_cb cb, void *arg);
/* A set without customers (CG_OK or CG_ENOMEM).  Every lookup also takes a
 * NULL set and treats it as this one. */
CG_EXTERN int cg_customers_new_empty(struct cg_customers **out);
CG_EXTERN void cg_customers_free(struct cg_customers *c);

/* How many customers were loaded. */
CG_EXTERN size_t cg_customers_count(const struct cg_customers *c);
/* The customer of index `i` (file order, 0 to count-1), or NULL. */
CG_EXTERN const struct cg_customer *cg_customers_at(const struct cg_customers *c, size_t i);

/* The first customer (in file order) whose addresses hold `addr`, a
 * struct sockaddr (AF_INET or AF_INET6; another family or NULL: none), or
 * NULL. */
CG_EXTERN const struct cg_customer *cg_customers_find(const struct cg_customers *c,
                                                      const void *addr);

/*
 * The customer named `name` (a NUL-terminated string compared byte for
 * byte with the file's first column: no case folding, no trimming), or
 * NULL for an unknown, NULL or empty name or a NULL set.  For a host that
 * lets a trusted intermediary (an SBC) say which customer a call is for.
 * A binary search over the names, sorted when the file was loaded.
 */
CG_EXTERN const struct cg_customer *cg_customers_by_name(const struct cg_customers *c,
                                                         const char *name);

/*
 * The customer holding the SHA-256 of the bearer token (`len` bytes at
 * `token`, as presented, without "Bearer "), or NULL: for an unknown
 * token, a NULL or empty one, one longer than CG_CUSTOMER_TOKEN_MAX bytes,
 * one with a byte outside printable ASCII without space (0x21 to 0x7e; a
 * token can hold no other in an Authorization header), or a NULL set.
 * Timing tells nothing useful about the hashes held (see customers.c).
 * Thread-safe; one digest computation per call.
 */
CG_EXTERN const struct cg_customer *cg_customers_by_token(const struct cg_customers *c,
                                                          const char *token, size_t len);
/* Whether any customer has a token hash: without one, no client can be
 * told apart but by its address. */
CG_EXTERN bool cg_customers_any_tokens(const struct cg_customers *c);
/*
 * Writes the file's form of a bearer token's hash, "sha256:" and 64
 * lowercase hex digits with a NUL (CG_CUSTOMER_TOKEN_HASH_SIZE bytes), to
 * `out`.  The token is `len` bytes at `token` and must be one that
 * cg_customers_by_token can find: 1 to CG_CUSTOMER_TOKEN_MAX bytes from
 * 0x21 to 0x7e (a token read with its line end is refused, not hashed into
 * one that never matches).  Returns CG_OK, CG_EINVAL (NULL token or out),
 * CG_EPARSE (empty, or another byte), CG_ETOOBIG (too long) or CG_ECRYPTO;
 * on failure `out`, when not NULL, holds "".
 */
CG_EXTERN int cg_customers_token_hash(const char *token, size_t len,
                                      char out[CG_CUSTOMER_TOKEN_HASH_SIZE]);

/* The customer's name as written in the file (never NULL). */
CG_EXTERN const char *cg_customer_name(const struct cg_customer *cu);
/* The name of the customer's signer (the fifth column), or "" for the
 * default signer and for a NULL customer; never NULL. */
CG_EXTERN const char *cg_customer_signer(const struct cg_customer *cu);
/* Whether the customer holds `tn` (canonical digits, up to CG_TN_MAX; a
 * number with another character never matches) exactly or by a prefix.
 * False for a NULL customer or number. */
CG_EXTERN bool cg_customer_owns(const struct cg_customer *cu, const char *tn);
/* How many number entries (numbers and prefixes, without duplicates) and
 * address entries the customer has. */
CG_EXTERN size_t cg_customer_numbers(const struct cg_customer *cu);
CG_EXTERN size_t cg_customer_addresses(const struct cg_customer *cu);
/* How many token hashes (without duplicates) the customer has, and
 * whether it has any.  0 and false for a NULL customer. */
CG_EXTERN size_t cg_customer_tokens(const struct cg_customer *cu);
CG_EXTERN bool cg_customer_has_tokens(const struct cg_customer *cu);
/*
 * The attestation for a call presenting `tn` from a customer already
 * identified (by a token, say, rather than by its address): 'A' when `cu`
 * owns `tn` (as cg_customer_owns), 'B' otherwise, including a NULL or
 * malformed `tn`; 'C' when `cu` is NULL (no customer known).
 */
CG_EXTERN char cg_customer_attest(const struct cg_customer *cu, const char *tn);

/*
 * The attestation the customers allow for a call presenting `tn`
 * (canonical digits, may be NULL) from `addr` (a struct sockaddr, may be
 * NULL): 'A' when one of the customers whose addresses hold `addr` owns
 * `tn`, 'B' when some customer holds `addr`, 'C' when none does.  Several
 * customers may share an address: A when any of them owns the number.
 */
CG_EXTERN char cg_customers_attest(const struct cg_customers *c, const void *addr, const char *tn);

#ifdef __cplusplus
}
#endif
#endif
