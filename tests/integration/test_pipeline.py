"""The walking skeleton end to end on the local inventory: deploy, Locust, fetch, report."""
import json
import subprocess
import uuid

import pandas as pd
import pytest

from playbooks_kit import ansible_playbook, recap, rightsize_containers, validate_summary

pytestmark = pytest.mark.integration

SWEEP = "cpu=0.5 mem=512M users=600 users_step=300 step_duration=20"
# a value given to the API's environment, as a token would be: it must not reach the results
SECRET = "rs-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def short_sweep(tmp_path_factory, docker_ready):
    results = tmp_path_factory.mktemp("results")
    result = ansible_playbook("sweep.yml", "-e", SWEEP, "-e", f"results_dir={results} run_id=it-sweep",
                              "-e", json.dumps({"api_env": {"API_TEST_TOKEN": SECRET}}))
    return result, results / "it-sweep"


def test_short_sweep_exits_zero(short_sweep):
    result, _ = short_sweep
    assert result.returncode == 0, result.stdout[-4000:]


def test_short_sweep_leaves_every_file(short_sweep):
    _, run = short_sweep
    variant = run / "c0.5-m512M-r1"
    for name in ["locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_report.html",
                 "variant.json", "steps.csv", "master.json", "target/samples.csv", "target/containers.json"]:
        assert (variant / name).is_file(), name
    assert (run / "consolidated_report.md").is_file() and (run / "run.json").is_file()
    assert len(list((variant / "latency").glob("localhost-*.csv"))) == 2  # one per worker (2 cores)
    assert (variant / "loadgen" / "localhost.csv").is_file()
    described = json.loads((variant / "variant.json").read_text())
    assert described["cpu"] == 0.5 and described["mem"] == "512M" and described["replicas"] == 1
    assert described["users"] == 600 and described["users_step"] == 300 and described["step_duration"] == 20
    assert described["status"] == "done"


def test_latency_files_agree_with_locust(short_sweep):
    _, run = short_sweep
    variant = run / "c0.5-m512M-r1"
    latency = pd.concat(pd.read_csv(path) for path in (variant / "latency").glob("*.csv"))
    stats = pd.read_csv(variant / "locust_stats.csv").set_index("Name")
    assert latency["count"].sum() == stats.loc["Aggregated", "Request Count"]
    assert (latency["ok"] == 0).multiply(latency["count"]).sum() == stats.loc["Aggregated", "Failure Count"]


def test_summary_is_schema_valid_and_measured(short_sweep):
    _, run = short_sweep
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    assert summary["target_users"] == 600
    [variant] = summary["variants"]
    assert variant["name"] == "c0.5-m512M-r1"
    assert [step["users"] for step in variant["steps"]] == [300, 600]
    for step in variant["steps"]:
        assert step["requests"] > 0 and step["rps"] > 0
        assert step["cpu_pct"] is not None and step["cpu_pct"] > 0
        assert step["mem_pct"] is not None and 0 < step["mem_pct"] < 100
        assert step["generator_cpu_pct"] is not None
    report = (run / "consolidated_report.md").read_text()
    assert "c0.5-m512M-r1" in report


def test_sweep_removes_the_variant(short_sweep):
    assert rightsize_containers() == []


def test_no_secret_reaches_the_results_or_the_output(short_sweep):
    result, run = short_sweep
    files = [path for path in run.rglob("*") if path.is_file()]
    assert len(files) > 10
    leaked = [str(path) for path in files if SECRET in path.read_text(errors="ignore")]
    assert leaked == [] and SECRET not in result.stdout
    assert json.loads((run / "run.json").read_text())["manifest"]["service"]["env_keys"] == ["API_TEST_TOKEN"]


def test_inventory_without_loadgen_hosts_is_refused(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {
        "target": {"hosts": {"localhost": {"ansible_connection": "local",
                                           "ansible_python_interpreter": "/usr/bin/python3"}}},
        "loadgen": {"hosts": {}}}}}))
    result = ansible_playbook("sweep.yml", "-e", "cpu=0.5 mem=512M", "-e", f"results_dir={tmp_path / 'results'}",
                              inventory=inventory)
    assert result.returncode != 0
    assert "at least one in group 'loadgen' (has 0)" in result.stdout, result.stdout[-2000:]
    assert "Provision" not in result.stdout and not (tmp_path / "results").exists()
    assert rightsize_containers() == []


def test_provision_twice_changes_nothing(docker_ready):
    """`make test` provisioned this machine; the playbooks under test skip provisioning on the
    strength of this: provisioning again changes nothing."""
    again = ansible_playbook("playbooks/provision.yml", provision=True)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["localhost"]["changed"] == 0, again.stdout[-4000:]


def test_second_identical_deploy_changes_nothing(docker_ready):
    first = ansible_playbook("playbooks/deploy.yml", "-e", "cpu=0.25 mem=256M")
    try:
        assert first.returncode == 0, first.stdout[-3000:]
        second = ansible_playbook("playbooks/deploy.yml", "-e", "cpu=0.25 mem=256M")
        assert second.returncode == 0, second.stdout[-3000:]
        assert recap(second.stdout)["localhost"]["changed"] == 0, second.stdout[-3000:]
        # the same through the public entry point: sweep.yml --tags deploy deploys only
        tagged = ansible_playbook("sweep.yml", "--tags", "deploy", "-e", "cpu=0.25 mem=256M")
        assert tagged.returncode == 0, tagged.stdout[-3000:]
        assert "Deploy the variant" in tagged.stdout and "Locust master" not in tagged.stdout
        assert recap(tagged.stdout)["localhost"]["changed"] == 0, tagged.stdout[-3000:]
        [container] = rightsize_containers()
        inspected = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True, text=True,
                                              check=True).stdout)[0]
        host = inspected["HostConfig"]
        assert inspected["Config"]["User"] == "10001:10001"
        assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"] and host["PidsLimit"] == 256
        assert host["NanoCpus"] == 250_000_000 and host["Memory"] == 256 * 1024 * 1024
        assert [binding["HostIp"] for binding in host["PortBindings"]["8000/tcp"]] == ["127.0.0.1"]
        hard = int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout)
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": min(hard, 65536), "Hard": min(hard, 65536)}]
        assert inspected["Config"]["Healthcheck"]["Test"] == ["NONE"]  # rightsize polls from outside
    finally:
        down = ansible_playbook("teardown.yml")
    assert down.returncode == 0, down.stdout[-3000:]
    assert rightsize_containers() == []


def test_every_play_sees_group_vars():
    """playbooks/*.yml run directly see the top-level group_vars (through playbooks/group_vars)."""
    result = ansible_playbook("playbooks/preflight.yml", "-e", "cpu=0.5 mem=512M")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "p95 < 1000 ms" in result.stdout and "profile quick" in result.stdout


# Every check and its message is unit-tested on the check itself (tests/unit/test_filters.py,
# test_variables.py, test_loadpath.py); these three runs prove the playbook stops on them before anything
# is deployed: a value check, and one that needs the target's facts.
@pytest.mark.parametrize("extra, named", [
    ("cpu=abc mem=512M", "cpu='abc'"),
    ("cpu=4 mem=1G", "exceeds the target's"),
    # the load path (issue 17): docker-proxy carries (20000 - 64) / 6 connections on this machine
    ("cpu=0.5 mem=512M users=4500 users_step=1500 docker_userland_proxy=true", "publish hop carries about 3322"),
])
def test_bad_variables_fail_before_anything_is_deployed(tmp_path, extra, named):
    result = ansible_playbook("sweep.yml", "-e", extra, "-e", f"results_dir={tmp_path}")
    assert result.returncode != 0
    assert named in result.stdout, result.stdout[-2000:]
    assert "Provision" not in result.stdout.split("PLAY RECAP")[0].split("Invalid variables")[0][-200:]
    assert list(tmp_path.iterdir()) == []
    assert rightsize_containers() == []


def test_check_mode_changes_nothing(tmp_path, docker_ready):
    result = ansible_playbook("--check", "--diff", "sweep.yml", "-e", "cpu=0.5 mem=512M",
                              "-e", f"results_dir={tmp_path} run_id=checked")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "--check: deploy, load, collect and report are skipped" in result.stdout
    assert "report skipped under --check" in result.stdout
    assert "Render the compose file of the variant" in result.stdout  # diffed, not deployed
    assert list(tmp_path.iterdir()) == []
    assert rightsize_containers() == []
