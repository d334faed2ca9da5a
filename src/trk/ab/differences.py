"""Differences of two proportions as (estimate, standard error, sample): unpaired and paired.

Split mode gives two independent samples: challenger - champion with the unpooled standard
error. Shadow mode gives pairs (both variants answered the same labelled request): the
difference is the mean of per-request differences in {-1, 0, 1}, whose variance only the
discordant requests carry, so it needs far fewer labels when the two models mostly agree.
Vectorised: every argument may be an array (the simulations run the gate's own code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Difference:
    """challenger - champion, its standard error, the effective n and the smaller group."""

    estimate: Array
    se: Array
    n: Array  # labels per variant (mean of the two) or pairs: what the CS horizon counts
    n_min: Array  # the smaller variant's labels, for the minimum sample
    sd: Array  # per-observation sd of the estimate: se * sqrt(n)


def _f(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=float)


def unpaired(s_a: ArrayLike, n_a: ArrayLike, s_b: ArrayLike, n_b: ArrayLike) -> Difference:
    """Two independent samples (split mode): b/n_b - a/n_a with the unpooled standard error."""
    sa, na, sb, nb = _f(s_a), _f(n_a), _f(s_b), _f(n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.where(na > 0, sa / na, 0.0)
        pb = np.where(nb > 0, sb / nb, 0.0)
        # The variance from one added success and failure per group (Agresti and Caffo,
        # The American Statistician 54:280, 2000): never zero when a group is all 0s or 1s.
        qa, qb = (sa + 1) / (na + 2), (sb + 1) / (nb + 2)
        var = np.where((na > 0) & (nb > 0), qa * (1 - qa) / na + qb * (1 - qb) / nb, np.inf)
        n = (na + nb) / 2
        se = np.sqrt(var)
        sd = se * np.sqrt(n)  # inf * 0 where a side is empty: nan, never read (n_min is 0)
    return Difference(pb - pa, se, n, np.minimum(na, nb), sd)


def paired(n: ArrayLike, champion_only: ArrayLike, challenger_only: ArrayLike) -> Difference:
    """Pairs (shadow mode): n labelled requests both answered; discordant counts b and c.

    `champion_only`: requests only the champion got right (b); `challenger_only`: only the
    challenger (c). The estimate is (c - b) / n with standard error about sqrt(((b + c)/n - d^2)/n).
    """
    pairs, b, c = _f(n), _f(champion_only), _f(challenger_only)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pairs > 0, (c - b) / pairs, 0.0)
        # Half a pair added to each cell for the variance (Agresti and Min, Biometrics 61:515,
        # 2005): never zero when no pair disagrees.
        m, dm = pairs + 2, (c - b) / (pairs + 2)
        var = np.where(pairs > 0, np.maximum((b + c + 1) / m - dm * dm, 0.0) / pairs, np.inf)
        se = np.sqrt(var)
        sd = se * np.sqrt(pairs)
    return Difference(d, se, pairs, pairs, sd)
