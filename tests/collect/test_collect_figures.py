"""Per-step figures against the same figures worked out from the synthetic raw requests."""
import numpy as np
import pytest
from collect_testkit import step, window_requests

from collect import compute
from collect.synth import StepSpec, VariantSpec, write_run

NAME = "c0.5-m512M-r2"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("fig") / "run"
    specs = [
        StepSpec(100, rps=60, latency_median_ms=80, latency_sigma=0.6, failure_rate=0.02,
                 cpu_cores=0.3, mem_frac=0.3, mem_rise=0.2, throttled_frac=0.3, generator_cores=0.25),
        StepSpec(200, rps=110, latency_median_ms=300, latency_sigma=0.5, failure_rate=0.0,
                 cpu_cores=0.85, mem_frac=0.6, generator_cores=0.5),
    ]
    truth = write_run(run_dir, [VariantSpec(NAME, specs, step_duration=40)], target_users=200, seed=7)
    return truth[NAME], specs, run_dir


def test_latency_figures_match_raw_requests(measured, analyse, validate):
    truth, specs, run_dir = measured
    _, analysis = analyse(run_dir)
    for row in truth.steps.itertuples():
        got = step(analysis, NAME, row.users)
        raw, seconds = window_requests(truth.requests, row.start_ts, row.planned_end_ts)
        assert got["duration_s"] == seconds == 30 - 1  # 40 s step, 10 s warm-up, fractional edges
        assert got["requests"] == len(raw)
        assert got["rps"] == pytest.approx(len(raw) / seconds)
        assert got["failure_rate"] == pytest.approx((raw["ok"] == 0).mean())
        for q, key in ((50, "p50_ms"), (95, "p95_ms"), (99, "p99_ms")):
            expected = np.percentile(raw["ms"], q, method="inverted_cdf")  # nearest rank
            assert got[key] == expected
            exact = np.percentile(raw["ms_raw"], q, method="inverted_cdf")
            assert exact <= got[key] < exact + 1  # the documented 1 ms upper bound
    validate(compute.summary(analysis))


def test_target_and_generator_figures(measured, analyse):
    truth, specs, run_dir = measured
    _, analysis = analyse(run_dir)
    limit_cores = 0.5 * 2
    for spec, row in zip(specs, truth.steps.itertuples()):
        got = step(analysis, NAME, spec.users)
        assert got["cpu_pct"] == pytest.approx(spec.cpu_cores / limit_cores * 100, rel=1e-3)
        assert got["cpu_pct_peak"] == pytest.approx(spec.cpu_cores / limit_cores * 100, rel=1e-3)
        s = truth.samples
        win = s[(s["ts"] >= row.start_ts + 10) & (s["ts"] <= row.planned_end_ts)]
        ratio = win["mem_bytes"] / win["mem_limit_bytes"] * 100
        assert got["mem_pct"] == pytest.approx(ratio.groupby(win["container"]).mean().max())
        assert got["mem_pct_peak"] == pytest.approx(ratio.max())
        assert got["cpu_throttled_pct"] == pytest.approx(spec.throttled_frac * 100, abs=0.5)
        assert got["generator_cpu_pct"] == pytest.approx(spec.generator_cores * 100, rel=1e-3)
        host = (0.1 + 0.05 + spec.generator_cores * 2) / 2 * 100
        assert got["loadgen_host_cpu_pct"] == pytest.approx(host, rel=1e-3)


def test_mem_rise_makes_peak_exceed_mean(measured, analyse):
    _, specs, run_dir = measured
    _, analysis = analyse(run_dir)
    first = step(analysis, NAME, 100)
    assert first["mem_pct_peak"] > first["mem_pct"] + 5


def test_step_slo_verdicts(measured, analyse):
    _, _, run_dir = measured
    _, analysis = analyse(run_dir)
    s100, s200 = step(analysis, NAME, 100), step(analysis, NAME, 200)
    assert s100["valid"] and s100["slo_pass"] is False
    assert any(r.startswith("failure rate") for r in s100["reasons"])
    assert s200["valid"] and s200["slo_pass"] is True and s200["reasons"] == []


def test_warmup_override_from_run_json(tmp_path, analyse):
    truth = write_run(tmp_path / "run", [VariantSpec(NAME, [StepSpec(100)], step_duration=40)],
                      target_users=100, report={"warmup_s": 20})
    _, analysis = analyse(tmp_path / "run")
    row = truth[NAME].steps.iloc[0]
    raw, seconds = window_requests(truth[NAME].requests, row.start_ts, row.planned_end_ts, warmup=20)
    got = step(analysis, NAME, 100)
    assert (got["duration_s"], got["requests"]) == (seconds, len(raw)) == (19, len(raw))
