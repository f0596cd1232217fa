#!/usr/bin/env python3
"""One line per finished step while the load runs: waits for step N to end, then prints its figures.

Run on the Locust master's host by the loadtest role once per step. Cheap by design (stdlib, a few
file reads, it sleeps while it waits), because on the local default it shares cores with the target:
- the step's window from steps.csv (the step ended when the next row appears, or the master quit);
- requests and failures from the master's locust_stats_history.csv (its cumulative counters at the
  window's ends); p95 is Locust's own rolling figure at the step's end (its last ~10 s);
- the busiest Locust process of this host from the loadgen sampler's rows in the window;
- workers connected (master_workers.csv) against the expected count.
The report computes every figure properly afterwards; this is only to see the run go.
Prints one JSON object: {"step", "steps", "users", "rps", "p95_ms", "failure_pct", "generator_cpu_pct",
"workers_min", "valid", "line"}.
"""
import argparse
import csv
import json
import os
import time


def rows(path):
    try:
        with open(path, encoding="ascii", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error):
        return []


def window(out, step, warmup, master_done):
    """(users, start, end) of step `step` once it has ended (the next step began, the master quit,
    or its planned end passed by 2 s so the master's last stats are written), else None."""
    table = rows(os.path.join(out, "steps.csv"))
    this = next((r for r in table if r.get("step") == str(step)), None)
    if this is None:
        return None
    nxt = next((r for r in table if r.get("step") == str(step + 1)), None)
    planned_end = float(this["planned_end_ts"])
    if nxt:
        end = float(nxt["start_ts"])
    elif os.path.exists(master_done) or time.time() >= planned_end + 2:
        end = min(planned_end, time.time())
    else:
        return None
    return int(this["users"]), float(this["start_ts"]) + warmup, end


def counters_at(history, ts):
    """(since, requests, failures, p95) of the master's Aggregated counters in effect at ts; `since`
    is when that count first appeared (workers report every ~3 s, so the count steps, and rates are
    taken between those steps, not between the rows' own seconds)."""
    best, since, previous = None, ts, None
    for r in history:
        if r.get("Name") != "Aggregated":
            continue
        try:
            when, count = float(r["Timestamp"]), int(r["Total Request Count"])
        except (KeyError, ValueError):
            continue
        if when > ts:
            break
        if count != previous:
            since, previous = when, count
        best = r
    if best is None:
        return ts, 0, 0, None
    p95 = best.get("95%")
    return since, int(best["Total Request Count"]), int(best["Total Failure Count"]), \
        (float(p95) if p95 not in (None, "", "N/A") else None)


def busiest_process(samples, start, end):
    """(cpu % of one core, label) of the busiest Locust process in [start, end] from the sampler."""
    first, last = {}, {}
    for r in samples:
        if r.get("role") == "host":
            continue
        try:
            ts, cpu = float(r["ts"]), float(r["cpu_s"])
        except (KeyError, ValueError):
            continue
        if start <= ts <= end:
            key = (r["role"], r["pid"])
            first.setdefault(key, (ts, cpu))
            last[key] = (ts, cpu)
    best = None
    for key, (t0, c0) in first.items():
        t1, c1 = last[key]
        if t1 > t0:
            pct = (c1 - c0) / (t1 - t0) * 100
            if best is None or pct > best[0]:
                best = (pct, f"{key[0]} {key[1]}")
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the variant's folder on this host")
    parser.add_argument("--host", required=True, help="this host's inventory name")
    parser.add_argument("--step", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--expected-workers", type=int, default=0)
    parser.add_argument("--generator-max", type=float, default=80.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    master_done = os.path.join(args.out, "bg", "master.pid.rc")
    deadline = time.time() + args.timeout
    found = None
    while time.time() < deadline:
        found = window(args.out, args.step, args.warmup, master_done)
        if found or os.path.exists(master_done):
            break
        time.sleep(1.0)
    if not found:
        print(json.dumps({"step": args.step, "steps": args.steps, "line":
                          f"step {args.step}/{args.steps}: not run (the load ended before it)"}))
        return
    users, start, end = found
    history = rows(os.path.join(args.out, "locust_stats_history.csv"))
    t0, req0, fail0, _ = counters_at(history, start)
    t1, req1, fail1, p95 = counters_at(history, end)
    seconds = max(t1 - t0, 1e-9)  # between the two rows read, whole seconds
    requests, failures = max(0, req1 - req0), max(0, fail1 - fail0)
    rps = requests / seconds
    failure_pct = failures / requests * 100 if requests else None
    gen = busiest_process(rows(os.path.join(args.out, "loadgen", f"{args.host}.csv")), start, end)
    workers = [int(r["workers"]) for r in rows(os.path.join(args.out, "master_workers.csv"))
               if r.get("ts") and start <= float(r["ts"]) <= end]
    workers_min = min(workers) if workers else None
    problems = []
    if gen and gen[0] > args.generator_max:
        problems.append(f"generator saturated ({gen[1]} at {gen[0]:.0f} %)")
    if args.expected_workers and workers_min is not None and workers_min < args.expected_workers:
        problems.append(f"{workers_min} of {args.expected_workers} workers")
    if requests == 0:
        problems.append("no requests")
    line = (f"step {args.step}/{args.steps}: {users} users, {rps:.1f} RPS, p95 "
            f"{'?' if p95 is None else f'{p95:.0f}'} ms (Locust's last 10 s), failures "
            f"{'?' if failure_pct is None else f'{failure_pct:.2f}'} %, busiest generator "
            f"{'?' if gen is None else f'{gen[0]:.0f} % of a core ({gen[1]} on {args.host})'}: "
            + ("valid so far" if not problems else "INVALID: " + "; ".join(problems)))
    print(json.dumps({"step": args.step, "steps": args.steps, "users": users, "rps": round(rps, 1),
                      "p95_ms": p95, "failure_pct": failure_pct,
                      "generator_cpu_pct": None if gen is None else round(gen[0], 1),
                      "workers_min": workers_min, "valid": not problems, "line": line}))


if __name__ == "__main__":
    main()
