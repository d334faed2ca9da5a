"""A rollout's plan, declared once: the steps, their timing, the guards, when to stop for a person.

From `trk rollout start` flags or the same keys in YAML (`--plan FILE`; `step-interval` and
`step_interval` both work). Stored as JSON in the rollout's row, so every controller judges
by the same plan. Steps are percentages of traffic for the challenger, increasing, ending at
100; reaching 100 is the promotion.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trk.ab import sequential
from trk.ab.rollout.guards import parse_guard
from trk.ab.windows import parse_duration
from trk.exceptions import InvalidParameter

DEFAULT_STEPS = (5.0, 10.0, 25.0, 50.0, 100.0)
MODES = ("steps", "bandit")
KEYS = ("mode", "min_share", "steps", "step_interval", "shadow_for", "min_requests", "guards", "failure_limit",
        "manual_approval_at", "alpha", "horizon", "min_sample")  # fmt: skip


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
    horizon: float = sequential.DEFAULT_HORIZON
    min_sample: int = sequential.DEFAULT_MIN_SAMPLE  # labels per variant before a verdict
    mode: str = "steps"  # or "bandit": Thompson sampling on the labels (trk.ab.rollout.bandit)
    min_share: float = 0.05  # bandit: the least share either variant gets

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
        sequential.check_horizon(self.horizon)
        if self.min_sample < 1:
            raise InvalidParameter(f"min_sample must be at least 1, got {self.min_sample}")
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
            return Plan(**{**data, "steps": tuple(data["steps"]), "guards": tuple(data["guards"])})
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameter(f"The stored rollout plan is not valid: {exc}") from None


def parse_steps(value: Any) -> tuple[float, ...]:
    """`5,10,25,50,100` or a YAML list -> percentages."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise InvalidParameter(f"--steps must be a comma-separated list of percentages: {value!r}")
    try:
        return tuple(float(str(s).strip().rstrip("%")) for s in items)
    except ValueError:
        raise InvalidParameter(f"--steps must be numbers (percent), got {value!r}") from None


def _seconds(value: Any, flag: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value, flag)


def build_plan(values: dict[str, Any]) -> Plan:
    """A plan from flag-like keys (`steps`, `step_interval`, `shadow_for`, ...); all checked."""
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise InvalidParameter(
            f"Unknown plan key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    kw: dict[str, Any] = {}
    try:
        for key, value in values.items():
            if value is None:
                continue
            if key == "steps":
                kw["steps"] = parse_steps(value)
            elif key in ("step_interval", "shadow_for"):
                kw[f"{key}_s"] = _seconds(value, "--" + key.replace("_", "-"))
            elif key == "guards":
                guards = [value] if isinstance(value, str) else value
                if not isinstance(guards, list | tuple) or not all(
                    isinstance(g, str) for g in guards
                ):
                    raise InvalidParameter("guards must be a list of strings")
                kw["guards"] = tuple(guards)
            elif key == "mode":
                kw["mode"] = str(value)
            elif key in ("min_requests", "failure_limit", "min_sample"):
                kw[key] = _integer(key, value)
            else:
                kw[key] = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"Bad rollout plan: {exc}") from None
    return Plan(**kw)


def _integer(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidParameter(f"--{key.replace('_', '-')} must be a whole number, got {value!r}")
    return int(value)


def load_plan_file(path: str | Path) -> dict[str, Any]:
    """The plan's keys from a YAML file (`step-interval` or `step_interval`)."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise InvalidParameter(f"Cannot read --plan {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidParameter(f"--plan {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidParameter(f"--plan {path} must be a mapping of plan keys")
    values = {str(k).replace("-", "_"): v for k, v in raw.items()}
    if "guard" in values:  # the flag's singular spelling
        values["guards"] = values.pop("guard")
    return values
