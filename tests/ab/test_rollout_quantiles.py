"""Order-statistic bounds of a latency quantile (trk.ab.rollout.quantiles), against scipy's
binomial distribution and by coverage on samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trk.ab.rollout import quantiles
from trk.serving.online.window_stats import WindowStats, window_metrics
from trk.serving_contract import LATENCY_HIST_PREFIX, latency_bucket, latency_bucket_edges

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("n", [1, 7, 50, 300, 1000, 5000])
@pytest.mark.parametrize("p", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("a", [0.05, 1e-3, 1e-6])
def test_ranks_match_scipy(n, p, a):
    up = quantiles.upper_rank(n, p, a)
    # least r with P(Bin >= r) <= a; sf(r - 1) = P(Bin >= r)
    r = np.arange(n + 2)
    want_up = int(r[np.argmax(stats.binom.sf(r - 1, n, p) <= a)])
    assert up == (want_up if stats.binom.sf(n - 1, n, p) <= a else n + 1)
    low = quantiles.lower_rank(n, p, a)
    # greatest r with P(Bin <= r - 1) <= a (0: none)
    ok = r[: n + 1][stats.binom.cdf(r[: n + 1] - 1, n, p) <= a]
    want_low = int(ok.max()) if ok.size else 0
    assert low == want_low


@pytest.mark.parametrize("p", [0.5, 0.99])
def test_needed_is_the_least_n_with_an_upper_bound(p):
    alpha = 0.05 / 8
    n = quantiles.needed(p, alpha)
    assert p**n <= quantiles.level_at(n, alpha)
    assert p ** (n - 1) > quantiles.level_at(n - 1, alpha)
    assert quantiles.upper_rank(n, p, quantiles.level_at(n, alpha)) <= n
    assert quantiles.upper_rank(n - 1, p, quantiles.level_at(n - 1, alpha)) == n


def hist_of(ms: np.ndarray) -> dict[int, int]:
    keys, counts = np.unique(np.clip(np.floor(np.log2(ms) * 4), -40, 80), return_counts=True)
    assert int(keys[0]) == latency_bucket(float(ms.min()))  # latency_bucket, vectorised
    return {int(k): int(c) for k, c in zip(keys, counts, strict=True)}


def test_order_statistics_cover_the_true_quantile():
    """At a level where misses would show (5% a side), X(r) misses the true p90 no more
    often than promised over 4,000 samples of 200 lognormal latencies."""
    rng = np.random.default_rng(3)
    n, p, a, runs = 200, 0.9, 0.05, 4000
    true = 10.0 * math.exp(0.6 * stats.norm.ppf(p))
    up, low = quantiles.upper_rank(n, p, a), quantiles.lower_rank(n, p, a)
    x = np.sort(10.0 * np.exp(0.6 * rng.standard_normal((runs, n))), axis=1)
    above, below = np.mean(x[:, up - 1] < true), np.mean(x[:, low - 1] > true)
    slack = 3 * math.sqrt(a / runs)
    assert above <= a + slack and below <= a + slack
    assert above > a / 3 and below > a / 3  # not needlessly wide either


def test_binned_bounds_contain_the_exact_ones():
    rng = np.random.default_rng(4)
    ms = 10.0 * np.exp(0.6 * rng.standard_normal(5000))
    p, alpha = 0.99, 0.01
    a = quantiles.level_at(len(ms), alpha)
    x = np.sort(ms)
    low, high = quantiles.bounds(hist_of(ms), p, alpha)
    assert low <= x[quantiles.lower_rank(len(ms), p, a) - 1]
    assert high >= x[quantiles.upper_rank(len(ms), p, a) - 1]
    assert high / low < 2  # binning widens by at most a bucket a side


def test_too_few_latencies_have_no_bound():
    alpha = 0.01
    n = quantiles.needed(0.99, alpha)
    few = hist_of(np.full(n - 1, 5.0))
    assert quantiles.bounds(few, 0.99, alpha) is None
    low, high = quantiles.bounds(hist_of(np.full(n, 5.0)), 0.99, alpha)
    assert low <= 5.0 <= high


def test_end_buckets_reach_zero_and_infinity():
    assert latency_bucket_edges(latency_bucket(0.0))[0] == 0.0
    assert latency_bucket_edges(latency_bucket(1e9))[1] == math.inf
    assert quantiles.estimate({latency_bucket(1e9): 3}, 0.5) == latency_bucket_edges(80)[0]


def test_windows_log_every_latency_in_the_histogram():
    stats_ = WindowStats()
    for s in (0.001, 0.002, 0.002, 0.5):
        stats_.observe(s, ok=True)
    m = window_metrics(stats_, 60.0, {}, "3")
    hist = {
        int(k[len(LATENCY_HIST_PREFIX) :]): v
        for k, v in m.items()
        if k.startswith(LATENCY_HIST_PREFIX)
    }
    assert sum(hist.values()) == 4
    assert hist[latency_bucket(2.0)] == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_latency_sample_stays_uniform_over_every_latency_of_the_window(seed):
    import random

    from trk.serving.online.window_stats import RESERVOIR

    stats_ = WindowStats(rng=random.Random(seed))
    n = RESERVOIR * 20
    for i in range(n):
        stats_.observe((i + 1) / n, ok=True)  # the i-th latency says when it came
    sample = stats_.latencies
    assert len(sample) == RESERVOIR and len(set(sample)) == RESERVOIR
    # Each tenth of the window holds about a tenth of the sample (a skewed sample would not)
    tenths = [sum(1 for s in sample if k / 10 < s <= (k + 1) / 10) for k in range(10)]
    assert all(abs(t - RESERVOIR / 10) < 0.25 * RESERVOIR / 10 for t in tenths), tenths
