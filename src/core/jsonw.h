/*
 * A JSON writer (internal): compact output, members in the order written,
 * strings escaped as jansson escapes them ('"', '\\' and control
 * characters; '/' and UTF-8 kept), so that texts once written by jansson
 * keep their bytes.  It writes into a caller's fixed buffer, or into a heap
 * buffer that grows; either way a failure (no room, no memory, invalid
 * UTF-8 in strict mode) sticks in `bad` and later writes do nothing.
 */
#ifndef CG_CORE_JSONW_H
#define CG_CORE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cg__jw {
    char *p;
    size_t n, cap;
    bool bad;
    bool grow;   /* p is malloc'd and may be reallocated */
    bool strict; /* invalid UTF-8 is an error, not U+FFFD */
};

/* A growing writer, empty; cg__jw_take hands over its text. */
void cg__jw_init(struct cg__jw *w, size_t cap_hint);
/* The NUL-terminated text (the caller frees it), or NULL when the writer
 * failed, which then frees what it had. */
char *cg__jw_take(struct cg__jw *w);
void cg__jw_put(struct cg__jw *w, const char *s, size_t n);
#define CG__JW_LIT(w, lit) cg__jw_put((w), (lit), sizeof(lit) - 1)
/* A quoted, escaped string. */
void cg__jw_str(struct cg__jw *w, const char *s);
/* A string, or null when s is NULL or empty. */
void cg__jw_str_or_null(struct cg__jw *w, const char *s);
void cg__jw_int(struct cg__jw *w, int64_t v);
/* `"name":` after a ',' unless it opens the object ('{' written last). */
void cg__jw_key(struct cg__jw *w, const char *name);

#endif
