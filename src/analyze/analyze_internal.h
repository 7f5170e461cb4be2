/* Internal to the analyzer: findings passed from the analysis (analyze.c)
 * to the writers (report.c). */
#ifndef CG_ANALYZE_INTERNAL_H
#define CG_ANALYZE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidguard/analyze.h"

/* A map of 64-bit keys to 32-bit values (analyze.c): key ~0 = empty. */
struct mslot {
    uint64_t k;
    uint32_t v;
};
struct map64 {
    struct mslot *s;
    size_t cap, n;
};

enum {
    CG__K_NONE,
    CG__K_BANK,
    CG__K_DNO,
    CG__K_INTL,
    CG__K_ROTATION,
    CG__K_VERIFY,
    CG__K_UNALLOC,
    CG__K__COUNT
};
/* The per-call signals, strongest first. */
enum {
    CG__S_PROT,
    CG__S_NO_INTENT,
    CG__S_NOT_CUSTOMERS, /* signing: a protected number its customer does not own */
    CG__S_DNO,
    CG__S_UNALLOC,
    CG__S_BAD_NUMBER, /* signing: not a valid or assigned number (UK, NANP) */
    CG__S_INTL,
    CG__S_VERIFY,
    CG__S__COUNT
};

struct cg__campaign {
    uint32_t origin;
    int kind;
    int64_t first, last;
    uint64_t calls, answered, talk, sig[CG__S__COUNT];
    /* of the calls with each signal: the signal was about the network
     * number, about the presentation number (both when they are one) */
    uint64_t sig_net[CG__S__COUNT], sig_pres[CG__S__COUNT];
    uint32_t victims, presented, network, peak; /* distinct presentation, network numbers */
    uint64_t brands;                            /* bit per brand id (the first 64) */
    uint32_t origin_presented, origin_calls;
    bool account; /* the origin is one account (origid known) */
    /* signing log: attempts the signing policy refused (no victim), and
     * calls it labelled rate_numbers, protected_share */
    uint64_t refused, labelled[2];
};

#define CG__VICTIM_LIST 8

struct cg__victim {
    uint32_t called;
    int64_t first, last;
    uint32_t calls, answered;
    uint64_t talk, brands;
    uint32_t camps[CG__VICTIM_LIST], pres[CG__VICTIM_LIST];
    unsigned ncamps, npres;
};

/* An origin that spoofed: its calls, and of them the spoofed ones, their
 * distinct calling numbers, victims and campaigns; conclusive_calls counts
 * the calls with a signal that is evidence on its own (protected number
 * unverified, DNO, UK number from abroad). */
struct cg__origin_out {
    uint32_t id, calls, spoofed, presented, victims, campaigns, conclusive_calls;
    uint32_t refused, conclusive_numbers; /* signing log: refused attempts; distinct numbers of
                                             the conclusive calls */
    int64_t first, last;
    bool account, rotates;
};

struct strtab;
struct cg__findings {
    const struct strtab *nums, *origins, *brands;
    int64_t tmin;
    struct cg__campaign *camp;
    size_t ncamp;
    struct cg__victim *vict;
    size_t nvict, victcap;
    struct cg__origin_out *org;
    size_t norg;
    struct map64 hourly;      /* (campaign << 32 | hour since tmin) -> calls */
    uint64_t brand_calls[64]; /* spoofed calls presenting each brand's numbers */
    /* the input is a signing log: the origins are customers, and their keys
     * have a fourth part, the customer's source addresses */
    bool signing;
};

struct analysis;
int cg__analyze_run(struct analysis *a, struct cg__findings *fd, struct cg_analyze_summary *sum);
int cg__analyze_write(struct cg__findings *fd, const char *outdir,
                      const struct cg_analyze_summary *sum, char *err, size_t errlen);
void cg__findings_free(struct cg__findings *fd);
uint32_t cg__hourly(const struct cg__findings *fd, uint32_t cid, uint32_t hour);
const char *cg__num(const struct cg__findings *fd, uint32_t id);
const char *cg__origin_key(const struct cg__findings *fd, uint32_t id);
const char *cg__brand(const struct cg__findings *fd, uint32_t id);
uint32_t cg__nbrands(const struct cg__findings *fd);

#endif
