"""The capacity model (rightsize/capacity.py) on synthetic runs whose demand, ceiling and memory are known."""
import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from rightsize import capacity

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0
THINK_S = 2.0          # between(1, 3)
STEP_S = 60
WARMUP_S = 10
MIB = 2**20


def simulate(rng, steps, *, name="c2-m2048M-r1", cpu=2.0, replicas=1, demand=0.012, idle=0.03,
             noise=0.02, response_ms=20.0, ceiling=None, mem_base=150 * MIB, mem_per_user=20_000,
             worker_idle=0.02, worker_cpu_s=0.0004, workers=2, start=T0):
    """One variant: steps is a list of (users, failure_rate). Each second s, the users complete
    X_s ~ Poisson(N / (Z + R)) requests (capped at ceiling x replicas: R then grows as the
    interactive law demands); the replicas burn idle + demand x X_s cores plus Gaussian noise, which
    the sampler reads as cumulative counters at fractional offsets. Returns the step dicts of
    collect.compute.step_results (only the keys the model reads) and the three DataFrames."""
    step_dicts, lat_rows, per_second = [], [], []
    t = start
    for users, failure in steps:
        rate = users / (THINK_S + response_ms / 1000)
        r_ms = response_ms
        if ceiling is not None and rate > ceiling * replicas:
            rate = ceiling * replicas
            r_ms = (users / rate - THINK_S) * 1000
        seconds = np.arange(int(t), int(t) + STEP_S)
        sent = rng.poisson(rate, len(seconds))
        failed = rng.binomial(sent, failure)
        ok = sent - failed
        busy = idle * replicas + demand * ok + rng.normal(0, noise, len(seconds))
        for s, n_ok, n_fail in zip(seconds, ok, failed):
            lat_rows.append((int(s), 1, int(round(r_ms)), int(n_ok)))
            if n_fail:
                lat_rows.append((int(s), 0, int(round(r_ms)), int(n_fail)))
        per_second.append(pd.DataFrame({"second": seconds, "busy": busy, "sent": sent, "users": users}))
        window = (float(seconds[0]) + WARMUP_S, float(seconds[-1]) + 1)
        mean_busy = idle * replicas + demand * ok[WARMUP_S:].mean()
        step_dicts.append({"users": users, "window_start": window[0], "window_end": window[1], "valid": True,
                           "failure_rate": float(failed.sum() / sent.sum()),
                           "cpu_pct": mean_busy / (cpu * replicas) * 100})
        t += STEP_S
    sec = pd.concat(per_second, ignore_index=True)
    edges = np.concatenate([[sec["second"].iloc[0]], sec["second"].to_numpy() + 1]).astype(float)
    sample_ts = np.arange(edges[0] + 0.37, edges[-1], 1.0)

    def cumulative(per_second_values):
        return np.interp(sample_ts, edges, np.concatenate([[0.0], np.cumsum(per_second_values)]))

    users_at = sec.set_index("second")["users"].reindex(np.floor(sample_ts).astype(int)).to_numpy()
    samples = pd.concat([pd.DataFrame({
        "ts": sample_ts, "container": f"rs-{name}-api-{i + 1}",
        "cpu_usage_ns": cumulative(sec["busy"].to_numpy() / replicas * 1e9),
        "nr_periods": 0.0, "nr_throttled": 0.0, "throttled_ns": 0.0,
        "mem_bytes": mem_base + mem_per_user * users_at / replicas + rng.normal(0, MIB, len(sample_ts)),
        "mem_limit_bytes": 2048.0 * MIB, "cpu_limit": cpu}) for i in range(replicas)], ignore_index=True)
    latency = pd.DataFrame(lat_rows, columns=["ts", "ok", "ms", "count"])
    lg_ts = np.arange(edges[0] + 0.2, edges[-1], 1.0)
    worker = worker_idle + worker_cpu_s * sec["sent"].to_numpy() / workers
    worker_cum = np.interp(lg_ts, edges, np.concatenate([[0.0], np.cumsum(worker)]))
    loadgen = pd.concat([pd.DataFrame({"ts": lg_ts, "host": "lg1", "pid": 200 + w, "role": "worker",
                                       "cpu_s": worker_cum, "ncpu": 2}) for w in range(workers)]
                        + [pd.DataFrame({"ts": lg_ts, "host": "lg1", "pid": 100, "role": "master",
                                         "cpu_s": 0.05 * (lg_ts - lg_ts[0]), "ncpu": 2})], ignore_index=True)
    return step_dicts, samples, latency, loadgen


def observe(rng, steps, **kw):
    step_dicts, samples, latency, loadgen = simulate(rng, steps, **kw)
    return capacity.observe_variant(step_dicts, samples, latency, loadgen,
                                    name=kw.get("name", "c2-m2048M-r1"), cpu=kw.get("cpu", 2.0),
                                    replicas=kw.get("replicas", 1))


SETTINGS = capacity.CapacitySettings()
CLOSED_LOOP = [(60, 0.0), (120, 0.0), (180, 0.0), (240, 0.0)]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture(scope="module")
def capacity_schema():
    schema = json.loads((ROOT / "collect" / "summary.schema.json").read_text())
    return jsonschema.Draft202012Validator({"$schema": schema["$schema"], "$defs": schema["$defs"],
                                            "$ref": "#/$defs/capacity"})


def test_the_vendored_schema_is_the_shared_one():
    shared = ROOT.parent / "shared" / "summary.schema.json"
    if not shared.is_file():
        pytest.skip("no ../shared checkout beside the repository")
    assert (ROOT / "collect" / "summary.schema.json").read_bytes() == shared.read_bytes()


# ---------------------------------------------------------------- service demand


@pytest.mark.parametrize("demand", [0.004, 0.012, 0.03])
def test_demand_recovered_within_5_percent_from_noisy_samples(rng, demand):
    obs = observe(rng, CLOSED_LOOP, demand=demand, cpu=4.0)
    fit = capacity.fit_demand(obs.points)
    assert fit is not None
    assert fit.cpu_s_per_request == pytest.approx(demand, rel=0.05)
    assert fit.low < fit.cpu_s_per_request < fit.high
    assert fit.idle_cpu == pytest.approx(0.03, abs=0.03)
    assert fit.steps_used == 4
    assert fit.points == 4 * (STEP_S - WARMUP_S - 1)  # the sampler intervals inside each 50-s window
    assert fit.fit_error_pct < 5


def test_demand_pools_variants_with_different_limits_and_replicas(rng):
    one = observe(rng, [(60, 0.0), (120, 0.0)], name="c1-m1024M-r1", cpu=1.0, replicas=1, start=T0)
    three = observe(rng, [(180, 0.0), (300, 0.0)], name="c0.5-m512M-r3", cpu=0.5, replicas=3,
                    start=T0 + 1000)
    points, _ = capacity.pooled([one, three])
    fit = capacity.fit_demand(points)
    assert set(points["variant"]) == {"c1-m1024M-r1", "c0.5-m512M-r3"}
    assert fit.cpu_s_per_request == pytest.approx(0.012, rel=0.05)
    assert fit.idle_cpu == pytest.approx(0.03, abs=0.02)  # per replica, not per variant
    assert fit.steps_used == 4


def test_interval_points_pair_the_cpu_with_the_requests_of_the_same_interval():
    # requests 10/s then 30/s from second 3 on; the CPU follows at 0.01 core-s each; samples at .37
    first = int(T0)
    counts = pd.Series([10, 10, 10, 30, 30, 30], index=range(first, first + 6))
    edges = np.arange(first, first + 7, dtype=float)
    cpu_cum = np.concatenate([[0.0], np.cumsum(counts.to_numpy() * 0.01)]) * 1e9
    ts = first + 0.37 + np.arange(6)
    samples = pd.DataFrame({"ts": ts, "container": "a", "cpu_usage_ns": np.interp(ts, edges, cpu_cum)})
    iv = capacity.interval_points(samples, counts, first, first + 6)
    assert list(iv["ts"]) == pytest.approx(list(ts[:-1]))       # intervals inside the window only
    assert list(iv["ok_rps"]) == pytest.approx([10, 10, 0.63 * 10 + 0.37 * 30, 30, 30])
    assert list(iv["busy_cores"]) == pytest.approx(list(iv["ok_rps"] * 0.01))
    # a second replica read 10 ms later: summed on the first one's intervals it fully covers
    later = samples.assign(container="b", ts=samples["ts"] + 0.01,
                           cpu_usage_ns=np.interp(samples["ts"] + 0.01, edges, cpu_cum))
    both = capacity.interval_points(pd.concat([samples, later]), counts, first, first + 6)
    assert list(both["busy_cores"]) == pytest.approx(list(iv["busy_cores"] * 2)[1:], abs=0.01)
    reset = samples.assign(cpu_usage_ns=np.where(samples.index >= 3, samples["cpu_usage_ns"] - 0.5e9,
                                                 samples["cpu_usage_ns"]))
    kept = capacity.interval_points(reset, counts, first, first + 6)
    assert len(kept) == 4 and ts[2] not in list(kept["ts"])      # the restart's interval is dropped


def test_steps_breaking_the_failure_slo_are_left_out_of_the_fit(rng):
    steps, samples, latency, loadgen = simulate(rng, CLOSED_LOOP + [(300, 0.2)])
    # the failing step's CPU says nothing about served work: make it absurd
    bad = samples["ts"] >= steps[-1]["window_start"] - WARMUP_S
    samples.loc[bad, "cpu_usage_ns"] += (samples.loc[bad, "ts"] - samples.loc[bad, "ts"].min()) * 3e9
    obs = capacity.observe_variant(steps, samples, latency, loadgen, name="v", cpu=2.0)
    assert list(obs.steps["in_fit"]) == [True, True, True, True, False]
    fit = capacity.fit_demand(obs.points)
    assert fit.steps_used == 4
    assert fit.cpu_s_per_request == pytest.approx(0.012, rel=0.05)


@pytest.mark.parametrize("steps", [
    [(200, 0.0)],                             # one step
    [(200, 0.0), (210, 0.0), (215, 0.0)],     # RPS within 10 %
], ids=["single-step", "flat"])
def test_no_model_without_two_steps_10_percent_apart(rng, steps):
    obs = observe(rng, steps)
    assert capacity.fit_demand(obs.points) is None
    assert capacity.capacity_block([obs], SETTINGS, target_users=200) is None
    assert "No capacity model" in capacity.render_capacity_markdown(None)


def test_no_model_when_cpu_does_not_grow_with_throughput(rng):
    obs = observe(rng, CLOSED_LOOP, demand=-0.001, idle=0.5)
    assert capacity.fit_demand(obs.points) is None
    assert capacity.no_model_reason([obs]).startswith("busy CPU did not grow with RPS (fitted slope -")


def test_no_model_reason_says_which_rule_failed(rng):
    one = observe(rng, [(200, 0.0)], name="c2-m2048M-r1")
    assert capacity.no_model_reason([one]) == ("only one valid step (c2-m2048M-r1 at 200 users) kept the "
                                               "failure SLO with its CPU measured: it takes two whose RPS "
                                               "differ by 10 % or more")
    flat = observe(rng, [(200, 0.0), (210, 0.0)])
    assert capacity.no_model_reason([flat]).startswith("the 2 valid steps that kept the failure SLO")
    assert capacity.no_model_reason([]) == "no valid step was measured"
    failing = observe(rng, [(200, 0.5), (400, 0.5)])
    assert capacity.no_model_reason([failing]) == "no valid step kept the failure SLO with its CPU measured"
    assert capacity.no_model_reason([observe(rng, CLOSED_LOOP)]) is None
    why = capacity.no_model_reason([one])
    assert capacity.render_capacity_markdown(None, why=why) == f"No capacity model: {why}.\n"


def test_invalid_steps_are_not_observed(rng):
    steps, samples, latency, loadgen = simulate(rng, CLOSED_LOOP)
    for st in steps[1:]:
        st["valid"] = False
    obs = capacity.observe_variant(steps, samples, latency, loadgen, name="v")
    assert list(obs.steps["users"]) == [60]
    assert capacity.fit_demand(obs.points) is None


# ---------------------------------------------------------------- users to load


def test_users_law_matches_a_closed_loop(rng):
    obs = observe(rng, CLOSED_LOOP)
    assert capacity.offered_rps(10_000, 2.0, 0.02) == pytest.approx(4950.5, abs=0.1)
    assert capacity.users_law_error_pct(obs.steps, THINK_S) < 5
    # a wrong think time shows as a large error
    assert capacity.users_law_error_pct(obs.steps, 1.0) > 40


# ---------------------------------------------------------------- ceiling


def test_ceiling_found_on_a_flat_throughput_service(rng):
    obs = observe(rng, [(100, 0.0), (200, 0.0), (400, 0.0), (800, 0.0)], demand=0.004, ceiling=100)
    assert list(obs.steps["ok_rps"].round(-1)) == [50, 100, 100, 100]
    ceiling = capacity.ceiling_per_replica(obs.steps, SETTINGS.slo_cpu_pct_max)
    assert ceiling == pytest.approx(100, rel=0.03)


def test_no_ceiling_on_an_unsaturated_closed_loop(rng):
    obs = observe(rng, CLOSED_LOOP + [(480, 0.0)])
    assert capacity.ceiling_per_replica(obs.steps, SETTINGS.slo_cpu_pct_max) is None


def test_no_ceiling_when_the_cpu_limit_is_what_binds(rng):
    # flat throughput because the CPU is at its limit: more CPU, not more replicas, is the answer
    obs = observe(rng, [(100, 0.0), (200, 0.0), (400, 0.0)], demand=0.0095, cpu=1.0, ceiling=100)
    assert obs.steps["cpu_pct"].iloc[-1] > 90
    assert capacity.ceiling_per_replica(obs.steps, SETTINGS.slo_cpu_pct_max) is None


def test_ceiling_per_replica_divides_by_replicas(rng):
    obs = observe(rng, [(100, 0.0), (200, 0.0), (400, 0.0), (800, 0.0)], demand=0.004, ceiling=40,
                  name="c1-m1024M-r3", cpu=1.0, replicas=3)
    assert capacity.ceiling_per_replica(obs.steps, SETTINGS.slo_cpu_pct_max) == pytest.approx(40, rel=0.05)


def test_ceiling_binds_replicas_and_says_scale_out(rng, capacity_schema):
    obs = observe(rng, [(100, 0.0), (200, 0.0), (400, 0.0), (800, 0.0)], demand=0.004, ceiling=100)
    model = capacity.capacity_model([obs], SETTINGS, target_users=800, target_cores=2)
    big = model.prediction(10_000)
    ceiling = model.ceiling_rps_per_replica
    assert big.rps == pytest.approx(10_000 / (THINK_S + 0.02), rel=0.01)  # R of the lightest step
    assert big.replicas == math.ceil(big.rps / (ceiling * 0.9)) > 1
    assert big.rps / big.replicas < 0.9 * ceiling
    assert model.prediction(100) is None  # only the target users and capacity_predict_users
    assert model.prediction(800).replicas == math.ceil(model.prediction(800).rps / (ceiling * 0.9))
    assert "scale out, not up" in big.note
    block = model.block()
    capacity_schema.validate(block)
    assert "scale out, not up" in capacity.render_capacity_markdown(block)


def test_the_report_says_scale_out_where_the_ceiling_binds_and_not_elsewhere(rng):
    saturated = observe(rng, [(100, 0.0), (200, 0.0), (400, 0.0), (800, 0.0)], demand=0.004, ceiling=100)
    block = capacity.capacity_model([saturated], SETTINGS, target_users=800).block()
    text = capacity.render_capacity_markdown(block)
    ceiling = block["rps_ceiling_per_replica"]
    assert ceiling == pytest.approx(100, rel=0.03)
    big = next(p for p in block["predictions"] if p["users"] == 10_000)
    assert big["replicas"] == math.ceil(big["rps"] / (ceiling * 0.9))
    assert f"**Scale out, not up**: one replica tops out near {ceiling:,.0f} RPS" in text
    assert f"10,000 users (~4,950 RPS) take {big['replicas']} replicas of {big['cpu_per_replica']:g} CPU" in text
    plain = capacity.render_capacity_markdown(
        capacity.capacity_model([observe(rng, CLOSED_LOOP)], SETTINGS, target_users=240).block())
    assert "scale out" not in plain.lower()


def test_the_method_names_both_laws_the_interval_the_ceiling_and_when_not_to_trust():
    text = capacity.method_markdown()
    for words in ("utilisation law", "interactive response time law", "95 % interval", "ceiling",
                  "extrapolated", "trust no prediction as a measurement"):
        assert words in text


def test_replicas_stay_one_below_the_ceiling():
    assert capacity.replicas_for(80, 100, 90) == 1
    assert capacity.replicas_for(90, 100, 90) == 1
    assert capacity.replicas_for(91, 100, 90) == 2
    assert capacity.replicas_for(10_000, None, 90) == 1


# ---------------------------------------------------------------- memory


def test_memory_grows_with_users_and_is_sized_like_the_search(rng):
    obs = observe(rng, CLOSED_LOOP, mem_per_user=100_000)
    mem = capacity.fit_memory(obs.steps)
    assert mem.per_user_bytes == pytest.approx(100_000, rel=0.1)
    assert mem.peak_bytes == pytest.approx(150 * MIB + 240 * 100_000, rel=0.02)
    assert mem.peak_at(10) == mem.peak_bytes                     # never below what was needed
    assert mem.peak_at(1000) == pytest.approx(150 * MIB + 1000 * 100_000, rel=0.02)
    assert capacity.mem_for(300 * MIB, 75, 64 * MIB) == 448 * MIB  # 400 MiB rounded up to 64M
    assert capacity.mem_for(48 * MIB, 75, 64 * MIB) == 64 * MIB
    assert capacity.mem_text(448 * MIB) == "448M"


# ---------------------------------------------------------------- predictions


def test_least_cpu_is_on_the_grid_and_strictly_under_the_slo():
    assert capacity.least_cpu(0.0, 90, 0.25, 0.25) == 0.25
    assert capacity.least_cpu(0.2, 90, 0.25, 0.25) == 0.25
    assert capacity.least_cpu(0.45, 90, 0.25, 0.25) == 0.75   # 0.45 / 0.5 = 90 %: not under 90 %
    assert capacity.least_cpu(0.46, 90, 0.25, 0.25) == 0.75
    assert capacity.least_cpu(3.0, 90, 0.25, 0.5) == 3.75


def test_predictions_are_labelled_measured_or_extrapolated(rng, capacity_schema):
    obs = observe(rng, CLOSED_LOOP)
    settings = capacity.CapacitySettings(capacity_predict_users=(100, 241, 10_000))
    model = capacity.capacity_model([obs], settings, target_users=240, target_cores=2, loadgen_cores=2,
                                    target_on_loadgen=True)
    assert [p.users for p in model.predictions] == [100, 240, 241, 10_000]
    assert [p.basis for p in model.predictions] == ["measured", "measured", "extrapolated", "extrapolated"]
    assert "within the measured range (60-240 users)" in model.prediction(240).note
    assert "extrapolated beyond the measured 60-240 users" in model.prediction(10_000).note
    block = model.block()
    capacity_schema.validate(block)
    assert block["measured_max_users"] == 240 and block["steps_used"] == 4
    table = capacity.render_capacity_markdown(block)
    assert "| 240 | measured |" in table and "| 10,000 | **extrapolated** |" in table
    assert "not measurements" in table


def test_prediction_cpu_uses_the_demand_and_its_interval(rng):
    obs = observe(rng, CLOSED_LOOP, cpu=4.0)
    model = capacity.capacity_model([obs], SETTINGS, target_users=240, target_cores=2)
    d = model.demand
    big = model.prediction(10_000)
    assert big.replicas == 1
    for cpu, slope in ((big.cpu_per_replica, d.cpu_s_per_request), (big.cpu_low, d.low),
                       (big.cpu_high, d.high)):
        busy = d.idle_cpu + slope * big.rps
        assert busy / cpu < 0.9 <= busy / (cpu - 0.25)
    assert big.cpu_low <= big.cpu_per_replica <= big.cpu_high
    assert big.cpu_per_replica == pytest.approx(0.012 * 4950 / 0.9, abs=0.5)
    # ~66 cores: more than any measured variant (4) and than the target's 2 cores, said so
    assert "more than any measured variant (4)" in big.note and "target host's 2 cores" in big.note
    small = model.prediction(240)
    assert small.flags == []
    assert small.cpu_per_replica == capacity.least_cpu(d.busy_cores(small.rps), 90, 0.25, 0.25)


def test_prediction_memory_uses_users_per_replica(rng):
    obs = observe(rng, [(100, 0.0), (200, 0.0), (400, 0.0), (800, 0.0)], demand=0.004, ceiling=100,
                  mem_per_user=50_000)
    model = capacity.capacity_model([obs], SETTINGS, target_users=800)
    big = model.prediction(10_000)
    per_replica = model.memory.peak_at(10_000 / big.replicas)
    assert big.mem_bytes == capacity.mem_for(per_replica, 75, 64 * MIB)
    assert big.mem_bytes % (64 * MIB) == 0 and big.mem_bytes * 0.75 >= per_replica


# ---------------------------------------------------------------- generator


def test_generator_cost_per_request_and_processes(rng):
    obs = observe(rng, CLOSED_LOOP, worker_idle=0.02, worker_cpu_s=0.0004)
    gen = capacity.fit_generator(obs.steps)
    assert gen.method == "fit"
    assert gen.cpu_s_per_request == pytest.approx(0.0004, rel=0.1)
    assert gen.idle_cores == pytest.approx(0.02, abs=0.01)
    rps = 4950.0
    assert gen.processes_for(rps, 80) == math.ceil(gen.cpu_s_per_request * rps / (0.8 - gen.idle_cores))


def test_generator_falls_back_to_the_ratio_on_one_step(rng):
    obs = observe(rng, [(200, 0.0)], worker_idle=0.0, worker_cpu_s=0.0005)
    gen = capacity.fit_generator(obs.steps)
    assert gen.method == "ratio"
    assert gen.cpu_s_per_request == pytest.approx(0.0005, rel=0.05)


def test_generator_paragraph_says_when_the_lab_cannot_send_the_load(rng, capacity_schema):
    obs = observe(rng, CLOSED_LOOP, worker_idle=0.0, worker_cpu_s=0.0004)
    model = capacity.capacity_model([obs], SETTINGS, target_users=10_000, target_cores=2, loadgen_cores=2,
                                    target_on_loadgen=True)
    block = model.block()
    capacity_schema.validate(block)
    gen = block["generator"]
    # 4,950 RPS x 0.4 ms = 1.98 cores at 80 % each: 3 processes; the target itself needs ~59 cores
    assert gen["processes_needed"] == 3
    assert gen["processes_available"] == 0
    text = capacity.generator_sentence(block, loadgen_cores=2)
    assert "10,000 users ~ 4,950 RPS need ~ 3 Locust processes; your loadgen hosts have 2 cores" in text
    assert "cannot send the target load validly" in text
    alone = capacity.capacity_model([obs], SETTINGS, target_users=240, loadgen_cores=8).block()
    assert alone["generator"]["processes_available"] == 8
    assert "cannot send" not in capacity.generator_sentence(alone, loadgen_cores=8)
    # the target fits the lab, 10,000 users do not: both said, the second plainly
    small = capacity.capacity_model([obs], SETTINGS, target_users=240, loadgen_cores=2).block()
    text = capacity.generator_sentence(small, loadgen_cores=2, target_users=240)
    assert "The lab sent up to 240 users validly." in text
    assert "This run's target, 240 users ~ 119 RPS, needs ~ 1 Locust process." in text
    assert "The target load takes 1 of the 2 processes the loadgen hosts have room for." in text
    assert "It cannot send 10,000 users validly: they take 3 processes" in text


# ---------------------------------------------------------------- settings and hosts


def test_predict_users_parse_from_list_number_or_comma_text():
    assert capacity.parse_users_list([10000]) == (10000,)
    assert capacity.parse_users_list("10000,20000") == (10000, 20000)
    assert capacity.parse_users_list("[10000, 20000]") == (10000, 20000)  # a list that became text
    assert capacity.parse_users_list(5000) == (5000,)
    for bad in ("ten", "0", [1.5], "", [True]):
        with pytest.raises(ValueError):
            capacity.parse_users_list(bad)


def test_hosts_cores_from_the_manifest():
    local = {"localhost": {"groups": ["target", "loadgen"], "cores": 2}}
    assert capacity.hosts_cores(local) == (2.0, 2.0, True)
    lab = {"box": {"groups": ["target"], "cores": 8}, "lg1": {"groups": ["loadgen"], "cores": 2},
           "lg2": {"groups": ["loadgen"], "cores": 4}}
    assert capacity.hosts_cores(lab) == (8.0, 6.0, False)


# ---------------------------------------------------------------- through collect


def test_from_a_synthetic_run_through_collect_to_a_valid_summary(tmp_path):
    from collect import compute, load, synth
    from collect.settings import settings_from_run

    def step(users, rps):
        return synth.StepSpec(users, rps=rps, cpu_cores=0.01 + 0.005 * rps, latency_median_ms=20,
                              latency_sigma=0.1, generator_cores=0.002 * rps / 2)
    synth.write_run(tmp_path / "run", [
        synth.VariantSpec("c1-m512M-r1", [step(40, 20), step(120, 60), step(240, 120)], step_duration=40),
        synth.VariantSpec("c0.5-m512M-r1", [step(40, 20), step(120, 60)], step_duration=40),
    ], target_users=240)
    data = load.load_run(tmp_path / "run")
    s = settings_from_run(data.run)
    analysis = compute.analyse(data, s)
    observations = [capacity.observe_variant(v["steps"], vd.samples, vd.latency, vd.loadgen, name=v["name"],
                                             cpu=v["cpu"], replicas=v["replicas"],
                                             failure_rate_max=s.failure_rate_max)
                    for v, vd in zip(analysis["variants"], data.variants)]
    target_cores, loadgen_cores, shared = capacity.hosts_cores(data.run["manifest"]["hosts"])
    block = capacity.capacity_block(observations, capacity.CapacitySettings(), target_users=240,
                                    target_cores=target_cores, loadgen_cores=loadgen_cores,
                                    target_on_loadgen=shared)
    assert block["demand"]["cpu_s_per_request"] == pytest.approx(0.005, rel=0.1)
    assert block["steps_used"] == 5 and block["measured_max_users"] == 240
    assert [p["basis"] for p in block["predictions"]] == ["measured", "extrapolated"]
    summary = compute.summary(analysis)
    summary["capacity"] = block
    schema = json.loads((ROOT / "collect" / "summary.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(summary)
