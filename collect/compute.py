"""From loaded DataFrames to step tables, verdicts and the run summary. No I/O here.

Every rule the report applies lives in this file; docs/report.md and the report's method notes
describe them in words. Figures that cannot be measured are None (null in summary.json).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from rightsize import capacity, confidence, cost
from rightsize import repeats as repeat_rules
from rightsize.repeats import planned_repeats
from rightsize.names import VARIANT_NAME, docker_bytes, parse_variant_name
from rightsize.steps import step_users

from .settings import (CONFIDENCE, P95_QUANTILE, STABILITY_SIGMAS, STABILITY_SUBWINDOWS, STEP_END_TOLERANCE_S, Settings,
                      missing_settings)

SLO_ORDER = ("failure_rate", "p95_ms", "cpu_pct", "mem_pct")
STEP_KEYS = ("users", "duration_s", "requests", "rps", "p50_ms", "p95_ms", "p99_ms", "failure_rate",
             "cpu_pct", "cpu_pct_peak", "mem_pct", "mem_pct_peak", "cpu_throttled_pct",
             "generator_cpu_pct", "loadgen_host_cpu_pct", "connection_errors", "http_errors",
             "valid", "slo_pass", "reasons")


GATEWAY_STATUSES = (502, 504)  # nginx's own answers when it cannot reach or hear from a replica
HEALTHY_SHARE = 0.8            # a replica answering at least this share of its probes was up
PATH_ERRORS_MIN = 10           # fewer failed connections in a step are never blamed on the path
SHARED_HOST_CPU_PCT_MAX = 95   # a target that is also a loadgen host, busier than this: its own figures are not

# ---------------------------------------------------------------- latency histogram


def percentile(ms: np.ndarray, counts: np.ndarray, q: float) -> float | None:
    """Nearest-rank percentile of a histogram: the smallest ms whose cumulative count reaches
    ceil(q * n). The buckets are response times rounded up to 1 ms, so the result is an upper
    bound at most 1 ms above the nearest-rank percentile of the raw times."""
    n = int(counts.sum())
    if n == 0:
        return None
    order = np.argsort(ms, kind="stable")
    ms, counts = ms[order], counts[order]
    rank = max(1, math.ceil(q * n - 1e-9))
    return float(ms[np.searchsorted(np.cumsum(counts), rank)])


def percentile_ci(ms: np.ndarray, counts: np.ndarray, q: float = P95_QUANTILE,
                  confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Distribution-free two-sided interval of the q-quantile from order statistics: the ranks
    between the binomial (n, q) quantiles at (1-confidence)/2 and 1-(1-confidence)/2."""
    n = int(counts.sum())
    if n == 0:
        return None
    alpha = (1 - confidence) / 2
    lo = max(1, int(stats.binom.ppf(alpha, n, q)))
    hi = min(n, int(stats.binom.ppf(1 - alpha, n, q)) + 1)
    return percentile(ms, counts, lo / n), percentile(ms, counts, hi / n)


@dataclass(frozen=True)
class P95Test:
    """One-sided binomial test of "the q-quantile is within the limit" (MLPerf LoadGen style).

    over of n requests took longer than the limit. If the true share over the limit were 1-q
    (the quantile exactly at the limit), seeing at most `over` has probability p_pass: below
    1-confidence proves the quantile is under the limit. Seeing at least `over` has probability
    p_fail: below 1-confidence proves it is over. Otherwise the sample is too small to say."""
    over: int
    n: int
    p_pass: float
    p_fail: float
    result: str           # "pass" | "fail" | "inconclusive"
    needed_n: int | None  # inconclusive: requests needed at the observed over-limit share


def judge_p95(over: int, n: int, q: float = P95_QUANTILE, confidence: float = CONFIDENCE) -> P95Test:
    alpha, share = 1 - confidence, 1 - q
    if n <= 0:
        return P95Test(over, n, 1.0, 1.0, "inconclusive", needed_requests(0, 0, q, confidence))
    p_pass = float(stats.binom.cdf(over, n, share))
    p_fail = float(stats.binom.sf(over - 1, n, share))
    if p_pass < alpha:
        result = "pass"
    elif p_fail < alpha:
        result = "fail"
    else:
        result = "inconclusive"
    needed = needed_requests(over, n, q, confidence) if result == "inconclusive" else None
    return P95Test(over, n, p_pass, p_fail, result, needed)


def needed_requests(over: int, n: int, q: float = P95_QUANTILE,
                    confidence: float = CONFIDENCE) -> int | None:
    """About how many requests would decide the p95 test if the over-limit share stayed at over/n
    (with n = 0, the share is taken as 0: 90 requests with none over prove p95 at 99 %). The over
    count at m requests is rounded against the decision (up when proving a pass, down when proving
    a fail), and the search is a bisection, so the answer is within rounding of the least such m.
    None when the share is exactly 1-q: no sample size decides it."""
    alpha, share = 1 - confidence, 1 - q
    rate = over / n if n else 0.0
    if math.isclose(rate, share):
        return None
    if rate < share:
        def decides(m):
            return stats.binom.cdf(math.ceil(rate * m - 1e-9), m, share) < alpha
    else:
        def decides(m):
            return stats.binom.sf(math.floor(rate * m + 1e-9) - 1, m, share) < alpha
    hi = max(n, 1)
    while not decides(hi):
        hi *= 2
        if hi > 10**12:
            return None
    lo = hi // 2
    while lo + 1 < hi:  # decides() is monotone up to the floor/ceil rounding of rate * m
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return hi


# ---------------------------------------------------------------- stability


@dataclass(frozen=True)
class Stability:
    stable: bool | None      # None: window too short to judge
    rates: tuple[float, ...]  # RPS of each sub-window
    spread: float | None     # (max - min) / mean
    sigmas: float | None     # (max - min) in Poisson standard deviations of the difference
    detail: str


def stability(per_second: np.ndarray, tolerance: float, parts: int = STABILITY_SUBWINDOWS,
              min_sigmas: float = STABILITY_SIGMAS) -> Stability:
    """Requests per second of the window cut into `parts` equal sub-windows. Unstable when the
    fastest and slowest differ by more than `tolerance` of the mean AND by more than `min_sigmas`
    standard deviations of that difference under Poisson counting noise
    (sd = sqrt(c_max / d_max^2 + c_min / d_min^2)), so small counts do not raise false alarms."""
    per_second = np.asarray(per_second, dtype=float)
    if len(per_second) < parts or per_second.sum() <= 0:
        return Stability(None, (), None, None, "window too short or empty to judge stability")
    chunks = np.array_split(per_second, parts)
    counts = np.array([c.sum() for c in chunks])
    durations = np.array([len(c) for c in chunks], dtype=float)
    rates = counts / durations
    mean = per_second.sum() / len(per_second)
    hi, lo = int(np.argmax(rates)), int(np.argmin(rates))
    diff = rates[hi] - rates[lo]
    sd = math.sqrt(counts[hi] / durations[hi] ** 2 + counts[lo] / durations[lo] ** 2)
    spread = diff / mean
    sig = diff / sd if sd > 0 else (math.inf if diff > 0 else 0.0)
    unstable = spread > tolerance and sig > min_sigmas
    shown = "/".join(f"{r:.1f}" for r in rates)
    detail = (f"sub-window RPS {shown} differ by {spread:.0%} of the mean "
              f"({sig:.1f} sd of Poisson noise)")
    return Stability(not unstable, tuple(float(r) for r in rates), float(spread), float(sig), detail)


# ---------------------------------------------------------------- target and loadgen samples


def _intervals(frame: pd.DataFrame, key: list[str], counter: str) -> pd.DataFrame:
    """Consecutive-sample differences per key; a negative counter step (a restarted container or
    process) is dropped rather than read as negative use."""
    frame = frame.sort_values(key + ["ts"])
    diffs = frame.groupby(key, sort=False)[["ts", counter] + [c for c in ("nr_periods", "nr_throttled")
                                                               if c in frame]].diff()
    out = frame[key + ["ts"]].assign(dt=diffs["ts"], d=diffs[counter])
    for c in ("nr_periods", "nr_throttled"):
        if c in frame:
            out["d_" + c] = diffs[c]
    return out[(out["dt"] > 0) & (out["d"] >= 0)]


def counter_resets(samples: pd.DataFrame | None) -> list[tuple[str, float]]:
    """(container, ts) where a container's cumulative CPU counter went down: it restarted."""
    if samples is None or samples.empty:
        return []
    s = samples.sort_values(["container", "ts"])
    d = s.groupby("container")["cpu_usage_ns"].diff()
    hit = s[d < 0]
    return list(zip(hit["container"], hit["ts"].astype(float)))


def target_figures(samples: pd.DataFrame | None, start: float, end: float) -> dict:
    """CPU, memory and throttling of the API containers over [start, end]."""
    out = dict(cpu_pct=None, cpu_pct_peak=None, mem_pct=None, mem_pct_peak=None,
               cpu_throttled_pct=None, cpu_pct_ci=None, mem_pct_ci=None)
    if samples is None or samples.empty:
        return out
    win = samples[(samples["ts"] >= start) & (samples["ts"] <= end)]
    if win.empty:
        return out
    mem = win[win["mem_limit_bytes"] > 0]  # 0: no memory limit, no % of it
    if not mem.empty and mem["container"].nunique() == win["container"].nunique():
        mem = mem.assign(pct=mem["mem_bytes"] / mem["mem_limit_bytes"] * 100)
        means = mem.groupby("container")["pct"].mean()
        out["mem_pct"] = float(means.max())
        out["mem_pct_peak"] = float(mem["pct"].max())
        # the 1-s samples of that busiest container: the interval of its mean (rightsize/confidence.py)
        out["mem_pct_ci"] = confidence.t_interval(mem.loc[mem["container"] == means.idxmax(), "pct"].tolist())
    iv = _intervals(win, ["container"], "cpu_usage_ns")
    limits = win.groupby("container")["cpu_limit"].last()
    if iv.empty or (limits <= 0).any():  # a container without a CPU limit: no % of the limits
        return out
    per = iv.groupby("container").agg(ns=("d", "sum"), dt=("dt", "sum"), periods=("d_nr_periods", "sum"),
                                      throttled=("d_nr_throttled", "sum"))
    cores = (per["ns"] / per["dt"] / 1e9).sum()
    out["cpu_pct"] = float(cores / limits[per.index].sum() * 100)
    iv = iv.assign(second=np.floor(iv["ts"]), cores=iv["d"] / iv["dt"] / 1e9,
                   limit=iv["container"].map(limits))
    by_second = iv.groupby("second").agg(cores=("cores", "sum"), limit=("limit", "sum"),
                                         n=("container", "nunique"))
    full = by_second[by_second["n"] == by_second["n"].max()]
    out["cpu_pct_peak"] = float((full["cores"] / full["limit"]).max() * 100)
    out["cpu_pct_ci"] = confidence.t_interval((full["cores"] / full["limit"] * 100).tolist())
    periods = per["periods"].sum()
    if periods > 0:
        out["cpu_throttled_pct"] = float(min(100.0, per["throttled"].sum() / periods * 100))
    return out


def target_timeseries(samples: pd.DataFrame | None) -> pd.DataFrame:
    """Per second: CPU of all API containers as % of their summed limit, memory of the most
    loaded container as % of its limit."""
    cols = ["second", "cpu_pct", "mem_pct"]
    if samples is None or samples.empty:
        return pd.DataFrame(columns=cols)
    iv = _intervals(samples, ["container"], "cpu_usage_ns")
    limits = samples.groupby("container")["cpu_limit"].last()
    iv = iv.assign(second=np.floor(iv["ts"]), cores=iv["d"] / iv["dt"] / 1e9,
                   limit=iv["container"].map(limits))
    limited = samples[samples["mem_limit_bytes"] > 0]
    iv = iv[iv["limit"] > 0]
    cpu = iv.groupby("second").apply(lambda g: g["cores"].sum() / g["limit"].sum() * 100,
                                     include_groups=False).rename("cpu_pct")
    mem = (limited.assign(second=np.floor(limited["ts"]),
                          pct=limited["mem_bytes"] / limited["mem_limit_bytes"] * 100)
           .groupby("second")["pct"].max().rename("mem_pct"))
    return pd.concat([cpu, mem], axis=1).sort_index().reset_index(names="second")


def loadgen_figures(loadgen: pd.DataFrame | None, start: float, end: float) -> dict:
    """Busiest Locust process (% of one core) and busiest loadgen host (% of all its cores)."""
    out = dict(generator_cpu_pct=None, generator_process=None, loadgen_host_cpu_pct=None)
    if loadgen is None or loadgen.empty:
        return out
    win = loadgen[(loadgen["ts"] >= start) & (loadgen["ts"] <= end)]
    iv = _intervals(win, ["host", "pid", "role"], "cpu_s")
    if iv.empty:
        return out
    per = iv.groupby(["host", "pid", "role"]).agg(cpu=("d", "sum"), dt=("dt", "sum")).reset_index()
    per["pct"] = per["cpu"] / per["dt"] * 100
    procs = per[per["role"] != "host"]
    if not procs.empty:
        top = procs.loc[procs["pct"].idxmax()]
        out["generator_cpu_pct"] = float(top["pct"])
        out["generator_process"] = f"{top['role']} {top['host']} pid {int(top['pid'])}"
    hosts = per[per["role"] == "host"]
    if not hosts.empty:
        ncpu = win[win["role"] == "host"].groupby("host")["ncpu"].last()
        share = hosts["pct"] / hosts["host"].map(ncpu).to_numpy()
        out["loadgen_host_cpu_pct"] = float(share.max())
        out["host_cpu_pct"] = {str(h): float(p) for h, p in zip(hosts["host"], share)}
    return out


def shared_host(meta: dict | None) -> str | None:
    """The target's inventory name when it is also a loadgen host (variant.json), else None."""
    meta = meta or {}
    target = meta.get("target_host")
    return target if target and target in (meta.get("loadgen_hosts") or []) else None


def generator_timeseries(loadgen: pd.DataFrame | None) -> pd.DataFrame:
    """Per sample interval: each process's CPU (% of one core) and each host's (% of all cores)."""
    cols = ["ts", "label", "role", "pct"]
    if loadgen is None or loadgen.empty:
        return pd.DataFrame(columns=cols)
    iv = _intervals(loadgen, ["host", "pid", "role"], "cpu_s")
    ncpu = loadgen.groupby("host")["ncpu"].last()
    pct = iv["d"] / iv["dt"] * 100
    pct = np.where(iv["role"] == "host", pct / iv["host"].map(ncpu).to_numpy(), pct)
    label = np.where(iv["role"] == "host", iv["host"] + " host (all cores)",
                     iv["host"] + " " + iv["role"] + " " + iv["pid"].astype(str))
    return pd.DataFrame({"ts": iv["ts"].to_numpy(), "label": label, "role": iv["role"].to_numpy(),
                         "pct": pct})


# ---------------------------------------------------------------- steps


def planned_users(meta: dict | None, run_vars: dict | None) -> list[int]:
    """users_step, 2*users_step, ... up to users (the last step capped at users)."""
    for source in (meta or {}, run_vars or {}):
        users, step = source.get("users"), source.get("users_step")
        if isinstance(users, int) and isinstance(step, int) and users >= 1 and step >= 1:
            return step_users(users, step)
    return []


def run_end(v) -> tuple[float | None, str | None]:
    """When the variant's load stopped: master.json end_ts, else the last second of data."""
    if v.master and isinstance(v.master.get("end_ts"), (int, float)):
        return float(v.master["end_ts"]), None
    why = "no master.json" if not v.master else "master.json end_ts null (the master did not quit)"
    ends = []
    if v.latency is not None and not v.latency.empty:
        ends.append(float(v.latency["ts"].max()) + 1)
    if v.workers is not None and not v.workers.empty:
        ends.append(float(v.workers["ts"].max()))
    if not ends:
        return None, f"{why} and no data: every step counts as incomplete"
    return max(ends), f"{why}: the run's end is taken from its last data"


def expected_workers(v) -> tuple[int | None, str | None]:
    if v.master and isinstance(v.master.get("expected_workers"), int):
        return v.master["expected_workers"], None
    if v.workers is not None and not v.workers.empty:
        return int(v.workers["workers"].max()), "expected workers unknown (master.json): " \
                                                "taken as the most ever connected"
    return None, None


def step_results(v, settings: Settings) -> list[dict]:
    """One dict per started step: the schema's step fields plus detail for the report."""
    if v.steps is None or v.steps.empty:
        return []
    end, _ = run_end(v)
    expected, _ = expected_workers(v)
    latency = v.latency if v.latency is not None else pd.DataFrame(columns=["ts", "ok", "ms", "count"])
    resets = counter_resets(v.samples)
    out = []
    for row in v.steps.itertuples(index=False):
        start, planned_end = float(row.start_ts), float(row.planned_end_ts)
        complete = end is not None and end >= planned_end - STEP_END_TOLERANCE_S
        window_start = start + settings.warmup_s
        window_end = planned_end if complete else min(planned_end, end if end is not None else start)
        first_s, stop_s = math.ceil(window_start), math.floor(window_end)
        seconds = max(0, stop_s - first_s)
        lat = latency[(latency["ts"] >= first_s) & (latency["ts"] < stop_s)]
        ms, counts = lat["ms"].to_numpy(), lat["count"].to_numpy()
        requests = int(counts.sum())
        failed = int(lat.loc[lat["ok"] == 0, "count"].sum())
        over = int(lat.loc[lat["ms"] > settings.p95_ms_max, "count"].sum())
        per_second = (lat.groupby("ts")["count"].sum()
                      .reindex(range(first_s, stop_s), fill_value=0).to_numpy()) if seconds else np.array([])
        step = {
            "step": int(row.step), "users": int(row.users), "complete": complete,
            "start_ts": start, "planned_end_ts": planned_end,
            "window_start": window_start, "window_end": window_end,
            "duration_s": float(seconds), "requests": requests,
            "rps": requests / seconds if seconds else 0.0,
            "p50_ms": percentile(ms, counts, 0.50), "p95_ms": percentile(ms, counts, P95_QUANTILE),
            "p99_ms": percentile(ms, counts, 0.99),
            "p95_ci": percentile_ci(ms, counts),
            "failure_rate": failed / requests if requests else None, "failed": failed,
            "p95_test": judge_p95(over, requests),
            "hist": (ms, counts), "over": over,  # the window's histogram, for pooling repeats
            "stability": stability(per_second, settings.stability_tolerance),
        }
        step.update(error_figures(v.errors, first_s, stop_s))
        step.update(health_figures(v.health, window_start, window_end))
        step["balancer"] = has_balancer(v.meta, v.samples)
        step.update(target_figures(v.samples, window_start, window_end))
        step.update(loadgen_figures(v.loadgen, window_start, window_end))
        step["shared_host"] = shared_host(v.meta)
        step["workers_min"] = _workers_min(v.workers, window_start, window_end)
        step["restarts"] = [(c, t) for c, t in resets if start <= t < planned_end]
        _judge_step(step, settings, expected)
        out.append(step)
    return out


def error_figures(errors: pd.DataFrame | None, first_s: int, stop_s: int) -> dict:
    """Failed requests of a window by kind (errors/*.csv): no HTTP answer at all (refused, reset,
    timed out) apart from HTTP error answers, and the balancer's 502/504 among the latter.
    None when the run recorded no error tallies (older runs)."""
    if errors is None:
        return dict(connection_errors=None, http_errors=None, gateway_errors=None)
    win = errors[(errors["ts"] >= first_s) & (errors["ts"] < stop_s)]
    http = win[win["kind"] == "http"]
    return dict(connection_errors=int(win.loc[win["kind"] == "connection", "count"].sum()),
                http_errors=int(http["count"].sum()),
                gateway_errors=int(http.loc[http["status"].isin(GATEWAY_STATUSES), "count"].sum()))


def health_figures(health: pd.DataFrame | None, start: float, end: float) -> dict:
    """The health probes of a window (target/health.csv): how many each API container answered at its
    own address, and how many the entry answered. None without probes."""
    out = dict(replica_probes=None, replica_probes_ok=None, replicas_all_healthy=None, entry_probes=None,
               entry_probes_ok=None)
    if health is None or health.empty:
        return out
    win = health[(health["ts"] >= start) & (health["ts"] <= end)]
    replicas, entry = win[win["probe"] != "entry"], win[win["probe"] == "entry"]
    if not replicas.empty:
        share = replicas.groupby("probe")["ok"].mean()
        out.update(replica_probes=int(len(replicas)), replica_probes_ok=int(replicas["ok"].sum()),
                   replicas_all_healthy=bool((share >= HEALTHY_SHARE).all()))
    if not entry.empty:
        out.update(entry_probes=int(len(entry)), entry_probes_ok=int(entry["ok"].sum()))
    return out


def has_balancer(meta: dict | None, samples: pd.DataFrame | None) -> bool:
    """nginx in front: variant.json says so (balancer), else more than one replica."""
    meta = meta or {}
    if isinstance(meta.get("balancer"), bool):
        return meta["balancer"]
    replicas = meta.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool):
        return replicas > 1
    return samples is not None and not samples.empty and samples["container"].nunique() > 1


def load_path_failure(step: dict, s: Settings) -> str | None:
    """The load path's failure in a step, in words, or None.

    Requests that got no HTTP answer (and, behind nginx, its 502/504) count against the load path
    when they are many enough to matter (at least PATH_ERRORS_MIN and a tenth of what the failure
    SLO allows) while every API container kept answering its health path at its own address: the
    service was up, the way to it was not (docs/load-path.md)."""
    conn = step.get("connection_errors")
    if conn is None or not step.get("replicas_all_healthy"):
        return None
    gateway = step.get("gateway_errors") or 0 if step.get("balancer") else 0
    broken = conn + gateway
    if broken < max(PATH_ERRORS_MIN, 0.1 * s.failure_rate_max * max(step["requests"], 1)):
        return None
    parts = [f"{conn} requests got no HTTP answer (refused, reset or timed out)"]
    if gateway:
        parts.append(f"nginx answered {gateway} with 502/504")
    entry = ""
    if step.get("entry_probes"):
        entry = f"; the entry answered {step['entry_probes_ok']} of {step['entry_probes']} health probes"
    return (f"load path broken: {' and '.join(parts)} while every API container answered "
            f"{step['replica_probes_ok']} of {step['replica_probes']} health probes at its own address"
            f"{entry}: the harness's connections failed, not the service; not a measurement of the target")


def _workers_min(workers, start, end):
    if workers is None or workers.empty:
        return None
    win = workers[(workers["ts"] >= start) & (workers["ts"] < end)]
    return int(win["workers"].min()) if not win.empty else None


def _judge_step(step: dict, s: Settings, expected: int | None) -> None:
    """Fill valid, slo_pass, reasons and slo_broken (SLO name -> value, in SLO_ORDER)."""
    invalid, broken, unknown = [], {}, []
    if not step["complete"]:
        ran = max(0.0, step["window_end"] - step["start_ts"])
        invalid.append(f"step incomplete: the run ended {ran:.0f} s into its "
                       f"{step['planned_end_ts'] - step['start_ts']:.0f} s")
    if step["requests"] == 0:
        invalid.append("no requests in the measured window")
    gen = step["generator_cpu_pct"]
    if gen is not None and gen > s.generator_cpu_pct_max:
        invalid.append(f"generator saturated: {step['generator_process']} at {gen:.0f} % of one core "
                       f"(> {s.generator_cpu_pct_max:g} %): not a measurement of the target")
    host = step.get("shared_host")
    busy = (step.get("host_cpu_pct") or {}).get(host) if host else None
    if busy is not None and busy > SHARED_HOST_CPU_PCT_MAX:
        invalid.append(f"shared host saturated: {host} runs the API and Locust and was {busy:.0f} % busy "
                       f"(> {SHARED_HOST_CPU_PCT_MAX:g} % of its cores): the API waited for cores the "
                       f"generator took; not a measurement of the target alone (more loadgen hosts, or fewer users)")
    if expected is not None and step["workers_min"] is not None and step["workers_min"] < expected:
        invalid.append(f"Locust worker lost: {step['workers_min']} of {expected} connected")
    path = load_path_failure(step, s)
    if path:
        invalid.append(path)
    stab = step["stability"]
    if stab.stable is False:
        invalid.append(f"unstable throughput: {stab.detail}")
    for container, ts in step["restarts"]:
        invalid.append(f"container {container} restarted during the step (CPU counter reset)")

    fr = step["failure_rate"]
    if fr is not None and fr >= s.failure_rate_max:
        broken["failure_rate"] = fr
    test: P95Test = step["p95_test"]
    if test.result == "fail":
        broken["p95_ms"] = step["p95_ms"]
    elif test.result == "inconclusive" and step["requests"] > 0:
        need = (f"about {test.needed_n} requests at this over-limit rate would decide it"
                if test.needed_n else "an over-limit rate of exactly 5 % cannot be decided")
        unknown.append(f"p95 inconclusive: {test.over} of {test.n} requests over "
                       f"{s.p95_ms_max:g} ms, too few to prove p95 either side at "
                       f"{CONFIDENCE:.0%} confidence; {need}")
    for key, limit, label in (("cpu_pct", s.cpu_pct_max, "CPU"), ("mem_pct", s.mem_pct_max, "memory")):
        value = step[key]
        if value is None:
            unknown.append(f"{key} not measured (no target samples with a limit in the window)")
        elif value >= limit:
            broken[key] = value

    step["slo_broken"] = broken
    reasons = list(invalid)
    for key, value in broken.items():
        reasons.append(_broken_text(key, value, s, test))
    reasons.extend(unknown)
    step["valid"] = not invalid
    step["reasons"] = reasons
    if invalid:
        step["slo_pass"] = None
    elif broken:
        step["slo_pass"] = False
    elif unknown:
        step["slo_pass"] = None
    else:
        step["slo_pass"] = True


def _broken_text(key: str, value: float, s: Settings, test: P95Test) -> str:
    if key == "failure_rate":
        return f"failure rate {value:.2%} >= {s.failure_rate_max:.2%}"
    if key == "p95_ms":
        return (f"p95 {value:.0f} ms over {s.p95_ms_max:g} ms ({test.over} of {test.n} requests "
                f"over the limit; binomial p = {test.p_fail:.2g})")
    label = "CPU" if key == "cpu_pct" else "memory"
    limit = s.cpu_pct_max if key == "cpu_pct" else s.mem_pct_max
    return f"{label} {value:.1f} % >= {limit:g} % of the limit"


# ---------------------------------------------------------------- variants


def passing_figures(steps: list[dict]) -> tuple:
    """(max users passing, max RPS): the users of the last step of the unbroken run of passing steps
    from the first (None when the first does not pass), and the highest RPS among valid steps."""
    chain = None
    for st in steps:
        if st["slo_pass"] is not True:
            break
        chain = st["users"]
    valid_rps = [st["rps"] for st in steps if st["valid"]]
    return chain, (max(valid_rps) if valid_rps else None)


def variant_result(v, run: dict, s: Settings) -> dict:
    """The schema's variant fields plus detail (steps with extras, missing steps, notes)."""
    target = int(run["target_users"])
    meta = v.meta or {}
    from_name = parse_variant_name(v.name) or {}
    res = {
        "name": v.name,
        "cpu": _num(meta.get("cpu"), from_name.get("cpu")),
        "mem": str(meta.get("mem") or from_name.get("mem") or ""),
        "mem_bytes": _int(meta.get("mem_bytes"), from_name.get("mem_bytes")),
        "replicas": _int(meta.get("replicas"), from_name.get("replicas")),
        "image": str(meta.get("image") or (run.get("vars") or {}).get("image") or ""),
        "status": meta.get("status"), "error": "; ".join(map(str, meta.get("errors") or [])) or meta.get("error"),
        "notes": list(v.notes), "steps": [], "steps_missing": [], "containers": v.containers,
        "reasons": [], "verdict": "incomplete", "max_users_passing": None, "first_failure": None,
        "max_rps": None, "target_step_users": target, "planned_users": [],
    }
    if v.missing or v.error:
        res["reasons"] = [v.error] if v.error else list(v.notes)
        res["notes"] = []
        return res
    planned = planned_users(v.meta, run.get("vars"))
    steps = step_results(v, s)
    started = [st["users"] for st in steps]
    res["planned_users"] = planned
    res["steps"] = steps
    res["steps_missing"] = [u for u in planned if u not in started]
    if planned and target not in planned:
        res["target_step_users"] = planned[-1]
        res["notes"].append(f"target users {target} is not a planned step: judged at the last "
                            f"planned step, {planned[-1]} users")
    judged_users = res["target_step_users"]
    _, end_note = run_end(v)
    if end_note:
        res["notes"].append(end_note)
    _, workers_note = expected_workers(v)
    if workers_note:
        res["notes"].append(workers_note)

    res["max_users_passing"], res["max_rps"] = passing_figures(steps)

    first_step = next(({"users": st["users"], "slo": k, "value": float(vv)}
                       for st in steps if st["valid"] and st["slo_pass"] is False
                       for k, vv in st["slo_broken"].items()), None)
    container_failure = _container_failure(v, steps)
    first = first_step
    if container_failure and (first_step is None or container_failure["users"] is None
                              or container_failure["users"] <= first_step["users"]):
        first = container_failure
    res["first_failure"] = first

    at_target = [st for st in steps if st["users"] == judged_users]
    judged = at_target[-1] if at_target else None
    reasons = []
    if container_failure:
        res["verdict"] = "fail"
        reasons.append(container_failure["text"])
        container_failure.pop("text")
    if judged is None or not judged["complete"]:
        if not container_failure:
            res["verdict"] = "incomplete"
        reasons.append(f"the run ended before the {judged_users}-user step"
                       + (" finished" if judged else " started"))
    elif not container_failure:
        if not judged["valid"] or judged["slo_pass"] is None:
            res["verdict"] = "invalid"
        else:
            res["verdict"] = "pass" if judged["slo_pass"] else "fail"
    if judged is not None:
        reasons.extend(f"at {judged['users']} users: {r}" for r in judged["reasons"])
    if res["status"] == "failed":
        reasons.append(f"variant.json status failed: {res['error'] or 'no error given'}")
    elif res["status"] == "interrupted":
        reasons.append("interrupted before the variant ended: teardown.yml collected what every host "
                       "had measured; complete steps are judged, the rest is not")
    if res["steps_missing"]:
        reasons.append("steps not run: " + ", ".join(str(u) for u in res["steps_missing"]) + " users")
    res["reasons"] = reasons + res["notes"]
    return res


# ---------------------------------------------------------------- repeats (rightsize/repeats.py)

# step figures of the target and the generators: the pooled step keeps each one's worst repeat;
# the failed-request tallies are summed
_WORST_KEYS = ("cpu_pct", "cpu_pct_peak", "mem_pct", "mem_pct_peak", "cpu_throttled_pct", "generator_cpu_pct",
               "loadgen_host_cpu_pct")
_SUM_KEYS = ("connection_errors", "http_errors", "gateway_errors")


def variant_result_repeats(v, run: dict, s: Settings, planned: int = 1) -> dict:
    """variant_result of a variant and its repeats (v.repeats, results/<run>/<variant>/repeats/<k>/)
    combined: steps pooled, verdict by rightsize.repeats.combine_verdicts, and the `repeats` list of
    summary.json with the spread at the target users. One run alone: variant_result unchanged.
    planned: the runs the plan asked for (a planned repeat with no folder makes it incomplete)."""
    first = variant_result(v, run, s)
    first["repeat_results"] = [(first, v)]
    if not v.repeats and planned <= 1:
        return first
    results = [first] + [variant_result(r, run, s) for r in v.repeats]
    return pool_results(results, [v, *v.repeats], s)


def _repeat_dir(vd) -> str:
    return vd.name


def _judged(res: dict) -> dict | None:
    at = [st for st in res["steps"] if st["users"] == res["target_step_users"]]
    return at[-1] if at else None


def pool_step(per_repeat: list[dict], repeats: int, dirs: list[str], s: Settings) -> dict:
    """One step pooled over the repeats that ran it: requests, failures and latency histograms
    summed (percentiles and the p95 test on the pooled histogram, RPS = requests / seconds over all
    repeats), the target's and generators' figures at their worst repeat, the window of the first.
    It passes only when it passes in every repeat (rightsize.repeats.combine_step)."""
    base = dict(per_repeat[0])
    ms = np.concatenate([st["hist"][0] for st in per_repeat])
    counts = np.concatenate([st["hist"][1] for st in per_repeat])
    requests = int(sum(st["requests"] for st in per_repeat))
    seconds = float(sum(st["duration_s"] for st in per_repeat))
    failed = int(sum(st["failed"] for st in per_repeat))
    over = int(sum(st["over"] for st in per_repeat))
    base.update({
        "complete": all(st["complete"] for st in per_repeat) and len(per_repeat) == repeats,
        "duration_s": seconds, "requests": requests, "rps": requests / seconds if seconds else 0.0,
        "p50_ms": percentile(ms, counts, 0.50), "p95_ms": percentile(ms, counts, P95_QUANTILE),
        "p99_ms": percentile(ms, counts, 0.99), "p95_ci": percentile_ci(ms, counts),
        "failure_rate": failed / requests if requests else None, "failed": failed,
        "p95_test": judge_p95(over, requests), "hist": (ms, counts), "over": over,
        "stability": next((st["stability"] for st in per_repeat if st["stability"].stable is False),
                          per_repeat[0]["stability"]),
        "restarts": [x for st in per_repeat for x in st["restarts"]],
    })
    for key in _WORST_KEYS:
        values = [st.get(key) for st in per_repeat if st.get(key) is not None]
        base[key] = max(values) if values else None
    for key in _SUM_KEYS:
        values = [st.get(key) for st in per_repeat if st.get(key) is not None]
        base[key] = sum(values) if values else None
    valid, slo_pass, broken = repeat_rules.combine_step(per_repeat, repeats)
    reasons = [f"repeat {d}: {r}" for st, d in zip(per_repeat, dirs) for r in st["reasons"]]
    if len(per_repeat) < repeats:
        reasons.insert(0, f"ran in {len(per_repeat)} of {repeats} repeats")
    base.update(valid=valid, slo_pass=slo_pass, slo_broken=broken, reasons=reasons, repeats_ran=len(per_repeat))
    return base


def pool_results(results: list[dict], data: list, s: Settings) -> dict:
    """Several variant_result dicts of one variant (repeat 1 first) -> one, steps pooled by users."""
    dirs = [_repeat_dir(vd) for vd in data]
    n = len(results)
    out = dict(results[0])
    users_order = []
    for res in results:
        for st in res["steps"]:
            if st["users"] not in users_order:
                users_order.append(st["users"])
    steps = []
    for users in users_order:
        pairs = [(next(st for st in res["steps"] if st["users"] == users), d)
                 for res, d in zip(results, dirs) if any(st["users"] == users for st in res["steps"])]
        steps.append(pool_step([p[0] for p in pairs], n, [p[1] for p in pairs], s))
    out["steps"] = steps
    out["max_users_passing"], out["max_rps"] = passing_figures(steps)
    failures = [r["first_failure"] for r in results if r["first_failure"] is not None]
    out["first_failure"] = min(failures, key=lambda f: (f["users"] is not None, f["users"] or 0)) \
        if failures else None
    entries = []
    for res, d in zip(results, dirs):
        judged = _judged(res)
        broken = judged["slo_broken"] if judged is not None and judged["valid"] else {}
        if res["first_failure"] and res["first_failure"]["slo"] in ("oom_killed", "restarted"):
            broken = {**broken, res["first_failure"]["slo"]: res["first_failure"]["value"]}
        entries.append({"dir": d, "verdict": res["verdict"], "reasons": res["reasons"], "broken": broken,
                        "judged": judged})
    verdict, why = repeat_rules.combine_verdicts(entries)
    out["verdict"] = verdict
    out["reasons"] = why + [f"repeat {e['dir']}: {r}" for e in entries for r in e["reasons"]]
    # repeat 1's notes as a single run's; the others' prefixed (their plan note is the same one)
    out["notes"] = list(results[0]["notes"]) + [
        f"repeat {e['dir']}: {note}" for e, res in zip(entries[1:], results[1:]) for note in res["notes"]
        if not note.startswith("target users")]
    out["repeats"] = [{
        "dir": e["dir"], "verdict": e["verdict"],
        "rps_at_target": e["judged"]["rps"] if e["judged"] and e["judged"]["complete"] else None,
        "p95_ms_at_target": e["judged"]["p95_ms"] if e["judged"] and e["judged"]["complete"] else None,
    } for e in entries]
    measured = [{"dir": e["dir"], "requests": e["judged"]["requests"], "duration_s": e["judged"]["duration_s"],
                 "rps": e["judged"]["rps"], "p95_ms": e["judged"]["p95_ms"], "p95_ci": e["judged"]["p95_ci"]}
                for e in entries if e["judged"] and e["judged"]["complete"] and e["judged"]["requests"]]
    out["repeat_spread"] = {
        "users": out["target_step_users"], "repeats": n, "measured": len(measured),
        "rps": repeat_rules.spread([m["rps"] for m in measured]),
        "p95_ms": repeat_rules.spread([m["p95_ms"] for m in measured]),
        "not_repeatable": repeat_rules.not_repeatable(measured),
    }
    out["repeat_results"] = list(zip(results, data))
    return out


def _container_failure(v, steps) -> dict | None:
    """OOM kill or restart from containers.json, located in a step by a CPU counter reset."""
    if not v.containers:
        return None
    oom = [c for c in v.containers if c.get("oom_killed") is True]
    restarts = sum(int(c.get("restart_count") or 0) for c in v.containers)
    if not oom and not restarts:
        return None
    located = [st["users"] for st in steps if st["restarts"]]
    users = located[0] if located else None
    where = f" during the {users}-user step" if users else ""
    if oom:
        names = ", ".join(str(c.get("name")) for c in oom)
        return {"users": users, "slo": "oom_killed", "value": float(len(oom)),
                "text": f"OOM-killed{where}: {names} (restarts: {restarts})"}
    return {"users": users, "slo": "restarted", "value": float(restarts),
            "text": f"container restarted{where}: {restarts} restart(s) in containers.json"}


def _num(*values):
    for x in values:
        if isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0:
            return float(x)
    return None


def _int(*values):
    for x in values:
        if isinstance(x, int) and not isinstance(x, bool) and x >= 1:
            return x
    return None


# ---------------------------------------------------------------- run


def analyse(data, s: Settings, probes=()) -> dict:
    """Everything the report shows: variants with detail, the run's validity, minimal, 1-vs-N, and
    the capacity model fitted on the variants and on `probes` (a search's probe-NN-* folders, as
    load.load_variant reads them: measurements like any variant's, judged by collect/search.py)."""
    run = data.run
    planned = planned_repeats(run)
    variants = [variant_result_repeats(v, run, s, planned) for v in data.variants]
    # the capacity model takes each repeat as its own measurement (its steps, its samples)
    sources = [pair for v in variants for pair in v["repeat_results"] if pair[0]["steps"]]
    capacity_notes, probe_results = [], []
    for p in probes:
        if p.missing or p.error:
            capacity_notes.append(f"{p.name}: {p.error or 'no data'}: left out of the capacity model")
        else:
            probe_results.append(variant_result(p, run, s))
            sources.append((probe_results[-1], p))
    reasons = []
    for v in variants:
        if v["verdict"] == "incomplete":
            reasons.append(f"{v['name']}: incomplete ({v['reasons'][0] if v['reasons'] else 'no data'})")
        for res, vd in v["repeat_results"]:
            where = v["name"] if vd.name == v["name"] else vd.name
            for st in res["steps"]:
                for r in st["reasons"]:
                    if r.startswith("Locust worker lost"):
                        reasons.append(f"{where} at {st['users']} users: {r}")
        reasons.extend(f"{v['name']}: {n}" for n in v["notes"]
                       if not n.startswith("target users"))
    return {
        "run_id": data.run_id, "run": run, "settings": s, "variants": variants,
        "valid": not reasons, "reasons": reasons, "notes": list(data.notes) + missing_settings(run),
        "skipped": [x for x in run.get("skipped", []) if isinstance(x, dict)],
        "minimal": minimal(variants, s),
        "replicas": replicas_comparison(variants),
        "failures": failures_table(data),
        "capacity": capacity_analysis(run, sources, s, capacity_notes),
        "probes": probe_results,
        "cost": cost_analysis(run, variants, probe_results),
    }


# ---------------------------------------------------------------- cost and the Pareto front (rightsize/cost.py)


def cost_analysis(run: dict, variants: list[dict], probes: list[dict] = ()) -> dict:
    """Cost per hour and per million requests of every measured variant and search probe (a probe
    named by its folder), the Pareto front over them all, and the cheapest passing variant; the
    prices are run.json's (notes name what an older run lacked). rows is empty when cost_cpu_hour=0."""
    prices, notes = cost.prices_from_run(run)
    points = [p for p in [cost.point(v, "variant") for v in variants] + [cost.point(v, "probe") for v in probes]
              if p is not None]
    rows = cost.cost_rows(prices, points) if prices.enabled else []
    return {"prices": prices, "notes": notes, "rows": rows, "block": cost.block(prices, rows),
            "cheapest": cost.cheapest_passing(rows), "by_replicas": None}


def _judged_step(result: dict | None) -> dict | None:
    if not result:
        return None
    at = [st for st in result["steps"] if st["users"] == result["target_step_users"]]
    return at[-1] if at else None


def search_statements(analysis: dict) -> None:
    """The search answer's two sides, each with its confidence (rightsize/confidence.py), per
    replica count with a passing CPU: analysis["search_statements"], and the chosen answer's as
    summary.json search.statement (after search.attach)."""
    state = analysis.get("search")
    if state is None:
        return
    slo = analysis["settings"].slo()
    results = {r["name"]: r for r in [*analysis["variants"], *analysis.get("probes", [])]}
    out = []
    for rs in state.searches:
        cpu = rs.cpu if rs.cpu is not None else rs.lowest_passing_cpu
        if cpu is None:
            continue
        probes = [p for p in state.probes if p.replicas == rs.replicas]
        passing_dir = rs.confirm_dir if rs.confirm_verdict == "pass" else next(
            (p.dir for p in reversed(probes) if p.cpu == cpu and p.verdict == "pass"), None)
        step = _judged_step(results.get(passing_dir))
        passing = {"dir": passing_dir, "step": step} if step else None
        failing, low = None, rs.highest_failing_cpu
        if low is not None and rs.highest_failing_basis == "predicted":
            skip = next((x for x in rs.skipped if x["cpu"] == low), {})
            failing = {"cpu": low, "basis": "predicted", "skip": skip,
                       "model": rs.model.block() if rs.model is not None else None}
        elif low is not None:
            failed_dir = next((p.dir for p in reversed(probes) if p.cpu == low and p.verdict == "fail"), None)
            result = results.get(failed_dir)
            fstep = _judged_step(result)
            if fstep is not None:
                broken = list(fstep.get("slo_broken") or {})
                key = broken[0] if broken else (result.get("first_failure") or {}).get("slo")
                if key not in confidence.SLO_NAMES:  # an OOM kill or a restart: no sample to bound
                    fstep = {**fstep, "reasons": result["reasons"][:1]}
                    key = None
                failing = {"cpu": low, "basis": "measured", "dir": failed_dir, "step": fstep, "slo": key}
        out.append({"replicas": rs.replicas, "text": confidence.statement(cpu, passing, failing, slo)})
    analysis["search_statements"] = out
    best = state.best
    chosen = next((x for x in out if best is not None and x["replicas"] == best.replicas), None)
    if chosen and analysis.get("search_summary") is not None:
        analysis["search_summary"]["statement"] = chosen["text"]


def rank_search_by_cost(analysis: dict) -> None:
    """With search_replicas: the answers per replica count ranked by cost (after search.attach)."""
    found = analysis.get("cost") or {}
    by_replicas = (analysis.get("search_summary") or {}).get("by_replicas") or []
    if not found.get("rows") or len(by_replicas) < 2:
        return
    answers = [{"replicas": b["replicas"], "cpu": b["cpu"],
                "mem_bytes": docker_bytes(b["mem"]) if b.get("mem") else None} for b in by_replicas]
    found["by_replicas"] = cost.rank_answers(found["prices"], answers)


# ---------------------------------------------------------------- capacity model (rightsize/capacity.py)


def _number(low: float, *, low_ok: bool = True, high: float | None = None):
    """A parser of a number in [low, high] (low excluded unless low_ok); numeric text too (-e k=v)."""
    def parse(raw) -> float:
        if isinstance(raw, bool):
            raise ValueError
        x = float(raw)
        if not math.isfinite(x) or x < low or (x == low and not low_ok) or (high is not None and x > high):
            raise ValueError
        return x
    return parse


# run.json vars key, the CapacitySettings field it sets, its parser, what it must be, its default in words
CAPACITY_VARS = (
    ("locust_wait_min", "locust_wait_min", _number(0), "seconds >= 0", "{:g}"),
    ("locust_wait_max", "locust_wait_max", _number(0), "seconds >= locust_wait_min", "{:g}"),
    ("search_cpu_min", "search_cpu_min", _number(0, low_ok=False), "a CPU count > 0", "{:g}"),
    ("search_resolution", "search_resolution", _number(0, low_ok=False), "a CPU count > 0", "{:g}"),
    ("search_mem_target_pct", "search_mem_target_pct", _number(0, low_ok=False, high=100),
     "a percentage in (0, 100]", "{:g}"),
    ("search_mem_round", "search_mem_round_bytes", docker_bytes, "a docker memory size such as 64M",
     lambda b: capacity.mem_text(b)),
    ("capacity_predict_users", "capacity_predict_users", capacity.parse_users_list,
     "whole numbers >= 1 such as [10000, 20000]", lambda users: "[" + ", ".join(map(str, users)) + "]"),
)


def capacity_settings(run: dict, s: Settings) -> tuple[capacity.CapacitySettings, list[str]]:
    """The capacity model's knobs: the SLO and generator limit from s, the rest from run.json vars
    (CAPACITY_VARS). A key a run did not record (runs before the capacity model) or that does not
    parse takes its default, and a note names it, so a re-render never guesses silently."""
    defaults = capacity.CapacitySettings()
    recorded = run.get("vars") or {}
    values, notes = {}, []
    for key, name, parse, expected, shown in CAPACITY_VARS:
        default = getattr(defaults, name)
        default_text = shown(default) if callable(shown) else shown.format(default)
        raw = recorded.get(key)
        if raw is None or raw == "":
            notes.append(f"run.json has no {key}: the default {default_text} was used")
            continue
        try:
            values[name] = parse(raw)
        except (TypeError, ValueError):
            notes.append(f"run.json {key}={raw!r} is not {expected}: the default {default_text} was used")
    wait_min = values.get("locust_wait_min", defaults.locust_wait_min)
    if values.get("locust_wait_max", defaults.locust_wait_max) < wait_min:
        values.pop("locust_wait_max", None)
        values.pop("locust_wait_min", None)
        notes.append(f"run.json locust_wait_max is below locust_wait_min: the defaults "
                     f"between({defaults.locust_wait_min:g}, {defaults.locust_wait_max:g}) were used")
    values.update(slo_failure_rate_max=s.failure_rate_max, slo_cpu_pct_max=s.cpu_pct_max,
                  generator_cpu_pct_max=s.generator_cpu_pct_max)
    return replace(defaults, **values), notes


def capacity_analysis(run: dict, sources, s: Settings, notes: list[str] = ()) -> dict:
    """The capacity model of a run: sources are (variant_result dict, VariantData) of every variant
    and search probe. Returns the model (None without one), summary.json's block, why there is none,
    the settings used with their notes, and the hosts' cores the generator paragraph compares with."""
    settings, setting_notes = capacity_settings(run, s)
    observations = [capacity.observe_variant(r["steps"], v.samples, v.latency, v.loadgen, name=r["name"],
                                             cpu=r["cpu"], replicas=r["replicas"],
                                             failure_rate_max=s.failure_rate_max)
                    for r, v in sources if r["steps"]]
    target_cores, loadgen_cores, shared = capacity.hosts_cores((run.get("manifest") or {}).get("hosts"))
    model = capacity.capacity_model(observations, settings, target_users=int(run["target_users"]),
                                    target_cores=target_cores, loadgen_cores=loadgen_cores,
                                    target_on_loadgen=shared)
    return {
        "model": model, "block": model.block() if model is not None else None,
        "why": capacity.no_model_reason(observations) if model is None else None,
        "settings": settings, "notes": setting_notes + list(notes),
        "sources": [o.name for o in observations if not o.steps.empty],
        "target_cores": target_cores, "loadgen_cores": loadgen_cores, "target_on_loadgen": shared,
    }


def minimal(variants: list[dict], s: Settings) -> dict | None:
    """Cheapest passing variant: least CPU x replicas, then memory x replicas, then replicas."""
    passing = [v for v in variants if v["verdict"] == "pass" and v["cpu"] and v["replicas"]]
    if not passing:
        return None
    best = min(passing, key=lambda v: (v["cpu"] * v["replicas"], (v["mem_bytes"] or 0) * v["replicas"],
                                       v["replicas"], v["name"]))
    st = next(x for x in reversed(best["steps"]) if x["users"] == best["target_step_users"])
    headroom = {
        "failure_rate": round(s.failure_rate_max - st["failure_rate"], 6),
        "p95_ms": round(s.p95_ms_max - st["p95_ms"], 1),
        "cpu_pct": round(s.cpu_pct_max - st["cpu_pct"], 2),
        "mem_pct": round(s.mem_pct_max - st["mem_pct"], 2),
    }
    return {"name": best["name"], "headroom": headroom}


def replicas_comparison(variants: list[dict]) -> list[dict]:
    """1 vs N instances, at each variant's judged step: throughput, p95, CPU per request, cost.
    Empty unless the run has both single- and multi-replica variants."""
    have = {v["replicas"] for v in variants if v["steps"]}
    if not (1 in have and any(r and r > 1 for r in have)):
        return []
    rows = []
    for v in sorted(variants, key=lambda x: (x["replicas"] or 0, x["cpu"] or 0, x["name"])):
        judged = [st for st in v["steps"] if st["users"] == v["target_step_users"]]
        st = judged[-1] if judged else None
        cpu_total = (v["cpu"] or 0) * (v["replicas"] or 0)
        mem_gib = (v["mem_bytes"] or 0) * (v["replicas"] or 0) / 2**30
        core_ms = None
        if st and st["cpu_pct"] is not None and st["rps"] > 0:
            core_ms = st["cpu_pct"] / 100 * cpu_total * 1000 / st["rps"]
        rows.append({"name": v["name"], "replicas": v["replicas"], "cpu_total": cpu_total,
                     "mem_total_gib": mem_gib, "cost_cpu_gib": cpu_total * mem_gib,
                     "verdict": v["verdict"], "max_users_passing": v["max_users_passing"],
                     "max_rps": v["max_rps"], "users": st["users"] if st else None,
                     "rps": st["rps"] if st else None, "p95_ms": st["p95_ms"] if st else None,
                     "core_ms_per_request": core_ms})
    return rows


def failures_table(data) -> pd.DataFrame:
    """Locust's failures by type, per variant (whole run, warm-up included: Locust counts so)."""
    parts = [r.failures.assign(variant=v.name) for v in data.variants for r in [v, *v.repeats]
             if r.failures is not None and not r.failures.empty]  # a variant's repeats summed
    if not parts:
        return pd.DataFrame(columns=["variant", "Method", "Name", "Error", "Occurrences"])
    table = pd.concat(parts, ignore_index=True)
    table = table.groupby(["variant", "Method", "Name", "Error"], as_index=False)["Occurrences"].sum()
    return table.sort_values(["variant", "Occurrences"], ascending=[True, False]).reset_index(drop=True)


# ---------------------------------------------------------------- summary.json


def _round(x, nd):
    return None if x is None else round(float(x), nd)


def summary_step(st: dict) -> dict:
    out = {k: st[k] for k in STEP_KEYS}
    ci = st.get("p95_ci")
    out["p95_ci_ms"] = [float(ci[0]), float(ci[1])] if ci and None not in ci else None
    for k, nd in (("rps", 3), ("failure_rate", 6), ("cpu_pct", 2), ("cpu_pct_peak", 2),
                  ("mem_pct", 2), ("mem_pct_peak", 2), ("cpu_throttled_pct", 2),
                  ("generator_cpu_pct", 2), ("loadgen_host_cpu_pct", 2), ("duration_s", 3)):
        out[k] = _round(out[k], nd)
    return out


def summary(analysis: dict) -> dict:
    s: Settings = analysis["settings"]
    variants, reasons = [], list(analysis["reasons"])
    for v in analysis["variants"]:
        if not (VARIANT_NAME.match(v["name"]) and v["cpu"] and v["mem_bytes"] and v["replicas"]):
            reasons.append(f"{v['name']}: not a c<cpu>-m<MiB>M-r<replicas> name and no variant.json "
                           "limits: left out of summary variants")
            continue
        variants.append({
            "name": v["name"], "cpu": v["cpu"], "mem": v["mem"],
            "mem_bytes": v["mem_bytes"], "replicas": v["replicas"], "image": v["image"],
            "verdict": v["verdict"], "max_users_passing": v["max_users_passing"],
            "first_failure": v["first_failure"], "reasons": v["reasons"],
            "steps": [summary_step(st) for st in v["steps"]],
            "max_rps": _round(v["max_rps"], 3),
        })
        if v.get("repeats"):
            variants[-1]["repeats"] = [{**r, "rps_at_target": _round(r["rps_at_target"], 3)}
                                       for r in v["repeats"]]
    out = {
        "schema_version": 1, "run_id": analysis["run_id"], "valid": analysis["valid"] and not reasons,
        "reasons": reasons, "slo": s.slo(), "target_users": int(analysis["run"]["target_users"]),
        "variants": variants, "minimal": analysis["minimal"],
    }
    if analysis.get("search_summary") is not None:  # a search run (collect/search.py attach)
        out["search"] = analysis["search_summary"]
    out["capacity"] = (analysis.get("capacity") or {}).get("block")  # null: no model (and why: the report)
    out["cost"] = (analysis.get("cost") or {}).get("block")  # null: cost_cpu_hour=0
    return out


def slo_failed(analysis: dict) -> list[str]:
    """Variants whose verdict at the target users is not pass (for --fail-on-slo)."""
    return [f"{v['name']}: {v['verdict']}" for v in analysis["variants"] if v["verdict"] != "pass"]
