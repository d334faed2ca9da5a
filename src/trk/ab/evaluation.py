"""Build an A/B report for a model from its serving runs (read, sum, compare, decide)."""

from __future__ import annotations

from trk.ab.joined import joined_counts, label_totals
from trk.ab.report import (
    CHALLENGER,
    CHAMPION,
    METRICS,
    Comparison,
    MetricSpec,
    Report,
    compare,
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

_SHOWN = ("error_rate", "accuracy", "latency_p50_ms", "latency_p99_ms", "mae", "rmse")


def evaluate(
    client,  # noqa: ANN001
    model: str,
    experiment: str | None = None,
    since: str | None = None,
    metric: str = "accuracy",
    alpha: float = 0.05,
) -> Report:
    """Read the model's serving runs of every replica and build the report with its verdict."""
    spec = metric_spec(metric)
    if not 0 < alpha < 1:
        raise InvalidParameter(f"--alpha must be between 0 and 1, got {alpha}")
    since_s = parse_duration(since) if since else None
    variants = load_variants(client, model, experiment, since_s)
    labels = use_store_labels(client, model, since_s, variants)
    _check_metric_present(model, spec, variants)
    champ, chal = variants.get(CHAMPION), variants.get(CHALLENGER)
    comparisons: list[Comparison] = []
    chosen: Comparison | None = None
    if champ and chal:
        for name in dict.fromkeys((*_SHOWN, spec.name)):
            cmp = compare(champ, chal, METRICS[name], alpha)
            if cmp is not None:
                comparisons.append(cmp)
                chosen = cmp if name == spec.name else chosen
    return Report(
        model=model,
        experiment=serving_experiment_name(model, experiment),
        metric=spec.name,
        alpha=alpha,
        since=since,
        variants=[summarize(v, alpha) for v in _ordered(variants)],
        comparisons=comparisons,
        verdict=decide(chosen, spec, champ, chal, alpha),
        timeline={v.variant: timeline(v) for v in _ordered(variants)},
        predictions={v.variant: v.prediction_counts() for v in _ordered(variants)},
        labels=labels,
    )


def use_store_labels(
    client,  # noqa: ANN001
    model: str,
    since_s: float | None,
    variants: dict[str, VariantWindows],
) -> str:
    """Count labels from the store's join where it has a log for `model`; which one counted."""
    totals = label_totals(joined_counts(client, model, since_s))
    if not totals:
        return "windows"
    for name, vw in variants.items():
        vw.joined = totals.get(name, {"labelled": 0.0, "correct": 0.0})
    return "store"


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
