"""The report's cost section, Pareto plot and summary `cost` block; --compare as a CI gate."""
import json

from collect import report
from collect.synth import StepSpec, VariantSpec, demo, write_run
from rightsize.variables import VARIABLES

GOOD = dict(rps=40, latency_median_ms=100, cpu_cores=0.2, mem_frac=0.4)


def test_summary_cost_block_report_and_pareto_plot(tmp_path, validate):
    run_dir = tmp_path / "demo"
    demo(run_dir)
    assert report.main([str(run_dir)]) == 0
    summary = validate(json.loads((run_dir / "summary.json").read_text()))
    block = summary["cost"]
    assert block["cpu_hour"] == VARIABLES["cost_cpu_hour"].default  # the synthetic run.json has no prices
    rows = {v["name"]: v for v in block["variants"]}
    r = rows["c0.5-m512M-r1"]
    assert r["per_hour"] == round(0.5 * block["cpu_hour"] + 0.5 * block["gb_hour"], 6)
    assert rows["c0.25-m256M-r1"]["pareto"]  # the cheapest point is always on the front
    # every step carries its p95 interval, so a committed summary.json can be judged alone
    assert all(st["p95_ci_ms"][0] <= st["p95_ms"] <= st["p95_ci_ms"][1]
               for v in summary["variants"] for st in v["steps"] if st["p95_ms"] is not None)
    text = (run_dir / "consolidated_report.md").read_text()
    assert "## Cost and the Pareto front" in text and "run.json has no cost.cpu_hour" in text
    assert (run_dir / "plots" / "pareto.png").stat().st_size > 1000 and "(plots/pareto.png)" in text


def test_cost_off_at_zero_cpu_price(tmp_path, validate):
    run_dir = tmp_path / "run"
    write_run(run_dir, [VariantSpec("c1-m1024M-r1", [StepSpec(50, **GOOD)])], target_users=50)
    run = json.loads((run_dir / "run.json").read_text())
    run["cost"] = {"cpu_hour": 0, "gb_hour": 0.004, "currency": "USD", "source": "x"}
    (run_dir / "run.json").write_text(json.dumps(run))
    assert report.main([str(run_dir), "--no-plots"]) == 0
    assert validate(json.loads((run_dir / "summary.json").read_text()))["cost"] is None
    assert "Cost switched off (`cost_cpu_hour=0`)" in (run_dir / "consolidated_report.md").read_text()


def _run(path, rps=40, median=100, target=100, seed=1):
    steps = [StepSpec(50, **{**GOOD, "rps": rps, "latency_median_ms": median}),
             StepSpec(100, **{**GOOD, "rps": 2 * rps, "latency_median_ms": median})]
    write_run(path, [VariantSpec("c1-m1024M-r1", steps, step_duration=60)], target_users=target, seed=seed)
    return path


def test_gate_summary_json_base_and_json_output(tmp_path, capsys):
    base = _run(tmp_path / "base")
    assert report.main([str(base), "--no-plots"]) == 0
    committed = tmp_path / "baseline-summary.json"
    committed.write_text((base / "summary.json").read_text())
    same = _run(tmp_path / "same", seed=2)
    worse = _run(tmp_path / "worse", rps=30, median=160, seed=3)
    capsys.readouterr()
    assert report.main(["--compare", str(committed), str(same), "--fail-on-regression", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"base", "new", "target_users", "same_target", "variants", "only_base", "only_new",
                           "search", "regressions", "regressed"}
    assert result["regressions"] == [] and result["variants"][0]["name"] == "c1-m1024M-r1"
    assert report.main(["--compare", str(committed), str(worse), "--fail-on-regression"]) == 4
    captured = capsys.readouterr()
    assert "regression against" in captured.err and "🚩" in captured.out
    assert report.main(["--compare", str(committed), str(worse)]) == 0  # without the flag: a report only


def test_gate_target_users_differ_exits_2_and_bad_summary_exits_2(tmp_path, capsys):
    base = _run(tmp_path / "base")
    other = _run(tmp_path / "other", target=50)
    assert report.main(["--compare", str(base), str(other), "--fail-on-regression"]) == 2
    assert "target users differ" in capsys.readouterr().err
    bad = tmp_path / "summary.json"
    bad.write_text('{"run_id": "x"}')
    assert report.main(["--compare", str(bad), str(base), "--fail-on-regression"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a summary.json" in err
    assert report.main([str(base), "--json"]) == 2
