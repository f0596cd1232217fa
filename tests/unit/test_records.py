"""run.json and variant.json as rightsize/records.py builds them, and the playbook tasks that call it
(templated by Ansible itself, with the project's filters, on made-up variables)."""
from pathlib import Path

import pytest
import yaml

from rightsize import records
from rightsize.plan import plan_variants

ROOT = Path(__file__).resolve().parents[2]
GROUP_VARS = yaml.safe_load((ROOT / "group_vars" / "all.yml").read_text())

# every key run.json and variant.json held before the records were built in Python
RUN_KEYS = {"run_id", "started_at", "target_users", "slo", "report", "cost", "vars", "variants", "skipped", "manifest"}
RUN_VARS_BEFORE = {"profile", "cpu", "mem", "replicas", "users", "users_step", "step_duration", "api_image",
                   "api_proxy", "api_proxy_max_in_flight", "keep", "locust_wait_min", "locust_wait_max",
                   "locust_workers_per_host", "expected_workers", "offline_images", "search"}
MANIFEST_KEYS = {"service", "load_path", "git_commit", "ansible_version", "locust_version", "hosts"}
SERVICE_KEYS = {"image", "port", "health_path", "predict_path", "payloads", "env_keys", "hardening", "loosened",
                "image_digest", "model_uri"}
VARIANT_KEYS = {"name", "dir", "kind", "cpu", "mem", "mem_bytes", "replicas", "image", "image_id", "service_health",
                "users", "users_step", "step_duration", "steps", "entrypoint", "predict_path", "health_path",
                "api_port", "payloads", "expected_workers", "loadgen_hosts", "target_host", "status", "errors",
                "started_at", "recorded_at"}

HOSTVARS = {"box": {"inventory_hostname": "box", "ansible_host": "10.0.0.1",
                    "ansible_facts": {"processor_vcpus": 2, "memtotal_mb": 4000, "kernel": "6.1",
                                      "distribution": "Debian", "distribution_version": "12",
                                      "hostname": "box"}},
            "lg1": {"inventory_hostname": "lg1", "ansible_facts": {"processor_vcpus": 4}}}
GROUPS = {"target": ["box"], "loadgen": ["box", "lg1"]}


def settings(**extra_vars):
    """The public variables as a run sees them: group_vars' values, then -e (strings)."""
    values = {name: value for name, value in GROUP_VARS.items() if not (isinstance(value, str) and "{{" in value)}
    values.update(profile="quick", users=500, users_step=250, step_duration=60, run_id="r1")
    values.update(extra_vars)
    return values


def build_run(**extra_vars):
    s = settings(**extra_vars)
    plan = plan_variants(s["variants"], s.get("cpu"), s.get("mem"), s["replicas"], cores=2)
    return records.run_record(s, run_id="r1", plan=plan, expected_workers="6", load_path=[{"replicas": 1}],
                              hostvars=HOSTVARS, groups=GROUPS, git_commit="abc123\n", ansible_version="2.19.14",
                              locust_version="2.47.0", started_at="2026-01-01T00:00:00Z")


def test_run_record_keeps_every_key_and_types_each_value_by_its_kind():
    run = build_run(cpu="0.5", mem="512M", keep="yes", locust_wait_min="0.5", capacity_predict_users="10000,20000")
    assert set(run) == RUN_KEYS
    assert set(run["manifest"]) == MANIFEST_KEYS and set(run["manifest"]["service"]) == SERVICE_KEYS
    assert RUN_VARS_BEFORE <= set(run["vars"])
    v = run["vars"]
    assert (v["cpu"], v["mem"], v["keep"], v["locust_wait_min"], v["expected_workers"]) == (0.5, "512M", True, 0.5, 6)
    assert v["capacity_predict_users"] == [10000, 20000]
    assert run["slo"] == {"failure_rate_max": 0.01, "p95_ms_max": 1000.0, "cpu_pct_max": 90.0, "mem_pct_max": 90.0}
    assert run["report"] == {"warmup_s": 10.0, "generator_cpu_pct_max": 80.0, "stability_tolerance": 0.1}
    assert run["target_users"] == 500 and run["variants"] == ["c0.5-m512M-r1"] and run["skipped"] == []
    assert run["manifest"]["git_commit"] == "abc123"
    assert run["manifest"]["load_path"] == [{"replicas": 1}]
    assert run["manifest"]["hosts"]["box"]["groups"] == ["loadgen", "target"]
    assert list(run["manifest"]["hosts"]) == ["box", "lg1"]


def test_run_record_prices_round_trip_into_the_cost_block():
    from rightsize import cost

    run = build_run(cost_cpu_hour="0.05", cost_currency="EUR")  # -e gives strings
    assert run["cost"]["cpu_hour"] == 0.05 and run["cost"]["currency"] == "EUR"
    assert run["cost"]["gb_hour"] == GROUP_VARS["cost_gb_hour"]
    prices, notes = cost.prices_from_run(run)
    assert notes == [] and prices == cost.Prices(0.05, GROUP_VARS["cost_gb_hour"], "EUR", GROUP_VARS["cost_source"])


def test_run_record_holds_what_the_capacity_model_and_the_search_read():
    run = build_run(search="true", search_cpu_max="2", search_replicas="1,3")
    v = run["vars"]
    for name in ("locust_wait_min", "locust_wait_max", "search_cpu_min", "search_cpu_max", "search_resolution",
                 "search_probe_mem", "search_max_probes", "search_mem_target_pct", "search_mem_round",
                 "search_replicas", "capacity_predict_users"):
        assert name in v, name
    assert (v["search"], v["search_cpu_max"], v["search_replicas"]) == (True, 2.0, [1, 3])
    assert v["capacity_predict_users"] == [10000] and all(isinstance(u, int) for u in v["capacity_predict_users"])
    assert build_run()["vars"]["search_cpu_max"] is None
    assert build_run(replicas="2")["vars"]["search_replicas"] == [2]  # empty: the replicas asked for


def test_run_record_lists_skipped_variants_and_never_the_environment_values():
    run = build_run(api_env={"TOKEN": "s3cret-value"}, api_user="", api_image="me/model:1")
    assert run["variants"] == ["c0.25-m256M-r1", "c0.5-m512M-r1", "c1-m1024M-r1", "c2-m2048M-r1"]
    assert run["skipped"] == [{"name": "c0.75-m768M-r3",
                               "reason": "cpu x replicas = 2.25 exceeds the target's 2 cores"}]
    service = run["manifest"]["service"]
    assert service["env_keys"] == ["TOKEN"] and "s3cret-value" not in repr(run)
    assert service["image"] == "me/model:1"
    assert service["loosened"] == ["runs as the image's own user (api_user empty)"]


VARIANT = {"name": "c0.5-m512M-r1", "cpu": 0.5, "mem": "512M", "mem_bytes": 536870912, "replicas": 1,
           "project": "rightsize-c0_5-m512m-r1", "explicit": True, "skip": ""}


def build_variant_args(**changes):
    args = dict(status="failed", errors=["c0.5-m512M-r1 on box: health timeout"], started_at="2026-01-01T00:00:00Z",
                image="rightsize/inference-api:latest", users="500", users_step="250", step_duration="60",
                steps=[250, 500], entrypoint="http://10.0.0.1:8000", predict_path="/predict", health_path="/health",
                api_port="8000", payloads="", expected_workers="2\n", loadgen_hosts=["box"], target_host="box")
    args.update(changes)
    return args


def build_variant(**changes):
    return records.variant_record(VARIANT, **build_variant_args(**changes))


def test_variant_record_keeps_every_key_and_carries_the_errors_as_a_list():
    record = build_variant()
    assert VARIANT_KEYS <= set(record) and set(record) - VARIANT_KEYS == {"ended_at", "shape", "ramp_s", "hold_s", "warmup_s", "repeat"}
    assert record["errors"] == ["c0.5-m512M-r1 on box: health timeout"] and record["status"] == "failed"
    assert (record["users"], record["steps"], record["expected_workers"], record["api_port"]) == (500, [250, 500], 2, 8000)
    assert record["dir"] == "c0.5-m512M-r1" and record["kind"] == "variant"
    assert record["payloads"]["source"] == "generated Covertype rows"
    assert record["ended_at"] is None


def test_variant_record_stamps_ended_at_once_the_variant_is_gone():
    record = build_variant(status="done", errors=[], ended=True)
    assert record["ended_at"] == record["recorded_at"] and record["ended_at"].endswith("Z")
    probe = records.variant_record({**VARIANT, "dir": "probe-01-c0.5-m2048M-r1", "kind": "probe"},
                                   status="running", started_at="t", image="i", users=1, users_step=1,
                                   step_duration=1, steps=[1], entrypoint="e", predict_path="/p", health_path="/h",
                                   api_port=1)
    assert (probe["dir"], probe["kind"], probe["errors"], probe["ended_at"]) == ("probe-01-c0.5-m2048M-r1", "probe", [], None)


# ---------------------------------------------------------------- the tasks, templated by Ansible


@pytest.fixture(scope="module")
def template():
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import filter_loader, init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader()
    filter_loader.add_directory(str(ROOT / "filter_plugins"))

    def render(text, variables):  # the task's text is trusted as the playbook's own
        return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(text))
    return render


def _task(path, name):
    return next(t for t in yaml.safe_load((ROOT / path).read_text()) if t["name"].startswith(name))


def test_record_yml_writes_the_record_variant_record_builds(template):
    import json

    task = _task("roles/loadtest/tasks/record.yml", "Write variant.json")
    variables = {
        "loadtest_variant": VARIANT, "loadtest_status": "failed", "loadtest_started_at": "2026-01-01T00:00:00Z",
        "loadtest_variant_errors": ["c0.5-m512M-r1 on box: health timeout"], "loadtest_ended": True,
        "loadtest_image": "rightsize/inference-api:latest", "loadtest_users": "500", "loadtest_users_step": "250",
        "loadtest_step_duration": "60", "loadtest_steps": [250, 500], "loadtest_entry_url": "http://10.0.0.1:8000",
        "loadtest_predict_path": "/predict", "loadtest_health_path": "/health", "loadtest_api_port": "8000",
        "loadtest_payloads": "", "loadtest_expected_workers": "2", "groups": GROUPS,
        "hostvars": {"box": {"inference_api_image_id": "sha256:ab"}},
    }
    written = json.loads(template(task["ansible.builtin.copy"]["content"], variables))
    expected = build_variant(image_id="sha256:ab", loadgen_hosts=["box", "lg1"], ended=True)
    for key in ("recorded_at", "ended_at"):
        assert written.pop(key).endswith("Z")
        expected.pop(key)
    assert written == expected


def test_preflight_describes_the_run_with_run_record(template):
    task = _task("roles/preflight/tasks/main.yml", "Describe the run for run.json")
    s = settings(cpu="0.5", mem="512M")
    plan = plan_variants(s["variants"], "0.5", "512M", 1, cores=2)
    variables = {**s, "inventory_hostname": "box", "hostvars": {**HOSTVARS, "box": {**HOSTVARS["box"], **s}},
                 "groups": GROUPS, "preflight_run_id": "r1", "preflight_plan": plan,
                 "preflight_expected_workers": 6, "preflight_load_path": [], "rightsize_root": str(ROOT),
                 "ansible_version": {"full": "2.19.14"}, "preflight_locust_version": "2.47.0"}
    run = template(task["ansible.builtin.set_fact"]["preflight_run_record"], variables)
    assert set(run) == RUN_KEYS and run["variants"] == ["c0.5-m512M-r1"]
    assert run["vars"]["cpu"] == 0.5 and run["manifest"]["git_commit"]


def test_a_hold_probe_records_its_shape():
    record = records.variant_record({**VARIANT, "shape": "hold", "ramp_s": 30, "hold_s": 20, "warmup_s": 5},
                                    **build_variant_args())
    assert (record["shape"], record["ramp_s"], record["hold_s"], record["warmup_s"]) == ("hold", 30, 20, 5)
    assert build_variant()["shape"] == "ramp"
