"""The pure rules of repeats (rightsize/repeats.py): verdicts, step pooling, spread, counting noise,
and the longer hold of an inconclusive search probe."""
import pytest

from rightsize import repeats as r


def rep(d, verdict, broken=None, reason="x"):
    return {"dir": d, "verdict": verdict, "reasons": [reason], "broken": broken or {}}


@pytest.mark.parametrize("verdicts, expected", [
    (["pass", "pass", "pass"], "pass"),
    (["pass", "fail"], "fail"),
    (["invalid", "fail", "pass"], "fail"),          # a valid failing repeat wins over an invalid one
    (["incomplete", "invalid"], "invalid"),
    (["pass", "incomplete"], "incomplete"),
    (["incomplete", "fail", "invalid"], "fail"),
])
def test_variant_verdict_of_its_repeats(verdicts, expected):
    verdict, reasons = r.combine_verdicts([rep(f"v/repeats/{i}", x) for i, x in enumerate(verdicts, 1)])
    assert verdict == expected
    assert len(reasons) == sum(x != "pass" for x in verdicts)


def test_the_reasons_say_which_repeat_broke_which_slo():
    verdict, reasons = r.combine_verdicts([rep("v", "pass"), rep("v/repeats/2", "fail", {"p95_ms": 1300.0},
                                                                 "at 100 users: p95 1300 ms over 1000 ms")])
    assert verdict == "fail"
    assert reasons == ["repeat v/repeats/2: fail broke p95_ms (at 100 users: p95 1300 ms over 1000 ms)"]
    assert r.combine_verdicts([]) == ("incomplete", ["no repeat ran"])


def step(valid=True, slo_pass=True, broken=None):
    return {"valid": valid, "slo_pass": slo_pass, "slo_broken": broken or {}}


def test_a_step_passes_only_when_it_passes_in_every_repeat():
    assert r.combine_step([step(), step(), step()], 3) == (True, True, {})
    # one repeat missing the step: not a pass
    assert r.combine_step([step(), step()], 3) == (False, None, {})
    # an inconclusive repeat (valid, slo_pass None)
    assert r.combine_step([step(), step(slo_pass=None)], 2) == (True, None, {})
    # an invalid repeat
    assert r.combine_step([step(), step(valid=False, slo_pass=None)], 2) == (False, None, {})


def test_a_valid_failing_repeat_fails_the_step_with_the_worst_value_of_each_slo():
    valid, slo_pass, broken = r.combine_step(
        [step(slo_pass=False, broken={"p95_ms": 1200.0}), step(valid=False, slo_pass=None),
         step(slo_pass=False, broken={"p95_ms": 1500.0, "cpu_pct": 95.0})], 3)
    assert (valid, slo_pass, broken) == (False, False, {"p95_ms": 1500.0, "cpu_pct": 95.0})
    # an invalid repeat's broken SLOs are not counted
    assert r.combine_step([step(), step(valid=False, slo_pass=False, broken={"p95_ms": 2000.0})], 2) \
        == (False, None, {})


def test_spread():
    assert r.spread([90.0, 100.0, 110.0]) == {"min": 90.0, "max": 110.0, "relative": 0.2, "n": 3}
    assert r.spread([None, 5.0]) == {"min": 5.0, "max": 5.0, "relative": 0.0, "n": 1}
    assert r.spread([None]) is None and r.spread([0.0, 0.0])["relative"] is None


def test_counting_noise():
    # 1000 vs 1100 requests in 10 s: 10 RPS apart, sd = sqrt(2100)/10 = 4.6: within 3 sd
    assert not r.rps_beyond_noise(1000, 10, 1100, 10)
    # 1000 vs 1200: 20 apart > 3 x 4.7
    assert r.rps_beyond_noise(1000, 10, 1200, 10)
    assert not r.rps_beyond_noise(10, 0, 20, 10)
    assert r.p95_beyond_noise((10, 12), (13, 15)) and not r.p95_beyond_noise((10, 13), (13, 15))
    assert not r.p95_beyond_noise(None, (1, 2))
    figs = [{"dir": "a", "requests": 1000, "duration_s": 10, "rps": 100.0, "p95_ms": 11, "p95_ci": (10, 12)},
            {"dir": "b", "requests": 1050, "duration_s": 10, "rps": 105.0, "p95_ms": 12, "p95_ci": (11, 13)},
            {"dir": "c", "requests": 1500, "duration_s": 10, "rps": 150.0, "p95_ms": 30, "p95_ci": (28, 33)}]
    out = r.not_repeatable(figs)
    assert len(out) == 4 and all("(c)" in x for x in out)      # a-c and b-c, RPS and p95 each
    assert r.not_repeatable(figs[:2]) == []


@pytest.mark.parametrize("needed, rps, hold, expected", [
    (3000, 100.0, 20, 30.0),    # 30 s of 100 RPS hold the 3,000 requests
    (3001, 100.0, 20, 31.0),    # rounded up to a whole second
    (500, 100.0, 20, 20.0),     # never shorter than the ordinary hold
    (90000, 100.0, 20, 80.0),   # capped at 4 x the hold
    (None, 100.0, 20, 80.0),    # an undecidable share: the cap
    (3000, 0.0, 20, 80.0),      # no RPS measured: the cap
])
def test_longer_hold_holds_the_needed_requests_capped_at_four_holds(needed, rps, hold, expected):
    assert r.longer_hold_s(needed, rps, hold) == expected


def test_repeat_folders_and_planned_repeats():
    assert r.repeat_folder("c1-m512M-r1", 1) == "c1-m512M-r1"
    assert r.repeat_folder("c1-m512M-r1", 3) == "c1-m512M-r1/repeats/3"
    with pytest.raises(ValueError):
        r.repeat_folder("x", 0)
    assert r.planned_repeats({"vars": {"repeats": 3}}) == 3
    assert r.planned_repeats({"vars": {"repeats": "2"}}) == 2
    assert r.planned_repeats({}) == 1 and r.planned_repeats({"vars": {"repeats": "x"}}) == 1
    assert r.planned_repeats({"vars": {"repeats": 0}}) == 1


def test_preflight_names_a_wrong_repeats():
    from rightsize.checks import variable_error

    assert variable_error("repeats", 0) == "repeats=0: expected a whole number 1-20"
    assert variable_error("repeats", "two") == "repeats='two': expected a whole number 1-20"
    assert variable_error("repeats", "3") is None
