"""Champion/challenger on a DataPlane: router, shadow runner, reloader and their metrics.

`attach_routing(plane)` plugs them into the DataPlane's hooks (`router`, `shadow`,
`install_guard`, `on_prediction`, `services`); `create_app` calls it before the A/B layer
so that layer finds the shadow runner's `on_result` and `counters`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from trk.exceptions import SignatureMismatch
from trk.serving.core.variant import (
    CHALLENGER,
    CHAMPION,
    STATES,
    Variant,
    VariantSlot,
    load_variant,
)
from trk.serving.routing.reloader import Reloader
from trk.serving.routing.router import FALLBACK, Route, Router
from trk.serving.routing.shadow import ShadowRunner, as_array
from trk.serving.routing.signatures import check_signatures

log = logging.getLogger("trk.serving")
SHADOW_QUEUE = 1000  # request copies waiting for the challenger; more are dropped
MAX_LABELS = 50  # distinct class labels per variant in trk_predictions_total; then "other"
VALUE_BUCKETS = (-1e3, -1e2, -10.0, -1.0, -0.1, 0.0, 0.1, 1.0, 10.0, 1e2, 1e3, 1e4)


class RoutingMetrics:
    """The routing series, on the serving metrics' registry."""

    def __init__(self, metrics: Any) -> None:
        add = metrics.add
        self.shadow_requests = add(
            Counter, "trk_shadow_requests_total", "Shadow copies by outcome.", ("outcome",)
        )
        self.shadow_agreement = add(
            Counter, "trk_shadow_agreement_total",
            "Rows the challenger answered like the champion (agree) or not.", ("result",),
        )  # fmt: skip
        self.weight = add(
            Gauge, "trk_variant_weight", "Share of requests each variant answers.",
            ("variant",), multiprocess_mode="livemax",
        )  # fmt: skip
        self.reloads = add(
            Counter, "trk_model_reloads_total",
            "Alias checks that loaded a new version (success/failure) or could not ask the "
            "registry (check_failed).", ("variant", "result"),
        )  # fmt: skip
        self.state = add(
            Gauge, "trk_variant_state", "1 for each variant's current state.",
            ("variant", "state"), multiprocess_mode="livemax",
        )  # fmt: skip
        self.predictions = add(
            Counter, "trk_predictions_total", "Predicted class labels per variant (classifiers).",
            ("variant", "label"),
        )  # fmt: skip
        self.values = add(
            Histogram, "trk_prediction_value", "Predicted values per variant (regressors).",
            ("variant",), buckets=VALUE_BUCKETS,
        )  # fmt: skip
        self.sticky_fallback = add(
            Counter, "trk_sticky_fallback_total",
            "Split-mode requests without the sticky header, routed at random.",
        )  # fmt: skip
        self._labels: dict[str, set[str]] = {}
        self._shadow = {o: self.shadow_requests.labels(o) for o in ("compared", "dropped")}

    def shadow(self, outcome: str, n: int = 1) -> None:
        child = self._shadow.get(outcome) or self.shadow_requests.labels(outcome)
        child.inc(n)

    def agreement(self, agreed: int, disagreed: int) -> None:
        if agreed:
            self.shadow_agreement.labels("agree").inc(agreed)
        if disagreed:
            self.shadow_agreement.labels("disagree").inc(disagreed)

    def reload(self, variant: str, result: str) -> None:
        self.reloads.labels(variant, result).inc()

    def set_state(self, variant: str, state: str) -> None:
        for s in STATES:
            self.state.labels(variant, s).set(1 if s == state else 0)

    def on_route(self, route: Route) -> None:
        if route.reason == FALLBACK:
            self.sticky_fallback.inc()

    def observe_predictions(self, variant: Variant, predictions: Any) -> None:
        """Class counts for classifiers, a value histogram for regressors."""
        try:
            values = as_array(predictions).ravel()
        except Exception:  # an output numpy cannot hold (dicts of arrays): not counted
            return
        kind = getattr(variant.model, "output_kind", "unknown")
        if kind == "regressor" or (kind == "unknown" and values.dtype.kind in "fc"):
            hist = self.values.labels(variant.name)
            for v in values.tolist():
                hist.observe(v)
            return
        if values.size == 1:
            self._count_label(variant.name, values[0], 1)
            return
        labels, counts = np.unique(values, return_counts=True)
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
            self._count_label(variant.name, label, count)

    def _count_label(self, variant: str, label: Any, count: int) -> None:
        text = str(label.item() if hasattr(label, "item") else label)[:64]
        seen = self._labels.setdefault(variant, set())
        if text not in seen:
            if len(seen) >= MAX_LABELS:
                text = "other"
            else:
                seen.add(text)
        self.predictions.labels(variant, text).inc(count)


class RoutingServices:
    """The shadow worker and the reloader, started after the variants load."""

    def __init__(self, shadow: ShadowRunner | None, reloader: Reloader, metrics: RoutingMetrics):
        self.shadow, self.reloader, self.metrics = shadow, reloader, metrics

    def start(self) -> None:
        if self.shadow is not None:
            self.shadow.start()
        for slot in self.reloader.slots.values():
            self.metrics.set_state(slot.name, slot.state)
        self.reloader.start()

    def stop(self) -> None:
        self.reloader.stop()
        if self.shadow is not None:
            self.shadow.stop()


def install_guard(plane: Any) -> Any:
    """Refuse a challenger whose inputs differ from the champion's (at start and on reload)."""

    def guard(slot: VariantSlot, variant: Variant) -> None:
        other = plane.slots.get(CHAMPION if slot.name == CHALLENGER else CHALLENGER)
        if other is None or other.current is None:
            return
        if slot.name == CHALLENGER:
            check_signatures(
                other.current.model.metadata.signature,
                variant.model.metadata.signature,
                plane.settings.allow_signature_mismatch,
            )
            return
        try:  # a new champion always installs (production decides); say what it breaks
            check_signatures(
                variant.model.metadata.signature, other.current.model.metadata.signature
            )
        except SignatureMismatch as exc:
            log.warning("new champion v%s: %s", variant.version, exc.message)

    return guard


def attach_routing(plane: Any) -> RoutingServices:
    """Router, shadow runner and reloader on `plane`'s hooks; returns them (also in services)."""
    settings = plane.settings
    metrics = RoutingMetrics(plane.metrics)
    challenger = plane.slots.get(CHALLENGER)
    plane.router = Router(
        plane.slots[CHAMPION],
        challenger,
        settings.mode,
        settings.challenger_weight if settings.mode == "split" else 0.0,
        settings.sticky_header,
        settings.shadow_sample,
        settings.allow_forced_variant,
        on_route=metrics.on_route,
    )
    for slot in plane.slots.values():
        metrics.weight.labels(slot.name).set(slot.weight)
    shadow = None
    if settings.mode == "shadow" and challenger is not None:
        shadow = ShadowRunner(SHADOW_QUEUE, settings.timeout_s, metrics)
        plane.shadow = shadow
    plane.install_guard = install_guard(plane)
    _chain_prediction_hook(plane, metrics)
    store = None

    def client() -> Any:
        nonlocal store
        store = store or plane.store_factory()
        return store

    def load(slot: VariantSlot) -> Variant:
        uses_store = slot.uri.startswith(("models:", "runs:"))
        # A reloaded version is optimized as the first one was (--optimize onnx).
        source = client() if uses_store else None
        return load_variant(
            slot.name, slot.uri, source, slot.weight, settings.optimize, settings.allow_pickle
        )

    reloader = Reloader(
        plane.slots, client, settings.reload_interval_s, load, metrics, plane.install
    )
    services = RoutingServices(shadow, reloader, metrics)
    plane.services.append(services)
    plane.routing = services
    return services


def _chain_prediction_hook(plane: Any, metrics: RoutingMetrics) -> None:
    previous = plane.on_prediction

    def on_prediction(request_id: str, variant: Any, model_input: Any, predictions: Any) -> None:
        previous(request_id, variant, model_input, predictions)
        metrics.observe_predictions(variant, predictions)

    plane.on_prediction = on_prediction
