"""Policy reload under load is atomic, and per-reason actions are configurable.

Two versions of the lists disagree about one number: in version 1 it is on
the DNO list, in version 2 it is a protected number (and not on the DNO
list).  While calls presenting it stream in, the lists are swapped and the
daemon sent SIGHUP twenty times.  Every answer must carry exactly one of
`dno` and `protected_no_intent`: a call that saw half a reload (both lists
new, or both old, in a mixed state) would show both or neither.

    python3 test_reload.py BUILD_DIR
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, scaled, start, stop, tail, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CGD = os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-reload-")
HTTP = SIP = None  # the daemon's ports, chosen when it starts
NUM = "442079460555"
proc = None


def reasons(resp):
    for line in (resp or "").split("\r\n"):
        if line.lower().startswith("cidguard-reasons:"):
            return set(filter(None, line.split(":", 1)[1].strip().split(",")))
    return set()


def invite(orig, branch):
    return ("INVITE sip:+14155550100@127.0.0.1;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+14155550100@127.0.0.1>\r\n"
            "Call-ID: %s@reload\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            % (branch, orig, branch)).encode()


def write_lists(version):
    """Writes both lists of `version` in place by rename (as an operator's tool would)."""
    dno = "number,note\n" + ("%s,inbound only\n" % NUM if version == 1 else "")
    prot = "number,brand,spcs,min_attest\n" + ("%s,Reload Bank,RB1,A\n" % NUM if version == 2 else "")
    for name, text in (("dno.csv", dno), ("protected.csv", prot)):
        tmp = os.path.join(WORK, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(WORK, name))


try:
    write_lists(1)
    state = os.path.join(WORK, "state")
    os.makedirs(state)
    subprocess.run([os.path.join(BUILD, "cidguard"), "pki", "init", os.path.join(WORK, "pki")],
                   capture_output=True, check=True)
    conf = os.path.join(WORK, "d.conf")

    def configure():
        global HTTP, SIP
        HTTP, SIP, sign_port = free_ports(1) + free_ports(2, udp=True)
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 2\ndecision_log = off\n"
                    "[verify]\ntrust = %s\nrfc9410_reason = yes\n"
                    "[policy]\ndno = %s\nprotected = %s\n"
                    "actions = no_tn_validation=label;uk_allocation_unknown=allow\n"
                    % (state, HTTP, SIP, sign_port, os.path.join(WORK, "pki", "root.pem"),
                       os.path.join(WORK, "dno.csv"), os.path.join(WORK, "protected.csv")))
        return [CGD, "-c", conf], HTTP

    proc = start(configure, os.path.join(WORK, "d.log"))

    # per-reason actions: an unsigned ordinary call is labelled, not allowed
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(30)
    s.sendto(invite("447400012345", "act1"), ("127.0.0.1", SIP))
    r = s.recv(65535).decode()
    check("[policy] actions: no_tn_validation=label labels an unsigned call",
          r.startswith("SIP/2.0 302") and "Cidguard-Action: label" in r, r)

    # RFC 9410: a failed Identity header named by its signature in the Reason
    bad_id = ("eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl;info=<http://127.0.0.1/x.pem>;alg=ES256;"
              "ppt=shaken")
    msg = invite("447400012345", "act2").decode().replace("Content-Length", "Identity: %s\r\nContent-Length" % bad_id)
    s.sendto(msg.encode(), ("127.0.0.1", SIP))
    r = s.recv(65535).decode()
    reason = [l for l in r.split("\r\n") if l.startswith("Reason:")]
    check("rfc9410_reason: Reason: STIR with the failed header's ppi in compact form",
          len(reason) == 1 and reason[0].startswith("Reason: STIR;cause=4") and
          reason[0].endswith(';ppi="..c2lnbmF0dXJl"'), r)

    answers, sending_done = [], threading.Event()

    def receiver():
        # short reads, so that it stops as soon as every call is answered;
        # after the last call it waits at most 2 s (scaled) for stragglers
        idle_since = time.time()
        while not sending_done.is_set() or len(answers) < sent[0]:
            try:
                answers.append(s.recv(65535).decode())
                idle_since = time.time()
            except socket.timeout:
                if sending_done.is_set() and time.time() - idle_since > scaled(2):
                    break

    sent = [0]
    s.settimeout(0.1)
    th = threading.Thread(target=receiver)
    th.start()
    # a slow build gets the same number of calls and reloads, spread out
    t_end = time.time() + scaled(4)
    hups = 0
    next_hup = time.time() + scaled(0.1)
    while time.time() < t_end:
        s.sendto(invite(NUM, "r%06d" % sent[0]), ("127.0.0.1", SIP))
        sent[0] += 1
        if time.time() >= next_hup and hups < 20:
            write_lists(2 if hups % 2 == 0 else 1)
            proc.send_signal(signal.SIGHUP)
            hups += 1
            next_hup = time.time() + scaled(0.15)
        time.sleep(scaled(0.002))
    sending_done.set()
    th.join()
    kinds = {"dno": 0, "protected": 0, "both": 0, "neither": 0}
    for a in answers:
        rs = reasons(a)
        d, p = "dno" in rs, "protected_no_intent" in rs
        kinds["both" if d and p else "dno" if d else "protected" if p else "neither"] += 1
    check("%d calls during %d reloads: every one answered" % (sent[0], hups), len(answers) == sent[0],
          "%d of %d" % (len(answers), sent[0]))
    check("each saw the old lists or the new ones, never half (%s)" % kinds,
          kinds["both"] == 0 and kinds["neither"] == 0 and kinds["dno"] > 0 and kinds["protected"] > 0,
          kinds)
    def count_reloads():
        return tail(os.path.join(WORK, "d.log"), 1 << 22).count("configuration reloaded")

    wait_for(lambda: count_reloads() >= 10, 5)
    reloads = count_reloads()
    check("the daemon reloaded %d times" % reloads, reloads >= 10, reloads)
finally:
    stop([proc], WORK)

finish()
