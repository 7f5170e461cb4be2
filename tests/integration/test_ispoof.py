"""The iSpoof scenario through the real daemon: genuine calls from three
banks, signed A by each bank's own SPC, pass with their brand; the same
numbers presented on calls signed C by a gateway, unsigned, arriving on an
international ingress, and calls from a Do-Not-Originate number are blocked
(608) with the right reasons; ordinary consumer calls pass untouched.

    python3 test_ispoof.py BUILD_DIR
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, header, start, stop  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-ispoof-")
proc = None
HTTP = SIP = None  # the daemon's ports, chosen when it starts

# fictional banks on numbers Ofcom reserves for drama (020 7946 0xxx)
BANKS = {"ALPHA": ("442079460101", "Alpha Bank"), "BETA": ("442079460102", "Beta Bank"),
         "GAMMA": ("442079460103", "Gamma Bank")}
DNO = "442079460999"


def sign(spc, orig, attest):
    return subprocess.run([CG, "sign", "--key", os.path.join(WORK, "pki", "sp-%s.key" % spc),
                           "--x5u", "http://127.0.0.1:%d/certs/sp-%s.pem" % (HTTP, spc),
                           "--orig", "+" + orig, "--dest", "+14155550100", "--attest", attest],
                          capture_output=True, text=True).stdout.strip()


def call(orig, identity=None, tgrp=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(30)
    ruri = "sip:+14155550100%s@127.0.0.1;user=phone" % (";tgrp=" + tgrp if tgrp else "")
    msg = ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
           "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+14155550100@127.0.0.1>\r\n"
           "Call-ID: %s@ispoof\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
           % (ruri, os.urandom(6).hex(), orig, os.urandom(6).hex(),
              "Identity: %s\r\n" % identity if identity else ""))
    s.sendto(msg.encode(), ("127.0.0.1", SIP))
    try:
        return s.recv(65535).decode()
    finally:
        s.close()


def expect(name, resp, code, action, reasons, brand=None):
    got = set(filter(None, (header(resp, "Cidguard-Reasons") or "").split(",")))
    ok = (resp or "").startswith("SIP/2.0 %d" % code) and header(resp, "Cidguard-Action") == action
    ok = ok and set(reasons) <= got and header(resp, "Cidguard-Brand") == brand
    check(name, ok, resp)


try:
    subprocess.run([CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "ALPHA", "--spc", "BETA",
                    "--spc", "GAMMA", "--spc", "GW01"], capture_output=True, check=True)
    state = os.path.join(WORK, "state")
    os.makedirs(os.path.join(state, "certs"))
    for spc in ("ALPHA", "BETA", "GAMMA", "GW01"):
        shutil.copy(os.path.join(WORK, "pki", "sp-%s.pem" % spc), os.path.join(state, "certs"))
    with open(os.path.join(WORK, "protected.csv"), "w") as f:
        f.write("number,brand,spcs,min_attest\n")
        for spc, (num, brand) in BANKS.items():
            f.write("%s,%s,%s,A\n" % (num, brand, spc))
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n%s,card helpline (inbound only)\n" % DNO)
    with open(os.path.join(WORK, "ingress.csv"), "w") as f:
        f.write("ingress,international,addresses,note\nintl-gw,yes,,international gateway\n"
                "uk-peer,no,127.0.0.1,domestic\n")
    conf = os.path.join(WORK, "d.conf")

    def configure():
        global HTTP, SIP
        HTTP, SIP, sign_port = free_ports(1) + free_ports(2, udp=True)
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 2\n[verify]\ntrust = %s\n"
                    "[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                    "[policy]\nprotected = %s\ndno = %s\ningress = %s\nmin_attest_uk = B\ntgrp_from = 127.0.0.1\n"
                    % (state, HTTP, SIP, sign_port, os.path.join(WORK, "pki", "root.pem"),
                       os.path.join(WORK, "protected.csv"), os.path.join(WORK, "dno.csv"),
                       os.path.join(WORK, "ingress.csv")))
        return [CGD, "-c", conf], HTTP

    proc = start(configure, os.path.join(WORK, "d.log"))

    for spc, (num, brand) in BANKS.items():
        expect("%s calling, signed A by its own SPC: passes with its brand" % brand,
               call(num, sign(spc, num, "A")), 302, "allow", ["brand_verified"], brand)
    for spc, (num, brand) in BANKS.items():
        expect("%s's number signed C by a gateway: blocked" % brand,
               call(num, sign("GW01", num, "C")), 608, "block", ["protected_no_intent"])
        expect("%s's number unsigned: blocked" % brand, call(num), 608, "block",
               ["protected_no_intent", "no_tn_validation"])
        expect("%s's number from the international gateway (tgrp): blocked" % brand,
               call(num, sign(spc, num, "A"), tgrp="intl-gw"), 608, "block",
               ["intl_ingress_uk_cli"], None)
    expect("a Do-Not-Originate number, even signed: blocked", call(DNO, sign("GW01", DNO, "A")),
           608, "block", ["dno"])
    r = call("447400012345", sign("GW01", "447400012345", "B"))
    expect("an ordinary UK mobile signed B: passes untouched", r, 302, "allow", [])
    check("... with verstat Passed and no brand", "verstat=TN-Validation-Passed" in
          (header(r, "P-Asserted-Identity") or "") and header(r, "Cidguard-Brand") is None, r)
    expect("an ordinary unsigned US call: passes", call("12025550143"), 302, "allow", ["no_tn_validation"])
    r = call("447400012345", sign("GW01", "447400012345", "C"))
    expect("a UK number signed only C (gateway): labelled, not blocked", r, 302, "label",
           ["attestation_below_minimum"])
    metrics = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/metrics" % HTTP], capture_output=True,
                             text=True).stdout
    check("decisions counted by action in /metrics", 'cidguard_decisions_total{action="block"} 10' in metrics,
          [l for l in metrics.splitlines() if "decisions" in l])
    stop([proc])
    proc = None
    import sqlite3
    db = sqlite3.connect(os.path.join(state, "decisions.db"))
    rows = db.execute("SELECT caller, action, reasons, spc, x5u_host, ingress, verstat FROM decisions").fetchall()
    check("every call (16) is in the decision log", len(rows) == 16, len(rows))
    blocked = [r for r in rows if r[1] == "block"]
    check("blocked calls logged with their reasons", len(blocked) == 10 and
          any("intl_ingress_uk_cli" in (r[2] or "") and r[5] == "intl-gw" for r in blocked) and
          any("dno" in (r[2] or "") for r in blocked), blocked[:3])
    check("verified calls logged with SPC and x5u host", any(r[3] == "ALPHA" and r[4] == "127.0.0.1" and
          r[6] == "TN-Validation-Passed" for r in rows), rows[:3])
finally:
    stop([proc], WORK)

finish()
