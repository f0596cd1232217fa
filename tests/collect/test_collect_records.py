"""What rightsize/records.py writes is what collect/ reads: run.json and variant.json round-tripped
through collect/load.py, compute.variant_result and the summary."""
import json

from collect import compute, load
from collect.settings import settings_from_run
from collect.synth import StepSpec, VariantSpec, write_run
from rightsize import records
from rightsize.plan import plan_variants

NAME = "c0.5-m512M-r1"
ERRORS = [f"{NAME} on lg1: Locust workers connected: 1 of 2", f"{NAME} on box: rs-stop failed"]


def _variant_json(run_dir, **changes):
    """Replace the synthetic variant.json with the one the playbook would write."""
    meta = json.loads((run_dir / NAME / "variant.json").read_text())
    variant = plan_variants([], cpu=0.5, mem="512M", replicas=1)[0]
    record = records.variant_record(
        variant, status=changes.get("status", "failed"), errors=changes.get("errors", ERRORS),
        started_at=meta["started_at"], image=meta["image"], users=100, users_step=50, step_duration=30,
        steps=[50, 100], entrypoint="http://127.0.0.1:8000", predict_path="/predict", health_path="/health",
        api_port=8000, expected_workers=2, loadgen_hosts=["lg1"], target_host="box", ended=True)
    (run_dir / NAME / "variant.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _run_json(run_dir, **extra_vars):
    """Replace the synthetic run.json with the one preflight would write."""
    settings = {"profile": "quick", "users": 100, "users_step": 50, "step_duration": 30, "replicas": 1,
                "slo_failure_rate_max": 0.001, "slo_p95_ms_max": 800, **extra_vars}
    plan = plan_variants([], cpu="0.5", mem="512M", replicas=1)
    run = records.run_record(settings, run_id=run_dir.name, plan=plan, expected_workers=2, load_path=[],
                             hostvars={"box": {"inventory_hostname": "box"}}, groups={"target": ["box"],
                                                                                      "loadgen": ["box"]})
    (run_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    return run


def _analyse(run_dir):
    data = load.load_run(run_dir)
    return data, compute.analyse(data, settings_from_run(data.run))


def test_a_failed_variant_shows_its_errors_in_the_summary(tmp_path, validate):
    run_dir = tmp_path / "run"
    write_run(run_dir, [VariantSpec(NAME, [StepSpec(50), StepSpec(100)])], target_users=100)
    _run_json(run_dir)
    _variant_json(run_dir)
    data, analysis = _analyse(run_dir)
    result = compute.variant_result(data.variants[0], data.run, settings_from_run(data.run))
    assert result["status"] == "failed" and result["error"] == "; ".join(ERRORS)
    summary = validate(compute.summary(analysis))
    reasons = summary["variants"][0]["reasons"]
    assert f"variant.json status failed: {'; '.join(ERRORS)}" in reasons
    assert not any("no error given" in r for r in reasons)


def test_an_older_variant_json_with_error_still_reads(tmp_path):
    run_dir = tmp_path / "run"
    write_run(run_dir, [VariantSpec(NAME, [StepSpec(50), StepSpec(100)])], target_users=100)
    path = run_dir / NAME / "variant.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "failed", "error": "teardown failed"}))
    data, _ = _analyse(run_dir)
    result = compute.variant_result(data.variants[0], data.run, settings_from_run(data.run))
    assert "variant.json status failed: teardown failed" in result["reasons"]


def test_run_json_settings_reach_the_report(tmp_path):
    run_dir = tmp_path / "run"
    write_run(run_dir, [VariantSpec(NAME, [StepSpec(50), StepSpec(100)])], target_users=100)
    run = _run_json(run_dir, locust_wait_min="0.5", capacity_predict_users="10000,20000")
    _variant_json(run_dir, status="done", errors=[])
    data, analysis = _analyse(run_dir)
    s = analysis["settings"]
    assert (s.failure_rate_max, s.p95_ms_max, s.warmup_s) == (0.001, 800.0, 10.0)
    assert data.run["vars"]["capacity_predict_users"] == [10000, 20000] == run["vars"]["capacity_predict_users"]
    assert data.variants[0].meta["ended_at"].endswith("Z")
    assert analysis["variants"][0]["status"] == "done"
    assert not any("status failed" in r for r in analysis["variants"][0]["reasons"])
