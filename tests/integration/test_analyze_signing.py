"""cidguard analyze --format signing: the originating carrier's own investigation.

A signing log (the signing daemon's SQLite `signings` table, in the schema the
library creates, checked against src/signlog/signlog.c) holds a day of one
carrier's customers:

- three resellers of spoofing: one rotating presentation numbers and trying
  banks' numbers (refused protected_not_customers), in bursts, over two
  ingresses (two origids); one trying DNO numbers; one rotating numbers from
  every range with protected_share labels and a few refused unallocated ones;
- twenty legitimate customers: an enterprise presenting its three numbers at
  high volume, call centres with a handful of numbers (one of them with a
  mistyped presentation number refused three times, one with a single refused
  DNO attempt, one in bursts), a hosted-VoIP customer with fifteen numbers,
  consumers' PBXs, and a caller who is no customer with two refused calls.

analyze lists exactly the three resellers as origins, their signed calls'
callees as victims and no callee of a refused attempt (it reached no one);
the signals and the customers' origids and addresses are in the outputs.  A
newer log with more columns reads the same; a database without the required
columns is refused.

    python3 test_analyze_signing.py BUILD_DIR
"""
import csv
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG = os.path.join(BUILD, "cidguard")
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
WORK = tempfile.mkdtemp(prefix="cg-analyze-signing-")

# The signing log's table as src/signlog/signlog.c creates it (the test
# checks that the two agree).
SCHEMA = ("CREATE TABLE IF NOT EXISTS signings ("
          " time INTEGER NOT NULL, call_id TEXT, customer TEXT NOT NULL, source TEXT, ingress TEXT,"
          " orig TEXT, presented TEXT, dest TEXT, attest TEXT, origid TEXT, spc TEXT, action TEXT,"
          " reasons TEXT, listener TEXT);")
COLS = ["time", "call_id", "customer", "source", "ingress", "orig", "presented", "dest", "attest",
        "origid", "spc", "action", "reasons", "listener"]
T0 = 1736121600  # 2025-01-06T00:00:00Z
SPC = "CARRIER1"
RESELLERS = {"cheapcalls-ltd", "voipblast", "spoofhub"}


def run(*args):
    return subprocess.run([CG] + list(args), capture_output=True, text=True)


def library_schema():
    """The CREATE TABLE of src/signlog/signlog.c, its C string pieces joined."""
    with open(os.path.join(SRC, "src", "signlog", "signlog.c")) as f:
        text = f.read()
    m = re.search(r'"CREATE TABLE IF NOT EXISTS signings \((?:[^;]|\n)*?;"', text)
    if not m:
        return None
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(0)))


class Log:
    def __init__(self):
        self.rows = []
        self.n = 0

    def add(self, t, customer, source, orig, dest, attest, action="allow", presented="",
            reasons="", ingress="sip", origid="", listener="sip"):
        self.n += 1
        self.rows.append((int(t), "call-%d" % self.n, customer, source, ingress, orig,
                          presented or None, dest, attest or None, origid or None, SPC, action,
                          reasons or None, listener))

    def write(self, path, schema=SCHEMA, extra_column=False):
        con = sqlite3.connect(path)
        con.execute(schema)
        cols = COLS
        rows = self.rows
        if extra_column:
            con.execute("ALTER TABLE signings ADD COLUMN tenant TEXT")
            cols = COLS + ["tenant"]
            rows = [r + ("t1",) for r in rows]
        con.executemany("INSERT INTO signings(%s) VALUES (%s)" % (", ".join(cols),
                                                                   ",".join("?" * len(cols))),
                        sorted(rows, key=lambda r: r[0]))
        con.commit()
        con.close()


def origid(name, ingress="sip"):
    h = hashlib.sha256((name + "|" + ingress).encode()).hexdigest()
    return "%s-%s-8%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])


def build():
    rnd = random.Random(7)
    log = Log()
    victims = set()           # callees of the resellers' signed calls
    refused_callees = set()   # callees only refused attempts went to
    callee = iter(range(10 ** 6))

    def consumer():
        return "4474%08d" % next(callee)

    def day():
        return T0 + rnd.randrange(86400)

    # --- legitimate customers ---------------------------------------------------
    # An enterprise presenting its own three numbers at high volume.
    acme = ["442071230001", "442071230002", "442071230003"]
    for _ in range(3000):
        log.add(day(), "acme-corp", "192.0.2.10", rnd.choice(acme), consumer(), "A",
                origid=origid("acme-corp"))
    # Call centres: a handful of numbers, many calls.
    for name, nums, calls, burst in (("cc-north", 8, 5000, False), ("cc-south", 5, 4000, True),
                                     ("cc-west", 6, 2500, False)):
        own = ["44161555%04d" % (i + 100 * len(name)) for i in range(nums)]
        src = "198.51.100.%d" % len(name)
        for i in range(calls):
            # cc-south dials its lists in bursts of 15 a minute
            t = T0 + 3600 * 9 + (i // 15) * 60 + rnd.randrange(60) if burst else day()
            log.add(t, name, src, own[i % nums], consumer(), "A", origid=origid(name))
    # cc-north's agent mistyped the campaign's presentation number once: three
    # calls refused on that one unallocated number before it was fixed.
    for k in range(3):
        d = consumer()
        refused_callees.add(d)
        log.add(T0 + 3600 * 11 + k * 20, "cc-north", "198.51.100.8", "447920000123", d, "",
                action="block", reasons="uk_cli_unallocated", origid=origid("cc-north"))
    # cc-west: one call presenting a DNO number (a test call to a helpline's
    # outbound-only number), refused once.
    d = consumer()
    refused_callees.add(d)
    log.add(T0 + 3600 * 14, "cc-west", "198.51.100.7", "448001570001", d, "", action="block",
            reasons="dno", origid=origid("cc-west"))
    # A hosted-VoIP customer: fifteen numbers of its own, attested B.
    hosted = ["44203000%04d" % i for i in range(15)]
    for _ in range(600):
        log.add(day(), "hosted-voip", "203.0.113.20", rnd.choice(hosted), consumer(), "B",
                origid=origid("hosted-voip"))
    # Consumers' PBXs: one or two numbers each; some present their main
    # number on an extension's network number.
    for i in range(16):
        name = "pbx-%02d" % (i + 1)
        main = "44117496%04d" % (i * 10)
        ext = "44117496%04d" % (i * 10 + 1)
        for _ in range(rnd.randrange(20, 120)):
            orig = rnd.choice([main, ext])
            log.add(day(), name, "203.0.113.%d" % (100 + i), orig, consumer(), "A",
                    presented=main if orig == ext and rnd.random() < 0.5 else "",
                    origid=origid(name), listener=rnd.choice(["sip", "http"]))
    # A caller who is no customer: refused twice (not a number the carrier
    # knows), from one address.
    for k in range(2):
        d = consumer()
        refused_callees.add(d)
        log.add(T0 + 3600 * 3 + k, "", "203.0.113.250", "441174960000", d, "", action="block",
                reasons="protected_not_customers")

    # --- the resellers ------------------------------------------------------------
    banks = ["442079460101", "442079460102", "443457345345", "448001111111"]
    dno = ["448001570001", "448001570002", "448001570003", "448001570004", "448001570005"]
    # cheapcalls-ltd: its clients rotate presentation numbers (signed C,
    # rate_numbers labels) and try banks' numbers, in bursts, over SIP and HTTP.
    net = "447700900001"
    for wave in range(6):
        start = T0 + 3600 * (8 + 2 * wave)
        for i in range(60):
            t = start + (i // 15) * 60 + rnd.randrange(60)
            ing = "sip" if i % 2 else "http"
            d = consumer()
            if i % 6 == 0:
                refused_callees.add(d)
                log.add(t, "cheapcalls-ltd", "192.0.2.66", net, d, "", action="block",
                        presented=rnd.choice(banks), reasons="protected_not_customers",
                        ingress=ing, origid=origid("cheapcalls-ltd", ing), listener=ing)
            else:
                victims.add(d)
                log.add(t, "cheapcalls-ltd", "192.0.2.66" if i % 3 else "192.0.2.67", net, d, "C",
                        action="label" if i % 4 == 0 else "allow",
                        presented="4477009%05d" % rnd.randrange(100000),
                        reasons="rate_numbers" if i % 4 == 0 else "", ingress=ing,
                        origid=origid("cheapcalls-ltd", ing), listener=ing)
    # voipblast: its own handful of numbers signed B, and attempts presenting
    # DNO numbers (refused).
    vb = ["441632960%03d" % i for i in range(4)]
    for i in range(240):
        t = T0 + 3600 * 15 + i * 20
        d = consumer()
        if i % 12 == 0:
            refused_callees.add(d)
            log.add(t, "voipblast", "198.51.100.99", rnd.choice(vb), d, "", action="block",
                    presented=rnd.choice(dno), reasons="dno", origid=origid("voipblast"))
        else:
            victims.add(d)
            log.add(t, "voipblast", "198.51.100.99", rnd.choice(vb), d, "B",
                    origid=origid("voipblast"))
    # spoofhub: every call a new number from any range (signed C,
    # protected_share labels on bank-like ones), a few refused unallocated.
    for i in range(400):
        t = T0 + 3600 * 19 + (i // 12) * 60 + rnd.randrange(60)
        d = consumer()
        if i % 50 == 0:
            refused_callees.add(d)
            log.add(t, "spoofhub", "203.0.113.77", "44792%07d" % i, d, "", action="block",
                    reasons="uk_cli_unallocated", origid=origid("spoofhub"))
        else:
            victims.add(d)
            pres = rnd.choice(["4420%08d", "44161%07d", "44800%07d", "4474%08d"]) % rnd.randrange(
                10 ** 7)
            log.add(t, "spoofhub", "203.0.113.77", pres, d, "C",
                    action="label" if i % 5 == 0 else "allow",
                    reasons="protected_share" if i % 5 == 0 else "", origid=origid("spoofhub"))
    return log, victims, refused_callees


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def score(listed, true):
    hit = len(listed & true)
    return (hit / len(listed) if listed else 1.0, hit / len(true) if true else 1.0)


try:
    lib = library_schema()
    check("the test's signings table is the library's (src/signlog/signlog.c)",
          lib is not None and " ".join(lib.split()) == " ".join(SCHEMA.split()), lib)

    log, victims, refused_callees = build()
    db = os.path.join(WORK, "signings.db")
    log.write(db)
    out = os.path.join(WORK, "out")
    r = run("analyze", db, "--format", "signing", "--out", out)
    print(r.stdout, end="")
    check("analyze --format signing runs", r.returncode == 0, r.stderr)
    origins = read_csv(os.path.join(out, "origins.csv"))
    listed = {o["ingress"] for o in origins}
    p, rc = score(listed, RESELLERS)
    print("origins: precision %.4f recall %.4f (listed %d, true %d)" % (p, rc, len(listed),
                                                                         len(RESELLERS)))
    check("exactly the three resellers are listed, no legitimate customer %s" % sorted(listed),
          listed == RESELLERS, origins)
    vict = {v["called"].lstrip("+") for v in read_csv(os.path.join(out, "victims.csv"))}
    p, rc = score(vict, victims)
    print("victims: precision %.4f recall %.4f (listed %d, true %d)" % (p, rc, len(vict),
                                                                         len(victims)))
    check("victims are the resellers' signed calls' callees", vict == victims,
          (len(vict), len(victims)))
    check("no callee of a refused attempt is a victim", not (vict & refused_callees),
          sorted(vict & refused_callees)[:5])
    m = re.search(r"^(\d+) calls .*: (\d+) spoofed .* (\d+) origins$", r.stdout, re.M)
    check("the summary counts every record and the three origins",
          m and int(m.group(1)) == len(log.rows) and int(m.group(3)) == 3, r.stdout)
    m = re.search(r"^(\d+) of them refused by the signing policy", r.stdout, re.M)
    check("the summary counts the resellers' refused attempts (60 + 20 + 8)",
          m and int(m.group(1)) == 88, r.stdout)

    by = {o["ingress"]: o for o in origins}
    cc = by.get("cheapcalls-ltd", {})
    check("a customer's origids (one per ingress) and addresses are listed",
          len(cc.get("origid", "").split(";")) == 2 and
          set(cc.get("sources", "").split(";")) == {"192.0.2.66", "192.0.2.67"} and
          cc.get("spc") == SPC, cc)
    check("refused attempts per customer: 60, 20, 8",
          [by.get(n, {}).get("refused_calls") for n in ("cheapcalls-ltd", "voipblast", "spoofhub")]
          == ["60", "20", "8"], origins)

    camps = json.loads(open(os.path.join(out, "campaigns.json")).read())
    kinds = {c["origins"][0]["ingress"]: c for c in camps}
    check("one campaign per reseller", sorted(kinds) == sorted(RESELLERS) and len(camps) == 3,
          [c["origins"] for c in camps])

    def sig(c, name):
        return next((s for s in c["signals"] if s["signal"] == name), None)

    c = kinds.get("cheapcalls-ltd", {"signals": []})
    check("cheapcalls-ltd: bank impersonation, protected_not_customers on the presentation "
          "number, rotation, refused, rate_numbers labels, bursts",
          c.get("kind") == "bank_impersonation" and
          (sig(c, "protected_not_customers") or {}).get("number") == "presentation" and
          (sig(c, "protected_not_customers") or {}).get("calls") == 60 and
          sig(c, "rotation") and (sig(c, "refused") or {}).get("calls") == 60 and
          (sig(c, "rate_numbers") or {}).get("calls") == 60 and
          (sig(c, "burst") or {}).get("per_minute", 0) >= 10 and c.get("refused_calls") == 60,
          c)
    c = kinds.get("voipblast", {"signals": []})
    check("voipblast: dno (refused), no rotation",
          c.get("kind") == "dno" and (sig(c, "dno") or {}).get("calls") == 20 and
          not sig(c, "rotation"), c)
    c = kinds.get("spoofhub", {"signals": []})
    check("spoofhub: rotation and unallocated attempts, protected_share labels",
          c.get("kind") == "unallocated" and sig(c, "rotation") and
          (sig(c, "uk_cli_unallocated") or {}).get("calls") == 8 and
          (sig(c, "protected_share") or {}).get("calls") == 72, c)
    html = open(os.path.join(out, "report.html")).read()
    check("report.html names the customers, their addresses and the refused attempts",
          "cheapcalls-ltd" in html and "192.0.2.66" in html and
          "attempts the signing policy refused" in html, "")

    # The thresholds: one more DNO attempt at cc-west is two (still not
    # several); a third makes three and convicts it.
    for k, listed_too in ((1, False), (2, True)):
        log2 = Log()
        log2.rows = list(log.rows)
        log2.n = log.n
        for j in range(k):
            log2.add(T0 + 3600 * 16 + j, "cc-west", "198.51.100.7", "44800157000%d" % (j + 2),
                     "4475%08d" % j, "", action="block", reasons="dno",
                     origid=origid("cc-west"))
        db2 = os.path.join(WORK, "signings-%d.db" % k)
        log2.write(db2)
        o2 = os.path.join(WORK, "out-%d" % k)
        r = run("analyze", db2, "--format", "signing", "--out", o2)
        names = {o["ingress"] for o in read_csv(os.path.join(o2, "origins.csv"))}
        check("cc-west with %d refused DNO attempts is %s" % (1 + k, "listed" if listed_too
                                                               else "not listed"),
              r.returncode == 0 and ("cc-west" in names) == listed_too, names)

    # A newer log with a column more reads the same.
    db3 = os.path.join(WORK, "signings-newer.db")
    log.write(db3, extra_column=True)
    o3 = os.path.join(WORK, "out-newer")
    r = run("analyze", db3, "--format", "signing", "--out", o3)
    check("a newer log with more columns gives the same origins",
          r.returncode == 0 and open(os.path.join(o3, "origins.csv")).read() ==
          open(os.path.join(out, "origins.csv")).read(), r.stderr)

    # Not a signing log: a decision log, a text file.
    db4 = os.path.join(WORK, "other.db")
    con = sqlite3.connect(db4)
    con.execute("CREATE TABLE signings (time INTEGER, customer TEXT, orig TEXT)")
    con.commit()
    con.close()
    r = run("analyze", db4, "--format", "signing", "--out", os.path.join(WORK, "o4"))
    check("a table without the required columns is refused, naming them (exit 2)",
          r.returncode == 2 and "dest, action" in r.stderr, r.stderr)
    txt = os.path.join(WORK, "calls.csv")
    with open(txt, "w") as f:
        f.write("time,calling,called\n")
    r = run("analyze", txt, "--format", "signing", "--out", os.path.join(WORK, "o5"))
    check("a file that is not SQLite is refused (exit 2)",
          r.returncode == 2 and "signing log" in r.stderr, r.stderr)
    r = run("analyze", "--format", "bogus", txt)
    check("--format names signing among the formats",
          r.returncode == 2 and "signing" in r.stderr, r.stderr)
finally:
    shutil.rmtree(WORK, ignore_errors=True)
finish()
