"""Overload: the API driven at 5x its capacity answers only 200 or 503, sheds most of it, recovers.

Traffic goes only to 127.0.0.1; every load is bounded in time (bench/openloop.py --duration).
"""
import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from playbooks_kit import ROOT

pytestmark = pytest.mark.integration
IMAGE = "rightsize/inference-api:latest"   # built by `make provision` (make test does it first)
sys.path.insert(0, str(ROOT))
from api.schemas import EXAMPLE_ROW  # noqa: E402


def openloop(url, rate, duration, body_file, connections=256):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "openloop.py"), "--url", url, "--rate", str(rate),
                          "--duration", str(duration), "--connections", str(connections),
                          "--body-file", str(body_file)],
                         capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    return json.loads(out)


@pytest.fixture
def small_api(docker_ready, tmp_path):
    name = f"rs-overload-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--cpus", "0.1", "--memory", "256m",
                    "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--user", "10001:10001",
                    "-e", "API_WORKERS=1", "-e", "API_MAX_IN_FLIGHT=16", "-p", "127.0.0.1::8000", IMAGE],
                   check=True, capture_output=True)
    try:
        port = subprocess.run(["docker", "port", name, "8000/tcp"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        body = tmp_path / "row.json"
        body.write_text(json.dumps(EXAMPLE_ROW))
        yield url, body
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_five_times_capacity_gets_only_200_and_503_then_recovers(small_api):
    url, body = small_api
    openloop(f"{url}/predict", 100, 2, body, connections=32)  # warm-up: first requests of a cold worker
    calm = openloop(f"{url}/predict", 200, 3, body, connections=32)
    assert calm["statuses"].get("200", 0) >= 0.99 * calm["sent"], calm
    # capacity: the most 200s a second it gave under a saturating open-loop load
    probe = openloop(f"{url}/predict", 4000, 3, body)
    capacity = probe["statuses"].get("200", 0) / probe["send_seconds"]
    assert capacity > 100, probe

    storm = openloop(f"{url}/predict", 5 * capacity, 5, body, connections=512)
    assert set(storm["statuses"]) <= {"200", "503"}, storm["statuses"]
    assert storm["statuses"].get("503", 0) > 0, storm
    assert storm["lost_connections"] == 0, storm
    assert storm["completed"] == storm["sent"], "every request got an answer"
    # most of the excess is shed with a 503 rather than queued (the 503s' own latency at 5x is not
    # bounded here: on 0.1 CPU the rejection path itself saturates the core; see issue 8's note)
    assert storm["statuses"]["503"] >= storm["sent"] / 2, storm
    print(f"5x capacity ({capacity:.0f} RPS): {storm}")

    time.sleep(1)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    after = openloop(f"{url}/predict", capacity / 4, 3, body, connections=32)
    assert after["statuses"].get("200", 0) >= 0.99 * after["sent"], after
