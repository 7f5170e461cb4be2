"""End-to-end traceback: from a spoofing campaign seen at the terminating end
back to the accounts that placed it, through two daemons.

    python3 test_traceback_e2e.py BUILD_DIR

An originating daemon signs for 50 customers:

- three iSpoof-like resellers, each with three accounts (customers of their
  own, with their own signer and SPC): reseller1's and reseller2's accounts
  sign over HTTP with bearer tokens, reseller3's over SIP from their own
  loopback addresses.  Each account calls 60 distinct victims, rotating
  banks' protected numbers, DNO numbers, unallocated mobile numbers and
  ordinary (and bank-like 03) numbers, half of them shown in From behind the
  account's own P-Asserted-Identity, half as the number to be signed;
- 47 legitimate customers: twelve enterprises presenting their own few
  numbers at volume (one with a signer of its own, one on 0345 numbers), a
  call centre presenting its client banks' protected numbers, which it is
  the listed agent of (customer:callcentre, and its network numbers for the
  terminating side),
  two hosted-VoIP customers with eight numbers each, and 32 consumers' PBXs
  signing over SIP from their own addresses.

Every signed call is then sent, with its Identity header, From (the
presentation number) and P-Asserted-Identity (the network number) as the
originating side saw them, to a terminating daemon that trusts the same
test PKI, fetches the x5u from the originating daemon, decides and logs.
Its decision log, read by `cidguard analyze --format decisions`, lists the
spoofing origins (SPC, origid) in origins.csv; `cidguard trace` at the
originating side, asked about those origins (origid with the origin's
first and last time, and orig + dest + time of sampled calls), names
exactly the nine resellers' accounts and no legitimate customer.  The
origination policy refused at least 99% of the resellers' DNO and
protected-number attempts before signing (counted from the signing log),
and none of the legitimate customers' calls.
"""
import concurrent.futures
import csv
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, finish, free_ports, header, scaled, start, stop,  # noqa: E402
                     tail, wait_for)

T_START = time.time()
BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-traceback-e2e-")
PKI = os.path.join(WORK, "pki")
ORIG_STATE, TERM_STATE = os.path.join(WORK, "orig-state"), os.path.join(WORK, "term-state")
SIGNINGS = os.path.join(ORIG_STATE, "signings.db")
DECISIONS = os.path.join(TERM_STATE, "decisions.db")
OP, TP = {}, {}  # the originating and terminating daemons' ports
procs = []
rng = random.Random(13)

# --- the lists both daemons (and analyze) read ----------------------------------------------
# Banks' protected numbers: Example Bank (020 drama numbers) and Alpha Bank
# (03), whose outsourced call centre is their listed agent; Beta Bank (0800)
# has none.
CALLCENTRE_NET = ["442079460500", "442079460501"]
EXAMPLE_BANK = ["44207946010%d" % i for i in range(5)]
ALPHA_BANK = ["44300000000%d" % i for i in range(1, 4)]
BETA_BANK = ["44800111000%d" % i for i in range(1, 4)]
PROTECTED = EXAMPLE_BANK + ALPHA_BANK + BETA_BANK
DNO = ["44808157000%d" % i for i in range(10)] + ["44800000123%d" % i for i in range(5)]
UNALLOCATED = ["447922%06d" % i for i in range(100, 140)]  # 07922: not allocated (ofcom.csv)

LISTS = {
    "protected.csv": "number,brand,spcs,min_attest,intents,agents\n" +
    "".join("%s,Example Bank,BANK1,A,accept,customer:callcentre;44207946050*\n" % n
            for n in EXAMPLE_BANK) +
    "".join("%s,Alpha Bank,BANK2,A,accept,customer:callcentre;44207946050*\n" % n
            for n in ALPHA_BANK) +
    "".join("%s,Beta Bank,BANK3,A\n" % n for n in BETA_BANK),
    "dno.csv": "number,note\n" + "".join("%s,inbound only\n" % n for n in DNO),
    # mobiles are judged (07 is covered): 07400 0 and 07700 9 are allocated
    "ofcom.csv": "NMS Number Block: Number Block,Block Status,CP Name,Non Geo Number Length,"
                 "Allocation Date\n"
                 "7400 0,Allocated,Example Mobile Ltd,10 digit numbers,01/01/2000\n"
                 "7700 9,Allocated,Example Mobile Ltd,10 digit numbers,01/01/2000\n"
                 "7922 1,Free,,10 digit numbers,\n",
}


def lst(name):
    return os.path.join(WORK, name)


# --- customers ------------------------------------------------------------------------------
class Customer:
    def __init__(self, name, kind, numbers, transport, address=None, signer="", reseller=None):
        self.name, self.kind, self.numbers = name, kind, numbers
        self.transport, self.address = transport, address
        self.signer, self.reseller = signer, reseller
        self.token = "tok-%s-%s" % (name, hashlib.sha256(name.encode()).hexdigest()[:16])
        self.calls = []  # (network, presentation or None, callee, kind of call)


CUSTOMERS = []
victims = iter("4474000%05d" % i for i in rng.sample(range(100000), 6000))

# the resellers' accounts: own network number each (a 07700 900 mobile)
for r in (1, 2, 3):
    for a in (1, 2, 3):
        n = "4477009001%d%d" % (r, a)
        CUSTOMERS.append(Customer("reseller%d-acct%d" % (r, a), "reseller", [n],
                                  "sip" if r == 3 else "http",
                                  address="127.0.1.%d" % a if r == 3 else None,
                                  signer="reseller%d" % r, reseller="reseller%d" % r))
# legitimate customers
for e in range(1, 13):
    nums = ["44113496%04d" % (e * 10 + i) for i in range(1 + e % 3)]
    if e == 12:  # its own 0345 numbers: bank-like, not protected
        nums = ["44345700%04d" % i for i in range(2)]
    CUSTOMERS.append(Customer("enterprise%02d" % e, "enterprise", nums, "http",
                              signer="enterprise01" if e == 1 else ""))
CUSTOMERS.append(Customer("callcentre", "callcentre", CALLCENTRE_NET, "http"))
for h in (1, 2):
    CUSTOMERS.append(Customer("hostedvoip%d" % h, "hosted",
                              ["44114496%04d" % (h * 100 + i) for i in range(8)], "http"))
for p in range(32):
    CUSTOMERS.append(Customer("pbx%02d" % (p + 1), "pbx",
                              ["44117496%04d" % (p * 2 + i) for i in range(1 + p % 2)], "sip",
                              address="127.0.0.%d" % (10 + p)))
LEGIT = [c for c in CUSTOMERS if c.kind != "reseller"]
RESELLERS = [c for c in CUSTOMERS if c.kind == "reseller"]
assert len(LEGIT) == 47 and len({c.reseller for c in RESELLERS}) == 3

# the traffic: (network number, presentation number or None, callee, kind of call)
ordinary = iter("44161496%04d" % i for i in range(10000))
bank_like = iter("44345600%04d" % i for i in range(10000))  # 0345: bank-like, not protected
for c in RESELLERS:
    kinds = ["protected"] * 18 + ["dno"] * 9 + ["unallocated"] * 3 + ["ordinary"] * 24 + \
            ["bank_like"] * 6
    rng.shuffle(kinds)
    for i, k in enumerate(kinds):
        spoof = {"protected": lambda: rng.choice(PROTECTED), "dno": lambda: rng.choice(DNO),
                 "unallocated": lambda: rng.choice(UNALLOCATED), "ordinary": lambda: next(ordinary),
                 "bank_like": lambda: next(bank_like)}[k]()
        # half shown in From behind the account's own PAI, half signed as such
        c.calls.append((c.numbers[0], spoof, next(victims), k) if i % 2 else
                       (spoof, None, next(victims), k))
for c in LEGIT:
    count = {"enterprise": 40, "callcentre": 60, "hosted": 30, "pbx": 4}[c.kind]
    for i in range(count):
        if c.kind == "callcentre" and i % 6:
            # a client bank's number, behind the network number it goes with
            b = (EXAMPLE_BANK[:3] + ALPHA_BANK[:2])[i % 5]
            c.calls.append((CALLCENTRE_NET[i % 5 % 2], b, next(victims), "agent"))
        else:
            c.calls.append((c.numbers[i % len(c.numbers)], None, next(victims), "own"))


def write_files():
    for name, text in LISTS.items():
        with open(lst(name), "w") as f:
            f.write(text)
    with open(lst("customers.csv"), "w") as f:
        f.write("customer,addresses,numbers,tokens,signer\n")
        for c in CUSTOMERS:
            digest = "sha256:" + hashlib.sha256(c.token.encode()).hexdigest()
            f.write("%s,%s,%s,%s,%s\n" % (c.name, c.address or "", ";".join(c.numbers),
                                           "" if c.transport == "sip" else digest, c.signer))


def x5u(spc):
    return "http://127.0.0.1:%d/certs/sp-%s.pem" % (OP["http"], spc)


SIGNERS = {"reseller1": "2001", "reseller2": "2002", "reseller3": "2003", "enterprise01": "3001"}


def originating():
    OP["http"], OP["sign_http"] = free_ports(2)
    OP["sip"], OP["sip_sign"] = free_ports(2, udp=True)
    with open(lst("signers.csv"), "w") as f:
        f.write("signer,key,certificate,x5u\n")
        for name, spc in SIGNERS.items():
            f.write("%s,%s,%s,%s\n" % (name, os.path.join(PKI, "sp-%s.key" % spc),
                                       os.path.join(PKI, "sp-%s.pem" % spc), x5u(spc)))
    conf = lst("orig.conf")
    with open(conf, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                "sign_http_listen = 127.0.0.1:%d\nworkers = 2\ndecision_log = off\n"
                "[sign]\nkey = %s\nx5u = %s\ncustomers = %s\nsigners = %s\norigid = stable\n"
                "rate_per_customer = 0\ncustomer_numbers_per_minute = 10\n"
                "customer_protected_share = 30\n"
                "[policy]\nprotected = %s\ndno = %s\nofcom = %s\n"
                % (ORIG_STATE, OP["http"], OP["sip"], OP["sip_sign"], OP["sign_http"],
                   os.path.join(PKI, "sp-1001.key"), x5u("1001"), lst("customers.csv"),
                   lst("signers.csv"), lst("protected.csv"), lst("dno.csv"), lst("ofcom.csv")))
    return [CGD, "-c", conf], OP["sign_http"]


def terminating():
    TP["http"], = free_ports(1)
    TP["sip"], TP["sip_sign"] = free_ports(2, udp=True)
    conf = lst("term.conf")
    with open(conf, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\nworkers = 2\n"
                "[verify]\ntrust = %s\n[fetch]\nallow_http = yes\nallow = 127.0.0.0/8\n"
                "[policy]\nprotected = %s\ndno = %s\nofcom = %s\n"
                % (TERM_STATE, TP["http"], TP["sip"], TP["sip_sign"], os.path.join(PKI, "root.pem"),
                   lst("protected.csv"), lst("dno.csv"), lst("ofcom.csv")))
    return [CGD, "-c", conf], TP["http"]


# --- one call: signed at the originating side, then verified at the terminating side --------
def sip_request(sock, port, net, pres, dest, call_id, identity=None):
    """An INVITE from `sock` to 127.0.0.1:port; the answer (None after 20 s)."""
    branch = "z9hG4bK" + os.urandom(6).hex()
    host, sport = sock.getsockname()
    frm = pres or net
    msg = ("INVITE sip:+%s@127.0.0.1;user=phone SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s:%d;branch=%s\r\n"
           "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\n"
           "To: <sip:+%s@127.0.0.1;user=phone>\r\n"
           "%sCall-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n"
           % (dest, host, sport, branch, frm, dest,
              "P-Asserted-Identity: <sip:+%s@carrier.example;user=phone>\r\n" % net if pres else "",
              call_id, "Identity: %s\r\n" % identity if identity else ""))
    for _ in range(3):  # UDP: retransmit as a UAC would (answered from the transaction cache)
        sock.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(65535).decode()
        except socket.timeout:
            continue
    return None


def sign_http(c, net, pres, dest):
    req = {"attest": "A", "orig": {"tn": net}, "dest": {"tn": [dest]}}
    if pres:
        req["presentation"] = {"tn": pres}
    conn = http.client.HTTPConnection("127.0.0.1", OP["sign_http"], timeout=30)
    conn.request("POST", "/stir/v1/signing", json.dumps({"signingRequest": req}),
                 {"Content-Type": "application/json", "Authorization": "Bearer " + c.token})
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    if r.status == 200:
        return "signed", body["signingResponse"]["identity"], body
    return ("refused" if r.status == 403 and "POL4031" in json.dumps(body) else "error"), None, \
        (r.status, body)


results = []  # per call: customer, kind, net, pres, dest, outcome, term answer
results_lock = threading.Lock()
errors = []


def place_calls(c):
    """All of customer c's calls, one after another (its own minute window)."""
    ssock = None
    if c.transport == "sip":
        ssock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ssock.bind((c.address, 0))
        ssock.settimeout(scaled(5))
    tsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tsock.bind(("127.0.0.1", 0))
    tsock.settimeout(scaled(5))
    try:
        for i, (net, pres, dest, kind) in enumerate(c.calls):
            call_id = "%s-%d@%s.example" % (c.name, i, c.name)
            if c.transport == "http":
                outcome, identity, info = sign_http(c, net, pres, dest)
            else:
                r = sip_request(ssock, OP["sip_sign"], net, pres, dest, call_id)
                identity = header(r, "Identity")
                outcome = ("signed" if r and r.startswith("SIP/2.0 302") and identity else
                           "refused" if r and r.startswith("SIP/2.0 603") else "error")
                info = r
            answer = None
            if outcome == "signed":
                answer = sip_request(tsock, TP["sip"], net, pres, dest, call_id, identity)
                if not answer:
                    outcome = "error"
                    info = "no answer from the terminating daemon"
            if outcome == "error":
                errors.append((c.name, net, pres, info))
            with results_lock:
                results.append({"customer": c.name, "kind": c.kind, "call": kind, "net": net,
                                "pres": pres, "dest": dest, "outcome": outcome, "answer": answer})
    finally:
        tsock.close()
        if ssock:
            ssock.close()


def rows(db, query):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def count_rows(db, table):
    try:
        return rows(db, "SELECT count(*) FROM %s" % table)[0][0]
    except sqlite3.Error:
        return -1


def trace(*args):
    r = subprocess.run([CG, "trace", "--log", SIGNINGS] + list(args), capture_output=True,
                       text=True)
    try:
        return r.returncode, json.loads(r.stdout), r.stderr
    except ValueError:
        return r.returncode, None, r.stderr + r.stdout


try:
    subprocess.run([CG, "pki", "init", PKI] + sum((["--spc", s] for s in
                                                    ["1001"] + sorted(SIGNERS.values())), []),
                   capture_output=True, check=True)
    os.makedirs(os.path.join(ORIG_STATE, "certs"))
    for spc in ["1001"] + list(SIGNERS.values()):
        shutil.copy(os.path.join(PKI, "sp-%s.pem" % spc), os.path.join(ORIG_STATE, "certs"))
    write_files()
    procs.append(start(originating, lst("orig.log")))
    procs.append(start(terminating, lst("term.log")))
    t_daemons = time.time()

    # every customer's calls, eight customers at a time
    customers = CUSTOMERS[:]
    rng.shuffle(customers)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(place_calls, c) for c in customers]:
            f.result()
    t_traffic = time.time() - t_daemons
    sent = sum(len(c.calls) for c in CUSTOMERS)
    signed = [r for r in results if r["outcome"] == "signed"]
    check("every call got an answer from both daemons (%d sent, %d errors)" % (sent, len(errors)),
          len(results) == sent and not errors, errors[:5])

    # both logs are written off the call path: wait for every record
    check("the signing log holds a record per request",
          wait_for(lambda: count_rows(SIGNINGS, "signings") >= sent, 20),
          (count_rows(SIGNINGS, "signings"), sent, tail(lst("orig.log"))))
    check("the decision log holds a record per signed call",
          wait_for(lambda: count_rows(DECISIONS, "decisions") >= len(signed), 20),
          (count_rows(DECISIONS, "decisions"), len(signed), tail(lst("term.log"))))

    # --- the origination policy, counted from the signing log --------------------------------
    log = rows(SIGNINGS, "SELECT customer, orig, presented, dest, attest, origid, spc, action, "
                         "reasons FROM signings")
    by_customer = {}
    for customer, orig, presented, dest, attest, origid, spc, action, reasons in log:
        by_customer.setdefault(customer, []).append(
            {"orig": orig, "presented": presented or None, "dest": dest, "attest": attest,
             "origid": origid, "spc": spc, "action": action, "reasons": (reasons or "").split(",")})
    sent_kind = {}
    for c in RESELLERS:
        for net, pres, dest, kind in c.calls:
            sent_kind[(c.name, dest)] = kind
    figures = {"dno": [0, 0], "protected": [0, 0], "unallocated": [0, 0], "ordinary": [0, 0],
               "bank_like": [0, 0]}
    wrong_reason = []
    for c in RESELLERS:
        for rec in by_customer.get(c.name, []):
            kind = sent_kind[(c.name, rec["dest"])]
            figures[kind][0] += 1
            if rec["action"] == "block":
                figures[kind][1] += 1
                want = {"dno": "dno", "protected": "protected_not_customers",
                        "unallocated": "uk_cli_unallocated"}.get(kind)
                if want not in rec["reasons"]:
                    wrong_reason.append((c.name, kind, rec))
    bad_attempts = figures["dno"][0] + figures["protected"][0]
    bad_refused = figures["dno"][1] + figures["protected"][1]
    share = 100.0 * bad_refused / bad_attempts if bad_attempts else 0
    print("# resellers' attempts by kind (logged, refused): %s" % figures)
    print("# resellers' DNO and protected-number attempts: %d, refused before signing: %d (%.1f%%)"
          % (bad_attempts, bad_refused, share))
    check("every reseller attempt is in the signing log", sum(v[0] for v in figures.values()) ==
          sum(len(c.calls) for c in RESELLERS), figures)
    check("the origination policy refused >= 99%% of the resellers' DNO and protected-number "
          "attempts before signing (%d of %d)" % (bad_refused, bad_attempts),
          bad_attempts >= 200 and share >= 99.0, figures)
    check("...each refusal naming its reason (dno, protected_not_customers, uk_cli_unallocated)",
          not wrong_reason, wrong_reason[:3])
    check("the resellers' unallocated attempts were refused too",
          figures["unallocated"][1] == figures["unallocated"][0], figures)
    check("their ordinary and bank-like numbers were signed (labelled C once they rotate)",
          figures["ordinary"][1] == 0 and figures["bank_like"][1] == 0, figures)
    leaked = [r for r in signed if r["kind"] == "reseller" and r["call"] in ("dno", "protected")]
    check("no DNO or protected number of a reseller reached the terminating side", not leaked,
          leaked[:3])

    legit_recs = [(c.name, rec) for c in LEGIT for rec in by_customer.get(c.name, [])]
    legit_refused = [(n, r) for n, r in legit_recs if r["action"] == "block"]
    legit_labelled = {}
    for n, r in legit_recs:
        if r["action"] == "label":
            legit_labelled.setdefault(n, set()).update(x for x in r["reasons"] if x)
    legit_sent = sum(len(c.calls) for c in LEGIT)
    print("# legitimate customers: %d calls, %d in the signing log, %d refused, %d labelled %s"
          % (legit_sent, len(legit_recs), len(legit_refused),
             sum(1 for _, r in legit_recs if r["action"] == "label"),
             {k: sorted(v) for k, v in legit_labelled.items()}))
    check("the origination policy refused none of the legitimate customers' %d calls" % legit_sent,
          len(legit_recs) == legit_sent and not legit_refused, legit_refused[:3])
    check("the call centre's calls presenting its client banks' numbers were signed",
          all(r["outcome"] == "signed" for r in results if r["customer"] == "callcentre"))
    # Labels on legitimate customers: none for rotation (rate_numbers).  The
    # protected share counts every protected or bank-like number, the
    # customer's own and those it is the listed agent of too, so the call
    # centre and the enterprise on 0345 numbers are labelled (signed C) once
    # past the share; printed here, not asserted.
    check("no legitimate customer is labelled for rotation (rate_numbers)",
          all("rate_numbers" not in v for v in legit_labelled.values()), legit_labelled)
    for n in ("callcentre", "enterprise12"):
        recs = [r for m, r in legit_recs if m == n]
        print("# %s: %d calls, %d signed C with protected_share" % (
            n, len(recs), sum(1 for r in recs if "protected_share" in r["reasons"])))
    attests = {}
    for n, r in legit_recs:
        attests[r["attest"]] = attests.get(r["attest"], 0) + 1
    print("# legitimate customers' attestations: %s" % attests)

    # stable origids: one per account (and ingress), each account's calls under its signer's SPC
    origids = {c.name: {r["origid"] for r in by_customer.get(c.name, [])} for c in CUSTOMERS}
    check("one stable origid per customer, none shared",
          all(len(v) == 1 for v in origids.values()) and
          len({next(iter(v)) for v in origids.values()}) == len(CUSTOMERS),
          {k: v for k, v in origids.items() if len(v) != 1})
    spcs = {c.name: {r["spc"] for r in by_customer.get(c.name, [])} for c in RESELLERS}
    check("each reseller's accounts sign with the reseller's own signer (SPC 2001..2003)",
          all(spcs[c.name] == {SIGNERS[c.reseller]} for c in RESELLERS), spcs)

    # --- the terminating side: what it saw and what analyze finds -------------------------------
    verified = rows(DECISIONS, "SELECT verstat, count(*) FROM decisions GROUP BY verstat")
    print("# terminating side: %d calls verified, by verstat %s" % (len(signed), dict(verified)))
    check("every signed call verified at the terminating side (x5u fetched from the originating "
          "daemon, its test PKI trusted)",
          dict(verified).get("TN-Validation-Passed") == len(signed), dict(verified))
    out = lst("report")
    r = subprocess.run([CG, "analyze", DECISIONS, "--format", "decisions", "--protected",
                        lst("protected.csv"), "--dno", lst("dno.csv"), "--ofcom", lst("ofcom.csv"),
                        "--out", out], capture_output=True, text=True)
    print("# analyze: " + r.stdout.strip().replace("\n", "\n# analyze: "))
    check("cidguard analyze --format decisions ran", r.returncode == 0, (r.returncode, r.stderr))
    with open(os.path.join(out, "origins.csv")) as f:
        origins = list(csv.DictReader(f))
    for o in origins:
        print("# origin: spc %s origid %s calls %s spoofed %s distinct_presented %s victims %s "
              "%s..%s" % (o["spc"], o["origid"], o["calls"], o["spoofed_calls"],
                          o["distinct_presented"], o["victims"], o["first_time"], o["last_time"]))
    account_of = {next(iter(v)): k for k, v in origids.items()}
    check("analyze lists nine spoofing origins, each with an SPC and an origid",
          len(origins) == 9 and all(o["spc"] and o["origid"] for o in origins),
          [(o["spc"], o["origid"], account_of.get(o["origid"])) for o in origins])
    check("...under the resellers' SPCs", {o["spc"] for o in origins} <= set(
        SIGNERS[x] for x in ("reseller1", "reseller2", "reseller3")), [o["spc"] for o in origins])

    # --- traceback: the origins back to their accounts ----------------------------------------
    named, trace_answers, trace_ms = set(), [], []
    for o in origins:
        t0 = time.time()
        rc, ans, err = trace("--origid", o["origid"], "--from", o["first_time"],
                             "--to", o["last_time"])
        trace_ms.append(1000 * (time.time() - t0))
        who = [cu["customer"] for cu in (ans or {}).get("customers", [])]
        named.update(who)
        totals = ((ans or {}).get("customers") or [{}])[0].get("totals", {})
        trace_answers.append((o["origid"], who, totals.get("signed"), totals.get("refused"),
                              len((ans or {}).get("calls", []))))
        check("trace --origid %s (SPC %s): exit 0, one customer, a reseller's account (%s)"
              % (o["origid"], o["spc"], who), rc == 0 and len(who) == 1 and
              who[0].startswith("reseller"), (rc, err, ans and ans.get("customers")))
    for origid, who, s, refused, ncalls in trace_answers:
        print("# trace --origid %s: %s, %s call(s) in the window; totals signed %s, refused %s"
              % (origid, who, ncalls, s, refused))
    want = {c.name for c in RESELLERS}
    check("fed the origins, trace names exactly the nine resellers' accounts, no legitimate "
          "customer", named == want, (sorted(named - want), sorted(want - named)))

    # by numbers and time: the spoofed calls the terminating side logged for those origins
    listed = ",".join("'%s'" % o["origid"] for o in origins)
    spoofed = rows(DECISIONS, "SELECT caller, callee, time, origid FROM decisions "
                              "WHERE origid IN (%s) ORDER BY time" % listed)
    sample = []
    for o in origins:
        mine = [s for s in spoofed if s[3] == o["origid"]]
        sample += rng.sample(mine, min(3, len(mine)))
    named_n = set()
    bad = []
    for caller, callee, t, origid in sample:
        rc, ans, err = trace("--orig", caller, "--dest", callee, "--at", str(t), "--window", "30")
        who = [cu["customer"] for cu in (ans or {}).get("customers", [])]
        named_n.update(who)
        if rc != 0 or len(who) != 1 or who[0] != account_of.get(origid):
            bad.append((caller, callee, t, rc, who, err))
    print("# trace --orig --dest --at on %d sampled spoofed calls: %s"
          % (len(sample), sorted(named_n)))
    check("trace by orig, dest and time of %d sampled spoofed calls names each call's account"
          % len(sample), len(sample) >= 18 and not bad and named_n <= want, bad[:3])

    # a legitimate customer's call traces to it, and is no origin
    ent = next(c for c in LEGIT if c.name == "enterprise05")
    leg = next(x for x in rows(DECISIONS, "SELECT caller, callee, time, origid FROM decisions")
               if x[0] in ent.numbers)
    rc, ans, _ = trace("--orig", leg[0], "--dest", leg[1], "--at", str(leg[2]))
    check("a legitimate call traces to its own customer, whose origid analyze did not list",
          rc == 0 and [cu["customer"] for cu in ans["customers"]] == ["enterprise05"] and
          leg[3] not in {o["origid"] for o in origins}, (rc, ans and ans["customers"]))

    elapsed = time.time() - T_START
    print("# figures: customers %d (9 reseller accounts of 3 resellers, %d legitimate), calls sent "
          "%d (resellers %d, legitimate %d), signed %d, refused %d; traffic %.1f s; trace %.0f ms "
          "at most; whole test %.1f s"
          % (len(CUSTOMERS), len(LEGIT), sent, sum(len(c.calls) for c in RESELLERS), legit_sent,
             len(signed), sum(1 for r in results if r["outcome"] == "refused"), t_traffic,
             max(trace_ms or [0]), elapsed))
finally:
    stop(procs, WORK)
finish()
