"""rightsize/compare.py: the regression gate, judged from two summary.json dicts alone."""
import copy

from rightsize import compare


def _step(users, rps, p95, ci, duration=20.0, valid=True):
    return {"users": users, "rps": rps, "requests": int(rps * duration), "duration_s": duration, "p95_ms": p95,
            "p95_ci_ms": list(ci), "valid": valid}


def _variant(name="c0.5-m512M-r1", verdict="pass", passing=200, rps=100.0, p95=5.0, ci=(4.0, 6.0)):
    return {"name": name, "verdict": verdict, "max_users_passing": passing,
            "steps": [_step(100, rps / 2, 4.0, (3.0, 5.0)), _step(200, rps, p95, ci)]}


def _summary(*variants, target=200, run_id="base", search=None):
    out = {"run_id": run_id, "target_users": target, "slo": {"p95_ms_max": 1000},
           "variants": list(variants) or [_variant()]}
    if search is not None:
        out["search"] = search
    return out


def test_same_figures_within_noise_exit_0():
    base = _summary()
    new = _summary(_variant(rps=97.0, p95=6.0, ci=(5.0, 7.0)), run_id="new")
    result = compare.compare(base, new)
    assert result["regressions"] == [] and compare.exit_code(result) == compare.EXIT_OK


def test_target_users_differ_exit_2():
    result = compare.compare(_summary(), _summary(target=400))
    assert not result["same_target"] and compare.exit_code(result) == compare.EXIT_TARGET_DIFFERS


def test_lower_rps_beyond_counting_noise_exit_4():
    # 2,000 requests against 1,500 in 20 s: a 25 % drop, far beyond 3 sd (about 4.7 RPS)
    result = compare.compare(_summary(), _summary(_variant(rps=75.0)))
    assert compare.exit_code(result) == compare.EXIT_REGRESSION
    assert result["regressions"] == ["c0.5-m512M-r1: RPS at 200 users 100.0 -> 75.0 (-25%)"]


def test_higher_rps_is_a_change_not_a_regression():
    result = compare.compare(_summary(), _summary(_variant(rps=130.0)))
    assert compare.exit_code(result) == 0 and result["variants"][0]["changes"]


def test_higher_p95_needs_intervals_apart_and_the_slo_share():
    # 5 -> 30 ms with intervals apart: under 5 % of the 1,000-ms SLO, not news
    assert compare.exit_code(compare.compare(_summary(), _summary(_variant(p95=30.0, ci=(28, 33))))) == 0
    # 5 -> 400 ms, intervals apart: a regression
    result = compare.compare(_summary(), _summary(_variant(p95=400.0, ci=(350, 450))))
    assert compare.exit_code(result) == 4 and "p95 at 200 users 5 -> 400 ms" in result["regressions"][0]
    # 5 -> 400 ms but the intervals overlap (too few requests to tell): no regression
    assert compare.exit_code(compare.compare(_summary(), _summary(_variant(p95=400.0, ci=(5.5, 900))))) == 0


def test_verdict_and_max_users_passing():
    result = compare.compare(_summary(), _summary(_variant(verdict="fail", passing=100)))
    assert compare.exit_code(result) == 4
    assert result["regressions"] == ["c0.5-m512M-r1: verdict pass -> fail",
                                     "c0.5-m512M-r1: max users passing 200 -> 100"]
    # fail -> pass and more users passing: changes only
    back = compare.compare(_summary(_variant(verdict="fail", passing=None)), _summary())
    assert compare.exit_code(back) == 0 and len(back["variants"][0]["changes"]) == 2


def test_missing_variant_regresses_and_one_side_only_is_listed():
    base = _summary(_variant(), _variant("c1-m1024M-r1"))
    new = _summary(_variant(), _variant("c2-m2048M-r1"))
    result = compare.compare(base, new)
    assert result["only_base"] == ["c1-m1024M-r1"] and result["only_new"] == ["c2-m2048M-r1"]
    assert result["regressions"] == ["c1-m1024M-r1: missing from NEW"] and compare.exit_code(result) == 4


def test_repeats_spread_widens_the_rps_tolerance():
    drop = _variant(rps=85.0)  # -15 %: beyond counting noise alone
    assert compare.exit_code(compare.compare(_summary(), _summary(drop))) == 4
    spread = copy.deepcopy(_variant())
    spread["repeats"] = [{"dir": "c0.5-m512M-r1", "verdict": "pass", "rps_at_target": 100.0, "p95_ms_at_target": 5},
                         {"dir": "c0.5-m512M-r1/repeat-2", "verdict": "pass", "rps_at_target": 86.0,
                          "p95_ms_at_target": 6}]
    result = compare.compare(_summary(spread), _summary(drop))
    assert compare.exit_code(result) == 0 and result["variants"][0]["rps_tolerance"] > 15


def test_invalid_target_step_is_not_compared_for_rps():
    new = _variant(rps=50.0)
    new["steps"][-1]["valid"] = False
    result = compare.compare(_summary(), _summary(new))
    assert compare.exit_code(result) == 0 and "not valid on both sides" in result["variants"][0]["changes"][0]


def test_search_answer_cpu_rose_regresses():
    search = lambda cpu: {"cpu": cpu, "mem": "128M", "replicas": 1}  # noqa: E731
    assert compare.exit_code(compare.compare(_summary(search=search(0.5)), _summary(search=search(0.75)))) == 4
    assert compare.exit_code(compare.compare(_summary(search=search(0.5)), _summary(search=search(None)))) == 4
    assert compare.exit_code(compare.compare(_summary(search=search(0.75)), _summary(search=search(0.5)))) == 0
