"""Admission control and micro-batching of concurrent requests.

Requests parsed in the same event-loop turn are queued and answered together by one callback
scheduled at the end of that turn. The queue is what makes the in-flight bound real: a handler
that computed inline would never see more than one request in flight while hundreds wait in
socket buffers. Under overload, each turn reads more requests than the bound allows; the
excess gets 503 at once instead of queueing, so latency stays bounded by one turn.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Sequence


class Overloaded(Exception):
    """The in-flight bound is reached: answer 503 with Retry-After."""


class MicroBatcher:
    def __init__(self, predict_rows: Callable[[Sequence], list], max_in_flight: int):
        self._predict_rows = predict_rows
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._queue: list[tuple[Sequence, asyncio.Future]] = []

    async def predict(self, rows: Sequence) -> list:
        """Answers for ``rows`` (one request: a single row or a batch), or raise Overloaded."""
        if self.in_flight >= self.max_in_flight:
            raise Overloaded
        future = asyncio.get_running_loop().create_future()
        if not self._queue:
            future.get_loop().call_soon(self._flush)
        self._queue.append((rows, future))
        self.in_flight += 1
        try:
            return await future
        finally:
            self.in_flight -= 1

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        for rows, future in queue:
            if future.done():  # cancelled: the client went away
                continue
            try:
                future.set_result(self._predict_rows(rows))
            except Exception as exc:  # surfaces in the request's own handler
                future.set_exception(exc)
