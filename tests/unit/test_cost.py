"""rightsize/cost.py: cost per hour and per million requests, the Pareto front, the cost block."""
import json

import jsonschema
import pytest

from rightsize import cost
from rightsize.variables import VARIABLES

PRICES = cost.Prices(cpu_hour=0.04, gb_hour=0.005, currency="USD", source="test prices")
GIB = 2**30


def test_per_hour_is_replicas_times_cpu_and_gib_prices():
    # 3 replicas x (0.5 CPU x 0.04 + 0.75 GiB x 0.005) = 3 x (0.02 + 0.00375)
    assert cost.per_hour(PRICES, 0.5, 768 * 2**20, 3) == pytest.approx(0.07125)
    assert cost.per_hour(PRICES, 1.0, GIB, 1) == pytest.approx(0.045)


def test_per_million_requests_from_rps():
    # 0.045 per hour at 100 RPS: 360,000 requests an hour, so 0.125 per million
    assert cost.per_million(0.045, 100.0) == pytest.approx(0.125)
    assert cost.per_million(0.045, 0.0) is None and cost.per_million(0.045, None) is None


def test_front_single_point_is_on_it():
    assert cost.pareto_front([("a", 1.0, 0)]) == {"a"}


def test_front_drops_dominated_points_keeps_ties():
    points = [("cheap", 1.0, 100), ("tie", 1.0, 100), ("dear_same", 2.0, 100), ("dear_more", 2.0, 300),
              ("same_cost_fewer", 1.0, 50)]
    assert cost.pareto_front(points) == {"cheap", "tie", "dear_more"}


def test_front_nothing_passing_keeps_only_the_cheapest():
    # every point passes 0 users: the cheapest dominates the rest (equal users, strictly cheaper)
    assert cost.pareto_front([("a", 1.0, 0), ("b", 2.0, 0), ("c", 0.5, 0)]) == {"c"}


def _variant(name, cpu, mem_mib, replicas, verdict, passing, rps):
    return {"name": name, "cpu": cpu, "mem_bytes": mem_mib * 2**20, "replicas": replicas, "verdict": verdict,
            "max_users_passing": passing, "target_step_users": 200,
            "steps": [{"users": 100, "rps": rps / 2}, {"users": 200, "rps": rps}]}


def test_rows_cheapest_passing_and_capacity_cost():
    variants = [_variant("c0.25-m256M-r1", 0.25, 256, 1, "fail", 100, 90.0),
                _variant("c0.5-m512M-r1", 0.5, 512, 1, "pass", 200, 100.0),
                _variant("c0.25-m2048M-r2", 0.25, 2048, 2, "pass", 200, 100.0)]
    rows = cost.cost_rows(PRICES, [cost.point(v) for v in variants])
    by = {r["name"]: r for r in rows}
    small = by["c0.25-m256M-r1"]
    hourly = 0.25 * 0.04 + 0.25 * 0.005
    assert small["per_hour"] == pytest.approx(hourly)
    assert small["per_million_requests"] == pytest.approx(hourly / (90 * 3600) * 1e6)
    assert small["per_million_at_capacity"] == pytest.approx(hourly / (45 * 3600) * 1e6)  # the 100-user step
    assert by["c0.5-m512M-r1"]["per_hour"] == pytest.approx(0.0225)
    assert by["c0.25-m2048M-r2"]["per_hour"] == pytest.approx(0.04)
    assert cost.cheapest_passing(rows)["name"] == "c0.5-m512M-r1"
    assert {r["name"] for r in rows if r["pareto"]} == {"c0.25-m256M-r1", "c0.5-m512M-r1"}


def test_probe_is_a_point_but_never_the_cheapest_passing_variant():
    probe = _variant("probe-01-c0.25-m2048M-r1", 0.25, 128, 1, "pass", 200, 100.0)
    rows = cost.cost_rows(PRICES, [cost.point(probe, "probe")])
    assert rows[0]["pareto"] and cost.cheapest_passing(rows) is None


def test_block_validates_against_the_schema_and_is_off_at_zero_cpu_price(tmp_path):
    schema = json.loads(open("collect/summary.schema.json", encoding="utf-8").read())
    rows = cost.cost_rows(PRICES, [cost.point(_variant("c0.5-m512M-r1", 0.5, 512, 1, "pass", 200, 100.0))])
    block = cost.block(PRICES, rows)
    jsonschema.Draft202012Validator({**schema["$defs"]["cost"], "$defs": schema["$defs"]}).validate(block)
    assert block["variants"][0]["per_hour"] == pytest.approx(0.0225)
    assert cost.block(cost.Prices(0, 0.005, "USD", ""), rows) is None


def test_prices_from_run_and_defaults_for_older_runs():
    prices, notes = cost.prices_from_run({"cost": {"cpu_hour": 0.1, "gb_hour": 0.01, "currency": "EUR",
                                                   "source": "my cloud"}})
    assert prices == cost.Prices(0.1, 0.01, "EUR", "my cloud") and notes == []
    prices, notes = cost.prices_from_run({})
    assert prices.cpu_hour == VARIABLES["cost_cpu_hour"].default and prices.gb_hour == VARIABLES["cost_gb_hour"].default
    assert len(notes) == 4 and "cost_cpu_hour" in notes[0]
    assert not cost.prices_from_run({"cost": {"cpu_hour": 0}})[0].enabled


def test_rank_answers_says_when_scaling_out_is_cheaper():
    answers = [{"replicas": 1, "cpu": 1.0, "mem_bytes": 2 * GIB}, {"replicas": 2, "cpu": 0.25, "mem_bytes": GIB // 4},
               {"replicas": 3, "cpu": None, "mem_bytes": None}]
    ranked = cost.rank_answers(PRICES, answers)
    assert [a["replicas"] for a in ranked["ranked"]] == [2, 1]
    assert ranked["scale_out_cheaper"] is True and ranked["text"].startswith("scaling out is cheaper")
    up = cost.rank_answers(PRICES, [{"replicas": 1, "cpu": 0.5, "mem_bytes": GIB // 4},
                                    {"replicas": 2, "cpu": 0.5, "mem_bytes": GIB // 4}])
    assert up["scale_out_cheaper"] is False and up["text"].startswith("scaling up is cheaper")
    assert cost.rank_answers(PRICES, answers[:1])["scale_out_cheaper"] is None
