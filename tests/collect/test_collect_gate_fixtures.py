"""The gate on summaries of real runs (tests/fixtures/gate/README.md): two independent runs of the
same target pass it, a run of a degraded target fails it, and a bare summary.json works as BASE."""
import json
from pathlib import Path

from collect import report
from rightsize import compare

GATE = Path(__file__).resolve().parents[1] / "fixtures" / "gate"


def load(name):
    return json.loads((GATE / name).read_text())


def test_fixtures_are_summaries_of_the_same_target(validate):
    for name in ("base-summary.json", "same-summary.json", "degraded-summary.json"):
        summary = validate(load(name))
        assert summary["target_users"] == 200 and [v["name"] for v in summary["variants"]] == ["c0.5-m512M-r1"]


def test_two_independent_runs_of_the_same_target_exit_0(capsys):
    assert report.main(["--compare", str(GATE / "base-summary.json"), str(GATE / "same-summary.json"),
                        "--fail-on-regression"]) == 0
    assert "**No regression.**" in capsys.readouterr().out


def test_a_degraded_target_exits_4(capsys):
    result = compare.compare(load("base-summary.json"), load("degraded-summary.json"))
    assert compare.exit_code(result) == compare.EXIT_REGRESSION
    assert all(r.startswith("c0.5-m512M-r1: ") for r in result["regressions"])
    assert report.main(["--compare", str(GATE / "base-summary.json"), str(GATE / "degraded-summary.json"),
                        "--fail-on-regression", "--json"]) == 4
    assert json.loads(capsys.readouterr().out)["regressed"] is True
