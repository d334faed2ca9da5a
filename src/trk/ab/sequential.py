"""Always-valid inference: asymptotic confidence sequences and the p-values they imply.

A confidence sequence (CS) covers the true difference at every look at once, so a gate may
be re-run after every report window, forever, and its error rate stays below alpha. We use
the asymptotic CS of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas, "Time-uniform central
limit theory and asymptotic confidence sequences" (Annals of Statistics, 2024; arXiv
2103.06476, Theorem 2.2), with the normal-mixture boundary of Howard, Ramdas, McAuliffe and
Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences" (Annals of
Statistics 49(2), 2021, eq. 3.7 and its tuning). This is the CS GrowthBook ships:

    estimate +- se * sqrt( 2 (u + 1) / u * log( sqrt(u + 1) / alpha ) ),   u = n * rho^2

where n is the sample so far and rho^2 = (-2 log alpha + log(1 - 2 log alpha)) / horizon
makes the sequence tightest when n reaches `horizon`. The always-valid p-value is the
smallest alpha whose sequence excludes zero, sqrt(u + 1) * exp(-z^2 u / (2 (u + 1))) with
z = estimate / se: the reciprocal of the normal-mixture likelihood ratio (mixture SPRT),
taken as a running minimum over the looks.

Every function takes numpy arrays (or scalars) so the gate and its simulation run the same
code; looks are along the last axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trk.ab import stats
from trk.exceptions import InvalidParameter

DEFAULT_HORIZON = 5_000  # labels per variant at which the sequence is tightest
DEFAULT_MIN_SAMPLE = 100  # labels per variant before any verdict (the CS is asymptotic)

Array = NDArray[np.float64]


def check_horizon(horizon: float) -> None:
    if not (isinstance(horizon, int | float) and math.isfinite(horizon) and horizon >= 1):
        raise InvalidParameter(f"--horizon must be a number of labels >= 1, got {horizon!r}")


def rho2(alpha: float, horizon: float) -> float:
    """Mixture variance that makes the boundary tightest at `horizon` observations (Howard
    et al. 2021, section 3.5)."""
    stats.z_for(alpha)  # validates alpha
    check_horizon(horizon)
    l2 = -2.0 * math.log(alpha)
    return (l2 + math.log(l2 + 1.0)) / horizon


def boundary(n: ArrayLike, alpha: float, horizon: float) -> Array:
    """The CS half-width in standard errors after `n` observations (inf where n is 0)."""
    u = np.asarray(n, dtype=float) * rho2(alpha, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.sqrt(2.0 * (u + 1.0) / u * np.log(np.sqrt(u + 1.0) / alpha))
    return np.where(u > 0, b, np.inf)


def always_valid_p(
    estimate: ArrayLike, se: ArrayLike, n: ArrayLike, alpha: float, horizon: float
) -> Array:
    """The smallest level whose sequence excludes zero at this look (not yet the running min)."""
    est, s = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    u = np.asarray(n, dtype=float) * rho2(alpha, horizon)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z2 = np.where(s > 0, (est / s) ** 2, np.where(est == 0, 0.0, np.inf))
        p = np.sqrt(u + 1.0) * np.exp(-z2 * u / (2.0 * (u + 1.0)))
    return np.minimum(1.0, np.where(u > 0, p, 1.0))


@dataclass(frozen=True)
class Sequence:
    """The sequence over the looks (last axis): running intersection and running-min p."""

    estimate: Array
    low: Array
    high: Array
    p_value: Array
    ready: NDArray[np.bool_]  # the minimum sample per variant was reached at this look

    def significant(self, alpha: float) -> NDArray[np.bool_]:
        """Looks at which the gate may declare a difference (same sign bounds, p < alpha)."""
        return self.ready & (self.p_value < alpha) & ((self.low > 0) | (self.high < 0))


def confidence_sequence(
    estimate: ArrayLike,
    se: ArrayLike,
    n: ArrayLike,
    n_min: ArrayLike,
    alpha: float,
    horizon: float,
    min_sample: int,
) -> Sequence:
    """Cumulative estimates per look -> the always-valid sequence a gate may read at any look.

    `n` is the effective sample (labels per variant, or pairs); `n_min` the smaller variant's
    labels, compared with `min_sample`: looks before it count for nothing, because the
    normal approximation behind an asymptotic CS needs a sample first.
    """
    est = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    ready = np.asarray(n_min) >= min_sample
    with np.errstate(invalid="ignore"):  # looks before the minimum sample may be inf * 0
        half = s * boundary(n, alpha, horizon)
        low = np.where(ready, est - half, -np.inf)
        high = np.where(ready, est + half, np.inf)
        p = np.where(ready, always_valid_p(est, s, n, alpha, horizon), 1.0)
    # Intersecting the sequence over looks keeps its coverage and makes it monotone: a gate
    # re-run later never un-sees what an earlier look showed.
    return Sequence(
        est,
        np.maximum.accumulate(low, axis=-1),
        np.minimum.accumulate(high, axis=-1),
        np.minimum.accumulate(p, axis=-1),
        ready,
    )


def labels_needed(
    effect: float, sd: float, alpha: float, power: float, horizon: float
) -> int | None:
    """Smallest n (per variant, or pairs) where the sequence excludes zero with `power`.

    `sd` is the per-observation standard deviation of the difference estimate (its standard
    error is sd / sqrt(n)); solves effect * sqrt(n) / sd >= boundary(n) + z_power.
    """
    if effect == 0 or not sd > 0:  # nothing to detect, or no variance to estimate it from
        return None
    z_power = stats.norm_ppf(power)

    def enough(n: int) -> bool:
        return bool(abs(effect) * math.sqrt(n) / sd >= boundary(n, alpha, horizon) + z_power)

    hi = 1
    while not enough(hi):
        hi *= 2
        if hi > 10**12:  # too small to detect with any sample
            return None
    lo = hi // 2
    while hi - lo > 1:  # the boundary grows like sqrt(log n), the signal like sqrt(n)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi
