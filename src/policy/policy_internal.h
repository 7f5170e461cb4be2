/* Internal to the policy module. */
#ifndef CG_POLICY_INTERNAL_H
#define CG_POLICY_INTERNAL_H

#include "cidguard/policy.h"

/* Replay entries are keyed by the ECDSA r value: the first 32 bytes of R||S. */
#define CG_REPLAY_KEY_LEN 32

/* When a PASSporT seen at `now` may be forgotten: once the verifier can no
 * longer accept it, max(now, iat) + window (window being freshness plus
 * skew).  An iat further ahead than the window cannot have passed; it is
 * clamped so that no entry outlives twice the window. */
static inline int64_t cg__replay_expiry(int64_t iat, int64_t now, int window)
{
    int64_t ahead = 0;
    if (iat > now) /* the difference computed unsigned: it cannot overflow there */
        ahead = (uint64_t)iat - (uint64_t)now > (uint64_t)window ? window : iat - now;
    return now + ahead + window;
}

/* Counts a signing customer's call in its windows (state.c) and says which
 * thresholds it crossed: calls and distinct numbers per minute, and the
 * share of calls presenting protected or bank-like numbers (`flagged`). */
int cg__policy_state_originate(struct cg_policy_state *s, const char *customer, const char *caller,
                               const char *presented, bool flagged, int64_t now, bool *calls,
                               bool *numbers, bool *share);

/* Records the call in the replay and rate state and says what it tripped. */
int cg__policy_state_observe(struct cg_policy_state *s, const struct cg_policy_call *c,
                             bool *replay, bool *rate_calls, bool *rate_numbers);

#endif
