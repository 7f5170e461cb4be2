# Shared by the interop and contract tests: a scratch directory, a PKI,
# and check helpers that count and print "N passed, N failed" at the end.
set -u
CG="$1"
WORK=$(mktemp -d /tmp/cg-interop-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASS=0
FAILED=0

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }

# check NAME EXPECTED_EXIT CMD...: runs CMD, compares its exit status.
check() {
    name=$1 want=$2
    shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"
    got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else bad "$name (exit $got, wanted $want)"; sed 's/^/    /' "$WORK/err" "$WORK/out" | head -5; fi
}

# expect_json NAME KEY VALUE: the last command's stdout JSON has KEY == VALUE.
expect_json() {
    if grep -q "\"$2\":$3" "$WORK/out"; then ok "$1"; else bad "$1 (wanted \"$2\":$3)"; head -c 400 "$WORK/out"; echo; fi
}

finish() {
    echo "$PASS passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}

pki() { "$CG" pki init "$WORK/pki" --spc 1234 --spc 567A >/dev/null; }
