"""Drift read back from the serving runs: bin counts summed per (variant, version), PSI per feature.

Serving logs each window's served bin counts (`drift_bin_<feature>_<i>`), so windows and
replicas add up exactly; each version's PSI is then read against that version's own
reference profile (its pinned `reference_profile.json`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from trk.ab.drift import MIN_ROWS, DriftTally, bin_metric
from trk.ab.windows import VariantWindows, load_variants
from trk.models.profile import ReferenceProfile, load_profile

if TYPE_CHECKING:
    from trk.tracking.client import Client


def version_profile(client: Client, model: str, version: str) -> ReferenceProfile | None:
    """The reference profile pinned with `models:/MODEL/VERSION`, None when it has none."""
    from trk.uri import fetch_model

    return load_profile(fetch_model(f"models:/{model}/{version}", client.store).path)


def _profiles(client: Client, model: str) -> Callable[[str], ReferenceProfile | None]:
    """version -> its profile, each fetched once however many windows and variants ask."""
    return cache(lambda version: version_profile(client, model, version))


def tally_windows(vw: VariantWindows, version: str, profile: ReferenceProfile) -> DriftTally:
    """Sum one version's served bin counts over every window of every replica."""
    tally = DriftTally(profile)
    for feature in profile.features:
        keys = [bin_metric(feature.name, i) for i in range(len(feature.fractions))]
        windows = [w for w in vw.windows if w.version == version and keys[0] in w.values]
        if windows:
            tally.add_counts(feature.name, [sum(w.get(k) for w in windows) for k in keys])
    return tally


def drift_report(
    client: Client,
    model: str,
    experiment: str | None = None,
    since_s: float | None = None,
    min_rows: int = MIN_ROWS,
) -> dict[str, Any]:
    """Per variant and version: each feature's PSI, its rows, and whether they are enough."""
    profiles = _profiles(client, model)
    rows: list[dict[str, Any]] = []
    for name, vw in sorted(load_variants(client, model, experiment, since_s).items()):
        for version in sorted(vw.versions, key=_version_key):
            profile = profiles(version)
            entry: dict[str, Any] = {"variant": name, "version": version}
            if profile is None:
                entry.update(features=[], note="this version has no reference profile")
            else:
                entry["features"] = tally_windows(vw, version, profile).summary(min_rows)
            rows.append(entry)
    return {"model": model, "min_rows": min_rows, "variants": rows}


def drift_timeline(
    client: Client, model: str, variants: dict[str, VariantWindows]
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Feature -> variant -> (window number, PSI of that window summed over replicas), from
    windows already read (`load_variants`: the A/B page reads the histories once)."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    profiles = _profiles(client, model)
    for name, vw in sorted(variants.items()):
        for step, windows in vw.by_step().items():
            for version in {w.version for w in windows}:
                profile = profiles(version)
                if profile is None:
                    continue
                same = VariantWindows(name, windows=[w for w in windows if w.version == version])
                tally = tally_windows(same, version, profile)
                for feature in profile.features:
                    value = tally.psi(feature.name)
                    if value is not None:
                        out.setdefault(feature.name, {}).setdefault(name, []).append((step, value))
    return out


def dataset_drift(client: Client, model: str, version: str, data_path: str) -> dict[str, float]:
    """`drift_psi` (the largest) and `drift_psi(FEATURE)` of a dataset against VERSION's profile."""
    from trk.exceptions import InvalidParameter
    from trk.models.profile_version import read_table

    mv = client.get_model_version(model, version)
    profile = version_profile(client, model, str(mv.version))
    if profile is None:
        raise InvalidParameter(
            f"{model} version {mv.version} has no reference profile: log the model with "
            "reference_data=, or add one with trk models profile"
        )
    data = read_table(data_path)
    tally = DriftTally(profile)
    tally.add({c: data[c].to_numpy() for c in data.columns if profile.feature(str(c))})
    values = {f"drift_psi({f.name})": tally.psi(f.name) for f in profile.features}
    found = {k: v for k, v in values.items() if v is not None}
    if found:
        found["drift_psi"] = max(found.values())
    return found


def render(report: dict[str, Any]) -> str:
    lines = [f"Drift of {report['model']} (PSI per feature; 0.1 watch, 0.25 act)"]
    for entry in report["variants"]:
        lines.append(f"  {entry['variant']} v{entry['version']}")
        if not entry["features"]:
            lines.append(f"    {entry.get('note', 'no served inputs')}")
        for row in entry["features"]:
            value = "-" if row["psi"] is None else f"{row['psi']:.4f}"
            lines.append(
                f"    {row['feature']:<24} {value:>8}  {row['rows']:>8} rows  {row['level']}"
            )
    return "\n".join(lines)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)
