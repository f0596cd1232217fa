"""rightsize/registry.py: where the API image comes from, its content tag and digest, preflight's
registry verdict, and which Compose a host of each architecture gets (an arm64 host's facts)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rightsize import registry
from rightsize.checks import preflight_errors, variable_error
from rightsize.records import with_image

ROOT = Path(__file__).resolve().parents[2]
PINNED = yaml.safe_load((ROOT / "roles" / "docker" / "defaults" / "main.yml").read_text())["docker_compose_version"]


@pytest.mark.parametrize("image, host", [
    ("rightsize/inference-api:latest", ""), ("python:3.11-slim", ""), ("me/model:1", ""),
    ("127.0.0.1:5000/rightsize/inference-api:abc", "127.0.0.1:5000"),
    ("registry.internal:5000/team/model@sha256:" + "a" * 64, "registry.internal:5000"),
    ("localhost/x", "localhost"), ("ghcr.io/org/model:2", "ghcr.io"), ("[::1]:5000/m:1", "[::1]:5000"),
])
def test_registry_host_follows_dockers_rule(image, host):
    assert registry.registry_host(image) == host


@pytest.mark.parametrize("host, url", [
    ("127.0.0.1:5000", "http://127.0.0.1:5000/v2/"), ("localhost:5000", "http://localhost:5000/v2/"),
    ("127.8.9.1", "http://127.8.9.1/v2/"), ("[::1]:5000", "http://[::1]:5000/v2/"),
    ("registry.internal:5000", "https://registry.internal:5000/v2/"), ("10.0.0.5:5000", "https://10.0.0.5:5000/v2/"),
])
def test_loopback_registries_speak_plain_http_like_the_engine(host, url):
    assert registry.registry_url(host) == url


def test_image_source_modes():
    assert registry.image_source("", "", "t") == {"mode": "build", "name": "rightsize/inference-api:latest",
                                                  "registry": ""}
    assert registry.image_source("", "127.0.0.1:5000/", "abc-amd64") == {
        "mode": "push", "name": "127.0.0.1:5000/rightsize/inference-api:abc-amd64", "registry": "127.0.0.1:5000"}
    assert registry.image_source("reg.example:443/team/m:1", "")["mode"] == "pull"
    assert registry.image_source("reg.example:443/team/m:1", "other:5000")["registry"] == "reg.example:443"
    # without a registry host an image is used as it is, already on the target (today's behaviour)
    assert registry.image_source("me/model:1", "127.0.0.1:5000") == {"mode": "local", "name": "me/model:1",
                                                                     "registry": ""}


def test_content_tag_changes_with_the_context_and_not_with_caches(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "app" / "main.py").write_text("print(1)\n")
    first = registry.content_tag(tmp_path, "local/python:3.11-slim", "x86_64")
    assert first.endswith("-amd64") and len(first) == 12 + len("-amd64")
    (tmp_path / "app" / "__pycache__").mkdir()
    (tmp_path / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0cache")
    (tmp_path / "app" / "x.pyc").write_bytes(b"\0")
    assert registry.content_tag(tmp_path, "local/python:3.11-slim", "x86_64") == first
    (tmp_path / "app" / "main.py").write_text("print(2)\n")
    changed = registry.content_tag(tmp_path, "local/python:3.11-slim", "x86_64")
    assert changed != first
    assert registry.content_tag(tmp_path, "python:3.11-slim", "x86_64") != changed      # another base
    assert registry.content_tag(tmp_path, "local/python:3.11-slim", "aarch64").endswith("-arm64")
    (tmp_path / "app" / "main.py").rename(tmp_path / "app" / "other.py")                 # a rename counts
    assert registry.content_tag(tmp_path, "local/python:3.11-slim", "x86_64") != changed


def test_content_tag_of_the_real_api_is_stable():
    assert registry.content_tag(ROOT / "api", "b", "x86_64") == registry.content_tag(ROOT / "api", "b", "x86_64")


def test_repo_digest_picks_the_images_own_repository():
    digests = ["other:5000/rightsize/inference-api@sha256:" + "1" * 64,
               "127.0.0.1:5000/rightsize/inference-api@sha256:" + "2" * 64]
    assert registry.repo_digest(digests, "127.0.0.1:5000/rightsize/inference-api:abc-amd64") == digests[1]
    assert registry.repo_digest(digests, "127.0.0.1:5000/rightsize/inference-api@sha256:" + "2" * 64) == digests[1]
    assert registry.repo_digest([], "rightsize/inference-api:latest") is None
    assert registry.repository("127.0.0.1:5000/a/b:t") == "127.0.0.1:5000/a/b"
    assert registry.repository("127.0.0.1:5000/a/b") == "127.0.0.1:5000/a/b"


def test_registry_verdicts_name_the_registry_and_the_answer():
    assert registry.registry_check_error("127.0.0.1:5000", 200) == ""
    wrong = registry.registry_check_error("127.0.0.1:5000", 401, "HTTP Error 401: Unauthorized", "bob")
    assert "registry 127.0.0.1:5000" in wrong and "401" in wrong and "'bob'" in wrong
    none = registry.registry_check_error("127.0.0.1:5000", 401, "", "")
    assert "without credentials" in none
    gone = registry.registry_check_error("127.0.0.1:9", -1, "Request failed: <urlopen error [Errno 111] Connection refused>")
    assert "127.0.0.1:9 is unreachable" in gone and "Connection refused" in gone
    assert "answered 404" in registry.registry_check_error("reg.example", "404")


def test_registry_variables_are_checked_and_the_password_never_echoed():
    assert variable_error("api_registry", "") is None
    assert variable_error("api_registry", "registry.internal:5000") is None
    assert variable_error("api_registry", "[::1]:5000") is None
    bad = variable_error("api_registry", "http://registry.internal:5000")
    assert bad.startswith("api_registry='http://registry.internal:5000'") and "host[:port]" in bad
    assert variable_error("api_registry", "reg.example/path") is not None
    leaked = variable_error("api_registry_password", {"not": "text"})
    assert leaked.startswith("api_registry_password=(hidden)") and "not" not in leaked.split(":", 1)[0]


def test_preflight_names_a_bad_registry():
    hostvars = {"profiles": {"quick": {"users": 500, "users_step": 250, "step_duration": 60}}, "profile": "quick",
                "users": 500, "users_step": 250, "step_duration": 60, "report_warmup_s": 10,
                "variants": [{"cpu": 0.5, "mem": "512M", "replicas": 1}], "replicas": 1,
                "api_registry": "https://reg.example"}
    assert any(error.startswith("api_registry=") for error in preflight_errors(hostvars))


def test_run_json_records_the_digest_only_once_known():
    record = {"run_id": "r", "manifest": {"service": {"image": "rightsize/inference-api:latest (built from api/)",
                                                       "image_digest": None}, "hosts": {}}}
    digest = "127.0.0.1:5000/rightsize/inference-api@sha256:" + "3" * 64
    pushed = with_image(record, "127.0.0.1:5000/rightsize/inference-api:abc-amd64", digest)
    assert pushed["manifest"]["service"] == {"image": "127.0.0.1:5000/rightsize/inference-api:abc-amd64",
                                             "image_digest": digest}
    assert record["manifest"]["service"]["image_digest"] is None          # the input is kept
    local = with_image(record, "", None)
    assert local["manifest"]["service"]["image_digest"] is None
    assert local["manifest"]["service"]["image"].startswith("rightsize/inference-api:latest")
    assert local["manifest"]["hosts"] == {}


# ---- Compose by architecture: facts of an x86-64 host and of an arm64 host (ansible_architecture)

def test_x86_64_installs_the_pinned_binary_unless_it_is_there():
    assert registry.compose_choice("x86_64", "", PINNED)["action"] == "install"
    assert registry.compose_choice("x86_64", "2.20.0", PINNED)["action"] == "install"
    assert registry.compose_choice("x86_64", PINNED, PINNED)["action"] == "installed"


def test_arm64_uses_an_installed_compose_at_or_above_the_pin():
    assert registry.compose_choice("aarch64", PINNED, PINNED) == {"action": "installed", "arch": "arm64", "msg": ""}
    assert registry.compose_choice("aarch64", "v9.0.1\n", PINNED)["action"] == "installed"


@pytest.mark.parametrize("installed", ["", "2.20.2", "docker: 'compose' is not a docker command."])
def test_arm64_without_a_usable_compose_stops_naming_the_architecture(installed):
    choice = registry.compose_choice("aarch64", installed, PINNED)
    assert choice["action"] == "fail"
    assert "aarch64 (arm64)" in choice["msg"] and f"Compose v2 >= {PINNED}" in choice["msg"]
    assert "Nothing was deployed" in choice["msg"]


ARM64_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The preflight selection, as an arm64 host's facts give it
      ansible.builtin.set_fact:
        choice: "{{ ansible_facts['architecture'] | rs_compose_choice(installed, pinned) }}"
    - ansible.builtin.copy:
        content: "{{ choice | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


@pytest.mark.parametrize("installed, action", [("", "fail"), (PINNED, "installed")])
def test_the_filter_selects_from_an_arm64_hosts_facts_under_ansible(tmp_path, installed, action):
    """The same through ansible-playbook and the rs_compose_choice filter, with ansible_architecture
    = aarch64 as an arm64 host's setup module reports it."""
    play = tmp_path / "arm64.yml"
    play.write_text(ARM64_PLAY)
    out = tmp_path / "choice.json"
    facts = json.dumps({"ansible_facts": {"architecture": "aarch64"}, "installed": installed, "pinned": PINNED,
                        "out": str(out)})
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             str(play), "-e", facts], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": "/usr/bin:/bin",
                                 "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    choice = json.loads(out.read_text())
    assert choice["action"] == action and choice["arch"] == "arm64"


def test_nothing_pins_amd64():
    """api/Dockerfile, the roles and the templates name no architecture (the offline bases are
    debootstrapped for the host's own)."""
    paths = [ROOT / "api" / "Dockerfile", *(ROOT / "roles").rglob("*"), *(ROOT / "templates").rglob("*")]
    for path in paths:
        if path.is_file():
            text = path.read_text(errors="ignore").lower()
            assert "amd64" not in text and "x86_64" not in text and "--platform" not in text, path
