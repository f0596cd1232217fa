"""Faults across hosts: a Locust worker killed on a remote loadgen host, Ctrl-C with remote workers.

The target is the box (10.88.0.1), the master and two workers run on rzlg1, two more workers on
rzlg2, each over real SSH. Every load is bounded: the sweeps are short and every remote process
runs under rs-bg's deadline; the processes signalled are the ones this test's sweep started
(read from the pid files of its own run id on the lab host).
"""
import json
import os
import signal
import time

import pytest

# tests/integration is on pytest's pythonpath (pyproject.toml)
from playbooks_kit import ansible_playbook, rightsize_containers, start_playbook, validate_summary

pytestmark = [pytest.mark.lab, pytest.mark.integration, pytest.mark.usefixtures("lab_provisioned")]
VARIANT = "c0.5-m512M-r1"
RUNS = "/var/tmp/rightsize/runs"   # on each loadgen host (a private /var/tmp per lab host)

# Prints "pid state" for every pid file of a run on the host it runs on (state "-" when gone).
PROCESS_STATES = r"""
import glob, sys
for path in sorted(glob.glob(sys.argv[1] + "/*/pids/*.pid")):
    pid = open(path).read().strip()
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "-"
    print(pid, state, path.rsplit("/", 1)[1])
"""


def start_lab_sweep(lab, run_id, results, extra):
    return start_playbook("sweep.yml", "-e", f"cpu=0.5 mem=512M {extra}",
                          "-e", f"results_dir={results} run_id={run_id}", inventory=lab.inventory)


def wait_for_load(lab, run_id, steps=1, timeout=600):
    """Until the master (on the first loadgen host) has started `steps` steps."""
    path = f"{RUNS}/{run_id}/{VARIANT}/steps.csv"
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = lab.ssh(lab.hosts[0], f"cat {path} 2>/dev/null | wc -l", check=False).stdout.strip()
        if rows.isdigit() and int(rows) >= 1 + steps:
            return
        time.sleep(2)
    raise AssertionError(f"the load of {run_id} never started step {steps} on {lab.hosts[0].name}")


def processes(lab, host, run_id):
    """[(pid, state, pid file name)] of the run's processes on one lab host."""
    out = lab.ssh(host, f"python3 -c '{PROCESS_STATES}' {RUNS}/{run_id}").stdout
    return [tuple(line.split()) for line in out.splitlines()]


def running(lab, host, run_id):
    return [(pid, name) for pid, state, name in processes(lab, host, run_id) if state not in ("-", "Z")]


def stop(sweep, sig):
    if sweep.poll() is None:
        os.killpg(sweep.pid, sig)


def test_worker_killed_on_a_remote_host_invalidates_the_run(lab, tmp_path):
    run_id = f"lab-kill-{int(time.time())}"
    remote = lab.hosts[-1]   # a workers-only host: the master runs on the first one
    sweep = start_lab_sweep(lab, run_id, tmp_path, "users=400 users_step=200 step_duration=20")
    try:
        wait_for_load(lab, run_id)
        time.sleep(5)
        workers = [pid for pid, name in running(lab, remote, run_id) if name.startswith("worker-")]
        assert workers, f"no running worker of {run_id} on {remote.name}"
        lab.ssh(remote, f"kill -9 {workers[0]}")
        output, _ = sweep.communicate(timeout=600)
    finally:
        stop(sweep, signal.SIGTERM)
    expected = 2 * len(lab.hosts)
    assert sweep.returncode != 0, output[-3000:]
    assert f"fewest during the run: {expected - 1}" in output, output[-3000:]
    variant = tmp_path / run_id / VARIANT
    for name in ["locust_stats.csv", "steps.csv", "master_workers.csv", f"loadgen/{remote.name}.csv"]:
        assert (variant / name).is_file(), name
    for host in lab.hosts:   # every host's latency files came back, the killed worker's included
        assert len(list((variant / "latency").glob(f"{host.name}-*.csv"))) == 2, host.name
    summary = json.loads((tmp_path / run_id / "summary.json").read_text())
    validate_summary(summary)
    assert summary["valid"] is False
    assert any("worker" in reason.lower() for reason in summary["reasons"]), summary["reasons"]
    assert rightsize_containers() == []
    for host in lab.hosts:
        assert running(lab, host, run_id) == [], host.name


def test_ctrl_c_with_remote_workers_then_teardown_leaves_nothing(lab, tmp_path):
    run_id = f"lab-interrupt-{int(time.time())}"
    sweep = start_lab_sweep(lab, run_id, tmp_path, "users=400 users_step=200 step_duration=30")
    try:
        wait_for_load(lab, run_id, steps=2)   # the 200-user step is complete
        stop(sweep, signal.SIGINT)   # Ctrl-C: the play's always sections do not run
        sweep.communicate(timeout=120)
    finally:
        stop(sweep, signal.SIGKILL)
    left = {host.name: running(lab, host, run_id) for host in lab.hosts}
    assert all(left.values()), f"the interrupted run should still be loading on every host: {left}"
    assert rightsize_containers() != []
    down = ansible_playbook("teardown.yml", "-e", f"results_dir={tmp_path}", inventory=lab.inventory)
    assert down.returncode == 0, down.stdout[-3000:]
    time.sleep(1)
    assert {host.name: running(lab, host, run_id) for host in lab.hosts} == {h.name: [] for h in lab.hosts}
    assert rightsize_containers() == []
    # every host's measurements came back to the controller and the report renders from them
    variant = tmp_path / run_id / VARIANT
    assert json.loads((variant / "variant.json").read_text())["status"] == "interrupted"
    for host in lab.hosts:
        assert len(list((variant / "latency").glob(f"{host.name}-*.csv"))) == 2, host.name
        assert (variant / "loadgen" / f"{host.name}.csv").is_file(), host.name
    assert (variant / "target" / "samples.csv").is_file() and (variant / "steps.csv").is_file()
    summary = json.loads((tmp_path / run_id / "summary.json").read_text())
    validate_summary(summary)
    [step] = [step for step in summary["variants"][0]["steps"] if step["users"] == 200]
    assert step["requests"] > 1000


def test_web_ui_listens_only_on_the_master_address(lab, tmp_path):
    """-e locust_ui=true: the UI binds the master's inventory address, reachable from another host."""
    run_id = f"lab-ui-{int(time.time())}"
    master = lab.hosts[0]
    sweep = start_lab_sweep(lab, run_id, tmp_path, "users=100 users_step=100 step_duration=20 locust_ui=true")
    try:
        listening = ""
        deadline = time.time() + 300
        while time.time() < deadline and not listening:
            assert sweep.poll() is None, sweep.communicate()[0][-3000:]
            listening = lab.ssh(master, "ss -ltnH 'sport = :8089'", check=False).stdout.strip()
            time.sleep(2)
        assert f"{master.addr}:8089" in listening, listening
        assert "0.0.0.0:8089" not in listening and "*:8089" not in listening and "127.0.0.1" not in listening
        page = lab.ssh(lab.hosts[-1], "python3 -c 'import urllib.request as u; "
                                      f"print(u.urlopen(\"http://{master.addr}:8089/\", timeout=5).status)'")
        assert page.stdout.strip() == "200"
    finally:
        stop(sweep, signal.SIGINT)
        try:
            sweep.communicate(timeout=120)
        finally:
            stop(sweep, signal.SIGKILL)
        down = ansible_playbook("teardown.yml", "-e", f"results_dir={tmp_path}", inventory=lab.inventory)
    assert down.returncode == 0, down.stdout[-3000:]
    assert {host.name: running(lab, host, run_id) for host in lab.hosts} == {h.name: [] for h in lab.hosts}
    assert rightsize_containers() == []
