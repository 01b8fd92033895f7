#!/usr/bin/env bash
# What a 3-node kvdb cluster costs as its data grows: N keys of 100-byte
# values loaded with SET (8 connections, pipelines of 64, fsync on), then
# disk bytes written (all nodes, /proc/<pid>/io), snapshots taken, data
# directory and RSS per node after 10 s, a follower's restart to ready, and
# the whole cluster's restart to a linearizable GET.
#
#   bench/scripts/scale.sh N random|repeat [BIN]     (BIN: target/release/kvdb)
#
# Build first: cargo build --release -p kvdb. Ports 12101-12103.
set -u
cd "$(dirname "$0")/../.."
N=$1; VALUES=$2; K=${3:-./target/release/kvdb}; D=${TMPDIR:-/tmp}/uhaha-scale
pkill -f "$K -n [123] -a 127.0.0.1:1210" 2>/dev/null; rm -rf "$D"; mkdir -p "$D"
start() { ( $K -n $1 -a 127.0.0.1:1210$1 -d $D/$1 $2 >> $D/node$1.log 2>&1 & ) }
ready() { until grep -q "ready for commands" $D/node$1.log 2>/dev/null; do sleep 0.02; done; }
pids() { for i in 1 2 3; do pgrep -f "$K -n $i -a 127.0.0.1:1210$i"; done | tr '\n' ' '; }
written() { local s=0; for p in $(pids); do s=$((s + $(awk '/^write_bytes/ {print $2}' /proc/$p/io))); done; echo $s; }
rss() { for p in $(pids); do echo -n "$(( $(awk '/^VmRSS/ {print $2}' /proc/$p/status) / 1024 )) "; done; }
start 1 ""; ready 1
start 2 "-j 127.0.0.1:12101"; ready 2
start 3 "-j 127.0.0.1:12101"; ready 3
before=$(written)
read -r payload seconds < <(python3 bench/scripts/load_keys.py 12101 "$N" "$VALUES")
after=$(written)
sleep 10
echo "keys: $N ($VALUES values), loaded in $seconds s ($(( N * 10 / ${seconds/./} )) /s)"
echo "disk written, 3 nodes: $(( (after - before) >> 20 )) MiB = $(echo "scale=1; ($after - $before) / 3 / $payload" | bc)x the payload per node"
echo "snapshots taken per node: $(for i in 1 2 3; do grep -c 'saved (' $D/node$i.log | tr '\n' ' '; done)"
echo "data directory per node, MiB: $(for i in 1 2 3; do du -sm $D/$i | cut -f1 | tr '\n' ' '; done)"
echo "RSS per node after 10 s, MiB: $(rss)"
pkill -9 -f "$K -n 2 -a"; sleep 0.2; : > $D/node2.log
t0=$(date +%s.%N); start 2 ""; ready 2; t1=$(date +%s.%N)
echo "follower restart to ready: $(echo "$t1 - $t0" | bc) s"
pkill -9 -f "$K -n [123] -a 127.0.0.1:1210"; sleep 0.3; for i in 1 2 3; do : > $D/node$i.log; done
t0=$(date +%s.%N); for i in 1 2 3; do start $i ""; done
until [ "$(redis-cli -c -p 12101 GET key:000000000000 2>/dev/null | wc -c)" -gt 50 ]; do sleep 0.02; done
t1=$(date +%s.%N)
echo "whole-cluster restart to a linearizable GET: $(echo "$t1 - $t0" | bc) s"
pkill -f "$K -n [123] -a 127.0.0.1:1210"
