"""Preflight's generator check (rightsize/generator.py, the filter rs_generator_warning): the Locust
processes the users need against the loadgen hosts' cores, by the capacity model's own rules."""
import math
from pathlib import Path

import pytest

from rightsize import capacity, generator
from rightsize.variables import VARIABLES

ROOT = Path(__file__).resolve().parents[2]

CPU_S = 0.0003


def need(users, loadgen_cores, target_cpu=0.0, workers=None, cpu_s=CPU_S):
    return generator.generator_need(users, 2.0, cpu_s, 80, loadgen_cores, target_cpu, workers=workers)


def test_processes_follow_the_offered_rps_and_the_cpu_limit():
    n = need(10000, 8)
    assert n.rps == pytest.approx(10000 / 2.01)
    assert n.processes == math.ceil(10000 / 2.01 * CPU_S / 0.8)  # 1.87 -> 2
    assert n.processes == 2 and n.enough_cores
    assert need(100, 1).processes == 1  # never fewer than one
    assert need(10000, 8, cpu_s=0.001).processes == 7


def test_the_capacity_model_uses_these_rules():
    assert capacity.offered_rps is generator.offered_rps
    rps = generator.offered_rps(8040, 2.0)
    assert capacity.Generator(0.000398).processes_for(rps, 80) == generator.processes_for(rps, 0.000398, 80) == 2  # 1.99 -> 2
    # a process's idle work takes its share of the room under the limit
    assert capacity.Generator(0.0003, idle_cores=0.3).processes_for(rps, 80) == math.ceil(rps * 0.0003 / 0.5)
    assert capacity.Generator(0.0003, idle_cores=0.8).processes_for(rps, 80) is None


def test_the_target_sharing_a_loadgen_host_takes_its_planned_cpu_off():
    n = need(10000, 2, target_cpu=1.0)
    assert n.cores == 1.0 and n.processes == 2 and not n.enough_cores
    assert need(10000, 2).enough_cores
    assert need(1000, 2, target_cpu=4.0).cores == 0.0


def test_no_warning_when_the_loadgen_hosts_suffice():
    assert generator.generator_warning(need(10000, 4), 80) == ""
    assert generator.generator_warning(need(2000, 1), 80) == ""


def test_warning_names_users_rps_processes_and_cores():
    message = generator.generator_warning(need(10000, 1), 80)
    assert message == ("WARNING: 10,000 users ~ 4,975 RPS need ~2 Locust processes at <= 80 % of a core; "
                       "the loadgen hosts have 1 core: add loadgen hosts or expect invalid steps")
    shared = generator.generator_warning(need(10000, 2, target_cpu=2.0), 80)
    assert "the loadgen hosts have 2 cores, 0 beside the target's 2 CPUs planned on them" in shared


def test_warning_when_too_few_workers_are_started_on_enough_cores():
    message = generator.generator_warning(need(10000, 8, workers=1), 80)
    assert "need ~2 Locust processes" in message and "the run starts 1 Locust worker (locust_workers_per_host)" \
        in message
    assert generator.generator_warning(need(10000, 8, workers=2), 80) == ""


def test_planned_target_cpu_of_a_list_and_of_a_search():
    plan = [{"cpu": 0.5, "replicas": 1, "skip": ""}, {"cpu": 0.75, "replicas": 2, "skip": ""},
            {"cpu": 0.75, "replicas": 3, "skip": "cpu x replicas = 2.25 exceeds the target's 2 cores"}]
    assert generator.planned_target_cpu(plan) == 1.5
    assert generator.planned_target_cpu([]) == 0.0
    assert generator.planned_target_cpu(search={"cores": 4, "cpu_max": None, "replicas": [1, 2]}) == 4.0
    assert generator.planned_target_cpu(search={"cores": 4, "cpu_max": 1.5, "replicas": [1, 2]}) == 3.0


INVENTORY = {"target": ["box"], "loadgen": ["lg1", "lg2"]}
HOSTVARS = {"box": {"ansible_facts": {"processor_vcpus": 8}},
            "lg1": {"ansible_facts": {"processor_vcpus": 1}}, "lg2": {"ansible_facts": {"processor_vcpus": 1}}}


def settings(**extra):
    names = ("locust_wait_min", "locust_wait_max", "generator_cpu_pct_max", "generator_cpu_s_per_request")
    return {**{name: VARIABLES[name].default for name in names}, "users": 10000, **extra}


def test_from_preflight_variables_and_the_inventory():
    plan = [{"cpu": 2.0, "replicas": 1, "skip": ""}]
    two_cores = generator.preflight_warning(settings(generator_cpu_s_per_request=0.0003), INVENTORY,
                                                     HOSTVARS, plan)
    assert two_cores == ""  # ~1.9 processes on 2 loadgen cores; the target is elsewhere
    costly = generator.preflight_warning(settings(generator_cpu_s_per_request="0.0006"), INVENTORY,
                                                  HOSTVARS, plan)
    assert "need ~4 Locust processes" in costly and "have 2 cores:" in costly
    local = {"target": ["localhost"], "loadgen": ["localhost"]}
    shared = generator.preflight_warning(settings(users="10000", generator_cpu_s_per_request=0.0003),
                                                  local, {"localhost": {"ansible_facts": {"processor_vcpus": 2}}},
                                                  plan)
    assert "have 2 cores, 0 beside the target's 2 CPUs planned on them" in shared
    assert generator.preflight_warning(settings(generator_cpu_s_per_request=0.0003), INVENTORY,
                                                HOSTVARS, plan, workers="1").startswith("WARNING: 10,000 users")


def test_the_filter_is_the_function_and_preflight_shows_its_warning():
    from ansible.plugins.loader import filter_loader, init_plugin_loader

    init_plugin_loader()
    filter_loader.add_directory(str(ROOT / "filter_plugins"))
    assert filter_loader.get("rs_generator_warning").j2_function is generator.preflight_warning
    tasks = (ROOT / "roles" / "preflight" / "tasks" / "generator.yml").read_text()
    assert "rs_generator_warning" in tasks
    main = (ROOT / "roles" / "preflight" / "tasks" / "main.yml").read_text()
    assert main.index("include_tasks: loadpath.yml") < main.index("include_tasks: generator.yml")


def test_one_cpu_is_said_in_the_singular():
    assert "beside the target's 1 CPU planned on them" in generator.generator_warning(need(10000, 2, target_cpu=1.0), 80)
