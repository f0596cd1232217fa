"""The in-flight bound: past it, answer 503 at once instead of queueing.

The server reads requests in event-loop turns: each turn, every readable socket is parsed and
its request queued; then the queued requests run one after the other (the model is computed
inline: a few microseconds, no await). A request that finds ``limit`` requests of its turn
ahead of it is refused, so the wait before any admitted request is bounded by about ``limit``
service times instead of growing with the overload.

Answers are not deferred to a later turn (micro-batching): measured here at 5,600 RPS open
loop, deferring each answer by one turn raised p95 from 1 ms to 5-34 ms for no CPU saving.
"""

from __future__ import annotations

import asyncio


class Overloaded(Exception):
    """The in-flight bound is reached: answer 503 with Retry-After."""


class InFlightLimit:
    def __init__(self, limit: int):
        self.limit = limit
        self.in_turn = 0  # requests of the current loop turn seen so far
        self.refused = 0

    def admit(self) -> None:
        """Count this request in the current turn; raise Overloaded past the limit."""
        if self.in_turn == 0:
            # Runs after every request already queued in this turn: the turn is over.
            asyncio.get_running_loop().call_soon(self._end_turn)
        self.in_turn += 1
        if self.in_turn > self.limit:
            self.refused += 1
            raise Overloaded

    def _end_turn(self) -> None:
        self.in_turn = 0
