"""Two real daemons sharing one real redis-server (started here on loopback):
a PASSporT replayed to the second daemon is caught; a rate window fed by both
trips once; lists pushed to Redis reach both daemons; killing Redis (and
freezing it) mid-run loses no call, shows in /metrics and the log, and the
daemons reconnect by themselves.

    python3 test_redis.py BUILD_DIR
"""
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
from harness import (check, finish, free_port, free_ports, header, scaled, start, stop,  # noqa: E402
                     tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-redis-")
REDIS_PORT = URL = None  # chosen when Redis first starts
# daemon name -> (http, sip verify, sip sign), chosen when it starts
PORTS = {}
procs = {}
redis = None


def reasons(resp):
    return set(filter(None, (header(resp, "Cidguard-Reasons") or "").split(",")))


def sign(spc, orig, attest="A"):
    return subprocess.run([CG, "sign", "--key", os.path.join(WORK, "pki", "sp-%s.key" % spc),
                           "--x5u", "http://127.0.0.1:%d/certs/sp-%s.pem" % (PORTS["A"][0], spc),
                           "--orig", "+" + orig, "--dest", "+14155550100", "--attest", attest],
                          capture_output=True, text=True, check=True).stdout.strip()


def invite(orig, identity, call_id=None, branch=None):
    return ("INVITE sip:+14155550100@127.0.0.1;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+14155550100@127.0.0.1>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
            % (branch or os.urandom(6).hex(), orig, call_id or os.urandom(8).hex() + "@redis-test",
               "Identity: %s\r\n" % identity if identity else "")).encode()


def call(daemon, orig, identity=None, call_id=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(30)
    s.sendto(invite(orig, identity, call_id), ("127.0.0.1", PORTS[daemon][1]))
    try:
        return s.recv(65535).decode()
    except socket.timeout:
        return None
    finally:
        s.close()


def metrics(daemon):
    return subprocess.run(["curl", "-s", "http://127.0.0.1:%d/metrics" % PORTS[daemon][0]],
                          capture_output=True, text=True).stdout


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def start_redis():
    """Starts redis-server: on a free port the first time, on the same port
    after that (the daemons know its URL)."""
    first = REDIS_PORT is None

    def make():
        global REDIS_PORT, URL
        if first:
            REDIS_PORT = free_port()
            URL = "redis://127.0.0.1:%d" % REDIS_PORT
        return ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no"], REDIS_PORT

    try:
        p = start(make, os.path.join(WORK, "redis.log"), banner=False, tries=2 if first else 1)
    except SystemExit as e:
        print(e)
        return None
    ok = wait_for(lambda: subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"],
                                         capture_output=True, text=True).stdout.strip() == "PONG")
    return p if ok else None


def start_daemon(name):
    state = os.path.join(WORK, "state-" + name)
    os.makedirs(os.path.join(state, "certs"))
    for spc in ("GW01", "RATE"):
        shutil.copy(os.path.join(WORK, "pki", "sp-%s.pem" % spc), os.path.join(state, "certs"))
    conf = os.path.join(WORK, name + ".conf")

    def make():
        PORTS[name] = http, sv, ss = tuple(free_ports(1) + free_ports(2, udp=True))
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 2\ndecision_log = off\n"
                    "[verify]\ntrust = %s\n[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                    "[policy]\ndno = %s\nrate_calls = 10\n"
                    "[redis]\nurl = %s\ntimeout_ms = %d\n"
                    % (state, http, sv, ss, os.path.join(WORK, "pki", "root.pem"),
                       os.path.join(WORK, "dno.csv"), URL, scaled(100)))
        return [CGD, "-c", conf], http

    procs[name] = start(make, os.path.join(WORK, name + ".log"))
    ok = wait_for(lambda: metric(metrics(name), "cidguard_redis_up") == 1)
    check("daemon %s starts and connects to Redis" % name, ok, tail(os.path.join(WORK, name + ".log")))


def log_of(name):
    with open(os.path.join(WORK, name + ".log")) as f:
        return f.read()


try:
    if not shutil.which("redis-server"):
        print("redis-server is not installed")
        sys.exit(77)
    subprocess.run([CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "GW01", "--spc", "RATE"],
                   capture_output=True, check=True)
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n")
    redis = start_redis()
    check("redis-server started", redis is not None)
    start_daemon("A")
    start_daemon("B")

    # --- replay across daemons -------------------------------------------
    tok = sign("GW01", "447400012345", "B")
    r1 = call("A", "447400012345", tok, call_id="first@replay")
    check("a fresh PASSporT passes on daemon A", r1 and r1.startswith("SIP/2.0 302") and
          "replay" not in reasons(r1), r1)
    r2 = call("B", "447400012345", tok, call_id="second@replay")
    check("the same PASSporT under another Call-ID on daemon B is a replay",
          r2 and "replay" in reasons(r2) and header(r2, "Cidguard-Verstat") == "TN-Validation-Failed", r2)
    r3 = call("B", "447400012345", tok, call_id="first@replay")
    check("... but under the same Call-ID (a fork of that call) it is not",
          r3 and "replay" not in reasons(r3), r3)
    local_replay = call("A", "447400012346", sign("GW01", "447400012346", "B"), "x@local")
    check("a PASSporT seen only once is not a replay", "replay" not in reasons(local_replay), local_replay)

    # --- a rate window fed by both daemons --------------------------------
    answers = []
    for i in range(12):
        num = "4474000200%02d" % i
        answers.append(call("A" if i % 2 == 0 else "B", num, sign("RATE", num, "B")))
    tripped = [i for i, a in enumerate(answers) if "rate_calls" in reasons(a)]
    check("rate_calls = 10 per SPC, 6 calls to each daemon: the window trips once, at the 11th call",
          tripped == [10, 11], [(i, header(a, "Cidguard-Reasons")) for i, a in enumerate(answers)])
    check("... and labels (302), it does not block",
          all(a.startswith("SIP/2.0 302") and header(a, "Cidguard-Action") == "label"
              for a in answers[10:]), answers[10:])

    # --- campaign observations shared, and what is forged refused --------------
    stream = "cidguard:{campaign}:calls"
    got = lambda d: metric(metrics(d), 'cidguard_campaign_shared_total{direction="received"}') or 0
    bad = lambda d: metric(metrics(d), 'cidguard_campaign_shared_total{direction="refused"}') or 0
    check("each daemon publishes its calls and reads the other's",
          wait_for(lambda: got("A") > 0 and got("B") > 0, 5), (got("A"), got("B")))

    def xadd(*fields):
        return subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "xadd", stream, "*"] + list(fields),
                              capture_output=True, text=True).stdout.strip()

    refused, received = bad("A"), got("A")
    now = int(time.time())
    forged = [
        ["d", "rogue", "v", "1 %d 2 +442071112222 +447400000001 spc:GW01/far" % (now + 10 ** 9)],
        ["d", "rogue", "v", "1 %d 2 +442071112222 +447400000001 spc:GW01/old" % (now - 86400)],
        ["d", "rogue", "v", "2 %d 2 +442071112222 +447400000001 spc:GW01/v2" % now],
        ["d", "rogue", "v", "x" * 9000],
        ["v", "1 %d 2 +442071112222 +447400000001 spc:GW01/nod" % now],
    ]
    for f in forged:
        xadd(*f)
    xadd("d", "rogue", "v", "1 %d 2 +442071112222 +447400000001 spc:GW01/fine" % now)
    check("forged entries refused (a far-future or stale time, another version, over 8 KiB, no "
          "daemon), a well-formed one taken",
          wait_for(lambda: bad("A") - refused >= len(forged) and got("A") - received >= 1, 5),
          (bad("A") - refused, got("A") - received))
    r = call("A", "447400012396", sign("GW01", "447400012396", "B"))
    check("... and the daemon answers on", r and r.startswith("SIP/2.0 302"), r)

    # --- lists in Redis -----------------------------------------------------
    dno = os.path.join(WORK, "dno-pushed.csv")
    with open(dno, "w") as f:
        f.write("number,note\n448081570000,card helpline\nnot-a-number,skipped\n")
    r = subprocess.run([CG, "policy", "push", "--redis", URL, "--dno", dno], capture_output=True, text=True)
    check("cidguard policy push stores the DNO list (bad line reported with file:line)",
          r.returncode == 0 and "pushed 1 list(s)" in r.stdout and dno + ":3:" in r.stderr, r)
    ok = wait_for(lambda: all("dno" in reasons(call(d, "448081570000", sign("GW01", "448081570000", "A")))
                              for d in "AB"), 5)
    check("both daemons block the pushed DNO number within seconds", ok)
    r = subprocess.run([CG, "policy", "add", "dno", "+448081570001", "second helpline", "--redis", URL],
                       capture_output=True, text=True)
    check("cidguard policy add edits the list in Redis", r.returncode == 0 and "added" in r.stdout, r)
    ok = wait_for(lambda: "dno" in reasons(call("B", "448081570001", sign("GW01", "448081570001", "A"))), 5)
    check("... and the daemons apply it", ok)
    r = subprocess.run([CG, "policy", "add", "dno", "44abc", "x", "--redis", URL], capture_output=True, text=True)
    check("a row the daemon would skip is refused", r.returncode == 2 and "not a valid dno entry" in r.stderr, r)
    edits = [subprocess.Popen([CG, "policy", "add", "dno", "4480815701%02d" % i, "parallel edit", "--redis", URL],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(12)]
    codes = [p.wait() for p in edits]
    shown = subprocess.run([CG, "policy", "show", "dno", "--redis", URL], capture_output=True, text=True).stdout
    check("12 administrators adding at once: every row lands (edits retried on a version change)",
          codes == [0] * 12 and all("4480815701%02d," % i in shown for i in range(12)), (codes, shown))
    subprocess.run([CG, "policy", "remove", "dno", "448081570000", "--redis", URL], capture_output=True)
    ok = wait_for(lambda: "dno" not in reasons(call("A", "448081570000", sign("GW01", "448081570000", "A"))), 5)
    check("policy remove: the number passes again", ok)
    m = metrics("A")
    check("lists version and loads in /metrics", (metric(m, "cidguard_lists_version") or 0) >= 3 and
          (metric(m, 'cidguard_lists_loads_total{result="ok"}') or 0) >= 3,
          [l for l in m.splitlines() if "lists" in l])

    # --- Redis killed mid-run: no call lost --------------------------------
    toks = [sign("GW01", "4474000300%02d" % (i % 100), "B") for i in range(150)]
    results = []

    def sender():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(scaled(2))
        for i, t in enumerate(toks):
            s.sendto(invite("4474000300%02d" % (i % 100), t), ("127.0.0.1", PORTS["A" if i % 2 else "B"][1]))
            # one socket, answers from both daemons; count them
            time.sleep(0.02)
        end = time.time() + scaled(3)
        while len(results) < len(toks) and time.time() < end:
            try:
                results.append(s.recv(65535).decode())
            except socket.timeout:
                break
        s.close()

    # the sender receives on the same socket while sending
    th = threading.Thread(target=sender)
    th.start()
    time.sleep(1.0)
    redis.kill()
    redis.wait()
    th.join()
    answered = [r for r in results if r.startswith("SIP/2.0 302") or r.startswith("SIP/2.0 608")]
    check("Redis killed mid-run: all 150 calls answered", len(answered) == 150,
          "%d answered of 150; others %s" % (len(answered), [r[:40] for r in results if r not in answered][:5]))
    m = metrics("A")
    check("/metrics shows Redis down and calls decided on local state",
          metric(m, "cidguard_redis_up") == 0 and
          (metric(m, 'cidguard_shared_state_total{store="local"}') or 0) > 0,
          [l for l in m.splitlines() if "redis" in l or "shared" in l])
    check("the log says calls continue on local state", "calls continue on local state" in log_of("A"),
          log_of("A")[-500:])
    r = call("A", "447400012399", sign("GW01", "447400012399", "B"))
    check("a call with Redis gone is answered", r and r.startswith("SIP/2.0 302"), r)

    redis = start_redis()
    ok = wait_for(lambda: metric(metrics("A"), "cidguard_redis_up") == 1 and
                  metric(metrics("B"), "cidguard_redis_up") == 1, 10)
    check("Redis back: both daemons reconnect by themselves", ok, log_of("A")[-400:])
    before = metric(metrics("B"), 'cidguard_shared_state_total{store="redis"}')
    tok = sign("GW01", "447400012398", "B")
    call("B", "447400012398", tok, "one@after")
    r = call("A", "447400012398", tok, "two@after")
    check("... and replays are caught across daemons again", "replay" in reasons(r), r)
    check("... through Redis", metric(metrics("B"), 'cidguard_shared_state_total{store="redis"}') > before)

    # --- Redis frozen: calls wait at most timeout_ms, then go local ----------
    redis.send_signal(signal.SIGSTOP)
    t0 = time.time()
    r = call("A", "447400012397", sign("GW01", "447400012397", "B"))
    dt = time.time() - t0
    redis.send_signal(signal.SIGCONT)
    check("Redis frozen: the call is answered on local state after the timeout (%.0f ms)" % (dt * 1000),
          r and r.startswith("SIP/2.0 302") and dt < scaled(1.0), r)
    check("... counted as a Redis timeout",
          (metric(metrics("A"), 'cidguard_redis_errors_total{kind="timeout"}') or 0) >= 1)
    ok = wait_for(lambda: metric(metrics("A"), "cidguard_redis_up") == 1, 10)
    check("... and the daemon reconnects after Redis thaws", ok)
finally:
    stop(list(procs.values()) + [redis], WORK)

finish()
