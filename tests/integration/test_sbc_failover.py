"""Calls through Kamailio keep flowing when cidguardd does not answer.

    python3 test_sbc_failover.py BUILD_DIR
Kamailio runs examples/kamailio/kamailio-cidguard.cfg with its default
budget (200 ms for cidguardd in all, 100 ms a node), its test hooks signing
every call with secsipid as an upstream network would.  Three cidguardd
nodes: A and B in one dispatcher set, C alone in another.

- C is killed while calls stream through it: every call still completes
  within the budget + 50 ms, without verstat, with X-Cidguard-Bypass; once
  the dispatcher has marked C down, calls do not wait for it at all.  C is
  restarted on the same ports: calls are verified again within 2 s.
- A is killed while calls stream over A and B: the dispatcher moves A's
  traffic to B, and no call is lost, not even a verification: the call that
  finds A dead is verified by B within the same budget.
- A node that never answers, with the fail-closed switch (a second Kamailio
  with -A CG_FAIL_CLOSED): the caller gets 503 within the budget, and the
  callee is never rung.

Time bounds, and the configuration's budget, grow with CG_TEST_TIME_SCALE.  Skips (exit 77) when Kamailio or
its modules are not installed.
"""
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TIME_SCALE, check, finish, free_port, free_ports, scaled, start,  # noqa: E402
                     stop, tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
CFG = os.path.join(HERE, "..", "..", "examples", "kamailio", "kamailio-cidguard.cfg")
KAM_BIN = shutil.which("kamailio") or "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
if not os.path.exists(KAM_BIN) or not all(os.path.exists(MODULES + m) for m in
                                          ("secsipid.so", "dispatcher.so", "uac.so")):
    print("kamailio with its secsipid, dispatcher and uac modules not installed")
    sys.exit(77)

# The configuration's budget (CG_TIMEOUT_MS, CG_TRY_TIMEOUT_MS a node), its
# defaults except on slow builds (CG_TEST_TIME_SCALE), where it grows too.
BUDGET = scaled(0.200)
BUDGET_DEFINES = [] if TIME_SCALE == 1 else [
    "CG_TIMEOUT_MS=%d" % (BUDGET * 1000), "CG_TRY_TIMEOUT_MS=%d" % (BUDGET * 500)]
BOUND = BUDGET + scaled(0.050)
WORK = tempfile.mkdtemp(prefix="cgd-sbcfo-")
procs = []
arrived = {}  # Call-ID: the INVITE the UAS saw
uas_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
uas_sock.bind(("127.0.0.1", 0))
UAS_PORT = uas_sock.getsockname()[1]


def uas():
    s = uas_sock
    while True:
        data, addr = s.recvfrom(65535)
        msg = data.decode(errors="replace")
        if not msg.startswith("INVITE"):
            continue
        lines = msg.split("\r\n")
        arrived[header(msg, "Call-ID")] = msg
        hdrs = [l for l in lines if l.split(":")[0].lower() in ("via", "from", "call-id", "cseq")]
        to = [l for l in lines if l.lower().startswith("to:")][0]
        s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(hdrs) + "\r\n" + to + ";tag=uas1\r\n"
                  "Contact: <sip:uas@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n"
                  % UAS_PORT).encode(), addr)


def header(msg, name):
    for line in (msg or "").split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def call(kam_port, dset, frm="442079460000"):
    """One call through Kamailio, signed by its hooks, verified through
    dispatcher set dset: (when sent, final status, seconds to the final
    answer, the INVITE the UAS saw)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(scaled(5))
    port = s.getsockname()[1]
    cid = os.urandom(6).hex() + "@uac"
    inv = ("INVITE sip:14155550100@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "From: <sip:%s@127.0.0.1>;tag=uac1\r\nTo: <sip:14155550100@127.0.0.1>\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:uac@127.0.0.1:%d>\r\nX-Scenario: kam-sign\r\nX-Test-Set: %d\r\n"
           "Content-Length: 0\r\n\r\n" % (UAS_PORT, port, os.urandom(6).hex(), frm, cid, port, dset))
    t0 = time.time()
    s.sendto(inv.encode(), ("127.0.0.1", kam_port))
    final = None
    try:
        while True:
            r = s.recv(65535).decode(errors="replace")
            code = int(r.split(" ")[1])
            if code >= 200:
                final = code
                break
    except OSError:
        pass
    took = time.time() - t0
    s.close()
    if final == 200:
        wait_for(lambda: cid in arrived, 2, 0.005)
    return t0, final, took, arrived.get(cid, "")


def stream(kam_port, dset, results, stop_flag, rate=20):
    """Calls one after another, `rate` a second at most, until stop_flag."""
    while not stop_flag.is_set():
        t = time.time()
        results.append(call(kam_port, dset))
        time.sleep(max(0.0, 1.0 / rate - (time.time() - t)))


def verified(inv):
    return "P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>" in inv


def bypassed(inv):
    return header(inv, "X-Cidguard-Bypass")


def calls_answered(http_port):
    """The sum of a node's cidguard_calls_total."""
    import urllib.request
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port,
                                      timeout=5).read().decode()
    except OSError:
        return -1
    return sum(int(float(l.rsplit(" ", 1)[1])) for l in text.splitlines()
               if l.startswith("cidguard_calls_total{"))


def options_answered(port):
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


try:
    pki = os.path.join(WORK, "pki")
    subprocess.run([os.path.join(BUILD, "cidguard"), "pki", "init", pki, "--spc", "1001"],
                   capture_output=True, check=True)
    key = os.path.join(pki, "sp-1001.key")
    # The certificate's repository outlives any node: a small HTTP server.
    certs = os.path.join(WORK, "repo")
    os.makedirs(os.path.join(certs, "certs"))
    shutil.copy(os.path.join(pki, "sp-1001.pem"), os.path.join(certs, "certs"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=certs, **kw)

        def log_message(self, *args):
            pass

    repo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=repo.serve_forever, daemon=True).start()
    x5u = "http://127.0.0.1:%d/certs/sp-1001.pem" % repo.server_address[1]

    nodes = {}

    def node(name):
        """Starts (or restarts, on the same ports) cidguardd node `name`."""
        n = nodes.setdefault(name, {})
        state = os.path.join(WORK, "state-" + name)
        os.makedirs(state, exist_ok=True)

        def make():
            if "verify" not in n:
                n["http"] = free_port()
                n["verify"], n["sign"] = free_ports(2, udp=True)
            conf = os.path.join(WORK, name + ".conf")
            with open(conf, "w") as f:
                f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                        "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                        "[verify]\ntrust = %s\ncrl = %s\n"
                        "[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                        % (state, n["http"], n["verify"], n["sign"],
                           os.path.join(pki, "root.pem"), os.path.join(pki, "crl.pem")))
            return [os.path.join(BUILD, "cidguardd"), "-c", conf], n["http"]

        n["proc"] = start(make, os.path.join(WORK, name + ".log"), tries=1 if "proc" in n else 2)
        procs.append(n["proc"])
        return n

    for name in ("A", "B", "C"):
        node(name)
    dead = free_port(udp=True)  # nothing listens there
    threading.Thread(target=uas, daemon=True).start()
    dlist = os.path.join(WORK, "dispatcher.list")
    with open(dlist, "w") as f:
        f.write("1 sip:127.0.0.1:%d 0 0\n1 sip:127.0.0.1:%d 0 0\n4 sip:127.0.0.1:%d 0 0\n"
                "5 sip:127.0.0.1:%d 0 0\n"
                % (nodes["A"]["verify"], nodes["B"]["verify"], nodes["C"]["verify"], dead))
    kam = {}

    def kamailio(name, *defines):
        def make():
            kam[name] = free_port(udp=True)
            argv = [KAM_BIN, "-f", CFG, "-DD", "-E", "-w", WORK, "-Y", WORK,
                    "-A", "CG_TEST", "-A", "CG_ADDR=127.0.0.1",
                    "-A", "CG_NETWORK_PORT=%d" % kam[name],
                    "-A", "CG_CUSTOMER_PORT=%d" % free_port(udp=True),
                    "-A", 'CG_DISPATCHER_LIST="%s"' % dlist,
                    "-A", 'CG_NETWORK_NEXT_HOP="sip:127.0.0.1:%d"' % UAS_PORT,
                    "-A", 'CG_CUSTOMER_NEXT_HOP="sip:127.0.0.1:%d"' % UAS_PORT,
                    "-A", 'CG_TEST_SIGNKEY="%s"' % key, "-A", 'CG_TEST_X5U="%s"' % x5u,
                    "-A", 'CG_TEST_PUBKEY="/dev/null"']
            for d in BUDGET_DEFINES + list(defines):
                argv += ["-A", d]
            return argv, kam[name]
        procs.append(start(make, os.path.join(WORK, "kamailio-%s.log" % name), banner=False,
                           ready=options_answered))

    kamailio("open")
    klog = os.path.join(WORK, "kamailio-open.log")
    # Every node verifies once before the clock starts: the certificate is
    # fetched and cached, as it is on a node that has been running.
    for dset in (1, 1, 4):
        call(kam["open"], dset)

    # 1. The only node of its set is killed mid-stream, then restarted.
    results, flag = [], threading.Event()
    streams = [threading.Thread(target=stream, args=(kam["open"], 4, results, flag))
               for _ in range(2)]
    for t in streams:
        t.start()
    time.sleep(1.5)
    killed = time.time()
    nodes["C"]["proc"].kill()
    nodes["C"]["proc"].wait()
    time.sleep(2.5)
    restarted = None
    node("C")
    restarted = time.time()
    wait_for(lambda: any(r[0] > restarted and verified(r[3]) for r in list(results)), 5, 0.05)
    time.sleep(1)
    flag.set()
    for t in streams:
        t.join()
    before = [r for r in results if r[0] + r[2] < killed]
    during = [r for r in results if killed < r[0] and r[0] + r[2] < restarted]
    after = [r for r in results if r[0] > restarted]
    check("C alone, killed mid-stream: every call of %d completes (200)" % len(results),
          results and all(r[1] == 200 for r in results),
          [(r[1], round(r[2], 3)) for r in results if r[1] != 200][:10])
    worst = max(r[2] for r in results)
    check("each within the budget + 50 ms (%.0f ms): the slowest took %.0f ms"
          % (BOUND * 1000, worst * 1000), worst <= BOUND,
          sorted(round(r[2] * 1000) for r in results)[-10:])
    # A node answers within 100 ms, but a busy machine can hold one answer
    # back: that call goes on unverified, says so, and C is marked down until
    # its next probe.  Nine in ten is the bound; every other call says why.
    ok_before = [r for r in before if verified(r[3])]
    check("before the kill, calls were verified by C (%d of %d; the rest say why)"
          % (len(ok_before), len(before)),
          before and len(ok_before) >= 0.9 * len(before) and
          all(verified(r[3]) or bypassed(r[3]) for r in before),
          [bypassed(r[3]) for r in before if not verified(r[3])][:5])
    check("while C is down (%d calls), no call carries a verstat, each says why it was "
          "not verified" % len(during),
          during and all("verstat" not in r[3] and bypassed(r[3]) in ("timeout", "down")
                         for r in during), [bypassed(r[3]) for r in during][:10])
    downs = [r for r in during if bypassed(r[3]) == "down"]
    check("the dispatcher marks C down at its first missed answer: later calls do not wait "
          "(%d of %d)" % (len(downs), len(during)),
          len(downs) >= len(during) - 2 and downs and max(r[2] for r in downs) < scaled(0.05),
          [(bypassed(r[3]), round(r[2] * 1000)) for r in during][:10])
    first = min((r[0] + r[2] for r in after if verified(r[3])), default=None)
    check("C restarted: calls verified again within 2 s (%s s)"
          % (round(first - restarted, 2) if first else None),
          first is not None and first - restarted <= scaled(2), tail(klog, 1500))
    late = [r for r in after if r[0] > first + 0.1] if first else []
    ok_late = [r for r in late if verified(r[3])]
    check("and the calls after that are verified (%d of %d; the rest say why)"
          % (len(ok_late), len(late)),
          late and len(ok_late) >= 0.9 * len(late) and
          all(verified(r[3]) or bypassed(r[3]) for r in late),
          [bypassed(r[3]) for r in late if not verified(r[3])][:5])

    # 2. One of two nodes is killed mid-stream: B takes A's calls.
    time.sleep(1)
    a0, b0 = calls_answered(nodes["A"]["http"]), calls_answered(nodes["B"]["http"])
    results, flag = [], threading.Event()
    streams = [threading.Thread(target=stream, args=(kam["open"], 1, results, flag))
               for _ in range(2)]
    for t in streams:
        t.start()
    time.sleep(1.5)
    a1, b1 = calls_answered(nodes["A"]["http"]), calls_answered(nodes["B"]["http"])
    killed = time.time()
    nodes["A"]["proc"].kill()
    nodes["A"]["proc"].wait()
    time.sleep(2.5)
    flag.set()
    for t in streams:
        t.join()
    b2 = calls_answered(nodes["B"]["http"])
    check("A and B share the calls before the kill (A %d, B %d)" % (a1 - a0, b1 - b0),
          a1 - a0 > 0 and b1 - b0 > 0, (a0, a1, b0, b1))
    check("A killed mid-stream: every call of %d completes (200)" % len(results),
          results and all(r[1] == 200 for r in results),
          [(r[1], round(r[2], 3)) for r in results if r[1] != 200][:10])
    check("and every one is verified: nothing lost, no bypass",
          all(verified(r[3]) and not bypassed(r[3]) for r in results),
          [bypassed(r[3]) for r in results if not verified(r[3])][:10])
    worst = max(r[2] for r in results)
    check("each within the budget + 50 ms: the slowest (A's last call, retried on B) took "
          "%.0f ms" % (worst * 1000), worst <= BOUND,
          sorted(round(r[2] * 1000) for r in results)[-10:])
    after_kill = [r for r in results if r[0] > killed]
    check("B answered every call after the kill (%d calls, B counted %d)"
          % (len(after_kill), b2 - b1), b2 - b1 >= len(after_kill), (b1, b2))

    # 3. The fail-closed switch: a node that never answers means 503.
    kamailio("closed", "CG_FAIL_CLOSED")
    t0, code, took, inv = call(kam["closed"], 5)
    check("CG_FAIL_CLOSED, the node silent: 503 to the caller after %.0f ms, the callee never "
          "rung" % (took * 1000), code == 503 and not inv and took <= BOUND, (code, took, inv))
    t0, code, took, inv = call(kam["open"], 5)
    check("the same node without the switch: the call goes on (X-Cidguard-Bypass: %s)"
          % bypassed(inv), code == 200 and bypassed(inv) in ("timeout", "down") and
          "verstat" not in inv, (code, inv))
finally:
    stop(procs, WORK)

finish()
