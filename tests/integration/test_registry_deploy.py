"""The API image through a real registry (README "Using a registry"): pushed under its content tag,
pulled by digest, recorded in run.json; wrong credentials or no registry stop the run in preflight
naming the registry; the password reaches no output, result or file left on the target."""
import json
import platform
import re
import subprocess
from pathlib import Path

import pytest

from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary
from registry_kit import free_port

from rightsize.registry import architecture

pytestmark = pytest.mark.integration

REPOSITORY = "rightsize/inference-api"
VARIANT = "c0.25-m256M-r1"
DOCKER_CONFIGS = Path("/var/tmp/rightsize/docker-config")


def login_vars(registry):
    return f"api_registry_username={registry.username}"


def container_image():
    [container] = rightsize_containers()
    inspected = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True, text=True,
                                          check=True).stdout)[0]
    return inspected["Config"]["Image"]


def files_holding(root: Path, secret: str):
    return [str(path) for path in root.rglob("*") if path.is_file() and secret in path.read_text(errors="ignore")]


def test_push_then_pull_by_digest_and_record_it(image_registry, tmp_path):
    registry = image_registry
    env = {"RIGHTSIZE_REGISTRY_PASSWORD": registry.password}  # the password from the environment
    try:
        pushed = ansible_playbook("sweep.yml", "--tags", "deploy", "-e",
                                  f"cpu=0.25 mem=256M api_registry={registry.host} {login_vars(registry)}", env=env)
        assert pushed.returncode == 0, pushed.stdout[-4000:]
        status, _, tags = registry.get(f"{REPOSITORY}/tags/list")
        assert status == 200, status
        [tag] = tags["tags"]
        assert re.fullmatch(r"[0-9a-f]{12}-" + architecture(platform.machine()), tag), tag
        digest = registry.digest_of(REPOSITORY, tag)
        assert digest and digest.startswith("sha256:")
        pinned = f"{registry.host}/{REPOSITORY}@{digest}"
        assert container_image() == pinned, "the target runs the pushed image by its digest"

        # api_image naming that image in the registry: pulled by digest, through a short sweep
        results = tmp_path / "results"
        swept = ansible_playbook(
            "sweep.yml", "-e", f"api_image={registry.host}/{REPOSITORY}:{tag} {login_vars(registry)}",
            "-e", f"cpu=0.25 mem=256M users=10 users_step=10 step_duration=10 report_warmup_s=2 "
                  f"results_dir={results} run_id=it-registry", env=env)
        assert swept.returncode == 0, swept.stdout[-4000:]
        run = results / "it-registry"
        service = json.loads((run / "run.json").read_text())["manifest"]["service"]
        assert service["image_digest"] == pinned and service["image"] == f"{registry.host}/{REPOSITORY}:{tag}"
        assert json.loads((run / VARIANT / "variant.json").read_text())["image"] == service["image"]
        validate_summary(json.loads((run / "summary.json").read_text()))
        assert pinned in (run / "consolidated_report.md").read_text()

        for result in (pushed, swept):
            assert registry.password not in result.stdout
        assert files_holding(results, registry.password) == []
        assert files_holding(Path("/opt/rightsize/deploy"), registry.password) == []
        assert not DOCKER_CONFIGS.exists() or not any(DOCKER_CONFIGS.iterdir()), "the run's login is removed"
    finally:
        down = ansible_playbook("teardown.yml")
    assert down.returncode == 0, down.stdout[-3000:]
    assert rightsize_containers() == []


def test_wrong_password_stops_in_preflight_naming_the_registry(image_registry, tmp_path):
    registry = image_registry
    wrong = "not-" + registry.password
    result = ansible_playbook("sweep.yml", "-e", f"cpu=0.25 mem=256M api_registry={registry.host} "
                              f"{login_vars(registry)} api_registry_password={wrong} results_dir={tmp_path}")
    assert result.returncode != 0
    assert f"registry {registry.host} answered 401 Unauthorized" in result.stdout, result.stdout[-3000:]
    assert wrong not in result.stdout and registry.password not in result.stdout
    assert "Deploy the variant" not in result.stdout and rightsize_containers() == []
    assert not any(tmp_path.iterdir()), "nothing measured, nothing written"


def test_unreachable_registry_of_api_image_is_named_in_preflight(docker_ready):
    host = f"127.0.0.1:{free_port()}"
    result = ansible_playbook("sweep.yml", "--tags", "deploy", "-e", f"cpu=0.25 mem=256M api_image={host}/team/model:1")
    assert result.returncode != 0
    assert f"registry {host} is unreachable" in result.stdout, result.stdout[-3000:]
    assert rightsize_containers() == []
