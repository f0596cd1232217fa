"""The pipeline across hosts: the target on the box, Locust master and workers on two SSH hosts."""
import json

import pandas as pd
import pytest

# tests/integration is on pytest's pythonpath (pyproject.toml)
from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary

pytestmark = [pytest.mark.lab, pytest.mark.integration, pytest.mark.usefixtures("lab_provisioned")]


@pytest.fixture(scope="module")
def lab_sweep(lab, tmp_path_factory):
    results = tmp_path_factory.mktemp("lab-results")
    result = ansible_playbook(
        "sweep.yml", "-e", "cpu=0.5 mem=512M users=400 users_step=200 step_duration=20",
        "-e", f"results_dir={results} run_id=it-lab", inventory=lab.inventory)
    return result, results / "it-lab" / "c0.5-m512M-r1", lab


def test_lab_sweep_exits_zero(lab_sweep):
    result, _, _ = lab_sweep
    assert result.returncode == 0, result.stdout[-4000:]


def test_every_loadgen_host_sent_load(lab_sweep):
    _, variant, lab = lab_sweep
    for host in lab.hosts:
        files = list((variant / "latency").glob(f"{host.name}-*.csv"))
        assert len(files) == 2, f"{host.name}: one latency file per worker (2 cores)"
        assert sum(pd.read_csv(path)["count"].sum() for path in files) > 100, host.name


def test_every_loadgen_host_sampled_its_cpu(lab_sweep):
    _, variant, lab = lab_sweep
    for host in lab.hosts:
        samples = pd.read_csv(variant / "loadgen" / f"{host.name}.csv")
        assert set(samples["host"]) == {host.name}
        assert (samples["role"] == "worker").any() and (samples["role"] == "host").any()
        assert samples["ts"].max() - samples["ts"].min() >= 30
    master = json.loads((variant / "master.json").read_text())
    assert master["hosts_seen"] == [host.name for host in lab.hosts]
    assert master["min_workers"] == master["expected_workers"] == 2 * len(lab.hosts)


def test_lab_summary_judges_the_generators(lab_sweep):
    _, variant, _ = lab_sweep
    summary = json.loads((variant.parent / "summary.json").read_text())
    validate_summary(summary)
    for step in summary["variants"][0]["steps"]:
        assert step["generator_cpu_pct"] is not None and step["generator_cpu_pct"] > 0
        assert step["loadgen_host_cpu_pct"] is not None
    assert rightsize_containers() == []


def test_master_listens_only_on_the_worker_address(lab):
    """The master binds the address workers use; nothing of rightsize listens on 0.0.0.0:5557."""
    host = lab.hosts[0]
    listening = lab.ssh(host, "ss -ltnH 'sport = :5557' || true").stdout
    assert "0.0.0.0:5557" not in listening and "*:5557" not in listening


def test_unreachable_loadgen_host_aborts_before_anything_is_deployed(lab, tmp_path):
    """A loadgen host that does not answer SSH (no host at .99 of the lab's own subnet)."""
    import yaml

    inventory = yaml.safe_load(lab.inventory.read_text())
    ghost = dict(inventory["all"]["children"]["loadgen"]["hosts"]["rzlg1"], ansible_host="10.88.0.99")
    ghost["ansible_ssh_common_args"] += " -o ConnectTimeout=3"
    inventory["all"]["children"]["loadgen"]["hosts"]["rzlg9"] = ghost
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    result = ansible_playbook("sweep.yml", "-e", "cpu=0.5 mem=512M users=100 users_step=100 step_duration=15",
                              "-e", f"results_dir={tmp_path / 'results'}", inventory=path)
    assert result.returncode != 0
    assert "rzlg9" in result.stdout and "UNREACHABLE" in result.stdout
    assert "Deploy the variant" not in result.stdout
    assert not (tmp_path / "results").exists()
    assert rightsize_containers() == []
