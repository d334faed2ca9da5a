"""Promote the challenger when the A/B verdict allows it: champion <- challenger, previous <- old."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trk.ab.report import BETTER, CHALLENGER, NO_DIFFERENCE, Report
from trk.exceptions import InvalidParameter
from trk.tracking.promotion import alias_version
from trk.tracking.promotion import promote as move_aliases

if TYPE_CHECKING:
    from trk.tracking.client import Client

CONDITIONS = {"better": (BETTER,), "not-worse": (BETTER, NO_DIFFERENCE)}


@dataclass
class Promotion:
    promoted: bool
    reason: str
    champion_before: str | None = None
    champion_after: str | None = None


def allowed(condition: str, report: Report) -> bool:
    """Whether the report's verdict satisfies `--if better|not-worse`."""
    if condition not in CONDITIONS:
        raise InvalidParameter(f"--if must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    return report.verdict.outcome in CONDITIONS[condition]


def promote_if(client: Client, report: Report, condition: str) -> Promotion:
    """Move the aliases only when the verdict allows it; say why either way."""
    name, verdict = report.model, report.verdict
    ok = allowed(condition, report)
    if not ok:
        return Promotion(False, f"not promoted (--if {condition}): {verdict.message}")
    target = alias_version(client, name, CHALLENGER)
    if target is None:
        return Promotion(False, f"not promoted: model {name!r} has no 'challenger' alias")
    evaluated = report.candidate_version
    if evaluated and target != evaluated:
        return Promotion(
            False,
            f"not promoted: {name}@challenger now points at version {target}, but the report "
            f"evaluated version(s) {evaluated}",
        )
    move = move_aliases(client, name)
    if not move.moved:
        return Promotion(False, f"not promoted: {move.message}", move.champion_before)
    return Promotion(
        True,
        f"promoted {name} version {target} to champion (previous <- {move.champion_before}): "
        f"{verdict.message}",
        move.champion_before,
        move.champion_after,
    )
