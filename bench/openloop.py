"""Open-loop HTTP load at a fixed arrival rate (wrk2's idea, in asyncio).

Request i is due at start + i / rate whatever happened before; its latency is measured from
that due time, so a slow server cannot slow the generator down and hide its own queueing
(no coordinated omission). A due request waits in the generator if all keep-alive connections
are busy; that wait counts in its latency. Prints one JSON object.

    python bench/openloop.py --url http://127.0.0.1:8000/predict --rate 4000 --duration 10 \
        --body-file body.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import resource
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit


class Connection(asyncio.Protocol):
    def __init__(self, generator: "OpenLoop"):
        self.generator = generator
        self.transport = None
        self.buffer = b""
        self.due = 0.0

    def connection_made(self, transport):
        self.transport = transport
        self.generator.ready(self)

    def send(self, due: float) -> None:
        self.due = due
        self.transport.write(self.generator.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length = 0
            marker = head.lower().find(b"content-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15:line_end if line_end > 0 else len(head)])
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            status = int(head[9:12])
            self.buffer = self.buffer[end:]
            self.generator.done(self, status)

    def connection_lost(self, exc):
        self.generator.lost(self)


class OpenLoop:
    def __init__(self, url: str, body: bytes, rate: float, duration: float, connections: int,
                 drain: float = 10.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.request = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.rate, self.duration, self.n_connections, self.drain = rate, duration, connections, drain
        self.idle: collections.deque[Connection] = collections.deque()
        self.backlog: collections.deque[float] = collections.deque()
        self.latencies: list[float] = []
        self.by_status: dict[int, list[float]] = collections.defaultdict(list)
        self.statuses: collections.Counter = collections.Counter()
        self.sent = 0
        self.total = int(rate * duration)
        self.lost_connections = 0
        self.finished = asyncio.Event()

    def ready(self, connection: Connection) -> None:
        if self.backlog:
            connection.send(self.backlog.popleft())
        else:
            self.idle.append(connection)

    def done(self, connection: Connection, status: int) -> None:
        latency = time.perf_counter() - connection.due
        self.latencies.append(latency)
        self.by_status[status].append(latency)
        self.statuses[status] += 1
        if len(self.latencies) == self.sent and self.sent >= self.total:
            self.finished.set()
        self.ready(connection)

    def lost(self, connection: Connection) -> None:
        self.lost_connections += 1
        if connection in self.idle:
            self.idle.remove(connection)

    async def run(self) -> dict:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.create_connection(lambda: Connection(self), self.host, self.port)
                               for _ in range(self.n_connections)))
        interval = 1.0 / self.rate
        start = time.perf_counter()
        cpu_start = time.process_time()
        while self.sent < self.total:
            now = time.perf_counter()
            while self.sent < self.total and start + self.sent * interval <= now:
                due = start + self.sent * interval
                self.sent += 1
                if self.idle:
                    self.idle.popleft().send(due)  # FIFO: no connection idles into the keep-alive timeout
                else:
                    self.backlog.append(due)
            await asyncio.sleep(max(0.0, start + self.sent * interval - time.perf_counter()))
        send_end = time.perf_counter()
        try:
            await asyncio.wait_for(self.finished.wait(), timeout=self.drain)
        except asyncio.TimeoutError:
            pass
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        self.latencies.sort()

        def pct(p: float, latencies: list[float] = self.latencies) -> float | None:
            if not latencies:
                return None
            return 1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

        by_status = {}
        for status, latencies in sorted(self.by_status.items()):
            latencies.sort()
            by_status[str(status)] = {f"p{p}_ms": pct(p, latencies) for p in (50, 95, 99, 100)}

        ok = sum(count for status, count in self.statuses.items() if 200 <= status < 300)
        return {
            "target_rate": self.rate, "sent": self.sent, "completed": len(self.latencies),
            "ok": ok, "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "achieved_rate": len(self.latencies) / elapsed, "send_seconds": send_end - start,
            "elapsed_seconds": elapsed, "ok_rate": ok / elapsed,
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "max_ms": pct(100),
            "latency_by_status": by_status,
            "generator_cpu": cpu / elapsed, "lost_connections": self.lost_connections,
        }


def command(url: str, rate: float, duration: float, body_file, connections: int = 256,
            drain: float = 10.0) -> list[str]:
    """The argv running this generator in a process of its own (its CPU apart from the caller's)."""
    return [sys.executable, __file__, "--url", url, "--rate", f"{rate:.1f}", "--duration", f"{duration:g}",
            "--connections", str(connections), "--body-file", str(body_file), "--drain", f"{drain:g}"]


def run(url: str, rate: float, duration: float, body_file, connections: int = 256, drain: float = 10.0) -> dict:
    """Run the generator in a child process, bounded in time; its JSON result."""
    out = subprocess.run(command(url, rate, duration, body_file, connections, drain), capture_output=True,
                         text=True, timeout=duration + drain + 60, check=True).stdout
    return json.loads(out)


def wait_healthy(url: str, seconds: float = 60.0, path: str = "/health") -> bool:
    """Poll GET url+path until it answers 200 (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending (bounded)")
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--drain", type=float, default=10.0,
                        help="seconds to wait for the answers after the last send (bounded)")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 120:
        parser.error("--duration must be in (0, 120] seconds")
    if not 0 <= args.drain <= 120:
        parser.error("--drain must be in [0, 120] seconds")
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("load goes to the loopback interface only")
    with open(args.body_file, "rb") as handle:
        body = handle.read()
    generator = OpenLoop(args.url, body, args.rate, args.duration, args.connections, args.drain)
    result = asyncio.run(generator.run())
    result["generator_max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
