#!/bin/sh
# Issue 4's Redis target in one run on one machine: SIP verification with
# policy (replay and both rate windows on) as fast as answered, first with
# the state in the process, then with the state in a real redis-server, and
# the ratio.  The daemon (one worker) is pinned to DCORE; the load generator
# and redis-server share LCORE (a 2-core machine has no third core).
# Usage: sh bench/redisbench.sh [BUILD_DIR] [SECONDS]
set -e
B=${1:-build}
S=${2:-10}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
PORT=26479
W=$(mktemp -d /tmp/cg-redisbench-XXXXXX)
trap 'kill $PID $RPID 2>/dev/null; rm -rf "$W"' EXIT
"$B/cidguard" pki init "$W/pki" --spc 1234 >/dev/null
mkdir -p "$W/state/certs"
cp "$W/pki/sp-1234.pem" "$W/state/certs/"
taskset -c "$LCORE" redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no \
    >"$W/redis.log" 2>&1 &
RPID=$!
RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $NF}')
echo "raw OpenSSL ECDSA P-256 verify on core $DCORE: $RAW/s"
run() { # $1 = extra config
    cat >"$W/bench.conf" <<CONF
[server]
state_dir = $W/state
workers = 1
decision_log = off
http_listen = 127.0.0.1:28085
sip_verify_listen = 127.0.0.1:25060
sip_sign_listen = 127.0.0.1:25070
[verify]
trust = $W/pki/root.pem
[fetch]
allow = 127.0.0.1/32
allow_http = yes
[policy]
rate_calls = 10000000
rate_numbers = 1000
$1
CONF
    taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
    PID=$!
    sleep 1
    taskset -c "$LCORE" "$B/cidguard-sipload" --key "$W/pki/sp-1234.key" \
        --x5u http://127.0.0.1:28085/certs/sp-1234.pem --target 127.0.0.1:25060 \
        --window 64 --seconds "$S" | tail -1
    curl -s http://127.0.0.1:28085/metrics | grep '^cidguard_shared_state_total' >"$W/m.txt" || true
    kill $PID
    wait $PID 2>/dev/null || true
}
LOCAL=$(run "")
echo "local state:  $LOCAL"
SHARED=$(run "[redis]
url = redis://127.0.0.1:$PORT")
echo "Redis state:  $SHARED"
echo "calls decided through Redis: $(tr '\n' ' ' <"$W/m.txt")"
L=$(echo "$LOCAL" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p')
R=$(echo "$SHARED" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p')
echo "Redis / local: $(awk -v a="$R" -v b="$L" 'BEGIN {printf "%.1f%%", 100 * a / b}');" \
    "local / raw OpenSSL: $(awk -v a="$L" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
