"""`reference_profile.json`: the training data's bins per feature, the baseline drift is read against.

Numeric features keep the 9 inner edges at the reference's 10%, ..., 90% quantiles (numpy's
default linear method) and the reference's fraction in each of the 10 bins
`(-inf, e1], (e1, e2], ..., (e9, +inf)`; categorical ones keep their 20 most frequent values'
fractions plus one for everything else. The file lives in the model directory, so the
version's digest covers it and a served model can never be compared with another's baseline.
A profile file is untrusted input: `parse` checks every field before anything uses it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trk.exceptions import InvalidParameter, ModelError

PROFILE_FILE = "reference_profile.json"
QUANTILES = tuple(q / 10 for q in range(1, 10))
TOP_VALUES = 20
MAX_FEATURES = 10_000
OTHER = "__other__"  # the categorical bin for every value outside the top 20


@dataclass(frozen=True)
class NumericBins:
    """A numeric feature: 9 inner edges, 10 reference fractions."""

    name: str
    edges: tuple[float, ...]
    fractions: tuple[float, ...]
    kind = "numeric"

    def counts(self, values: np.ndarray) -> np.ndarray:
        """How many of `values` fall in each bin (right-closed); NaN and non-numbers are skipped."""
        x = _as_float(values)
        x = x[~np.isnan(x)]
        bins = np.searchsorted(np.asarray(self.edges), x, side="left")
        return np.bincount(bins, minlength=len(self.fractions)).astype(np.int64)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "edges": list(self.edges),
            "fractions": list(self.fractions),
        }


@dataclass(frozen=True)
class CategoryBins:
    """A categorical feature: its top values' fractions, then the rest's (`OTHER`) last."""

    name: str
    values: tuple[str, ...]
    fractions: tuple[float, ...]
    kind = "categorical"

    def counts(self, values: np.ndarray) -> np.ndarray:
        index = {v: i for i, v in enumerate(self.values)}
        other = len(self.values)
        bins = [index.get(_category(v), other) for v in np.asarray(values, dtype=object).ravel()]
        return np.bincount(np.asarray(bins, dtype=np.int64), minlength=other + 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "values": list(self.values),
            "fractions": list(self.fractions),
        }


Feature = NumericBins | CategoryBins


@dataclass(frozen=True)
class ReferenceProfile:
    """Every profiled feature of one model, and how many reference rows they came from."""

    features: tuple[Feature, ...]
    rows: int

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"format": 1, "rows": self.rows, "features": [f.to_json() for f in self.features]}


def build_profile(data: Any, names: Sequence[str] | None = None) -> ReferenceProfile:
    """Profile a DataFrame, or a 2-D array whose columns `names` names (the signature's inputs)."""
    columns = _columns(data, names)
    if not columns:
        raise InvalidParameter("reference_data has no columns to profile")
    rows = len(next(iter(columns.values())))
    if rows == 0:
        raise InvalidParameter("reference_data has no rows to profile")
    return ReferenceProfile(tuple(_profile(n, v) for n, v in columns.items()), rows)


def _columns(data: Any, names: Sequence[str] | None) -> dict[str, np.ndarray]:
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        return {str(c): data[c].to_numpy() for c in data.columns}
    array = np.asarray(data)
    if array.ndim != 2:
        raise InvalidParameter(
            f"reference_data must be a DataFrame or a 2-D array, not {array.ndim}-D"
        )
    width = array.shape[1]
    labels = list(names) if names else [str(i) for i in range(width)]
    if len(labels) != width:
        raise InvalidParameter(
            f"reference_data has {width} columns but the signature names {len(labels)}"
        )
    return {label: array[:, i] for i, label in enumerate(labels)}


def _profile(name: str, values: np.ndarray) -> Feature:
    if values.dtype.kind in "biuf":
        x = values.astype(np.float64)
        x = x[~np.isnan(x)]
        if x.size == 0:
            raise InvalidParameter(f"reference_data column {name!r} has no numbers")
        edges = tuple(float(e) for e in np.quantile(x, QUANTILES))
        bins = NumericBins(name, edges, ())
        counts = bins.counts(x)
        return NumericBins(name, edges, _fractions(counts))
    found, counts = np.unique(np.asarray([_category(v) for v in values]), return_counts=True)
    top = np.argsort(-counts, kind="stable")[:TOP_VALUES]
    kept = tuple(str(found[i]) for i in top)
    total = counts.sum()
    fractions = [float(counts[i] / total) for i in top]
    fractions.append(float(max(0.0, 1.0 - sum(fractions))))
    return CategoryBins(name, kept, tuple(fractions))


def _fractions(counts: np.ndarray) -> tuple[float, ...]:
    return tuple(float(c) for c in counts / max(1, counts.sum()))


def _as_float(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64).ravel()
    out = np.full(array.size, np.nan)
    for i, v in enumerate(array.ravel()):
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[i] = float(v)
    return out


def _category(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# -- the file ---------------------------------------------------------------------------------
def save_profile(model_dir: Path, profile: ReferenceProfile) -> None:
    (Path(model_dir) / PROFILE_FILE).write_text(json.dumps(profile.to_json()))


def load_profile(model_dir: Path) -> ReferenceProfile | None:
    """The profile saved with a model, None when it has none; a malformed one is a ModelError."""
    file = Path(model_dir) / PROFILE_FILE
    if not file.is_file():
        return None
    try:
        return parse(json.loads(file.read_text()))
    except (OSError, ValueError) as e:
        raise ModelError(f"{file} is not a readable reference profile: {e}") from None


def parse(doc: Any) -> ReferenceProfile:
    """Check every field of an untrusted profile document; ValueError names the first bad one."""
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise ValueError("expected an object with format 1")
    features = doc.get("features")
    if not isinstance(features, list) or not 0 < len(features) <= MAX_FEATURES:
        raise ValueError(f"features must be a list of 1 to {MAX_FEATURES}")
    rows = doc.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise ValueError("rows must be a positive integer")
    return ReferenceProfile(tuple(_parse_feature(f) for f in features), rows)


def _parse_feature(doc: Any) -> Feature:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ValueError("each feature needs a non-empty name")
    name, kind = doc["name"], doc.get("kind")
    fractions = _numbers(doc.get("fractions"), f"{name}.fractions")
    if any(f < 0 for f in fractions) or not 0.99 <= sum(fractions) <= 1.01:
        raise ValueError(f"{name}.fractions must be non-negative and sum to 1")
    if kind == "numeric":
        edges = _numbers(doc.get("edges"), f"{name}.edges")
        if len(edges) != len(QUANTILES) or len(fractions) != len(QUANTILES) + 1:
            raise ValueError(f"{name}: a numeric feature has 9 edges and 10 fractions")
        if any(b < a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"{name}.edges must be sorted")
        return NumericBins(name, edges, fractions)
    if kind == "categorical":
        values = doc.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"{name}.values must be a list of strings")
        if len(values) > TOP_VALUES or len(fractions) != len(values) + 1:
            raise ValueError(f"{name}: at most {TOP_VALUES} values, and one fraction more")
        return CategoryBins(name, tuple(values), fractions)
    raise ValueError(f"{name}.kind must be numeric or categorical")


def _numbers(value: Any, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in value
    ):
        raise ValueError(f"{what} must be a list of finite numbers")
    return tuple(float(v) for v in value)
