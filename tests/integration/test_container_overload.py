"""Overload: the API driven at 5x its capacity answers only 200 or 503 and recovers when load stops.

Two layers shed load, and both are driven here at 5x the capacity measured in the same test:
- the API's own in-flight bound (a bare container, --cpus 0.1): only 200/503, most of it shed;
  at 0.1 CPU its rejection path costs about a fifth of a served request, so at 5x the 503s
  themselves queue (docs/api.md, "Overload") — this test does not ask them to be fast;
- nginx in front (api_proxy=always, api_proxy_max_in_flight, deployed by the playbook): the
  503s come back in a few milliseconds and the admitted requests stay within the SLO.

Traffic goes only to 127.0.0.1; every load is bounded in time (bench/openloop.py --duration).
"""
import concurrent.futures
import json
import subprocess
import time
import uuid

import httpx
import pytest

from api.schemas import EXAMPLE_ROW  # api/ and bench/ from the repo root, on pytest's pythonpath
from bench import openloop
from playbooks_kit import ansible_playbook, recap, rightsize_containers

pytestmark = pytest.mark.integration
IMAGE = "rightsize/inference-api:latest"   # built by `make provision` (make test does it first)

SLO_P95_MS = 1000
# 503 from nginx: microseconds of work; 50 ms leaves room for a noisy 2-core box (measured p95 1.4 ms)
FAST_503_P95_MS = 50
PROXY_PORT = 18123
STACK = f"cpu=0.1 mem=256M api_proxy=always api_proxy_max_in_flight=32 entry_port={PROXY_PORT}"


def wait_healthy(url, seconds=60):
    if not openloop.wait_healthy(url, seconds):
        pytest.fail(f"{url}/health never answered 200 within {seconds} s")


@pytest.fixture
def body(tmp_path):
    path = tmp_path / "row.json"
    path.write_text(json.dumps(EXAMPLE_ROW))
    return path


@pytest.fixture
def small_api(docker_ready):
    name = f"rs-overload-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--cpus", "0.1", "--memory", "256m",
                    "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--user", "10001:10001",
                    "-e", "API_WORKERS=1", "-e", "API_MAX_IN_FLIGHT=16", "-p", "127.0.0.1::8000", IMAGE],
                   check=True, capture_output=True)
    try:
        port = subprocess.run(["docker", "port", name, "8000/tcp"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


@pytest.fixture(scope="module")
def shedding_stack(docker_ready):
    """The playbook's deployment of c0.1-m256M-r1 with nginx in front bounding requests in flight."""
    deployed = ansible_playbook("playbooks/deploy.yml", "-e", STACK)
    try:
        assert deployed.returncode == 0, deployed.stdout[-3000:]
        roles = subprocess.run(["docker", "ps", "--filter", "label=io.rightsize.managed=true",
                                "--format", '{{.Label "io.rightsize.role"}}'],
                               capture_output=True, text=True, check=True).stdout.split()
        assert sorted(roles) == ["api", "lb"], roles
        url = f"http://127.0.0.1:{PROXY_PORT}"
        wait_healthy(url)
        yield url
    finally:
        down = ansible_playbook("teardown.yml")
        assert down.returncode == 0, down.stdout[-3000:]
        assert rightsize_containers() == []


def measure_capacity(url, body):
    """Warm up, check the calm answers, then the most 200s a second it serves."""
    openloop.run(f"{url}/predict", 100, 2, body, connections=32)  # first requests of a cold worker
    calm = openloop.run(f"{url}/predict", 200, 3, body, connections=32)
    assert calm["statuses"].get("200", 0) >= 0.99 * calm["sent"], calm
    # closed loop in effect: 16 connections (= the API's bound) never overload it, and the rate
    # asked is above what it serves, so they stay busy; 200s per second, the drain included
    probe = openloop.run(f"{url}/predict", 2000, 3, body, connections=16)
    capacity = probe["ok_rate"]
    assert capacity > 100, probe
    return capacity


def storm_at_five_times(url, body, capacity):
    # up to 60 s for the answers: the in-process bound at 5x answers slower than it is sent to
    storm = openloop.run(f"{url}/predict", 5 * capacity, 5, body, connections=512, drain=60)
    print(f"5x capacity ({capacity:.0f} 200/s -> {5 * capacity:.0f} offered): {json.dumps(storm)}")
    assert set(storm["statuses"]) <= {"200", "503"}, storm["statuses"]
    assert storm["statuses"].get("503", 0) > 0, storm
    assert storm["lost_connections"] == 0, storm
    assert storm["completed"] == storm["sent"], "every request got an answer"
    assert storm["statuses"]["503"] >= storm["sent"] / 2, "most of the excess is shed, not queued"
    return storm


def assert_recovers(url, body, capacity):
    time.sleep(1)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    # as many connections as the API's in-flight bound (16): with more, requests that arrive while the
    # 0.1-CPU quota is throttled pile past the bound and are refused although the API has recovered
    # (seen once the port is NATed by the kernel rather than relayed by docker-proxy)
    after = openloop.run(f"{url}/predict", capacity / 4, 3, body, connections=16)
    assert after["statuses"].get("200", 0) >= 0.99 * after["sent"], after


def test_in_process_bound_gives_only_200_and_503_then_recovers(small_api, body):
    capacity = measure_capacity(small_api, body)
    storm_at_five_times(small_api, body, capacity)
    assert_recovers(small_api, body, capacity)


def test_nginx_in_front_sheds_five_times_capacity_fast(shedding_stack, body):
    capacity = measure_capacity(shedding_stack, body)
    storm = storm_at_five_times(shedding_stack, body, capacity)
    # the generator kept its schedule: the load really was 5x (an overloaded client proves nothing)
    assert storm["achieved_rate"] >= 0.9 * 5 * capacity, storm
    shed, served = storm["latency_by_status"]["503"], storm["latency_by_status"]["200"]
    assert shed["p95_ms"] < FAST_503_P95_MS, shed
    assert served["p95_ms"] < SLO_P95_MS, served
    response = httpx.post(f"{shedding_stack}/predict", json=EXAMPLE_ROW, timeout=5)
    assert response.status_code == 200  # calm again: one request goes through
    assert_recovers(shedding_stack, body, capacity)


def test_shed_answer_matches_the_api(shedding_stack):
    """nginx's 503 carries Retry-After and the API's JSON detail (a client handles one kind)."""
    with httpx.Client(timeout=10) as client:
        # 64 requests at once against a bound of 32 on a 0.1-CPU container: some are shed
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(lambda _: client.post(f"{shedding_stack}/predict", json=EXAMPLE_ROW),
                                    range(256)))
    shed = [answer for answer in answers if answer.status_code == 503]
    assert {answer.status_code for answer in answers} <= {200, 503}
    assert shed, "no request was shed"
    assert shed[0].headers["retry-after"] == "1"
    assert shed[0].headers["content-type"].startswith("application/json")
    assert shed[0].json() == {"detail": "Too many requests in flight; retry later"}


def test_proxy_layout_is_hardened_and_a_second_deploy_changes_nothing(shedding_stack):
    again = ansible_playbook("playbooks/deploy.yml", "-e", STACK)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["localhost"]["changed"] == 0, again.stdout[-3000:]
    [lb] = subprocess.run(["docker", "ps", "-q", "--filter", "label=io.rightsize.role=lb"],
                          capture_output=True, text=True, check=True).stdout.split()
    inspected = json.loads(subprocess.run(["docker", "inspect", lb], capture_output=True, text=True,
                                          check=True).stdout)[0]
    host = inspected["HostConfig"]
    assert inspected["Config"]["User"] == "33:33"  # www-data, from the image
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"] and host["PidsLimit"] == 64
    assert [binding["HostIp"] for binding in host["PortBindings"]["8080/tcp"]] == ["127.0.0.1"]
    assert httpx.get(f"{shedding_stack}/health", timeout=5).headers["server"] == "nginx"  # no version
