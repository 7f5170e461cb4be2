/* Internal helpers shared by the library's modules (prefix cg__). */
#ifndef CG_CORE_INTERNAL_H
#define CG_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidguard/error.h"
#include "cidguard/log.h"

/* --- logging ------------------------------------------------------------ */
extern enum cg_log_level cg__log_max;
extern cg_log_cb cg__log_cb;
void cg__log_emit(enum cg_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The level is compared before the arguments are evaluated. */
#define cg__log(lvl, ...)                                                                          \
    do {                                                                                           \
        if (cg__log_cb && (lvl) <= cg__log_max)                                                    \
            cg__log_emit((lvl), __VA_ARGS__);                                                      \
    } while (0)

/* --- base64url (RFC 4648 section 5, no padding) ------------------------- */
/* Decoded size upper bound for n input characters. */
#define CG_B64_DECODED_MAX(n) (((n) / 4) * 3 + 2)
/* How many of the first n bytes of s are base64url characters, in a row. */
size_t cg__b64url_span(const char *s, size_t n);
/* Rejects '=', characters outside the alphabet, an impossible length
 * (n % 4 == 1) and non-zero trailing bits.  Returns CG_OK or CG_EPARSE;
 * CG_ETOOBIG when outcap is too small. */
int cg__b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap, size_t *outlen);
/* Writes (n * 4 + 2) / 3 characters and a NUL; outcap must allow that. */
int cg__b64url_encode(const unsigned char *in, size_t n, char *out, size_t outcap, size_t *outlen);

/* --- JSON ---------------------------------------------------------------- */
/* Nesting depth of a JSON text, counted without parsing (brackets outside
 * strings).  Lets us refuse deep input before the parser recurses. */
size_t cg__json_depth(const char *s, size_t n);

/* --- strings -------------------------------------------------------------- */
/* Copies at most cap-1 bytes and NUL-terminates; false if truncated. */
bool cg__strlcpy(char *dst, const char *src, size_t cap);
/* Case-insensitive ASCII prefix test on a (ptr, len) string. */
bool cg__prefix_ci(const char *s, size_t n, const char *prefix);
/* An item of the input, printable (control bytes as '?') and at most
 * cap - 1 bytes ("..." when cut), for a report line. */
const char *cg__shown(const char *s, size_t n, char *buf, size_t cap);
/* [*s, *s + *n) without its leading and trailing blanks (space, tab, CR). */
void cg__trim_span(const char **s, size_t *n);

/* --- hashing -------------------------------------------------------------- */
/* FNV-1a, 64 bits: the library's hash for tables keyed by bytes. */
static inline uint64_t cg__fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* --- randomness ----------------------------------------------------------- */
/* Random bytes for identifiers, from a per-thread pool (crypto/es256.c). */
int cg__random(unsigned char *out, size_t n);

/* --- passport ------------------------------------------------------------- */
struct cg_passport;
/* Canonical header and claims JSON of `p` into caller buffers, without
 * allocation (see passport.c).  CG_EINVAL for invalid claims, CG_ETOOBIG
 * when a buffer is too small. */
int cg__passport_canon(const struct cg_passport *p, char *hdr, size_t hcap, size_t *hlen, char *pay,
                       size_t pcap, size_t *plen);

/* --- files ---------------------------------------------------------------- */
/* Reads a whole file of at most `max` bytes into a NUL-terminated buffer. */
int cg__read_file(const char *path, size_t max, char **out, size_t *outlen);

#endif
