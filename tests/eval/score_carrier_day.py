#!/usr/bin/env python3
"""Score a cidguard analyze output dir against gen_carrier_day.py's truth.
usage: score_carrier_day.py SEEDDIR [OUTDIR]   (OUTDIR defaults to SEEDDIR/out)"""
import csv, json, sys, os, collections, math

d = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(d, "out")
T = json.load(open(os.path.join(d, "truth.json")))
byTriple = {}
for o in T["origins"]:
    byTriple[(o["ingress"], o["spc"], o["origid"])] = o
lab2o = {o["label"]: o for o in T["origins"]}

# rows with their truth label
lab = {}
for r in csv.DictReader(open(os.path.join(d, "rows_truth.csv"))): lab[r["call_id"]] = r["label"]
rows = []
for r in csv.DictReader(open(os.path.join(d, "calls.csv"))):
    r["label"] = lab[r["call_id"]]; rows.append(r)

truthV = set(T["victims"])
listedV = set(r["called"] for r in csv.DictReader(open(os.path.join(out, "victims.csv"))))
listedO = list(csv.DictReader(open(os.path.join(out, "origins.csv"))))
listedT = set((o["ingress"], o["spc"], o["origid"]) for o in listedO)

tp = len(truthV & listedV)
prec = tp / len(listedV) if listedV else 1.0
rec = tp / len(truthV) if truthV else 1.0

# per fraud: which triple carried it, found?
fr_rows = collections.defaultdict(list)
for r in rows:
    if r["label"].startswith("FRAUD"): fr_rows[r["label"]].append(r)
fraud_res = []
for f in T["fraud"]:
    o = lab2o[f["origin"]]
    trip = (o["ingress"], o["spc"], o["origid"])
    fv = set(r["called"] for r in fr_rows[f["id"]])
    vr = len(fv & listedV) / len(fv) if fv else 1
    fraud_res.append(dict(id=f["id"], kind=f["kind"], cls=o["cls"], listed=trip in listedT, vrec=vr,
                          calls=len(fr_rows[f["id"]]), info=f.get("info"), triple=trip))

# listed origins not carrying fraud
fp_orig = []
for row in listedO:
    t = (row["ingress"], row["spc"], row["origid"])
    o = byTriple.get(t)
    if o is None:
        fp_orig.append(("?unknown", row)); continue
    if not o["carries"] and not o["fraud"]:
        fp_orig.append((o["cls"] + ":" + o["label"] + (f" bank_client={o['bank_client']}" if o.get("bank_client") else ""), row))

# false-positive victims: attribute each to one label of its calls from listed origins (by priority)
fpV = listedV - truthV
PRI = ["voip_app", "bank", "agency", "cpaas_otp", "forwarder", "roam-nb", "roam", "transit", "foreign"]
per = collections.defaultdict(set)
for r in rows:
    if r["called"] in fpV and (r["ingress"], r["spc"], r["origid"]) in listedT:
        o = byTriple.get((r["ingress"], r["spc"], r["origid"]))
        l = r["label"]
        if l.startswith("roam:"):
            l = "roam-nb" if r["presented"][:8] == r["called"][:8] else "roam"
        elif l in ("foreign", "transit_cons"): l = "foreign" if l == "foreign" else "transit"
        else: l = o["cls"] if o else "?"
        per[r["called"]].add((l, (o["cls"] if o else "?")))
attr = collections.Counter()
for v, s_ in per.items():
    best = min(s_, key=lambda x: PRI.index(x[0]) if x[0] in PRI else 99)
    attr[best[1] + "/" + best[0]] += 1
fnV = truthV - listedV
missattr = collections.Counter()
for r in rows:
    if r["called"] in fnV and r["label"].startswith("FRAUD"): missattr[r["label"]] += 1

n_fraud_orig_trip = set(fr["triple"] for fr in fraud_res)
found = sum(1 for fr in fraud_res if fr["listed"] and fr["vrec"] >= .5)
res = dict(seed=T["seed"], rows=len(rows), victims_true=len(truthV), victims_listed=len(listedV),
           v_prec=round(prec, 4), v_rec=round(rec, 4), fraud=len(fraud_res), fraud_found=found,
           missed=[(f["id"], f["cls"], round(f["vrec"], 3)) for f in fraud_res if not (f["listed"] and f["vrec"] >= .5)],
           legit_flagged=[x[0] for x in fp_orig],
           fp_victims_by_cause=attr.most_common(12), fn_victim_calls=missattr.most_common(12))
print(json.dumps(res, indent=1))
for f in fraud_res:
    print(f"  {f['id']:28s} {f['cls']:10s} listed={int(f['listed'])} vrec={f['vrec']:.3f} calls={f['calls']} {f['info'] or ''}")
for name, row in fp_orig:
    print("  FP", name, {k: row[k] for k in ("calls", "reason", "score", "peak_per_minute", "answer_rate", "mean_talk", "new_number_rate",
                                      "borrowed_numbers", "borrowed_calls", "borrowed_share", "private_share", "bank_share", "neighbour_calls")})
json.dump(res, open(os.path.join(out, "score.json"), "w"))
