/*
 * A strict, bounded JSON reader for PASSporTs (internal).
 *
 * Why not jansson here: on the verification path jansson's json_loadb was
 * 45,000 of the 85,000 instructions spent outside the ECDSA operation
 * (callgrind, cidguard-bench's token: 5% of verify throughput), because it
 * allocates a hash table per object and a node per value.  A PASSporT is
 * two small JSON texts; this reader parses them into a caller-provided node
 * array in one pass, with no allocation, and is stricter where PASSporTs
 * need it: duplicate member names, depth, node count, size, UTF-8 and
 * integer range are all checked.  It also reads the ATIS-1000082 bodies
 * and the Rich Call Data JSON that signing re-serializes; the writer is
 * core/jsonw.h.
 */
#ifndef CG_CORE_SJSON_H
#define CG_CORE_SJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cg__jtype { CGJ_NULL, CGJ_FALSE, CGJ_TRUE, CGJ_INT, CGJ_REAL, CGJ_STR, CGJ_ARR, CGJ_OBJ };

struct cg__jnode {
    enum cg__jtype type;
    uint32_t next;   /* next sibling, 0 when last (node 0 is the root) */
    uint32_t child;  /* first child of an array or object, 0 when empty */
    uint32_t count;  /* children of an array or object */
    const char *key; /* member name (decoded, NUL-terminated), NULL otherwise */
    const char *str; /* string value (decoded, NUL-terminated) */
    uint32_t len;    /* its length (strings may not contain NUL) */
    const char *raw; /* the value's source text, for re-emitting it exactly */
    uint32_t rawlen;
    int64_t i; /* CGJ_INT */
};

struct cg__json {
    struct cg__jnode *nodes;
    uint32_t nnodes, maxnodes;
    char *scratch; /* decoded strings and keys; needs at least len + nodes bytes */
    size_t used, scratch_cap;
    unsigned maxdepth;
};

/* Length of the valid UTF-8 sequence at p, before end (RFC 3629: no
 * overlongs, no surrogates, at most U+10FFFF), or 0. */
size_t cg__utf8_len(const unsigned char *p, const unsigned char *end);

/* Parses `len` bytes.  Returns 0, or -1 for anything that is not one
 * strict JSON value within the limits.  The root is j->nodes[0]. */
int cg__json_parse(struct cg__json *j, const char *s, size_t len);
/* The member `key` of object `obj`, or NULL. */
const struct cg__jnode *cg__json_get(const struct cg__json *j, const struct cg__jnode *obj,
                                     const char *key);
static inline const struct cg__jnode *cg__json_at(const struct cg__json *j, uint32_t idx)
{
    return idx ? &j->nodes[idx] : NULL;
}

#endif
