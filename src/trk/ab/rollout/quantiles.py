"""Distribution-free confidence bounds for a latency quantile, from order statistics.

For n independent latencies and the p-quantile xi_p, the count of latencies at or below xi_p
is Binomial(n, p) whatever the distribution; so the r-th smallest latency X(r) is an upper
bound of xi_p with confidence P(Bin(n, p) <= r - 1), and a lower bound with confidence
P(Bin(n, p) >= r). This is the binomial order-statistic interval for quantiles (Conover,
"Practical Nonparametric Statistics", 3rd ed. 1999, section 3.2; Hahn and Meeker,
"Statistical Intervals", 1991, section 5.2). An upper bound exists only when n is large
enough that even X(n) covers: p ** n <= a, i.e. n >= log(a) / log(p); with fewer latencies
the guard has nothing to judge and holds.

Serving windows log each variant's latencies as counts in log-spaced buckets
(`latency_hist.<k>`: [2^(k/4), 2^((k+1)/4)) ms, trk.serving_contract), summed exactly over
windows and replicas. An order statistic is then known to lie in its bucket: a lower bound
takes the bucket's lower edge and an upper bound its upper edge, so binning only widens the
interval (the bounds stay valid, within 19%).

A controller looks again and again, at whatever n the windows hold by then: the level of the
bounds at n is `alpha / (n (n + 1))`, which sums to alpha over every n, so by the union bound
the chance that the bounds miss at any look is at most alpha (time-uniform, however often and
whenever the controller looks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from trk.serving_contract import latency_bucket_edges


def level_at(n: int, alpha: float) -> float:
    """The one-sided level spent at sample size n: alpha / (n (n + 1)), summing to alpha."""
    return alpha / (n * (n + 1))


def needed(p: float, alpha: float) -> int:
    """The least n at which an upper bound of the p-quantile exists at `level_at(n, alpha)`."""
    n = max(1, math.ceil(math.log(alpha) / math.log(p)))
    while p**n > level_at(n, alpha):
        n = max(n + 1, math.ceil(math.log(level_at(n, alpha)) / math.log(p)))
    return n


def _logpmf(j: int, n: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(j + 1)
        - math.lgamma(n - j + 1)
        + j * math.log(p)
        + (n - j) * math.log1p(-p)
    )


def _span(n: int, p: float) -> tuple[int, int]:
    """The counts carrying all but ~1e-30 of Bin(n, p)'s mass (12 standard deviations)."""
    sd = math.sqrt(n * p * (1 - p))
    return max(0, math.floor(n * p - 12 * sd - 1)), min(n, math.ceil(n * p + 12 * sd + 1))


def upper_rank(n: int, p: float, a: float) -> int:
    """The least r with P(Bin(n, p) >= r) <= a (X(r) bounds the quantile from above)."""
    low, high = _span(n, p)
    tail, r = 0.0, n + 1
    for j in range(n if high == n else high, low - 1, -1):
        tail += math.exp(_logpmf(j, n, p))
        if tail > a:
            return j + 1
        r = j
    return r


def lower_rank(n: int, p: float, a: float) -> int:
    """The greatest r with P(Bin(n, p) <= r - 1) <= a (X(r) bounds it from below; 0: none)."""
    low, high = _span(n, p)
    tail = 0.0
    for j in range(low, high + 1):
        tail += math.exp(_logpmf(j, n, p))
        if tail > a:
            return j  # P(Bin <= j - 1) <= a < P(Bin <= j)
    return high


def _order_statistic(hist: Mapping[int, int], rank: int, upper: bool) -> float:
    """The edge (upper or lower) of the bucket holding the `rank`-th smallest latency, ms."""
    seen = 0
    for k in sorted(hist):
        seen += hist[k]
        if seen >= rank:
            low, high = latency_bucket_edges(k)
            return high if upper else low
    raise ValueError("rank past the sample")


def bounds(hist: Mapping[int, int], p: float, alpha: float) -> tuple[float, float] | None:
    """(lower, upper) bounds of the p-quantile in ms, each holding with probability at least
    1 - level_at(n, alpha); None when n is too small for the upper bound."""
    n = sum(hist.values())
    if n < 1:
        return None
    a = level_at(n, alpha)
    r_up = upper_rank(n, p, a)
    if r_up > n:
        return None
    r_low = lower_rank(n, p, a)
    low = _order_statistic(hist, r_low, upper=False) if r_low >= 1 else 0.0
    return low, _order_statistic(hist, r_up, upper=True)


def estimate(hist: Mapping[int, int], p: float) -> float | None:
    """The p-quantile's point estimate: the middle of the bucket holding it (geometric)."""
    n = sum(hist.values())
    if n < 1:
        return None
    low, high = latency_bucket_edges(_bucket_of_rank(hist, max(1, math.ceil(p * n))))
    if low <= 0 or math.isinf(high):  # an end bucket: its one finite edge
        return high if low <= 0 else low
    return math.sqrt(low * high)


def _bucket_of_rank(hist: Mapping[int, int], rank: int) -> int:
    seen = 0
    for k in sorted(hist):
        seen += hist[k]
        if seen >= rank:
            return k
    return max(hist)
