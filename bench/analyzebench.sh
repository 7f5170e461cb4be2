#!/bin/sh
# cidguard analyze at carrier size: ROWS simulated call records (default
# ten million, `cidguard simulate --seed 7`, built once under /tmp and
# reused), analysed with --threads 1 and --threads 2, RUNS times each
# (default 2).  Prints wall time, rows/s, user time and peak RSS of each
# run with the load average before it (the machine may be shared), and
# checks that both thread counts write the same files.
# Usage: sh bench/analyzebench.sh [BUILD_DIR] [ROWS] [RUNS]
set -e
B=${1:-build}
N=${2:-10000000}
RUNS=${3:-2}
D=${ANALYZEBENCH_DIR:-/tmp/cidguard-analyzebench-$N}
if [ ! -s "$D/calls.csv" ] || [ -e "$D.building" ]; then
    rm -rf "$D"
    touch "$D.building"
    echo "simulating $N rows into $D (kept for the next run)"
    "$B/cidguard" simulate --out "$D" --rows "$N" --seed 7 >/dev/null
    rm -f "$D.building"
fi
r=1
while [ "$r" -le "$RUNS" ]; do
    for t in 1 2; do
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        /usr/bin/time -f "%e %U %M" -o "$D/time" "$B/cidguard" analyze "$D/calls.csv" \
            --protected "$D/protected.csv" --dno "$D/dno.csv" --ingress "$D/ingress.csv" \
            --out "$D/out$t" --threads "$t" >/dev/null
        read -r wall user rss <"$D/time"
        awk -v t="$t" -v w="$wall" -v u="$user" -v m="$rss" -v n="$N" -v l="$load" 'BEGIN {
            printf "threads %d: %6.2f s wall, %9.0f rows/s, %6.2f s user, %4.0f MB peak RSS (load %s)\n",
                t, w, n / w, u, m / 1024, l }'
    done
    r=$((r + 1))
done
if diff -r "$D/out1" "$D/out2" >/dev/null; then
    echo "--threads 1 and 2: the same files"
else
    echo "--threads 1 and 2 wrote different files" >&2
    exit 1
fi
