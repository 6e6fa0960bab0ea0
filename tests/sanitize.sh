#!/bin/sh
# Second pass of `make check`: the unit and integration tests again with the
# gateway built under AddressSanitizer + UndefinedBehaviorSanitizer, then
# daemon runs under valgrind that must report no leak. Ends with one
# "N passed, N failed" line that tests/run_tests.sh adds to the total.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { # add the last summary line of $log
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then fail=$((fail + 1)); tail -n 30 "$log"; return; fi
    pass=$((pass + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
}

if make -s NO_DEPS=1 WERROR=1 SANITIZE=address,undefined tests-bin >"$log" 2>&1; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    GW_NO_SANITIZE_PASS=1 sh tests/run_tests.sh build-san >"$log" 2>&1
    grep -E '^FAIL|^  ' "$log" | sed 's/^/[asan] /'
    count
else
    echo "FAIL sanitizer build"; tail -n 30 "$log"; fail=$((fail + 1))
fi

if command -v valgrind >/dev/null 2>&1; then
    GW_BUILD=build \
    GW_WRAP="valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --quiet" \
        /usr/bin/python3 tests/integration/run.py ${GW_VALGRIND_TESTS:-test_registration test_dm} >"$log" 2>&1
    grep -E '^FAIL|^  ' "$log" | sed 's/^/[valgrind] /'
    count
else
    echo "FAIL valgrind is not installed"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
