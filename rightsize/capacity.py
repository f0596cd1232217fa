"""The capacity model: what the measured steps say about loads the lab did not send. No I/O here.

Every valid step's measured window holds how many CPU-seconds the service spends per request, where
one replica stops scaling and how fast memory grows. This module turns that into predictions:

1. **Service demand** (utilisation law, busy = idle + D x throughput). Over the 1-s points of the
   valid steps' windows, successful requests per second X against busy CPU cores U, least squares
   U = U0 x replicas + D x X (U0: the idle cores of one replica; with one replica this is the plain
   line U = U0 + D x X). D = CPU-seconds per request, 95 % interval D +- t(n-2) x SE.
2. **Users to load** (interactive response time law): N users of between(wait_min, wait_max) wait
   Z = (min + max) / 2 on average, so they offer X = N / (Z + R), R the mean response time.
3. **Ceiling per replica**: a replica that stops scaling before its CPU limit (single-threaded, a
   lock, a fixed worker pool) shows more users raising response time, not throughput.
4. **Memory**: peak per replica and its growth with users per replica.
5. **Predictions** for a list of users, each labelled `measured` (a valid step had that many users)
   or `extrapolated` (beyond what the lab sent): never present an extrapolation as a measurement.
6. **Generator**: CPU-seconds per request a Locust worker spends, and the processes a load needs.

Inputs are the per-step dicts of collect.compute.step_results and a variant's DataFrames (samples,
latency, loadgen; docs/results-format.md). `observe_variant` reads one variant; `capacity_model`
pools every variant's observations (variants and search probes alike) and predicts;
`CapacityModel.block()` is summary.json's `capacity` object; `render_capacity_markdown` the report
section's text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from rightsize.generator import offered_rps, processes_for  # the two laws, written once (stdlib, for preflight)
from rightsize.names import docker_bytes
from rightsize.variables import VARIABLES

MIB = 2**20
DEMAND_CONFIDENCE = 0.95      # two-sided confidence of D's interval
MIN_RPS_SPREAD = 0.10         # the fit needs two steps whose RPS differ by at least this fraction
CEILING_GROWTH_SHARE = 0.25   # a ceiling: RPS grows by less than this share of the users' growth ...
CEILING_LATENCY_FACTOR = 2.0  # ... while the mean response time reaches this multiple of the lightest step's
GENERATOR_ROLES = ("worker",)  # the Locust processes that send requests (the master only coordinates)

POINT_COLUMNS = ["variant", "users", "ts", "ok_rps", "busy_cores", "replicas"]
STEP_COLUMNS = ["variant", "cpu", "replicas", "users", "seconds", "requests", "rps", "ok_rps",
                "mean_ms", "failure_rate", "cpu_pct", "busy_cores", "mem_peak_bytes",
                "worker_cores", "workers", "in_fit"]


# ---------------------------------------------------------------- settings


def _default(name: str):
    """A public variable's default (rightsize/variables.py, the table group_vars is generated from)."""
    return VARIABLES[name].default


@dataclass(frozen=True)
class CapacitySettings:
    """The knobs of the model, named as in group_vars (search_mem_round given in bytes), defaulting
    to the public variables' own defaults."""
    # steps at or above it are not served work: left out of the fit
    slo_failure_rate_max: float = float(_default("slo_failure_rate_max"))
    # predicted busy CPU must stay under this % of the limit
    slo_cpu_pct_max: float = float(_default("slo_cpu_pct_max"))
    # a Locust process must stay under this % of one core
    generator_cpu_pct_max: float = float(_default("generator_cpu_pct_max"))
    # think time between(min, max), seconds
    locust_wait_min: float = float(_default("locust_wait_min"))
    locust_wait_max: float = float(_default("locust_wait_max"))
    # the CPU grid: min, min + resolution, ...
    search_cpu_min: float = float(_default("search_cpu_min"))
    search_resolution: float = float(_default("search_resolution"))
    # predicted peak memory at this % of the limit, rounded up to a multiple of search_mem_round
    search_mem_target_pct: float = float(_default("search_mem_target_pct"))
    search_mem_round_bytes: int = docker_bytes(_default("search_mem_round"))
    capacity_predict_users: tuple[int, ...] = tuple(int(u) for u in _default("capacity_predict_users"))

    @property
    def think_time_s(self) -> float:
        return (self.locust_wait_min + self.locust_wait_max) / 2


def parse_users_list(value) -> tuple[int, ...]:
    """capacity_predict_users as a tuple of whole numbers >= 1: from a list, a number, or the
    "10000,20000" that `-e capacity_predict_users=10000,20000` gives. ValueError otherwise."""
    if isinstance(value, str):  # "10000,20000", or a list that reached run.json as text: "[10000]"
        items = value.strip().removeprefix("[").removesuffix("]").split(",")
    else:
        items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"{value!r}: expected whole numbers >= 1")
        try:
            number = float(str(item).strip())
        except ValueError:
            raise ValueError(f"{value!r}: expected whole numbers >= 1, e.g. 10000,20000") from None
        if not math.isfinite(number) or number != int(number) or number < 1:
            raise ValueError(f"{value!r}: expected whole numbers >= 1, e.g. 10000,20000")
        out.append(int(number))
    if not out:
        raise ValueError(f"{value!r}: expected at least one number of users")
    return tuple(out)


# ---------------------------------------------------------------- one variant's observations


@dataclass
class VariantObservations:
    """What one variant (or search probe) contributes to the model.

    points: one row per sampler interval (about 1 s) of the fitted steps' windows (POINT_COLUMNS);
    steps: one row per valid step (STEP_COLUMNS), `in_fit` true for the steps the demand fit uses."""
    name: str
    cpu: float | None
    replicas: int
    points: pd.DataFrame
    steps: pd.DataFrame


def step_in_fit(step: dict, failure_rate_max: float) -> bool:
    """A step feeds the demand fit when it is valid, its CPU was measured and it kept the failure
    SLO (failed requests are not served work)."""
    fr = step.get("failure_rate")
    return bool(step.get("valid")) and step.get("cpu_pct") is not None \
        and fr is not None and fr < failure_rate_max


def _clean_counter(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A cumulative counter with the intervals where it went down (a restart) contributing
    nothing, and for each sample the number of such intervals before it."""
    d, dt = np.diff(c), np.diff(t)
    good = (d >= 0) & (dt > 0)
    clean = np.concatenate([[0.0], np.cumsum(np.where(good, d, 0.0))])
    return clean, np.concatenate([[0], np.cumsum(~good)])


def interval_points(samples: pd.DataFrame | None, ok_per_second: pd.Series, first_s: int,
                    stop_s: int) -> pd.DataFrame:
    """Busy cores and successful RPS over each sampler interval (about 1 s) inside [first_s, stop_s).

    Both sides are read over the same interval so that a busy second is paired with the requests
    it served: the CPU from the containers' cumulative cpu_usage_ns at the reference container's
    sample times (the others interpolated onto them: they are read in the same pass), the requests
    from the latency files' per-second counts spread evenly over each second (their cumulative
    count interpolated linearly between whole seconds). An interval over a counter reset (a
    restart) or outside a container's samples is left out. Columns ts (interval start), dt,
    ok_rps, busy_cores."""
    out_cols = ["ts", "dt", "ok_rps", "busy_cores"]
    if samples is None or samples.empty or stop_s <= first_s:
        return pd.DataFrame(columns=out_cols)
    near = samples[(samples["ts"] >= first_s - 2) & (samples["ts"] <= stop_s + 2)]
    groups = [(g["ts"].to_numpy(float), g["cpu_usage_ns"].to_numpy(float))
              for _, g in near.sort_values("ts").groupby("container", sort=False)]
    if not groups or any(len(t) < 2 for t, _ in groups):
        return pd.DataFrame(columns=out_cols)
    ref_t = max(groups, key=lambda tc: len(tc[0]))[0]
    ref_t = ref_t[(ref_t >= first_s) & (ref_t <= stop_s)]
    if len(ref_t) < 2:
        return pd.DataFrame(columns=out_cols)
    a, b = ref_t[:-1], ref_t[1:]
    keep = np.ones(len(a), dtype=bool)
    busy = np.zeros(len(a))
    for t, c in groups:
        clean, resets = _clean_counter(t, c)
        keep &= (a >= t[0]) & (b <= t[-1])
        # the container's intervals overlapping [a, b]: from the one holding a to the one holding b
        lo = np.clip(np.searchsorted(t, a, side="right") - 1, 0, len(t) - 2)
        hi = np.clip(np.searchsorted(t, b, side="left") - 1, 0, len(t) - 2)
        keep &= resets[hi + 1] - resets[lo] == 0
        busy += np.interp(b, t, clean) - np.interp(a, t, clean)
    seconds = np.arange(first_s, stop_s + 1)
    counts = ok_per_second.reindex(range(first_s, stop_s), fill_value=0).to_numpy(float)
    served = np.concatenate([[0.0], np.cumsum(counts)])
    dt = b - a
    ok = (np.interp(b, seconds, served) - np.interp(a, seconds, served)) / dt
    return pd.DataFrame({"ts": a, "dt": dt, "ok_rps": ok, "busy_cores": busy / dt / 1e9})[keep] \
        .reset_index(drop=True)


def _window_seconds(step: dict) -> tuple[int, int]:
    """The whole seconds of a step's measured window, by the latency rule of docs/report.md."""
    return math.ceil(step["window_start"]), math.floor(step["window_end"])


def _process_cores(loadgen: pd.DataFrame | None, start: float, end: float) -> tuple[float | None, int]:
    """Summed CPU cores of the Locust worker processes over [start, end], and how many there were."""
    if loadgen is None or loadgen.empty:
        return None, 0
    win = loadgen[(loadgen["ts"] >= start) & (loadgen["ts"] <= end) & loadgen["role"].isin(GENERATOR_ROLES)]
    total, count = 0.0, 0
    for _, g in win.sort_values("ts").groupby(["host", "pid"], sort=False):
        d, dt = np.diff(g["cpu_s"].to_numpy(float)), np.diff(g["ts"].to_numpy(float))
        ok = (d >= 0) & (dt > 0)
        if ok.any():
            total += d[ok].sum() / dt[ok].sum()
            count += 1
    return (total, count) if count else (None, 0)


def observe_variant(steps: Iterable[dict], samples: pd.DataFrame | None, latency: pd.DataFrame | None,
                    loadgen: pd.DataFrame | None = None, *, name: str = "", cpu: float | None = None,
                    replicas: int | None = None, failure_rate_max: float = 0.01) -> VariantObservations:
    """One variant's per-second demand points and per-step figures.

    steps: collect.compute.step_results dicts (users, window_start, window_end, valid, failure_rate,
    cpu_pct); only valid steps are kept. For the steps of `step_in_fit`, every sampler interval
    (about 1 s) of the window gives a point (`interval_points`): successful requests per second
    (latency rows with ok == 1) and busy cores. cpu is the CPU limit per replica (default: the samples'
    cpu_limit), replicas the API containers (default: those in the samples)."""
    if replicas is None:
        replicas = int(samples["container"].nunique()) if samples is not None and not samples.empty else 1
    if cpu is None and samples is not None and not samples.empty and (samples["cpu_limit"] > 0).any():
        cpu = float(samples["cpu_limit"].max())
    latency = latency if latency is not None else pd.DataFrame(columns=["ts", "ok", "ms", "count"])
    points, rows = [], []
    for st in steps:
        if not st.get("valid"):
            continue
        first_s, stop_s = _window_seconds(st)
        if stop_s <= first_s:
            continue
        lat = latency[(latency["ts"] >= first_s) & (latency["ts"] < stop_s)]
        counts = lat["count"].to_numpy(float)
        requests = counts.sum()
        ok = lat[lat["ok"] == 1]
        ok_per_second = ok.groupby("ts")["count"].sum().reindex(range(first_s, stop_s), fill_value=0)
        seconds = stop_s - first_s
        in_fit = step_in_fit(st, failure_rate_max)
        iv = interval_points(samples, ok_per_second, first_s, stop_s)
        if in_fit and not iv.empty:
            points.append(pd.DataFrame({"variant": name, "users": int(st["users"]), "ts": iv["ts"],
                                        "ok_rps": iv["ok_rps"], "busy_cores": iv["busy_cores"],
                                        "replicas": replicas}))
        in_fit = in_fit and not iv.empty
        mem_peak = None
        if samples is not None and not samples.empty:
            win = samples[(samples["ts"] >= st["window_start"]) & (samples["ts"] <= st["window_end"])]
            if not win.empty:
                mem_peak = int(win["mem_bytes"].max())
        worker_cores, workers = _process_cores(loadgen, st["window_start"], st["window_end"])
        rows.append({
            "variant": name, "cpu": cpu, "replicas": replicas, "users": int(st["users"]),
            "seconds": seconds, "requests": int(requests), "rps": requests / seconds,
            "ok_rps": float(ok_per_second.sum()) / seconds,
            "mean_ms": float((lat["ms"].to_numpy(float) * counts).sum() / requests) if requests else None,
            "failure_rate": st.get("failure_rate"), "cpu_pct": st.get("cpu_pct"),
            "busy_cores": float(np.average(iv["busy_cores"], weights=iv["dt"])) if not iv.empty else None,
            "mem_peak_bytes": mem_peak, "worker_cores": worker_cores, "workers": workers, "in_fit": in_fit,
        })
    return VariantObservations(
        name=name, cpu=cpu, replicas=replicas,
        points=pd.concat(points, ignore_index=True) if points else pd.DataFrame(columns=POINT_COLUMNS),
        steps=pd.DataFrame(rows, columns=STEP_COLUMNS))


def pooled(observations: Sequence[VariantObservations]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every variant's points and steps in one table each (variants with different CPU limits and
    replicas together: the demand per request does not depend on the limit)."""
    pts = [o.points for o in observations if not o.points.empty]
    sts = [o.steps for o in observations if not o.steps.empty]
    return (pd.concat(pts, ignore_index=True) if pts else pd.DataFrame(columns=POINT_COLUMNS),
            pd.concat(sts, ignore_index=True) if sts else pd.DataFrame(columns=STEP_COLUMNS))


# ---------------------------------------------------------------- 1. service demand


@dataclass(frozen=True)
class Demand:
    """busy cores = idle_cpu x replicas + cpu_s_per_request x RPS (RPS total over the replicas)."""
    cpu_s_per_request: float
    low: float
    high: float
    idle_cpu: float               # per replica
    points: int
    steps_used: int
    fit_error_pct: float | None   # largest |fit - measured| / measured of a step's mean busy cores

    def busy_cores(self, rps: float, replicas: int = 1, bound: str = "fit") -> float:
        """Predicted busy cores of all replicas at rps; bound "low"/"high" uses the interval's end."""
        d = {"fit": self.cpu_s_per_request, "low": self.low, "high": self.high}[bound]
        return max(0.0, self.idle_cpu * replicas + d * rps)


def _two_distinct(values: np.ndarray, spread: float = MIN_RPS_SPREAD) -> bool:
    values = values[values > 0]
    return len(values) >= 2 and values.max() >= (1 + spread) * values.min()


def _pct(share: float) -> str:
    return f"{share * 100:g} %"


def fit_demand(points: pd.DataFrame) -> Demand | None:
    """Least squares busy = U0 x replicas + D x X over the ~1-s points (POINT_COLUMNS).

    D's 95 % interval is D +- t(n - 2) x SE(D), SE from the residual variance RSS / (n - 2) and
    (A'A)^-1. It treats the 1-s residuals as independent, so it says how well the points pin the
    slope, not how far a step's systematic error can move it: that is fit_error_pct, the largest
    relative gap between the fit at a step's mean X and the step's mean busy cores. No model
    (None) with fewer than two steps whose mean RPS differ by at least 10 % (the larger >= 1.1 x
    the smaller), fewer than 3 points, or a slope <= 0."""
    fit = _fit_demand(points)
    return fit if isinstance(fit, Demand) else None


def _fit_demand(points: pd.DataFrame | None) -> Demand | str:
    """fit_demand, or in words why there is no fit."""
    need = f"it takes two whose RPS differ by {_pct(MIN_RPS_SPREAD)} or more"
    if points is None or points.empty:
        return "no valid step kept the failure SLO with its CPU measured"
    pts = points.dropna(subset=["ok_rps", "busy_cores"])
    by_step = pts.groupby(["variant", "users"]).agg(x=("ok_rps", "mean"), u=("busy_cores", "mean"),
                                                   r=("replicas", "first"))
    x = by_step["x"].to_numpy(float)
    if by_step.empty:
        return "no valid step kept the failure SLO with its CPU measured"
    if len(by_step) < 2:
        variant, users = by_step.index[0]
        return (f"only one valid step ({variant} at {users:,} users) kept the failure SLO with its CPU "
                f"measured: {need}")
    if not _two_distinct(x):
        return (f"the {len(by_step)} valid steps that kept the failure SLO with their CPU measured served "
                f"{x.min():,.1f}-{x.max():,.1f} RPS: {need}")
    if len(pts) < 3:
        return f"only {len(pts)} one-second samples in the fitted windows: the fit takes at least 3"
    a = np.column_stack([pts["replicas"].to_numpy(float), pts["ok_rps"].to_numpy(float)])
    y = pts["busy_cores"].to_numpy(float)
    coef, _, rank, _ = np.linalg.lstsq(a, y, rcond=None)
    if rank < 2:
        return "the samples cannot tell the idle CPU from the CPU per request apart (a degenerate fit)"
    idle, d = float(coef[0]), float(coef[1])
    if not d > 0:
        return (f"busy CPU did not grow with RPS (fitted slope {d * 1000:.3g} ms of CPU per request): "
                "no service demand to fit")
    n = len(y)
    rss = float(((y - a @ coef) ** 2).sum())
    cov = rss / (n - 2) * np.linalg.inv(a.T @ a)
    half = float(stats.t.ppf(0.5 + DEMAND_CONFIDENCE / 2, n - 2) * math.sqrt(max(cov[1, 1], 0.0)))
    measured = by_step["u"].to_numpy(float)
    fitted = idle * by_step["r"].to_numpy(float) + d * by_step["x"].to_numpy(float)
    rel = np.abs(fitted - measured)[measured > 0] / measured[measured > 0]
    return Demand(cpu_s_per_request=d, low=d - half, high=d + half, idle_cpu=idle, points=n,
                  steps_used=len(by_step), fit_error_pct=float(rel.max() * 100) if len(rel) else None)


# ---------------------------------------------------------------- 2. users to load


def users_law_error_pct(steps: pd.DataFrame, think_time_s: float) -> float | None:
    """Largest |N / (Z + R) - measured RPS| / measured RPS over the given steps, in %."""
    rows = steps.dropna(subset=["mean_ms"])
    rows = rows[rows["rps"] > 0]
    if rows.empty:
        return None
    predicted = rows["users"] / (think_time_s + rows["mean_ms"] / 1000)
    return float(((predicted - rows["rps"]).abs() / rows["rps"]).max() * 100)


# ---------------------------------------------------------------- 3. ceiling per replica


def ceiling_per_replica(steps: pd.DataFrame, cpu_pct_max: float) -> float | None:
    """The per-replica RPS at which a replica stopped scaling, the highest over variants; None
    when no variant showed one.

    Per variant, over its valid steps with CPU measured in order of users: a ceiling is seen at a
    step whose RPS (successful) grew by less than CEILING_GROWTH_SHARE of the users' relative growth
    over the previous step (or fell), whose mean response time is at least CEILING_LATENCY_FACTOR
    times the lightest step's, and whose CPU stayed under cpu_pct_max (it is not the CPU limit that
    binds). The ceiling is the highest RPS of that variant up to that step, per replica."""
    found = []
    for _, g in steps.dropna(subset=["cpu_pct", "mean_ms"]).groupby("variant", sort=False):
        g = g.sort_values("users").drop_duplicates("users", keep="last")
        if len(g) < 2:
            continue
        users, rps = g["users"].to_numpy(float), g["ok_rps"].to_numpy(float)
        mean_ms, cpu_pct = g["mean_ms"].to_numpy(float), g["cpu_pct"].to_numpy(float)
        replicas = float(g["replicas"].iloc[0])
        for i in range(1, len(g)):
            if rps[i - 1] <= 0:
                continue
            users_growth = users[i] / users[i - 1] - 1
            rps_growth = rps[i] / rps[i - 1] - 1
            if rps_growth < CEILING_GROWTH_SHARE * users_growth \
                    and mean_ms[i] >= CEILING_LATENCY_FACTOR * mean_ms[0] and cpu_pct[i] < cpu_pct_max:
                found.append(rps[: i + 1].max() / replicas)
    return float(max(found)) if found else None


def replicas_for(rps: float, ceiling: float | None, cpu_pct_max: float) -> int:
    """1, unless the load is over what one replica can serve below its ceiling at the CPU SLO's
    headroom: then ceil(RPS / (ceiling x cpu_pct_max / 100)). Scale out, not up."""
    if ceiling is None or ceiling <= 0:
        return 1
    return max(1, math.ceil(rps / (ceiling * cpu_pct_max / 100) - 1e-9))


# ---------------------------------------------------------------- 4. memory


@dataclass(frozen=True)
class Memory:
    peak_bytes: int                   # highest per-replica sample of any valid step
    per_user_bytes: float | None      # slope of a step's per-replica peak against users per replica
    intercept_bytes: float | None

    def peak_at(self, users_per_replica: float) -> float:
        """Predicted per-replica peak: the linear fit at that load, never below the measured peak
        (memory that was needed once is needed again), and flat when the fit does not grow."""
        if self.per_user_bytes is None or self.per_user_bytes <= 0:
            return float(self.peak_bytes)
        return max(float(self.peak_bytes), self.intercept_bytes + self.per_user_bytes * users_per_replica)


def fit_memory(steps: pd.DataFrame) -> Memory | None:
    """Peak per replica and its linear growth with users per replica over the valid steps."""
    rows = steps.dropna(subset=["mem_peak_bytes"])
    if rows.empty:
        return None
    u = (rows["users"] / rows["replicas"]).to_numpy(float)
    m = rows["mem_peak_bytes"].to_numpy(float)
    slope = intercept = None
    if len(np.unique(u)) >= 2:
        slope, intercept = (float(x) for x in np.polyfit(u, m, 1))
    return Memory(peak_bytes=int(m.max()), per_user_bytes=slope, intercept_bytes=intercept)


def mem_for(peak_bytes: float, target_pct: float, round_bytes: int) -> int:
    """Memory limit that holds the peak at target_pct % of it, rounded UP to round_bytes (the rule
    of the search, collect/search.py mem_for)."""
    needed = math.ceil(peak_bytes * 100 / target_pct - 1e-6)
    return max(1, math.ceil(needed / round_bytes)) * round_bytes


def mem_text(mem_bytes: int) -> str:
    """A docker size in whole MiB, the variant name's unit: 448M, 1024M."""
    return f"{math.ceil(mem_bytes / MIB)}M"


# ---------------------------------------------------------------- 6. generator


@dataclass(frozen=True)
class Generator:
    """A Locust worker's CPU: idle_cores (per process) + cpu_s_per_request x RPS it sends."""
    cpu_s_per_request: float | None
    idle_cores: float = 0.0
    method: str = "none"           # "fit", "ratio" or "none"

    def processes_for(self, rps: float, pct_max: float) -> int | None:
        """Worker processes that send rps with each under pct_max % of one core."""
        if self.cpu_s_per_request is None:
            return None
        return processes_for(rps, self.cpu_s_per_request, pct_max, self.idle_cores)


def fit_generator(steps: pd.DataFrame) -> Generator:
    """CPU-seconds per request sent, from the valid steps' worker CPU (summed over processes) and
    RPS sent (all requests): least squares cores = w0 x processes + g x RPS when two steps' RPS
    differ by >= 10 % and g > 0 (w0 floored at 0); otherwise the plain ratio sum(cores) / sum(RPS),
    which also charges each process's idle work to its requests (an upper bound)."""
    rows = steps.dropna(subset=["worker_cores"])
    rows = rows[(rows["workers"] > 0) & (rows["rps"] > 0)]
    if rows.empty:
        return Generator(None)
    w = rows["worker_cores"].to_numpy(float)
    x = rows["rps"].to_numpy(float)
    p = rows["workers"].to_numpy(float)
    if len(rows) >= 3 and _two_distinct(x):
        a = np.column_stack([p, x])
        coef, _, rank, _ = np.linalg.lstsq(a, w, rcond=None)
        if rank == 2 and coef[1] > 0:
            idle = max(0.0, float(coef[0]))
            if idle == 0.0:
                return Generator(float((w * x).sum() / (x * x).sum()), 0.0, "fit")
            return Generator(float(coef[1]), idle, "fit")
    return Generator(float(w.sum() / x.sum()), 0.0, "ratio")


# ---------------------------------------------------------------- 5. predictions


def least_cpu(busy_cores: float, cpu_pct_max: float, cpu_min: float, resolution: float) -> float:
    """The least CPU on the grid cpu_min + k x resolution that keeps busy_cores under cpu_pct_max %
    of it (value < max passes, as the SLO is judged)."""
    k = max(0, math.ceil((busy_cores * 100 / cpu_pct_max - cpu_min) / resolution - 1e-9))
    while busy_cores * 100 >= cpu_pct_max * (cpu_min + k * resolution):
        k += 1
    return round(cpu_min + k * resolution, 6)


@dataclass
class Prediction:
    users: int
    rps: float
    replicas: int
    cpu_per_replica: float
    cpu_low: float
    cpu_high: float
    busy_cores: float             # all replicas, with D
    mem_bytes: int
    basis: str
    generator_processes: int | None
    flags: list[str] = field(default_factory=list)
    note: str = ""

    def schema(self) -> dict:
        return {"users": self.users, "rps": round(self.rps, 1), "replicas": self.replicas,
                "cpu_per_replica": self.cpu_per_replica, "cpu_low": self.cpu_low, "cpu_high": self.cpu_high,
                "mem": mem_text(self.mem_bytes), "basis": self.basis, "note": self.note,
                "generator_processes": self.generator_processes}


@dataclass
class CapacityModel:
    """The fitted model and what it predicts; block() is summary.json's `capacity`."""
    demand: Demand
    think_time_s: float
    response_s: float             # R used for predictions: the lightest fitted step's mean
    users_law_error_pct: float | None
    ceiling_rps_per_replica: float | None
    memory: Memory | None
    generator: Generator
    measured_min_users: int
    measured_max_users: int
    measured_cpu_max: float | None
    target_users: int
    predictions: list[Prediction]
    processes_needed: int | None
    processes_available: int | None
    loadgen_cores: float | None
    points: pd.DataFrame          # for the report's plot: busy cores against RPS
    steps: pd.DataFrame

    def block(self) -> dict:
        d = self.demand
        out = {
            "demand": {"cpu_s_per_request": _sig(d.cpu_s_per_request), "low": _sig(d.low),
                       "high": _sig(d.high),
                       "idle_cpu": round(d.idle_cpu, 4), "fit_error_pct": _round(d.fit_error_pct, 1)},
            "rps_ceiling_per_replica": _round(self.ceiling_rps_per_replica, 1),
            "think_time_s": self.think_time_s,
            "steps_used": d.steps_used,
            "fit_error_pct": _round(self.users_law_error_pct, 1),
            "measured_max_users": self.measured_max_users,
            "predictions": [p.schema() for p in self.predictions],
            "generator": {"cpu_s_per_request": _sig(self.generator.cpu_s_per_request),
                          "processes_needed": self.processes_needed,
                          "processes_available": self.processes_available},
        }
        if self.memory is not None:
            out["memory"] = {"peak_bytes": self.memory.peak_bytes,
                             "per_user_bytes": _round(self.memory.per_user_bytes, 1)}
            if out["memory"]["per_user_bytes"] is not None:
                out["memory"]["per_user_bytes"] += 0.0  # no -0.0 in summary.json
        return out

    def prediction(self, users: int) -> Prediction | None:
        return next((p for p in self.predictions if p.users == users), None)


def _round(x, nd):
    return None if x is None else round(float(x), nd)


def _sig(x, digits: int = 6):
    return None if x is None else float(f"{x:.{digits}g}")


def predict(users: int, demand: Demand, settings: CapacitySettings, *, response_s: float,
            ceiling: float | None, memory: Memory | None, generator: Generator,
            measured_users: tuple[int, int], measured_cpu_max: float | None,
            target_cores: float | None) -> Prediction:
    """RPS, replicas, least CPU per replica (with D and both ends of its interval), memory and
    Locust processes for `users`, and the basis: measured when a valid step had at least that many
    users (measured_users = the valid steps' least and most users)."""
    s = settings
    rps = offered_rps(users, s.think_time_s, response_s)
    replicas = replicas_for(rps, ceiling, s.slo_cpu_pct_max)
    per_replica = rps / replicas

    def cpu(bound):
        return least_cpu(demand.busy_cores(per_replica, 1, bound), s.slo_cpu_pct_max,
                         s.search_cpu_min, s.search_resolution)
    cpu_fit, cpu_low, cpu_high = cpu("fit"), cpu("low"), cpu("high")
    peak = memory.peak_at(users / replicas) if memory is not None else 0.0
    mem_bytes = mem_for(peak, s.search_mem_target_pct, s.search_mem_round_bytes)
    lo, hi = measured_users
    basis = "measured" if users <= hi else "extrapolated"
    flags = []
    if ceiling is not None and replicas > 1:
        flags.append(f"one replica tops out near {ceiling:,.0f} RPS: {replicas} replicas (scale out, not up)")
    if measured_cpu_max is not None and cpu_high > measured_cpu_max + 1e-9:
        flags.append(f"asks up to {cpu_high:g} CPU per replica, more than any measured variant "
                     f"({measured_cpu_max:g})")
    if target_cores is not None and cpu_high > target_cores + 1e-9:
        flags.append(f"more CPU per replica than the target host's {target_cores:g} cores")
    span = f"{lo:,}-{hi:,}" if lo != hi else f"{hi:,}"
    note = (f"within the measured range ({span} users)" if basis == "measured"
            else f"extrapolated beyond the measured {span} users")
    note = "; ".join([note] + flags)
    return Prediction(users=users, rps=rps, replicas=replicas, cpu_per_replica=cpu_fit, cpu_low=cpu_low,
                      cpu_high=cpu_high, busy_cores=demand.busy_cores(rps, replicas), mem_bytes=mem_bytes,
                      basis=basis, generator_processes=generator.processes_for(rps, s.generator_cpu_pct_max),
                      flags=flags, note=note)


def capacity_model(observations: Sequence[VariantObservations], settings: CapacitySettings, *,
                   target_users: int, target_cores: float | None = None,
                   loadgen_cores: float | None = None,
                   target_on_loadgen: bool = False) -> CapacityModel | None:
    """Fit every part of the model on the pooled observations and predict for the target users and
    settings.capacity_predict_users (ascending, each once). None when the demand cannot be fitted.

    R for a prediction is the mean response time of the lightest fitted step: a service sized to
    keep CPU under its SLO (and replicas under their ceiling) answers about as fast as unloaded.
    processes_available: the loadgen hosts' cores (loadgen_cores, summed), less the target's
    predicted busy cores at the target users when it runs on a loadgen host, floored; one Locust
    worker per core."""
    points, steps = pooled(observations)
    demand = fit_demand(points)
    if demand is None:
        return None
    fitted = steps[steps["in_fit"].astype(bool)]
    lightest = fitted.dropna(subset=["mean_ms"]).sort_values(["users", "mean_ms"])
    response_s = float(lightest["mean_ms"].iloc[0]) / 1000 if not lightest.empty else 0.0
    ceiling = ceiling_per_replica(steps, settings.slo_cpu_pct_max)
    memory = fit_memory(steps)
    generator = fit_generator(steps)
    cpus = [o.cpu for o in observations if o.cpu is not None and not o.steps.empty]
    measured = (int(steps["users"].min()), int(steps["users"].max()))
    users_list = sorted({int(target_users), *(int(u) for u in settings.capacity_predict_users)})
    predictions = [predict(u, demand, settings, response_s=response_s, ceiling=ceiling, memory=memory,
                           generator=generator, measured_users=measured,
                           measured_cpu_max=max(cpus) if cpus else None, target_cores=target_cores)
                   for u in users_list]
    at_target = next(p for p in predictions if p.users == int(target_users))
    available = None
    if loadgen_cores is not None:
        spare = loadgen_cores - (at_target.busy_cores if target_on_loadgen else 0.0)
        available = max(0, math.floor(spare + 1e-9))
    return CapacityModel(
        demand=demand, think_time_s=settings.think_time_s, response_s=response_s,
        users_law_error_pct=users_law_error_pct(fitted, settings.think_time_s),
        ceiling_rps_per_replica=ceiling, memory=memory, generator=generator,
        measured_min_users=measured[0], measured_max_users=measured[1],
        measured_cpu_max=max(cpus) if cpus else None, target_users=int(target_users),
        predictions=predictions, processes_needed=at_target.generator_processes,
        processes_available=available, loadgen_cores=loadgen_cores, points=points, steps=steps)


def no_model_reason(observations: Sequence[VariantObservations]) -> str | None:
    """Why capacity_model has no model for these observations, in words (None: it has one)."""
    points, steps = pooled(observations)
    if steps.empty:
        return "no valid step was measured"
    fit = _fit_demand(points)
    return None if isinstance(fit, Demand) else fit


def capacity_block(observations: Sequence[VariantObservations], settings: CapacitySettings, *,
                   target_users: int, target_cores: float | None = None, loadgen_cores: float | None = None,
                   target_on_loadgen: bool = False) -> dict | None:
    """summary.json's `capacity` object (schema $defs/capacity), or None when there is no model."""
    model = capacity_model(observations, settings, target_users=target_users, target_cores=target_cores,
                           loadgen_cores=loadgen_cores, target_on_loadgen=target_on_loadgen)
    return model.block() if model is not None else None


def hosts_cores(hosts: dict) -> tuple[float | None, float | None, bool]:
    """(target cores, loadgen cores summed, whether a target host is also a loadgen host) from
    run.json manifest.hosts ({name: {"groups": [...], "cores": n}})."""
    target = loadgen = None
    shared = False
    for info in (hosts or {}).values():
        groups, cores = info.get("groups") or [], info.get("cores")
        if not isinstance(cores, (int, float)) or isinstance(cores, bool):
            continue
        if "target" in groups:
            target = max(target or 0.0, float(cores))
        if "loadgen" in groups:
            loadgen = (loadgen or 0.0) + float(cores)
        shared = shared or ("target" in groups and "loadgen" in groups)
    return target, loadgen, shared


# ---------------------------------------------------------------- the report's words


NO_MODEL = ("it takes at least two valid steps that kept the failure SLO, had their CPU measured and "
            f"differ in RPS by {_pct(MIN_RPS_SPREAD)} or more, with busy CPU growing with RPS")


def generator_sentence(block: dict, loadgen_cores: float | None = None,
                       target_users: int | None = None) -> str:
    """The generator paragraph: what a Locust worker spends per request, how far the lab got
    validly, "10,000 users ~ 4,950 RPS need ~ 4 Locust processes; your loadgen hosts have 2 cores"
    for the largest predicted load (and the run's target users when they differ), and plainly
    whether the lab can send them validly. processes_available is counted at the target users (less
    what a target on a loadgen host uses there), so for a larger load it is an upper bound."""
    gen = block["generator"]
    parts = [f"The lab sent up to {block['measured_max_users']:,} users validly."]
    if gen.get("cpu_s_per_request") is None:
        return " ".join(parts + ["The Locust processes' CPU was not measured: no generator figures."])
    preds = sorted(block["predictions"], key=lambda p: p["users"])
    top = preds[-1]
    target = next((p for p in preds if p["users"] == target_users), None)
    have = (f"your loadgen hosts have {loadgen_cores:g} cores" if loadgen_cores is not None
            else "the loadgen hosts' cores are not known (run.json manifest.hosts)")
    available = gen.get("processes_available")
    if available is not None and loadgen_cores is not None and available < math.floor(loadgen_cores + 1e-9):
        have += f" ({available} left beside the target)"
    parts.append(f"A Locust worker spends {gen['cpu_s_per_request'] * 1000:.3g} ms of CPU per request it "
                 "sends.")

    def need(p):
        n = p.get("generator_processes")
        return _count(n, "Locust process") if n is not None else "an unknown number of Locust processes"
    parts.append(f"{top['users']:,} users ~ {top['rps']:,.0f} RPS need ~ {need(top)}; {have}.")
    if target is not None and target is not top:
        parts.append(f"This run's target, {target['users']:,} users ~ {target['rps']:,.0f} RPS, needs ~ "
                     f"{need(target)}.")
    if available is None:
        return " ".join(parts)
    needed = gen.get("processes_needed")  # at the target users
    who = f"{target['users']:,} users take" if target is not None else "it takes"
    if needed is not None and needed > available:
        parts.append(f"This lab cannot send the target load validly: {who} {_count(needed, 'process')} "
                     f"under the generator's CPU limit and the loadgen hosts have room for {available}; add "
                     "loadgen hosts (or cores).")
    elif needed is not None:
        parts.append(f"The target load takes {needed} of the {_count(available, 'process')} the loadgen "
                     "hosts have room for.")
    top_needed = top.get("generator_processes")
    if top is not target and top_needed is not None and top_needed > available \
            and not (needed is not None and needed > available and top_needed == needed):
        lead = "Nor can it send" if needed is not None and needed > available else "It cannot send"
        parts.append(f"{lead} {top['users']:,} users validly: they take "
                     f"{_count(top_needed, 'process')} and the loadgen hosts have room for at most "
                     f"{available}.")
    return " ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def method_markdown() -> str:
    """The method in three plain sentences, for the report section (docs/report.md has the formulas)."""
    latency = ("doubled" if CEILING_LATENCY_FACTOR == 2 else f"grew {CEILING_LATENCY_FACTOR:g}-fold")
    return (
        "**Method.** Busy CPU is fitted against successful requests per second over every 1-s sample of "
        "the valid steps that kept the failure SLO, variants and search probes together (utilisation "
        "law: busy = idle × replicas + D × RPS), and D, the CPU-seconds per request, comes with a "
        f"{_pct(DEMAND_CONFIDENCE)} interval (D ± t × its standard error) that gives each prediction's "
        "CPU range. N users who wait Z = (min + max) / 2 seconds between requests offer N / (Z + R) "
        "requests per second (interactive response time law, R the response time), and a replica whose "
        f"throughput stopped growing (less than {_pct(CEILING_GROWTH_SHARE)} of the users' growth) while "
        f"its response time at least {latency} and its CPU stayed under the SLO has a ceiling: a load "
        "above it gets more replicas, not more CPU. An extrapolated row extends straight lines beyond "
        "what the lab sent and cannot see a ceiling, a lock or a memory cliff that no measured step "
        "reached, and a large fit error means the line does not even describe the measured steps: "
        "trust no prediction as a measurement before one run confirms it.")


def render_capacity_markdown(block: dict | None, loadgen_cores: float | None = None, *,
                             target_users: int | None = None, why: str | None = None) -> str:
    """The report's "Capacity model" section body (markdown, no heading): the model in words, the
    predictions table with each row's basis, "scale out, not up" where the ceiling binds, the
    generator paragraph. Without a model, one sentence saying why (`why`, from no_model_reason)."""
    if block is None:
        return f"No capacity model: {why or NO_MODEL}.\n"
    d = block["demand"]
    lines = [
        f"**Service demand**: {d['cpu_s_per_request'] * 1000:.3g} ms of CPU per request (95 % interval "
        f"{d['low'] * 1000:.3g}-{d['high'] * 1000:.3g} ms), fitted as busy CPU = idle + demand x RPS over "
        f"the 1-s samples of {block['steps_used']} valid steps"
        + (f"; idle {d['idle_cpu']:.3g} cores per replica" if d.get("idle_cpu") is not None else "")
        + (f"; largest error of a step's mean busy CPU {d['fit_error_pct']:.1f} %" if d.get("fit_error_pct")
           is not None else "") + ".",
        "",
        f"**Users to load**: N users offer N / ({block['think_time_s']:g} s think time + response time) "
        "requests per second" + (f"; largest error against the measured steps {block['fit_error_pct']:.1f} %"
                                 if block.get("fit_error_pct") is not None else "") + ".",
        "",
    ]
    ceiling = block.get("rps_ceiling_per_replica")
    if ceiling is not None:
        lines += [f"**Ceiling**: one replica stopped scaling at about {ceiling:,.0f} RPS: more users raised "
                  "the response time, not the throughput, while CPU stayed under its SLO. More CPU per "
                  "replica does not help past it; a load above it needs more replicas: scale out, not up.",
                  ""]
    else:
        lines += ["**Ceiling**: no step showed a replica that stopped scaling before its CPU limit.", ""]
    mem = block.get("memory")
    if mem:
        growth = mem.get("per_user_bytes")
        lines += [f"**Memory**: peak {mem['peak_bytes'] / MIB:,.0f} MiB per replica"
                  + (f", growing {growth / 1024:,.1f} KiB per user per replica" if growth and growth > 0
                     else ", not growing with users") + ".", ""]
    lines += ["| Users | Basis | RPS | Replicas | CPU / replica (interval) | Memory / replica | "
              "Locust processes | Note |",
              "|---|---|---|---|---|---|---|---|"]
    for p in block["predictions"]:
        basis = "measured" if p["basis"] == "measured" else "**extrapolated**"
        procs = p.get("generator_processes")
        lines.append(f"| {p['users']:,} | {basis} | {p['rps']:,.1f} | {p['replicas']} | "
                     f"{p['cpu_per_replica']:g} ({p['cpu_low']:g}-{p['cpu_high']:g}) | {p['mem']} | "
                     f"{procs if procs is not None else '—'} | {p.get('note', '').replace('|', '/')} |")
    lines.append("")
    binding = [p for p in block["predictions"] if p["replicas"] > 1]
    if ceiling is not None and binding:
        loads = "; ".join(f"{p['users']:,} users (~{p['rps']:,.0f} RPS) take {p['replicas']} replicas of "
                          f"{p['cpu_per_replica']:g} CPU" for p in binding)
        lines += [f"**Scale out, not up**: one replica tops out near {ceiling:,.0f} RPS, below what these "
                  f"loads ask of it, so more CPU per replica would not serve them: {loads}.", ""]
    lines += [generator_sentence(block, loadgen_cores, target_users), ""]
    if any(p["basis"] == "extrapolated" for p in block["predictions"]):
        lines += ["Rows marked extrapolated are predictions beyond the "
                  f"{block['measured_max_users']:,} users the lab sent validly, not measurements: "
                  "confirm one with a run before relying on it.", ""]
    return "\n".join(lines)
