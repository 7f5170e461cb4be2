/*
 * The signers of a context: the default signer ([sign] key and x5u) and
 * those of the signers file ([sign] signers), one per customer or reseller,
 * chosen by the customers file's signer column; and the origid a signed
 * call carries ([sign] origid): stable per customer and ingress, keyed with
 * STATE_DIR/origid.key, or a fresh UUID per call.
 *
 * Built with the context and swapped with it: a bad signers file (a row
 * that does not load, a customer naming a signer that does not exist)
 * refuses the start, and on a reload keeps the running configuration.
 * Certificates within 30 days of expiry are warned about at every load and
 * once a day after, and every signer's days to expiry are on /metrics.
 */
#ifndef CIDGUARDD_SIGNERS_H
#define CIDGUARDD_SIGNERS_H

#include "cidguard/customers.h"
#include "cidguard/signers.h"
#include "config.h"

/* One signer, owned by its context's signers and valid as long as the
 * context is. */
struct cgd_signer {
    const char *name; /* the signers file's name, or "default" */
    const char *spc;  /* the certificate's SPC; "" for the default signer */
    const char *x5u;
    const struct cg_signer *signer;
};

/* A context's signers (ctx->signers), immutable once built. */
struct cgd_signers;

/*
 * Builds the signers of a new context from its configuration, its default
 * signer `dflt` ([sign] key and x5u; NULL without) and its customers (may
 * be NULL): loads [sign] signers, checks that every customer's signer
 * exists, reads (or creates, mode 0600) STATE_DIR/origid.key when origids
 * are stable, and warns about certificates near expiry.  On success *out
 * is set (even when nothing is configured) and, as the context is built
 * last and made current next, its signers are published for /metrics and
 * the daily check.  Prints why and returns -1 when the context must not be
 * used.  Main thread only.
 */
int cgd_signers_build(struct cgd_signers **out, const struct cgd_conf *conf,
                      const struct cg_signer *dflt, const struct cg_customers *customers);
void cgd_signers_free(struct cgd_signers *s);

/*
 * The signer for a call of customer `cu` (NULL: a caller who is not a
 * customer), from the context's signers `s` (ctx->signers): its signer of
 * the signers file when its row names one, else the default signer; NULL
 * when there is none (no [sign] key), in which case the call must not be
 * signed.  No lock, no allocation.
 */
const struct cgd_signer *cgd_signer_for(const struct cgd_signers *s, const struct cg_customer *cu);

/*
 * The origid for a call of `customer` (a name, "" for a stranger) entering
 * at `ingress` (its source address, say, or trunk group), from the
 * context's signers `s`: with [sign] origid = stable (the default), the
 * same UUID for every call of that pair, which only the holder of
 * STATE_DIR/origid.key can map back; with per_call, a fresh random UUID.
 * Always fills `out` (36 characters and a NUL).  Thread-safe.
 */
void cgd_origid(const struct cgd_signers *s, const char *customer, const char *ingress,
                char out[37]);

/* cgd_origid for a client known by its ingress name `ingress` (a trunk
 * group or ingress-table name) when one is given, else by its source
 * address `addr` (a struct sockaddr; NULL or another family: ""). */
void cgd_origid_at(const struct cgd_signers *s, const char *customer, const char *ingress,
                   const void *addr, char out[37]);

/* The /metrics lines of the current context's signers
 * (cidguard_signer_cert_days_to_expiry), malloc'ed; NULL when there are
 * none or memory ran out.  Any thread. */
char *cgd_signers_metrics(void);

/* The main thread's daily expiry check: how many seconds it may sleep
 * before cgd_signers_tick is due (-1: never), and the check itself. */
int cgd_signers_wait(void);
void cgd_signers_tick(void);

#endif
