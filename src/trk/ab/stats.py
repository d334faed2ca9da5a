"""Statistics for A/B verdicts: Wilson/Newcombe intervals, z-test, bootstrap, power.

Pure Python (math.erf for the normal distribution) so `trk` does not need scipy at run time;
the tests check every function against scipy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from trk.exceptions import InvalidParameter

_SQRT2 = math.sqrt(2.0)
T = TypeVar("T")


def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution function."""
    if x < 0:  # erfc keeps relative precision in the lower tail where 1 + erf cancels
        return 0.5 * math.erfc(-x / _SQRT2)
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def norm_sf(x: float) -> float:
    """Standard normal survival function, accurate in the upper tail."""
    return 0.5 * math.erfc(x / _SQRT2)


def norm_ppf(p: float) -> float:
    """Standard normal quantile (inverse CDF), to about 1e-12."""
    if not 0.0 < p < 1.0:
        raise InvalidParameter(f"quantile needs 0 < p < 1, got {p}")
    if p > 0.5:
        return -norm_ppf(1.0 - p)
    # Acklam's rational approximation for the lower half, then Newton steps on the erf form.
    q = math.sqrt(-2.0 * math.log(p))
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00)
    c2 = (-2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    num = ((((c[0] * q + c[1]) * q + c[2]) * q + c2[0]) * q + c2[1]) * q + c2[2]
    den = (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
    x = num / den
    for _ in range(2):
        err = norm_cdf(x) - p
        x -= err * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x


def z_for(alpha: float) -> float:
    """Two-sided critical value: z such that P(|Z| > z) = alpha."""
    _check_alpha(alpha)
    return norm_ppf(1.0 - alpha / 2.0)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InvalidParameter(f"alpha must be between 0 and 1, got {alpha}")


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise InvalidParameter(f"need 0 <= successes <= n, got {successes} of {n}")


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when n is 0."""
    _check_counts(successes, n)
    if n == 0:
        return 0.0, 1.0
    z = z_for(alpha)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    s_a: int, n_a: int, s_b: int, n_b: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p_b - p_a."""
    p_a, p_b = s_a / n_a, s_b / n_b
    lo_a, hi_a = wilson_interval(s_a, n_a, alpha)
    lo_b, hi_b = wilson_interval(s_b, n_b, alpha)
    diff = p_b - p_a
    lower = diff - math.sqrt((p_b - lo_b) ** 2 + (hi_a - p_a) ** 2)
    upper = diff + math.sqrt((hi_b - p_b) ** 2 + (p_a - lo_a) ** 2)
    return lower, upper


def two_proportion_ztest(s_a: int, n_a: int, s_b: int, n_b: int) -> tuple[float, float]:
    """Pooled two-sided z-test of p_a == p_b: (z for p_b - p_a, p-value)."""
    _check_counts(s_a, n_a)
    _check_counts(s_b, n_b)
    if n_a == 0 or n_b == 0:
        raise InvalidParameter("a two-proportion test needs observations in both groups")
    pooled = (s_a + s_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = s_b / n_b - s_a / n_a
    if se == 0.0:  # both all-success or all-failure: identical, nothing to test
        return 0.0, 1.0
    z = diff / se
    return z, min(1.0, 2.0 * norm_sf(abs(z)))


def sample_size_two_proportions(
    p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Observations per group to detect p_a vs p_b (two-sided); None when p_a == p_b."""
    if p_a == p_b:
        return None
    z_a, z_b = z_for(alpha), norm_ppf(power)
    p_bar = (p_a + p_b) / 2
    root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(
        p_a * (1 - p_a) + p_b * (1 - p_b)
    )
    return math.ceil(root * root / (p_a - p_b) ** 2)


def power_two_proportions(p_a: float, p_b: float, n_a: int, n_b: int, alpha: float = 0.05) -> float:
    """Approximate power of the pooled two-sided z-test with these group sizes."""
    if n_a <= 0 or n_b <= 0:
        return 0.0
    z_a = z_for(alpha)
    p_bar = (p_a * n_a + p_b * n_b) / (n_a + n_b)
    se0 = math.sqrt(p_bar * (1 - p_bar) * (1 / n_a + 1 / n_b))
    se1 = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    if se1 == 0.0:
        return 1.0 if p_a != p_b else alpha
    delta = abs(p_b - p_a)
    return norm_cdf((delta - z_a * se0) / se1) + norm_cdf((-delta - z_a * se0) / se1)


@dataclass(frozen=True)
class BootstrapResult:
    """Difference stat(b) - stat(a) with a percentile interval and a two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (nan when empty)."""
    return sum(values) / len(values) if values else math.nan


def weighted_mean(pairs: Sequence[tuple[float, float]]) -> float:
    """Mean of (value, weight) pairs weighted by weight (nan when the weights sum to 0)."""
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else math.nan


def bootstrap_difference(
    a: Sequence[T],
    b: Sequence[T],
    stat: Callable[[Sequence[T]], float],
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap of stat(b) - stat(a), resampling each group independently.

    Items are whatever `stat` reads: floats with `mean`, (value, weight) pairs with
    `weighted_mean` (e.g. window latencies weighted by the window's request count).
    """
    _check_alpha(alpha)
    if not a or not b:
        raise InvalidParameter("a bootstrap needs observations in both groups")
    rng = random.Random(seed)
    observed = stat(b) - stat(a)
    diffs = sorted(
        stat(rng.choices(b, k=len(b))) - stat(rng.choices(a, k=len(a))) for _ in range(n_boot)
    )
    low = _quantile(diffs, alpha / 2)
    high = _quantile(diffs, 1 - alpha / 2)
    # Two-sided p: how often the resampled difference falls on the other side of zero.
    below = sum(d <= 0 for d in diffs) / n_boot
    above = sum(d >= 0 for d in diffs) / n_boot
    return BootstrapResult(observed, low, high, min(1.0, 2 * min(below, above)))


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted values (numpy's default method)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac
