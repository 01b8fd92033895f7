#!/usr/bin/env bash
# Memory, disk and restart times after one million SETs (100-byte values,
# 10,000 keys) on a 3-node kvdb cluster on ports 12001-12003, fsync on.
# Build first: cargo build --release -p uhaha-bench -p kvdb
set -u
cd "$(dirname "$0")/../.."
K=./target/release/kvdb; B=./target/release/uhaha-bench; D=${TMPDIR:-/tmp}/uhaha-million-sets
PORT=1200; . bench/scripts/cluster.sh
form
echo "idle RSS per node, MiB: $(rss)"
$B run --target 127.0.0.1:12001,commands=kv -w write -n 1000000 -c 50 -P 16 --keyspace 10000 --value-size 100 --warmup 0s 2>&1 | tail -8
sleep 2
echo "RSS per node after 1M SETs, MiB: $(rss)"
echo "disk: $(du -sh $D | cut -f1)"
redis-cli -p 12001 RAFT INFO | grep -A1 -E "last_log_index|applied" | tr '\n' ' '; echo
restart_times bench:0001
echo "RSS per node after restart, MiB: $(rss)"
stop_all
