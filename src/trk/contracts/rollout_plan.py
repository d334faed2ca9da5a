"""A rollout's plan and its guards' grammar: the one class the CLI builds, the store keeps and
checks, and the controller reads.

Below `trk.ab` on purpose: the store (SQL and, through it, `trk server`) parses every plan it
is asked to keep with this class, so a plan no controller could follow is never stored. The
flags and YAML that build a plan are in `trk.ab.rollout.plan`; judging guards against the
evidence is in `trk.ab.rollout.guards`.

Steps are percentages of traffic for the challenger, increasing, ending at 100; reaching 100
is the promotion.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from trk.exceptions import InvalidParameter

# The sequential gate's defaults (trk.ab.sequential; a test keeps them equal).
DEFAULT_HORIZON = 5_000
DEFAULT_MIN_SAMPLE = 100
DEFAULT_DRIFT_MIN_ROWS = 200  # trk.ab.drift.MIN_ROWS (a test keeps them equal)
# guard metric -> the report summary's field
OPERATIONAL = {
    "error_rate": "error_rate",
    "p50_ms": "latency_p50_ms",
    "p99_ms": "latency_p99_ms",
    "shadow_agreement": "shadow_agreement",
}
QUALITY = {"accuracy": ("not-worse", "better")}
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_NUM = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_CMP = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_QUALITY = re.compile(r"^\s*([a-z0-9_]+)\s+(not-worse|better)\s*$")
_ABS = re.compile(rf"^({_NUM})(pp|%)?$")
_OFFSET = re.compile(rf"^champion(?:\s*([+-])\s*({_NUM})\s*(pp|%)?)?$")
_FACTOR = re.compile(rf"^(?:({_NUM})\s*\*\s*champion|champion\s*\*\s*({_NUM}))$")
# drift_psi <= 0.2 (the largest over features) or drift_psi(petal_length) <= 0.2 (one)
DRIFT = "drift_psi"
_DRIFT = re.compile(rf"^\s*{DRIFT}\s*(?:\(\s*([^()]{{1,150}}?)\s*\))?\s*(<=|<)\s*({_NUM})\s*$")


@dataclass(frozen=True)
class Guard:
    """One parsed guard: `metric op factor * champion + offset`, an absolute bound, or a verdict."""

    text: str
    metric: str
    op: str = ""
    factor: float = 0.0  # 0: an absolute bound (`offset`)
    offset: float = 0.0
    verdict: str = ""  # quality guards: not-worse | better
    feature: str = ""  # drift guards: one feature ("": the largest PSI over features)

    @property
    def drift(self) -> bool:
        return self.metric == DRIFT

    @property
    def shadow_only(self) -> bool:
        return self.metric == "shadow_agreement"

    def threshold(self, champion: float) -> float:
        return self.factor * champion + self.offset


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
    if text.lstrip().startswith(DRIFT):
        return _drift_guard(text)
    m = _CMP.match(text)
    if not m or m[1] not in OPERATIONAL:
        raise InvalidParameter(
            f"Bad --guard {text!r}: write METRIC OP BOUND with METRIC one of "
            f"{', '.join(OPERATIONAL)} (or 'accuracy not-worse', 'drift_psi <= 0.2'); BOUND a "
            "number, 'champion', "
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


def _drift_guard(text: str) -> Guard:
    d = _DRIFT.match(text)
    if not d:
        raise InvalidParameter(
            f"Bad --guard {text!r}: a drift guard is 'drift_psi <= X' (the largest PSI over "
            "features) or 'drift_psi(FEATURE) <= X', X a number"
        )
    return Guard(text, DRIFT, d[2], 0.0, float(d[3]), feature=d[1] or "")


DEFAULT_STEPS = (5.0, 10.0, 25.0, 50.0, 100.0)
MODES = ("steps", "bandit")
KEYS = (
    "mode",
    "min_share",
    "steps",
    "step_interval",
    "shadow_for",
    "min_requests",
    "guards",
    "failure_limit",
    "manual_approval_at",
    "alpha",
    "horizon",
    "min_sample",
    "drift_min_rows",
)


@dataclass(frozen=True)
class Plan:
    """How a rollout moves: `steps` in percent, seconds per step, guards, limits."""

    steps: tuple[float, ...] = DEFAULT_STEPS
    step_interval_s: float = 600.0
    shadow_for_s: float = 0.0
    min_requests: int = 500
    guards: tuple[str, ...] = field(default_factory=tuple)
    failure_limit: int = 2
    manual_approval_at: float | None = None
    alpha: float = 0.05  # quality guards' level (sequential: valid at every look)
    horizon: float = DEFAULT_HORIZON
    min_sample: int = DEFAULT_MIN_SAMPLE  # labels per variant before a verdict
    mode: str = "steps"  # or "bandit": Thompson sampling on the labels (trk.ab.rollout.bandit)
    min_share: float = 0.05  # bandit: the least share either variant gets
    drift_min_rows: int = DEFAULT_DRIFT_MIN_ROWS  # served rows per variant before a drift guard

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidParameter(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0 < self.min_share < 0.5:
            raise InvalidParameter(f"--min-share must be within (0, 0.5), got {self.min_share}")
        steps = self.steps
        if not steps or any(not (0 < s <= 100) or not math.isfinite(s) for s in steps):
            raise InvalidParameter(f"--steps must be percentages in (0, 100], got {list(steps)}")
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)) or steps[-1] != 100:
            raise InvalidParameter(
                f"--steps must increase and end at 100 (the promotion), got {list(steps)}"
            )
        if not (self.step_interval_s > 0 and math.isfinite(self.step_interval_s)):
            raise InvalidParameter("--step-interval must be positive")
        if self.shadow_for_s < 0:
            raise InvalidParameter("--shadow-for must not be negative")
        if self.min_requests < 1:
            raise InvalidParameter(f"--min-requests must be at least 1, got {self.min_requests}")
        if self.failure_limit < 1:
            raise InvalidParameter(f"--failure-limit must be at least 1, got {self.failure_limit}")
        if self.manual_approval_at is not None and not 0 < self.manual_approval_at <= 100:
            raise InvalidParameter("--manual-approval-at must be a percentage in (0, 100]")
        if not 0 < self.alpha < 1:
            raise InvalidParameter(f"alpha must be between 0 and 1, got {self.alpha}")
        if not (math.isfinite(self.horizon) and self.horizon >= 1):
            raise InvalidParameter(
                f"--horizon must be a number of labels >= 1, got {self.horizon!r}"
            )
        if self.min_sample < 1:
            raise InvalidParameter(f"min_sample must be at least 1, got {self.min_sample}")
        if not isinstance(self.drift_min_rows, int) or self.drift_min_rows < 1:
            raise InvalidParameter(
                f"--drift-min-rows must be a whole number >= 1, got {self.drift_min_rows!r}"
            )
        for text in self.guards:
            parse_guard(text)

    def weight(self, step: int) -> float:
        """The challenger's share at step index `step` (0 while shadowing, step -1); a bandit
        starts where Thompson sampling without labels does, at one half."""
        if step < 0:
            return 0.0
        return 0.5 if self.bandit else self.steps[step] / 100.0

    @property
    def bandit(self) -> bool:
        return self.mode == "bandit"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["steps"], out["guards"] = list(self.steps), list(self.guards)
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Plan:
        """The plan as stored; a stored plan is input too (any client may write one)."""
        try:
            steps, guards = data.get("steps", DEFAULT_STEPS), data.get("guards", ())
            if isinstance(steps, str) or isinstance(guards, str):
                raise TypeError("steps and guards are lists")
            return Plan(**{**data, "steps": tuple(steps), "guards": tuple(guards)})
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameter(f"The stored rollout plan is not valid: {exc}") from None
