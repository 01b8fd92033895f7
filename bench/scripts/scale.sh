#!/usr/bin/env bash
# What a 3-node kvdb cluster costs as its data grows: N keys of 100-byte
# values loaded with SET (8 connections, pipelines of 64, fsync on), then
# disk bytes written (all nodes, /proc/<pid>/io), snapshots taken, data
# directory and RSS per node after 10 s, a follower's restart to ready, and
# the whole cluster's restart to a linearizable GET.
#
#   bench/scripts/scale.sh N random|repeat|redis-benchmark [BIN]     (BIN: target/release/kvdb)
#
# redis-benchmark is the load that Go uhaha was measured with:
# `redis-benchmark -t set -n N -r N -d 100 -P 32 -c 20` (N SETs of random
# keys out of N, so about 63 % of N distinct keys, of repetitive values).
#
# Build first: cargo build --release -p kvdb. Ports 12101-12103.
set -u
cd "$(dirname "$0")/../.."
N=$1; VALUES=$2; K=${3:-./target/release/kvdb}; D=${TMPDIR:-/tmp}/uhaha-scale
PORT=1210; . bench/scripts/cluster.sh
written() { local s=0; for p in $(pids); do s=$((s + $(awk '/^write_bytes/ {print $2}' /proc/$p/io))); done; echo $s; }
form
before=$(written)
if [ "$VALUES" = redis-benchmark ]; then
    t0=$(date +%s.%N)
    redis-benchmark -p 12101 -t set -n "$N" -r "$N" -d 100 -P 32 -c 20 -q > /dev/null
    # Keys are key:<12 digits>, values 100 bytes.
    payload=$((N * 116)); seconds=$(printf "%.1f" "$(echo "$(date +%s.%N) - $t0" | bc)")
    # Random keys may miss the one that the restart times read.
    redis-cli -p 12101 SET key:000000000000 "$(printf 'x%.0s' $(seq 100))" > /dev/null
else
    read -r payload seconds < <(python3 bench/scripts/load_keys.py 12101 "$N" "$VALUES")
fi
after=$(written)
sleep 10
echo "keys: $N ($VALUES values), loaded in $seconds s ($(( N * 10 / ${seconds/./} )) /s)"
echo "disk written, 3 nodes: $(( (after - before) >> 20 )) MiB = $(echo "scale=1; ($after - $before) / 3 / $payload" | bc)x the payload per node"
echo "snapshots taken per node: $(for i in 1 2 3; do grep -c 'saved (' $D/node$i.log | tr '\n' ' '; done)"
echo "data directory per node, MiB: $(for i in 1 2 3; do du -sm $D/$i | cut -f1 | tr '\n' ' '; done)"
echo "RSS per node after 10 s, MiB: $(rss)"
restart_times key:000000000000
stop_all
