"""Fixed-horizon statistics for paired proportions (shadow mode): McNemar and a paired interval.

- McNemar's test, exact (conditional binomial on the discordant pairs) and mid-p: Fagerland,
  Lydersen and Laake, "The McNemar test for binary matched-pairs data: mid-p and asymptotic
  are better than exact conditional", BMC Medical Research Methodology 13:91 (2013).
- The paired difference interval: Newcombe's hybrid score method 10 for paired data, "Improved
  confidence intervals for the difference between binomial proportions based on paired
  data", Statistics in Medicine 17:2635-2650 (1998).
- Sample size: Connor, "Sample size for testing differences in proportions for the
  paired-sample design", Biometrics 43:207-211 (1987).
"""

from __future__ import annotations

import math

from trk.ab import stats
from trk.exceptions import InvalidParameter


def _check(n: int, b: int, c: int) -> None:
    if min(n, b, c) < 0 or b + c > n:
        raise InvalidParameter(f"need 0 <= b + c <= n, got b={b} c={c} of n={n}")


def _binom_half_cdf(k: int, m: int) -> tuple[float, float]:
    """P(X <= k) and P(X = k) for X ~ Binomial(m, 1/2), in log space (no overflow)."""
    log_half = m * math.log(0.5)
    lg = math.lgamma(m + 1)
    point = [
        math.exp(lg - math.lgamma(i + 1) - math.lgamma(m - i + 1) + log_half) for i in range(k + 1)
    ]
    return min(1.0, math.fsum(point)), point[-1]


def mcnemar(b: int, c: int, mid_p: bool = True) -> float:
    """Two-sided McNemar p-value from the discordant counts (exact conditional, or mid-p)."""
    _check(b + c, b, c)
    m = b + c
    if m == 0:
        return 1.0
    cdf, point = _binom_half_cdf(min(b, c), m)
    p = 2.0 * cdf  # b == c: both tails meet at the centre and p is 1 either way
    return min(1.0, p - point if mid_p else p)


def newcombe_paired_interval(
    n: int, b: int, c: int, both: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's method 10 interval for p_challenger - p_champion from a paired 2x2 table.

    `both`: pairs both variants got right; `b`: only the champion; `c`: only the challenger.
    """
    _check(n, b, c)
    if both < 0 or both + b + c > n:
        raise InvalidParameter(f"need both + b + c <= n, got {both} + {b} + {c} of {n}")
    if n == 0:
        return -1.0, 1.0
    neither = n - both - b - c
    p1, p2 = (both + b) / n, (both + c) / n  # champion, challenger
    l1, u1 = stats.wilson_interval(both + b, n, alpha)
    l2, u2 = stats.wilson_interval(both + c, n, alpha)
    den = (both + b) * (c + neither) * (both + c) * (b + neither)
    phi = (both * neither - b * c) / math.sqrt(den) if den else 0.0
    d = p2 - p1
    lower = d - math.sqrt(
        max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    )
    upper = d + math.sqrt(
        max(0.0, (u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2)
    )
    return max(-1.0, lower), min(1.0, upper)


def pairs_needed(
    p_champion_only: float, p_challenger_only: float, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Pairs for McNemar's test to detect this discordance with `power` (Connor 1987)."""
    psi = p_champion_only + p_challenger_only
    d = p_challenger_only - p_champion_only
    if d == 0:
        return None
    z_a, z_b = stats.z_for(alpha), stats.norm_ppf(power)
    root = z_a * math.sqrt(psi) + z_b * math.sqrt(max(psi - d * d, 0.0))
    return math.ceil(root * root / (d * d))
