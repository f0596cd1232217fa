"""How sure a verdict is, and the search answer's statement of both sides of its bracket.

"c passes; c - resolution fails on <SLO> (measured: ... | predicted: busy X cores)": each side
with its confidence: the one-sided binomial test of p95 (collect/compute.py judge_p95) and a
Clopper-Pearson bound of the failure rate, and a Student t-interval over the window's 1-second
samples for CPU and memory. Pure functions on a step's figures (compute.step_results' dicts).
"""
from __future__ import annotations

import math
from typing import Sequence

from scipy import stats

SAMPLE_CONFIDENCE = 0.95   # the t-intervals of CPU and memory, the failure rate's bound
SLO_NAMES = {"failure_rate": "failure rate", "p95_ms": "p95", "cpu_pct": "CPU", "mem_pct": "memory"}


def t_interval(values: Sequence[float], confidence: float = SAMPLE_CONFIDENCE) -> dict | None:
    """Mean of 1-s samples with its two-sided t-interval (mean +- t(n-1) x sd / sqrt(n));
    None with fewer than two samples."""
    xs = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    n = len(xs)
    if n < 2:
        return None
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def rate_upper(k: int, n: int, confidence: float = SAMPLE_CONFIDENCE) -> float | None:
    """One-sided Clopper-Pearson upper bound of a rate seen k times in n."""
    if n <= 0:
        return None
    return 1.0 if k >= n else float(stats.beta.ppf(confidence, k + 1, n - k))


def rate_lower(k: int, n: int, confidence: float = SAMPLE_CONFIDENCE) -> float | None:
    """One-sided Clopper-Pearson lower bound of a rate seen k times in n."""
    if n <= 0:
        return None
    return 0.0 if k <= 0 else float(stats.beta.ppf(1 - confidence, k, n - k + 1))


def _pct(x: float) -> str:
    return f"{x:.0%}" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x:.1%}"


def _sample_text(label: str, ci: dict | None, value: float | None, limit: float, passing: bool) -> str:
    if value is None:
        return f"{label} not measured"
    if ci is None:
        return f"{label} {value:.1f} % (too few 1-s samples for an interval)"
    conf = f"{SAMPLE_CONFIDENCE:.0%}"
    if passing:
        return (f"{label} {ci['mean']:.1f} % < {limit:g} % ({conf} t-interval {ci['low']:.1f}-{ci['high']:.1f} "
                f"over {ci['n']} 1-s samples)")
    return (f"{label} {ci['mean']:.1f} % >= {limit:g} % ({conf} t-interval {ci['low']:.1f}-{ci['high']:.1f} "
            f"over {ci['n']} 1-s samples)")


def _confident(p: float) -> str:
    return "over 99.99 % confident" if p < 1e-4 else f"{1 - p:.2%} confident"


def _p95_text(step: dict, limit: float, passing: bool) -> str:
    test = step.get("p95_test")
    p95 = step.get("p95_ms")
    shown = "—" if p95 is None else f"{p95:.0f}"
    if test is None:
        return f"p95 {shown} ms"
    if passing:
        return (f"p95 {shown} ms < {limit:g} ms ({test.over} of {test.n} requests over; binomial "
                f"p = {test.p_pass:.2g}, {_confident(test.p_pass)})")
    return (f"p95 {shown} ms >= {limit:g} ms ({test.over} of {test.n} requests over; binomial "
            f"p = {test.p_fail:.2g}, {_confident(test.p_fail)})")


def _failure_text(step: dict, limit: float, passing: bool) -> str:
    n, k = int(step.get("requests") or 0), int(step.get("failed") or 0)
    if n == 0:
        return "failure rate not measured (no requests)"
    conf = f"{SAMPLE_CONFIDENCE:.0%}"
    if passing:
        return (f"failures {k / n:.2%} < {_pct(limit)} ({k} of {n}; {conf} upper bound "
                f"{rate_upper(k, n):.2%})")
    return f"failures {k / n:.2%} >= {_pct(limit)} ({k} of {n}; {conf} lower bound {rate_lower(k, n):.2%})"


def passes_text(step: dict, slo: dict) -> str:
    """Every SLO figure of a passing step, each with its confidence."""
    return "; ".join([
        _failure_text(step, slo["failure_rate_max"], True),
        _p95_text(step, slo["p95_ms_max"], True),
        _sample_text("CPU", step.get("cpu_pct_ci"), step.get("cpu_pct"), slo["cpu_pct_max"], True),
        _sample_text("memory", step.get("mem_pct_ci"), step.get("mem_pct"), slo["mem_pct_max"], True),
    ])


def fails_text(step: dict, key: str, slo: dict) -> str:
    """The broken SLO `key` of a failing step, with its confidence."""
    if key == "failure_rate":
        return _failure_text(step, slo["failure_rate_max"], False)
    if key == "p95_ms":
        return _p95_text(step, slo["p95_ms_max"], False)
    if key == "cpu_pct":
        return _sample_text("CPU", step.get("cpu_pct_ci"), step.get("cpu_pct"), slo["cpu_pct_max"], False)
    if key == "mem_pct":
        return _sample_text("memory", step.get("mem_pct_ci"), step.get("mem_pct"), slo["mem_pct_max"], False)
    return key


def predicted_text(skip: dict, model: dict | None, cpu: float, cpu_pct_max: float) -> str:
    """A CPU the capacity model ruled out: its predicted busy cores, with the demand interval."""
    low = skip.get("predicted_busy_cpu")
    where = ""
    if model:
        where = (f"; {model['cpu_s_per_request'] * 1000:.3g} ms of CPU per request "
                 f"({model['low'] * 1000:.3g}-{model['high'] * 1000:.3g}, 95 % interval) at {model['rps']:g} RPS")
    if low is None:
        return f"predicted over {cpu_pct_max:g} % of {cpu:g} CPU{where}"
    return (f"predicted: busy at least {low:.3g} cores, >= {cpu_pct_max:g} % of {cpu:g} CPU = "
            f"{cpu * cpu_pct_max / 100:.3g}, at the interval's lower end{where}")


def statement(cpu: float, passing: dict | None, failing: dict | None, slo: dict) -> str:
    """"c passes (...); c' fails on <SLO> (measured: ... | predicted: ...)".

    passing: {"dir", "step"} the run that passed at cpu; failing: None (cpu is the lowest of the
    grid), {"cpu", "basis": "measured", "dir", "step", "slo"} or {"cpu", "basis": "predicted",
    "skip", "model"}."""
    head = f"{cpu:g} CPU passes"
    if passing is not None:
        head += f" ({passing['dir']} at {passing['step']['users']} users: {passes_text(passing['step'], slo)})"
    if failing is None:
        return head + f"; nothing lower was searched ({cpu:g} is the grid's lowest CPU)"
    lower = failing["cpu"]
    if failing["basis"] == "predicted":
        return (head + f"; {lower:g} CPU fails on CPU ("
                + predicted_text(failing["skip"], failing.get("model"), lower, slo["cpu_pct_max"]) + ")")
    key = failing.get("slo")
    name = SLO_NAMES.get(key, key or "an SLO")
    detail = fails_text(failing["step"], key, slo) if key else "; ".join(failing["step"].get("reasons") or [])
    return head + (f"; {lower:g} CPU fails on {name} (measured: {failing['dir']} at {failing['step']['users']} "
                   f"users: {detail})")
