#!/usr/bin/env python3
"""Right-sizing search: the least CPU per replica (then memory) meeting every SLO at the target users.

    python collect/search.py next RUN_DIR     # one JSON object on stdout: the next step of the search
    python collect/search.py plan RUN_DIR     # one line: the strategy, expected runs and wall time

The playbook writes RUN_DIR/search.json, then loops: run what `next` says into the folder it names,
call `next` again, until it says {"action": "done"}. `next` is a pure function of search.json,
run.json (SLO and report settings) and the folders present, so an interrupted search resumes where
it stopped. The algorithm, its parameters and how memory is sized: docs/search.md.

Exit codes: 0 an action printed, 2 bad input (one line on stderr), 1 internal error.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from collect import compute
from collect.load import PROBE_PREFIX, InputError, load_variant, read_json
from collect.settings import settings_from_run
from rightsize import capacity
from rightsize.repeats import HOLD_CAP_FACTOR, longer_hold_s, planned_repeats, repeat_folder
from rightsize import names as naming  # the playbooks' naming rule: a folder is named the same on both sides
from rightsize import steps as schedule  # the load's shape, as the Locust master runs it

SEARCH_JSON = "search.json"
MIB = 2**20
REUSABLE_STATUS = ("done", "failed")   # variant.json status of a folder whose load has ended
CONCLUSIVE = ("pass", "fail")

# search.json keys -> defaults (group_vars: search_cpu_min, search_resolution, ...)
DEFAULTS = {"replicas": [1], "cpu_min": 0.25, "cpu_max": None, "cores": None, "resolution": 0.25,
            "probe_mem": "2G", "max_probes": 8, "mem_target_pct": 75, "mem_round": "64M",
            "strategy": "model", "probe_shape": "auto", "ramp_s": 30, "hold_s": None}
STRATEGIES = ("model", "bisect")
PROBE_SHAPES = ("auto", "ramp", "hold")
# Seconds a search run costs beside its load (deploy, health checks, the first request, fetching the
# files, the report, the playbook's own start spread over the runs), measured on the local default
# by tests/integration/test_search.py: 274 s for 3 runs of 40 s of load, 459 s for 5 (README).
RUN_OVERHEAD_S = 52


# ---------------------------------------------------------------- search.json


@dataclass(frozen=True)
class SearchConfig:
    target_users: int
    replicas: tuple[int, ...]
    cpu_min: float
    cpu_max: float | None        # None: cores / replicas (and never above it)
    cores: float | None
    resolution: float
    probe_mem: str
    max_probes: int
    mem_target_pct: float
    mem_round: str
    strategy: str = "model"      # model | bisect
    probe_shape: str = "auto"    # auto | ramp | hold
    ramp_s: float = 30.0         # hold: seconds to start every user
    hold_s: float | None = None  # hold: seconds measured; None: the step duration

    @property
    def probe_mem_bytes(self) -> int:
        return naming.docker_bytes(self.probe_mem)

    @property
    def mem_round_bytes(self) -> int:
        return naming.docker_bytes(self.mem_round)

    def top(self, replicas: int) -> float:
        """cpu_max, never above the target's cores / replicas (a variant that does not fit the
        target is refused by preflight)."""
        fits = self.cores / replicas if self.cores is not None else math.inf
        return min(self.cpu_max, fits) if self.cpu_max is not None else fits

    def grid(self, replicas: int) -> list[float]:
        """cpu_min, cpu_min + resolution, ... up to the top: the CPU values a probe may take.
        A top off the grid is floored onto it."""
        top = self.top(replicas)
        if top < self.cpu_min - 1e-9:
            return []
        count = int(math.floor((top - self.cpu_min) / self.resolution + 1e-9)) + 1
        return [round(self.cpu_min + k * self.resolution, 6) for k in range(count)]


def parse_config(raw: dict, where: str = SEARCH_JSON) -> SearchConfig:
    """search.json (defaults for absent or null keys) -> SearchConfig; InputError names the bad key.
    Numbers may come as numeric strings and replicas as "1,2,3" (Ansible's -e k=v gives strings)."""
    c = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None and v != ""}}

    def bad(key, expected):
        return InputError(where, f"{key}={c.get(key)!r}: expected {expected}")

    def as_number(v):
        if isinstance(v, bool):
            raise ValueError
        value = float(v)
        if not math.isfinite(value):
            raise ValueError
        return value

    def number(key):
        try:
            value = as_number(c.get(key))
            if value <= 0:
                raise ValueError
        except (TypeError, ValueError):
            raise bad(key, "a number > 0") from None
        return value

    def whole(value, key=None):
        try:
            number_ = as_number(value)
            if number_ != int(number_) or number_ < 1:
                raise ValueError
        except (TypeError, ValueError):
            raise bad(key, "a whole number >= 1") from None
        return int(number_)

    def size(key):
        try:
            naming.docker_bytes(c.get(key))
        except (ValueError, TypeError):
            raise bad(key, "a docker memory size, e.g. 2G, 64M") from None
        return str(c[key])

    reps = c["replicas"]
    if isinstance(reps, str):
        reps = [x.strip() for x in reps.split(",")]
    elif not isinstance(reps, list):
        reps = [reps]
    try:
        reps = [whole(r, "replicas") for r in reps]
    except InputError:
        raise bad("replicas", "distinct whole numbers >= 1, e.g. [1] or [1, 2, 3]") from None
    if not reps or len(set(reps)) != len(reps):
        raise bad("replicas", "distinct whole numbers >= 1, e.g. [1] or [1, 2, 3]")
    cores = number("cores") if "cores" in c and c["cores"] is not None else None
    cpu_max = number("cpu_max") if c.get("cpu_max") is not None else None
    if cpu_max is None and cores is None:
        raise bad("cpu_max", "a number > 0, or \"cores\" given (cpu_max = cores / replicas)")
    pct = number("mem_target_pct")
    if pct > 100:
        raise bad("mem_target_pct", "a percentage in (0, 100]")

    def choice(key, choices):
        if str(c[key]).strip().lower() not in choices:
            raise bad(key, " or ".join(", ".join(choices).rsplit(", ", 1)))
        return str(c[key]).strip().lower()
    return SearchConfig(target_users=whole(c.get("target_users"), "target_users"), replicas=tuple(reps),
                        cpu_min=number("cpu_min"), cpu_max=cpu_max, cores=cores,
                        resolution=number("resolution"), probe_mem=size("probe_mem"),
                        max_probes=whole(c["max_probes"], "max_probes"), mem_target_pct=pct,
                        mem_round=size("mem_round"), strategy=choice("strategy", STRATEGIES),
                        probe_shape=choice("probe_shape", PROBE_SHAPES), ramp_s=number("ramp_s"),
                        hold_s=number("hold_s") if c.get("hold_s") is not None else None)


@dataclass(frozen=True)
class LoadFacts:
    """What the search takes from run.json: how a run climbs its steps and how it is judged."""
    users_step: int | None = None   # None: one step of the target users
    step_duration: float = 60.0
    warmup_s: float = 10.0          # report_warmup_s: the first seconds of a step left out
    cpu_pct_max: float = 90.0       # slo_cpu_pct_max
    failure_rate_max: float = 0.01  # slo_failure_rate_max: steps at or over it do not feed the model
    think_time_s: float = 2.0       # between(locust_wait_min, locust_wait_max) on average


def load_facts(run: dict) -> LoadFacts:
    """LoadFacts of a run.json (its vars, slo and report blocks); absent or unreadable: the defaults."""
    settings = settings_from_run(run)
    run_vars = run.get("vars") or {}

    def num(key, default, least=0.0):
        try:
            value = float(run_vars.get(key))
        except (TypeError, ValueError):
            return default
        return value if math.isfinite(value) and value > least else default
    step = num("users_step", None)
    wait_min, wait_max = num("locust_wait_min", 1.0, -1), num("locust_wait_max", 3.0, -1)
    return LoadFacts(users_step=int(step) if step else None, step_duration=num("step_duration", 60.0),
                     warmup_s=settings.warmup_s, cpu_pct_max=settings.cpu_pct_max,
                     failure_rate_max=settings.failure_rate_max, think_time_s=(wait_min + wait_max) / 2)


# ---------------------------------------------------------------- the planner (pure)


@dataclass(frozen=True)
class Outcome:
    """What a finished folder measured, as the planner needs it."""
    verdict: str                  # pass | fail | invalid | incomplete (compute.variant_result)
    reasons: list[str]
    peak_mem_bytes: int | None    # the busiest container's highest 1-s memory over all steps
    p95_ms: float | None = None   # at the judged step (for the report's plot)
    observed: capacity.VariantObservations | None = None  # its valid steps, for the capacity model
    p95_inconclusive: bool = False  # the judged step was valid but too short to prove p95 either side
    needed_requests: int | None = None  # the requests the binomial test said would decide it
    rps: float | None = None      # the judged step's RPS


# lookup(folder name) -> ("absent" | "running" | "done", Outcome or None). "running": the folder
# exists but its load did not end (variant.json missing or status running): it is run again.
Lookup = Callable[[str], tuple[str, "Outcome | None"]]


@dataclass
class Probe:
    number: int
    dir: str
    cpu: float
    mem: str
    replicas: int
    verdict: str
    reasons: list[str]
    peak_mem_bytes: int | None
    p95_ms: float | None
    why: str = ""                 # why the planner placed it there
    shape: str = "ramp"
    observed: capacity.VariantObservations | None = None
    outcome: Outcome | None = None
    hold_s: float | None = None   # a hold probe's measured seconds


@dataclass(frozen=True)
class ModelView:
    """The capacity model fitted on the probes so far (rightsize/capacity.py), seen at the target
    users and one replica count: busy CPU per replica = idle + D x RPS per replica, with D's 95 %
    interval. A CPU whose busy CPU at the interval's lower end is at or over the CPU SLO of it is a
    known fail; one whose upper end stays under it is a known pass (as far as CPU goes)."""
    demand: capacity.Demand
    rps: float                    # offered at the target users, all replicas
    rps_basis: str                # where that figure comes from
    replicas: int
    cpu_pct_max: float
    ceiling: float | None         # RPS per replica where a replica stopped scaling, if seen

    @property
    def per_replica(self) -> float:
        return self.rps / self.replicas

    def busy(self, bound: str = "fit") -> float:
        return self.demand.busy_cores(self.per_replica, 1, bound)

    def limit(self, cpu: float) -> float:
        return cpu * self.cpu_pct_max / 100

    def known_fail(self, cpu: float) -> bool:
        return self.busy("low") >= self.limit(cpu)

    def known_pass(self, cpu: float) -> bool:
        return self.busy("high") < self.limit(cpu)

    @property
    def beyond_ceiling(self) -> bool:
        return self.ceiling is not None and self.per_replica > self.ceiling * self.cpu_pct_max / 100

    def answer(self, grid: list[float]) -> int:
        """Index of the least grid CPU whose predicted busy CPU stays under the CPU SLO of it
        (len(grid): none does)."""
        return next((i for i, cpu in enumerate(grid) if self.busy() < self.limit(cpu)), len(grid))

    def text(self) -> str:
        return (f"predicted busy CPU {self.busy():.3g} cores ({self.busy('low'):.3g}-{self.busy('high'):.3g}) "
                f"at {self.per_replica:.1f} RPS per replica ({self.rps:.1f} RPS {self.rps_basis})")

    def against(self, cpu: float) -> str:
        return f"{self.cpu_pct_max:g} % of {naming.cpu_text(cpu)} = {self.limit(cpu):.3g}"

    def block(self) -> dict:
        d = self.demand
        return {"cpu_s_per_request": float(f"{d.cpu_s_per_request:.6g}"), "low": float(f"{d.low:.6g}"),
                "high": float(f"{d.high:.6g}"), "idle_cpu": round(d.idle_cpu, 4), "replicas": self.replicas,
                "rps": round(self.rps, 1), "rps_basis": self.rps_basis, "busy_cpu": round(self.busy(), 4),
                "busy_cpu_low": round(self.busy("low"), 4), "busy_cpu_high": round(self.busy("high"), 4),
                "rps_ceiling_per_replica": None if self.ceiling is None else round(self.ceiling, 1)}


@dataclass
class ReplicaSearch:
    """The search at one replica count."""
    replicas: int
    grid: list[float]
    strategy: str = "bisect"
    highest_failing_cpu: float | None = None
    highest_failing_basis: str | None = None  # model strategy: measured | predicted
    lowest_passing_cpu: float | None = None
    probes: int = 0
    stop: str | None = None        # why the CPU search ended (converged, bound, inconclusive, ...)
    skipped: list[dict] = field(default_factory=list)  # grid CPUs the model ruled out, not run
    model: ModelView | None = None  # the last model that placed a probe or bounded the bracket
    peak_mem_bytes: int | None = None  # the highest memory measured in the passing probes
    mem_bytes: int | None = None   # sized from it
    confirm_dir: str | None = None
    confirm_verdict: str | None = None
    cpu: float | None = None       # the confirmed answer
    mem: str | None = None
    reason: str | None = None      # why the answer is what it is (or null)
    finished: bool = False

    @property
    def bracket(self) -> dict:
        out = {"highest_failing_cpu": self.highest_failing_cpu, "lowest_passing_cpu": self.lowest_passing_cpu}
        if self.highest_failing_basis is not None:
            out["highest_failing_basis"] = self.highest_failing_basis
        return out

    def cost(self) -> float:
        """Total CPU x total memory: cpu x replicas x mem_bytes x replicas."""
        return self.cpu * self.replicas * naming.docker_bytes(self.mem) * self.replicas


@dataclass
class SearchState:
    config: SearchConfig
    facts: LoadFacts = field(default_factory=LoadFacts)
    probes: list[Probe] = field(default_factory=list)
    searches: list[ReplicaSearch] = field(default_factory=list)
    action: dict | None = None     # what `next` prints
    best: ReplicaSearch | None = None
    fallback: str | None = None    # model strategy: the contradiction that made it bisect from then on

    @property
    def finished(self) -> bool:
        return self.action is not None and self.action["action"] == "done"


class _Pending(Exception):
    """The replay reached a step whose folder is not there (or not finished): run it."""

    def __init__(self, action: dict):
        self.action = action


def mem_for(peak_bytes: int, target_pct: float, round_bytes: int) -> int:
    """Memory limit that holds the peak at target_pct % of it, rounded UP to round_bytes."""
    needed = math.ceil(peak_bytes * 100 / target_pct - 1e-6)
    return max(1, math.ceil(needed / round_bytes)) * round_bytes


def mem_text(mem_bytes: int) -> str:
    """A docker size in whole MiB (the variant name's unit): 448M, 1024M."""
    return f"{math.ceil(mem_bytes / MIB)}M"


def replay(config: SearchConfig, lookup: Lookup, facts: LoadFacts | None = None) -> SearchState:
    """Replay the search from its start over the folders present: every step whose folder holds a
    finished load is taken from it; the first that does not is the next action. Deterministic."""
    state = SearchState(config, facts or LoadFacts())
    try:
        for replicas in config.replicas:
            rs = ReplicaSearch(replicas=replicas, grid=config.grid(replicas), strategy=config.strategy)
            state.searches.append(rs)
            _search_cpu(state, rs, lookup)
            _confirm(state, rs, lookup)
            rs.finished = True
    except _Pending as pending:
        state.action = pending.action
        return state
    answered = [rs for rs in state.searches if rs.cpu is not None]
    state.best = min(answered, key=lambda rs: (rs.cost(), rs.replicas, rs.cpu)) if answered else None
    state.action = _done_action(state)
    return state


# ---------------------------------------------------------------- the shape of a run


def hold_seconds(config: SearchConfig, facts: LoadFacts) -> float:
    """search_hold_s, or the step duration when it is not given."""
    return config.hold_s if config.hold_s is not None else facts.step_duration


def run_shape(config: SearchConfig, facts: LoadFacts, climb: bool = False, hold_s: float | None = None) -> dict:
    """How a search run loads the target: climb the run's steps (ramp) or ramp up in ramp_s and hold
    one window (hold), by probe_shape (auto: hold when that is shorter); climb=True: the steps
    whatever probe_shape says. The keys the playbook puts into the run's variant (and its master's
    command line): shape, ramp_s, hold_s (null when climbing), warmup_s, users_step (the target
    users when holding: one step) and load_s, how long the load lasts."""
    users = config.target_users
    users_step = facts.users_step or users
    hold = hold_seconds(config, facts) if hold_s is None else hold_s
    shape = "hold" if hold_s is not None else "ramp" if climb else schedule.pick_shape(
        config.probe_shape, users, users_step, facts.step_duration, config.ramp_s, hold, facts.warmup_s)
    if shape == "hold":
        steps = schedule.schedule("hold", users, users, facts.step_duration, config.ramp_s, hold, facts.warmup_s)
        return {"shape": "hold", "ramp_s": config.ramp_s, "hold_s": hold, "warmup_s": facts.warmup_s,
                "users_step": users, "load_s": schedule.load_seconds(steps)}
    steps = schedule.schedule("ramp", users, users_step, facts.step_duration)
    return {"shape": "ramp", "ramp_s": None, "hold_s": None, "warmup_s": facts.warmup_s,
            "users_step": users_step, "load_s": schedule.load_seconds(steps)}


def _probe_climbs(state: SearchState) -> bool:
    """The first probe climbs the steps: they feed the capacity model (and, with the model strategy,
    probes go on climbing until the model can be fitted)."""
    if not state.probes:
        return True
    return state.config.strategy == "model" and state.fallback is None and _fit(state) is None


# ---------------------------------------------------------------- the model


def _fit(state: SearchState):
    """(points, steps, demand) pooled over every probe's valid steps so far, or None without a model."""
    observed = [p.observed for p in state.probes if p.observed is not None]
    if not observed:
        return None
    points, steps = capacity.pooled(observed)
    demand = capacity.fit_demand(points)
    return None if demand is None else (points, steps, demand)


def model_view(state: SearchState, replicas: int) -> tuple[ModelView | None, str]:
    """The capacity model of the probes so far at the target users and `replicas`, or None and why.

    RPS the target users offer: measured, the most successful RPS of a fitted step at the target
    users whose CPU stayed under its SLO (a probe starved of CPU serves less than is offered);
    without one, N / (Z + R) with R the mean response time of the lightest fitted step (as
    capacity.capacity_model predicts)."""
    fit = _fit(state)
    if fit is None:
        why = ("no model yet: this probe's steps fit it" if not state.probes else
               "no capacity model from the probes so far (it takes two valid steps that kept the failure "
               "SLO, had their CPU measured and differ in RPS by 10 % or more)")
        return None, why
    _, steps, demand = fit
    f, users = state.facts, state.config.target_users
    fitted = steps[steps["in_fit"].astype(bool)]
    at_target = fitted[(fitted["users"] == users) & (fitted["cpu_pct"] < f.cpu_pct_max)]["ok_rps"].dropna()
    if not at_target.empty:
        rps, basis = float(at_target.max()), f"measured at {users} users"
    else:
        light = fitted.dropna(subset=["mean_ms"]).sort_values(["users", "mean_ms"])
        response_s = float(light["mean_ms"].iloc[0]) / 1000 if not light.empty else 0.0
        rps = capacity.offered_rps(users, f.think_time_s, response_s)
        basis = f"{users} users / ({f.think_time_s:g} s think time + {response_s * 1000:.0f} ms)"
    view = ModelView(demand=demand, rps=rps, rps_basis=basis, replicas=replicas, cpu_pct_max=f.cpu_pct_max,
                     ceiling=capacity.ceiling_per_replica(steps, f.cpu_pct_max))
    return view, ""


def _contradiction(state: SearchState, rs: ReplicaSearch, view: ModelView) -> str | None:
    """A measured probe of this replica count that the model calls the other way round: a pass at
    a CPU it calls a known fail, or a fail at one whose busy CPU it keeps under the SLO even at the
    interval's upper end."""
    for p in state.probes:
        if p.replicas != rs.replicas or p.verdict not in CONCLUSIVE:
            continue
        cpu = naming.cpu_text(p.cpu)
        if p.verdict == "pass" and view.known_fail(p.cpu):
            return (f"{p.dir} passed at CPU {cpu}, but the model puts its busy CPU at {view.busy('low'):.3g} "
                    f"cores or more, at or over {view.against(p.cpu)}")
        if p.verdict == "fail" and view.known_pass(p.cpu):
            detail = p.reasons[0] if p.reasons else "no reason given"
            return (f"{p.dir} failed at CPU {cpu} ({detail}), but the model keeps its busy CPU at "
                    f"{view.busy('high'):.3g} cores at most, under {view.against(p.cpu)}")
    return None


def _skip(view: ModelView, cpu: float) -> dict:
    low = view.busy("low")
    return {"cpu": cpu, "replicas": view.replicas, "predicted_busy_cpu": round(low, 4),
            "reason": (f"predicted busy CPU at least {low:.3g} cores (the lower end of the "
                       f"{capacity.DEMAND_CONFIDENCE * 100:g} % interval, at {view.per_replica:.1f} RPS per replica) "
                       f"is at or over {view.against(cpu)}: a known fail, not run")}


# ---------------------------------------------------------------- the CPU search


def _run_probe(state: SearchState, rs: ReplicaSearch, cpu: float, lookup: Lookup, why: str,
               hold_s: float | None = None) -> Probe:
    """The probe at `cpu` (hold_s: one hold of that many seconds, the longer hold of an
    inconclusive probe)."""
    c = state.config
    number = len(state.probes) + 1
    folder = f"{PROBE_PREFIX}{number:02d}-{naming.variant_name(cpu, c.probe_mem, rs.replicas)}"
    shape = run_shape(c, state.facts, climb=_probe_climbs(state) and hold_s is None, hold_s=hold_s)
    status, outcome = lookup(folder)
    if status != "done":
        raise _Pending({"action": "run", "kind": "probe", "cpu": cpu, "mem": c.probe_mem,
                        "replicas": rs.replicas, "dir": folder, "why": why,
                        "stale": status == "running", **shape})
    probe = Probe(number, folder, cpu, c.probe_mem, rs.replicas, outcome.verdict,
                  list(outcome.reasons), outcome.peak_mem_bytes, outcome.p95_ms, why=why,
                  shape=shape["shape"], observed=outcome.observed, outcome=outcome,
                  hold_s=shape["hold_s"])
    state.probes.append(probe)
    rs.probes += 1
    return probe


def _search_cpu(state: SearchState, rs: ReplicaSearch, lookup: Lookup) -> None:
    """The CPU search over grid indices: lo = highest failing measured (-1: none yet), hi = lowest
    passing (len(grid): none yet), so 'nothing passes' is one of the outcomes too.

    bisect: probe the middle until lo and hi are adjacent. model: refit the capacity model after
    every probe; grid CPUs it calls a known fail raise the floor of the bracket without a run
    (listed in rs.skipped), and the next probe goes to its predicted answer, or to the neighbour
    of the bracket the interval cannot rule out. Without a model (the first probe) it bisects; a
    probe that contradicts the model makes it bisect for the rest of the search (state.fallback)."""
    c, grid = state.config, rs.grid
    if not grid:
        rs.stop = (f"no CPU to try: the top {naming.cpu_text(c.top(rs.replicas))} is below "
                   f"cpu_min {naming.cpu_text(c.cpu_min)}")
        return
    n = len(grid)
    lo, hi = -1, n
    r = f"r{rs.replicas}"
    guided = c.strategy == "model"
    while True:
        view, note = None, ""
        if guided and state.fallback is None:
            view, note = model_view(state, rs.replicas)
            wrong = _contradiction(state, rs, view) if view is not None else None
            if wrong:
                state.fallback = f"{r}: {wrong}: the model is contradicted, bisection from here on"
                view, note = None, "the model was contradicted"
            elif view is not None and view.beyond_ceiling:
                note = (f"the target's {view.per_replica:.1f} RPS per replica is over the ceiling one replica "
                        f"stopped scaling at ({view.ceiling:.1f} RPS): more CPU per replica does not help, "
                        "more replicas do")
                view = None
        if view is not None:
            rs.model = view
        known = max((i for i in range(n) if view.known_fail(grid[i])), default=-1) if view else -1
        floor = min(max(lo, known), hi - 1)
        predicted = floor > lo
        rs.skipped = [_skip(view, grid[i]) for i in range(lo + 1, floor + 1)] if predicted else []
        rs.highest_failing_cpu = grid[floor] if floor >= 0 else None
        rs.highest_failing_basis = (("predicted" if predicted else "measured") if guided and floor >= 0
                                    else None)
        rs.lowest_passing_cpu = grid[hi] if hi < n else None
        if hi - floor <= 1:
            break
        if rs.probes >= c.max_probes:
            rs.stop = (f"max_probes {c.max_probes} reached before the bracket was "
                       f"{naming.cpu_text(c.resolution)} wide")
            return
        if view is not None:
            mid, why = _model_pick(view, grid, floor, hi, r, "predicted" if predicted else "measured")
        else:
            mid = (floor + hi) // 2
            why = (f"{r} bisection: CPU {naming.cpu_text(grid[mid])}, the middle of "
                   f"{_side(grid, floor, 'predicted failing' if predicted else 'failing')} .. "
                   f"{_side(grid, hi, 'passing')}")
            if guided and note:
                why += f" ({note})"
        cpu = grid[mid]
        probe = _run_probe(state, rs, cpu, lookup, why)
        # an inconclusive or invalid probe is never a bound of the bracket: it is run once more
        # (with a longer hold when only its p95 was undecided), and the search stops if that is not
        # conclusive either
        if probe.verdict not in CONCLUSIVE:
            first = probe
            if rs.probes >= c.max_probes:
                rs.stop = (f"max_probes {c.max_probes} reached: {first.dir} was {first.verdict}, "
                           "no probe left to repeat it")
                return
            detail = first.reasons[0] if first.reasons else "no reason given"
            longer = None
            if first.outcome is not None and first.outcome.p95_inconclusive:
                base = hold_seconds(c, state.facts)
                longer = longer_hold_s(first.outcome.needed_requests, first.outcome.rps, base)
                need = (f"{first.outcome.needed_requests} requests at {first.outcome.rps:.1f} RPS"
                        if first.outcome.needed_requests and first.outcome.rps else "an undecidable share")
                why = (f"{r}: CPU {naming.cpu_text(cpu)} again with a longer hold of {longer:g} s "
                       f"({need}, at most {HOLD_CAP_FACTOR} x {base:g} s): {first.dir}'s p95 was inconclusive")
            else:
                why = f"{r}: repeat CPU {naming.cpu_text(cpu)} once: {first.dir} was {first.verdict} ({detail})"
            probe = _run_probe(state, rs, cpu, lookup, why, hold_s=longer)
            probe.reasons.insert(0, f"{'longer hold' if longer else 'repeat'} of {first.dir} ({first.verdict})")
            if probe.verdict not in CONCLUSIVE:
                rs.stop = (f"CPU {naming.cpu_text(cpu)} inconclusive twice ({first.dir}: {first.verdict}, "
                           f"{probe.dir}: {probe.verdict}): search stopped")
                return
        if probe.verdict == "pass":
            hi = mid
        else:
            lo = mid
    basis = " (predicted)" if rs.highest_failing_basis == "predicted" else ""
    if hi == n:
        rs.stop = f"even the top CPU {naming.cpu_text(grid[-1])} fails{basis}"
    elif floor == -1:
        rs.stop = f"cpu_min {naming.cpu_text(grid[0])} passes"
    else:
        rs.stop = f"converged: {naming.cpu_text(grid[floor])} fails{basis}, {naming.cpu_text(grid[hi])} passes"


def _model_pick(view: ModelView, grid: list[float], floor: int, hi: int, r: str, basis: str) -> tuple[int, str]:
    """The model's next probe inside the open bracket (floor, hi): its predicted answer, else the
    bracket's end next to it (a neighbour the interval cannot rule out)."""
    answer = view.answer(grid)
    mid = min(max(answer, floor + 1), hi - 1)
    cpu = grid[mid]
    at = f"{view.text()}, against {view.against(cpu)}"
    if mid == answer:
        return mid, f"{r} model: CPU {naming.cpu_text(cpu)}, the predicted answer: {at}"
    if mid > answer:
        return mid, (f"{r} model: CPU {naming.cpu_text(cpu)}, next above {naming.cpu_text(grid[floor])} "
                     f"({basis} failing), which the interval cannot rule out: {at}")
    if hi < len(grid):
        return mid, (f"{r} model: CPU {naming.cpu_text(cpu)}, next below {naming.cpu_text(grid[hi])} "
                     f"(passing), which the interval cannot rule out: {at}")
    return mid, f"{r} model: CPU {naming.cpu_text(cpu)}, the top: the fit asks for more ({at})"


def _side(grid, index, what) -> str:
    if 0 <= index < len(grid):
        return f"{naming.cpu_text(grid[index])} ({what})"
    return f"cpu_min {naming.cpu_text(grid[0])}" if index < 0 else f"top {naming.cpu_text(grid[-1])}"


def _confirm(state: SearchState, rs: ReplicaSearch, lookup: Lookup) -> None:
    """Size memory from the passing probes and run the answer once as a normal variant."""
    c = state.config
    if rs.lowest_passing_cpu is None:
        rs.reason = f"no probe passed ({rs.stop})"
        return
    passing = [p for p in state.probes if p.replicas == rs.replicas and p.verdict == "pass"
               and p.peak_mem_bytes is not None]
    if not passing:
        rs.reason = "no memory measured in the passing probes: cannot size memory"
        return
    peak = rs.peak_mem_bytes = max(p.peak_mem_bytes for p in passing)
    rs.mem_bytes = mem_for(peak, c.mem_target_pct, c.mem_round_bytes)
    mem = mem_text(rs.mem_bytes)
    cpu = rs.lowest_passing_cpu
    rs.confirm_dir = naming.variant_name(cpu, mem, rs.replicas)
    status, outcome = lookup(rs.confirm_dir)
    if status != "done":
        raise _Pending({
            "action": "run", "kind": "confirm", "cpu": cpu, "mem": mem, "replicas": rs.replicas,
            "dir": rs.confirm_dir,
            "why": (f"r{rs.replicas}: confirm CPU {naming.cpu_text(cpu)} ({rs.stop}) with memory "
                    f"{mem} = peak {peak / MIB:.1f} MiB in the passing probes / "
                    f"{c.mem_target_pct:g} %, rounded up to {c.mem_round}"),
            "stale": status == "running", **run_shape(c, state.facts)})
    rs.confirm_verdict = outcome.verdict
    if outcome.verdict == "pass":
        rs.cpu, rs.mem = cpu, mem
        rs.reason = f"{rs.stop}; confirmed by {rs.confirm_dir}"
    else:
        detail = outcome.reasons[0] if outcome.reasons else "no reason given"
        rs.reason = f"confirmation run {rs.confirm_dir} {outcome.verdict}: {detail}"


def _done_action(state: SearchState) -> dict:
    best = state.best
    parts = [f"r{rs.replicas}: " + (f"{naming.cpu_text(rs.cpu)} CPU, {rs.mem}" if rs.cpu is not None
                                    else "no answer") + f" ({rs.reason})" for rs in state.searches]
    tail = f". {state.fallback}" if state.fallback else ""
    if best is None:
        why = "no confirmed answer. " + "; ".join(parts) + tail
        return {"action": "done", "cpu": None, "mem": None, "replicas": None, "why": why}
    why = "; ".join(parts) + tail
    if len(state.searches) > 1:
        why = f"cheapest in total CPU x memory: r{best.replicas}. " + why
    return {"action": "done", "cpu": best.cpu, "mem": best.mem, "replicas": best.replicas, "why": why}


# ---------------------------------------------------------------- the plan: expected runs and time


def bisection_probes(n: int) -> tuple[float, int]:
    """Mean and most probes a bisection over n grid CPUs takes, over its n + 1 outcomes alike
    (the least passing CPU is any of the n, or none), without repeats."""
    if n <= 0:
        return 0.0, 0
    counts = []
    for answer in range(n + 1):
        lo, hi, count = -1, n, 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            count += 1
            lo, hi = (lo, mid) if mid >= answer else (mid, hi)
        counts.append(count)
    return sum(counts) / len(counts), max(counts)


def estimate(config: SearchConfig, facts: LoadFacts, reused: int = 0) -> dict:
    """The runs (probes + confirmations) and wall time the search is expected to take, and its
    bound (max_probes per replica count), each run costing its load plus RUN_OVERHEAD_S.

    bisect: the mean bisection over the grid, rounded. model: the first probe (it fits the model) and
    the predicted answer, whose neighbour the interval usually rules out (2 probes; 1 at a later
    replica count, whose model is already fitted; one more where the interval cannot rule the
    neighbour out); with one step only (users_step >= users) there is no model and it bisects."""
    climbs = len(schedule.step_users(config.target_users, facts.users_step or config.target_users)) >= 2
    first = run_shape(config, facts, climb=True)
    later = run_shape(config, facts)
    expected = most = 0
    for k, replicas in enumerate(config.replicas):
        n = len(config.grid(replicas))
        mean, _ = bisection_probes(n)
        guess = math.floor(mean + 0.5)
        if config.strategy == "model" and climbs:
            guess = min(guess, 2 if k == 0 else 1)
        expected += min(guess, config.max_probes, n)
        most += min(config.max_probes, 2 * n)
    confirms = sum(1 for replicas in config.replicas if config.grid(replicas))

    def seconds(probes):
        if probes == 0:
            return confirms * (later["load_s"] + RUN_OVERHEAD_S)
        return (first["load_s"] + (probes - 1 + confirms) * later["load_s"]
                + (probes + confirms) * RUN_OVERHEAD_S)
    return {"strategy": config.strategy, "probes_expected": expected, "runs_expected": expected + confirms,
            "seconds_expected": seconds(expected), "probes_max": most, "runs_max": most + confirms,
            "seconds_max": seconds(most), "first": first, "later": later, "reused": reused}


def _minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def plan_text(state: SearchState) -> str:
    """The plan the playbook prints before the search: strategy, grid, expected runs and wall time."""
    c, f = state.config, state.facts
    reused = len(state.probes) + sum(1 for rs in state.searches if rs.confirm_verdict is not None)
    e = estimate(c, f, reused)
    grids = "; ".join(f"r{r}: " + (f"CPU {naming.cpu_text(g[0])}-{naming.cpu_text(g[-1])} by "
                                   f"{naming.cpu_text(c.resolution)} ({len(g)} on the grid)" if g else "no CPU")
                      for r, g in ((r, c.grid(r)) for r in c.replicas))
    how = ("model-guided (the capacity model of the probes places the next one and rules out known fails)"
           if c.strategy == "model" else "bisection")
    first, later = e["first"], e["later"]

    hold = run_shape(replace(c, probe_shape="hold"), f)
    held = (f"ramp {naming.cpu_text(hold['ramp_s'])} s + warm-up {naming.cpu_text(hold['warmup_s'])} s + "
            f"hold {naming.cpu_text(hold['hold_s'])} s = {hold['load_s']:g} s")
    if later["shape"] == "hold":
        rest = f"hold one window ({held}" + (", shorter than climbing)" if c.probe_shape == "auto" else ")")
    else:
        rest = f"climb the steps too ({later['load_s']:g} s" + (
            f"; holding, {held}, is not shorter)" if c.probe_shape == "auto" else ")")
    confirmations = e["runs_expected"] - e["probes_expected"]
    text = (f"Search plan: {how}, {c.target_users} users, {grids}. Expected {e['runs_expected']} runs "
            f"({e['probes_expected']} probes + {confirmations} confirmation{'s' if confirmations != 1 else ''}), "
            f"about {_minutes(e['seconds_expected'])}; at most {e['runs_max']} runs "
            f"({e['probes_max']} probes with repeats + confirmations), about {_minutes(e['seconds_max'])}. "
            f"The first probe climbs the steps ({first['load_s']:g} s of load); the other probes and the "
            f"confirmation {rest}, search_probe_shape {c.probe_shape}; "
            f"each run costs about {RUN_OVERHEAD_S} s beside its load.")
    if reused:
        text += f" {reused} finished runs of this run_id are reused."
    return text


# ---------------------------------------------------------------- folders -> outcomes (I/O)


def read_config(run_dir: Path) -> tuple[SearchConfig, dict]:
    """search.json and the run dict the verdicts need (run.json, target_users from search.json)."""
    path = run_dir / SEARCH_JSON
    if not path.is_file():
        raise InputError(path, "missing: not a search run (the playbook writes it with search=true)")
    config = parse_config(read_json(path, str(path), dict), str(path))
    run_json = run_dir / "run.json"
    run = read_json(run_json, str(run_json), dict) if run_json.is_file() else {}
    run = {**run, "target_users": config.target_users}
    run.setdefault("run_id", run_dir.name)
    return config, run


def outcome_of(result: dict, observed: capacity.VariantObservations | None = None) -> Outcome:
    """compute.variant_result -> what the planner needs. Peak memory: the highest mem_pct_peak x
    limit over every step (mem_pct_peak is the busiest container's highest 1-s sample)."""
    peaks = [st["mem_pct_peak"] / 100 * result["mem_bytes"] for st in result["steps"]
             if st["mem_pct_peak"] is not None and result["mem_bytes"]]
    judged = [st for st in result["steps"] if st["users"] == result["target_step_users"]]
    p95 = judged[-1]["p95_ms"] if judged else None
    test = judged[-1]["p95_test"] if judged else None
    inconclusive = bool(judged and judged[-1]["valid"] and test.result == "inconclusive"
                        and result["verdict"] == "invalid")
    return Outcome(result["verdict"], list(result["reasons"]),
                   round(max(peaks)) if peaks else None, p95, observed, p95_inconclusive=inconclusive,
                   needed_requests=test.needed_n if inconclusive else None,
                   rps=judged[-1]["rps"] if judged else None)


def observe(v, result: dict, settings) -> capacity.VariantObservations | None:
    """What a loaded folder's valid steps give the capacity model (None when it has none)."""
    if v.missing or v.error or not result["steps"]:
        return None
    observed = capacity.observe_variant(result["steps"], v.samples, v.latency, v.loadgen, name=v.name,
                                        cpu=result["cpu"], replicas=result["replicas"],
                                        failure_rate_max=settings.failure_rate_max)
    return observed if not observed.steps.empty else None


def folder_lookup(run_dir: Path, run: dict) -> Lookup:
    """Outcomes read from RUN_DIR's folders. A finished folder does not change, so its outcome is
    kept for later replays with the same lookup; an absent or running one is looked at again."""
    settings = settings_from_run(run)
    finished: dict[str, tuple[str, Outcome | None]] = {}

    def lookup(name: str):
        if name in finished:
            return finished[name]
        found = _look(run_dir, name, run, settings)
        if found[0] == "done":
            finished[name] = found
        return found
    return lookup


def _look(run_dir: Path, name: str, run: dict, settings):
    folder = run_dir / name
    if not folder.is_dir():
        return "absent", None
    try:
        meta = json.loads((folder / "variant.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "running", None
    if not isinstance(meta, dict) or meta.get("status") not in REUSABLE_STATUS:
        return "running", None
    # a probe runs once; the confirmation `repeats` times, each in <dir>/repeats/<k>/ for k > 1:
    # until every one has ended it is run again (all of them)
    planned = 1 if name.startswith(PROBE_PREFIX) else planned_repeats(run)
    for k in range(2, planned + 1):
        try:
            more = json.loads((folder / repeat_folder(".", k) / "variant.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "running", None
        if not isinstance(more, dict) or more.get("status") not in REUSABLE_STATUS:
            return "running", None
    # a finished load whose files do not parse is judged incomplete (it is repeated once, like
    # any inconclusive probe), never guessed at
    v = load_variant(run_dir, name, planned=planned)
    result = compute.variant_result_repeats(v, run, settings, planned)
    return "done", outcome_of(result, observe(v, result["repeat_results"][0][0], settings))


def plan(run_dir: str | Path, lookup: Lookup | None = None) -> SearchState:
    """The search of RUN_DIR replayed over its folders (lookup: reuse one across calls)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "not a directory")
    config, run = read_config(run_dir)
    return replay(config, lookup or folder_lookup(run_dir, run), load_facts(run))


# ---------------------------------------------------------------- the report's view


def is_search_run(run_dir: Path) -> bool:
    return (Path(run_dir) / SEARCH_JSON).is_file()


def summary_block(state: SearchState) -> dict:
    """summary.json's `search` (schema $defs/search), plus `reason` per answer (allowed by it)."""
    searches = state.searches
    chosen = state.best or (searches[0] if searches else None)
    probes = [{"cpu": p.cpu, "mem": p.mem, "replicas": p.replicas, "verdict": p.verdict,
               "reasons": p.reasons, "dir": p.dir, "why": p.why, "shape": p.shape} for p in state.probes]
    pending = state.action if state.action and state.action["action"] == "run" else None
    if pending and pending["kind"] == "probe" and pending["stale"]:
        probes.append({"cpu": pending["cpu"], "mem": pending["mem"], "replicas": pending["replicas"],
                       "verdict": "incomplete", "dir": pending["dir"], "why": pending["why"],
                       "shape": pending["shape"],
                       "reasons": ["the load did not finish (variant.json missing or status running)"]})
    block = {
        "cpu": state.best.cpu if state.best else None,
        "mem": state.best.mem if state.best else None,
        "replicas": state.best.replicas if state.best else None,
        "bracket": chosen.bracket if chosen else {"highest_failing_cpu": None, "lowest_passing_cpu": None},
        "probes": probes,
        "reason": state.action["why"] if state.finished else f"search not finished: next {pending['dir']}",
        "strategy": state.config.strategy,
        "skipped": [skip for rs in searches for skip in rs.skipped],
        "fallback": state.fallback,
    }
    if chosen is not None and chosen.model is not None:
        block["model"] = chosen.model.block()
    if len(state.config.replicas) > 1:
        block["by_replicas"] = [{"replicas": rs.replicas, "cpu": rs.cpu, "mem": rs.mem,
                                 "bracket": rs.bracket, "reason": rs.reason or rs.stop or "in progress"}
                                for rs in searches]
    return block


def attach(analysis: dict, run_dir: Path) -> dict:
    """Add the search to an analysis (compute.analyse) of a search run; an unfinished search makes
    the run not valid, as a missing planned variant does."""
    state = plan(run_dir)
    analysis["search"] = state
    analysis["search_summary"] = summary_block(state)
    if not state.finished:
        analysis["reasons"].append(f"search not finished: the next step is {state.action['kind']} "
                                   f"{state.action['dir']} ({state.action['why']})")
        analysis["valid"] = False
    return analysis


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="search.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    nxt = sub.add_parser("next", help="print the next step of the search as one JSON object")
    nxt.add_argument("run_dir", help="results/<run_id> holding search.json")
    est = sub.add_parser("plan", help="print the search's plan: expected runs and wall time (one line)")
    est.add_argument("run_dir", help="results/<run_id> holding search.json")
    args = parser.parse_args(argv)
    try:
        state = plan(args.run_dir)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2
    print(plan_text(state) if args.command == "plan" else json.dumps(state.action))
    return 0


if __name__ == "__main__":
    sys.exit(main())
