"""The pure helpers behind the playbooks: names, sizes, plans and preflight messages."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "filter_plugins"))
import rightsize  # noqa: E402

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
    assert rightsize.variant_name(cpu, mem, replicas) == name


@pytest.mark.parametrize("size, expected", [("512M", 512 << 20), ("1g", 1 << 30), ("1.5G", 3 << 29),
                                            ("256mb", 256 << 20), ("100", 100)])
def test_docker_bytes(size, expected):
    assert rightsize.docker_bytes(size) == expected


@pytest.mark.parametrize("size", ["1X", "0", "", "-1G", "abc", "1.2.3M"])
def test_docker_bytes_rejects(size):
    with pytest.raises(ValueError):
        rightsize.docker_bytes(size)


def test_plan_of_the_list_skips_variants_larger_than_the_target():
    plan = rightsize.plan_variants([{"cpu": 1.0, "mem": "1G"}, {"cpu": 0.75, "mem": "768M", "replicas": 3}],
                                   cores=2)
    assert [item["name"] for item in plan] == ["c1-m1024M-r1", "c0.75-m768M-r3"]
    assert plan[0]["skip"] == ""
    assert "2.25 exceeds the target's 2 cores" in plan[1]["skip"]
    assert plan[1]["project"] == "rightsize-c0_75-m768m-r3"


def test_explicit_variant_replaces_the_list():
    plan = rightsize.plan_variants([{"cpu": 1.0, "mem": "1G"}], cpu="0.5", mem="512M", replicas=2, cores=2)
    assert [(item["name"], item["explicit"]) for item in plan] == [("c0.5-m512M-r2", True)]


def test_preflight_accepts_the_defaults():
    assert rightsize.preflight_errors(GROUP_VARS) == []


@pytest.mark.parametrize("override, named", [
    ({"cpu": "-1", "mem": "512M"}, "cpu="),
    ({"cpu": "abc", "mem": "512M"}, "cpu="),
    ({"cpu": "0.5", "mem": "1X"}, "mem="),
    ({"cpu": "0.5", "mem": "0"}, "mem="),
    ({"cpu": "0.5", "mem": "512M", "replicas": "0"}, "replicas="),
    ({"cpu": "0.5"}, "cpu and mem"),
    ({"users_step": "0"}, "users_step="),
    ({"users_step": 600}, "users_step=600 is larger than users=500"),
    ({"users": "many"}, "users="),
    ({"step_duration": 5}, "step_duration=5"),
    ({"profile": "huge"}, "profile='huge': expected one of quick"),
    ({"run_id": "../x"}, "run_id="),
    ({"keep": "maybe"}, "keep="),
    ({"variants": [{"cpu": 0, "mem": "1G"}]}, "variants[0]"),
    ({"api_proxy": "sometimes"}, "api_proxy='sometimes': expected auto"),
    ({"api_proxy_max_in_flight": "-1"}, "api_proxy_max_in_flight="),
    ({"api_proxy_max_in_flight": "lots"}, "api_proxy_max_in_flight="),
])
def test_preflight_names_the_bad_variable(override, named):
    errors = rightsize.preflight_errors({**GROUP_VARS, **override})
    assert errors and any(named in message for message in errors), errors


def test_steps_planned_end_at_users():
    assert rightsize.steps_planned(600, 300) == [300, 600]
    assert rightsize.steps_planned(500, 300) == [300, 500]
    assert rightsize.steps_planned(10000, 500)[-1] == 10000 and len(rightsize.steps_planned(10000, 500)) == 20


def test_container_summary_reads_oom_and_restarts():
    summary = rightsize.container_summary({
        "Name": "/p-api-1", "Id": "abc", "RestartCount": 2,
        "State": {"OOMKilled": True, "Status": "running", "ExitCode": 0, "StartedAt": "t"},
        "Config": {"Labels": {"com.docker.compose.service": "api"}}})
    assert summary == {"name": "p-api-1", "id": "abc", "service": "api", "oom_killed": True,
                       "restart_count": 2, "status": "running", "exit_code": 0, "started_at": "t"}


def test_missing_worker_hosts_matches_hostnames():
    hostvars = {"lg1": {"ansible_facts": {"hostname": "box-1"}}, "lg2": {"ansible_facts": {"hostname": "box-2"}}}
    assert rightsize.missing_worker_hosts(["lg1", "lg2"], hostvars, ["box-1"]) == ["lg2"]


def test_expected_workers_per_host_or_one_per_core():
    hosts = [{"ansible_facts": {"processor_vcpus": 2}}, {"ansible_facts": {"processor_vcpus": 4}}, {}]
    assert rightsize.expected_workers(hosts, 0) == 2 + 4 + 1
    assert rightsize.expected_workers(hosts, "3") == 9
