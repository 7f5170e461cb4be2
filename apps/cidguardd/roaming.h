/*
 * The roaming check's answers, per number: a call from abroad presenting a
 * UK mobile asks the operator's roaming-check service (through the
 * fetcher's thread) whether the number is roaming, and the answer is kept
 * here for [policy] roaming_check_ttl seconds, so that a roamer's calls
 * ask once.  Shared by every worker and kept across reloads; bounded (a
 * new number takes the place of whatever held its slot).
 */
#ifndef CIDGUARDD_ROAMING_H
#define CIDGUARDD_ROAMING_H

#include <stdint.h>

/* What the service said; ERROR and TIMEOUT withhold the caller ID, as
 * NOT_ROAMING does (fail safe).  The values index cgd_m.roaming_checks. */
enum cgd_roaming_result {
    CGD_ROAMING_YES,
    CGD_ROAMING_NO,
    CGD_ROAMING_ERROR,
    CGD_ROAMING_TIMEOUT,
};

/* The answer remembered for `tn` (canonical digits) at `now`, or -1. */
int cgd_roaming_cached(const char *tn, int64_t now);
/* Remembers an answer until `expires`. */
void cgd_roaming_store(const char *tn, enum cgd_roaming_result r, int64_t expires);
/* Reads a service's answer: YES only for HTTP 200 and a JSON object whose
 * member "roaming" is true. */
enum cgd_roaming_result cgd_roaming_parse(long status, const char *body, size_t len);

#endif
