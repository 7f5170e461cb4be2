#!/usr/bin/env python3
"""Independent call-record generator for testing `cidguard analyze`.

Writes into OUTDIR:
  calls.csv      the records (no truth in them)
  protected.csv  banks' protected numbers (inbound-only ones and outbound ones with their SPC)
  dno.csv        Do-Not-Originate list (banks' and government's inbound-only numbers, freephone)
  ingress.csv    ingress list (international gateways marked yes)
  ofcom.csv      Ofcom-style S7 block status for UK mobile 7xxx x blocks
  truth.json     origins (triple, class, kind, legit/fraud), victims (callee -> answered?)
  rows_truth.csv call_id -> origin label (kept apart; call_id is random)

Usage: gen_carrier_day.py OUTDIR --seed S [--rows N]
"""
import argparse, json, math, os, random, uuid, datetime, bisect, collections

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--rows", type=int, default=300000)
ap.add_argument("--cert-outage", action="store_true",
                help="one switch has a 10-40 minute certificate outage (all its calls fail verification)")
ap.add_argument("--fail-rate", type=float, default=None,
                help="share of signed calls whose verification fails sporadically (default: drawn 0..0.3%%)")
ap.add_argument("--household", type=float, default=None,
                help="share of consumers heading a household whose numbers were issued together (default: drawn 8..20%%)")
ap.add_argument("--family-call", type=float, default=0.25,
                help="share of a household member's calls to family")
args = ap.parse_args()
R = random.Random(args.seed)
ROWS = args.rows
os.makedirs(args.out, exist_ok=True)
DAY0 = int(datetime.datetime(2025, 3, 11, tzinfo=datetime.timezone.utc).timestamp())
DAY = 86400

def U(a, b): return R.uniform(a, b)
def I(a, b): return R.randint(a, b)
def uid(): return str(uuid.UUID(int=R.getrandbits(128), version=4))

# ---------------------------------------------------------------- numbering
used = set()
def fresh(gen):
    while True:
        n = gen()
        if n not in used:
            used.add(n); return n

ALL_MOBILE_BLOCKS = [f"7{a}{b}{c}{d}" for a in "345789" for b in "0123456789"
                     for c in "0123456789" for d in "0123456789"]
R.shuffle(ALL_MOBILE_BLOCKS)
_mb = iter(ALL_MOBILE_BLOCKS)
def take_blocks(k): return [next(_mb) for _ in range(k)]
def mobile_in(block): return "+44" + block + "%05d" % I(0, 99999)

GEO_AREAS = ["20"] * 6 + ["121", "113", "114", "115", "116", "117", "118", "131", "141", "151",
             "161", "191", "1224", "1225", "1273", "1392", "1603", "1752", "1902", "1908", "2890",
             "29", "23", "24"]
def geo_in(area):
    rest = 10 - len(area)
    return "+44" + area + "".join(str(I(0, 9)) for _ in range(rest))
def geo(): return geo_in(R.choice(GEO_AREAS))
def nongeo(prefix):  # 3xx / 800
    rest = 10 - len(prefix)
    return "+44" + prefix + "".join(str(I(0, 9)) for _ in range(rest))

FOREIGN = [("+1", lambda: str(I(201, 989)) + str(I(200, 999)) + "%04d" % I(0, 9999)),
           ("+33", lambda: "6" + "%08d" % I(0, 99999999)),
           ("+49", lambda: "15" + "%09d" % I(0, 999999999)),
           ("+91", lambda: "9" + "%09d" % I(0, 999999999)),
           ("+234", lambda: "80" + "%08d" % I(0, 99999999)),
           ("+353", lambda: "8" + str(I(3, 9)) + "%07d" % I(0, 9999999)),
           ("+34", lambda: "6" + "%08d" % I(0, 99999999)),
           ("+48", lambda: "5" + "%08d" % I(0, 99999999)),
           ("+92", lambda: "3" + "%09d" % I(0, 999999999))]
def foreign():
    cc, g = R.choice(FOREIGN); return cc + g()

# ---------------------------------------------------------------- time
HW_CONS = [1, .5, .3, .2, .2, .4, 1, 3, 5, 6, 6.5, 7, 7, 6.5, 6.5, 7, 7.5, 8, 8.5, 8, 7, 5.5, 3.5, 2]
HW_BUS = [.05, .02, .02, .02, .02, .05, .2, 1.5, 6, 9, 9, 8.5, 7, 8, 8.5, 8, 7, 5, 2, 1, .6, .3, .1, .05]
HW_EVE = [2, 1, .5, .3, .2, .3, .8, 2, 3, 3.5, 4, 4.5, 5, 5, 5, 5, 5.5, 6.5, 8, 9, 9, 8, 6, 4]
def cum(w):
    s = 0; out = []
    for x in w: s += x; out.append(s)
    return out
CUM = {"cons": cum(HW_CONS), "bus": cum(HW_BUS), "eve": cum(HW_EVE), "flat": cum([1] * 24)}
def tod(profile="cons", lo=0, hi=DAY):
    for _ in range(50):
        c = CUM[profile]
        h = bisect.bisect_left(c, R.random() * c[-1])
        t = h * 3600 + R.random() * 3600
        if lo <= t < hi: return t
    return U(lo, hi)

# ---------------------------------------------------------------- rows
rows = []   # (t, calling, presented, called, dur, ingress, verstat, attest, origid, spc, label)
PASS, FAIL, NONE = "TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation"

class Origin:
    def __init__(s, ingress, spc, origid, cls, label, fraud=False, kind="", signed=True, attest="A"):
        s.ingress, s.spc, s.origid, s.cls, s.label = ingress, spc, origid, cls, label
        s.fraud, s.kind, s.signed, s.attest = fraud, kind, signed, attest
        s.calls = 0
origins = {}
def add_origin(o):
    origins[o.label] = o; return o

sporadic_fail = U(0.0, 0.003)
if args.fail_rate is not None: sporadic_fail = args.fail_rate
def emit(t, calling, presented, called, dur, o, attest=None, verstat=None, label=None):
    if t < 0 or t >= DAY: return
    if o.signed:
        a = attest or o.attest
        v = verstat or (FAIL if R.random() < sporadic_fail else PASS)
        rows.append((t, calling, presented, called, dur, o.ingress, v, a, o.origid, o.spc, label or o.label))
    else:
        rows.append((t, calling, presented, called, dur, o.ingress, NONE, "", "", "", label or o.label))
    o.calls += 1

def talk(mean, answered_p, sigma=0.9):
    if R.random() >= answered_p: return 0
    mu = math.log(mean) - sigma * sigma / 2
    return max(1, int(R.lognormvariate(mu, sigma)))

# names: random, shuffled, nothing descriptive
_names = set()
def iname():
    while True:
        n = R.choice(["peer", "sbc", "tg", "ic", "trk", "ix", "gw", "nni"]) + "-" + "%03d" % I(1, 999)
        if n not in _names: _names.add(n); return n
_spcs = set()
def spcname():
    while True:
        n = str(I(1000, 9999)) if R.random() < .6 else "%X" % I(0x1000, 0xFFFF)
        if n not in _spcs: _spcs.add(n); return n

# ---------------------------------------------------------------- carriers and consumers
n_mob_carriers = I(3, 5); n_fix_carriers = I(1, 2)
switches = []      # Origin
cons = []          # consumer records: dict(num, sw, w, contacts, fam, fwd, roam)
cons_by_num = {}
mob_carrier_blocks = []
for c in range(n_mob_carriers + n_fix_carriers):
    mobile = c < n_mob_carriers
    ing, spc = iname(), spcname()
    blocks = take_blocks(I(30, 120)) if mobile else None
    areas = None if mobile else R.sample(GEO_AREAS, 12)
    sws = [add_origin(Origin(ing, spc, uid(), "switch", f"sw{c}.{k}")) for k in range(I(1, 4))]
    fwd = add_origin(Origin(ing, spc, uid(), "forwarder", f"fwd{c}", attest="B"))
    switches.append((mobile, blocks, areas, sws, fwd))
    if mobile: mob_carrier_blocks.append(blocks)

n_cons = int(ROWS * U(0.28, 0.4))
for i in range(n_cons):
    mobile, blocks, areas, sws, fwd = R.choice(switches) if R.random() < .85 else R.choice(switches[:n_mob_carriers])
    if mobile:
        num = fresh(lambda: mobile_in(R.choice(blocks)))
    else:
        num = fresh(lambda: geo_in(R.choice(areas)))
    sw = R.choice(sws)
    cons.append(dict(num=num, sw=sw, fwdo=fwd, w=R.gammavariate(0.6, 1.0), mobile=mobile))
# households: numbers issued together (same block), same switch
hh = U(0.08, 0.2)
if args.household is not None: hh = args.household
for _ in range(int(n_cons * hh)):
    h = R.choice(cons)
    if not h["mobile"]: continue
    blk = h["num"][3:8]
    for _k in range(I(1, 3)):
        num = fresh(lambda: mobile_in(blk))
        m = dict(num=num, sw=h["sw"], fwdo=h["fwdo"], w=R.gammavariate(0.6, 1.0), mobile=True, fam=[h["num"]])
        h.setdefault("fam", []).append(num)
        cons.append(m)
# ported numbers: number from one carrier's block, served by another carrier's switch
ported = []
for c in R.sample(cons, int(len(cons) * U(0.01, 0.04))):
    old = c["sw"]
    _, _, _, sws, fwd = R.choice(switches[:n_mob_carriers])
    c["sw"] = R.choice(sws); c["fwdo"] = fwd
    if R.random() < 0.2:  # ported during the day: old switch until the port time
        c["port_at"] = U(6 * 3600, 20 * 3600); c["old_sw"] = old
    ported.append(c["num"])
for c in cons: cons_by_num[c["num"]] = c
cons_mobiles = [c for c in cons if c["mobile"]]

# ---------------------------------------------------------------- businesses, police, banks
biz_carriers = []
for _ in range(I(2, 4)):
    biz_carriers.append((iname(), spcname()))
small_carriers = []
for _ in range(I(3, 5)):
    small_carriers.append((iname(), spcname()))

businesses = []   # dict(o, nums, rate, main)
for b in range(int(ROWS / 300 * U(0.8, 1.5))):
    ing, spc = R.choice(biz_carriers + small_carriers)
    o = add_origin(Origin(ing, spc, uid(), "business", f"biz{b}"))
    area = R.choice(GEO_AREAS)
    k = R.choice([1, 1, 1, 2, 3, 5, 8, 12, 20])
    nums = [fresh(lambda: geo_in(area)) for _ in range(k)]
    if R.random() < .2: nums.append(fresh(lambda: nongeo(R.choice(["333", "345", "330"]))))
    businesses.append(dict(o=o, nums=nums, rate=R.gammavariate(0.8, 12), main=nums[0]))
# PBXs bringing their own numbers to a small carrier: signed B
for b in range(int(ROWS / 3000 * U(0.5, 1.5))):
    ing, spc = R.choice(small_carriers)
    o = add_origin(Origin(ing, spc, uid(), "pbx_b", f"pbx{b}", attest="B"))
    area = R.choice(GEO_AREAS)
    nums = [fresh(lambda: geo_in(area)) for _ in range(R.choice([1, 2, 4, 10, 30]))]
    businesses.append(dict(o=o, nums=nums, rate=R.gammavariate(1.5, 20), main=nums[0]))

police = []
for p in range(I(2, 4)):
    ing, spc = R.choice(biz_carriers)
    o = add_origin(Origin(ing, spc, uid(), "police", f"police{p}"))
    area = R.choice(GEO_AREAS)
    nums = [fresh(lambda: geo_in(area)) for _ in range(I(4, 20))]
    police.append(dict(o=o, nums=nums, calls=I(40, 300)))

banks = []
protected_rows, dno_rows = [], []
BRANDS = ["Northbank", "Albion Savings", "Harbour Bank", "Crown & Co", "Meridian", "Thistle Bank",
          "Pennant Building Society", "Kestrel Bank"]
R.shuffle(BRANDS)
for bi in range(I(3, 6)):
    brand = BRANDS[bi]
    spc = spcname()
    o = add_origin(Origin(iname(), spc, uid(), "bank", f"bank{bi}"))
    inbound = [fresh(lambda: nongeo(R.choice(["345", "330", "300"]))) for _ in range(I(1, 3))]
    inbound += [fresh(lambda: nongeo("800"))]
    outp = [fresh(lambda: nongeo(R.choice(["345", "330"]))) for _ in range(I(1, 3))]
    lines = [fresh(geo) for _ in range(I(5, 30))]
    banks.append(dict(o=o, brand=brand, inbound=inbound, outp=outp, lines=lines, calls=I(500, 3000)))
    for n in inbound:
        protected_rows.append((n[1:], brand, "", "A", "no", ""))
        dno_rows.append((n[1:], brand + " inbound only"))
    for n in outp:
        protected_rows.append((n[1:], brand, spc, "A", "accept", ""))
gov_inbound = [fresh(lambda: nongeo(R.choice(["300", "345"]))) for _ in range(I(4, 10))]
for n in gov_inbound: dno_rows.append((n[1:], "government inbound only"))
fp_inbound = [fresh(lambda: nongeo(R.choice(["800", "808"]))) for _ in range(I(10, 40))]
for n in fp_inbound: dno_rows.append((n[1:], "inbound only"))

callcentres = []
for ci in range(I(5, 12)):
    ing, spc = R.choice(biz_carriers)
    o = add_origin(Origin(ing, spc, uid(), "callcentre", f"cc{ci}"))
    k = R.choice([3, 10, 30, 100, 250])
    nums = [fresh(geo) for _ in range(k)]   # local presence: numbers all over the country
    callcentres.append(dict(o=o, nums=nums, calls=int(ROWS * U(0.004, 0.02))))

# ---------------------------------------------------------------- generators of legit traffic
def random_callee():
    r = R.random()
    if r < .8: return R.choice(cons)["num"]
    if r < .97: return R.choice(R.choice(businesses)["nums"])
    return foreign()

contacts = {}
def contact_of(c):
    l = contacts.get(c["num"])
    if l is None:
        l = [R.choice(cons)["num"] for _ in range(I(4, 20))] + \
            [R.choice(R.choice(businesses)["nums"]) for _ in range(I(0, 4))]
        l += c.get("fam", [])
        contacts[c["num"]] = l
    fam = c.get("fam")
    if fam and R.random() < args.family_call: return R.choice(fam)
    return R.choice(l) if R.random() < .85 else random_callee()

# international gateways
gateways = []
for g in range(I(1, 3)):
    ing = iname()
    if R.random() < .4:   # signs C, one origid per upstream partner
        spc = spcname()
        parts = [add_origin(Origin(ing, spc, uid(), "gateway_c", f"gw{g}.p{k}", attest="C")) for k in range(I(2, 6))]
    else:
        parts = [add_origin(Origin(ing, "", "", "gateway", f"gw{g}", signed=False))]
    gateways.append((ing, parts))
transits = []
for t in range(I(1, 2)):
    o = add_origin(Origin(iname(), "", "", "transit", f"tr{t}", signed=False))
    subs = [fresh(geo) for _ in range(I(500, 3000))]
    transits.append(dict(o=o, subs=subs))

# roamers: abroad from a time (or all day), calls via a gateway; some use Wi-Fi calling at home switch too
roam_share = U(0.005, 0.06)
for c in R.sample(cons_mobiles, int(len(cons_mobiles) * roam_share)):
    gw = R.choice(gateways)
    c["roam"] = (0 if R.random() < .6 else U(0, 20 * 3600), R.choice(gw[1]), R.random() < .3)

transit_share = U(0, 0.04)
fwd_share = U(0.005, 0.03)
fwd_target = {}
cert_outage = None
if args.cert_outage:
    sw = R.choice([s for (_, _, _, sws, _) in switches for s in sws])
    t0 = U(9 * 3600, 17 * 3600)
    cert_outage = (sw, t0, t0 + U(600, 2400))

def consumer_call(c, t, callee=None):
    callee = callee or contact_of(c)
    if callee == c["num"]: return
    d = talk(R.choice([60, 90, 150]), ANS_CONS)
    sw = c["sw"]
    if "port_at" in c and t < c["port_at"]: sw = c["old_sw"]
    roam = c.get("roam")
    if roam and t >= roam[0] and not (roam[2] and R.random() < .4):
        o = roam[1]
        emit(t, c["num"], c["num"], callee, d, o, label="roam:" + o.label)
        return
    if R.random() < transit_share:
        emit(t, c["num"], c["num"], callee, d, R.choice(transits)["o"], label="transit_cons")
        return
    v = None
    if cert_outage and sw is cert_outage[0] and cert_outage[1] <= t < cert_outage[2]: v = FAIL
    # forwarded: callee forwards to another number; the forwarding carrier re-signs B
    cc = cons_by_num.get(callee)
    if cc is not None and cc["num"] in fwd_target:
        emit(t, c["num"], c["num"], callee, 0, sw, verstat=v)
        emit(t + U(15, 25), c["num"], c["num"], fwd_target[cc["num"]], d, cc["fwdo"], attest="B")
        return
    emit(t, c["num"], c["num"], callee, d, sw, verstat=v)

ANS_CONS = U(0.5, 0.72)
for c in R.sample(cons, int(len(cons) * fwd_share)):
    fwd_target[c["num"]] = R.choice(cons_mobiles)["num"] if R.random() < .7 else geo()


# transit small-operator subscribers (unsigned)
for tr in transits:
    for _ in range(int(ROWS * U(0.005, 0.02))):
        emit(tod("cons"), (n := R.choice(tr["subs"])), n, random_callee(), talk(100, ANS_CONS), tr["o"])

# businesses and PBXs
for b in businesses:
    n = min(int(R.expovariate(1 / max(b["rate"], 0.5))) + 1, 400)
    for _ in range(n):
        num = R.choice(b["nums"])
        pres = b["main"] if (len(b["nums"]) > 3 and R.random() < .5) else num
        emit(tod("bus"), num, pres, random_callee(), talk(140, U(.4, .65)), b["o"])

# police
for p in police:
    for _ in range(p["calls"]):
        n = R.choice(p["nums"])
        emit(tod("bus" if R.random() < .7 else "flat"), n, n, random_callee(), talk(200, .55), p["o"])

# banks
for b in banks:
    for _ in range(b["calls"]):
        n = R.choice(b["outp"]) if R.random() < .4 else R.choice(b["lines"])
        emit(tod("bus"), n, n, R.choice(cons)["num"], talk(210, .5), b["o"])

# call centres (own numbers, A, dialler bursts)
def sessions(ncalls, profile, rate_lo, rate_hi, len_lo, len_hi, lo=0, hi=DAY):
    """yield call times: sessions of len minutes at rate calls/min"""
    out = []
    while len(out) < ncalls:
        start = tod(profile, lo, hi)
        L = U(len_lo, len_hi) * 60; rate = U(rate_lo, rate_hi)
        k = max(1, int(rate * L / 60))
        for _ in range(min(k, ncalls - len(out))):
            out.append(start + R.random() * L)
    out.sort()
    return out
for cc in callcentres:
    ans = U(.2, .4); mt = U(60, 220)
    for t in sessions(cc["calls"], "bus", 5, 45, 20, 120):
        n = R.choice(cc["nums"])
        emit(t, n, n, random_callee(), talk(mt, ans), cc["o"])

# outsourced agencies signing B for clients (clients keep calling with them too)
agencies = []
for ai in range(I(2, 5)):
    ing, spc = R.choice(small_carriers)
    o = add_origin(Origin(ing, spc, uid(), "agency", f"agency{ai}", attest="B"))
    clients = R.sample([b for b in businesses if b["o"].cls == "business"], I(2, 7))
    cl_nums = [R.sample(b["nums"], min(len(b["nums"]), I(1, 4))) for b in clients]
    bank_client = None
    if R.random() < .25:   # a bank's collections outsourced: the bank's unprotected lines
        bk = R.choice(banks)
        cl_nums.append(R.sample(bk["lines"], min(3, len(bk["lines"]))))
        bank_client = bk["o"].label
    o.bank_client = bank_client
    N = int(ROWS * U(0.003, 0.012)); blocks = R.random() < .5
    mt = U(90, 400); ans = U(.25, .45)
    ts = sessions(N, "bus", 3, 20, 30, 180)
    for t in ts:
        if blocks:
            idx = int(t // (U(1.5, 3) * 3600) * 7 + 3) % len(cl_nums)   # one client per block of hours
        else:
            idx = R.randrange(len(cl_nums))
        n = R.choice(cl_nums[idx])
        emit(t, n, n, R.choice(cons)["num"], talk(mt, ans), o)
    agencies.append(o)

# CPaaS OTP: clients' numbers (businesses', banks' lines), short bursty, signed B
for pi in range(I(1, 3)):
    ing, spc = R.choice(small_carriers)
    o = add_origin(Origin(ing, spc, uid(), "cpaas_otp", f"cpaas{pi}", attest="B"))
    pool = [R.choice(b["nums"]) for b in R.sample(businesses, I(5, 30))]
    for bk in R.sample(banks, I(0, 2)): pool += R.sample(bk["lines"], min(2, len(bk["lines"])))
    N = int(ROWS * U(0.005, 0.015))
    for t in sessions(N, "cons", 5, 80, 1, 10):
        n = R.choice(pool)
        emit(t, n, n, R.choice(cons)["num"], talk(25, U(.6, .85), .4), o)

# VoIP app presenting its users' own mobile numbers (users also call from their switch): B
apps = []
for ai in range(I(1, 2)):
    ing, spc = R.choice(small_carriers)
    o = add_origin(Origin(ing, spc, uid(), "voip_app", f"app{ai}", attest="B"))
    users = R.sample([c for c in cons_mobiles if c["w"] > .5], I(200, 1200))
    N = int(ROWS * U(0.005, 0.015))
    for _ in range(N):
        u = R.choice(users)
        t = tod("eve")
        emit(t, u["num"], u["num"], contact_of(u), talk(R.choice([60, 150, 300]), ANS_CONS), o)
    apps.append(o)

# foreign callers via gateways
for _ in range(int(ROWS * U(0.02, 0.05))):
    ing, parts = R.choice(gateways)
    n = foreign()
    emit(tod("flat"), n, n, random_callee(), talk(200, .55), R.choice(parts), label="foreign")

# ---------------------------------------------------------------- fraud
fraud = []
victims = {}   # callee -> answered any
CUR = [None]
def fcall(t, calling, pres, callee, d, o, attest=None):
    if t < 0 or t >= DAY: return
    emit(t, calling, pres, callee, d, o, attest=attest, label=CUR[0])
    victims[callee] = victims.get(callee, False) or d > 0

def fraud_account(kind, attest):
    ing, spc = R.choice(small_carriers)
    return add_origin(Origin(ing, spc, uid(), "fraud", f"F{len(fraud)}:{kind}", fraud=True, kind=kind, attest=attest))

def target():
    c = R.choice(cons)
    return c["num"]

def owned_number_pool(mix, k):
    """numbers of others whose owners keep using them"""
    out = []
    active = [c for c in cons if c["w"] > 0.8 and "roam" not in c]
    for _ in range(k):
        cat = R.choices(["private", "bank", "police", "business"], weights=mix)[0]
        if cat == "private": out.append((R.choice(active)["num"], cat))
        elif cat == "bank": out.append((R.choice(R.choice(banks)["lines"]), cat))
        elif cat == "police": out.append((R.choice(R.choice(police)["nums"]), cat))
        else:
            b = R.choice([b for b in businesses if b["rate"] > 5])
            out.append((R.choice(b["nums"]), cat))
    return out

n_fraud = I(20, 25)
n_slow = I(7, 10)
kinds = ["slow_borrow"] * n_slow
others = ["bank", "dno", "unallocated", "neighbour", "fast_rotation", "gateway_uk"]
while len(kinds) < n_fraud:
    kinds.append(R.choice(others))
# one of each other kind at least
for k, x in zip(range(n_slow, n_slow + len(others)), others): kinds[k] = x
R.shuffle(kinds)

unalloc_blocks = [next(_mb) for _ in range(30)]   # never given to anyone

for kind in kinds:
    CUR[0] = f"FRAUD{len(fraud)}:{kind}"
    mt = U(120, 900); ans = U(.25, .7)
    prof = R.choice(["bus", "bus", "cons", "flat"])
    info = {}
    if kind == "slow_borrow":
        o = fraud_account(kind, "B")
        N = I(1000, 3000); K = I(24, 90)
        mix = [U(0.0, 0.6), U(0, 0.4), U(0, 0.3), U(0, 0.3)]
        pool = owned_number_pool(mix, K)
        mt = U(250, 1200); ans = U(.3, .7)
        own = fresh(lambda: nongeo("333")) if R.random() < .3 else None
        ts = sessions(N, prof, 2, 12, 3, 25, 8 * 3600, 21 * 3600)
        # slow rotation: each number for a contiguous stretch of calls, some reused later
        per = N / K
        seq = []
        i = 0
        while len(seq) < len(ts):
            num = pool[i % K] if R.random() > .15 else R.choice(pool)
            seq += [num] * max(1, int(R.expovariate(1 / per)) + 1)
            i += 1
        cats = collections.Counter()
        for t, (num, cat) in zip(ts, seq):
            fcall(t, own or num, num, target(), talk(mt, ans), o)
            cats[cat] += 1
        info = dict(pool=K, mix=[round(x, 2) for x in mix], cats=dict(cats), network_own=bool(own))
    elif kind == "bank":
        via = R.random()
        if via < .7: o = fraud_account(kind, R.choice("BC"))
        else:
            ing, parts = R.choice(gateways); o = R.choice(parts)
        bk = R.sample(banks, I(1, 3))
        nums = [n for b in bk for n in b["inbound"] + b["outp"]]
        N = I(150, 1500)
        for t in sessions(N, prof, 3, 15, 2, 20):
            fcall(t, R.choice(cons)["num"], R.choice(nums), target(), talk(mt, ans), o)
    elif kind == "dno":
        o = fraud_account(kind, R.choice("BC"))
        nums = R.sample(gov_inbound + fp_inbound, I(1, 5))
        for t in sessions(I(100, 1000), prof, 3, 15, 2, 20):
            n = R.choice(nums)
            fcall(t, n, n, target(), talk(mt, ans), o)
    elif kind == "unallocated":
        o = fraud_account(kind, "C")
        few = R.random() < .5
        pool = [mobile_in(R.choice(unalloc_blocks)) for _ in range(I(3, 8))]
        for t in sessions(I(150, 1200), prof, 3, 15, 2, 20):
            n = R.choice(pool) if few else mobile_in(R.choice(unalloc_blocks))
            fcall(t, n, n, target(), talk(mt, ans), o)
    elif kind == "neighbour":
        if R.random() < .7: o = fraud_account(kind, R.choice("BC"))
        else:
            ing, parts = R.choice(gateways); o = R.choice(parts)
        for t in sessions(I(300, 2000), prof, 3, 15, 2, 20):
            v = R.choice(cons_mobiles)["num"]
            n = "+44" + v[3:8] + "%05d" % I(0, 99999)
            fcall(t, n, n, v, talk(mt, ans), o)
    elif kind == "fast_rotation":
        o = fraud_account(kind, "C")
        for t in sessions(I(300, 3000), prof, 3, 20, 2, 20):
            n = geo() if R.random() < .6 else mobile_in(R.choice(R.choice(mob_carrier_blocks)))
            fcall(t, n, n, target(), talk(mt, ans), o)
    elif kind == "gateway_uk":
        ing, parts = R.choice(gateways); o = R.choice(parts)
        real = R.random() < .5
        for t in sessions(I(200, 1500), prof, 3, 15, 2, 20):
            n = R.choice(R.choice(businesses)["nums"]) if real else geo()
            fcall(t, n, n, target(), talk(mt, ans), o)
    fraud.append(dict(id=CUR[0], kind=kind, origin=o.label, calls=sum(1 for r in rows if r[10] == CUR[0]), info=info, mean_talk=round(mt), answer=round(ans, 2)))
    # mark origin as carrying fraud
    o.carries = getattr(o, "carries", []) + [kind]
# relabel gateway fraud rows: they were labelled with the gateway's label via emit(); fix by call position
# (fcall uses emit with o.label; we re-tag below by tracking victims differently) -- done via label list:

# consumers: the rest of the rows
n_cons_calls = max(0, int((ROWS - len(rows)) / (1 + fwd_share * 0.5)))
callers = R.choices(cons, weights=[c["w"] for c in cons], k=n_cons_calls)
for c in callers:
    consumer_call(c, tod("cons"))

# ---------------------------------------------------------------- write
R.shuffle(rows)
rows.sort(key=lambda r: r[0])
def iso(t): return datetime.datetime.fromtimestamp(DAY0 + int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
with open(os.path.join(args.out, "calls.csv"), "w") as f, open(os.path.join(args.out, "rows_truth.csv"), "w") as g:
    f.write("time,calling,presented,called,duration,ingress,verstat,attest,origid,spc,call_id\n")
    g.write("call_id,label\n")
    for r in rows:
        cid = uid()
        f.write(f"{iso(r[0])},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]},{r[6]},{r[7]},{r[8]},{r[9]},{cid}\n")
        g.write(f"{cid},{r[10]}\n")
with open(os.path.join(args.out, "protected.csv"), "w") as f:
    f.write("number,brand,spcs,min_attest,intents,agents\n")
    for r in protected_rows: f.write(",".join(r) + "\n")
with open(os.path.join(args.out, "dno.csv"), "w") as f:
    f.write("number,note\n")
    for r in dno_rows: f.write(",".join(r) + "\n")
with open(os.path.join(args.out, "ingress.csv"), "w") as f:
    f.write("ingress,international,addresses,note\n")
    seen = set()
    for o in origins.values():
        if o.ingress in seen: continue
        seen.add(o.ingress)
        intl = "yes" if o.cls in ("gateway", "gateway_c") else "no"
        f.write(f"{o.ingress},{intl},,\n")
with open(os.path.join(args.out, "ofcom.csv"), "w") as f:
    f.write("Number Block,Block Status,Date Allocated,Communications Provider\n")
    for blocks in mob_carrier_blocks:
        for b in blocks: f.write(f"{b[:4]} {b[4]},Allocated,2010-01-01,CP\n")
    for b in unalloc_blocks: f.write(f"{b[:4]} {b[4]},Free,,\n")
truth = dict(seed=args.seed, rows=len(rows),
             origins=[dict(label=o.label, ingress=o.ingress, spc=o.spc, origid=o.origid, cls=o.cls,
                           fraud=o.fraud, kind=o.kind, calls=o.calls, carries=getattr(o, "carries", []),
                           bank_client=getattr(o, "bank_client", None)) for o in origins.values()],
             fraud=fraud, victims=victims, cert_outage=(cert_outage[0].label if cert_outage else None))
json.dump(truth, open(os.path.join(args.out, "truth.json"), "w"))
print(f"{len(rows)} rows, {len(fraud)} fraud origins, {len(victims)} victims, "
      f"{sum(1 for r in rows if r[10].startswith('FRAUD'))} fraud-account rows")
