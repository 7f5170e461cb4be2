#!/bin/sh
# The daemon benchmark of issue 3, in one run on one machine: raw OpenSSL
# ECDSA P-256 verify/s on the daemon's core, cidguardd (one worker) pinned to
# that core and cidguard-sipload pinned to another, then
#   - SIP verification with a cached certificate as fast as answered, and the
#     ratio to raw OpenSSL;
#   - p50/p99/p99.9 at half the raw rate;
#   - the latency of a certificate cache miss served from a loopback
#     repository (the daemon's own /certs), from the fetch histogram;
#   - resident memory before and after the runs.
# Usage: sh bench/sipbench.sh [BUILD_DIR] [SECONDS]
set -e
B=${1:-build}
S=${2:-10}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
W=$(mktemp -d /tmp/cg-sipbench-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
"$B/cidguard" pki init "$W/pki" --spc 1234 >/dev/null
mkdir -p "$W/state/certs"
cp "$W/pki/sp-1234.pem" "$W/state/certs/"
cat >"$W/bench.conf" <<CONF
[server]
state_dir = $W/state
workers = 1
http_listen = 127.0.0.1:28085
sip_verify_listen = 127.0.0.1:25060
sip_sign_listen = 127.0.0.1:25070
[verify]
trust = $W/pki/root.pem
crl = $W/pki/crl.pem
[fetch]
allow = 127.0.0.1/32
allow_http = yes
CONF
# DECISION_LOG=off measures the call path without the SQLite writer thread,
# which shares the daemon's core here
if [ "${DECISION_LOG:-on}" = off ]; then
    sed -i 's/^workers = 1$/workers = 1\ndecision_log = off/' "$W/bench.conf"
fi
RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $NF}')
echo "raw OpenSSL ECDSA P-256 verify on core $DCORE: $RAW/s"
taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
PID=$!
sleep 1
rss() { awk '/VmRSS/ {print $2 " kB"}' /proc/$PID/status; }
echo "daemon RSS at start: $(rss)"
LOAD="taskset -c $LCORE $B/cidguard-sipload --key $W/pki/sp-1234.key --x5u http://127.0.0.1:28085/certs/sp-1234.pem --target 127.0.0.1:25060"
OUT=$($LOAD --window 64 --seconds "$S")
echo "as fast as answered: $OUT"
MISS=$(curl -s http://127.0.0.1:28085/metrics | awk '/^cidguard_fetch_seconds_sum/ {printf "%.2f ms", $2 * 1000}')
echo "certificate cache miss (first call, loopback repository): $MISS"
CPS=$(echo "$OUT" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p')
echo "ratio to raw OpenSSL: $(awk -v a="$CPS" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
HALF=$(awk -v b="$RAW" 'BEGIN {printf "%d", b / 2}')
echo "at half the raw rate ($HALF/s): $($LOAD --rate "$HALF" --seconds "$S" | tail -1)"
echo "daemon RSS at end: $(rss)"
