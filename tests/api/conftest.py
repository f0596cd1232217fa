"""Fixtures for the API tests: one small model trained once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `api` is imported as a top-level package from the repo root
    sys.path.insert(0, str(REPO))

from api.schemas import EXAMPLE_ROW  # noqa: E402  (after the sys.path line)


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: builds and runs the API image (needs Docker)")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    from api import train

    directory = tmp_path_factory.mktemp("model")
    train.main(["--out", str(directory), "--rows", "30000"])
    return directory


@pytest.fixture()
def make_client(model_dir):
    """make_client(**settings) -> a started TestClient (lifespan run), closed at teardown."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    clients = []

    def make(**overrides):
        client = TestClient(create_app(Settings(model_dir=model_dir, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture()
def client(make_client):
    return make_client()


@pytest.fixture()
def row() -> dict:
    return dict(EXAMPLE_ROW)
