"""A progressive rollout as the store keeps it: where it stands, and how it got there.

One module for both stores (SQL, REST), the server and every reader (the controller, the
serving replicas' weight follower, the CLI), so the states, the JSON shape and the checks of
untrusted bodies are written once. The plan is kept as the JSON its parser wrote
(`trk.ab.rollout.plan`); the store only checks that it is a bounded object.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from trk.contracts.predictions import check_id
from trk.exceptions import InvalidParameter

SHADOW, RUNNING, AWAITING_APPROVAL, PAUSED = "shadow", "running", "awaiting_approval", "paused"
PROMOTED, ROLLED_BACK, ABORTED = "promoted", "rolled_back", "aborted"
ACTIVE = (SHADOW, RUNNING, AWAITING_APPROVAL, PAUSED)
TERMINAL = (PROMOTED, ROLLED_BACK, ABORTED)
STATES = ACTIVE + TERMINAL
# What a transition did; `hold` keeps state and weight (waiting for time, data or a guard).
ACTIONS = (
    "start",
    "advance",
    "hold",
    "await_approval",
    "approve",
    "pause",
    "resume",
    "rollback",
    "promote",
    "abort",
    "rebalance",
    "aliases_moved",
)
MAX_PLAN_BYTES = 64 * 1024
MAX_REASON = 2000
MAX_GUARDS_BYTES = 64 * 1024
# Fields a transition may change (the rest are fixed when the rollout starts).
CHANGEABLE = {
    "state": str,
    "step": int,
    "weight": float,
    "failures": int,
    "step_started_ms": int,
    "run_id": str,
}


@dataclass(frozen=True)
class Transition:
    """One change of a rollout (or a hold worth remembering), with why and what the guards read."""

    seq: int
    timestamp_ms: int
    action: str
    from_state: str
    to_state: str
    weight: float
    reason: str
    guards: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rollout:
    """The current rollout of one registered model."""

    model: str
    champion_version: str
    challenger_version: str
    plan: dict[str, Any]
    state: str
    step: int  # index into the plan's steps; -1 while shadowing
    weight: float  # the challenger's share of traffic now
    failures: int  # failed guard evaluations at this step
    revision: int  # bumped by every transition: writes compare-and-set on it
    created_ms: int
    updated_ms: int
    step_started_ms: int
    run_id: str | None = None  # the transitions' run in the model's serving experiment
    lease_owner: str | None = None
    lease_expires_ms: int | None = None
    history: list[Transition] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def changed(self, **changes: Any) -> Rollout:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["history"] = [t.to_json() for t in self.history]
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Rollout:
        history = [Transition(**t) for t in data.get("history", [])]
        return Rollout(**{**data, "history": history})


def check_state(value: Any) -> str:
    if value not in STATES:
        raise InvalidParameter(f"Rollout state must be one of {', '.join(STATES)}, got {value!r}")
    return str(value)


def check_weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"Rollout weight must be a number, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidParameter(f"Rollout weight must be within [0, 1], got {value!r}")
    return float(value)


def _int(what: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or value >= 2**62:
        raise InvalidParameter(f"{what} must be an integer >= {low}, got {value!r}")
    return value


def _text(what: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidParameter(f"{what} must be a string of at most {limit} characters")
    return value


def plan_text(plan: Any) -> str:
    """The plan as stored: a JSON object of bounded size."""
    if not isinstance(plan, dict) or not plan:
        raise InvalidParameter("A rollout's plan must be a non-empty JSON object")
    text = orjson.dumps(plan).decode()
    if len(text) > MAX_PLAN_BYTES:
        raise InvalidParameter(f"A rollout's plan is over {MAX_PLAN_BYTES} bytes")
    return text


GUARD_STATES = ("pass", "fail", "inconclusive")


def _guard_ok(g: Any) -> bool:
    """A guard reading as the controller writes it (readers rely on its shape)."""
    if not isinstance(g, dict) or set(g) - {"guard", "state", "value", "threshold", "detail"}:
        return False
    numbers = [g.get("value"), g.get("threshold")]
    name = g.get("guard")
    return (
        isinstance(name, str)
        and bool(name.strip())
        and g.get("state") in GUARD_STATES
        and isinstance(g.get("detail", ""), str)
        and all(
            x is None
            or (isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x))
            for x in numbers
        )
    )


def guards_text(guards: Any) -> str:
    if not isinstance(guards, list) or not all(_guard_ok(g) for g in guards):
        raise InvalidParameter(
            'A transition\'s guards must be a list of {"guard", "state": pass|fail|inconclusive, '
            '"value", "threshold", "detail"}'
        )
    text = orjson.dumps(guards).decode()
    if len(text) > MAX_GUARDS_BYTES:
        raise InvalidParameter(f"A transition's guards are over {MAX_GUARDS_BYTES} bytes")
    return text


def parse_new(data: Any) -> Rollout:
    """A rollout to create, from an untrusted body: identity, versions, plan, first state."""
    if not isinstance(data, dict):
        raise InvalidParameter("A rollout must be a JSON object")
    state = check_state(data.get("state"))
    if state not in ACTIVE:
        raise InvalidParameter(f"A rollout starts in one of {', '.join(ACTIVE)}, not {state!r}")
    plan_text(data.get("plan"))
    return Rollout(
        model=check_id("model", data.get("model")),
        champion_version=check_id("champion_version", data.get("champion_version")),
        challenger_version=check_id("challenger_version", data.get("challenger_version")),
        plan=data["plan"],
        state=state,
        step=_int("step", data.get("step", 0), low=-1),
        weight=check_weight(data.get("weight", 0.0)),
        failures=0,
        revision=0,
        created_ms=0,
        updated_ms=0,
        step_started_ms=0,
        run_id=None if data.get("run_id") is None else check_id("run_id", data["run_id"]),
    )


def parse_changes(changes: Any) -> dict[str, Any]:
    """The fields a transition sets, from an untrusted body; unknown fields are refused."""
    if not isinstance(changes, dict):
        raise InvalidParameter("changes must be a JSON object")
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise InvalidParameter(
            f"A transition cannot change {', '.join(unknown)}; it may change "
            f"{', '.join(CHANGEABLE)}"
        )
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "state":
            out[key] = check_state(value)
        elif key == "weight":
            out[key] = check_weight(value)
        elif key == "run_id":
            out[key] = check_id("run_id", value)
        else:
            out[key] = _int(key, value, low=-1 if key == "step" else 0)
    return out


def parse_transition(data: Any) -> dict[str, Any]:
    """What a transition records (action, reason, guards), from an untrusted body."""
    if not isinstance(data, dict):
        raise InvalidParameter("transition must be a JSON object")
    action = data.get("action")
    if action not in ACTIONS:
        raise InvalidParameter(f"Transition action must be one of {', '.join(ACTIONS)}")
    return {
        "action": action,
        "reason": _text("reason", data.get("reason", ""), MAX_REASON),
        "guards": orjson.loads(guards_text(data.get("guards", []))),
    }
