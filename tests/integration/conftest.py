"""Fixtures of the integration tests (helpers in playbooks_kit.py)."""
import subprocess

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: starts real components (Docker engine, Compose, Locust)")


@pytest.fixture(scope="session")
def docker_ready():
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("Docker engine not running: run `make provision` (make test does it first)")


@pytest.fixture(scope="session")
def image_registry(tmp_path_factory, docker_ready):
    """A real registry (Debian's docker-registry, htpasswd bcrypt auth) on a loopback port, for the
    session; stopped by its PID after (tests/integration/registry_kit.py)."""
    from registry_kit import start_registry, stop_registry, untag_images

    registry = start_registry(tmp_path_factory.mktemp("rs-registry"))
    yield registry
    stop_registry(registry)
    untag_images(registry.host)
