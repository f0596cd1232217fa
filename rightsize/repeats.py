"""Repeats: the rules that combine several runs of one variant, and the search's longer hold.

A variant with `repeats` = k runs k times in a row, redeployed each time. Repeat 1 lives in
results/<run>/<variant>/, repeat j > 1 in results/<run>/<variant>/repeats/<j>/ (docs/results-format.md).
collect/compute.py pools the repeats' requests and histograms per step and asks these rules for
the step's and the variant's verdicts, the spread at the target users and whether the repeats
differ beyond counting noise. Pure functions: no I/O.
"""
from __future__ import annotations

import math

REPEATS_DIR = "repeats"
VERDICT_ORDER = ("fail", "invalid", "incomplete")  # the first present wins; none of them: pass
RPS_NOISE_SIGMAS = 3.0      # two repeats' RPS differ beyond Poisson counting noise past this many sd
HOLD_CAP_FACTOR = 4         # a longer hold lasts at most this many times the ordinary hold


def planned_repeats(run: dict) -> int:
    """run.json vars.repeats (1 for runs recorded before repeats, or an unreadable value)."""
    raw = (run.get("vars") or {}).get("repeats", 1)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 1
    return value if value >= 1 and not isinstance(raw, bool) else 1


def repeat_folder(variant_dir: str, repeat: int) -> str:
    """The folder of a repeat under the run's folder: the variant's for repeat 1, else
    <variant>/repeats/<repeat>."""
    repeat = int(repeat)
    if repeat < 1:
        raise ValueError(f"repeat {repeat}: repeats are numbered from 1")
    return variant_dir if repeat == 1 else f"{variant_dir}/{REPEATS_DIR}/{repeat}"


def combine_verdicts(repeats: list[dict]) -> tuple[str, list[str]]:
    """The variant's verdict from its repeats' and which repeat made it so.

    repeats: [{"dir", "verdict", "reasons", "broken"}] with broken the SLOs the repeat's judged step
    broke ({slo: value}, empty when none). fail when any repeat fails (a fail verdict is a valid step
    that broke an SLO, or a container that died), else invalid when any is invalid, else incomplete
    when any is incomplete, else pass. The reasons name each repeat that was not a pass."""
    if not repeats:
        return "incomplete", ["no repeat ran"]
    verdicts = [r["verdict"] for r in repeats]
    verdict = next((v for v in VERDICT_ORDER if v in verdicts), "pass")
    reasons = []
    for r in repeats:
        if r["verdict"] == "pass":
            continue
        broken = r.get("broken") or {}
        what = f" broke {', '.join(broken)}" if broken and r["verdict"] == "fail" else ""
        first = (r.get("reasons") or ["no reason given"])[0]
        reasons.append(f"repeat {r['dir']}: {r['verdict']}{what} ({first})")
    return verdict, reasons


def combine_step(per_repeat: list[dict], repeats: int) -> tuple[bool, bool | None, dict]:
    """(valid, slo_pass, slo_broken) of a step from each repeat's judgement of it.

    per_repeat: [{"valid", "slo_pass", "slo_broken"}] of the repeats that ran the step; repeats:
    how many should have. The step passes only when it passes in every repeat; it fails when a valid
    repeat broke an SLO; otherwise (an invalid, inconclusive or missing repeat) slo_pass is None.
    slo_broken: every SLO any valid repeat broke, at its worst value."""
    valid = len(per_repeat) == repeats and all(r["valid"] for r in per_repeat)
    broken: dict = {}
    for r in per_repeat:
        if r["valid"] and r["slo_pass"] is False:
            for key, value in (r.get("slo_broken") or {}).items():
                broken[key] = max(broken.get(key, value), value)
    if broken:
        return valid, False, broken
    if valid and all(r["slo_pass"] is True for r in per_repeat):
        return True, True, {}
    return valid, None, {}


def spread(values) -> dict | None:
    """min, max and relative spread ((max - min) / mean) of the values that are not None; None
    without any."""
    xs = [float(x) for x in values if x is not None]
    if not xs:
        return None
    low, high = min(xs), max(xs)
    mean = sum(xs) / len(xs)
    return {"min": low, "max": high, "relative": (high - low) / mean if mean > 0 else None, "n": len(xs)}


def rps_beyond_noise(n_a: int, d_a: float, n_b: int, d_b: float, sigmas: float = RPS_NOISE_SIGMAS) -> bool:
    """Two RPS figures (n requests in d seconds each) differ by more than `sigmas` standard deviations
    of Poisson counting noise, sd = sqrt(n_a / d_a^2 + n_b / d_b^2)."""
    if not d_a or not d_b:
        return False
    sd = math.sqrt(n_a / d_a**2 + n_b / d_b**2)
    return abs(n_a / d_a - n_b / d_b) > sigmas * sd


def p95_beyond_noise(ci_a, ci_b) -> bool:
    """Two p95 figures differ beyond counting noise when their order-statistic intervals are disjoint."""
    if ci_a is None or ci_b is None:
        return False
    return ci_a[1] < ci_b[0] or ci_b[1] < ci_a[0]


def not_repeatable(figures: list[dict]) -> list[str]:
    """Pairs of repeats whose figures at the target users differ beyond counting noise, one text
    each (empty: repeatable as far as counting noise tells). figures: [{"dir", "requests",
    "duration_s", "rps", "p95_ms", "p95_ci"}] of the repeats that measured that step."""
    out = []
    for i, a in enumerate(figures):
        for b in figures[i + 1:]:
            if rps_beyond_noise(a["requests"], a["duration_s"], b["requests"], b["duration_s"]):
                out.append(f"RPS {a['rps']:.1f} ({a['dir']}) vs {b['rps']:.1f} ({b['dir']}): beyond "
                           f"{RPS_NOISE_SIGMAS:g} sd of counting noise")
            if p95_beyond_noise(a.get("p95_ci"), b.get("p95_ci")):
                out.append(f"p95 {a['p95_ms']:.0f} ms ({a['dir']}) vs {b['p95_ms']:.0f} ms ({b['dir']}): "
                           "their 99 % intervals do not overlap")
    return out


def longer_hold_s(needed_requests: int | None, rps: float | None, hold_s: float,
                  cap_factor: float = HOLD_CAP_FACTOR) -> float:
    """Seconds of the one longer hold an inconclusive probe gets: a window that holds the requests
    the binomial test said it needs at the RPS the probe served (rounded up to a whole second), at
    least the ordinary hold, at most cap_factor x it. hold_s: search_hold_s, or the step duration
    without hold probes. Unknown need or no RPS: the cap."""
    if hold_s <= 0:
        raise ValueError("hold_s must be > 0")
    cap = cap_factor * hold_s
    if not needed_requests or not rps or rps <= 0:
        return float(cap)
    return float(min(cap, max(hold_s, math.ceil(needed_requests / rps))))
