"""The verdict line: is the challenger better, worse, or not distinguishable, and at what cost."""

from __future__ import annotations

import math

from trk.ab import stats
from trk.ab.report import (
    BETTER,
    INSUFFICIENT,
    NO_DIFFERENCE,
    POWER,
    WORSE,
    Comparison,
    MetricSpec,
    Verdict,
)
from trk.ab.windows import VariantWindows


def needed_per_variant(
    cmp: Comparison, spec: MetricSpec, champ: VariantWindows, chal: VariantWindows, alpha: float
) -> int | None:
    """Observations per variant to detect the observed difference with 80% power."""
    if cmp.difference == 0:
        return None
    if spec.is_proportion:
        return stats.sample_size_two_proportions(cmp.champion, cmp.challenger, alpha, POWER)
    # Bootstrap metrics: the interval's width gives the standard error at the current size;
    # it shrinks with the square root of the sample, so scale the size to reach the effect.
    se = (cmp.ci_high - cmp.ci_low) / (2 * stats.z_for(alpha))
    current = min(champ.total(spec.weight_key), chal.total(spec.weight_key))
    if se == 0 or current == 0:
        return None
    factor = ((stats.z_for(alpha) + stats.norm_ppf(POWER)) * se / abs(cmp.difference)) ** 2
    return math.ceil(current * factor)


def decide(
    cmp: Comparison | None,
    spec: MetricSpec,
    champ: VariantWindows | None,
    chal: VariantWindows | None,
    alpha: float,
) -> Verdict:
    """better / worse / no significant difference / insufficient data, with a sentence."""
    if champ is None or chal is None:
        missing = "champion" if champ is None else "challenger"
        return Verdict(spec.name, alpha, INSUFFICIENT, f"no {missing} variant in the serving runs")
    if cmp is None:
        return Verdict(
            spec.name,
            alpha,
            INSUFFICIENT,
            f"{spec.name} needs {spec.unit} on both variants "
            f"(champion {_count(champ, spec)}, challenger {_count(chal, spec)})",
        )
    needed = needed_per_variant(cmp, spec, champ, chal, alpha)
    current = min(_count(champ, spec), _count(chal, spec))
    more = None if needed is None else max(0, needed - current)
    effect = (
        f"{spec.name} {cmp.difference:+.4g} [{cmp.ci_low:+.4g}, {cmp.ci_high:+.4g}], "
        f"p={cmp.p_value:.3g}"
    )
    if cmp.p_value < alpha:
        improved = (cmp.difference > 0) == spec.higher_is_better
        outcome = BETTER if improved else WORSE
        message = f"challenger is {outcome} at alpha {alpha:g}: {effect}"
    else:
        outcome = NO_DIFFERENCE
        message = f"no significant difference at alpha {alpha:g}: {effect}; " + _power_text(
            needed, more, spec
        )
    return Verdict(spec.name, alpha, outcome, message, needed, more)


def _count(vw: VariantWindows, spec: MetricSpec) -> int:
    if spec.is_proportion:
        return vw.total(spec.trials_key, spec.success_key)
    return vw.total(spec.weight_key)


def _power_text(needed: int | None, more: int | None, spec: MetricSpec) -> str:
    if needed is None:
        return "the observed difference is zero, no sample size can detect it"
    return (
        f"detecting the observed difference with {POWER:.0%} power needs about {needed} "
        f"{spec.unit} per variant ({more} more)"
    )
