#!/usr/bin/env python3
"""Right-sizing search: the least CPU per replica (then memory) meeting every SLO at the target users.

    python collect/search.py next RUN_DIR     # one JSON object on stdout: the next step of the search

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from collect import compute
from collect.load import PROBE_PREFIX, InputError, load_variant, read_json
from collect.settings import settings_from_run
from rightsize import names as naming  # the playbooks' naming rule: a folder is named the same on both sides

SEARCH_JSON = "search.json"
MIB = 2**20
REUSABLE_STATUS = ("done", "failed")   # variant.json status of a folder whose load has ended
CONCLUSIVE = ("pass", "fail")

# search.json keys -> defaults (group_vars: search_cpu_min, search_resolution, ...)
DEFAULTS = {"replicas": [1], "cpu_min": 0.25, "cpu_max": None, "cores": None, "resolution": 0.25,
            "probe_mem": "2G", "max_probes": 8, "mem_target_pct": 75, "mem_round": "64M"}


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
    return SearchConfig(target_users=whole(c.get("target_users"), "target_users"), replicas=tuple(reps),
                        cpu_min=number("cpu_min"), cpu_max=cpu_max, cores=cores,
                        resolution=number("resolution"), probe_mem=size("probe_mem"),
                        max_probes=whole(c["max_probes"], "max_probes"), mem_target_pct=pct,
                        mem_round=size("mem_round"))


# ---------------------------------------------------------------- the planner (pure)


@dataclass(frozen=True)
class Outcome:
    """What a finished folder measured, as the planner needs it."""
    verdict: str                  # pass | fail | invalid | incomplete (compute.variant_result)
    reasons: list[str]
    peak_mem_bytes: int | None    # the busiest container's highest 1-s memory over all steps
    p95_ms: float | None = None   # at the judged step (for the report's plot)


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


@dataclass
class ReplicaSearch:
    """The search at one replica count."""
    replicas: int
    grid: list[float]
    highest_failing_cpu: float | None = None
    lowest_passing_cpu: float | None = None
    probes: int = 0
    stop: str | None = None        # why the bisection ended (converged, bound, inconclusive, ...)
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
        return {"highest_failing_cpu": self.highest_failing_cpu,
                "lowest_passing_cpu": self.lowest_passing_cpu}

    def cost(self) -> float:
        """Total CPU x total memory: cpu x replicas x mem_bytes x replicas."""
        return self.cpu * self.replicas * naming.docker_bytes(self.mem) * self.replicas


@dataclass
class SearchState:
    config: SearchConfig
    probes: list[Probe] = field(default_factory=list)
    searches: list[ReplicaSearch] = field(default_factory=list)
    action: dict | None = None     # what `next` prints
    best: ReplicaSearch | None = None

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


def replay(config: SearchConfig, lookup: Lookup) -> SearchState:
    """Replay the search from its start over the folders present: every step whose folder holds a
    finished load is taken from it; the first that does not is the next action. Deterministic."""
    state = SearchState(config)
    try:
        for replicas in config.replicas:
            rs = ReplicaSearch(replicas=replicas, grid=config.grid(replicas))
            state.searches.append(rs)
            _bisect(state, rs, lookup)
            _confirm(state, rs, lookup)
            rs.finished = True
    except _Pending as pending:
        state.action = pending.action
        return state
    answered = [rs for rs in state.searches if rs.cpu is not None]
    state.best = min(answered, key=lambda rs: (rs.cost(), rs.replicas, rs.cpu)) if answered else None
    state.action = _done_action(state)
    return state


def _run_probe(state: SearchState, rs: ReplicaSearch, cpu: float, lookup: Lookup, why: str) -> Probe:
    c = state.config
    number = len(state.probes) + 1
    folder = f"{PROBE_PREFIX}{number:02d}-{naming.variant_name(cpu, c.probe_mem, rs.replicas)}"
    status, outcome = lookup(folder)
    if status != "done":
        raise _Pending({"action": "run", "kind": "probe", "cpu": cpu, "mem": c.probe_mem,
                        "replicas": rs.replicas, "dir": folder, "why": why,
                        "stale": status == "running"})
    probe = Probe(number, folder, cpu, c.probe_mem, rs.replicas, outcome.verdict,
                  list(outcome.reasons), outcome.peak_mem_bytes, outcome.p95_ms)
    state.probes.append(probe)
    rs.probes += 1
    return probe


def _bisect(state: SearchState, rs: ReplicaSearch, lookup: Lookup) -> None:
    """Bisection over grid indices: lo = highest failing (-1: none yet), hi = lowest passing
    (len(grid): none yet), so 'nothing passes' is one of the outcomes too."""
    c, grid = state.config, rs.grid
    if not grid:
        rs.stop = (f"no CPU to try: the top {naming.cpu_text(c.top(rs.replicas))} is below "
                   f"cpu_min {naming.cpu_text(c.cpu_min)}")
        return
    lo, hi = -1, len(grid)
    r = f"r{rs.replicas}"
    while hi - lo > 1:
        if rs.probes >= c.max_probes:
            rs.stop = (f"max_probes {c.max_probes} reached before the bracket was "
                       f"{naming.cpu_text(c.resolution)} wide")
            return
        mid = (lo + hi) // 2
        cpu = grid[mid]
        why = (f"{r} bisection: CPU {naming.cpu_text(cpu)}, the middle of "
               f"{_side(grid, lo, 'failing')} .. {_side(grid, hi, 'passing')}")
        probe = _run_probe(state, rs, cpu, lookup, why)
        if probe.verdict not in CONCLUSIVE:
            first = probe
            if rs.probes >= c.max_probes:
                rs.stop = (f"max_probes {c.max_probes} reached: {first.dir} was {first.verdict}, "
                           "no probe left to repeat it")
                return
            why = (f"{r}: repeat CPU {naming.cpu_text(cpu)} once: {first.dir} was {first.verdict} "
                   f"({first.reasons[0] if first.reasons else 'no reason given'})")
            probe = _run_probe(state, rs, cpu, lookup, why)
            probe.reasons.insert(0, f"repeat of {first.dir} ({first.verdict})")
            if probe.verdict not in CONCLUSIVE:
                rs.stop = (f"CPU {naming.cpu_text(cpu)} inconclusive twice ({first.dir}: {first.verdict}, "
                           f"{probe.dir}: {probe.verdict}): search stopped")
                return
        if probe.verdict == "pass":
            hi = mid
            rs.lowest_passing_cpu = cpu
        else:
            lo = mid
            rs.highest_failing_cpu = cpu
    if hi == len(grid):
        rs.stop = f"even the top CPU {naming.cpu_text(grid[-1])} fails"
    elif lo == -1:
        rs.stop = f"cpu_min {naming.cpu_text(grid[0])} passes"
    else:
        rs.stop = f"converged: {naming.cpu_text(grid[lo])} fails, {naming.cpu_text(grid[hi])} passes"


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
            "stale": status == "running"})
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
    if best is None:
        why = "no confirmed answer. " + "; ".join(parts)
        return {"action": "done", "cpu": None, "mem": None, "replicas": None, "why": why}
    why = "; ".join(parts)
    if len(state.searches) > 1:
        why = f"cheapest in total CPU x memory: r{best.replicas}. " + why
    return {"action": "done", "cpu": best.cpu, "mem": best.mem, "replicas": best.replicas, "why": why}


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


def outcome_of(result: dict) -> Outcome:
    """compute.variant_result -> what the planner needs. Peak memory: the highest mem_pct_peak x
    limit over every step (mem_pct_peak is the busiest container's highest 1-s sample)."""
    peaks = [st["mem_pct_peak"] / 100 * result["mem_bytes"] for st in result["steps"]
             if st["mem_pct_peak"] is not None and result["mem_bytes"]]
    judged = [st for st in result["steps"] if st["users"] == result["target_step_users"]]
    p95 = judged[-1]["p95_ms"] if judged else None
    return Outcome(result["verdict"], list(result["reasons"]),
                   round(max(peaks)) if peaks else None, p95)


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
    # a finished load whose files do not parse is judged incomplete (it is repeated once, like
    # any inconclusive probe), never guessed at
    result = compute.variant_result(load_variant(run_dir, name), run, settings)
    return "done", outcome_of(result)


def plan(run_dir: str | Path, lookup: Lookup | None = None) -> SearchState:
    """The search of RUN_DIR replayed over its folders (lookup: reuse one across calls)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "not a directory")
    config, run = read_config(run_dir)
    return replay(config, lookup or folder_lookup(run_dir, run))


# ---------------------------------------------------------------- the report's view


def is_search_run(run_dir: Path) -> bool:
    return (Path(run_dir) / SEARCH_JSON).is_file()


def summary_block(state: SearchState) -> dict:
    """summary.json's `search` (schema $defs/search), plus `reason` per answer (allowed by it)."""
    searches = state.searches
    chosen = state.best or (searches[0] if searches else None)
    probes = [{"cpu": p.cpu, "mem": p.mem, "replicas": p.replicas, "verdict": p.verdict,
               "reasons": p.reasons, "dir": p.dir} for p in state.probes]
    pending = state.action if state.action and state.action["action"] == "run" else None
    if pending and pending["kind"] == "probe" and pending["stale"]:
        probes.append({"cpu": pending["cpu"], "mem": pending["mem"], "replicas": pending["replicas"],
                       "verdict": "incomplete", "dir": pending["dir"],
                       "reasons": ["the load did not finish (variant.json missing or status running)"]})
    block = {
        "cpu": state.best.cpu if state.best else None,
        "mem": state.best.mem if state.best else None,
        "replicas": state.best.replicas if state.best else None,
        "bracket": chosen.bracket if chosen else {"highest_failing_cpu": None, "lowest_passing_cpu": None},
        "probes": probes,
        "reason": state.action["why"] if state.finished else f"search not finished: next {pending['dir']}",
    }
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
    args = parser.parse_args(argv)
    try:
        state = plan(args.run_dir)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps(state.action))
    return 0


if __name__ == "__main__":
    sys.exit(main())
