"""Integration tests of cidguardd: the real daemon on loopback, driven over
UDP, TCP and HTTP, with a real local HTTPS certificate repository.

    python3 test_daemon.py BUILD_DIR
Prints one line per check and "N passed, N failed"; exits non-zero on any
failure.  The zero-configuration start is checked on its default ports
(5060, 5070, 8085, 8086 on 127.0.0.1, waited for when busy); every other daemon
and the certificate repository run on free ports the kernel picks.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (accepts, check, finish, free_port, free_ports, header, hostport, scaled,  # noqa: E402
                     start, stop, tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG = os.path.join(BUILD, "cidguard")
CGD = os.path.join(BUILD, "cidguardd")
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="cgd-it-")
procs = []


def daemon(name, conf_text, host="127.0.0.1"):
    """Starts cidguardd with the configuration conf_text(http, sip_verify,
    sip_sign) returns, on new free ports of host (new ones again should a
    port be taken before the daemon binds it).  The configuration is
    WORK/name.conf, the output WORK/name.log.  Returns (process, (http,
    sip_verify, sip_sign))."""
    conf, chosen = os.path.join(WORK, name + ".conf"), []

    def make():
        ports = free_ports(1, host=host) + free_ports(2, udp=True, host=host)
        chosen[:] = ports
        SIGN_HTTP[name], = free_ports(1, host=host)
        with open(conf, "w") as f:
            f.write("[server]\nhttp_listen = %s\nsip_verify_listen = %s\nsip_sign_listen = %s\n"
                    % tuple(hostport(host, p) for p in ports) +
                    "sign_http_listen = %s\n" % hostport(host, SIGN_HTTP[name]) + conf_text(*ports))
        return [CGD, "-c", conf], ports[0]

    p = start(make, os.path.join(WORK, name + ".log"), host=host)
    procs.append(p)
    return p, tuple(chosen)


SIGN_HTTP = {}  # each daemon's signing API port, by name


def http(port, path, body=None, method=None, headers=None, raw=False):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, headers=h,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            out = r.read().decode()
            return r.status, (out if raw else json.loads(out)), dict(r.headers)
    except urllib.error.HTTPError as e:
        out = e.read().decode()
        try:
            return e.code, json.loads(out), dict(e.headers)
        except ValueError:
            return e.code, out, dict(e.headers)


def sign_http(port, orig, dest, attest="A"):
    return http(port, "/stir/v1/signing", json.dumps(
        {"signingRequest": {"attest": attest, "orig": {"tn": orig}, "dest": {"tn": [dest]}}}))


def verify_http(port, frm, to, identity, t=None):
    return http(port, "/stir/v1/verification", json.dumps({"verificationRequest": {
        "from": {"tn": frm}, "to": {"tn": to if isinstance(to, list) else [to]}, "time": t or int(time.time()),
        "identity": identity}}))


def invite(frm, to, idents=(), branch=None, callid=None, method="INVITE", extra=""):
    branch = branch or "z9hG4bK" + os.urandom(6).hex()
    callid = callid or os.urandom(8).hex() + "@it"
    h = "".join("Identity: %s\r\n" % i for i in idents)
    return ("%s sip:%s@127.0.0.1;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=%s\r\n"
            "From: <sip:%s@carrier.example;user=phone>;tag=77\r\n"
            "To: <sip:%s@127.0.0.1;user=phone>\r\n"
            "Call-ID: %s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n%s%s"
            "Content-Length: 0\r\n\r\n" % (method, to, branch, frm, to, callid, method, h,
                                           extra)).encode()


def udp(port, msg, timeout=10.0, sock=None):
    """One request, one answer.  A retransmission must come from the same
    socket, as an SBC's does: with SO_REUSEPORT the kernel then hands it to
    the same worker and its transaction cache."""
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(msg, ("127.0.0.1", port))
    try:
        return s.recv(65535).decode()
    except socket.timeout:
        return None
    finally:
        if not sock:
            s.close()


def metric(port, name):
    _, text, _ = http(port, "/metrics", raw=True)
    total = 0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def run(*args):
    return subprocess.run(args, capture_output=True, text=True)


try:
    # ---- zero-configuration start (on its default ports) -----------------------------
    # Those ports are what is being checked, so they cannot be chosen: wait
    # while another run holds them, then keep them only for these checks.
    state = os.path.join(WORK, "state")
    zlog = os.path.join(WORK, "zeroconf.log")
    if not wait_for(lambda: not any(accepts(p) for p in (5060, 5070, 8085, 8086)), 60, 0.5):
        raise SystemExit("ports 5060, 5070, 8085 and 8086 on 127.0.0.1 stay busy: cannot check the "
                         "zero-configuration defaults")
    z = start(lambda: ([CGD, "--state-dir", state], 8085), zlog)
    procs.append(z)
    banner = tail(zlog, 1 << 20)
    check("zero-config banner names the listeners", "127.0.0.1:5060" in banner and
          "127.0.0.1:5070" in banner and "stir/v1/verification" in banner, banner)
    check("zero-config wrote a test PKI", os.path.exists(os.path.join(state, "pki", "root.pem")))
    st, body, _ = http(8085, "/healthz", method="GET", raw=True)
    check("GET /healthz", st == 200 and body.strip() == "ok")
    cmd = [l.strip() for l in banner.splitlines() if l.strip().startswith("ID=$(curl")]
    if cmd:
        out = subprocess.run(["sh", "-c", cmd[0]], capture_output=True, text=True, timeout=120).stdout
        check("the banner's paste command signs and verifies a call",
              '"verstat":"TN-Validation-Passed"' in out, out)
    else:
        check("the banner has a paste command", False, banner)
    st, r, h = http(8085, "/certs/sp-1001.pem", method="GET", raw=True)
    check("certificate repository serves the x5u with Cache-Control",
          st == 200 and "BEGIN CERTIFICATE" in r and "max-age" in h.get("Cache-Control", ""))
    st, r, _ = http(8085, "/certs/..%2Froot.key", method="GET")
    check("repository refuses path tricks", st == 404)
    z.send_signal(signal.SIGTERM)
    check("zero-config daemon drains and exits 0", z.wait(timeout=scaled(10)) == 0, tail(zlog))

    # The rest runs on free ports, with the zero-configuration daemon's own
    # PKI, repository and lab customer, configured explicitly.
    pki0 = os.path.join(state, "pki")
    a, (HTTP, SIPV, SIPS) = daemon("main", lambda h, v, s: (
        "state_dir = %s\n[verify]\ntrust = %s\ncrl = %s\n[fetch]\nallow = 127.0.0.1/32\n"
        "allow_http = yes\n[sign]\nkey = %s\nx5u = http://127.0.0.1:%d/certs/sp-1001.pem\n"
        "customers = %s\nhttp_by_address = yes\n"
        % (state, os.path.join(pki0, "root.pem"), os.path.join(pki0, "crl.pem"),
           os.path.join(pki0, "sp-1001.key"), h, os.path.join(state, "customers.csv"))))

    # ---- HTTP API ------------------------------------------------------------------------
    st, r, _ = sign_http(SIGN_HTTP["main"], "442079460000", "14155550100")
    ident = r["signingResponse"]["identity"]
    check("signing: A for the lab customer's own (fictional) number",
          st == 200 and json.loads(run(CG, "inspect", ident).stdout)["identity"]["claims"]["attest"] == "A")
    st, r, _ = sign_http(SIGN_HTTP["main"], "447700900123", "14155550100")
    check("signing: a number the customer does not hold is downgraded to B",
          r["signingResponse"].get("attestDowngradedTo") == "B", r)
    st, r, _ = sign_http(SIGN_HTTP["main"], "#442079460000", "14155550100")
    check("signing: a service code's '#' makes no number to sign (400 SVC4005)",
          st == 400 and r["requestError"]["serviceException"]["messageId"] == "SVC4005", (st, r))
    st, r, _ = verify_http(HTTP, "442079460000", "14155550100", ident)
    vr = r["verificationResponse"]
    check("verification passes", st == 200 and vr["verstat"] == "TN-Validation-Passed" and
          vr["action"] == "allow" and vr["spc"] == "1001", r)
    # a new token: the first one has been used (a second use is a replay on any entry point)
    ident2 = sign_http(SIGN_HTTP["main"], "442079460000", "14155550100")[1]["signingResponse"]["identity"]
    st, r, _ = verify_http(HTTP, "442079460000", ["14155550199", "+1 415 555 0100"], ident2)
    check("verification with several to.tn: the PASSporT's dest may be any of them",
          st == 200 and r["verificationResponse"]["verstat"] == "TN-Validation-Passed", r)
    st, r, _ = verify_http(HTTP, "442079460001", "14155550100", ident)
    vr = r["verificationResponse"]
    check("spoofed caller: HTTP 200 with 438 and action label",
          st == 200 and vr["reasonCode"] == 438 and vr["action"] == "label" and
          "stir_failed" in vr["reasons"], r)
    st, r, _ = verify_http(HTTP, "442079460000", "14155550100", ident, t=int(time.time()) - 300)
    check("stale request time: 403 No-TN-Validation (E3)",
          r["verificationResponse"]["reasonCode"] == 403 and
          r["verificationResponse"]["verstat"] == "No-TN-Validation", r)
    tamp = ident.split(";")[0][:-3] + "AAA" + ident[len(ident.split(";")[0]):]
    st, r, _ = verify_http(HTTP, "442079460000", "14155550100", tamp)
    check("tampered signature: 438", r["verificationResponse"].get("reasonCode") == 438, r)
    errs = [
        ("GET is 405 POL4050", dict(method="GET"), 405, "POL4050"),
        ("text/plain is 415 SVC4004", dict(body="{}", headers={"Content-Type": "text/plain"}), 415, "SVC4004"),
        ("Accept: text/html is 406 SVC4002", dict(body="{}", headers={"Accept": "text/html"}), 406, "SVC4002"),
        ("bad JSON is 400 SVC4006", dict(body="{"), 400, "SVC4006"),
        ("missing 'to' is 400 SVC4001", dict(body='{"verificationRequest":{"from":{"tn":"1"},"time":1,"identity":"x"}}'), 400, "SVC4001"),
        ("bad tn is 400 SVC4005", dict(body='{"verificationRequest":{"from":{"tn":"bob"},"to":{"tn":["1"]},"time":1,"identity":"x"}}'), 400, "SVC4005"),
        ("a service code is no tn: 400 SVC4005", dict(body='{"verificationRequest":{"from":{"tn":"*67"},"to":{"tn":["1"]},"time":1,"identity":"x"}}'), 400, "SVC4005"),
    ]
    for name, kw, code, mid in errs:
        st, r, _ = http(HTTP, "/stir/v1/verification", **kw)
        check("HTTP " + name, st == code and isinstance(r, dict) and
              r["requestError"]["serviceException"]["messageId"] == mid, (st, r))
    s = socket.create_connection(("127.0.0.1", HTTP), timeout=30)
    s.sendall(b"POST /stir/v1/verification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    resp = s.recv(4096).decode()
    s.close()
    check("HTTP without Content-Length is 411 SVC4007", " 411 " in resp.split("\r\n")[0] and
          "SVC4007" in resp, resp[:200])
    st, r, h = http(HTTP, "/stir/v1/verification", body="{}", headers={"X-RequestID": "abc-1"})
    check("X-RequestID echoed", h.get("X-RequestID") == "abc-1")

    # ---- SIP over UDP ------------------------------------------------------------------
    def fresh_sid():
        """A new Identity header from the signing listener: every call signs
        its own (the same token on another call is a replay)."""
        return header(udp(SIPS, invite("+442079460000", "+14155550100")), "Identity")

    r1 = udp(SIPS, invite("+442079460000", "+14155550100"))
    sid = header(r1, "Identity")
    check("SIP signing listener: 302 with an Identity header",
          r1 and r1.startswith("SIP/2.0 302") and sid and header(r1, "Cidguard-Attest") == "A", r1)
    msg = invite("+442079460000", "+14155550100", [sid])
    sbc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r2 = udp(SIPV, msg, sock=sbc)
    check("SIP verification: 302, verstat Passed in PAI, Contact = Request-URI",
          r2 and r2.startswith("SIP/2.0 302") and
          header(r2, "P-Asserted-Identity") == "<tel:+442079460000;verstat=TN-Validation-Passed>" and
          header(r2, "Contact") == "<sip:+14155550100@127.0.0.1;user=phone>" and
          header(r2, "Cidguard-Action") == "allow", r2)
    before = metric(HTTP, "cidguard_sip_retransmissions_total")
    calls_before = metric(HTTP, 'cidguard_calls_total{listener="sip_verify"')
    r3 = udp(SIPV, msg, sock=sbc)
    check("retransmission answered identically from the transaction cache", r3 == r2)
    check("retransmission counted, not verified again",
          metric(HTTP, "cidguard_sip_retransmissions_total") == before + 1 and
          metric(HTTP, 'cidguard_calls_total{listener="sip_verify"') == calls_before)
    r4 = udp(SIPV, invite("+442079460000", "+14155550100",
                          extra="P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>\r\n"))
    check("inbound verstat never trusted: unsigned call is No-TN-Validation",
          header(r4, "P-Asserted-Identity") == "<tel:+442079460000;verstat=No-TN-Validation>", r4)
    r5 = udp(SIPV, invite("+442079460099", "+14155550100", [fresh_sid()]))
    check("spoofed From: TN-Validation-Failed, Reason 438, action label",
          "verstat=TN-Validation-Failed" in (header(r5, "P-Asserted-Identity") or "") and
          header(r5, "Reason") == 'SIP;cause=438;text="Invalid Identity Header"' and
          header(r5, "Cidguard-Action") == "label", r5)
    div = run(CG, "sign", "--key", os.path.join(state, "pki", "sp-1001.key"), "--x5u",
              "http://127.0.0.1:%d/certs/sp-1001.pem" % HTTP, "--orig", "+442079460000", "--dest",
              "+14155550100", "--ppt", "div", "--div", "+14155550199").stdout.strip()
    r6 = udp(SIPV, invite("+442079460000", "+14155550100", [div, fresh_sid()]))
    check("several Identity headers (div + shaken): passes", "verstat=TN-Validation-Passed" in
          (header(r6, "P-Asserted-Identity") or ""), r6)
    rr = udp(SIPV, invite("+442079460000", "+14155550100", [sid]))
    check("the same PASSporT on another call (replay): 608 Rejected, reason replay",
          rr and rr.startswith("SIP/2.0 608") and "replay" in (header(rr, "Cidguard-Reasons") or "") and
          header(rr, "Cidguard-Action") == "block", rr)
    r = udp(SIPV, invite("+1", "+2", method="OPTIONS"))
    check("OPTIONS answered 200", r and r.startswith("SIP/2.0 200"), r)
    r = udp(SIPV, invite("+1", "+2", method="BYE"))
    check("BYE answered 405", r and r.startswith("SIP/2.0 405"), r)
    r = udp(SIPV, invite("+1", "+2", method="CANCEL"))
    check("CANCEL answered 200", r and r.startswith("SIP/2.0 200"), r)
    check("ACK is absorbed", udp(SIPV, invite("+1", "+2", method="ACK"), timeout=0.5) is None)
    for name, m in [("binary garbage", os.urandom(600)),
                    ("truncated INVITE", invite("+1", "+2")[:90]),
                    ("1000 headers", b"INVITE sip:a@b SIP/2.0\r\n" + b"X-A: b\r\n" * 1000 + b"\r\n"),
                    ("oversized", b"INVITE sip:a@b SIP/2.0\r\n" + b"X" * 65000)]:
        r = udp(SIPV, m, timeout=0.5)
        check("UDP %s: dropped or 400" % name, r is None or r.startswith("SIP/2.0 400"), r)
    noto = invite("+1", "+2").replace(b"Call-ID:", b"X-Call-ID:")
    r = udp(SIPV, noto, timeout=1)
    check("request without Call-ID dropped (cannot be answered)", r is None, r)
    check("daemon still serving after bad input", udp(SIPV, msg, sock=sbc) == r2)

    # ---- SIP over TCP ------------------------------------------------------------------
    t = socket.create_connection(("127.0.0.1", SIPV), timeout=30)
    t.sendall(invite("+442079460000", "+14155550100", [fresh_sid()]) +
              invite("+442079460000", "+14155550100", [fresh_sid()]))
    data = b""
    while data.count(b"SIP/2.0 302") < 2:
        chunk = t.recv(65535)
        if not chunk:
            break
        data += chunk
    check("TCP: two pipelined INVITEs, two 302s", data.count(b"SIP/2.0 302") == 2 and
          b"TN-Validation-Passed" in data, data[:300])
    t.sendall(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n"
              b"To: <sip:c@d>\r\nCall-ID: y\r\nCSeq: 1 INVITE\r\nContent-Length: abc\r\n\r\n")
    try:
        r = t.recv(65535).decode()
    except socket.timeout:
        r = ""
    check("TCP: bad Content-Length answered 400 and closed", r.startswith("SIP/2.0 400") or r == "", r)
    t.close()

    # ---- metrics ---------------------------------------------------------------------------
    st, text, h = http(HTTP, "/metrics", method="GET", raw=True)
    check("/metrics in Prometheus text", st == 200 and "text/plain" in h.get("Content-Type", "") and
          'cidguard_calls_total{listener="sip_verify",verstat="TN-Validation-Passed",reason="ok"}' in text and
          "cidguard_fetch_seconds_bucket" in text and "cidguard_inflight 0" in text, text[:400])

    # ---- certificate fetching against a local HTTPS repository ---------------------------
    pki = os.path.join(WORK, "pki")
    run(CG, "pki", "init", pki, "--spc", "777A")
    other = os.path.join(WORK, "other")
    run(CG, "pki", "init", other, "--spc", "777A")
    repo = os.path.join(WORK, "repo")
    os.makedirs(repo)
    shutil.copy(os.path.join(pki, "sp-777A.pem"), os.path.join(repo, "ok.pem"))
    shutil.copy(os.path.join(pki, "sp-777A.pem"), os.path.join(repo, "ok2.pem"))
    shutil.copy(os.path.join(other, "sp-777A.pem"), os.path.join(repo, "foreign.pem"))
    # an expired SP certificate from the trusted CA (openssl ca can backdate)
    exp = os.path.join(WORK, "exp")
    os.makedirs(os.path.join(exp, "db"))
    open(os.path.join(exp, "db", "index.txt"), "w").close()
    with open(os.path.join(exp, "db", "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(exp, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/db/index.txt\nnew_certs_dir = %s/db\n"
                "serial = %s/db/serial\ncertificate = %s\nprivate_key = %s\ndefault_md = sha256\n"
                "policy = p\n[p]\ncommonName = supplied\n[e]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\n"
                "1.3.6.1.5.5.7.1.26 = DER:30:08:a0:06:16:04:37:37:37:41\n"
                "crlDistributionPoints = dp\n[dp]\nfullname = URI:http://127.0.0.1/crl.pem\n"
                "CRLissuer = dirName:crlsigner\n[crlsigner]\nC = US\nO = cidguard test PKI\n"
                "CN = cidguard test STI-PA CRL\n"
                % (exp, exp, exp, os.path.join(pki, "ca.pem"), os.path.join(pki, "ca.key")))
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", os.path.join(exp, "sp.key"))
    run("openssl", "req", "-new", "-key", os.path.join(exp, "sp.key"), "-subj", "/CN=SHAKEN 777A",
        "-out", os.path.join(exp, "sp.csr"))
    run("openssl", "ca", "-batch", "-config", os.path.join(exp, "ca.cnf"), "-extensions", "e",
        "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-notext",
        "-in", os.path.join(exp, "sp.csr"), "-out", os.path.join(exp, "sp.pem"))
    with open(os.path.join(repo, "expired.pem"), "w") as f:
        f.write(open(os.path.join(exp, "sp.pem")).read() + open(os.path.join(pki, "ca.pem")).read())
    srv_key, srv_crt = os.path.join(WORK, "srv.key"), os.path.join(WORK, "srv.crt")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", srv_key, "-out", srv_crt, "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1")
    cs = []

    def certserver():
        cs[:] = [free_port()]
        return [sys.executable, os.path.join(HERE, "certserver.py"), str(cs[0]), srv_crt, srv_key,
                repo], cs[0]

    procs.append(start(certserver, os.path.join(WORK, "certserver.log"), banner="ready"))
    REPO = "https://127.0.0.1:%d/" % cs[0]
    # fetch time limits grow with slow builds, as the repository's delays do
    b, (BHTTP, _, _) = daemon("fetcher", lambda h, v, s: (
        "state_dir = %s\nworkers = 2\n[verify]\ntrust = %s\ncrl = %s\ncrl_refresh = 1\n"
        "[fetch]\nallow = 127.0.0.1/32\nca_file = %s\ntimeout_ms = %d\nmax_bytes = 16384\n"
        % (os.path.join(WORK, "bstate"), os.path.join(pki, "root.pem"),
           os.path.join(pki, "crl.pem"), srv_crt, scaled(1000))))
    conf = os.path.join(WORK, "fetcher.conf")

    def tok(name, key=os.path.join(pki, "sp-777A.key")):
        return run(CG, "sign", "--key", key, "--x5u", REPO + name,
                   "--orig", "+12025550100", "--dest", "+12025550111", "--attest", "A").stdout.strip()

    def fetches_of(path):
        """How many times the repository was asked for path."""
        return int(urllib.request.urlopen(urllib.request.Request(REPO + "_count?/" + path),
                                          context=ssl._create_unverified_context(),
                                          timeout=60).read())

    def vb(name, key=os.path.join(pki, "sp-777A.key"), port=None):
        port = port or BHTTP
        st, r, _ = verify_http(port, "12025550100", "12025550111", tok(name, key))
        return r.get("verificationResponse", r)

    t0 = time.time()
    v = vb("ok.pem")
    check("cache miss fetched from the HTTPS repository, call passes",
          v.get("verstat") == "TN-Validation-Passed" and v.get("spc") == "777A", v)
    check("miss served in well under a second", time.time() - t0 < scaled(1.0), time.time() - t0)
    fetches = metric(BHTTP, 'cidguard_fetch_total{result="ok"}')
    v = vb("ok.pem")
    check("second call: cache hit, no new fetch", v.get("verstat") == "TN-Validation-Passed" and
          metric(BHTTP, 'cidguard_fetch_total{result="ok"}') == fetches, v)
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(lambda _: vb("delay-ok2.pem"), range(16)))
    n = fetches_of("delay-ok2.pem")
    check("16 concurrent calls for one new x5u: one fetch (single flight), all pass",
          n == 1 and all(x.get("verstat") == "TN-Validation-Passed" for x in res), (n, res[:2]))
    for name, label in [("slow-ok.pem", "timeout"), ("missing.pem", "404"),
                        ("big.pem", "oversized body"), ("redirect.pem", "redirect")]:
        t0 = time.time()
        v = vb(name)
        check("fetch %s: 436 No-TN-Validation" % label,
              v.get("reasonCode") == 436 and v.get("verstat") == "No-TN-Validation", v)
    check("timeout bounded by timeout_ms", time.time() - t0 < scaled(3))
    v = vb("foreign.pem", key=os.path.join(other, "sp-777A.key"))
    check("bundle from an untrusted CA (wrong chain): 437", v.get("reasonCode") == 437, v)
    v = vb("expired.pem", key=os.path.join(exp, "sp.key"))
    check("expired certificate: 437 'certificate has expired'", v.get("reasonCode") == 437 and
          "expired" in v.get("reasonDesc", ""), v)
    v = vb("missing.pem")
    check("negative cache: a failed x5u is not fetched again at once", v.get("reasonCode") == 436 and
          fetches_of("missing.pem") == 1, v)

    c, (CHTTP, _, _) = daemon("denied", lambda h, v, s: (
        "state_dir = %s\n[verify]\ntrust = %s\n[fetch]\nca_file = %s\n"
        % (os.path.join(WORK, "cstate"), os.path.join(pki, "root.pem"), srv_crt)))
    v = vb("ok.pem", port=CHTTP)
    check("private/loopback x5u denied unless allowed (SSRF guard): 436", v.get("reasonCode") == 436, v)
    log = open(os.path.join(WORK, "denied.log")).read()
    check("the denial is logged", "address denied" in log, log[-300:])

    # ---- overload: a worker holding max_pending calls answers 503 ------------------------------
    d, (DHTTP, DSIPV, _) = daemon("overload", lambda h, v, s: (
        "state_dir = %s\nworkers = 1\nmax_pending = 2\n[verify]\ntrust = %s\n"
        "[fetch]\nallow = 127.0.0.1/32\nca_file = %s\ntimeout_ms = %d\n"
        % (os.path.join(WORK, "dstate"), os.path.join(pki, "root.pem"), srv_crt, scaled(1500))))
    slow = tok("slow-ok.pem")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(scaled(15))
    for i in range(5):
        sock.sendto(invite("+12025550100", "+12025550111", [slow]), ("127.0.0.1", DSIPV))
    answers = []
    try:
        while len(answers) < 5:
            answers.append(sock.recv(65535).decode())
    except socket.timeout:
        pass
    n503 = sum(1 for r in answers if r.startswith("SIP/2.0 503") and header(r, "Retry-After") == "5")
    # the two parked calls are answered once the fetch ends (one token on two
    # calls: the second is a replay)
    check("overload: beyond max_pending parked calls, SIP 503 with Retry-After (3 of 5)",
          n503 == 3 and len(answers) == 5, [a.split("\r\n")[0] for a in answers])
    check("overload counted in /metrics", metric(DHTTP, 'cidguard_overload_total{listener="sip_verify"}') == 3)
    d.send_signal(signal.SIGTERM)
    check("overloaded daemon still exits cleanly", d.wait(timeout=scaled(10)) == 0,
          tail(os.path.join(WORK, "overload.log")))

    # ---- IPv6 listeners (skipped where the machine has no ::1) ----------------------------------
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
        have_v6 = True
    except OSError:
        have_v6 = False
    if have_v6:
        e, (EHTTP, ESIPV, _) = daemon("v6", lambda h, v, s: (
            "state_dir = %s\nworkers = 1\n[verify]\ntrust = %s\n"
            % (os.path.join(WORK, "estate"), os.path.join(pki, "root.pem"))), host="::1")
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.settimeout(10)
        s6.sendto(invite("+1", "+2", method="OPTIONS"), ("::1", ESIPV))
        try:
            r = s6.recv(65535).decode()
        except socket.timeout:
            r = None
        check("IPv6: SIP over UDP on [::1] answers OPTIONS", r and r.startswith("SIP/2.0 200"), r)
        with urllib.request.urlopen("http://[::1]:%d/healthz" % EHTTP, timeout=60) as resp:
            check("IPv6: HTTP on [::1]", resp.status == 200 and resp.read().strip() == b"ok")
        e.send_signal(signal.SIGTERM)
        check("IPv6 daemon exits cleanly", e.wait(timeout=scaled(10)) == 0)

    # ---- reload and drain ---------------------------------------------------------------------
    with open(conf, "a") as f:
        f.write("[verify]\nfreshness = 5\n")
    b.send_signal(signal.SIGHUP)
    reloaded = wait_for(lambda: "reloaded" in tail(os.path.join(WORK, "fetcher.log"), 1 << 20))
    v = vb("ok.pem")
    check("SIGHUP reloads without dropping calls", v.get("verstat") == "TN-Validation-Passed" and
          reloaded, v)
    with open(conf, "a") as f:
        f.write("[verify]\nbogus = 1\n")
    b.send_signal(signal.SIGHUP)
    time.sleep(scaled(0.3))
    check("a bad reload keeps the running configuration", vb("ok.pem").get("verstat") ==
          "TN-Validation-Passed")
    check("/metrics counts the failed reload and the good builds",
          metric(BHTTP, 'cidguard_config_builds_total{result="error"}') == 1 and
          metric(BHTTP, 'cidguard_config_builds_total{result="ok"}') >= 2 and
          abs(metric(BHTTP, "cidguard_config_built_timestamp_seconds") - time.time()) < 600)
    # CRL refresh on a timer: revoke the repository's leaf in the CRL file
    run(CG, "pki", "revoke", pki, os.path.join(pki, "sp-777A-leaf.pem"))
    v = {}

    def revoked():
        v.update(vb("ok.pem"))
        return v.get("reasonCode") == 437

    wait_for(revoked, 10, 0.25)  # crl_refresh = 1 s
    check("CRL refreshed on its timer: the revoked certificate now fails (437)",
          v.get("reasonCode") == 437 and "revoked" in v.get("reasonDesc", ""),
          (v, tail(os.path.join(WORK, "fetcher.log"), 600)))
    check("the refresh is logged", "CRLs refreshed" in tail(os.path.join(WORK, "fetcher.log"), 1 << 20))
    for p in (a, b, c):
        p.send_signal(signal.SIGTERM)
    codes = [p.wait(timeout=scaled(10)) for p in (a, b, c)]
    check("SIGTERM drains and exits 0", codes == [0, 0, 0],
          (codes, tail(os.path.join(WORK, "main.log"))))
finally:
    stop(procs, WORK)

finish()
