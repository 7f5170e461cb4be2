"""Campaign detection in the running daemon: `cidguard simulate` makes a
day of traffic with known campaigns, cidguard-replay sends it through a
real cidguardd as signed SIP INVITEs at the recorded pace sped up (the
daemon's behaviour clock sped up as much), and the answers' reasons are
scored against the simulation's truth.

    python3 test_live_detection.py BUILD_DIR
Environment (for bigger runs): CG_LIVE_ROWS (4000), CG_LIVE_SEED (7),
CG_LIVE_MIX (default or random), CG_LIVE_SPEED (the replay's speed-up,
2880: a day in 30 s; a slow build only waits longer for the last answers).
Targets: the median campaign detected within 50 of its calls, at most
0.1% of legitimate calls labelled campaign_suspected.
"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, hostport, scaled, start, stop, tail  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG = os.path.join(BUILD, "cidguard")
CGD = os.path.join(BUILD, "cidguardd")
REPLAY = os.path.join(BUILD, "cidguard-replay")
WORK = tempfile.mkdtemp(prefix="cgd-live-")
ROWS = int(os.environ.get("CG_LIVE_ROWS") or 4000)
SEED = os.environ.get("CG_LIVE_SEED") or "7"
MIX = os.environ.get("CG_LIVE_MIX") or "default"
SPEED = max(1, int(float(os.environ.get("CG_LIVE_SPEED") or 2880)))
procs = []

if not os.path.exists(REPLAY):
    print("cidguard-replay not built: skipped")
    sys.exit(77)

try:
    sim = os.path.join(WORK, "sim")
    args = [CG, "simulate", "--out", sim, "--rows", str(ROWS), "--seed", SEED]
    if MIX != "default":
        args += ["--mix", MIX]
    r = subprocess.run(args, capture_output=True, text=True)
    check("simulate", r.returncode == 0, r.stderr)
    with open(os.path.join(sim, "calls.csv")) as f:
        head = f.readline().strip().split(",")
        spc_col = head.index("spc")
        spcs = sorted({line.rstrip("\n").split(",")[spc_col] for line in f} - {""})
    state = os.path.join(WORK, "state")
    pki = os.path.join(state, "pki")
    os.makedirs(os.path.join(state, "certs"))
    r = subprocess.run([CG, "pki", "init", pki] + sum((["--spc", s] for s in spcs), []),
                       capture_output=True, text=True)
    check("a test PKI with the simulation's SPCs", r.returncode == 0, r.stderr)
    for s in spcs:
        with open(os.path.join(pki, "sp-%s.pem" % s)) as a, \
                open(os.path.join(state, "certs", "sp-%s.pem" % s), "w") as b:
            b.write(a.read())
    chosen = []
    conf = os.path.join(WORK, "live.conf")

    def make():
        ports = free_ports(1) + free_ports(2, udp=True)
        chosen[:] = ports
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = %s\nsip_verify_listen = %s\n"
                    "sip_sign_listen = %s\nworkers = 2\n"
                    "[verify]\ntrust = %s\ncrl = %s\n[fetch]\nallow = 127.0.0.1/32\n"
                    "allow_http = yes\n"
                    "[policy]\nprotected = %s\ndno = %s\ningress = %s\ntgrp_from = 127.0.0.1/32\n"
                    "campaign_time_scale = %d\n"
                    % (state, hostport("127.0.0.1", ports[0]), hostport("127.0.0.1", ports[1]),
                       hostport("127.0.0.1", ports[2]), os.path.join(pki, "root.pem"),
                       os.path.join(pki, "crl.pem"), os.path.join(sim, "protected.csv"),
                       os.path.join(sim, "dno.csv"), os.path.join(sim, "ingress.csv"), SPEED))
        return [CGD, "-c", conf], ports[0]

    d = start(make, os.path.join(WORK, "live.log"))
    procs.append(d)
    http, sipv = chosen[0], chosen[1]
    r = subprocess.run([REPLAY, "--calls", os.path.join(sim, "calls.csv"),
                        "--truth", os.path.join(sim, "truth.csv"), "--pki", pki,
                        "--x5u", "http://127.0.0.1:%d/certs" % http,
                        "--target", "127.0.0.1:%d" % sipv, "--speed", str(SPEED), "--tgrp",
                        "--wait", str(scaled(3))],
                       capture_output=True, text=True, timeout=scaled(300))
    out = r.stdout
    print(out, end="")
    check("cidguard-replay ran", r.returncode == 0, r.stderr)
    m = re.search(r"replayed (\d+) calls \((\d+) answered\)", out)
    check("every call answered (at most 0.5% lost)",
          m and int(m.group(2)) >= int(m.group(1)) * 0.995, out[:300])
    m = re.search(r"median detection delay: (\d+) calls", out)
    check("the median campaign is detected within 50 calls", m and int(m.group(1)) <= 50, out)
    m = re.search(r"legitimate calls labelled: (\d+) of (\d+)", out)
    check("at most 0.1% of legitimate calls labelled campaign_suspected",
          m and int(m.group(1)) <= int(m.group(2)) * 0.001, out)
    m = re.search(r"fraud calls labelled from detection on: \d+ of \d+ \(([0-9.]+)\)", out)
    # (a trunk's campaign is labelled only while it is active, and only its
    # calls with a suspect number: the share is lower on small runs)
    check("most fraud calls are labelled once their campaign is detected",
          m and float(m.group(1)) >= 0.5, out)
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=30) as resp:
        metrics = resp.read().decode()
    mc = re.search(r"^cidguard_campaign_calls_total (\d+)$", metrics, re.M)
    mo = re.search(r"^cidguard_campaign_origins_total (\d+)$", metrics, re.M)
    check("/metrics counts the calls and the origins", mc and int(mc.group(1)) > 0 and
          mo and int(mo.group(1)) > 0, metrics[-600:])
    stop(procs)
    procs = []
    log = tail(os.path.join(WORK, "live.log"), 1 << 20)
    check("the daemon exited cleanly, without a sanitizer report",
          d.returncode == 0 and "Sanitizer" not in log and "runtime error" not in log, log[-900:])
    db = sqlite3.connect(os.path.join(state, "decisions.db"))
    n = db.execute("SELECT count(*) FROM decisions WHERE reasons LIKE '%campaign_suspected%'")
    logged = n.fetchone()[0]
    db.close()
    check("the decision log records campaign_suspected on as many calls as /metrics counted",
          mc and logged == int(mc.group(1)), (logged, mc and mc.group(1)))
finally:
    stop(procs, WORK)
finish()
