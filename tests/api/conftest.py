"""Fixtures for the API tests: one small model trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.schemas import EXAMPLE_ROW  # api/ is on pytest's pythonpath (pyproject.toml), not in the package


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
