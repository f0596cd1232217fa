"""What a variant costs to run, and which variants are on the cost-capacity Pareto front.

Pure arithmetic on figures the report already has (no I/O): the prices come from run.json's
"cost" block (rightsize/records.py writes it from the cost_* variables), a point is one measured
variant or search probe. Definitions (issue 14, docs/report.md "Cost and the Pareto front"):

- cost per hour = replicas x (cpu x cpu_hour + memory GiB x gb_hour), GiB = 2^30 bytes of limit;
- cost per million requests = cost per hour / (RPS x 3600) x 1e6, at the target users' RPS and
  at capacity (the RPS of the step at max users passing);
- a point is dominated when another costs no more per hour and passes at least as many users, one
  of the two strictly; a point with no passing step passes 0 users.
"""
from __future__ import annotations

from dataclasses import dataclass

from rightsize.variables import RUN_COST, VARIABLES

GIB = 2**30
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class Prices:
    cpu_hour: float
    gb_hour: float
    currency: str
    source: str

    @property
    def enabled(self) -> bool:
        """cost_cpu_hour=0 switches the cost block off."""
        return self.cpu_hour > 0


def _price(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if x >= 0 and x == x and x != float("inf") else None


def prices_from_run(run: dict) -> tuple[Prices, list[str]]:
    """The prices run.json recorded; a key it lacks (runs before the cost block) or that is not a
    price >= 0 takes the table's default, with a note naming it."""
    recorded = run.get("cost") if isinstance(run.get("cost"), dict) else {}
    values, notes = {}, []
    for key, name in RUN_COST.items():
        default = VARIABLES[name].default
        raw = recorded.get(key)
        if key in ("cpu_hour", "gb_hour"):
            value = _price(raw)
            if value is None:
                value = float(default)
                notes.append(f"run.json has no cost.{key}" + ("" if raw is None else f" price ({raw!r})")
                             + f": priced with the default {name}={default}")
        else:
            value = str(raw) if isinstance(raw, str) and raw else str(default)
            if not (isinstance(raw, str) and raw):
                notes.append(f"run.json has no cost.{key}: the default {name}={default!r} was used")
        values[key] = value
    return Prices(**values), notes


def per_hour(prices: Prices, cpu: float, mem_bytes: int, replicas: int) -> float:
    """replicas x (cpu x price per vCPU-hour + memory limit in GiB x price per GiB-hour)."""
    return replicas * (cpu * prices.cpu_hour + mem_bytes / GIB * prices.gb_hour)


def per_million(hourly: float, rps: float | None) -> float | None:
    """What a million requests cost at that throughput; None when it was not measured (or 0)."""
    if rps is None or rps <= 0:
        return None
    return hourly / (rps * SECONDS_PER_HOUR) * 1e6


@dataclass(frozen=True)
class Point:
    """One measured variant or search probe, as the cost table and the front see it."""
    name: str
    kind: str                      # variant | probe
    cpu: float
    mem_bytes: int
    replicas: int
    verdict: str
    max_users_passing: int | None
    rps_at_target: float | None
    rps_at_capacity: float | None

    @property
    def users_passing(self) -> int:
        return self.max_users_passing or 0


def point(result: dict, kind: str = "variant") -> Point | None:
    """A Point from a variant's figures (compute.variant_result, or a summary.json variant): the
    RPS of its judged step (target_step_users, else the last step at the summary's target users)
    and of the step at max_users_passing. None without limits (no variant.json, no name)."""
    cpu, mem, replicas = result.get("cpu"), result.get("mem_bytes"), result.get("replicas")
    if not (cpu and mem and replicas):
        return None
    steps = result.get("steps") or []
    judged_users = result.get("target_step_users", result.get("target_users"))

    def rps_at(users):
        at = [st for st in steps if users is not None and st.get("users") == users]
        return float(at[-1]["rps"]) if at and at[-1].get("rps") else None

    return Point(name=result["name"], kind=kind, cpu=float(cpu), mem_bytes=int(mem), replicas=int(replicas),
                 verdict=str(result.get("verdict") or "incomplete"),
                 max_users_passing=result.get("max_users_passing"),
                 rps_at_target=rps_at(judged_users), rps_at_capacity=rps_at(result.get("max_users_passing")))


def pareto_front(points: list[tuple[str, float, int]]) -> set[str]:
    """Names of the (name, cost per hour, users passing) points no other point dominates: another
    dominates when it costs no more and passes at least as many users, one of the two strictly.
    Equal points do not dominate each other: both stay on the front."""
    front = set()
    for name, cost, users in points:
        dominated = any(c <= cost and u >= users and (c < cost or u > users)
                        for other, c, u in points if other != name)
        if not dominated:
            front.add(name)
    return front


def cost_rows(prices: Prices, points: list[Point]) -> list[dict]:
    """One row per point: cost per hour, per million requests at the target and at capacity, and
    whether it is on the front (over every point given, variants and probes together)."""
    hourly = {p.name: per_hour(prices, p.cpu, p.mem_bytes, p.replicas) for p in points}
    front = pareto_front([(p.name, hourly[p.name], p.users_passing) for p in points])
    rows = []
    for p in points:
        rows.append({
            "name": p.name, "kind": p.kind, "cpu": p.cpu, "mem_bytes": p.mem_bytes, "replicas": p.replicas,
            "verdict": p.verdict, "max_users_passing": p.max_users_passing,
            "per_hour": hourly[p.name],
            "per_million_requests": per_million(hourly[p.name], p.rps_at_target),
            "per_million_at_capacity": per_million(hourly[p.name], p.rps_at_capacity),
            "rps_at_target": p.rps_at_target, "rps_at_capacity": p.rps_at_capacity,
            "pareto": p.name in front,
        })
    return sorted(rows, key=lambda r: (r["per_hour"], -(r["max_users_passing"] or 0), r["name"]))


def cheapest_passing(rows: list[dict]) -> dict | None:
    """The measured variant (not a probe) passing at the target users that costs least per hour;
    ties: more users passing, then the name."""
    passing = [r for r in rows if r["kind"] == "variant" and r["verdict"] == "pass"]
    if not passing:
        return None
    return min(passing, key=lambda r: (r["per_hour"], -(r["max_users_passing"] or 0), r["name"]))


def block(prices: Prices, rows: list[dict]) -> dict | None:
    """summary.json's `cost` block (collect/summary.schema.json); None when the prices are off."""
    if not prices.enabled:
        return None

    def money(x):
        return None if x is None else round(x, 6)

    return {
        "cpu_hour": prices.cpu_hour, "gb_hour": prices.gb_hour, "currency": prices.currency,
        "source": prices.source,
        "variants": [{"name": r["name"], "per_hour": money(r["per_hour"]),
                      "per_million_requests": money(r["per_million_requests"]),
                      "max_users_passing": r["max_users_passing"], "pareto": r["pareto"],
                      "per_million_at_capacity": money(r["per_million_at_capacity"])} for r in rows],
    }


def rank_answers(prices: Prices, answers: list[dict]) -> dict:
    """The search's answers per replica count ({replicas, cpu, mem_bytes}; cpu None: no answer),
    ranked by cost per hour, and whether scaling out (more replicas) is cheaper than scaling up.

    scale_out_cheaper: True when the cheapest answer has more replicas than the cheapest answer
    with the fewest replicas; None when fewer than two replica counts have an answer."""
    ranked = sorted(({**a, "per_hour": per_hour(prices, a["cpu"], a["mem_bytes"], a["replicas"])}
                     for a in answers if a.get("cpu") and a.get("mem_bytes")),
                    key=lambda a: (a["per_hour"], a["replicas"]))
    if len(ranked) < 2:
        return {"ranked": ranked, "scale_out_cheaper": None, "text": None}
    cheapest = ranked[0]
    fewest = min(ranked, key=lambda a: a["replicas"])
    out = cheapest["replicas"] > fewest["replicas"]
    if out:
        text = (f"scaling out is cheaper than scaling up: {cheapest['replicas']} x {cheapest['cpu']:g} CPU "
                f"costs {cheapest['per_hour']:.4f} {prices.currency}/h against {fewest['per_hour']:.4f} for "
                f"{fewest['replicas']} x {fewest['cpu']:g} CPU")
    else:
        text = (f"scaling up is cheaper than scaling out: {cheapest['replicas']} x {cheapest['cpu']:g} CPU "
                f"costs {cheapest['per_hour']:.4f} {prices.currency}/h, the next "
                f"({ranked[1]['replicas']} x {ranked[1]['cpu']:g} CPU) {ranked[1]['per_hour']:.4f}")
    return {"ranked": ranked, "scale_out_cheaper": out, "text": text}
