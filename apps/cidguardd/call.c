/*
 * One verification call (call.h): verify, park on the fetcher or on
 * Redis, decide, log, answer.  Runs on its worker's thread only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "cidguard/behaviour.h"
#include "declogd.h"
#include "fetch.h"
#include "redis.h"
#include "roaming.h"

void cgd_call_begin(struct cgd_call *c, struct cgd_worker *w, enum cgd_listener listener)
{
    c->w = w;
    c->listener = listener;
    c->ctx = cgd_ctx_get();
}

void cgd_call_end(struct cgd_call *c)
{
    cgd_ctx_put(c->ctx);
    c->ctx = NULL;
}

static void policy_call(const struct cgd_call *c, struct cg_policy_call *pc, bool has_shared,
                        uint32_t shared)
{
    const struct cg_verdict *v = &c->v;
    bool own_presented = c->presented[0] && strcmp(c->presented, c->caller) != 0;
    *pc = (struct cg_policy_call){.verdict = v,
                                  .caller = c->caller[0] ? c->caller : NULL,
                                  .presented = own_presented ? c->presented : NULL,
                                  .caller_unreadable = c->caller_unreadable,
                                  .callee = c->callee[0] ? c->callee : NULL,
                                  .ingress = c->ingress[0] ? c->ingress : NULL,
                                  .international = c->international,
                                  .roaming_partner = c->roaming_partner,
                                  .roaming_confirmed = c->roaming_confirmed,
                                  .intents = c->intents,
                                  .call_id = c->call_id,
                                  .sig = v->has_sig ? v->sig : NULL,
                                  .siglen = v->has_sig ? sizeof v->sig : 0,
                                  .now = c->now,
                                  .has_shared = has_shared,
                                  .shared = shared};
}

struct decided {
    const struct cgd_call *c;
    const struct cg_decision *d;
};

static void fill_record(struct cg_declog_record *rec, void *arg)
{
    const struct decided *x = arg;
    const struct cgd_call *c = x->c;
    cgd_join(rec->call_id, sizeof rec->call_id, c->call_id ? c->call_id : "", NULL);
    cgd_join(rec->caller, sizeof rec->caller, c->caller, NULL);
    cgd_join(rec->presented, sizeof rec->presented, c->presented, NULL);
    cgd_join(rec->callee, sizeof rec->callee, c->callee, NULL);
    cgd_join(rec->ingress, sizeof rec->ingress, c->ingress, NULL);
    cgd_join(rec->listener, sizeof rec->listener, cgd_listener_name(c->listener), NULL);
    cg_declog_record_fill(rec, &c->v, x->d, c->now);
}

static const char *origin(const struct cgd_call *c, char *buf, size_t cap);
static void campaign_stage(const struct cgd_call *c, struct cg_decision *d);

/* Decides (with `shared`, reason bits from Redis, when has_shared), logs
 * and answers. */
static void decide(struct cgd_call *c, bool has_shared, uint32_t shared)
{
    struct cg_policy_call pc;
    struct cg_decision d;
    policy_call(c, &pc, has_shared, shared);
    cg_policy_decide(c->ctx->policy, c->ctx->pstate, &pc, &d);
    if (cgd_behaviour)
        campaign_stage(c, &d);
    atomic_fetch_add(&cgd_m.actions[d.action], 1);
    cgd_declog_push(fill_record, &(struct decided){c, &d});
    c->answer(c, &c->v, &d);
}

static void redis_done_cb(void *arg, bool ok, uint32_t bits, unsigned intents)
{
    struct cgd_call *c = arg;
    c->w->pending--;
    if (ok) {
        c->intents = intents;
    } else { /* Redis did not answer: this daemon's own intents stand in */
        struct cg_policy_call pc;
        policy_call(c, &pc, false, 0);
        c->intents = cgd_call_local_intents(c, &pc, c->intents_needed);
    }
    decide(c, ok, bits);
}

static void fetched_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_call *c = arg;
    (void)fd;
    (void)what;
    c->w->pending--;
    atomic_fetch_add(&cgd_m.inflight, -1);
    cgd_call_run(c);
}

/* Who asks for a fetch, for the fetcher's fair shares: the ingress, else
 * the source address (IPv4-mapped addresses as IPv4). */
static const char *origin(const struct cgd_call *c, char *buf, size_t cap)
{
    const struct sockaddr_storage *ss = &c->source;
    if (c->ingress[0])
        return c->ingress;
    buf[0] = '\0';
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)cap);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)cap);
        } else {
            /* one IPv6 origin is its /64: a host has a whole one to vary */
            struct in6_addr net = *a;
            memset(net.s6_addr + 8, 0, 8);
            inet_ntop(AF_INET6, &net, buf, (socklen_t)cap);
        }
    }
    return buf;
}

/* Findings that make a presentation number one its origin cannot own. */
#define SUSPECT_REASONS                                                                            \
    ((1u << CG_PR_DNO) | (1u << CG_PR_PROTECTED_UNVERIFIED) | (1u << CG_PR_PROTECTED_NO_INTENT) |  \
     (1u << CG_PR_INTL_UK_CLI) | (1u << CG_PR_UK_INVALID) | (1u << CG_PR_UK_PREMIUM) |             \
     (1u << CG_PR_UK_UNALLOCATED) | (1u << CG_PR_NANP_INVALID) | (1u << CG_PR_NANP_UNASSIGNED))

/*
 * The call's origin's behaviour (cidguard/behaviour.h).  The origin of a
 * call that passed verification is its signer, SPC and origid: an account
 * of the originating carrier, all of whose calls are its own, so that once
 * it behaves like a campaign all its calls get campaign_suspected.  Else it
 * is the ingress (or source address): a trunk carries ordinary callers,
 * each with its own number, which no signature vouches for (a transit, an
 * international gateway), so on a trunk only a suspect number counts as
 * one it does not own, and only the calls presenting a suspect number
 * while its window looks like a campaign's get campaign_suspected.  An account's number is its own
 * when the signature vouches for it at attestation A.  On an ingress the
 * ingress list names international, a signed call's SPC and origid name a
 * gateway's upstream partner (attestation C), whose foreign callers each
 * bring a new number: the partner keeps its key, but is judged as a trunk.
 */
static void campaign_stage(const struct cgd_call *c, struct cg_decision *d)
{
    const struct cg_verdict *v = &c->v;
    bool presented = c->presented[0] && strcmp(c->presented, c->caller) != 0;
    const char *shown = presented ? c->presented : c->caller;
    uint32_t about = presented ? d->presented_reasons : d->caller_reasons;
    bool signer = v->reason == CG_R_OK && v->spc[0];
    bool account = signer && !c->listed_international;
    char key[CG_SPC_MAX + CG_ORIGID_MAX + 8], buf[64], *p;
    struct cg_behaviour_call bc = {.origin = key,
                                   .presented = shown[0] ? shown : NULL,
                                   .callee = c->callee[0] ? c->callee : NULL,
                                   .owned = account && v->attest == 'A' && !strcmp(v->orig, shown),
                                   .suspect = (about & SUSPECT_REASONS) != 0,
                                   .trunk = !account,
                                   .now = c->now};
    struct cg_behaviour_result r;
    int scale = c->ctx->conf.campaign_time_scale;
    if (scale > 1) { /* a replay sped up: the behaviour clock runs as fast */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        bc.now = ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) * scale / 1000;
    }
    /* joined, not printed: a third of counting the call (cidguard-bench) */
    if (signer)
        cgd_join(key, sizeof key, "spc:", v->spc, "/", v->origid, NULL);
    else
        cgd_join(key, sizeof key, "in:", origin(c, buf, sizeof buf), NULL);
    /* an origid may hold control bytes (JSON escapes): the same key here
     * and on the other daemons, which the wire does not carry them to */
    for (p = key; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    /* the SPC ends at the first '/' ([policy] campaign_exempt, and one
     * account apart from another): a certificate's SPC that holds one (not
     * a conforming SPC, yet accepted with a warning) keeps it as '?' */
    if (signer) {
        const char *spc_end = key + 4 + strnlen(v->spc, CG_SPC_MAX);
        for (p = key + 4; p < spc_end && *p; p++)
            if (*p == '/')
                *p = '?';
    }
    if (cg_behaviour_observe(cgd_behaviour, &bc, &r) != CG_OK)
        return;
    cgd_redis_share_call(c->w, &bc);
    /* an origin the operator vouches for is still observed and shared:
     * the numbers it signs at A make it their owner, and it is part of the
     * population the others are judged against */
    if (!r.campaign || cgd_exempt_has(c->ctx->exempt, key))
        return;
    if (r.crossed)
        atomic_fetch_add(&cgd_m.campaign_origins, 1);
    if (!account && !(bc.suspect && r.active))
        return;
    atomic_fetch_add(&cgd_m.campaign_calls, 1);
    d->reasons |= 1u << CG_PR_CAMPAIGN;
    d->action = cg_action_stricter(d->action, cg_policy_action(c->ctx->policy, CG_PR_CAMPAIGN));
}

/* A certificate the cache does not have: park the call on the fetcher
 * (once); true when it is parked or has been answered. */
static bool park_on_fetch(struct cgd_call *c)
{
    char buf[64];
    if (c->w->pending >= c->w->max_pending) {
        atomic_fetch_add(&cgd_m.overload[c->listener], 1);
        c->overload(c);
        return true;
    }
    atomic_fetch_add(&cgd_m.cache_miss, 1);
    if (cgd_fetch(c->ctx, c->miss.url, origin(c, buf, sizeof buf), c->w->base, fetched_cb, c) ==
        0) {
        c->parked_once = true;
        c->w->pending++;
        atomic_fetch_add(&cgd_m.inflight, 1);
        return true;
    }
    atomic_fetch_add(&cgd_m.overload[c->listener], 1);
    return false; /* the fetcher is saturated: answered as unavailable */
}

static void policy_stage(struct cgd_call *c);

/* The roaming check answered (or failed): its answer is in the cache. */
static void roamed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cgd_call *c = arg;
    (void)fd;
    (void)what;
    c->w->pending--;
    atomic_fetch_add(&cgd_m.inflight, -1);
    if (cgd_roaming_cached(c->roaming_tn, c->now) == CGD_ROAMING_YES)
        c->roaming_confirmed |= c->roaming_bit;
    policy_stage(c);
}

/* UK mobiles calling from abroad that nothing else shows roaming, with a
 * roaming-check service configured: each number (network and presentation
 * alike, one never vouching for the other) gets its remembered answer, else
 * the call parks on its check, once per number; true when parked.
 * Anything but a "yes" in time withholds the caller ID (fail safe). */
static bool check_roaming(struct cgd_call *c, const struct cg_policy_call *pc)
{
    const char *nums[2] = {pc->caller, pc->presented};
    const unsigned bits[2] = {CG_POLICY_NUM_CALLER, CG_POLICY_NUM_PRESENTED};
    unsigned need, i;
    char buf[64];
    if (!c->ctx->conf.roaming_check_url[0])
        return false;
    need = cg_policy_roaming_needed(c->ctx->policy, pc) & ~c->roaming_asked;
    for (i = 0; i < 2; i++) {
        int cached;
        if (!(need & bits[i]))
            continue;
        c->roaming_asked |= bits[i];
        if ((cached = cgd_roaming_cached(nums[i], c->now)) >= 0) {
            atomic_fetch_add(&cgd_m.roaming_cached, 1);
            if (cached == CGD_ROAMING_YES)
                c->roaming_confirmed |= bits[i];
            continue;
        }
        cgd_join(c->roaming_tn, sizeof c->roaming_tn, nums[i], NULL);
        c->roaming_bit = bits[i];
        if (c->w->pending < c->w->max_pending &&
            cgd_fetch_roaming(c->ctx, nums[i], origin(c, buf, sizeof buf), c->w->base, roamed_cb,
                              c) == 0) {
            c->w->pending++;
            atomic_fetch_add(&cgd_m.inflight, 1);
            return true;
        }
        atomic_fetch_add(&cgd_m.roaming_checks[CGD_ROAMING_ERROR], 1);
    }
    return false;
}

/* After verification: the roaming check, then the call intents and the
 * replay and rate observation (in Redis when configured), then the
 * decision. */
static void policy_stage(struct cgd_call *c)
{
    struct cg_policy_call pc;
    policy_call(c, &pc, false, 0);
    if (check_roaming(c, &pc))
        return;
    pc.roaming_confirmed = c->roaming_confirmed;
    /* a protected number that stands on its call intent: the intent is
     * looked up (and a use spent) only for a call decided on it */
    c->intents_needed = cg_policy_intents_needed(c->ctx->policy, &pc);
    if (c->w->redis && cgd_redis_observe(c->w, &pc, c->intents_needed, redis_done_cb, c)) {
        c->w->pending++;
        return;
    }
    c->intents = cgd_call_local_intents(c, &pc, c->intents_needed);
    decide(c, false, 0);
}

void cgd_call_run(struct cgd_call *c)
{
    const struct cg_verdict *v = &c->v;
    c->miss.missed = false;
    c->call.certsrc_arg = &c->miss;
    if (cg_verify(c->ctx->verifier, &c->call, &c->v) != CG_OK) {
        c->overload(c);
        return;
    }
    /* what the call made of its certificate decides how long the cache
     * keeps it: one a call verified with outlasts any number of failures */
    if (v->x5u[0])
        cg_certcache_note(c->ctx->certcache, v);
    if (v->reason == CG_R_CERT_UNAVAILABLE) {
        if (c->miss.missed && !c->parked_once) {
            if (park_on_fetch(c))
                return;
        } else if (!c->miss.missed) {
            atomic_fetch_add(&cgd_m.cache_negative, 1);
        }
    } else if (v->reason == CG_R_OK ||
               (v->reason >= CG_R_CERT_INVALID && v->reason <= CG_R_SIGNATURE)) {
        atomic_fetch_add(&cgd_m.cache_hit, 1); /* the verifier got as far as the certificate */
    }
    atomic_fetch_add(&cgd_m.calls[c->listener][v->reason], 1);
    c->now = (int64_t)time(NULL);
    policy_stage(c);
}

unsigned cgd_call_local_intents(const struct cgd_call *c, const struct cg_policy_call *pc,
                                unsigned need)
{
    const char *nums[2] = {pc->caller, pc->presented};
    unsigned found = 0, i;
    for (i = 0; i < 2 && c->ctx->intents && pc->callee; i++)
        if ((need & (1u << i)) && nums[i] &&
            cg_intents_use(c->ctx->intents, nums[i], pc->callee, c->now))
            found |= 1u << i;
    return found;
}

void cgd_call_set_ingress(struct cgd_call *c, const char *tgrp, const void *addr)
{
    const struct sockaddr *sa = addr;
    if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
        memcpy(&c->source, sa,
               sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    unsigned flags;
    const char *name = cg_policy_ingress_flags(c->ctx->policy, tgrp, tgrp ? NULL : addr, &flags);
    c->listed_international = name && (flags & CG_INGRESS_INTERNATIONAL);
    if (tgrp && !name) {
        /* a trusted SBC named a trunk group the ingress list does not know
         * (a typo, a new trunk): the stricter reading, a call from abroad,
         * rather than the SBC's own address, which is domestic */
        flags = CG_INGRESS_INTERNATIONAL;
        name = tgrp;
    }
    c->international = flags & CG_INGRESS_INTERNATIONAL;
    c->roaming_partner = flags & CG_INGRESS_ROAMING;
    cgd_join(c->ingress, sizeof c->ingress, name ? name : "", NULL);
}
