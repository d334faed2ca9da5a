"""The A/B page's rollout section: where a progressive rollout stands and how it got there.

Read from the store's rollout row (the same one `trk rollout status` prints): the steps with
the current one marked, the weight, the latest guard readings, the history, and two charts
over time (seconds since the rollout started): the challenger's weight, and each guard's
value beside its bound. A stored rollout is input: one the state machine refuses (a plan
that is not one, a step outside it, odd guard readings) shows what it can and says what is
wrong (`problem`); nothing in it can make the page fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trk.contracts.rollout_machine import check_stored
from trk.contracts.rollouts import Rollout, Transition
from trk.exceptions import InvalidParameter, NotFound
from trk.ui.charts import chart

if TYPE_CHECKING:
    from trk.tracking.client import Client


@dataclass
class RolloutView:
    rollout: Rollout
    steps: list[dict[str, Any]] = field(default_factory=list)  # percent, state: done|now|next
    guards: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""  # why the stored rollout is not one the state machine allows
    weight: str = ""
    failure_limit: str = "?"
    bandit: bool = False


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def rollout_view(client: Client, name: str) -> RolloutView | None:
    """The model's rollout, or None when it never had one (or the store keeps none)."""
    rollouts = getattr(client.store, "rollouts", None)
    if rollouts is None:
        return None
    try:
        r = rollouts.get(name)
    except NotFound:
        return None
    view = RolloutView(r, weight=_percent(r.weight))
    try:
        plan = check_stored(r)
    except InvalidParameter as exc:
        view.problem = exc.message
    else:
        view.failure_limit, view.bandit = str(plan.failure_limit), plan.bandit
        for i, pct in enumerate(plan.steps):
            where = "done" if i < r.step else "now" if i == r.step else "next"
            view.steps.append({"percent": f"{pct:g}%", "state": where})
    history = [t for t in r.history if isinstance(t, Transition)]
    judged = next((t for t in reversed(history) if _readings(t)), None)
    view.guards = [_shown(g) for g in _readings(judged)] if judged is not None else []
    view.history = [
        {
            "#": str(t.seq),
            "time (UTC)": _time(t.timestamp_ms),
            "action": str(t.action),
            "state": str(t.to_state),
            "weight": _percent(t.weight),
            "reason": str(t.reason),
            "guards": ", ".join(f"{_name(g)}: {g.get('state')}" for g in _readings(t)),
        }
        for t in history
    ]
    view.charts = _charts(r, history)
    return view


def _readings(t: Transition) -> list[dict[str, Any]]:
    """A transition's guard readings that are objects (the store checks new ones)."""
    return [g for g in t.guards if isinstance(g, dict)] if isinstance(t.guards, list) else []


def _shown(g: dict[str, Any]) -> dict[str, str]:
    """A reading as the page prints it (text only: nothing stored can break the template)."""

    def num(x: Any) -> str:
        return f"{x:.4g}" if isinstance(x, int | float) and not isinstance(x, bool) else ""

    return {
        "guard": str(g.get("guard", "")),
        "state": str(g.get("state", "")),
        "value": num(g.get("value")),
        "threshold": num(g.get("threshold")),
        "detail": str(g.get("detail", "")),
    }


def _name(g: dict[str, Any]) -> str:
    words = str(g.get("guard", "")).split()
    return words[0] if words else "?"


def _percent(weight: Any) -> str:
    return f"{weight * 100:g}%" if isinstance(weight, int | float) else "?"


def _charts(r: Rollout, history: list[Transition]) -> list[dict[str, Any]]:
    """The weight over time, then one chart per guard: its value and its bound at each reading."""
    t0 = r.created_ms

    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    timed = [t for t in history if number(t.timestamp_ms)]
    weight = [((t.timestamp_ms - t0) / 1000, t.weight * 100) for t in timed if number(t.weight)]
    out = [chart("rollout: challenger weight (%)", {"weight": weight}, "seconds since start")]
    readings: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for t in timed:
        x = (t.timestamp_ms - t0) / 1000
        for g in _readings(t):
            series = readings.setdefault(str(g.get("guard")), {"value": [], "bound": []})
            for key, field_name in (("value", "value"), ("bound", "threshold")):
                if number(g.get(field_name)):
                    series[key].append((x, g[field_name]))
    for guard, series in readings.items():
        if series["value"]:
            out.append(chart(f"rollout guard: {guard}", series, "seconds since start"))
    return out
