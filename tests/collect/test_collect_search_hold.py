"""The search's confidence rules (collect/search.py with rightsize/repeats.py): a probe whose p95 is
inconclusive gets one longer hold sized by the binomial test, and an invalid or inconclusive probe is
never a bound of the bracket. The planner is pure: its lookup here answers from a table of outcomes."""
from collect import search

UNDECIDED = search.Outcome("invalid", ["at 100 users: p95 inconclusive: 21 of 400 requests over 1000 ms"],
                           300 * 2**20, 990.0, p95_inconclusive=True, needed_requests=3000, rps=40.0)
SATURATED = search.Outcome("invalid", ["at 100 users: generator saturated"], 300 * 2**20, 900.0)
PASS = search.Outcome("pass", [], 300 * 2**20, 400.0, rps=40.0)
FAIL = search.Outcome("fail", ["at 100 users: p95 1500 ms over 1000 ms"], 300 * 2**20, 1500.0, rps=40.0)


def config(**extra):
    return search.parse_config({"target_users": 100, "replicas": [1], "cpu_min": 0.25, "cpu_max": 2.0,
                                "resolution": 0.25, "strategy": "bisect", "probe_shape": "ramp", **extra})


def planner(cfg, outcomes: dict, facts=search.LoadFacts(users_step=50, step_duration=20)):
    """Replay with `outcomes` (folder -> Outcome); the first folder not in it is the next action."""
    def lookup(name):
        return ("done", outcomes[name]) if name in outcomes else ("absent", None)
    return search.replay(cfg, lookup, facts)


def test_an_inconclusive_p95_gets_one_longer_hold_holding_the_needed_requests():
    state = planner(config(), {"probe-01-c1-m2048M-r1": UNDECIDED})
    action = state.action
    # 3,000 requests at 40 RPS: 75 s, within 4 x the 20-s step duration (no hold probes)
    assert (action["dir"], action["cpu"], action["shape"], action["hold_s"]) == \
        ("probe-02-c1-m2048M-r1", 1.0, "hold", 75.0)
    assert action["users_step"] == 100 and action["load_s"] >= 75 + 10
    assert "longer hold of 75 s (3000 requests at 40.0 RPS, at most 4 x 20 s)" in action["why"]
    # it decided: the bracket goes on from the longer hold's verdict
    state = planner(config(), {"probe-01-c1-m2048M-r1": UNDECIDED, "probe-02-c1-m2048M-r1": PASS})
    assert state.probes[1].reasons[0] == "longer hold of probe-01-c1-m2048M-r1 (invalid)"
    assert state.searches[0].lowest_passing_cpu == 1.0 and state.action["cpu"] == 0.5


def test_the_longer_hold_is_capped_at_four_search_holds():
    state = planner(config(probe_shape="hold", hold_s=15), {"probe-01-c1-m2048M-r1": search.Outcome(
        "invalid", [], None, 990.0, p95_inconclusive=True, needed_requests=90000, rps=40.0)})
    assert state.action["hold_s"] == 60.0 and "at most 4 x 15 s" in state.action["why"]


def test_any_other_invalid_probe_is_repeated_with_its_own_shape():
    state = planner(config(), {"probe-01-c1-m2048M-r1": SATURATED})
    assert state.action["shape"] == "ramp" and state.action["hold_s"] is None
    assert state.action["why"].startswith("r1: repeat CPU 1 once")


def test_an_invalid_probe_never_becomes_a_bound_of_the_bracket():
    # 1.0 passes, 0.5 is undecided and so is its longer hold: neither is the failing bound
    outcomes = {"probe-01-c1-m2048M-r1": PASS, "probe-02-c0.5-m2048M-r1": UNDECIDED,
                "probe-03-c0.5-m2048M-r1": SATURATED}
    state = planner(config(), outcomes)
    rs = state.searches[0]
    assert rs.bracket == {"highest_failing_cpu": None, "lowest_passing_cpu": 1.0}
    assert "inconclusive twice" in rs.stop
    assert state.action["kind"] == "confirm" and state.action["cpu"] == 1.0
    # nor the passing bound: an undecided probe at the top leaves nothing passing
    outcomes = {"probe-01-c1-m2048M-r1": FAIL, "probe-02-c1.5-m2048M-r1": UNDECIDED,
                "probe-03-c1.5-m2048M-r1": UNDECIDED}
    state = planner(config(), outcomes)
    rs = state.searches[0]
    assert rs.bracket == {"highest_failing_cpu": 1.0, "lowest_passing_cpu": None}
    assert state.finished and state.action["cpu"] is None
    assert [p.verdict for p in state.probes] == ["fail", "invalid", "invalid"]


def test_the_confirmation_runs_repeats_times_and_is_judged_over_all_of_them(tmp_path):
    """With repeats=2 the confirmation folder counts as run only when its repeats/2/ has ended too;
    the answer's verdict pools both (a failing second repeat fails the confirmation)."""
    import json
    import shutil

    import numpy as np

    from collect.synth import StepSpec, VariantSpec, write_run, write_variant

    run_dir = tmp_path / "run"
    write_run(run_dir, [], target_users=100, run_vars={"repeats": 2})
    (run_dir / "search.json").write_text(json.dumps({
        "target_users": 100, "replicas": [1], "cpu_min": 0.5, "cpu_max": 0.5, "cores": 2,
        "resolution": 0.25, "probe_mem": "2G", "strategy": "bisect", "probe_shape": "ramp"}))

    def run_into(folder: str, name: str, median_ms: float, seed: int):
        scratch = tmp_path / f"scratch{seed}"
        scratch.mkdir()
        spec = VariantSpec(name, [StepSpec(50, rps=40, latency_median_ms=100, mem_frac=0.2),
                                  StepSpec(100, rps=40, latency_median_ms=median_ms, mem_frac=0.2)],
                           step_duration=20)
        write_variant(scratch, spec, 1_800_000_000.0 + 1000 * seed, np.random.default_rng(seed))
        (run_dir / folder).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(scratch / name), str(run_dir / folder))

    probe = search.plan(run_dir).action
    assert probe["kind"] == "probe"
    run_into(probe["dir"], "c0.5-m2048M-r1", 100, 1)
    confirm = search.plan(run_dir).action
    assert confirm["kind"] == "confirm" and not confirm["stale"]
    run_into(confirm["dir"], confirm["dir"], 100, 2)
    again = search.plan(run_dir).action   # repeat 2 missing: the confirmation is run again, all of it
    assert again["kind"] == "confirm" and again["dir"] == confirm["dir"] and again["stale"]
    run_into(f"{confirm['dir']}/repeats/2", confirm["dir"], 1500, 3)
    state = search.plan(run_dir)
    assert state.finished and state.searches[0].confirm_verdict == "fail"
    assert state.action["cpu"] is None
    assert f"repeat {confirm['dir']}/repeats/2: fail broke p95_ms" in state.searches[0].reason
