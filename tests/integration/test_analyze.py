"""cidguard analyze and simulate.

- simulated traffic at several seeds and mixes: precision and recall >= 0.95
  for victims, and every spoofing origin listed with no legitimate one;
- golden files: a small hand-written input whose every row is explained
  (tests/vectors/analyze/small.csv, the `note` column);
- the other formats: gzip, Asterisk Master.csv, the daemon's decision log;
- two calling numbers: simulated unsigned UK traffic (--profile unsigned-uk)
  scored, a presentation spoof behind a genuine network number for each of a
  protected, DNO and unallocated number, call intents, rotation of the
  presentation number, Asterisk's clid, decision logs with and without the
  presented and per-number reasons columns;
- whose numbers are borrowed: a debt collector working its clients' numbers
  in blocks is not listed, a fraud using subscribers' numbers all day is;
  neighbour spoofing through a gateway carrying roamers is listed, its calls
  only, and families calling each other from home are not;
- bad input: missing columns, malformed rows, an empty file;
- report.html opened by headless Chromium: no console errors, a screenshot
  kept as a test artifact (BUILD/test-artifacts/report.png).

    python3 test_analyze.py BUILD_DIR
"""
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, stop  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG = os.path.join(BUILD, "cidguard")
HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, "..", "vectors", "analyze")
WORK = tempfile.mkdtemp(prefix="cg-analyze-")




def run(*args):
    return subprocess.run([CG] + list(args), capture_output=True, text=True)


def lists(d):
    return ["--protected", os.path.join(d, "protected.csv"), "--dno", os.path.join(d, "dno.csv"),
            "--ingress", os.path.join(d, "ingress.csv")]


def read(path):
    with open(path) as f:
        return f.read()


try:
    # --- detection quality on simulated traffic --------------------------------
    mixes = [("1", ["--rows", "60000"]),
             ("2", ["--rows", "120000", "--spoof-share", "0.05", "--campaigns", "12"]),
             ("3", ["--rows", "80000", "--call-centres", "20", "--answer-rate", "0.3"]),
             ("4", ["--rows", "200000", "--days", "3", "--spoof-share", "0.01", "--campaigns", "9"])]
    for seed, extra in mixes:
        d = os.path.join(WORK, "sim" + seed)
        r = run("simulate", "--out", d, "--seed", seed, *extra)
        check("simulate seed %s %s" % (seed, " ".join(extra)), r.returncode == 0, r.stderr)
        r = run("analyze", os.path.join(d, "calls.csv"), *lists(d), "--out", os.path.join(d, "out"),
                "--truth", os.path.join(d, "truth.csv"))
        m = {k: (float(p), float(rc)) for k, p, rc in
             re.findall(r"^(victims|origins): precision ([0-9.]+) recall ([0-9.]+)", r.stdout, re.M)}
        check("seed %s: victims precision and recall >= 0.95 %s" % (seed, m.get("victims")),
              "victims" in m and min(m["victims"]) >= 0.95, r.stdout + r.stderr)
        check("seed %s: every spoofing origin listed, no legitimate one %s" % (seed, m.get("origins")),
              m.get("origins") == (1.0, 1.0), r.stdout)
        camps = json.loads(read(os.path.join(d, "out", "campaigns.json")))
        check("seed %s: campaigns carry kind, origins, signals and evidence" % seed,
              camps and all(c["kind"] and c["origins"] and c["signals"] and
                            all(s["evidence"] for s in c["signals"]) for c in camps), camps[:1])
    origins = read(os.path.join(WORK, "sim3", "out", "origins.csv"))
    check("call centres (A-signed, own numbers) and small businesses are not listed",
          "CARR" not in origins and all(",SMALL1," not in l or l.split(",")[4] == l.split(",")[3]
                                        for l in origins.splitlines()[1:]), origins)

    # --- golden files ------------------------------------------------------------
    out = os.path.join(WORK, "small")
    r = run("analyze", os.path.join(VEC, "small.csv"), *lists(VEC), "--out", out)
    check("small input: exit 0, summary on stdout", r.returncode == 0 and
          "9 calls" in r.stdout and "5 spoofed (4 answered), 3 campaigns, 4 victims, 3 origins" in r.stdout,
          r.stdout + r.stderr)
    check("small input: the malformed row is reported with its line number",
          "small.csv:10: time is neither ISO 8601 UTC nor Unix seconds (row skipped)" in r.stderr, r.stderr)
    check("victims.csv matches the golden file",
          read(os.path.join(out, "victims.csv")) == read(os.path.join(VEC, "expected_victims.csv")),
          read(os.path.join(out, "victims.csv")))
    # the golden file names the traceback columns; the behaviour columns
    # (reason, score and the features) follow them
    golden = read(os.path.join(VEC, "expected_origins.csv")).splitlines()
    got = read(os.path.join(out, "origins.csv")).splitlines()
    check("origins.csv matches the golden file (its first columns)",
          len(got) == len(golden) and
          all(g.split(",")[:10] == e.split(",") for g, e in zip(got, golden)) and
          got[0].split(",")[10:12] == ["reason", "score"] and
          all(g.split(",")[10] == "signal" for g in got[1:]), got)
    camps = json.loads(read(os.path.join(out, "campaigns.json")))
    check("campaigns: bank impersonation (Alpha Bank, stacked on the account), dno, intl_uk_cli",
          [(c["kind"], c["calls"], c["brands_impersonated"]) for c in camps] ==
          [("bank_impersonation", 3, ["Alpha Bank"]), ("dno", 1, []), ("intl_uk_cli", 1, [])], camps)

    # --- formats -------------------------------------------------------------------
    gz = os.path.join(WORK, "small.csv.gz")
    with open(os.path.join(VEC, "small.csv"), "rb") as f, gzip.open(gz, "wb") as g:
        g.write(f.read())
    r = run("analyze", gz, *lists(VEC), "--out", os.path.join(WORK, "gz"))
    check("gzip input gives the same victims",
          read(os.path.join(WORK, "gz", "victims.csv")) == read(os.path.join(VEC, "expected_victims.csv")),
          r.stderr)
    ast = os.path.join(WORK, "Master.csv")
    with open(ast, "w") as f:
        f.write('"","+442079460101","+447400000002","from-trunk","""Alpha"" <+442079460101>",'
                '"SIP/peer-5-0000001a","SIP/pbx-0000001b","Dial","SIP/pbx","2025-01-06 09:01:00",'
                '"2025-01-06 09:01:05","2025-01-06 09:16:05",905,900,"ANSWERED","DOCUMENTATION",'
                '"1736154060.1",""\n'
                '"acct-9","+447433333333","+447400000008","from-trunk","","SIP/peer-3-0000001c","",'
                '"Dial","","2025-01-06 09:07:00","","2025-01-06 09:07:10",10,0,"NO ANSWER",'
                '"DOCUMENTATION","1736154420.2",""\n'
                '"short","row"\n')
    r = run("analyze", ast, "--format", "asterisk", *lists(VEC), "--out", os.path.join(WORK, "ast"))
    v = read(os.path.join(WORK, "ast", "victims.csv"))
    check("Asterisk Master.csv: Alpha Bank's number without verification is spoofing (ingress from "
          "the channel)", r.returncode == 0 and "+447400000002" in v and "+447400000008" not in v and
          "peer-5" in read(os.path.join(WORK, "ast", "origins.csv")), r.stdout + r.stderr + v)
    check("... and its malformed row is reported", "Master.csv:3:" in r.stderr, r.stderr)
    db = os.path.join(WORK, "decisions.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE decisions (time INTEGER NOT NULL, call_id TEXT, caller TEXT, callee TEXT,"
                " ingress TEXT, listener TEXT, verstat TEXT, attest TEXT, origid TEXT, spc TEXT,"
                " x5u_host TEXT, verify_reason TEXT, reasons TEXT, action TEXT)")
    con.executemany("INSERT INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
        (1736154000, "a", "442079460101", "447400000001", "peer-1", "sip_verify", "TN-Validation-Passed",
         "A", "o1", "BANK1", "h", "ok", "brand_verified", "allow"),
        (1736154060, "b", "442079460101", "447400000002", "peer-5", "sip_verify", "TN-Validation-Passed",
         "C", "acct-x", "SMALL1", "h", "ok", "protected_unverified", "block")])
    con.commit()
    con.close()
    r = run("analyze", db, "--format", "decisions", *lists(VEC), "--out", os.path.join(WORK, "dec"))
    v = read(os.path.join(WORK, "dec", "victims.csv"))
    check("the daemon's decision log (the schema without presented and per-number reasons): the "
          "C-signed bank call is found, the genuine one is not",
          r.returncode == 0 and "+447400000002" in v and "+447400000001" not in v, r.stdout + r.stderr + v)

    # --- two calling numbers: network (calling) and presentation (presented) ------
    # Unsigned UK traffic: banks announce their calls with intents, spoofers hide a
    # bank's, DNO or unallocated presentation number behind a genuine consumer's
    # network number.
    for seed, extra in [("11", ["--rows", "100000"]),
                        ("12", ["--rows", "150000", "--spoof-share", "0.04", "--campaigns", "8"])]:
        d = os.path.join(WORK, "uk" + seed)
        r = run("simulate", "--out", d, "--seed", seed, "--profile", "unsigned-uk", *extra)
        check("simulate --profile unsigned-uk seed %s" % seed, r.returncode == 0, r.stderr)
        r = run("analyze", os.path.join(d, "calls.csv"), *lists(d), "--ofcom", os.path.join(d, "ofcom.csv"),
                "--out", os.path.join(d, "out"), "--truth", os.path.join(d, "truth.csv"))
        print("# unsigned-uk seed %s: %s" % (seed, " | ".join(l for l in r.stdout.splitlines()
                                                           if l.startswith(("victims", "origins")))))
        m = {k: (float(p), float(rc)) for k, p, rc in
             re.findall(r"^(victims|origins): precision ([0-9.]+) recall ([0-9.]+)", r.stdout, re.M)}
        check("unsigned-uk seed %s: victims precision and recall >= 0.95 %s" % (seed, m.get("victims")),
              "victims" in m and min(m["victims"]) >= 0.95, r.stdout + r.stderr)
        check("unsigned-uk seed %s: origins precision and recall >= 0.95 %s" % (seed, m.get("origins")),
              "origins" in m and min(m["origins"]) >= 0.95, r.stdout)
        own = re.search(r"^own_no_intent,(\d+)", read(os.path.join(d, "truth.csv")), re.M).group(1)
        check("unsigned-uk seed %s: the banks' own calls without an intent (%s) counted apart" % (seed, own),
              "%s calls from banks' own diallers without a live intent" % own in r.stdout, r.stdout)
        camps = json.loads(read(os.path.join(d, "out", "campaigns.json")))
        kinds = {c["kind"] for c in camps}
        check("unsigned-uk seed %s: bank, dno, unallocated and intl_uk_cli campaigns, signals on the "
              "presentation number" % seed,
              {"bank_impersonation", "dno", "unallocated", "intl_uk_cli"} <= kinds and
              all(s["number"] == "presentation" for c in camps for s in c["signals"] if "number" in s) and
              any(s["signal"] == "protected_no_intent" for c in camps for s in c["signals"]),
              [(c["kind"], c["signals"]) for c in camps])

    ofcom = os.path.join(WORK, "ofcom.csv")
    with open(ofcom, "w") as f:
        f.write("NMS Number Block: Number Block,Block Status,CP Name,Number Length,Allocation Date\n"
                "7400 0,Allocated,Example Mobile Ltd,10 digit numbers,01/01/2000\n"
                "7411 1,Allocated,Example Mobile Ltd,10 digit numbers,01/01/2000\n"
                "7922 2,Free,,10 digit numbers,\n")
    pres = os.path.join(WORK, "presented.csv")
    rows = [  # time, calling (network), presented, called, ingress, origid, attest, intent
        ("09:00:00", "+447411111111", "+442079460101", "+447400000101", "peer-1", "", "", "no"),     # bank's number behind a consumer's
        ("09:01:00", "+447411111112", "+448001570001", "+447400000102", "peer-1", "", "", ""),       # DNO behind a consumer's
        ("09:02:00", "+447411111113", "+447922222222", "+447400000103", "peer-1", "", "", ""),       # unallocated behind a consumer's
        ("09:03:00", "+442030001000", "+442079460101", "+447400000104", "peer-1", "", "", "yes"),    # the bank, announced
        ("09:04:00", "+442030001000", "+442079460101", "+447400000105", "peer-1", "", "", "no"),     # the bank, intent expired
        ("09:05:00", "+447411111114", "", "+447400000106", "peer-1", "", "", ""),                    # a consumer
        ("09:06:00", "+447411111115", "+447411111115", "+447400000107", "intl-gw", "", "", ""),      # a roaming UK mobile
    ]
    # an account keeping one genuine network number and rotating what its callees see
    rows += [("10:%02d:00" % i, "+447411111116", "+4474000%05d" % (i * 37), "+4474000002%02d" % i, "peer-2",
              "acct-rot", "C", "") for i in range(30)]
    with open(pres, "w") as f:
        f.write("time,calling,presented,called,duration,ingress,verstat,attest,origid,spc,intent\n")
        for t, calling, p_, called, ing, origid, att, intent in rows:
            f.write("2025-01-06T%sZ,%s,%s,%s,60,%s,%s,%s,%s,%s,%s\n" % (
                t, calling, p_, called, ing, "TN-Validation-Passed" if att else "", att, origid,
                "SMALL1" if att else "", intent))
    r = run("analyze", pres, *lists(VEC), "--ofcom", ofcom, "--out", os.path.join(WORK, "pres"))
    v = read(os.path.join(WORK, "pres", "victims.csv"))
    for called, what in [("+447400000101", "a protected number (intent=no)"), ("+447400000102", "a DNO number"),
                         ("+447400000103", "an unallocated number")]:
        check("presentation spoof behind a genuine network number found: %s" % what,
              called in v and r.returncode == 0, r.stdout + r.stderr + v)
    check("... the bank's announced call, its own call after the intent expired, a consumer and a "
          "roamer are not", all(n not in v for n in ("+447400000104", "+447400000105", "+447400000106",
                                                   "+447400000107")) and
          "1 calls from banks' own diallers without a live intent" in r.stdout, r.stdout + v)
    camps = {c["kind"]: c for c in json.loads(read(os.path.join(WORK, "pres", "campaigns.json")))}
    sig = {s["signal"]: s for c in camps.values() for s in c["signals"]}
    check("campaigns: protected_no_intent, dno, uk_cli_unallocated, each on the presentation number",
          all(sig.get(k, {}).get("number") == "presentation" for k in
              ("protected_no_intent", "dno", "uk_cli_unallocated")), sig)
    check("the presentation number's rotation is found behind one constant network number",
          "rotation" in camps and camps["rotation"]["presented_numbers"] == 30 and
          camps["rotation"]["network_numbers"] == 1 and "acct-rot" in
          read(os.path.join(WORK, "pres", "origins.csv")), camps.get("rotation"))
    check("victims.csv lists the presentation numbers the victims saw",
          "+442079460101" in v and "+447922222222" in v and "+447411111111" not in v, v)
    alias = os.path.join(WORK, "from.csv")
    with open(pres) as f, open(alias, "w") as g:
        g.write(f.read().replace("time,calling,presented,", "time,calling,from,", 1))
    r = run("analyze", alias, *lists(VEC), "--ofcom", ofcom, "--out", os.path.join(WORK, "from"))
    check("`from` is read as the presentation number when there is no `presented` column",
          read(os.path.join(WORK, "from", "victims.csv")) == v, r.stdout + r.stderr)
    with open(alias, "w") as g:
        g.write("time,calling,called,intent\n2025-01-06T09:00:00Z,+447411111111,+447400000101,maybe\n")
    r = run("analyze", alias, "--out", os.path.join(WORK, "badintent"))
    check("an intent other than yes, no or empty: the row is reported and skipped",
          "from.csv:2: intent is neither yes, no nor empty (row skipped)" in r.stderr, r.stderr)

    ast2 = os.path.join(WORK, "Master2.csv")
    with open(ast2, "w") as f:
        f.write('"","+447411111111","+447400000009","from-trunk","""Alpha Bank"" <+442079460101>",'
                '"SIP/peer-1-0000001a","SIP/pbx-0000001b","Dial","SIP/pbx","2025-01-06 09:01:00",'
                '"2025-01-06 09:01:05","2025-01-06 09:16:05",905,900,"ANSWERED","DOCUMENTATION",'
                '"1736154060.1",""\n'
                '"","+447411111112","+447400000010","from-trunk","""Someone"" <+447411111112>",'
                '"SIP/peer-1-0000001c","","Dial","","2025-01-06 09:07:00","","2025-01-06 09:07:10",10,0,'
                '"NO ANSWER","DOCUMENTATION","1736154420.2",""\n')
    r = run("analyze", ast2, "--format", "asterisk", *lists(VEC), "--out", os.path.join(WORK, "ast2"))
    v = read(os.path.join(WORK, "ast2", "victims.csv"))
    check("Asterisk: clid's number is the presentation number (a bank's behind a consumer's src)",
          "+447400000009" in v and "+442079460101" in v and "+447400000010" not in v, r.stdout + r.stderr + v)

    db = os.path.join(WORK, "decisions-new.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE decisions (time INTEGER NOT NULL, call_id TEXT, caller TEXT, callee TEXT,"
                " ingress TEXT, listener TEXT, verstat TEXT, attest TEXT, origid TEXT, spc TEXT,"
                " x5u_host TEXT, verify_reason TEXT, reasons TEXT, action TEXT, presented TEXT,"
                " caller_reasons TEXT, presented_reasons TEXT)")
    con.executemany("INSERT INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
        # the bank, unsigned, with a live intent: the daemon allowed it
        (1736154000, "a", "442030001000", "447400000001", "peer-1", "sip_verify", "No-TN-Validation", "",
         "", "", "", "", "no_tn_validation", "allow", "442079460101", "no_tn_validation", ""),
        # a consumer's network number, the bank's presentation number, no intent
        (1736154060, "b", "447411111111", "447400000002", "peer-1", "sip_verify", "No-TN-Validation", "",
         "", "", "", "", "no_tn_validation,protected_no_intent", "block", "442079460101", "no_tn_validation",
         "protected_no_intent"),
        # a UK mobile from abroad, not confirmed roaming: withheld, not spoofing
        (1736154120, "c", "447411111115", "447400000003", "intl-gw", "sip_verify", "No-TN-Validation", "",
         "", "", "", "", "no_tn_validation,intl_uk_mobile_not_roaming", "withhold", "447411111115",
         "intl_uk_mobile_not_roaming", "intl_uk_mobile_not_roaming"),
        # a DNO number presented behind a consumer's
        (1736154180, "d", "447411111112", "447400000004", "peer-1", "sip_verify", "No-TN-Validation", "",
         "", "", "", "", "no_tn_validation,dno", "block", "448001570001", "no_tn_validation", "dno")])
    con.commit()
    con.close()
    r = run("analyze", db, "--format", "decisions", *lists(VEC), "--out", os.path.join(WORK, "dec2"))
    v = read(os.path.join(WORK, "dec2", "victims.csv"))
    check("a decision log with presented and per-number reasons: the presentation spoofs are found, the "
          "bank's announced call and the withheld roamer are not",
          r.returncode == 0 and "+447400000002" in v and "+447400000004" in v and "+447400000001" not in v
          and "+447400000003" not in v, r.stdout + r.stderr + v)
    camps = json.loads(read(os.path.join(WORK, "dec2", "campaigns.json")))
    check("... protected_no_intent read from the log's reasons, on the presentation number",
          any(s["signal"] == "protected_no_intent" and s["number"] == "presentation"
              for c in camps for s in c["signals"]), camps)

    # --- whose numbers are borrowed; neighbour spoofing ---------------------------
    # Two days of records written here, every origin's part known: 3600
    # mobile subscribers on six switches (signed A; 100 families of two
    # numbers in one block calling each other), 150 of them roaming abroad on
    # the second day (unsigned on the gateway, a third with Wi-Fi calling
    # from home too), 40 businesses with two numbers each and a bank
    # (protected numbers and lines), foreign callers on the gateway; a debt
    # collector presenting 12 clients' 24 numbers one client at a time in
    # two-hour blocks, bursts, long calls (not spoofing); a fraud dressed as
    # a call centre, its pool of 5 subscribers' and 3 businesses' numbers
    # used all day, long calls; 60 calls on the gateway presenting a mobile
    # of the callee's own block, each number once.
    import random
    rnd = random.Random(7)
    day0 = 1736121600  # 2025-01-06T00:00:00Z
    rows, spoof_callees = [], set()

    def iso(t):
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (2025, 1, 6 + t // 86400, t % 86400 // 3600,
                                                 t % 3600 // 60, t % 60)

    def add(t, num, called, dur, ingress, attest, origid, spc):
        signed = attest != ""
        rows.append((t, iso(t), "+" + num, "+" + called, str(dur), ingress,
                     "TN-Validation-Passed" if signed else "No-TN-Validation", attest, origid, spc))

    def talk(p, mean):
        return int(rnd.expovariate(1.0 / mean)) + 1 if rnd.random() < p else 0

    blocks = rnd.sample(range(1000, 10000), 3000)
    subs = []
    for i in range(3600):
        if i % 36 == 1:  # a family: the previous subscriber's neighbour
            subs.append(subs[-1][:7] + "%05d" % ((int(subs[-1][7:]) + 1) % 100000))
        else:
            subs.append("447%04d%05d" % (blocks[i % 3000], rnd.randrange(100000)))
    home = {n: ("sw-%d" % (i % 6), "CARR%d" % (i % 3), "switch-%d" % (i % 6))
            for i, n in enumerate(subs)}
    roamers = set(n for i, n in enumerate(subs) if i % 24 == 5)
    wifi = set(n for i, n in enumerate(sorted(roamers)) if i % 3 == 0)
    for i, n in enumerate(subs):
        family = subs[i + 1] if i % 36 == 0 else subs[i - 1] if i % 36 == 1 else None
        for _ in range(4):
            t = rnd.randrange(2 * 86400)
            callee = family if family and rnd.random() < 0.5 else rnd.choice(subs)
            if n in roamers and t >= 86400 and not (n in wifi and rnd.random() < 0.5):
                add(t, n, callee, talk(0.5, 120), "intl-gw", "", "", "")
            else:
                add(t, n, callee, talk(0.5, 120), *home[n][:1], "A", home[n][2], home[n][1])
    biz = [["44161%07d" % rnd.randrange(10 ** 7) for _ in range(2)] for _ in range(40)]
    for k, nums in enumerate(biz):
        for _ in range(35):
            t = rnd.randrange(2) * 86400 + rnd.randrange(9 * 3600, 18 * 3600)
            add(t, rnd.choice(nums), rnd.choice(subs), talk(0.5, 150), "peer-biz", "A",
                "biz-%d" % k, "SMALLB")
    bank_prot, bank_lines = ["443451000001", "443451000002"], ["44207946%04d" % k for k in range(6)]
    for _ in range(300):
        t = rnd.randrange(2) * 86400 + rnd.randrange(9 * 3600, 18 * 3600)
        add(t, rnd.choice(bank_prot + bank_lines), rnd.choice(subs), talk(0.5, 170), "peer-bank",
            "A", "bank-1", "BANKX")
    for _ in range(400):
        add(rnd.randrange(2 * 86400), "331%08d" % rnd.randrange(10 ** 8), rnd.choice(subs),
            talk(0.45, 240), "intl-gw", "", "", "")
    clients = biz[:12]
    for day in range(2):
        for b in range(5):  # one client per two-hour block, each client once
            nums = clients[day * 5 + b] if day * 5 + b < 10 else clients[10 + b % 2]
            for m in range(120):
                t = day * 86400 + (9 + 2 * b) * 3600 + 60 * m
                for _ in range(10 if m % 40 == 7 else rnd.choice((0, 1, 1, 2))):
                    add(t + rnd.randrange(60), rnd.choice(nums), rnd.choice(subs),
                        talk(0.35, 600), "peer-cc", "B", "collector-1", "CCNET")
    pool = [n for n in subs[200:260] if n not in roamers][:5] + [b[0] for b in biz[20:23]]
    for day in range(2):
        for m in range(0, 600, 2):
            t = day * 86400 + 9 * 3600 + 60 * m + rnd.randrange(60)
            add(t, rnd.choice(pool), rnd.choice(subs), talk(0.35, 600), "peer-cc", "B", "mimic-1",
                "CCNET")
    for k in range(60):
        callee = rnd.choice(subs)
        spoof_callees.add("+" + callee)
        add(86400 + 15 * 3600 + 20 * k, callee[:7] + "%05d" % rnd.randrange(100000), callee,
            talk(0.5, 400), "intl-gw", "", "", "")
    rows.sort()
    wd = os.path.join(WORK, "whose")
    os.makedirs(wd)
    with open(os.path.join(wd, "calls.csv"), "w") as f:
        f.write("time,calling,called,duration,ingress,verstat,attest,origid,spc\n")
        f.writelines(",".join(r[1:]) + "\n" for r in rows)
    with open(os.path.join(wd, "protected.csv"), "w") as f:
        f.write("number,brand,spcs,min_attest\n")
        f.writelines("%s,Kestrel Bank,BANKX,A\n" % n for n in bank_prot)
    with open(os.path.join(wd, "dno.csv"), "w") as f:
        f.write("number,note\n")
    with open(os.path.join(wd, "ingress.csv"), "w") as f:
        f.write("ingress,international,addresses,note\n")
        f.writelines("%s,no,,domestic\n" % i
                     for i in ["sw-%d" % k for k in range(6)] + ["peer-biz", "peer-bank", "peer-cc"])
        f.write("intl-gw,yes,,international gateway\n")
    outs = []
    for threads in ("1", "2"):
        o = os.path.join(wd, "out" + threads)
        r = run("analyze", os.path.join(wd, "calls.csv"), *lists(wd), "--out", o,
                "--threads", threads)
        outs.append(o)
    import csv as csvmod
    with open(os.path.join(outs[0], "origins.csv")) as f:
        listed = {row["origid"] or row["ingress"]: row for row in csvmod.DictReader(f)}
    with open(os.path.join(outs[0], "victims.csv")) as f:
        victims = [row["called"] for row in csvmod.DictReader(f)]
    check("a debt collector presenting its clients' numbers one client at a time, in blocks, with "
          "long calls, is not an origin", r.returncode == 0 and "collector-1" not in listed,
          r.stdout + r.stderr + str(listed.get("collector-1")))
    m = listed.get("mimic-1", {})
    check("a fraud using a pool of subscribers' and businesses' numbers all day at a steady rate "
          "is listed for borrowing, private_share given",
          m.get("reason") == "borrowed_numbers" and float(m.get("private_share") or 0) > 0.3
          and m.get("spoofed_calls") == "600", m)
    g = listed.get("intl-gw", {})
    check("neighbour spoofing through an international gateway is listed (reason neighbour): "
          "its 60 calls, not the roamers' nor the foreign callers'",
          g.get("reason") == "neighbour" and g.get("spoofed_calls") == "60"
          and g.get("neighbour_calls") == "60", g)
    check("... its victims are the 60 calls' callees, and no switch whose families call each "
          "other from home is listed", spoof_callees <= set(victims)
          and g.get("victims") == str(len(spoof_callees)) and set(listed) == {"mimic-1", "intl-gw"},
          (g, list(listed)))
    check("... and the same files on 1 and 2 threads",
          all(read(os.path.join(outs[0], n)) == read(os.path.join(outs[1], n))
              for n in ("origins.csv", "victims.csv", "campaigns.json")))

    # --- bad input ---------------------------------------------------------------
    bad = os.path.join(WORK, "nocols.csv")
    with open(bad, "w") as f:
        f.write("when,from,to\n2025-01-06T09:00:00Z,+442079460101,+447400000001\n")
    r = run("analyze", bad, "--out", os.path.join(WORK, "bad"))
    check("missing required columns: one clear error naming them, exit 2",
          r.returncode == 2 and r.stderr.count("\n") == 1 and
          "missing required column(s): time, calling, called" in r.stderr, r.stderr)
    empty = os.path.join(WORK, "empty.csv")
    open(empty, "w").close()
    r = run("analyze", empty, "--out", os.path.join(WORK, "empty"))
    check("an empty file gives an empty, valid report", r.returncode == 0 and
          json.loads(read(os.path.join(WORK, "empty", "campaigns.json"))) == [] and
          read(os.path.join(WORK, "empty", "victims.csv")).count("\n") == 1 and
          "</html>" in read(os.path.join(WORK, "empty", "report.html")), r.stdout + r.stderr)
    r = run("analyze", os.path.join(WORK, "missing.csv"))
    check("an unreadable file: exit 2", r.returncode == 2 and "cannot read" in r.stderr, r.stderr)

    # --- a progress bar when stderr is a terminal, none otherwise ------------------
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen([CG, "analyze", os.path.join(WORK, "sim2", "calls.csv"), "--out",
                          os.path.join(WORK, "tty")], stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    p.wait()
    os.close(master)
    check("a progress bar on stderr when it is a terminal", b"100% of" in tty and b"[####" in tty, tty[-300:])
    r = run("analyze", os.path.join(WORK, "sim2", "calls.csv"), "--out", os.path.join(WORK, "notty"))
    check("... and none when it is not", "%" not in r.stderr, r.stderr[-300:])

    # --- the report in a real browser --------------------------------------------
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        check("chromium is installed (Debian package chromium)", False)
    else:
        art = os.path.join(BUILD, "test-artifacts")
        os.makedirs(art, exist_ok=True)
        shot = os.path.join(art, "report.png")
        if os.path.exists(shot):
            os.unlink(shot)
        report = os.path.join(WORK, "sim2", "out", "report.html")
        r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--enable-logging=stderr", "--v=0", "--window-size=1200,1800",
                            "--user-data-dir=" + os.path.join(WORK, "chrome"),
                            "--screenshot=" + shot, "file://" + report],
                           capture_output=True, text=True, timeout=120)
        console = [l for l in r.stderr.splitlines() if "CONSOLE" in l]
        check("Chromium renders report.html with no console errors", r.returncode == 0 and not console,
              console or r.stderr[-800:])
        check("... and the screenshot is kept (%s)" % shot,
              os.path.exists(shot) and os.path.getsize(shot) > 20000, r.stderr[-500:])
        html = read(report)
        check("report.html is self-contained: inline SVG, no external assets or scripts",
              "<svg" in html and "<script" not in html and "http://" not in html and "https://" not in html
              and "src=" not in html)
finally:
    stop([], WORK)

finish()
