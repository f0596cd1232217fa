"""The p95 binomial test, the histogram percentile and the stability rule."""
import math

import numpy as np
import pytest
from scipy import stats

from collect import compute


@pytest.mark.parametrize("over, n, result", [
    (0, 90, "pass"),          # 0.95^90 < 0.01: the smallest clean sample that proves p95
    (0, 89, "inconclusive"),  # 0.95^89 > 0.01
    (100, 10_000, "pass"),    # 1 % over the limit, many requests
    (200, 1_000, "fail"),     # 20 % over the limit
    (60, 1_000, "inconclusive"),  # 6 %: too close to 5 % for 1,000 requests
])
def test_judge_p95(over, n, result):
    assert compute.judge_p95(over, n).result == result


def test_judge_p95_boundaries_are_the_99_percent_tails():
    n = 2_000
    # the largest k that still passes and the smallest that fails, from scipy directly
    k_pass = max(k for k in range(n) if stats.binom.cdf(k, n, 0.05) < 0.01)
    k_fail = min(k for k in range(n) if stats.binom.sf(k - 1, n, 0.05) < 0.01)
    assert compute.judge_p95(k_pass, n).result == "pass"
    assert compute.judge_p95(k_pass + 1, n).result == "inconclusive"
    assert compute.judge_p95(k_fail, n).result == "fail"
    assert compute.judge_p95(k_fail - 1, n).result == "inconclusive"


def test_inconclusive_states_the_needed_count():
    assert compute.judge_p95(0, 40).needed_n == 90
    t = compute.judge_p95(3, 100)  # 3 % over: would pass with more requests
    assert t.result == "inconclusive" and t.needed_n > 100
    need = t.needed_n
    assert compute.judge_p95(math.ceil(0.03 * need), need).result == "pass"
    smaller = int(need * 0.8)
    assert compute.judge_p95(math.floor(0.03 * smaller), smaller).result != "pass"
    high = compute.judge_p95(8, 100)  # 8 % over: would fail with more requests
    assert high.result == "inconclusive" and high.needed_n > 100
    assert compute.judge_p95(math.floor(0.08 * high.needed_n), high.needed_n).result == "fail"
    smaller = int(high.needed_n * 0.8)
    assert compute.judge_p95(math.ceil(0.08 * smaller), smaller).result != "fail"
    assert compute.judge_p95(5, 100).needed_n is None  # exactly 5 %: nothing decides it


def test_percentile_is_nearest_rank_of_histogram():
    rng = np.random.default_rng(3)
    ms = np.ceil(rng.lognormal(5, 1, 5_000)).astype(int)
    values, counts = np.unique(ms, return_counts=True)
    shuffled = rng.permutation(len(values))
    for q in (0.5, 0.95, 0.99, 1.0):
        assert compute.percentile(values[shuffled], counts[shuffled], q) == \
            np.percentile(ms, q * 100, method="inverted_cdf")
    assert compute.percentile(np.array([]), np.array([]), 0.95) is None


def test_stability_ignores_poisson_noise_of_small_counts():
    rng = np.random.default_rng(1)
    small = rng.poisson(2, 30)  # sub-windows of ~20 requests easily differ by > 10 %
    chunks = [c.sum() for c in np.array_split(small, 3)]
    assert (max(chunks) - min(chunks)) / np.mean(chunks) > 0.10
    assert compute.stability(small, 0.10).stable is True


def test_stability_flags_a_real_drift():
    ramp = np.linspace(400, 600, 30).round()
    result = compute.stability(ramp, 0.10)
    assert result.stable is False and result.spread > 0.10 and result.sigmas > 3


def test_stability_tolerates_small_drift_at_large_counts():
    assert compute.stability(np.linspace(1000, 1050, 30).round(), 0.10).stable is True


def test_stability_needs_enough_seconds():
    assert compute.stability(np.array([5, 50]), 0.10).stable is None
