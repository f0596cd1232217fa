"""A synthetic results/<run_id>/ directory (docs/results-format.md) built from raw per-request
latencies, so tests can work out the expected figures on their own from the returned truth.

    truth = write_run(tmp_path / "run1", [VariantSpec("c0.5-m512M-r1", [StepSpec(500), StepSpec(1000)])],
                      target_users=1000)
    truth["c0.5-m512M-r1"].requests   # t (float epoch), ms_raw, ms (rounded up), ok, worker

It is also a handy fixture for trying the report: `python -m collect.synth DIR` writes a demo run.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from rightsize.variables import VARIABLES

T0 = 1_800_000_000.0
# run.json vars the capacity model reads, at their defaults, as a current run records them
CAPACITY_VARS = {name: VARIABLES[name].default for name in (
    "locust_wait_min", "locust_wait_max", "search_cpu_min", "search_resolution", "search_mem_target_pct",
    "search_mem_round", "capacity_predict_users")}
ERRORS = ("HTTPError('503 Server Error: Service Unavailable for url: /predict')",
          "ConnectionResetError(104, 'Connection reset by peer')")


@dataclass
class StepSpec:
    users: int
    rps: float = 40.0
    rps_end: float | None = None      # throughput ramps linearly to this within the step
    latency_median_ms: float = 100.0  # lognormal response times
    latency_sigma: float = 0.5
    failure_rate: float = 0.0
    cpu_cores: float = 0.2            # CPU used by all API containers together
    mem_frac: float = 0.5             # memory of each container, share of its limit ...
    mem_rise: float = 0.0             # ... growing by this share over the step
    throttled_frac: float = 0.0       # share of CFS periods throttled
    generator_cores: float = 0.3      # CPU of each Locust worker process
    workers_connected: int | None = None  # fewer than the variant's workers: a worker lost


@dataclass
class VariantSpec:
    name: str
    steps: list[StepSpec]
    step_duration: int = 30
    workers: int = 2
    oom_killed: bool = False
    restart_count: int = 0
    restart_at: float | None = None   # s after the variant's start: replica 1's CPU counter resets
    stop_at: float | None = None      # s after the variant's start: the run was killed
    master_json: bool = True          # False: the master died without writing master.json
    cut_latency_tail: str | None = None  # text appended without newline to the first latency file
    drop: tuple[str, ...] = ()        # files to delete afterwards, relative to the variant folder
    status: str = "done"
    # A known service demand: the API containers then burn idle_cores each plus cpu_s_per_request
    # CPU-seconds per successful request, at the moment it is served (StepSpec.cpu_cores is ignored).
    cpu_s_per_request: float | None = None
    idle_cores: float = 0.02
    # A known generator cost: each Locust worker then burns generator_idle_cores plus this many
    # CPU-seconds per request it sent (StepSpec.generator_cores is ignored).
    generator_cpu_s_per_request: float | None = None
    generator_idle_cores: float = 0.02


@dataclass
class VariantTruth:
    start: float
    requests: pd.DataFrame            # t, ms_raw, ms, ok, worker
    steps: pd.DataFrame               # the rows written to steps.csv
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)


def parse_name(name: str) -> tuple[float, str, int, int]:
    cpu, mem, rep = name[1:].split("-")
    mib = int(mem[1:-1])
    return float(cpu), f"{mib}M", mib * 2**20, int(rep[1:])


def _times(rng, spec: StepSpec, start: float, duration: float) -> np.ndarray:
    r0 = spec.rps
    r1 = spec.rps if spec.rps_end is None else spec.rps_end
    n = rng.poisson((r0 + r1) / 2 * duration)
    x = rng.random(n)
    if math.isclose(r0, r1):
        u = x
    else:  # inverse CDF of a density rising linearly from r0 to r1 over [0, 1]
        u = (-r0 + np.sqrt(r0**2 + (r1**2 - r0**2) * x)) / (r1 - r0)
    return np.sort(start + u * duration)


def write_variant(run_dir: Path, spec: VariantSpec, start: float, rng) -> tuple[VariantTruth, float]:
    vdir = run_dir / spec.name
    (vdir / "latency").mkdir(parents=True)
    (vdir / "target").mkdir()
    (vdir / "loadgen").mkdir()
    cpu, mem, mem_bytes, replicas = parse_name(spec.name)
    dur = spec.step_duration
    first = start + 2.37  # fractional, so window edges fall between whole seconds
    bounds = [(first + k * dur, first + (k + 1) * dur) for k in range(len(spec.steps))]
    natural_end = bounds[-1][1] + 0.4
    stop = start + spec.stop_at if spec.stop_at is not None else None
    end = min(natural_end, stop) if stop is not None else natural_end

    def step_at(t):
        for k, (a, b) in enumerate(bounds):
            if a <= t < b:
                return spec.steps[k]
        return None

    # requests
    frames = []
    for k, (a, b) in enumerate(bounds):
        st = spec.steps[k]
        t = _times(rng, st, a, b - a)
        raw = rng.lognormal(math.log(st.latency_median_ms), st.latency_sigma, len(t))
        ok = (rng.random(len(t)) >= st.failure_rate).astype(int)
        frames.append(pd.DataFrame({"t": t, "ms_raw": raw, "ok": ok}))
    req = pd.concat(frames, ignore_index=True)
    req = req[req["t"] < math.floor(end)] if stop is not None else req  # whole seconds written only
    req = req.assign(ms=np.ceil(req["ms_raw"]).astype(int),
                     worker=rng.integers(0, spec.workers, len(req))).reset_index(drop=True)
    pids = [201 + w for w in range(spec.workers)]
    for w, pid in enumerate(pids):
        part = req[req["worker"] == w]
        hist = (part.assign(ts=np.floor(part["t"]).astype(int)).groupby(["ts", "ok", "ms"])
                .size().rename("count").reset_index())
        path = vdir / "latency" / f"lg1-{pid}.csv"
        hist.to_csv(path, index=False)
        if w == 0 and spec.cut_latency_tail is not None:
            with path.open("a") as fh:
                fh.write(spec.cut_latency_tail)

    # steps.csv: a row appended when a step starts
    rows = [{"step": k + 1, "users": spec.steps[k].users, "start_ts": a, "planned_end_ts": b}
            for k, (a, b) in enumerate(bounds) if a < end]
    steps = pd.DataFrame(rows, columns=["step", "users", "start_ts", "planned_end_ts"])
    steps.to_csv(vdir / "steps.csv", index=False)

    seconds = np.arange(0, math.floor(end - start))
    ok_times = req.loc[req["ok"] == 1, "t"].to_numpy()

    def served(times, a, b):  # requests of `times` (sorted) in (a, b]
        return int(np.searchsorted(times, b, side="right") - np.searchsorted(times, a, side="right"))

    # target samples, one row per container per second
    srows = []
    for i in range(replicas):
        cname = f"rs-{spec.name}-api-{i + 1}"
        cpu_ns = periods = throttled = 0.0
        prev = None
        for j in seconds:
            ts = start + j + 0.5
            if prev is not None:
                st = step_at((prev + ts) / 2)
                if spec.cpu_s_per_request is not None:
                    cpu_ns += (spec.idle_cores * (ts - prev)
                               + spec.cpu_s_per_request * served(ok_times, prev, ts) / replicas) * 1e9
                else:
                    cores = (st.cpu_cores if st else 0.01) / replicas
                    cpu_ns += cores * 1e9 * (ts - prev)
                periods += 10
                throttled += round(10 * (st.throttled_frac if st else 0))
            if i == 0 and spec.restart_at is not None and prev is not None \
                    and prev < start + spec.restart_at <= ts:
                cpu_ns = 1e6
            st = step_at(ts)
            frac = 0.2
            if st:
                a = next(a for a, b in bounds if a <= ts < b)
                frac = st.mem_frac + st.mem_rise * (ts - a) / dur
            srows.append({"ts": round(ts, 3), "container": cname, "cpu_usage_ns": int(cpu_ns),
                          "nr_periods": int(periods), "nr_throttled": int(throttled),
                          "throttled_ns": int(throttled * 1e6), "mem_bytes": int(frac * mem_bytes),
                          "mem_limit_bytes": mem_bytes, "cpu_limit": cpu})
            prev = ts
    samples = pd.DataFrame(srows)
    samples.to_csv(vdir / "target" / "samples.csv", index=False)

    # loadgen: the host and each Locust process
    lrows = []
    cum = {("host", 0): 0.0, ("master", 100): 0.0, **{("worker", p): 0.0 for p in pids}}
    sent_by = {p: req.loc[req["worker"] == w, "t"].to_numpy() for w, p in enumerate(pids)}
    prev = None
    for j in seconds:
        ts = start + j + 0.2
        if prev is not None:
            st = step_at((prev + ts) / 2)
            cum[("master", 100)] += 0.05 * (ts - prev)
            workers_s = 0.0
            for p in pids:
                if spec.generator_cpu_s_per_request is not None:
                    used = (spec.generator_idle_cores * (ts - prev)
                            + spec.generator_cpu_s_per_request * served(sent_by[p], prev, ts))
                else:
                    used = (st.generator_cores if st else 0.02) * (ts - prev)
                cum[("worker", p)] += used
                workers_s += used
            cum[("host", 0)] += (0.1 + 0.05) * (ts - prev) + workers_s
        for (role, pid), value in cum.items():
            lrows.append({"ts": round(ts, 3), "host": "lg1", "pid": pid, "role": role,
                          "cpu_s": round(value, 6), "ncpu": 2})
        prev = ts
    pd.DataFrame(lrows).to_csv(vdir / "loadgen" / "lg1.csv", index=False)

    wrows = []
    for j in seconds:
        ts = start + j + 0.1
        st = step_at(ts)
        n = st.workers_connected if st and st.workers_connected is not None else spec.workers
        wrows.append({"ts": round(ts, 3), "workers": n})
    pd.DataFrame(wrows).to_csv(vdir / "master_workers.csv", index=False)

    if spec.master_json:
        (vdir / "master.json").write_text(json.dumps({
            "end_ts": end, "exit_code": 0, "expected_workers": spec.workers,
            "min_workers": spec.workers, "locust_version": "2.47.0"}))
    containers = [{"name": f"rs-{spec.name}-api-{i + 1}", "id": f"{i:064x}", "service": "api",
                   "oom_killed": spec.oom_killed and i == 0,
                   "restart_count": spec.restart_count if i == 0 else 0,
                   "status": "running", "exit_code": 0, "started_at": _iso(start)}
                  for i in range(replicas)]
    (vdir / "target" / "containers.json").write_text(json.dumps(containers))
    failed = req[req["ok"] == 0]
    occ = np.bincount(rng.integers(0, len(ERRORS), len(failed)), minlength=len(ERRORS))
    pd.DataFrame([{"Method": "POST", "Name": "/predict", "Error": e, "Occurrences": int(o)}
                  for e, o in zip(ERRORS, occ) if o]
                 , columns=["Method", "Name", "Error", "Occurrences"]).to_csv(
        vdir / "locust_failures.csv", index=False)
    users = [s.users for s in spec.steps]
    (vdir / "variant.json").write_text(json.dumps({
        "name": spec.name, "cpu": cpu, "mem": mem, "mem_bytes": mem_bytes, "replicas": replicas,
        "image": "local/inference:synthetic", "image_id": "sha256:" + "ab" * 32,
        "users": max(users), "users_step": users[0], "step_duration": dur,
        "started_at": _iso(start), "entrypoint": "http://127.0.0.1:8000", "status": spec.status}))
    for rel in spec.drop:
        (vdir / rel).unlink()
    return VariantTruth(start=start, requests=req, steps=steps, samples=samples), end


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_run(run_dir, variants: list[VariantSpec], target_users: int, run_id: str | None = None,
              t0: float = T0, seed: int = 0, slo: dict | None = None, report: dict | None = None,
              skipped: list[dict] = (), planned_only: list[str] = (),
              run_vars: dict | None = None) -> dict[str, VariantTruth]:
    """Write run.json and one folder per variant; planned_only names are planned but never run.
    run_vars update run.json's vars (a None value removes the key: a run recorded before it existed)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    truth, start = {}, t0
    for spec in variants:
        truth[spec.name], end = write_variant(run_dir, spec, start, rng)
        start = end + 5
    first = variants[0] if variants else None
    run = {
        "run_id": run_id or run_dir.name, "started_at": _iso(t0), "target_users": target_users,
        "slo": slo or {"failure_rate_max": 0.01, "p95_ms_max": 1000, "cpu_pct_max": 90, "mem_pct_max": 90},
        "report": report or {"warmup_s": 10, "generator_cpu_pct_max": 80, "stability_tolerance": 0.10},
        "vars": {"profile": "synthetic", "users": target_users,
                 "users_step": first.steps[0].users if first else target_users,
                 "step_duration": first.step_duration if first else 30,
                 "image": "local/inference:synthetic", **CAPACITY_VARS},
        "variants": [v.name for v in variants] + list(planned_only),
        "skipped": list(skipped),
        "manifest": {"git_commit": "0123456789abcdef", "ansible_version": "2.19.0",
                     "locust_version": "2.47.0",
                     "hosts": {"localhost": {"groups": ["target", "loadgen"], "cores": 2,
                                             "mem_mb": 24000, "kernel": "6.1.0"}}},
    }
    for key, value in (run_vars or {}).items():
        if value is None:
            run["vars"].pop(key, None)
        else:
            run["vars"][key] = value
    (run_dir / "run.json").write_text(json.dumps(run, indent=1))
    return truth


def demo(run_dir) -> dict[str, VariantTruth]:
    """Three variants: one failing on p95 at the second step, one passing, one 3-replica."""
    ok = dict(latency_median_ms=120, cpu_cores=0.2, mem_frac=0.4)
    return write_run(run_dir, [
        VariantSpec("c0.25-m256M-r1", [StepSpec(50, rps=30, **ok),
                                       StepSpec(100, rps=45, latency_median_ms=900, cpu_cores=0.24,
                                                mem_frac=0.6, throttled_frac=0.4)]),
        VariantSpec("c0.5-m512M-r1", [StepSpec(50, rps=30, **ok), StepSpec(100, rps=60, **ok)]),
        VariantSpec("c0.25-m256M-r3", [StepSpec(50, rps=30, **ok), StepSpec(100, rps=60, **ok)]),
    ], target_users=100, skipped=[{"name": "c2-m2048M-r1", "reason": "cpu x replicas 2 exceeds the "
                                                                     "target's 1 cores"}])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m collect.synth NEW_RUN_DIR")
    demo(sys.argv[1])
    print(sys.argv[1])
