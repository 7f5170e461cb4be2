"""Kamailio (Debian's, with its secsipid module) in the loop with cidguardd,
running the configuration operators are given:
examples/kamailio/kamailio-cidguard.cfg, with -A CG_TEST for its test hooks.

    python3 test_kamailio.py BUILD_DIR
A UAC sends INVITEs to Kamailio: on its network side, where Kamailio asks
cidguardd to verify (the test hooks first sign with secsipid, as an upstream
network would), and on its customer side, where it asks cidguardd to sign
(the hooks check the result with secsipid).  Kamailio follows cidguardd's
302 to a UAS, which reports what arrived, header by header.  cidguardd's
listeners are Kamailio's dispatcher sets (UDP and TLS), with a stand-in node
answering 500 for the fail-open path.  Every port is a free one the kernel
picks; the configuration takes them as -A defines.  Skips (exit 77) when
Kamailio is not installed.

Three customers sit behind Kamailio's customer side, told apart by the UAC's
source address (the configuration's customers list: lab at 127.0.0.1, acme
at 127.0.0.2, bravo at 127.0.0.3); Kamailio names each call's customer to
cidguardd (Cidguard-Customer, [sign] customer_from = Kamailio's address).
acme's number is signed A for acme and B for bravo, a bank's number only
for the customer that is its agent, a Cidguard-Customer the caller wrote is
replaced by Kamailio's, the header never reaches the callee, and a source
that is no customer's is refused by Kamailio.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, finish, free_port, free_ports, mutual_tls_pki, scaled,  # noqa: E402
                     start, stop, tail)

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
CFG = os.path.join(HERE, "..", "..", "examples", "kamailio", "kamailio-cidguard.cfg")
KAM = shutil.which("kamailio") or "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
if not os.path.exists(KAM) or not all(os.path.exists(MODULES + m) for m in
                                      ("secsipid.so", "tls.so", "dispatcher.so", "uac.so")):
    print("kamailio with its secsipid, tls, dispatcher and uac modules not installed")
    sys.exit(77)

WORK = tempfile.mkdtemp(prefix="cgd-kam-")
procs = []
seen = []
# The UAS holds its socket from the start: its port is known and cannot be taken.
uas_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
uas_sock.bind(("127.0.0.1", 0))
UAS_PORT = uas_sock.getsockname()[1]
KAM = {"bin": KAM}  # Kamailio's ports, chosen when it starts


def uas():
    s = uas_sock
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
                "Contact: <sip:uas@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n" % UAS_PORT)
        s.sendto(resp.encode(), addr)


def stand_in_node(code):
    """A cidguardd stand-in that answers OPTIONS 200 (the dispatcher's probes
    find it up) and every INVITE with `code`: its UDP port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def serve():
        while True:
            data, addr = s.recvfrom(65535)
            msg = data.decode(errors="replace")
            method = msg.split(" ", 1)[0]
            if method not in ("OPTIONS", "INVITE"):
                continue
            hdrs = [l for l in msg.split("\r\n") if l.split(":")[0].lower() in
                    ("via", "from", "to", "call-id", "cseq")]
            status = "200 OK" if method == "OPTIONS" else "%d Stand-in" % code
            s.sendto(("SIP/2.0 %s\r\n" % status + "\r\n".join(hdrs) +
                      "\r\nContent-Length: 0\r\n\r\n").encode(), addr)

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def call(scenario, frm="442079460000", to="14155550100", pai=None, side="network", extra="",
         display=None, resend=False, src="127.0.0.1"):
    """An INVITE through Kamailio: the final status and the INVITE the UAS saw.
    frm is From's user part (it may carry parameters, such as a verstat the
    caller made up); pai, when given, the number in P-Asserted-Identity;
    side the Kamailio side it arrives on (network: verified, customer:
    signed); extra more header lines; resend sends the INVITE twice, as a
    caller retransmitting it would; src the UAC's address (on the customer
    side, which customer it is)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(30)
    port = s.getsockname()[1]
    cid = os.urandom(6).hex()
    inv = ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
           "From: %s<sip:%s@127.0.0.1>;tag=uac1\r\nTo: <sip:%s@127.0.0.1>\r\n"
           "%s"
           "Call-ID: %s@uac\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:uac@%s:%d>\r\nX-Scenario: %s\r\n%sContent-Length: 0\r\n\r\n"
           % (to, UAS_PORT, src, port, cid, '"%s" ' % display if display else "", frm, to,
              "P-Asserted-Identity: <sip:%s@127.0.0.1>\r\n" % pai if pai else "",
              cid, src, port, scenario, extra))
    n = len(seen)
    s.sendto(inv.encode(), ("127.0.0.1", KAM[side]))
    if resend:
        s.sendto(inv.encode(), ("127.0.0.1", KAM[side]))
    final = None
    deadline = time.time() + 30
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
    s.close()
    if resend:
        return final, seen[n:]
    return final, (seen[n] if len(seen) > n else "")


def options_answered(port):
    """Whether a SIP server on 127.0.0.1:port answers OPTIONS with 200."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    me = s.getsockname()[1]
    try:
        s.sendto(("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
                  "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:%d>\r\n"
                  "Call-ID: %s@probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                  "Content-Length: 0\r\n\r\n"
                  % (port, me, os.urandom(6).hex(), port, os.urandom(6).hex())).encode(),
                 ("127.0.0.1", port))
        return s.recv(65535).startswith(b"SIP/2.0 200")
    except OSError:
        return False
    finally:
        s.close()


def verify_directly(port, frm, to, identity):
    """An INVITE with `identity` straight to a cidguardd verification
    listener: its answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    me = s.getsockname()[1]
    cid = os.urandom(6).hex()
    s.sendto(("INVITE sip:%s@127.0.0.1 SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
              "From: <sip:%s@127.0.0.1>;tag=d\r\nTo: <sip:%s@127.0.0.1>\r\n"
              "Call-ID: %s@direct\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
              "Identity: %s\r\nContent-Length: 0\r\n\r\n"
              % (to, me, cid, frm, to, cid, identity)).encode(), ("127.0.0.1", port))
    try:
        while True:
            r = s.recv(65535).decode(errors="replace")
            if int(r.split(" ")[1]) >= 200:
                return r
    except OSError:
        return ""
    finally:
        s.close()


def header(inv, name):
    return [l for l in inv.split("\r\n") if l.lower().startswith(name.lower() + ":")]


def attest_of(inv):
    """The attestation of the Identity header an INVITE carries, or None."""
    ident = (header(inv, "Identity") or ["Identity: "])[0].split(":", 1)[1].strip()
    if not ident:
        return None
    r = subprocess.run([os.path.join(BUILD, "cidguard"), "inspect", ident], capture_output=True,
                       text=True)
    try:
        return json.loads(r.stdout)["identity"]["claims"]["attest"]
    except (ValueError, KeyError):
        return None


try:
    # cidguardd as the zero-configuration start would have it (a test PKI
    # for SPC 1001, its certificate in the repository, the loopback lab
    # customer), configured explicitly on free ports.
    state = os.path.join(WORK, "state")
    pki = os.path.join(WORK, "pki")
    subprocess.run([os.path.join(BUILD, "cidguard"), "pki", "init", pki, "--spc", "1001"],
                   capture_output=True, check=True)
    os.makedirs(os.path.join(state, "certs"))
    shutil.copy(os.path.join(pki, "sp-1001.pem"), os.path.join(state, "certs"))
    customers = os.path.join(WORK, "customers.csv")
    with open(customers, "w") as f:
        f.write("customer,addresses,numbers\n"
                "lab,127.0.0.1,4420794600*;4420794601*;1415555010*;1415555011*\n"
                "acme,,4420794603*\n"      # known by name only: Kamailio names it
                "bravo,,4420794604*\n")
    # Kamailio's side of it: which source address is which customer
    kam_customers = os.path.join(WORK, "customers.list")
    with open(kam_customers, "w") as f:
        f.write("1 127.0.0.1 32 0 lab\n1 127.0.0.2 32 0 acme\n1 127.0.0.3 32 0 bravo\n")
    key = os.path.join(pki, "sp-1001.key")
    conf = os.path.join(WORK, "cidguardd.conf")
    # the policy lists: two banks' protected numbers (the lab bank's signed by
    # SPC 1001, the test PKI's), a DNO number, and the international trunk
    # group Kamailio names with tgrp
    lists = {"protected.csv": "number,brand,spcs,min_attest,intents,agents\n"
                              "442079460100,Example Bank,BANK1,A,,\n"
                              "442079460200,Lab Bank,1001,A,,\n"
                              "442079460500,Agent Bank,BANK2,A,,customer:acme\n",
             "dno.csv": "number,note\n448081570000,inbound only\n",
             "ingress.csv": "ingress,international,addresses,note\nintl-gw,yes,,gateway\n"}
    for name, text in lists.items():
        with open(os.path.join(WORK, name), "w") as f:
            f.write(text)
    cg = {}

    # TLS between Kamailio and cidguardd, both ways authenticated: cidguardd's
    # server certificate from one CA, Kamailio's client certificate from another
    tls = mutual_tls_pki(WORK)
    tls_cfg = tls["kamailio.cfg"]

    def cidguardd():
        cg["http"], cg["tls"] = free_ports(2)
        cg["verify"], cg["sign"] = free_ports(2, udp=True)
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "sip_tls_verify_listen = 127.0.0.1:%d\n"
                    "[tls]\ncert = %s\nkey = %s\nclient_ca = %s\nrequire_client_cert = yes\n"
                    "[verify]\ntrust = %s\ncrl = %s\n[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                    "[sign]\nkey = %s\nx5u = http://127.0.0.1:%d/certs/sp-1001.pem\ncustomers = %s\n"
                    "customer_from = 127.0.0.1\n"
                    "[policy]\nprotected = %s\ndno = %s\ningress = %s\ntgrp_from = 127.0.0.1\n"
                    "mark_international = yes\n"
                    % (state, cg["http"], cg["verify"], cg["sign"], cg["tls"], tls["cgd"][1],
                       tls["cgd"][0], tls["client-ca"][1], os.path.join(pki, "root.pem"),
                       os.path.join(pki, "crl.pem"), key, cg["http"], customers,
                       os.path.join(WORK, "protected.csv"), os.path.join(WORK, "dno.csv"),
                       os.path.join(WORK, "ingress.csv")))
        return [os.path.join(BUILD, "cidguardd"), "-c", conf], cg["http"]

    procs.append(start(cidguardd, os.path.join(WORK, "cidguardd.log")))
    pub = os.path.join(WORK, "pub.pem")
    subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], capture_output=True)
    threading.Thread(target=uas, daemon=True).start()
    klog = os.path.join(WORK, "kamailio.log")
    # cidguardd's listeners as the dispatcher's sets: 1 verification, 2
    # signing, 3 verification over TLS, 9 a node answering 500.
    dlist = os.path.join(WORK, "dispatcher.list")
    with open(dlist, "w") as f:
        f.write("1 sip:127.0.0.1:%d 0 0\n2 sip:127.0.0.1:%d 0 0\n"
                "3 sip:127.0.0.1:%d;transport=tls 0 0\n9 sip:127.0.0.1:%d 0 0\n"
                % (cg["verify"], cg["sign"], cg["tls"], stand_in_node(500)))
    # A bound no test call comes near: the fail-open path has its own test
    # (test_sbc_failover.py) with the configuration's default 200 ms.
    budget = int(scaled(3000))

    def kamailio():
        KAM["network"], KAM["customer"] = free_ports(2, udp=True)
        return [KAM["bin"], "-f", CFG, "-DD", "-E", "-w", WORK, "-Y", WORK,
                "-A", "CG_TEST", "-A", "CG_WITH_TLS", "-A", "CG_ADDR=127.0.0.1",
                "-A", "CG_NETWORK_PORT=%d" % KAM["network"],
                "-A", "CG_CUSTOMER_PORT=%d" % KAM["customer"],
                "-A", "CG_TLS_PORT=%d" % free_port(), "-A", 'CG_TLS_CFG="%s"' % tls_cfg,
                "-A", 'CG_DISPATCHER_LIST="%s"' % dlist, "-A", "CG_TEST_TLS_SET=3",
                "-A", 'CG_CUSTOMERS_LIST="%s"' % kam_customers,
                "-A", "CG_TIMEOUT_MS=%d" % budget, "-A", "CG_TRY_TIMEOUT_MS=%d" % budget,
                "-A", 'CG_NETWORK_NEXT_HOP="sip:127.0.0.1:%d"' % UAS_PORT,
                "-A", 'CG_CUSTOMER_NEXT_HOP="sip:127.0.0.1:%d"' % UAS_PORT,
                "-A", 'CG_TEST_SIGNKEY="%s"' % key,
                "-A", 'CG_TEST_X5U="http://127.0.0.1:%d/certs/sp-1001.pem"' % cg["http"],
                "-A", 'CG_TEST_PUBKEY="%s"' % pub], KAM["network"]

    # Kamailio listens on UDP only: it is up when it answers OPTIONS.
    procs.append(start(kamailio, klog, banner=False, ready=options_answered))

    code, inv = call("kam-sign")
    check("secsipid signs, cidguardd verifies, Kamailio follows the 302: call completes", code == 200,
          (code, tail(klog, 800)))
    check("the UAS sees verstat TN-Validation-Passed from cidguardd",
          "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>" in inv, inv)
    check("and the decision header", "X-Cidguard-Action: allow" in inv, inv)
    check("From, the same number, carries the verstat too",
          "From: <sip:442079460000;verstat=TN-Validation-Passed@127.0.0.1>" in inv, inv)

    # Two numbers: the verstat goes only on the one the PASSporT signed, and
    # a verstat the caller wrote into From is not believed.
    code, inv = call("kam-sign-pai", frm="442079460002;verstat=TN-Validation-Passed",
                     pai="442079460001")
    check("PAI signed, From different: the call completes", code == 200, (code, tail(klog, 800)))
    check("the UAS sees TN-Validation-Passed on P-Asserted-Identity, the signed number",
          "P-Asserted-Identity: <tel:+442079460001;verstat=TN-Validation-Passed>" in inv, inv)
    check("and From, not signed, is No-TN-Validation: the caller's own verstat is gone",
          header(inv, "From") and "verstat=No-TN-Validation" in header(inv, "From")[0] and
          "Passed" not in header(inv, "From")[0], header(inv, "From"))
    code, inv = call("kam-sign", frm="442079460000", pai="442079460003")
    check("From signed, PAI different: the verstat is From's",
          code == 200 and "442079460000;verstat=TN-Validation-Passed" in header(inv, "From")[0] and
          "P-Asserted-Identity: <tel:+442079460003;verstat=No-TN-Validation>" in inv, inv)
    # Unsigned calls, decided on their numbers.
    code, inv = call("unsigned", frm="442079460100", pai="447400012345")
    check("a bank's protected number in From behind a consumer's PAI, unsigned: 608 to the "
          "caller, the UAS never rung", code == 608 and not inv, (code, inv))
    code, inv = call("unsigned", frm="448081570000", pai="447400012345")
    check("a DNO number in From behind a consumer's PAI: 608", code == 608 and not inv, code)
    code, inv = call("unsigned-intl", frm="447400012345", extra="X-Test-Tgrp: intl-gw\r\n")
    check("a UK mobile from the international trunk group, not shown roaming: delivered",
          code == 200, (code, tail(klog, 800)))
    check("with its caller ID withheld: anonymous From, Privacy: id, the number nowhere",
          "anonymous@anonymous.invalid" in header(inv, "From")[0] and
          header(inv, "Privacy") == ["Privacy: id"] and "447400012345" not in inv and
          "X-Cidguard-Action: withhold" in inv, inv)
    code, inv = call("unsigned", frm="447400012399")
    check("an ordinary consumer, unsigned: delivered, its number shown, not verified",
          code == 200 and "447400012399;verstat=No-TN-Validation" in header(inv, "From")[0] and
          "Passed" not in inv, inv)
    code, inv = call("kam-sign-tls")
    check("the same over TLS (Kamailio's tls module, client certificate required): call completes",
          code == 200, (code, tail(klog, 800)))
    check("the UAS sees verstat TN-Validation-Passed from cidguardd over TLS",
          "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>" in inv, inv)
    code, inv = call("cg-sign", side="customer")
    check("cidguardd signs, the call follows the 302", code == 200, code)
    check("secsipid verifies cidguardd's Identity header", "X-Secsipid: ok" in inv, inv)
    check("the Identity header reaches the UAS", "Identity: eyJ" in inv, inv)
    code, inv2 = call("cg-sign", frm="447700900123", side="customer")
    check("a number the lab customer does not hold is still signed (B), and verifies",
          code == 200 and "X-Secsipid: ok" in inv2, inv2)

    # What the configuration adds: labels, brands, the international
    # marker, refusals on the signing side, headers a caller cannot forge,
    # cidguardd's 5xx.
    ident = (header(inv, "Identity") or ["Identity: "])[0].split(":", 1)[1].strip()
    r = verify_directly(cg["verify"], "442079460000", "14155550100", ident)
    check("the Identity header Kamailio added passes cidguardd's verification listener",
          "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>" in r and
          "Cidguard-Action: allow" in r, r)
    code, inv = call("unsigned", frm="442079460000",
                     extra="Identity: eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln;info=<http://127.0.0.1/x.pem>"
                           ";alg=ES256;ppt=shaken\r\n")
    check("a broken Identity header: labelled, delivered with TN-Validation-Failed on the number",
          code == 200 and
          header(inv, "P-Asserted-Identity") ==
          ["P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Failed>"] and
          "442079460000;verstat=TN-Validation-Failed@" in header(inv, "From")[0] and
          "X-Cidguard-Action: label" in inv and
          "stir_failed" in (header(inv, "X-Cidguard-Reasons") or [""])[0], inv)
    code, inv = call("kam-sign", frm="442079460200", display="Someone")
    check("a protected number verified by its own signer: the brand is the display name",
          code == 200 and header(inv, "From") and
          header(inv, "From")[0].startswith('From: "Lab Bank" <sip:442079460200;'
                                            'verstat=TN-Validation-Passed@'), inv)
    code, inv = call("unsigned", frm="442079460200", pai="442079460200", display="Lab Bank")
    check("the same number unsigned: 608, no brand for an unverified number",
          code == 608 and not inv, (code, inv))
    code, inv = call("kam-sign-pai", frm="447400012399", pai="442079460200", display="Bank")
    check("a verified bank's network number behind a consumer's From: the brand is not lent",
          code == 200 and "Lab Bank" not in inv and
          "447400012399;verstat=No-TN-Validation@" in header(inv, "From")[0], inv)
    code, inv = call("unsigned-intl", frm="33142685300", extra="X-Test-Tgrp: intl-gw\r\n")
    check("a French number from the international trunk group: delivered, marked international",
          code == 200 and header(inv, "From") and
          header(inv, "From")[0].startswith('From: "International" <sip:33142685300;'
                                            'verstat=No-TN-Validation@') and
          "X-Cidguard-Origin: international" in inv, inv)
    code, inv = call("unsigned", frm="447400012399",
                     extra="Cidguard-Brand: Example Bank\r\nX-Cidguard-Action: allow\r\n"
                           "Cidguard-Presentation: <tel:+447400012399;verstat=TN-Validation-Passed>"
                           "\r\nPrivacy: none\r\n")
    check("a caller's own Cidguard headers are dropped: no brand, no verstat it wrote",
          code == 200 and "Example Bank" not in inv and "Passed" not in inv and
          header(inv, "X-Cidguard-Action") == ["X-Cidguard-Action: allow"] and
          not header(inv, "Cidguard-Presentation"), inv)
    code, inv = call("cg-sign", frm="448081570000", side="customer")
    check("the customer side refuses a DNO number: 603 to the customer, nothing signed or sent",
          code == 603 and not inv, (code, inv))
    code, inv = call("cg-sign", frm="442079460100", side="customer")
    check("and a bank's number the lab customer does not own: 603", code == 603 and not inv,
          (code, inv))
    code, inv = call("unsigned", frm="447400012399;verstat=TN-Validation-Passed",
                     pai="447400012399;verstat=TN-Validation-Passed",
                     extra="X-Test-Set: 9\r\n")
    check("cidguardd answers 500: the call goes on, X-Cidguard-Bypass: 5xx",
          code == 200 and header(inv, "X-Cidguard-Bypass") == ["X-Cidguard-Bypass: 5xx"], inv)
    check("without verstat: the one the caller wrote in From and PAI is gone",
          "verstat" not in inv and "447400012399" in header(inv, "From")[0] and
          "447400012399" in header(inv, "P-Asserted-Identity")[0], inv)

    # Customers behind the proxy, each its own: Kamailio names the customer
    # of each call, cidguardd signs for that one.
    acme_num, bravo_num, agent_num = "442079460300", "442079460400", "442079460500"
    code, inv = call("cg-sign", frm=acme_num, side="customer", src="127.0.0.2")
    check("acme (127.0.0.2) presents its own number: signed A, and it verifies",
          code == 200 and attest_of(inv) == "A" and "X-Secsipid: ok" in inv, (code, inv))
    check("...and the UAS never sees the Cidguard-Customer Kamailio sent cidguardd",
          not header(inv, "Cidguard-Customer"), inv)
    code, inv = call("cg-sign", frm=acme_num, side="customer", src="127.0.0.3")
    check("bravo (127.0.0.3) presents acme's number: signed B, not A",
          code == 200 and attest_of(inv) == "B", (code, inv))
    code, inv = call("cg-sign", frm=bravo_num, side="customer", src="127.0.0.3")
    check("bravo presents its own number: A", code == 200 and attest_of(inv) == "A", (code, inv))
    code, inv = call("cg-sign", frm=acme_num, side="customer", src="127.0.0.3",
                     extra="Cidguard-Customer: acme\r\n")
    check("bravo forging Cidguard-Customer: acme is still bravo: acme's number signed B",
          code == 200 and attest_of(inv) == "B" and not header(inv, "Cidguard-Customer"),
          (code, inv))
    for forged in ("cidguard-customer: acme", "CIDGUARD-CUSTOMER :\tacme"):
        code, inv = call("cg-sign", frm=acme_num, side="customer", src="127.0.0.3",
                         extra=forged + "\r\n")
        check("...and with the header written %r: still bravo, B" % forged,
              code == 200 and attest_of(inv) == "B" and not header(inv, "Cidguard-Customer"),
              (code, inv))
    code, inv = call("cg-sign", frm=agent_num, side="customer", src="127.0.0.2")
    check("a bank's number presented by acme, its agent: signed",
          code == 200 and attest_of(inv) in ("A", "B"), (code, inv))
    code, inv = call("cg-sign", frm=agent_num, side="customer", src="127.0.0.3")
    check("...and by bravo, which is not: 603, nothing sent", code == 603 and not inv, (code, inv))
    code, inv = call("cg-sign", frm=agent_num, side="customer", src="127.0.0.3",
                     extra="Cidguard-Customer: acme\r\n")
    check("...nor when bravo writes Cidguard-Customer: acme itself", code == 603 and not inv,
          (code, inv))
    code, inv = call("cg-sign", frm=acme_num, side="customer", src="127.0.0.4",
                     extra="Cidguard-Customer: acme\r\n")
    check("a source that is no customer's: 403 from Kamailio, nothing signed or sent",
          code == 403 and not inv, (code, inv))
    check("cidguardd's audit line for bravo's refusal names bravo, from Kamailio's address",
          re.search(r"audit: signing refused \(policy[^)]*\) over sip from 127\.0\.0\.1, "
                    r"customer bravo, orig " + agent_num,
                    tail(os.path.join(WORK, "cidguardd.log"), 1 << 20)),
          tail(os.path.join(WORK, "cidguardd.log")))

    code, invs = call("kam-sign", resend=True)
    check("an INVITE sent twice (a retransmission): verified once, one call reaches the UAS",
          code == 200 and len(invs) == 1 and "TN-Validation-Passed" in invs[0], (code, invs))
finally:
    stop(procs, WORK)

finish()
