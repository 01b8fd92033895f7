#!/usr/bin/env bash
# How long writes stall while a snapshot is taken: a 3-node kvdb cluster
# loaded with N keys of 100-byte random values, then 10 s of writes (50
# connections) twice, the second time with `RAFT SNAPSHOT NOW` at 5 s; the
# largest write latency of each run is the figure.
#
#   bench/scripts/snapshot-stall.sh [N] [BIN]     (500000, target/release/kvdb)
#
# Build first: cargo build --release -p kvdb -p uhaha-bench. Ports 12201-12203.
set -u
cd "$(dirname "$0")/../.."
N=${1:-500000}; K=${2:-./target/release/kvdb}; B=./target/release/uhaha-bench
D=${TMPDIR:-/tmp}/uhaha-snapshot-stall
PORT=1220; . bench/scripts/cluster.sh
form
python3 bench/scripts/load_keys.py 12201 "$N" random > /dev/null
sleep 10 # snapshots that the load asked for
saved() { grep -c 'saved (' "$D/node1.log"; }
for snapshot in without with; do
    before=$(saved)
    $B run --target 127.0.0.1:12201,commands=kv -w write -c 50 -P 1 -d 10s --warmup 1s \
        --keyspace "$N" --value-size 100 --fsync-probe 0s > "$D/run-$snapshot.log" 2>&1 &
    if [ $snapshot = with ]; then
        sleep 5
        start=$(date +%s.%N)
        redis-cli -p 12201 RAFT SNAPSHOT NOW > /dev/null
        echo "RAFT SNAPSHOT NOW took $(echo "$(date +%s.%N) - $start" | bc) s"
    fi
    wait
    echo "$snapshot a snapshot: $(grep -o 'max [0-9]*' "$D/run-$snapshot.log") us write latency," \
        "p99.9 $(awk '/^addr/ {print $6; exit}' "$D/run-$snapshot.log") ms," \
        "$(( $(saved) - before )) snapshots saved by the leader during the run"
done
echo "snapshot file: $(ls -l "$D"/1/kvdb/1/snapshots/*.snap | tail -1 | awk '{print $5}') bytes"
stop_all
