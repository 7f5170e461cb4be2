#!/bin/sh
# `cidguard verify --batch` end to end against raw OpenSSL in the same run.
#
#   sh bench/batchbench.sh [BUILD_DIR] [LINES] [ROUNDS]
#
# LINES (default 20,000) ATIS-1000082 verificationRequest lines, signed by
# one test key with 500 distinct PASSporTs (a batch has no replay memory,
# so repeating a token costs what a fresh one costs), verified with a
# certificate file, CRL and trust anchor as a carrier's back-office job
# would.  Each round times the command on 1 and 2 threads (output to a
# file, as a job writes it) and reads OpenSSL's own ECDSA P-256 verify/s
# (`openssl speed`, one process, then two at once).  The figures printed
# are the medians; the ratio is lines/s over raw verify/s on the same
# number of cores.
set -e
B=${1:-build}
N=${2:-20000}
ROUNDS=${3:-3}
CG="$B/cidguard"
[ -x "$CG" ] || { echo "no $CG: build first (cmake --build $B)"; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

"$CG" pki init "$W/pki" --spc 1234 >/dev/null
NOW=$(date +%s)
i=0
while [ $i -lt 500 ]; do
    tn=$(printf '4420794600%02d' $((i % 100)))
    id=$("$CG" sign --key "$W/pki/sp-1234.key" --x5u https://certs.example/sp-1234.pem \
        --orig "+$tn" --dest +14155550100 --attest A --iat "$NOW")
    printf '{"verificationRequest":{"from":{"tn":"%s"},"to":{"tn":["14155550100"]},"time":%s,"identity":"%s"}}\n' \
        "$tn" "$NOW" "$id" >>"$W/tokens"
    i=$((i + 1))
done
reps=$(((N + 499) / 500))
i=0
while [ $i -lt $reps ]; do
    cat "$W/tokens"
    i=$((i + 1))
done | head -n "$N" >"$W/batch"
# --at: the tokens are judged at the time they were made, however long the rounds take
V="--cert $W/pki/sp-1234.pem --trust $W/pki/root.pem --crl $W/pki/crl.pem --at $NOW"

# seconds.milliseconds taken by the command line in "$@"
elapsed() {
    s=$(date +%s.%N)
    "$@"
    e=$(date +%s.%N)
    echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
raw_verify() { # raw OpenSSL ECDSA P-256 verify/s, $1 processes at once
    for p in $(seq 1 "$1"); do
        openssl speed -seconds 2 -mr ecdsap256 2>/dev/null >"$W/speed.$p" &
    done
    wait
    cat "$W"/speed.* | awk -F: '/^\+F4:/ {s += $5} END {printf "%.0f", s}'
    rm -f "$W"/speed.*
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$N lines, $ROUNDS rounds"
r=0
: >"$W/t1"
: >"$W/t2"
: >"$W/o1"
: >"$W/o2"
while [ $r -lt "$ROUNDS" ]; do
    raw_verify 1 >>"$W/o1"
    echo >>"$W/o1"
    t=$(elapsed sh -c "\"$CG\" verify --batch \"$W/batch\" --threads 1 $V >\"$W/out1\" || [ \$? = 1 ]")
    echo "$t" >>"$W/t1"
    raw_verify 2 >>"$W/o2"
    echo >>"$W/o2"
    t=$(elapsed sh -c "\"$CG\" verify --batch \"$W/batch\" --threads 2 $V >\"$W/out2\" || [ \$? = 1 ]")
    echo "$t" >>"$W/t2"
    r=$((r + 1))
done
passed=$(grep -c TN-Validation-Passed "$W/out1" || true)
[ "$passed" = "$N" ] || { echo "only $passed of $N lines passed"; exit 1; }
cmp -s "$W/out1" "$W/out2" || { echo "1 and 2 threads wrote different output"; exit 1; }
t1=$(median <"$W/t1")
t2=$(median <"$W/t2")
o1=$(median <"$W/o1")
o2=$(median <"$W/o2")
awk -v n="$N" -v t1="$t1" -v t2="$t2" -v o1="$o1" -v o2="$o2" 'BEGIN {
    printf "raw OpenSSL verify: %d/s on 1 core, %d/s on 2\n", o1, o2
    printf "verify --batch, 1 thread : %.3f s, %d lines/s, %.2f of raw on 1 core\n", t1, n / t1, n / t1 / o1
    printf "verify --batch, 2 threads: %.3f s, %d lines/s, %.2f of raw on 2 cores, %.2fx one thread\n", t2, n / t2, n / t2 / o2, t1 / t2
}'
