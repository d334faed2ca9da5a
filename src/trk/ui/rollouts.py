"""The A/B page's rollout section: where a progressive rollout stands and how it got there.

Read from the store's rollout row (the same one `trk rollout status` prints): the steps with
the current one marked, the weight, the latest guard readings, the history, and two charts
over time (seconds since the rollout started): the challenger's weight, and each guard's
value beside its bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trk.exceptions import NotFound
from trk.store.rollout_records import Rollout
from trk.ui.charts import chart


@dataclass
class RolloutView:
    rollout: Rollout
    steps: list[dict[str, Any]] = field(default_factory=list)  # percent, state: done|now|next
    guards: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def rollout_view(client: Any, name: str) -> RolloutView | None:
    """The model's rollout, or None when it never had one (or the store keeps none)."""
    rollouts = getattr(client.store, "rollouts", None)
    if rollouts is None:
        return None
    try:
        r = rollouts.get(name)
    except NotFound:
        return None
    view = RolloutView(r)
    for i, pct in enumerate(r.plan.get("steps", [])):
        where = "done" if i < r.step else "now" if i == r.step else "next"
        view.steps.append({"percent": f"{pct:g}%", "state": where})
    judged = next((t for t in reversed(r.history) if t.guards), None)
    view.guards = list(judged.guards) if judged is not None else []
    view.history = [
        {"#": str(t.seq), "time (UTC)": _time(t.timestamp_ms), "action": t.action,
         "state": t.to_state, "weight": f"{t.weight * 100:g}%", "reason": t.reason,
         "guards": ", ".join(f"{g['guard'].split()[0]}: {g['state']}" for g in t.guards)}
        for t in r.history
    ]  # fmt: skip
    view.charts = _charts(r)
    return view


def _charts(r: Rollout) -> list[dict[str, Any]]:
    """The weight over time, then one chart per guard: its value and its bound at each reading."""
    t0 = r.created_ms
    weight = [((t.timestamp_ms - t0) / 1000, t.weight * 100) for t in r.history]
    out = [chart("rollout: challenger weight (%)", {"weight": weight}, "seconds since start")]
    readings: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for t in r.history:
        x = (t.timestamp_ms - t0) / 1000
        for g in t.guards:
            series = readings.setdefault(g["guard"], {"value": [], "bound": []})
            for key, field_name in (("value", "value"), ("bound", "threshold")):
                if isinstance(g.get(field_name), int | float):
                    series[key].append((x, g[field_name]))
    for guard, series in readings.items():
        if series["value"]:
            out.append(chart(f"rollout guard: {guard}", series, "seconds since start"))
    return out
