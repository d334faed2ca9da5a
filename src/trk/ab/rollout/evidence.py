"""What the guards read: the A/B evaluation of this step's windows, and of the whole rollout's
labels, both for the rollout's two versions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from trk.ab.evaluation import evaluate
from trk.ab.report import GateMethod, Report
from trk.ab.rollout.guards import (
    Guard,
    GuardResult,
    check_operational,
    check_quality,
    parse_guard,
)
from trk.ab.rollout.plan import Plan
from trk.exceptions import InvalidParameter, NotFound
from trk.store.rollout_records import SHADOW, Rollout


def _report(client: Any, model: str, since_ms: int, metric: str, gm: GateMethod) -> Report | None:
    """The A/B report over the windows (and labels) since `since_ms`; None before any data."""
    seconds = max(time.time() * 1000 - since_ms, 1.0) / 1000.0
    try:
        return evaluate(client, model, since=f"{seconds:.3f}s", metric=metric, gate=gm)
    except (NotFound, InvalidParameter):  # no serving runs, windows or labels yet
        return None


@dataclass
class Evidence:
    """The two reports a rollout's guards are judged on."""

    step: Report | None  # this step's serving windows (operational guards)
    quality: Report | None  # labels since the rollout started (verdict guards)


def operational_alpha(plan: Plan) -> float:
    """Each operational guard's level at each step: the plan's alpha over its steps (and the
    shadow phase) and its operational guards, so that over the whole plan an A/A rollout is
    rolled back by them with probability at most alpha (the union bound)."""
    guards = [g for g in map(parse_guard, plan.guards) if not g.verdict]
    phases = len(plan.steps) + (1 if plan.shadow_for_s > 0 else 0)
    return plan.alpha / max(1, len(guards) * phases)


def gather(client: Any, rollout: Rollout, plan: Plan, guards: list[Guard]) -> Evidence:
    gm = GateMethod(plan.alpha, horizon=plan.horizon, min_sample=plan.min_sample)
    step = quality = None
    if any(not g.verdict for g in guards):
        # Two-sided at twice the guard's level: a guard reads one side of the sequence.
        sm = GateMethod(2 * operational_alpha(plan), horizon=plan.horizon,
                        min_sample=plan.min_sample)  # fmt: skip
        step = _report(client, rollout.model, rollout.step_started_ms, "error_rate", sm)
    if any(g.verdict for g in guards):
        quality = _report(client, rollout.model, rollout.created_ms, "accuracy", gm)
    return Evidence(step, quality)


def judge(client: Any, rollout: Rollout, plan: Plan) -> list[GuardResult]:
    """Every guard that applies now: shadow-agreement guards while shadowing, the rest after."""
    shadowing = rollout.state == SHADOW
    guards = [g for g in map(parse_guard, plan.guards) if g.shadow_only == shadowing]
    if not guards:
        return []
    evidence = gather(client, rollout, plan, guards)
    versions = (rollout.champion_version, rollout.challenger_version)
    alpha = operational_alpha(plan)
    return [
        check_quality(g, evidence.quality, versions)
        if g.verdict
        else check_operational(
            g, evidence.step, versions, plan.min_requests, alpha, plan.min_sample
        )  # fmt: skip
        for g in guards
    ]
