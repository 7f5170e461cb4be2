#!/bin/sh
# The daemon benchmark on one machine (docs/performance.md): cidguardd (one
# worker) pinned to one core, cidguard-sipload pinned to another.
#   - a 3-second warm-up fetches the certificate (the cache miss figure) and
#     fills the transaction cache to its steady size;
#   - then ROUNDS rounds, each measuring raw OpenSSL ECDSA P-256 verify/s on
#     the daemon's core, SIP verification with the cached certificate as
#     fast as answered, and p50/p99/p99.9 at half that round's raw rate;
#     the figures are medians over the rounds, because this machine's raw
#     rate moves 10% from minute to minute;
#   - decision-log records written and dropped (the writer runs at
#     SCHED_IDLE on the same core: at saturation it drops and counts, at
#     half rate it must keep up), and resident memory.
# DECISION_LOG=off runs without the log; BUSY_POLL=no lets the load
# generator sleep in poll (then the daemon's answers pay for waking it);
# HALF_SECONDS sets the length of the half-rate runs (20 s); COALESCE_US the
# worker's udp_coalesce_us (default 200; 0 to compare without).
# Usage: sh bench/sipbench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
set -e
B=${1:-build}
S=${2:-8}
ROUNDS=${3:-5}
HS=${HALF_SECONDS:-20} # long enough to take in a decision-log checkpoint
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
W=$(mktemp -d /tmp/cg-sipbench-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
. "$(dirname "$0")/common.sh"
bench_pki
LOGLINE=
if [ "${DECISION_LOG:-on}" = off ]; then
    LOGLINE="decision_log = off"
fi
bench_conf "$W/bench.conf" "$LOGLINE
udp_coalesce_us = ${COALESCE_US:-200}"
taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
PID=$!
sleep 1
rss() { awk '/VmRSS/ {print $2 " kB"}' /proc/$PID/status; }
metric() { curl -s http://127.0.0.1:28085/metrics | awk -v m="$1" 'index($0, m) == 1 {print $2}'; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "daemon RSS at start: $(rss)"
POLL=--busy-poll
[ "${BUSY_POLL:-yes}" = yes ] || POLL=
LOAD="taskset -c $LCORE $LOADER $POLL"
$LOAD --window 64 --seconds 3 >/dev/null
MISS=$(metric cidguard_fetch_seconds_sum | awk '{printf "%.2f ms", $1 * 1000}')
echo "certificate cache miss (first call, loopback repository): $MISS"
: >"$W/raw"
: >"$W/cps"
: >"$W/p99"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $NF}')
    OUT=$($LOAD --window 64 --seconds "$S")
    CPS=$(echo "$OUT" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p')
    HALF=$(awk -v b="$RAW" 'BEGIN {printf "%d", b / 2}')
    sleep 2 # the writer catches up with what the saturated run queued
    W0=$(metric 'cidguard_decision_log_total{result="written"}')
    D0=$(metric 'cidguard_decision_log_total{result="dropped"}')
    LAT=$($LOAD --rate "$HALF" --seconds "$HS" | tail -1)
    sleep 1 # the writer flushes at least every 200 ms
    W1=$(metric 'cidguard_decision_log_total{result="written"}')
    D1=$(metric 'cidguard_decision_log_total{result="dropped"}')
    echo "$RAW" >>"$W/raw"
    echo "$CPS" >>"$W/cps"
    echo "$LAT" | sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' >>"$W/p99"
    echo "round $i: raw OpenSSL $RAW/s, cidguardd $CPS/s = $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
    echo "  as fast as answered: $(echo "$OUT" | head -1)"
    echo "  at half the raw rate ($HALF/s): $(echo "$LAT" | sed 's/.*; latency //')"
    echo "  decision log during the half-rate run: $((W1 - W0)) written, $((D1 - D0)) dropped"
done
RAW=$(median <"$W/raw")
CPS=$(median <"$W/cps")
echo "medians: raw OpenSSL $RAW/s on core $DCORE, cidguardd $CPS/s, p99 at half rate $(median <"$W/p99") ms"
echo "ratio to raw OpenSSL: $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
echo "decision log in all: $(metric 'cidguard_decision_log_total{result="written"}') written, $(metric 'cidguard_decision_log_total{result="dropped"}') dropped"
echo "daemon RSS at end: $(rss)"
