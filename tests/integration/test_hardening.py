"""The daemon holds against callers who shape their requests to slip past
a rule, and against operators' mistakes that would split its traffic.

- a PASSporT for the From number does not make a different
  P-Asserted-Identity look verified;
- a caller hidden behind a display name holding <...>, a long display name
  or long URI parameters is still read (a DNO number stays blocked), and a
  calling-number header that cannot be read is a finding of its own;
- a token is used once, whichever entry point (HTTP, then SIP) sees it;
- a trunk group written into the Request-URI by the caller does not change
  the call's ingress; one set by a trusted SBC does, read from the user
  part only and without regard to case;
- IPv4 ingress and customer rows match IPv4 peers on a dual-stack listener;
- the SIP front end refuses Request-URIs that would rewrite the Contact, keeps
  the signing and verification listeners' transactions apart, and does not
  drop a shared TCP connection for a header named Content-Length-Ext;
- a second daemon on the same ports refuses to start;
- X-RequestID is echoed only when it is printable;
- x5u fetches never reach IPv6 forms of inside addresses, and never go
  through a proxy named in the environment.

    python3 test_hardening.py BUILD_DIR
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, finish, free_ports, header, start, stop, tail,  # noqa: E402
                     wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-hardening-")
procs = []
UK = "442079460123"      # a UK geographic number (Ofcom's drama range)
DNO = "442079460999"     # on the Do-Not-Originate list
CONSUMER = "447700900123"  # a UK mobile (drama range)
CALLEE = "14155550100"
TRUSTED_SBC = "127.0.0.2"  # sends from this address: the only one allowed to set tgrp
PORTS = {}


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True)


def sign(orig):
    return run(CG, "sign", "--key", os.path.join(WORK, "pki", "sp-1234.key"), "--x5u",
               "http://127.0.0.1:%d/certs/sp-1234.pem" % PORTS["http"], "--orig", "+" + orig,
               "--dest", "+" + CALLEE, "--attest", "A").stdout.strip()


def invite(frm, ruri=None, pai=None, identity=None, src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(20)
    branch = os.urandom(6).hex()
    msg = ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5999;branch=z9hG4bK%s\r\n"
           "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
           "Call-ID: %s@hardening\r\nCSeq: 1 INVITE\r\n%s%sContent-Length: 0\r\n\r\n"
           % (ruri or "sip:+%s@127.0.0.1;user=phone" % CALLEE, src, branch, frm, CALLEE, branch,
              "P-Asserted-Identity: <sip:+%s@carrier.example;user=phone>\r\n" % pai if pai else "",
              "Identity: %s\r\n" % identity if identity else ""))
    s.sendto(msg.encode(), ("127.0.0.1", PORTS["sip"]))
    try:
        return s.recv(65535).decode()
    finally:
        s.close()


def reasons(resp):
    return set(filter(None, (header(resp, "Cidguard-Reasons") or "").split(",")))


def conf_text(extra=""):
    return ("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\nsip_verify_listen = 127.0.0.1:%d\n"
            "sip_sign_listen = 127.0.0.1:%d\nworkers = 2\ndecision_log = off\n"
            "[verify]\ntrust = %s\n[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\ntimeout_ms = 3000\n"
            "[policy]\ningress = %s\ntgrp_from = %s\ndno = %s\nactions = uk_allocation_unknown=allow\n%s"
            % (os.path.join(WORK, "state"), PORTS["http"], PORTS["sip"], PORTS["sign"],
               os.path.join(WORK, "pki", "root.pem"), os.path.join(WORK, "ingress.csv"), TRUSTED_SBC,
               os.path.join(WORK, "dno.csv"), extra))


class ProxyTrap(threading.Thread):
    """A TCP listener standing in for a proxy: counts who connects."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.hits = 0

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            c.close()


try:
    run(CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "1234")
    os.makedirs(os.path.join(WORK, "state", "certs"))
    shutil.copy(os.path.join(WORK, "pki", "sp-1234.pem"), os.path.join(WORK, "state", "certs"))
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n%s,inbound only\n" % DNO)
    with open(os.path.join(WORK, "ingress.csv"), "w") as f:
        # the packets' source is the international gateway; "dom" and "intl"
        # are trunk groups a trusted SBC may name
        f.write("ingress,international,addresses,note\n"
                "intl,yes,127.0.0.1,international gateway\ndom,no,,domestic trunk group\n")
    conf = os.path.join(WORK, "d.conf")
    trap = ProxyTrap()
    trap.start()

    def configure():
        PORTS["http"], = free_ports(1)
        PORTS["sip"], PORTS["sign"] = free_ports(2, udp=True)
        with open(conf, "w") as f:
            f.write(conf_text())
        return [CGD, "-c", conf], PORTS["http"]

    env_proxy = "http://127.0.0.1:%d" % trap.port
    os.environ["https_proxy"] = os.environ["http_proxy"] = os.environ["HTTPS_PROXY"] = env_proxy
    os.environ["ALL_PROXY"] = env_proxy
    d = start(configure, os.path.join(WORK, "d.log"))
    procs.append(d)

    # --- verstat only on the number the PASSporT covered -------------------
    r = invite(CONSUMER, identity=sign(CONSUMER))
    check("a signed call whose PAI is its From: PAI carries TN-Validation-Passed",
          header(r, "P-Asserted-Identity") == "<tel:+%s;verstat=TN-Validation-Passed>" % CONSUMER, r)
    check("the x5u was fetched directly, not through the proxy in the environment",
          trap.hits == 0 and header(r, "Cidguard-Verstat") == "TN-Validation-Passed",
          "%d connections to the proxy" % trap.hits)
    other = "447700900456"
    r = invite(CONSUMER, pai=other, identity=sign(CONSUMER))
    pai = header(r, "P-Asserted-Identity") or ""
    check("a token for the From number with another PAI: the PAI is not asserted as verified",
          r.startswith("SIP/2.0 302") and other in pai and "TN-Validation-Passed" not in pai, r)

    # --- trunk groups -------------------------------------------------------
    r = invite(UK)
    check("a UK number from the international gateway (by source address) is blocked",
          r.startswith("SIP/2.0 608") and "intl_ingress_uk_cli" in reasons(r), r)
    for ruri in ("sip:+%s;tgrp=dom@127.0.0.1;user=phone" % CALLEE,
                 "sip:+%s;TGRP=dom;trunk-context=x@127.0.0.1;user=phone" % CALLEE,
                 "sip:+%s@127.0.0.1;user=phone;tgrp=dom" % CALLEE):
        r = invite(UK, ruri=ruri)
        check("the caller's own tgrp does not move it off the international ingress: %s" % ruri,
              r.startswith("SIP/2.0 608") and "intl_ingress_uk_cli" in reasons(r), r)
    r = invite(UK, ruri="sip:+%s;TGrp=intl;trunk-context=x@127.0.0.1;user=phone" % CALLEE,
               src=TRUSTED_SBC)
    check("a trusted SBC's tgrp names the ingress, whatever its case (international: blocked)",
          r.startswith("SIP/2.0 608") and "intl_ingress_uk_cli" in reasons(r), r)
    r = invite(UK, ruri="sip:+%s;tgrp=dom;trunk-context=x@127.0.0.1;user=phone" % CALLEE,
               src=TRUSTED_SBC)
    check("a trusted SBC's tgrp names a domestic trunk group: the UK number passes",
          r.startswith("SIP/2.0 302") and "intl_ingress_uk_cli" not in reasons(r), r)
    for user in (";tgrp=dom;tgrp=intl", ";tgrp=intl;tgrp=dom", ";%74grp=dom", ";tgrp=%64om",
                 ";TGRP=dom;tgrp=dom", ";tgrp"):
        r = invite(UK, ruri="sip:+%s%s;trunk-context=x@127.0.0.1;user=phone" % (CALLEE, user),
                   src=TRUSTED_SBC)
        check("a trusted SBC's trunk group that cannot be read as one (%s) is taken as a call from "
              "abroad" % user, r.startswith("SIP/2.0 608") and "intl_ingress_uk_cli" in reasons(r),
              r[:400])
    r = invite(UK, ruri="sip:+%s@127.0.0.1;user=phone;tgrp=intl" % CALLEE, src=TRUSTED_SBC)
    check("a tgrp among the host's parameters is not RFC 4904's and is not read",
          r.startswith("SIP/2.0 302") and "intl_ingress_uk_cli" not in reasons(r), r)

    # --- callers that cannot be read ---------------------------------------
    def raw_invite(from_hdr, pai_hdr=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(20)
        branch = os.urandom(6).hex()
        s.sendto(("INVITE sip:+%s@127.0.0.1;user=phone SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\nFrom: %s;tag=1\r\n"
                  "To: <sip:+%s@127.0.0.1>\r\nCall-ID: %s@hardening\r\nCSeq: 1 INVITE\r\n%s"
                  "Content-Length: 0\r\n\r\n"
                  % (CALLEE, branch, from_hdr, CALLEE, branch,
                     "P-Asserted-Identity: %s\r\n" % pai_hdr if pai_hdr else "")).encode(),
                 ("127.0.0.1", PORTS["sip"]))
        try:
            return s.recv(65535).decode()
        finally:
            s.close()

    dno = "<sip:+%s@carrier.example;user=phone>" % DNO
    for name, frm, pai in (
            ("plain", dno, None),
            ("a quoted display name holding <...>", '"HMRC <Fraud Team>" ' + dno, None),
            ("a 600-byte display name", '"%s" %s' % ("A" * 600, dno), None),
            ("600 bytes of URI parameters", "<sip:+%s@carrier.example;user=phone%s>"
             % (DNO, ";x=" + "y" * 597), None),
            ("the DNO number in PAI behind a display name", "<sip:+%s@carrier.example>" % CONSUMER,
             '"Bank <Fraud>" ' + dno)):
        r = raw_invite(frm, pai)
        check("a DNO caller with %s is blocked" % name,
              r.startswith("SIP/2.0 608") and "dno" in reasons(r), r[:400])
    r = raw_invite('"unbalanced <sip:+%s@carrier.example>' % CONSUMER)
    check("a From that cannot be read is not a call without rules: 400 or blocked",
          r.startswith("SIP/2.0 400") or (r.startswith("SIP/2.0 608") and "caller_unreadable" in reasons(r)),
          r[:400])
    r = raw_invite("<sip:+%s@carrier.example>" % CONSUMER, "<sip:+44%s@x>" % ("7" * 30))
    check("a PAI that holds no readable number: caller_unreadable, blocked",
          r.startswith("SIP/2.0 608") and "caller_unreadable" in reasons(r), r[:400])
    r = raw_invite("<sip:+%s@carrier.example>" % CONSUMER, "<sip:+%s@x;user=phone>\r\n"
                   "P-Asserted-Identity: <tel:+%s>" % (CONSUMER, DNO))
    check("a second P-Asserted-Identity naming another number (a DNO one) is not ignored",
          r.startswith("SIP/2.0 608") and "caller_unreadable" in reasons(r), r[:400])
    r = raw_invite("<sip:+%s@carrier.example>" % CONSUMER, "<sip:+%s@x;user=phone>\r\n"
                   "P-Asserted-Identity: <tel:+%s>" % (CONSUMER, CONSUMER))
    check("a sip and a tel P-Asserted-Identity for the same number are one caller",
          "caller_unreadable" not in reasons(r) and CONSUMER in (header(r, "P-Asserted-Identity") or ""),
          r[:400])
    r = raw_invite("<sip:anonymous@anonymous.invalid>")
    check("an anonymous caller (no number, well formed) is not unreadable",
          "caller_unreadable" not in reasons(r), r[:400])

    # --- replays on every entry point ------------------------------------------
    def verify_json(identity, call_id=None):
        req = {"from": {"tn": CONSUMER}, "to": {"tn": [CALLEE]}, "time": int(time.time()),
               "identity": identity}
        if call_id:
            req["callId"] = call_id
        body = json.dumps({"verificationRequest": req}).encode()
        r = urllib.request.Request("http://127.0.0.1:%d/stir/v1/verification" % PORTS["http"],
                                   data=body, headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(r, timeout=20) as resp:
            return json.loads(resp.read())["verificationResponse"]

    tok = sign(CONSUMER)
    first, second = verify_json(tok), verify_json(tok)
    check("HTTP: a token passes once, and its second use is a replay",
          first["verstat"] == "TN-Validation-Passed" and "replay" in second["reasons"],
          (first, second))
    r = invite(CONSUMER, identity=tok)
    check("the same token then over SIP is a replay too",
          r.startswith("SIP/2.0 608") and "replay" in reasons(r), r[:400])
    tok = sign(CONSUMER)
    a, b = verify_json(tok, "call-1@sbc"), verify_json(tok, "call-1@sbc")
    check("HTTP with the call's callId: a retry of the same call is not a replay",
          "replay" not in a["reasons"] and "replay" not in b["reasons"], (a, b))

    # --- the HTTP API's ingress member --------------------------------------------
    def verify_from(src, ingress):
        body = json.dumps({"verificationRequest": {"from": {"tn": UK}, "to": {"tn": [CALLEE]},
                                                   "time": int(time.time()), "identity": "x",
                                                   "ingress": ingress}})
        c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=20, source_address=(src, 0))
        c.request("POST", "/stir/v1/verification", body, {"Content-Type": "application/json"})
        out = json.loads(c.getresponse().read())["verificationResponse"]
        c.close()
        return out

    v = verify_from("127.0.0.1", "dom")
    check("HTTP: a client's own ingress member does not move it off the international gateway",
          "intl_ingress_uk_cli" in v["reasons"], v)
    v = verify_from(TRUSTED_SBC, "dom")
    check("HTTP: a trusted SBC's ingress member names the trunk", "intl_ingress_uk_cli" not in v["reasons"], v)

    # --- X-RequestID --------------------------------------------------------
    def verify_http(rid):
        body = json.dumps({"verificationRequest": {"from": {"tn": CONSUMER}, "to": {"tn": [CALLEE]},
                                                   "time": 1, "identity": "x"}}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/stir/v1/verification" % PORTS["http"],
                                     data=body, headers={"Content-Type": "application/json",
                                                         "X-RequestID": rid})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=20) as resp:
                return resp.headers.get("X-RequestID")
        except urllib.error.HTTPError as e:
            return e.headers.get("X-RequestID")

    check("a printable X-RequestID is echoed", verify_http("req-42 ok") == "req-42 ok")
    for bad in ("a\x01b", "a\x1bb", "a\x7fb", "a\tb"):
        check("an X-RequestID holding %r is not echoed" % bad, verify_http(bad) is None)

    # --- x5u addresses ------------------------------------------------------
    for host in ("[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[::7f00:1]", "[64:ff9b:1::7f00:1]"):
        tok = run(CG, "sign", "--key", os.path.join(WORK, "pki", "sp-1234.key"), "--x5u",
                  "http://%s:%d/certs/sp-1234.pem" % (host, PORTS["http"]), "--orig",
                  "+" + CONSUMER, "--dest", "+" + CALLEE, "--attest", "A").stdout.strip()
        r = invite(CONSUMER, identity=tok)
        check("an x5u at %s (an IPv6 form of an inside address) is refused" % host,
              header(r, "Cidguard-Verstat") != "TN-Validation-Passed" and
              wait_for(lambda: "address denied" in tail(os.path.join(WORK, "d.log"), 1 << 20)
                       .split(host)[-1], 5), tail(os.path.join(WORK, "d.log")))
    check("still no connection to the proxy", trap.hits == 0, trap.hits)

    # --- the SIP front end's edges ------------------------------------------------
    def udp_raw(port, msg):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(20)
        s.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            return s.recv(65535).decode()
        finally:
            s.close()

    def msg(method, branch, ruri="sip:+%s@127.0.0.1;user=phone" % CALLEE, cseq="1", extra=""):
        return ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
                "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
                "Call-ID: %s@edge\r\nCSeq: %s %s\r\n%sContent-Length: 0\r\n\r\n"
                % (method, ruri, branch, CONSUMER, CALLEE, branch, cseq, method, extra))

    r = udp_raw(PORTS["sip"], msg("INVITE", "inj1", ruri="sip:x@sbc>,<sip:evil@attacker.example"))
    check("a Request-URI that would add a redirect target is refused (400), no Contact",
          r.startswith("SIP/2.0 400") and "attacker" not in (header(r, "Contact") or ""), r[:300])
    r = udp_raw(PORTS["sip"], msg("INVITE", "inj2", ruri="sip:x@sbc>;expires=0"))
    check("a Request-URI closing the Contact early is refused (400)", r.startswith("SIP/2.0 400"), r[:300])
    r = udp_raw(PORTS["sip"], msg("INVITE", "cseq", cseq="2147483648"))
    check("CSeq 2^31 is refused (400)", r.startswith("SIP/2.0 400"), r[:300])
    r = udp_raw(PORTS["sip"], msg("X" * 200, "longmethod"))
    check("an unknown 200-character method gets 405", r.startswith("SIP/2.0 405"), r[:300])
    signing = udp_raw(PORTS["sign"], msg("INVITE", "shared-tx"))
    verifying = udp_raw(PORTS["sip"], msg("INVITE", "shared-tx"))
    check("the same transaction identifiers on the signing and verification listeners get their "
          "own answers", verifying.startswith("SIP/2.0 302") and header(verifying, "Cidguard-Verstat")
          and not header(verifying, "Identity") and signing != verifying, (signing[:200], verifying[:300]))
    t = socket.create_connection(("127.0.0.1", PORTS["sip"]))
    t.settimeout(20)
    t.sendall(msg("OPTIONS", "ext1", extra="Content-Length-Ext: 1\r\n").encode())
    first = t.recv(65535).decode()
    t.sendall(msg("OPTIONS", "ext2").encode())
    second = t.recv(65535).decode()
    t.close()
    check("a header named Content-Length-Ext does not end a shared TCP connection",
          first.startswith("SIP/2.0 200") and second.startswith("SIP/2.0 200"), (first, second))

    # --- a dual-stack listener: IPv4 peers arrive as ::ffff:a.b.c.d --------------
    with open(os.path.join(WORK, "customers.csv"), "w") as f:
        f.write("customer,addresses,numbers\nlab,127.0.0.1,%s\n" % UK)
    mapped_conf = os.path.join(WORK, "mapped.conf")
    mports = {}

    def mapped():
        mports["http"], = free_ports(1)
        mports["sip"], mports["sign"] = free_ports(2, udp=True)
        with open(mapped_conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = [::ffff:127.0.0.1]:%d\n"
                    "sip_verify_listen = [::ffff:127.0.0.1]:%d\nsip_sign_listen = [::ffff:127.0.0.1]:%d\n"
                    "workers = 1\ndecision_log = off\n[verify]\ntrust = %s\n"
                    "[sign]\nkey = %s\nx5u = https://cr.example.net/sp-1234.pem\ncustomers = %s\n"
                    "[policy]\ningress = %s\nactions = uk_allocation_unknown=allow\n"
                    % (os.path.join(WORK, "mapped"), mports["http"], mports["sip"], mports["sign"],
                       os.path.join(WORK, "pki", "root.pem"), os.path.join(WORK, "pki", "sp-1234.key"),
                       os.path.join(WORK, "customers.csv"), os.path.join(WORK, "ingress.csv")))
        return [CGD, "-c", mapped_conf], mports["http"]

    procs.append(start(mapped, os.path.join(WORK, "mapped.log"), banner=False))
    r = udp_raw(mports["sip"], msg("INVITE", "mapped1").replace("+" + CONSUMER, "+" + UK, 1))
    check("on a dual-stack listener an IPv4 ingress row still matches: UK number from the "
          "international gateway blocked", r.startswith("SIP/2.0 608") and
          "intl_ingress_uk_cli" in reasons(r), r[:400])
    r = udp_raw(mports["sign"], msg("INVITE", "mapped2").replace("+" + CONSUMER, "+" + UK, 1))
    check("on a dual-stack listener an IPv4 customer row still matches: its own number signed A",
          header(r, "Cidguard-Attest") == "A", r[:400])

    # --- a second daemon on the same ports ------------------------------------
    twin_conf = os.path.join(WORK, "twin.conf")
    with open(twin_conf, "w") as f:
        f.write(conf_text().replace(os.path.join(WORK, "state"), os.path.join(WORK, "twin")))
    twin = subprocess.run([CGD, "-c", twin_conf], capture_output=True, text=True, timeout=30)
    check("a second daemon on the same ports refuses to start, saying why",
          twin.returncode != 0 and "already in use" in twin.stderr, twin.stderr[-500:])
    r = invite(CONSUMER, identity=sign(CONSUMER))
    check("the first daemon still answers", header(r, "Cidguard-Verstat") == "TN-Validation-Passed", r)
    with open(twin_conf, "w") as f:
        f.write(conf_text().replace(os.path.join(WORK, "state"), os.path.join(WORK, "twin"))
                .replace("[server]\n", "[server]\nshare_ports = yes\n"))
    twin = subprocess.Popen([CGD, "-c", twin_conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    procs.append(twin)
    check("with share_ports = yes the second daemon starts",
          not wait_for(lambda: twin.poll() is not None, 3), twin.poll())

    # --- the configuration file's lines: one plain form, anything else refused by its line ---
    def conf_run(text, name):
        path = os.path.join(WORK, name)
        with open(path, "wb") as f:
            f.write(text)
        return subprocess.run([CGD, "-c", path], capture_output=True, text=True, timeout=30)
    r = conf_run(b"# " + b"a long comment, = x " * 20 + b"\n[server]\nbogus = 1\n", "long-comment.conf")
    check("a comment over 199 characters is a comment: the error is the directive on line 3",
          r.returncode != 0 and "unknown directive [server] bogus" in r.stderr and
          ":3:" in r.stderr and "[] " not in r.stderr, r.stderr[-500:])
    # The annotated example the package installs, and what --directives
    # prints: each read whole (every directive, empty ones at their
    # defaults), so that the start stops only at the missing TLS certificate
    # named here.
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(src, "docs", "cidguardd.conf"), "rb") as f:
        example = f.read()
    directives = subprocess.run([CGD, "--directives"], capture_output=True, timeout=30).stdout
    missing = os.path.join(WORK, "no-such-cert.pem").encode()
    for name, text in (("example.conf", example), ("directives.conf", directives)):
        assert b"\ncert = \n" in text and b"\nstate_dir = \n" in text
        text = text.replace(b"\ncert = \n", b"\ncert = " + missing + b"\n", 1).replace(
            b"\nstate_dir = \n", b"\nstate_dir = " + os.path.join(WORK, "ex-state").encode() +
            b"\n", 1)
        r = conf_run(text, name)
        check("%s is read whole: the start stops only at [tls] cert" % name,
              r.returncode != 0 and "[tls] cert %s: No such file" % missing.decode() in r.stderr
              and "%s:" % name not in r.stderr, r.stderr[-800:])
    trunks = b";".join(b"10.0.%d.1" % i for i in range(60))
    r = conf_run(b"[policy]\ntgrp_from = " + trunks + b"; 10.0.0.300\n", "long-list.conf")
    check("a list longer than a line of 200 bytes is read whole: its last item is checked",
          r.returncode != 0 and 'long-list.conf:2: [policy] tgrp_from: "10.0.0.300" is not' in
          r.stderr, r.stderr[-500:])
    r = conf_run(b"[server]\nstate_dir = /" + b"d" * 5000 + b"\n", "over-field.conf")
    check("a value longer than its field is refused by its line",
          r.returncode != 0 and "over-field.conf:2: [server] state_dir is longer than" in r.stderr,
          r.stderr[-500:])
    r = conf_run(b"# caf\xc3\xa9 \xe2\x80\xae\n[server]\nworkers =\nmax_pending = \t\n"
                 b"[policy]\nmin_attest_uk = none\nmin_attest_other = C\nbogus = 1\n", "empty.conf")
    check("empty values take the default, none is a minimum, a comment holds any text: the "
          "only error is line 8's",
          r.returncode != 0 and "empty.conf:8: unknown directive [policy] bogus" in r.stderr and
          r.stderr.count("empty.conf:") == 1, r.stderr[-500:])
    # Lines the INI reader would take otherwise than they read, each refused by its line:
    # (name, text, the line, the message)
    base = b"[server]\nworkers = 1\n"
    for name, text, line, why in (
            ("lone-cr", b"[server]\rworkers = 1\r", 1, "a carriage return inside the line"),
            ("after-bracket", b"[server] workers = 7\n", 1, "text after a section's ']'"),
            ("no-bracket", base + b"[policy\n", 3, "a section line without ']'"),
            ("no-equals", base + b"workers 2\n", 3, "neither a [section] nor name = value"),
            ("list-comment", base + b"[verify]\ntrust = a.pem ; b.pem\n", 4,
             "';' after a blank inside a value"),
            ("hash-comment", base + b"decision_log = off   # none\n", 3,
             "'#' after a blank inside a value"),
            ("quoted", base + b'state_dir = "/tmp/x"\n', 3, "a quoted value"),
            ("single-quoted", base + b"state_dir = '/tmp/x'\n", 3, "a quoted value"),
            ("open-quote", base + b'state_dir = "/tmp/x\n', 3, "a quoted value"),
            ("comment-value", base + b"[policy]\ntgrp_from = ;0.0.0.0/0\n", 4,
             "a value starting with ';' or '#'"),
            ("hash-value", base + b"decision_log = # off\n", 3, "a value starting with ';' or '#'"),
            ("long-cert-name", base + b"[policy]\ntgrp_from = cert:" + b"n" * 256 + b"\n", 4,
             '[policy] tgrp_from: "cert:' + "n" * 256 + '" is a certificate name longer than 255'),
            ("form-feed", base + b"state_dir = /tmp/x\f;y\n", 3, "a control character"),
            ("no-break-space", base + b"decision_log = off\xc2\xa0\n", 3,
             "a character outside ASCII in a directive"),
            ("bidi-override", base + b"[policy]\ntgrp_from = 10.0.0.1\xe2\x80\xae\n", 4,
             "a character outside ASCII in a directive"),
            ("medium-space", base + b"decision_log = off\xe2\x81\x9f\n", 3,
             "a character outside ASCII in a directive"),
            ("overlong-space", base + b"decision_log = off\xc0\xa0\n", 3,
             "a character outside ASCII in a directive"),
            ("bad-cidr", base + b"[fetch]\nallow = 10.0.0.0/8; 192.0.2.0/33\n", 4,
             '[fetch] allow: "192.0.2.0/33" is not an address or CIDR'),
            ("bad-peer", base + b"[sign]\ncustomer_from = sbc.example\n", 4,
             '[sign] customer_from: "sbc.example" is not an address, CIDR or cert:NAME'),
            ("bad-action", base + b"[policy]\nactions = rate_calls=block; dno=allo\n", 4,
             '[policy] actions: "dno=allo" is not reason='),
            ("bad-attest", base + b"[policy]\nmin_attest_uk = AB\n", 4,
             '[policy] min_attest_uk: "AB" is not A, B, C or none'),
            ("bad-country", base + b"[verify]\ncountry_code = 0044\n", 4,
             '[verify] country_code: "0044" is not a country code'),
            ("bad-response", base + b"[policy]\nblock_response = 604\n", 4,
             '[policy] block_response: "604" is neither 603 nor 608'),
            ("bad-exempt", base + b"[policy]\ncampaign_exempt = 1234/acct-1; intl-gw\n", 4,
             '[policy] campaign_exempt: "intl-gw" is not SPC, SPC/ORIGID or ingress:NAME'),
            ("exempt-no-origid", base + b"[policy]\ncampaign_exempt = 1234/\n", 4,
             '[policy] campaign_exempt: "1234/" is an SPC/ without an origid'),
            ("exempt-many", base + b"[policy]\ncampaign_exempt = " +
             b";".join(b"S%d" % i for i in range(257)) + b"\n", 4,
             "[policy] campaign_exempt: more than 256 items"),
            ("exempt-blank", base + b"[policy]\ncampaign_exempt = ingress:a b\n", 4,
             '[policy] campaign_exempt: "ingress:a b" is an ingress name with a blank in it'),
            ("continued", base + b"[policy]\ndno = a.csv\n  b.csv\n", 5, "an indented line"),
            ("repeated", base + b"[policy]\ndno = a.csv\n[server]\nworkers = 2\n", 6,
             "[server] workers is set again (first on line 2)"),
            ("no-section", b"workers = 1\n", 1, "a directive before the first [section]"),
            ("bad-value", base + b"max_pending = lots\n", 3,
             "[server] max_pending wants an integer from 1 to 1000000")):
        r = conf_run(text, name + ".conf")
        check("configuration %s: refused by its line" % name,
              r.returncode != 0 and "%s.conf:%d: %s" % (name, line, why) in r.stderr,
              r.stderr[-500:])
    r = conf_run(b"\xef\xbb\xbf# " + b"c" * 300 + b"\r\n[server]\r\nbogus = 1\r\n", "bom.conf")
    check("a byte order mark, a long first comment and CRLF ends: the error is line 3's",
          r.returncode != 0 and "bom.conf:3: unknown directive [server] bogus" in r.stderr,
          r.stderr[-500:])
    fifo = os.path.join(WORK, "fifo.conf")
    os.mkfifo(fifo)
    for path, why in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                      (WORK, "a directory")):
        r = subprocess.run([CGD, "-c", path], capture_output=True, text=True, timeout=30)
        check("a configuration that is %s (%s) is refused at once" % (why, os.path.basename(path)),
              r.returncode != 0 and "cannot read %s: %s" % (path, why) in r.stderr,
              r.stderr[-500:])
    st = os.path.join(WORK, "conf-state").encode()
    for directive in (b"[fetch]\nca_file", b"[intent]\nkeys", b"[tls]\nclient_ca"):
        r = conf_run(b"[server]\nstate_dir = " + st + b"\n" + directive + b" = " +
                     fifo.encode() + b"\n", "fifo-file.conf")
        check("%s naming a FIFO is refused at once, not opened" % directive.decode().replace("\n", " "),
              r.returncode != 0 and "%s: not a regular file" % fifo in r.stderr, r.stderr[-500:])
    bad_dno = os.path.join(WORK, "bad-dno.csv")
    with open(bad_dno, "w") as f:
        f.write("number,note\n" + "".join("not-a-number-%d,x\n" % i for i in range(25)))
    gone = os.path.join(WORK, "no-such-dno.csv")
    r = conf_run(b"[server]\nstate_dir = " + st + b"\n[policy]\ndno = " + gone.encode() + b"\n",
                 "gone-list.conf")
    check("a list file that is not there: one line naming the directive, the file and why",
          r.returncode != 0 and "cidguardd: [policy] dno %s: No such file or directory\n" % gone
          in r.stderr and r.stderr.count(gone) == 1, r.stderr[-500:])
    r = conf_run(b"[server]\nstate_dir = " + st + b"\n[tls]\nhttps = yes\n[policy]\ndno = " +
                 bad_dno.encode() + b"\n", "bad-list.conf")
    check("a list's bad lines: the first 10 logged by their line, the rest counted",
          r.stderr.count("(line skipped)") == 10 and "bad-dno.csv:11:" in r.stderr and
          "bad-dno.csv:12:" not in r.stderr and "bad-dno.csv: 15 more lines skipped" in r.stderr,
          r.stderr[-800:])
    r = conf_run(b"[server]\nwork\0ers = 1\n", "nul.conf")
    check("a NUL byte is refused by its line", r.returncode != 0 and "nul.conf:2: a NUL byte" in
          r.stderr, r.stderr[-500:])
    r = conf_run(b"#" * (2 << 20), "huge.conf")
    check("a file over 1 MB is refused", r.returncode != 0 and "larger than" in r.stderr,
          r.stderr[-500:])
finally:
    stop(procs, WORK)

finish()
