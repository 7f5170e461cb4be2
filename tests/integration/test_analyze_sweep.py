"""cidguard analyze on traffic it was not tuned on: a sweep of random mixes.

Each seed of `cidguard simulate --mix random` draws every parameter of the
traffic from wide ranges (carriers, switches, call centres and agencies
signing B for their clients, CPaaS, banks, police, roaming, porting,
forwarding; fraud accounts borrowing others' numbers in slow rotation,
neighbour spoofing, bank impersonation, DNO, fast rotation, UK landlines
through a gateway).  The test scores analyze against each seed's truth and
reports the worst seed; on it, victims' precision and recall must be at
least 0.95, every fraud origin must be listed and no legitimate one.

    python3 test_analyze_sweep.py BUILD_DIR

CG_ANALYZE_SWEEP_SEEDS sets the number of seeds (default 24; the sanitizer
build runs fewer, see tests/CMakeLists.txt).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG = os.path.join(BUILD, "cidguard")
WORK = tempfile.mkdtemp(prefix="cg-analyze-sweep-")
SEEDS = int(os.environ.get("CG_ANALYZE_SWEEP_SEEDS", "24"))


def run(*args):
    return subprocess.run([CG] + list(args), capture_output=True, text=True)


def score(stdout, what):
    m = re.search(r"^%s: precision ([0-9.]+) recall ([0-9.]+) \(listed (\d+), true (\d+), "
                  r"correct (\d+)\)" % what, stdout, re.M)
    return (float(m.group(1)), float(m.group(2)), int(m.group(3)), int(m.group(4)),
            int(m.group(5))) if m else None


try:
    t0 = time.time()
    results = []
    for seed in range(1, SEEDS + 1):
        d = os.path.join(WORK, "s%d" % seed)
        rows = 20000 + (seed * 7919) % 20001  # 20,000 to 40,000 rows
        r = run("simulate", "--out", d, "--rows", str(rows), "--seed", str(seed), "--mix", "random")
        if r.returncode != 0:
            check("simulate --mix random seed %d" % seed, False, r.stderr)
            continue
        r = run("analyze", os.path.join(d, "calls.csv"), "--protected", os.path.join(d, "protected.csv"),
                "--dno", os.path.join(d, "dno.csv"), "--ingress", os.path.join(d, "ingress.csv"),
                "--out", os.path.join(d, "out"), "--truth", os.path.join(d, "truth.csv"))
        v, o = score(r.stdout, "victims"), score(r.stdout, "origins")
        if r.returncode != 0 or not v or not o:
            check("analyze seed %d" % seed, False, r.stdout + r.stderr)
            continue
        results.append((seed, rows, v, o))
        print("# seed %2d rows %5d: victims P %.4f R %.4f (%d listed, %d true); origins found %d of %d, "
              "%d false" % (seed, rows, v[0], v[1], v[2], v[3], o[4], o[3], o[2] - o[4]))
        shutil.rmtree(d, ignore_errors=True)
    check("every seed simulated and analysed (%d)" % SEEDS, len(results) == SEEDS, len(results))
    if results:
        worst_vp = min(results, key=lambda x: x[2][0])
        worst_vr = min(results, key=lambda x: x[2][1])
        missed = max(results, key=lambda x: x[3][3] - x[3][4])
        false = max(results, key=lambda x: x[3][2] - x[3][4])
        worst = min(results, key=lambda x: (min(x[2][0], x[2][1]), -(x[3][3] - x[3][4]) - (x[3][2] - x[3][4])))
        print("# worst seed %d: victims precision %.4f recall %.4f, origins found %d of %d, %d false"
              % (worst[0], worst[2][0], worst[2][1], worst[3][4], worst[3][3], worst[3][2] - worst[3][4]))
        print("# over %d seeds: lowest victims precision %.4f (seed %d), lowest recall %.4f (seed %d), "
              "most origins missed %d (seed %d), most false %d (seed %d); %.1f s"
              % (len(results), worst_vp[2][0], worst_vp[0], worst_vr[2][1], worst_vr[0],
                 missed[3][3] - missed[3][4], missed[0], false[3][2] - false[3][4], false[0],
                 time.time() - t0))
        check("worst seed: victims precision >= 0.95 (seed %d: %.4f)" % (worst_vp[0], worst_vp[2][0]),
              worst_vp[2][0] >= 0.95)
        check("worst seed: victims recall >= 0.95 (seed %d: %.4f)" % (worst_vr[0], worst_vr[2][1]),
              worst_vr[2][1] >= 0.95)
        check("every fraud origin found on every seed (most missed: %d, seed %d)"
              % (missed[3][3] - missed[3][4], missed[0]), missed[3][3] == missed[3][4])
        check("no legitimate origin listed on any seed (most: %d, seed %d)"
              % (false[3][2] - false[3][4], false[0]), false[3][2] == false[3][4])
finally:
    shutil.rmtree(WORK, ignore_errors=True)
finish()
