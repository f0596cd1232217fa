"""Per-request latency histograms and error tallies of one Locust worker, written once a second.

Locust's own CSVs keep only cumulative percentiles and 10-second rolling windows; a step's own
percentiles need every request. Each worker counts its requests per (second, outcome, millisecond)
and appends the seconds that are over to latency/<host>-<pid>.csv: `ts,ok,ms,count`. `ms` is the
response time rounded up to a whole millisecond, so a percentile read from these rows is at most
1 ms above the true one. A killed worker loses at most its current second.

Failed requests are also counted per (second, kind, status) in errors/<host>-<pid>.csv:
`ts,kind,status,count`, kind `connection` (no HTTP answer: refused, reset, timed out; status 0) or
`http` (a non-2xx answer, with its status), so the report can tell a broken load path from a
service answering errors (docs/load-path.md).
"""
import math
import os
import time
from collections import Counter

HEADER = "ts,ok,ms,count\n"
ERRORS_HEADER = "ts,kind,status,count\n"


class _SecondsFile:
    """An append-only CSV of per-second counts: rows for seconds that are over are written."""

    def __init__(self, path: str, header: str):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self.counts = Counter()
        self.file = open(path, "a", encoding="ascii", buffering=1 << 16)
        if new:
            self.file.write(header)
            self.file.flush()

    def flush(self, now: int, final: bool) -> int:
        done = sorted(key for key in self.counts if final or key[0] < now)
        if done:
            self.file.write("".join(",".join(map(str, key)) + f",{self.counts.pop(key)}\n" for key in done))
            self.file.flush()
        return len(done)


class LatencyRecorder:
    def __init__(self, path: str, clock=time.time, errors_path: str | None = None):
        self._clock = clock
        self._latency = _SecondsFile(path, HEADER)
        if errors_path is None:  # latency/<name>.csv -> errors/<name>.csv beside it
            folder, name = os.path.split(path)
            errors_path = os.path.join(os.path.dirname(folder), "errors", name)
        self._errors = _SecondsFile(errors_path, ERRORS_HEADER)

    def on_request(self, response_time=None, exception=None, response=None, **_kwargs):
        """A Locust `request` event listener."""
        second = int(self._clock())
        ms = int(math.ceil(response_time or 0.0))
        self._latency.counts[(second, 0 if exception else 1, ms)] += 1
        if exception:
            status = int(getattr(response, "status_code", 0) or 0)
            self._errors.counts[(second, "http" if status else "connection", status)] += 1

    def flush(self, final: bool = False):
        """Append every finished second (every second at all when final) and flush the files;
        returns the latency rows written."""
        now = int(self._clock())
        self._errors.flush(now, final)
        return self._latency.flush(now, final)

    def close(self):
        self.flush(final=True)
        self._latency.file.close()
        self._errors.file.close()
