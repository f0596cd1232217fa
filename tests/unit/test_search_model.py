"""The model-guided search (collect/search.py, search_strategy=model) on synthetic probe results of
a known service demand: the probe order against bisection, the known fails it skips, the neighbour
it probes, the fallback to bisection when a probe contradicts it, the budget and the replay.

The synthetic service burns IDLE cores per replica plus D CPU-seconds per request it serves; N
users offer N / (Z + R) requests per second; a replica serves at most what its CPU limit allows
(the utilisation law), and a probe passes when its busy CPU at the target users stays under 90 % of
its limit (plus, optionally, a p95 cliff below some CPU that the model cannot see)."""
import math

import numpy as np
import pandas as pd
import pytest

from collect import search
from rightsize import capacity
from rightsize import steps as schedule

D, IDLE, Z, R_S = 0.003, 0.02, 2.0, 0.010
MIB = 2**20
FACTS = search.LoadFacts(users_step=200, step_duration=20, warmup_s=5, cpu_pct_max=90, think_time_s=Z)


def config(**overrides):
    raw = {"target_users": 400, "replicas": [1], "cpu_min": 0.25, "cpu_max": 2, "cores": 2,
           "resolution": 0.25, "max_probes": 8, "strategy": "model", "probe_shape": "ramp", **overrides}
    return search.parse_config(raw)


class Service:
    """Outcomes of runs against the synthetic service, keyed by folder, as folder_lookup gives them."""

    def __init__(self, demand=D, noise=0.004, p95_cliff_below=None, seed=0, facts=FACTS):
        self.demand, self.noise, self.cliff = demand, noise, p95_cliff_below
        self.rng = np.random.default_rng(seed)
        self.facts = facts
        self.done: dict[str, search.Outcome] = {}
        self.runs: list[dict] = []

    def lookup(self, name):
        return ("done", self.done[name]) if name in self.done else ("absent", None)

    def run(self, action, target_users):
        self.runs.append(action)
        steps = schedule.step_users(target_users, action["users_step"])
        self.done[action["dir"]] = self.outcome(action, steps)

    def outcome(self, action, users_list):
        cpu, replicas = action["cpu"], action["replicas"]
        points, rows = [], []
        for users in users_list:
            offered = users / (Z + R_S) / replicas
            served = min(offered, (cpu * 0.98 - IDLE) / self.demand)   # per replica
            busy = IDLE + self.demand * served
            x = self.rng.poisson(served * replicas, 20).astype(float)
            u = replicas * IDLE + self.demand * x + self.rng.normal(0, self.noise, len(x))
            points.append(pd.DataFrame({"variant": action["dir"], "users": users, "ts": np.arange(len(x)),
                                        "ok_rps": x, "busy_cores": u, "replicas": replicas}))
            saturated = served < offered
            rows.append({"variant": action["dir"], "cpu": cpu, "replicas": replicas, "users": users,
                         "seconds": 20, "requests": int(x.sum()), "rps": x.mean(), "ok_rps": x.mean(),
                         "mean_ms": 900.0 if saturated else R_S * 1000, "failure_rate": 0.0,
                         "cpu_pct": busy / cpu * 100, "busy_cores": busy * replicas,
                         "mem_peak_bytes": 300 * MIB, "worker_cores": None, "workers": 0, "in_fit": True})
        target = rows[-1]
        reasons = []
        if target["cpu_pct"] >= 90:
            reasons.append(f"at {target['users']} users: CPU {target['cpu_pct']:.1f} % >= 90 % of the limit")
        if self.cliff is not None and cpu < self.cliff:
            reasons.append(f"at {target['users']} users: p95 1500 ms over 1000 ms")
        observed = capacity.VariantObservations(
            name=action["dir"], cpu=cpu, replicas=replicas, points=pd.concat(points, ignore_index=True),
            steps=pd.DataFrame(rows, columns=capacity.STEP_COLUMNS))
        return search.Outcome("fail" if reasons else "pass", reasons, 300 * MIB,
                              1500.0 if reasons else 40.0, observed)


def drive(cfg, service, facts=FACTS, limit=30):
    """Run what the planner says until it is done: (done action, run actions, final state)."""
    for _ in range(limit):
        state = search.replay(cfg, service.lookup, facts)
        if state.finished:
            return state.action, service.runs, state
        service.run(state.action, cfg.target_users)
    raise AssertionError(f"no done after {limit} runs")


def probes(runs):
    return [a for a in runs if a["kind"] == "probe"]


def needed_cpu(users=400, demand=D):
    busy = IDLE + demand * users / (Z + R_S)
    return math.ceil((busy / 0.9 - 0.25) / 0.25 - 1e-9) * 0.25 + 0.25


def test_model_answers_as_bisection_does_in_fewer_probes():
    assert needed_cpu() == 0.75  # 0.62 busy cores at ~199 RPS: under 90 % of 0.75, over 90 % of 0.5
    bisect_done, bisect_runs, _ = drive(config(strategy="bisect"), Service())
    model_done, model_runs, state = drive(config(), Service())
    assert [a["cpu"] for a in probes(bisect_runs)] == [1.0, 0.5, 0.75]
    assert [a["cpu"] for a in probes(model_runs)] == [1.0, 0.75]      # fit, then the predicted answer
    assert bisect_done["cpu"] == model_done["cpu"] == 0.75
    assert len(model_runs) < len(bisect_runs)                         # probes + confirmation
    assert "the predicted answer" in probes(model_runs)[1]["why"]
    rs = state.searches[0]
    assert rs.bracket == {"highest_failing_cpu": 0.5, "lowest_passing_cpu": 0.75,
                          "highest_failing_basis": "predicted"}
    assert rs.stop == "converged: 0.5 fails (predicted), 0.75 passes"


def test_known_fails_are_skipped_and_listed_with_their_predicted_busy_cpu():
    _, _, state = drive(config(), Service())
    block = search.summary_block(state)
    assert block["strategy"] == "model" and block["fallback"] is None
    assert [s["cpu"] for s in block["skipped"]] == [0.25, 0.5]
    truth = IDLE + D * 400 / (Z + R_S)
    for skip in block["skipped"]:
        assert skip["predicted_busy_cpu"] == pytest.approx(truth, rel=0.05)
        assert skip["predicted_busy_cpu"] >= 0.9 * skip["cpu"]           # the interval's low end is over
        assert "known fail, not run" in skip["reason"] and "lower end" in skip["reason"]
    assert block["model"]["cpu_s_per_request"] == pytest.approx(D, rel=0.05)
    assert block["model"]["low"] <= D * 1.05 and block["model"]["high"] >= D * 0.95
    assert block["bracket"]["highest_failing_basis"] == "predicted"
    assert block["model"]["rps_basis"] == "measured at 400 users"   # probe 1's last step, not CPU-starved
    assert not any(p["cpu"] in (0.25, 0.5) for p in block["probes"])   # never run


def test_the_first_probe_climbs_and_feeds_the_fit_then_probes_hold():
    _, runs, state = drive(config(probe_shape="hold"), Service())
    assert [a["shape"] for a in runs] == ["ramp", "hold", "hold"]   # probe 1, probe 2, confirmation
    assert runs[0]["users_step"] == 200 and runs[1]["users_step"] == 400
    assert [p.shape for p in state.probes] == ["ramp", "hold"]


def test_a_neighbour_the_interval_cannot_rule_out_is_probed():
    # a fine grid (0.05) and noisy samples: the CPU below the predicted answer lies inside the interval
    cfg = config(cpu_min=0.5, resolution=0.05, cpu_max=1.0)
    service = Service(demand=0.00285, noise=0.03, seed=3)
    _, runs, state = drive(cfg, service)
    first_only = search.SearchState(cfg, FACTS, probes=state.probes[:1])
    view, _ = search.model_view(first_only, 1)
    grid = cfg.grid(1)
    answer = view.answer(grid)
    below = grid[answer - 1]
    assert not view.known_fail(below), "the test needs a neighbour the interval cannot rule out"
    tried = [a["cpu"] for a in probes(runs)]
    assert tried[:2] == [0.75, grid[answer]] and below in tried
    assert any("cannot rule out" in a["why"] for a in probes(runs))
    truth = (IDLE + 0.00285 * 400 / (Z + R_S)) / 0.9
    assert state.action["cpu"] == min(c for c in grid if c > truth + 1e-9)


def test_a_probe_that_contradicts_the_model_falls_back_to_bisection():
    # p95 breaks below 1 CPU although the CPU would do: the model predicts 0.75 passes, it fails
    service = Service(p95_cliff_below=1.0)
    done, runs, state = drive(config(), service)
    assert [a["cpu"] for a in probes(runs)] == [1.0, 0.75]
    assert done["cpu"] == 1.0
    assert state.fallback and "probe-02-c0.75-m2048M-r1 failed at CPU 0.75" in state.fallback
    assert "the model is contradicted, bisection from here on" in state.fallback
    assert done["why"].endswith(state.fallback)
    block = search.summary_block(state)
    assert block["fallback"] == state.fallback and block["skipped"] == []
    assert block["bracket"] == {"highest_failing_cpu": 0.75, "lowest_passing_cpu": 1.0,
                                "highest_failing_basis": "measured"}
    # the same service bisected takes one probe more to the same answer
    bisected, bisect_runs, _ = drive(config(strategy="bisect"), Service(p95_cliff_below=1.0))
    assert bisected["cpu"] == 1.0 and len(probes(bisect_runs)) == 3


def test_after_a_contradiction_the_rest_is_plain_bisection():
    # a p95 cliff below 1.75: the first probe (1 CPU) already fails where the model says CPU would do
    service = Service(p95_cliff_below=1.75)
    done, runs, state = drive(config(), service)
    tried = [a["cpu"] for a in probes(runs)]
    assert tried[0] == 1.0 and state.fallback and "probe-01-c1-m2048M-r1 failed" in state.fallback
    assert all("bisection" in a["why"] for a in probes(runs)[1:])
    assert done["cpu"] == 1.75


def test_without_a_model_the_model_strategy_bisects():
    facts = search.LoadFacts(users_step=400, step_duration=20, warmup_s=5, think_time_s=Z)  # one step
    done, runs, _ = drive(config(), Service(facts=facts), facts)
    assert [a["cpu"] for a in probes(runs)] == [1.0, 0.5, 0.75] and done["cpu"] == 0.75
    assert "no capacity model" in probes(runs)[1]["why"]


def test_the_top_predicted_to_fail_is_not_run():
    # 1000 users at 5 ms per request: ~2.5 busy cores, more than 90 % of the top 2 CPUs
    cfg = config(target_users=1000)
    done, runs, state = drive(cfg, Service(demand=0.005))
    assert [a["cpu"] for a in runs] == [1.0] and done["cpu"] is None
    rs = state.searches[0]
    assert rs.stop == "even the top CPU 2 fails (predicted)"
    assert [s["cpu"] for s in rs.skipped] == [1.25, 1.5, 1.75, 2.0]
    # every step at 1000 users was starved of CPU: the RPS the users offer comes from N / (Z + R)
    assert rs.model.rps_basis.startswith("1000 users / (2 s think time + ")
    assert rs.model.rps == pytest.approx(1000 / (Z + R_S), rel=0.01)


def test_the_model_keeps_the_probe_budget():
    done, runs, state = drive(config(max_probes=1), Service())
    assert [a["kind"] for a in runs] == ["probe", "confirm"] and done["cpu"] == 1.0
    assert "max_probes 1" in state.searches[0].stop


def test_replay_resumes_where_it_stopped():
    service = Service()
    drive(config(), service)
    first, second = probes(service.runs)
    partial = Service()
    partial.done = {first["dir"]: service.done[first["dir"]]}
    again = search.replay(config(), partial.lookup, FACTS).action
    assert {k: again[k] for k in ("dir", "cpu", "why", "shape")} == \
        {k: second[k] for k in ("dir", "cpu", "why", "shape")}
    assert search.replay(config(), partial.lookup, FACTS).action == again   # deterministic


def test_by_replicas_later_counts_go_straight_to_the_prediction():
    cfg = config(replicas=[1, 2])
    done, runs, state = drive(cfg, Service())
    r2 = [a for a in probes(runs) if a["replicas"] == 2]
    # 2 replicas share ~199 RPS: ~0.32 busy cores each, under 90 % of 0.5
    assert r2[0]["cpu"] == 0.5 and "the predicted answer" in r2[0]["why"]
    assert state.searches[1].cpu == 0.5


def test_plan_states_expected_runs_and_time():
    cfg = config()
    state = search.replay(cfg, Service().lookup, FACTS)
    text = search.plan_text(state)
    e = search.estimate(cfg, FACTS)
    assert (e["probes_expected"], e["runs_expected"]) == (2, 3)
    assert e["seconds_expected"] == 3 * 40 + 3 * search.RUN_OVERHEAD_S
    assert f"Expected 3 runs (2 probes + 1 confirmation), about {search._minutes(e['seconds_expected'])}" in text
    assert "at most 9 runs" in text and "climb the steps too (40 s" in text
    bisect = search.estimate(config(strategy="bisect"), FACTS)
    assert (bisect["probes_expected"], bisect["runs_expected"], bisect["runs_max"]) == (3, 4, 9)
    assert search.bisection_probes(8) == (pytest.approx(29 / 9), 4)   # 3 or 4 probes over 9 outcomes
    held = search.estimate(config(probe_shape="hold", replicas=[1, 2]), FACTS)
    # r1: fit + answer, r2: the answer; the first climbs 40 s, the rest hold 30 + 5 + 20 s
    assert held["runs_expected"] == 5 and held["seconds_expected"] == 40 + 4 * 55 + 5 * search.RUN_OVERHEAD_S
