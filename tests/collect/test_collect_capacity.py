"""The capacity model through collect/report.py: summary.json's capacity block, the report's "Capacity
model" section and its plot, on synthetic runs whose CPU-seconds per request are known."""
import json
import math
import shutil

import numpy as np
import pytest

from collect import compute, report
from collect.settings import Settings
from collect.synth import StepSpec, VariantSpec, write_run, write_variant

DEMAND = 0.004          # CPU-seconds per successful request the synthetic API burns
GENERATOR = 0.0005      # CPU-seconds per request a synthetic Locust worker burns
THINK_S = 2.0           # between(1, 3), synth's run.json
MEDIAN_MS = 20


def closed_loop(users: int, rps: float | None = None, mem_limit_mib: int = 1024) -> StepSpec:
    """A step whose users offer what the interactive response time law says: N / (Z + R) RPS at a
    response time of MEDIAN_MS, or, given rps (a saturated service), R = N / rps - Z. Each container
    holds 200 MiB whatever its limit."""
    response_ms = MEDIAN_MS if rps is None else (users / rps - THINK_S) * 1000
    return StepSpec(users, rps=rps or users / (THINK_S + MEDIAN_MS / 1000), latency_median_ms=response_ms,
                    latency_sigma=0.05, mem_frac=200 / mem_limit_mib)


def known(name: str, users: list[int], **kw) -> VariantSpec:
    limit = int(name.split("-m")[1].split("M")[0])
    return VariantSpec(name, [closed_loop(u, mem_limit_mib=limit) for u in users], step_duration=40,
                       cpu_s_per_request=DEMAND, generator_cpu_s_per_request=GENERATOR, **kw)


def render(run_dir, plots=True) -> tuple[dict, str]:
    args = [str(run_dir)] + ([] if plots else ["--no-plots"])
    assert report.main(args) == 0
    return (json.loads((run_dir / "summary.json").read_text()),
            (run_dir / "consolidated_report.md").read_text())


def section(text: str) -> str:
    start = text.index("## Capacity model")
    return text[start:text.index("\n## ", start + 1)]


@pytest.fixture(scope="module")
def two_variants(tmp_path_factory):
    """Two variants at different loads: 60 and 120 users on 0.5 CPU, 180 and 240 on 1 CPU."""
    run_dir = tmp_path_factory.mktemp("capacity") / "run"
    write_run(run_dir, [known("c0.5-m512M-r1", [60, 120]), known("c1-m1024M-r1", [180, 240])],
              target_users=240, seed=3)
    summary, text = render(run_dir)
    return run_dir, summary, text


def test_summary_has_a_valid_capacity_block_with_the_synthetic_demand(two_variants, validate):
    _, summary, _ = two_variants
    validate(summary)
    cap = summary["capacity"]
    assert cap["demand"]["cpu_s_per_request"] == pytest.approx(DEMAND, rel=0.05)
    assert cap["demand"]["low"] < DEMAND < cap["demand"]["high"]
    assert cap["demand"]["idle_cpu"] == pytest.approx(0.02, abs=0.01)
    assert cap["steps_used"] == 4 and cap["measured_max_users"] == 240
    assert cap["think_time_s"] == THINK_S
    assert cap["fit_error_pct"] < 5  # the steps were built by the users law
    assert cap["generator"]["cpu_s_per_request"] == pytest.approx(GENERATOR, rel=0.1)


def test_predictions_say_measured_or_extrapolated(two_variants):
    _, summary, text = two_variants
    preds = {p["users"]: p for p in summary["capacity"]["predictions"]}
    assert sorted(preds) == [240, 10_000]           # the target users and the default [10000]
    assert preds[240]["basis"] == "measured" and preds[10_000]["basis"] == "extrapolated"
    assert preds[10_000]["rps"] == pytest.approx(10_000 / (THINK_S + 0.02), rel=0.01)
    # CPU per replica: the least on the 0.25 grid that keeps idle + D x RPS under 90 % of it
    busy = summary["capacity"]["demand"]["idle_cpu"] + summary["capacity"]["demand"]["cpu_s_per_request"] \
        * preds[10_000]["rps"]
    assert busy / preds[10_000]["cpu_per_replica"] < 0.9 <= busy / (preds[10_000]["cpu_per_replica"] - 0.25)
    body = section(text)
    assert "| 240 | measured |" in body
    assert "| 10,000 | **extrapolated** |" in body
    assert "extrapolated beyond the measured 60-240 users" in body
    assert "not measurements" in body


def test_report_section_with_plot_generator_paragraph_and_method(two_variants):
    run_dir, summary, text = two_variants
    assert text.index("## Executive summary") < text.index("## Capacity model") < text.index("## Variants")
    body = section(text)
    assert "(plots/capacity.png)" in body
    assert (run_dir / "plots" / "capacity.png").stat().st_size > 10_000
    top = next(p for p in summary["capacity"]["predictions"] if p["users"] == 10_000)
    assert (f"10,000 users ~ {top['rps']:,.0f} RPS need ~ {top['generator_processes']} Locust processes; "
            "your loadgen hosts have 2 cores") in body
    # each worker under 80 % of a core, of which it idles 0.02
    assert abs(top["generator_processes"] - top["rps"] * GENERATOR / (0.8 - 0.02)) <= 1
    assert "cannot send 10,000 users validly" in body
    assert "The lab sent up to 240 users validly." in body
    assert "**Method.**" in body and "interactive response time law" in body
    assert "c0.5-m512M-r1, c1-m1024M-r1" in body
    assert "run.json has no" not in body  # synth records every setting the model reads


def test_one_step_has_no_model_and_the_report_says_why(tmp_path, validate):
    run_dir = tmp_path / "run"
    write_run(run_dir, [known("c1-m1024M-r1", [100])], target_users=100)
    summary, text = render(run_dir)
    validate(summary)
    assert "capacity" in summary and summary["capacity"] is None
    body = section(text)
    assert ("No capacity model: only one valid step (c1-m1024M-r1 at 100 users) kept the failure SLO with "
            "its CPU measured: it takes two whose RPS differ by 10 % or more.") in body
    assert not (run_dir / "plots" / "capacity.png").exists()
    assert "**Method.**" not in body


def test_steps_within_10_percent_have_no_model(tmp_path):
    run_dir = tmp_path / "run"
    write_run(run_dir, [known("c1-m1024M-r1", [100, 105])], target_users=105)
    summary, text = render(run_dir, plots=False)
    assert summary["capacity"] is None
    assert "it takes two whose RPS differ by 10 % or more" in section(text)


def test_an_old_run_json_without_the_capacity_keys_renders_with_notes(tmp_path, validate):
    run_dir = tmp_path / "run"
    old = {k: None for k in ("locust_wait_min", "locust_wait_max", "search_cpu_min", "search_resolution",
                             "search_mem_target_pct", "search_mem_round", "capacity_predict_users")}
    write_run(run_dir, [known("c0.5-m512M-r1", [60, 120])], target_users=120, run_vars=old)
    assert "capacity_predict_users" not in json.loads((run_dir / "run.json").read_text())["vars"]
    summary, text = render(run_dir, plots=False)
    validate(summary)
    assert [p["users"] for p in summary["capacity"]["predictions"]] == [120, 10_000]
    body = section(text)
    assert "- run.json has no capacity_predict_users: the default [10000] was used" in body
    assert "- run.json has no locust_wait_min: the default 1 was used" in body
    assert "- run.json has no search_mem_round: the default 64M was used" in body
    for key in old:
        assert f"run.json has no {key}:" in body


def test_settings_from_run_json_text_values_and_bad_ones():
    run = {"vars": {"locust_wait_min": "2", "locust_wait_max": "4", "search_cpu_min": 0.5,
                    "search_resolution": "0.1", "search_mem_target_pct": 80, "search_mem_round": "128M",
                    "capacity_predict_users": "10000,20000"}}
    settings, notes = compute.capacity_settings(run, Settings(cpu_pct_max=80))
    assert notes == []
    assert settings.think_time_s == 3.0 and settings.search_cpu_min == 0.5 and settings.search_resolution == 0.1
    assert settings.search_mem_round_bytes == 128 * 2**20 and settings.capacity_predict_users == (10000, 20000)
    assert settings.slo_cpu_pct_max == 80
    run["vars"].update(capacity_predict_users="[10000, 20000]")
    assert compute.capacity_settings(run, Settings())[0].capacity_predict_users == (10000, 20000)
    run["vars"].update(capacity_predict_users="lots", search_mem_round="big", locust_wait_max=1)
    settings, notes = compute.capacity_settings(run, Settings())
    assert settings.capacity_predict_users == (10000,) and settings.search_mem_round_bytes == 64 * 2**20
    assert "run.json search_mem_round='big' is not a docker memory size" in notes[0]
    assert "run.json capacity_predict_users='lots' is not whole numbers >= 1" in notes[1]
    assert "locust_wait_max is below locust_wait_min" in notes[2] and settings.think_time_s == 2.0


def test_predict_users_from_run_json_are_all_predicted(tmp_path):
    run_dir = tmp_path / "run"
    write_run(run_dir, [known("c0.5-m512M-r1", [60, 120])], target_users=120,
              run_vars={"capacity_predict_users": [100, 5000, 20000]})
    summary, text = render(run_dir, plots=False)
    assert [(p["users"], p["basis"]) for p in summary["capacity"]["predictions"]] == \
        [(100, "measured"), (120, "measured"), (5000, "extrapolated"), (20000, "extrapolated")]
    assert "20,000 users ~" in section(text)


def test_search_probes_feed_the_model(tmp_path):
    run_dir = tmp_path / "run"
    write_run(run_dir, [known("c1-m1024M-r1", [180, 240])], target_users=240)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    write_variant(scratch, known("c0.5-m2048M-r1", [60, 120]), 1_700_000_000.0, np.random.default_rng(1))
    shutil.move(str(scratch / "c0.5-m2048M-r1"), str(run_dir / "probe-01-c0.5-m2048M-r1"))
    summary, text = render(run_dir, plots=False)
    assert [v["name"] for v in summary["variants"]] == ["c1-m1024M-r1"]  # a probe is not a variant
    cap = summary["capacity"]
    assert cap["steps_used"] == 4 and cap["demand"]["cpu_s_per_request"] == pytest.approx(DEMAND, rel=0.05)
    assert "c1-m1024M-r1, probe-01-c0.5-m2048M-r1" in section(text)


def test_a_ceiling_that_binds_says_scale_out_not_up(tmp_path, validate):
    # one replica that stops near 50 RPS: more users raise the response time, not the RPS, while
    # its CPU stays far under the SLO (a single-threaded service)
    run_dir = tmp_path / "run"
    light = closed_loop(100, mem_limit_mib=2048)
    spec = VariantSpec("c2-m2048M-r1", [closed_loop(50, mem_limit_mib=2048), light,
                                        closed_loop(200, rps=light.rps * 1.05, mem_limit_mib=2048),
                                        closed_loop(300, rps=light.rps * 1.08, mem_limit_mib=2048)],
                       step_duration=40, cpu_s_per_request=DEMAND, generator_cpu_s_per_request=GENERATOR)
    write_run(run_dir, [spec], target_users=300)
    summary, text = render(run_dir)
    validate(summary)
    cap = summary["capacity"]
    assert cap["rps_ceiling_per_replica"] == pytest.approx(light.rps * 1.08, rel=0.1)
    big = next(p for p in cap["predictions"] if p["users"] == 10_000)
    assert big["replicas"] == math.ceil(big["rps"] / (cap["rps_ceiling_per_replica"] * 0.9)) > 1
    body = section(text)
    assert "**Scale out, not up**" in body
    assert f"10,000 users (~{big['rps']:,.0f} RPS) take {big['replicas']} replicas" in body
