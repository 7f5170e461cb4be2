/*
 * Investigation: find spoofing campaigns in call records, list their
 * victims, trace their origins.
 *
 * Input streams (plain or gzip): memory grows with the distinct numbers and
 * origins, not with the rows, which wait for the later passes in an
 * unlinked temporary file (32 bytes each).
 * Every finding carries the signals that make it (docs/analyze.md).
 */
#ifndef CIDGUARD_ANALYZE_H
#define CIDGUARD_ANALYZE_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tn.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * CG_CDR_SIGNING is the originating side's signing log (signlog.h): the
 * origins are its customers, and a call the signing policy refused is an
 * attempt that reached no one (evidence against its customer, no victim).
 */
enum cg_cdr_format { CG_CDR_CSV, CG_CDR_ASTERISK, CG_CDR_DECISIONS, CG_CDR_SIGNING };

struct cg_analyze_opts {
    enum cg_cdr_format format;
    const char *protected_path, *dno_path, *ingress_path; /* the daemon's policy lists, or NULL */
    /* Ofcom number-block status file (S7 etc.), or NULL: with it, a UK
     * number in a range Ofcom has not allocated is a signal */
    const char *ofcom_path;
    const struct cg_tn_plan *plan; /* national numbers in the input */
    /* a malformed row (skipped); line numbers count from 1, the header included */
    void (*bad_row)(uint64_t line, const char *why, void *arg);
    /* progress: bytes of (compressed) input read so far, and the total */
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *arg;
    /* a row reported by file and line: malformed (skipped) or out of time
     * order (kept); when set, called instead of bad_row */
    void (*bad_input)(const char *file, uint64_t line, const char *why, void *arg);
    /* numbers' usual origins saved by an earlier run (save_baseline_path),
     * or NULL; and where to save this run's (merged with it), or NULL */
    const char *baseline_path, *save_baseline_path;
    unsigned threads; /* threads to use: 0 = one per core; the output is the same */
};

struct cg_analyze_summary {
    uint64_t rows, bad_rows, spoofed_calls, spoofed_answered;
    uint64_t campaigns, victims, origins;
    int64_t first_time, last_time;
    /* spoofed calls whose signal was only on the presentation number
     * (behind a network number that carried none) */
    uint64_t presentation_only;
    /* calls presenting a protected number without a live intent from the
     * bank's own dialler (its network number presented the number with
     * intents elsewhere): not spoofing, though the daemon blocks them */
    uint64_t own_no_intent;
    /* signing log: of the spoofed calls, those the signing policy refused
     * (never signed: attempts without a victim) */
    uint64_t refused;
    /* rows earlier than the latest before them by more than 5 minutes
     * (reported, kept) */
    uint64_t out_of_order;
    /* calls presenting a number whose usual origin is another (which still
     * uses it) from origins that were listed */
    uint64_t borrowed;
};

/*
 * Reads `input`, writes campaigns.json, victims.csv, origins.csv and
 * report.html into `outdir` (created if needed; NULL: none, the summary
 * alone, e.g. to screen a file before a full run).  Returns CG_OK, or an
 * error with a sentence in err (a missing required column, an unreadable
 * file); malformed rows are not errors.
 */
CG_EXTERN int cg_analyze(const char *input, const char *outdir, const struct cg_analyze_opts *opts,
                         struct cg_analyze_summary *summary, char *err, size_t errlen);

/*
 * cg_analyze over several inputs of one format read as one set (decision
 * logs of many daemons: their rows merged in time order); reported rows
 * name their file.
 */
CG_EXTERN int cg_analyze_files(const char *const *inputs, size_t ninputs, const char *outdir,
                               const struct cg_analyze_opts *opts,
                               struct cg_analyze_summary *summary, char *err, size_t errlen);

/* Unix seconds as ISO 8601 UTC, "2025-01-06T09:15:02Z" (years 0-9999). */
CG_EXTERN void cg_time_iso(int64_t t, char out[21]);
/* Unix seconds (up to 12 digits) or ISO 8601 UTC ("2025-01-06T09:15:02Z",
 * a space for the T, fractions, "+00:00"), as analyze reads times: `n`
 * bytes at `s`; false for anything else, a day that does not exist
 * ("2025-02-30") and a time past the year 9999 among them. */
CG_EXTERN bool cg_time_parse(const char *s, size_t n, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
