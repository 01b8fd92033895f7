#!/usr/bin/env bash
# The long run behind chaos/README.md's evidence table: every fault kind on
# its own, against kvdb (register) and ticket (counter), with 3 and 5
# nodes, SEEDS seeds of SECONDS seconds each, JOBS runs at a time.
#
#   sudo chaos/scripts/evidence.sh [SEEDS] [SECONDS] [JOBS]     (20 60 2)
#
# KINDS (environment) limits the fault kinds, for example KINDS=member.
#
# Builds the release binaries once, writes one line per run to
# target/chaos-evidence/results.tsv (kind, service, nodes, seed, exit
# status, verdict line) and keeps the output of any run that did not pass
# in target/chaos-evidence/<kind>-<service>-<nodes>-<seed>/. Prints the
# table at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-20}
seconds=${2:-60}
jobs=${3:-2}
cargo build --release -q -p kvdb -p ticket -p uhaha-chaos
release=${CARGO_TARGET_DIR:-target}/release
out=${EVIDENCE_OUT:-target/chaos-evidence}
mkdir -p "$out"
results="$out/results.tsv"
: > "$results"

run_one() {
    set -o pipefail
    local kind=$1 service=$2 nodes=$3 seed=$4
    local dir="$out/$kind-$service-$nodes-$seed"
    local workload=register
    [ "$service" = ticket ] && workload=counter
    local line status=0
    line=$("$release/uhaha-chaos" --bin "$release/$service" --workload "$workload" \
        --nodes "$nodes" --seconds "$seconds" --seed "$seed" --nemesis "$kind" --out "$dir" 2>&1 | tail -1) \
        || status=$?
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$service" "$nodes" "$seed" "$status" "$line" >> "$results"
    [ "$status" = 0 ] && rm -rf "$dir"
    return 0
}
export -f run_one
export out seconds results release

# Seed by seed, so that a run cut short still covers every combination.
for seed in $(seq 1 "$seeds"); do
    for kind in ${KINDS:-kill pause partition link clock member}; do
        for service in kvdb ticket; do
            for nodes in 3 5; do
                echo "$kind $service $nodes $seed"
            done
        done
    done
done | xargs -P "$jobs" -L 1 bash -c 'run_one "$@"' _

# One row per fault kind, service and size: runs, passes, violations,
# runs that could not be carried out, and the operations and faults seen.
python3 - "$results" <<'PY'
import re, sys
from collections import defaultdict
rows = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0])
for line in open(sys.argv[1]):
    kind, service, nodes, seed, status, verdict = line.rstrip("\n").split("\t", 5)
    r = rows[(kind, service, nodes)]
    r[0] += 1
    # By the verdict line, which says what the exit status says.
    r[1 if " PASS " in f" {verdict} " else 2 if " FAIL " in f" {verdict} " else 3] += 1
    m = re.search(r"(\d+) ok, (\d+) failed, (\d+) unknown operations; (\d+) faults", verdict)
    if m:
        for i, v in enumerate(m.groups()):
            r[4 + i] += int(v)
print("| faults | service | nodes | runs | pass | violation | not carried out | ok ops | failed | unknown | faults injected |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (kind, service, nodes), r in sorted(rows.items()):
    print(f"| {kind} | {service} | {nodes} | " + " | ".join(str(x) for x in r) + " |")
PY
