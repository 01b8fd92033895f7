#!/usr/bin/env python3
"""Loads N keys of 100-byte values into a kvdb-style node with SET, over 8
connections with pipelines of 64, and prints the payload bytes (keys and
values) and the seconds it took.

usage: load_keys.py PORT N random|repeat
  random  incompressible values (os.urandom)
  repeat  redis-benchmark's kind of value: one byte repeated
"""
import os, socket, sys, threading, time

port, n, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
payload = [0] * 8


def command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def worker(w, start, stop):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(120)
    buf = b""
    for i in range(start, stop, 64):
        batch = []
        for j in range(i, min(i + 64, stop)):
            key = b"key:%012d" % j
            value = os.urandom(100) if kind == "random" else b"x" * 100
            payload[w] += len(key) + len(value)
            batch.append(command(b"SET", key, value))
        s.sendall(b"".join(batch))
        want = len(batch)
        while want:
            while b"\r\n" not in buf:
                buf += s.recv(1 << 16)
            line, buf = buf.split(b"\r\n", 1)
            if not line.startswith(b"+"):
                sys.exit("unexpected reply %r" % line)
            want -= 1


t = time.time()
per = n // 8
threads = [
    threading.Thread(target=worker, args=(w, w * per, n if w == 7 else (w + 1) * per))
    for w in range(8)
]
for th in threads:
    th.start()
for th in threads:
    th.join()
print(sum(payload), "%.1f" % (time.time() - t))
