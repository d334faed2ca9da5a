"""Build one serving process's parts and the plane that runs them, in one place.

Reading `build` top to bottom shows every part of the request path: the slots and how
versions load into them, the router, the shadow runner, the observers each prediction is
shown to, the listeners each request is counted by, and the background services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from tempfile import mkdtemp
from typing import Any

from trk.serving.config import ServeSettings
from trk.serving.core.events import PredictionObserver
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.plane import DataPlane
from trk.serving.core.pool import PredictPool
from trk.serving.core.slots import Variants, make_slots
from trk.serving.core.variant import CHALLENGER, CHAMPION, VariantSlot
from trk.serving.online.feedback import FeedbackStore
from trk.serving.online.metrics import (
    FEEDBACK_MAX_BATCH,
    OnlineServices,
    current_version,
    dropped_windows,
    experiment_name,
    feedback_metrics,
    served_model,
    shadow_counters,
    variant_infos,
)
from trk.serving.online.prediction_log import LogMetrics, PredictionLog
from trk.serving.online.reporter import Reporter
from trk.serving.online.samples import SampleLogger
from trk.serving.routing.metrics import RoutingMetrics, RoutingServices
from trk.serving.routing.reloader import Reloader
from trk.serving.routing.router import Router
from trk.serving.routing.shadow import ShadowRunner
from trk.serving.routing.signatures import SignatureGuard
from trk.serving.routing.split_weight import SplitWeight

SHADOW_QUEUE = 1000  # request copies waiting for the challenger; more are dropped


@dataclass
class Serving:
    """A built serving process: the plane, plus the parts its endpoints and tests reach."""

    plane: DataPlane
    feedback: FeedbackStore
    reporter: Reporter
    reloader: Reloader
    shadow: ShadowRunner | None = None
    samples: SampleLogger | None = None
    prediction_log: PredictionLog | None = None


def build(
    settings: ServeSettings,
    metrics: ServingMetrics,
    store_factory: Callable[[], Any] | None = None,
    client_factory: Callable[[], Any] | None = None,
) -> Serving:
    """Every part, wired once; nothing is attached to the plane afterwards."""
    pool = PredictPool()
    slots = make_slots(settings)
    guard = SignatureGuard(slots, settings.allow_signature_mismatch)
    store_factory = store_factory or _store_factory(settings.tracking_uri)
    variants = Variants(settings, slots, metrics, pool, store_factory, guard)

    routing_metrics = RoutingMetrics(metrics, slots)
    split = settings.mode == "split" and CHALLENGER in slots
    # Split mode follows the store's rollout of this model, if any (read at reloader passes).
    weights = SplitWeight(
        settings.challenger_weight if split else 0.0,
        (lambda: store_factory().rollouts) if split else None,
        served_model(slots),
        current_version(slots),
        on_change=_weight_listener(routing_metrics, slots),
    )
    router = Router(
        slots[CHAMPION],
        slots.get(CHALLENGER),
        settings.mode,
        weights,
        settings.sticky_header,
        settings.shadow_sample,
        settings.allow_forced_variant,
        on_route=routing_metrics.on_route,
    )
    feedback = FeedbackStore(
        capacity=settings.feedback_capacity,
        max_batch=FEEDBACK_MAX_BATCH,
        on_result=feedback_metrics(metrics),
    )
    prediction_log = None
    if settings.prediction_log:
        prediction_log = PredictionLog(
            lambda: store_factory().predictions,
            served_model(slots),
            router.probability,
            current_version(slots),
            LogMetrics(metrics),
            retention_s=settings.prediction_retention_s,
        )
    shadow = None
    # Split mode too: a rollout may shadow first (--shadow-for) before it moves traffic.
    if settings.mode in ("shadow", "split") and CHALLENGER in slots:
        # The challenger's answers join labels too, in memory and in the shared log.
        on_result: Callable[[str, str, Any], None] = feedback.record
        if prediction_log is not None:
            on_result = _both(feedback.record, prediction_log.record_shadow)
        shadow = ShadowRunner(
            SHADOW_QUEUE,
            settings.timeout_s,
            routing_metrics,
            on_result=on_result,
            breaker=slots[CHALLENGER].breaker,
            on_open=lambda: metrics.breaker_opened(CHALLENGER),
        )
    samples = None
    if settings.log_samples > 0:
        current = lambda: {name: slot.current for name, slot in slots.items()}  # noqa: E731
        samples = SampleLogger(settings.log_samples, mkdtemp(prefix="trk-samples-"), current)
    reporter = Reporter(
        client_factory or _client_factory(settings.tracking_uri),
        experiment_name(settings, slots),
        variant_infos(settings, slots),
        settings.report_interval_s,
        sources=[feedback.counters, shadow_counters(shadow, idle_silent=split)],
        dropped=dropped_windows(metrics),
        samples=samples,
    )
    reloader = Reloader(
        slots,
        variants.store,
        settings.reload_interval_s,
        variants.load,
        routing_metrics,
        variants.install,
        followers=[weights],
    )
    observers: list[PredictionObserver] = [routing_metrics, feedback, reporter]
    if samples is not None:
        observers.append(samples)
    if prediction_log is not None:
        observers.append(prediction_log)
    plane = DataPlane(
        settings,
        metrics,
        variants,
        router,
        pool,
        shadow=shadow,
        observers=observers,
        listeners=[reporter],
        services=[
            RoutingServices(shadow, reloader, routing_metrics),
            OnlineServices(reporter, samples, prediction_log),
        ],
    )
    return Serving(plane, feedback, reporter, reloader, shadow, samples, prediction_log)


def _weight_listener(
    routing_metrics: RoutingMetrics, slots: dict[str, VariantSlot]
) -> Callable[[float], None]:
    """A new challenger weight reaches the metrics and both slots (/health, serving runs)."""

    def changed(challenger: float) -> None:
        routing_metrics.set_weight(challenger)
        slots[CHAMPION].set_weight(1.0 - challenger)
        if CHALLENGER in slots:
            slots[CHALLENGER].set_weight(challenger)

    return changed


def _both(
    first: Callable[[str, str, Any], None], second: Callable[[str, str, Any], None]
) -> Callable[[str, str, Any], None]:
    def call(request_id: str, variant: str, predictions: Any) -> None:
        first(request_id, variant, predictions)
        second(request_id, variant, predictions)

    return call


def _store_factory(tracking_uri: str | None) -> Callable[[], Any]:
    def factory() -> Any:
        from trk.tracking.client import Client

        return Client(tracking_uri).store

    return factory


def _client_factory(tracking_uri: str | None) -> Callable[[], Any]:
    def factory() -> Any:
        from trk.tracking.client import Client

        return Client(tracking_uri)

    return factory
