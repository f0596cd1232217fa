"""The pure helpers behind the playbooks (rightsize/): names, sizes, plans and preflight messages;
and filter_plugins/rightsize.py, which registers them as the playbooks' rs_* filters."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rightsize import facts, names, plan
from rightsize.checks import preflight_errors

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK_DIRS = ("playbooks", "roles", "templates")

GROUP_VARS = {
    "profiles": {"quick": {"users": 500, "users_step": 250, "step_duration": 60}},
    "profile": "quick", "users": 500, "users_step": 250, "step_duration": 60, "report_warmup_s": 10,
    "variants": [{"cpu": 0.5, "mem": "512M", "replicas": 1}], "replicas": 1, "run_id": "r1",
    "keep": False, "fail_on_slo": False, "locust_ui": False, "offline_images": "auto",
}


@pytest.mark.parametrize("cpu, mem, replicas, name", [
    (0.25, "256M", 1, "c0.25-m256M-r1"),
    (1.0, "1G", 1, "c1-m1024M-r1"),
    ("2.0", "2g", "1", "c2-m2048M-r1"),
    (0.75, "768M", 3, "c0.75-m768M-r3"),
    (0.5, "1.5G", 2, "c0.5-m1536M-r2"),
    (1, "1000k", 1, "c1-m1M-r1"),       # rounded up to whole MiB
    (0.125, 536870912, 1, "c0.125-m512M-r1"),
])
def test_variant_names_are_canonical(cpu, mem, replicas, name):
    assert names.variant_name(cpu, mem, replicas) == name


@pytest.mark.parametrize("size, expected", [("512M", 512 << 20), ("1g", 1 << 30), ("1.5G", 3 << 29),
                                            ("256mb", 256 << 20), ("100", 100)])
def test_docker_bytes(size, expected):
    assert names.docker_bytes(size) == expected


@pytest.mark.parametrize("size", ["1X", "0", "", "-1G", "abc", "1.2.3M"])
def test_docker_bytes_rejects(size):
    with pytest.raises(ValueError):
        names.docker_bytes(size)


def test_plan_of_the_list_skips_variants_larger_than_the_target():
    planned = plan.plan_variants([{"cpu": 1.0, "mem": "1G"}, {"cpu": 0.75, "mem": "768M", "replicas": 3}],
                                 cores=2)
    assert [item["name"] for item in planned] == ["c1-m1024M-r1", "c0.75-m768M-r3"]
    assert planned[0]["skip"] == ""
    assert "2.25 exceeds the target's 2 cores" in planned[1]["skip"]
    assert planned[1]["project"] == "rightsize-c0_75-m768m-r3"


def test_explicit_variant_replaces_the_list():
    planned = plan.plan_variants([{"cpu": 1.0, "mem": "1G"}], cpu="0.5", mem="512M", replicas=2, cores=2)
    assert [(item["name"], item["explicit"]) for item in planned] == [("c0.5-m512M-r2", True)]


def test_preflight_accepts_the_defaults():
    assert preflight_errors(GROUP_VARS) == []


@pytest.mark.parametrize("override, named", [
    ({"cpu": "-1", "mem": "512M"}, "cpu='-1'"),
    ({"cpu": "abc", "mem": "512M"}, "cpu='abc'"),
    ({"cpu": "0.5", "mem": "1X"}, "mem='1X'"),
    ({"cpu": "0.5", "mem": "0"}, "mem='0'"),
    ({"cpu": "0.5", "mem": "512M", "replicas": "0"}, "replicas="),
    ({"cpu": "0.5"}, "cpu and mem"),
    ({"users_step": "0"}, "users_step="),
    ({"users_step": 600}, "users_step=600 is larger than users=500"),
    ({"users": "many"}, "users="),
    ({"step_duration": 5}, "step_duration=5"),
    ({"profile": "huge"}, "profile='huge': expected one of quick"),
    ({"profile": "nope"}, "profile='nope'"),
    ({"users": 100, "users_step": 200}, "users_step=200 is larger than users=100"),
    ({"run_id": "../x"}, "run_id="),
    ({"keep": "maybe"}, "keep="),
    ({"variants": [{"cpu": 0, "mem": "1G"}]}, "variants[0]"),
    ({"api_proxy": "sometimes"}, "api_proxy='sometimes': expected auto"),
    ({"api_proxy_max_in_flight": "-1"}, "api_proxy_max_in_flight="),
    ({"api_proxy_max_in_flight": "lots"}, "api_proxy_max_in_flight="),
    ({"cost_cpu_hour": "-0.01"}, "cost_cpu_hour="),
    ({"cost_gb_hour": "free"}, "cost_gb_hour="),
])
def test_preflight_names_the_bad_variable(override, named):
    errors = preflight_errors({**GROUP_VARS, **override})
    assert errors and any(named in message for message in errors), errors


def test_steps_planned_end_at_users():
    assert plan.steps_planned(600, 300) == [300, 600]
    assert plan.steps_planned(500, 300) == [300, 500]
    assert plan.steps_planned(10000, 500)[-1] == 10000 and len(plan.steps_planned(10000, 500)) == 20


def test_container_summary_reads_oom_and_restarts():
    summary = facts.container_summary({
        "Name": "/p-api-1", "Id": "abc", "RestartCount": 2,
        "State": {"OOMKilled": True, "Status": "running", "ExitCode": 0, "StartedAt": "t"},
        "Config": {"Labels": {"com.docker.compose.service": "api"}}})
    assert summary == {"name": "p-api-1", "id": "abc", "service": "api", "oom_killed": True,
                       "restart_count": 2, "status": "running", "exit_code": 0, "started_at": "t"}


def test_missing_worker_hosts_matches_hostnames():
    hostvars = {"lg1": {"ansible_facts": {"hostname": "box-1"}}, "lg2": {"ansible_facts": {"hostname": "box-2"}}}
    assert facts.missing_worker_hosts(["lg1", "lg2"], hostvars, ["box-1"]) == ["lg2"]


def test_expected_workers_per_host_or_one_per_core():
    hosts = [{"ansible_facts": {"processor_vcpus": 2}}, {"ansible_facts": {"processor_vcpus": 4}}, {}]
    assert facts.expected_workers(hosts, 0) == 2 + 4 + 1
    assert facts.expected_workers(hosts, "3") == 9


@pytest.mark.parametrize("name", ["c0.25-m256M-r1", "c1-m1024M-r1", "c0.75-m768M-r3", "c0.125-m64M-r2"])
def test_a_variant_name_parses_back_to_what_built_it(name):
    parsed = names.parse_variant_name(name)
    assert names.variant_name(parsed["cpu"], parsed["mem"], parsed["replicas"]) == name
    assert parsed["mem_bytes"] == names.docker_bytes(parsed["mem"])


@pytest.mark.parametrize("name", ["c0.5-m512M", "probe-01-c1-m2048M-r1", "c0.5-m1G-r1", "c-m512M-r1"])
def test_what_is_not_a_variant_name_parses_to_none(name):
    assert names.parse_variant_name(name) is None


def _playbook_filters():
    """rs_* names the playbooks use as filters: `| rs_x` and map('rs_x')."""
    used = set()
    for folder in PLAYBOOK_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".yml", ".yaml", ".j2") and path.is_file():
                used |= set(re.findall(r"""(?:\||map\(|select\(|reject\()\s*['"]?(rs_\w+)""", path.read_text()))
    return used


def test_ansible_loads_every_filter_the_playbooks_use_from_the_package():
    from ansible.plugins.loader import filter_loader, init_plugin_loader

    init_plugin_loader()
    filter_loader.add_directory(str(ROOT / "filter_plugins"))
    used = _playbook_filters()
    assert {"rs_plan_variants", "rs_preflight_errors", "rs_steps_planned"} <= used
    missing = sorted(name for name in used if filter_loader.get(name) is None)
    assert not missing, f"used in {', '.join(PLAYBOOK_DIRS)} but registered by no filter plugin: {missing}"
    assert filter_loader.get("rs_variant_name").j2_function is names.variant_name
    assert filter_loader.get("rs_plan_variants").j2_function is plan.plan_variants


def test_without_the_package_the_filter_plugin_says_run_make_venv(tmp_path):
    blocker = tmp_path / "rightsize"   # first on PYTHONPATH: `import rightsize` fails as if not installed
    blocker.mkdir()
    (blocker / "__init__.py").write_text('raise ModuleNotFoundError("no rightsize", name="rightsize")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    ansible = str(Path(sys.executable).parent / "ansible")
    result = subprocess.run([ansible, "localhost", "-c", "local", "-i", "localhost,",
                             "-m", "debug", "-a", "msg={{ '512M' | rs_docker_bytes }}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "the rightsize controller package is missing: run `make venv`" in output, output[-2000:]
    assert "Traceback" not in output


def test_the_plan_says_how_long_the_run_takes():
    from rightsize import plan

    assert plan.expected_seconds(2, 600, 300, 20) == 2 * (2 * 20 + plan.RUN_OVERHEAD_S)
    assert plan.expected_text(1, 10000, 500, 60) == \
        "expected about 20 min 30 s (1 variant(s) x (20 steps x 60 s + ~30 s around each))"
    assert plan.duration_text(3 * 3600 + 120) == "3 h 02 min"
    assert plan.expected_text(1, 200, 100, 20, repeats=3) == \
        "expected about 3 min 30 s (1 variant(s) x 3 repeats x (2 steps x 20 s + ~30 s around each))"
