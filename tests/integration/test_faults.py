"""Faults during a run: a Locust worker killed, the playbook interrupted, an API that never starts."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from playbooks_kit import ansible_playbook, rightsize_containers, start_playbook, validate_summary

pytestmark = pytest.mark.integration
REMOTE_RUNS = Path("/var/tmp/rightsize/runs")
VARIANT = "c0.5-m512M-r1"


def unique(name):
    return f"{name}-{int(time.time())}"


def start_sweep(run_id, results, extra="users=400 users_step=200 step_duration=20"):
    return start_playbook("sweep.yml", "-e", f"cpu=0.5 mem=512M {extra}", "-e", f"results_dir={results} run_id={run_id}")


def wait_for_load(run_id, steps=1, timeout=600):
    """Wait until `steps` steps have started; returns the variant's folder on this host."""
    folder = REMOTE_RUNS / run_id / VARIANT
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (folder / "steps.csv").exists() and len((folder / "steps.csv").read_text().splitlines()) >= 1 + steps:
            return folder
        time.sleep(1)
    raise AssertionError(f"the load of {run_id} never started step {steps}")


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def locust_pids(folder):
    return [int(path.read_text()) for path in (folder / "pids").glob("*.pid")]


def test_worker_killed_midrun_invalidates_the_run_and_keeps_the_csvs(tmp_path, docker_ready):
    run_id = unique("it-kill")
    sweep = start_sweep(run_id, tmp_path)
    try:
        folder = wait_for_load(run_id)
        time.sleep(5)
        worker = next((folder / "pids").glob("worker-*.pid"))
        os.kill(int(worker.read_text()), signal.SIGKILL)  # a worker this test's sweep started
        output, _ = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGTERM)
    assert sweep.returncode != 0, output[-3000:]
    assert "fewest during the run: 1" in output, output[-3000:]
    run = tmp_path / run_id
    for name in ["locust_stats.csv", "locust_stats_history.csv", "steps.csv", "master_workers.csv"]:
        assert (run / VARIANT / name).is_file(), name
    assert list((run / VARIANT / "latency").glob("*.csv"))
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    assert summary["valid"] is False
    assert any("worker" in reason.lower() for reason in summary["reasons"]), summary["reasons"]
    assert rightsize_containers() == []


def test_interrupted_run_then_teardown_leaves_nothing_and_keeps_what_was_measured(tmp_path, docker_ready):
    run_id = unique("it-interrupt")
    sweep = start_sweep(run_id, tmp_path, "users=400 users_step=200 step_duration=30")
    try:
        folder = wait_for_load(run_id, steps=2)  # the 200-user step is complete
        os.killpg(sweep.pid, signal.SIGINT)  # Ctrl-C: Ansible's always sections do not run
        sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
    pids = locust_pids(folder)
    assert pids and any(alive(pid) for pid in pids), "the interrupted run should still be loading"
    assert rightsize_containers() != []
    run = tmp_path / run_id
    assert json.loads((run / VARIANT / "variant.json").read_text())["status"] == "running"
    assert not (run / VARIANT / "steps.csv").exists(), "nothing fetched before the teardown"
    down = ansible_playbook("teardown.yml", "-e", f"results_dir={tmp_path}")
    assert down.returncode == 0, down.stdout[-3000:]
    time.sleep(1)
    assert [pid for pid in pids if alive(pid)] == []
    assert rightsize_containers() == []
    # what was measured until Ctrl-C came back, and the report is rendered from it
    assert json.loads((run / VARIANT / "variant.json").read_text())["status"] == "interrupted"
    for name in ["steps.csv", "master_workers.csv", "target/samples.csv", "loadgen/localhost.csv"]:
        assert (run / VARIANT / name).is_file(), name
    assert list((run / VARIANT / "latency").glob("*.csv"))
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    [variant] = summary["variants"]
    assert variant["verdict"] == "incomplete"
    [first] = [step for step in variant["steps"] if step["users"] == 200]
    assert first["requests"] > 1000 and first["rps"] > 50
    assert any("interrupted" in reason for reason in variant["reasons"]), variant["reasons"]
    assert (run / "consolidated_report.md").is_file()


def test_api_process_crash_midrun_fails_the_variant_as_restarted(tmp_path, docker_ready):
    """The API's process dies mid-step (SIGKILL from the host, not OOM): Docker restarts it, and the
    restart read from `docker inspect` fails the variant with that reason."""
    run_id = unique("it-crash")
    sweep = start_sweep(run_id, tmp_path)
    try:
        wait_for_load(run_id)
        time.sleep(5)
        [container] = subprocess.run(["docker", "ps", "-q", "--filter", "label=io.rightsize.role=api"],
                                     capture_output=True, text=True, check=True).stdout.split()
        pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container],
                                 capture_output=True, text=True, check=True).stdout)
        os.kill(pid, signal.SIGKILL)  # the API process of this test's own sweep
        output, _ = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGTERM)
    assert sweep.returncode == 0, output[-3000:]  # a measured failure, not a broken run
    run = tmp_path / run_id
    [api] = [item for item in json.loads((run / VARIANT / "target" / "containers.json").read_text())
             if item["service"] == "api"]
    assert api["restart_count"] >= 1 and api["oom_killed"] is False, api
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    [variant] = summary["variants"]
    assert variant["verdict"] == "fail"
    assert variant["first_failure"]["slo"] == "restarted", variant["first_failure"]
    assert any("restarted" in reason for reason in variant["reasons"]), variant["reasons"]
    assert rightsize_containers() == []


def test_api_that_never_becomes_healthy_fails_clearly(tmp_path, docker_ready):
    result = ansible_playbook("sweep.yml", "-e", "cpu=0.25 mem=128M users=20 users_step=20 step_duration=15",
                              "-e", "api_image=local/debian:bookworm api_health_timeout=20",
                              "-e", f"results_dir={tmp_path} run_id=never")
    assert result.returncode != 0
    assert "did not become healthy within 20 s" in result.stdout and "Last log lines" in result.stdout
    assert rightsize_containers() == []
