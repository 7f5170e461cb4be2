/* Internal to the policy module. */
#ifndef CG_POLICY_INTERNAL_H
#define CG_POLICY_INTERNAL_H

#include "cidguard/policy.h"

/* Records the call in the replay and rate state and says what it tripped. */
int cg__policy_state_observe(struct cg_policy_state *s, const struct cg_policy_call *c,
                             bool *replay, bool *rate_calls, bool *rate_numbers);

#endif
