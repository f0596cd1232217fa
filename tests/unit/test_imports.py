"""Plain imports: product code loads no module by path and edits no sys.path; the installed package
(make venv: pip install -e .) is how collect/, the filter plugins, bench/ and the tests share code."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("collect", "rightsize", "filter_plugins", "bench", "api", "locust", "roles")
PATH_LOADS = re.compile(r"sys\.path\.(insert|append|extend)|spec_from_file_location|module_from_spec"
                        r"|SourceFileLoader|runpy\.run_path|\brepo_module\b")


def test_product_code_loads_no_module_by_path_and_edits_no_sys_path():
    found = []
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if PATH_LOADS.search(line.split("#", 1)[0]):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "import it from the installed package instead:\n" + "\n".join(found)


def test_the_loadgen_copy_of_the_step_schedule_is_the_package_one():
    # locust/steps.py is copied to the loadgen hosts, which do not have the rightsize package
    assert (ROOT / "locust" / "steps.py").read_bytes() == (ROOT / "rightsize" / "steps.py").read_bytes(), \
        "copy rightsize/steps.py over locust/steps.py"


def test_the_locust_folder_does_not_shadow_the_locust_library():
    origin = Path(importlib.util.find_spec("locust").origin)
    assert "site-packages" in origin.parts, origin


def _python_without_packages(*args, cwd=ROOT):
    """The venv's python without its site-packages (-S): as if make venv never ran."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_report_help_needs_no_dependency():
    done = _python_without_packages("collect/report.py", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: report.py")


def test_report_without_the_venv_says_make_venv_in_one_line(tmp_path):
    done = _python_without_packages(str(ROOT / "collect" / "report.py"), str(tmp_path), cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "make venv" in done.stderr, done.stderr


@pytest.mark.parametrize("module", ["bench.api", "bench.overload"])
def test_bench_scripts_run_as_modules(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m {module}")


def test_a_bench_script_run_as_a_file_says_how_to_run_it():
    done = subprocess.run([sys.executable, "bench/api.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "python -m bench.api" in done.stderr
