"""Settings from the environment and the worker count from the cgroup CPU quota."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.serve import cpu_quota, worker_count
from api.settings import Settings


def test_defaults():
    settings = Settings.from_env({})
    assert settings.port == 8000 and settings.max_body_bytes == 65_536
    assert settings.workers == 0 and settings.max_in_flight > 0


def test_values_from_the_environment():
    settings = Settings.from_env({"API_PORT": "9000", "API_MAX_IN_FLIGHT": "8", "API_WORKERS": "3",
                                  "API_MODEL_DIR": "/models/x", "API_ACCESS_LOG": "true"})
    assert (settings.port, settings.max_in_flight, settings.workers) == (9000, 8, 3)
    assert settings.model_dir == Path("/models/x") and settings.access_log is True


@pytest.mark.parametrize("env", [{"API_PORT": "eighty"}, {"API_MAX_IN_FLIGHT": "0"},
                                 {"API_WORKERS": "-1"}, {"API_ACCESS_LOG": "maybe"}])
def test_bad_values_fail_loudly(env):
    with pytest.raises(ValueError, match=next(iter(env))):
        Settings.from_env(env)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("files, quota", [
    ({"cpu.max": "50000 100000\n"}, 0.5),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu,cpuacct/cpu.cfs_quota_us": "100000", "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 1.0),
    ({}, None),
])
def test_cpu_quota_from_cgroup_v1_and_v2(tmp_path, files, quota):
    assert cpu_quota(write(tmp_path, files)) == quota


def test_workers_follow_the_quota_unless_set(tmp_path, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    root = write(tmp_path, {"cpu.max": "150000 100000"})
    assert worker_count(Settings(), root) == 2  # 1.5 CPUs -> 2 workers
    write(tmp_path, {"cpu.max": "50000 100000"})
    assert worker_count(Settings(), root) == 1
    write(tmp_path, {"cpu.max": "max 100000"})
    assert worker_count(Settings(), root) == 4  # no quota: the affinity mask
    assert worker_count(Settings(workers=3), root) == 3  # API_WORKERS wins
