/*
 * The analyzer's outputs: campaigns.json, victims.csv (most harmed first:
 * the list to notify), origins.csv (worst first: the traceback list), and
 * report.html, one self-contained page with inline SVG charts and no
 * script, so it opens anywhere and can be attached to a case file.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "analyze/analyze_internal.h"
#include "cidguard/error.h"

#define HTML_CAMPAIGNS 50
#define HTML_ORIGINS 25
#define TIMELINE_MAX 336 /* hours (two weeks) drawn per campaign */

static const char *const kind_name[CG__K__COUNT] = {
    [CG__K_NONE] = "",
    [CG__K_BANK] = "bank_impersonation",
    [CG__K_DNO] = "dno",
    [CG__K_INTL] = "intl_uk_cli",
    [CG__K_ROTATION] = "rotation",
    [CG__K_VERIFY] = "verification_failure",
    [CG__K_UNALLOC] = "unallocated",
    [CG__K_BORROWED] = "borrowed_numbers",
    [CG__K_BEHAVIOUR] = "behaviour",
    [CG__K_NEIGHBOUR] = "neighbour",
};

static const char *const reason_name[CG__R__COUNT] = {"signal", "rotation", "borrowed_numbers",
                                                      "behaviour", "neighbour"};
static const char *const feature_name[CG__F__COUNT] = {
    "borrowed_share", "new_number_rate", "turnover", "answer_rate",
    "talk_log",       "peak_log",        "reach",    "hours"};

/* The comparators take the findings as qsort_r's argument: the library keeps
 * no state between calls, so two analyses may run at once. */
static int by_calls(const void *x, const void *y, void *arg)
{
    const struct cg__findings *S = arg;
    const struct cg__campaign *a = &S->camp[*(const uint32_t *)x],
                              *b = &S->camp[*(const uint32_t *)y];
    if (a->calls != b->calls)
        return a->calls < b->calls ? 1 : -1;
    return a->first < b->first ? -1 : a->first > b->first;
}

static int by_harm(const void *x, const void *y, void *arg)
{
    const struct cg__findings *S = arg;
    const struct cg__victim *a = x, *b = y;
    if (a->talk != b->talk)
        return a->talk < b->talk ? 1 : -1;
    if (a->answered != b->answered)
        return a->answered < b->answered ? 1 : -1;
    if (a->calls != b->calls)
        return a->calls < b->calls ? 1 : -1;
    return strcmp(cg__num(S, a->called), cg__num(S, b->called));
}

static int by_spoofed(const void *x, const void *y, void *arg)
{
    const struct cg__findings *S = arg;
    const struct cg__origin_out *a = x, *b = y;
    if (a->spoofed != b->spoofed)
        return a->spoofed < b->spoofed ? 1 : -1;
    if (a->victims != b->victims)
        return a->victims < b->victims ? 1 : -1;
    return strcmp(cg__origin_key(S, a->id), cg__origin_key(S, b->id));
}

/* ingress, spc, origid of an origin key "ingress|spc|origid", and for a
 * signing log's customer (the ingress part) its source addresses */
static void origin_parts(const struct cg__findings *fd, uint32_t id, char parts[4][256])
{
    const char *k = cg__origin_key(fd, id);
    int i;
    for (i = 0; i < 4; i++) {
        size_t n = strcspn(k, "|");
        snprintf(parts[i], 256, "%.*s", (int)(n < 255 ? n : 255), k);
        k += n + (k[n] ? 1 : 0);
    }
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void html(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
}

static void brands_list(const struct cg__findings *fd, uint64_t mask, char *out, size_t cap)
{
    size_t n = 0;
    uint32_t b;
    out[0] = '\0';
    for (b = 0; b < 64 && b < cg__nbrands(fd); b++)
        if (mask & (1ull << b)) {
            int w = snprintf(out + n, cap - n, "%s%s", n ? ";" : "", cg__brand(fd, b));
            if (w < 0 || (size_t)w >= cap - n)
                break;
            n += (size_t)w;
        }
}

/* A signing log's own evidence: attempts refused, calls labelled. */
static void signing_signals(json_t *a, const struct cg__campaign *c)
{
    static const char *const label[2][2] = {
        {"rate_numbers", "calls the signing policy labelled (signed C): many distinct numbers in "
                         "a minute"},
        {"protected_share", "calls the signing policy labelled (signed C): a high share of "
                            "protected or bank-like numbers"}};
    int i;
    if (c->refused)
        json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "signal", "refused", "calls",
                                           (json_int_t)c->refused, "evidence",
                                           "attempts the signing policy refused: never signed, "
                                           "they reached no one"));
    for (i = 0; i < 2; i++)
        if (c->labelled[i])
            json_array_append_new(a,
                                  json_pack("{s:s,s:I,s:s}", "signal", label[i][0], "calls",
                                            (json_int_t)c->labelled[i], "evidence", label[i][1]));
}

/* The signals that define a campaign, each with its evidence. */
static json_t *signals(const struct cg__campaign *c)
{
    json_t *a = json_array();
    char text[200];
    static const struct {
        int s;
        const char *name, *text;
    } per_call[] = {
        {CG__S_PROT, "protected_unverified",
         "calls presenting a protected number without its signer's verification"},
        {CG__S_NO_INTENT, "protected_no_intent",
         "calls presenting a protected number with neither its signer's verification nor a live "
         "call intent"},
        {CG__S_NOT_CUSTOMERS, "protected_not_customers",
         "calls presenting a protected number whose owner or agent the customer is not"},
        {CG__S_DNO, "dno", "calls presenting a Do-Not-Originate number"},
        {CG__S_UNALLOC, "uk_cli_unallocated",
         "calls presenting a UK number in a range Ofcom has not allocated"},
        {CG__S_BAD_NUMBER, "invalid_number",
         "calls presenting a number that is not valid or not assigned (uk_cli_invalid, "
         "uk_cli_premium_rate, nanp_cli_invalid, nanp_cli_unassigned)"},
        {CG__S_INTL, "intl_ingress_uk_cli",
         "calls presenting a UK number from an international ingress"},
        {CG__S_VERIFY, "verification_failure",
         "unverified calls presenting a number that usually verifies"},
        {CG__S_BORROWED, "borrowed_number",
         "calls presenting a number another origin usually signs with A (or carries), which "
         "kept using it"},
        {CG__S_NEIGHBOUR, "neighbour_number",
         "calls presenting a UK mobile number of the callee's own block (its first five national "
         "digits), not the origin's own"},
    };
    size_t i;
    for (i = 0; i < sizeof per_call / sizeof per_call[0]; i++) {
        int s = per_call[i].s;
        /* which of the call's two numbers carried it: the network number
         * (P-Asserted-Identity), the presentation number (From, what the
         * callee saw), or both (on some calls one, on others the other, or
         * one number in both roles) */
        const char *number = c->sig_net[s] && c->sig_pres[s] ? "both"
                             : c->sig_pres[s]                ? "presentation"
                                                             : "network";
        if (c->sig[s])
            json_array_append_new(a, json_pack("{s:s,s:I,s:s,s:s}", "signal", per_call[i].name,
                                               "calls", (json_int_t)c->sig[s], "number", number,
                                               "evidence", per_call[i].text));
    }
    signing_signals(a, c);
    if (c->account && c->origin_presented >= 20) {
        snprintf(text, sizeof text, "the account presented %u distinct numbers on %u calls",
                 c->origin_presented, c->origin_calls);
        json_array_append_new(a, json_pack("{s:s,s:I,s:s,s:s}", "signal", "rotation", "numbers",
                                           (json_int_t)c->origin_presented, "number",
                                           "presentation", "evidence", text));
    }
    if (c->beh.judged) {
        json_t *z = json_object();
        int f;
        for (f = 0; f < CG__F__COUNT; f++)
            json_object_set_new(z, feature_name[f],
                                json_real((double)(int64_t)(c->beh.z[f] * 100) / 100));
        snprintf(text, sizeof text,
                 "its origin scored %.1f against the other origins (numbers %.1f, harm %.1f, "
                 "dialling %.1f); listed by rule %s",
                 c->beh.score, c->beh.family[0], c->beh.family[1], c->beh.family[2],
                 reason_name[c->reason]);
        json_array_append_new(a, json_pack("{s:s,s:f,s:o,s:s}", "signal", "behaviour", "score",
                                           (double)(int64_t)(c->beh.score * 100) / 100, "z", z,
                                           "evidence", text));
    }
    if (c->peak >= 10) {
        snprintf(text, sizeof text, "up to %u calls in one minute", c->peak);
        json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "signal", "burst", "per_minute",
                                           (json_int_t)c->peak, "evidence", text));
    }
    if (c->victims >= 50) {
        snprintf(text, sizeof text, "%u distinct callees", c->victims);
        json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "signal", "reach", "callees",
                                           (json_int_t)c->victims, "evidence", text));
    }
    if (c->answered && c->talk / c->answered >= 300) {
        snprintf(text, sizeof text, "answered calls lasted %llu s on average",
                 (unsigned long long)(c->talk / c->answered));
        json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "signal", "long_talk", "avg_seconds",
                                           (json_int_t)(c->talk / c->answered), "evidence", text));
    }
    return a;
}

static FILE *create(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "w")))
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int write_campaigns(const struct cg__findings *fd, const uint32_t *order, const char *dir,
                           char *err, size_t errlen)
{
    json_t *arr = json_array();
    FILE *f;
    size_t i;
    int rc;
    for (i = 0; i < fd->ncamp; i++) {
        const struct cg__campaign *c = &fd->camp[order[i]];
        char id[24], first[21], last[21], parts[4][256];
        json_t *b = json_array(), *o;
        uint32_t k;
        snprintf(id, sizeof id, "C%zu", i + 1);
        cg_time_iso(c->first, first);
        cg_time_iso(c->last, last);
        origin_parts(fd, c->origin, parts);
        for (k = 0; k < 64 && k < cg__nbrands(fd); k++)
            if (c->brands & (1ull << k))
                json_array_append_new(b, json_string(cg__brand(fd, k)));
        o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:[{s:s,s:s,s:s}],s:I,s:o,s:I}",
                      "id", id, "kind", kind_name[c->kind], "first_time", first, "last_time", last,
                      "calls", (json_int_t)c->calls, "answered_calls", (json_int_t)c->answered,
                      "talk_seconds", (json_int_t)c->talk, "victims", (json_int_t)c->victims,
                      "presented_numbers", (json_int_t)c->presented, "brands_impersonated", b,
                      "origins", "ingress", parts[0], "spc", parts[1], "origid", parts[2],
                      "peak_calls_per_minute", (json_int_t)c->peak, "signals", signals(c),
                      "network_numbers", (json_int_t)c->network);
        if (fd->signing) {
            json_object_set_new(json_array_get(json_object_get(o, "origins"), 0), "sources",
                                json_string(parts[3]));
            json_object_set_new(o, "refused_calls", json_integer((json_int_t)c->refused));
        }
        json_array_append_new(arr, o);
    }
    if (!(f = create(dir, "campaigns.json", err, errlen))) {
        json_decref(arr);
        return CG_EIO;
    }
    rc = json_dumpf(arr, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', f) != EOF;
    json_decref(arr);
    return fclose(f) == 0 && rc ? CG_OK : CG_EIO;
}

/* rank: campaign index -> its id number in the reports (1-based) */
static int write_victims(const struct cg__findings *fd, const uint32_t *rank, const char *dir,
                         char *err, size_t errlen)
{
    FILE *f = create(dir, "victims.csv", err, errlen);
    size_t i;
    if (!f)
        return CG_EIO;
    fputs("called,first_time,last_time,calls,answered,talk_seconds,campaigns,presented,brands\n",
          f);
    for (i = 0; i < fd->nvict; i++) {
        const struct cg__victim *v = &fd->vict[i];
        char first[21], last[21], list[1024];
        size_t n = 0;
        unsigned k;
        cg_time_iso(v->first, first);
        cg_time_iso(v->last, last);
        fprintf(f, "+%s,%s,%s,%u,%u,%llu,", cg__num(fd, v->called), first, last, v->calls,
                v->answered, (unsigned long long)v->talk);
        for (k = 0; k < v->ncamps; k++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%sC%u", k ? ";" : "",
                                  rank[v->camps[k]]);
        csv(f, list);
        fputc(',', f);
        for (n = 0, k = 0; k < v->npres && n < sizeof list; k++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s+%s", k ? ";" : "",
                                  cg__num(fd, v->pres[k]));
        csv(f, list);
        fputc(',', f);
        brands_list(fd, v->brands, list, sizeof list);
        csv(f, list);
        fputc('\n', f);
    }
    return fclose(f) == 0 ? CG_OK : CG_EIO;
}

static int write_origins(const struct cg__findings *fd, const char *dir, char *err, size_t errlen)
{
    FILE *f = create(dir, "origins.csv", err, errlen);
    size_t i;
    if (!f)
        return CG_EIO;
    fputs("ingress,spc,origid,calls,spoofed_calls,distinct_presented,victims,campaigns,first_time,"
          "last_time",
          f);
    /* a signing log's customers: their refused attempts and addresses */
    fputs(fd->signing ? ",refused_calls,conclusive_numbers,sources\n"
                      : ",reason,score,peak_per_minute,distinct_callees,answer_rate,mean_talk,"
                        "new_number_rate,borrowed_numbers,borrowed_calls,borrowed_share,"
                        "hours_distance,private_share,bank_share,neighbour_calls\n",
          f);
    for (i = 0; i < fd->norg; i++) {
        const struct cg__origin_out *o = &fd->org[i];
        char parts[4][256], first[21], last[21];
        origin_parts(fd, o->id, parts);
        cg_time_iso(o->first, first);
        cg_time_iso(o->last, last);
        csv(f, parts[0]);
        fputc(',', f);
        csv(f, parts[1]);
        fputc(',', f);
        csv(f, parts[2]);
        fprintf(f, ",%u,%u,%u,%u,%u,%s,%s", o->calls, o->spoofed, o->presented, o->victims,
                o->campaigns, first, last);
        if (fd->signing) {
            fprintf(f, ",%u,%u,", o->refused, o->conclusive_numbers);
            csv(f, parts[3]);
        } else {
            const struct cg__behaviour *b = &o->beh;
            fprintf(f, ",%s,", reason_name[o->reason]);
            if (b->judged)
                fprintf(f, "%.2f,%u,%u,%.3f,%.0f,%.3f,%u,%u,%.3f,%.3f", b->score, b->peak,
                        b->callees, b->feat[CG__F_ANSWER], b->mean_talk, b->feat[CG__F_NEW],
                        b->borrowed_numbers, b->borrowed_calls, b->feat[CG__F_BORROWED],
                        b->feat[CG__F_HOURS]);
            else
                fprintf(f, ",,,,,,%u,%u,,", b->borrowed_numbers, b->borrowed_calls);
            /* whose numbers it borrowed: shares of its borrowed calls */
            if (b->borrowed_calls)
                fprintf(f, ",%.3f,%.3f,", (double)b->private_calls / b->borrowed_calls,
                        (double)b->bank_calls / b->borrowed_calls);
            else
                fputs(",,,", f);
            fprintf(f, "%u", b->neighbour_calls);
        }
        fputc('\n', f);
    }
    return fclose(f) == 0 ? CG_OK : CG_EIO;
}

/* A horizontal bar chart. */
static void bars(FILE *f, const char *const *labels, const uint64_t *vals, size_t n,
                 const char *unit)
{
    uint64_t max = 1;
    size_t i;
    for (i = 0; i < n; i++)
        if (vals[i] > max)
            max = vals[i];
    fprintf(f, "<svg class=\"chart\" width=\"900\" height=\"%zu\" role=\"img\">\n", n * 24 + 8);
    for (i = 0; i < n; i++) {
        double w = 420.0 * (double)vals[i] / (double)max;
        fprintf(f, "<text x=\"0\" y=\"%zu\" class=\"l\">", i * 24 + 18);
        html(f, labels[i]);
        fprintf(f,
                "</text><rect x=\"300\" y=\"%zu\" width=\"%.1f\" height=\"16\" class=\"bar\"/>"
                "<text x=\"%.1f\" y=\"%zu\" class=\"v\">%llu %s</text>\n",
                i * 24 + 5, w < 1 ? 1 : w, 306 + w, i * 24 + 18, (unsigned long long)vals[i], unit);
    }
    fputs("</svg>\n", f);
}

/* Calls per hour over the campaign's life, as bars. */
static void timeline(FILE *f, const struct cg__findings *fd, uint32_t cid)
{
    const struct cg__campaign *c = &fd->camp[cid];
    uint32_t h0 = (uint32_t)((c->first - fd->tmin) / 3600),
             h1 = (uint32_t)((c->last - fd->tmin) / 3600), h, max = 1, n;
    if (h1 - h0 >= TIMELINE_MAX)
        h1 = h0 + TIMELINE_MAX - 1;
    n = h1 - h0 + 1;
    for (h = h0; h <= h1; h++)
        if (cg__hourly(fd, cid, h) > max)
            max = cg__hourly(fd, cid, h);
    fprintf(f,
            "<svg class=\"tl\" width=\"360\" height=\"48\" role=\"img\"><title>calls per hour, "
            "peak %u</title>",
            max);
    for (h = h0; h <= h1; h++) {
        uint32_t v = cg__hourly(fd, cid, h);
        double bw = 360.0 / n, bh = 44.0 * v / max;
        if (v)
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" class=\"bar\"/>",
                    (h - h0) * bw, 46 - bh, bw > 1.5 ? bw - 0.5 : bw, bh);
    }
    fputs("<line x1=\"0\" y1=\"46.5\" x2=\"360\" y2=\"46.5\" class=\"axis\"/></svg>", f);
}

/* The page's head, its style, and the run's totals. */
static void html_totals(FILE *f, const struct cg_analyze_summary *sum)
{
    char first[21], last[21];
    cg_time_iso(sum->first_time, first);
    cg_time_iso(sum->last_time, last);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>cidguard: caller-ID spoofing report</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a1a1a;max-width:1100px}\n"
          "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}\n"
          ".nums{display:flex;flex-wrap:wrap;gap:12px}.num{border:1px solid #ccc;border-radius:6px;"
          "padding:8px 14px}.num b{display:block;font-size:22px}\n"
          "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e2e2e2;"
          "padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}\n"
          ".bar{fill:#b3261e}.axis{stroke:#999}.l,.v{font-size:12px}.small{color:#555;font-size:"
          "12px}\n"
          "</style></head><body>\n<h1>Caller-ID spoofing report</h1>\n",
          f);
    fprintf(f,
            "<p class=\"small\">Call records from %s to %s, analysed by cidguard. Every finding "
            "below lists the signals that make it.</p>\n<div class=\"nums\">",
            first, last);
    fprintf(f,
            "<div class=\"num\"><b>%llu</b>call records</div>"
            "<div class=\"num\"><b>%llu</b>spoofed calls</div>"
            "<div class=\"num\"><b>%llu</b>answered spoofed calls</div>"
            "<div class=\"num\"><b>%llu</b>victims</div>"
            "<div class=\"num\"><b>%llu</b>campaigns</div>"
            "<div class=\"num\"><b>%llu</b>origins to trace</div>"
            "<div class=\"num\"><b>%llu</b>malformed rows skipped</div></div>\n",
            (unsigned long long)sum->rows, (unsigned long long)sum->spoofed_calls,
            (unsigned long long)sum->spoofed_answered, (unsigned long long)sum->victims,
            (unsigned long long)sum->campaigns, (unsigned long long)sum->origins,
            (unsigned long long)sum->bad_rows);
    if (sum->presentation_only)
        fprintf(f,
                "<p>%llu spoofed calls hid behind a network number (P-Asserted-Identity) that "
                "carried no signal: only the presentation number the callee saw was spoofed.</p>\n",
                (unsigned long long)sum->presentation_only);
    if (sum->refused)
        fprintf(f,
                "<p>%llu of the spoofed calls were attempts the signing policy refused: never "
                "signed, they reached no one, but they show what the customer tried.</p>\n",
                (unsigned long long)sum->refused);
    if (sum->own_no_intent)
        fprintf(f,
                "<p class=\"small\">%llu calls presented a protected number without a live call "
                "intent from the bank's own dialler (a network number that presented it with "
                "intents): not counted as spoofing; the daemon blocks them.</p>\n",
                (unsigned long long)sum->own_no_intent);
}

/* Brands impersonated: spoofed calls per brand, as bars. */
static void html_brands(FILE *f, const struct cg__findings *fd)
{
    uint32_t nb = cg__nbrands(fd) < 64 ? cg__nbrands(fd) : 64, b;
    uint64_t vals[64];
    const char *labels[64];
    size_t k = 0;
    fputs("<h2>Brands impersonated</h2>\n", f);
    for (b = 0; b < nb; b++)
        if (fd->brand_calls[b]) {
            labels[k] = cg__brand(fd, b);
            vals[k++] = fd->brand_calls[b];
        }
    if (k)
        bars(f, labels, vals, k, "spoofed calls");
    else
        fputs("<p>No protected number was impersonated.</p>\n", f);
}

/* The first HTML_CAMPAIGNS campaigns (in `order`, most calls first), each
 * with its timeline. */
static void html_campaigns(FILE *f, const struct cg__findings *fd, const uint32_t *order)
{
    char first[21], last[21];
    size_t i, n;
    fputs("<h2>Campaigns</h2>\n", f);
    if (!fd->ncamp)
        fputs("<p>No spoofing campaign was found.</p>\n", f);
    else
        fputs("<table><tr><th>id</th><th>kind</th><th>first / last</th><th>calls (answered)</th>"
              "<th>victims</th><th>numbers</th><th>peak/min</th><th>calls per hour</th></tr>\n",
              f);
    for (i = 0, n = fd->ncamp < HTML_CAMPAIGNS ? fd->ncamp : HTML_CAMPAIGNS; i < n; i++) {
        const struct cg__campaign *c = &fd->camp[order[i]];
        cg_time_iso(c->first, first);
        cg_time_iso(c->last, last);
        fprintf(f,
                "<tr><td>C%zu</td><td>%s</td><td>%s<br>%s</td><td>%llu (%llu)</td><td>%u</td>"
                "<td>%u</td><td>%u</td><td>",
                i + 1, kind_name[c->kind], first, last, (unsigned long long)c->calls,
                (unsigned long long)c->answered, c->victims, c->presented, c->peak);
        timeline(f, fd, order[i]);
        fputs("</td></tr>\n", f);
    }
    if (fd->ncamp)
        fputs("</table>\n", f);
    if (fd->ncamp > HTML_CAMPAIGNS)
        fprintf(f, "<p class=\"small\">%zu more campaigns in campaigns.json.</p>\n",
                fd->ncamp - HTML_CAMPAIGNS);
}

/* Victims per origin for the first HTML_ORIGINS origins (worst first), as
 * bars. */
static void html_origin_victims(FILE *f, const struct cg__findings *fd)
{
    const char *labels[HTML_ORIGINS];
    uint64_t vals[HTML_ORIGINS];
    char names[HTML_ORIGINS][300];
    size_t i, n = fd->norg < HTML_ORIGINS ? fd->norg : HTML_ORIGINS;
    fputs("<h2>Victims per origin</h2>\n", f);
    for (i = 0; i < n; i++) {
        char parts[4][256];
        size_t ol;
        origin_parts(fd, fd->org[i].id, parts);
        ol = strlen(parts[2]);
        /* the end of a UUID origid tells accounts apart */
        snprintf(names[i], sizeof names[i], "%.32s %.12s %s%.12s", parts[0], parts[1],
                 ol > 12 ? "..." : "", parts[2] + (ol > 12 ? ol - 12 : 0));
        labels[i] = names[i];
        vals[i] = fd->org[i].victims;
    }
    if (n)
        bars(f, labels, vals, n, "victims");
    else
        fputs("<p>No origin to trace.</p>\n", f);
}

/* The evidence against a signing log's customer. */
static void signing_evidence(FILE *f, const struct cg__origin_out *o)
{
    const char *sep = "";
    if (o->conclusive_calls) {
        fprintf(f,
                "%u calls presenting a DNO, protected (not its own) or invalid number, %u distinct",
                o->conclusive_calls, o->conclusive_numbers);
        sep = "; ";
    }
    if (o->refused) {
        fprintf(f, "%s%u attempts refused by the signing policy", sep, o->refused);
        sep = "; ";
    }
    if (o->rotates)
        fprintf(f, "%srotates numbers: %u distinct on %u calls, mostly without A attestation", sep,
                o->presented, o->calls);
}

/* The first HTML_ORIGINS origins (worst first) with the evidence against
 * each. */
static void html_top_origins(FILE *f, const struct cg__findings *fd)
{
    size_t i, n;
    fputs("<h2>Top origins</h2>\n", f);
    if (fd->norg)
        fprintf(f,
                "<table><tr><th>%s</th><th>SPC</th><th>origid</th><th>calls</th>"
                "<th>spoofed</th><th>numbers presented</th><th>victims</th><th>evidence</th>"
                "</tr>\n",
                fd->signing ? "customer (addresses)" : "ingress");
    for (i = 0, n = fd->norg < HTML_ORIGINS ? fd->norg : HTML_ORIGINS; i < n; i++) {
        const struct cg__origin_out *o = &fd->org[i];
        char parts[4][256];
        origin_parts(fd, o->id, parts);
        fputs("<tr><td>", f);
        html(f, parts[0]);
        if (parts[3][0]) {
            fputs("<br><span class=\"small\">", f);
            html(f, parts[3]);
            fputs("</span>", f);
        }
        fputs("</td><td>", f);
        html(f, parts[1]);
        fputs("</td><td>", f);
        html(f, parts[2]);
        fprintf(f, "</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td><td>", o->calls, o->spoofed,
                o->presented, o->victims);
        if (fd->signing)
            signing_evidence(f, o);
        else if (o->conclusive_calls)
            fprintf(f,
                    "%u calls with a per-call spoofing signal (protected, DNO, unallocated or "
                    "UK-from-abroad)%s",
                    o->conclusive_calls, o->account ? "; every call of the account counted" : "");
        else if (o->reason == CG__R_ROTATION)
            fprintf(f, "rotates numbers: %u distinct on %u calls, mostly without A attestation",
                    o->presented, o->calls);
        else if (o->reason == CG__R_NEIGHBOUR)
            fprintf(f,
                    "neighbour spoofing: %u calls presenting a UK mobile of the callee's own "
                    "block, far more than chance",
                    o->beh.neighbour_calls);
        else if (o->reason == CG__R_BORROWED || o->reason == CG__R_BEHAVIOUR)
            fprintf(f,
                    "%s: %u borrowed numbers on %u calls (%u of them presenting private "
                    "subscribers' numbers, %u banks' lines); behaviour score %.1f (numbers %.1f, "
                    "harm %.1f, dialling %.1f; busiest minute %u calls, answer rate %.2f, "
                    "answered calls %.0f s on average)",
                    o->reason == CG__R_BORROWED ? "presents numbers other origins use"
                                                : "behaves as no other origin does",
                    o->beh.borrowed_numbers, o->beh.borrowed_calls, o->beh.private_calls,
                    o->beh.bank_calls, o->beh.score, o->beh.family[0], o->beh.family[1],
                    o->beh.family[2], o->beh.peak, o->beh.feat[CG__F_ANSWER], o->beh.mean_talk);
        else
            fputs("unverified calls on numbers that usually verify", f);
        fputs("</td></tr>\n", f);
    }
    if (fd->norg)
        fputs("</table>\n", f);
}

/* report.html: one self-contained page, its sections in reading order. */
static int write_html(const struct cg__findings *fd, const uint32_t *order,
                      const struct cg_analyze_summary *sum, const char *dir, char *err,
                      size_t errlen)
{
    FILE *f = create(dir, "report.html", err, errlen);
    if (!f)
        return CG_EIO;
    html_totals(f, sum);
    html_brands(f, fd);
    html_campaigns(f, fd, order);
    html_origin_victims(f, fd);
    html_top_origins(f, fd);
    fputs("<p class=\"small\">Lists: victims.csv (most harmed first), origins.csv (worst first), "
          "campaigns.json.</p>\n</body></html>\n",
          f);
    return fclose(f) == 0 ? CG_OK : CG_EIO;
}

int cg__analyze_write(struct cg__findings *fd, const char *dir,
                      const struct cg_analyze_summary *sum, char *err, size_t errlen)
{
    uint32_t *order = malloc((fd->ncamp + 1) * sizeof *order), *rank;
    size_t i;
    int rc;
    rank = malloc((fd->ncamp + 1) * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return CG_ENOMEM;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        free(order);
        free(rank);
        return CG_EIO;
    }
    for (i = 0; i < fd->ncamp; i++)
        order[i] = (uint32_t)i;
    if (fd->ncamp) /* qsort's base may not be NULL, even for no elements */
        qsort_r(order, fd->ncamp, sizeof *order, by_calls, fd);
    for (i = 0; i < fd->ncamp; i++)
        rank[order[i]] = (uint32_t)i + 1;
    if (fd->nvict)
        qsort_r(fd->vict, fd->nvict, sizeof *fd->vict, by_harm, fd);
    if (fd->norg)
        qsort_r(fd->org, fd->norg, sizeof *fd->org, by_spoofed, fd);
    rc = write_campaigns(fd, order, dir, err, errlen);
    if (rc == CG_OK)
        rc = write_victims(fd, rank, dir, err, errlen);
    if (rc == CG_OK)
        rc = write_origins(fd, dir, err, errlen);
    if (rc == CG_OK)
        rc = write_html(fd, order, sum, dir, err, errlen);
    if (rc != CG_OK && !err[0])
        snprintf(err, errlen, "cannot write the outputs in %s", dir);
    free(order);
    free(rank);
    return rc;
}
