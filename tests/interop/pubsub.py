"""Pub/sub across a kvdb cluster: redis-py's pubsub() (RESP2 and RESP3) and
redis-cli SUBSCRIBE (RESP2 and RESP3) on a follower receive what PUBLISH
sends through the leader, and PUBLISH counts the leader's own subscribers.

Usage: pubsub.py LEADER_ADDR FOLLOWER_ADDR
Exits non-zero, with the failed check on stderr, if anything is off.
"""

import os
import select
import subprocess
import sys
import time

import redis
from checks import TIMEOUT, check


def connect(addr, **options):
    host, port = addr.rsplit(":", 1)
    return redis.Redis(host=host, port=int(port), socket_timeout=TIMEOUT, **options)


def next_message(pubsub, kind):
    """The next message of `kind` ("subscribe", "message", ...), skipping
    none: anything else first is a failure."""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message is None:
            continue
        check(message["type"] == kind, f"expected a {kind}, got {message}")
        return message
    raise AssertionError(f"no {kind} within {TIMEOUT} s")


def redis_py(leader, follower, protocol):
    remote = connect(follower, protocol=protocol).pubsub()
    remote.subscribe("news")
    check(next_message(remote, "subscribe")["channel"] == b"news", "subscribe")
    remote.psubscribe("sport.*")
    check(next_message(remote, "psubscribe")["data"] == 2, "two subscriptions")
    local = connect(leader, protocol=protocol).pubsub()
    local.subscribe("news")
    next_message(local, "subscribe")

    publisher = connect(leader, protocol=protocol)
    received = publisher.publish("news", f"hello {protocol}")
    check(received == 1, f"PUBLISH counts the leader's subscriber: {received}")
    for pubsub in (remote, local):
        message = next_message(pubsub, "message")
        check(message["data"] == f"hello {protocol}".encode(), f"message: {message}")
    check(publisher.publish("sport.chess", "mate") == 0, "nobody on the leader")
    message = next_message(remote, "pmessage")
    check(
        (message["pattern"], message["channel"], message["data"])
        == (b"sport.*", b"sport.chess", b"mate"),
        f"pmessage: {message}",
    )
    remote.unsubscribe("news")
    check(next_message(remote, "unsubscribe")["data"] == 1, "one left")
    remote.close()
    local.close()
    print(f"redis-py pubsub, protocol {protocol}: ok")


def read_lines(proc, wanted):
    """Reads redis-cli's output until it holds the lines `wanted` in a row."""
    out = b""
    deadline = time.time() + TIMEOUT
    fd = proc.stdout.fileno()
    while time.time() < deadline:
        if "\n".join(wanted) in out.decode(errors="replace"):
            return
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            check(chunk, f"redis-cli ended early: {out!r}")
            out += chunk
    raise AssertionError(f"redis-cli never printed {wanted}: {out!r}")


def redis_cli(leader, follower, resp):
    host, port = follower.rsplit(":", 1)
    proc = subprocess.Popen(
        ["redis-cli", resp, "-h", host, "-p", port, "SUBSCRIBE", "alerts"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        read_lines(proc, ["subscribe", "alerts", "1"])
        connect(leader).publish("alerts", f"fire {resp}")
        read_lines(proc, ["message", "alerts", f"fire {resp}"])
    finally:
        proc.kill()
        proc.wait()
    print(f"redis-cli {resp} SUBSCRIBE: ok")


def main():
    leader, follower = sys.argv[1], sys.argv[2]
    for protocol in (2, 3):
        redis_py(leader, follower, protocol)
    for resp in ("-2", "-3"):
        redis_cli(leader, follower, resp)


if __name__ == "__main__":
    main()
