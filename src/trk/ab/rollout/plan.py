"""A rollout's plan from `trk rollout start` flags or the same keys in YAML (`--plan FILE`;
`step-interval` and `step_interval` both work).

The plan itself (`Plan`: steps, timing, guards, when to stop for a person) is declared once in
`trk.contracts.rollout_plan`, so the store that keeps it checks it with the same class; it is
stored as JSON in the rollout's row, and every controller judges by the same plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trk.ab.windows import parse_duration
from trk.contracts.rollout_plan import DEFAULT_STEPS, KEYS, MODES, Plan
from trk.exceptions import InvalidParameter

__all__ = ["DEFAULT_STEPS", "KEYS", "MODES", "Plan", "build_plan", "load_plan_file", "parse_steps"]


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
            elif key in ("min_requests", "failure_limit", "min_sample", "drift_min_rows"):
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
