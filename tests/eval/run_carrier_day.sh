#!/bin/sh
# Runs gen_carrier_day.py and cidguard analyze on several seeds and scores each.
# usage: run_carrier_day.sh CIDGUARD WORKDIR [SEED...]   (extra generator options in GEN_OPTS)
set -e
bin=$1; work=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
for seed in "${@:-1 2 3}"; do
    d=$work/seed$seed
    python3 "$here/gen_carrier_day.py" "$d" --seed "$seed" $GEN_OPTS
    "$bin" analyze "$d/calls.csv" --protected "$d/protected.csv" --dno "$d/dno.csv" \
        --ingress "$d/ingress.csv" --ofcom "$d/ofcom.csv" --out "$d/out" > "$d/analyze.txt" 2>&1
    echo "== seed $seed"
    python3 "$here/score_carrier_day.py" "$d" "$d/out"
done
