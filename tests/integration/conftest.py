"""Fixtures of the integration tests (helpers in playbooks_kit.py)."""
import subprocess

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: starts real components (Docker engine, Compose, Locust)")


@pytest.fixture(scope="session")
def docker_ready():
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("Docker engine not running: run `make provision` (make test does it first)")
