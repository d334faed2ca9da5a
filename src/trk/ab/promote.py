"""Promote the challenger when the A/B verdict allows it: champion <- challenger, previous <- old."""

from __future__ import annotations

from dataclasses import dataclass

from trk.ab.report import BETTER, CHALLENGER, NO_DIFFERENCE, Report
from trk.exceptions import InvalidParameter, NotFound

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


def _alias_version(client, name: str, alias: str) -> str | None:  # noqa: ANN001
    try:
        return client.get_model_version_by_alias(name, alias).version
    except NotFound:
        return None


def move_champion(client, name: str, version: str) -> str | None:  # noqa: ANN001
    """champion <- version and previous <- the old champion; returns the old champion."""
    old = _alias_version(client, name, "champion")
    if old is not None and old != version:
        client.set_registered_model_alias(name, "previous", old)
    # One alias write: `champion` always points somewhere, a reloader never sees it missing.
    client.set_registered_model_alias(name, "champion", version)
    return old


def promote_if(client, report: Report, condition: str) -> Promotion:  # noqa: ANN001
    """Move the aliases only when the verdict allows it; say why either way."""
    name, verdict = report.model, report.verdict
    ok = allowed(condition, report)
    if not ok:
        return Promotion(False, f"not promoted (--if {condition}): {verdict.message}")
    target = _alias_version(client, name, CHALLENGER)
    if target is None:
        return Promotion(False, f"not promoted: model {name!r} has no 'challenger' alias")
    evaluated = report.variant(CHALLENGER)
    if evaluated and evaluated.versions and target not in evaluated.versions:
        return Promotion(
            False,
            f"not promoted: {name}@challenger now points at version {target}, but the report "
            f"evaluated version(s) {', '.join(evaluated.versions)}",
        )
    current = _alias_version(client, name, "champion")
    if current == target:
        return Promotion(False, f"not promoted: version {target} is already the champion", current)
    old = move_champion(client, name, target)
    return Promotion(
        True,
        f"promoted {name} version {target} to champion (previous <- {old}): {verdict.message}",
        old,
        target,
    )
