#!/bin/sh
# Memory over a long run (docs/performance.md; target: flat over 10 minutes):
# cidguardd (one worker, policy and decision log on) pinned to one core,
# cidguard-sipload at a fixed rate on another, resident memory sampled every
# minute, then the answers and the decision-log records counted.
# Usage: sh bench/soak.sh [BUILD_DIR] [MINUTES] [CALLS_PER_SECOND]
set -e
B=${1:-build}
M=${2:-10}
R=${3:-3000}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
W=$(mktemp -d /tmp/cg-soak-XXXXXX)
trap 'kill $PID $LPID 2>/dev/null || true; rm -rf "$W"' EXIT
. "$(dirname "$0")/common.sh"
bench_pki
bench_conf "$W/soak.conf"
taskset -c "$DCORE" "$B/cidguardd" -c "$W/soak.conf" >"$W/d.log" 2>&1 &
PID=$!
sleep 1
taskset -c "$LCORE" $LOADER --rate "$R" --seconds $((M * 60)) >"$W/load.out" &
LPID=$!
i=0
while [ "$i" -lt "$M" ]; do
    sleep 60
    i=$((i + 1))
    echo "minute $i: RSS $(awk '/VmRSS/ {print $2 " kB"}' /proc/$PID/status)"
done
wait $LPID
cat "$W/load.out"
sleep 1
curl -s http://127.0.0.1:28085/metrics | grep '^cidguard_decision_log_total'
