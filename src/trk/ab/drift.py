"""Population stability index (PSI) of served inputs against a model's reference profile.

PSI = sum_i (p_i - q_i) ln(p_i / q_i), p the served fractions per bin, q the reference's
(Siddiqi, "Credit Risk Scorecards", 2006; its sampling behaviour: Yurdakul, "Statistical
Properties of the Population Stability Index", 2018). Both get 1e-4 added to every bin and are
renormalised, so an empty bin costs a bounded amount instead of an infinite one. The
conventional reading: below 0.1 stable, 0.1-0.25 watch, above 0.25 act. PSI compares each
feature's marginal distribution; a shift in how features move together is invisible to it.

Served values are kept as bin counts (never ratios), so windows and replicas add up exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trk.models.profile import ReferenceProfile

EPSILON = 1e-4
WATCH, ACT = 0.1, 0.25
MIN_ROWS = 200  # fewer served rows than this is "not enough data"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def psi(counts: Iterable[float], reference: Iterable[float]) -> float:
    """PSI of served bin counts against reference bin fractions (same bins, same order)."""
    p = np.asarray(list(counts), dtype=np.float64)
    q = np.asarray(list(reference), dtype=np.float64)
    if p.shape != q.shape or p.size == 0:
        raise ValueError(f"PSI needs equal, non-empty bins: {p.size} served, {q.size} reference")
    p = p / p.sum() if p.sum() > 0 else p
    p, q = _smooth(p), _smooth(q)
    return float(np.sum((p - q) * np.log(p / q)))


def _smooth(x: np.ndarray) -> np.ndarray:
    x = x + EPSILON
    smoothed: np.ndarray = x / x.sum()
    return smoothed


def metric_name(feature: str) -> str:
    """A metric-key-safe spelling of a feature name (MLflow keys allow [A-Za-z0-9_.-/ ])."""
    return _UNSAFE.sub("_", feature)


def psi_metric(feature: str) -> str:
    return f"drift_psi_{metric_name(feature)}"


def bin_metric(feature: str, index: int) -> str:
    return f"drift_bin_{metric_name(feature)}_{index}"


def rows_metric(feature: str) -> str:
    return f"drift_rows_{metric_name(feature)}"


@dataclass
class DriftTally:
    """Served bin counts per feature for one model version, folded from served inputs."""

    profile: ReferenceProfile
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, columns: Mapping[str, Any]) -> None:
        """Fold one batch of served inputs, given as feature name -> values."""
        for feature in self.profile.features:
            if feature.name in columns:
                served = feature.counts(np.asarray(columns[feature.name]))
                if feature.name in self.counts:
                    self.counts[feature.name] += served
                else:
                    self.counts[feature.name] = served

    def add_counts(self, feature: str, counts: Iterable[float]) -> None:
        """Fold bin counts read back from logged metrics (windows, replicas)."""
        bins = self.profile.feature(feature)
        if bins is None:
            return
        served = np.asarray(list(counts), dtype=np.int64)
        if served.size != len(bins.fractions):
            return
        self.counts[feature] = self.counts.get(feature, 0) + served

    def rows(self, feature: str) -> int:
        counts = self.counts.get(feature)
        return int(counts.sum()) if counts is not None else 0

    def psi(self, feature: str) -> float | None:
        """PSI of `feature` so far, None when nothing of it was served."""
        bins = self.profile.feature(feature)
        if bins is None or self.rows(feature) == 0:
            return None
        return psi(self.counts[feature], bins.fractions)

    def summary(self, min_rows: int = MIN_ROWS) -> list[dict[str, Any]]:
        """Per feature: its PSI, the rows behind it, and whether there were enough."""
        out = []
        for feature in self.profile.features:
            rows = self.rows(feature.name)
            value = self.psi(feature.name)
            out.append(
                {
                    "feature": feature.name,
                    "psi": value,
                    "rows": rows,
                    "enough_data": rows >= min_rows,
                    "level": level(value) if rows >= min_rows else "not enough data",
                }
            )
        return out

    def metrics(self) -> dict[str, float]:
        """This tally as serving-run metrics: PSI, rows and bin counts per feature."""
        out: dict[str, float] = {}
        for name, counts in self.counts.items():
            value = self.psi(name)
            if value is not None:
                out[psi_metric(name)] = value
            out[rows_metric(name)] = float(counts.sum())
            out.update({bin_metric(name, i): float(c) for i, c in enumerate(counts)})
        return out


def level(value: float | None) -> str:
    if value is None:
        return "not enough data"
    return "stable" if value < WATCH else "watch" if value < ACT else "act"
