/*
 * The signing entitlement (signing.h).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "declogd.h"
#include "log.h"
#include "signers.h"
#include "signing.h"
#include "tls.h"
#include "worker.h"

/* --- per-customer rate: a one-second burst (auth.h) ------------------------------ */

static struct cgd_rates rates = CGD_RATES_INITIALIZER;

/* --- audit --------------------------------------------------------------------------- */

/* One line per refusal (auth.h limits them). */
static struct cgd_audit audit_lines = CGD_AUDIT_INITIALIZER;

/* `s` as it may go in a log line: printable ASCII, at most 64 bytes of
 * it, anything else '?'.  A name an SBC sends is not trusted to be tidy. */
static const char *printable(const char *s, char *out, size_t cap)
{
    size_t i;
    for (i = 0; s[i] && i < 64 && i + 1 < cap; i++)
        out[i] = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    out[i] = '\0';
    return out;
}

static void audit(const struct cgd_sign_req *r, const char *customer, enum cgd_sign_outcome o,
                  const char *why)
{
    static const char *const lname[] = {"sip", "sip", "http", "http"};
    char addr[INET6_ADDRSTRLEN], named[80] = "";
    if (!cgd_audit_may(&audit_lines, "signing refusal(s)"))
        return;
    cgd_addr_text(r->addr, addr, sizeof addr);
    if (o == CGD_SIGN_UNKNOWN_CLIENT && (r->named || r->named_bad))
        printable(r->named ? r->named : "", named, sizeof named);
    cgd_log(LOG_NOTICE,
            "cidguardd: audit: signing refused (%s%s%s) over %s from %s, customer %s%s%s%s, orig "
            "%s%s%s",
            cgd_sign_outcome_str(o), why && why[0] ? ": " : "", why ? why : "", lname[r->listener],
            addr, customer ? customer : "-", named[0] || r->named_bad ? " (named \"" : "", named,
            named[0] || r->named_bad ? "\")" : "", r->orig ? r->orig : "-",
            r->presented ? ", presented " : "", r->presented ? r->presented : "");
}

/* --- signing ------------------------------------------------------------------------- */

static enum cgd_sign_outcome refuse_why(const struct cgd_sign_req *r, const char *customer,
                                        enum cgd_sign_outcome o, const char *why)
{
    atomic_fetch_add(&cgd_m.sign_refused[o], 1);
    audit(r, customer, o, why);
    return o;
}

static enum cgd_sign_outcome refuse_because(const struct cgd_sign_req *r, const char *customer,
                                            enum cgd_sign_outcome o, const struct cg_decision *d)
{
    char reasons[300];
    cg_decision_reasons(d, reasons, sizeof reasons);
    return refuse_why(r, customer, o, reasons);
}

static enum cgd_sign_outcome refuse(const struct cgd_sign_req *r, const char *customer,
                                    enum cgd_sign_outcome o)
{
    return refuse_why(r, customer, o, NULL);
}

bool cgd_customer_header(const char *v, size_t n, char out[CG_CUSTOMER_NAME_MAX + 1])
{
    size_t i;
    out[0] = '\0';
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (!n || n > CG_CUSTOMER_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* Whether the request comes from an SBC trusted to name the customer
 * ([sign] customer_from, by address or certificate name). */
static bool named_by_trusted(const struct cgd_ctx *ctx, const struct cgd_sign_req *r)
{
    return (r->named || r->named_bad) && ctx->conf.sign_customer_from[0] &&
           cgd_trusted_peer(r->addr, r->cert_names ? r->cert_names : "",
                            ctx->conf.sign_customer_from);
}

/* The customer named as one of a verified client certificate's names. */
static const struct cg_customer *by_cert(const struct cg_customers *c, const char *names)
{
    size_t i, n = names && names[0] ? cg_customers_count(c) : 0;
    for (i = 0; i < n; i++) {
        const struct cg_customer *cu = cg_customers_at(c, i);
        if (cgd_tls_name_in(names, cg_customer_name(cu)))
            return cu;
    }
    return NULL;
}

/* What the signing log records of one request (signlog.h). */
struct sign_record {
    const struct cgd_sign_req *r;
    const char *customer; /* "" for a stranger or a request refused before one was known */
    const char *origid, *spc;
    char attest;
    enum cg_action action; /* allow or label: signed; block: refused */
    uint32_t reasons;
};

static void fill_record(struct cg_signlog_record *rec, void *arg)
{
    const struct sign_record *s = arg;
    rec->time = (int64_t)time(NULL);
    cgd_join(rec->call_id, sizeof rec->call_id, s->r->call_id ? s->r->call_id : "", NULL);
    cgd_join(rec->customer, sizeof rec->customer, s->customer, NULL);
    cgd_addr_text(s->r->addr, rec->source, sizeof rec->source);
    cgd_join(rec->ingress, sizeof rec->ingress, s->r->ingress ? s->r->ingress : "", NULL);
    cgd_join(rec->orig, sizeof rec->orig, s->r->orig ? s->r->orig : "", NULL);
    cgd_join(rec->presented, sizeof rec->presented, s->r->presented ? s->r->presented : "", NULL);
    cgd_join(rec->dest, sizeof rec->dest, s->r->ndest ? s->r->dest[0] : "", NULL);
    rec->attest = s->attest;
    cgd_join(rec->origid, sizeof rec->origid, s->origid, NULL);
    cgd_join(rec->spc, sizeof rec->spc, s->spc, NULL);
    rec->action = s->action;
    rec->reasons = s->reasons;
    cgd_join(rec->listener, sizeof rec->listener,
             s->r->listener == CGD_LISTENER_SIP_SIGN ? "sip" : "http", NULL);
}

static bool customer_owns(const char *tn, void *arg)
{
    return cg_customer_owns(arg, tn);
}

/* The entitlement, the origination policy and the signature; `rec` gets
 * what the signing log keeps of it. */
static enum cgd_sign_outcome sign_call(const struct cgd_ctx *ctx, const struct cgd_sign_req *r,
                                       struct cgd_signed *out, struct sign_record *rec)
{
    const struct cg_customer *cu = NULL;
    const struct cgd_signer *sg;
    bool by_address = false;
    struct cg_sign_request sr = {0};
    const char *why, *name;
    char allowed;
    int64_t now = (int64_t)time(NULL);

    if (r->bearer) {
        if (!(cu = cg_customers_by_token(ctx->customers, r->bearer, r->bearer_len)))
            return refuse(r, NULL, CGD_SIGN_BAD_TOKEN);
    } else if (named_by_trusted(ctx, r)) {
        /* an SBC speaking for many customers from one address names the
         * call's: that customer, or none (never the SBC's own row, never a
         * stranger's C signature) */
        if (r->named_bad || !(cu = cg_customers_by_name(ctx->customers, r->named))) {
            out->unknown_named = true;
            return refuse_why(r, NULL, CGD_SIGN_UNKNOWN_CLIENT, "unknown_customer");
        }
    } else if (!(cu = by_cert(ctx->customers, r->cert_names)) &&
               (r->listener != CGD_LISTENER_HTTP_SIGN || ctx->conf.sign_http_by_address)) {
        /* over HTTP an address is a credential only when asked for: behind
         * a reverse proxy every client would have the proxy's */
        cu = cg_customers_find(ctx->customers, r->addr);
        by_address = cu != NULL;
    }
    if (!cu && !ctx->conf.sign_unknown)
        return refuse(r, NULL, CGD_SIGN_UNKNOWN_CLIENT);
    name = cu ? cg_customer_name(cu) : "-";
    rec->customer = cu ? name : "";
    /* the customer's signer (signers.c), and the origid that leads back to
     * the customer: the SP's, never the client's (a client's origid would
     * let an account hide among others, or pose as one) */
    sg = cgd_signer_for(ctx->signers, cu);
    cgd_origid_at(ctx->signers, cu ? name : "", r->ingress, r->addr, out->origid);
    rec->origid = out->origid;
    rec->spc = sg ? sg->spc : "";
    /* the server's clock dates the call; a client's iat only within the
     * window a verifier would accept */
    if (r->iat && (r->iat > now + ctx->conf.freshness || r->iat < now - ctx->conf.freshness))
        return refuse(r, name, CGD_SIGN_IAT);
    if (!cgd_rate_take(&rates, cu ? name : "", 1.0, ctx->conf.sign_rate, ctx->conf.sign_rate))
        return refuse(r, name, CGD_SIGN_RATE);
    /* nothing spoofed gets signed: the call's numbers, and the customer's
     * last minute, through the origination rules */
    cg_policy_originate(ctx->policy, ctx->ostate,
                        &(struct cg_policy_origination){.customer = cu ? name : NULL,
                                                        .caller = r->orig,
                                                        .presented = r->presented,
                                                        .ingress = r->ingress,
                                                        .now = now,
                                                        .owns = cu ? customer_owns : NULL,
                                                        .owns_arg = (void *)cu},
                        &out->decision);
    rec->reasons = out->decision.reasons;
    atomic_fetch_add(&cgd_m.sign_actions[out->decision.action], 1);
    if (out->decision.action == CG_ACTION_BLOCK)
        return refuse_because(r, name, CGD_SIGN_POLICY, &out->decision);
    if (!sg)
        return refuse(r, name, CGD_SIGN_NO_SIGNER);
    /* never more than the entitlement: A only for the customer's own
     * numbers (by address: of any customer at that address) */
    allowed = by_address ? cg_customers_attest(ctx->customers, r->addr, r->orig)
              : cu       ? cg_customer_attest(cu, r->orig)
                         : 'C';
    sr.orig = r->orig;
    sr.dest = r->dest;
    sr.ndest = r->ndest;
    sr.attest = r->attest && r->attest > allowed ? r->attest : allowed;
    if (out->decision.action == CG_ACTION_LABEL)
        sr.attest = 'C'; /* signed, but vouching for nothing: the reasons are recorded */
    sr.iat = r->iat ? r->iat : now;
    sr.origid = out->origid;
    if (cg_sign(sg->signer, &sr, &out->identity, &why) != CG_OK)
        return refuse(r, name, CGD_SIGN_FAILED);
    out->attest = rec->attest = sr.attest;
    rec->action = out->decision.action;
    atomic_fetch_add(&cgd_m.signed_calls[r->listener][sr.attest - 'A'], 1);
    return CGD_SIGN_OK;
}

enum cgd_sign_outcome cgd_sign(const struct cgd_ctx *ctx, const struct cgd_sign_req *r,
                               struct cgd_signed *out)
{
    struct sign_record rec = {
        .r = r, .customer = "", .origid = "", .spc = "", .action = CG_ACTION_BLOCK};
    enum cgd_sign_outcome o;
    memset(out, 0, sizeof *out);
    o = sign_call(ctx, r, out, &rec);
    /* every request, signed or refused, for traceback (never blocks) */
    cgd_signlog_push(fill_record, &rec);
    return o;
}
