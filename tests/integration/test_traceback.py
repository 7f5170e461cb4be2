"""Traceback: who placed a call we signed.

The daemon keeps a signing log in its state directory (signings.db) and,
with [sign] traceback_tokens, answers GET /traceback/v1 for the holders of
those tokens: 404 without tokens configured, 401 without a known token, 400
for bad parameters, 404 with empty lists when nothing matches, 200 with the
calls, their customers, addresses and totals (JSON, or CSV with
format=csv), 503 when the signing log is off.  `cidguard trace` answers the
same from the file.  The records are written here with Python's sqlite3 in
the table the daemon creates, between two starts of the daemon.

    python3 test_traceback.py BUILD_DIR
"""
import csv
import hashlib
import http.client
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, start, stop, tail  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-traceback-")
STATE = os.path.join(WORK, "state")
LOG = os.path.join(STATE, "signings.db")
TOKEN = "tb-5d1f0c7a9e3b4a2f8c6d0e1f2a3b4c5d"
HASH = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
T0 = 1736154902  # 2025-01-06T09:15:02Z
OID = "de305d54-75b4-431b-adb2-eb6b9e546014"
procs = []
PORTS = {}


def write_conf(path, extra_sign=""):
    with open(path, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\nsip_verify_listen = "
                "127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\nworkers = 2\ndecision_log = off\n"
                # the records below are dated January 2025: kept, not pruned for
                # their age by the writer (it prunes at start, then hourly)
                "[sign]\nsigning_log_days = 0\n%s"
                % (STATE, PORTS["http"], PORTS["sip"], PORTS["sip_sign"], extra_sign))


def daemon(extra_sign=""):
    conf = os.path.join(WORK, "d.conf")

    def configure():
        PORTS["http"], = free_ports(1)
        PORTS["sip"], PORTS["sip_sign"] = free_ports(2, udp=True)
        write_conf(conf, extra_sign)
        return [CGD, "-c", conf], PORTS["http"]

    d = start(configure, os.path.join(WORK, "d.log"))
    procs.append(d)
    return d


def get(query, token=TOKEN, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=30)
    c.request(method, "/traceback/v1" + query,
              headers={"Authorization": "Bearer " + token} if token is not None else {})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return r.status, body, dict(r.getheaders())


def trace(*args):
    return subprocess.run([CG, "trace"] + list(args), capture_output=True, text=True)


def row(t, customer, source, orig, dest, attest, origid, action="allow", presented=None,
        reasons=None, call_id=None):
    return (t, call_id or "c%d@sbc" % t, customer, source, "trunk-1", orig, presented, dest,
            attest, origid, "1234", action, reasons, "sip")


try:
    # 1. No tokens: the endpoint is not served; the log is made in the state directory.
    d = daemon()
    st, body, _ = get("?origid=" + OID)
    check("without traceback_tokens: 404 (not served)", st == 404, (st, body))
    check("the signing log is created in the state directory", os.path.exists(LOG), os.listdir(STATE))
    c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=30)
    c.request("GET", "/metrics")
    metrics = c.getresponse().read().decode()
    c.close()
    check("/metrics counts the signing log's records",
          'cidguard_signing_log_total{result="written"} 0' in metrics and
          "cidguard_signing_log_bytes " in metrics, metrics[-2000:])
    stop([d])
    procs.remove(d)

    # 2. Records as the daemon would have written them.
    db = sqlite3.connect(LOG)
    db.executemany(
        "INSERT INTO signings(time, call_id, customer, source, ingress, orig, presented, dest, "
        "attest, origid, spc, action, reasons, listener) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [row(T0, "acme", "192.0.2.10", "442079460000", "14155550100", "A", OID,
             presented="442079460001", call_id="=cmd|' /C calc'!A0"),
         row(T0 + 30, "acme", "192.0.2.11", "442079460000", "14155550101", "B", OID),
         row(T0 + 40, "acme", "192.0.2.10", "447700900123", "14155550102", None, None,
             action="block", reasons="dno"),
         row(T0 + 50, "robo", "198.51.100.7", "442079460000", "14155550100", "C",
             "9b2f5a7e-0c1d-4e8f-a1b2-c3d4e5f60718"),
         row(T0 + 7200, "acme", "192.0.2.12", "442079469999", "14155550100", "A",
             "11111111-2222-4333-8444-555555555555")])
    db.commit()
    db.close()

    # 3. With a token.
    daemon("traceback_tokens = sha256:%s;%s\n" % ("ab" * 32, HASH.upper().replace("SHA256", "sha256")))
    st, body, h = get("?origid=" + OID, token=None)
    check("no Authorization: 401 with WWW-Authenticate",
          st == 401 and "Bearer" in h.get("WWW-Authenticate", ""), (st, body))
    st, body, _ = get("?origid=" + OID, token="tb-wrong")
    check("an unknown token: 401", st == 401, (st, body))
    st, body, _ = get("?origid=" + OID, method="POST")
    check("POST: 405", st == 405, (st, body))
    for q, what in (("?origid=" + OID + "&at=yesterday", "a bad time"),
                    ("?orig=442079460000&dest=14155550100&at=2025-13-06T09:15:02Z", "month 13"),
                    ("?orig=442079460000&at=%d" % T0, "orig without dest"),
                    ("?orig=4420794600001234&dest=14155550100&at=%d" % T0, "16 digits"),
                    ("?orig=442079460000&dest=14155550100&at=%d&window=86401" % T0, "a window too wide"),
                    ("?origid=" + OID + "&from=%d&to=%d" % (T0 + 10, T0), "from after to"),
                    ("?origid=" + OID + "&origid=x", "a repeated parameter"),
                    ("?origid=" + OID + "&colour=red", "an unknown parameter"),
                    ("", "no question")):
        st, body, _ = get(q)
        check("%s: 400" % what, st == 400 and "error" in body, (q, st, body))
    st, body, _ = get("?origid=00000000-0000-4000-8000-000000000000")
    check("an unknown origid: 404 with empty lists",
          st == 404 and body["calls"] == [] and body["customers"] == [] and
          body["truncated"] is False, (st, body))

    st, body, _ = get("?origid=" + OID.upper())
    check("by origid (any case): 200 with both calls", st == 200 and len(body["calls"]) == 2, (st, body))
    cu = body["customers"][0] if st == 200 and body["customers"] else {}
    check("the customer, its addresses from the log and its totals",
          len(body.get("customers", [])) == 1 and cu.get("customer") == "acme" and
          sorted(cu.get("addresses", [])) == ["192.0.2.10", "192.0.2.11"] and
          cu["totals"]["signed"] == 2 and cu["totals"]["refused"] == 1 and
          cu["totals"]["by_attest"] == {"A": 1, "B": 1, "C": 0} and
          cu["totals"]["distinct_presented"] == 3 and cu["totals"]["complete"] is True and
          cu["totals"]["from"] == "2025-01-06T08:45:02Z", body)
    call = body["calls"][0] if st == 200 else {}
    check("a call's record", call.get("time") == "2025-01-06T09:15:02Z" and
          call.get("orig") == "442079460000" and call.get("presented") == "442079460001" and
          call.get("dest") == "14155550100" and call.get("attest") == "A" and
          call.get("origid") == OID and call.get("source") == "192.0.2.10" and
          call.get("action") == "allow" and call.get("listener") == "sip", call)
    check("the query is echoed", body.get("query") == {"origid": OID}, body.get("query"))

    st, body, _ = get("?orig=%2B442079460000&dest=14155550100&at=2025-01-06T09:15:30Z&window=30")
    check("by numbers and time (+N, ISO time): the two customers' calls to that callee",
          st == 200 and [c["customer"] for c in body["calls"]] == ["acme", "robo"] and
          [c["customer"] for c in body["customers"]] == ["acme", "robo"], (st, body))
    st, body, _ = get("?orig=442079460000&dest=14155550100&at=%d&window=10" % (T0 + 25))
    check("a window that reaches neither call: 404", st == 404, (st, body))
    st, body, _ = get("?origid=%s&from=%d&to=%d" % (OID, T0 + 1, T0 + 30))
    check("by origid within from/to (inclusive)", st == 200 and len(body["calls"]) == 1 and
          body["calls"][0]["dest"] == "14155550101", (st, body))

    st, text, h = get("?origid=%s&format=csv" % OID)
    rows = list(csv.reader(io.StringIO(text))) if st == 200 else []
    check("format=csv: a header and one row per call",
          st == 200 and h.get("Content-Type") == "text/csv" and len(rows) == 3 and
          rows[0][:3] == ["time", "customer", "source"] and rows[1][1] == "acme", (st, text))
    check("csv: a Call-ID that a spreadsheet would run is defused",
          len(rows) == 3 and rows[1][-1].startswith("'="), rows)

    # 4. The CLI on the same file, the daemon still writing it.
    r = trace("--log", LOG, "--origid", OID)
    check("cidguard trace --origid: exit 0, the endpoint's JSON",
          r.returncode == 0 and json.loads(r.stdout) == get("?origid=" + OID)[1], (r.returncode, r.stdout, r.stderr))
    r = trace("--log", LOG, "--orig", "+442079460000", "--dest", "14155550100",
              "--at", "2025-01-06T09:15:30Z", "--window", "30", "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    check("cidguard trace --format csv: exit 0, one row per call",
          r.returncode == 0 and len(rows) == 3 and [x[1] for x in rows[1:]] == ["acme", "robo"],
          (r.returncode, r.stdout, r.stderr))
    r = trace("--log", LOG, "--origid", "00000000-0000-4000-8000-000000000000")
    check("cidguard trace, nothing found: exit 1 and a message",
          r.returncode == 1 and "no call" in r.stderr and json.loads(r.stdout)["calls"] == [],
          (r.returncode, r.stdout, r.stderr))
    r = trace("--log", os.path.join(WORK, "nope.db"), "--origid", OID)
    check("cidguard trace, no log: exit 2 and a message",
          r.returncode == 2 and "no signing log" in r.stderr, (r.returncode, r.stderr))
    r = trace("--log", os.path.join(WORK, "d.conf"), "--origid", OID)
    check("cidguard trace, a file that is not a log: exit 2",
          r.returncode == 2 and "not a signing log" in r.stderr, (r.returncode, r.stderr))
    r = trace("--log", LOG, "--orig", "442079460000", "--dest", "14155550100", "--at", "soon")
    check("cidguard trace, a bad time: exit 2 and a message",
          r.returncode == 2 and "--at wants a time" in r.stderr, (r.returncode, r.stderr))
    r = trace("--log", LOG, "--orig", "442079460000")
    check("cidguard trace, an incomplete question: exit 2", r.returncode == 2, (r.returncode, r.stderr))
    check("every answered traceback leaves an audit line",
          "audit: traceback from 127.0.0.1: origid %s: 200, 2 call(s)" % OID in
          tail(os.path.join(WORK, "d.log"), 1 << 20), tail(os.path.join(WORK, "d.log")))
    stop([procs.pop()])

    # 5. Tokens but no signing log: 503; a malformed token list refuses the start.
    daemon("traceback_tokens = %s\nsigning_log = off\n" % HASH)
    st, body, _ = get("?origid=" + OID)
    check("signing_log = off: 503", st == 503, (st, body))
    stop([procs.pop()])
    write_conf(os.path.join(WORK, "bad.conf"), "traceback_tokens = %s\n" % TOKEN)
    r = subprocess.run([CGD, "-c", os.path.join(WORK, "bad.conf")], capture_output=True, text=True,
                       timeout=30)
    check("a token where its hash belongs: the daemon refuses to start, without echoing it",
          r.returncode != 0 and "traceback_tokens: entry 1" in r.stderr and TOKEN not in r.stderr,
          (r.returncode, r.stderr))
finally:
    stop(procs, WORK)
finish()
