"""Build one serving process's parts and the plane that runs them, in one place.

Reading `build` top to bottom shows every part of the request path: the slots and how
versions load into them, the router, the shadow runner, the record buffer each request
appends to, the consumers the fold hands the records to (in order), and the background
services (started in order after loading, stopped in reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from tempfile import mkdtemp
from typing import TYPE_CHECKING, Any

from trk.contracts.store import Store
from trk.serving.config import ServeSettings
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.plane import DataPlane
from trk.serving.core.pool import PredictPool
from trk.serving.core.slots import Variants, make_slots
from trk.serving.core.variant import CHALLENGER, CHAMPION, VariantSlot
from trk.serving.online.drift import DriftFold
from trk.serving.online.feedback import FeedbackStore
from trk.serving.online.fold import Folder, RecordBuffer
from trk.serving.online.guards import BreakerGuard
from trk.serving.online.labels import AllLabels, CountedLabels, LabelWriter, StoreLabels
from trk.serving.online.metrics import (
    FEEDBACK_MAX_BATCH,
    OnlineServices,
    current_version,
    dropped_windows,
    experiment_name,
    feedback_metrics,
    label_outcomes,
    served_model,
    shadow_counters,
    variant_infos,
)
from trk.serving.online.prediction_log import LogMetrics
from trk.serving.online.records import FoldConsumer
from trk.serving.online.reporter import Reporter
from trk.serving.online.samples import SampleLogger
from trk.serving.online.series import InFlight, RequestSeries
from trk.serving.online.shipper_link import ShipperLink, shipper_command
from trk.serving.routing.metrics import RoutingMetrics, RoutingServices
from trk.serving.routing.reloader import Reloader
from trk.serving.routing.router import Router
from trk.serving.routing.shadow import ShadowRunner
from trk.serving.routing.signatures import SignatureGuard
from trk.serving.routing.split_weight import SplitWeight

SHADOW_QUEUE = 1000  # request copies waiting for the challenger; more are dropped

if TYPE_CHECKING:
    from trk.tracking.client import Client


@dataclass
class Serving:
    """A built serving process: the plane, plus the parts its endpoints and tests reach."""

    plane: DataPlane
    feedback: FeedbackStore
    reporter: Reporter
    reloader: Reloader
    folder: Folder
    shadow: ShadowRunner | None = None
    samples: SampleLogger | None = None
    shipper: ShipperLink | None = None
    labels: LabelWriter | None = None


def build(
    settings: ServeSettings,
    metrics: ServingMetrics,
    store_factory: Callable[[], Store] | None = None,
    client_factory: Callable[[], Client] | None = None,
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
    buffer = RecordBuffer()
    log_metrics = LogMetrics(metrics)
    shipper = labels = None
    capture = settings.capture()
    if settings.prediction_log or capture is not None:
        flags = shipper_flags(settings)
        shipper = ShipperLink(
            served_model(slots),
            shipper_command(settings.tracking_uri, settings.prediction_retention_s, flags),
            settings.log_shipper_socket,
            log_metrics,
            settings.log_max_backlog,
            settings.log_degraded_backlog,
            stop_timeout_s=settings.graceful_timeout_s,
            ship_inputs=capture is not None and capture.inputs,
            ship_errors=capture is not None,
            flags=flags,
        )
        labels = CountedLabels(
            feedback_labels(settings, store_factory, served_model(slots)), label_outcomes(metrics)
        )
    shadow = None
    # Split mode too: a rollout may shadow first (--shadow-for) before it moves traffic.
    if settings.mode in ("shadow", "split") and CHALLENGER in slots:
        shadow = ShadowRunner(
            SHADOW_QUEUE,
            settings.timeout_s,
            routing_metrics,
            records=buffer,  # its answers are records like the champion's
            breaker=slots[CHALLENGER].breaker,
            on_open=lambda: metrics.breaker_opened(CHALLENGER),
            probability=router.probability,
        )
    samples = None
    if settings.log_samples > 0:
        current = lambda: {name: slot.current for name, slot in slots.items()}  # noqa: E731
        samples = SampleLogger(settings.log_samples, mkdtemp(prefix="trk-samples-"), current)
    drift = DriftFold(slots, metrics)
    reporter = Reporter(
        client_factory or _client_factory(settings.tracking_uri),
        experiment_name(settings, slots),
        variant_infos(settings, slots),
        settings.report_interval_s,
        sources=[feedback.counters, shadow_counters(shadow, idle_silent=split)],
        window_sources=[drift.window],
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
    in_flight = InFlight()
    # What each request's record feeds, off the request path, in this order.
    consumers: list[FoldConsumer] = [
        RequestSeries(metrics, in_flight, lambda: buffer.dropped, log_metrics_drop(log_metrics)),
        BreakerGuard(slots, metrics.breaker_opened),
        routing_metrics,
        feedback,
        reporter,
        drift,
    ]
    if samples is not None:
        consumers.append(samples)
    if shipper is not None:
        consumers.append(shipper)
    folder = Folder(buffer, consumers)
    services: list[Any] = [OnlineServices(reporter, samples)]
    if shipper is not None:
        services.append(shipper)
    # Stopped in reverse: the shadow worker, then the last fold, then the shipper drains.
    services += [folder, RoutingServices(shadow, reloader, routing_metrics)]
    plane = DataPlane(
        settings,
        metrics,
        variants,
        router,
        pool,
        buffer,
        shadow=shadow,
        in_flight=in_flight,
        services=services,
        degraded=shipper.degraded if shipper is not None else None,
    )
    return Serving(plane, feedback, reporter, reloader, folder, shadow, samples, shipper, labels)


def shipper_flags(settings: ServeSettings) -> list[str]:
    """The shipper child's flags beyond the store's: its capture, or no prediction log."""
    from trk.capture.config import to_args

    capture = settings.capture()
    flags = to_args(capture) if capture is not None else []
    return flags if settings.prediction_log else [*flags, "--no-prediction-log"]


def feedback_labels(
    settings: ServeSettings, store_factory: Callable[[], Any], model: Callable[[], str]
) -> LabelWriter:
    """Where /feedback writes labels: the store's table, and beside the captures."""
    writers: list[LabelWriter] = []
    if settings.prediction_log:
        writers.append(StoreLabels(lambda: store_factory().predictions, model))
    if settings.capture_uri:
        from trk.capture.labels import CaptureLabels

        writers.append(CaptureLabels(settings.capture_uri, model))
    return writers[0] if len(writers) == 1 else AllLabels(writers)


def log_metrics_drop(log_metrics: LogMetrics) -> Callable[[str, int], None]:
    """Records lost to a full buffer are answers missing from the log too: counted there."""

    def count(reason: str, n: int) -> None:
        log_metrics.dropped.labels(reason).inc(n)

    return count


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


def _store_factory(tracking_uri: str | None) -> Callable[[], Store]:
    def factory() -> Store:
        from trk.tracking.client import Client

        return Client(tracking_uri).store

    return factory


def _client_factory(tracking_uri: str | None) -> Callable[[], Client]:
    def factory() -> Client:
        from trk.tracking.client import Client

        return Client(tracking_uri)

    return factory
