#!/bin/sh
# Shared state in Redis against state in the process, in one run on one
# machine (docs/performance.md; target: Redis at least 80% of local): SIP
# verification with policy (replay and both rate windows on) as fast as
# answered, with the state in the process, with the state in a real
# redis-server and (CLUSTER=yes, the default) in a real three-primary Redis
# Cluster, in alternating runs, and the ratios of the medians.  The daemon
# (one worker) is pinned to DCORE; the load generator and the Redis servers
# share LCORE (a 2-core machine has no third core).  The machine's load
# (uptime) is printed before and after: others may be using it.
# Usage: sh bench/redisbench.sh [BUILD_DIR] [SECONDS]
set -e
B=${1:-build}
S=${2:-10}
DCORE=${DCORE:-1}
LCORE=${LCORE:-0}
PORT=26479
CPORTS="26481 26482 26483"
CLUSTER=${CLUSTER:-yes}
W=$(mktemp -d /tmp/cg-redisbench-XXXXXX)
CPIDS=""
# redis-server takes a moment to exit: wait for it, or the next run's
# server cannot bind the port
trap 'kill $PID 2>/dev/null || true; kill $RPID $CPIDS 2>/dev/null || true; wait $RPID $CPIDS 2>/dev/null || true; rm -rf "$W"' EXIT
for p in $PORT $CPORTS; do
    if redis-cli -p $p ping >/dev/null 2>&1; then
        echo "port $p is in use by another Redis"
        exit 1
    fi
done
echo "load before: $(uptime)"
. "$(dirname "$0")/common.sh"
bench_pki
# ports of this benchmark's own (the other benchmarks use common.sh's: two
# may run at once on a shared machine)
HTTP=${HTTP:-28285}
SIP=${SIP:-25260}
LOADER=$(echo "$LOADER" | sed "s/:28085/:$HTTP/; s/:25060/:$SIP/")
taskset -c "$LCORE" redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no \
    >"$W/redis.log" 2>&1 &
RPID=$!
n=0
until redis-cli -p $PORT ping 2>/dev/null | grep -q PONG; do
    n=$((n + 1))
    [ $n -lt 50 ] || { echo "redis-server did not start (port $PORT in use?)"; exit 1; }
    sleep 0.1
done
if [ "$CLUSTER" = yes ]; then
    for p in $CPORTS; do
        taskset -c "$LCORE" redis-server --port $p --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$W" --cluster-enabled yes --cluster-config-file "nodes-$p.conf" \
            >"$W/redis-$p.log" 2>&1 &
        CPIDS="$CPIDS $!"
    done
    for p in $CPORTS; do
        n=0
        until redis-cli -p $p ping 2>/dev/null | grep -q PONG; do
            n=$((n + 1))
            [ $n -lt 50 ] || { echo "cluster node $p did not start"; exit 1; }
            sleep 0.1
        done
    done
    # shellcheck disable=SC2046
    redis-cli --cluster create $(for p in $CPORTS; do printf '127.0.0.1:%s ' $p; done) \
        --cluster-yes >"$W/create.log" 2>&1
    n=0
    until redis-cli -p 26481 cluster info | grep -q 'cluster_state:ok'; do
        n=$((n + 1))
        [ $n -lt 100 ] || { echo "the cluster did not form"; cat "$W/create.log"; exit 1; }
        sleep 0.1
    done
fi
RAW=$(taskset -c "$DCORE" openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/nistp256/ {print $NF}')
echo "raw OpenSSL ECDSA P-256 verify on core $DCORE: $RAW/s"
SERVERS=""
run() { # $1 = extra config
    bench_conf "$W/bench.conf" "decision_log = off" "[policy]
rate_calls = 10000000
rate_numbers = 1000
$1"
    sed -i "s/:28085/:$HTTP/; s/:25060/:$SIP/; s/:25070/:$((SIP + 10))/" "$W/bench.conf"
    taskset -c "$DCORE" "$B/cidguardd" -c "$W/bench.conf" >"$W/d.log" 2>&1 &
    PID=$!
    sleep 1
    c0=$(cpu "$SERVERS")
    d0=$(cpu $PID)
    out=$(taskset -c "$LCORE" $LOADER --window "${WINDOW:-256}" --seconds "$S" \
        --presign "$PRESIGN" | tail -1)
    c1=$(cpu "$SERVERS")
    d1=$(cpu $PID)
    calls=$(echo "$out" | sed -n 's/^\([0-9]*\) calls\/s over \([0-9.]*\) s.*/\1 \2/p' |
        awk '{printf "%d", $1 * $2}')
    per() { awk -v t="$1" -v n="$calls" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.1f", n ? 1e6 * t / hz / n : 0}'; }
    echo "$out; CPU a call: daemon $(per $((d1 - d0))) us, Redis $(per $((c1 - c0))) us"
    curl -s http://127.0.0.1:$HTTP/metrics | grep '^cidguard_shared_state_total' >"$W/m.txt" || true
    kill $PID
    wait $PID 2>/dev/null || true
    cp "$W/d.log" "$W/d.last.log" 
}
# The Redis servers share the load generator's core: the generator signs
# its calls' tokens before each run (20,000 a second of the run, more than
# the daemon answers), so that during the run that core's time goes to the
# servers, as a Redis on its own host would have it.
PRESIGN=${PRESIGN:-$((S * 20000))}
# local and Redis alternate ROUNDS times (this machine's load moves from
# second to second); the ratio is of the medians
ROUNDS=${ROUNDS:-3}
: >"$W/l.txt"
: >"$W/r.txt"
: >"$W/c.txt"
: >"$W/lc.txt"
: >"$W/rc.txt"
: >"$W/cc.txt"
i=0
while [ $i -lt "$ROUNDS" ]; do
    SERVERS=""
    LOCAL=$(run "")
    echo "local state:  $LOCAL"
    echo "$LOCAL" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p' >>"$W/l.txt"
    echo "$LOCAL" | sed -n 's/.*daemon \([0-9.]*\) us.*/\1/p' >>"$W/lc.txt"
    # timeout_ms: a loaded machine must not send calls to local state (the
    # runs below fail when one is); what is measured is the throughput
    SERVERS=$RPID
    SHARED=$(run "[redis]
url = redis://127.0.0.1:$PORT
timeout_ms = 1000")
    echo "Redis state:  $SHARED"
    if ! grep -q 'store="local"} 0' "$W/m.txt"; then
        echo "some calls were decided without Redis: $(tr '\n' ' ' <"$W/m.txt")"
        grep -v "ID=\\|Try it" "$W/d.log"
        exit 1
    fi
    echo "$SHARED" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p' >>"$W/r.txt"
    echo "$SHARED" | sed -n 's/.*daemon \([0-9.]*\) us.*/\1/p' >>"$W/rc.txt"
    if [ "$CLUSTER" = yes ]; then
        SERVERS=$CPIDS
        CL=$(run "[redis]
url = redis://127.0.0.1:26481
cluster = 127.0.0.1:26482;127.0.0.1:26483
timeout_ms = 1000")
        echo "Cluster state: $CL"
        if ! grep -q 'store="local"} 0' "$W/m.txt"; then
            echo "some calls were decided without the cluster: $(tr '\n' ' ' <"$W/m.txt")"
            grep -v "ID=\\|Try it" "$W/d.log"
            exit 1
        fi
        echo "$CL" | sed -n 's/^\([0-9]*\) calls\/s.*/\1/p' >>"$W/c.txt"
        echo "$CL" | sed -n 's/.*daemon \([0-9.]*\) us.*/\1/p' >>"$W/cc.txt"
    fi
    i=$((i + 1))
done
echo "calls decided through Redis (last run): $(tr '\n' ' ' <"$W/m.txt")"
L=$(sort -n "$W/l.txt" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
R=$(sort -n "$W/r.txt" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo "medians: local $L calls/s, Redis $R calls/s"
echo "Redis / local: $(awk -v a="$R" -v b="$L" 'BEGIN {printf "%.1f%%", 100 * a / b}');" \
    "local / raw OpenSSL: $(awk -v a="$L" -v b="$RAW" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
if [ "$CLUSTER" = yes ]; then
    C=$(sort -n "$W/c.txt" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    echo "median: cluster $C calls/s; cluster / local:" \
        "$(awk -v a="$C" -v b="$L" 'BEGIN {printf "%.1f%%", 100 * a / b}')"
    for p in $CPORTS; do
        printf 'node %s: %s keys\n' $p "$(redis-cli -p $p dbsize)"
    done
fi
# On a loaded 2-core machine the load generator's core (shared with the
# Redis servers) often limits all three; the daemon's CPU a call says what
# one daemon core would carry with each store
med() { sort -n "$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
LC=$(med "$W/lc.txt")
RC=$(med "$W/rc.txt")
echo "daemon CPU a call (medians): local $LC us, Redis $RC us" \
    "($(awk -v a="$LC" -v b="$RC" 'BEGIN {printf "%.1f%%", 100 * a / b}') of local's calls a core)"
if [ "$CLUSTER" = yes ]; then
    CC=$(med "$W/cc.txt")
    echo "daemon CPU a call (median): cluster $CC us" \
        "($(awk -v a="$LC" -v b="$CC" 'BEGIN {printf "%.1f%%", 100 * a / b}') of local's calls a core)"
fi
echo "load after: $(uptime)"
