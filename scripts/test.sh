#!/bin/sh
# The README's "test it" command, and all that .ci/run does: installs what
# is needed, checks that the daemon's modules include each other without a
# cycle, builds with -Werror, runs every test (unit, CLI contract,
# interoperability with secsipidx, jose and an openssl-built PKI, the
# daemon, Kamailio and Redis integration), runs them again under ASan+UBSan,
# runs the threaded ones under ThreadSanitizer, builds, installs, runs and
# purges the Debian packages, and runs every libFuzzer target over its
# corpus for a short time.  Exits non-zero on any failure.
#
# A test that cannot run (missing data or program) exits 77 and CTest
# reports it skipped; the list is printed after each ctest run.  With CI set
# (CI=true) any skip fails the run: CI has everything a test needs.
#
# FUZZ_SECONDS (default 15): time per fuzz target.
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
JOBS=$(nproc)
export CG_SHARED="${CG_SHARED:-$ROOT/../shared}"
case "${CI:-}" in
"" | 0 | false | no) IN_CI= ;;
*) IN_CI=1 ;;
esac

# Stage timing: stage NAME starts a stage and ends the previous one; the
# table is printed at exit, also when a stage fails.
T0=$(date +%s)
STAGE=
STAGE_T=$T0
TIMES=
end_stage() {
    if [ -n "$STAGE" ]; then
        now=$(date +%s)
        TIMES="$TIMES$(printf '  %-58s %4ds' "$STAGE" $((now - STAGE_T)))
"
        STAGE=
    fi
}
stage() {
    end_stage
    STAGE=$1
    STAGE_T=$(date +%s)
    echo "== $1"
}
report_times() {
    rc=$?
    end_stage
    echo "== time per stage"
    printf '%s' "$TIMES"
    printf '  %-58s %4ds\n' "total" $(($(date +%s) - T0))
    exit $rc
}
trap report_times EXIT

# ctest in build directory $1 with the further arguments; then the tests
# that did not run, each with its reason.  Under CI a skip is a failure.
run_ctest() {
    dir=$1
    shift
    rm -f "$ROOT/$dir/ctest-junit.xml"
    rc=0
    (cd "$dir" && ctest --output-on-failure -j2 --output-junit "$ROOT/$dir/ctest-junit.xml" "$@") ||
        rc=$?
    skipped=$(python3 scripts/ctest-skips.py "$ROOT/$dir/ctest-junit.xml") || return 1
    if [ -n "$skipped" ]; then
        echo "$skipped" | sed "s|^|SKIPPED ($dir) |"
        if [ -n "$IN_CI" ]; then
            echo "FAILED: $(echo "$skipped" | wc -l) test(s) skipped in a CI run (CI=$CI): every test must run here"
            [ "$rc" -ne 0 ] || rc=1
        fi
    fi
    return "$rc"
}

stage "dependencies"
sh scripts/deps.sh
(cd tests/interop && npm ci --no-audit --no-fund --silent)

stage "include cycles (apps/cidguardd)"
sh scripts/check-includes.sh apps/cidguardd

# Every C file as clang-format (.clang-format) writes it: `make format`
# fixes a difference.  Files outside git (a fresh clone has none) are not
# looked at.
stage "formatting (clang-format)"
if ! git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror; then
    echo "FAILED: the files above are not formatted; run 'make format'"
    exit 1
fi

stage "build (gcc, -Wall -Wextra -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_TESTS=ON >/dev/null
cmake --build build -j"$JOBS" >/dev/null
stage "tests"
run_ctest build

stage "tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCG_SANITIZE=ON -DCG_TESTS=ON >/dev/null
cmake --build build-asan -j"$JOBS" >/dev/null
# The busy-key tables are compared with OpenSSL 200,000 times in the plain
# build; under the sanitizers, which watch the same code for memory and
# thread faults, a quarter of that (about 40 s less in each stage).
(
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 CG_FASTVERIFY_N=50000
    run_ctest build-asan
)

# The unit tests and the tests that drive the daemon's threads (label tsan
# in tests/CMakeLists.txt).  Reports go to files, since the integration
# scripts keep the daemon's output in work directories they remove; any
# report fails the stage, whether or not the test noticed.  The scripts'
# time bounds grow tenfold (CG_TEST_TIME_SCALE): TSan runs 5-15x slower.
stage "tests under ThreadSanitizer"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCG_TSAN=ON -DCG_TESTS=ON >/dev/null
cmake --build build-tsan -j"$JOBS" >/dev/null
TSAN_REPORTS="$ROOT/build-tsan/tsan-reports"
rm -rf "$TSAN_REPORTS"
mkdir -p "$TSAN_REPORTS"
tsan_opts="halt_on_error=1:second_deadlock_stack=1:log_path=$TSAN_REPORTS/tsan"
[ ! -f scripts/tsan.supp ] || tsan_opts="$tsan_opts:suppressions=$ROOT/scripts/tsan.supp"
rc=0
(
    export TSAN_OPTIONS="$tsan_opts" CG_TEST_TIME_SCALE=10 CG_FASTVERIFY_N=50000
    run_ctest build-tsan -L tsan
) || rc=$?
if [ -n "$(ls "$TSAN_REPORTS")" ]; then
    echo "ThreadSanitizer reports ($(ls "$TSAN_REPORTS" | wc -l) processes), summaries first:"
    grep -h '^SUMMARY' "$TSAN_REPORTS"/* | sort | uniq -c
    for f in "$TSAN_REPORTS"/*; do
        echo "---- $f"
        cat "$f"
    done
    [ "$rc" -ne 0 ] || rc=1
fi
[ "$rc" -eq 0 ] || exit "$rc"

# The Debian packages as a carrier installs them: built, checked by
# lintian, installed with apt-get, the installed daemon run as its service
# user and the installed CLI signing and verifying against it, the man
# pages, the service under systemd in a booted Debian 12 container, and a
# purge that leaves nothing behind (scripts/test-package.sh says more).
stage "Debian packages (build, lintian, install, run, systemd in a container, purge)"
sh scripts/test-package.sh

# Every target fuzz/CMakeLists.txt defines (the build's fuzz_* targets, as
# the Makefile generator's help lists them), each over fuzz/corpus/<name>
# (created empty when missing) plus a scratch directory for what it finds,
# on a memory file system when there is one, with the flags a target's
# fuzz/<target>.flags gives (it says why).  A crash input is kept in
# build-fuzz/.  Runs and exec/s are printed, not judged: machines vary.
stage "fuzzers (clang libFuzzer, ${FUZZ_SECONDS}s each over fuzz/corpus)"
CC=clang cmake -S . -B build-fuzz -DCG_FUZZ=ON -DCG_TESTS=OFF >/dev/null
targets=$(cmake --build build-fuzz --target help | sed -n 's/^\.\.\. \(fuzz_[A-Za-z0-9_]*\).*/\1/p' | sort)
[ -n "$targets" ] || { echo "no fuzz_* target in build-fuzz"; exit 1; }
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$JOBS" --target $targets >/dev/null
scratch_base=/tmp
[ ! -w /dev/shm ] || scratch_base=/dev/shm
for t in $targets; do
    name=${t#fuzz_}
    mkdir -p "fuzz/corpus/$name"
    out=$(mktemp -d "$scratch_base/cg-$t.XXXXXX")
    flags=""
    [ ! -f "fuzz/$t.flags" ] || flags=$(grep -v '^#' "fuzz/$t.flags" | tr '\n' ' ')
    start=$(date +%s)
    # shellcheck disable=SC2086
    ./build-fuzz/fuzz/"$t" -max_total_time="$FUZZ_SECONDS" -max_len=70000 -print_final_stats=1 $flags \
        -artifact_prefix="$ROOT/build-fuzz/$t-" "$out" "fuzz/corpus/$name" >"$out.log" 2>&1 ||
        { tail -40 "$out.log"; rm -rf "$out"; echo "$t FAILED (input kept as build-fuzz/$t-*)"; exit 1; }
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out.log" | tail -1)
    rate=$(grep 'DONE ' "$out.log" | sed -n 's/.*exec\/s: *\([0-9]*\).*/\1/p' | tail -1)
    printf '%-16s %9s runs %7s exec/s %4ds, no crash\n' "$t:" "${runs:-?}" "${rate:-?}" \
        $(($(date +%s) - start))
    rm -rf "$out" "$out.log"
done
end_stage
echo "all test stages passed"
