#!/bin/sh
# Run every test and print one closing line "N passed, N failed".
#   tests/run_tests.sh BUILD_DIR [unit|integration|all]
# Unit test programs and integration suites each end with their own
# "N passed, N failed" line; this script adds them up. A program that
# crashes or prints no summary counts as one failure.
BUILD=${1:-build}
WHAT=${2:-all}
PY=/usr/bin/python3
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

account() { # name exit-code
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $1 (exit $2, no summary)"
        tail -n 20 "$log" | sed 's/^/    /'
        total_fail=$((total_fail + 1))
        return
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    if [ "$f" = 0 ] && [ "$2" != 0 ]; then
        echo "FAIL $1 (exit $2 after all passed)"
        tail -n 20 "$log" | sed 's/^/    /'
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

if [ "$WHAT" = all ] || [ "$WHAT" = unit ]; then
    for t in $(find "$BUILD/tests/unit" -type f -perm -u+x 2>/dev/null | sort); do
        # GW_UNIT_WRAP: an emulator for a cross build (make cross-check: qemu-aarch64)
        $GW_UNIT_WRAP "$t" >"$log" 2>&1
        rc=$?
        grep -E '^(FAIL|  )' "$log"
        account "$t" "$rc"
    done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = integration ]; then
    GW_BUILD="$BUILD" $PY tests/integration/run.py >"$log" 2>&1
    rc=$?
    grep -vE '^PASS ' "$log" | grep -vE '^[0-9]+ passed, [0-9]+ failed' | tail -n 200
    account integration "$rc"
fi

if [ "$WHAT" = all ] && [ -z "$GW_NO_SANITIZE_PASS" ] && [ -f tests/sanitize.sh ]; then
    sh tests/sanitize.sh >"$log" 2>&1
    rc=$?
    grep -vE '^PASS ' "$log" | grep -vE '^[0-9]+ passed, [0-9]+ failed' | tail -n 200
    account sanitizers "$rc"
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
