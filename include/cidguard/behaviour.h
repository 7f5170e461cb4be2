/*
 * Campaign behaviour, online: per-origin features kept over a sliding
 * window while calls arrive, judged against floors and against the
 * population of origins, so that the calls an origin makes once it
 * behaves like a spoofing campaign get the policy reason
 * campaign_suspected.
 *
 * An origin is what the call path knows of who sent a call: the verified
 * SPC and origid of a signed call, else its ingress (or source address).
 * The decisive signal of a spoofing campaign is many distinct presentation
 * numbers that the origin does not own (not attested A by its own
 * signature, or protected, bank-like, DNO, unallocated), new ones
 * appearing quickly, to many distinct callees; or, from an origin with a
 * history, numbers that another origin signs at A (borrowed), each used
 * for several calls and then dropped for new ones; or, from its first
 * call, such numbers of subscribers (owners that sign many numbers at A),
 * of more than one owner, several calls each.  A call centre presenting
 * its own numbers (attested A), a one-time-password platform with many
 * callees and one or few numbers, a bank and an agency presenting the same
 * clients' numbers all day stay below it.
 *
 * Memory is fixed when the table is made: a table of origins (a new one
 * takes the slot of its probe run least worth keeping: not a held origin's
 * while another is there, else the one with the fewest calls in its
 * window, the least recently seen of those), a table of numbers' owners
 * (16 per origin slot, the last origin seen signing each at A; a newer
 * number overwrites an older one in its slot), and per origin two
 * half-window generations of 512-bit sketches (distinct numbers, distinct
 * callees) plus a 512-bit history of the numbers it used before.  Each call
 * is O(1) under the lock of one of 16 stripes; the population's median and
 * MAD are recomputed by one caller at most every quarter window.
 */
#ifndef CIDGUARD_BEHAVIOUR_H
#define CIDGUARD_BEHAVIOUR_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cg_behaviour_config {
    int window;            /* seconds of the sliding window (60..3600; 600) */
    unsigned min_calls;    /* calls in the window before an origin is judged (10) */
    unsigned min_numbers;  /* distinct unowned numbers in the window, suspect ones twice (16) */
    unsigned unowned_pct;  /* share of the window's calls presenting unowned numbers (50) */
    unsigned fanout_pct;   /* distinct callees per call, percent (50), or min_numbers callees */
    unsigned rotation_pct; /* distinct unowned numbers per call, percent: rotation (50) */
    unsigned fresh_pct;    /* of an origin with history, unowned numbers new to it (60) */
    /* robust z against the population, in tenths (35 = 3.5); twice
     * min_numbers stands out whatever the population */
    unsigned z_tenths;
    int hold; /* seconds an origin stays suspected after it last looked it (0..604800; 86400) */
    unsigned origins; /* origins kept (a power of two, 256..1048576; 4096) */
};
/* Fills `cfg` with the defaults above. */
CG_EXTERN void cg_behaviour_config_defaults(struct cg_behaviour_config *cfg);

struct cg_behaviour;
/* CG_EINVAL for a value out of the ranges above, CG_ENOMEM. */
CG_EXTERN int cg_behaviour_new(struct cg_behaviour **out, const struct cg_behaviour_config *cfg);
CG_EXTERN void cg_behaviour_free(struct cg_behaviour *b);

struct cg_behaviour_call {
    const char *origin;    /* the origin's key (NULL or "": the call is not counted) */
    const char *presented; /* the number shown to the callee, canonical, or NULL */
    const char *callee;    /* canonical, or NULL */
    /* the presented number is the origin's own: it signed it at attestation A
     * (the origin is then remembered as the number's owner) */
    bool owned;
    /* the presented number is protected, bank-like, DNO, unallocated or
     * invalid for its origin (a per-call policy finding) */
    bool suspect;
    /* the origin is a trunk (an ingress, unsigned calls): it carries
     * ordinary callers' numbers, so only suspect numbers count as unowned */
    bool trunk;
    int64_t now; /* seconds */
};

/* The window's features of the call's origin, after the call. */
struct cg_behaviour_result {
    bool campaign;           /* the origin is in campaign behaviour (held) */
    bool active;             /* its window looks like a campaign's at this call */
    bool crossed;            /* this call made it cross (it was not before) */
    unsigned calls;          /* calls in the window */
    unsigned unowned_calls;  /* of them, presenting an unowned number */
    unsigned numbers;        /* distinct unowned numbers (estimated) */
    unsigned suspect;        /* distinct suspect numbers (estimated) */
    unsigned fresh;          /* distinct unowned numbers not in the origin's history */
    unsigned borrowed;       /* distinct unowned numbers another origin signed at A */
    unsigned borrowed_calls; /* calls presenting them */
    unsigned callees;        /* distinct callees (estimated) */
    double z;                /* robust z of numbers + suspect against the population */
};

/* Counts the call for its origin and judges the origin.  Thread-safe.
 * CG_EINVAL for a NULL argument; CG_OK otherwise (a call without origin
 * gives a zeroed result). */
CG_EXTERN int cg_behaviour_observe(struct cg_behaviour *b, const struct cg_behaviour_call *c,
                                   struct cg_behaviour_result *out);

/* Origins in campaign behaviour now (held ones included). */
CG_EXTERN unsigned cg_behaviour_suspected(struct cg_behaviour *b, int64_t now);
/* The latest `now` of a call observed (0 before the first): the clock the
 * calls are judged by, which a replay runs faster than the wall clock. */
CG_EXTERN int64_t cg_behaviour_clock(struct cg_behaviour *b);

/*
 * Sharing observations between daemons.  Each daemon observes its own calls
 * and publishes each observation (through a Redis stream); every other
 * daemon observes the published ones too, so that every daemon's windows
 * hold all the daemons' calls of an origin, however a load balancer spreads
 * them.  On the wire one call is one line of text:
 *   "1 NOW FLAGS PRESENTED CALLEE ORIGIN"
 * with FLAGS a digit (1 owned, 2 suspect, 4 trunk), "-" for a missing
 * number, and the origin last (it may hold spaces).
 */
#define CG_BEHAVIOUR_NUMBER_MAX 32  /* a number's bytes on the wire */
#define CG_BEHAVIOUR_ORIGIN_MAX 200 /* an origin's bytes on the wire */
#define CG_BEHAVIOUR_WIRE_MAX (40 + 2 * CG_BEHAVIOUR_NUMBER_MAX + CG_BEHAVIOUR_ORIGIN_MAX)

/* The call as its line into buf (NUL-terminated); its length, or 0 when
 * the call has no origin or a field is longer than the wire allows. */
CG_EXTERN size_t cg_behaviour_call_encode(const struct cg_behaviour_call *c, char *buf, size_t cap);

/* The text a decoded call points into. */
struct cg_behaviour_wire {
    char presented[CG_BEHAVIOUR_NUMBER_MAX + 1];
    char callee[CG_BEHAVIOUR_NUMBER_MAX + 1];
    char origin[CG_BEHAVIOUR_ORIGIN_MAX + 1];
};
/* A line (n bytes, not NUL-terminated) back into *c, pointing into *w.
 * CG_EPARSE for anything else than what cg_behaviour_call_encode writes:
 * another version, a time before 0 or from 10^15 on, a number that is not
 * digits (with '+', '*' or '#'), an origin empty or with a control byte,
 * a field too long. */
CG_EXTERN int cg_behaviour_call_decode(const char *s, size_t n, struct cg_behaviour_wire *w,
                                       struct cg_behaviour_call *c);

#ifdef __cplusplus
}
#endif
#endif
