"""rightsize/confidence.py: t-intervals, failure-rate bounds, the answer's statement."""
import pytest

from rightsize import confidence


class P95:  # the fields of collect.compute.P95Test the statement reads
    def __init__(self, over, n, p_pass, p_fail):
        self.over, self.n, self.p_pass, self.p_fail = over, n, p_pass, p_fail


SLO = {"failure_rate_max": 0.01, "p95_ms_max": 1000, "cpu_pct_max": 90, "mem_pct_max": 90}


def test_t_interval_matches_the_textbook():
    ci = confidence.t_interval([10.0, 12.0, 14.0])   # mean 12, sd 2, t(2) 0.975 = 4.303
    assert ci["mean"] == 12 and ci["n"] == 3
    assert ci["high"] - 12 == pytest.approx(4.302653 * 2 / 3 ** 0.5, rel=1e-6)
    assert confidence.t_interval([5.0]) is None


def test_rate_bounds():
    assert confidence.rate_upper(0, 100) == pytest.approx(1 - 0.05 ** (1 / 100))   # the rule of three's exact form
    assert confidence.rate_lower(0, 100) == 0.0 and confidence.rate_upper(100, 100) == 1.0
    assert confidence.rate_lower(50, 100) < 0.5 < confidence.rate_upper(50, 100)


def _step(users=400, p95=120.0, test=P95(3, 4000, 1e-9, 1.0), cpu=(70.0, 68.0, 72.0, 19)):
    return {"users": users, "requests": 4000, "failed": 0, "p95_ms": p95, "p95_test": test,
            "cpu_pct": cpu[0], "cpu_pct_ci": {"mean": cpu[0], "low": cpu[1], "high": cpu[2], "n": cpu[3]},
            "mem_pct": 20.0, "mem_pct_ci": {"mean": 20.0, "low": 19.5, "high": 20.5, "n": 19}, "reasons": []}


def test_statement_measured_failing_side():
    failing = {"cpu": 0.75, "basis": "measured", "dir": "probe-02-c0.75-m2048M-r1", "slo": "cpu_pct",
               "step": _step(cpu=(96.0, 95.0, 97.0, 19))}
    text = confidence.statement(1.0, {"dir": "c1-m128M-r1", "step": _step()}, failing, SLO)
    assert text.startswith("1 CPU passes (c1-m128M-r1 at 400 users: failures 0.00% < 1% (0 of 4000; 95% upper bound")
    assert "p95 120 ms < 1000 ms (3 of 4000 requests over; binomial p = 1e-09" in text
    assert "CPU 70.0 % < 90 % (95% t-interval 68.0-72.0 over 19 1-s samples)" in text
    assert text.endswith("; 0.75 CPU fails on CPU (measured: probe-02-c0.75-m2048M-r1 at 400 users: "
                         "CPU 96.0 % >= 90 % (95% t-interval 95.0-97.0 over 19 1-s samples))")


def test_statement_predicted_and_lowest():
    failing = {"cpu": 0.5, "basis": "predicted", "skip": {"cpu": 0.5, "predicted_busy_cpu": 0.61},
               "model": {"cpu_s_per_request": 0.00398, "low": 0.00366, "high": 0.00431, "rps": 197.1}}
    text = confidence.statement(0.75, {"dir": "c0.75-m64M-r1", "step": _step()}, failing, SLO)
    assert "; 0.5 CPU fails on CPU (predicted: busy at least 0.61 cores, >= 90 % of 0.5 CPU = 0.45" in text
    assert "3.98 ms of CPU per request (3.66-4.31, 95 % interval) at 197.1 RPS" in text
    assert confidence.statement(0.25, None, None, SLO) == (
        "0.25 CPU passes; nothing lower was searched (0.25 is the grid's lowest CPU)")
