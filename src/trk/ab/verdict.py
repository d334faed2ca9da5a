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
    GateMethod,
    MetricSpec,
    Verdict,
)


def needed_per_variant(cmp: Comparison, spec: MetricSpec, alpha: float) -> int | None:
    """Observations per variant (or pairs) to detect the observed difference with 80% power."""
    if cmp.difference == 0:
        return None
    if spec.is_proportion:
        return cmp.needed  # computed with the comparison, under its method and design
    # Bootstrap metrics: the interval's width gives the standard error at the current size;
    # it shrinks with the square root of the sample, so scale the size to reach the effect.
    se = (cmp.ci_high - cmp.ci_low) / (2 * stats.z_for(alpha))
    if se == 0 or cmp.sample == 0:
        return None
    factor = ((stats.z_for(alpha) + stats.norm_ppf(POWER)) * se / abs(cmp.difference)) ** 2
    return math.ceil(cmp.sample * factor)


def decide(
    cmp: Comparison | None, spec: MetricSpec, missing: str | None, gm: GateMethod
) -> Verdict:
    """better / worse / no significant difference / insufficient data, with a sentence.

    `missing` names the variant with no serving runs, if any. No verdict is given before
    each variant has `gm.min_sample` observations (pairs, in shadow mode).
    """
    alpha = gm.alpha
    if missing is not None:
        return Verdict(spec.name, alpha, INSUFFICIENT, f"no {missing} variant in the serving runs")
    if cmp is None:
        return Verdict(
            spec.name,
            alpha,
            INSUFFICIENT,
            f"{spec.name} needs {spec.unit} on both "
            "variants (the versions compared have none on one side)",
        )
    needed = needed_per_variant(cmp, spec, alpha)
    more = None if needed is None else max(0, needed - cmp.sample)
    unit = "pairs" if cmp.design == "paired" else f"{spec.unit} per variant"
    if cmp.sample < gm.min_sample:
        return Verdict(
            spec.name,
            alpha,
            INSUFFICIENT,
            f"no verdict before {gm.min_sample} {unit} (--min-sample); have {cmp.sample}",
            needed,
            more,
        )
    effect = (
        f"{spec.name} {cmp.difference:+.4g} [{cmp.ci_low:+.4g}, {cmp.ci_high:+.4g}], "
        f"p={cmp.p_value:.3g} ({_how(cmp, gm)})"
    )
    if cmp.p_value < alpha and (cmp.ci_low > 0 or cmp.ci_high < 0 or not spec.is_proportion):
        improved = (cmp.difference > 0) == spec.higher_is_better
        outcome = BETTER if improved else WORSE
        message = f"challenger is {outcome} at alpha {alpha:g}: {effect}"
    else:
        outcome = NO_DIFFERENCE
        message = f"no significant difference at alpha {alpha:g}: {effect}; " + _power_text(
            needed, more, unit
        )
    return Verdict(spec.name, alpha, outcome, message, needed, more)


def _how(cmp: Comparison, gm: GateMethod) -> str:
    if "bootstrap" in cmp.method:
        return "fixed-horizon bootstrap"
    design = "paired" if cmp.design == "paired" else "unpaired"
    return f"{gm.method}, {design}"


def _power_text(needed: int | None, more: int | None, unit: str) -> str:
    if needed is None:
        return "the observed difference is zero, no sample size can detect it"
    return (
        f"detecting the observed difference with {POWER:.0%} power needs about {needed} "
        f"{unit} ({more} more)"
    )
