#!/bin/sh
# Run libFuzzer targets for a while each:
#   tests/fuzz/run.sh SECONDS BIN...
# Each BIN runs with -max_total_time=SECONDS -rss_limit_mb=2048 on the corpus
# build-fuzz/corpus/<name> (<name> = the binary's file name, e.g. fuzz_tlv),
# which is first seeded from tests/fuzz/corpus/<name>/ when that exists.
# Crash inputs go to build-fuzz/artifacts/<name>/, output to
# build-fuzz/logs/<name>.log. Exits non-zero if any target failed.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 SECONDS BIN..." >&2
    exit 2
fi
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for bin in "$@"; do
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        echo "FUZZ $name: no such binary ($bin)"
        failed=1
        continue
    fi
    corpus=build-fuzz/corpus/$name
    artifacts=build-fuzz/artifacts/$name
    log=build-fuzz/logs/$name.log
    mkdir -p "$corpus" "$artifacts" build-fuzz/logs
    if [ -d "$here/corpus/$name" ]; then
        # Seeds are small; copying keeps the working corpus self-contained
        # while never overwriting what earlier runs found.
        for f in "$here/corpus/$name"/*; do
            [ -f "$f" ] || continue
            [ -e "$corpus/$(basename "$f")" ] || cp "$f" "$corpus/"
        done
    fi
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 \
        -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "FUZZ $name ok (${runs:-no stats})"
    else
        echo "FUZZ $name FAILED (exit $rc): see $log and $artifacts/"
        grep -m 3 -E 'ERROR|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
        failed=1
    fi
done
exit $failed
