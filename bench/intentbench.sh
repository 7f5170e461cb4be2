#!/bin/sh
# Call intents: registration over keep-alive HTTP and the lookup's cost.
#   - cidguardd (one worker, no Redis, no rate limit) pinned to one core,
#     cidguard-intentload pinned to another, registers fresh intents for
#     SECONDS in batches of 100 and then one intent per request, and prints
#     intents/s for each;
#   - cidguard-intentload --lookup prints what cg_intents_use costs on a
#     store of a million intents (and of 10,000, all in cache) next to a
#     raw OpenSSL ES256 verify measured in the same run.
# Usage: sh bench/intentbench.sh [BUILD_DIR] [SECONDS]
set -e
B=${1:-build}
S=${2:-5}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
W=$(mktemp -d /tmp/cg-intentbench-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
. "$(dirname "$0")/common.sh"
bench_pki
KEY=$("$B/cidguard" intent key | awk '/^key:/ {print $2}')
HASH=$("$B/cidguard" customers token "$KEY")
printf 'name,key_sha256,numbers\nbench,%s,+442079460100\n' "$HASH" >"$W/keys.csv"
printf 'number,brand,spcs,min_attest\n442079460100,Example Bank,1234,A\n' >"$W/protected.csv"
bench_conf "$W/bench.conf" "decision_log = off" "[policy]
protected = $W/protected.csv
[intent]
keys = $W/keys.csv
rate = 0
max_entries = 50000000"
taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
PID=$!
sleep 1
LOAD="taskset -c $LCORE $B/cidguard-intentload --url http://127.0.0.1:28085 --key $KEY --from +442079460100"
$LOAD --batch 100 --connections 4 --seconds 1 >/dev/null # warm-up
echo "registration over HTTP (one daemon worker on core $DCORE):"
$LOAD --batch 100 --connections 4 --seconds "$S"
$LOAD --batch 1 --connections 4 --seconds "$S"
echo "daemon RSS: $(awk '/VmRSS/ {print $2 " kB"}' /proc/$PID/status)," \
    "intents held: $(curl -s http://127.0.0.1:28085/metrics | awk '$1 == "cidguard_intents_stored" {print $2}')"
kill $PID
PID=
echo "lookup (the call path's cg_intents_use):"
taskset -c "$DCORE" "$B/cidguard-intentload" --lookup --entries 10000 --seconds 2
taskset -c "$DCORE" "$B/cidguard-intentload" --lookup --entries 1000000 --seconds 2
