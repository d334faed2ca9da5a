"""What the guards read: the A/B evaluation of this step's windows, and of the whole rollout's
labels, both for the rollout's two versions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trk.ab.drift_report import version_profile
from trk.ab.evaluation import evaluate
from trk.ab.report import GateMethod, Report
from trk.ab.rollout.drift_guard import DriftEvidence, check_drift
from trk.ab.rollout.guards import (
    Guard,
    GuardResult,
    check_operational,
    check_quality,
    parse_guard,
)
from trk.ab.rollout.plan import Plan
from trk.ab.windows import load_variants
from trk.contracts.rollouts import SHADOW, Rollout
from trk.exceptions import InvalidParameter, NotFound
from trk.models.profile import ReferenceProfile

if TYPE_CHECKING:
    from trk.tracking.client import Client


def _report(
    client: Client, model: str, since_ms: int, metric: str, gm: GateMethod
) -> Report | None:
    """The A/B report over the windows (and labels) since `since_ms`; None before any data."""
    seconds = max(time.time() * 1000 - since_ms, 1.0) / 1000.0
    try:
        return evaluate(client, model, since=f"{seconds:.3f}s", metric=metric, gate=gm)
    except (NotFound, InvalidParameter):  # no serving runs, windows or labels yet
        return None


@dataclass
class Evidence:
    """What a rollout's guards are judged on."""

    step: Report | None  # this step's serving windows (operational guards)
    quality: Report | None  # labels since the rollout started (verdict guards)
    drift: DriftEvidence | None = None  # this step's windows and the profiles (drift guards)


def _drift(client: Client, rollout: Rollout) -> DriftEvidence | None:
    """This step's windows per variant and both versions' reference profiles."""
    seconds = max(time.time() * 1000 - rollout.step_started_ms, 1.0) / 1000.0
    try:
        variants = load_variants(client, rollout.model, None, seconds)
    except (NotFound, InvalidParameter):  # no serving runs or windows yet
        return None
    versions = (rollout.champion_version, rollout.challenger_version)
    return DriftEvidence(variants, {v: _profile(client, rollout.model, v) for v in versions})


def _profile(client: Client, model: str, version: str) -> ReferenceProfile | None:
    try:
        return version_profile(client, model, version)
    except (NotFound, InvalidParameter):  # a deleted version: nothing to read drift against
        return None


def operational_alpha(plan: Plan) -> float:
    """Each operational guard's level at each step: the plan's alpha over its steps (and the
    shadow phase) and its operational guards, so that over the whole plan an A/A rollout is
    rolled back by them with probability at most alpha (the union bound)."""
    guards = [g for g in map(parse_guard, plan.guards) if not (g.verdict or g.drift)]
    phases = len(plan.steps) + (1 if plan.shadow_for_s > 0 else 0)
    return plan.alpha / max(1, len(guards) * phases)


def gather(client: Client, rollout: Rollout, plan: Plan, guards: list[Guard]) -> Evidence:
    gm = GateMethod(plan.alpha, horizon=plan.horizon, min_sample=plan.min_sample)
    step = quality = drift = None
    if any(not (g.verdict or g.drift) for g in guards):
        # Two-sided at twice the guard's level: a guard reads one side of the sequence.
        sm = GateMethod(
            2 * operational_alpha(plan), horizon=plan.horizon, min_sample=plan.min_sample
        )
        step = _report(client, rollout.model, rollout.step_started_ms, "error_rate", sm)
    if any(g.verdict for g in guards):
        quality = _report(client, rollout.model, rollout.created_ms, "accuracy", gm)
    if any(g.drift for g in guards):
        drift = _drift(client, rollout)
    return Evidence(step, quality, drift)


def judge(client: Client, rollout: Rollout, plan: Plan) -> list[GuardResult]:
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
        else check_drift(g, evidence.drift, versions, plan.drift_min_rows)
        if g.drift
        else check_operational(
            g, evidence.step, versions, plan.min_requests, alpha, plan.min_sample
        )
        for g in guards
    ]
