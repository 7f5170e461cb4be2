#!/bin/sh
# The signing side on one machine (docs/performance.md; target: SIP signing
# with the origination policy and the signing log at least 85% of raw
# OpenSSL ECDSA P-256 sign on one core): cidguardd (one worker) pinned to
# DCORE signs unsigned INVITEs from a customer as fast as they are answered,
# each call through the origination rules (1,000 protected numbers, 1,000
# DNO numbers, the customer's windows) and written to the signing log;
# cidguard-sipload --unsigned on LCORE presents NUMBERS presentation numbers
# in turn behind the customer's network number.  ROUNDS rounds, each with
# `openssl speed ecdsap256` sign/s on the daemon's core; medians.  With
# OFFER=P the calls are offered at P% of each round's raw rate instead,
# and the records the log dropped tell whether it kept up.  COALESCE_US sets
# the worker's udp_coalesce_us (default 200; 0 to compare without).
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
bench_conf "$W/bench.conf" "decision_log = off
udp_coalesce_us = ${COALESCE_US:-200}" "[sign]
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
: >"$W/us"
: >"$W/full"
thread_cpu() {
    t=0
    for d in /proc/$1/task/*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = "$2" ] && t=$((t + $(awk '{print $14 + $15}' "$d/stat")))
    done
    echo $t
}
written() { curl -s http://127.0.0.1:28085/metrics | awk '$1 == "cidguard_signing_log_total{result=\"written\"}" {print $2}'; }
dropped() { curl -s http://127.0.0.1:28085/metrics | awk '$1 == "cidguard_signing_log_total{result=\"dropped\"}" {print $2}'; }
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $(NF - 1)}')
    d0=$(cpu $PID)
    g0=$(thread_cpu $PID cidguardd-log)
    r0=$(written)
    x0=$(dropped)
    # OFFER=P: calls offered at P% of this round's raw rate rather than as
    # fast as they are answered, to see whether the log keeps every record
    if [ -n "${OFFER:-}" ]; then
        OUT=$($LOAD --rate "$(awk -v r="$RAW" -v p="$OFFER" 'BEGIN {printf "%d", r * p / 100}')" --seconds "$S")
        sleep 1 # the writer's last batch
    else
        OUT=$($LOAD --window 64 --seconds "$S")
    fi
    d1=$(cpu $PID)
    g1=$(thread_cpu $PID cidguardd-log)
    r1=$(written)
    x1=$(dropped)
    CPS=$(echo "$OUT" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p')
    CALLS=$(echo "$OUT" | sed -n 's/^\([0-9]*\) calls\/s over \([0-9.]*\) s.*/\1 \2/p' |
        awk '{printf "%d", $1 * $2}')
    # The daemon's own CPU a call: when the load generator's core is what
    # limits the calls, the calls a second understate what the daemon's core
    # could sign; 1 s over this is that core's capacity.
    US=$(awk -v t=$((d1 - d0)) -v n="$CALLS" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.1f", n ? 1e6 * t / hz / n : 0}')
    # The signing log's writer runs at idle priority, so on a saturated
    # core it writes only some records and drops the rest (counted).  Its
    # CPU a written record, added to the rest of the daemon's CPU a call,
    # is what a call costs with its record written -- a little less than
    # that: a record that will be dropped is not even built, and building
    # one costs the worker about 0.2 us more (1-2% of a call).  No record
    # written in the round: no figure.
    LOGUS=$(awk -v t=$((g1 - g0)) -v n=$((r1 - r0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN {if (n) printf "%.1f", 1e6 * t / hz / n; else printf "n/a"}')
    FULL=$(awk -v d=$((d1 - d0)) -v g=$((g1 - g0)) -v n="$CALLS" -v l="$LOGUS" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {if (n && l != "n/a") printf "%.1f", 1e6 * (d - g) / hz / n + l; else printf "n/a"}')
    echo "$RAW" >>"$W/raw"
    echo "$CPS" >>"$W/cps"
    echo "$US" >>"$W/us"
    [ "$FULL" = n/a ] || echo "$FULL" >>"$W/full"
    echo "round $i: raw OpenSSL sign $RAW/s, cidguardd signing $CPS/s = $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}');" \
        "daemon CPU a call $US us ($(awk -v u="$US" -v b="$RAW" 'BEGIN {printf "%.1f%%", u ? 1e6 / u / b * 100 : 0}') of raw)"
    echo "  $(echo "$OUT" | head -1)"
    echo "  $(echo "$OUT" | sed -n 2p)"
    echo "  signing log: $((r1 - r0)) records written, $((x1 - x0)) dropped, $LOGUS us of the writer's CPU each; a call with its record written $FULL us ($(awk -v u="$FULL" -v b="$RAW" 'BEGIN {if (u + 0 > 0) printf "%.1f%%", 1e6 / u / b * 100; else printf "n/a"}') of raw)"
done
RAW=$(median <"$W/raw")
CPS=$(median <"$W/cps")
US=$(median <"$W/us")
echo "medians: raw OpenSSL sign $RAW/s on core $DCORE, cidguardd SIP signing $CPS/s, daemon CPU a call $US us"
echo "ratio to raw OpenSSL: $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}') of calls;" \
    "the daemon's core: $(awk -v u="$US" -v b="$RAW" 'BEGIN {printf "%.0f calls/s, %.1f%%", 1e6 / u, 1e6 / u / b * 100}')"
if [ -s "$W/full" ]; then
    FULL=$(median <"$W/full")
    echo "with every call's record written: $FULL us a call, the core's capacity $(awk -v u="$FULL" -v b="$RAW" 'BEGIN {printf "%.0f calls/s, %.1f%% of raw", 1e6 / u, 1e6 / u / b * 100}')"
fi
curl -s http://127.0.0.1:28085/metrics | grep -E '^cidguard_(sign_origination_total|signed_total|signing_log)' || true
