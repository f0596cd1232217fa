"""Helpers for the report's tests (a unique module name: tests of other parts may have their own)."""
import math

import numpy as np


def variant(analysis: dict, name: str) -> dict:
    return next(v for v in analysis["variants"] if v["name"] == name)


def step(analysis: dict, name: str, users: int) -> dict:
    return next(s for s in variant(analysis, name)["steps"] if s["users"] == users)


def window_requests(requests, start_ts: float, planned_end_ts: float, warmup: float = 10.0):
    """The raw requests a step's measured window holds: whole seconds s with
    start + warmup <= s and s + 1 <= planned end."""
    second = np.floor(requests["t"])
    first, stop = math.ceil(start_ts + warmup), math.floor(planned_end_ts)
    return requests[(second >= first) & (second < stop)], stop - first
