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
    CG__K_BORROWED,  /* numbers whose usual origin is another, which still uses them */
    CG__K_BEHAVIOUR, /* an account convicted by its behaviour against the other origins */
    CG__K_NEIGHBOUR, /* numbers sharing the callee's leading digits */
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
    CG__S_BORROWED,  /* a number another origin signs with A (or carries) and still uses */
    CG__S_NEIGHBOUR, /* a UK mobile in the callee's block, not the origin's own */
    CG__S__COUNT
};

/*
 * The behaviour features of an origin, judged against the population of
 * origins in the same records (robust z-scores: median and MAD).  The
 * families: what it presents (borrowed numbers, new numbers per call),
 * what its calls do to the callee (answer rate, talk time), and how it
 * dials (busiest minute, distinct callees per call, hour-of-day shape).
 */
enum {
    CG__F_BORROWED, /* share of calls presenting a borrowed or unverified protected number */
    CG__F_NEW,      /* distinct presented numbers per call */
    CG__F_TURNOVER, /* how briefly each number is used, against the origin's own span */
    CG__F_ANSWER,   /* answer rate */
    CG__F_TALK,     /* log of the mean talk time of answered calls */
    CG__F_PEAK,     /* log of the busiest minute's calls */
    CG__F_REACH,    /* distinct callees per call */
    CG__F_HOURS,    /* distance of its hour-of-day shape from the population's */
    CG__F__COUNT
};

/* Which rule listed an origin. */
enum {
    CG__R_SIGNAL,
    CG__R_ROTATION,
    CG__R_BORROWED,
    CG__R_BEHAVIOUR,
    CG__R_NEIGHBOUR,
    CG__R__COUNT
};

struct cg__behaviour {
    bool judged; /* enough calls to be judged (and part of the population) */
    double feat[CG__F__COUNT], z[CG__F__COUNT];
    double family[3]; /* the largest z of each family, clipped to 0..6 */
    double score;     /* the families' sum */
    double mean_talk; /* seconds, of its answered calls */
    uint32_t peak, callees, borrowed_calls, borrowed_numbers;
    /* of the borrowed calls: presenting private subscribers' numbers, banks'
     * lines; calls presenting a neighbour of the callee (not scored) */
    uint32_t private_calls, bank_calls, neighbour_calls;
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
    /* the rule that listed its origin and the origin's behaviour */
    int reason;
    struct cg__behaviour beh;
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
    int reason; /* CG__R_*: the rule that listed it */
    struct cg__behaviour beh;
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
