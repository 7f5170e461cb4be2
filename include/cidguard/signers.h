/*
 * Signers: one signing key and SP certificate per customer or reseller.
 *
 * A signing service that signs for several carriers signs each one's calls
 * with that carrier's own SPC certificate (FCC 24-120), so it holds many
 * signers.  The signers file names them:
 *
 *     signer,key,certificate,x5u
 *     # comment lines and blank lines are ignored
 *     acme,keys/acme.key,certs/acme.pem,https://cr.example.net/acme.pem
 *     resold,/etc/cidguard/resold.key,/etc/cidguard/resold.pem,https://cr.example.net/r.pem
 *
 * One signer per line, exactly four comma-separated fields (no CSV
 * quoting):
 *   - signer: a unique name, 1 to CG_SIGNER_NAME_MAX bytes of letters,
 *     digits, '.', '_' and '-' (it is a label on metrics and a column of
 *     the customers file).  A later line with the same name is reported
 *     and skipped.
 *   - key: the PEM private key (EC P-256, PKCS#8 or SEC1).
 *   - certificate: the PEM bundle published at x5u, leaf first: the SP
 *     certificate, whose TNAuthList holds the SPC, then its
 *     intermediates.  Its public key must be the key's: a mismatched pair
 *     would sign calls that no verifier accepts.
 *   - x5u: the https (or, for labs, http) URL where the bundle is
 *     published, without ' ', '<', '>', ';' or '"'.
 * A relative key or certificate path is relative to the directory of the
 * signers file (cg_signers_load_file) or to the working directory
 * (cg_signers_load_text).  Whitespace around fields is ignored, lines may
 * end in CRLF and a UTF-8 byte-order mark at the start is skipped.  The
 * first line that is not a comment is the header when its first field is
 * "signer"; the header is optional.
 *
 * Every line that cannot be used (a bad name or URL, a duplicate name, a
 * key or certificate that cannot be read, a key that is not the
 * certificate's, a certificate without an SPC in its TNAuthList, a limit
 * crossed) is reported through the callback with the file name and line
 * number and skipped whole; the rest of the file loads.  A host that must
 * not sign with a partial set (the daemon) treats any report as fatal.
 *
 * An expired or not yet valid certificate is loaded: the host decides what
 * to say about it (cg_signer_entry.not_after, cg_signers_days_left).
 */
#ifndef CIDGUARD_SIGNERS_H
#define CIDGUARD_SIGNERS_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "policy.h" /* cg_policy_report_cb */
#include "sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits.  A file over CG_SIGNERS_FILE_MAX is refused whole (CG_ETOOBIG);
 * a line over any other limit is reported and skipped. */
#define CG_SIGNERS_FILE_MAX (1u << 20) /* bytes in a file or text */
#define CG_SIGNERS_LINE_MAX 8192u      /* bytes in a line, without its end */
#define CG_SIGNERS_MAX 1000u           /* signers in a file */
#define CG_SIGNER_NAME_MAX 64u         /* bytes in a signer name */
#define CG_SIGNER_PATH_MAX 1024u       /* bytes in a key or certificate path, resolved */

/* The signers of a file.  Immutable once loaded: any number of threads may
 * use it at the same time.  A reload builds a new one. */
struct cg_signers;

/* One signer (one row), owned by its cg_signers and valid as long as it
 * is.  Read-only. */
struct cg_signer_entry {
    const char *name;
    const char *spc; /* the SPC of the leaf's TNAuthList, never "" */
    const char *x5u;
    const char *key_path, *cert_path; /* as opened (relative paths resolved) */
    int line;                         /* in the signers file */
    int64_t not_before, not_after;    /* the leaf's validity, seconds since the epoch */
    const struct cg_cert_info *cert;  /* the bundle as parsed (subject, serial, ...) */
    const struct cg_signer *signer;   /* signs with the key, naming x5u */
};

/*
 * Loads the signers file at `path`: every row's key and certificate are
 * read and checked against each other.  Bad lines are reported through
 * `cb` (may be NULL) with `path` and their line number, and skipped.  *out
 * is set only on success.  Returns CG_OK (even when lines were skipped),
 * CG_EINVAL (NULL out or path), CG_EIO (the file is unreadable),
 * CG_ETOOBIG (larger than CG_SIGNERS_FILE_MAX, also reported through `cb`
 * with line 0) or CG_ENOMEM.
 */
CG_EXTERN int cg_signers_load_file(struct cg_signers **out, const char *path,
                                   cg_policy_report_cb cb, void *arg);
/*
 * The same from `len` bytes at `text` (not necessarily NUL-terminated; a
 * NUL byte is bad input like any other).  `name` names the text in reports
 * (NULL: "signers").  The text is not kept.
 */
CG_EXTERN int cg_signers_load_text(struct cg_signers **out, const char *name, const char *text,
                                   size_t len, cg_policy_report_cb cb, void *arg);
CG_EXTERN void cg_signers_free(struct cg_signers *s);

/* How many signers were loaded (0 for NULL). */
CG_EXTERN size_t cg_signers_count(const struct cg_signers *s);
/* The signer of index `i` (file order), or NULL. */
CG_EXTERN const struct cg_signer_entry *cg_signers_at(const struct cg_signers *s, size_t i);
/* The signer named `name` (exactly, case-sensitive), or NULL; NULL for a
 * NULL set or name. */
CG_EXTERN const struct cg_signer_entry *cg_signers_find(const struct cg_signers *s,
                                                        const char *name);
/* Whole days from `now` (seconds since the epoch) until the certificate
 * expires, rounded down: 0 on its last day, negative once expired. */
CG_EXTERN int64_t cg_signers_days_left(const struct cg_signer_entry *e, int64_t now);

/*
 * A stable origid (ATIS-1000074: it identifies the origination point) for
 * calls of `customer` entering at `ingress`: HMAC-SHA256 keyed with the
 * `secret_len` bytes at `secret` over customer, a NUL byte and ingress;
 * its first 16 bytes as an RFC 9562 UUID of version 8 (variant 10), 36
 * lowercase characters and a NUL in `out`.  The same inputs always give
 * the same origid; without the secret it cannot be traced to the customer,
 * only grouped with its other calls.  `customer` and `ingress` are NUL-
 * terminated, at most CG_ORIGID_INPUT_MAX bytes each ("" is allowed);
 * `secret` 1 to CG_ORIGID_SECRET_MAX bytes (32 random bytes is right).
 * Returns CG_OK, CG_EINVAL (a NULL argument or an empty secret),
 * CG_ETOOBIG or CG_ECRYPTO; on failure `out`, when not NULL, holds "".
 * Thread-safe, allocates nothing.
 */
#define CG_ORIGID_INPUT_MAX 1024u
#define CG_ORIGID_SECRET_MAX 1024u
CG_EXTERN int cg_origid_stable(const unsigned char *secret, size_t secret_len, const char *customer,
                               const char *ingress, char out[37]);

#ifdef __cplusplus
}
#endif
#endif
