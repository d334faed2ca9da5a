"""The A/B statistics, checked against scipy."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as sst

from trk.ab import stats
from trk.exceptions import InvalidParameter

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("x", [-8.0, -3.1, -1.0, 0.0, 0.3, 1.96, 5.0])
def test_norm_cdf_and_sf_match_scipy(x):
    assert stats.norm_cdf(x) == pytest.approx(sst.norm.cdf(x), rel=1e-12, abs=1e-15)
    assert stats.norm_sf(x) == pytest.approx(sst.norm.sf(x), rel=1e-10)


@pytest.mark.parametrize("p", [1e-10, 1e-4, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-9])
def test_norm_ppf_matches_scipy(p):
    assert stats.norm_ppf(p) == pytest.approx(sst.norm.ppf(p), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2.0])
def test_norm_ppf_refuses_out_of_range(bad):
    with pytest.raises(InvalidParameter):
        stats.norm_ppf(bad)


@pytest.mark.parametrize(
    "k,n,alpha", [(0, 10, 0.05), (3, 10, 0.05), (10, 10, 0.05), (901, 1000, 0.05), (45, 50, 0.1)]
)
def test_wilson_matches_scipy(k, n, alpha):
    ci = sst.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="wilson")
    lo, hi = stats.wilson_interval(k, n, alpha)
    assert lo == pytest.approx(ci.low, abs=1e-12)
    assert hi == pytest.approx(ci.high, abs=1e-12)


def test_wilson_without_data_is_the_whole_range_and_bad_counts_refused():
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(InvalidParameter):
        stats.wilson_interval(5, 3)


def test_newcombe_is_built_from_scipy_wilson_bounds():
    sa, na, sb, nb = 180, 200, 190, 200
    a = sst.binomtest(sa, na).proportion_ci(method="wilson")
    b = sst.binomtest(sb, nb).proportion_ci(method="wilson")
    pa, pb = sa / na, sb / nb
    want_lo = (pb - pa) - math.hypot(pb - b.low, a.high - pa)
    want_hi = (pb - pa) + math.hypot(b.high - pb, pa - a.low)
    lo, hi = stats.newcombe_interval(sa, na, sb, nb)
    assert (lo, hi) == pytest.approx((want_lo, want_hi), abs=1e-12)
    assert lo < pb - pa < hi


def test_newcombe_covers_the_true_difference_about_95_percent():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(400):
        sa, sb = rng.binomial(300, 0.9), rng.binomial(300, 0.95)
        lo, hi = stats.newcombe_interval(int(sa), 300, int(sb), 300)
        covered += lo <= 0.05 <= hi
    assert 0.91 <= covered / 400 <= 0.99


@pytest.mark.parametrize(
    "sa,na,sb,nb", [(90, 100, 95, 100), (1800, 2000, 1900, 2000), (5, 40, 9, 37)]
)
def test_ztest_matches_scipy_chi2(sa, na, sb, nb):
    table = [[sa, na - sa], [sb, nb - sb]]
    chi2, p, _, _ = sst.chi2_contingency(table, correction=False)
    z, pz = stats.two_proportion_ztest(sa, na, sb, nb)
    assert z * z == pytest.approx(chi2, rel=1e-9)
    assert pz == pytest.approx(p, rel=1e-9)
    assert z > 0  # sign follows b - a


def test_ztest_degenerate_and_empty():
    assert stats.two_proportion_ztest(10, 10, 20, 20) == (0.0, 1.0)
    with pytest.raises(InvalidParameter):
        stats.two_proportion_ztest(0, 0, 1, 2)


def test_sample_size_reaches_the_power_it_promises():
    n = stats.sample_size_two_proportions(0.90, 0.95, alpha=0.05, power=0.8)
    # The textbook figure (Fleiss, no continuity correction) for 0.90 vs 0.95 is 435 per group.
    assert n == 435
    assert stats.power_two_proportions(0.90, 0.95, n, n) == pytest.approx(0.8, abs=0.01)
    assert stats.sample_size_two_proportions(0.5, 0.5) is None


def test_power_matches_a_scipy_computation():
    pa, pb, n, alpha = 0.6, 0.65, 800, 0.05
    z = sst.norm.ppf(1 - alpha / 2)
    pbar = (pa + pb) / 2
    se0 = math.sqrt(pbar * (1 - pbar) * 2 / n)
    se1 = math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)
    want = sst.norm.cdf((0.05 - z * se0) / se1) + sst.norm.cdf((-0.05 - z * se0) / se1)
    assert stats.power_two_proportions(pa, pb, n, n, alpha) == pytest.approx(want, rel=1e-9)


def test_bootstrap_agrees_with_scipy_percentile_interval():
    rng = random.Random(3)
    a = [rng.gauss(10, 2) for _ in range(60)]
    b = [rng.gauss(12, 2) for _ in range(60)]
    res = stats.bootstrap_difference(a, b, stats.mean, n_boot=3000, seed=1)
    ref = sst.bootstrap(
        (b, a),
        lambda x, y: np.mean(x) - np.mean(y),
        method="percentile",
        n_resamples=3000,
        vectorized=False,
        random_state=np.random.default_rng(1),
    ).confidence_interval
    assert res.difference == pytest.approx(np.mean(b) - np.mean(a))
    assert res.low == pytest.approx(ref.low, abs=0.15)
    assert res.high == pytest.approx(ref.high, abs=0.15)
    assert res.p_value < 0.01


def test_bootstrap_weighted_pairs_and_no_difference():
    a = [(10.0, 100), (11.0, 100), (30.0, 1)]
    b = [(10.5, 100), (10.4, 100), (10.6, 100)]
    res = stats.bootstrap_difference(a, a, stats.weighted_mean, seed=2)
    assert res.difference == 0.0 and res.p_value == 1.0
    assert stats.weighted_mean(a) == pytest.approx((1000 + 1100 + 30) / 201)
    assert stats.bootstrap_difference(a, b, stats.weighted_mean).low < 0
    with pytest.raises(InvalidParameter):
        stats.bootstrap_difference([], b, stats.weighted_mean)
