"""Model versions, not roles: one arm per (variant, version), and the two arms a verdict compares.

A promotion moves the champion alias to the challenger's version while the servers keep
running, so a role's windows can hold two versions. The report keeps one row per (variant,
version) and compares the challenger's latest version with the latest champion version that
differs from it: the two versions that actually served side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from trk.ab.windows import VariantWindows
from trk.serving_contract import CHALLENGER, CHAMPION


def _version_key(version: str) -> tuple[int, str]:
    return (len(version), version)  # numeric versions sort as numbers


def by_version(vw: VariantWindows) -> list[VariantWindows]:
    """One VariantWindows per version the variant served, oldest version first."""
    arms: dict[str, VariantWindows] = {}
    for w in vw.windows:
        arm = arms.get(w.version)
        if arm is None:
            arm = arms[w.version] = VariantWindows(vw.variant, versions={w.version} - {""})
        if w.run_id not in arm.run_ids:
            arm.run_ids.append(w.run_id)
        arm.processes.add(w.process)
        arm.windows.append(w)
    return [arms[v] for v in sorted(arms, key=_version_key)]


def version_of(arm: VariantWindows) -> str:
    return next(iter(arm.versions), "")


def _latest(arms: list[VariantWindows]) -> VariantWindows | None:
    return max(arms, key=lambda a: max(w.timestamp for w in a.windows), default=None)


@dataclass(frozen=True)
class Pair:
    """The baseline (a champion version) and the candidate (the challenger's version)."""

    baseline: VariantWindows
    candidate: VariantWindows


def choose_pair(arms: dict[str, list[VariantWindows]]) -> Pair | None:
    """The challenger's latest version against the latest champion version that differs."""
    candidate = _latest(arms.get(CHALLENGER, []))
    if candidate is None:
        return None
    champions = arms.get(CHAMPION, [])
    other = [a for a in champions if version_of(a) != version_of(candidate)]
    baseline = _latest(other) or _latest(champions)
    return None if baseline is None else Pair(baseline, candidate)
