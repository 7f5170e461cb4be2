/*
 * The STI-VS sequence (ATIS-1000074 section 5.3,
 * docs/standards.md#verification-sequence), one Identity header at a time,
 * cheapest checks first so that the one costly step, the ECDSA
 * verification, runs only for tokens that could pass.
 *
 * Nothing here allocates on the success path except what OpenSSL does
 * internally: the PASSporT's JSON is read by the bounded reader of
 * src/core/sjson.c into per-thread buffers (only Rich Call Data claims, when
 * a token carries them, are copied out), and certificates come parsed and
 * validated from the certificate source and the chain's validation cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidguard/error.h"
#include "cidguard/identity.h"
#include "cidguard/verify.h"
#include "core/internal.h"

struct cg_verifier {
    struct cg_verify_config cfg;
};

int cg_verifier_new(struct cg_verifier **out, const struct cg_verify_config *cfg)
{
    struct cg_verifier *v;
    if (!cfg || !cfg->trust || !cfg->certsrc.get_cb || cfg->freshness < 0 || cfg->skew < 0)
        return CG_EINVAL;
    if (!(v = calloc(1, sizeof *v)))
        return CG_ENOMEM;
    v->cfg = *cfg;
    if (v->cfg.freshness == 0)
        v->cfg.freshness = 60;
    if (v->cfg.skew == 0)
        v->cfg.skew = 5;
    *out = v;
    return CG_OK;
}

void cg_verifier_free(struct cg_verifier *v)
{
    free(v);
}

/* The parties of the call, canonicalized once for all Identity headers. */
struct parties {
    char pai[CG_TN_MAX + 1], from[CG_TN_MAX + 1], to[CG_TN_MAX + 1], ruri[CG_TN_MAX + 1];
    char to_more[8][CG_TN_MAX + 1];
    size_t nto_more;
};

static void canon_or_empty(const char *in, const struct cg_tn_plan *plan, char *out)
{
    out[0] = '\0';
    if (in && cg_tn_canon(in, strlen(in), plan, out) != CG_OK)
        out[0] = '\0';
}

static void set_reason(struct cg_verdict *out, enum cg_reason r, const char *detail)
{
    out->reason = r;
    out->verstat = cg_reason_verstat(r);
    out->reason_code = cg_reason_sip_code(r);
    out->reason_text = cg_reason_phrase(r);
    cg__strlcpy(out->detail, detail ? detail : "", sizeof out->detail);
}

static bool url_ok(const char *u, bool allow_http)
{
    size_t i;
    if (strncmp(u, "https://", 8) != 0 && !(allow_http && strncmp(u, "http://", 7) == 0))
        return false;
    for (i = 0; u[i]; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return false;
    return strlen(u) > 8;
}

static enum cg_reason fault_reason(enum cg_passport_fault f)
{
    switch (f) {
    case CG_PF_FORM:
        return CG_R_MALFORMED;
    case CG_PF_HDR_MISSING:
        return CG_R_HDR_MISSING;
    case CG_PF_TYP:
        return CG_R_TYP;
    case CG_PF_ALG:
        return CG_R_ALG;
    case CG_PF_PPT:
        return CG_R_PPT;
    case CG_PF_ATTEST:
        return CG_R_ATTEST;
    case CG_PF_SIG_FORM:
        return CG_R_SIGNATURE;
    case CG_PF_HDR_JSON:
        return CG_R_MALFORMED;
    default:
        return CG_R_CLAIMS;
    }
}

static int verify_one(const struct cg_verifier *v, const struct cg_call *call,
                      const struct parties *pt, const char *value, int64_t now,
                      struct cg_verdict *out)
{
    const struct cg_verify_config *cfg = &v->cfg;
    struct cg_identity id;
    struct cg_passport pp;
    struct cg_chain *chain = NULL;
    const struct cg_cert_info *ci;
    enum cg_passport_fault fault;
    unsigned char sig[64];
    size_t signed_len, i;
    const char *why;
    bool valid, ok;
    int rc, revoked;
    int64_t age;

    memset(out, 0, sizeof *out);
    rc = cg_identity_parse(value, strlen(value), &id, &why);
    if (rc != CG_OK) {
        set_reason(out, CG_R_MALFORMED, why);
        return CG_OK;
    }
    if (id.compact) {
        set_reason(out, CG_R_COMPACT_FORM, "compact form is not allowed in SHAKEN (RFC 8588)");
        return CG_OK;
    }
    if (id.has_ppt && strcmp(id.ppt, "shaken") != 0 && strcmp(id.ppt, "div") != 0 &&
        strcmp(id.ppt, "rcd") != 0) {
        set_reason(out, CG_R_PPT_PARAM, "unsupported ppt parameter");
        return CG_OK;
    }
    if (!call->bare_token && !id.has_ppt) {
        set_reason(out, CG_R_PPT_PARAM, "no ppt parameter (SHAKEN requires ppt=shaken)");
        return CG_OK;
    }
    if (id.has_alg && strcmp(id.alg, "ES256") != 0) {
        set_reason(out, CG_R_ALG, "alg parameter is not ES256");
        return CG_OK;
    }
    if (!call->bare_token) {
        if (!id.has_info) {
            set_reason(out, CG_R_NO_INFO, "no info parameter");
            return CG_OK;
        }
        if (!url_ok(id.info, cfg->allow_http)) {
            set_reason(out, CG_R_BAD_INFO,
                       cfg->allow_http ? "info is not an http(s) URL" : "info is not an https URL");
            return CG_OK;
        }
    }

    rc = cg_passport_decode(id.token, id.token_len, &pp, sig, &signed_len, &fault, &why);
    if (rc == CG_ENOMEM)
        return rc;
    if (rc != CG_OK) {
        set_reason(out, fault_reason(fault), why);
        return CG_OK;
    }
    /* From here on the verdict can say what the token claimed. */
    out->ppt = pp.ppt;
    out->attest = pp.attest;
    out->iat = pp.iat;
    memcpy(out->sig, sig, sizeof out->sig);
    out->has_sig = true;
    memcpy(out->origid, pp.origid, sizeof out->origid);
    memcpy(out->orig, pp.orig_tn, sizeof out->orig);
    if (pp.ndest_tn)
        memcpy(out->dest, pp.dest_tn[0], sizeof out->dest);
    memcpy(out->x5u, pp.x5u, sizeof out->x5u);
    rc = CG_OK;

    if (id.has_ppt && strcmp(id.ppt, pp.ppt_name) != 0) {
        set_reason(out, CG_R_PPT, "ppt parameter and JOSE header ppt differ");
        goto out;
    }
    if (!call->bare_token && strcmp(id.info, pp.x5u) != 0) {
        set_reason(out, CG_R_X5U_MISMATCH, "x5u differs from the info parameter");
        goto out;
    }
    if (!url_ok(pp.x5u, cfg->allow_http)) {
        set_reason(out, CG_R_BAD_INFO, "x5u is not an https URL");
        goto out;
    }
    if (strncmp(pp.x5u, "http://", 7) == 0)
        out->warnings |= 1u << CG_W_X5U_HTTP;

    age = now - pp.iat;
    if (age > cfg->freshness + cfg->skew || -age > cfg->freshness + cfg->skew) {
        char d[96];
        snprintf(d, sizeof d, "iat is %lld s %s now (window %d s)",
                 (long long)(age < 0 ? -age : age), age < 0 ? "after" : "before", cfg->freshness);
        set_reason(out, CG_R_STALE, d);
        goto out;
    }

    /* Identities: orig against PAI, else From; dest against To, else R-URI. */
    if (!pp.orig_tn[0]) {
        set_reason(out, CG_R_ORIG_MISMATCH, "orig is not a telephone number");
        goto out;
    }
    if (pt->pai[0] && strcmp(pt->pai, pp.orig_tn) == 0)
        out->orig_match = CG_MATCH_PAI;
    else if (pt->from[0] && strcmp(pt->from, pp.orig_tn) == 0)
        out->orig_match = CG_MATCH_FROM;
    if (!out->orig_match) {
        set_reason(out, CG_R_ORIG_MISMATCH,
                   pt->pai[0] || pt->from[0]
                       ? "orig.tn matches neither P-Asserted-Identity nor From"
                       : "the call has no caller number to compare");
        goto out;
    }
    for (i = 0; i < pp.ndest_tn && !out->dest_match; i++) {
        size_t k;
        if (pt->to[0] && strcmp(pt->to, pp.dest_tn[i]) == 0)
            out->dest_match = CG_MATCH_TO;
        else if (pt->ruri[0] && strcmp(pt->ruri, pp.dest_tn[i]) == 0)
            out->dest_match = CG_MATCH_RURI;
        for (k = 0; k < pt->nto_more && !out->dest_match; k++)
            if (strcmp(pt->to_more[k], pp.dest_tn[i]) == 0)
                out->dest_match = CG_MATCH_TO;
        if (out->dest_match)
            memcpy(out->dest, pp.dest_tn[i], sizeof out->dest);
    }
    if (!out->dest_match) {
        set_reason(out, CG_R_DEST_MISMATCH, "no dest.tn matches To or the Request-URI");
        goto out;
    }

    rc = cfg->certsrc.get_cb(cfg->certsrc.arg, call->certsrc_arg, pp.x5u, &chain);
    if (rc == CG_ENOMEM)
        goto out;
    if (rc != CG_OK) {
        set_reason(out, CG_R_CERT_UNAVAILABLE, cg_strerror(rc));
        rc = CG_OK;
        goto out;
    }
    ci = cg_chain_info(chain);
    memcpy(out->spc, ci->spc, sizeof out->spc);
    out->warnings |= ci->warnings;
    if (!ci->key_ok || !ci->has_tnauth || !ci->ku_digital_signature) {
        set_reason(out, CG_R_CERT_PROFILE,
                   !ci->key_ok       ? "certificate key is not EC P-256 (ES256)"
                   : !ci->has_tnauth ? "certificate has no usable TNAuthList"
                                     : "certificate KeyUsage lacks digitalSignature");
        goto out;
    }
    rc = cg_trust_check(cfg->trust, chain, pp.iat, &ok, &revoked, &why);
    if (rc != CG_OK)
        goto out;
    if (!ok) {
        set_reason(out, revoked ? CG_R_CERT_REVOKED : CG_R_CERT_INVALID, why);
        goto out;
    }
    if (!ci->spc[0] && !cg_tnauth_covers(&ci->tnauth, pp.orig_tn)) {
        set_reason(out, CG_R_TN_NOT_AUTHORIZED, "TNAuthList does not cover orig.tn");
        goto out;
    }
    rc = cg_es256_verify(cg_chain_key(chain), id.token, signed_len, sig, &valid);
    if (rc != CG_OK)
        goto out;
    if (!valid) {
        set_reason(out, CG_R_SIGNATURE, "ES256 signature does not verify with the x5u key");
        goto out;
    }
    set_reason(out, CG_R_OK, NULL);
out:
    cg_chain_unref(chain);
    cg_passport_clear(&pp);
    return rc;
}

static int rank(const struct cg_verdict *v)
{
    if (v->verstat == CG_VERSTAT_PASSED)
        return v->ppt == CG_PPT_SHAKEN ? 4 : 3;
    return v->verstat == CG_VERSTAT_FAILED ? 2 : 1;
}

int cg_verify(const struct cg_verifier *v, const struct cg_call *call, struct cg_verdict *out)
{
    struct parties pt;
    struct cg_verdict cur;
    int64_t now = call->now ? call->now : (int64_t)time(NULL);
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    out->identity_index = -1;
    if (call->request_time) {
        int64_t d = now - call->request_time;
        if (d > v->cfg.freshness || -d > v->cfg.freshness) {
            set_reason(out, CG_R_REQUEST_TIME, "request time is outside the freshness window");
            return CG_OK;
        }
    }
    if (call->nidentity == 0) {
        set_reason(out, CG_R_NO_IDENTITY, "no Identity header");
        return CG_OK;
    }
    canon_or_empty(call->pai, v->cfg.plan, pt.pai);
    canon_or_empty(call->from, v->cfg.plan, pt.from);
    canon_or_empty(call->to, v->cfg.plan, pt.to);
    canon_or_empty(call->ruri, v->cfg.plan, pt.ruri);
    pt.nto_more = 0;
    for (i = 0; i < call->nto_more && pt.nto_more < 8; i++) {
        canon_or_empty(call->to_more[i], v->cfg.plan, pt.to_more[pt.nto_more]);
        if (pt.to_more[pt.nto_more][0])
            pt.nto_more++;
    }

    for (i = 0; i < call->nidentity; i++) {
        rc = verify_one(v, call, &pt, call->identity[i] ? call->identity[i] : "", now, &cur);
        if (rc != CG_OK)
            return rc;
        cur.identity_index = (int)i;
        /* Keep the best; among equals the first (RFC 8224 section 6.2.2). */
        if (i == 0 || rank(&cur) > rank(out))
            *out = cur;
    }
    return CG_OK;
}
