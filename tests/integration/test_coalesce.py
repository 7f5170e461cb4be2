"""A busy worker coalesces SIP/UDP datagrams; an idle one never waits.

The daemon signs unsigned INVITEs from a customer, driven by the load
generator (cidguard-sipload): as fast as they are answered (a window of 64
calls), then at a steady 200 calls a second.  Under load a worker with
udp_coalesce_us waits for more datagrams between reads (counted in
/metrics); at 200 calls a second it is never busy enough to wait; with
udp_coalesce_us = 0 it never waits.  Either way every call is answered 302;
at the steady rate every call's record reaches the signing log (at
saturation its writer, which runs only on idle time, may drop records, and
counts them).

    python3 test_coalesce.py BUILD_DIR
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, http_json, scaled, start, stop, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
LOAD = os.path.join(BUILD, "cidguard-sipload")
WORK = tempfile.mkdtemp(prefix="cgd-coalesce-")
procs = []


def metric(port, name):
    _, text = http_json(port, "GET", "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), text if isinstance(text, str) else "", re.M)
    return int(m.group(1)) if m else -1


DATAGRAMS = 'cidguard_sip_udp_coalesce_total{what="datagrams"}'


def waits(port):
    return metric(port, 'cidguard_sip_udp_coalesce_total{what="waits"}')


def written(port):
    return metric(port, 'cidguard_signing_log_total{result="written"}')


def load(port, *args, during=None):
    """Runs the load generator, and during(), if given, while it runs; returns
    (sent, answered, 302s, calls/s, its output)."""
    gen = subprocess.Popen([LOAD, "--unsigned", "--numbers", "10", "--target",
                            "127.0.0.1:%d" % port] + list(args), stdout=subprocess.PIPE, text=True)
    if during:
        during()
    out = gen.communicate(timeout=120)[0]
    m = re.search(r"sent (\d+), answered (\d+) \(302: (\d+)", out)
    cps = re.search(r"^(\d+) calls/s", out, re.M)
    if not m or not cps:
        return 0, 0, 0, 0, out
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), int(cps.group(1)), out


def daemon(name, coalesce_us):
    conf = os.path.join(WORK, name + ".conf")
    ports = {}

    def configure():
        ports["http"] = free_ports(1)[0]
        ports["sip"], ports["sign"] = free_ports(2, udp=True)
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 1\ndecision_log = off\nudp_coalesce_us = %d\n"
                    "[verify]\ntrust = %s\n[sign]\nkey = %s\nx5u = https://cr.example.net/sp-1234.pem\n"
                    "customers = %s\nrate_per_customer = 0\ncustomer_numbers_per_minute = 0\n"
                    "signing_log = %s\n"
                    % (os.path.join(WORK, name + "-state"), ports["http"], ports["sip"],
                       ports["sign"], coalesce_us, os.path.join(WORK, "pki", "root.pem"),
                       os.path.join(WORK, "pki", "sp-1234.key"),
                       os.path.join(WORK, "customers.csv"), os.path.join(WORK, name + ".db")))
        return [CGD, "-c", conf], ports["http"]

    procs.append(start(configure, os.path.join(WORK, name + ".log")))
    return ports


def accounted(port, calls):
    """Waits until the writer has written or dropped a record for each of `calls` signing requests."""
    def done():
        return written(port) + metric(port, 'cidguard_signing_log_total{result="dropped"}') >= calls
    return wait_for(done, 60, 0.2)


def logged_all(port, before, sent):
    return wait_for(lambda: written(port) - before >= sent, 20, 0.2) and \
        written(port) - before == sent


try:
    subprocess.run([CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "1234"],
                   capture_output=True, check=True)
    with open(os.path.join(WORK, "customers.csv"), "w") as f:
        f.write("customer,addresses,numbers\nbench,127.0.0.1,4420794*\n")

    p = daemon("on", 1000)
    w0 = waits(p["http"])
    slowest = []

    def probe():
        """HTTP on the same worker, while it coalesces: its answer waits for
        a wake-up's waits (at most 2 ms here) and answering, not for the load."""
        time.sleep(1)
        for _ in range(10):
            t = time.time()
            st, _ = http_json(p["http"], "GET", "/healthz")
            slowest.append((time.time() - t, st))
            time.sleep(0.05)

    sent, answered, ok, cps, out = load(p["sign"], "--window", "64", "--seconds", "3", during=probe)
    first = sent
    check("at saturation every call is answered 302", sent > 0 and answered == sent == ok, out)
    # a wait is made when at least two datagrams are expected in 1 ms, and
    # only after a short read.  Under a sanitizer the worker, not the load,
    # is the bottleneck: 64 calls in flight fill its 32-datagram reads, so it
    # rightly never waits (one CI run: 12,255 calls/s, no wait).  The plain
    # build, where the load and the worker share the cores, must wait and gain.
    with open("/proc/%d/maps" % procs[-1].pid) as f:
        sanitized = "libasan" in f.read()
    if cps >= 2500 and not sanitized:
        check("... and the busy worker coalesced its reads (%d calls/s)" % cps,
              waits(p["http"]) > w0 and metric(p["http"], DATAGRAMS) > 0,
              (waits(p["http"]), metric(p["http"], DATAGRAMS), out))
    else:
        print("# coalescing not judged: %s (%d calls/s)"
              % ("a sanitizer's build" if sanitized else "under 2,500 calls/s", cps))
    check("... while /healthz on the same worker was answered within %.1f s" % scaled(0.5),
          len(slowest) == 10 and all(st == 200 for _, st in slowest) and
          max(t for t, _ in slowest) < scaled(0.5), slowest)
    saturated = cps

    check("... and the writer accounts for every record (written or dropped, counted)",
          accounted(p["http"], first), (written(p["http"]), first))
    w0, r0 = waits(p["http"]), written(p["http"])
    sent, answered, ok, cps, out = load(p["sign"], "--rate", "200", "--seconds", "2")
    check("at 200 calls a second every call is answered 302", sent > 0 and answered == sent == ok,
          out)
    check("... and the idle worker never waited", waits(p["http"]) == w0, (waits(p["http"]), w0))
    check("... and every record was kept", logged_all(p["http"], r0, sent),
          (written(p["http"]) - r0, sent))
    # fast enough to pass the rate gate (two datagrams in 1 ms), too slow to
    # keep the worker busy half the time: no wait.  Judged only where 3,000
    # calls a second is a tenth of the saturated rate or less: on a machine
    # busy with other work the saturated rate falls (one run: 15,747/s) and
    # the worker's busy share, measured in wall time, counts the time it
    # was preempted, so a fifth could look half busy.
    if saturated >= 10 * 3000:
        w0 = waits(p["http"])
        sent, answered, ok, cps, out = load(p["sign"], "--rate", "3000", "--seconds", "2")
        check("at 3,000 calls a second (a tenth of %d or less) every call is answered 302, and "
              "the worker, under half busy, never waited" % saturated,
              sent > 0 and answered == sent == ok and waits(p["http"]) == w0,
              (waits(p["http"]) - w0, out))

    q = daemon("off", 0)
    sent, answered, ok, cps, out = load(q["sign"], "--window", "64", "--seconds", "2")
    check("udp_coalesce_us = 0: every call answered, and no wait at saturation",
          sent > 0 and answered == sent == ok and waits(q["http"]) == 0, (waits(q["http"]), out))
finally:
    stop(procs, WORK)

finish()
