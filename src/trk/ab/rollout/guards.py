"""Guards: what must hold for a rollout to go on, read from the A/B evaluation's numbers.

    error_rate <= champion + 0.5pp      the challenger's errors this step vs the champion's
    p99_ms <= 1.2 * champion            latency quantiles (p50_ms, p99_ms), order-statistic bounds
    shadow_agreement >= 0.95            while shadowing: answers equal to the champion's
    accuracy not-worse | better         the labels' verdict (sequential, valid at every look)

Operational guards compare this step's serving windows (every replica) and wait for
`--min-requests` challenger requests; each fails only on evidence at its share of the plan's
alpha: a latency guard on distribution-free bounds of the quantile from order statistics
(trk.ab.rollout.quantiles; with too few requests for a bound it holds), an error-rate guard
on the step's sequential confidence sequence. Quality guards read the A/B verdict over the whole
rollout, whose confidence sequence stays valid however often it is checked (trk.ab.sequential),
and wait for its minimum sample. A guard without enough data is inconclusive: it holds the
rollout and never promotes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trk.ab.report import BETTER, INSUFFICIENT, NO_DIFFERENCE, WORSE, Report
from trk.ab.rollout import quantiles
from trk.contracts.rollout_plan import OPERATIONAL, OPS, QUALITY, Guard, parse_guard

__all__ = ["OPERATIONAL", "QUALITY", "Guard", "GuardResult", "parse_guard"]

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class GuardResult:
    guard: str
    state: str  # pass | fail | inconclusive
    value: float | None = None
    threshold: float | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "guard": self.guard,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }


QUANTILE = {"p50_ms": 0.5, "p99_ms": 0.99}  # latency guards: the quantile each judges


def requests_needed(guard: Guard, alpha: float, min_requests: int) -> int:
    """Requests per variant before `guard` can judge (latency: an upper bound must exist)."""
    if guard.metric in QUANTILE:
        return max(min_requests, quantiles.needed(QUANTILE[guard.metric], alpha / 2))
    return min_requests


def check_operational(
    guard: Guard,
    report: Report | None,
    versions: tuple[str, str],
    min_requests: int,
    alpha: float = 0.05,
    min_sample: int = 1,
) -> GuardResult:
    """An operational guard against this step's windows (`versions`: champion, challenger).

    It fails only on evidence at level `alpha` (the controller divides the plan's alpha over
    its steps and guards): a latency quantile by order-statistic bounds, the error rate by the
    step's sequential verdict; short of that, it passes where the estimate meets its bound
    and holds where it does not."""
    if report is None:
        return GuardResult(guard.text, INCONCLUSIVE, detail="no serving windows this step yet")
    champ = report.variant("champion", versions[0])
    chal = report.variant("challenger", versions[1])
    seen = (chal.shadow_compared if guard.shadow_only else chal.requests) if chal else 0
    if seen < min_requests:
        return GuardResult(
            guard.text, INCONCLUSIVE, detail=f"{seen} of {min_requests} challenger requests"
        )
    if guard.metric in QUANTILE and chal is not None:
        return _latency(guard, champ, chal, alpha, min_requests)
    value = getattr(chal, OPERATIONAL[guard.metric])
    base = getattr(champ, OPERATIONAL[guard.metric]) if champ is not None else None
    if value is None or (guard.factor and base is None):
        return GuardResult(
            guard.text, INCONCLUSIVE, value, detail=f"no {guard.metric} for both variants"
        )
    bound = guard.threshold(base or 0.0)
    ok = OPS[guard.op](value, bound)
    said = f"{guard.metric} {value:.4g} {guard.op} {bound:.4g}"
    if guard.metric == "error_rate" and not ok:
        return _error_rate(guard, report, value, bound, said, min_sample)
    return GuardResult(guard.text, PASS if ok else FAIL, value, bound, said)


def _error_rate(
    guard: Guard, report: Report, value: float, bound: float, said: str, min_sample: int
) -> GuardResult:
    """Above its bound by the estimate: a failure only where the step's sequential confidence
    sequence for challenger - champion (valid at every look) lies wholly past the bound."""
    cmp = next((c for c in report.comparisons if c.metric == "error_rate"), None)
    champ = cmp.champion if cmp is not None else 0.0
    if cmp is None or cmp.sample < min_sample:
        return GuardResult(
            guard.text,
            INCONCLUSIVE,
            value,
            bound,
            f"{said} by the estimate; too few requests to tell",
        )
    past = cmp.ci_low > bound - champ if guard.op in ("<=", "<") else cmp.ci_high < bound - champ
    return GuardResult(
        guard.text,
        FAIL if past else INCONCLUSIVE,
        value,
        bound,
        f"{said}; difference within [{cmp.ci_low:.4g}, {cmp.ci_high:.4g}]",
    )


def _latency(guard: Guard, champ: Any, chal: Any, alpha: float, min_requests: int) -> GuardResult:
    """A latency quantile: distribution-free order-statistic bounds on both variants."""
    p = QUANTILE[guard.metric]
    need = requests_needed(guard, alpha, min_requests)
    hists = (champ.latency_hist if champ is not None else {}, chal.latency_hist)
    counts = [sum(h.values()) for h in hists]
    if (guard.factor and counts[0] < need) or counts[1] < need:
        return GuardResult(
            guard.text,
            INCONCLUSIVE,
            detail=f"{counts[1]} challenger, {counts[0]} champion latencies of "
            f"{need} each for a bound on p{p * 100:g}",
        )
    # Each side at alpha / 2: the guard misjudges with probability at most alpha.
    b_chal = quantiles.bounds(hists[1], p, alpha / 2)
    b_champ = quantiles.bounds(hists[0], p, alpha / 2) if guard.factor else (0.0, 0.0)
    value, base = quantiles.estimate(hists[1], p), quantiles.estimate(hists[0], p)
    if b_chal is None or b_champ is None or value is None:
        return GuardResult(guard.text, INCONCLUSIVE, detail="no bound yet")
    bound = guard.threshold(base or 0.0)
    upper_op = guard.op in ("<=", "<")
    # Shown worse: the challenger's bound on the far side of the champion's, by the guard.
    worse = (
        b_chal[0] > guard.threshold(b_champ[1])
        if upper_op
        else b_chal[1] < guard.threshold(b_champ[0])
    )
    said = (
        f"p{p * 100:g} {value:.4g} ms (bounds {b_chal[0]:.4g}..{b_chal[1]:.4g}) {guard.op} "
        f"{bound:.4g} ms (champion {b_champ[0]:.4g}..{b_champ[1]:.4g})"
    )
    if worse:
        return GuardResult(guard.text, FAIL, value, bound, said)
    return GuardResult(
        guard.text, PASS if OPS[guard.op](value, bound) else INCONCLUSIVE, value, bound, said
    )


def check_quality(guard: Guard, report: Report | None, versions: tuple[str, str]) -> GuardResult:
    """A verdict guard against the rollout's A/B verdict for its two versions."""
    if report is None:
        return GuardResult(guard.text, INCONCLUSIVE, detail=f"no {guard.metric} labels yet")
    if (report.baseline_version, report.candidate_version) != versions:
        return GuardResult(
            guard.text,
            INCONCLUSIVE,
            detail=f"the labels compare v{report.baseline_version} with "
            f"v{report.candidate_version}, not v{versions[0]} with v{versions[1]}",
        )
    outcome = report.verdict.outcome
    cmp = next((c for c in report.comparisons if c.metric == guard.metric), None)
    value = cmp.difference if cmp is not None else None
    if outcome == INSUFFICIENT:
        state = INCONCLUSIVE
    elif outcome == WORSE:
        state = FAIL
    elif guard.verdict == "better":
        state = PASS if outcome == BETTER else INCONCLUSIVE  # not yet shown better: wait
    else:
        state = PASS if outcome in (BETTER, NO_DIFFERENCE) else FAIL
    return GuardResult(guard.text, state, value, 0.0, report.verdict.message)
