"""Paired (shadow-mode) statistics: McNemar against scipy, the paired interval by coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sst

from trk.ab import paired, stats
from trk.exceptions import InvalidParameter

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("b,c", [(0, 0), (3, 3), (2, 9), (9, 2), (40, 61), (0, 12), (500, 560)])
def test_mcnemar_exact_and_mid_p_match_scipy_binomial(b, c):
    m = b + c
    exact = sst.binomtest(b, m, 0.5).pvalue if m else 1.0
    assert paired.mcnemar(b, c, mid_p=False) == pytest.approx(exact, rel=1e-9)
    k = min(b, c)  # mid-p: 2 * (P(X < k) + P(X = k) / 2), Fagerland et al. (2013)
    mid = min(1.0, 2 * sst.binom.cdf(k, m, 0.5) - sst.binom.pmf(k, m, 0.5)) if m else 1.0
    assert paired.mcnemar(b, c) == pytest.approx(mid, rel=1e-9, abs=1e-15)
    assert paired.mcnemar(b, c) <= paired.mcnemar(b, c, mid_p=False)


def test_paired_interval_without_correlation_is_newcombes_unpaired_interval():
    # phi = 0 when both*neither == b*c: the paired interval reduces to method 10 unpaired.
    n, both, b, c = 400, 300, 20, 60
    neither = n - both - b - c
    assert both * neither != b * c
    lo, hi = paired.newcombe_paired_interval(n, b, c, both)
    ulo, uhi = stats.newcombe_interval(both + b, n, both + c, n)
    d = (c - b) / n
    assert lo < d < hi and ulo < lo and hi < uhi  # positive correlation narrows it
    lo0, hi0 = paired.newcombe_paired_interval(100, 20, 20, 20)  # 20*40 != 400: still valid
    assert lo0 < 0 < hi0


def test_paired_interval_covers_about_95_percent():
    rng = np.random.default_rng(5)
    probs = [0.83, 0.02, 0.05, 0.10]  # both, champion only, challenger only, neither
    covered = 0
    trials = 2000
    for both, b, c, _ in rng.multinomial(500, probs, size=trials):
        lo, hi = paired.newcombe_paired_interval(500, int(b), int(c), int(both))
        covered += lo <= 0.03 <= hi
    assert 0.93 <= covered / trials <= 0.975, covered / trials


def test_pairs_needed_gives_mcnemar_its_power():
    n = paired.pairs_needed(0.02, 0.05)
    assert n is not None and 500 < n < 700  # vs ~2,700 per variant unpaired
    rng = np.random.default_rng(9)
    cells = rng.multinomial(n, [0.83, 0.02, 0.05, 0.10], size=2000)
    hits = np.mean([paired.mcnemar(int(b), int(c)) < 0.05 for _, b, c, _ in cells])
    assert abs(hits - 0.8) <= 0.03, hits
    assert paired.pairs_needed(0.03, 0.03) is None


def test_bad_tables_refused():
    with pytest.raises(InvalidParameter):
        paired.mcnemar(-1, 3)
    with pytest.raises(InvalidParameter):
        paired.newcombe_paired_interval(10, 5, 5, 5)
