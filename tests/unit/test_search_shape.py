"""Hold probes: the schedule (rightsize/steps.py, copied to locust/steps.py), the auto rule, the
shape of each search run, and the Locust shape running a hold: ramp up, then one held step whose
steps.csv row collect cuts like any step."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collect import search
from rightsize import steps as schedule

ROOT = Path(__file__).resolve().parents[2]


def test_hold_ramps_then_holds_one_window():
    steps = schedule.schedule("hold", 400, 200, 20, ramp_s=30, hold_s=20, warmup_s=5)
    assert steps == [(400, 30.0, 55.0)]          # the report measures [30 + 5, 55]
    assert schedule.load_at(0, steps) == (None, 400)       # ramping: every user wanted, no step yet
    assert schedule.load_at(29.9, steps) == (None, 400)
    assert schedule.load_at(30, steps) == (0, 400)
    assert schedule.load_at(54.9, steps) == (0, 400)
    assert schedule.load_at(55, steps) is None
    assert schedule.spawn_rate("hold", 400, 200, 5, 30) == pytest.approx(400 / 30)


def test_ramp_is_the_seed_steps():
    steps = schedule.schedule("ramp", 1200, 500, 60)
    assert steps == [(500, 0, 60), (1000, 60, 120), (1200, 120, 180)]
    for t in (0, 59.9, 60, 179.9, 180):
        found = schedule.load_at(t, steps)
        assert found == schedule.step_at(t, schedule.step_users(1200, 500), 60)
    assert schedule.spawn_rate("ramp", 1200, 500, 5, 30) == 100
    assert schedule.load_seconds(steps) == 180
    with pytest.raises(ValueError, match="shape 'flat'"):
        schedule.schedule("flat", 1, 1, 1)


@pytest.mark.parametrize("users, step, duration, ramp, hold, warmup, shape", [
    (10000, 500, 60, 30, 60, 10, "hold"),   # stress: 100 s instead of 20 steps x 60 s
    (400, 200, 20, 30, 20, 5, "ramp"),      # 2 steps of 20 s: 40 s, shorter than 30 + 5 + 20
    (400, 200, 20, 10, 20, 5, "hold"),      # 35 s < 40 s
    (400, 200, 20, 15, 20, 5, "ramp"),      # 40 s: not shorter
])
def test_auto_holds_when_that_is_shorter_than_climbing(users, step, duration, ramp, hold, warmup, shape):
    assert schedule.pick_shape("auto", users, step, duration, ramp, hold, warmup) == shape
    assert schedule.pick_shape("ramp", users, step, duration, ramp, hold, warmup) == "ramp"
    assert schedule.pick_shape("hold", users, step, duration, ramp, hold, warmup) == "hold"
    with pytest.raises(ValueError):
        schedule.pick_shape("sometimes", users, step, duration, ramp, hold, warmup)


def test_search_runs_follow_the_rule_but_the_first_probe_climbs():
    config = search.parse_config({"target_users": 10000, "cpu_max": 2, "probe_shape": "auto"})
    facts = search.LoadFacts(users_step=500, step_duration=60, warmup_s=10)
    assert search.run_shape(config, facts, climb=True) == {
        "shape": "ramp", "ramp_s": None, "hold_s": None, "warmup_s": 10, "users_step": 500, "load_s": 1200}
    # hold_s defaults to the step duration; a hold is one step of the target users
    assert search.run_shape(config, facts) == {
        "shape": "hold", "ramp_s": 30, "hold_s": 60, "warmup_s": 10, "users_step": 10000, "load_s": 100}
    short = search.parse_config({"target_users": 10000, "cpu_max": 2, "ramp_s": 60, "hold_s": "45"})
    assert search.run_shape(short, facts)["load_s"] == 60 + 10 + 45
    for bad, key in (({"probe_shape": "flat"}, "probe_shape='flat'"), ({"strategy": "guess"}, "strategy"),
                     ({"ramp_s": 0}, "ramp_s=0"), ({"hold_s": -5}, "hold_s=-5")):
        with pytest.raises(search.InputError, match=key):
            search.parse_config({"target_users": 100, "cpu_max": 2, **bad})


def test_steps_copy_is_identical():
    assert (ROOT / "locust" / "steps.py").read_bytes() == (ROOT / "rightsize" / "steps.py").read_bytes()


LOCUST_TICK = textwrap.dedent("""
    import json, sys, types
    sys.path.insert(0, "locust")
    import shape
    options = types.SimpleNamespace(rs_shape="hold", rs_users=400, rs_users_step=200, rs_step_duration=20,
                                    rs_spawn_s=5, rs_ramp_s=30, rs_hold_s=20, rs_warmup_s=5)
    runner = types.SimpleNamespace(environment=types.SimpleNamespace(parsed_options=options))
    rows, ticks = [], []
    shape.StepLoadShape.on_step = staticmethod(lambda *row: rows.append(row))  # as the master log sets it
    load = shape.StepLoadShape()
    load.runner = runner
    for t in (0, 10, 29, 30, 31, 54, 55):
        load.get_run_time = lambda t=t: t
        ticks.append(load.tick())
    print(json.dumps({"ticks": ticks, "rows": rows}))
""")


def test_the_locust_shape_runs_a_hold():
    # in a child process: importing locust monkey-patches the interpreter
    done = subprocess.run([sys.executable, "-c", LOCUST_TICK], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    rate = pytest.approx(400 / 30)
    assert out["ticks"][:6] == [[400, rate]] * 6 and out["ticks"][6] is None
    (step, users, start, end), = out["rows"]           # one steps.csv row, written once
    assert (step, users) == (1, 400) and end - start == pytest.approx(25)   # warm-up 5 + hold 20
