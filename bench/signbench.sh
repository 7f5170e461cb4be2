#!/bin/sh
# The signing side on one machine (docs/performance.md; target: SIP signing
# with the origination policy and the signing log at least 85% of raw
# OpenSSL ECDSA P-256 sign on one core): cidguardd (one worker) pinned to
# DCORE signs unsigned INVITEs from a customer as fast as they are answered,
# each call through the origination rules (1,000 protected numbers, 1,000
# DNO numbers, the customer's windows) and written to the signing log;
# cidguard-sipload --unsigned on LCORE presents NUMBERS presentation numbers
# in turn behind the customer's network number.  ROUNDS rounds, each with
# `openssl speed ecdsap256` sign/s on the daemon's core; medians.
# Usage: sh bench/signbench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
set -e
B=${1:-build}
S=${2:-8}
ROUNDS=${3:-3}
NUMBERS=${NUMBERS:-10}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
W=$(mktemp -d /tmp/cg-signbench-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
. "$(dirname "$0")/common.sh"
bench_pki
awk 'BEGIN { print "number,brand,spcs,min_attest"
             for (i = 0; i < 1000; i++) printf "4420795%05d,Bank %d,SPC%d,A\n", i, i, i }' \
    >"$W/protected.csv"
awk 'BEGIN { print "number,note"; for (i = 0; i < 1000; i++) printf "44800%07d,dno\n", i * 37 }' \
    >"$W/dno.csv"
printf 'customer,addresses,numbers\nbench,127.0.0.1,4420794*\n' >"$W/customers.csv"
bench_conf "$W/bench.conf" "decision_log = off" "[sign]
key = $W/pki/sp-1234.key
x5u = http://127.0.0.1:28085/certs/sp-1234.pem
customers = $W/customers.csv
rate_per_customer = 0
customer_numbers_per_minute = 0
[policy]
protected = $W/protected.csv
dno = $W/dno.csv"
taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
PID=$!
sleep 1
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
LOAD="taskset -c $LCORE $B/cidguard-sipload --unsigned --numbers $NUMBERS --target 127.0.0.1:25070 --busy-poll"
$LOAD --window 64 --seconds 2 >/dev/null
: >"$W/raw"
: >"$W/cps"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $(NF - 1)}')
    OUT=$($LOAD --window 64 --seconds "$S")
    CPS=$(echo "$OUT" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p')
    echo "$RAW" >>"$W/raw"
    echo "$CPS" >>"$W/cps"
    echo "round $i: raw OpenSSL sign $RAW/s, cidguardd signing $CPS/s = $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
    echo "  $(echo "$OUT" | head -1)"
done
RAW=$(median <"$W/raw")
CPS=$(median <"$W/cps")
echo "medians: raw OpenSSL sign $RAW/s on core $DCORE, cidguardd SIP signing $CPS/s"
echo "ratio to raw OpenSSL: $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
curl -s http://127.0.0.1:28085/metrics | grep -E '^cidguard_(sign_origination_total|signed_total|signing_log)' || true
