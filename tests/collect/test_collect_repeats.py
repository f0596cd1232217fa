"""Repeats in the report (collect/compute.py, rightsize/repeats.py): a variant run several times,
repeat k > 1 in <variant>/repeats/<k>/. Synthetic folders (collect/synth.py) whose raw requests
give the expected pooled figures independently of the code under test."""
import json
import shutil

import numpy as np
import pandas as pd

from collect import compute, load, render
from collect.settings import settings_from_run
from collect.synth import StepSpec, VariantSpec, write_run, write_variant

from collect_testkit import variant, window_requests

NAME = "c0.5-m512M-r1"
OK = dict(rps=40, latency_median_ms=100, cpu_cores=0.2)
SLOW = dict(OK, latency_median_ms=1500)            # p95 far over 1000 ms
SATURATED = dict(OK, generator_cores=0.95)          # generator saturated: invalid


def spec(at_target: dict) -> VariantSpec:
    return VariantSpec(NAME, [StepSpec(50, **OK), StepSpec(100, **at_target)], step_duration=20)


def with_repeats(tmp_path, *targets, planned=None, seed=0):
    """A run of NAME whose repeat k measures targets[k-1] at 100 users; returns (run_dir, truths)."""
    run_dir = tmp_path / "run"
    truths = [write_run(run_dir, [spec(targets[0])], target_users=100, seed=seed,
                        run_vars={"repeats": planned or len(targets)})[NAME]]
    start = truths[0].start + 200
    for k, target in enumerate(targets[1:], start=2):
        scratch = tmp_path / f"scratch{k}"
        scratch.mkdir()
        truth, end = write_variant(scratch, spec(target), start, np.random.default_rng(seed + k))
        start = end + 60
        dest = run_dir / NAME / "repeats" / str(k)
        dest.parent.mkdir(exist_ok=True)
        shutil.move(str(scratch / NAME), str(dest))
        truths.append(truth)
    return run_dir, truths


def analysed(run_dir):
    data = load.load_run(run_dir)
    return data, compute.analyse(data, settings_from_run(data.run))


def test_repeats_pool_steps_and_fill_the_schemas_repeats_list(tmp_path, validate):
    run_dir, truths = with_repeats(tmp_path, OK, OK, OK)
    data, analysis = analysed(run_dir)
    # the repeats are not variants of their own (nor unplanned ones)
    assert [v.name for v in data.variants] == [NAME] and data.notes == []
    assert [r.name for r in data.variants[0].repeats] == [f"{NAME}/repeats/2", f"{NAME}/repeats/3"]
    v = variant(analysis, NAME)
    assert v["verdict"] == "pass" and v["max_users_passing"] == 100
    step = next(st for st in v["steps"] if st["users"] == 100)
    # pooled: every repeat's window requests, percentiles of the pooled raw latencies
    windows = []
    for truth in truths:
        row = truth.steps[truth.steps["users"] == 100].iloc[0]
        windows.append(window_requests(truth.requests, row["start_ts"], row["planned_end_ts"]))
    pooled = pd.concat([w for w, _ in windows])
    assert step["requests"] == len(pooled)
    assert step["duration_s"] == sum(d for _, d in windows)
    assert step["rps"] == len(pooled) / sum(d for _, d in windows)
    expected_p95 = float(np.sort(pooled["ms"].to_numpy())[int(np.ceil(0.95 * len(pooled))) - 1])
    assert step["p95_ms"] == expected_p95
    summary = validate(compute.summary(analysis))
    entries = summary["variants"][0]["repeats"]
    assert [e["dir"] for e in entries] == [NAME, f"{NAME}/repeats/2", f"{NAME}/repeats/3"]
    assert all(e["verdict"] == "pass" for e in entries)
    alone = [len(w) / d for w, d in windows]
    assert [e["rps_at_target"] for e in entries] == [round(x, 3) for x in alone]
    sp = v["repeat_spread"]
    assert sp["rps"]["min"] == min(alone) and sp["rps"]["max"] == max(alone)
    assert sp["not_repeatable"] == []     # same rate, Poisson noise only
    line = render.spread_line(v)
    assert line.startswith(f"{NAME}: 3 repeats at 100 users: RPS ") and "repeatable within counting noise" in line
    report = render.render_markdown(analysis, data)
    assert "**Repeats** (each variant run 3 times" in report and line in report


def test_a_failing_repeat_fails_the_variant_and_is_named_with_its_slo(tmp_path, validate):
    run_dir, _ = with_repeats(tmp_path, OK, SLOW)
    data, analysis = analysed(run_dir)
    v = variant(analysis, NAME)
    assert v["verdict"] == "fail"
    assert v["reasons"][0].startswith(f"repeat {NAME}/repeats/2: fail broke p95_ms")
    step = next(st for st in v["steps"] if st["users"] == 100)
    assert step["slo_pass"] is False and set(step["slo_broken"]) == {"p95_ms"}
    assert v["max_users_passing"] == 50
    summary = validate(compute.summary(analysis))
    assert [e["verdict"] for e in summary["variants"][0]["repeats"]] == ["pass", "fail"]
    assert summary["minimal"] is None
    # 100 ms vs 1500 ms medians: far beyond counting noise, and the verdict stays the combined one
    assert "not repeatable" in render.spread_line(v) and "(verdict unchanged)" in render.spread_line(v)


def test_fail_wins_over_invalid_and_invalid_over_pass(tmp_path):
    run_dir, _ = with_repeats(tmp_path, SATURATED, SLOW, OK)
    _, analysis = analysed(run_dir)
    assert variant(analysis, NAME)["verdict"] == "fail"
    run_dir, _ = with_repeats(tmp_path / "b", OK, SATURATED)
    _, analysis = analysed(run_dir)
    v = variant(analysis, NAME)
    assert v["verdict"] == "invalid" and v["reasons"][0].startswith(f"repeat {NAME}/repeats/2: invalid")
    step = next(st for st in v["steps"] if st["users"] == 100)
    assert step["slo_pass"] is None and step["valid"] is False


def test_a_planned_repeat_that_did_not_run_makes_the_variant_incomplete(tmp_path, validate):
    run_dir, _ = with_repeats(tmp_path, OK, OK, planned=3)
    data, analysis = analysed(run_dir)
    v = variant(analysis, NAME)
    assert v["verdict"] == "incomplete"
    assert any(r.startswith(f"repeat {NAME}/repeats/3: incomplete") for r in v["reasons"])
    step = next(st for st in v["steps"] if st["users"] == 100)
    assert step["slo_pass"] is None and step["reasons"][0] == "ran in 2 of 3 repeats"
    validate(compute.summary(analysis))
    assert not analysis["valid"]


def test_a_run_recorded_before_repeats_is_read_as_before(tmp_path, validate):
    run_dir = tmp_path / "run"
    write_run(run_dir, [spec(OK)], target_users=100, run_vars={"repeats": None})
    data, analysis = analysed(run_dir)
    v = variant(analysis, NAME)
    assert data.variants[0].repeats == [] and "repeat_spread" not in v
    summary = validate(compute.summary(analysis))
    assert "repeats" not in summary["variants"][0]
    assert json.loads((run_dir / "run.json").read_text())["vars"].get("repeats") is None


def test_a_worker_lost_in_a_repeat_makes_the_run_not_valid_naming_the_repeat(tmp_path):
    run_dir, _ = with_repeats(tmp_path, OK, dict(OK, workers_connected=1))
    _, analysis = analysed(run_dir)
    assert not analysis["valid"]
    assert any(r.startswith(f"{NAME}/repeats/2 at 100 users: Locust worker lost") for r in analysis["reasons"])
    assert variant(analysis, NAME)["verdict"] == "invalid"
