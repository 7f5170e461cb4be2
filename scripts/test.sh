#!/bin/sh
# The README's "test it" command, and all that .ci/run does: installs what
# is needed, builds with -Werror, runs every test (unit, CLI contract,
# interoperability with secsipidx, jose and an openssl-built PKI), runs the
# unit and contract tests again under ASan+UBSan, and runs each libFuzzer
# target over its corpus for a short time.  Exits non-zero on any failure.
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
export CG_SHARED="${CG_SHARED:-$ROOT/../shared}"

sh scripts/deps.sh
(cd tests/interop && npm ci --no-audit --no-fund --silent)

echo "== build (gcc, -Wall -Wextra -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "== tests"
(cd build && ctest --output-on-failure -j2)

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCG_SANITIZE=ON -DCG_TESTS=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j2)

echo "== fuzzers (clang libFuzzer, ${FUZZ_SECONDS}s each over fuzz/corpus)"
CC=clang cmake -S . -B build-fuzz -DCG_FUZZ=ON -DCG_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_identity fuzz_passport fuzz_cert fuzz_sip fuzz_policy fuzz_analyze >/dev/null
for t in identity passport cert sip policy analyze; do
    out=$(mktemp -d)
    ./build-fuzz/fuzz/fuzz_$t -max_total_time="$FUZZ_SECONDS" -max_len=70000 \
        -print_final_stats=1 "$out" "fuzz/corpus/$t" >"$out.log" 2>&1 ||
        { tail -40 "$out.log"; echo "fuzz_$t FAILED"; exit 1; }
    echo "fuzz_$t: $(grep -o 'Done [0-9]* runs' "$out.log"), no crash"
    rm -rf "$out" "$out.log"
done
echo "all test stages passed"
