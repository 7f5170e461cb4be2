"""Two daemons sharing state on a real Redis Cluster of three primaries
(redis-server, cluster-enabled, made with redis-cli --cluster create), all
on loopback in a temporary directory: replays across the daemons are
caught whichever node holds the token's key; a rate window fed by both
trips once; the keys are spread over the nodes, a window's two keys in one
slot; a slot moved while calls flow is followed (ASK during the
migration, MOVED after it) without a call going to local state, and the
window's count moves with it.  Call intents follow the cluster: an
intent registered through one daemon's API is honoured through the other,
its uses spent across both; a cancellation through one is seen by the
other; a batch for two numbers lands in each number's slot, the intent's
key and its number's index together; the intent API follows MOVED when a
number's slot has moved.  A hostile node (a fake speaking RESP)
answering CLUSTER SLOTS with errors, slots past 16383, no nodes, bad ports,
overlapping ranges or a huge array, and calls with garbage or looping
MOVED, ASK and endless TRYAGAIN: every INVITE is answered, on local state,
and the log says why.

    python3 test_redis_cluster.py BUILD_DIR
"""
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FakeRedis, check, finish, free_ports, header, http_json, resp,  # noqa: E402
                     scaled, start, stop, tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-cluster-")
PORTS = {}  # daemon name -> (http, sip verify, sip sign)
BANK, BANK2, BRAND = "442079460100", "442079460200", "Example Bank"
INTENT_KEY = "bank1-key-6f1c2a9e4b7d8c0f3a5e9b1d2c4f6a8e"
procs = {}
nodes = []  # (proc, port)


def crc16(data):
    """CRC16-CCITT (XMODEM), as a Redis Cluster hashes keys."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def keyslot(key):
    k = key.encode()
    a = k.find(b"{")
    if a >= 0:
        b = k.find(b"}", a + 1)
        if b > a + 1:
            k = k[a + 1:b]
    return crc16(k) % 16384


def reasons(resp):
    return set(filter(None, (header(resp, "Cidguard-Reasons") or "").split(",")))


def sign(spc, orig):
    return subprocess.run([CG, "sign", "--key", os.path.join(WORK, "pki", "sp-%s.key" % spc),
                           "--x5u", "http://127.0.0.1:%d/certs/sp-%s.pem" % (PORTS["A"][0], spc),
                           "--orig", "+" + orig, "--dest", "+14155550100", "--attest", "B"],
                          capture_output=True, text=True, check=True).stdout.strip()


def replay_key(tok):
    """The token's replay key: its signature's r, in hex."""
    sig = tok.split(";")[0].split(".")[2]
    return "cidguard:r:" + base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))[:32].hex()


def invite(orig, identity, call_id=None, to="14155550100"):
    return ("INVITE sip:+%s@127.0.0.1;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
            % (to, os.urandom(6).hex(), orig, to,
               call_id or os.urandom(8).hex() + "@cluster-test",
               "Identity: %s\r\n" % identity if identity else "")).encode()


def call(daemon, orig, identity=None, call_id=None, to="14155550100"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(30)
    s.sendto(invite(orig, identity, call_id, to), ("127.0.0.1", PORTS[daemon][1]))
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


def local_calls(daemon):
    return metric(metrics(daemon), 'cidguard_shared_state_total{store="local"}') or 0


def api(daemon, method, path="/intent/v1", body=None):
    """(status, parsed JSON or text) of an intent API request with the bank's key."""
    return http_json(PORTS[daemon][0], method, path, body, timeout=scaled(10),
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + INTENT_KEY})


def bank_call(daemon, to, frm=BANK):
    """An unsigned call from a protected number: 'pass' under a live intent
    with a use left, 'block' without one, else the answer's first line."""
    r = call(daemon, frm, to=to) or ""
    if r.startswith("SIP/2.0 302") and header(r, "Cidguard-Brand") == BRAND and \
            "brand_intent" in reasons(r):
        return "pass"
    if r.startswith("SIP/2.0 608") and "protected_no_intent" in reasons(r):
        return "block"
    return r.split("\r\n")[0] + " " + str(header(r, "Cidguard-Reasons"))


def intent_key(frm, to):
    """An intent's key on a cluster: the presentation number is its hash tag."""
    return "cidguard:intent:{%s}:%s" % (frm, to)


def eval_rejected(port):
    """EVAL commands the node refused (a cluster redirection among them)."""
    for line in cli(port, "info", "commandstats").splitlines():
        if line.startswith("cmdstat_eval:"):
            for f in line.split(":", 1)[1].split(","):
                if f.startswith("rejected_calls="):
                    return int(f.split("=")[1])
    return 0


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                          text=True).stdout.strip()


def cluster_port():
    """A free port whose cluster bus port (10000 above it) is free too: a
    cluster node wants its port at 55535 or below."""
    while True:
        port = free_ports(1)[0]
        if port > 55535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue


def start_node(i):
    chosen = []

    def make():
        port = cluster_port()
        chosen.append(port)
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", WORK, "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes-%d.conf" % port,
                "--cluster-node-timeout", "5000"], port

    p = start(make, os.path.join(WORK, "node%d.log" % i), banner=False, tries=5)
    nodes.append((p, chosen[-1]))


def node_id(port):
    return cli(port, "cluster", "myid")


def owner(slot):
    """The port of the node that serves slot."""
    for line in cli(nodes[0][1], "cluster", "nodes").splitlines():
        f = line.split()
        if "master" not in f[2]:
            continue
        for r in f[8:]:
            lo, _, hi = r.partition("-")
            if not lo.isdigit():
                continue
            if int(lo) <= slot <= int(hi or lo):
                return int(f[1].split("@")[0].rsplit(":", 1)[1])
    return None


def start_daemon(name, url=None, cluster=None, up=True):
    state = os.path.join(WORK, "state-" + name)
    os.makedirs(os.path.join(state, "certs"), exist_ok=True)
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
                    "[policy]\ndno = %s\nrate_calls = 10\nprotected = %s\n"
                    "[intent]\nkeys = %s\nmax_uses = 2\n"
                    "[redis]\nurl = %s\ncluster = %s\ntimeout_ms = %d\n"
                    % (state, http, sv, ss, os.path.join(WORK, "pki", "root.pem"),
                       os.path.join(WORK, "dno.csv"), os.path.join(WORK, "protected.csv"),
                       os.path.join(WORK, "keys.csv"),
                       url or "redis://127.0.0.1:%d" % nodes[0][1],
                       cluster or ";".join("127.0.0.1:%d" % p for _, p in nodes[1:]),
                       scaled(100)))
        return [CGD, "-c", conf], http

    procs[name] = start(make, os.path.join(WORK, name + ".log"))
    if not up:
        return
    ok = wait_for(lambda: metric(metrics(name), "cidguard_redis_up") == 1, 20)
    check("daemon %s reads the slot map and connects to the three primaries" % name,
          ok and metric(metrics(name), "cidguard_redis_cluster_nodes") == 3,
          tail(os.path.join(WORK, name + ".log")))


def check_shared(each):
    """No call was decided on local state; every call's campaign observation
    went to the stream, on the node of its slot, and each daemon read at
    least `each` of the other's."""
    check("no call was decided on local state", local_calls("A") == 0 and local_calls("B") == 0,
          (local_calls("A"), local_calls("B")))
    stream = "cidguard:{campaign}:calls"
    received = 'cidguard_campaign_shared_total{direction="received"}'
    check("campaign observations: the stream on the node of its slot, each daemon reading the "
          "other's",
          wait_for(lambda: all(metric(metrics(d), received) >= each for d in "AB")) and
          int(cli(owner(keyslot(stream)), "xlen", stream) or 0) >= 2 * each,
          [metric(metrics(d), received) for d in "AB"])


FAKE = {"slots": [], "calls": None}  # the hostile node's next slot maps, its answer to calls


def fake_answer(cmd):
    c = [x.decode(errors="replace").upper() for x in cmd[:2]]
    if c[0] in ("AUTH", "SELECT", "ASKING"):
        return b"+OK\r\n"
    if c[0] == "SCRIPT":
        return resp("0" * 40)
    if c[0] == "INFO":
        return resp("# Cluster\r\ncluster_enabled:1\r\n")
    if c[:2] == ["CLUSTER", "SLOTS"]:
        m = FAKE["slots"].pop(0) if len(FAKE["slots"]) > 1 else FAKE["slots"][0]
        return m if isinstance(m, bytes) else resp(m)
    if c[0] in ("EVALSHA", "SET") and FAKE["calls"]:
        return b"-" + FAKE["calls"].encode() + b"\r\n"
    return resp(Exception("ERR unknown command"))


def hostile_calls(daemon, n, tag):
    """True when n signed calls are all answered 302 within a few seconds each."""
    answers = []
    for i in range(n):
        orig = "4474000%05d" % (70000 + i)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(scaled(3))
        s.sendto(invite(orig, sign("GW01", orig), "%s-%d@hostile" % (tag, i)),
                 ("127.0.0.1", PORTS[daemon][1]))
        try:
            answers.append(s.recv(65535).decode())
        except socket.timeout:
            answers.append(None)
        s.close()
    return all(a and a.startswith("SIP/2.0 302") for a in answers)


def hostile_node():
    fake = FakeRedis(fake_answer)
    dead = free_ports(1)[0]
    me = ["127.0.0.1", fake.port]
    whole = [[0, 16383, me + ["id0"]]]
    FAKE["slots"] = [Exception("ERR This instance has cluster support disabled"),
                     [[0, 20000, me]], [], [[0, 16383, ["127.0.0.1", 99999]]],
                     [[0, 10000, me], [5000, 16383, ["127.0.0.1", -1]]],
                     [[0, 16383, ["x" * 300, fake.port]]], ["junk", 7, None],
                     [[0, 16383]], [[i % 16384, i % 16384, me] for i in range(200000)],
                     whole]
    try:
        start_daemon("H", "redis://127.0.0.1:%d" % fake.port, "127.0.0.1:%d" % fake.port, up=False)
        check("hostile slot maps: the daemon answers every INVITE", hostile_calls("H", 10, "map"))
        ok = wait_for(lambda: metric(metrics("H"), "cidguard_redis_up") == 1, scaled(20))
        log = open(os.path.join(WORK, "H.log"), errors="replace").read()
        heads = ["worker %d: redis 127.0.0.1:%d: CLUSTER SLOTS" % (w, fake.port) for w in (0, 1)]
        check("... each worker logs a refused or partial map, and takes a whole one in the end",
              ok and all(h + ": ERR This instance has cluster support disabled" in log or
                         h + " maps " in log for h in heads), log[-1500:])
        for answer, why in (("MOVED abc 127.0.0.1", "MOVED abc"),
                            ("MOVED 5 127.0.0.1:%d" % fake.port, "MOVED 5"),
                            ("ASK 5 127.0.0.1:%d" % fake.port, "ASK 5"),
                            ("TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN"),
                            ("MOVED 5 127.0.0.1:%d" % dead, "MOVED 5 127.0.0.1:%d" % dead),
                            ("MOVED 99999 127.0.0.1:1", "MOVED 99999")):
            FAKE["calls"] = answer
            before = metric(metrics("H"), 'cidguard_shared_state_total{store="local"}') or 0
            ok = hostile_calls("H", 8, why.split()[0])
            after = metric(metrics("H"), 'cidguard_shared_state_total{store="local"}') or 0
            log = open(os.path.join(WORK, "H.log"), errors="replace").read()
            check("%s: every INVITE answered on local state, and the log says so" % why,
                  ok and after - before >= 8 and why in log, (after - before, log[-800:]))
            # the next answer is logged once more on a fresh connection
            FAKE["slots"] = [whole]
            stop([procs.pop("H")])
            start_daemon("H", "redis://127.0.0.1:%d" % fake.port, "127.0.0.1:%d" % fake.port,
                         up=False)
            wait_for(lambda: metric(metrics("H"), "cidguard_redis_up") == 1, scaled(20))
        stop([procs.pop("H")])
        log = open(os.path.join(WORK, "H.log"), errors="replace").read()
        check("the daemon facing a hostile node exits cleanly",
              "Sanitizer" not in log and "runtime error" not in log, log[-800:])
    finally:
        fake.close()


try:
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("redis-server or redis-cli is not installed")
        sys.exit(77)
    subprocess.run([CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "GW01", "--spc", "RATE"],
                   capture_output=True, check=True)
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n")
    with open(os.path.join(WORK, "protected.csv"), "w") as f:
        f.write("number,brand,spcs,min_attest\n%s,%s,BANK1,A\n%s,%s,BANK1,A\n"
                % (BANK, BRAND, BANK2, BRAND))
    token = subprocess.run([CG, "customers", "token", INTENT_KEY], capture_output=True,
                           text=True, check=True).stdout.strip()
    with open(os.path.join(WORK, "keys.csv"), "w") as f:
        f.write("name,key_sha256,numbers\nbank1,%s,+%s;+%s\n" % (token, BANK, BANK2))
    for i in range(3):
        start_node(i)
    r = subprocess.run(["redis-cli", "--cluster", "create"] +
                       ["127.0.0.1:%d" % p for _, p in nodes] + ["--cluster-yes"],
                       capture_output=True, text=True)
    ok = r.returncode == 0 and wait_for(
        lambda: all("cluster_state:ok" in cli(p, "cluster", "info") for _, p in nodes), 30)
    check("a three-primary cluster is made", ok, r.stdout[-600:] + r.stderr[-300:])
    start_daemon("A")
    start_daemon("B")

    # --- replays across daemons, whichever node holds the key ---------------------
    toks = [sign("GW01", "4474000100%02d" % i) for i in range(12)]
    caught = 0
    for i, t in enumerate(toks):
        a = call("A", "4474000100%02d" % i, t, "a%d@cluster" % i)
        b = call("B", "4474000100%02d" % i, t, "b%d@cluster" % i)
        caught += bool(a and "replay" not in reasons(a) and b and "replay" in reasons(b))
    holders = {owner(keyslot(replay_key(t))) for t in toks}
    check("12 PASSporTs replayed to the other daemon: all caught", caught == 12, caught)
    check("... their keys on several nodes (%d)" % len(holders), len(holders) >= 2, holders)
    check("... each key on the node its slot says",
          all(cli(owner(keyslot(replay_key(t))), "exists", replay_key(t)) == "1" for t in toks))

    # --- a rate window fed by both daemons ----------------------------------------
    answers = []
    for i in range(12):
        num = "4474000200%02d" % i
        answers.append(call("A" if i % 2 == 0 else "B", num, sign("RATE", num)))
    tripped = [i for i, a in enumerate(answers) if "rate_calls" in reasons(a)]
    check("rate_calls = 10 per SPC, 6 calls to each daemon: the window trips once, at the 11th call",
          tripped == [10, 11], [(i, header(a, "Cidguard-Reasons")) for i, a in enumerate(answers)])
    slot = keyslot("cidguard:sc:{RATE}")
    src = owner(slot)
    check("the SPC's two windows share a slot, on the node that serves it",
          slot == keyslot("cidguard:sn:{RATE}") and cli(src, "exists", "cidguard:sc:{RATE}") == "1")
    check_shared(6)

    # --- call intents across the daemons ------------------------------------------
    st, ans = api("A", "POST", body={"from": "+" + BANK, "to": "+447700900501"})
    check("an intent registered through A is shared (the cluster took it)",
          st == 201 and isinstance(ans, dict) and ans.get("shared") is True, (st, ans))
    k, idx = intent_key(BANK, "447700900501"), "cidguard:intents:{%s}" % BANK
    holder = owner(keyslot(k))
    check("... its key holds the uses, on the node of its number's slot, beside the number's index",
          keyslot(k) == keyslot(idx) and cli(holder, "get", k) == "2" and
          cli(holder, "zscore", idx, "447700900501") != "", (holder, cli(holder, "get", k)))
    st, ans = api("B", "GET", "/intent/v1?from=" + BANK)
    check("B lists it from the cluster",
          st == 200 and ans.get("shared") is True and
          [(i["from"], i["to"], i["uses"]) for i in ans.get("intents", [])] ==
          [("+" + BANK, "+447700900501", 2)], (st, ans))
    got = [bank_call("B", "447700900501"), bank_call("B", "447700900501"),
           bank_call("A", "447700900501")]
    check("two calls through B pass under A's intent, and spend its uses: a third through A "
          "(whose memory still has two) is blocked", got == ["pass", "pass", "block"], got)
    check("... no use is left in the cluster", cli(holder, "get", k) == "0", cli(holder, "get", k))
    st, ans = api("B", "POST", body={"from": "+" + BANK, "to": "+447700900502"})
    check("an intent registered through B", st == 201 and ans.get("shared") is True, (st, ans))
    st, ans = api("A", "DELETE", "/intent/v1?from=%s&to=447700900502" % BANK)
    check("... cancelled through A (which never held it): 200, shared",
          st == 200 and ans.get("shared") is True, (st, ans))
    got = bank_call("B", "447700900502")
    check("... a call through B (whose memory still holds it) is blocked", got == "block", got)
    check("... its key is gone from the cluster",
          cli(owner(keyslot(intent_key(BANK, "447700900502"))), "exists",
              intent_key(BANK, "447700900502")) == "0")
    st, ans = api("A", "POST", body={"intents": [{"from": "+" + BANK, "to": "+447700900503"},
                                                 {"from": "+" + BANK2, "to": "+447700900503"}]})
    k1, k2 = intent_key(BANK, "447700900503"), intent_key(BANK2, "447700900503")
    check("a batch for two numbers (slots %d and %d): shared, each key on its slot's node"
          % (keyslot(k1), keyslot(k2)),
          st == 201 and ans.get("shared") is True and keyslot(k1) != keyslot(k2) and
          cli(owner(keyslot(k1)), "get", k1) == "2" and cli(owner(keyslot(k2)), "get", k2) == "2",
          (st, ans))
    got = [bank_call("B", "447700900503"), bank_call("B", "447700900503", BANK2)]
    check("... calls through B from both numbers pass", got == ["pass", "pass"], got)
    check_shared(6)

    # --- the window's slot moves while calls flow: ASK, then MOVED ---------------
    dst = next(p for _, p in nodes if p != src)
    cli(dst, "cluster", "setslot", str(slot), "importing", node_id(src))
    cli(src, "cluster", "setslot", str(slot), "migrating", node_id(dst))
    keys = cli(src, "cluster", "getkeysinslot", str(slot), "100").split()
    cli(src, "migrate", "127.0.0.1", str(dst), "", "0", "5000", "keys", *keys)
    r = call("A", "447400020050", sign("RATE", "447400020050"))
    m = metrics("A")
    check("during the migration the window is reached on the importing node (ASK followed)",
          "rate_calls" in reasons(r) and
          (metric(m, 'cidguard_redis_cluster_redirects_total{kind="ask"}') or 0) >= 1 and
          local_calls("A") == 0, (header(r, "Cidguard-Reasons"),
                                  [x for x in m.splitlines() if x.startswith("cidguard_redis")]))
    for _, p in nodes:
        cli(p, "cluster", "setslot", str(slot), "node", node_id(dst))
    ok = wait_for(lambda: owner(slot) == dst)
    r = call("B", "447400020051", sign("RATE", "447400020051"))
    m = metrics("B")
    check("after it, the old node's MOVED is followed and the count went along",
          ok and "rate_calls" in reasons(r) and
          (metric(m, 'cidguard_redis_cluster_redirects_total{kind="moved"}') or 0) >= 1 and
          local_calls("B") == 0, (header(r, "Cidguard-Reasons"),
                                  [x for x in m.splitlines() if x.startswith("cidguard_redis")]))
    r = call("B", "447400020052", sign("RATE", "447400020052"))
    check("... and the next call goes straight to the new node (the map was read again)",
          "rate_calls" in reasons(r) and local_calls("B") == 0 and
          (metric(metrics("B"), "cidguard_redis_cluster_slot_maps_total") or 0) >= 3)
    # the bank's slot moves whole: the intent API's stale map gets MOVED and follows it
    bslot = keyslot(intent_key(BANK, "x"))
    bsrc = owner(bslot)
    bdst = next(p for _, p in nodes if p != bsrc)
    cli(bdst, "cluster", "setslot", str(bslot), "importing", node_id(bsrc))
    cli(bsrc, "cluster", "setslot", str(bslot), "migrating", node_id(bdst))
    keys = cli(bsrc, "cluster", "getkeysinslot", str(bslot), "100").split()
    cli(bsrc, "migrate", "127.0.0.1", str(bdst), "", "0", "5000", "keys", *keys)
    for _, p in nodes:
        cli(p, "cluster", "setslot", str(bslot), "node", node_id(bdst))
    ok = wait_for(lambda: owner(bslot) == bdst)
    rejected = eval_rejected(bsrc)
    st, ans = api("A", "POST", body={"from": "+" + BANK, "to": "+447700900504"})
    k = intent_key(BANK, "447700900504")
    check("after the bank's slot moved, a registration through A reaches its new node "
          "(MOVED followed) and is shared",
          ok and st == 201 and ans.get("shared") is True and cli(bdst, "get", k) == "2",
          (ok, st, ans, bsrc, bdst))
    got = bank_call("B", "447700900504")
    check("... and a call through B passes under it", got == "pass", got)
    check("... the old node had refused it first (MOVED: its EVAL rejected_calls grew)",
          eval_rejected(bsrc) > rejected, (rejected, eval_rejected(bsrc)))
    tok = sign("GW01", "447400012398")
    call("B", "447400012398", tok, "one@after")
    r = call("A", "447400012398", tok, "two@after")
    check("replays are still caught across daemons", "replay" in reasons(r), r)
    hostile_node()
    # the daemons stopped (SIGTERM: they free everything) before the servers
    stop(list(procs.values()))
    logs = [open(os.path.join(WORK, n + ".log"), errors="replace").read() for n in procs]
    check("the daemons exit cleanly (no sanitizer report)",
          all(p.returncode == 0 for p in procs.values()) and
          not any("Sanitizer" in t or "runtime error" in t for t in logs),
          [t[-800:] for t in logs if "Sanitizer" in t or "runtime error" in t] or
          [p.returncode for p in procs.values()])
finally:
    stop(list(procs.values()) + [p for p, _ in nodes], WORK)

finish()
