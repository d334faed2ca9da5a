"""Drift of served inputs per variant, folded from the records off the request path.

Each answered request's record carries its decoded rows (`Record.inputs`); the fold stacks a
batch's rows per (variant, version) and bins every profiled feature with one vectorised call
per feature, so the request itself pays nothing. Bin counts are kept per report window and
logged with it (`drift_bin_<feature>_<i>`, `drift_rows_<feature>`, `drift_psi_<feature>`), so
`trk ab drift` sums windows and replicas exactly; the gauge
`trk_feature_drift{model,variant,version,feature,method="psi"}` shows the PSI of the current
window's rows (recomputed at most once a second and at every scrape, and kept through a window
close until the new window has rows). A version without `reference_profile.json` is skipped,
its rows unread. Shadow copies are not binned: a shadowed challenger is asked exactly what
the champion is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from prometheus_client import Gauge

from trk.ab.drift import DriftTally
from trk.models.profile import ReferenceProfile, load_profile
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.variant import Variant, VariantSlot
from trk.serving.online.records import INPUTS, Batch

log = logging.getLogger("trk.serving.online.drift")
GAUGE_EVERY_S = 1.0  # the gauge's PSI is recomputed at most this often
Key = tuple[str, str]  # (variant, version)


class VersionDrift:
    """One served version's profile, input column names and the open window's tally."""

    def __init__(self, model: str, profile: ReferenceProfile, names: list[str] | None) -> None:
        self.model, self.profile, self.names = model, profile, names
        self.tally = DriftTally(profile)

    def add(self, inputs: list[Any]) -> None:
        columns = _columns(inputs, self.names)
        if columns:
            self.tally.add(columns)


class DriftFold:
    """Fold consumer: served bin counts per (variant, version) and report window."""

    def __init__(self, slots: Mapping[str, VariantSlot], metrics: ServingMetrics) -> None:
        self.slots = slots
        self.gauge = metrics.add(
            Gauge,
            "trk_feature_drift",
            "PSI of the served inputs of this report window against the version's reference "
            "profile (per worker; the maximum across workers)",
            ("model", "variant", "version", "feature", "method"),
            multiprocess_mode="max",
        )
        self._open: dict[Key, VersionDrift | None] = {}
        self._gauge_at = 0.0
        self._lock = threading.Lock()  # the reporter's closer thread reads windows

    def fold(self, records: Batch) -> None:
        if not records:  # an empty fold is a /metrics scrape: show the gauge as of now
            with self._lock:
                self._set_gauges()
            return
        with self._lock:
            grouped: dict[Key, tuple[VersionDrift, list[Any]]] = {}
            for run in records.runs:
                if run.status != 200 or run.shadow or not run.variant:
                    continue
                key = (run.variant, run.version)
                drift = self._drift(key)
                if drift is None:  # a version without a profile: its rows are not read
                    continue
                rows = grouped.setdefault(key, (drift, []))[1]
                rows.extend(x for x in map(INPUTS, run.records) if x is not None)
            for drift, inputs in grouped.values():
                drift.add(inputs)
            now = time.monotonic()
            if grouped and now - self._gauge_at >= GAUGE_EVERY_S:
                self._gauge_at = now
                self._set_gauges()

    def _set_gauges(self) -> None:
        for (variant, version), drift in self._open.items():
            if drift is None:
                continue
            for feature in drift.profile.features:
                value = drift.tally.psi(feature.name)
                if value is not None:
                    labels = (drift.model, variant, version, feature.name, "psi")
                    self.gauge.labels(*labels).set(value)

    def window(self) -> dict[str, dict[str, float]]:
        """A window source of the reporter: this window's drift metrics per variant, then reset.

        Within one window a variant logs the version it served last (an alias move mid-window
        leaves the earlier version's few rows out of the logged window)."""
        with self._lock:
            self._set_gauges()
            out: dict[str, dict[str, float]] = {}
            for (variant, _), drift in self._open.items():
                if drift is not None and drift.tally.counts:
                    out[variant] = drift.tally.metrics()
            self._open = {k: _fresh(d) for k, d in self._open.items()}
        return out

    def _drift(self, key: Key) -> VersionDrift | None:
        if key not in self._open:
            self._open[key] = self._load(key)
        return self._open[key]

    def _load(self, key: Key) -> VersionDrift | None:
        variant, version = key
        slot = self.slots.get(variant)
        current: Variant | None = slot.current if slot is not None else None
        if current is None or current.version != version:
            return None
        meta = current.model.metadata
        try:
            profile = load_profile(meta.model_dir) if meta.model_dir is not None else None
        except Exception as e:  # a malformed profile disables drift, never serving
            log.warning("%s v%s: drift off, %s", variant, version, e)
            return None
        if profile is None:
            return None
        sig = meta.signature
        names = sig.inputs.input_names() if sig is not None and sig.inputs.inputs else None
        return VersionDrift(current.model_name, profile, names)


def _fresh(drift: VersionDrift | None) -> VersionDrift | None:
    return None if drift is None else VersionDrift(drift.model, drift.profile, drift.names)


def _columns(inputs: list[Any], names: list[str] | None) -> dict[str, Any]:
    """Feature name -> values, from a batch's decoded inputs (arrays or DataFrames)."""
    arrays = [x for x in inputs if isinstance(x, np.ndarray) and x.ndim == 2]
    if arrays and len(arrays) == len(inputs):  # the fast path: one stack, then one slice a column
        return _as_columns(np.concatenate(arrays) if len(arrays) > 1 else arrays[0], names)
    columns: dict[str, list[Any]] = {}
    for x in inputs:
        for name, values in _as_columns(x, names).items():
            columns.setdefault(name, []).append(values)
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def _as_columns(x: Any, names: list[str] | None) -> dict[str, np.ndarray]:
    if hasattr(x, "columns") and hasattr(x, "to_numpy"):
        return {str(c): np.asarray(x[c].to_numpy()).ravel() for c in x.columns}
    if isinstance(x, dict):
        return {str(k): np.asarray(v).ravel() for k, v in x.items()}
    array = np.asarray(x)
    if array.ndim != 2:
        return {}
    labels = names if names and len(names) == array.shape[1] else None
    labels = labels or [str(i) for i in range(array.shape[1])]
    return {name: array[:, i] for i, name in enumerate(labels)}
