"""Only customers get signatures, at no more than their entitlement.

The signing API listens apart from the verification API, /metrics and
/certs.  A caller is a customer by its bearer token (the customers file
holds only the token's SHA-256) or by its source address; anyone else gets
403 (or SIP 403), a wrong token 401.  The server dates the call: a client's
iat is accepted only inside the freshness window.  Each customer has a rate,
and every refusal leaves an audit line.  A signing API bound beyond loopback
without any token to tell customers apart refuses to start.

    python3 test_signing.py BUILD_DIR
"""
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, header, start, stop, tail  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-signing-")
procs = []
PORTS = {}
TOKEN = "acme-7f3c1d2e9b8a4c5d"
OWN, OTHER, CALLEE = "442079460000", "447700900123", "14155550100"
DNO, BANK = "448081570000", "442079460100"
SHOP = "442079460777"


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True)


def sign(port, orig=OWN, attest="A", token=None, src="127.0.0.1", iat=None, path="/stir/v1/signing",
         presentation=None):
    """POST a signingRequest from `src`; returns (status, body dict or text, headers)."""
    req = {"attest": attest, "orig": {"tn": orig}, "dest": {"tn": [CALLEE]}}
    if presentation:
        req["presentation"] = {"tn": presentation}
    if iat is not None:
        req["iat"] = iat
    h = {"Content-Type": "application/json"}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(src, 0))
    c.request("POST", path, json.dumps({"signingRequest": req}), h)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return r.status, body, dict(r.getheaders())


def attest_of(body):
    ident = body["signingResponse"]["identity"]
    return json.loads(run(CG, "inspect", ident).stdout)["identity"]["claims"]["attest"]


def sip_sign(src, frm=OWN, pai=None):
    """An INVITE to the SIP signing listener from `src`: From frm, PAI pai."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(20)
    branch = os.urandom(6).hex()
    s.sendto(("INVITE sip:+%s@127.0.0.1;user=phone SIP/2.0\r\n"
              "Via: SIP/2.0/UDP %s:5999;branch=z9hG4bK%s\r\n"
              "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n%s"
              "Call-ID: %s@signing\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
              % (CALLEE, src, branch, frm, CALLEE,
                 "P-Asserted-Identity: <sip:+%s@carrier.example;user=phone>\r\n" % pai if pai else "",
                 branch)).encode(), ("127.0.0.1", PORTS["sip_sign"]))
    try:
        return s.recv(65535).decode()
    finally:
        s.close()


def write_conf(path, extra_server="", rate=5, by_address=True):
    with open(path, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\nsip_verify_listen = 127.0.0.1:%d\n"
                "sip_sign_listen = 127.0.0.1:%d\nsign_http_listen = 127.0.0.1:%d\nworkers = 2\n"
                "decision_log = off\n%s"
                "[verify]\ntrust = %s\n[sign]\nkey = %s\nx5u = https://cr.example.net/sp-1234.pem\n"
                "customers = %s\nrate_per_customer = %d\nhttp_by_address = %s\n"
                "customer_numbers_per_minute = 3\n"
                "[policy]\ndno = %s\nprotected = %s\n"
                % (os.path.join(WORK, "state"), PORTS["http"], PORTS["sip"], PORTS["sip_sign"],
                   PORTS["sign_http"], extra_server, os.path.join(WORK, "pki", "root.pem"),
                   os.path.join(WORK, "pki", "sp-1234.key"), os.path.join(WORK, "customers.csv"),
                   rate, "yes" if by_address else "no", os.path.join(WORK, "dno.csv"),
                   os.path.join(WORK, "protected.csv")))


try:
    run(CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "1234")
    # the origination policy's lists: a DNO number, and a bank's number whose
    # customer account (acme) may present it
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n%s,inbound only\n" % DNO)
    with open(os.path.join(WORK, "protected.csv"), "w") as f:
        f.write("number,brand,spcs,min_attest,intents,agents\n"
                "%s,Example Bank,BANK1,A,accept,customer:acme\n" % BANK)
    digest = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
    with open(os.path.join(WORK, "customers.csv"), "w") as f:
        f.write("customer,addresses,numbers,tokens\n"
                "acme,,%s,%s\n"          # known by its token only
                "lab,127.0.0.1,%s,\n"    # known by its address only
                "shop,127.0.0.1,%s,\n"   # at the same address: A for its own number there too
                % (OWN, digest, OWN, SHOP))
    conf = os.path.join(WORK, "d.conf")

    def configure():
        PORTS["http"], PORTS["sign_http"] = free_ports(2)
        PORTS["sip"], PORTS["sip_sign"] = free_ports(2, udp=True)
        write_conf(conf)
        return [CGD, "-c", conf], PORTS["sign_http"]

    d = start(configure, os.path.join(WORK, "d.log"))
    procs.append(d)
    log = os.path.join(WORK, "d.log")

    st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3")
    check("a bearer token of a customer: 200, A for its own number", st == 200 and attest_of(body) == "A",
          (st, body))
    st, body, _ = sign(PORTS["sign_http"], orig=OTHER, token=TOKEN, src="127.0.0.3")
    check("the same customer presenting a number it does not hold: downgraded to B",
          st == 200 and attest_of(body) == "B" and
          body["signingResponse"].get("attestDowngradedTo") == "B", (st, body))
    st, body, _ = sign(PORTS["sign_http"], src="127.0.0.1")
    check("a customer known by its address: 200, A", st == 200 and attest_of(body) == "A", (st, body))
    st, body, _ = sign(PORTS["sign_http"], orig=SHOP, src="127.0.0.1")
    check("two customers at one address: A for the second one's number too",
          st == 200 and attest_of(body) == "A", (st, body))
    st, body, _ = sign(PORTS["sign_http"], src="127.0.0.3")
    check("a stranger with no token: 403 POL4030, never a C signature",
          st == 403 and "POL4030" in json.dumps(body), (st, body))
    st, body, h = sign(PORTS["sign_http"], token="acme-wrong", src="127.0.0.1")
    check("a wrong token (even from a customer's address): 401 with WWW-Authenticate",
          st == 401 and "Bearer" in h.get("WWW-Authenticate", ""), (st, body))
    st, body, h = sign(PORTS["sign_http"], token="", src="127.0.0.3")
    check("an empty bearer token: 401", st == 401, (st, body))
    st, body, h = sign(PORTS["sign_http"], token=TOKEN + " junk", src="127.0.0.3")
    check("a good token followed by more: 401", st == 401, (st, body))
    st, body, h = sign(PORTS["sign_http"], token=TOKEN + "  ", src="127.0.0.3")
    check("a good token followed by blanks only: 200", st == 200, (st, body))
    for first, second in ((TOKEN, "nope"), ("nope", TOKEN)):
        c = http.client.HTTPConnection("127.0.0.1", PORTS["sign_http"], timeout=30,
                                       source_address=("127.0.0.3", 0))
        c.putrequest("POST", "/stir/v1/signing")
        body = json.dumps({"signingRequest": {"attest": "A", "orig": {"tn": OWN},
                                              "dest": {"tn": [CALLEE]}}})
        for k, v in (("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                     ("Authorization", "Bearer " + first), ("Authorization", "Bearer " + second)):
            c.putheader(k, v)
        c.endheaders(body.encode())
        st = c.getresponse().status
        c.close()
        check("two Authorization headers (%s first): 401" % ("the good one" if first == TOKEN else
                                                             "a bad one"), st == 401, st)
    for iat, what in ((int(time.time()) + 3600, "an hour ahead"), (4102444800, "in 2100"),
                      (int(time.time()) - 3600, "an hour old")):
        st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3", iat=iat)
        check("a client iat %s: refused 400" % what, st == 400, (st, body))
    st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3", iat=int(time.time()) - 10)
    check("a client iat inside the freshness window: accepted", st == 200, (st, body))

    # the signing API is on its own listener
    c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=30)
    c.request("POST", "/stir/v1/signing", "{}", {"Content-Type": "application/json"})
    check("the verification listener does not sign (404)", c.getresponse().status == 404)
    c.close()
    for path in ("/metrics", "/certs/sp-1234.pem", "/stir/v1/verification"):
        c = http.client.HTTPConnection("127.0.0.1", PORTS["sign_http"], timeout=30)
        c.request("GET", path)
        check("the signing listener does not serve %s (404)" % path, c.getresponse().status == 404)
        c.close()

    # SIP signing: the source address is the credential
    r = sip_sign("127.0.0.1")
    check("SIP signing from a customer's address: 302 with Identity",
          r.startswith("SIP/2.0 302") and header(r, "Identity"), r)
    r = sip_sign("127.0.0.3")
    check("SIP signing from a stranger: 403, no Identity",
          r.startswith("SIP/2.0 403") and not header(r, "Identity"), r)

    # a customer's rate (5 a second, a one-second burst)
    codes = [sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3")[0] for _ in range(20)]
    check("20 requests at once against a rate of 5/s: some 429 (%s)" % codes,
          429 in codes and codes.count(200) <= 6, codes)
    time.sleep(1.2)
    check("the rate refills", sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3")[0] == 200)
    text = tail(log, 1 << 20)
    check("every kind of refusal left an audit line",
          all("signing refused (%s)" % k in text for k in ("unknown_client", "bad_token", "iat", "rate")),
          text[-1500:])

    # the origination policy: nothing spoofed gets signed
    time.sleep(1.2)  # the rate refills
    st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3", presentation=DNO)
    check("HTTP: a DNO presentation number behind the customer's own: 403 POL4031 naming dno, "
          "nothing signed", st == 403 and "POL4031" in json.dumps(body) and "dno" in
          json.dumps(body), (st, body))
    st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3", orig=DNO)
    check("HTTP: a DNO number to sign: 403", st == 403 and "dno" in json.dumps(body), (st, body))
    st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.3", presentation=BANK)
    check("HTTP: the bank's number presented by its own customer account (agents customer:acme): "
          "signed", st == 200 and "identity" in body.get("signingResponse", {}), (st, body))
    r = sip_sign("127.0.0.1", frm=BANK, pai=OWN)
    check("SIP: the bank's number in From behind a customer's own PAI, not its owner: 603, "
          "protected_not_customers, no Identity", r.startswith("SIP/2.0 603") and
          "protected_not_customers" in (header(r, "Cidguard-Reasons") or "") and
          not header(r, "Identity"), r)
    r = sip_sign("127.0.0.1", frm=DNO)
    check("SIP: a DNO From: 603 dno", r.startswith("SIP/2.0 603") and
          "dno" in (header(r, "Cidguard-Reasons") or ""), r)
    r = sip_sign("127.0.0.1", frm="0207946010O")
    check("SIP: a From that shows digits but is no number: 603 caller_unreadable, not passed on "
          "unsigned", r.startswith("SIP/2.0 603") and not header(r, "Identity"), r)
    time.sleep(1.2)
    answers = []
    # rotation: more than 3 distinct numbers a minute (the refused attempts
    # above count too)
    for i in range(5):
        answers.append(sip_sign("127.0.0.1", frm="44740001230%d" % i, pai=OWN))
        time.sleep(0.25)
    last = answers[-1]
    check("SIP: a customer rotating presentation numbers is labelled: signed C, rate_numbers",
          last.startswith("SIP/2.0 302") and header(last, "Cidguard-Attest") == "C" and
          header(last, "Cidguard-Action") == "label" and
          "rate_numbers" in (header(last, "Cidguard-Reasons") or ""), last)
    check("... and still signed: labelled calls go on, at C",
          all(a.startswith("SIP/2.0 302") and header(a, "Identity") for a in answers), answers[0])
    text = tail(log, 1 << 20)
    check("refusals by the origination policy left audit lines with their reasons",
          "signing refused (policy: dno" in text, text[-1500:])
    m = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=10)
    m.request("GET", "/metrics")
    metrics = m.getresponse().read().decode()
    check("/metrics counts the origination policy's decisions",
          'cidguard_sign_origination_total{action="block"}' in metrics and
          'cidguard_sign_refused_total{reason="policy"}' in metrics, metrics[-800:])

    # by default the HTTP signing API takes no address as a credential (a
    # reverse proxy would lend every client its own)
    plain = os.path.join(WORK, "plain.conf")

    def configure_plain():
        PORTS["http"], PORTS["sign_http"] = free_ports(2)
        PORTS["sip"], PORTS["sip_sign"] = free_ports(2, udp=True)
        write_conf(plain, by_address=False)
        return [CGD, "-c", plain], PORTS["sign_http"]

    procs.append(start(configure_plain, os.path.join(WORK, "plain.log")))
    st, body, _ = sign(PORTS["sign_http"], src="127.0.0.1")
    check("without http_by_address a customer's address alone gets 403 over HTTP", st == 403,
          (st, body))
    st, body, _ = sign(PORTS["sign_http"], token=TOKEN, src="127.0.0.1")
    check("and its token still works", st == 200, (st, body))
    r = sip_sign("127.0.0.1")
    check("while SIP signing still knows the customer by address",
          r.startswith("SIP/2.0 302") and header(r, "Identity"), r)

    # beyond loopback without tokens: refused
    with open(os.path.join(WORK, "customers.csv"), "w") as f:
        f.write("customer,addresses,numbers\nlab,127.0.0.1,%s\n" % OWN)
    exposed = os.path.join(WORK, "exposed.conf")
    PORTS["http"], PORTS["sign_http"] = free_ports(2)
    PORTS["sip"], PORTS["sip_sign"] = free_ports(2, udp=True)
    write_conf(exposed)
    with open(exposed) as f:
        text = f.read().replace("sign_http_listen = 127.0.0.1:", "sign_http_listen = 0.0.0.0:")
    with open(exposed, "w") as f:
        f.write(text)
    p = subprocess.run([CGD, "-c", exposed], capture_output=True, text=True, timeout=60)
    check("a signing API beyond loopback with no customer token refuses to start",
          p.returncode != 0 and "beyond loopback" in p.stderr, p.stderr[-600:])
finally:
    stop(procs, WORK)

finish()
