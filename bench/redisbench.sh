#!/bin/sh
# Shared state in Redis against state in the process, in one run on one
# machine (docs/performance.md; target: Redis at least 80% of local): SIP
# verification with policy (replay and both rate windows on) as fast as
# answered, with the state in the process and with the state in a real
# redis-server, in alternating runs, and the ratio of the medians.  The
# daemon (one worker) is pinned to DCORE; the load generator and
# redis-server share LCORE (a 2-core machine has no third core).
# Usage: sh bench/redisbench.sh [BUILD_DIR] [SECONDS]
set -e
B=${1:-build}
S=${2:-10}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
PORT=26479
W=$(mktemp -d /tmp/cg-redisbench-XXXXXX)
# redis-server takes a moment to exit: wait for it, or the next run's
# server cannot bind the port
trap 'kill $PID 2>/dev/null || true; kill $RPID 2>/dev/null || true; wait $RPID 2>/dev/null || true; rm -rf "$W"' EXIT
if redis-cli -p $PORT ping >/dev/null 2>&1; then
    echo "port $PORT is in use by another Redis"
    exit 1
fi
. "$(dirname "$0")/common.sh"
bench_pki
taskset -c "$LCORE" redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no \
    >"$W/redis.log" 2>&1 &
RPID=$!
n=0
until redis-cli -p $PORT ping 2>/dev/null | grep -q PONG; do
    n=$((n + 1))
    [ $n -lt 50 ] || { echo "redis-server did not start (port $PORT in use?)"; exit 1; }
    sleep 0.1
done
RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $NF}')
echo "raw OpenSSL ECDSA P-256 verify on core $DCORE: $RAW/s"
run() { # $1 = extra config
    bench_conf "$W/bench.conf" "decision_log = off" "[policy]
rate_calls = 10000000
rate_numbers = 1000
$1"
    taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
    PID=$!
    sleep 1
    taskset -c "$LCORE" $LOADER --window "${WINDOW:-256}" --seconds "$S" | tail -1
    curl -s http://127.0.0.1:28085/metrics | grep '^cidguard_shared_state_total' >"$W/m.txt" || true
    kill $PID
    wait $PID 2>/dev/null || true
    cp "$W/d.log" "$W/d.last.log" 
}
# local and Redis alternate ROUNDS times (this machine's load moves from
# second to second); the ratio is of the medians
ROUNDS=${ROUNDS:-3}
: >"$W/l.txt"
: >"$W/r.txt"
i=0
while [ $i -lt "$ROUNDS" ]; do
    LOCAL=$(run "")
    echo "local state:  $LOCAL"
    echo "$LOCAL" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p' >>"$W/l.txt"
    SHARED=$(run "[redis]
url = redis://127.0.0.1:$PORT")
    echo "Redis state:  $SHARED"
    if ! grep -q 'store="local"} 0' "$W/m.txt"; then
        echo "some calls were decided without Redis: $(tr '\n' ' ' <"$W/m.txt")"
        grep -v "ID=\\|Try it" "$W/d.log"
        exit 1
    fi
    echo "$SHARED" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p' >>"$W/r.txt"
    i=$((i + 1))
done
echo "calls decided through Redis (last run): $(tr '\n' ' ' <"$W/m.txt")"
L=$(sort -n "$W/l.txt" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
R=$(sort -n "$W/r.txt" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo "medians: local $L calls/s, Redis $R calls/s"
echo "Redis / local: $(awk -v a="$R" -v b="$L" 'BEGIN {printf "%.1f%%", 100 * a / b}');" \
    "local / raw OpenSSL: $(awk -v a="$L" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
