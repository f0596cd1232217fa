"""Right-sizing search on localhost against a service whose capacity is set by its CPU limit: the
model-guided search (the default strategy). The bisection is measured beside it by `python -m
bench.search` (the README's table); its probe order is pinned by the unit tests of the planner.

The V2 fixture burns WORK_MS of CPU per request (plus its own HTTP handling, about 0.6 ms), so 400
users of between(1, 3) offer ~199 requests/s and need about 199 x 3.8 ms = 0.76 busy cores: 76 % of
1 CPU, the first probe, and over the 90 % CPU SLO of 0.75. The model rules 0.25 and 0.5 out from
the first probe's steps. The fixture serves a thread per connection, so its container gets more pids
than the default 256 for 400 users.
"""
import json
import time

import pytest

from bench.search import search_args
from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary
from test_byo_image import v2_image  # noqa: F401  (the fixture image)

pytestmark = pytest.mark.integration

USERS = 400
WORK_MS = 3.2


@pytest.fixture(scope="module")
def model_search(v2_image, tmp_path_factory):  # noqa: F811
    """The model strategy's playbook run: (result, run dir, args, wall seconds)."""
    results = tmp_path_factory.mktemp("search")
    args = ["sweep.yml", *search_args("model", USERS, WORK_MS), "-e", f"results_dir={results} run_id=it-search"]
    started = time.time()
    result = ansible_playbook(*args)
    return result, results / "it-search", args, time.time() - started


def search_block(run):
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    return summary


def runs_of(run):
    """The loads the search ran: its probe folders and its confirmation(s)."""
    return sorted(path.name for path in run.iterdir() if path.is_dir() and (path / "variant.json").is_file())


def test_the_model_search_finds_the_cpu_it_predicts_in_few_runs(model_search):
    result, run, _, wall = model_search
    assert result.returncode == 0, result.stdout[-4000:]
    printed = " ".join(result.stdout.split())   # the debug callback wraps long lines
    assert "Search plan: " in printed and " Expected " in printed      # before the first probe
    summary = search_block(run)
    search = summary["search"]
    print(f"model: {search['cpu']} CPU in {len(runs_of(run))} runs {runs_of(run)}, {wall:.0f} s")
    assert search["strategy"] == "model"
    assert search["cpu"] == 1.0, (search["cpu"], search["probes"], search.get("model"))
    assert search["bracket"]["lowest_passing_cpu"] == search["cpu"]
    # the capacity model fitted from the probes predicts the answer the search measured
    [predicted] = [p for p in summary["capacity"]["predictions"] if p["users"] == USERS]
    assert (predicted["cpu_per_replica"], predicted["replicas"], predicted["basis"]) == (search["cpu"], 1, "measured")
    # the first probe (1.0, mid-grid) passes and rules the CPUs below out: a probe or two and the
    # confirmation, where the bisection took 4 (bench.search)
    assert 1 <= len(search["probes"]) <= 3, runs_of(run)
    assert all(probe["dir"].startswith("probe-") for probe in search["probes"])
    assert all(not variant["name"].startswith("probe-") for variant in summary["variants"])
    assert search["fallback"] is None, search["fallback"]
    assert search["bracket"]["highest_failing_basis"] == "predicted"
    # 0.75 sits ~5 % over the CPU SLO at this load: the fit rules it out in some runs and probes it in
    # others (seen here: skipped in one run, probed twice as invalid in the next), so only the CPUs
    # far below the answer are asserted as ruled out
    skipped = [skip["cpu"] for skip in search["skipped"]]
    assert {0.25, 0.5} <= set(skipped) and all(cpu < search["cpu"] for cpu in skipped), skipped
    assert all(skip["predicted_busy_cpu"] >= 0.9 * skip["cpu"] for skip in search["skipped"])
    assert "Right-sizing" in (run / "consolidated_report.md").read_text()
    assert rightsize_containers() == []


def test_search_resume_reuses_completed_probes(model_search):
    _, run, args, first_elapsed = model_search
    before = runs_of(run)
    started = time.time()
    again = ansible_playbook(*args)
    assert again.returncode == 0, again.stdout[-3000:]
    assert runs_of(run) == before
    assert "Start the Locust master" not in again.stdout, "a completed probe was run again"
    assert time.time() - started < first_elapsed / 2
