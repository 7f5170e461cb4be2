#!/bin/sh
# Traceback at carrier size: a signing log of RECORDS records (default ten
# million: a week of calls from 1,000 customers, one of them sending a
# fifth) built once through the library under /tmp and reused, then 100
# traceback queries of each kind through the library (median, p99, max),
# and one of each through `cidguard trace` (the whole process: open, query,
# JSON).  The target is 50 ms an answer.
# Usage: sh bench/tracebench.sh [BUILD_DIR] [RECORDS]
set -e
B=${1:-build}
N=${2:-10000000}
# the schema's version in the name: a file of an older layout is not reused
DB=${TRACEBENCH_DB:-/tmp/cidguard-tracebench-s3-$N.db}
if [ ! -s "$DB" ] || [ -e "$DB.building" ]; then
    rm -f "$DB" "$DB-wal" "$DB-shm"
    touch "$DB.building"
    echo "building $DB (three to five minutes for ten million records; kept for the next run)"
    "$B/cidguard-tracebench" build "$DB" "$N"
    rm -f "$DB.building"
fi
echo "signing log: $N records, $(du -m "$DB" | cut -f1) MB"
echo "through the library (cg_signlog_query on a read-only connection, 100 queries each):"
"$B/cidguard-tracebench" query "$DB" "$N" 100
echo "through the CLI (one process each):"
"$B/cidguard-tracebench" args "$DB" "$N" 42 | while read -r ARGS; do
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    "$B/cidguard" trace --log "$DB" $ARGS >/dev/null
    t1=$(date +%s%N)
    echo "  cidguard trace $ARGS: $(((t1 - t0) / 1000000)) ms"
done
