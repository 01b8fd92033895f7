"""Drives redis-cli in RESP3 mode (`-3`) against a uhaha cluster (the
`typed` test service): commands and typed replies, `-c` following MOVED
from a follower, and, in an interactive session on a pseudo-terminal,
`help <user command>` and the argument hints, which redis-cli builds from
the node's COMMAND DOCS.

Usage: redis_cli.py LEADER_ADDR FOLLOWER_ADDR
Exits non-zero, with the failed check on stderr, if anything is off.
"""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from checks import TIMEOUT, check


def cli(addr, *args):
    """Runs one redis-cli -3 command and returns its output without the
    trailing newline."""
    host, port = addr.rsplit(":", 1)
    out = subprocess.run(
        ["redis-cli", "-3", "-h", host, "-p", port, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return out.stdout.rstrip("\n")


def commands(leader, follower):
    check(cli(leader, "SET", "cli:k", "v") == "OK", "SET")
    check(cli(leader, "GET", "cli:k") == "v", "GET")
    check(cli(leader, "RATIO", "1", "4") == "0.25", "a RESP3 double")
    check(cli(leader, "FLAG", "yes") == "(true)", "a RESP3 boolean")
    hello = cli(leader, "HELLO", "3").splitlines()
    check("proto 3" in hello and "server redis" in hello, f"HELLO 3: {hello}")
    check(
        cli(leader, "INCRBY", "cli:n", "x") == "ERR value is not an integer or out of range",
        "an error reply",
    )
    check(cli(follower, "SET", "cli:k", "w").startswith("MOVED 0 "), "a follower redirects")
    check(cli(follower, "-c", "SET", "cli:k", "w") == "OK", "-c follows MOVED")
    check(cli(leader, "GET", "cli:k") == "w", "the redirected write landed")
    info = cli(leader, "INFO", "server")
    check(info.startswith("# Server") and "redis_version:" in info, f"INFO: {info[:80]}")
    print("redis-cli -3 commands: ok")


class Terminal:
    """An interactive redis-cli on a pseudo-terminal."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.prompt = f"{addr}> ".encode()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            # A terminal size, or linenoise asks the terminal where its
            # cursor is and waits for an answer.
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
            os.execvp("redis-cli", ["redis-cli", "-3", "-h", host, "-p", port])
        self.seen = b""

    def read_until(self, needle):
        """Reads the screen until `needle` shows, up to a deadline. Colours
        and cursor moves are left out before looking."""
        deadline = time.monotonic() + TIMEOUT
        while needle not in self.seen:
            left = deadline - time.monotonic()
            check(left > 0, f"no {needle!r} on the screen: {self.seen[-400:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self.seen += os.read(self.fd, 4096)
                self.seen = re.sub(rb"\x1b\[[0-9;]*[A-Za-z]", b"", self.seen)
        self.seen = self.seen.split(needle, 1)[1]

    def type_at_prompt(self, text):
        """Types `text` once redis-cli shows its prompt. linenoise switches
        the terminal to raw mode with TCSAFLUSH before it prints the prompt,
        which throws away whatever was typed since the last Enter: a line
        typed before the prompt shows can be lost."""
        self.read_until(self.prompt)
        self.type_more(text)

    def type_more(self, text):
        """Types `text` into the line being edited."""
        os.write(self.fd, text.encode())

    def close(self):
        """Quits redis-cli at its next prompt and waits for it to exit."""
        self.type_at_prompt("quit\r")
        deadline = time.monotonic() + TIMEOUT
        while self.pid is not None:
            check(time.monotonic() < deadline, "redis-cli did not quit after `quit`")
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = None
                break
            # Drain the screen so that redis-cli never blocks on a full pty.
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    os.read(self.fd, 4096)
                except OSError:
                    pass

    def kill(self):
        """Kills redis-cli if it still runs, and releases the terminal."""
        if self.pid is not None:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
            self.pid = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def interactive(leader):
    term = Terminal(leader)
    try:
        term.type_at_prompt("help incrby\r")
        term.read_until(b"INCRBY key by")
        term.read_until(b"summary: Adds to a counter and returns the new value.")
        # Typing a command's name shows its arguments as a hint.
        term.type_at_prompt("ratio ")
        term.read_until(b"ratio a b")
        term.type_more("1 8\r")
        term.read_until(b"(double) 0.125")
        term.close()
    finally:
        term.kill()
    print("redis-cli -3 interactive help and hints: ok")


def main():
    leader, follower = sys.argv[1], sys.argv[2]
    version = subprocess.run(["redis-cli", "--version"], capture_output=True, text=True).stdout
    print(version.strip())
    commands(leader, follower)
    interactive(leader)


if __name__ == "__main__":
    main()
