"""Partial and damaged runs: nulls, incomplete steps and variants, clear errors naming the file."""
import json

import pytest
from collect_testkit import step, variant, window_requests

from collect import compute, render
from collect.load import InputError, load_run, read_csv, LATENCY_COLUMNS
from collect.report import main
from collect.synth import StepSpec, VariantSpec, write_run

GOOD = dict(rps=40, latency_median_ms=100, cpu_cores=0.2, mem_frac=0.4)
THREE = [StepSpec(50, **GOOD), StepSpec(100, **GOOD), StepSpec(150, **GOOD)]


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("partial") / "run"
    truth = write_run(run_dir, [
        VariantSpec("c1-m1024M-r1", THREE),
        # killed 45 s in: step 2 (started at 32.37 s) cut short, step 3 never started, no master.json,
        # and a worker's latency file ends in a row without its newline
        VariantSpec("c0.5-m512M-r1", THREE, stop_at=45, master_json=False,
                    cut_latency_tail="1800000999,1,250,1", status="running"),
        VariantSpec("c0.5-m1024M-r1", THREE, drop=("target/samples.csv",)),
    ], target_users=150, planned_only=["c2-m2048M-r1"],
        skipped=[{"name": "c4-m4096M-r1", "reason": "exceeds the target's cores"}])
    return run_dir, truth


def test_partial_run_renders_and_validates(partial, analyse, validate, tmp_path):
    run_dir, _ = partial
    data, a = analyse(run_dir)
    summary = validate(compute.summary(a))
    assert summary["valid"] is False
    verdicts = {v["name"]: v["verdict"] for v in summary["variants"]}
    assert verdicts == {"c1-m1024M-r1": "pass", "c0.5-m512M-r1": "incomplete",
                        "c0.5-m1024M-r1": "invalid", "c2-m2048M-r1": "incomplete"}
    assert "c4-m4096M-r1" not in verdicts
    text = render.render_markdown(a, data)
    assert "c4-m4096M-r1" in text and "exceeds the target's cores" in text
    assert "| — | 150 | not run |" in text
    assert "last line cut mid-row" in text
    assert "c2-m2048M-r1/: folder missing" in text


def test_killed_variant_keeps_complete_rows(partial, analyse):
    run_dir, truth = partial
    _, a = analyse(run_dir)
    name = "c0.5-m512M-r1"
    v = variant(a, name)
    assert [s["users"] for s in v["steps"]] == [50, 100] and v["steps_missing"] == [150]
    first = truth[name].steps.iloc[0]
    raw, _ = window_requests(truth[name].requests, first.start_ts, first.planned_end_ts)
    assert step(a, name, 50)["requests"] == len(raw)  # the cut last line is not counted
    cut = step(a, name, 100)
    assert cut["complete"] is False and cut["valid"] is False and cut["slo_pass"] is None
    assert any("step incomplete" in r for r in cut["reasons"])
    assert any("no master.json: the run's end is taken from its last data" in r for r in v["reasons"])


def test_missing_samples_gives_nulls_not_numbers(partial, analyse):
    run_dir, _ = partial
    _, a = analyse(run_dir)
    st = step(a, "c0.5-m1024M-r1", 150)
    assert st["cpu_pct"] is None and st["mem_pct"] is None and st["cpu_throttled_pct"] is None
    assert st["valid"] and st["slo_pass"] is None
    assert any("cpu_pct not measured" in r for r in st["reasons"])
    assert any("target/samples.csv: missing" in r for r in a["reasons"])


def test_cut_row_without_all_fields(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("ts,ok,ms,count\n100,1,5,3\n101,1,7,2\n102,1,4")
    frame, notes = read_csv(path, "w.csv", LATENCY_COLUMNS)
    assert frame["count"].tolist() == [3, 2]
    assert len(notes) == 1 and "w.csv" in notes[0] and "kept the 2 complete rows" in notes[0]


@pytest.mark.parametrize("rel, content, needle", [
    ("master.json", '{"end_ts": 18000', "master.json: bad JSON"),
    ("target/samples.csv", None, "samples.csv: line 3: column 'cpu_usage_ns' not a number"),
    ("steps.csv", "step,users\n1,50\n", "steps.csv: missing column(s) start_ts, planned_end_ts"),
    ("latency/lg1-201.csv", "ts,ok,ms,count\n1,1,5,2,9,9\n2,1,5,1\n", "lg1-201.csv: malformed CSV"),
])
def test_corrupt_file_is_named(tmp_path, analyse, validate, capsys, rel, content, needle):
    write_run(tmp_path / "run", [VariantSpec("c1-m1024M-r1", [StepSpec(50, **GOOD)])], target_users=50)
    path = tmp_path / "run" / "c1-m1024M-r1" / rel
    if content is None:  # damage a row in the middle
        lines = path.read_text().splitlines(keepends=True)
        lines[2] = lines[2].replace(lines[2].split(",")[2], "12x4", 1)
        content = "".join(lines)
    path.write_text(content)
    with pytest.raises(InputError) as err:
        load_run(tmp_path / "run", strict=True)
    assert needle in str(err.value)
    # not strict: the variant is marked incomplete with the error as its reason, the rest renders
    _, a = analyse(tmp_path / "run")
    v = validate(compute.summary(a))["variants"][0]
    assert v["verdict"] == "incomplete" and needle in v["reasons"][0]
    assert main([str(tmp_path / "run"), "--strict", "--no-plots"]) == 2
    assert needle in capsys.readouterr().err


def test_bad_run_json_exits_2(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main([str(tmp_path / "run")]) == 2
    assert "run.json: missing" in capsys.readouterr().err
    (tmp_path / "run" / "run.json").write_text(json.dumps({"run_id": "x", "target_users": "many"}))
    assert main([str(tmp_path / "run")]) == 2
    assert "target_users" in capsys.readouterr().err


def test_master_json_still_running_and_unlimited_container(tmp_path, analyse, validate):
    """The master rewrites master.json with end_ts null until it quits; docker reports no limit as 0."""
    name = "c1-m1024M-r1"
    write_run(tmp_path / "run", [VariantSpec(name, [StepSpec(50, **GOOD), StepSpec(100, **GOOD)],
                                             stop_at=45)], target_users=100)
    vdir = tmp_path / "run" / name
    (vdir / "master.json").write_text(json.dumps({"end_ts": None, "exit_code": None,
                                                  "expected_workers": 2, "min_workers": 2}))
    samples = (vdir / "target" / "samples.csv").read_text().splitlines()
    samples[1:] = [",".join(row.split(",")[:7] + ["0", "1"]) for row in samples[1:]]
    (vdir / "target" / "samples.csv").write_text("\n".join(samples) + "\n")
    _, a = analyse(tmp_path / "run")
    v = variant(a, name)
    assert v["verdict"] == "incomplete"
    assert any("end_ts null (the master did not quit)" in r for r in v["reasons"])
    first = step(a, name, 50)
    assert first["mem_pct"] is None and first["cpu_pct"] is not None
    assert first["slo_pass"] is None
    validate(compute.summary(a))
