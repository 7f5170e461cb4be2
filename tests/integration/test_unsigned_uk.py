"""Unsigned UK traffic through the real daemon over SIP (UDP): not one call
carries an Identity header, so every decision stands on the two calling
numbers, the lists, call intents and the ingress.

- a bank's protected number passes under its live call intent (From only,
  and as the presentation number behind the bank's own or any other network
  number), with its brand; without an intent, after the intent expired,
  past its uses (a retransmission spends none), for another callee, or once
  it is cancelled, it is blocked (608 protected_no_intent);
- a spoofed presentation number behind a genuine consumer's network number
  is blocked for a protected, a Do-Not-Originate and an unallocated (Ofcom)
  number, and Cidguard-Presentation-Reasons names the finding;
- a UK mobile (+447) from an international ingress is withheld (Privacy: id)
  unless shown roaming: a roaming-partner ingress, or the roaming-check
  service (a small HTTP server here) answering {"roaming": true}; false,
  an error, a malformed answer or a timeout withhold (counted in /metrics),
  also for a +447 presented behind a foreign network number; a UK landline
  from abroad is blocked;
- ordinary consumers pass untouched, No-TN-Validation on both numbers;
- two daemons sharing a real redis-server honour each other's intents and
  share their uses;
- the decision log says which number each finding is about.

    python3 test_unsigned_uk.py BUILD_DIR
"""
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (check, finish, free_port, free_ports, header, http_json,  # noqa: E402
                     scaled, start, stop, tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-unsigned-uk-")
procs = []
PORTS = {}
DAEMONS = {}
T0 = time.time()

BANK = "442079460100"          # protected: Example Bank (drama range)
BANK_NET = "442079460500"      # the bank's own network number (its dialler's trunk)
BRAND = "Example Bank"
CONSUMER = "447400012345"      # a genuine UK mobile (allocated in the Ofcom file below)
CONSUMER2 = "447400098765"
LANDLINE = "441614960123"      # a UK landline (Manchester drama range)
FOREIGN = "33612345678"        # a French mobile: a foreign network's own number
DNO = "448081570000"           # on the Do-Not-Originate list
UNALLOCATED = "447700900999"   # in a block Ofcom has not allocated (Protected)
# the roaming-check service's answer for each +447 number it is asked about
ROAM_YES, ROAM_NO, ROAM_SLOW = "447400012001", "447400012002", "447400012003"
ROAM_404, ROAM_JUNK = "447400012004", "447400012005"
# The daemon waits ROAM_TIMEOUT_MS for the roaming service; for ROAM_SLOW the
# service sleeps far longer.  Both grow with a slow build (ThreadSanitizer).
ROAM_TIMEOUT_MS = int(scaled(200))
ROAM_SLEEP = scaled(2.0)
KEY = "bank-key-3e1f0c9a7b5d2e4f6a8c0b1d3e5f7a9c"


def callee(n):
    """A distinct called number (a UK mobile) for each scenario."""
    return "4474000555%02d" % n


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


# --- the roaming-check service ---------------------------------------------------------

class Roaming(http.server.BaseHTTPRequestHandler):
    asked = []  # the tn of every request, in order

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        tn = urllib.parse.parse_qs(url.query).get("tn", [""])[0]
        Roaming.asked.append((url.path, tn))
        status, body = 200, None
        if tn == ROAM_YES:
            body = b'{"roaming": true}'
        elif tn == ROAM_NO:
            body = b'{"roaming": false}'
        elif tn == ROAM_SLOW:
            time.sleep(ROAM_SLEEP)
            body = b'{"roaming": true}'
        elif tn == ROAM_JUNK:
            body = b'{"roaming": tru'
        else:
            status, body = 404, b'{"error": "unknown number"}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the daemon gave up waiting (the timeout case)

    def log_message(self, *args):
        pass


def asked_about(tn):
    return sum(1 for _, t in Roaming.asked if t == tn)


# --- files and daemons -----------------------------------------------------------------

def write_files():
    token = run(CG, "customers", "token", KEY)
    files = {
        "keys.csv": "name,key_sha256,numbers\nbank,%s,+%s\n" % (token, BANK),
        "protected.csv": "number,brand,spcs,min_attest\n%s,%s,BANK1,A\n" % (BANK, BRAND),
        "dno.csv": "number,note\n%s,inbound only\n" % DNO,
        # the trunk groups an SBC names with tgrp: no addresses, so only tgrp selects them
        "ingress.csv": "ingress,international,addresses,note\nintl-gw,yes,,gateway\n"
                       "roam-gw,roaming,,partner\ndom-gw,no,,domestic\n",
        # Ofcom's S7 and S8 in the format of their number-block status files: the mobile
        # and 08 ranges are covered; landlines (01/02) have no data (information only)
        "ofcom.csv": "NMS Number Block: Number Block,Block Status,CP Name,Non Geo Number Length,"
                     "Allocation Date\n"
                     "7400 0,Allocated,Example Mobile Ltd,10 digit numbers,01/01/2000\n"
                     "7700 9,Protected,,10 digit numbers,\n"
                     "8081 5,Allocated,Example Freephone Ltd,10 digit numbers,01/01/2000\n",
    }
    for name, text in files.items():
        with open(os.path.join(WORK, name), "w") as f:
            f.write(text)


def start_daemon(name, redis_url=None, decision_log=False, extra=""):
    state = os.path.join(WORK, "state-" + name)
    os.makedirs(state, exist_ok=True)
    conf = os.path.join(WORK, name + ".conf")
    w = lambda f: os.path.join(WORK, f)  # noqa: E731

    def make():
        PORTS[name] = tuple(free_ports(1) + free_ports(2, udp=True))
        http_port, sv, ss = PORTS[name]
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 2\n%s"
                    "[policy]\nprotected = %s\ndno = %s\ningress = %s\ntgrp_from = 127.0.0.1\n"
                    "ofcom = %s\n%s"
                    "[intent]\nkeys = %s\nmax_uses = 3\nmax_valid_for = 300\n"
                    % (state, http_port, sv, ss, "" if decision_log else "decision_log = off\n",
                       w("protected.csv"), w("dno.csv"), w("ingress.csv"), w("ofcom.csv"), extra,
                       w("keys.csv")))
            if redis_url:
                f.write("[redis]\nurl = %s\n" % redis_url)
        return [CGD, "-c", conf], http_port

    p = start(make, os.path.join(WORK, name + ".log"))
    procs.append(p)
    DAEMONS[name] = p
    return p


def api(name, method, path="/intent/v1", body=None):
    """(status, parsed JSON or text) of an intent API request with the bank's key."""
    return http_json(PORTS[name][0], method, path, body, timeout=scaled(10),
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + KEY})


def register(name, to, valid_for=None, frm=BANK):
    body = {"from": "+" + frm, "to": "+" + to}
    if valid_for is not None:
        body["valid_for"] = valid_for
    st, ans = api(name, "POST", body=body)
    check("intent registered on %s: +%s -> +%s" % (name, frm, to),
          st == 201 and isinstance(ans, dict) and ans.get("registered") == 1, (st, ans))
    return ans


def metrics(name):
    c = http.client.HTTPConnection("127.0.0.1", PORTS[name][0], timeout=scaled(10))
    try:
        c.request("GET", "/metrics")
        return c.getresponse().read().decode(errors="replace")
    finally:
        c.close()


def roaming_count(name, result):
    m = re.search(r'^cidguard_roaming_checks_total\{result="%s"\} (\d+)' % result,
                  metrics(name), re.M)
    return int(m.group(1)) if m else 0


def invite(name, frm, to, pai=None, tgrp=None, call_id=None, retransmit=False):
    """An unsigned INVITE to daemon `name`'s verification listener; the final
    answer (text) or "" when none came.  UDP: resent with the same branch
    every 2 s (a retransmission is answered from the daemon's transaction
    cache, never decided twice).  With retransmit, the INVITE is sent once
    more after its answer: (answer, the retransmission's answer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    branch = os.urandom(6).hex()
    call_id = call_id or "uk-%s" % branch
    ruri = "sip:+%s%s@127.0.0.1;user=phone" % (to, ";tgrp=" + tgrp if tgrp else "")
    msg = ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
           "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\n"
           "To: <sip:+%s@127.0.0.1;user=phone>\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n%s"
           "Contact: <sip:uac@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n"
           % (ruri, s.getsockname()[1], branch, frm, to, call_id,
              "P-Asserted-Identity: <sip:+%s@carrier.example;user=phone>\r\n" % pai if pai else "",
              s.getsockname()[1]))
    end = time.time() + scaled(15)
    try:
        while time.time() < end:
            s.sendto(msg.encode(), ("127.0.0.1", PORTS[name][1]))
            resend = time.time() + 2
            while time.time() < min(resend, end):
                s.settimeout(max(0.01, min(resend, end) - time.time()))
                try:
                    r = s.recv(65535).decode(errors="replace")
                except socket.timeout:
                    break
                if int(r.split(" ", 2)[1]) >= 200:
                    if not retransmit:
                        return r
                    s.sendto(msg.encode(), ("127.0.0.1", PORTS[name][1]))
                    s.settimeout(scaled(5))
                    try:
                        return r, s.recv(65535).decode(errors="replace")
                    except socket.timeout:
                        return r, ""
        return ("", "") if retransmit else ""
    finally:
        s.close()


def code(resp):
    try:
        return int(resp.split(" ", 2)[1])
    except (IndexError, ValueError):
        return None


def codes(resp, name="Cidguard-Reasons"):
    return set(filter(None, (header(resp, name) or "").split(",")))


def summary(resp):
    """The answer's first line and cidguard's headers, for a FAIL line."""
    lines = (resp or "").split("\r\n")
    return " | ".join([lines[0]] + [x for x in lines if x.lower().startswith(
        ("cidguard-", "p-asserted", "privacy"))])


def passes_with_intent(resp):
    return (code(resp) == 302 and header(resp, "Cidguard-Action") == "allow" and
            header(resp, "Cidguard-Brand") == BRAND and "brand_intent" in codes(resp) and
            "protected_no_intent" not in codes(resp))


def blocked(resp, reason):
    return (code(resp) == 608 and header(resp, "Cidguard-Action") == "block" and
            reason in codes(resp) and header(resp, "Cidguard-Brand") is None)


def withheld(resp):
    """Delivered with the caller ID withheld: a UK mobile abroad, not shown roaming."""
    return (code(resp) == 302 and header(resp, "Cidguard-Action") == "withhold" and
            "intl_uk_mobile_not_roaming" in codes(resp) and header(resp, "Privacy") == "id")


def untouched(resp, num):
    """An ordinary consumer's call: allowed as it came, verstat
    No-TN-Validation on both numbers, no brand, no Privacy."""
    pai, pres = header(resp, "P-Asserted-Identity"), header(resp, "Cidguard-Presentation")
    return (code(resp) == 302 and header(resp, "Cidguard-Action") == "allow" and
            codes(resp) <= {"no_tn_validation", "uk_allocation_unknown"} and
            "no_tn_validation" in codes(resp) and
            pai == "<tel:+%s;verstat=No-TN-Validation>" % num and
            pres == "<tel:+%s;verstat=No-TN-Validation>" % num and
            header(resp, "Privacy") is None and header(resp, "Cidguard-Brand") is None and
            header(resp, "Cidguard-Presentation-Reasons") is None)


try:
    write_files()
    roam_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Roaming)
    roam_srv.daemon_threads = True
    threading.Thread(target=roam_srv.serve_forever, daemon=True).start()
    start_daemon("M", decision_log=True,
                 extra="roaming_check_url = http://127.0.0.1:%d/roaming\n"
                       "roaming_check_timeout_ms = %d\nmark_international = yes\n"
                       % (roam_srv.server_address[1], ROAM_TIMEOUT_MS))

    REDIS = shutil.which("redis-server")
    if not REDIS:
        print("# redis-server is not installed: the shared-intent checks are skipped")
    else:
        def make_redis():
            PORTS["redis"] = free_port()
            return ["redis-server", "--port", str(PORTS["redis"]), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no"], PORTS["redis"]

        procs.append(start(make_redis, os.path.join(WORK, "redis.log"), banner=False))
        url = "redis://127.0.0.1:%d" % PORTS["redis"]
        start_daemon("A", url)
        start_daemon("B", url)

    # registered first, so that their 3 s run while the other checks do
    register("M", callee(90), valid_for=2)
    if REDIS:
        register("A", callee(91), valid_for=2)
    expiring_since = time.time()

    # --- 1. a bank's calls under call intents -------------------------------------------
    register("M", callee(1))
    r = invite("M", BANK, callee(1))
    check("bank, From only, live intent: 302 allow, brand, brand_intent",
          passes_with_intent(r), summary(r))
    check("bank, From only: verstat No-TN-Validation (nothing was signed)",
          header(r, "P-Asserted-Identity") == "<tel:+%s;verstat=No-TN-Validation>" % BANK and
          header(r, "Privacy") is None, summary(r))

    register("M", callee(2))
    r = invite("M", BANK, callee(2), pai=BANK_NET)
    check("bank's number presented behind the bank's own network number, live intent: "
          "302 allow, brand, brand_intent", passes_with_intent(r), summary(r))
    check("... P-Asserted-Identity is the network number, Cidguard-Presentation the bank's, "
          "both No-TN-Validation",
          header(r, "P-Asserted-Identity") == "<tel:+%s;verstat=No-TN-Validation>" % BANK_NET and
          header(r, "Cidguard-Presentation") == "<tel:+%s;verstat=No-TN-Validation>" % BANK,
          summary(r))
    check("... Cidguard-Presentation-Reasons: brand_intent",
          "brand_intent" in codes(r, "Cidguard-Presentation-Reasons"), summary(r))

    register("M", callee(9))
    r = invite("M", BANK, callee(9), pai=BANK)
    check("bank, From = PAI, live intent: passes, no Cidguard-Presentation-Reasons",
          passes_with_intent(r) and header(r, "Cidguard-Presentation-Reasons") is None,
          summary(r))

    register("M", callee(3))
    r = invite("M", BANK, callee(3), pai=CONSUMER2)
    check("bank's number behind another network number, live intent: passes (the owner "
          "announced the call)", passes_with_intent(r), summary(r))

    r = invite("M", BANK, callee(4))
    check("bank, From only, no intent: 608 protected_no_intent", blocked(r, "protected_no_intent"),
          summary(r))
    r = invite("M", BANK, callee(4), pai=BANK_NET)
    check("bank's number behind its own network number, no intent: 608 protected_no_intent",
          blocked(r, "protected_no_intent") and
          "protected_no_intent" in codes(r, "Cidguard-Presentation-Reasons"), summary(r))

    register("M", callee(5))
    first, again = invite("M", BANK, callee(5), retransmit=True)
    check("a retransmitted INVITE gets the same answer", passes_with_intent(first) and
          code(again) == 302 and header(again, "Cidguard-Brand") == BRAND,
          (summary(first), summary(again)))
    uses = [first] + [invite("M", BANK, callee(5)) for _ in range(2)]
    check("max_uses (3): three calls under one intent pass (the retransmission spent no use)",
          all(passes_with_intent(u) for u in uses), [summary(u) for u in uses])
    r = invite("M", BANK, callee(5))
    check("max_uses (3): the fourth call is blocked: 608 protected_no_intent",
          blocked(r, "protected_no_intent"), summary(r))

    register("M", callee(6))
    r = invite("M", BANK, callee(7))
    check("an intent for callee X does not let a call to callee Y through: 608",
          blocked(r, "protected_no_intent"), summary(r))
    r = invite("M", BANK, callee(6))
    check("... and the call to X still passes", passes_with_intent(r), summary(r))

    register("M", callee(8))
    r = invite("M", BANK, callee(8))
    check("before DELETE: the call passes", passes_with_intent(r), summary(r))
    st, ans = api("M", "DELETE", "/intent/v1?from=%s&to=%s" % (BANK, callee(8)))
    check("DELETE /intent/v1: 200", st == 200, (st, ans))
    r = invite("M", BANK, callee(8))
    check("after DELETE: 608 protected_no_intent", blocked(r, "protected_no_intent"), summary(r))

    # --- 2. presentation spoofs behind a genuine consumer's network number ---------------
    for what, pres, reason in (("a protected number (no intent)", BANK, "protected_no_intent"),
                               ("a DNO number", DNO, "dno"),
                               ("a number in a range Ofcom has not allocated", UNALLOCATED,
                                "uk_cli_unallocated")):
        r = invite("M", pres, callee(10), pai=CONSUMER)
        check("spoofed presentation number behind a consumer's: %s: 608 %s" % (what, reason),
              blocked(r, reason), summary(r))
        check("... Cidguard-Presentation-Reasons names it (%s)" % reason,
              reason in codes(r, "Cidguard-Presentation-Reasons"), summary(r))
    r = invite("M", UNALLOCATED, callee(10))
    check("the unallocated number as the only number: 608 uk_cli_unallocated",
          blocked(r, "uk_cli_unallocated") and header(r, "Cidguard-Presentation-Reasons") is None,
          summary(r))

    # --- 4. ordinary consumers pass untouched -------------------------------------------
    for what, frm, pai in (("UK mobile, From only", CONSUMER, None),
                           ("UK mobile, From = PAI", CONSUMER, CONSUMER),
                           ("UK landline, From only", LANDLINE, None),
                           ("UK landline, From = PAI", LANDLINE, LANDLINE),
                           ("UK mobile on a domestic trunk group", CONSUMER2, CONSUMER2)):
        r = invite("M", frm, callee(11), pai=pai, tgrp="dom-gw" if "trunk" in what else None)
        check("consumer passes untouched: %s (allow, No-TN-Validation on both, no brand, "
              "no Privacy)" % what, untouched(r, frm), summary(r))

    # --- 3. +447 from abroad -------------------------------------------------------------
    r = invite("M", CONSUMER, callee(12), tgrp="intl-gw")
    check("+447 on the international ingress: 302 withhold, intl_uk_mobile_not_roaming, "
          "Privacy: id", withheld(r), summary(r))
    check("... marked for the SBC's display: Cidguard-Origin: international (mark_international)",
          header(r, "Cidguard-Origin") == "international", summary(r))
    r = invite("M", CONSUMER, callee(12), pai=CONSUMER, tgrp="intl-gw")
    check("+447 (From = PAI) on the international ingress: withheld", withheld(r), summary(r))
    asked_before = len(Roaming.asked)
    r = invite("M", CONSUMER, callee(12), tgrp="roam-gw")
    check("+447 on a roaming-partner ingress: 302 allow, no Privacy",
          code(r) == 302 and header(r, "Cidguard-Action") == "allow" and
          header(r, "Privacy") is None and "intl_uk_mobile_not_roaming" not in codes(r),
          summary(r))
    check("... still marked as a call from abroad", header(r, "Cidguard-Origin") == "international",
          summary(r))
    check("... and the roaming service was not asked", len(Roaming.asked) == asked_before,
          Roaming.asked[asked_before:])
    r = invite("M", LANDLINE, callee(12), tgrp="intl-gw")
    check("+44 landline on the international ingress: 608 intl_ingress_uk_cli",
          blocked(r, "intl_ingress_uk_cli"), summary(r))
    r = invite("M", LANDLINE, callee(12), tgrp="roam-gw")
    check("+44 landline on a roaming-partner ingress: 608 intl_ingress_uk_cli (only mobiles "
          "roam)", blocked(r, "intl_ingress_uk_cli"), summary(r))
    r = invite("M", BANK, callee(12), pai=CONSUMER, tgrp="intl-gw")
    check("bank's number behind a +447 on the international ingress: 608 (the spoof, not the "
          "withholding, decides)", blocked(r, "protected_no_intent"), summary(r))

    # the roaming-check service: only a timely {"roaming": true} shows roaming
    before = {k: roaming_count("M", k) for k in ("roaming", "not_roaming", "error", "timeout")}
    r = invite("M", ROAM_YES, callee(13), tgrp="intl-gw")
    check("roaming service says {\"roaming\": true}: 302 allow, no Privacy",
          code(r) == 302 and header(r, "Cidguard-Action") == "allow" and
          header(r, "Privacy") is None and "intl_uk_mobile_not_roaming" not in codes(r),
          summary(r))
    check("... the service was asked GET /roaming?tn=%s" % ROAM_YES,
          ("/roaming", ROAM_YES) in Roaming.asked, Roaming.asked)
    n = asked_about(ROAM_YES)
    r = invite("M", ROAM_YES, callee(14), tgrp="intl-gw")
    check("a second call of the roaming number: allowed from the cache (not asked again)",
          code(r) == 302 and header(r, "Cidguard-Action") == "allow" and
          asked_about(ROAM_YES) == n, (summary(r), asked_about(ROAM_YES), n))
    r = invite("M", ROAM_NO, callee(13), tgrp="intl-gw")
    check("roaming service says {\"roaming\": false}: withheld", withheld(r), summary(r))
    r = invite("M", ROAM_404, callee(13), tgrp="intl-gw")
    check("roaming service answers 404: withheld (fail safe)", withheld(r), summary(r))
    r = invite("M", ROAM_JUNK, callee(13), tgrp="intl-gw")
    check("roaming service answers malformed JSON: withheld (fail safe)", withheld(r),
          summary(r))
    t = time.time()
    r = invite("M", ROAM_SLOW, callee(13), tgrp="intl-gw")
    took = time.time() - t
    check("roaming service slower than roaming_check_timeout_ms (%d): withheld"
          % ROAM_TIMEOUT_MS, withheld(r), summary(r))
    check("... answered without waiting for the service (%.2f s < %.1f s)"
          % (took, ROAM_SLEEP * 0.75), took < ROAM_SLEEP * 0.75, took)
    after = {}
    wait_for(lambda: after.update((k, roaming_count("M", k)) for k in before) or
             after["timeout"] > before["timeout"], 5)
    check("metrics: cidguard_roaming_checks_total{result=\"timeout\"} increments",
          after["timeout"] == before["timeout"] + 1, (before, after))
    check("metrics: roaming, not_roaming and error count their answers",
          after["roaming"] == before["roaming"] + 1 and
          after["not_roaming"] == before["not_roaming"] + 1 and
          after["error"] == before["error"] + 2, (before, after))
    r = invite("M", ROAM_NO, callee(16), pai=FOREIGN, tgrp="intl-gw")
    check("a foreign network number presenting a +447 not roaming: withheld, the finding is "
          "the presentation number's", withheld(r) and "intl_uk_mobile_not_roaming" in
          codes(r, "Cidguard-Presentation-Reasons"), summary(r))
    r = invite("M", ROAM_YES, callee(16), pai=FOREIGN, tgrp="intl-gw")
    check("a foreign network number presenting a +447 the service says roams: allowed",
          code(r) == 302 and header(r, "Cidguard-Action") == "allow" and
          header(r, "Privacy") is None, summary(r))
    r = invite("M", ROAM_NO, callee(16), pai=ROAM_YES, tgrp="intl-gw")
    check("a roaming network number does not vouch for another +447 it presents: withheld, "
          "the finding is the presentation number's", withheld(r) and
          "intl_uk_mobile_not_roaming" in codes(r, "Cidguard-Presentation-Reasons"), summary(r))
    r = invite("M", ROAM_YES, callee(15), tgrp="roam-gw")
    check("the roaming number on the roaming-partner ingress: allowed, not asked again",
          code(r) == 302 and header(r, "Cidguard-Action") == "allow" and
          asked_about(ROAM_YES) == n, summary(r))

    # --- 6. the decision log: both numbers and which one each finding is about ------------
    spoof_id = "uk-declog-" + os.urandom(6).hex()
    r = invite("M", DNO, callee(17), pai=CONSUMER, call_id=spoof_id)
    check("decision-log call: a DNO presentation number behind a consumer's: 608",
          blocked(r, "dno"), summary(r))
    db = os.path.join(WORK, "state-M", "decisions.db")
    row = []

    def logged():
        if not os.path.exists(db):
            return False
        try:
            with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2) as con:
                row[:] = con.execute("SELECT caller, presented, caller_reasons, presented_reasons,"
                                     " reasons, action FROM decisions WHERE call_id = ?",
                                     (spoof_id,)).fetchall()
        except sqlite3.Error:
            return False
        return bool(row)

    check("the decision log holds the spoof call (polled)", wait_for(logged, 10, 0.1),
          tail(os.path.join(WORK, "M.log")))
    if row:
        caller, presented, on_caller, on_pres, reasons, action = row[0]
        split = lambda s: set(filter(None, (s or "").split(",")))  # noqa: E731
        check("decision log: caller is the network number, presented the From number",
              caller == CONSUMER and presented == DNO, row[0])
        check("decision log: dno is about the presentation number, not the network number",
              "dno" in split(on_pres) and "dno" not in split(on_caller), row[0])
        check("decision log: reasons hold every finding, action block",
              {"dno", "no_tn_validation"} <= split(reasons) and
              split(on_caller) | split(on_pres) <= split(reasons) and action == "block", row[0])

    # --- 1 (end). the intent registered first has expired ---------------------------------
    time.sleep(max(0.0, expiring_since + 3 - time.time()))
    r = invite("M", BANK, callee(90))
    check("an intent registered with valid_for=2, 3 s later: 608 protected_no_intent",
          blocked(r, "protected_no_intent"), summary(r))
    if REDIS:
        r = invite("B", BANK, callee(91))
        check("an intent registered on A with valid_for=2, 3 s later, a call to B: 608 "
              "(expired in Redis)", blocked(r, "protected_no_intent"), summary(r))

    # --- 5. two daemons sharing one real redis-server ------------------------------------
    if REDIS:
        ans = register("A", callee(20))
        check("the intent registered on A is shared (Redis)",
              isinstance(ans, dict) and ans.get("shared") is True, ans)
        r = invite("B", BANK, callee(20))
        check("a call to daemon B under the intent registered on daemon A: 302 brand_intent",
              passes_with_intent(r), summary(r))
        r = invite("B", BANK, callee(20), pai=CONSUMER2)
        check("... as the presentation number behind another network number on B: passes",
              passes_with_intent(r), summary(r))
        r = invite("A", BANK, callee(20))
        check("... the third use, on daemon A: passes", passes_with_intent(r), summary(r))
        r = invite("B", BANK, callee(20))
        check("uses are shared: the fourth call (on B) is blocked, 608 protected_no_intent",
              blocked(r, "protected_no_intent"), summary(r))
        r = invite("A", BANK, callee(20))
        check("... and on A too", blocked(r, "protected_no_intent"), summary(r))
        r = invite("B", BANK, callee(21))
        check("daemon B without any intent for that callee: 608",
              blocked(r, "protected_no_intent"), summary(r))
        register("B", callee(22))
        st, ans = api("A", "DELETE", "/intent/v1?from=%s&to=%s" % (BANK, callee(22)))
        check("an intent registered on B, cancelled on A: 200", st == 200, (st, ans))
        r = invite("B", BANK, callee(22))
        check("... then a call to B: 608 protected_no_intent", blocked(r, "protected_no_intent"),
              summary(r))

    for name, p in DAEMONS.items():
        log = tail(os.path.join(WORK, name + ".log"), 1 << 20)
        check("daemon %s is still running and logged no sanitizer report" % name,
              p.poll() is None and "Sanitizer" not in log, log[-600:])
    print("# %.1f s" % (time.time() - T0))
finally:
    # the daemons' logs, read before stop() removes them, printed after it
    # (a closed stdout must not leave the daemons running)
    logs = [(name, tail(os.path.join(WORK, name + ".log"), 3000)) for name in DAEMONS]
    stop(procs, WORK)
    if harness.failed or sys.exc_info()[0]:
        for name, text in logs:
            print("# --- %s.log:\n# %s" % (name, text.replace("\n", "\n# ")))
finish()
