"""Kamailio (Debian's, with its secsipid module) in the loop with cidguardd.

    python3 test_kamailio.py BUILD_DIR
A UAC sends INVITEs to Kamailio; Kamailio either signs them with secsipid and
asks cidguardd to verify, or asks cidguardd to sign and checks the result
with secsipid; both times it follows cidguardd's 302 to a UAS, which reports
what arrived.  Skips (exit 77) when Kamailio is not installed.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, stop  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
KAM = shutil.which("kamailio") or "/usr/sbin/kamailio"
if not os.path.exists(KAM) or not os.path.exists(
        "/usr/lib/x86_64-linux-gnu/kamailio/modules/secsipid.so"):
    print("kamailio with secsipid not installed")
    sys.exit(77)

WORK = tempfile.mkdtemp(prefix="cgd-kam-")
procs = []
seen = []


def uas():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 15090))
    while True:
        data, addr = s.recvfrom(65535)
        msg = data.decode(errors="replace")
        if not msg.startswith("INVITE"):
            continue
        seen.append(msg)
        hdrs = [l for l in msg.split("\r\n") if l.split(":")[0].lower() in
                ("via", "from", "call-id", "cseq")]
        to = [l for l in msg.split("\r\n") if l.lower().startswith("to:")][0]
        resp = ("SIP/2.0 200 OK\r\n" + "\r\n".join(hdrs) + "\r\n" + to + ";tag=uas1\r\n"
                "Contact: <sip:uas@127.0.0.1:15090>\r\nContent-Length: 0\r\n\r\n")
        s.sendto(resp.encode(), addr)


def call(scenario, frm="442079460000", to="14155550100"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    port = s.getsockname()[1]
    cid = os.urandom(6).hex()
    inv = ("INVITE sip:%s@127.0.0.1:15090 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "From: <sip:%s@127.0.0.1>;tag=uac1\r\nTo: <sip:%s@127.0.0.1>\r\n"
           "Call-ID: %s@uac\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:uac@127.0.0.1:%d>\r\nX-Scenario: %s\r\nContent-Length: 0\r\n\r\n"
           % (to, port, cid, frm, to, cid, port, scenario))
    n = len(seen)
    s.sendto(inv.encode(), ("127.0.0.1", 15080))
    final = None
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            r = s.recv(65535).decode()
        except socket.timeout:
            break
        code = int(r.split(" ")[1])
        if code >= 200:
            final = code
            break
    time.sleep(0.2)
    return final, (seen[n] if len(seen) > n else "")


try:
    state = os.path.join(WORK, "state")
    log = open(os.path.join(WORK, "cidguardd.log"), "w")
    procs.append(subprocess.Popen([os.path.join(BUILD, "cidguardd"), "--state-dir", state],
                                  stdout=log, stderr=subprocess.STDOUT))
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", 8085), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    key = os.path.join(state, "pki", "sp-1001.key")
    pub = os.path.join(WORK, "pub.pem")
    subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], capture_output=True)
    threading.Thread(target=uas, daemon=True).start()
    klog = open(os.path.join(WORK, "kamailio.log"), "w")
    procs.append(subprocess.Popen(
        [KAM, "-f", os.path.join(HERE, "kamailio.cfg"), "-DD", "-E", "-w", WORK, "-Y", WORK,
         "-A", 'SIGNKEY="%s"' % key, "-A", 'X5U="http://127.0.0.1:8085/certs/sp-1001.pem"',
         "-A", 'PUBKEY="%s"' % pub, "-A", 'UAS="sip:127.0.0.1:15090"'],
        stdout=klog, stderr=subprocess.STDOUT))
    time.sleep(1.5)
    if procs[-1].poll() is not None:
        print(open(klog.name).read()[-2000:])
        raise SystemExit("kamailio did not start")

    code, inv = call("kam-sign")
    check("secsipid signs, cidguardd verifies, Kamailio follows the 302: call completes", code == 200,
          (code, open(klog.name).read()[-800:]))
    check("the UAS sees verstat TN-Validation-Passed from cidguardd",
          "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>" in inv, inv)
    check("and the decision header", "X-Cidguard-Action: allow" in inv, inv)
    code, inv = call("cg-sign")
    check("cidguardd signs, the call follows the 302", code == 200, code)
    check("secsipid verifies cidguardd's Identity header", "X-Secsipid: ok" in inv, inv)
    check("the Identity header reaches the UAS", "Identity: eyJ" in inv, inv)
    code, inv = call("cg-sign", frm="447700900123")
    check("a number the lab customer does not hold is still signed (B), and verifies",
          code == 200 and "X-Secsipid: ok" in inv, inv)
finally:
    stop(procs, WORK)

finish()
