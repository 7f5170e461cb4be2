/*
 * The signers file (include/cidguard/signers.h) and stable origids.
 *
 * Each row is loaded whole or not at all: its key and certificate are read,
 * the key is checked to be the private half of the certificate's public
 * key, and only then is the signer made.  The rows are kept in file order
 * with an index sorted by name, so that a lookup by name is a binary
 * search and nothing else.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cidguard/signers.h"
#include "core/internal.h"
#include "crypto/es256.h"

struct row {
    struct cg_signer_entry pub;
    char name[CG_SIGNER_NAME_MAX + 1];
    char x5u[CG_URL_MAX + 1];
    char key_path[CG_SIGNER_PATH_MAX + 1], cert_path[CG_SIGNER_PATH_MAX + 1];
    struct cg_key *key;
    struct cg_chain *chain;
    struct cg_signer *signer;
};

struct cg_signers {
    struct row **rows; /* file order */
    struct row **by_name;
    size_t n;
};

/* --- lookups ----------------------------------------------------------------------- */

size_t cg_signers_count(const struct cg_signers *s)
{
    return s ? s->n : 0;
}

const struct cg_signer_entry *cg_signers_at(const struct cg_signers *s, size_t i)
{
    return s && i < s->n ? &s->rows[i]->pub : NULL;
}

const struct cg_signer_entry *cg_signers_find(const struct cg_signers *s, const char *name)
{
    size_t lo = 0, hi;
    if (!s || !name)
        return NULL;
    hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->by_name[mid]->name, name);
        if (c == 0)
            return &s->by_name[mid]->pub;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int64_t cg_signers_days_left(const struct cg_signer_entry *e, int64_t now)
{
    int64_t d;
    if (!e)
        return 0;
    d = e->not_after - now;
    /* Rounded down, also below zero: a certificate that expired an hour
     * ago has -1 days left, not 0. */
    return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

/* --- loading ----------------------------------------------------------------------- */

static void row_free(struct row *r)
{
    if (!r)
        return;
    cg_signer_free(r->signer);
    cg_key_free(r->key);
    cg_chain_unref(r->chain);
    free(r);
}

void cg_signers_free(struct cg_signers *s)
{
    size_t i;
    if (!s)
        return;
    for (i = 0; i < s->n; i++)
        row_free(s->rows[i]);
    free(s->rows);
    free(s->by_name);
    free(s);
}

struct builder {
    const char *name; /* of the text, for reports */
    const char *dir;  /* relative paths are resolved against it; NULL: as given */
    size_t dirlen;
    cg_policy_report_cb cb;
    void *arg;
    struct row **rows;
    size_t n, cap;
};

static void report(struct builder *b, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct builder *b, int line, const char *fmt, ...)
{
    char msg[CG_SIGNER_PATH_MAX + 256];
    va_list ap;
    if (!b->cb)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->cb(b->name, line, msg, b->arg);
}

static bool name_ok(const char *s, size_t n)
{
    size_t i;
    if (n < 1 || n > CG_SIGNER_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* The path of field (s, n) into out, resolved against the file's
 * directory when relative; false when empty, holding a control character
 * or too long (reported). */
static bool path_of(struct builder *b, int line, const char *what, const char *s, size_t n,
                    char out[CG_SIGNER_PATH_MAX + 1])
{
    char buf[72];
    size_t i, pre = 0;
    if (!n) {
        report(b, line, "%s path is empty", what);
        return false;
    }
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            report(b, line, "%s path '%s' holds a control character", what,
                   cg__shown(s, n, buf, sizeof buf));
            return false;
        }
    if (s[0] != '/' && b->dir)
        pre = b->dirlen + 1;
    if (pre + n > CG_SIGNER_PATH_MAX) {
        report(b, line, "%s path '%s' is longer than %u bytes", what,
               cg__shown(s, n, buf, sizeof buf), CG_SIGNER_PATH_MAX);
        return false;
    }
    if (pre) {
        memcpy(out, b->dir, b->dirlen);
        out[b->dirlen] = '/';
    }
    memcpy(out + pre, s, n);
    out[pre + n] = '\0';
    return true;
}

static bool x5u_ok(const char *s, size_t n)
{
    size_t i;
    if (n > CG_URL_MAX || !(cg__prefix_ci(s, n, "https://") || cg__prefix_ci(s, n, "http://")))
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("<>;\"", s[i]))
            return false;
    return true;
}

/* Whether `path` is a regular file we may read (reported when not): a
 * FIFO or a device would block the reader or feed it without end. */
static bool readable(struct builder *b, int line, const struct row *r, const char *what,
                     const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
        report(b, line, "signer '%s': %s %s: %s", r->name, what, path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        report(b, line, "signer '%s': %s %s is not a regular file", r->name, what, path);
        return false;
    }
    return true;
}

/* The key and certificate of a row: read, checked against each other, and
 * the signer made.  False when the row is to be skipped (reported);
 * *nomem on an allocation failure. */
static bool load_crypto(struct builder *b, int line, struct row *r, bool *nomem)
{
    const struct cg_cert_info *info;
    const struct cg_key *pub;
    const char *why = NULL;
    int rc;
    if (!readable(b, line, r, "key file", r->key_path))
        return false;
    if ((rc = cg_key_load_file(&r->key, r->key_path)) != CG_OK) {
        if (rc == CG_ENOMEM)
            *nomem = true;
        report(b, line, "signer '%s': key file %s: %s", r->name, r->key_path,
               rc == CG_EKEY ? "not an EC P-256 key in PEM" : cg_strerror(rc));
        return false;
    }
    if (!cg_key_is_private(r->key)) {
        report(b, line, "signer '%s': key file %s holds a public key, not a private key", r->name,
               r->key_path);
        return false;
    }
    if (!readable(b, line, r, "certificate file", r->cert_path))
        return false;
    if ((rc = cg_chain_load_file(&r->chain, r->cert_path, &why)) != CG_OK) {
        if (rc == CG_ENOMEM)
            *nomem = true;
        report(b, line, "signer '%s': certificate file %s: %s", r->name, r->cert_path,
               why ? why : cg_strerror(rc));
        return false;
    }
    info = cg_chain_info(r->chain);
    if (!(pub = cg_chain_key(r->chain))) {
        report(b, line, "signer '%s': certificate %s has no EC P-256 public key", r->name,
               r->cert_path);
        return false;
    }
    /* A key that is not the certificate's signs calls that every verifier
     * rejects (signature failure, 438): refused here, not found by the
     * first callee. */
    if (EVP_PKEY_eq(cg__key_pkey(r->key), cg__key_pkey(pub)) != 1) {
        report(b, line,
               "signer '%s': key %s does not match the public key of certificate %s (subject "
               "%s)",
               r->name, r->key_path, r->cert_path, info->subject);
        return false;
    }
    if (!info->spc[0]) {
        report(b, line,
               "signer '%s': certificate %s has no SPC in a TNAuthList (not a SHAKEN SP "
               "certificate)",
               r->name, r->cert_path);
        return false;
    }
    if ((rc = cg_signer_new(&r->signer, r->key, r->x5u)) != CG_OK) {
        if (rc == CG_ENOMEM)
            *nomem = true;
        report(b, line, "signer '%s': cannot sign with this key and x5u (%s)", r->name,
               cg_strerror(rc));
        return false;
    }
    r->pub.spc = info->spc;
    r->pub.not_before = info->not_before;
    r->pub.not_after = info->not_after;
    r->pub.cert = info;
    r->pub.signer = r->signer;
    return true;
}

/* One line that is neither blank nor a comment.  Returns CG_OK (loaded,
 * or reported and skipped) or CG_ENOMEM. */
static int load_line(struct builder *b, const char *s, size_t n, int line)
{
    const char *end = s + n, *f[4], *c;
    size_t fl[4], i, k = 0;
    char buf[72];
    struct row *r;
    bool nomem = false;
    /* Four fields, split at commas; k ends at 5 when there are more. */
    for (c = s; k < 5; k++) {
        const char *comma = memchr(c, ',', (size_t)(end - c));
        if (k == 4)
            continue;
        f[k] = c;
        fl[k] = (size_t)((comma ? comma : end) - c);
        cg__trim_span(&f[k], &fl[k]);
        if (!comma) {
            k++;
            break;
        }
        c = comma + 1;
    }
    if (k != 4) {
        report(b, line, "want four fields signer,key,certificate,x5u (no quoting)");
        return CG_OK;
    }
    if (!name_ok(f[0], fl[0])) {
        report(b, line, "signer name '%s' is not 1 to %u letters, digits, '.', '_' or '-'",
               cg__shown(f[0], fl[0], buf, sizeof buf), CG_SIGNER_NAME_MAX);
        return CG_OK;
    }
    for (i = 0; i < b->n; i++)
        if (strlen(b->rows[i]->name) == fl[0] && memcmp(b->rows[i]->name, f[0], fl[0]) == 0) {
            report(b, line, "signer '%s' is already defined on line %d", b->rows[i]->name,
                   b->rows[i]->pub.line);
            return CG_OK;
        }
    if (!x5u_ok(f[3], fl[3])) {
        report(b, line,
               "x5u '%s' is not an https or http URL of at most %u bytes without blanks, '<', "
               "'>', ';' or '\"'",
               cg__shown(f[3], fl[3], buf, sizeof buf), CG_URL_MAX);
        return CG_OK;
    }
    if (b->n >= CG_SIGNERS_MAX) {
        report(b, line, "more than %u signers", CG_SIGNERS_MAX);
        return CG_OK;
    }
    if (!(r = calloc(1, sizeof *r)))
        return CG_ENOMEM;
    memcpy(r->name, f[0], fl[0]);
    memcpy(r->x5u, f[3], fl[3]);
    if (!path_of(b, line, "key", f[1], fl[1], r->key_path) ||
        !path_of(b, line, "certificate", f[2], fl[2], r->cert_path) ||
        !load_crypto(b, line, r, &nomem)) {
        row_free(r);
        return nomem ? CG_ENOMEM : CG_OK;
    }
    r->pub.name = r->name;
    r->pub.x5u = r->x5u;
    r->pub.key_path = r->key_path;
    r->pub.cert_path = r->cert_path;
    r->pub.line = line;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        struct row **nr = realloc(b->rows, nc * sizeof *nr);
        if (!nr) {
            row_free(r);
            return CG_ENOMEM;
        }
        b->rows = nr;
        b->cap = nc;
    }
    b->rows[b->n++] = r;
    return CG_OK;
}

static int cmp_name(const void *a, const void *b)
{
    const struct row *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int load(struct cg_signers **out, struct builder *b, const char *text, size_t len)
{
    const char *p = len ? text : NULL, *end = len ? text + len : NULL;
    struct cg_signers *s = NULL;
    bool header = true;
    int line = 0, rc = CG_OK;
    size_t i;
    if (len > CG_SIGNERS_FILE_MAX) {
        report(b, 0, "larger than %u bytes", CG_SIGNERS_FILE_MAX);
        return CG_ETOOBIG;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *l = p;
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        p = nl ? nl + 1 : NULL;
        line++;
        cg__trim_span(&l, &n);
        if (!n || l[0] == '#')
            continue;
        if (n > CG_SIGNERS_LINE_MAX) {
            report(b, line, "line longer than %u bytes", CG_SIGNERS_LINE_MAX);
            continue;
        }
        if (memchr(l, '\0', n)) {
            report(b, line, "line holds a NUL byte");
            continue;
        }
        if (header) {
            const char *c1 = memchr(l, ',', n), *f = l;
            size_t fl = c1 ? (size_t)(c1 - l) : n;
            header = false;
            cg__trim_span(&f, &fl);
            if (fl == 6 && cg__prefix_ci(f, fl, "signer"))
                continue;
        }
        if ((rc = load_line(b, l, n, line)) != CG_OK)
            goto out;
    }
    if (!(s = calloc(1, sizeof *s)) ||
        (b->n && !(s->by_name = malloc(b->n * sizeof *s->by_name)))) {
        rc = CG_ENOMEM;
        goto out;
    }
    s->rows = b->rows;
    s->n = b->n;
    b->rows = NULL;
    b->n = 0;
    for (i = 0; i < s->n; i++)
        s->by_name[i] = s->rows[i];
    if (s->n)
        qsort(s->by_name, s->n, sizeof *s->by_name, cmp_name);
    *out = s;
    s = NULL;
out:
    cg_signers_free(s);
    for (i = 0; i < b->n; i++)
        row_free(b->rows[i]);
    free(b->rows);
    return rc;
}

int cg_signers_load_text(struct cg_signers **out, const char *name, const char *text, size_t len,
                         cg_policy_report_cb cb, void *arg)
{
    struct builder b = {.name = name ? name : "signers", .cb = cb, .arg = arg};
    if (!out || (!text && len))
        return CG_EINVAL;
    return load(out, &b, text, len);
}

int cg_signers_load_file(struct cg_signers **out, const char *path, cg_policy_report_cb cb,
                         void *arg)
{
    struct builder b = {.name = path, .cb = cb, .arg = arg};
    const char *slash;
    char *buf = NULL;
    size_t n = 0;
    int rc;
    if (!out || !path)
        return CG_EINVAL;
    if ((slash = strrchr(path, '/'))) {
        /* "/signers.csv": the root, so "" and then the '/' path_of adds. */
        b.dir = path;
        b.dirlen = (size_t)(slash - path);
    }
    if ((rc = cg__read_file(path, CG_SIGNERS_FILE_MAX, &buf, &n)) != CG_OK) {
        if (rc == CG_ETOOBIG)
            report(&b, 0, "larger than %u bytes", CG_SIGNERS_FILE_MAX);
        return rc;
    }
    rc = load(out, &b, buf, n);
    free(buf);
    return rc;
}

/* --- stable origid ----------------------------------------------------------------- */

#define SHA256_LEN 32
#define SHA256_BLOCK 64

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetched once, as EVP_sha256() looks the implementation up in the
 * provider again on every digest. */
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static bool sha256(const void *d, size_t n, unsigned char h[SHA256_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(d, n, h, &len, sha256_md, NULL) == 1 && len == SHA256_LEN;
}

/*
 * HMAC (RFC 2104) written out over two one-shot digests of stack buffers,
 * as the inputs are bounded: the EVP_MAC interface would fetch and allocate
 * on every call, a few microseconds beside a 23-microsecond signature.
 */
int cg_origid_stable(const unsigned char *secret, size_t secret_len, const char *customer,
                     const char *ingress, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char k[SHA256_BLOCK] = {0}, h[SHA256_LEN];
    unsigned char inner[SHA256_BLOCK + 2 * CG_ORIGID_INPUT_MAX + 1];
    unsigned char outer[SHA256_BLOCK + SHA256_LEN];
    size_t cl, il, i, o = 0;
    int rc = CG_OK;
    if (out)
        out[0] = '\0';
    if (!secret || !secret_len || !customer || !ingress || !out)
        return CG_EINVAL;
    cl = strlen(customer);
    il = strlen(ingress);
    if (secret_len > CG_ORIGID_SECRET_MAX || cl > CG_ORIGID_INPUT_MAX || il > CG_ORIGID_INPUT_MAX)
        return CG_ETOOBIG;
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md)
        return CG_ECRYPTO;
    if (secret_len > SHA256_BLOCK) {
        if (!sha256(secret, secret_len, k)) {
            rc = CG_ECRYPTO;
            goto out;
        }
    } else {
        memcpy(k, secret, secret_len);
    }
    for (i = 0; i < SHA256_BLOCK; i++) {
        inner[i] = k[i] ^ 0x36;
        outer[i] = k[i] ^ 0x5c;
    }
    memcpy(inner + SHA256_BLOCK, customer, cl);
    inner[SHA256_BLOCK + cl] = 0;
    memcpy(inner + SHA256_BLOCK + cl + 1, ingress, il);
    if (!sha256(inner, SHA256_BLOCK + cl + 1 + il, outer + SHA256_BLOCK) ||
        !sha256(outer, sizeof outer, h)) {
        rc = CG_ECRYPTO;
        goto out;
    }
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80); /* version 8 */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* variant 10 */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
out:
    /* The key's pads are the secret in another form. */
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(inner, SHA256_BLOCK);
    OPENSSL_cleanse(outer, SHA256_BLOCK);
    return rc;
}
