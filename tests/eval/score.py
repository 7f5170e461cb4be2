#!/usr/bin/env python3
"""Scores `cidguard analyze` output against gen_independent.py's ground truth.

usage: score.py GEN_DIR REPORT_DIR [--json FILE]

GEN_DIR holds calls.csv and truth_*.csv; REPORT_DIR is the analyzer's --out (victims.csv,
origins.csv, campaigns.json).  Prints victims' precision and recall (overall and per fraud
archetype), fraud origins found out of N, every false origin with the legitimate archetypes of
its calls and the analyzer's stated reason and features, every false victim's archetype, and for
each missed fraud origin the evaluator's own measurements of it (the analyzer states nothing
about origins it does not list) next to the population's medians.
"""

import argparse
import collections
import csv
import json
import math
import os
import statistics


def canon(n):
    n = (n or "").strip()
    if n.startswith("+"):
        return n[1:]
    if n.startswith("0"):
        return "44" + n[1:]
    return n


def okey(row):
    return (row["ingress"], row.get("spc") or "", row.get("origid") or "")


def fmt_origin(k):
    return "|".join(k)


def load(gen, rep):
    truth = {}
    with open(os.path.join(gen, "truth_calls.csv")) as f:
        for row in csv.DictReader(f):
            truth[row["call_id"]] = (row["archetype"], row["fraud"] == "1")
    calls = []
    with open(os.path.join(gen, "calls.csv")) as f:
        for row in csv.DictReader(f):
            arch, fraud = truth[row["call_id"]]
            calls.append(dict(t=row["time"], calling=canon(row["calling"]),
                              presented=canon(row["presented"]) or canon(row["calling"]),
                              called=canon(row["called"]), dur=int(row["duration"]),
                              origin=(row["ingress"], row["spc"], row["origid"]),
                              attest=row["attest"], arch=arch, fraud=fraud))
    tvict = {}
    with open(os.path.join(gen, "truth_victims.csv")) as f:
        for row in csv.DictReader(f):
            tvict[row["called"]] = row["archetypes"].split(";")
    torig = {}
    with open(os.path.join(gen, "truth_origins.csv")) as f:
        for row in csv.DictReader(f):
            torig[okey(row)] = row["archetype"]
    lvict = {}
    with open(os.path.join(rep, "victims.csv")) as f:
        for row in csv.DictReader(f):
            lvict[canon(row["called"])] = row
    lorig = {}
    with open(os.path.join(rep, "origins.csv")) as f:
        for row in csv.DictReader(f):
            lorig[okey(row)] = row
    with open(os.path.join(rep, "campaigns.json")) as f:
        camps = json.load(f)
    if isinstance(camps, dict):
        camps = camps.get("campaigns", [])
    return calls, tvict, torig, lvict, lorig, camps


def features(calls_of):
    """The evaluator's own per-origin measurements (not the analyzer's)."""
    n = len(calls_of)
    ans = [c for c in calls_of if c["dur"] > 0]
    per_min = collections.Counter(c["t"][:16] for c in calls_of)
    pres = collections.Counter(c["presented"] for c in calls_of)
    return dict(calls=n, answer_rate=len(ans) / n if n else 0,
                mean_talk=(sum(c["dur"] for c in ans) / len(ans)) if ans else 0,
                peak=max(per_min.values()) if per_min else 0,
                numbers=len(pres), new_rate=len(pres) / n if n else 0,
                callees=len({c["called"] for c in calls_of}),
                neighbour_share=sum(1 for c in calls_of if c["presented"][:7] == c["called"][:7]
                                    and c["presented"] != c["called"]) / n if n else 0)


def epoch(t):
    import calendar
    return calendar.timegm((int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]),
                            int(t[14:16]), int(t[17:19])))


def turnover(calls_of):
    """docs/analyze.md's turnover, recomputed by the evaluator from its definition:
    1 - sum(k * span_n) / sum(k * (k-1)/(k+1) * origin_span), k a number's calls."""
    ts = [epoch(c["t"]) for c in calls_of]
    if not ts:
        return 0.0
    span = max(ts) - min(ts)
    if span <= 0:
        return 0.0
    per = collections.defaultdict(list)
    for c, t in zip(calls_of, ts):
        per[c["presented"]].append(t)
    used = exp = 0.0
    for n, tl in per.items():
        k = len(tl)
        used += k * (max(tl) - min(tl))
        exp += k * (k - 1) / (k + 1) * span
    return 1 - used / exp if exp else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen")
    ap.add_argument("report")
    ap.add_argument("--json")
    a = ap.parse_args()
    calls, tvict, torig, lvict, lorig, camps = load(a.gen, a.report)

    by_origin = collections.defaultdict(list)
    for c in calls:
        by_origin[c["origin"]].append(c)
    # Owners of numbers: origins that present a number attested A (for 'borrowed' context).
    a_owner = collections.defaultdict(set)
    for c in calls:
        if c["attest"] == "A" and c["presented"] == c["calling"]:
            a_owner[c["presented"]].add(c["origin"])

    # ---- victims ----
    tv, lv = set(tvict), set(lvict)
    correct = tv & lv
    prec = len(correct) / len(lv) if lv else 1.0
    rec = len(correct) / len(tv) if tv else 1.0
    print("victims: precision %.4f recall %.4f (listed %d, true %d, correct %d)"
          % (prec, rec, len(lv), len(tv), len(correct)))
    per_arch_true = collections.Counter()
    per_arch_found = collections.Counter()
    for v, archs in tvict.items():
        for ar in archs:
            per_arch_true[ar] += 1
            if v in lv:
                per_arch_found[ar] += 1
    for ar in sorted(per_arch_true):
        print("  recall %-20s %5d/%5d = %.3f" % (ar, per_arch_found[ar], per_arch_true[ar],
                                                  per_arch_found[ar] / per_arch_true[ar]))
    # False victims, by the archetype of the calls they got from listed origins.
    listed = set(lorig)
    calls_to = collections.defaultdict(list)
    for c in calls:
        calls_to[c["called"]].append(c)
    fv_arch = collections.Counter()
    for v in lv - tv:
        archs = {c["arch"] for c in calls_to.get(v, []) if c["origin"] in listed
                 or (c["origin"][0], "", "") in listed}
        fv_arch[";".join(sorted(archs)) or "(no call from a listed origin)"] += 1
    if fv_arch:
        print("  false victims by archetype of the calls from listed origins:")
        for k, n in fv_arch.most_common():
            print("    %-40s %d" % (k, n))

    # ---- origins ----
    to, lo = set(torig), set(lorig)
    found = to & lo
    print("fraud origins found: %d/%d; listed %d, false %d"
          % (len(found), len(to), len(lo), len(lo - to)))
    beh = {}
    for cp in camps:
        for s in cp.get("signals", []):
            if s.get("signal") == "behaviour":
                for o in cp.get("origins", []):
                    beh[okey(o)] = {k: v for k, v in s.items() if k not in ("signal",
                                                                            "evidence")}
    camp_kinds = collections.defaultdict(list)
    for cp in camps:
        for o in cp.get("origins", []):
            camp_kinds[okey(o)].append("%s:%s(%d calls)" % (cp["id"], cp["kind"], cp["calls"]))
    cols = ["reason", "score", "peak_per_minute", "answer_rate", "mean_talk", "new_number_rate",
            "borrowed_numbers", "borrowed_calls", "borrowed_share", "spoofed_calls", "calls"]
    for k in sorted(lo):
        tag = "FRAUD " + torig[k] if k in to else "FALSE"
        mix = collections.Counter(c["arch"] for c in by_origin.get(k, []))
        print("  listed %s %s" % (tag, fmt_origin(k)))
        print("    calls by archetype: %s" % dict(mix.most_common()))
        print("    analyzer: " + ", ".join("%s=%s" % (c, lorig[k].get(c, "")) for c in cols))
        print("    campaigns: %s" % "; ".join(camp_kinds.get(k, [])))
        if k in beh:
            print("    behaviour: %s" % json.dumps(beh[k], sort_keys=True))
    # Population medians of the evaluator's features (origins of >= 30 calls).
    pop = [features(cs) for o, cs in by_origin.items() if len(cs) >= 30]
    tov = {o: turnover(cs) for o, cs in by_origin.items() if len(cs) >= 20}
    tpop = [tov[o] for o, cs in by_origin.items() if len(cs) >= 30]
    tmed = statistics.median(tpop)
    tmad = 1.4826 * statistics.median(abs(x - tmed) for x in tpop)
    print("  turnover (evaluator's recomputation): population median %.3f, 1.4826*MAD %.3f"
          % (tmed, tmad))
    interesting = set(lo) | set(to) | {o for o, cs in by_origin.items() if len(cs) >= 300 and
                                       cs[0]["attest"] == "B"}
    for o in sorted(interesting, key=lambda o: -tov.get(o, 0)):
        if o in tov:
            mix = collections.Counter(c["arch"] for c in by_origin[o]).most_common(1)[0][0]
            print("    turnover %.3f  %-18s %s%s" % (tov[o], mix, fmt_origin(o),
                                                   "  LISTED" if o in lo else ""))
    med = {f: statistics.median(p[f] for p in pop) for f in
           ("answer_rate", "mean_talk", "peak", "new_rate")}
    print("  population (%d origins >= 30 calls) medians: %s"
          % (len(pop), ", ".join("%s=%.3f" % kv for kv in med.items())))
    for k in sorted(to - lo):
        cs = by_origin.get(k, [])
        fr = [c for c in cs if c["fraud"]]
        ft = features(fr)
        borrowed = sum(1 for c in fr if a_owner.get(c["presented"], set()) - {k}) \
            if fr else 0
        print("  MISSED %s %s: %d calls (%d fraud) on the origin"
              % (torig[k], fmt_origin(k), len(cs), len(fr)))
        print("    evaluator's view of its fraud calls: %s, presented numbers attested A "
              "elsewhere on %d calls"
              % (", ".join("%s=%s" % (x, round(y, 3) if isinstance(y, float) else y)
                           for x, y in ft.items()), borrowed))
        mix = collections.Counter(c["arch"] for c in cs)
        print("    calls by archetype on the origin: %s" % dict(mix.most_common()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(victims=dict(precision=prec, recall=rec, listed=len(lv),
                                        true=len(tv), correct=len(correct),
                                        per_archetype={ar: [per_arch_found[ar],
                                                            per_arch_true[ar]]
                                                       for ar in per_arch_true},
                                        false_by_archetype=dict(fv_arch)),
                           origins=dict(found=len(found), true=len(to), listed=len(lo),
                                        false=[fmt_origin(k) for k in sorted(lo - to)],
                                        missed=[torig[k] for k in sorted(to - lo)])),
                      f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
