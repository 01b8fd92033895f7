# A 3-node kvdb cluster for the scripts beside this file, sourced by them.
# They set K (the node binary), D (the data and log directory) and PORT
# (the ports' prefix: node i listens on 127.0.0.1:${PORT}i).

# Starts node $1 with extra flags $2, appending to $D/node$1.log.
start() { ( $K -n $1 -a 127.0.0.1:${PORT}$1 -d $D/$1 $2 >> $D/node$1.log 2>&1 & ) }
# Waits until node $1 is ready for commands; stops the script if it failed
# to start.
ready() {
    until grep -q "ready for commands" $D/node$1.log 2>/dev/null; do
        if grep -q " ERROR " $D/node$1.log 2>/dev/null; then
            echo "node $1 did not start: $(grep ' ERROR ' $D/node$1.log | tail -1)" >&2; exit 1
        fi
        sleep 0.02
    done
}
# The process ids of the three nodes.
pids() { for i in 1 2 3; do pgrep -f "$K -n $i -a 127.0.0.1:${PORT}$i"; done | tr '\n' ' '; }
# Each node's resident memory, MiB.
rss() { for p in $(pids); do echo -n "$(( $(awk '/^VmRSS/ {print $2}' /proc/$p/status) / 1024 )) "; done; }
# Stops every node, with signal $1 (TERM unless given), and waits until
# they are gone (killing what is left after 10 s), so that their ports and
# files are free for whatever comes next.
stop_all() {
    local nodes="$K -n [123] -a 127.0.0.1:${PORT}"
    pkill -${1:-TERM} -f "$nodes" || return 0
    for _ in $(seq 500); do pgrep -f "$nodes" >/dev/null || return 0; sleep 0.02; done
    pkill -9 -f "$nodes"
}

# Node 1 bootstraps, nodes 2 and 3 join it.
form() {
    stop_all 2>/dev/null; rm -rf "$D"; mkdir -p "$D"
    start 1 ""; ready 1
    start 2 "-j 127.0.0.1:${PORT}1"; ready 2
    start 3 "-j 127.0.0.1:${PORT}1"; ready 3
}

# kill -9 of one follower, then of the whole cluster: the time each takes
# to be back, the follower to ready and the cluster to a linearizable GET
# of key $1 (a value of more than 50 bytes).
restart_times() {
    pkill -9 -f "$K -n 2 -a"; sleep 0.2; : > $D/node2.log
    local t0=$(date +%s.%N); start 2 ""; ready 2; local t1=$(date +%s.%N)
    echo "follower restart to ready: $(echo "$t1 - $t0" | bc) s"
    stop_all 9; sleep 0.3; for i in 1 2 3; do : > $D/node$i.log; done
    t0=$(date +%s.%N); for i in 1 2 3; do start $i ""; done
    until [ "$(redis-cli -c -p ${PORT}1 GET "$1" 2>/dev/null | wc -c)" -gt 50 ]; do sleep 0.02; done
    t1=$(date +%s.%N)
    echo "whole-cluster restart to a linearizable GET: $(echo "$t1 - $t0" | bc) s"
}
