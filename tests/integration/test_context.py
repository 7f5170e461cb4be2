"""A call is decided entirely under the configuration it started with.

Two calls arrive while their signer's certificate is not cached; they park
on a slow x5u fetch (the local HTTPS repository answers after 3 s).  While
they wait, the configuration is replaced and the daemon sent SIGHUP: the new
one trusts another root, no longer lists the first caller as Do-Not-
Originate, and blocks with 603 instead of 608.  When the certificate
arrives, each parked call must be verified and decided under the old
configuration (the old trust anchor: passed; the old DNO list and response
code: 608), and a call that starts after the reload under the new one.

    python3 test_context.py BUILD_DIR
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, header, start, stop, wait_port  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="cgd-context-")
DNO_CALLER, PLAIN_CALLER, CALLEE = "12025550100", "12025550123", "12025550111"
procs = []


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True)


def invite(frm, identity, branch):
    return ("INVITE sip:+%s@127.0.0.1;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
            "Call-ID: %s@context\r\nCSeq: 1 INVITE\r\nIdentity: %s\r\nContent-Length: 0\r\n\r\n"
            % (CALLEE, branch, frm, CALLEE, branch, identity)).encode()


def write_conf(path, state, http, sip, sign, trust, dno, block, srv_crt):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\nsip_verify_listen = 127.0.0.1:%d\n"
                "sip_sign_listen = 127.0.0.1:%d\nworkers = 2\ndecision_log = off\n"
                "[verify]\ntrust = %s\n"
                "[fetch]\nallow = 127.0.0.1/32\nca_file = %s\ntimeout_ms = 8000\n"
                "[policy]\ndno = %s\nblock_response = %d\n"
                % (state, http, sip, sign, trust, srv_crt, dno, block))
    os.rename(tmp, path)


try:
    pki, other = os.path.join(WORK, "pki"), os.path.join(WORK, "other")
    run(CG, "pki", "init", pki, "--spc", "1234")
    run(CG, "pki", "init", other, "--spc", "1234")
    repo = os.path.join(WORK, "repo")
    os.makedirs(repo)
    for name in ("a.pem", "b.pem"):  # two files: two fetches in flight
        with open(os.path.join(repo, name), "w") as f:
            f.write(open(os.path.join(pki, "sp-1234.pem")).read())
    srv_key, srv_crt = os.path.join(WORK, "srv.key"), os.path.join(WORK, "srv.crt")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", srv_key, "-out", srv_crt, "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1")
    cport, = free_ports(1)
    procs.append(subprocess.Popen([sys.executable, os.path.join(HERE, "certserver.py"), str(cport),
                                   srv_crt, srv_key, repo]))
    check("the HTTPS certificate repository is up", wait_port(cport))

    dno_v1, dno_v2 = os.path.join(WORK, "dno1.csv"), os.path.join(WORK, "dno2.csv")
    with open(dno_v1, "w") as f:
        f.write("number,note\n%s,inbound only\n" % DNO_CALLER)
    with open(dno_v2, "w") as f:
        f.write("number,note\n")
    conf, state = os.path.join(WORK, "d.conf"), os.path.join(WORK, "state")
    ports = {}

    def configure():
        ports["http"], = free_ports(1)
        ports["sip"], ports["sign"] = free_ports(2, udp=True)
        write_conf(conf, state, ports["http"], ports["sip"], ports["sign"],
                   os.path.join(pki, "root.pem"), dno_v1, 608, srv_crt)
        return [CGD, "-c", conf], ports["http"]

    d = start(configure, os.path.join(WORK, "d.log"))
    procs.append(d)
    http, sip, sign = ports["http"], ports["sip"], ports["sign"]

    def token(path, orig):
        return run(CG, "sign", "--key", os.path.join(pki, "sp-1234.key"), "--x5u",
                   "https://127.0.0.1:%d/%s" % (cport, path), "--orig", "+" + orig,
                   "--dest", "+" + CALLEE, "--attest", "A").stdout.strip()

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(20)
    t0 = time.time()
    s.sendto(invite(DNO_CALLER, token("slow-a.pem", DNO_CALLER), "ctx-dno"), ("127.0.0.1", sip))
    s.sendto(invite(PLAIN_CALLER, token("slow-b.pem", PLAIN_CALLER), "ctx-plain"), ("127.0.0.1", sip))
    time.sleep(0.5)
    write_conf(conf, state, http, sip, sign, os.path.join(other, "root.pem"), dno_v2, 603, srv_crt)
    d.send_signal(signal.SIGHUP)
    reloaded = False
    while time.time() - t0 < 2.5 and not reloaded:
        reloaded = "configuration reloaded" in open(os.path.join(WORK, "d.log")).read()
        time.sleep(0.05)
    check("the reload landed while both calls were parked on the fetch (%.2f s after sending)"
          % (time.time() - t0), reloaded)
    answers = {}
    for _ in range(2):
        r = s.recv(65535).decode()
        answers[header(r, "Call-ID")] = r
    waited = time.time() - t0
    check("the calls were answered after the slow fetch (%.2f s)" % waited, waited >= 2.5, waited)
    a = answers.get("ctx-dno@context", "")
    check("the DNO caller parked across the reload is blocked as the old configuration says (608, dno)",
          a.startswith("SIP/2.0 608") and "dno" in (header(a, "Cidguard-Reasons") or ""), a)
    b = answers.get("ctx-plain@context", "")
    check("the other call parked across the reload is verified with the old trust anchor (passed)",
          b.startswith("SIP/2.0 302") and
          header(b, "Cidguard-Verstat") == "TN-Validation-Passed", b)

    # a call that starts now is decided under the new configuration: the
    # certificate is cached, its root no longer trusted, the number no
    # longer on the DNO list
    s.sendto(invite(DNO_CALLER, token("slow-a.pem", DNO_CALLER), "ctx-after"), ("127.0.0.1", sip))
    r2 = s.recv(65535).decode()
    check("a call started after the reload is decided under the new configuration (not DNO, "
          "old root untrusted)",
          r2.startswith("SIP/2.0 302") and header(r2, "Cidguard-Verstat") == "TN-Validation-Failed" and
          "dno" not in (header(r2, "Cidguard-Reasons") or ""), r2)
finally:
    stop(procs, WORK)

finish()
