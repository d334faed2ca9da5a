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

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trk.ab.report import BETTER, INSUFFICIENT, NO_DIFFERENCE, WORSE, Report
from trk.exceptions import InvalidParameter

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
# guard metric -> the report summary's field
OPERATIONAL = {"error_rate": "error_rate", "p50_ms": "latency_p50_ms",
               "p99_ms": "latency_p99_ms", "shadow_agreement": "shadow_agreement"}  # fmt: skip
QUALITY = {"accuracy": ("not-worse", "better")}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}  # fmt: skip
_NUM = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_CMP = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_QUALITY = re.compile(r"^\s*([a-z0-9_]+)\s+(not-worse|better)\s*$")
_ABS = re.compile(rf"^({_NUM})(pp|%)?$")
_OFFSET = re.compile(rf"^champion(?:\s*([+-])\s*({_NUM})\s*(pp|%)?)?$")
_FACTOR = re.compile(rf"^(?:({_NUM})\s*\*\s*champion|champion\s*\*\s*({_NUM}))$")


@dataclass(frozen=True)
class Guard:
    """One parsed guard: `metric op factor * champion + offset`, an absolute bound, or a verdict."""

    text: str
    metric: str
    op: str = ""
    factor: float = 0.0  # 0: an absolute bound (`offset`)
    offset: float = 0.0
    verdict: str = ""  # quality guards: not-worse | better

    @property
    def shadow_only(self) -> bool:
        return self.metric == "shadow_agreement"

    def threshold(self, champion: float) -> float:
        return self.factor * champion + self.offset


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


def _points(number: str, unit: str | None) -> float:
    return float(number) / 100.0 if unit else float(number)


def parse_guard(text: str) -> Guard:
    """`error_rate <= champion + 0.5pp` -> Guard; InvalidParameter names what is accepted."""
    if not isinstance(text, str) or len(text) > 200:
        raise InvalidParameter(f"Bad --guard {text!r}")
    q = _QUALITY.match(text)
    if q:
        if q[2] not in QUALITY.get(q[1], ()):
            raise InvalidParameter(
                f"Bad --guard {text!r}: a verdict guard is 'accuracy not-worse' or 'accuracy better'"
            )
        return Guard(text, q[1], verdict=q[2])
    m = _CMP.match(text)
    if not m or m[1] not in OPERATIONAL:
        raise InvalidParameter(
            f"Bad --guard {text!r}: write METRIC OP BOUND with METRIC one of "
            f"{', '.join(OPERATIONAL)} (or 'accuracy not-worse'); BOUND a number, 'champion', "
            "'champion + 0.5pp' or '1.2 * champion'"
        )
    rhs = m[3].strip()
    if a := _ABS.match(rhs):
        return Guard(text, m[1], m[2], 0.0, _points(a[1], a[2]))
    if o := _OFFSET.match(rhs):
        offset = _points(o[2], o[3]) * (-1 if o[1] == "-" else 1) if o[2] else 0.0
        return Guard(text, m[1], m[2], 1.0, offset)
    if f := _FACTOR.match(rhs):
        return Guard(text, m[1], m[2], float(f[1] or f[2]), 0.0)
    raise InvalidParameter(
        f"Bad --guard {text!r}: the bound {rhs!r} is not a number, 'champion', "
        "'champion + X[pp]' or 'X * champion'"
    )


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
    ok = _OPS[guard.op](value, bound)
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
