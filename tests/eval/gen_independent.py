#!/usr/bin/env python3
"""Independent call-record generator for evaluating `cidguard analyze`.

Written without reference to the analyzer's rules or the project's simulator: only the input
format (docs/analyze.md, the CSV header, the policy lists) is shared.  It models a UK
terminating network's view of two days of traffic:

  consumers (mobile and fixed, on five carriers with several switches each, a transit carrying
  some of them unsigned, porting, forwarding, roaming abroad with and without Wi-Fi calling,
  sporadic verification failures), small businesses on three small carriers (signed A or B),
  a hosted PBX and a residential VoIP reseller (signed B), call centres with their own numbers
  (A), call-centre agencies signing B for clients (one a debt collector working client by
  client), CPaaS platforms (one-time-password bursts, appointment reminders) presenting their
  clients' numbers, banks (protected and unprotected lines; one through an outsourced contact
  centre with call intents), police forces, and foreign callers through international gateways.

Fraud archetypes (all ground truth goes to truth_*.csv, never into calls.csv):

  F1 slow_borrow     account on a small carrier, signed B, presenting other people's numbers
                     (banks' unprotected lines, police, subscribers, businesses), never protected
                     or DNO; rotates slowly through dozens of numbers over >1000 calls, dials in
                     bursts, keeps victims on the line long.
  F2 ispoof          bank impersonation: protected bank numbers, signed C by a small carrier's
                     account and unsigned through an international gateway; bursts of ~20/min.
  F3 slow_low        low volume (tens of calls), a handful of borrowed numbers, no bursts, long.
  F4 cc_mimic        looks like a call centre: business hours, steady rate, a small pool of
                     borrowed numbers used all day, signed B.
  F5 intl_neighbour  neighbour spoofing from abroad: UK mobile numbers sharing the callee's
                     leading digits, unsigned through an international gateway.

Outputs in --out: calls.csv, protected.csv, dno.csv, ingress.csv (inputs for the analyzer) and
truth_calls.csv (call_id, archetype, actor, fraud), truth_origins.csv, truth_victims.csv.
"""

import argparse
import bisect
import csv
import math
import os
import random
import time as _time

DAY = 86400


class Gen:
    def __init__(self, seed, rows, days, vfail, agency_blocks=False):
        self.agency_blocks = agency_blocks
        self.r = random.Random(seed)
        self.rows_target = rows
        self.days = days
        self.vfail = vfail
        self.t0 = 1741046400  # 2025-03-04T00:00:00Z, a Tuesday
        self.used_numbers = set()
        self.used_names = set()
        self.calls = []  # tuples
        self.truth = []  # (call_id, archetype, actor, fraud)
        self.next_id = 0

    # ---------- helpers ----------
    def name(self, prefix_choices):
        while True:
            n = self.r.choice(prefix_choices) + "".join(
                self.r.choice("0123456789abcdefghjkmnpqrstuvwxyz") for _ in range(4))
            if n not in self.used_names:
                self.used_names.add(n)
                return n

    def spc(self):
        while True:
            n = "".join(self.r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(5))
            if n not in self.used_names:
                self.used_names.add(n)
                return n

    def uuid(self):
        r = self.r
        return "%08x-%04x-4%03x-%04x-%012x" % (r.getrandbits(32), r.getrandbits(16),
                                               r.getrandbits(12),
                                               0x8000 | r.getrandbits(14), r.getrandbits(48))

    def number(self, prefix, total_len=12):
        """A fresh number: prefix (digits after +) completed to total_len digits."""
        while True:
            n = prefix + "".join(self.r.choice("0123456789")
                                 for _ in range(total_len - len(prefix)))
            if n not in self.used_numbers:
                self.used_numbers.add(n)
                return n

    def lognormal_mean(self, mean, sigma):
        mu = math.log(mean) - sigma * sigma / 2
        return self.r.lognormvariate(mu, sigma)

    def poisson(self, lam):
        if lam <= 0:
            return 0
        if lam > 50:
            return max(0, int(round(self.r.gauss(lam, math.sqrt(lam)))))
        L = math.exp(-lam)
        k, p = 0, 1.0
        while True:
            p *= self.r.random()
            if p <= L:
                return k
            k += 1

    def hour_time(self, weights, day=None):
        """A time on a random (or given) day, hour drawn by weights (24 values)."""
        if day is None:
            day = self.r.randrange(self.days)
        h = self.r.choices(range(24), weights=weights)[0]
        return self.t0 + day * DAY + h * 3600 + self.r.randrange(3600)

    def emit(self, t, calling, called, dur, ingress, verstat, attest, origid, spc,
             archetype, actor, fraud, presented="", intent=""):
        cid = "k%07d" % self.next_id
        self.next_id += 1
        self.calls.append((t, calling, presented, called, dur, ingress, verstat, attest,
                           origid, spc, intent, cid))
        self.truth.append((cid, archetype, actor, 1 if fraud else 0))

    def talk(self, p_answer, mean, sigma=1.0, lo=3, hi=7200):
        if self.r.random() >= p_answer:
            return 0
        return int(min(hi, max(lo, self.lognormal_mean(mean, sigma))))

    # ---------- population ----------
    def build(self):
        r = self.r
        scale = self.rows_target / 300000.0
        # Diurnal shapes (my own): consumers, business hours, evenings.
        self.w_cons = [0.15, 0.08, 0.05, 0.04, 0.05, 0.12, 0.4, 1.0, 1.8, 2.3, 2.6, 2.7,
                       2.6, 2.5, 2.4, 2.4, 2.5, 2.9, 3.1, 2.9, 2.4, 1.8, 1.0, 0.45]
        self.w_biz = [0, 0, 0, 0, 0, 0, 0.05, 0.4, 2.2, 3.0, 3.2, 3.0, 2.0, 2.8, 3.0, 2.9,
                      2.5, 1.4, 0.3, 0.05, 0, 0, 0, 0]
        self.w_intl = [1.5, 1.4, 1.2, 1.0, 1.0, 1.1, 1.3, 1.5, 1.7, 1.8, 1.9, 2.0, 2.0, 2.0,
                       2.1, 2.2, 2.3, 2.4, 2.3, 2.2, 2.0, 1.9, 1.8, 1.6]

        # --- carriers ---
        self.carriers = {}
        mobile_prefixes = [["4474", "4475"], ["4477", "44783"], ["4479", "44780"]]
        for i, pfx in enumerate(mobile_prefixes):
            spc = self.spc()
            nsw = r.randint(2, 4)
            one_origid = r.random() < 0.4  # some carriers use one origid everywhere
            og = self.uuid()
            switches = [(self.name(["ic-", "sw", "peer-", "tg"]), spc,
                         og if one_origid else self.uuid()) for _ in range(nsw)]
            self.carriers["mob%d" % i] = dict(spc=spc, switches=switches, prefixes=pfx)
        fixed_prefixes = [["4412", "4414", "4416"], ["4420", "4411", "4413", "4415"]]
        for i, pfx in enumerate(fixed_prefixes):
            spc = self.spc()
            switches = [(self.name(["ic-", "sw", "peer-", "tg"]), spc, self.uuid())
                        for _ in range(r.randint(2, 3))]
            self.carriers["fix%d" % i] = dict(spc=spc, switches=switches, prefixes=pfx)
        self.transit = self.name(["tr-", "transit"])
        self.gateways = [self.name(["gw-", "intl"]) for _ in range(2)]
        self.small = []
        for i in range(3):
            self.small.append(dict(ingress=self.name(["peer-", "sip"]), spc=self.spc()))
        self.ccnet = dict(ingress=self.name(["peer-", "tg"]), spc=self.spc())
        self.entnet = [dict(ingress=self.name(["ent", "tg"]), spc=self.spc()) for _ in range(2)]
        self.pubnet = dict(ingress=self.name(["psn", "tg"]), spc=self.spc())

        # --- consumers ---
        n_cons = int(46000 * scale)
        self.consumers = []
        keys = list(self.carriers)
        for _ in range(n_cons):
            mobile = r.random() < 0.72
            ck = r.choice(keys[:3]) if mobile else r.choice(keys[3:])
            car = self.carriers[ck]
            num = self.number(r.choice(car["prefixes"]))
            rate = self.lognormal_mean(2.3 if mobile else 1.6, 0.9)  # calls per day
            home = r.randrange(len(car["switches"]))
            self.consumers.append(dict(num=num, car=ck, home=home, rate=rate, mobile=mobile,
                                       contacts=[], port=None, roam=None, wifi=False,
                                       fwd=None))
        # Silent numbers: callees who never call in these records.
        self.silent = [self.number(r.choice(["4474", "4477", "4479", "4412", "4420", "4416"]))
                       for _ in range(int(60000 * scale))]
        cons_nums = [c["num"] for c in self.consumers]
        for c in self.consumers:
            k = r.randint(3, 25)
            c["contacts"] = [r.choice(cons_nums) if r.random() < 0.8 else r.choice(self.silent)
                             for _ in range(k)]
        # Porting: 2% move to another carrier of the same kind part-way.
        for c in self.consumers:
            if r.random() < 0.02:
                same = [k for k in keys if k[:3] == c["car"][:3] and k != c["car"]]
                if same:
                    c["port"] = (self.t0 + r.randrange(self.days * DAY), r.choice(same),
                                 r.randrange(2))
        # Roaming: 4% of mobiles abroad for a stretch; 30% of them use Wi-Fi calling sometimes.
        for c in self.consumers:
            if c["mobile"] and r.random() < 0.04:
                start = self.t0 + r.randrange(-DAY, self.days * DAY)
                c["roam"] = (start, start + r.randint(6, 60) * 3600, r.choice(self.gateways))
                c["wifi"] = r.random() < 0.3
        # Forwarding: 1.5% of consumers forward calls to another number.
        for c in self.consumers:
            if r.random() < 0.015:
                c["fwd"] = r.choice(cons_nums + self.silent[:1000])
        self.by_num = {c["num"]: c for c in self.consumers}

        # --- businesses on small carriers ---
        self.businesses = []
        for i in range(int(2500 * scale)):
            sc = r.randrange(3)
            nn = r.choices([1, 2, 3, 4], weights=[5, 3, 1, 1])[0]
            nums = [self.number(r.choice(["4412", "4413", "4414", "4416", "4420", "4411",
                                          "4433", "4434"])) for _ in range(nn)]
            self.businesses.append(dict(nums=nums, sc=sc, origid=self.uuid(),
                                        attest="A" if r.random() < 0.65 else "B",
                                        rate=self.lognormal_mean(6, 0.9)))

        # --- banks ---
        self.banks = []
        brands = ["Northgate Bank", "Harbour Savings", "Kestrel Building Society", "Union Mutual"]
        for i, brand in enumerate(brands):
            ent = self.entnet[i % 2]
            prot = [self.number("443" + r.choice(["45", "30", "44"])) for _ in range(r.randint(2, 3))]
            unprot = [self.number(r.choice(["4420", "4412", "4411", "4413"]))
                      for _ in range(r.randint(6, 12))]
            inbound = [self.number("44800") for _ in range(2)]
            self.banks.append(dict(brand=brand, ent=ent, origid=self.uuid(), prot=prot,
                                   unprot=unprot, inbound=inbound,
                                   perday=r.randint(700, 1800)))
        # The last bank calls through an outsourced contact centre on CCNET.
        self.outsourcer = dict(origid=self.uuid(),
                               nets=[self.number("4420") for _ in range(3)])

        # --- police ---
        self.police = []
        for i in range(3):
            nums = [self.number(r.choice(["4411", "4412", "4413", "4416", "4420"]))
                    for _ in range(r.randint(15, 40))]
            self.police.append(dict(nums=nums, origid=self.uuid(), perday=r.randint(250, 600)))

    # ---------- legitimate traffic ----------
    def consumer_origin(self, c, t):
        """(ingress, spc, origid, attest, verstat, carrier) for a consumer's call at t."""
        r = self.r
        ck, home = c["car"], c["home"]
        if c["port"] and t >= c["port"][0]:
            ck, home = c["port"][1], c["port"][2]
        car = self.carriers[ck]
        sw = car["switches"][home % len(car["switches"])]
        if c["mobile"] and r.random() < 0.2:
            sw = r.choice(car["switches"])
        return sw

    def gen_consumers(self):
        r = self.r
        for c in self.consumers:
            n = self.poisson(c["rate"] * self.days)
            for _ in range(n):
                t = self.hour_time(self.w_cons)
                u = r.random()
                if u < 0.75:
                    callee = r.choice(c["contacts"])
                elif u < 0.85:
                    callee = r.choice(self.silent)
                elif u < 0.95:
                    callee = r.choice(self.consumers)["num"]
                else:
                    callee = r.choice(r.choice(self.businesses)["nums"])
                dur = self.talk(0.55 if c["mobile"] else 0.45, 110, 1.1)
                roam = c["roam"]
                if roam and roam[0] <= t < roam[1] and not (c["wifi"] and r.random() < 0.4):
                    # Abroad: arrives unsigned through the visited network's gateway.
                    self.emit(t, "+" + c["num"], "+" + callee, dur, roam[2], "No-TN-Validation",
                              "", "", "", "roamer", c["num"], False)
                    continue
                if r.random() < 0.03:
                    # Through a transit that does not sign; it writes national format.
                    self.emit(t, natl(c["num"]), natl(callee), dur, self.transit,
                              "No-TN-Validation", "", "", "", "consumer_transit", c["num"], False)
                    continue
                ing, spc, og = self.consumer_origin(c, t)
                verstat = "TN-Validation-Passed"
                if r.random() < self.vfail:
                    verstat = "TN-Validation-Failed"
                target = self.by_num.get(callee)
                if target and target["fwd"] and r.random() < 0.8:
                    # Forwarded: the callee's carrier re-signs the leg B towards the target.
                    fcar = self.carriers[target["car"]]
                    fsw = fcar["switches"][target["home"] % len(fcar["switches"])]
                    self.emit(t + 2, "+" + c["num"], "+" + target["fwd"], dur, fsw[0],
                              "TN-Validation-Passed", "B", fsw[2], fsw[1], "forwarded",
                              target["num"], False)
                    continue
                self.emit(t, "+" + c["num"], "+" + callee, dur, ing, verstat, "A", og, spc,
                          "consumer", c["num"], False)

    def random_consumer_callee(self):
        r = self.r
        if r.random() < 0.55:
            return r.choice(self.consumers)["num"]
        return r.choice(self.silent)

    def gen_businesses(self):
        r = self.r
        for b in self.businesses:
            sc = self.small[b["sc"]]
            for day in range(self.days):
                for _ in range(self.poisson(b["rate"])):
                    t = self.hour_time(self.w_biz, day)
                    num = r.choice(b["nums"])
                    callee = self.random_consumer_callee() if r.random() < 0.7 else \
                        r.choice(r.choice(self.businesses)["nums"])
                    self.emit(t, "+" + num, "+" + callee, self.talk(0.5, 150, 1.0),
                              sc["ingress"], "TN-Validation-Passed", b["attest"], b["origid"],
                              sc["spc"], "business", b["nums"][0], False)
        # A hosted PBX reseller on small carrier 2: 250 DDIs, signed B.
        sc = self.small[1]
        og = self.uuid()
        ddis = [self.number(r.choice(["4412", "4420", "4416"])) for _ in range(250)]
        for d in ddis:
            for _ in range(self.poisson(4)):
                t = self.hour_time(self.w_biz)
                self.emit(t, "+" + d, "+" + self.random_consumer_callee(),
                          self.talk(0.5, 140, 1.0), sc["ingress"], "TN-Validation-Passed", "B",
                          og, sc["spc"], "hosted_pbx", og, False)
        # A residential VoIP reseller on small carrier 3: 700 home lines, rarely used, signed B.
        sc = self.small[2]
        og = self.uuid()
        lines = [self.number(r.choice(["4412", "4413", "4414", "4420"])) for _ in range(700)]
        for d in lines:
            for _ in range(self.poisson(self.lognormal_mean(1.3, 0.7))):
                t = self.hour_time(self.w_cons)
                self.emit(t, "+" + d, "+" + self.random_consumer_callee(),
                          self.talk(0.5, 200, 1.1), sc["ingress"], "TN-Validation-Passed", "B",
                          og, sc["spc"], "voip_reseller", og, False)

    def dialler_minutes(self, day, start_h, end_h, base, spike_p=0.0, spike=(0, 0)):
        """Per-minute call counts of a dialler: Poisson(base) with occasional spikes."""
        out = []
        for m in range(int(start_h * 60), int(end_h * 60)):
            k = self.poisson(base)
            if spike_p and self.r.random() < spike_p:
                k += self.r.randint(*spike)
            if k:
                out.append((self.t0 + day * DAY + m * 60, k))
        return out

    def gen_call_centres(self):
        r = self.r
        cc = self.ccnet
        # Two centres presenting their own numbers, attested A.
        for i in range(2):
            og = self.uuid()
            pool = [self.number(r.choice(["4412", "4414", "4416", "4433"]))
                    for _ in range(r.randint(20, 60))]
            base = r.uniform(4, 8)
            for day in range(self.days):
                for t, k in self.dialler_minutes(day, 8, 20, base, 0.02, (5, 15)):
                    for _ in range(k):
                        self.emit(t + r.randrange(60), "+" + r.choice(pool),
                                  "+" + self.random_consumer_callee(), self.talk(0.25, 140, 0.9),
                                  cc["ingress"], "TN-Validation-Passed", "A", og, cc["spc"],
                                  "callcentre_own", og, False)
        # Agencies signing B for clients' numbers (the clients call with them too).
        for i in range(3):
            og = self.uuid()
            clients = r.sample(self.businesses, r.randint(3, 8))
            collector = (i == 2)
            blocks = collector or self.agency_blocks
            base = r.uniform(2.5, 5)
            mean_talk = 420 if collector else r.choice([180, 240])
            for day in range(self.days):
                mins = self.dialler_minutes(day, 9, 19, base, 0.02, (4, 12))
                if blocks:
                    # Debt collection: one client's campaign at a time, 2-4 hour blocks.
                    edges, t = [], self.t0 + day * DAY + 9 * 3600
                    while t < self.t0 + day * DAY + 19 * 3600:
                        edges.append((t, r.choice(clients)))
                        t += r.randint(2, 4) * 3600
                for t, k in mins:
                    for _ in range(k):
                        if blocks:
                            cl = [c for (s, c) in edges if s <= t][-1]
                        else:
                            cl = r.choice(clients)
                        self.emit(t + r.randrange(60), "+" + r.choice(cl["nums"]),
                                  "+" + self.random_consumer_callee(),
                                  self.talk(0.3, mean_talk, 0.9), cc["ingress"],
                                  "TN-Validation-Passed", "B", og, cc["spc"],
                                  "agency_collector" if collector else "agency", og, False)

    def gen_cpaas(self):
        r = self.r
        cc = self.ccnet
        # CPaaS 1: voice one-time passwords from clients' numbers (banks' lines, retailers).
        og = self.uuid()
        nums = []
        for b in self.banks:
            nums += r.sample(b["unprot"], 2)
        for b in r.sample(self.businesses, 12):
            nums.append(b["nums"][0])
        for day in range(self.days):
            for t, k in self.dialler_minutes(day, 6.5, 23.5, 2.5, 0.01, (25, 70)):
                for _ in range(k):
                    self.emit(t + r.randrange(60), "+" + r.choice(nums),
                              "+" + r.choice(self.consumers)["num"], self.talk(0.75, 28, 0.4),
                              cc["ingress"], "TN-Validation-Passed", "B", og, cc["spc"],
                              "cpaas_otp", og, False)
        # CPaaS 2: appointment reminders for GP surgeries (businesses), business hours.
        og = self.uuid()
        clients = r.sample(self.businesses, 40)
        for day in range(self.days):
            for t, k in self.dialler_minutes(day, 9, 17, 3.0, 0.03, (8, 25)):
                for _ in range(k):
                    self.emit(t + r.randrange(60), "+" + r.choice(r.choice(clients)["nums"]),
                              "+" + self.random_consumer_callee(), self.talk(0.6, 45, 0.5),
                              cc["ingress"], "TN-Validation-Passed", "B", og, cc["spc"],
                              "cpaas_reminder", og, False)

    def gen_banks(self):
        r = self.r
        for i, b in enumerate(self.banks):
            ent = b["ent"]
            outsourced = (i == len(self.banks) - 1)
            for day in range(self.days):
                for _ in range(self.poisson(b["perday"])):
                    t = self.hour_time(self.w_biz, day)
                    callee = self.random_consumer_callee()
                    dur = self.talk(0.5, 170, 0.9)
                    prot = r.random() < 0.6
                    num = r.choice(b["prot"] if prot else b["unprot"])
                    if outsourced and prot and r.random() < 0.7:
                        intent = "yes" if r.random() < 0.92 else "no"
                        self.emit(t, "+" + r.choice(self.outsourcer["nets"]), "+" + callee, dur,
                                  self.ccnet["ingress"], "TN-Validation-Passed", "A",
                                  self.outsourcer["origid"], self.ccnet["spc"],
                                  "bank_outsourced", b["brand"], False, presented="+" + num,
                                  intent=intent)
                        continue
                    self.emit(t, "+" + num, "+" + callee, dur, ent["ingress"],
                              "TN-Validation-Passed", "A", b["origid"], ent["spc"], "bank",
                              b["brand"], False)

    def gen_police(self):
        r = self.r
        pn = self.pubnet
        for p in self.police:
            for day in range(self.days):
                for _ in range(self.poisson(p["perday"])):
                    t = self.hour_time(self.w_cons, day)
                    self.emit(t, "+" + r.choice(p["nums"]), "+" + self.random_consumer_callee(),
                              self.talk(0.55, 200, 0.9), pn["ingress"], "TN-Validation-Passed",
                              "A", p["origid"], pn["spc"], "police", p["origid"], False)

    def gen_foreign(self):
        r = self.r
        ccs = [("1", 11), ("33", 11), ("49", 12), ("353", 12), ("91", 12), ("234", 13),
               ("48", 11), ("92", 12), ("61", 11)]
        n = int(11000 * self.rows_target / 300000.0)
        callers = []
        for _ in range(n // 3):
            cc, ln = r.choice(ccs)
            callers.append(self.number(cc, ln))
        for _ in range(n):
            t = self.hour_time(self.w_intl)
            self.emit(t, "+" + r.choice(callers), "+" + self.random_consumer_callee(),
                      self.talk(0.45, 240, 1.0), r.choice(self.gateways), "No-TN-Validation",
                      "", "", "", "foreign", "", False)

    # ---------- fraud ----------
    def sessions(self, n_calls, hours, rate_lo, rate_hi, len_lo, len_hi, gap_mean_min):
        """Yields call times: sessions of len minutes at rate calls/minute within hours."""
        r = self.r
        out = []
        t = self.t0 + r.randrange(hours[0] * 3600, hours[1] * 3600)
        while len(out) < n_calls:
            day_off = (t - self.t0) % DAY
            if day_off < hours[0] * 3600 or day_off >= hours[1] * 3600:
                day = (t - self.t0) // DAY + (1 if day_off >= hours[1] * 3600 else 0)
                t = self.t0 + day * DAY + hours[0] * 3600 + r.randrange(1800)
            if t >= self.t0 + self.days * DAY:
                t = self.t0 + r.randrange(self.days) * DAY + r.randrange(hours[0] * 3600,
                                                                        hours[1] * 3600)
            rate = r.uniform(rate_lo, rate_hi)
            length = r.randint(len_lo, len_hi)
            for m in range(length):
                for _ in range(self.poisson(rate)):
                    out.append(t + m * 60 + r.randrange(60))
            t += length * 60 + int(r.expovariate(1.0 / (gap_mean_min * 60)))
        out.sort()
        return out[:n_calls]

    def fraud_victim(self, mobile_only=False):
        r = self.r
        while True:
            v = r.choice(self.consumers)["num"] if r.random() < 0.6 else r.choice(self.silent)
            if not mobile_only or v.startswith("447"):
                return v

    def active_consumer_numbers(self, k):
        act = [c["num"] for c in self.consumers if c["rate"] > 2.0 and not c["roam"]
               and not c["port"]]
        return self.r.sample(act, k)

    def gen_fraud(self):
        r = self.r
        self.fraud_origins = []
        # F1 slow_borrow: small carrier 1, signed B.
        sc = self.small[0]
        og = self.uuid()
        n_nums = r.randint(30, 60)
        pool = []
        pool += self.active_consumer_numbers(int(n_nums * 0.4))
        bank_lines = [n for b in self.banks for n in b["unprot"]]
        pool += r.sample(bank_lines, min(len(bank_lines), int(n_nums * 0.3)))
        pol = [n for p in self.police for n in p["nums"]]
        pool += r.sample(pol, int(n_nums * 0.2))
        pool += [r.choice(b["nums"]) for b in r.sample(self.businesses, n_nums - len(pool))]
        r.shuffle(pool)
        n_calls = r.randint(1100, 1600)
        times = self.sessions(n_calls, (9, 21), 4, 12, 2, 8, 25)
        per = max(1, len(times) // len(pool))
        for i, t in enumerate(times):
            # Two numbers in use at a time, the pair moving on every `per` calls.
            j = min(len(pool) - 1, i // per + (1 if r.random() < 0.3 else 0))
            self.emit(t, "+" + pool[j], "+" + self.fraud_victim(), self.talk(0.55, 620, 0.8),
                      sc["ingress"], "TN-Validation-Passed", "B", og, sc["spc"],
                      "F1_slow_borrow", og, True)
        self.fraud_origins.append(((sc["ingress"], sc["spc"], og), "F1_slow_borrow"))

        # F2 ispoof: protected bank numbers, C from small carrier 2 and unsigned via gateway 1.
        sc = self.small[1]
        og = self.uuid()
        prot = [n for b in self.banks for n in b["prot"]]
        n_calls = r.randint(3000, 4500)
        times = self.sessions(n_calls, (9, 20), 8, 20, 4, 15, 20)
        for t in times:
            num = r.choice(prot)
            dur = self.talk(0.65, 520, 0.8)
            if r.random() < 0.3:
                self.emit(t, "+" + num, "+" + self.fraud_victim(), dur, self.gateways[0],
                          "No-TN-Validation", "", "", "", "F2_ispoof", "gw", True, intent="no")
            else:
                self.emit(t, "+" + num, "+" + self.fraud_victim(), dur, sc["ingress"],
                          "TN-Validation-Passed", "C", og, sc["spc"], "F2_ispoof", og, True,
                          intent="no")
        self.fraud_origins.append(((sc["ingress"], sc["spc"], og), "F2_ispoof"))
        self.fraud_origins.append(((self.gateways[0], "", ""), "F2_ispoof"))

        # F3 slow_low: small carrier 3, signed B, a handful of borrowed numbers, no bursts.
        sc = self.small[2]
        og = self.uuid()
        pool = [r.choice(bank_lines), r.choice(bank_lines), r.choice(pol),
                r.choice(r.choice(self.businesses)["nums"])] + \
            self.active_consumer_numbers(r.randint(0, 2))
        t = self.t0 + 9 * 3600 + r.randrange(3600)
        n_calls = r.randint(80, 150)
        k = 0
        while k < n_calls and t < self.t0 + self.days * DAY:
            h = ((t - self.t0) % DAY) / 3600.0
            if 9 <= h < 18:
                self.emit(t, "+" + r.choice(pool), "+" + self.fraud_victim(),
                          self.talk(0.55, 900, 0.7), sc["ingress"], "TN-Validation-Passed", "B",
                          og, sc["spc"], "F3_slow_low", og, True)
                k += 1
                t += int(r.expovariate(1 / 420.0)) + 60
            else:
                t += 1800
        self.fraud_origins.append(((sc["ingress"], sc["spc"], og), "F3_slow_low"))

        # F4 cc_mimic: CCNET account, signed B, borrowed pool used all day, steady rate.
        cc = self.ccnet
        og = self.uuid()
        pool = [r.choice(b["nums"]) for b in r.sample(self.businesses, r.randint(5, 8))] + \
            self.active_consumer_numbers(r.randint(4, 7))
        base = r.uniform(2, 3.2)
        for day in range(self.days):
            for t, k in self.dialler_minutes(day, 9, 19, base, 0.01, (2, 4)):
                for _ in range(k):
                    self.emit(t + r.randrange(60), "+" + r.choice(pool),
                              "+" + self.fraud_victim(), self.talk(0.3, 420, 0.8), cc["ingress"],
                              "TN-Validation-Passed", "B", og, cc["spc"], "F4_cc_mimic", og,
                              True)
        self.fraud_origins.append(((cc["ingress"], cc["spc"], og), "F4_cc_mimic"))

        # F5 intl_neighbour: UK mobiles sharing the callee's leading digits, via gateway 2.
        gw = self.gateways[1]
        n_calls = r.randint(1500, 2500)
        times = self.sessions(n_calls, (10, 21), 6, 15, 3, 10, 30)
        for t in times:
            v = self.fraud_victim(mobile_only=True)
            pres = v[:7] + "".join(r.choice("0123456789") for _ in range(len(v) - 7))
            self.emit(t, "+" + pres, "+" + v, self.talk(0.5, 400, 0.8), gw, "No-TN-Validation",
                      "", "", "", "F5_intl_neighbour", "gw", True)
        self.fraud_origins.append(((gw, "", ""), "F5_intl_neighbour"))

    # ---------- output ----------
    def write(self, out):
        os.makedirs(out, exist_ok=True)
        order = sorted(range(len(self.calls)), key=lambda i: (self.calls[i][0], i))
        end = self.t0 + self.days * DAY
        with open(os.path.join(out, "calls.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["time", "calling", "presented", "called", "duration", "ingress",
                        "verstat", "attest", "origid", "spc", "intent", "call_id"])
            kept = set()
            for i in order:
                c = self.calls[i]
                if not (self.t0 <= c[0] < end):
                    continue
                kept.add(i)
                w.writerow([iso(c[0])] + list(c[1:]))
        with open(os.path.join(out, "truth_calls.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["call_id", "archetype", "actor", "fraud"])
            for i in order:
                if i in kept:
                    w.writerow(self.truth[i])
        victims = {}
        for i in kept:
            if self.truth[i][3]:
                v = canon(self.calls[i][3])
                victims.setdefault(v, set()).add(self.truth[i][1])
        with open(os.path.join(out, "truth_victims.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["called", "archetypes"])
            for v in sorted(victims):
                w.writerow([v, ";".join(sorted(victims[v]))])
        with open(os.path.join(out, "truth_origins.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["ingress", "spc", "origid", "archetype"])
            for (o, a) in self.fraud_origins:
                w.writerow(list(o) + [a])
        with open(os.path.join(out, "protected.csv"), "w") as f:
            f.write("number,brand,spcs,min_attest\n")
            for b in self.banks:
                for n in b["prot"]:
                    f.write("%s,%s,%s,A\n" % (n, b["brand"], b["ent"]["spc"]))
        with open(os.path.join(out, "dno.csv"), "w") as f:
            f.write("number,note\n")
            for b in self.banks:
                for n in b["inbound"]:
                    f.write("%s,inbound only\n" % n)
            for _ in range(20):
                f.write("%s,unused freephone\n" % self.number("44800"))
        with open(os.path.join(out, "ingress.csv"), "w") as f:
            f.write("ingress,international,addresses,note\n")
            ings = set()
            for car in self.carriers.values():
                for sw in car["switches"]:
                    ings.add(sw[0])
            ings |= {s["ingress"] for s in self.small} | {self.ccnet["ingress"],
                                                           self.pubnet["ingress"],
                                                           self.transit}
            ings |= {e["ingress"] for e in self.entnet}
            for i in sorted(ings):
                f.write("%s,no,,domestic\n" % i)
            for g in self.gateways:
                f.write("%s,yes,,international gateway\n" % g)


def natl(n):
    return "0" + n[2:] if n.startswith("44") else "+" + n


def canon(n):
    n = n.strip()
    if n.startswith("+"):
        return n[1:]
    if n.startswith("0"):
        return "44" + n[1:]
    return n


def iso(t):
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(t))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--vfail", type=float, default=0.001,
                    help="share of signed consumer calls whose verification fails (default 0.001)")
    ap.add_argument("--agency-blocks", action="store_true",
                    help="every agency works one client at a time in 2-4 hour blocks "
                         "(by default only the debt collector does)")
    a = ap.parse_args()
    g = Gen(a.seed, a.rows, a.days, a.vfail, a.agency_blocks)
    g.build()
    g.gen_consumers()
    g.gen_businesses()
    g.gen_call_centres()
    g.gen_cpaas()
    g.gen_banks()
    g.gen_police()
    g.gen_foreign()
    g.gen_fraud()
    g.write(a.out)
    print("%d calls written to %s" % (len(g.calls), a.out))


if __name__ == "__main__":
    main()
