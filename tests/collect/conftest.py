"""Shared fixtures for the report's tests: the collect package on sys.path, schema validation."""
import json
import sys
from pathlib import Path

import jsonschema
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
for _path in (REPO_ROOT, Path(__file__).resolve().parent):  # collect/, and collect_testkit.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from collect import compute, load  # noqa: E402
from collect.report import schema_path  # noqa: E402
from collect.settings import settings_from_run  # noqa: E402


@pytest.fixture(scope="session")
def validate():
    schema = json.loads(schema_path().read_text())
    validator = jsonschema.Draft202012Validator(schema)

    def check(summary: dict) -> dict:
        validator.validate(summary)
        return summary
    return check


@pytest.fixture
def analyse():
    """Load and analyse a run dir; returns (data, analysis)."""
    def run(run_dir, strict=False):
        data = load.load_run(run_dir, strict=strict)
        return data, compute.analyse(data, settings_from_run(data.run))
    return run
