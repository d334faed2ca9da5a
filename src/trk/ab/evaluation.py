"""Build an A/B report for a model from its serving runs (read, sum, compare, decide)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trk.ab.arms import Pair, by_version, choose_pair, version_of
from trk.ab.joined import StoreLabels, inverse_propensity
from trk.ab.looks import paired_looks, unpaired_looks
from trk.ab.proportions import compare_looks
from trk.ab.report import (
    CHALLENGER,
    CHAMPION,
    METRICS,
    Comparison,
    GateMethod,
    MetricSpec,
    Report,
    compare_windows,
    metric_spec,
    summarize,
)
from trk.ab.verdict import decide
from trk.ab.windows import (
    VariantWindows,
    load_variants,
    parse_duration,
    serving_experiment_name,
)
from trk.exceptions import InvalidParameter
from trk.serving_contract import PRED_PREFIX

if TYPE_CHECKING:
    from trk.tracking.client import Client

_SHOWN = ("error_rate", "accuracy", "latency_p50_ms", "latency_p99_ms", "mae", "rmse")


def evaluate(
    client: Client,
    model: str,
    experiment: str | None = None,
    since: str | None = None,
    metric: str = "accuracy",
    alpha: float = 0.05,
    gate: GateMethod | None = None,
    variants: dict[str, VariantWindows] | None = None,
) -> Report:
    """Read the model's serving runs of every replica (unless `variants` were read already)
    and build the report with its verdict.

    Rows are per (variant, version); the verdict compares the challenger's latest version
    with the champion version that served beside it (trk.ab.arms).
    """
    metric_spec(metric)
    since_s = parse_duration(since) if since else None
    if variants is None:
        variants = load_variants(client, model, experiment, since_s)
    name = serving_experiment_name(model, experiment)
    return build_report(client, model, name, variants, since, metric, gate or GateMethod(alpha))


def build_report(
    source: Any,  # a tracking client, or a prediction log itself (the captures)
    model: str,
    experiment: str,
    variants: dict[str, VariantWindows],
    since: str | None,
    metric: str,
    gm: GateMethod,
) -> Report:
    """The report of windows per variant and the labels of `source`: a tracking client whose
    store keeps the prediction log, or such a log itself (the captures, trk.capture)."""
    spec = metric_spec(metric)
    since_s = parse_duration(since) if since else None
    store = StoreLabels.read(source, model, since_s)
    store.apply(variants)
    _check_metric_present(model, spec, variants)
    arms = {name: by_version(vw) for name, vw in variants.items()}
    store.apply_per_version(arms)
    pair = choose_pair(arms)
    comparisons: list[Comparison] = []
    chosen: Comparison | None = None
    if pair is not None:
        for name in dict.fromkeys((*_SHOWN, spec.name)):
            cmp = compare(pair, METRICS[name], gm, store)
            if cmp is not None:
                comparisons.append(cmp)
                chosen = cmp if name == spec.name else chosen
    missing = next((v for v in (CHAMPION, CHALLENGER) if v not in variants), None)
    shadowed = any(vw.total("shadow_compared") for vw in variants.values())
    return Report(
        model=model,
        experiment=experiment,
        metric=spec.name,
        alpha=gm.alpha,
        since=since,
        variants=[summarize(a, gm.alpha) for v in _ordered(variants) for a in arms[v.variant]],
        comparisons=comparisons,
        verdict=decide(chosen, spec, missing, gm),
        timeline={v.variant: timeline(v) for v in _ordered(variants)},
        predictions={v.variant: v.prediction_counts() for v in _ordered(variants)},
        labels="store" if store else "windows",
        corrected_labels=sum(c.corrected for c in store.counts),
        method=gm.method,
        horizon=gm.horizon,
        min_sample=gm.min_sample,
        baseline_version=version_of(pair.baseline) if pair else None,
        candidate_version=version_of(pair.candidate) if pair else None,
        inverse_propensity=[]
        if shadowed or not store
        else inverse_propensity(source, model, since_s),
    )


def compare(
    pair: Pair, spec: MetricSpec, gm: GateMethod, store: StoreLabels | None = None
) -> Comparison | None:
    """challenger - champion for one metric: paired where shadow pairs exist (accuracy).

    Labels come from the store's join where it keeps a prediction log (every replica, late
    labels), else from the serving windows.
    """
    if not spec.is_proportion:
        return compare_windows(pair.baseline, pair.candidate, spec, gm.alpha)
    if store and spec.name == "accuracy":
        found = store.looks(pair)
        return compare_looks(found, spec, gm) if found is not None else None
    paired = paired_looks(pair) if spec.name == "accuracy" else None
    looks = paired or unpaired_looks(
        pair.baseline, pair.candidate, spec.success_key, spec.trials_key
    )
    return compare_looks(looks, spec, gm)


def _ordered(variants: dict[str, VariantWindows]) -> list[VariantWindows]:
    rank = {CHAMPION: 0, CHALLENGER: 1}
    return sorted(variants.values(), key=lambda v: (rank.get(v.variant, 2), v.variant))


def _check_metric_present(
    model: str, spec: MetricSpec, variants: dict[str, VariantWindows]
) -> None:
    """A metric that no run has is an error, not an empty verdict."""
    key = spec.trials_key if spec.is_proportion else spec.name
    if spec.is_proportion:
        present = any(v.total(key, spec.success_key) > 0 for v in variants.values())
    else:
        present = any(key in v.keys() for v in variants.values())
    if present:
        return
    found = sorted(
        {k for v in variants.values() for k in v.keys() if not k.startswith(PRED_PREFIX)}
    )
    hint = " (accuracy needs ground truth: POST /feedback)" if spec.name == "accuracy" else ""
    raise InvalidParameter(
        f"No serving run of {model!r} has {spec.name}{hint}; runs have: {', '.join(found)}"
    )


def timeline(vw: VariantWindows) -> list[dict[str, float]]:
    """Per window number, summed over replicas: the points the HTML plots draw."""
    points = []
    for step, wins in vw.by_step().items():
        requests = sum(w.get("requests") for w in wins)
        errors = sum(w.get("errors") for w in wins)
        labelled = sum(w.get("labelled") for w in wins)
        point: dict[str, float] = {
            "step": step,
            "timestamp": max(w.timestamp for w in wins),
            "requests": requests,
            "errors": errors,
            "labelled": labelled,
        }
        if requests:
            point["error_rate"] = errors / requests
        if labelled:
            point["accuracy"] = sum(w.get("correct") for w in wins) / labelled
        for key in ("latency_p50_ms", "latency_p99_ms"):
            pairs = [(w.values[key], w.get("requests")) for w in wins if key in w.values]
            total = sum(p[1] for p in pairs)
            if total:
                point[key] = sum(v * n for v, n in pairs) / total
        points.append(point)
    return points
