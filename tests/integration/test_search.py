"""Right-sizing search on localhost against a service whose capacity is set by its CPU limit.

The V2 fixture burns WORK_MS of CPU per request, so serving R requests/s needs R x WORK_MS / 1000
CPUs, and R / 0.9 of that to keep CPU under the 90 % SLO. The search must land within one resolution
step (0.25) of that figure.
"""
import json
import time

import pytest

from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary
from test_byo_image import FIXTURE, V2_VARS, v2_image  # noqa: F401  (the fixture image)

pytestmark = pytest.mark.integration

USERS = 120
WORK_MS = 9
WAIT_MEAN_S = 2.0          # between(1, 3)
SEARCH = (f"search=true users={USERS} users_step=60 step_duration=20 report_warmup_s=5 "
          "search_cpu_max=2 search_max_probes=5")


@pytest.fixture(scope="module")
def search_run(v2_image, tmp_path_factory):  # noqa: F811
    results = tmp_path_factory.mktemp("search")
    args = ["sweep.yml", "-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
            "-e", '{"api_env": {"WORK_MS": "%d"}}' % WORK_MS, "-e", SEARCH,
            "-e", f"results_dir={results} run_id=it-search"]
    started = time.time()
    first = ansible_playbook(*args)
    elapsed = time.time() - started
    return first, results / "it-search", args, elapsed


def test_search_finds_the_cpu_the_capacity_model_predicts(search_run):
    result, run, _, _ = search_run
    assert result.returncode == 0, result.stdout[-4000:]
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    search = summary["search"]
    offered_rps = USERS / WAIT_MEAN_S
    needed_cpu = offered_rps * WORK_MS / 1000 / 0.9
    assert search["cpu"] is not None, search
    assert abs(search["cpu"] - needed_cpu) <= 0.25, (search["cpu"], needed_cpu, search["probes"])
    assert search["bracket"]["lowest_passing_cpu"] == search["cpu"]
    assert 1 <= len(search["probes"]) <= 5
    assert all(probe["dir"].startswith("probe-") for probe in search["probes"])
    assert all(not variant["name"].startswith("probe-") for variant in summary["variants"])
    assert "Right-sizing" in (run / "consolidated_report.md").read_text()
    assert rightsize_containers() == []


def test_search_resume_reuses_completed_probes(search_run):
    _, run, args, first_elapsed = search_run
    before = sorted(path.name for path in run.iterdir() if path.is_dir())
    started = time.time()
    again = ansible_playbook(*args)
    assert again.returncode == 0, again.stdout[-3000:]
    assert sorted(path.name for path in run.iterdir() if path.is_dir()) == before
    assert "Start the Locust master" not in again.stdout, "a completed probe was run again"
    assert time.time() - started < first_elapsed / 2
