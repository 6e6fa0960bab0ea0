#!/bin/sh
# Run every benchmark and print its results as "BENCH <metric> <value> <unit>".
#   tests/bench/run.sh BUILD_DIR
# Runs each program in BUILD_DIR/bench/ (built from tests/bench/*.c), then
# the end-to-end daemon benchmarks tests/bench/bench_gateway.py and
# tests/bench/bench_reload.py (SIGHUP reload of 10,000 devices),
# tests/bench/bench_dtls.py (DTLS-PSK handshakes + Register per second against coap-rd-gnutls) and
# tests/bench/bench_writes.py (another client's Read while a Write-Composite
# waits for a silent Modbus unit: write_stall_ms) and tests/bench/bench_outage.py
# (a 60 s server outage with 1,000 observed clients: outage_recovery_s,
# outage_readings_lost, outage_log_lines). bench_mqtt starts its own
# mosquitto (Debian package mosquitto). Other output
# goes to stderr. Exits non-zero if any benchmark failed, after running all.
BUILD=${1:-build}
PY=/usr/bin/python3
HERE=$(dirname "$0")
failed=0

for b in "$BUILD"/bench/*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    echo "== $b" >&2
    # bounded: each program has fixed loop counts; the timeout is a guard
    timeout 600 "$b"
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "bench: $b failed (exit $rc)" >&2
        failed=$((failed + 1))
    fi
done

echo "== $HERE/bench_gateway.py" >&2
if ! timeout 900 "$PY" "$HERE/bench_gateway.py" "$BUILD"; then
    echo "bench: bench_gateway.py failed" >&2
    failed=$((failed + 1))
fi

echo "== $HERE/bench_writes.py" >&2
if ! timeout 300 "$PY" "$HERE/bench_writes.py" "$BUILD"; then
    echo "bench: bench_writes.py failed" >&2
    failed=$((failed + 1))
fi

echo "== $HERE/bench_outage.py" >&2
# 1,000 observed clients, the server away 60 s (--outage sets the length)
if ! timeout 600 "$PY" "$HERE/bench_outage.py" "$BUILD" --clients 1000 --outage 60; then
    echo "bench: bench_outage.py failed" >&2
    failed=$((failed + 1))
fi

echo "== $HERE/bench_service.py" >&2
# stripped size, start-up to READY=1 and 60 s idle with 1,000 clients
if ! timeout 600 "$PY" "$HERE/bench_service.py" "$BUILD" --clients 1000 --duration 60; then
    echo "bench: bench_service.py failed" >&2
    failed=$((failed + 1))
fi

echo "== $HERE/bench_dtls.py" >&2
if ! timeout 600 "$PY" "$HERE/bench_dtls.py" "$BUILD" --clients 1000; then
    echo "bench: bench_dtls.py failed" >&2
    failed=$((failed + 1))
fi

echo "== $HERE/bench_reload.py" >&2
if ! timeout 600 "$PY" "$HERE/bench_reload.py" "$BUILD"; then
    echo "bench: bench_reload.py failed" >&2
    failed=$((failed + 1))
fi

[ "$failed" = 0 ]
