"""The regression gate on a real run: one short sweep of the V2 fixture against summaries committed
from earlier real runs of the same target (tests/fixtures/gate/README.md): the same service passes
the gate (exit 0), and measured as BASE against a degraded service it fails it (exit 4)."""
import json
import os
import subprocess
import sys

import pytest

from playbooks_kit import ROOT, ansible_playbook, validate_summary

pytestmark = pytest.mark.integration

FIXTURE = ROOT / "tests" / "fixtures" / "v2server"
GATE = ROOT / "tests" / "fixtures" / "gate"
V2_VARS = ("api_image=rightsize/test-v2server:latest api_port=9000 api_health_path=/v2/health/ready "
           "api_predict_path=/v2/models/iris/infer")
SHAPE = "entry_port=18431 cpu=0.5 mem=512M users=200 users_step=100 step_duration=20 report_warmup_s=5 inference_api_pids_limit=1024"


def gate(base, new):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "collect" / "report.py"), "--compare", str(base), str(new),
                           "--fail-on-regression", "--json"], capture_output=True, text=True, env=env, timeout=120)


def test_gate_on_a_real_sweep(docker_ready, tmp_path):
    subprocess.run(["docker", "image", "inspect", "rightsize/test-v2server:latest"], check=True, capture_output=True)
    result = ansible_playbook("sweep.yml", "-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
                              "-e", SHAPE, "-e", '{"api_env": {"WORK_MS": "1"}}',
                              "-e", f"results_dir={tmp_path} run_id=it-gate")
    assert result.returncode == 0, result.stdout[-4000:]
    run = tmp_path / "it-gate"
    validate_summary(json.loads((run / "summary.json").read_text()))
    assert json.loads((run / "run.json").read_text())["cost"]["cpu_hour"] > 0  # the prices the report used
    same = gate(GATE / "base-summary.json", run)
    assert same.returncode == 0, same.stdout + same.stderr
    assert json.loads(same.stdout)["regressions"] == []
    worse = gate(run, GATE / "degraded-summary.json")
    assert worse.returncode == 4, worse.stdout + worse.stderr
    assert any(r.startswith("c0.5-m512M-r1: ") for r in json.loads(worse.stdout)["regressions"])
