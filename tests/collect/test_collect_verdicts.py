"""Step validity, variant verdicts, first_failure, max_users_passing, minimal."""
from collect_testkit import step, variant

from collect import compute
from collect.settings import Settings
from collect.synth import StepSpec, VariantSpec, write_run

GOOD = dict(rps=40, latency_median_ms=100, cpu_cores=0.2, mem_frac=0.4)


def run(tmp_path, analyse, validate, specs, target_users, **kw):
    write_run(tmp_path / "run", specs, target_users=target_users, **kw)
    data, analysis = analyse(tmp_path / "run")
    validate(compute.summary(analysis))
    return analysis


def test_pass_fail_and_first_failure(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c0.25-m256M-r1", [StepSpec(50, **GOOD),
                                       StepSpec(100, **{**GOOD, "latency_median_ms": 1500}),
                                       StepSpec(150, **GOOD)]),
        VariantSpec("c0.5-m512M-r1", [StepSpec(50, **GOOD), StepSpec(100, **GOOD), StepSpec(150, **GOOD)]),
    ], target_users=150)
    bad, good = variant(a, "c0.25-m256M-r1"), variant(a, "c0.5-m512M-r1")
    assert bad["verdict"] == "pass"  # judged at the target step only ...
    assert bad["max_users_passing"] == 50  # ... but the chain stops at the broken step
    assert bad["first_failure"]["users"] == 100 and bad["first_failure"]["slo"] == "p95_ms"
    assert bad["first_failure"]["value"] == step(a, "c0.25-m256M-r1", 100)["p95_ms"] > 1000
    assert good["verdict"] == "pass" and good["max_users_passing"] == 150
    assert good["first_failure"] is None
    assert a["minimal"]["name"] == "c0.25-m256M-r1"


def test_inconclusive_step_is_invalid_verdict_and_ends_the_chain(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c1-m1024M-r1", [StepSpec(50, **GOOD), StepSpec(100, **{**GOOD, "rps": 2})]),
    ], target_users=100)
    st = step(a, "c1-m1024M-r1", 100)
    assert st["valid"] and st["slo_pass"] is None
    assert st["requests"] < 90
    assert any("p95 inconclusive" in r and "90 requests" in r for r in st["reasons"])
    v = variant(a, "c1-m1024M-r1")
    assert v["verdict"] == "invalid" and v["max_users_passing"] == 50
    assert a["minimal"] is None


def test_cpu_slo_breaks_at_90_percent(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c0.25-m256M-r1", [StepSpec(50, **{**GOOD, "cpu_cores": 0.24})]),
    ], target_users=50)
    v = variant(a, "c0.25-m256M-r1")
    assert v["verdict"] == "fail"
    assert v["first_failure"]["slo"] == "cpu_pct" and abs(v["first_failure"]["value"] - 96) < 0.1


def test_oom_kill_fails_the_variant(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c0.5-m256M-r1", [StepSpec(50, **GOOD), StepSpec(100, **GOOD)],
                    oom_killed=True, restart_count=1, restart_at=50),
        VariantSpec("c0.5-m512M-r1", [StepSpec(50, **GOOD), StepSpec(100, **GOOD)], restart_count=2),
    ], target_users=100)
    oom = variant(a, "c0.5-m256M-r1")
    assert oom["verdict"] == "fail"
    # restart_at 50 s after the start falls in the second step (steps start at 2.37 s, 30 s long)
    assert oom["first_failure"] == {"users": 100, "slo": "oom_killed", "value": 1.0}
    assert any("OOM" in r for r in oom["reasons"])
    restarted = variant(a, "c0.5-m512M-r1")
    assert restarted["verdict"] == "fail"
    assert restarted["first_failure"] == {"users": None, "slo": "restarted", "value": 2.0}
    assert a["minimal"] is None


def test_saturated_generator_invalidates_the_step(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c1-m1024M-r1", [StepSpec(50, **{**GOOD, "generator_cores": 0.85})]),
    ], target_users=50)
    st = step(a, "c1-m1024M-r1", 50)
    assert st["valid"] is False and st["slo_pass"] is None
    assert any("generator saturated" in r for r in st["reasons"])
    assert variant(a, "c1-m1024M-r1")["verdict"] == "invalid"
    assert variant(a, "c1-m1024M-r1")["max_rps"] is None
    assert a["valid"]  # a saturated generator spoils the step, not the run


def test_lost_worker_invalidates_step_and_run(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c1-m1024M-r1", [StepSpec(50, **GOOD), StepSpec(100, **{**GOOD, "workers_connected": 1})]),
    ], target_users=100)
    st = step(a, "c1-m1024M-r1", 100)
    assert not st["valid"] and any("worker lost: 1 of 2" in r for r in st["reasons"])
    assert variant(a, "c1-m1024M-r1")["verdict"] == "invalid"
    assert not a["valid"] and any("worker lost" in r for r in a["reasons"])


def test_unstable_throughput_invalidates_the_step(tmp_path, analyse, validate):
    a = run(tmp_path, analyse, validate, [
        VariantSpec("c1-m1024M-r1", [StepSpec(50, **{**GOOD, "rps": 100, "rps_end": 200})]),
    ], target_users=50)
    st = step(a, "c1-m1024M-r1", 50)
    assert not st["valid"] and any(r.startswith("unstable throughput") for r in st["reasons"])


def _v(name, verdict="pass"):
    parsed = compute.parse_variant_name(name)
    st = {"users": 10, "failure_rate": 0.001, "p95_ms": 400.0, "cpu_pct": 50.0, "mem_pct": 30.0}
    return {"name": name, "verdict": verdict, "steps": [st], "target_step_users": 10, **parsed}


def test_minimal_ordering():
    s = Settings()
    pick = lambda *vs: compute.minimal(list(vs), s)["name"]  # noqa: E731
    assert pick(_v("c1-m1024M-r1"), _v("c0.5-m512M-r1"), _v("c0.25-m256M-r3")) == "c0.5-m512M-r1"
    assert pick(_v("c0.5-m1024M-r1"), _v("c0.5-m512M-r1")) == "c0.5-m512M-r1"          # then memory
    assert pick(_v("c0.25-m256M-r2"), _v("c0.5-m512M-r1")) == "c0.5-m512M-r1"          # then replicas
    assert pick(_v("c0.25-m256M-r1", "fail"), _v("c2-m2048M-r1")) == "c2-m2048M-r1"    # pass only
    assert compute.minimal([_v("c1-m1024M-r1", "invalid")], s) is None
    head = compute.minimal([_v("c0.5-m512M-r1")], s)["headroom"]
    assert head == {"failure_rate": 0.009, "p95_ms": 600.0, "cpu_pct": 40.0, "mem_pct": 60.0}
