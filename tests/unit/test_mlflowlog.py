"""The pure parts of the MLflow results log and model source (rightsize/mlflowlog.py) and their
preflight checks; the client calls are tested against a real server in
tests/integration/test_mlflow_stack.py."""
import pytest

from rightsize import mlflowlog
from rightsize.checks import mlflow_errors, variable_error

STEPS = [
    {"users": 100, "rps": 49.5, "p50_ms": 2.0, "p95_ms": 3.0, "p99_ms": 5.0, "failure_rate": 0.0,
     "cpu_pct": 20.5, "cpu_pct_peak": 30.0, "mem_pct": 33.1, "mem_pct_peak": 34.0,
     "generator_cpu_pct": 4.2, "valid": True, "slo_pass": True},
    {"users": 200, "rps": 99.0, "p50_ms": 2.0, "p95_ms": None, "p99_ms": 7.0, "failure_rate": None,
     "cpu_pct": 41.0, "cpu_pct_peak": 50.0, "mem_pct": 34.0, "mem_pct_peak": 35.0,
     "generator_cpu_pct": 8.0, "valid": False, "slo_pass": None},
]
ENTRY = {"key": "c0.5-m512M-r1", "kind": "variant", "name": "c0.5-m512M-r1", "cpu": 0.5, "mem": "512M",
         "replicas": 1, "image": "rightsize/inference-api:latest", "image_id": "sha256:abc",
         "model": {"version": "covertype-rf-1.0.0+123", "registered_name": "covertype", "registered_version": "3"},
         "verdict": "invalid", "reasons": ["200 users: unstable"], "steps": STEPS}
RUN_VARS = {"users": 200, "users_step": 100, "step_duration": 20, "profile": "smoke"}


@pytest.mark.parametrize("uri, parts", [
    ("models:/covertype/1", {"name": "covertype", "version": "1", "alias": None}),
    ("models:/covertype@champion", {"name": "covertype", "version": None, "alias": "champion"}),
])
def test_parse_model_uri(uri, parts):
    assert mlflowlog.parse_model_uri(uri) == parts


@pytest.mark.parametrize("uri", ["covertype", "models:/covertype", "models:/covertype/latest", "runs:/x/model", ""])
def test_parse_model_uri_refuses(uri):
    with pytest.raises(mlflowlog.MlflowError, match="models:/NAME/VERSION"):
        mlflowlog.parse_model_uri(uri)


def test_step_metrics_use_users_as_step_and_skip_unknown_figures():
    metrics = mlflowlog.step_metrics(STEPS)
    assert ("rps", 49.5, 100) in metrics and ("rps", 99.0, 200) in metrics
    assert ("valid", 1.0, 100) in metrics and ("valid", 0.0, 200) in metrics
    keys_at_200 = {k for k, _, step in metrics if step == 200}
    assert "p95_ms" not in keys_at_200 and "failure_rate" not in keys_at_200 and "slo_pass" not in keys_at_200
    assert {k for k, _, step in metrics if step == 100} == set(mlflowlog.STEP_METRICS)


def test_child_record_params_and_tags():
    record = mlflowlog.child_record(ENTRY, RUN_VARS)
    assert record["name"] == "c0.5-m512M-r1"
    params = record["params"]
    assert (params["cpu"], params["mem"], params["replicas"], params["users"], params["profile"]) == \
        ("0.5", "512M", "1", "200", "smoke")
    assert params["image_digest"] == "sha256:abc"
    assert params["model_registered"] == "covertype/3" and params["model_version"] == "covertype-rf-1.0.0+123"
    tags = record["tags"]
    assert tags["verdict"] == "invalid" and tags["valid"] == "false"  # the target step (200) is invalid
    assert tags[mlflowlog.TAG_KEY] == "c0.5-m512M-r1" and tags[mlflowlog.TAG_KIND] == "variant"
    assert tags["reasons"] == "200 users: unstable"


def test_child_record_without_registered_model_or_digest():
    entry = dict(ENTRY, model={}, image_id=None, steps=STEPS[:1], verdict="pass", reasons=[])
    record = mlflowlog.child_record(entry, dict(RUN_VARS, users=100))
    assert record["params"]["image_digest"] == "unknown"
    assert record["params"]["model_registered"].startswith("none")
    assert record["tags"]["valid"] == "true" and "reasons" not in record["tags"]


def test_parent_record():
    run = {"vars": dict(RUN_VARS, search=False), "manifest": {"git_commit": "abc123"}}
    record = mlflowlog.parent_record("20261202T010000Z", run, {"target_users": 200, "valid": True,
                                                               "minimal": {"name": "c0.5-m512M-r1"}})
    assert record["tags"][mlflowlog.TAG_RUN_ID] == "20261202T010000Z"
    assert record["tags"]["minimal"] == "c0.5-m512M-r1" and record["tags"]["valid"] == "true"
    assert record["params"]["target_users"] == "200" and record["params"]["profile"] == "smoke"


def test_check_server_names_an_unreachable_server():
    with pytest.raises(mlflowlog.MlflowError, match=r"http://127\.0\.0\.1:9 does not answer"):
        mlflowlog.check_server("http://127.0.0.1:9", timeout=2)


def test_preflight_checks_of_the_mlflow_variables():
    assert variable_error("mlflow_tracking_uri", "") is None
    assert variable_error("mlflow_tracking_uri", "http://mlflow.internal:5000") is None
    assert "mlflow_tracking_uri='mlflow:5000'" in variable_error("mlflow_tracking_uri", "mlflow:5000")
    assert variable_error("api_model_uri", "models:/covertype@champion") is None
    assert "api_model_uri='covertype/1'" in variable_error("api_model_uri", "covertype/1")
    model = {"api_model_uri": "models:/covertype/1", "mlflow_tracking_uri": ""}
    assert mlflow_errors(model, {"target": ["box"]})[0].startswith(
        "api_model_uri='models:/covertype/1': needs a tracking server")
    assert mlflow_errors(model, {"mlflow": ["box"]}) == []
    assert mlflow_errors(dict(model, mlflow_tracking_uri="http://h:5000"), {}) == []
    assert "api_image" in mlflow_errors(dict(model, api_image="team/model:1"), {"mlflow": ["box"]})[0]
    assert mlflow_errors({"api_model_uri": ""}, {}) == []


def test_cli_check_exits_2_naming_the_server(capsys):
    assert mlflowlog.main(["check", "http://127.0.0.1:9"]) == 2
    assert "does not answer" in capsys.readouterr().err


def test_group_uri_is_the_mlflow_hosts_inventory_address():
    hostvars = {"box": {"ansible_host": "10.1.2.3"}, "v6": {"ansible_host": "fd00::5"}, "bare": {}}
    assert mlflowlog.group_uri({"mlflow": ["box"]}, hostvars, 5000) == "http://10.1.2.3:5000"
    assert mlflowlog.group_uri({"mlflow": ["v6"]}, hostvars, "5001") == "http://[fd00::5]:5001"
    assert mlflowlog.group_uri({"mlflow": ["bare"]}, hostvars, 5000) == "http://bare:5000"
    assert mlflowlog.group_uri({"target": ["box"]}, hostvars, 5000) == ""
    assert mlflowlog.group_uri({"mlflow": []}, hostvars, 5000) == ""
