#!/usr/bin/env bash
# Memory, disk and restart times after one million SETs (100-byte values,
# 10,000 keys) on a 3-node kvdb cluster on ports 12001-12003, fsync on.
# Build first: cargo build --release -p uhaha-bench -p kvdb
set -u
cd "$(dirname "$0")/../.."
K=./target/release/kvdb; B=./target/release/uhaha-bench; D=${TMPDIR:-/tmp}/uhaha-million-sets
pkill -f "$K" 2>/dev/null; rm -rf $D; mkdir -p $D
start() { $K -n $1 -a 127.0.0.1:1200$1 -d $D $2 >> $D/node$1.log 2>&1 & }
ready() { until grep -q "ready for commands" $D/node$1.log 2>/dev/null; do sleep 0.02; done; }
start 1 ""; ready 1
start 2 "-j 127.0.0.1:12001"; ready 2
start 3 "-j 127.0.0.1:12001"; ready 3
echo "idle RSS KiB: $(ps -o rss= -p $(pgrep -f "$K" | tr '\n' ',' | sed 's/,$//') | tr '\n' ' ')"
$B run --target 127.0.0.1:12001,commands=kv -w write -n 1000000 -c 50 -P 16 --keyspace 10000 --value-size 100 --warmup 0s 2>&1 | tail -8
sleep 2
echo "RSS KiB after 1M SETs: $(ps -o rss= -p $(pgrep -f "$K" | tr '\n' ',' | sed 's/,$//') | tr '\n' ' ')"
echo "disk: $(du -sh $D | cut -f1)"
redis-cli -p 12001 RAFT INFO | grep -A1 -E "last_log_index|applied" | tr '\n' ' '; echo
# One follower killed and restarted.
pkill -9 -f "$K -n 2 "; sleep 0.2; : > $D/node2.log
t0=$(date +%s.%N); start 2 ""; ready 2; t1=$(date +%s.%N)
echo "follower restart to ready: $(echo "$t1 - $t0" | bc) s"
# The whole cluster killed and restarted; time to a linearizable read.
pkill -9 -f "$K"; sleep 0.3; for i in 1 2 3; do : > $D/node$i.log; done
t0=$(date +%s.%N); for i in 1 2 3; do start $i ""; done
until [ "$(redis-cli -c -p 12001 GET bench:0001 2>/dev/null | wc -c)" -gt 50 ]; do sleep 0.02; done
t1=$(date +%s.%N)
echo "whole-cluster restart to a linearizable GET: $(echo "$t1 - $t0" | bc) s"
echo "RSS KiB after restart: $(ps -o rss= -p $(pgrep -f "$K" | tr '\n' ',' | sed 's/,$//') | tr '\n' ' ')"
pkill -f "$K"
