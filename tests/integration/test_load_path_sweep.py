"""The load path on the local default (issue 17): 4,500 users through the real entry port, one
replica and replicas behind nginx, all valid; a path broken on purpose is the harness's, never the
service's. Load goes to 127.0.0.1 only; every run is bounded by its steps."""
import json
import subprocess
import time
from pathlib import Path

import pytest

from playbooks_kit import ansible_playbook, start_playbook, validate_summary

pytestmark = pytest.mark.integration
REMOTE_RUNS = Path("/var/tmp/rightsize/runs")
# 4,500 users each holding a keep-alive connection (what the path must carry); a 6-s mean think time
# keeps the offered load (~750 RPS) well inside what both layouts serve on 2 cores shared with Locust.
# Users spawned together start in step; 10 s of spawning and 15 s of warm-up let the think times
# spread them before the window (with 20/10 the first step's sub-windows still swung 16 %).
WIDE = ("users=4500 users_step=1500 step_duration=30 report_warmup_s=15 locust_spawn_s=10 "
        "locust_wait_min=4 locust_wait_max=8")
LAYOUTS = {"variants": [{"cpu": 1.0, "mem": "512M", "replicas": 1}, {"cpu": 0.5, "mem": "512M", "replicas": 2}]}


@pytest.fixture(scope="module")
def wide_sweep(tmp_path_factory, docker_ready):
    results = tmp_path_factory.mktemp("results")
    result = ansible_playbook("sweep.yml", "-e", WIDE, "-e", f"results_dir={results} run_id=it-wide",
                              "-e", json.dumps(LAYOUTS))
    return result, results / "it-wide"


def test_preflight_states_the_path_and_no_docker_proxy_carries_it(wide_sweep):
    result, run = wide_sweep
    assert result.returncode == 0, result.stdout[-4000:]
    plan = " ".join(result.stdout.split())  # the callback folds long messages
    assert "load path for 4500 users: 1 replica(s): narrowest hop service ~19936 connections; " \
           "2 replica(s) + nginx: narrowest hop" in plan
    path = json.loads((run / "run.json").read_text())["manifest"]["load_path"]
    assert {layout["replicas"]: layout["balancer"] for layout in path} == {1: False, 2: True}
    assert all(hop["hop"] != "publish" for layout in path for hop in layout["hops"])
    assert json.loads(Path("/etc/docker/daemon.json").read_text())["userland-proxy"] is False


def test_4500_users_pass_through_the_entry_port_in_both_layouts(wide_sweep):
    _, run = wide_sweep
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    assert [v["name"] for v in summary["variants"]] == ["c1-m512M-r1", "c0.5-m512M-r2"]
    for variant in summary["variants"]:
        assert [s["users"] for s in variant["steps"]] == [1500, 3000, 4500]
        for step in variant["steps"]:
            where = f"{variant['name']} at {step['users']} users: {step['reasons']}"
            assert step["valid"] is True, where
            assert step["failure_rate"] < 0.01, where
            assert step["connection_errors"] is not None and step["connection_errors"] < 10, where
        assert variant["verdict"] in ("pass", "fail"), variant["reasons"]  # judged: never the harness's
    failures = "".join(path.read_text() for path in run.glob("*/locust_failures.csv"))
    assert "ConnectionRefusedError" not in failures
    probes = (run / "c0.5-m512M-r2" / "target" / "health.csv").read_text().splitlines()
    assert probes[0] == "ts,probe,ok,status,ms"
    assert {line.split(",")[1] for line in probes[1:]} == {"entry", "rightsize-c0_5-m512m-r2-api-1",
                                                           "rightsize-c0_5-m512m-r2-api-2"}


def _reject_new_connections(port, add):
    """Break the publish hop: new connections to 127.0.0.1:<port> (NATed to the container) are
    refused with a TCP reset; established ones and the container's own address are untouched."""
    rule = ["OUTPUT", "-p", "tcp", "-m", "conntrack", "--ctstate", "NEW", "--ctorigdst", "127.0.0.1",
            "--ctorigdstport", str(port), "-j", "REJECT", "--reject-with", "tcp-reset"]
    subprocess.run(["iptables", "-I" if add else "-D", *rule], check=True, capture_output=True)


def test_a_broken_load_path_is_invalid_and_named_never_a_failed_service(tmp_path, docker_ready):
    port, run_id = 8011, f"it-broken-{int(time.time())}"
    playbook = start_playbook("sweep.yml", "-e", f"cpu=0.5 mem=512M users=600 users_step=300 step_duration=20 "
                                                 f"entry_port={port}", "-e", f"results_dir={tmp_path} run_id={run_id}")
    steps = REMOTE_RUNS / run_id / "c0.5-m512M-r1" / "steps.csv"
    added = False
    try:
        deadline = time.time() + 300
        while time.time() < deadline and playbook.poll() is None:
            if steps.exists() and len(steps.read_text().splitlines()) >= 3:  # step 2 (300 more users) began
                _reject_new_connections(port, add=True)
                added = True
                break
            time.sleep(0.2)
        assert added, "step 2 never started"
        output, _ = playbook.communicate(timeout=600)
    finally:
        if added:
            _reject_new_connections(port, add=False)
        if playbook.poll() is None:
            playbook.kill()
    assert playbook.returncode == 0, output[-3000:]
    summary = json.loads((tmp_path / run_id / "summary.json").read_text())
    [variant] = summary["variants"]
    first, second = variant["steps"]
    assert first["valid"] is True and first["slo_pass"] is True
    assert second["valid"] is False and second["connection_errors"] > 100
    assert any(r.startswith("load path broken") and "at its own address" in r for r in second["reasons"])
    assert variant["verdict"] == "invalid" and variant["first_failure"] is None
    report = (tmp_path / run_id / "consolidated_report.md").read_text()
    assert "load path broken" in report
