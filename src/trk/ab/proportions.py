"""challenger - champion for a proportion (accuracy, error rate) under the gate's method.

sequential (the default): the always-valid confidence sequence and p-value of
trk.ab.sequential, intersected over every look so far, so the verdict may be re-read after
every window. fixed: one look, as a textbook test reads it: Newcombe's interval and the
pooled z-test (split), or Newcombe's paired interval and McNemar's mid-p test (shadow).
Either way the sequence over time is kept for the report's plot.
"""

from __future__ import annotations

import numpy as np

from trk.ab import differences, paired, sequential, stats
from trk.ab.looks import PairedLooks, UnpairedLooks
from trk.ab.report import POWER, Comparison, GateMethod, MetricSpec

PAIRED, UNPAIRED = "paired", "unpaired"


def compare_looks(
    looks: UnpairedLooks | PairedLooks, spec: MetricSpec, gm: GateMethod
) -> Comparison | None:
    """The comparison at the latest look; None without data on both sides."""
    if isinstance(looks, PairedLooks):
        return _paired(looks, spec, gm)
    return _unpaired(looks, spec, gm)


def _sequence(
    diff: differences.Difference, times: np.ndarray, gm: GateMethod
) -> tuple[sequential.Sequence, list[dict[str, float]]]:
    cs = sequential.confidence_sequence(
        diff.estimate, diff.se, diff.n, diff.n_min, gm.alpha, gm.horizon, gm.min_sample
    )
    points = [
        {
            "timestamp": int(t),
            "n": float(n),
            "estimate": float(e),
            "low": float(lo),
            "high": float(hi),
        }
        for t, n, e, lo, hi in zip(times, diff.n_min, cs.estimate, cs.low, cs.high, strict=True)
        if n > 0  # both sides have data
    ]
    return cs, points


def _sequential_text(gm: GateMethod, looks: int) -> str:
    return (
        f"asymptotic confidence sequence (Waudby-Smith et al.), horizon {gm.horizon:g}, "
        f"{looks} look(s); always-valid p"
    )


def _unpaired(lk: UnpairedLooks, spec: MetricSpec, gm: GateMethod) -> Comparison | None:
    if not len(lk.times) or not lk.n_a[-1] or not lk.n_b[-1]:
        return None
    diff = differences.unpaired(lk.s_a, lk.n_a, lk.s_b, lk.n_b)
    cs, points = _sequence(diff, lk.times, gm)
    sa, na, sb, nb = (int(x[-1]) for x in (lk.s_a, lk.n_a, lk.s_b, lk.n_b))
    pa, pb = sa / na, sb / nb
    if gm.sequential:
        lo, hi, p = float(cs.low[-1]), float(cs.high[-1]), float(cs.p_value[-1])
        method = _sequential_text(gm, len(lk.times))
        needed = sequential.labels_needed(pb - pa, float(diff.sd[-1]), gm.alpha, POWER, gm.horizon)
    else:
        lo, hi = stats.newcombe_interval(sa, na, sb, nb, gm.alpha)
        p = stats.two_proportion_ztest(sa, na, sb, nb)[1]
        method = "Newcombe hybrid score interval; pooled two-proportion z-test"
        needed = stats.sample_size_two_proportions(pa, pb, gm.alpha, POWER)
    return Comparison(
        spec.name,
        pa,
        pb,
        pb - pa,
        lo,
        hi,
        p,
        method,
        design=UNPAIRED,
        sample=min(na, nb),
        needed=needed,
        sequence=points,
    )


def _paired(lk: PairedLooks, spec: MetricSpec, gm: GateMethod) -> Comparison | None:
    if not len(lk.times) or not lk.pairs[-1]:
        return None
    diff = differences.paired(lk.pairs, lk.champion_only, lk.challenger_only)
    cs, points = _sequence(diff, lk.times, gm)
    n, both, b, c = (int(x[-1]) for x in (lk.pairs, lk.both, lk.champion_only, lk.challenger_only))
    pa, pb = (both + b) / n, (both + c) / n
    if gm.sequential:
        lo, hi, p = float(cs.low[-1]), float(cs.high[-1]), float(cs.p_value[-1])
        method = "paired " + _sequential_text(gm, len(lk.times))
        needed = sequential.labels_needed(pb - pa, float(diff.sd[-1]), gm.alpha, POWER, gm.horizon)
    else:
        lo, hi = paired.newcombe_paired_interval(n, b, c, both, gm.alpha)
        p = paired.mcnemar(b, c)
        method = "Newcombe paired score interval; McNemar mid-p test"
        needed = paired.pairs_needed(b / n, c / n, gm.alpha, POWER)
    return Comparison(
        spec.name,
        pa,
        pb,
        pb - pa,
        lo,
        hi,
        p,
        method,
        design=PAIRED,
        sample=n,
        needed=needed,
        sequence=points,
    )
