"""One signer per customer or reseller, and stable origids.

    python3 test_signers.py BUILD_DIR
The daemon holds a default signer ([sign] key, SPC 1001) and a signers file
of two more (SPCs 2001 and 2002), each bundle in its certificate repository
(STATE_DIR/certs, served at /certs/).  Customer X (127.0.0.2) is signed for
by signer S2, customer Y (127.0.0.3) by the default.  X's calls carry S2's
x5u, and the bundle fetched from that x5u holds the key that verifies them
in secsipidx (an independent implementation) and, when Kamailio with its
secsipid module is installed, in Kamailio too; the daemon's own
verification API accepts them as SPC 2002.  Y's carry the default's x5u.
The origid is the same for two calls of X from its address, over SIP and
HTTP alike, and differs between X and Y; with origid = per_call it differs
every call.  STATE_DIR/origid.key is made 0600 and kept across restarts.
/metrics shows each signer's days to expiry.  A signers file whose key is
not its certificate's, or whose key file is missing, or a customer naming
a signer that does not exist, refuses the start with an error naming it;
on SIGHUP the running signers stay.

An SBC (127.0.0.5, in [sign] customer_from) signs for X and Y from one
address by naming the customer (Cidguard-Customer: NAME): X named gets X's
attestation (A for X's number, which Y named gets B for), X's signer and an
origid of X's, and the signing log's row names X; a name the customers file
lacks is refused (403, Cidguard-Reasons: unknown_customer, an audit line),
as are two of the header; without it the SBC is its own customer row.  The
header from a peer not in customer_from (Y naming X) is ignored, and the
header is never copied into the answer.  The HTTP signing API takes the
same header from the same peers.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_port, free_ports, header, start, stop, tail, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-signers-")
PKI = os.path.join(WORK, "pki")
STATE = os.path.join(WORK, "state")
procs = []
PORTS = {}
X_ADDR, Y_ADDR, SBC_ADDR = "127.0.0.2", "127.0.0.3", "127.0.0.5"
X_NUM, Y_NUM, SBC_NUM, CALLEE = "442079460001", "442079460002", "442079460009", "14155550100"


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def x5u(spc):
    return "http://127.0.0.1:%d/certs/sp-%s.pem" % (PORTS["http"], spc)


def write_signers(path, rows):
    with open(path, "w") as f:
        f.write("signer,key,certificate,x5u\n")
        for name, key_spc, cert_spc in rows:
            f.write("%s,%s,%s,%s\n" % (name, os.path.join(PKI, "sp-%s.key" % key_spc),
                                       os.path.join(PKI, "sp-%s.pem" % cert_spc), x5u(cert_spc)))


def write_conf(path, signers, customers, origid="stable"):
    with open(path, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\nsip_verify_listen = 127.0.0.1:%d\n"
                "sip_sign_listen = 127.0.0.1:%d\nsign_http_listen = 127.0.0.1:%d\nworkers = 2\n"
                "decision_log = off\n"
                "[verify]\ntrust = %s\n[fetch]\nallow_http = yes\nallow = 127.0.0.0/8\n"
                "[sign]\nkey = %s\nx5u = %s\ncustomers = %s\nsigners = %s\norigid = %s\n"
                "http_by_address = yes\nrate_per_customer = 0\ncustomer_from = 127.0.0.4;%s/32\n"
                % (STATE, PORTS["http"], PORTS["sip"], PORTS["sip_sign"], PORTS["sign_http"],
                   os.path.join(PKI, "root.pem"), os.path.join(PKI, "sp-1001.key"), x5u("1001"),
                   customers, signers, origid, SBC_ADDR))


def configure(name, rows, customers, origid="stable"):
    """A make() for harness.start: new ports, the signers file and config."""
    def make():
        PORTS["http"], PORTS["sign_http"] = free_ports(2)
        PORTS["sip"], PORTS["sip_sign"] = free_ports(2, udp=True)
        signers = os.path.join(WORK, name + "-signers.csv")
        write_signers(signers, rows)
        conf = os.path.join(WORK, name + ".conf")
        write_conf(conf, signers, customers, origid)
        return [CGD, "-c", conf], PORTS["sign_http"]
    return make


def sign_http(src, orig, headers=None, status=False):
    """POST a signingRequest from src with more headers: (identity or None,
    body), or with status (HTTP status, body, response headers)."""
    req = {"attest": "A", "orig": {"tn": orig}, "dest": {"tn": [CALLEE]}}
    c = http.client.HTTPConnection("127.0.0.1", PORTS["sign_http"], timeout=30,
                                   source_address=(src, 0))
    c.putrequest("POST", "/stir/v1/signing")
    body = json.dumps({"signingRequest": req}).encode()
    for k, v in [("Content-Type", "application/json"),
                 ("Content-Length", str(len(body)))] + list(headers or []):
        c.putheader(k, v)
    c.endheaders(body)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    if status:
        return r.status, body, dict((k.lower(), v) for k, v in r.getheaders())
    if r.status != 200:
        return None, "%d %s" % (r.status, body)
    return json.loads(body)["signingResponse"]["identity"], body


def sign_sip(src, orig, extra="", call_id=None):
    """An INVITE to the SIP signing listener from src, with more header
    lines: (Identity or None, the answer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(20)
    branch = os.urandom(6).hex()
    s.sendto(("INVITE sip:+%s@127.0.0.1;user=phone SIP/2.0\r\n"
              "Via: SIP/2.0/UDP %s:5999;branch=z9hG4bK%s\r\n"
              "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
              "Call-ID: %s\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
              % (CALLEE, src, branch, orig, CALLEE, call_id or branch + "@signers", extra)).encode(),
             ("127.0.0.1", PORTS["sip_sign"]))
    try:
        r = s.recv(65535).decode()
    finally:
        s.close()
    return header(r, "Identity"), r


def status_of(answer):
    return int(answer.split(" ", 2)[1]) if answer.startswith("SIP/2.0 ") else 0


def signlog_row(call_id):
    """The signing log's (customer, source, attest, origid, spc, action) for a
    Call-ID, once the writer has it (None before)."""
    def row():
        try:
            db = sqlite3.connect(os.path.join(STATE, "signings.db"), timeout=5)
            try:
                return db.execute("SELECT customer, source, attest, origid, spc, action FROM "
                                  "signings WHERE call_id = ?", (call_id,)).fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return None
    found = []
    wait_for(lambda: found.append(row()) or found[-1] is not None, 20)
    return found[-1] if found else None


def claims(identity):
    return json.loads(run(CG, "inspect", identity, check=True).stdout)["identity"]["claims"]


def info_of(identity):
    m = re.search(r";info=<([^>]*)>", identity or "")
    return m.group(1) if m else None


def fetch(url):
    m = re.match(r"http://127\.0\.0\.1:(\d+)(/.*)", url)
    c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=30)
    c.request("GET", m.group(2))
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def pubkey_from_x5u(url, name):
    """The leaf's public key of the bundle served at url, as a PEM file."""
    st, body = fetch(url)
    bundle = os.path.join(WORK, name + "-fetched.pem")
    with open(bundle, "wb") as f:
        f.write(body)
    pub = os.path.join(WORK, name + "-pub.pem")
    r = run("openssl", "x509", "-in", bundle, "-pubkey", "-noout")
    with open(pub, "w") as f:
        f.write(r.stdout)
    return st, pub


def verify_api(identity, orig):
    req = {"verificationRequest": {"from": {"tn": orig}, "to": {"tn": [CALLEE]},
                                   "time": int(time.time()), "identity": identity}}
    c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=30)
    c.request("POST", "/stir/v1/verification", json.dumps(req), {"Content-Type": "application/json"})
    body = c.getresponse().read().decode()
    c.close()
    return json.loads(body)


def refused(name, rows, customers, *wants):
    """Starts the daemon on a bad configuration: it must exit non-zero with
    every string of wants in its output."""
    make = configure(name, rows, customers)
    argv, _ = make()
    try:
        r = run(*argv, timeout=30)
    except subprocess.TimeoutExpired as e:
        return False, "did not exit: %s" % e
    out = r.stdout + r.stderr
    return r.returncode != 0 and all(w in out for w in wants), (r.returncode, out[-1500:])


def kamailio_check(identity, pub):
    """secsipid_check(identity, pubkey) in Kamailio, run once by its first
    worker (event_route[core:worker-one-init]): (passed, log tail), or None
    when Kamailio is missing."""
    kam = shutil.which("kamailio") or "/usr/sbin/kamailio"
    mods = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
    if not os.path.exists(kam) or not os.path.exists(mods + "secsipid.so"):
        return None
    cfg = os.path.join(WORK, "kam-check.cfg")
    port = free_port(udp=True)
    # the first worker checks the Identity written into the script
    with open(cfg, "w") as f:
        f.write('#!KAMAILIO\nlisten=udp:127.0.0.1:%d\nchildren=1\nlog_stderror=yes\ndebug=1\n'
                'mpath="%s"\nloadmodule "xlog.so"\nloadmodule "pv.so"\nloadmodule "secsipid.so"\n'
                'modparam("secsipid", "expire", 600)\n'
                'route { drop; }\n'
                'event_route[core:worker-one-init] {\n'
                '    if (secsipid_check("IDENTITY", "%s") > 0) {\n'
                '        xlog("L_ERR", "SECSIPID-CHECK-OK\\n");\n'
                '    } else {\n'
                '        xlog("L_ERR", "SECSIPID-CHECK-FAILED\\n");\n'
                '    }\n'
                '}\n' % (port, mods, pub))
    with open(cfg) as f:
        text = f.read().replace("IDENTITY", identity.replace('"', '\\"'))
    with open(cfg, "w") as f:
        f.write(text)
    log = os.path.join(WORK, "kam-check.log")
    os.makedirs(os.path.join(WORK, "kamrun"), exist_ok=True)
    with open(log, "w") as lf:
        p = subprocess.Popen([kam, "-f", cfg, "-DD", "-E", "-Y", os.path.join(WORK, "kamrun")],
                             stdout=lf, stderr=subprocess.STDOUT)
    ok = wait_for(lambda: "SECSIPID-CHECK-" in tail(log, 1 << 20), 20)
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    text = tail(log, 1 << 20)
    return ok and "SECSIPID-CHECK-OK" in text, text[-800:]


try:
    run(CG, "pki", "init", PKI, "--spc", "1001", "--spc", "2001", "--spc", "2002", check=True)
    os.makedirs(os.path.join(STATE, "certs"))
    for spc in ("1001", "2001", "2002"):
        shutil.copy(os.path.join(PKI, "sp-%s.pem" % spc), os.path.join(STATE, "certs"))
    customers = os.path.join(WORK, "customers.csv")
    with open(customers, "w") as f:
        f.write("customer,addresses,numbers,tokens,signer\n"
                "X,%s,%s,,S2\n"
                "Y,%s,%s,,\n"
                "SBC,%s,%s,,\n" % (X_ADDR, X_NUM, Y_ADDR, Y_NUM, SBC_ADDR, SBC_NUM))
    good_rows = [("S1", "2001", "2001"), ("S2", "2002", "2002")]
    log = os.path.join(WORK, "d.log")
    d = start(configure("d", good_rows, customers), log)
    procs.append(d)

    key_file = os.path.join(STATE, "origid.key")
    check("STATE_DIR/origid.key made at first start, 32 bytes, mode 0600",
          os.path.exists(key_file) and os.path.getsize(key_file) == 32 and
          (os.stat(key_file).st_mode & 0o777) == 0o600,
          os.path.exists(key_file) and oct(os.stat(key_file).st_mode))
    with open(key_file, "rb") as f:
        secret = f.read()
    check("the origid secret is never logged", secret.hex() not in tail(log, 1 << 20))

    # X is signed for by S2
    x1, body = sign_http(X_ADDR, X_NUM)
    check("customer X signs over HTTP", x1 is not None, body)
    check("X's Identity carries S2's x5u", info_of(x1) == x5u("2002"), x1)
    st, pub2 = pubkey_from_x5u(info_of(x1) or x5u("2002"), "s2")
    check("S2's x5u is served by the daemon's certificate repository", st == 200, st)
    r = run("secsipidx", "-check", "-expire", "600", "-identity", x1 or "", "-fpubkey", pub2)
    check("X's Identity verifies in secsipidx with the key of the bundle at its x5u",
          r.returncode == 0, (r.returncode, r.stdout, r.stderr))
    st, pub1 = pubkey_from_x5u(x5u("1001"), "default")
    r = run("secsipidx", "-check", "-expire", "600", "-identity", x1 or "", "-fpubkey", pub1)
    check("...and not with the default signer's key", r.returncode != 0, r.returncode)
    v = verify_api(x1, X_NUM).get("verificationResponse", {})
    check("the daemon's own verification fetches S2's x5u: passed, SPC 2002",
          v.get("verstat") == "TN-Validation-Passed" and v.get("spc") == "2002", v)
    k = kamailio_check(x1 or "", pub2)
    if k is None:
        print("ok   - # SKIP Kamailio's secsipid module is not installed")
    else:
        check("X's Identity verifies in Kamailio's secsipid (secsipid_check)", k[0], k[1])
        k = kamailio_check(x1 or "", pub1)
        check("...and Kamailio rejects it under the default signer's key", not k[0], k[1])

    x2, _ = sign_http(X_ADDR, X_NUM)
    x3, r = sign_sip(X_ADDR, X_NUM)
    check("X signs over SIP too, with S2's x5u", info_of(x3) == x5u("2002"), r)
    o1, o2, o3 = (claims(i)["origid"] if i else None for i in (x1, x2, x3))
    check("X's origid is the same for two calls from its address", o1 and o1 == o2, (o1, o2))
    check("...and over SIP from the same address", o3 == o1, (o1, o3))
    check("the origid is an RFC 9562 version-8 UUID",
          bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            o1 or "")), o1)

    # Y is signed for by the default signer
    y1, body = sign_http(Y_ADDR, Y_NUM)
    check("customer Y's Identity carries the default signer's x5u", info_of(y1) == x5u("1001"),
          (y1, body))
    r = run("secsipidx", "-check", "-expire", "600", "-identity", y1 or "", "-fpubkey", pub1)
    check("Y's Identity verifies in secsipidx with the default key", r.returncode == 0,
          (r.returncode, r.stdout, r.stderr))
    oy = claims(y1)["origid"] if y1 else None
    check("X's and Y's origids differ", oy and oy != o1, (o1, oy))

    # an SBC trusted to name the customer ([sign] customer_from)
    cid = os.urandom(6).hex() + "@sbc"
    s1, r = sign_sip(SBC_ADDR, X_NUM, "Cidguard-Customer: X\r\n", call_id=cid)
    check("an SBC naming X over SIP: X's number signed A", s1 and claims(s1)["attest"] == "A", r)
    check("...by X's signer (S2's x5u)", info_of(s1) == x5u("2002"), r)
    check("...and the header is not copied into the 302",
          status_of(r) == 302 and "cidguard-customer" not in r.lower(), r)
    row = signlog_row(cid)
    check("the signing log's row names X, from the SBC's address, with the origid signed",
          row and row[0] == "X" and row[1] == SBC_ADDR and row[2] == "A" and
          row[3] == claims(s1)["origid"] and row[4] == "2002" and row[5] == "allow", row)
    s2, r = sign_sip(SBC_ADDR, X_NUM, "cidguard-customer :  X \r\n")
    os1, os2 = (claims(i)["origid"] if i else None for i in (s1, s2))
    check("X's origid through the SBC is stable (the header's name in any case, spaced)",
          os1 and os1 == os2, (os1, os2, r))
    s3, r = sign_sip(SBC_ADDR, X_NUM, "Cidguard-Customer: Y\r\n")
    check("the SBC naming Y, presenting X's number: B, the default signer",
          s3 and claims(s3)["attest"] == "B" and info_of(s3) == x5u("1001"), r)
    os3 = claims(s3)["origid"] if s3 else None
    check("...and an origid of Y's, not X's", os3 and os3 != os1, (os1, os3))
    s4, r = sign_sip(SBC_ADDR, SBC_NUM)
    check("the SBC without the header: its own customer row, as before (A for its number)",
          s4 and claims(s4)["attest"] == "A" and info_of(s4) == x5u("1001") and
          claims(s4)["origid"] not in (os1, os3), r)
    s5, r = sign_sip(SBC_ADDR, X_NUM)
    check("...and B for X's number", s5 and claims(s5)["attest"] == "B", r)
    cid = os.urandom(6).hex() + "@sbc"
    s6, r = sign_sip(SBC_ADDR, X_NUM, "Cidguard-Customer: Nobody\r\n", call_id=cid)
    check("the SBC naming a customer the file lacks: 403, nothing signed, the reason said",
          status_of(r) == 403 and not s6 and
          header(r, "Cidguard-Reasons") == "unknown_customer" and "Nobody" not in r, r)
    check("...with an audit line naming the name and the SBC",
          wait_for(lambda: re.search(r"audit: signing refused \(unknown_client: unknown_customer\) "
                                     r"over sip from 127\.0\.0\.5, customer - \(named \"Nobody\"\)",
                                     tail(log, 1 << 20)), 10), tail(log))
    row = signlog_row(cid)
    check("...and a refused row in the signing log, no customer", row and row[0] == "" and
          row[5] == "block", row)
    s7, r = sign_sip(SBC_ADDR, X_NUM, "Cidguard-Customer: X\r\nCidguard-Customer: Y\r\n")
    check("two Cidguard-Customer headers from the SBC: 403", status_of(r) == 403 and not s7, r)
    s7, r = sign_sip(SBC_ADDR, X_NUM, "Cidguard-Customer:\r\n")
    check("an empty one: 403", status_of(r) == 403 and not s7, r)
    s7, r = sign_sip(SBC_ADDR, X_NUM, "Cidguard-Customer: X\r\n Y\r\n")
    check("one folded onto a second line: 403", status_of(r) == 403 and not s7, r)
    s8, r = sign_sip(Y_ADDR, X_NUM, "Cidguard-Customer: X\r\n")
    check("Y (not in customer_from) naming X: ignored, Y signs X's number at B with Y's origid",
          s8 and claims(s8)["attest"] == "B" and info_of(s8) == x5u("1001") and
          claims(s8)["origid"] == claims(y1)["origid"] and "cidguard-customer" not in r.lower(), r)
    s8, r = sign_sip(Y_ADDR, Y_NUM, "Cidguard-Customer: Nobody\r\n")
    check("...and Y naming an unknown customer is not refused for it: A for its own number",
          s8 and claims(s8)["attest"] == "A", r)
    # the same over the HTTP signing API
    st, body, hd = sign_http(SBC_ADDR, X_NUM, [("Cidguard-Customer", "X")], status=True)
    h1 = json.loads(body)["signingResponse"]["identity"] if st == 200 else None
    check("over HTTP, the SBC naming X: A, S2's x5u", h1 and claims(h1)["attest"] == "A" and
          info_of(h1) == x5u("2002") and "cidguard-customer" not in hd, (st, body))
    st, body, hd = sign_http(SBC_ADDR, X_NUM, [("Cidguard-Customer", "Nobody")], status=True)
    check("over HTTP, an unknown name: 403 POL4030, Cidguard-Reasons: unknown_customer",
          st == 403 and "POL4030" in body and hd.get("cidguard-reasons") == "unknown_customer",
          (st, body, hd))
    st, body, hd = sign_http(SBC_ADDR, X_NUM, [("CIDGUARD-CUSTOMER \t", "X")], status=True)
    h3 = json.loads(body)["signingResponse"]["identity"] if st == 200 else None
    check("over HTTP, the header's name in any case and spaced before the colon, as over SIP",
          h3 and claims(h3)["attest"] == "A" and info_of(h3) == x5u("2002"), (st, body))
    st, body, hd = sign_http(SBC_ADDR, X_NUM, [("Cidguard-Customer", "X"),
                                               ("cidguard-customer ", "Y")], status=True)
    check("...and counted among two headers: 403", st == 403, (st, body))
    h2, body = sign_http(Y_ADDR, X_NUM, [("Cidguard-Customer", "X")])
    check("over HTTP, Y naming X: ignored (B, the default signer)",
          h2 and claims(h2)["attest"] == "B" and info_of(h2) == x5u("1001"), body)

    # /metrics: every loaded signer's days to expiry
    c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=30)
    c.request("GET", "/metrics")
    m = c.getresponse().read().decode()
    c.close()
    for name, spc in (("S1", "2001"), ("S2", "2002")):
        g = re.search(r'cidguard_signer_cert_days_to_expiry\{signer="%s",spc="%s"\} (-?\d+)' %
                      (name, spc), m)
        check("/metrics: %s's certificate days to expiry" % name,
              g and 360 <= int(g.group(1)) <= 365, m[-600:])

    # SIGHUP with a broken signers file keeps the running signers
    write_signers(os.path.join(WORK, "d-signers.csv"),
                  [("S1", "2001", "2001"), ("S2", "2001", "2002")])
    d.send_signal(signal.SIGHUP)
    check("a reload with a mismatched signer is refused, the running configuration kept",
          wait_for(lambda: "keeping the running configuration" in tail(log, 1 << 20), 20),
          tail(log))
    x4, _ = sign_http(X_ADDR, X_NUM)
    check("...and X is still signed by S2", info_of(x4) == x5u("2002"), x4)
    stop([d])
    procs.remove(d)

    # the same secret after a restart: the same origid
    d = start(configure("d", good_rows, customers), os.path.join(WORK, "d2.log"))
    procs.append(d)
    x5, _ = sign_http(X_ADDR, X_NUM)
    with open(key_file, "rb") as f:
        same = f.read() == secret
    check("after a restart origid.key is kept and X's origid is unchanged",
          same and x5 and claims(x5)["origid"] == o1, (o1, x5 and claims(x5)["origid"]))
    stop([d])
    procs.remove(d)

    # per_call: a fresh origid every call
    d = start(configure("pc", good_rows, customers, origid="per_call"), os.path.join(WORK, "pc.log"))
    procs.append(d)
    p1, _ = sign_http(X_ADDR, X_NUM)
    p2, _ = sign_http(X_ADDR, X_NUM)
    op1, op2 = (claims(i)["origid"] if i else None for i in (p1, p2))
    check("origid = per_call: two calls of X, two origids, neither the stable one",
          op1 and op2 and op1 != op2 and o1 not in (op1, op2), (op1, op2))
    stop([d])
    procs.remove(d)

    # refusals at start
    ok, info = refused("mismatch", [("S1", "2001", "2001"), ("S2", "2001", "2002")], customers,
                       "signer 'S2'", "does not match the public key of certificate",
                       "refusing to sign")
    check("a signer whose key is not its certificate's refuses the start, naming the signer",
          ok, info)
    ok, info = refused("nokey", [("S1", "2001", "2001"), ("S2", "gone", "2002")], customers,
                       "signer 'S2': key file", "sp-gone.key: No such file or directory")
    check("a missing key file refuses the start with a clear error", ok, info)
    bad_customers = os.path.join(WORK, "customers-bad.csv")
    with open(bad_customers, "w") as f:
        f.write("customer,addresses,numbers,tokens,signer\nZ,127.0.0.4,4420,,S9\n")
    ok, info = refused("unknown", good_rows, bad_customers,
                       "customer 'Z' names signer 'S9', which the signers file does not define")
    check("a customer naming an unknown signer refuses the start", ok, info)
finally:
    stop(procs, WORK)
finish()
