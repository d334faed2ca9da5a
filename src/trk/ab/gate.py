"""Offline quality gates: a model version's run metrics against `metric>=value` requirements."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trk.exceptions import InvalidParameter

if TYPE_CHECKING:
    from trk.tracking.client import Client

APPROVAL_TAG = "approval_status"
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
# METRIC, or METRIC(FEATURE) for a per-feature value such as drift_psi(petal_length)
_REQ = re.compile(
    r"^\s*([A-Za-z0-9_./\- ]*?[A-Za-z0-9_./\-](?:\([^()]{1,200}\))?)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$"
)


@dataclass(frozen=True)
class Requirement:
    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


@dataclass(frozen=True)
class GateResult:
    requirement: Requirement
    value: float | None  # None: the run has no such metric

    @property
    def passed(self) -> bool:
        return self.value is not None and _OPS[self.requirement.op](
            self.value, self.requirement.threshold
        )


@dataclass
class GateOutcome:
    name: str
    version: str
    run_id: str
    results: list[GateResult]
    available: list[str]
    alias_moved: str | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def parse_requirement(text: str) -> Requirement:
    """'accuracy>=0.90' -> Requirement('accuracy', '>=', 0.9)."""
    m = _REQ.match(text or "")
    if not m:
        raise InvalidParameter(
            f'Bad requirement {text!r}: write METRIC OP NUMBER, e.g. "accuracy>=0.90" '
            f"(OP is one of {' '.join(_OPS)})"
        )
    try:
        threshold = float(m[3])
    except ValueError:
        raise InvalidParameter(f"Bad requirement {text!r}: {m[3]!r} is not a number") from None
    return Requirement(m[1], m[2], threshold)


def run_gates(
    client: Client,
    name: str,
    version: str,
    requirements: Sequence[str],
    alias: str | None = None,
    extra: dict[str, float] | None = None,
) -> GateOutcome:
    """Check every requirement, tag the version approved/rejected, move `alias` on a pass.

    `extra` adds values measured outside the run (e.g. drift of a dataset); they win over the
    run's metrics of the same name.
    """
    if not requirements:
        raise InvalidParameter('Give at least one --require, e.g. --require "accuracy>=0.90"')
    reqs = [parse_requirement(r) for r in requirements]  # all parsed before anything is written
    mv = client.get_model_version(name, version)
    if not mv.run_id:
        raise InvalidParameter(
            f"{name} version {version} was not registered from a run: it has no metrics to gate"
        )
    metrics = {**client.get_run(mv.run_id).data.metrics, **(extra or {})}
    results = [GateResult(r, metrics.get(r.metric)) for r in reqs]
    outcome = GateOutcome(name, str(mv.version), mv.run_id, results, sorted(metrics))
    status = "approved" if outcome.passed else "rejected"
    client.set_model_version_tag(name, mv.version, APPROVAL_TAG, status)
    if outcome.passed and alias:
        client.set_registered_model_alias(name, alias, mv.version)
        outcome.alias_moved = alias
    return outcome


def describe(result: GateResult, available: Sequence[str]) -> str:
    """One line per gate: PASS/FAIL, the requirement and the value found."""
    req = result.requirement
    if result.value is None:
        have = ", ".join(available) or "none"
        return f"FAIL  {req}: the run has no metric {req.metric!r} (it has: {have})"
    return f"{'PASS' if result.passed else 'FAIL'}  {req}: {req.metric} = {result.value:.6g}"
