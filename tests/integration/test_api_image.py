"""The API image: builds, runs read-only / non-root / no capabilities, answers and refuses right.

Builds ``rightsize/inference-api:test`` once for the module (BASE_IMAGE: $RIGHTSIZE_BASE_IMAGE,
else local/python:3.11-slim when that image exists, else the Dockerfile default).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from api.schemas import EXAMPLE_ROW as ROW  # api/ is on pytest's pythonpath (pyproject.toml)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TAG = "rightsize/inference-api:test"
PREFIX = "rs-apitest-"
JSON = {"content-type": "application/json"}
BAD_INPUTS = {  # name: (body, headers, expected status)
    "invalid json": (b'{"elevation": 2500,', JSON, 400),
    "nan": (b'{"elevation": NaN}', JSON, 422),
    "infinity": (json.dumps({**ROW, "aspect": "__INF__"}).replace('"__INF__"', "Infinity").encode(), JSON, 422),
    "array": (json.dumps([ROW]).encode(), JSON, 422),
    "unknown field": (json.dumps({**ROW, "colour": "green"}).encode(), JSON, 422),
    "wrong type": (json.dumps({**ROW, "slope": "steep"}).encode(), JSON, 422),
    "out of bounds": (json.dumps({**ROW, "hillshade_noon": 300}).encode(), JSON, 422),
    "missing field": (json.dumps({k: v for k, v in ROW.items() if k != "soil_type"}).encode(), JSON, 422),
    "text/plain": (json.dumps(ROW).encode(), {"content-type": "text/plain"}, 415),
    "no content type": (json.dumps(ROW).encode(), {}, 415),
    "over 64 KiB": (json.dumps({**ROW, "pad": "x" * 70_000}).encode(), JSON, 413),
}


def docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          timeout=timeout)


def base_image() -> str | None:
    if os.environ.get("RIGHTSIZE_BASE_IMAGE"):
        return os.environ["RIGHTSIZE_BASE_IMAGE"]
    if docker("image", "inspect", "local/python:3.11-slim", check=False).returncode == 0:
        return "local/python:3.11-slim"
    return None  # the Dockerfile's default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("Docker engine not available")
    base = base_image()
    build_args = ["--build-arg", f"BASE_IMAGE={base}"] if base else []
    result = docker("build", "-q", *build_args, "-t", TAG, str(REPO / "api"), check=False, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return TAG


@pytest.fixture(scope="module")
def containers():
    names: list[str] = []
    yield names
    for name in names:
        docker("rm", "-f", name, check=False)


def start(image: str, containers: list, *extra: str) -> tuple[str, str]:
    name = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    port = free_port()
    docker("run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges", "--memory", "256m",
           "-p", f"127.0.0.1:{port}:8000", *extra, image)
    containers.append(name)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return name, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    logs = docker("logs", name, check=False)
    pytest.fail(f"{name} never became healthy:\n{logs.stdout}\n{logs.stderr}")


@pytest.fixture(scope="module")
def api(image, containers) -> tuple[str, str]:
    return start(image, containers, "--cpus", "1.0")


def test_health_reports_the_model(api):
    body = httpx.get(f"{api[1]}/health").json()
    assert body["status"] == "ok"
    assert body["model"]["data_source"] == "synthetic"
    assert body["model"]["training_rows"] > 0 and 0 < body["model"]["holdout_accuracy"] < 1


def test_predict_and_batch(api):
    single = httpx.post(f"{api[1]}/predict", json=ROW)
    assert single.status_code == 200
    answer = single.json()
    assert answer["prediction"] in range(1, 8) and 0 < answer["confidence"] <= 1
    batch = httpx.post(f"{api[1]}/predict/batch", json={"rows": [ROW, {**ROW, "elevation": 3300}]})
    assert batch.status_code == 200
    assert len(batch.json()["predictions"]) == 2 and batch.json()["predictions"][0] == answer
    assert httpx.get(f"{api[1]}/docs").status_code == 200


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_a_readable_4xx(api, name):
    body, headers, status = BAD_INPUTS[name]
    response = httpx.post(f"{api[1]}/predict", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_runs_as_non_root_on_a_read_only_filesystem(api):
    name = api[0]
    assert docker("exec", name, "id", "-u").stdout.strip() not in ("", "0")
    assert docker("exec", name, "touch", "/app/x", check=False).returncode != 0
    assert docker("exec", name, "python", "-m", "api.healthcheck", check=False).returncode == 0
    inspect = json.loads(docker("inspect", name).stdout)[0]
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    assert inspect["Config"]["Healthcheck"]["Test"][-1] == "api.healthcheck"


def test_one_worker_per_cpu_of_the_quota(api):
    assert "1 worker(s)" in docker("logs", api[0]).stdout


def test_still_healthy_after_all_the_bad_inputs(api):
    for body, headers, _ in BAD_INPUTS.values():
        assert httpx.post(f"{api[1]}/predict", content=body, headers=headers).status_code < 500
    assert httpx.get(f"{api[1]}/health").status_code == 200
    assert httpx.post(f"{api[1]}/predict", json=ROW).status_code == 200
    inspect = json.loads(docker("inspect", api[0]).stdout)[0]
    assert inspect["State"]["Running"] and inspect["RestartCount"] == 0


def test_workers_setting_and_overload_bound_from_env(image, containers):
    name, url = start(image, containers, "--cpus", "1.0", "-e", "API_WORKERS=2",
                      "-e", "API_MAX_IN_FLIGHT=1")
    assert "2 worker(s)" in docker("logs", name).stdout
    assert httpx.post(f"{url}/predict", json=ROW).status_code == 200
