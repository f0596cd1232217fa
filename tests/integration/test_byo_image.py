"""Bring your own model service: a foreign image (Open Inference V2, port 9000) by variables alone."""
import json

import pandas as pd
import pytest

from bench.search import FIXTURE, IMAGE, V2_VARS, build_fixture
from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def v2_image(docker_ready):
    build_fixture()
    return IMAGE


@pytest.fixture(scope="module")
def v2_sweep(v2_image, tmp_path_factory):
    results = tmp_path_factory.mktemp("byo")
    result = ansible_playbook(
        "sweep.yml", "-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
        "-e", "cpu=0.25 mem=128M users=60 users_step=30 step_duration=15 report_warmup_s=5",
        "-e", f"results_dir={results} run_id=it-byo")
    return result, results / "it-byo"


def test_foreign_api_sweep_succeeds(v2_sweep):
    result, run = v2_sweep
    assert result.returncode == 0, result.stdout[-4000:]
    variant = run / "c0.25-m128M-r1"
    latency = pd.concat(pd.read_csv(path) for path in (variant / "latency").glob("*.csv"))
    assert latency["count"].sum() > 50
    assert latency.loc[latency["ok"] == 0, "count"].sum() == 0, "every V2 request must succeed"
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    assert summary["variants"][0]["image"] == IMAGE


def test_run_records_what_was_measured(v2_sweep):
    _, run = v2_sweep
    described = json.loads((run / "c0.25-m128M-r1" / "variant.json").read_text())
    assert described["image"] == IMAGE and described["api_port"] == 9000
    assert described["predict_path"] == "/v2/models/iris/infer"
    assert described["health_path"] == "/v2/health/ready"
    assert described["payloads"]["name"] == "payloads.jsonl" and described["payloads"]["lines"] == 50
    assert len(described["payloads"]["sha256"]) == 64
    manifest = json.loads((run / "run.json").read_text())["manifest"]["service"]
    assert manifest["loosened"] == [] and manifest["hardening"]["read_only"] is True
    assert "payloads.jsonl" in (run / "consolidated_report.md").read_text()


def test_malformed_payloads_fail_before_any_container(v2_image, tmp_path):
    result = ansible_playbook("sweep.yml", "-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'bad-payloads.jsonl'}",
                              "-e", f"cpu=0.25 mem=128M results_dir={tmp_path}")
    assert result.returncode != 0
    assert "bad-payloads.jsonl: line 2 is not a JSON value" in result.stdout, result.stdout[-2000:]
    assert list(tmp_path.iterdir()) == [] and rightsize_containers() == []


def test_wrong_predict_path_stops_before_the_load(v2_image, tmp_path):
    result = ansible_playbook(
        "sweep.yml", "-e", V2_VARS.replace("/v2/models/iris/infer", "/predict"),
        "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
        "-e", f"cpu=0.25 mem=128M users=20 users_step=20 step_duration=15 results_dir={tmp_path} run_id=bad-path")
    assert result.returncode != 0
    assert "answered 404" in result.stdout, result.stdout[-3000:]
    variant = tmp_path / "bad-path" / "c0.25-m128M-r1"
    assert not (variant / "locust_stats.csv").exists(), "no load may run after a failed probe"
    assert rightsize_containers() == []


def test_oom_killed_api_fails_the_variant(v2_image, tmp_path):
    """A service that runs out of memory mid-run is OOM-killed, restarted, and its variant fails."""
    result = ansible_playbook(
        "sweep.yml", "-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
        "-e", '{"api_env": {"LEAK_KB": "512"}}',
        "-e", f"cpu=0.5 mem=48M users=80 users_step=40 step_duration=15 report_warmup_s=5 "
              f"results_dir={tmp_path} run_id=oom")
    assert result.returncode == 0, result.stdout[-3000:]
    containers = json.loads((tmp_path / "oom" / "c0.5-m48M-r1" / "target" / "containers.json").read_text())
    api = [item for item in containers if item["service"] == "api"]
    assert api and (api[0]["oom_killed"] or api[0]["restart_count"] > 0), containers
    summary = json.loads((tmp_path / "oom" / "summary.json").read_text())
    validate_summary(summary)
    variant = summary["variants"][0]
    assert variant["verdict"] == "fail"
    assert variant["first_failure"]["slo"] in ("oom_killed", "restarted"), variant["first_failure"]
