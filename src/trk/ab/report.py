"""The A/B report: per-variant summaries, challenger - champion differences and a verdict."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from trk.ab import sequential, stats
from trk.ab.windows import VariantWindows
from trk.exceptions import InvalidParameter

CHAMPION, CHALLENGER = "champion", "challenger"
BETTER, WORSE, NO_DIFFERENCE, INSUFFICIENT = (
    "better",
    "worse",
    "no significant difference",
    "insufficient data",
)
POWER = 0.8
SEQUENTIAL, FIXED = "sequential", "fixed"
METHODS = (SEQUENTIAL, FIXED)


@dataclass(frozen=True)
class GateMethod:
    """How the verdict is reached: level, method, the sequence's horizon, the minimum sample."""

    alpha: float = 0.05
    method: str = SEQUENTIAL
    horizon: float = sequential.DEFAULT_HORIZON
    min_sample: int = sequential.DEFAULT_MIN_SAMPLE

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidParameter(f"--alpha must be between 0 and 1, got {self.alpha}")
        if self.method not in METHODS:
            raise InvalidParameter(
                f"--method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        sequential.check_horizon(self.horizon)
        if self.min_sample < 1:
            raise InvalidParameter(f"--min-sample must be at least 1, got {self.min_sample}")

    @property
    def sequential(self) -> bool:
        return self.method == SEQUENTIAL


def _rmse(pairs: Sequence[tuple[float, float]]) -> float:
    # Window RMSEs combine exactly through their mean squares weighted by label counts.
    return math.sqrt(stats.weighted_mean([(v * v, w) for v, w in pairs]))


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is compared: a proportion of counts, or a per-window value."""

    name: str
    higher_is_better: bool
    success_key: str = ""  # proportions: successes / trials
    trials_key: str = ""
    weight_key: str = ""  # per-window values: weighted by this count
    combine: Callable[[Sequence[tuple[float, float]]], float] = stats.weighted_mean
    unit: str = ""

    @property
    def is_proportion(self) -> bool:
        return bool(self.success_key)


METRICS = {
    s.name: s
    for s in (
        MetricSpec("accuracy", True, "correct", "labelled", unit="labelled requests"),
        MetricSpec("error_rate", False, "errors", "requests", unit="requests"),
        MetricSpec("latency_p50_ms", False, weight_key="requests", unit="requests"),
        MetricSpec("latency_p95_ms", False, weight_key="requests", unit="requests"),
        MetricSpec("latency_p99_ms", False, weight_key="requests", unit="requests"),
        MetricSpec("mae", False, weight_key="labelled", unit="labelled requests"),
        MetricSpec("rmse", False, weight_key="labelled", combine=_rmse, unit="labelled requests"),
    )
}


def metric_spec(name: str) -> MetricSpec:
    """The spec of a comparable metric, or InvalidParameter naming the choices."""
    if name not in METRICS:
        raise InvalidParameter(
            f"Unknown metric {name!r}: choose one of {', '.join(sorted(METRICS))}"
        )
    return METRICS[name]


@dataclass
class VariantSummary:
    variant: str
    versions: list[str]
    replicas: int
    windows: int
    requests: int
    errors: int
    error_rate: float | None
    error_rate_ci: tuple[float, float] | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    shadow_compared: int
    shadow_agreed: int
    shadow_agreement: float | None
    shadow_agreement_ci: tuple[float, float] | None
    labelled: int
    correct: int
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    mae: float | None = None
    rmse: float | None = None
    # Latency bucket -> requests over the windows (trk.serving_contract.latency_bucket).
    latency_hist: dict[int, int] = field(default_factory=dict)


@dataclass
class Comparison:
    """challenger - champion for one metric."""

    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    design: str = "unpaired"  # or "paired": shadow pairs of the same labelled requests
    sample: int = 0  # the smaller variant's observations, or the pairs
    needed: int | None = None  # per variant (or pairs) for 80% power under the method
    sequence: list[dict[str, float]] = field(default_factory=list)  # the CS at each look


@dataclass
class Verdict:
    metric: str
    alpha: float
    outcome: str
    message: str
    needed_per_variant: int | None = None
    more_needed: int | None = None


@dataclass
class Report:
    model: str
    experiment: str
    metric: str
    alpha: float
    since: str | None
    variants: list[VariantSummary]
    comparisons: list[Comparison]
    verdict: Verdict
    timeline: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    predictions: dict[str, dict[str, int]] = field(default_factory=dict)
    # Where the label counts came from: "store" (the shared prediction log's join, every
    # replica) or "windows" (each replica's in-memory join, as logged in its serving runs).
    labels: str = "windows"
    method: str = SEQUENTIAL
    horizon: float = sequential.DEFAULT_HORIZON
    min_sample: int = sequential.DEFAULT_MIN_SAMPLE
    baseline_version: str | None = None  # the champion version the verdict compares with
    candidate_version: str | None = None  # the challenger version it judges
    # Accuracy per (variant, version) weighted by 1 / routing probability (trk.ab.propensity);
    # empty in shadow mode, where every variant answers every request.
    inverse_propensity: list[dict[str, Any]] = field(default_factory=list)
    # Labelled rows whose label was corrected (`trk ab label --correct`), among those counted.
    corrected_labels: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def variant(self, name: str, version: str | None = None) -> VariantSummary | None:
        """The row of a variant (its latest version's, unless `version` names one)."""
        rows = [v for v in self.variants if v.variant == name]
        if version is not None:
            rows = [v for v in rows if version in v.versions]
        return rows[-1] if rows else None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _ci(num: int, den: int, alpha: float) -> tuple[float, float] | None:
    return stats.wilson_interval(num, den, alpha) if den else None


def _window_value(vw: VariantWindows, spec: MetricSpec) -> float | None:
    pairs = vw.weighted(spec.name, spec.weight_key)
    return spec.combine(pairs) if pairs else None


def summarize(vw: VariantWindows, alpha: float) -> VariantSummary:
    """Totals and intervals for one variant over all its windows and replicas."""
    t = {k: vw.total(k) for k in ("requests", "errors", "correct")}
    t["labelled"] = vw.total("labelled", where="correct")  # classifier windows only
    sc, sa = vw.total("shadow_compared"), vw.total("shadow_agreed")
    return VariantSummary(
        variant=vw.variant,
        versions=sorted(vw.versions, key=lambda v: (len(v), v)),
        replicas=len(vw.processes),
        windows=len(vw.windows),
        requests=t["requests"],
        errors=t["errors"],
        error_rate=_ratio(t["errors"], t["requests"]),
        error_rate_ci=_ci(t["errors"], t["requests"], alpha),
        latency_p50_ms=_window_value(vw, METRICS["latency_p50_ms"]),
        latency_p99_ms=_window_value(vw, METRICS["latency_p99_ms"]),
        shadow_compared=sc,
        shadow_agreed=sa,
        shadow_agreement=_ratio(sa, sc),
        shadow_agreement_ci=_ci(sa, sc, alpha),
        labelled=t["labelled"],
        correct=t["correct"],
        accuracy=_ratio(t["correct"], t["labelled"]),
        accuracy_ci=_ci(t["correct"], t["labelled"], alpha),
        mae=_window_value(vw, METRICS["mae"]),
        rmse=_window_value(vw, METRICS["rmse"]),
        latency_hist=vw.latency_hist(),
    )


def compare_windows(
    champ: VariantWindows, chal: VariantWindows, spec: MetricSpec, alpha: float
) -> Comparison | None:
    """challenger - champion for a per-window metric (latency, mae, rmse), by the bootstrap.

    Fixed-horizon under either method: window values are not independent observations a
    confidence sequence could treat as a stream.
    """
    a = champ.weighted(spec.name, spec.weight_key)
    b = chal.weighted(spec.name, spec.weight_key)
    if not a or not b:
        return None
    res = stats.bootstrap_difference(a, b, spec.combine, alpha)
    method = f"bootstrap over report windows weighted by {spec.weight_key} (2000 resamples)"
    return Comparison(
        spec.name,
        spec.combine(a),
        spec.combine(b),
        res.difference,
        res.low,
        res.high,
        res.p_value,
        method,
        sample=min(champ.total(spec.weight_key), chal.total(spec.weight_key)),
    )
