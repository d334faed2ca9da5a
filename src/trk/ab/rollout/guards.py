"""Guards: what must hold for a rollout to go on, read from the A/B evaluation's numbers.

    error_rate <= champion + 0.5pp      the challenger's errors this step vs the champion's
    p99_ms <= 1.2 * champion            latency (p50_ms and p99_ms), request-weighted windows
    shadow_agreement >= 0.95            while shadowing: answers equal to the champion's
    accuracy not-worse | better         the labels' verdict (sequential, valid at every look)

Operational guards compare this step's serving windows (every replica) and wait for
`--min-requests` challenger requests; quality guards read the A/B verdict over the whole
rollout, whose confidence sequence stays valid however often it is checked (trk.ab.sequential),
and wait for its minimum sample. A guard without enough data is inconclusive: it holds the
rollout and never promotes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trk.ab.report import BETTER, INSUFFICIENT, NO_DIFFERENCE, WORSE, Report
from trk.store.rollout_plan import OPERATIONAL, OPS, QUALITY, Guard, parse_guard

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
        return {"guard": self.guard, "state": self.state, "value": self.value,
                "threshold": self.threshold, "detail": self.detail}  # fmt: skip


def check_operational(
    guard: Guard, report: Report | None, versions: tuple[str, str], min_requests: int
) -> GuardResult:
    """An operational guard against this step's windows (`versions`: champion, challenger)."""
    if report is None:
        return GuardResult(guard.text, INCONCLUSIVE, detail="no serving windows this step yet")
    champ = report.variant("champion", versions[0])
    chal = report.variant("challenger", versions[1])
    field_name = OPERATIONAL[guard.metric]
    seen = (chal.shadow_compared if guard.shadow_only else chal.requests) if chal else 0
    if seen < min_requests:
        return GuardResult(guard.text, INCONCLUSIVE,
                           detail=f"{seen} of {min_requests} challenger requests")  # fmt: skip
    value = getattr(chal, field_name)
    base = getattr(champ, field_name) if champ is not None else None
    if value is None or (guard.factor and base is None):
        return GuardResult(guard.text, INCONCLUSIVE, value,
                           detail=f"no {guard.metric} for both variants")  # fmt: skip
    bound = guard.threshold(base or 0.0)
    ok = OPS[guard.op](value, bound)
    return GuardResult(guard.text, PASS if ok else FAIL, value, bound,
                       f"{guard.metric} {value:.4g} {guard.op} {bound:.4g}")  # fmt: skip


def check_quality(guard: Guard, report: Report | None, versions: tuple[str, str]) -> GuardResult:
    """A verdict guard against the rollout's A/B verdict for its two versions."""
    if report is None:
        return GuardResult(guard.text, INCONCLUSIVE, detail=f"no {guard.metric} labels yet")
    if (report.baseline_version, report.candidate_version) != versions:
        return GuardResult(
            guard.text, INCONCLUSIVE,
            detail=f"the labels compare v{report.baseline_version} with "
            f"v{report.candidate_version}, not v{versions[0]} with v{versions[1]}",
        )  # fmt: skip
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
