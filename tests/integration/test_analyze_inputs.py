"""cidguard analyze: several inputs as one set, bad rows, a saved baseline, threads.

- decision logs of two daemons (and a glob of them) read as one set, merged
  by time; a row without a time reported by its file and place;
- a CSV with a missing time, a called number that is not one, a negative
  duration and a row out of time order: each reported by file and line, the
  malformed ones skipped, the late one kept, the rest analysed;
- --save-baseline and --baseline: a number's usual origin known from an
  earlier run, so that a later run finds it borrowed;
- --threads 1, 2, 3 and 9 give the same files, reports and line numbers byte
  for byte, also on an input with awkward rows spread through it.

    python3 test_analyze_inputs.py BUILD_DIR
"""
import filecmp
import datetime
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG = os.path.join(BUILD, "cidguard")
HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, "..", "vectors", "analyze")
WORK = tempfile.mkdtemp(prefix="cg-analyze-inputs-")


def run(*args):
    return subprocess.run([CG] + list(args), capture_output=True, text=True)


def lists(d):
    return ["--protected", os.path.join(d, "protected.csv"), "--dno", os.path.join(d, "dno.csv"),
            "--ingress", os.path.join(d, "ingress.csv")]


def read(path):
    with open(path) as f:
        return f.read()


def decision_log(path, rows):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE decisions (time INTEGER, caller TEXT, callee TEXT, ingress TEXT, "
                "verstat TEXT, attest TEXT, origid TEXT, spc TEXT)")
    con.executemany("INSERT INTO decisions VALUES (?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()


try:
    # --- decision logs of two daemons, one set --------------------------------------
    logs = os.path.join(WORK, "logs")
    os.makedirs(logs)
    t0 = 1736154000
    dno = "448001570001"  # in tests/vectors/analyze/dno.csv
    a_rows = [(t0 + 60 * i, dno, "4474000001%02d" % i, "peer-5", "TN-Validation-Passed", "C",
               "acct-x", "SMALL1") for i in (0, 2, 4)]
    a_rows += [(t0 + 30, "447411111111", "447400000200", "peer-1", "TN-Validation-Passed", "A",
                "cons-1", "CARR1")]
    b_rows = [(t0 + 60 * i, dno, "4474000001%02d" % i, "peer-5", "TN-Validation-Passed", "C",
               "acct-x", "SMALL1") for i in (1, 3)]
    b_rows += [(None, "447411111112", "447400000201", "peer-1", "TN-Validation-Passed", "A",
                "cons-2", "CARR1")]
    decision_log(os.path.join(logs, "a.db"), a_rows)
    decision_log(os.path.join(logs, "b.db"), b_rows)
    r = run("analyze", os.path.join(logs, "a.db"), os.path.join(logs, "b.db"), "--format", "decisions",
            *lists(VEC), "--out", os.path.join(WORK, "two"))
    v = read(os.path.join(WORK, "two", "victims.csv")) if r.returncode == 0 else ""
    check("two decision logs read as one set: the account's calls from both are one campaign",
          r.returncode == 0 and "6 calls from" in r.stdout and "5 spoofed" in r.stdout and
          "1 campaigns, 5 victims, 1 origins" in r.stdout and
          all("+4474000001%02d" % i in v for i in range(5)), r.stdout + r.stderr)
    check("... merged in time order: the campaign runs from the first log's first row to its last",
          '"first_time": "2025-01-06T09:00:00Z"' in read(os.path.join(WORK, "two", "campaigns.json")) and
          '"last_time": "2025-01-06T09:04:00Z"' in read(os.path.join(WORK, "two", "campaigns.json")),
          read(os.path.join(WORK, "two", "campaigns.json"))[:400])
    check("... a row without a time reported by its file and place, and skipped",
          os.path.join(logs, "b.db") + ":1: time is missing (row skipped)" in r.stderr and
          "1 malformed rows skipped" in r.stdout, r.stderr)
    r2 = run("analyze", os.path.join(logs, "*.db"), "--format", "decisions", *lists(VEC), "--out",
             os.path.join(WORK, "glob"))
    check("a quoted glob reads the same set",
          r2.returncode == 0 and all(filecmp.cmp(os.path.join(WORK, "two", f), os.path.join(WORK, "glob", f),
                                                 shallow=False)
                                     for f in ("victims.csv", "origins.csv", "campaigns.json")),
          r2.stdout + r2.stderr)
    r2 = run("analyze", os.path.join(logs, "none-*.db"), "--format", "decisions")
    check("a glob that matches nothing: exit 2", r2.returncode == 2 and "no file matches" in r2.stderr,
          r2.stderr)

    # --- bad rows, by file and line ---------------------------------------------------
    bad = os.path.join(WORK, "bad.csv")
    with open(bad, "w") as f:
        f.write("time,calling,called,duration,ingress,verstat,attest,origid,spc\n")
        f.write("2025-01-06T09:00:00Z,+448001570001,+447400000301,60,peer-5,TN-Validation-Passed,C,acct-y,SMALL1\n")
        f.write(",+448001570001,+447400000302,60,peer-5,TN-Validation-Passed,C,acct-y,SMALL1\n")
        f.write("2025-01-06T09:02:00Z,+448001570001,abc,60,peer-5,TN-Validation-Passed,C,acct-y,SMALL1\n")
        f.write("2025-01-06T09:03:00Z,+448001570001,+447400000304,-5,peer-5,TN-Validation-Passed,C,acct-y,SMALL1\n")
        f.write("2025-01-06T09:30:00Z,+448001570001,+447400000305,60,peer-5,TN-Validation-Passed,C,acct-y,SMALL1\n")
        f.write("2025-01-06T09:05:00Z,+448001570001,+447400000306,60,peer-5,TN-Validation-Passed,C,acct-y,SMALL1\n")
        f.write("2025-01-06T09:31:00Z,+448001570001\n")
    r = run("analyze", bad, *lists(VEC), "--out", os.path.join(WORK, "bad"))
    v = read(os.path.join(WORK, "bad", "victims.csv")) if r.returncode == 0 else ""
    for line, why in ((3, "time is missing (row skipped)"), (4, "called is not a telephone number (row skipped)"),
                      (5, "duration is negative (row skipped)"),
                      (7, "time earlier than an earlier row's by more than 5 minutes (row kept)"),
                      (8, "fewer fields than the header (row skipped)")):
        check("bad input reported by file and line: %s:%d: %s" % (os.path.basename(bad), line, why),
              "%s:%d: %s" % (bad, line, why) in r.stderr, r.stderr)
    check("... 4 malformed rows skipped, 1 out of order kept, the rest analysed",
          r.returncode == 0 and "4 malformed rows skipped" in r.stdout and
          "1 rows out of time order (kept)" in r.stdout and "+447400000306" in v and
          "+447400000301" in v and "+447400000305" in v and "+447400000302" not in v,
          r.stdout + r.stderr + v)

    # An over-long line is one skipped row, whatever its length (one that spans several reads,
    # one that fits in one): reported once, and the lines after it keep their numbers.
    long_csv = os.path.join(WORK, "long.csv")
    with open(long_csv, "w") as f:
        f.write("time,calling,called,duration\n")
        f.write("2025-01-06T09:00:00Z,+448001570001,+447400000301,60\n")
        f.write("x" * 1000000 + "\n")
        f.write("2025-01-06T09:01:00Z,+448001570001,+447400000302,60," + "y" * 100000 + "\n")
        f.write("2025-01-06T09:02:00Z,+448001570001,abc,60\n")
        f.write("2025-01-06T09:03:00Z,+448001570001,+447400000304,60\n")
    r = run("analyze", long_csv, "--out", os.path.join(WORK, "long"))
    check("lines over 64 KB: each reported once by its own line, the next lines by theirs",
          r.returncode == 0 and r.stderr.count("line longer than 65536 bytes") == 2 and
          long_csv + ":3: line longer than 65536 bytes (row skipped)" in r.stderr and
          long_csv + ":4: line longer than 65536 bytes (row skipped)" in r.stderr and
          long_csv + ":5: called is not a telephone number (row skipped)" in r.stderr and
          "2 calls from" in r.stdout and "3 malformed rows skipped" in r.stdout, r.stdout + r.stderr)

    # A time that is not one: a day the month does not have, a time past what the reports can
    # write (the year 9999); a leap day and the last second of 9999 are times.
    times = os.path.join(WORK, "times.csv")
    with open(times, "w") as f:
        f.write("time,calling,called\n")
        f.write("2025-02-30T09:00:00Z,+448001570001,+447400000301\n")
        f.write("2024-02-29T09:00:00Z,+448001570001,+447400000302\n")
        f.write("999999999999,+448001570001,+447400000303\n")
        f.write("253402300799,+448001570001,+447400000304\n")
        f.write("2025-04-31 09:00:00,+448001570001,+447400000305\n")
    r = run("analyze", times, "--out", os.path.join(WORK, "times"))
    check("a day that does not exist and a time past 9999 are not times; a leap day is",
          r.returncode == 0 and all("%s:%d: time is neither" % (times, n) in r.stderr for n in (2, 4, 6)) and
          "3 malformed rows skipped" in r.stdout and
          "2 calls from 2024-02-29T09:00:00Z to 9999-12-31T23:59:59Z" in r.stdout, r.stdout + r.stderr)

    # A directory is no input: exit 2, named once.
    r = run("analyze", WORK, "--out", os.path.join(WORK, "dir"))
    check("a directory as input: exit 2, the error naming it once",
          r.returncode == 2 and r.stderr.count(WORK) == 1 and "Is a directory" in r.stderr, r.stderr)

    # A file with gzip's magic that is not gzip inside: exit 2, the file
    # named by its path and zlib's reason.  The same rows through a pipe
    # (zlib reads what cannot be looked at twice) are analysed as from the file.
    bad_gz = os.path.join(WORK, "bad.csv.gz")
    with open(bad_gz, "wb") as f:
        f.write(b"\x1f\x8b" + b"\x00" * 64)
    r = run("analyze", bad_gz, "--out", os.path.join(WORK, "badgz"))
    check("a corrupt gzip file: exit 2, named by its path", r.returncode == 2 and bad_gz in r.stderr and
          "<fd:" not in r.stderr, r.stderr)
    with open(times) as f:
        piped = subprocess.run([CG, "analyze", "/dev/stdin", "--out", os.path.join(WORK, "piped")],
                               input=f.read(), capture_output=True, text=True)
    check("rows through a pipe are read as from the file",
          piped.returncode == 0 and "3 malformed rows skipped" in piped.stdout and
          "2 calls from 2024-02-29T09:00:00Z to 9999-12-31T23:59:59Z" in piped.stdout,
          piped.stdout + piped.stderr)

    # --- a saved baseline ---------------------------------------------------------------
    # The owner attests its number A only in the earlier records; in the
    # later ones an account presents it, unattested, among others.
    early, late = os.path.join(WORK, "early.csv"), os.path.join(WORK, "late.csv")
    head = "time,calling,called,duration,ingress,verstat,attest,origid,spc\n"
    with open(early, "w") as f:
        f.write(head)
        for i in range(5):
            f.write("2025-01-05T10:%02d:00Z,+442071112222,+4474000004%02d,60,peer-1,TN-Validation-Passed,A,"
                    "bank-line,BANK1\n" % (i, i))
    with open(late, "w") as f:
        f.write(head)
        for i in range(3):
            f.write("2025-01-06T10:%02d:00Z,+442071112222,+4474000005%02d,900,peer-5,TN-Validation-Passed,B,"
                    "acct-z,SMALL1\n" % (i, i))
    base = os.path.join(WORK, "baseline.csv")
    r = run("analyze", early, "--out", os.path.join(WORK, "early"), "--save-baseline", base)
    check("--save-baseline writes each number's usual origin",
          r.returncode == 0 and "+442071112222,peer-1,BANK1,bank-line,5,5," in read(base), r.stderr + read(base))
    r1 = run("analyze", late, "--out", os.path.join(WORK, "late0"), "--save-baseline",
             os.path.join(WORK, "b0.csv"))
    r2 = run("analyze", late, "--out", os.path.join(WORK, "late1"), "--baseline", base, "--save-baseline",
             os.path.join(WORK, "b1.csv"))
    check("without the baseline the account is the number's only origin; with it, the bank's line is "
          "its usual origin still (merged into the baseline saved again)",
          r1.returncode == 0 and r2.returncode == 0 and "acct-z" in read(os.path.join(WORK, "b0.csv")) and
          "bank-line" in read(os.path.join(WORK, "b1.csv")) and "acct-z" not in read(os.path.join(WORK, "b1.csv")),
          r1.stderr + r2.stderr + read(os.path.join(WORK, "b1.csv")))
    with open(os.path.join(WORK, "badbase.csv"), "w") as f:
        f.write("number,ingress,spc,origid,calls,a_calls,first,last\nnot-a-number,x,y,z,1,1,0,0\n")
    r = run("analyze", late, "--out", os.path.join(WORK, "late2"), "--baseline", os.path.join(WORK, "badbase.csv"))
    check("a malformed baseline line is reported and skipped",
          r.returncode == 0 and "badbase.csv:2: not a baseline line" in r.stderr, r.stderr)

    # A NUL inside a baseline line is part of that line (malformed), not its end: the line after
    # it is read, and the lines keep their numbers; a number repeated adds up without wrapping.
    with open(os.path.join(WORK, "nulbase.csv"), "wb") as f:
        f.write(b"number,ingress,spc,origid,calls,a_calls,first,last\n"
                b"+4420711\x0022223,peer-1,BANK1,bank-line,5,5,0,10\n"
                b"+442071112224,peer-1,BANK1,bank-line,5,5,0,10\r\n" +
                b"+442071112225,peer-1,BANK1,bank-line,4294967295,4294967295,0,10\n" * 2 +
                b"bogus\n")
    saved = os.path.join(WORK, "nulsaved.csv")
    r = run("analyze", late, "--out", os.path.join(WORK, "late3"), "--baseline",
            os.path.join(WORK, "nulbase.csv"), "--save-baseline", saved)
    sv = read(saved) if r.returncode == 0 else ""
    check("a baseline line with a NUL is reported by its number and the next line read; a repeated "
          "number's counts stop at their largest",
          "nulbase.csv:2: not a baseline line" in r.stderr and "nulbase.csv:6: not a baseline line" in r.stderr
          and r.stderr.count("baseline line") == 2 and "+442071112224,peer-1,BANK1,bank-line,5,5,0,10" in sv and
          "+442071112225,peer-1,BANK1,bank-line,4294967295,4294967295,0,10" in sv, r.stderr + sv)

    # --- threads: the same output ----------------------------------------------------------
    d = os.path.join(WORK, "mix")
    r = run("simulate", "--out", d, "--rows", "30000", "--seed", "5", "--mix", "random")
    outs = []
    for t in ("1", "2", "3", "9"):
        o = os.path.join(d, "out" + t)
        r = run("analyze", os.path.join(d, "calls.csv"), *lists(d), "--out", o, "--threads", t)
        outs.append(o)
    check("--threads 1, 2, 3 and 9 write the same files byte for byte",
          r.returncode == 0 and all(filecmp.cmp(os.path.join(outs[0], f), os.path.join(o, f), shallow=False)
                                    for o in outs[1:] for f in ("victims.csv", "origins.csv", "campaigns.json",
                                                                "report.html")), r.stderr)
    # --- threads: awkward rows spread through a plain input ---------------------------------
    # At a half and at each third of the file past its header: a row out of
    # time order, a malformed one just before it; CRLF lines, a quoted field,
    # a blank line before the header, an over-long line and a last line
    # without its newline elsewhere.  Every report, its line number, and the
    # files are the same with 1, 2 and 3 threads.
    rows = read(os.path.join(d, "calls.csv")).split("\n")
    head, body = rows[0], [x for x in rows[1:] if x]
    body[10] = body[10] + "\r"
    body[20] = '"' + body[20].replace(",", '",', 1)
    body[300] = "x" * 70000
    text = ("\r\n" + head + "\n" + "\n".join(body)).encode()
    hdr_end = text.index(b"\n", 2) + 1
    cuts = set()
    for n in (2, 3):
        for k in range(1, n):
            mid = hdr_end + (len(text) - hdr_end) * k // n
            cuts.add(text.index(b"\n", mid - 1) + 1)
    buf = bytearray(text)
    for c in sorted(cuts):
        nxt = buf.index(b"\n", c)
        line = bytes(buf[c:nxt])  # the part's first row: a day earlier, same length
        t = line.split(b",")[0].decode()
        early = (datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ") -
                 datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        buf[c:c + len(early)] = early
        prev = buf.rindex(b"\n", 0, c - 1) + 1  # the row before: its called number broken
        f = bytes(buf[prev:c - 1]).split(b",")
        f[2] = b"x" + f[2][1:]
        buf[prev:c - 1] = b",".join(f)
    split_csv = os.path.join(WORK, "split.csv")
    with open(split_csv, "wb") as fh:
        fh.write(bytes(buf))
    results = []
    for t in ("1", "2", "3", "9"):
        o = os.path.join(WORK, "split" + t)
        r = run("analyze", split_csv, *lists(d), "--out", o, "--threads", t)
        results.append((r.returncode, r.stdout.replace(o, "OUT"), r.stderr, o))
    late = [x for x in results[0][2].splitlines() if "earlier than an earlier row" in x]
    check("awkward rows through a plain input: the same reports (line numbers and all), summary "
          "and files with 2, 3 and 9 threads as with one",
          results[0][0] == 0 and len(late) == len(cuts) and "line longer than 65536" in results[0][2]
          and results[0][2].count("called is not a telephone number") == len(cuts)
          and all(x[:3] == results[0][:3] for x in results[1:])
          and all(filecmp.cmp(os.path.join(results[0][3], f), os.path.join(x[3], f), shallow=False)
                  for x in results[1:] for f in ("victims.csv", "origins.csv", "campaigns.json",
                                                 "report.html")),
          "\n".join(x[1] + x[2] for x in results))
    # --- a CPaaS sending one-time passwords for its clients' numbers -------------------------
    # Short calls (20 s) in bursts, signed B, from numbers that their owners
    # sign A elsewhere in the same records: borrowed numbers without harm.
    # Bursts alone must not make such a sender a spoofing origin.
    rows = read(os.path.join(d, "calls.csv")).splitlines()
    head, body = rows[0], rows[1:]
    col = {n: i for i, n in enumerate(head.split(","))}
    spans, total = {}, {}
    for line in body:
        f = line.split(",")
        n = f[col["calling"]]
        total[n] = total.get(n, 0) + 1
        if f[col["attest"]] == "A" and f[col["verstat"]] == "TN-Validation-Passed":
            t = f[col["time"]]
            a, b, c = spans.get(n, (t, t, 0))
            spans[n] = (min(a, t), max(b, t), c + 1)
    # as many sends per client as keep the owner's signing the usual (80%)
    room = {n: min(40, int(spans[n][2] / 0.8) - total[n]) for n in spans}
    clients = sorted((n for n in spans if room[n] >= 10), key=lambda n: -room[n])[:6]
    extra = []
    for k, n in enumerate(clients):
        first, last, _ = spans[n]
        t0 = datetime.datetime.strptime(first, "%Y-%m-%dT%H:%M:%SZ")
        t1 = datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ")
        start = t0 + (t1 - t0) / 2
        for i in range(room[n]):
            t = (start + datetime.timedelta(seconds=2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            extra.append(",".join([t, n, "+4478%08d" % (k * 1000 + i), "20", "tg-otp",
                                   "TN-Validation-Passed", "B", "0f0f0f0f-0000-4000-8000-00000000c9a5",
                                   "SPOTP", "otp%d-%d" % (k, i)] + [""] * (len(col) - 10)))
    merged = sorted(body + extra, key=lambda line: line.split(",")[col["time"]])
    cp = os.path.join(WORK, "cpaas")
    os.makedirs(cp)
    with open(os.path.join(cp, "calls.csv"), "w") as fh:
        fh.write("\n".join([head] + merged) + "\n")
    o = os.path.join(cp, "out")
    r = run("analyze", os.path.join(cp, "calls.csv"), *lists(d), "--out", o)
    origins = read(os.path.join(o, "origins.csv")) if r.returncode in (0, 1) else ""
    check("a CPaaS's one-time-password bursts from its clients' numbers do not make it an origin",
          r.returncode in (0, 1) and len(clients) == 6 and "SPOTP" not in origins, r.stderr + origins)

    # --- a bank's own failed verifications; a gateway's partner signed C ---------------------
    # The account that signs a protected number A most often: one of its own
    # calls with the number fails verification (a signature broken on the
    # way).  It is no impersonation.  A forger copying its SPC and origid
    # into broken Identity headers is one as soon as the failures pass one
    # and a fiftieth of the bank's own calls with the number (here two), and
    # so is another account presenting the number on one failed call.  A partner
    # of an international gateway (an origid, attested C) presenting a new
    # foreign number on each of 40 calls is judged as a trunk: not listed;
    # the same calls on a domestic ingress rotate.
    prot = {"+" + line.split(",")[0] for line in read(os.path.join(d, "protected.csv")).splitlines()[1:]}
    signs = {}
    for line in body:
        f = line.split(",")
        if f[col["calling"]] in prot and f[col["attest"]] == "A" and \
                f[col["verstat"]] == "TN-Validation-Passed":
            k = (f[col["calling"]], f[col["ingress"]], f[col["spc"]], f[col["origid"]])
            signs[k] = signs.get(k, 0) + 1
    (bank_tn, bank_in, bank_spc, bank_oid), bank_calls = max(signs.items(), key=lambda x: x[1])
    intl = [line.split(",")[0] for line in read(os.path.join(d, "ingress.csv")).splitlines()[1:]
            if line.split(",")[1] == "yes"][0]
    t_mid = body[len(body) // 2].split(",")[col["time"]]

    def row(t, calling, called, ingress, verstat, attest, origid, spc, cid, dur="60"):
        f = [""] * len(col)
        for name, v in (("time", t), ("calling", calling), ("called", called), ("duration", dur),
                        ("ingress", ingress), ("verstat", verstat), ("attest", attest),
                        ("origid", origid), ("spc", spc), ("call_id", cid)):
            f[col[name]] = v
        return ",".join(f)

    def analyse(name, extra):
        dd = os.path.join(WORK, name)
        os.makedirs(dd)
        with open(os.path.join(dd, "calls.csv"), "w") as fh:
            fh.write("\n".join([head] + sorted(body + extra, key=lambda x: x.split(",")[0])) + "\n")
        rr = run("analyze", os.path.join(dd, "calls.csv"), *lists(d), "--out", os.path.join(dd, "out"))
        return rr, read(os.path.join(dd, "out", "origins.csv")) if rr.returncode in (0, 1) else ""

    FAILED = "TN-Validation-Failed"
    own = [row(t_mid, bank_tn, "+447700900001", bank_in, FAILED, "A", bank_oid, bank_spc, "own1")]
    r, origins = analyse("bankown", own)
    check("a bank's own call that failed verification, on a number its account signs A (%d calls): "
          "the bank is not listed" % bank_calls,
          r.returncode in (0, 1) and bank_calls >= 10 and bank_oid not in origins, r.stderr + origins)
    forged = [row(t_mid, bank_tn, "+4477009%05d" % i, bank_in, FAILED, "A", bank_oid, bank_spc,
                  "forged%d" % i) for i in range(2 + bank_calls // 50)]
    other = [row(t_mid, bank_tn, "+447700900002", "tg-other", FAILED, "A",
                 "0f0f0f0f-0000-4000-8000-0000000f0f0f", "SPFORGE", "other1")]
    r, origins = analyse("bankforged", forged + other)
    check("... but a forger copying its SPC and origid on %d calls, and another account "
          "presenting the number on one failed call, are listed" % len(forged),
          bank_oid in origins and "SPFORGE" in origins, r.stderr + origins)
    partner = [row(t_mid, "+3361234%04d" % i, "+4477008%05d" % i, intl, "TN-Validation-Passed",
                   "C", "0f0f0f0f-0000-4000-8000-00000000aaaa", "SPGW", "gw%d" % i)
               for i in range(40)]
    r, origins = analyse("partner", partner)
    check("a gateway's partner (origid, attested C) on an international ingress, a new foreign "
          "number each call: not listed", r.returncode in (0, 1) and "SPGW" not in origins,
          r.stderr + origins)
    r, origins = analyse("partnerdom", [x.replace("," + intl + ",", ",tg-dom-gw,") for x in partner])
    check("... the same calls on a domestic ingress: listed for rotating", "SPGW" in origins,
          r.stderr + origins)

    # --- an app calling with its users' own numbers ------------------------------------------
    # 80 subscribers whose switch signs their numbers A place 4 long calls
    # each through an app signed B, each to someone they also call from
    # home: their own contacts.  Not listed.  The same calls to strangers
    # are a fraud borrowing subscribers' numbers: listed.
    own_a = {}
    for line in body:
        f = line.split(",")
        if f[col["attest"]] == "A" and f[col["verstat"]] == "TN-Validation-Passed":
            own_a.setdefault(f[col["calling"]], []).append((f[col["time"]], f[col["called"]]))
    users = sorted(n for n, calls in own_a.items()
                   if 2 <= len(set(c for _, c in calls)) and len(calls) <= 20)[:80]
    app_rows, strangers, j = [], [], 0
    for n in users:
        t = sorted(own_a[n])[len(own_a[n]) // 2][0]
        contacts = sorted(set(c for _, c in own_a[n]))
        for i in range(4):
            j += 1
            for out, callee in ((app_rows, contacts[i % len(contacts)]),
                                (strangers, "+4479%08d" % j)):
                out.append(row(t, n, callee, "tg-app", "TN-Validation-Passed", "B",
                               "0f0f0f0f-0000-4000-8000-00000000a990", "SPAPP", "app%d" % j, "900"))
    r, origins = analyse("app", app_rows)
    check("an app calling with its users' own numbers (%d users, 4 long calls each) to their own "
          "contacts: not listed" % len(users),
          r.returncode in (0, 1) and len(users) == 80 and "SPAPP" not in origins, r.stderr + origins)
    r, origins = analyse("app-strangers", strangers)
    check("... the same calls to strangers: listed for borrowing subscribers' numbers",
          "SPAPP" in origins and "borrowed_numbers" in origins.split("SPAPP")[1].split("\n")[0],
          r.stderr + origins)
    # a spoofer covering itself: one of the numbers, whose owner once called
    # a line of the spoofer's, presented to that line 40 times (11% of its
    # calls then reach an owner's contact, on one number of 80)
    first = sorted(own_a[users[0]])[0]
    cover = [row(first[0], users[0], first[1], "tg-app", "TN-Validation-Passed", "B",
                 "0f0f0f0f-0000-4000-8000-00000000a990", "SPAPP", "cover%d" % i, "900")
             for i in range(40)]
    r, origins = analyse("app-cover", strangers + cover)
    check("... and with 40 calls on one number to its owner's contact added: still listed",
          "SPAPP" in origins, r.stderr + origins)
finally:
    shutil.rmtree(WORK, ignore_errors=True)
finish()
