"""A broken load path invalidates the step and names the path; a down service keeps its verdict."""
import pandas as pd

from collect import compute
from collect.settings import Settings

S = Settings()


def step(**extra):
    base = {"requests": 10000, "connection_errors": 0, "gateway_errors": 0, "balancer": False,
            "replicas_all_healthy": True, "replica_probes": 10, "replica_probes_ok": 10,
            "entry_probes": 10, "entry_probes_ok": 2}
    return base | extra


def test_refused_connections_while_replicas_answer_are_the_path():
    text = compute.load_path_failure(step(connection_errors=5000), S)
    assert text.startswith("load path broken: 5000 requests got no HTTP answer")
    assert "10 of 10 health probes at its own address" in text and "entry answered 2 of 10" in text


def test_few_connection_errors_or_a_down_service_are_not_blamed_on_the_path():
    assert compute.load_path_failure(step(connection_errors=9), S) is None          # under 10
    assert compute.load_path_failure(step(connection_errors=9, requests=100000), S) is None
    assert compute.load_path_failure(step(connection_errors=5000, replicas_all_healthy=False), S) is None
    assert compute.load_path_failure(step(connection_errors=None), S) is None     # an older run: no tallies


def test_a_balancer_502_storm_with_healthy_replicas_is_the_balancer():
    assert compute.load_path_failure(step(gateway_errors=800), S) is None  # no nginx in front: the service's
    text = compute.load_path_failure(step(gateway_errors=800, balancer=True), S)
    assert "nginx answered 800 with 502/504" in text


def test_error_and_health_figures_of_a_window():
    errors = pd.DataFrame({"ts": [10, 10, 11, 12], "kind": ["connection", "http", "http", "connection"],
                           "status": [0, 502, 503, 0], "count": [3, 4, 5, 100]})
    assert compute.error_figures(errors, 10, 12) == {"connection_errors": 3, "http_errors": 9, "gateway_errors": 4}
    assert compute.error_figures(None, 10, 12)["connection_errors"] is None
    health = pd.DataFrame({"ts": [10.5, 10.5, 11.5, 11.5, 12.5], "probe": ["a", "entry", "a", "entry", "a"],
                           "ok": [1, 0, 1, 0, 0], "status": [200, 0, 200, 0, 0], "ms": [1.0] * 5})
    figures = compute.health_figures(health, 10, 12)
    assert figures["replicas_all_healthy"] is True and figures["replica_probes"] == 2
    assert figures["entry_probes_ok"] == 0
    assert compute.health_figures(health, 10, 13)["replicas_all_healthy"] is False  # a answered 2 of 3


def test_an_older_run_json_without_settings_is_judged_by_the_defaults_and_says_so():
    from collect.settings import missing_settings

    assert missing_settings({"slo": {"failure_rate_max": 0.01, "p95_ms_max": 1000, "cpu_pct_max": 90,
                                     "mem_pct_max": 90},
                             "report": {"warmup_s": 10, "generator_cpu_pct_max": 80,
                                        "stability_tolerance": 0.1}}) == []
    notes = missing_settings({"slo": {"p95_ms_max": 500}})
    assert "run.json has no slo.failure_rate_max: judged with the default slo_failure_rate_max=0.01" in notes
    assert any(n.startswith("run.json has no report.warmup_s") for n in notes) and len(notes) == 6


def test_a_saturated_shared_host_invalidates_the_step():
    """Target and Locust on one machine: past 95 % of its cores the API waits for the generator."""
    base = {"complete": True, "requests": 1000, "generator_cpu_pct": 40.0, "generator_process": "worker h pid 1",
            "workers_min": 2, "stability": compute.Stability(True, (), None, None, ""), "restarts": [],
            "failure_rate": 0.0, "p95_test": compute.judge_p95(0, 1000), "p95_ms": 3.0, "cpu_pct": 40.0,
            "mem_pct": 20.0, "connection_errors": 0, "shared_host": "localhost",
            "host_cpu_pct": {"localhost": 99.0}, "window_end": 30.0, "start_ts": 0.0, "planned_end_ts": 30.0}
    step = dict(base)
    compute._judge_step(step, S, 2)
    assert step["valid"] is False and step["reasons"][0].startswith("shared host saturated: localhost")
    step = dict(base, host_cpu_pct={"localhost": 80.0})
    compute._judge_step(step, S, 2)
    assert step["valid"] is True and step["slo_pass"] is True
    step = dict(base, shared_host=None)  # separate loadgen hosts: their own CPU is theirs
    compute._judge_step(step, S, 2)
    assert step["valid"] is True
