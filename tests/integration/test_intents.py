"""The call-intent API of the real daemon: registration, listing and
cancellation over HTTP; every refusal (400 for each kind of malformed
request, 401, 403 for a number not owned and one not protected, 413, 429)
leaves no intent behind; the store survives a SIGHUP reload; with a real
redis-server started here, an intent registered on one daemon is listed
and cancelled on another; the CLI's add, list, cancel and import.

    python3 test_intents.py BUILD_DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, finish, free_port, free_ports, http_json, start, stop,  # noqa: E402
                     tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-intents-")
procs = []
PORTS = {}

KEYS = {"bank1": "bank1-key-6f1c2a9e4b7d8c0f3a5e9b1d2c4f6a8e",
        "bank2": "bank2-key-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d",
        "flood": "flood-key-1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e"}
OWNS = {"bank1": "+442079460100;+447700900123", "bank2": "+18005550100",
        "flood": "+4420794602*"}


def token_hash(key):
    out = subprocess.run([CG, "customers", "token", key], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out


def write_files():
    with open(os.path.join(WORK, "keys.csv"), "w") as f:
        f.write("name,key_sha256,numbers\n# test keys\n")
        for name, key in KEYS.items():
            f.write("%s,%s,%s\n" % (name, token_hash(key), OWNS[name]))
    with open(os.path.join(WORK, "protected.csv"), "w") as f:
        f.write("number,brand,spcs,min_attest\n442079460100,Example Bank,BANK1,A\n"
                "4420794602*,Other Bank,BANK2,B\n18005550100,US Example Bank,USB1,A\n")


def start_daemon(name, redis_url=None):
    state = os.path.join(WORK, "state-" + name)
    os.makedirs(state, exist_ok=True)
    conf = os.path.join(WORK, name + ".conf")

    def make():
        PORTS[name] = http, sv, ss = tuple(free_ports(1) + free_ports(2, udp=True))
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "workers = 2\ndecision_log = off\n"
                    "[policy]\nprotected = %s\n"
                    "[intent]\nkeys = %s\nmax_valid_for = 300\nmax_batch = 10\n"
                    "rate = 20\nburst = 40\n"
                    % (state, http, sv, ss, os.path.join(WORK, "protected.csv"),
                       os.path.join(WORK, "keys.csv")))
            if redis_url:
                f.write("[redis]\nurl = %s\n" % redis_url)
        return [CGD, "-c", conf], http

    p = start(make, os.path.join(WORK, name + ".log"))
    procs.append(p)
    return p


def req(name, method, path="/intent/v1", body=None, key="bank1", headers=None):
    """(status, parsed JSON answer or text)"""
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = "Bearer " + KEYS.get(key, key)
    h.update(headers or {})
    return http_json(PORTS[name][0], method, path, body, headers=h)


def listing(name, key="bank1", frm=None):
    st, ans = req(name, "GET", "/intent/v1" + ("?from=" + frm if frm else ""), key=key)
    if st != 200:
        return None
    return sorted((i["from"], i["to"]) for i in ans["intents"])


def intent(frm, to, valid_for=None):
    d = {"from": frm, "to": to}
    if valid_for is not None:
        d["valid_for"] = valid_for
    return d


try:
    write_files()
    start_daemon("A")

    # --- registration, listing, cancellation ---------------------------------------
    st, ans = req("A", "POST", body=intent("+442079460100", "+447700900456", 120))
    check("register one intent: 201", st == 201 and ans.get("registered") == 1, (st, ans))
    check("the answer says uses and expiry",
          isinstance(ans, dict) and ans.get("uses") == 3 and ans.get("expires", 0) > time.time(),
          ans)
    st, ans = req("A", "POST", body={"intents": [intent("+442079460100", "+447700900457"),
                                                 intent("442079460100", "+447700900458", 30)]})
    check("register a batch of two: 201", st == 201 and ans.get("registered") == 2, (st, ans))
    want = [("+442079460100", "+447700900456"), ("+442079460100", "+447700900457"),
            ("+442079460100", "+447700900458")]
    check("the key's listing shows them", listing("A") == want, listing("A"))
    check("listing by from (URL-encoded +) shows them",
          listing("A", frm="%2B442079460100") == want, listing("A", frm="%2B442079460100"))
    check("another key does not see them", listing("A", key="bank2") == [],
          listing("A", key="bank2"))
    st, ans = req("A", "DELETE", "/intent/v1?from=442079460100&to=447700900457")
    check("cancel: 200", st == 200 and ans.get("cancelled") is True, (st, ans))
    st, ans = req("A", "DELETE", "/intent/v1?from=442079460100&to=447700900457")
    check("cancel again: 404", st == 404, (st, ans))
    want.remove(("+442079460100", "+447700900457"))
    check("the cancelled intent is gone", listing("A") == want, listing("A"))

    # --- refusals: none leaves anything behind --------------------------------------
    bad = [
        ("not JSON", "from=+442079460100&to=+447700900999"),
        ("truncated JSON", '{"from":"+442079460100","to":"+4477009009'),
        ("no to", {"from": "+442079460100"}),
        ("from not a string", {"from": 442079460100, "to": "+447700900999"}),
        ("from national", intent("02079460100", "+447700900999")),
        ("to a SIP URI", intent("+442079460100", "sip:bob@example.com")),
        ("to too long", intent("+442079460100", "+4477009009990000")),
        ("valid_for 0", intent("+442079460100", "+447700900999", 0)),
        ("valid_for over max_valid_for", intent("+442079460100", "+447700900999", 301)),
        ("valid_for a string", intent("+442079460100", "+447700900999", "60")),
        ("unknown member", {"from": "+442079460100", "to": "+447700900999", "validfor": 60}),
        ("empty batch", {"intents": []}),
        ("a bad element after a good one",
         {"intents": [intent("+442079460100", "+447700900999"),
                      intent("+442079460100", "447700900x")]}),
    ]
    for name, body in bad:
        st, ans = req("A", "POST", body=body)
        check("400: %s" % name, st == 400 and isinstance(ans, dict) and ans.get("error"),
              (st, ans))
    st, ans = req("A", "POST", body=intent("+442079460100", "+447700900999"),
                  headers={"Content-Type": "text/plain"})
    check("400: not application/json", st == 400, (st, ans))
    st, ans = req("A", "POST", body={"intents": [intent("+442079460100", "+447700900999"),
                                                 intent("+442079460100", "447700900x")]})
    check("400 names the bad element", "intents[1]: to" in str(ans), ans)
    st, ans = req("A", "DELETE", "/intent/v1?from=442079460100")
    check("400: cancel without to", st == 400, (st, ans))

    st, ans = req("A", "POST", body=intent("+442079460100", "+447700900999"), key=None)
    check("401: no key", st == 401, (st, ans))
    st, ans = req("A", "POST", body=intent("+442079460100", "+447700900999"), key="not-a-key")
    check("401: unknown key", st == 401, (st, ans))
    st, ans = req("A", "POST", body=intent("+442079460100", "+447700900999"), key=None,
                  headers={"Authorization": "Basic " + KEYS["bank1"]})
    check("401: not a Bearer key", st == 401, (st, ans))
    st, ans = req("A", "GET", key=None)
    check("401: listing without a key", st == 401, (st, ans))

    st, ans = req("A", "POST", body={"intents": [intent("+442079460100", "+447700900999"),
                                                 intent("+18005550100", "+447700900999")]})
    check("403: a number of another key (in a batch)", st == 403 and "intents[1]" in str(ans),
          (st, ans))
    st, ans = req("A", "POST", body=intent("+447700900123", "+447700900999"))
    check("403: a number the key owns but that is not protected",
          st == 403 and "not a protected number" in str(ans), (st, ans))
    st, ans = req("A", "DELETE", "/intent/v1?from=18005550100&to=447700900999")
    check("403: cancelling another key's number", st == 403, (st, ans))

    eleven = {"intents": [intent("+442079460100", "+4477009010%02d" % i) for i in range(11)]}
    st, ans = req("A", "POST", body=eleven)
    check("413: a batch over max_batch", st == 413, (st, ans))
    st, ans = req("A", "POST", body='{"intents":[' + " " * 70000 + "]}")
    check("413: a body over the HTTP limit", st == 413, (st, ans))

    check("no refused request left an intent behind", listing("A") == want, listing("A"))

    # the flood key: 20 intents/s, a burst of 40; batches of 10 as fast as possible
    codes = []
    for i in range(12):
        st, ans = req("A", "POST", key="flood",
                      body={"intents": [intent("+442079460201", "+4477009020%02d" % (i * 10 + j))
                                        for j in range(10)]})
        codes.append(st)
    ok = codes.count(201)
    check("429: a flood is refused past the key's burst",
          codes.count(429) >= 1 and set(codes) <= {201, 429}, codes)
    time.sleep(2.5)  # the listing costs a token of the same bucket
    flood_list = listing("A", key="flood")
    check("the flood left exactly its accepted batches (%d x 10)" % ok,
          flood_list is not None and len(flood_list) == ok * 10, (ok, flood_list and len(flood_list)))

    text = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/metrics" % PORTS["A"][0]],
                          capture_output=True, text=True).stdout
    check("metrics count registrations and refusals",
          "cidguard_intents_registered_total" in text and
          'cidguard_intent_requests_refused_total{status="429"}' in text and
          "cidguard_intents_stored" in text, text[-800:])
    log = tail(os.path.join(WORK, "A.log"), 1 << 20)
    for line in ("intents registered by key bank1 from 127.0.0.1: 2, first +442079460100 -> "
                 "+447700900457 for 120 s",
                 "intent cancelled by key bank1 from 127.0.0.1: +442079460100 -> +447700900457",
                 # refusals past 20 a second are summed up: the first one is logged
                 "intent request refused (400: not JSON: "):
        check("audit line: " + line[:40], line in log, line)

    # --- a reload keeps the store ----------------------------------------------------
    procs[0].send_signal(signal.SIGHUP)
    check("SIGHUP reloads the configuration",
          wait_for(lambda: "configuration reloaded" in tail(os.path.join(WORK, "A.log"), 1 << 20),
                   10), tail(os.path.join(WORK, "A.log")))
    check("intents survive a SIGHUP reload", listing("A") == want, listing("A"))

    # --- the CLI -------------------------------------------------------------------
    env = dict(os.environ, CIDGUARD_INTENT_KEY=KEYS["bank1"])
    url = "http://127.0.0.1:%d" % PORTS["A"][0]
    r = subprocess.run([CG, "intent", "add", "--url", url, "+442079460100", "+447700900777", "60"],
                       capture_output=True, text=True, env=env)
    check("cidguard intent add (key from the environment)",
          r.returncode == 0 and '"registered":1' in r.stdout, r.stdout + r.stderr)
    r = subprocess.run([CG, "intent", "list", "--url", url, "--from", "+442079460100"],
                       capture_output=True, text=True, env=env)
    check("cidguard intent list", r.returncode == 0 and "+447700900777" in r.stdout,
          r.stdout + r.stderr)
    csv = os.path.join(WORK, "import.csv")
    with open(csv, "w") as f:
        f.write("from,to,valid_for\n# one a line\n")
        for i in range(25):
            f.write("+442079460100,+4477009030%02d,%d\n" % (i, 60 + i))
    r = subprocess.run([CG, "intent", "import", "--url", url, "--key", KEYS["bank1"], csv],
                       capture_output=True, text=True)
    check("cidguard intent import: 25 intents in batches of the daemon's max (10)",
          r.returncode != 0 and "413" in r.stderr, r.stdout + r.stderr)
    r = subprocess.run([CG, "intent", "import", "--url", url, "--key", KEYS["bank1"],
                        "--batch", "10", csv], capture_output=True, text=True)
    check("cidguard intent import --batch 10", r.returncode == 0 and
          '"registered":25,"batches":3' in r.stdout, r.stdout + r.stderr)
    check("the imported intents are listed", len([x for x in listing("A")
                                                   if x[1].startswith("+4477009030")]) == 25)
    with open(csv, "a") as f:
        f.write("+442079460100,not-a-number\n")
    r = subprocess.run([CG, "intent", "import", "--url", url, csv], capture_output=True,
                       text=True, env=env)
    check("import refuses a file with a bad line and names it",
          r.returncode == 2 and "import.csv:28:" in r.stderr, r.stdout + r.stderr)
    r = subprocess.run([CG, "intent", "cancel", "--url", url, "+442079460100", "+447700900777"],
                       capture_output=True, text=True, env=env)
    check("cidguard intent cancel", r.returncode == 0, r.stdout + r.stderr)
    r = subprocess.run([CG, "intent", "add", "--url", url, "--key", "wrong", "+442079460100",
                        "+447700900777"], capture_output=True, text=True)
    check("the CLI reports a refusal (exit 1)", r.returncode == 1 and "401" in r.stderr,
          r.stdout + r.stderr)
    r = subprocess.run([CG, "intent", "key"], capture_output=True, text=True)
    line = [x for x in r.stdout.splitlines() if x.startswith("line: ")]
    check("cidguard intent key prints a key and its keys-file line",
          r.returncode == 0 and line and "sha256:" in line[0], r.stdout)

    # --- Redis: two daemons share intents -------------------------------------------
    if not shutil.which("redis-server"):
        print("redis-server is not installed: the shared-store checks are skipped")
    else:
        def make_redis():
            global REDIS_PORT
            REDIS_PORT = free_port()
            return ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no"], REDIS_PORT

        redis = start(make_redis, os.path.join(WORK, "redis.log"), banner=False)
        procs.append(redis)
        redis_url = "redis://127.0.0.1:%d" % REDIS_PORT
        start_daemon("C", redis_url)
        start_daemon("D", redis_url)
        st, ans = req("C", "POST", body={"intents": [intent("+442079460100", "+447700900801"),
                                                     intent("+442079460100", "+447700900802",
                                                            200)]})
        check("registered on daemon C, shared through Redis",
              st == 201 and ans.get("shared") is True, (st, ans))
        got = listing("D", frm="442079460100")
        check("daemon D lists the intents registered on C",
              got == [("+442079460100", "+447700900801"), ("+442079460100", "+447700900802")],
              got)
        val = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "GET",
                              "cidguard:intent:442079460100:447700900802"],
                             capture_output=True, text=True).stdout.strip()
        ttl = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "TTL",
                              "cidguard:intent:442079460100:447700900802"],
                             capture_output=True, text=True).stdout.strip()
        check("the Redis key holds the uses left, with valid_for as its TTL",
              val == "3" and 190 <= int(ttl or 0) <= 200, (val, ttl))
        st, ans = req("D", "DELETE", "/intent/v1?from=442079460100&to=447700900801")
        check("cancelled on daemon D", st == 200, (st, ans))
        got = listing("C", frm="442079460100")
        check("daemon C no longer lists it", got == [("+442079460100", "+447700900802")], got)
        st, ans = req("C", "POST", body={"intents": [intent("+442079460100", "+447700900803"),
                                                     intent("+18005550100", "+447700900803")]})
        got = listing("D", frm="442079460100")
        check("a refused batch writes nothing to Redis",
              st == 403 and got == [("+442079460100", "+447700900802")], (st, got))
finally:
    stop(procs, WORK)
finish()
