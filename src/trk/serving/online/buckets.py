"""Counting a batch of values into histogram buckets without a call per value.

A fold counts every answered request's latency into a Prometheus histogram and a report
window's histogram; a bisect per value cost ~0.16 us, numpy's searchsorted on a list about
as much (converting the list). A batch's latencies fall in a few buckets, so the values are
sorted once (in C) and each bucket spanned costs one bisect of the sorted values.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence


def bucket_counts(
    values: Sequence[float], edges: Sequence[float], right: bool = False
) -> dict[int, int]:
    """{i: how many values v have bisect(edges, v) == i}: `bisect_left` (the index of the
    first edge >= v, Prometheus' bucket) or, with `right`, `bisect_right` (the number of
    edges <= v). Values are never NaN."""
    s = sorted(values)
    if not s:
        return {}
    find, cut = (bisect_right, bisect_left) if right else (bisect_left, bisect_right)
    first, last = find(edges, s[0]), find(edges, s[-1])
    counts: dict[int, int] = {}
    done = 0
    for i in range(first, last):  # values in buckets <= i end where edge i cuts them
        upto = cut(s, edges[i], done)
        if upto > done:
            counts[i], done = upto - done, upto
    counts[last] = len(s) - done
    return counts
