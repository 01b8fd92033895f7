"""Drives a three-node uhaha cluster (the `typed` test service) with the
newest redis-py, as an application would: with its default settings (RESP3
since redis-py 8), with protocol=2, and with its RedisCluster client
started from a follower.

Usage: redis_py.py LEADER_ADDR FOLLOWER_ADDR
Exits non-zero, with the failed check on stderr, if anything is off.
"""

import sys

import redis
from redis.cluster import RedisCluster
from checks import check


def expect_error(call, text):
    """Runs `call` and checks that it fails with a Redis error containing `text`."""
    try:
        call()
    except redis.ResponseError as e:
        check(text in str(e), f"error {e!r} lacks {text!r}")
        return
    raise AssertionError(f"no error, expected one with {text!r}")


def host_port(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def standalone(leader, follower, protocol):
    """SET/GET, pipelines, typed replies, errors, INFO and CLIENT through a
    plain client with the given protocol (None: redis-py's default)."""
    options = {} if protocol is None else {"protocol": protocol}
    host, port = host_port(leader)
    r = redis.Redis(host=host, port=port, client_name="interop", **options)
    resp = 3 if protocol in (None, 3) else 2
    tag = f"p{resp}"

    check(r.ping(), "PING")
    check(r.set(f"{tag}:k", "v") is True, "SET")
    check(r.get(f"{tag}:k") == b"v", "GET")
    check(r.get(f"{tag}:missing") is None, "GET of a missing key")

    base = r.incrby(f"{tag}:n", 0)
    pipe = r.pipeline(transaction=False)
    for _ in range(100):
        pipe.incrby(f"{tag}:n", 1)
    pipe.set(f"{tag}:p", "x").get(f"{tag}:p").delete(f"{tag}:p", f"{tag}:none")
    results = pipe.execute()
    expected = list(range(base + 1, base + 101))
    check(results[:100] == expected, f"pipelined INCRBY: {results[:5]}...")
    check(results[100:] == [True, b"x", 1], f"pipelined SET/GET/DEL: {results[100:]}")

    ratio = r.execute_command("RATIO", 1, 4)
    check(ratio == (0.25 if resp == 3 else b"0.25"), f"RATIO in RESP{resp}: {ratio!r}")
    counters = r.execute_command("COUNTERS")
    if resp == 2:
        check(isinstance(counters, list), f"COUNTERS is a flat array in RESP2: {counters!r}")
        counters = dict(zip(counters[::2], counters[1::2]))
    check(counters.get(f"{tag}:n".encode()) == base + 100, f"COUNTERS: {counters!r}")

    expect_error(lambda: r.incrby(f"{tag}:n", "x"), "value is not an integer")
    expect_error(lambda: r.execute_command("NOPE", "a"), "unknown command 'NOPE'")
    expect_error(lambda: r.execute_command("GET"), "wrong number of arguments for 'get'")
    # An error in a pipeline is that command's result; the others go on.
    pipe = r.pipeline(transaction=False)
    pipe.incrby(f"{tag}:n", "x").get(f"{tag}:k")
    mixed = pipe.execute(raise_on_error=False)
    check(isinstance(mixed[0], redis.ResponseError) and mixed[1] == b"v", f"mixed pipeline: {mixed!r}")

    info = r.info()
    check(info["role"] == "master", f"INFO role: {info.get('role')}")
    check(info["redis_version"] == "7.2.0", f"INFO redis_version: {info.get('redis_version')}")
    check(r.info("raft")["state"] == "Leader", "INFO raft")
    client = r.client_info()
    check(str(client["resp"]) == str(resp), f"CLIENT INFO resp: {client}")
    check(client["name"] == "interop", f"CLIENT INFO name: {client}")
    check(client["lib-name"].startswith("redis-py"), f"CLIENT INFO lib-name: {client}")
    check(any(c["name"] == "interop" for c in r.client_list()), "CLIENT LIST")
    check(r.client_getname() in ("interop", b"interop"), "CLIENT GETNAME")

    fhost, fport = host_port(follower)
    f = redis.Redis(host=fhost, port=fport, **options)
    try:
        f.set(f"{tag}:k", "w")
        raise AssertionError("a follower took a write")
    except redis.exceptions.MovedError as e:
        check((e.slot_id, e.node_addr) == (0, host_port(leader)), f"MOVED {e}")
    check(f.info("replication")["role"] == "slave", "a follower is a replica")
    print(f"redis-py {redis.__version__} standalone, RESP{resp}: ok")


def cluster(leader, follower, protocol):
    """A RedisCluster client started from a follower finds the leader from
    CLUSTER SLOTS and COMMAND and sends everything there."""
    options = {} if protocol is None else {"protocol": protocol}
    host, port = host_port(follower)
    rc = RedisCluster(host=host, port=port, **options)
    primaries = [n.name for n in rc.get_primaries()]
    check(primaries == [leader], f"primaries {primaries}, leader {leader}")
    tag = f"c{protocol or 'd'}"
    check(rc.set(f"{tag}:k", "v") is True, "cluster SET")
    check(rc.get(f"{tag}:k") == b"v", "cluster GET")
    base = rc.incrby(f"{tag}:n", 0)
    check(rc.incrby(f"{tag}:n", 5) == base + 5, "cluster INCRBY")
    pipe = rc.pipeline()
    for i in range(20):
        pipe.set(f"{tag}:{i}", i)
    for i in range(20):
        pipe.get(f"{tag}:{i}")
    results = pipe.execute()
    check(results == [True] * 20 + [str(i).encode() for i in range(20)], f"cluster pipeline: {results}")
    expect_error(lambda: rc.incrby(f"{tag}:n", "x"), "value is not an integer")
    check(rc.delete(f"{tag}:k") == 1, "cluster DEL")
    check(rc.get(f"{tag}:k") is None, "cluster GET after DEL")
    rc.close()
    print(f"redis-py {redis.__version__} RedisCluster from a follower, protocol={protocol}: ok")


def main():
    leader, follower = sys.argv[1], sys.argv[2]
    for protocol in (None, 2, 3):
        standalone(leader, follower, protocol)
    for protocol in (None, 2):
        cluster(leader, follower, protocol)


if __name__ == "__main__":
    main()
