"""MLflow as the seed's optional stack, for real: the mlflow role deploys MariaDB + the tracking
server (images built from the local bases) on the `mlflow` group's host; api/train.py --register
logs and registers a model; one short sweep serves that registered version (api_model_uri) and
logs itself to MLflow from the report; a recorded run is logged afterwards with report.py --mlflow;
everything is read back through MLflow's own client. Bad input fails before any load."""
import json
import socket
import subprocess
import sys
import urllib.request

import pytest

from playbooks_kit import ROOT, ansible_playbook, recap

pytestmark = pytest.mark.integration

PREFIX = "rsmlfw-it"
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def mlflow_stack(docker_ready, tmp_path_factory):
    """The role deployed once for this module (group mlflow = localhost), removed with its volumes after."""
    folder = tmp_path_factory.mktemp(PREFIX)
    inventory = folder / "inventory.yml"
    inventory.write_text((ROOT / "inventory" / "mlflow.yml.example").read_text())
    port = free_port()
    extra = ["-e", f"mlflow_port={port} mlflow_project={PREFIX} mlflow_dir={folder / 'mlflow'}"]
    first = ansible_playbook("playbooks/mlflow.yml", *extra, inventory=inventory, provision=True, timeout=1500)
    try:
        assert first.returncode == 0, first.stdout[-4000:]
        yield {"uri": f"http://127.0.0.1:{port}", "inventory": inventory, "extra": extra, "first": first,
               "folder": folder}
    finally:
        ansible_playbook("playbooks/mlflow.yml", *extra, "-e", "mlflow_state=absent mlflow_remove_volumes=true",
                         inventory=inventory, provision=True)


@pytest.fixture(scope="module")
def registered(mlflow_stack, tmp_path_factory):
    """A small model trained here and registered as covertype (a new version)."""
    out = tmp_path_factory.mktemp("model") / "model"
    result = subprocess.run(
        [PY, "-m", "api.train", "--out", str(out), "--rows", "6000", "--trees", "5", "--max-depth", "8",
         "--register", "--tracking-uri", mlflow_stack["uri"], "--alias", "it"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def api_image_here(docker_ready):
    """The API image built from this checkout's api/ (its /health names a registered version), under
    a tag of this module's own; removed after."""
    tag = f"{PREFIX}/inference-api:it"
    local = subprocess.run(["docker", "image", "inspect", "local/python:3.11-slim"], capture_output=True)
    base = "local/python:3.11-slim" if local.returncode == 0 else "python:3.11-slim"
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(ROOT / "api")],
                   check=True, capture_output=True, timeout=900)
    yield tag
    subprocess.run(["docker", "rmi", tag], capture_output=True)


def test_second_deploy_changes_nothing(mlflow_stack):
    again = ansible_playbook("playbooks/mlflow.yml", *mlflow_stack["extra"], inventory=mlflow_stack["inventory"],
                             provision=True)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["localhost"]["changed"] == 0, again.stdout[-3000:]


def test_server_uses_mariadb_and_serves_artifacts(mlflow_stack):
    out = subprocess.run(["docker", "exec", f"{PREFIX}-server-1", "python", "-c",
                          "print(open('/proc/1/cmdline').read().replace(chr(0), ' '))"],
                         capture_output=True, text=True, timeout=60)
    cmdline = out.stdout
    assert "mysql+pymysql://mlflow:" in cmdline and "@db:3306/mlflow" in cmdline, out
    assert "--serve-artifacts" in cmdline
    tables = subprocess.run(["docker", "exec", f"{PREFIX}-db-1", "mariadb", "-N", "-e",
                             "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='mlflow'"],
                            capture_output=True, text=True, timeout=60)
    assert tables.returncode == 0 and int(tables.stdout.strip()) > 10, tables  # MLflow's schema is in MariaDB


def test_train_register_logs_and_registers_the_model(mlflow_stack, registered):
    c = client(mlflow_stack["uri"])
    version = c.get_model_version("covertype", registered["registered"]["version"])
    assert c.get_model_version_by_alias("covertype", "it").version == version.version
    run = c.get_run(version.run_id)
    assert run.data.metrics["accuracy"] == pytest.approx(registered["holdout_accuracy"])
    assert run.data.params["data_source"] == registered["data_source"] == "synthetic"
    assert int(run.data.params["rows"]) == registered["training_rows"] + registered["test_rows"] == 6000
    files = {f.path for f in c.list_artifacts(version.run_id, "model")}
    assert {"model/forest.npz", "model/metadata.json"} <= files


def test_sweep_serves_the_registered_version_and_logs_itself(mlflow_stack, registered, api_image_here, tmp_path):
    """One short real sweep: api_model_uri (an alias) deploys that version read-only; the report task
    logs the run: parent + child, params, metric history per step (step = users), artifacts."""
    uri, number = mlflow_stack["uri"], registered["registered"]["version"]
    port = free_port()
    result = ansible_playbook(
        "sweep.yml", "-e", f"mlflow_tracking_uri={uri} api_model_uri=models:/covertype@it entry_port={port}",
        "-e", "cpu=0.5 mem=512M users=20 users_step=10 step_duration=15 report_warmup_s=5",
        "-e", f"results_dir={tmp_path} run_id={PREFIX}-sweep keep=true inference_api_built_image={api_image_here}",
        inventory=mlflow_stack["inventory"])
    try:
        assert result.returncode == 0, result.stdout[-5000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            health = json.loads(answer.read())
        assert health["model"]["registered_name"] == "covertype"
        assert health["model"]["registered_version"] == number
        assert health["model"]["version"] == registered["version"]
        mounts = subprocess.run(["docker", "ps", "-q", "--filter", "label=io.rightsize.role=api"],
                                capture_output=True, text=True).stdout.split()
        inspect = json.loads(subprocess.run(["docker", "inspect", *mounts], capture_output=True, text=True).stdout)
        assert any(m["Destination"] == "/models/registered" and not m["RW"] for m in inspect[0]["Mounts"])
    finally:
        ansible_playbook("teardown.yml", "-e", f"results_dir={tmp_path}", inventory=mlflow_stack["inventory"])
    run = tmp_path / f"{PREFIX}-sweep"
    variant = json.loads((run / "c0.5-m512M-r1" / "variant.json").read_text())
    assert variant["service_health"]["model"]["registered_version"] == number
    assert json.loads((run / "run.json").read_text())["manifest"]["service"]["model_uri"] == "models:/covertype@it"
    assert f"MLflow covertype v{number}" in (run / "consolidated_report.md").read_text()

    c = client(uri)
    experiment = c.get_experiment_by_name("rightsize")
    parents = c.search_runs([experiment.experiment_id], f"tags.`rightsize.run_id` = '{PREFIX}-sweep' "
                                                        "and tags.`rightsize.kind` = 'parent'")
    assert len(parents) == 1
    children = c.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")
    assert [r.data.tags["rightsize.key"] for r in children] == ["c0.5-m512M-r1"]
    child = children[0]
    assert child.data.params["model_registered"] == f"covertype/{number}"
    assert child.data.params["cpu"] == "0.5" and child.data.params["users"] == "20"
    assert child.data.tags["verdict"] in ("pass", "fail", "invalid")
    rps = c.get_metric_history(child.info.run_id, "rps")
    assert sorted(m.step for m in rps) == [10, 20] and all(m.value > 0 for m in rps)
    summary = json.loads((run / "summary.json").read_text())
    assert {m.step: m.value for m in rps} == pytest.approx(
        {st["users"]: st["rps"] for st in summary["variants"][0]["steps"]})
    files = {f.path for f in c.list_artifacts(parents[0].info.run_id)}
    assert {"consolidated_report.md", "summary.json", "run.json", "plots"} <= files


def test_report_logs_a_recorded_run_afterwards_and_again(mlflow_stack, tmp_path):
    """python collect/report.py RUN --mlflow URI on a run recorded without MLflow; logging it twice
    leaves one child per variant folder (the second replaces the first)."""
    from collect.synth import StepSpec, VariantSpec, write_run

    run = tmp_path / f"{PREFIX}-recorded"
    names = ["c0.25-m256M-r1", "c0.5-m512M-r1"]
    write_run(run, [VariantSpec(n, [StepSpec(100), StepSpec(200)]) for n in names], target_users=200,
              run_id=run.name)
    uri = mlflow_stack["uri"]
    for _ in range(2):
        done = subprocess.run([PY, "collect/report.py", str(run), "--mlflow", uri, "--mlflow-experiment", PREFIX],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "(2 child runs)" in done.stdout
    c = client(uri)
    experiment = c.get_experiment_by_name(PREFIX)
    parents = c.search_runs([experiment.experiment_id], "tags.`rightsize.kind` = 'parent'")
    assert len(parents) == 1 and parents[0].data.tags["rightsize.run_id"] == run.name
    children = c.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")
    assert sorted(r.data.tags["rightsize.key"] for r in children) == names
    summary = {v["name"]: v for v in json.loads((run / "summary.json").read_text())["variants"]}
    for child in children:
        name = child.data.tags["rightsize.key"]
        assert child.data.tags["verdict"] == summary[name]["verdict"]
        for key in ("p95_ms", "cpu_pct", "generator_cpu_pct"):
            history = {m.step: m.value for m in c.get_metric_history(child.info.run_id, key)}
            assert history == pytest.approx({st["users"]: st[key] for st in summary[name]["steps"]
                                             if st[key] is not None}), (name, key)
        assert any(f.path.startswith("plots/") for f in c.list_artifacts(child.info.run_id, "plots"))


def test_a_server_that_fails_loses_nothing(tmp_path):
    from collect.synth import StepSpec, VariantSpec, write_run

    run = tmp_path / "rsmlfw-down"
    write_run(run, [VariantSpec("c0.5-m512M-r1", [StepSpec(100)])], target_users=100, run_id=run.name)
    done = subprocess.run([PY, "collect/report.py", str(run), "--mlflow", "http://127.0.0.1:9"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 5, done.stderr
    assert "http://127.0.0.1:9 does not answer" in done.stderr and "log it later" in done.stderr
    assert (run / "summary.json").is_file() and (run / "consolidated_report.md").is_file()


def test_unreachable_tracking_server_fails_in_preflight(tmp_path):
    result = ansible_playbook("sweep.yml", "-e", "mlflow_tracking_uri=http://127.0.0.1:9 cpu=0.5 mem=512M",
                              "-e", f"results_dir={tmp_path} run_id={PREFIX}-down")
    assert result.returncode != 0
    assert "MLflow tracking server http://127.0.0.1:9 does not answer" in result.stdout
    assert "Bring the variant up" not in result.stdout and not (tmp_path / f"{PREFIX}-down").exists()


def test_a_model_uri_that_does_not_exist_fails_before_any_load(mlflow_stack, registered, tmp_path):
    result = ansible_playbook(
        "sweep.yml", "-e", f"mlflow_tracking_uri={mlflow_stack['uri']} api_model_uri=models:/covertype/999",
        "-e", f"cpu=0.5 mem=512M results_dir={tmp_path} run_id={PREFIX}-nomodel")
    assert result.returncode != 0
    assert "api_model_uri='models:/covertype/999': no such registered model version" in result.stdout
    assert "Bring the variant up" not in result.stdout and not (tmp_path / f"{PREFIX}-nomodel").exists()
