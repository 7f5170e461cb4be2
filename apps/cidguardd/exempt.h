/*
 * [policy] campaign_exempt: the origins an operator vouches for (a
 * verified-caller-ID platform, an agency presenting its clients' numbers),
 * which campaign detection still observes but whose calls never get
 * campaign_suspected (call.c).  Each context holds its own set, built once
 * from the directive's items (config.c checks them: SPC, SPC/ORIGID or
 * ingress:NAME), so that a reload swaps it with the rest.
 */
#ifndef CIDGUARDD_EXEMPT_H
#define CIDGUARDD_EXEMPT_H

#include <stdbool.h>

struct cgd_exempt;

/* The set of `list`'s items (';'-separated, each already checked) into
 * *out, which is NULL for an empty list.  -1 when out of memory. */
int cgd_exempt_build(struct cgd_exempt **out, const char *list);
void cgd_exempt_free(struct cgd_exempt *ex);

/* Whether the origin is exempt, by its key in the behaviour table
 * ("spc:SPC/ORIGID" or "in:NAME", call.c); false for a NULL set. */
bool cgd_exempt_has(const struct cgd_exempt *ex, const char *origin);

#endif
