"""Two daemons sharing state through Redis Sentinel, with ACL users: a real
primary and replica (redis-server) and three real sentinels
(redis-sentinel), all on loopback in a temporary directory.  The data
nodes refuse the default user without a password and give the daemons an
ACL user of their own (keys cidguard:* only); the sentinels want a password
too.  The primary is killed during a stream of INVITEs: every INVITE is
answered, the sentinels promote the replica, both daemons follow it, and
replay detection across daemons (which only Redis can give: each daemon's
own state saw half the calls) resumes on the new master; the time it takes
is printed and must be under 10 s.  /metrics shows the switch and the new
master's address.  Hostile sentinels (fakes speaking RESP) answering with
garbage, wrong types, bad ports, a huge string or nothing leave a daemon on
local state, answering every INVITE, with a log line for each.  The policy lists and the call-intent API follow the
master too: a list pushed and an intent registered after each switch reach
the daemons through Redis, with the ACL user.

    python3 test_redis_sentinel.py BUILD_DIR
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FakeRedis, check, finish, free_ports, header, http_json, resp,  # noqa: E402
                     scaled, start, stop, tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-sentinel-")
MASTER = "cgmaster"
ADMIN_PW, USER, USER_PW, SENT_PW = "admin-pw", "cidguard", "s3cr:t@pw", "sentinel-pw"
PORTS = {}  # daemon name -> (http, sip verify, sip sign)
procs = {}
nodes = {}  # "primary"/"replica" -> (proc, port)
sentinels = []  # (proc, port)
LAST = []  # the last two answers of replay_across, for a failure's message


def reasons(resp):
    return set(filter(None, (header(resp, "Cidguard-Reasons") or "").split(",")))


def sign(spc, orig):
    return subprocess.run([CG, "sign", "--key", os.path.join(WORK, "pki", "sp-%s.key" % spc),
                           "--x5u", "http://127.0.0.1:%d/certs/sp-%s.pem" % (PORTS["A"][0], spc),
                           "--orig", "+" + orig, "--dest", "+14155550100", "--attest", "B"],
                          capture_output=True, text=True, check=True).stdout.strip()


def invite(orig, identity, call_id=None):
    return ("INVITE sip:+14155550100@127.0.0.1;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+14155550100@127.0.0.1>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
            % (os.urandom(6).hex(), orig, call_id or os.urandom(8).hex() + "@sentinel-test",
               "Identity: %s\r\n" % identity if identity else "")).encode()


def call(daemon, orig, identity=None, call_id=None, timeout=30):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
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


def cli(port, *args, pw=ADMIN_PW):
    return subprocess.run(["redis-cli", "-p", str(port), "--no-auth-warning"] +
                          (["-a", pw] if pw else []) + list(args),
                          capture_output=True, text=True).stdout.strip()


def start_node(name, replica_of=None, port=None):
    def make():
        port = chosen or free_ports(1)[0]
        nodes[name] = (None, port)
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", WORK, "--dbfilename", name + ".rdb",
                "--requirepass", ADMIN_PW, "--masterauth", ADMIN_PW,
                "--user", USER, "on", ">" + USER_PW, "~cidguard:*", "&*", "+@all"]
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        return argv, port

    chosen = port
    p = start(make, os.path.join(WORK, name + ".log"), banner=False, tries=1 if port else 2)
    nodes[name] = (p, nodes[name][1])
    ok = wait_for(lambda: cli(nodes[name][1], "ping") == "PONG")
    check("redis-server %s started (ACL user %s, default user with a password)" % (name, USER), ok,
          tail(os.path.join(WORK, name + ".log")))


def start_sentinel(i, primary_port):
    conf = os.path.join(WORK, "sentinel%d.conf" % i)
    chosen = []

    def make():
        port = free_ports(1)[0]
        chosen.append(port)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nrequirepass %s\n"
                    "sentinel sentinel-pass %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel auth-pass %s %s\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 6000\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (port, WORK, SENT_PW, SENT_PW, MASTER, primary_port, MASTER, ADMIN_PW,
                       MASTER, MASTER, MASTER))
        prog = shutil.which("redis-sentinel")
        return ([prog, conf] if prog else ["redis-server", conf, "--sentinel"]), port

    p = start(make, os.path.join(WORK, "sentinel%d.log" % i), banner=False)
    sentinels.append((p, chosen[-1]))


INTENT_KEY = "bank1-key-6f1c2a9e4b7d8c0f3a5e9b1d2c4f6a8e"


def add_intent(daemon, to):
    """The answer to one intent registered from +442079460100 to `to`."""
    return http_json(PORTS[daemon][0], "POST", "/intent/v1",
                     {"from": "+442079460100", "to": to}, timeout=30,
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + INTENT_KEY})


def intent_shared(daemon, to, port):
    """True when an intent registered on `daemon` is in Redis at `port`
    (a master), written there as the ACL user."""
    st, ans = add_intent(daemon, to)
    LAST[:] = [st, ans]
    return st == 201 and isinstance(ans, dict) and ans.get("shared") is True and \
        cli(port, "--user", USER, "--pass", USER_PW, "get",
            "cidguard:intent:442079460100:" + to.lstrip("+"), pw=None) == "3"


def push_dno(port, numbers):
    path = os.path.join(WORK, "dno-pushed.csv")
    with open(path, "w") as f:
        f.write("number,note\n" + "".join("%s,pushed\n" % n for n in numbers))
    return subprocess.run([CG, "policy", "push", "--redis", "redis://:%s@127.0.0.1:%d" % (ADMIN_PW, port),
                           "--dno", path], capture_output=True, text=True)


def blocked(daemon, orig):
    r = call(daemon, orig, sign("GW01", orig), timeout=scaled(2))
    return bool(r and "dno" in reasons(r))


def start_daemon(name, url, extra=""):
    state = os.path.join(WORK, "state-" + name)
    os.makedirs(os.path.join(state, "certs"))
    shutil.copy(os.path.join(WORK, "pki", "sp-GW01.pem"), os.path.join(state, "certs"))
    conf = os.path.join(WORK, name + ".conf")

    def make():
        PORTS[name] = http, sv, ss = tuple(free_ports(1) + free_ports(2, udp=True))
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 2\ndecision_log = off\n"
                    "[verify]\ntrust = %s\n[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                    "[policy]\ndno = %s\nprotected = %s\n"
                    "[intent]\nkeys = %s\n"
                    "[redis]\nurl = %s\ntimeout_ms = %d\n%s"
                    % (state, http, sv, ss, os.path.join(WORK, "pki", "root.pem"),
                       os.path.join(WORK, "dno.csv"), os.path.join(WORK, "protected.csv"),
                       os.path.join(WORK, "keys.csv"), url, scaled(100), extra))
        return [CGD, "-c", conf], http

    procs[name] = start(make, os.path.join(WORK, name + ".log"))


def log_of(name):
    with open(os.path.join(WORK, name + ".log")) as f:
        return f.read()


def replay_across(tok, tag):
    """True when a token first used on A is a replay on B: only Redis can
    say so (B's own state never saw it)."""
    a = call("A", "447400050000", tok, call_id="a-%s@sentinel" % tag, timeout=scaled(2))
    b = call("B", "447400050000", tok, call_id="b-%s@sentinel" % tag, timeout=scaled(2))
    LAST[:] = [a, b]
    return bool(a and b and "replay" not in reasons(a) and "replay" in reasons(b))


try:
    # redis-sentinel is optional: redis-server --sentinel is the same program
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("redis-server or redis-cli is not installed")
        sys.exit(77)
    subprocess.run([CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "GW01"],
                   capture_output=True, check=True)
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n")
    with open(os.path.join(WORK, "protected.csv"), "w") as f:
        f.write("number,brand,spcs,min_attest\n442079460100,Example Bank,BANK1,A\n")
    token = subprocess.run([CG, "customers", "token", INTENT_KEY], capture_output=True, text=True,
                           check=True).stdout.strip()
    with open(os.path.join(WORK, "keys.csv"), "w") as f:
        f.write("name,key_sha256,numbers\nbank1,%s,+442079460100\n" % token)
    start_node("primary")
    start_node("replica", replica_of=nodes["primary"][1])
    ok = wait_for(lambda: "master_link_status:up" in cli(nodes["replica"][1], "info", "replication"))
    check("the replica follows the primary", ok, cli(nodes["replica"][1], "info", "replication"))
    for i in range(3):
        start_sentinel(i, nodes["primary"][1])
    ok = wait_for(lambda: all(cli(p, "sentinel", "get-master-addr-by-name", MASTER, pw=SENT_PW)
                              .split() == ["127.0.0.1", str(nodes["primary"][1])] and
                              "num-other-sentinels\n2" in
                              cli(p, "sentinel", "master", MASTER, pw=SENT_PW)
                              for _, p in sentinels), 30)
    check("three sentinels watch the primary and know each other", ok,
          [cli(p, "sentinel", "master", MASTER, pw=SENT_PW)[:300] for _, p in sentinels])

    # --- ACL: the user and password in the URL ------------------------------
    P = nodes["primary"][1]
    user_url = "redis://%s:%s@127.0.0.1:%d" % (USER, USER_PW.replace(":", "%3A").replace("@", "%40"), P)
    r = subprocess.run([CG, "policy", "show", "dno", "--redis",
                        "redis://%s:wrong@127.0.0.1:%d" % (USER, P)], capture_output=True, text=True)
    check("a wrong password for the user is refused, and said so",
          r.returncode != 0 and "WRONGPASS" in r.stderr, r)
    dno = os.path.join(WORK, "dno-pushed.csv")
    with open(dno, "w") as f:
        f.write("number,note\n448081570000,card helpline\n")
    r = subprocess.run([CG, "policy", "push", "--redis", "redis://:%s@127.0.0.1:%d" % (ADMIN_PW, P),
                        "--dno", dno], capture_output=True, text=True)
    check("redis://:password@ (the default user) still works", r.returncode == 0, r)
    r = subprocess.run([CG, "policy", "show", "dno", "--redis", user_url], capture_output=True,
                       text=True)
    check("the ACL user (percent-encoded password) reads the list", r.returncode == 0 and
          "448081570000" in r.stdout, r)

    sentinel_list = ";".join("127.0.0.1:%d" % p for _, p in sentinels)
    extra = ("sentinels = %s\nmaster_name = %s\nsentinel_password = %s\n"
             % (sentinel_list, MASTER, SENT_PW))
    # url: the ACL user; its host is not used with sentinels (a port nothing listens on)
    dead = free_ports(1)[0]
    daemon_url = "redis://%s:%s@127.0.0.1:%d" % (USER, USER_PW.replace(":", "%3A").replace("@", "%40"), dead)
    start_daemon("A", daemon_url, extra)
    start_daemon("B", daemon_url, extra)
    ok = wait_for(lambda: metric(metrics("A"), "cidguard_redis_up") == 1 and
                  metric(metrics("B"), "cidguard_redis_up") == 1, 20)
    check("both daemons find the master through the sentinels and log in as the ACL user", ok,
          log_of("A")[-600:])
    m = metrics("A")
    check("/metrics names the master", 'cidguard_redis_master{addr="127.0.0.1:%d"} 1' % P in m and
          metric(m, "cidguard_redis_master_switches_total") == 0,
          [x for x in m.splitlines() if "master" in x])
    tok = sign("GW01", "447400050000")
    check("a PASSporT replayed to the other daemon is caught through Redis",
          replay_across(tok, "before"),
          [header(x, "Cidguard-Reasons") for x in LAST] +
          [x for x in metrics("B").splitlines() if x.startswith("cidguard_redis")])
    check("an intent registered with the ACL user is shared through the master",
          intent_shared("A", "+447700900801", P), LAST)
    r = push_dno(P, ["448081570000", "448081570010"])
    check("a list pushed to the master reaches the daemons (url names no server)",
          r.returncode == 0 and wait_for(lambda: blocked("B", "448081570010"), scaled(10)),
          (r.stderr, log_of("B")[-400:]))
    start_daemon("C", "redis://%s:wrong@127.0.0.1:%d" % (USER, dead), extra)
    time.sleep(scaled(1.5))
    check("a daemon with a wrong password stays on local state and logs why",
          metric(metrics("C"), "cidguard_redis_up") == 0 and "WRONGPASS" in log_of("C"),
          log_of("C")[-500:])
    r = call("C", "447400012346", sign("GW01", "447400012346"))
    check("... and still answers calls", r and r.startswith("SIP/2.0 302"), r)
    stop([procs.pop("C")])

    # --- hostile sentinels -------------------------------------------------------------------
    dead2 = free_ports(1)[0]
    hostile = [b"+garbage\r\n", resp(42), resp(["127.0.0.1", "99999"]), resp(["", "6379"]),
               resp(["127.0.0.1", "+80"]), resp(None), resp(["x" * (20 << 20), "6379"]), None,
               resp(["127.0.0.1", str(dead2)])]

    def fake_sentinel(answer):
        def on(cmd):
            if cmd[0].upper() == b"AUTH":
                return b"+OK\r\n"
            if cmd[0].upper() == b"SUBSCRIBE":
                return resp(["subscribe", "+switch-master", 1]) + \
                    resp(["message", "+switch-master", "%s 1 2 127.0.0.1 99999" % MASTER]) + \
                    resp(["message", "+switch-master", "garbage"])
            return answer
        return FakeRedis(on)

    fakes = [fake_sentinel(a) for a in hostile]
    try:
        extra_h = ("sentinels = %s\nmaster_name = %s\nsentinel_password = x\n"
                   % (";".join("127.0.0.1:%d" % f.port for f in fakes), MASTER))
        start_daemon("H", daemon_url, extra_h)
        answers = [call("H", "4474000111%02d" % i, sign("GW01", "4474000111%02d" % i),
                        timeout=scaled(3)) for i in range(20)]
        check("hostile sentinels: every INVITE answered, on local state",
              all(a and a.startswith("SIP/2.0 302") for a in answers) and
              metric(metrics("H"), "cidguard_redis_up") == 0, answers)
        want = ["127.0.0.1:%d: no host and port for the master" % fakes[i].port for i in (0, 1, 2)]
        want += ["127.0.0.1:%d: does not know the master name" % fakes[5].port,
                 "127.0.0.1:%d: no answer in" % fakes[7].port,
                 "worker 0: redis 127.0.0.1:%d" % dead2]
        ok = wait_for(lambda: all(w in log_of("H") for w in want), scaled(10))
        check("... and a log line for each kind of bad answer", ok,
              [w for w in want if w not in log_of("H")] + [log_of("H")[-1500:]])
        check("... and for the lists, read through the same sentinels (the last names a port "
              "nothing listens on)",
              "cidguardd: lists: redis 127.0.0.1:%d: Connection refused" % dead2 in log_of("H"),
              log_of("H")[-800:])
        fds = lambda: len(os.listdir("/proc/%d/fd" % procs["H"].pid))  # noqa: E731
        n = fds()
        time.sleep(6)
        check("... and a sentinel that never answers leaves no socket behind (%d then %d open)"
              % (n, fds()), fds() - n < 4)
        stop([procs.pop("H")])
        check("a daemon facing hostile sentinels exits cleanly",
              "Sanitizer" not in log_of("H") and "runtime error" not in log_of("H"),
              log_of("H")[-800:])
    finally:
        for f in fakes:
            f.close()

    # --- the primary killed during a call stream ------------------------------
    toks = [sign("GW01", "4474000300%02d" % (i % 100)) for i in range(300)]
    probes = [sign("GW01", "447400050000") for _ in range(120)]
    results, sent = [], []
    stop_stream = threading.Event()

    def sender():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.005)
        for i, t in enumerate(toks):
            if stop_stream.is_set():
                break
            s.sendto(invite("4474000300%02d" % (i % 100), t), ("127.0.0.1", PORTS["A" if i % 2 else "B"][1]))
            sent.append(i)
            end = time.time() + 0.04
            while time.time() < end:
                try:
                    results.append(s.recv(65535).decode())
                except socket.timeout:
                    pass
        s.settimeout(scaled(2))
        end = time.time() + scaled(5)
        while len(results) < len(sent) and time.time() < end:
            try:
                results.append(s.recv(65535).decode())
            except socket.timeout:
                break
        s.close()

    th = threading.Thread(target=sender)
    th.start()
    time.sleep(1.0)
    t0 = time.time()
    nodes["primary"][0].kill()
    nodes["primary"][0].wait()
    resumed, n = None, 0
    while time.time() - t0 < scaled(30) and n < len(probes):
        if replay_across(probes[n], "probe%d" % n):
            resumed = time.time() - t0
            break
        n += 1
        time.sleep(0.1)
    time.sleep(1.0)  # the stream goes on over the new master for a while
    stop_stream.set()
    th.join()
    answered = [r for r in results if r.startswith("SIP/2.0 302") or r.startswith("SIP/2.0 608")]
    check("primary killed mid-stream: every INVITE answered (%d of %d)" % (len(answered), len(sent)),
          len(sent) > 50 and len(answered) == len(sent),
          [r[:40] for r in results if r not in answered][:5])
    print("# failover: replay detection through Redis resumed %s after the primary was killed"
          % ("%.1f s" % resumed if resumed is not None else "never"))
    check("replay detection across daemons resumes on the new master within 10 s",
          resumed is not None and resumed < scaled(10), resumed)
    R = nodes["replica"][1]
    check("the sentinels promoted the replica",
          cli(sentinels[0][1], "sentinel", "get-master-addr-by-name", MASTER, pw=SENT_PW).split() ==
          ["127.0.0.1", str(R)])
    for d in "AB":
        m = metrics(d)
        check("/metrics of %s: one master switch, the new master's address, Redis up" % d,
              metric(m, "cidguard_redis_master_switches_total") == 1 and
              'cidguard_redis_master{addr="127.0.0.1:%d"} 1' % R in m and
              metric(m, "cidguard_redis_up") == 1,
              [x for x in m.splitlines() if "redis" in x and not x.startswith("#")])
    check("the log names the new master", "redis master is now 127.0.0.1:%d" % R in log_of("A"),
          log_of("A")[-600:])
    check("the ACL user's keys are on the new master",
          cli(R, "--user", USER, "--pass", USER_PW, "exists", "cidguard:lists:version", pw=None) == "1")
    check("an intent registered after the failover is shared through the new master",
          wait_for(lambda: intent_shared("B", "+447700900802", R), scaled(10), 0.5), LAST)
    r = push_dno(R, ["448081570000", "448081570011"])
    check("a list pushed after the failover reaches the daemons",
          r.returncode == 0 and wait_for(lambda: blocked("A", "448081570011"), scaled(10)),
          (r.stderr, log_of("A")[-400:]))

    # --- a planned switch: the old primary back as a replica, then SENTINEL FAILOVER --------
    P = nodes["primary"][1]
    start_node("primary", port=P)
    ok = wait_for(lambda: "master_link_status:up" in cli(P, "info", "replication") and
                  all("127.0.0.1:%d" % P in cli(p, "sentinel", "replicas", MASTER, pw=SENT_PW)
                      .replace("\nip\n127.0.0.1\nport\n%d" % P, "127.0.0.1:%d" % P)
                      for _, p in sentinels), 30)
    check("the old primary, restarted, is made a replica of the new master by the sentinels", ok,
          cli(P, "info", "replication")[:300])
    ok = wait_for(lambda: cli(sentinels[0][1], "sentinel", "failover", MASTER, pw=SENT_PW) == "OK" or
                  cli(sentinels[0][1], "sentinel", "get-master-addr-by-name", MASTER, pw=SENT_PW)
                  .split() == ["127.0.0.1", str(P)], 30, 1)
    t0 = time.time()
    ok = ok and wait_for(lambda: cli(sentinels[0][1], "sentinel", "get-master-addr-by-name", MASTER,
                                     pw=SENT_PW).split() == ["127.0.0.1", str(P)], 30)
    check("SENTINEL FAILOVER makes it the master again", ok)
    # the old master takes writes until the sentinels demote it: wait for
    # both daemons to be on the new one, and for replays to be caught there
    on_new = 'cidguard_redis_master{addr="127.0.0.1:%d"} 1' % P
    resumed, n = None, 0
    while ok and time.time() - t0 < scaled(30) and n < 100:
        if all(on_new in metrics(d) for d in "AB") and \
                replay_across(sign("GW01", "447400050000"), "planned%d" % n):
            resumed = time.time() - t0
            break
        n += 1
        time.sleep(0.1)
    print("# planned switch: replay detection through Redis resumed %s after the sentinels named "
          "the new master" % ("%.1f s" % resumed if resumed is not None else "never"))
    check("the daemons follow a planned switch (the old master drops its clients, or refuses "
          "writes)", resumed is not None and resumed < scaled(10), resumed)
    for d in "AB":
        m = metrics(d)
        check("/metrics of %s: two switches, the master's address" % d,
              metric(m, "cidguard_redis_master_switches_total") == 2 and
              'cidguard_redis_master{addr="127.0.0.1:%d"} 1' % P in m,
              [x for x in m.splitlines() if x.startswith("cidguard_redis_master")])
    check("after the planned switch an intent is shared through the master again",
          wait_for(lambda: intent_shared("A", "+447700900803", P), scaled(10), 0.5), LAST)
    r = push_dno(P, ["448081570000", "448081570012"])
    check("... and a list pushed to it reaches the daemons",
          r.returncode == 0 and wait_for(lambda: blocked("B", "448081570012"), scaled(10)),
          (r.stderr, [x for x in log_of("B").splitlines() if "list" in x][-5:],
           [x for x in metrics("B").splitlines() if x.startswith("cidguard_lists")],
           cli(P, "get", "cidguard:lists:version"), cli(R, "get", "cidguard:lists:version"),
           cli(R, "info", "replication")[:200]))
    # the daemons stopped (SIGTERM: they free everything) before the servers
    stop(list(procs.values()))
    logs = [open(os.path.join(WORK, n + ".log"), errors="replace").read() for n in procs]
    check("the daemons exit cleanly (no sanitizer report)",
          all(p.returncode == 0 for p in procs.values()) and
          not any("Sanitizer" in t or "runtime error" in t for t in logs),
          [t[-800:] for t in logs if "Sanitizer" in t or "runtime error" in t] or
          [p.returncode for p in procs.values()])
finally:
    stop(list(procs.values()) + [p for p, _ in sentinels] + [p for p, _ in nodes.values() if p], WORK)

finish()
