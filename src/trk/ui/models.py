"""The registry pages: models with their versions and aliases, and a model's A/B results.

The A/B page builds the same `Report` as `trk ab report` (`trk.ab.evaluation.evaluate`), so
the verdict on the page is the verdict on the command line.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from trk.ab.evaluation import evaluate
from trk.ab.render import comparison_rows, variant_row
from trk.ab.report import METRICS, Comparison, Report
from trk.ab.windows import VariantWindows, load_variants, parse_duration
from trk.contracts.webhooks import Delivery
from trk.entities import ModelVersion, RegisteredModel
from trk.exceptions import InvalidParameter, NotFound, TrkError
from trk.store.webhooks import SqlWebhooks
from trk.tracking.client import Client
from trk.ui.charts import chart
from trk.ui.rollouts import RolloutView, rollout_view

log = logging.getLogger("trk.ui")

# Per-window series on the A/B page: (timeline key, chart title).
AB_SERIES = (
    ("requests", "requests per window"),
    ("error_rate", "error rate per window"),
    ("latency_p50_ms", "latency p50 (ms) per window"),
    ("latency_p99_ms", "latency p99 (ms) per window"),
    ("accuracy", "accuracy per window"),
)


def _all_pages(fetch: Any) -> list[Any]:
    """Every item of a paged search (`fetch(token)` returns one page)."""
    items, token = [], None
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def registered_models(client: Client) -> list[RegisteredModel]:
    return _all_pages(lambda token: client.search_registered_models(page_token=token))


@dataclass
class ModelPage:
    model: RegisteredModel
    versions: list[ModelVersion]
    deliveries: list[Delivery] = field(default_factory=list)  # webhook calls about this model


def model_page(client: Client, name: str) -> ModelPage:
    """A model's versions, newest first, each with the aliases that point at it."""
    model = client.get_registered_model(name)  # NotFound -> the 404 page
    quoted = name.replace("'", "''")
    versions = _all_pages(
        lambda token: client.search_model_versions(f"name = '{quoted}'", page_token=token)
    )
    newest_first = sorted(versions, key=lambda v: -int(v.version))
    return ModelPage(model, newest_first, recent_deliveries(client, name))


def recent_deliveries(client: Client, name: str, limit: int = 20) -> list[Delivery]:
    """Webhook deliveries of this model's events, newest first (the SQL store records them)."""
    hooks = getattr(client.store, "webhooks", None)
    if not isinstance(hooks, SqlWebhooks):
        return []
    return hooks.deliveries(model_name=name, max_results=limit)


@dataclass
class AbPage:
    model: RegisteredModel
    metric: str
    since: str
    metrics: list[str] = field(default_factory=lambda: sorted(METRICS))
    report: Report | None = None
    message: str | None = None  # why there is no report (no serving runs, metric absent)
    variant_rows: list[dict[str, str]] = field(default_factory=list)
    comparison_rows: list[dict[str, str]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    rollout: RolloutView | None = None  # a progressive rollout of the model, if any


def ab_page(client: Client, name: str, metric: str, since: str) -> AbPage:
    """The report of `trk ab report NAME --metric METRIC --since SINCE`, with its plots."""
    page = AbPage(client.get_registered_model(name), metric, since)
    page.rollout = rollout_view(client, name)
    if page.rollout is not None:
        page.charts += page.rollout.charts
    try:
        since_s = parse_duration(since, "since") if since else None
        # Every run's metric histories, read once for the report and for the drift charts.
        variants = load_variants(client, name, None, since_s)
    except (NotFound, InvalidParameter) as exc:
        # The model exists: no serving runs yet is a message, not a 404.
        page.message = exc.message
        return page
    drift = drift_charts(client, name, variants)
    try:
        report = evaluate(client, name, since=since or None, metric=metric, variants=variants)
    except (NotFound, InvalidParameter) as exc:  # a metric the runs lack
        page.message = exc.message
        page.charts += drift
        return page
    page.report = report
    page.variant_rows = [variant_row(v) for v in report.variants]
    page.comparison_rows = comparison_rows(report)
    page.charts += [chart(title, _series(report, key), "report window") for key, title in AB_SERIES]
    page.charts += [_sequence_chart(c, report.alpha) for c in report.comparisons if c.sequence]
    page.charts += drift
    return page


def drift_charts(
    client: Client, name: str, variants: dict[str, VariantWindows]
) -> list[dict[str, Any]]:
    """PSI per report window per variant, one chart per profiled feature, with the 0.1 / 0.25
    bands ("watch" and "act"); nothing when no served version has a reference profile."""
    from trk.ab.drift import ACT, WATCH
    from trk.ab.drift_report import drift_timeline

    try:
        timeline = drift_timeline(client, name, variants)
    except TrkError as exc:  # a version's files unreadable: the page still shows the report
        log.warning("drift charts of %s left out: %s", name, exc.message)
        return []
    charts = []
    for feature, series in timeline.items():
        steps = sorted({x for pts in series.values() for x, _ in pts})
        bands = {
            "watch (0.1)": [(x, WATCH) for x in steps],
            "act (0.25)": [(x, ACT) for x in steps],
        }
        charts.append(chart(f"drift: PSI of {feature}", {**series, **bands}, "report window"))
    return charts


def _sequence_chart(cmp: Comparison, alpha: float) -> dict[str, Any]:
    """The confidence sequence of challenger - champion over the labels (as in the HTML report)."""
    pts = [p for p in cmp.sequence if math.isfinite(p["low"]) and math.isfinite(p["high"])]
    series = {key: [(p["n"], p[key]) for p in pts] for key in ("estimate", "low", "high")}
    title = f"confidence sequence: {cmp.metric}, challenger - champion ({1 - alpha:.0%})"
    return chart(title, series, "pairs" if cmp.design == "paired" else "observations per variant")


def _series(report: Report, key: str) -> dict[str, list[tuple[float, float]]]:
    return {
        variant: [(p["step"], p[key]) for p in points if key in p]
        for variant, points in report.timeline.items()
    }
