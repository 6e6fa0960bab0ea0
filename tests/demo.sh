#!/bin/sh
# make demo: the demo sensors of examples/demo.conf as virtual LwM2M clients
# of a local test server, with their registrations and values printed.
#   tests/demo.sh BUILD_DIR        runs until Ctrl-C
#   DEMO_SECONDS=5 tests/demo.sh build
# tests/demo.py starts and stops the server and the gateway; this wrapper
# makes sure that, however the demo ends, it is asked to stop them and is
# waited for.
BUILD=${1:-build}
PY=/usr/bin/python3
HERE=$(dirname "$0")
pid=

stop_demo() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid"
    fi
    pid=
}
trap 'stop_demo' EXIT
trap 'stop_demo; trap - EXIT; exit 0' INT TERM

# In the background so that the INT/TERM trap runs at once; the demo
# handles SIGINT itself (a background job's is ignored by default).
"$PY" "$HERE/demo.py" "$BUILD" &
pid=$!
wait "$pid"
rc=$?
pid=
exit "$rc"
