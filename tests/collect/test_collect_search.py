"""The right-sizing search (collect/search.py): bisection, repeats, bounds, resume, memory sizing,
replicas, and the report's search block. Probe folders are synthetic runs (collect/synth.py) whose
outcome follows a capacity model, driven through `next` one step at a time."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from collect import report, search
from collect.synth import StepSpec, VariantSpec, write_run, write_variant

SEARCH = Path(search.__file__).resolve()
TARGET = 100
MIB = 2**20
PASS = dict(rps=40, latency_median_ms=100, cpu_cores=0.2)
FAIL = dict(PASS, latency_median_ms=1500)          # p95 far over 1000 ms: a clear fail
INVALID = dict(PASS, generator_cores=0.95)         # generator saturated: invalid


def new_search(tmp_path, **params) -> Path:
    """search.json of a bisection (search_strategy=bisect: these tests pin its probe order) whose
    probes climb the steps; params override any key."""
    run_dir = tmp_path / "run"
    write_run(run_dir, [], target_users=TARGET)
    (run_dir / "search.json").write_text(json.dumps({
        "target_users": TARGET, "replicas": [1], "cpu_min": 0.25, "cpu_max": None, "cores": 2,
        "resolution": 0.25, "probe_mem": "2G", "max_probes": 8, "mem_target_pct": 75,
        "mem_round": "64M", "strategy": "bisect", "probe_shape": "ramp", **params}))
    return run_dir


def run_into(run_dir: Path, action: dict, step: dict, mem_mib: float = 300, seed: int = 0) -> None:
    """What the playbook does for a run action: the load, into action["dir"]. The step shape is
    the given one at 50 and 100 users; each container holds mem_mib MiB throughout."""
    name = search.naming.variant_name(action["cpu"], action["mem"], action["replicas"])
    limit = search.naming.docker_bytes(action["mem"])
    spec = VariantSpec(name, [StepSpec(50, **PASS, mem_frac=mem_mib * MIB / limit),
                              StepSpec(TARGET, **step, mem_frac=mem_mib * MIB / limit)],
                       step_duration=20)
    scratch = run_dir.parent / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    write_variant(scratch, spec, 1_800_000_000.0, np.random.default_rng(seed))
    shutil.rmtree(run_dir / action["dir"], ignore_errors=True)
    shutil.move(str(scratch / name), str(run_dir / action["dir"]))


def threshold(cpu_needed: float, per_replica: bool = False):
    """Capacity model: passes iff cpu (x replicas unless per_replica) >= cpu_needed."""
    def outcome(action):
        have = action["cpu"] if per_replica else action["cpu"] * action["replicas"]
        return PASS if have >= cpu_needed - 1e-9 else FAIL
    return outcome


def drive(run_dir: Path, model, mem_mib=lambda action: 300, limit: int = 40):
    """Call `next` and run what it says until done; returns (done, the run actions in order,
    the final search state)."""
    actions = []
    lookup = search.folder_lookup(run_dir, search.read_config(run_dir)[1])  # read each folder once
    for _ in range(limit):
        state = search.plan(run_dir, lookup)
        action = state.action
        if action["action"] == "done":
            return action, actions, state
        actions.append(action)
        run_into(run_dir, action, model(action), mem_mib(action), seed=len(actions))
    raise AssertionError(f"no done after {limit} steps: {actions[-3:]}")


def probes(actions):
    return [a for a in actions if a["kind"] == "probe"]


def test_bisection_converges_within_resolution_in_at_most_4_probes(tmp_path):
    run_dir = new_search(tmp_path)
    done, actions, state = drive(run_dir, threshold(0.75))
    tried = [a["cpu"] for a in probes(actions)]
    assert len(tried) <= 4 and tried == [1.0, 0.5, 0.75]
    assert [a["dir"] for a in probes(actions)] == ["probe-01-c1-m2048M-r1", "probe-02-c0.5-m2048M-r1",
                                                   "probe-03-c0.75-m2048M-r1"]
    assert all(a["mem"] == "2G" and a["replicas"] == 1 and not a["stale"] for a in probes(actions))
    confirm = actions[-1]
    assert confirm["kind"] == "confirm" and confirm["dir"] == "c0.75-m448M-r1"
    assert (confirm["cpu"], confirm["mem"]) == (0.75, "448M")
    assert (done["cpu"], done["mem"], done["replicas"]) == (0.75, "448M", 1)
    assert state.searches[0].bracket == {"highest_failing_cpu": 0.5, "lowest_passing_cpu": 0.75}


@pytest.mark.parametrize("needed, answer, bracket", [
    (0.25, 0.25, (None, 0.25)),   # cpu_min passes: nothing fails
    (2.0, 2.0, (1.75, 2.0)),      # only the top passes
    (1.3, 1.5, (1.25, 1.5)),      # off-grid capacity: the grid point above it
])
def test_bisection_edges(tmp_path, needed, answer, bracket):
    run_dir = new_search(tmp_path)
    done, actions, state = drive(run_dir, threshold(needed))
    assert len(probes(actions)) <= 4
    assert done["cpu"] == answer
    b = state.searches[0].bracket
    assert (b["highest_failing_cpu"], b["lowest_passing_cpu"]) == bracket


def test_nothing_passes_is_done_with_null_answer_and_no_confirmation(tmp_path):
    run_dir = new_search(tmp_path)
    done, actions, state = drive(run_dir, threshold(9))
    assert all(a["kind"] == "probe" for a in actions) and actions[-1]["cpu"] == 2.0
    assert (done["cpu"], done["mem"], done["replicas"]) == (None, None, None)
    assert "fails" in done["why"]


def test_invalid_probe_is_repeated_once_then_the_search_goes_on(tmp_path):
    run_dir = new_search(tmp_path)
    seen = []

    def model(action):  # the first probe at 0.5 is invalid, its repeat a clean fail
        seen.append(action["dir"])
        if action["cpu"] == 0.5 and sum(d.endswith("c0.5-m2048M-r1") for d in seen) == 1:
            return INVALID
        return threshold(0.75)(action)
    done, actions, state = drive(run_dir, model)
    assert [a["cpu"] for a in probes(actions)] == [1.0, 0.5, 0.5, 0.75]
    assert "repeat" in probes(actions)[2]["why"] and "invalid" in probes(actions)[2]["why"]
    assert done["cpu"] == 0.75
    assert [p.verdict for p in state.probes] == ["pass", "invalid", "fail", "pass"]
    assert state.probes[2].reasons[0] == "repeat of probe-02-c0.5-m2048M-r1 (invalid)"


def test_twice_inconclusive_stops_with_the_bracket_so_far(tmp_path):
    run_dir = new_search(tmp_path)
    model = lambda a: INVALID if a["cpu"] == 0.5 else threshold(0.75)(a)  # noqa: E731
    done, actions, state = drive(run_dir, model)
    assert [a["cpu"] for a in probes(actions)] == [1.0, 0.5, 0.5]
    rs = state.searches[0]
    assert rs.bracket == {"highest_failing_cpu": None, "lowest_passing_cpu": 1.0}
    assert "inconclusive twice" in rs.stop
    # the answer is the lowest passing CPU so far, still confirmed
    assert actions[-1]["kind"] == "confirm" and done["cpu"] == 1.0
    assert [p.verdict for p in state.probes] == ["pass", "invalid", "invalid"]


def test_max_probes_bound_reports_the_best_bracket(tmp_path):
    run_dir = new_search(tmp_path, max_probes=2)
    done, actions, state = drive(run_dir, threshold(0.75))
    assert [a["cpu"] for a in probes(actions)] == [1.0, 0.5]
    rs = state.searches[0]
    assert rs.bracket == {"highest_failing_cpu": 0.5, "lowest_passing_cpu": 1.0}
    assert "max_probes 2" in rs.stop
    assert actions[-1] == {**actions[-1], "kind": "confirm", "cpu": 1.0, "dir": "c1-m448M-r1"}
    assert done["cpu"] == 1.0


def test_resume_reuses_finished_probes_and_reruns_an_unfinished_one(tmp_path):
    run_dir = new_search(tmp_path)
    model = threshold(0.75)
    first = search.plan(run_dir).action
    run_into(run_dir, first, model(first))
    second = search.plan(run_dir).action
    assert second["dir"] == "probe-02-c0.5-m2048M-r1"
    # the playbook was interrupted during probe 02: its variant.json still says running
    run_into(run_dir, second, model(second))
    meta = json.loads((run_dir / second["dir"] / "variant.json").read_text())
    (run_dir / second["dir"] / "variant.json").write_text(json.dumps({**meta, "status": "running"}))
    again = search.plan(run_dir).action
    assert {k: again[k] for k in ("kind", "cpu", "dir")} == {"kind": "probe", "cpu": 0.5,
                                                            "dir": "probe-02-c0.5-m2048M-r1"}
    assert again["stale"] is True
    # status "failed" with data is a finished load: reused, not repeated
    (run_dir / second["dir"] / "variant.json").write_text(
        json.dumps({**meta, "status": "failed", "error": "teardown failed"}))
    nxt = search.plan(run_dir).action
    assert nxt["dir"] == "probe-03-c0.75-m2048M-r1" and nxt["stale"] is False
    # deterministic replay: asking again changes nothing
    assert search.plan(run_dir).action == nxt


def test_memory_sizing_and_rounding():
    assert search.mem_for(300 * MIB, 75, 64 * MIB) == 448 * MIB   # 400 MiB -> up to 448
    assert search.mem_for(288 * MIB, 75, 64 * MIB) == 384 * MIB   # 384 MiB exactly: kept
    assert search.mem_for(288 * MIB + 1, 75, 64 * MIB) == 448 * MIB
    assert search.mem_for(100 * MIB, 50, 1024 * MIB) == 1024 * MIB
    assert search.mem_text(448 * MIB) == "448M"


def test_memory_is_the_peak_of_the_passing_probes(tmp_path):
    run_dir = new_search(tmp_path)
    # passing probes use more memory at lower CPU; failing ones more still (they must not count)
    mem = lambda a: {1.0: 250, 0.75: 300, 0.5: 700}[a["cpu"]] if a["kind"] == "probe" else 300  # noqa: E731
    done, _, state = drive(run_dir, threshold(0.75), mem_mib=mem)
    rs = state.searches[0]
    assert rs.peak_mem_bytes == 300 * MIB
    assert done["mem"] == "448M"


def test_failed_confirmation_gives_a_null_answer_with_the_reason(tmp_path):
    run_dir = new_search(tmp_path)
    model = lambda a: FAIL if a["kind"] == "confirm" else threshold(0.75)(a)  # noqa: E731
    done, actions, state = drive(run_dir, model)
    assert actions[-1]["kind"] == "confirm"
    assert (done["cpu"], done["mem"], done["replicas"]) == (None, None, None)
    assert "confirmation run c0.75-m448M-r1 fail" in done["why"]


def test_by_replicas_picks_the_cheapest_total(tmp_path):
    # total CPU x total memory: 1 x 2 CPU x 448M = 896 > 2 x 0.5 CPU x 2 x 320M = 640 < 3 x 0.5 x 3 x 320M
    run_dir = new_search(tmp_path, replicas=[1, 2, 3], cores=3)
    need = {1: 2.0, 2: 0.5, 3: 0.5}
    model = lambda a: PASS if a["cpu"] >= need[a["replicas"]] else FAIL  # noqa: E731
    done, actions, state = drive(run_dir, model, mem_mib=lambda a: 300 if a["replicas"] == 1 else 200)
    assert (done["cpu"], done["replicas"], done["mem"]) == (0.5, 2, "320M")
    assert [a["dir"] for a in actions if a["kind"] == "confirm"] == ["c2-m448M-r1", "c0.5-m320M-r2",
                                                                     "c0.5-m320M-r3"]
    assert "cheapest in total CPU x memory: r2" in done["why"]
    numbers = [int(a["dir"][6:8]) for a in probes(actions)]
    assert numbers == list(range(1, len(numbers) + 1))  # one numbering across the whole search
    assert max(a["cpu"] for a in probes(actions) if a["replicas"] == 3) <= 1.0  # cores / replicas


@pytest.mark.parametrize("bad, expected", [
    ({"resolution": 0}, "resolution=0"), ({"replicas": []}, "replicas=[]"),
    ({"cpu_max": None, "cores": None}, "cpu_max"), ({"probe_mem": "lots"}, "probe_mem='lots'"),
    ({"mem_target_pct": 120}, "mem_target_pct=120"), ({"target_users": "ten"}, "target_users='ten'"),
    ({"max_probes": 2.5}, "max_probes=2.5"),
])
def test_bad_search_json_exits_2_with_one_line(tmp_path, capsys, bad, expected):
    run_dir = new_search(tmp_path, **bad)
    assert search.main(["next", str(run_dir)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1
    assert out.err.startswith("error: ") and "search.json" in out.err and expected in out.err


def test_search_json_as_ansible_extra_vars_give_it():
    config = search.parse_config({"target_users": "100", "replicas": "1, 2,3", "cpu_min": "0.5",
                                  "cpu_max": "", "cores": "4", "resolution": "0.5", "max_probes": "6",
                                  "mem_target_pct": "80"})
    assert (config.target_users, config.replicas, config.max_probes) == (100, (1, 2, 3), 6)
    assert config.grid(1) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    assert config.grid(3) == [0.5, 1.0]  # 4 cores / 3 = 1.33, floored onto the grid
    assert (config.probe_mem, config.mem_round, config.mem_target_pct) == ("2G", "64M", 80.0)
    capped = search.parse_config({"target_users": 100, "cpu_max": 1.5, "cores": 2})
    assert capped.grid(1)[-1] == 1.5 and capped.grid(2)[-1] == 1.0  # never above cores / replicas
    assert search.parse_config({"target_users": 100, "cpu_max": 1.5}).grid(4)[-1] == 1.5


def test_no_search_json_exits_2(tmp_path, capsys):
    write_run(tmp_path / "run", [], target_users=TARGET)
    assert search.main(["next", str(tmp_path / "run")]) == 2
    assert "search.json: missing" in capsys.readouterr().err


def test_cli_prints_one_json_object(tmp_path):
    run_dir = new_search(tmp_path)
    done = subprocess.run([sys.executable, str(SEARCH), "next", str(run_dir)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "action": "run", "kind": "probe", "cpu": 1.0, "mem": "2G", "replicas": 1,
        "dir": "probe-01-c1-m2048M-r1", "stale": False,
        "why": "r1 bisection: CPU 1, the middle of cpu_min 0.25 .. top 2",
        # the load's shape, for the playbook (run.json: one step of 100 users, 30 s, warm-up 10 s)
        "shape": "ramp", "ramp_s": None, "hold_s": None, "warmup_s": 10.0, "users_step": 100,
        "load_s": 30.0}


def test_report_of_a_finished_search(tmp_path, validate):
    run_dir = new_search(tmp_path, replicas=[1, 2], cores=2)
    model = lambda a: PASS if a["cpu"] * a["replicas"] >= 1.5 else FAIL  # noqa: E731
    done, actions, state = drive(run_dir, model)
    assert report.main([str(run_dir)]) == 0
    summary = validate(json.loads((run_dir / "summary.json").read_text()))
    s = summary["search"]
    assert (s["cpu"], s["mem"], s["replicas"]) == (done["cpu"], done["mem"], done["replicas"])
    assert [p["dir"] for p in s["probes"]] == [a["dir"] for a in probes(actions)]
    assert all(p["verdict"] in ("pass", "fail") for p in s["probes"])
    assert [b["replicas"] for b in s["by_replicas"]] == [1, 2]
    assert s["bracket"] == next(b["bracket"] for b in s["by_replicas"] if b["replicas"] == s["replicas"])
    names = {v["name"] for v in summary["variants"]}
    assert names == {a["dir"] for a in actions if a["kind"] == "confirm"}  # probes are not variants
    assert summary["valid"] is True, summary["reasons"]
    assert summary["minimal"]["name"] in names
    text = (run_dir / "consolidated_report.md").read_text()
    section = text[text.index("## Right-sizing"):text.index("## Variants")]
    assert f"**Answer: {done['cpu']:.2f} CPU and {done['mem']} per replica" in section
    for p in s["probes"]:
        assert f"| {p['dir']} |" in section
    assert "(plots/search-probes.png)" in section
    assert (run_dir / "plots" / "search-probes.png").stat().st_size > 1000


def test_report_of_an_unfinished_search_is_not_valid(tmp_path, validate):
    run_dir = new_search(tmp_path)
    first = search.plan(run_dir).action
    run_into(run_dir, first, PASS)
    assert report.main([str(run_dir), "--no-plots"]) == 0
    summary = validate(json.loads((run_dir / "summary.json").read_text()))
    assert summary["valid"] is False and any("search not finished" in r for r in summary["reasons"])
    assert summary["search"]["cpu"] is None and len(summary["search"]["probes"]) == 1
    assert summary["variants"] == []
    assert "The search has not finished" in (run_dir / "consolidated_report.md").read_text()


def test_a_run_without_search_json_has_no_search_block(tmp_path):
    run_dir = tmp_path / "run"
    write_run(run_dir, [VariantSpec("c1-m1024M-r1", [StepSpec(50, **PASS)])], target_users=50)
    assert report.main([str(run_dir), "--no-plots"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "search" not in summary
    assert "## Right-sizing" not in (run_dir / "consolidated_report.md").read_text()


# ---------------------------------------------------------------- the model strategy on probe folders

DEMAND = 0.012   # CPU-seconds per request: 100 users ~ 50 RPS ~ 0.62 busy cores -> 0.75 CPU


def model_search(tmp_path, **params) -> Path:
    """A search whose run.json climbs 50, 100 users in 20 s steps with a 10 s warm-up."""
    run_dir = new_search(tmp_path, strategy="model", **params)
    run = json.loads((run_dir / "run.json").read_text())
    run["vars"].update(users_step=50, step_duration=20)
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def serve(run_dir: Path, action: dict, seed: int) -> None:
    """The playbook's run against a service of known demand: it serves what the users offer up to
    its CPU limit (then queues: slow), burning 0.02 idle cores plus DEMAND per request. A hold
    writes what the master writes for one: a single step of the target users, warm-up + hold long."""
    name = search.naming.variant_name(action["cpu"], action["mem"], action["replicas"])
    hold = action["shape"] == "hold"
    users = [TARGET] if hold else [50, TARGET]

    def step(u):
        offered = u / (2.0 + 0.113)   # N / (Z + R): between(1, 3), lognormal 100 ms median responses
        served = min(offered, (action["cpu"] * 0.97 - 0.02) / DEMAND)
        return StepSpec(u, rps=served, latency_median_ms=100 if served == offered else 1500,
                        mem_frac=300 * MIB / search.naming.docker_bytes(action["mem"]))
    duration = action["warmup_s"] + action["hold_s"] if hold else 20
    spec = VariantSpec(name, [step(u) for u in users], step_duration=int(duration), cpu_s_per_request=DEMAND)
    scratch = run_dir.parent / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    write_variant(scratch, spec, 1_800_000_000.0, np.random.default_rng(seed))
    shutil.rmtree(run_dir / action["dir"], ignore_errors=True)
    shutil.move(str(scratch / name), str(run_dir / action["dir"]))


def drive_service(run_dir: Path, limit: int = 20):
    actions = []
    lookup = search.folder_lookup(run_dir, search.read_config(run_dir)[1])
    for _ in range(limit):
        state = search.plan(run_dir, lookup)
        if state.finished:
            return state.action, actions, state
        actions.append(state.action)
        serve(run_dir, state.action, seed=len(actions))
    raise AssertionError(f"no done after {limit} steps: {actions[-3:]}")


def test_model_strategy_answers_in_fewer_runs_with_hold_probes(tmp_path, validate):
    bisected, bisect_actions, _ = drive_service(new_search(tmp_path / "bisect", strategy="bisect"))
    run_dir = model_search(tmp_path / "model", probe_shape="hold", hold_s=20)
    done, actions, state = drive_service(run_dir)
    assert [a["cpu"] for a in probes(bisect_actions)] == [1.0, 0.5, 0.75] and bisected["cpu"] == 0.75
    assert [(a["cpu"], a["shape"]) for a in actions] == [(1.0, "ramp"), (0.75, "hold"), (0.75, "hold")]
    assert done["cpu"] == 0.75 and len(actions) < len(bisect_actions)
    # the hold probe is one step of the target users, measured over its 20 s after the warm-up
    held = json.loads((run_dir / actions[1]["dir"] / "steps.csv").read_text().splitlines()[-1].split(",")[0])
    assert held == 1
    assert report.main([str(run_dir), "--no-plots"]) == 0
    summary = validate(json.loads((run_dir / "summary.json").read_text()))
    s = summary["search"]
    assert s["strategy"] == "model" and s["fallback"] is None
    assert s["bracket"] == {"highest_failing_cpu": 0.5, "lowest_passing_cpu": 0.75,
                            "highest_failing_basis": "predicted"}
    assert [k["cpu"] for k in s["skipped"]] == [0.25, 0.5]
    truth = 0.02 + DEMAND * TARGET / 2.113
    assert s["model"]["cpu_s_per_request"] == pytest.approx(DEMAND, rel=0.1)   # 10-s windows at 25-50 RPS
    assert s["model"]["busy_cpu_low"] <= truth <= s["model"]["busy_cpu_high"]
    assert all(0.9 * k["cpu"] <= k["predicted_busy_cpu"] == s["model"]["busy_cpu_low"] for k in s["skipped"])
    assert [p["shape"] for p in s["probes"]] == ["ramp", "hold"]
    confirm = next(v for v in summary["variants"] if v["name"] == actions[-1]["dir"])
    assert [st["users"] for st in confirm["steps"]] == [TARGET] and confirm["verdict"] == "pass"
    text = (run_dir / "consolidated_report.md").read_text()
    section = text[text.index("## Right-sizing"):text.index("## Variants")]
    assert "Model-guided search" in section and "Not run: the capacity model predicted" in section
    assert "| 0.50 | 1 |" in section


def test_model_strategy_resumes_from_its_folders(tmp_path):
    run_dir = model_search(tmp_path)
    first = search.plan(run_dir).action
    serve(run_dir, first, seed=1)
    second = search.plan(run_dir).action
    assert second["cpu"] == 0.75 and "the predicted answer" in second["why"]
    assert search.plan(run_dir).action == second     # replayed from the folders, the same again
