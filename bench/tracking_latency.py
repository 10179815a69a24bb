#!/usr/bin/env python3
"""Client-side caching figures: invalidation delay and "none lost" at a fixed write rate.

    bench/tracking_latency.py --port 6379 [--rounds 5000] [--rate 10000] [--seconds 5]

Two connections on loopback: a tracker (RESP3, CLIENT TRACKING ON, default mode) and a writer.

1. Delay: the tracker reads key k (GET, so the server remembers it), the writer SETs k; the
   delay is from the moment the writer has parsed its reply to the moment the tracker has parsed
   the `invalidate` push for k (both timestamps in this one process, so the figure includes the
   client's own parsing: an upper bound of the server's part). Median, p90, p99 over --rounds.
2. None lost: the tracker reads --rate x --seconds distinct keys (MGET in batches), then the
   writer writes each of them once, paced at --rate writes a second (batches every millisecond),
   while a thread counts the keys named by the invalidations; it must be every key, once.

Works against redis-server too, for comparison. Standard library only.
"""

import argparse
import socket
import statistics
import threading
import time


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *args):
        self.sock.sendall(encode(args))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return ("error", rest) if kind == b"-" else rest
        if kind in (b":",):
            return int(rest)
        if kind == b"_":
            return None
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2 :]
            return data
        if kind in (b"*", b">", b"~", b"%"):
            n = int(rest)
            if n < 0:
                return None
            count = n * 2 if kind == b"%" else n
            items = [self.read() for _ in range(count)]
            return ("push", items) if kind == b">" else items
        raise ValueError(f"unexpected frame {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.read()


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def is_invalidate(frame):
    return isinstance(frame, tuple) and frame[0] == "push" and frame[1][0] == b"invalidate"


def delay(port, rounds):
    tracker, writer = Conn(port), Conn(port)
    tracker.call("HELLO", 3)
    assert tracker.call("CLIENT", "TRACKING", "ON") == b"OK"
    delays = []
    for i in range(rounds):
        tracker.call("GET", "lat:k")
        writer.send("SET", "lat:k", i)
        writer.read()
        replied = time.perf_counter_ns()
        frame = tracker.read()
        arrived = time.perf_counter_ns()
        assert is_invalidate(frame) and frame[1][1] == [b"lat:k"], frame
        delays.append((arrived - replied) / 1000.0)
    delays.sort()
    return {
        "median_us": statistics.median(delays),
        "p90_us": delays[int(len(delays) * 0.9)],
        "p99_us": delays[int(len(delays) * 0.99)],
    }


def none_lost(port, rate, seconds):
    total = rate * seconds
    keys = [b"nl:%d" % i for i in range(total)]
    tracker, writer = Conn(port), Conn(port)
    tracker.call("HELLO", 3)
    assert tracker.call("CLIENT", "TRACKING", "ON") == b"OK"
    for start in range(0, total, 1000):
        tracker.call("MGET", *keys[start : start + 1000])
    seen = {}
    done = threading.Event()

    def count():
        while len(seen) < total:
            frame = tracker.read()
            if is_invalidate(frame):
                for k in frame[1][1]:
                    seen[k] = seen.get(k, 0) + 1
        done.set()

    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    batch = max(1, rate // 1000)  # one batch a millisecond
    began = time.perf_counter()
    for n, start in enumerate(range(0, total, batch)):
        chunk = keys[start : start + batch]
        writer.send_raw(b"".join(encode(("SET", k, b"v")) for k in chunk))
        for _ in chunk:
            writer.read()
        pause = began + (n + 1) * batch / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    elapsed = time.perf_counter() - began
    done.wait(timeout=10)
    twice = sum(1 for c in seen.values() if c > 1)
    return {
        "writes": total,
        "achieved_rate": round(total / elapsed),
        "invalidated": len(seen),
        "lost": total - len(seen),
        "reported_twice": twice,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=6379)
    p.add_argument("--rounds", type=int, default=5000)
    p.add_argument("--rate", type=int, default=10000)
    p.add_argument("--seconds", type=int, default=5)
    a = p.parse_args()
    d = delay(a.port, a.rounds)
    print(
        "invalidation delay after the write's reply: median %.1f us, p90 %.1f us, p99 %.1f us (%d rounds)"
        % (d["median_us"], d["p90_us"], d["p99_us"], a.rounds)
    )
    n = none_lost(a.port, a.rate, a.seconds)
    print(
        "none lost: %(writes)d writes at %(achieved_rate)d/s, %(invalidated)d keys invalidated, "
        "%(lost)d lost, %(reported_twice)d reported twice" % n
    )


if __name__ == "__main__":
    main()
