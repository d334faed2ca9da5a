"""The routing series (shadow outcomes and agreement, weights, reloads, variant states,
predicted classes) and the routing services a serving process starts after loading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from trk.serving.core.variant import STATES, VariantSlot
from trk.serving.online.records import Batch, count_classes
from trk.serving.online.series import observe_many
from trk.serving.routing.reloader import Reloader
from trk.serving.routing.router import FALLBACK, Route
from trk.serving.routing.shadow import ShadowRunner, as_array

MAX_LABELS = 50  # distinct class labels per variant in trk_predictions_total; then "other"
VALUE_BUCKETS = (-1e3, -1e2, -10.0, -1.0, -0.1, 0.0, 0.1, 1.0, 10.0, 1e2, 1e3, 1e4)


class RoutingMetrics:
    """The routing series, on the serving metrics' registry."""

    def __init__(self, metrics: Any, slots: Mapping[str, VariantSlot] | None = None) -> None:
        add = metrics.add
        self.child = metrics.child
        self.shadow_requests = add(
            Counter, "trk_shadow_requests_total", "Shadow copies by outcome.", ("outcome",)
        )
        self.shadow_agreement = add(
            Counter,
            "trk_shadow_agreement_total",
            "Rows the challenger answered like the champion (agree) or not.",
            ("result",),
        )
        self.weight = add(
            Gauge,
            "trk_variant_weight",
            "Share of requests each variant answers.",
            ("variant",),
            multiprocess_mode="livemax",
        )
        self.reloads = add(
            Counter,
            "trk_model_reloads_total",
            "Alias checks that loaded a new version (success/failure) or could not ask the "
            "registry (check_failed).",
            ("variant", "result"),
        )
        self.state = add(
            Gauge,
            "trk_variant_state",
            "1 for each variant's current state.",
            ("variant", "state"),
            multiprocess_mode="livemax",
        )
        self.predictions = add(
            Counter,
            "trk_predictions_total",
            "Predicted class labels per variant (classifiers).",
            ("variant", "label"),
        )
        self.values = add(
            Histogram,
            "trk_prediction_value",
            "Predicted values per variant (regressors).",
            ("variant",),
            buckets=VALUE_BUCKETS,
        )
        self.sticky_fallback = add(
            Counter,
            "trk_sticky_fallback_total",
            "Split-mode requests without the sticky header, routed at random.",
        )
        self._labels: dict[str, set[str]] = {}
        self.slots = slots or {}
        for slot in self.slots.values():
            self.weight.labels(slot.name).set(slot.weight)
        self._shadow = {o: self.shadow_requests.labels(o) for o in ("compared", "dropped")}

    def shadow(self, outcome: str, n: int = 1) -> None:
        child = self._shadow.get(outcome) or self.shadow_requests.labels(outcome)
        child.inc(n)

    def agreement(self, agreed: int, disagreed: int) -> None:
        if agreed:  # once per fold: the children are kept (labels() locks, ~5 us a call)
            self.child(self.shadow_agreement, ("agree",)).inc(agreed)
        if disagreed:
            self.child(self.shadow_agreement, ("disagree",)).inc(disagreed)

    def set_weight(self, challenger: float) -> None:
        """A new split (a rollout moved): the challenger's share and the champion's."""
        self.weight.labels("challenger").set(challenger)
        self.weight.labels("champion").set(1.0 - challenger)

    def reload(self, variant: str, result: str) -> None:
        self.reloads.labels(variant, result).inc()

    def set_state(self, variant: str, state: str) -> None:
        for s in STATES:
            self.state.labels(variant, s).set(1 if s == state else 0)

    def on_route(self, route: Route) -> None:
        if route.reason == FALLBACK:
            self.sticky_fallback.inc()

    def fold(self, records: Batch) -> None:
        """Fold consumer: predicted classes (or values) of every answer, shadow ones included,
        and the shadow copies' agreement with the champion; one update per label per batch."""
        agreed = disagreed = 0
        labels: dict[tuple[str, str], int] = {}  # (variant, label as answered): summed first
        kinds: dict[str, str] = {}  # each variant's output kind, looked up once per batch
        for run in records.runs:
            if run.status != 200 or not run.variant:
                continue
            variant = run.variant
            if run.shadow:
                for r in run.records:
                    if r.agreed is not None:
                        agreed += r.agreed
                        disagreed += r.rows - r.agreed
            kind = kinds.get(variant) or kinds.setdefault(variant, self._kind(variant))
            classes = run.classes if kind != "regressor" else None
            if classes is not None:  # the usual run: every answer's classes
                for label, n in classes:
                    labels[(variant, label)] = labels.get((variant, label), 0) + n
                continue
            for r, counted in zip(run.records, run.counted, strict=True):
                if counted is not None and kind != "regressor":
                    for label, n in counted:
                        labels[(variant, label)] = labels.get((variant, label), 0) + n
                else:
                    self._observe(variant, kind, r.answer, counted, labels)
        counts: dict[tuple[str, str], int] = {}
        for (variant, label), n in labels.items():  # in first-seen order, as MAX_LABELS keeps
            key = (variant, self._label(variant, label))
            counts[key] = counts.get(key, 0) + n
        for key, n in counts.items():
            self.child(self.predictions, key).inc(n)
        self.agreement(agreed, disagreed)

    def _kind(self, variant: str) -> str:
        slot = self.slots.get(variant)
        model = slot.current.model if slot is not None and slot.current is not None else None
        return str(getattr(model, "output_kind", "unknown"))

    def _observe(
        self,
        variant: str,
        kind: str,
        predictions: Any,
        classes: Any,
        labels: dict[tuple[str, str], int],
    ) -> None:
        """An answer not counted by its classes at once: a regressor's values, or float
        class labels (`labels` sums the classes found, by variant and label as answered)."""
        try:
            values = as_array(predictions).ravel()
        except Exception:  # an output numpy cannot hold (dicts of arrays): not counted
            return
        if kind == "classifier":  # float class labels: counted as labels all the same
            classes = count_classes(values.astype(str))
        elif values.dtype.kind in "fiu":
            observe_many(self.child(self.values, (variant,)), values.tolist())
            return
        for label, count in classes or ():
            key = (variant, label)
            labels[key] = labels.get(key, 0) + count

    def _label(self, variant: str, label: str) -> str:
        """The label as the series shows it: 64 characters, past 50 distinct ones "other"."""
        text = label[:64]
        seen = self._labels.setdefault(variant, set())
        if text not in seen:
            if len(seen) >= MAX_LABELS:
                return "other"
            seen.add(text)
        return text


class RoutingServices:
    """The shadow worker and the reloader, started after the variants load."""

    def __init__(self, shadow: ShadowRunner | None, reloader: Reloader, metrics: RoutingMetrics):
        self.shadow, self.reloader, self.metrics = shadow, reloader, metrics

    def start(self) -> None:
        if self.shadow is not None:
            self.shadow.start()
        for slot in self.reloader.slots.values():
            self.metrics.set_state(slot.name, slot.serving_state)
        self.reloader.start()

    def stop(self) -> None:
        self.reloader.stop()
        if self.shadow is not None:
            self.shadow.stop()
