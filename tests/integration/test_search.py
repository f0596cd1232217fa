"""Right-sizing search on localhost against a service whose capacity is set by its CPU limit, with
both strategies side by side in one run: bisection and the model-guided search.

The V2 fixture burns WORK_MS of CPU per request (plus its own HTTP handling, about 0.6 ms), so 400
users of between(1, 3) offer ~199 requests/s and need about 199 x 3.8 ms = 0.76 busy cores: 76 % of
1 CPU, the first probe of both strategies, and over the 90 % CPU SLO of 0.75. The bisection goes on
to fail (or find inconclusive: the fixture's throughput collapses when starved of CPU) 0.5 and 0.75
before its answer 1.0; the model rules both out from the first probe's steps. The fixture serves a
thread per connection, so its container gets more pids than the default 256 for 400 users.
"""
import json
import time

import pytest

from playbooks_kit import ansible_playbook, rightsize_containers, validate_summary
from test_byo_image import FIXTURE, V2_VARS, v2_image  # noqa: F401  (the fixture image)

pytestmark = pytest.mark.integration

USERS = 400
WORK_MS = 3.2
SEARCH = (f"search=true users={USERS} users_step=200 step_duration=20 report_warmup_s=5 "
          "search_cpu_max=2 search_max_probes=5 inference_api_pids_limit=1024")
STRATEGIES = ("bisect", "model")


@pytest.fixture(scope="module")
def search_runs(v2_image, tmp_path_factory):  # noqa: F811
    """Each strategy's playbook run: {strategy: (result, run dir, args, wall seconds)}."""
    results = tmp_path_factory.mktemp("search")
    runs = {}
    for strategy in STRATEGIES:
        args = ["sweep.yml", "-e", V2_VARS, "-e", f"api_payloads={FIXTURE / 'payloads.jsonl'}",
                "-e", '{"api_env": {"WORK_MS": "%g"}}' % WORK_MS, "-e", f"{SEARCH} search_strategy={strategy}",
                "-e", f"results_dir={results} run_id=it-search-{strategy}"]
        started = time.time()
        result = ansible_playbook(*args)
        runs[strategy] = (result, results / f"it-search-{strategy}", args, time.time() - started)
    return runs


def search_block(run):
    summary = json.loads((run / "summary.json").read_text())
    validate_summary(summary)
    return summary


def runs_of(run):
    """The loads the search ran: its probe folders and its confirmation(s)."""
    return sorted(path.name for path in run.iterdir() if path.is_dir() and (path / "variant.json").is_file())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_search_finds_the_cpu_the_capacity_model_predicts(search_runs, strategy):
    result, run, _, _ = search_runs[strategy]
    assert result.returncode == 0, result.stdout[-4000:]
    printed = " ".join(result.stdout.split())   # the debug callback wraps long lines
    assert "Search plan: " in printed and " Expected " in printed      # before the first probe
    summary = search_block(run)
    search = summary["search"]
    assert search["strategy"] == strategy
    assert search["cpu"] == 1.0, (search["cpu"], search["probes"], search.get("model"))
    assert search["bracket"]["lowest_passing_cpu"] == search["cpu"]
    assert 1 <= len(search["probes"]) <= 5
    assert all(probe["dir"].startswith("probe-") for probe in search["probes"])
    assert all(not variant["name"].startswith("probe-") for variant in summary["variants"])
    assert "Right-sizing" in (run / "consolidated_report.md").read_text()
    assert rightsize_containers() == []


def test_the_model_answers_the_same_cpu_in_fewer_runs(search_runs):
    measured = {}
    for strategy in STRATEGIES:
        result, run, _, wall = search_runs[strategy]
        assert result.returncode == 0, result.stdout[-4000:]
        search = search_block(run)["search"]
        measured[strategy] = (search["cpu"], runs_of(run), wall)
        print(f"{strategy}: {search['cpu']} CPU in {len(runs_of(run))} runs {runs_of(run)}, {wall:.0f} s")
    (bisect_cpu, bisect_runs, _), (model_cpu, model_runs, _) = measured["bisect"], measured["model"]
    assert model_cpu == bisect_cpu
    assert len(model_runs) < len(bisect_runs), measured
    model = search_block(search_runs["model"][1])["search"]
    assert model["fallback"] is None, model["fallback"]
    assert model["bracket"]["highest_failing_basis"] == "predicted"
    # 0.75 sits ~5 % over the CPU SLO at this load: the fit rules it out in some runs and probes it in
    # others (seen here: skipped in one run, probed twice as invalid in the next), so only the CPUs
    # far below the answer are asserted as ruled out
    skipped = [skip["cpu"] for skip in model["skipped"]]
    assert {0.25, 0.5} <= set(skipped) and all(cpu < model_cpu for cpu in skipped), skipped
    assert all(skip["predicted_busy_cpu"] >= 0.9 * skip["cpu"] for skip in model["skipped"])


def test_search_resume_reuses_completed_probes(search_runs):
    _, run, args, first_elapsed = search_runs["model"]
    before = runs_of(run)
    started = time.time()
    again = ansible_playbook(*args)
    assert again.returncode == 0, again.stdout[-3000:]
    assert runs_of(run) == before
    assert "Start the Locust master" not in again.stdout, "a completed probe was run again"
    assert time.time() - started < first_elapsed / 2
