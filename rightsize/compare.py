"""Compare two runs from their summary.json alone, and decide whether NEW regressed against BASE.

Pure logic on two summary dicts (collect/summary.schema.json): BASE may be a summary.json that a
team commits as its baseline, so nothing here reads a run's raw files. `python collect/report.py
--compare BASE NEW [--fail-on-regression] [--json]` wires it (docs/report.md "Regression gate").

Per variant name, at the target users (the step of the summary's target_users, else the last
step), NEW regressed when:
- the variant is in BASE and not in NEW;
- its max users passing is lower (none passing counts as 0);
- its verdict was pass and is not any more;
- its RPS is lower by more than RPS_MIN_REL_CHANGE and by more than counting noise (3 standard
  deviations of the two Poisson request counts) plus the measured spread of its repeats;
- its p95 is higher by more than P95_MIN_REL_CHANGE and P95_MIN_SLO_SHARE of the SLO's p95 limit,
  the two steps' p95 intervals (p95_ci_ms) do not overlap, and the rise exceeds the repeats' spread;
- for search runs: the answer's CPU rose, or BASE had an answer and NEW has none.
"""
from __future__ import annotations

import math

EXIT_OK = 0
EXIT_TARGET_DIFFERS = 2
EXIT_REGRESSION = 4

RPS_MIN_REL_CHANGE = 0.05   # an RPS change below this fraction of BASE's is never a regression
P95_MIN_REL_CHANGE = 0.10   # nor a p95 change below this fraction of BASE's p95
P95_MIN_SLO_SHARE = 0.05    # nor one below this share of the SLO's p95 limit (3 -> 5 ms is not news)
NOISE_SIGMAS = 3.0


def target_step(variant: dict, target_users: int) -> dict | None:
    steps = variant.get("steps") or []
    at = [st for st in steps if st.get("users") == target_users]
    return at[-1] if at else (steps[-1] if steps else None)


def rps_noise(step_a: dict, step_b: dict) -> float | None:
    """NOISE_SIGMAS standard deviations of the RPS difference of two windows from counting noise
    alone: a window of n requests in d seconds has RPS n/d with variance n/d^2 (Poisson)."""
    na, da, nb, db = step_a.get("requests"), step_a.get("duration_s"), step_b.get("requests"), step_b.get("duration_s")
    if not (da and db) or na is None or nb is None:
        return None
    return NOISE_SIGMAS * math.sqrt(na / da**2 + nb / db**2)


def spread(variant: dict, key: str) -> float:
    """max - min of the repeats' figure at the target users (0 without repeats)."""
    values = [r.get(key) for r in variant.get("repeats") or [] if isinstance(r.get(key), (int, float))]
    return max(values) - min(values) if len(values) >= 2 else 0.0


def _users(x) -> int:
    return x if isinstance(x, int) else 0


def compare_variant(va: dict, vb: dict, target_users: int, p95_limit: float) -> dict:
    sa, sb = target_step(va, target_users), target_step(vb, target_users)
    regressions, changes = [], []
    if va.get("verdict") != vb.get("verdict"):
        text = f"verdict {va.get('verdict')} -> {vb.get('verdict')}"
        (regressions if va.get("verdict") == "pass" else changes).append(text)
    ua, ub = va.get("max_users_passing"), vb.get("max_users_passing")
    if _users(ub) < _users(ua):
        regressions.append(f"max users passing {ua} -> {ub}")
    elif ua != ub:
        changes.append(f"max users passing {ua} -> {ub}")
    entry = {"name": vb["name"], "verdict": [va.get("verdict"), vb.get("verdict")],
             "max_users_passing": [ua, ub], "users": sb.get("users") if sb else None,
             "rps": [sa and sa.get("rps"), sb and sb.get("rps")],
             "p95_ms": [sa and sa.get("p95_ms"), sb and sb.get("p95_ms")],
             "rps_tolerance": None, "p95_tolerance_ms": None, "regressions": regressions, "changes": changes}
    if not (sa and sb) or sa.get("users") != sb.get("users"):
        changes.append("no common step at the target users: RPS and p95 not compared")
        return entry
    if not (sa.get("valid", True) and sb.get("valid", True)):
        changes.append(f"the {sb['users']}-user step is not valid on both sides: RPS and p95 not compared")
        return entry
    noise = rps_noise(sa, sb)
    if noise is not None and sa.get("rps"):
        tolerance = max(noise + max(spread(va, "rps_at_target"), spread(vb, "rps_at_target")),
                        RPS_MIN_REL_CHANGE * sa["rps"])
        entry["rps_tolerance"] = round(tolerance, 3)
        drop = sa["rps"] - sb["rps"]
        if abs(drop) > tolerance:
            text = f"RPS at {sb['users']} users {sa['rps']:.1f} -> {sb['rps']:.1f} ({-drop / sa['rps']:+.0%})"
            (regressions if drop > 0 else changes).append(text)
    pa, pb, ca, cb = sa.get("p95_ms"), sb.get("p95_ms"), sa.get("p95_ci_ms"), sb.get("p95_ci_ms")
    if pa is None or pb is None:
        return entry
    if not (ca and cb) or None in (*ca, *cb):
        changes.append("no p95_ci_ms on both sides (a summary older than the gate): p95 not judged")
        return entry
    tolerance = max(P95_MIN_REL_CHANGE * pa, P95_MIN_SLO_SHARE * p95_limit,
                    spread(va, "p95_ms_at_target"), spread(vb, "p95_ms_at_target"))
    entry["p95_tolerance_ms"] = round(tolerance, 3)
    if abs(pb - pa) > tolerance and (ca[1] < cb[0] or cb[1] < ca[0]):
        text = f"p95 at {sb['users']} users {pa:g} -> {pb:g} ms"
        (regressions if pb > pa else changes).append(text)
    return entry


def compare_search(sa: dict | None, sb: dict | None) -> dict | None:
    if not sa and not sb:
        return None
    ca, cb = (sa or {}).get("cpu"), (sb or {}).get("cpu")
    out = {"cpu": [ca, cb], "mem": [(sa or {}).get("mem"), (sb or {}).get("mem")],
           "replicas": [(sa or {}).get("replicas"), (sb or {}).get("replicas")], "regressions": [], "changes": []}
    if ca is not None and cb is None:
        out["regressions"].append(f"search answer {ca:g} CPU -> none" if sb else "search missing from NEW")
    elif ca is not None and cb > ca:
        out["regressions"].append(f"search answer's CPU rose {ca:g} -> {cb:g}")
    elif ca != cb:
        out["changes"].append(f"search answer's CPU {ca} -> {cb}")
    return out


def compare(base: dict, new: dict) -> dict:
    """The comparison of two summaries (the keys --json prints; docs/report.md lists them)."""
    ta, tb = base.get("target_users"), new.get("target_users")
    by_a = {v["name"]: v for v in base.get("variants") or []}
    by_b = {v["name"]: v for v in new.get("variants") or []}
    p95_limit = float((base.get("slo") or {}).get("p95_ms_max") or 0)
    variants = [compare_variant(by_a[name], vb, tb, p95_limit) for name, vb in by_b.items() if name in by_a]
    only_base = sorted(set(by_a) - set(by_b))
    only_new = sorted(set(by_b) - set(by_a))
    search = compare_search(base.get("search"), new.get("search"))
    regressions = [f"{name}: missing from NEW" for name in only_base]
    regressions += [f"{v['name']}: {r}" for v in variants for r in v["regressions"]]
    regressions += (search or {}).get("regressions", [])
    return {"base": base.get("run_id"), "new": new.get("run_id"), "target_users": [ta, tb],
            "same_target": ta == tb, "variants": variants, "only_base": only_base, "only_new": only_new,
            "search": search, "regressions": regressions if ta == tb else [],
            "regressed": ta == tb and bool(regressions)}


def exit_code(result: dict) -> int:
    """--fail-on-regression: 2 when the target users differ, 4 on a regression, else 0."""
    if not result["same_target"]:
        return EXIT_TARGET_DIFFERS
    return EXIT_REGRESSION if result["regressed"] else EXIT_OK
