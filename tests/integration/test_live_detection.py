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
0.1% of legitimate calls labelled campaign_suspected.  Run twice: through
one daemon, then through two daemons behind a load balancer (the calls
alternate) that share their campaign behaviour through a real redis-server
started here.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, finish, free_port, free_ports, hostport, scaled, start, stop,  # noqa: E402
                     tail, wait_for)

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

    def daemons(label, n, speed, redis_url=None):
        """Starts n daemons (each its own state directory and ports); returns
        [(proc, http port, sip verify port, state dir, log path)]."""
        out = []
        for k in range(n):
            st = os.path.join(WORK, "state-%s-%d" % (label, k))
            shutil.copytree(os.path.join(state, "certs"), os.path.join(st, "certs"))
            conf = os.path.join(WORK, "%s-%d.conf" % (label, k))
            chosen = []

            def make():
                ports = free_ports(1) + free_ports(2, udp=True)
                chosen[:] = ports
                with open(conf, "w") as f:
                    f.write("[server]\nstate_dir = %s\nhttp_listen = %s\nsip_verify_listen = %s\n"
                            "sip_sign_listen = %s\nworkers = 2\n"
                            "[verify]\ntrust = %s\ncrl = %s\n[fetch]\nallow = 127.0.0.1/32\n"
                            "allow_http = yes\n"
                            "[policy]\nprotected = %s\ndno = %s\ningress = %s\n"
                            "tgrp_from = 127.0.0.1/32\ncampaign_time_scale = %d\n"
                            % (st, hostport("127.0.0.1", ports[0]), hostport("127.0.0.1", ports[1]),
                               hostport("127.0.0.1", ports[2]), os.path.join(pki, "root.pem"),
                               os.path.join(pki, "crl.pem"), os.path.join(sim, "protected.csv"),
                               os.path.join(sim, "dno.csv"), os.path.join(sim, "ingress.csv"),
                               speed))
                    if redis_url:
                        f.write("[redis]\nurl = %s\ntimeout_ms = %d\n" % (redis_url, scaled(100)))
                return [CGD, "-c", conf], ports[0]

            log = os.path.join(WORK, "%s-%d.log" % (label, k))
            d = start(make, log)
            procs.append(d)
            out.append((d, chosen[0], chosen[1], st, log))
        return out

    def metric(port, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as resp:
            text = resp.read().decode()
        m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
        return int(m.group(1)) if m else None

    def scenario(label, n, speed, redis_url=None):
        """Replays the simulation through n daemons, the calls spread over
        them in turn, at `speed`, and scores what their answers labelled."""
        global procs
        ds = daemons(label, n, speed, redis_url)
        if redis_url:
            check("%s: every daemon connected to Redis" % label,
                  all(wait_for(lambda: metric(d[1], "cidguard_redis_up") == 1) for d in ds))
        r = subprocess.run([REPLAY, "--calls", os.path.join(sim, "calls.csv"),
                            "--truth", os.path.join(sim, "truth.csv"), "--pki", pki,
                            "--x5u", "http://127.0.0.1:%d/certs" % ds[0][1], "--speed", str(speed),
                            "--tgrp", "--wait", str(scaled(3))] +
                           sum((["--target", "127.0.0.1:%d" % d[2]] for d in ds), []),
                           capture_output=True, text=True, timeout=scaled(300))
        out = r.stdout
        print("%s:\n%s" % (label, out), end="")
        check("%s: cidguard-replay ran" % label, r.returncode == 0, r.stderr)
        m = re.search(r"replayed (\d+) calls \((\d+) answered\)", out)
        check("%s: every call answered (at most 0.5%% lost)" % label,
              m and int(m.group(2)) >= int(m.group(1)) * 0.995, out[:300])
        m = re.search(r"median detection delay: (\d+) calls", out)
        check("%s: the median campaign is detected within 50 calls" % label,
              m and int(m.group(1)) <= 50, out)
        m = re.search(r"legitimate calls labelled: (\d+) of (\d+)", out)
        check("%s: at most 0.1%% of legitimate calls labelled campaign_suspected" % label,
              m and int(m.group(1)) <= int(m.group(2)) * 0.001, out)
        # An account (a signing SPC and origid) stays suspected once detected,
        # so every later call of its campaign is labelled; a trunk only while
        # it behaves like a campaign, and only its calls with a suspect
        # number, which depends on how the calls interleave: its share is
        # reported, not held to a figure.
        labelled = after = 0
        for key, got, total in re.findall(
                r"^campaign ([^:]+): \d+ calls, detected at call \d+, \d+ s after its first; "
                r"labelled (\d+) of (\d+) from then on$", out, re.M):
            parts = key.split("|")
            if len(parts) == 3 and parts[2]:
                labelled, after = labelled + int(got), after + int(total)
        check("%s: an account's campaign is labelled from its detection on (at least 90%% of "
              "its later calls)" % label, after > 0 and labelled >= after * 0.9, out)
        calls = [metric(d[1], "cidguard_campaign_calls_total") for d in ds]
        origins = [metric(d[1], "cidguard_campaign_origins_total") for d in ds]
        check("%s: /metrics counts the calls and the origins, on every daemon" % label,
              all(c and c > 0 for c in calls) and all(o and o > 0 for o in origins),
              (calls, origins))
        if redis_url:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % ds[1][1], timeout=30) as resp:
                text = resp.read().decode()
            sent = re.search(r'^cidguard_campaign_shared_total\{direction="sent"\} (\d+)$', text, re.M)
            got = re.search(r'^cidguard_campaign_shared_total\{direction="received"\} (\d+)$',
                            text, re.M)
            bad = re.search(r'^cidguard_campaign_shared_total\{direction="refused"\} (\d+)$',
                            text, re.M)
            # each daemon answered half the calls and observed the other half
            # from the stream
            check("%s: a daemon shares its calls and observes the other's" % label,
                  sent and got and bad and int(sent.group(1)) > 0 and
                  int(got.group(1)) >= int(sent.group(1)) * 0.9 and bad.group(1) == "0",
                  re.findall(r"^cidguard_campaign_shared_total.*$", text, re.M))
        stop([d[0] for d in ds])
        procs = [p for p in procs if p not in [d[0] for d in ds]]
        for d, _, _, st, log in ds:
            text = tail(log, 1 << 20)
            check("%s: the daemon exited cleanly, without a sanitizer report" % label,
                  d.returncode == 0 and "Sanitizer" not in text and "runtime error" not in text,
                  text[-900:])
        logged = 0
        for d in ds:
            db = sqlite3.connect(os.path.join(d[3], "decisions.db"))
            logged += db.execute("SELECT count(*) FROM decisions "
                                 "WHERE reasons LIKE '%campaign_suspected%'").fetchone()[0]
            db.close()
        check("%s: the decision logs record campaign_suspected on as many calls as /metrics counted"
              % label, logged == sum(calls), (logged, calls))

    scenario("one daemon", 1, SPEED)

    # Two daemons behind a load balancer (the calls alternate), sharing their
    # campaign behaviour through one real redis-server: each judges every
    # origin on both daemons' calls, so detection holds as with one daemon.
    check("redis-server is installed", shutil.which("redis-server") is not None)
    redis_port = []

    def make_redis():
        redis_port[:] = [free_port()]
        return ["redis-server", "--port", str(redis_port[0]), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"], redis_port[0]

    procs.append(start(make_redis, os.path.join(WORK, "redis.log"), banner=False))
    # (at half the speed: a call on one daemon sees the other's calls up to a
    # round trip late, a millisecond that the replay's speed-up makes
    # seconds of recorded time; two daemons and Redis share the two cores)
    scenario("two daemons sharing through Redis", 2, max(1, SPEED // 2),
             "redis://127.0.0.1:%d" % redis_port[0])
finally:
    stop(procs, WORK)
finish()
