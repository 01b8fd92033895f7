#!/usr/bin/env bash
# Runs the whole test suite (the README's test command) N times in a row on
# a busy machine, and prints how often each test failed.
#
#   scripts/soak-tests.sh [N]        # N defaults to 10
#
# The load beside the tests is `stress-ng --cpu 2` (Debian's stress-ng), or
# the command in $SOAK_LOAD; SOAK_LOAD=none runs without load. The log of
# every run is kept in target/soak/run-K.log. Exits non-zero if any run
# failed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
load=${SOAK_LOAD:-stress-ng --cpu 2 --quiet}
logs=target/soak
mkdir -p "$logs"
rm -f "$logs"/run-*.log

# Build first, so that the runs measure the tests, not the compiler.
cargo test --workspace --no-run --quiet || exit 2

load_pid=""
stop_load() {
    if [ -n "$load_pid" ]; then
        kill -- -"$load_pid" 2>/dev/null
        wait "$load_pid" 2>/dev/null
        load_pid=""
    fi
}
trap 'stop_load; exit 130' INT TERM
trap stop_load EXIT
if [ "$load" != none ]; then
    command -v "${load%% *}" >/dev/null \
        || { echo "soak: '${load%% *}' not found (apt-get install stress-ng, or set SOAK_LOAD)" >&2; exit 2; }
    # Its own process group, so that stopping it stops all its workers.
    setsid $load &
    load_pid=$!
    echo "soak: load '$load' running beside the tests"
fi

failed_runs=0
for k in $(seq 1 "$runs"); do
    start=$(date +%s)
    cargo test --workspace --no-fail-fast >"$logs/run-$k.log" 2>&1
    status=$?
    took=$(( $(date +%s) - start ))
    failures=$(grep -E '^test .* \.\.\. FAILED$' "$logs/run-$k.log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/')
    if [ "$status" -eq 0 ]; then
        echo "run $k/$runs: ok (${took}s)"
    else
        failed_runs=$((failed_runs + 1))
        echo "run $k/$runs: FAILED (${took}s, exit $status): ${failures:-see $logs/run-$k.log}"
    fi
done

echo
echo "soak: $((runs - failed_runs)) of $runs runs passed"
grep -hE '^test .* \.\.\. FAILED$' "$logs"/run-*.log \
    | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | sort | uniq -c | sort -rn \
    | while read -r count name; do echo "  $count x $name"; done
[ "$failed_runs" -eq 0 ]
