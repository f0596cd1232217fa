"""collect/report.py as the playbooks call it: outputs, exit codes, --compare, default run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collect import report
from collect.synth import StepSpec, VariantSpec, demo, write_run

REPORT = Path(report.__file__).resolve()
GOOD = dict(rps=40, latency_median_ms=100, cpu_cores=0.2, mem_frac=0.4)


def test_script_from_any_cwd_writes_everything(tmp_path, validate):
    run_dir = tmp_path / "results" / "demo"
    demo(run_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(REPORT), str(run_dir), "--fail-on-slo"], cwd=elsewhere,
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 3, done.stderr  # the demo's c0.25-m256M-r1 fails p95 at 100 users
    assert "c0.25-m256M-r1: fail" in done.stderr
    assert done.stdout.strip() == str(run_dir / "consolidated_report.md")
    summary = validate(json.loads((run_dir / "summary.json").read_text()))
    assert summary["minimal"]["name"] == "c0.5-m512M-r1"
    text = (run_dir / "consolidated_report.md").read_text()
    for plot in ("overview.png", "c0.5-m512M-r1-steps.png", "c0.5-m512M-r1-target.png",
                 "c0.5-m512M-r1-generator.png"):
        assert (run_dir / "plots" / plot).stat().st_size > 1000
        assert f"(plots/{plot})" in text
    assert text.index("## Executive summary") < text.index("## Variants") < \
        text.index("## Method and validity notes") < text.index("## Run manifest")
    assert "## 1 vs N instances" in text


def test_fail_on_slo_is_0_when_all_pass(tmp_path, capsys):
    write_run(tmp_path / "run", [VariantSpec("c1-m1024M-r1", [StepSpec(50, **GOOD)])], target_users=50)
    assert report.main([str(tmp_path / "run"), "--fail-on-slo", "--no-plots"]) == 0
    assert capsys.readouterr().out.strip().endswith("consolidated_report.md")


def test_fail_on_slo_counts_invalid_and_incomplete(tmp_path):
    write_run(tmp_path / "run", [VariantSpec("c1-m1024M-r1", [StepSpec(50, **GOOD)])], target_users=50,
              planned_only=["c2-m2048M-r1"])
    assert report.main([str(tmp_path / "run"), "--no-plots"]) == 0
    assert report.main([str(tmp_path / "run"), "--fail-on-slo", "--no-plots"]) == 3
    assert (tmp_path / "run" / "summary.json").is_file()


def test_failures_by_type_in_report(tmp_path):
    write_run(tmp_path / "run", [VariantSpec("c1-m1024M-r1", [StepSpec(50, **{**GOOD, "failure_rate": 0.2})])],
              target_users=50)
    assert report.main([str(tmp_path / "run"), "--no-plots"]) == 0
    text = (tmp_path / "run" / "consolidated_report.md").read_text()
    assert "| c1-m1024M-r1 | POST | /predict | HTTPError('503 Server Error" in text
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["variants"][0]["first_failure"]["slo"] == "failure_rate"


def _two_runs(tmp_path, rps_b=40, median_b=100):
    a, b = tmp_path / "runA", tmp_path / "runB"
    specs = lambda rps, med: [  # noqa: E731
        VariantSpec("c1-m1024M-r1", [StepSpec(50, **{**GOOD, "rps": rps, "latency_median_ms": med}),
                                     StepSpec(100, **{**GOOD, "rps": 2 * rps, "latency_median_ms": med})],
                    step_duration=60)]
    write_run(a, specs(40, 100), target_users=100, seed=1)
    write_run(b, specs(rps_b, median_b), target_users=100, seed=2)
    return a, b


def test_compare_same_load_flags_nothing(tmp_path, capsys):
    a, b = _two_runs(tmp_path)
    assert report.main(["--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| c1-m1024M-r1 | ✅ pass → ✅ pass |" in out
    assert out.count("🚩") == 1 and "**No regression.**" in out  # the legend's flag only
    assert not list(b.glob("compare-*")) and not list(a.glob("compare-*"))  # neither run is written into


def test_compare_writes_a_file_only_with_out(tmp_path, capsys):
    a, b = _two_runs(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    target = tmp_path / "a-vs-b.md"
    assert report.main(["--compare", str(a), str(b), "--out", str(target)]) == 0
    assert target.read_text() == capsys.readouterr().out
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p != target) == before
    assert report.main([str(a), "--out", str(target)]) == 2
    assert "--out is for --compare" in capsys.readouterr().err


def test_compare_flags_changes_beyond_noise(tmp_path, capsys):
    a, b = _two_runs(tmp_path, rps_b=30, median_b=160)
    assert report.main(["--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| c1-m1024M-r1 🚩 |" in out
    assert "RPS at 100 users 7" in out and "p95 at 100 users 2" in out  # e.g. "RPS 79.4 -> 59.7 (-25%)"
    assert report.main(["--compare", str(a), str(b), "--fail-on-regression"]) == 4


def test_compare_bad_input_exits_2(tmp_path, capsys):
    a, _ = _two_runs(tmp_path)
    assert report.main(["--compare", str(a), str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope" in err and len(err.strip().splitlines()) == 1


def test_newest_run_by_started_at(tmp_path):
    for name, started in (("old", "2026-01-01T00:00:00Z"), ("new", "2026-06-01T00:00:00Z")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"started_at": started}))
    os.utime(tmp_path / "old", (2e9, 2e9))  # newest by mtime, oldest by started_at
    assert report.newest_run(tmp_path).name == "new"
    with pytest.raises(report.BadInput):
        report.newest_run(tmp_path / "empty")


def test_vendored_schema_is_the_shared_one():
    shared = report.REPO_ROOT.parent / "shared" / "summary.schema.json"
    if not shared.is_file():
        pytest.skip("no shared schema beside the repo")
    assert (report.COLLECT_DIR / "summary.schema.json").read_bytes() == shared.read_bytes()
