"""Shared fixtures for the report's tests: schema validation, load + analyse.

collect is the installed package (make venv); collect_testkit.py sits beside this file, in the
folder pytest puts on sys.path for its tests.
"""
import json

import jsonschema
import pytest

from collect import compute, load
from collect.report import schema_path
from collect.settings import settings_from_run


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
