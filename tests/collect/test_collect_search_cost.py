"""The search's answer stated on both sides with confidence, and its answers ranked by cost."""
import json

from collect import report
from test_collect_search import FAIL, PASS, drive, new_search


def test_answer_states_both_sides_and_ranks_replicas_by_cost(tmp_path, validate):
    run_dir = new_search(tmp_path, replicas=[1, 2], cores=2)
    model = lambda a: PASS if a["cpu"] * a["replicas"] >= 1.5 else FAIL  # noqa: E731
    done, _, _ = drive(run_dir, model)
    assert report.main([str(run_dir)]) == 0
    summary = validate(json.loads((run_dir / "summary.json").read_text()))
    statement = summary["search"]["statement"]
    # 1.5 CPU x 1 replica is the chosen answer; 1.25 is the measured failing side (p95 1,500 ms)
    assert (done["cpu"], done["replicas"]) == (1.5, 1)
    assert statement.startswith("1.5 CPU passes (c1.5-m448M-r1 at 100 users: failures 0.00% < 1% (0 of ")
    assert "95% upper bound" in statement and "binomial p = " in statement
    assert "CPU " in statement and "95% t-interval" in statement and "1-s samples" in statement
    assert "; 1.25 CPU fails on p95 (measured: probe-" in statement and ">= 1000 ms" in statement
    # every probe and the confirmations are priced; the probes by their folders
    names = {v["name"] for v in summary["cost"]["variants"]}
    assert {p["dir"] for p in summary["search"]["probes"]} <= names
    text = (run_dir / "consolidated_report.md").read_text()
    assert "**Both sides, 1 replica(s):** 1.5 CPU passes" in text
    # the same total CPU with twice the memory: one replica is cheaper
    assert "Scaling up is cheaper than scaling out: 1 x 1.5 CPU" in text
