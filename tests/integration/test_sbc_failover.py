"""Calls through Kamailio keep flowing when cidguardd does not answer.

    python3 test_sbc_failover.py BUILD_DIR
Kamailio runs examples/kamailio/kamailio-cidguard.cfg with its default
budget (200 ms for cidguardd in all, 100 ms a node), SIP over TLS to
cidguardd switched on (-A CG_WITH_TLS, client certificates both ways), its
test hooks signing every call with secsipid as an upstream network would.
Real cidguardd nodes on loopback, in dispatcher sets of one or two.

- C (UDP) is killed while calls stream through it: every call still
  completes within the budget + 50 ms, without verstat, with
  X-Cidguard-Bypass; once the dispatcher has marked C down, calls do not
  wait for it at all.  C is restarted on the same ports: calls are verified
  again within 2 s.
- The same for T, reached over TLS: killed (its connection closed, new ones
  refused) and restarted, then hung (SIGSTOP: its connection open, nothing
  answering) and continued.
- A is killed while calls stream over A and B (UDP), then U while calls
  stream over T and U (TLS): the dispatcher moves the traffic to the other
  node, and no call is lost, not even a verification.
- A node that never answers beside one refusing TLS connections, in either
  order: each call tries both within the budget, then goes on unverified
  (fail open) or is refused 503 (a second Kamailio with -A CG_FAIL_CLOSED).
- Every node of a set down before the calls arrive: just killed (the
  dispatcher not yet aware: the first call tries each node within the
  budget), then marked down (calls do not wait), and marked inactive by the
  probes alone; fail closed refuses with 503 Caller ID Check Unavailable,
  the callee never rung, fail open passes the calls on without verstat.  A
  node that returns is used again by the fail-closed proxy, which lets no
  call through unverified before that.

Each check prints its number of calls and the slowest against its bound.
Time bounds, and the configuration's budget, grow with CG_TEST_TIME_SCALE.
Skips (exit 77) when Kamailio or its modules are not installed.
"""
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TIME_SCALE, check, finish, free_port, free_ports, mutual_tls_pki,  # noqa: E402
                     scaled, start, stop, tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
CFG = os.path.join(HERE, "..", "..", "examples", "kamailio", "kamailio-cidguard.cfg")
KAM_BIN = shutil.which("kamailio") or "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
if not os.path.exists(KAM_BIN) or not all(os.path.exists(MODULES + m) for m in
                                          ("secsipid.so", "tls.so", "dispatcher.so", "uac.so")):
    print("kamailio with its secsipid, tls, dispatcher and uac modules not installed")
    sys.exit(77)

# The configuration's budget (CG_TIMEOUT_MS, CG_TRY_TIMEOUT_MS a node), its
# defaults except on slow builds (CG_TEST_TIME_SCALE), where it grows too.
BUDGET = scaled(0.200)
BUDGET_DEFINES = [] if TIME_SCALE == 1 else [
    "CG_TIMEOUT_MS=%d" % (BUDGET * 1000), "CG_TRY_TIMEOUT_MS=%d" % (BUDGET * 500)]
BOUND = BUDGET + scaled(0.050)
# A call that finds every node already marked down waits for none of them.
QUICK = scaled(0.050)
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
    answer, the INVITE the UAS saw, Call-ID, the final answer's reason
    phrase)."""
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
           "Content-Length: 0\r\n\r\n"
           % (UAS_PORT, port, os.urandom(6).hex(), frm, cid, port, dset))
    t0 = time.time()
    s.sendto(inv.encode(), ("127.0.0.1", kam_port))
    final = phrase = None
    try:
        while True:
            r = s.recv(65535).decode(errors="replace")
            status = r.split("\r\n", 1)[0].split(" ", 2)
            code = int(status[1])
            if code >= 200:
                final, phrase = code, status[2] if len(status) > 2 else ""
                break
    except OSError:
        pass
    took = time.time() - t0
    s.close()
    if final == 200:
        wait_for(lambda: cid in arrived, 2, 0.005)
    return t0, final, took, arrived.get(cid, ""), cid, phrase


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

    def node(name, tls=False):
        """Starts (or restarts, on the same ports) cidguardd node `name`;
        with tls, its verification listener takes SIP over TLS too, client
        certificates required."""
        n = nodes.setdefault(name, {})
        state = os.path.join(WORK, "state-" + name)
        os.makedirs(state, exist_ok=True)

        def make():
            if "verify" not in n:
                n["http"] = free_port()
                n["verify"], n["sign"] = free_ports(2, udp=True)
                n["tls"] = free_port() if tls else None
            conf = os.path.join(WORK, name + ".conf")
            with open(conf, "w") as f:
                f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                        "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                        "[verify]\ntrust = %s\ncrl = %s\n"
                        "[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                        % (state, n["http"], n["verify"], n["sign"],
                           os.path.join(pki, "root.pem"), os.path.join(pki, "crl.pem")))
                if n["tls"]:
                    f.write("[server]\nsip_tls_verify_listen = 127.0.0.1:%d\n"
                            "[tls]\ncert = %s\nkey = %s\nclient_ca = %s\n"
                            "require_client_cert = yes\n"
                            % (n["tls"], tlsf["cgd"][1], tlsf["cgd"][0], tlsf["client-ca"][1]))
            return [os.path.join(BUILD, "cidguardd"), "-c", conf], n["http"]

        n["proc"] = start(make, os.path.join(WORK, name + ".log"), tries=1 if "proc" in n else 2)
        procs.append(n["proc"])
        return n

    # SIP over TLS between Kamailio and node T, both ways authenticated: T's
    # server certificate from one CA, Kamailio's client certificate from another.
    tlsf = mutual_tls_pki(WORK)
    tls_cfg = tlsf["kamailio.cfg"]

    for name in ("A", "B", "C", "D", "E", "F", "G"):
        node(name)
    node("T", tls=True)
    node("U", tls=True)
    dead = free_port(udp=True)  # nothing listens there
    threading.Thread(target=uas, daemon=True).start()
    # The dispatcher's sets: 1 A and B, 4 C alone, 5 a node that never
    # answers, 6 D and E (killed just before calls arrive), 7 F and G (killed,
    # then left to the probes), 8 T alone over TLS, 9 T and U over TLS, 11
    # and 12 a node that never answers and a TLS node refusing connections
    # (in both orders).
    dlist = os.path.join(WORK, "dispatcher.list")
    with open(dlist, "w") as f:
        f.write("1 sip:127.0.0.1:%d 0 0\n1 sip:127.0.0.1:%d 0 0\n4 sip:127.0.0.1:%d 0 0\n"
                "5 sip:127.0.0.1:%d 0 0\n"
                % (nodes["A"]["verify"], nodes["B"]["verify"], nodes["C"]["verify"], dead))
        for dset, names in ((6, "DE"), (7, "FG")):
            for name in names:
                f.write("%d sip:127.0.0.1:%d 0 0\n" % (dset, nodes[name]["verify"]))
        f.write("8 sip:127.0.0.1:%d;transport=tls 0 0\n" % nodes["T"]["tls"])
        for name in "TU":
            f.write("9 sip:127.0.0.1:%d;transport=tls 0 0\n" % nodes[name]["tls"])
        refused = free_port()  # nothing accepts TCP there
        f.write("11 sip:127.0.0.1:%d 0 0\n11 sip:127.0.0.1:%d;transport=tls 0 0\n"
                "12 sip:127.0.0.1:%d;transport=tls 0 0\n12 sip:127.0.0.1:%d 0 0\n"
                % (dead, refused, refused, dead))
    kam = {}

    def kamailio(name, *defines):
        def make():
            kam[name] = free_port(udp=True)
            argv = [KAM_BIN, "-f", CFG, "-DD", "-E", "-w", WORK, "-Y", WORK,
                    "-A", "CG_TEST", "-A", "CG_ADDR=127.0.0.1",
                    "-A", "CG_NETWORK_PORT=%d" % kam[name],
                    "-A", "CG_CUSTOMER_PORT=%d" % free_port(udp=True),
                    "-A", "CG_WITH_TLS", "-A", "CG_TLS_PORT=%d" % free_port(),
                    "-A", 'CG_TLS_CFG="%s"' % tls_cfg, "-A", "CG_TEST_TLS_SET=8",
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

    def unreachable(proxy):
        """Right after the proxy starts (every node up to its dispatcher): a
        set of one node that never answers and one refusing connections,
        whichever the call asks first."""
        log = os.path.join(WORK, "kamailio-%s.log" % proxy)
        rs = [call(kam[proxy], 11), call(kam[proxy], 12)]
        text = tail(log, 1 << 20)
        tried = all("cidguardd sip:127.0.0.1:%d;transport=tls could not be reached for %s"
                    % (refused, r[4]) in text and "did not answer %s" % r[4] in text
                    for r in rs)
        slowest = max(r[2] for r in rs)
        if proxy == "closed":
            check("CG_FAIL_CLOSED, one node silent, the other refusing TLS connections, in either "
                  "order (%d calls): 503 Caller ID Check Unavailable, the slowest after %.0f ms "
                  "(bound %.0f ms), the callee never rung" % (len(rs), slowest * 1000,
                                                             BOUND * 1000),
                  all(r[1] == 503 and r[5] == "Caller ID Check Unavailable" and not r[3] and
                      r[2] <= BOUND for r in rs), ([r[1:3] + r[4:] for r in rs], text[-800:]))
        else:
            check("one node silent, the other refusing TLS connections, in either order (%d "
                  "calls): each goes on without verstat (X-Cidguard-Bypass: timeout), the "
                  "slowest after %.0f ms (bound %.0f ms)" % (len(rs), slowest * 1000,
                                                            BOUND * 1000),
                  all(r[1] == 200 and "verstat" not in r[3] and bypassed(r[3]) == "timeout" and
                      r[2] <= BOUND for r in rs), ([r[1:3] + r[4:] for r in rs], text[-800:]))
        check("and each call tried both nodes", tried, text[-800:])

    kamailio("open")
    klog = os.path.join(WORK, "kamailio-open.log")
    kclog = os.path.join(WORK, "kamailio-closed.log")
    unreachable("open")
    def warm_up(proxy, dsets):
        """A call to each set, before the clock starts: the node fetches and
        caches the certificate, the proxy opens its TLS connection, as on a
        system that has been running.  Under a sanitizer or on a loaded
        machine that first call can pass the proxy's budget: the proxy then
        marks the node down (a set of one node says "down", or 503 when
        failing closed, until a probe answers, every second).  Such a call is
        made once more after the probes have had 3 s to bring the node back,
        and the node must verify then.  The calls, and how many were made
        again."""
        warm, again = [], 0
        for dset in dsets:
            r = call(kam[proxy], dset)
            if r[1] == 503 or (r[1] == 200 and bypassed(r[3]) in ("timeout", "down")):
                again += 1
                time.sleep(3)
                r = call(kam[proxy], dset)
            warm.append(r)
        return warm, again

    warm, again = warm_up("open", (1, 1, 4, 6, 6, 7, 7, 8))
    check("every node verifies through the fail-open proxy, T over TLS (%d calls, %d made again "
          "after a first call past the budget)" % (len(warm), again),
          all(r[1] == 200 and verified(r[3]) for r in warm),
          [(r[1], bypassed(r[3])) for r in warm])

    def single_node_fails(name, dset, what, hang=False):
        """The only node of set dset is killed while calls stream through
        it, and restarted on the same ports; with hang, it is stopped
        (SIGSTOP: its sockets stay open, nothing answers) and continued."""
        results, flag = [], threading.Event()
        streams = [threading.Thread(target=stream, args=(kam["open"], dset, results, flag))
                   for _ in range(2)]
        for t in streams:
            t.start()
        time.sleep(1.5)
        killed = time.time()
        if hang:
            os.kill(nodes[name]["proc"].pid, signal.SIGSTOP)
        else:
            nodes[name]["proc"].kill()
            nodes[name]["proc"].wait()
        time.sleep(2.5)
        if hang:
            os.kill(nodes[name]["proc"].pid, signal.SIGCONT)
        else:
            node(name)
        restarted = time.time()
        wait_for(lambda: any(r[0] > restarted and verified(r[3]) for r in list(results)),
                 5, 0.05)
        time.sleep(1)
        flag.set()
        for t in streams:
            t.join()
        before = [r for r in results if r[0] + r[2] < killed]
        during = [r for r in results if killed < r[0] and r[0] + r[2] < restarted]
        after = [r for r in results if r[0] > restarted]
        check("%s, %s mid-stream: every call of %d completes (200)"
              % (what, "hung" if hang else "killed", len(results)),
              results and all(r[1] == 200 for r in results),
              [(r[1], round(r[2], 3)) for r in results if r[1] != 200][:10])
        worst = max(r[2] for r in results)
        check("each within the budget + 50 ms (%.0f ms): the slowest took %.0f ms"
              % (BOUND * 1000, worst * 1000), worst <= BOUND,
              sorted(round(r[2] * 1000) for r in results)[-10:])
        # A node answers within 100 ms, but a busy machine can hold one
        # answer back: that call goes on unverified, says so, and the node
        # is marked down until its next probe.  Nine in ten is the bound;
        # every other call says why.
        ok_before = [r for r in before if verified(r[3])]
        check("before that, calls were verified by %s (%d of %d; the rest say why)"
              % (name, len(ok_before), len(before)),
              before and len(ok_before) >= 0.9 * len(before) and
              all(verified(r[3]) or bypassed(r[3]) for r in before),
              [bypassed(r[3]) for r in before if not verified(r[3])][:5])
        check("while %s is down (%d calls), no call carries a verstat, each says why it was "
              "not verified" % (name, len(during)),
              during and all("verstat" not in r[3] and bypassed(r[3]) in ("timeout", "down")
                             for r in during), [bypassed(r[3]) for r in during][:10])
        downs = [r for r in during if bypassed(r[3]) == "down"]
        check("the dispatcher marks %s down at its first missed answer: later calls do not wait "
              "(%d of %d, the slowest %.0f ms, bound %.0f ms)"
              % (name, len(downs), len(during), max((r[2] for r in downs), default=0) * 1000,
                 QUICK * 1000),
              len(downs) >= len(during) - 2 and downs and max(r[2] for r in downs) < QUICK,
              [(bypassed(r[3]), round(r[2] * 1000)) for r in during][:10])
        first = min((r[0] + r[2] for r in after if verified(r[3])), default=None)
        check("%s %s: calls verified again within 2 s (%s s)"
              % (name, "continued" if hang else "restarted",
                 round(first - restarted, 2) if first else None),
              first is not None and first - restarted <= scaled(2), tail(klog, 1500))
        late = [r for r in after if r[0] > first + 0.1] if first else []
        ok_late = [r for r in late if verified(r[3])]
        check("and the calls after that are verified (%d of %d; the rest say why)"
              % (len(ok_late), len(late)),
              late and len(ok_late) >= 0.9 * len(late) and
              all(verified(r[3]) or bypassed(r[3]) for r in late),
              [bypassed(r[3]) for r in late if not verified(r[3])][:5])

    # 1. The only node of its set is killed mid-stream, then restarted.
    single_node_fails("C", 4, "C alone (UDP)")
    # 2. The same over SIP over TLS: the connection Kamailio holds to T is
    # closed under it, new ones are refused until T is back.  Then T hangs:
    # its connection stays open and takes the INVITEs, nothing answers.
    single_node_fails("T", 8, "T alone (TLS)")
    time.sleep(1)
    single_node_fails("T", 8, "T alone (TLS)", hang=True)

    # 3. One of two nodes is killed mid-stream: B takes A's calls.
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

    # 3b. The same over TLS: U killed while calls stream over T and U.
    time.sleep(1)
    t0_, u0 = calls_answered(nodes["T"]["http"]), calls_answered(nodes["U"]["http"])
    results, flag = [], threading.Event()
    streams = [threading.Thread(target=stream, args=(kam["open"], 9, results, flag))
               for _ in range(2)]
    for t in streams:
        t.start()
    time.sleep(1.5)
    t1, u1 = calls_answered(nodes["T"]["http"]), calls_answered(nodes["U"]["http"])
    killed = time.time()
    nodes["U"]["proc"].kill()
    nodes["U"]["proc"].wait()
    time.sleep(2.5)
    flag.set()
    for t in streams:
        t.join()
    t2 = calls_answered(nodes["T"]["http"])
    check("T and U share the calls over TLS before the kill (T %d, U %d)" % (t1 - t0_, u1 - u0),
          t1 - t0_ > 0 and u1 - u0 > 0, (t0_, t1, u0, u1))
    check("U killed mid-stream: every call of %d completes (200), every one verified, no bypass"
          % len(results), results and all(r[1] == 200 and verified(r[3]) and not bypassed(r[3])
                                          for r in results),
          [(r[1], bypassed(r[3])) for r in results if r[1] != 200 or not verified(r[3])][:10])
    worst = max(r[2] for r in results)
    check("each within the budget + 50 ms (%.0f ms): the slowest took %.0f ms"
          % (BOUND * 1000, worst * 1000), worst <= BOUND,
          sorted(round(r[2] * 1000) for r in results)[-10:])
    after_kill = [r for r in results if r[0] > killed]
    check("T answered every call after the kill (%d calls, T counted %d)"
          % (len(after_kill), t2 - t1), t2 - t1 >= len(after_kill), (t1, t2))

    # 4. The fail-closed switch: a node that never answers means 503.  (The
    # proxy starts with every node up: its first probes are not answered yet.)
    kamailio("closed", "CG_FAIL_CLOSED")
    unreachable("closed")
    r = call(kam["closed"], 5)
    check("CG_FAIL_CLOSED, the node silent: 503 to the caller after %.0f ms, the callee never "
          "rung" % (r[2] * 1000), r[1] == 503 and not r[3] and r[2] <= BOUND, r)
    r = call(kam["open"], 5)
    check("the same node without the switch: the call goes on (X-Cidguard-Bypass: %s)"
          % bypassed(r[3]), r[1] == 200 and bypassed(r[3]) in ("timeout", "down") and
          "verstat" not in r[3], r)
    warm, again = warm_up("closed", (6, 6, 7, 7, 8))
    check("with the nodes up, the fail-closed proxy verifies as the other does (%d calls, %d made "
          "again after a first call past the budget)" % (len(warm), again),
          all(r[1] == 200 and verified(r[3]) for r in warm),
          [(r[1], bypassed(r[3])) for r in warm])

    # 5. Every node of a set is down before the calls arrive.
    for name in "DEFG":
        nodes[name]["proc"].kill()
    for name in "DEFG":
        nodes[name]["proc"].wait()
    killed = time.time()

    def refused(rs, bound):
        """rs all refused by the fail-closed proxy as documented, each within
        bound, none reaching the callee: (ok, slowest, what went wrong)."""
        slowest = max(r[2] for r in rs)
        bad = [(r[1], r[5], round(r[2] * 1000), bool(r[3])) for r in rs
               if r[1] != 503 or r[5] != "Caller ID Check Unavailable" or r[3] or r[2] > bound]
        return not bad, slowest, bad

    def passed_unverified(rs, why, bound):
        slowest = max(r[2] for r in rs)
        bad = [(r[1], bypassed(r[3]), round(r[2] * 1000)) for r in rs
               if r[1] != 200 or "verstat" in r[3] or bypassed(r[3]) != why or r[2] > bound]
        return not bad, slowest, bad

    # 5a. D and E were up at the last probe: the first call waits for each
    # in turn, within the budget, and marks both down.
    rs = [call(kam["closed"], 6)]
    ok, slowest, bad = refused(rs, BOUND)
    check("CG_FAIL_CLOSED, D and E killed before the call, the dispatcher not yet aware: "
          "503 Caller ID Check Unavailable after %.0f ms (bound %.0f ms), the callee never rung"
          % (slowest * 1000, BOUND * 1000), ok, (bad, tail(kclog, 600)))
    check("and the proxy says why: both nodes tried in the budget (timeout)",
          "cidguard bypassed (timeout) for %s" % rs[0][4] in tail(kclog, 1 << 20),
          tail(kclog, 600))
    rs = [call(kam["open"], 6)]
    ok, slowest, bad = passed_unverified(rs, "timeout", BOUND)
    check("fail open, the same: the call goes on without verstat (X-Cidguard-Bypass: timeout) "
          "after %.0f ms (bound %.0f ms)" % (slowest * 1000, BOUND * 1000), ok, bad)
    # 5b. Both marked down by that call: the next ones do not wait.
    rs = [call(kam["closed"], 6) for _ in range(20)]
    ok, slowest, bad = refused(rs, QUICK)
    check("fail closed, D and E marked down: %d calls refused 503, the slowest after %.1f ms "
          "(bound %.0f ms), none rung" % (len(rs), slowest * 1000, QUICK * 1000), ok, bad)
    rs = [call(kam["open"], 6) for _ in range(20)]
    ok, slowest, bad = passed_unverified(rs, "down", QUICK)
    check("fail open: %d calls go on without verstat (X-Cidguard-Bypass: down), the slowest "
          "after %.1f ms (bound %.0f ms)" % (len(rs), slowest * 1000, QUICK * 1000), ok, bad)
    # 5c. F and G, killed at the same time, were sent no call: only the
    # probes (every CG_PING_INTERVAL, two missed, each given up after tm's
    # fr_timer of 2 s) can have marked them inactive.
    time.sleep(max(0.0, killed + scaled(6) - time.time()))
    rs = [call(kam["closed"], 7) for _ in range(20)]
    ok, slowest, bad = refused(rs, QUICK)
    log = tail(kclog, 1 << 20)
    check("fail closed, F and G marked inactive by the probes alone: %d calls refused 503, the "
          "slowest after %.1f ms (bound %.0f ms), none rung" % (len(rs), slowest * 1000,
                                                                QUICK * 1000), ok, bad)
    check("and each logged as bypassed (down): no node was tried",
          all("cidguard bypassed (down) for %s" % r[4] in log for r in rs), log[-600:])
    rs = [call(kam["open"], 7) for _ in range(20)]
    ok, slowest, bad = passed_unverified(rs, "down", QUICK)
    check("fail open: %d calls go on without verstat (X-Cidguard-Bypass: down), the slowest "
          "after %.1f ms (bound %.0f ms)" % (len(rs), slowest * 1000, QUICK * 1000), ok, bad)
    # 5d. F comes back: the fail-closed proxy verifies again by itself, and
    # no call got through unverified in the meantime.
    node("F")
    restarted = time.time()
    rs = []
    while time.time() < restarted + scaled(5) and not (rs and verified(rs[-1][3])):
        rs.append(call(kam["closed"], 7))
        time.sleep(0.05)
    back = rs[-1][0] + rs[-1][2] - restarted
    check("F restarted: the fail-closed proxy verifies again within 2 s (%.2f s, %d calls "
          "refused before)" % (back, len(rs) - 1),
          verified(rs[-1][3]) and back <= scaled(2), [(r[1], bypassed(r[3])) for r in rs][-5:])
    check("and every call before that was refused, none delivered unverified",
          all(r[1] == 503 and not r[3] for r in rs[:-1]), [(r[1], bool(r[3])) for r in rs])
finally:
    stop(procs, WORK)

finish()
