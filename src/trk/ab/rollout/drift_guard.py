"""Drift guards: `drift_psi <= 0.2` (the largest PSI over features) or
`drift_psi(petal_length) <= 0.2` (one feature), per variant against its version's profile.

Read from the serving windows' bin counts (`drift_bin_<feature>_<i>`, trk.ab.drift), summed
with `trk.ab.drift_report.tally_windows`, over the newest windows since the step started that
hold the plan's `drift_min_rows` rows of the variant: drift describes the traffic now, so the
guard holds while shifted inputs flow and passes once they stop. Below the minimum rows it is
inconclusive. It never fails: drifted inputs say the step's evidence is not about the traffic
the model was trained for, not that the challenger is worse, so the rollout waits instead of
rolling back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trk.ab.drift import rows_metric
from trk.ab.drift_report import tally_windows
from trk.ab.rollout.guards import INCONCLUSIVE, PASS, GuardResult
from trk.ab.windows import VariantWindows
from trk.contracts.rollout_plan import OPS, Guard
from trk.models.profile import ReferenceProfile
from trk.serving_contract import CHALLENGER, CHAMPION


@dataclass(frozen=True)
class DriftEvidence:
    """This step's windows per variant and each version's reference profile (None: none)."""

    variants: dict[str, VariantWindows]
    profiles: dict[str, ReferenceProfile | None]


@dataclass(frozen=True)
class Reading:
    variant: str
    version: str
    feature: str
    psi: float | None
    rows: int

    def __str__(self) -> str:
        value = "-" if self.psi is None else f"{self.psi:.3g}"
        return f"{self.variant} v{self.version} {self.feature} {value} ({self.rows} rows)"


def newest(vw: VariantWindows, version: str, feature: str, min_rows: int) -> VariantWindows:
    """The newest windows of `version` that together hold `min_rows` rows of `feature` (all
    of them when they hold fewer)."""
    key = rows_metric(feature)
    found = sorted(
        (w for w in vw.windows if w.version == version and key in w.values),
        key=lambda w: w.timestamp,
        reverse=True,
    )
    kept: list[Any] = []
    rows = 0.0
    for w in found:
        if rows >= min_rows:
            break
        kept.append(w)
        rows += w.get(key)
    return VariantWindows(vw.variant, versions={version}, windows=kept)


def readings(
    guard: Guard, ev: DriftEvidence, versions: tuple[str, str], min_rows: int
) -> list[Reading]:
    """PSI per (variant, feature) the guard reads; variants without a profile are left out."""
    out = []
    for name, version in ((CHAMPION, versions[0]), (CHALLENGER, versions[1])):
        profile = ev.profiles.get(version)
        if profile is None:
            continue
        vw = ev.variants.get(name, VariantWindows(name))
        names = [guard.feature] if guard.feature else [f.name for f in profile.features]
        for feature in names:
            tally = tally_windows(newest(vw, version, feature, min_rows), version, profile)
            out.append(Reading(name, version, feature, tally.psi(feature), tally.rows(feature)))
    return out


def check_drift(
    guard: Guard, ev: DriftEvidence | None, versions: tuple[str, str], min_rows: int
) -> GuardResult:
    """Pass while every variant's PSI meets the bound on its newest `min_rows` rows; else hold."""
    if ev is None:
        return GuardResult(guard.text, INCONCLUSIVE, detail="no serving windows this step yet")
    if not any(ev.profiles.get(v) for v in versions):
        return GuardResult(
            guard.text, INCONCLUSIVE, detail="neither version has a reference profile"
        )
    found = readings(guard, ev, versions, min_rows)
    if guard.feature and not found:
        return GuardResult(
            guard.text, INCONCLUSIVE, detail=f"no profile has the feature {guard.feature!r}"
        )
    short = [r for r in found if r.rows < min_rows or r.psi is None]
    if short:
        return GuardResult(guard.text, INCONCLUSIVE, detail=f"{short[0]} of {min_rows} rows needed")
    top = max(found, key=lambda r: r.psi or 0.0)
    value = top.psi or 0.0
    if OPS[guard.op](value, guard.offset):
        return GuardResult(guard.text, PASS, value, guard.offset, f"largest PSI: {top}")
    return GuardResult(
        guard.text,
        INCONCLUSIVE,
        value,
        guard.offset,
        f"inputs drifted, held: {top} {guard.op} {guard.offset:g} fails",
    )
