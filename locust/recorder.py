"""Per-request latency histograms of one Locust worker, written once a second.

Locust's own CSVs keep only cumulative percentiles and 10-second rolling windows; a step's own
percentiles need every request. Each worker counts its requests per (second, outcome, millisecond)
and appends the seconds that are over to latency/<host>-<pid>.csv: `ts,ok,ms,count`. `ms` is the
response time rounded up to a whole millisecond, so a percentile read from these rows is at most
1 ms above the true one. A killed worker loses at most its current second.
"""
import math
import os
import time
from collections import Counter

HEADER = "ts,ok,ms,count\n"


class LatencyRecorder:
    def __init__(self, path: str, clock=time.time):
        self.path = path
        self._clock = clock
        self._counts = Counter()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self._file = open(path, "a", encoding="ascii", buffering=1 << 16)
        if new:
            self._file.write(HEADER)
            self._file.flush()

    def on_request(self, response_time=None, exception=None, **_kwargs):
        """A Locust `request` event listener."""
        ms = int(math.ceil(response_time or 0.0))
        self._counts[(int(self._clock()), 0 if exception else 1, ms)] += 1

    def flush(self, final: bool = False):
        """Append every finished second (every second at all when final) and flush the file."""
        now = int(self._clock())
        done = sorted(key for key in self._counts if final or key[0] < now)
        if not done:
            return 0
        self._file.write("".join(f"{ts},{ok},{ms},{self._counts.pop((ts, ok, ms))}\n" for ts, ok, ms in done))
        self._file.flush()
        return len(done)

    def close(self):
        self.flush(final=True)
        self._file.close()
