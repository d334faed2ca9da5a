"""The A/B layer of a serving process: feedback store, reporter and samples on a DataPlane.

`attach_ab` plugs them into the DataPlane's hooks (`on_prediction`, `services`) and adds
the Prometheus series; `feedback_endpoint` is the `POST /feedback` handler `app.py` routes.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

from trk.exceptions import BadRequest
from trk.serving.online.feedback import FeedbackResult, FeedbackStore
from trk.serving.online.reporter import Reporter
from trk.serving.online.samples import SampleLogger
from trk.serving.online.window_stats import VariantInfo

log = logging.getLogger("trk.serving")
FEEDBACK_MAX_BATCH = 1000  # labels per POST /feedback; more -> 400


class ABServices:
    """Started after the variants load, stopped (flushing the last window) at shutdown."""

    def __init__(self, feedback: FeedbackStore, reporter: Reporter, samples: SampleLogger | None):
        self.feedback, self.reporter, self.samples = feedback, reporter, samples

    def start(self) -> None:
        if self.samples is not None:
            self.samples.start()
        self.reporter.start()

    async def stop(self) -> None:
        # Off the event loop: the final flush may wait on a slow store for a few seconds.
        if self.samples is not None:
            await asyncio.to_thread(self.samples.stop)
        await asyncio.to_thread(self.reporter.stop)


def variant_infos(plane: Any) -> list[VariantInfo]:
    """What each loaded variant's serving run records (version follows reloads)."""
    return [
        VariantInfo(name, slot.uri, str(slot.current.version), plane.settings.mode, slot.weight)
        for name, slot in plane.slots.items()
        if slot.current is not None
    ]


def experiment_name(plane: Any) -> str:
    """`--experiment`, else `serving/<registered model name of the champion>`."""
    if plane.settings.experiment:
        return plane.settings.experiment
    champion = plane.slots["champion"]
    if champion.current is not None:
        return f"serving/{champion.current.model_name}"
    tail = champion.uri.split("models:/", 1)[-1]
    return f"serving/{tail.split('@', 1)[0].split('/', 1)[0]}"


def shadow_counters(plane: Any) -> Callable[[], dict[str, dict[str, float]]]:
    """Cumulative shadow comparisons for the reporter, from the shadow runner if it counts.

    The shadow runner exposes `counters() -> {"compared": n, "agreed": n}`; the null
    shadow of a single/split server has none, and then nothing is reported.
    """

    def read() -> dict[str, dict[str, float]]:
        counters = getattr(plane.shadow, "counters", None)
        if counters is None or plane.settings.mode != "shadow":
            return {}
        c = counters()
        return {
            "challenger": {
                "shadow_compared": c.get("compared", 0),
                "shadow_agreed": c.get("agreed", 0),
            }
        }

    return read


def _feedback_metrics(metrics: Any, feedback: FeedbackStore) -> Callable[[FeedbackResult], None]:
    results = metrics.add(Counter, "trk_feedback_total", "Labels received, by result.", ("result",))
    accuracy = metrics.add(
        Gauge, "trk_online_accuracy", "Accuracy on labelled predictions since start (classifiers).",
        ("variant",), multiprocess_mode="liveall",
    )  # fmt: skip
    mae = metrics.add(Gauge, "trk_online_mae", "Mean absolute error on labelled predictions "
                      "since start (regressors).", ("variant",), multiprocess_mode="liveall")  # fmt: skip
    labelled = metrics.add(Counter, "trk_feedback_labelled_total", "Labelled rows.", ("variant",))

    def on_result(result: FeedbackResult) -> None:
        for key in ("joined", "unknown", "expired", "duplicate"):
            if getattr(result, key):
                results.labels(key).inc(getattr(result, key))
        for variant, rows in result.labelled.items():
            labelled.labels(variant).inc(rows)
        for variant, c in feedback.counters().items():
            classes = c["labelled"] - c["regression_labelled"]
            if classes:
                accuracy.labels(variant).set(c["correct"] / classes)
            if c["regression_labelled"]:
                mae.labels(variant).set(c["abs_error_sum"] / c["regression_labelled"])

    return on_result


def attach_ab(plane: Any, client_factory: Callable[[], Any] | None = None) -> ABServices:
    """Feedback, reporter and samples on `plane`'s hooks; returns them (also in services)."""
    settings = plane.settings
    feedback = FeedbackStore(capacity=settings.feedback_capacity, max_batch=FEEDBACK_MAX_BATCH)
    feedback.on_result = _feedback_metrics(plane.metrics, feedback)
    samples = None
    if settings.log_samples > 0:
        samples = SampleLogger(
            settings.log_samples,
            tempfile.mkdtemp(prefix="trk-samples-"),
            lambda: {n: s.current for n, s in plane.slots.items()},
        )
    dropped = plane.metrics.add(
        Counter, "trk_reporter_dropped_windows_total",
        "Report windows dropped because the tracking store was unavailable past the buffer.",
    )  # fmt: skip
    reporter = Reporter(
        client_factory or _client_factory(settings.tracking_uri),
        lambda: experiment_name(plane),
        lambda: variant_infos(plane),
        settings.report_interval_s,
        sources=[feedback.counters, shadow_counters(plane)],
        dropped=dropped,
        samples=samples,
    )
    _chain_prediction_hook(plane, feedback, reporter, samples)
    _observe_requests(plane, reporter)
    services = ABServices(feedback, reporter, samples)
    plane.services.append(services)
    plane.ab = services
    return services


def _chain_prediction_hook(plane: Any, feedback: FeedbackStore, reporter: Reporter,
                           samples: SampleLogger | None) -> None:  # fmt: skip
    previous = plane.on_prediction

    def on_prediction(request_id: str, variant: Any, model_input: Any, predictions: Any) -> None:
        previous(request_id, variant, model_input, predictions)
        feedback.record(request_id, variant.name, predictions)
        reporter.observe_predictions(variant.name, predictions)
        if samples is not None:
            samples.maybe_log(request_id, variant, model_input, predictions)

    plane.on_prediction = on_prediction
    # A shadow runner that reports its answers lets labels join the challenger too.
    if hasattr(plane.shadow, "on_result"):
        plane.shadow.on_result = lambda rid, variant, preds: feedback.record(
            rid, getattr(variant, "name", variant), preds
        )


def _observe_requests(plane: Any, reporter: Reporter) -> None:
    # Every routed request, failed ones included, passes through observe_request with its
    # (variant, model, version) labels: the reporter counts it there, after Prometheus does.
    observe = plane.metrics.observe_request

    def observe_request(labels: tuple[str, str, str], status: int, seconds: float | None) -> None:
        observe(labels, status, seconds)
        if labels[0] != "none":
            reporter.observe(labels[0], seconds, status < 500)

    plane.metrics.observe_request = observe_request


def _client_factory(tracking_uri: str | None) -> Callable[[], Any]:
    def factory() -> Any:
        from trk.tracking.client import Client

        return Client(tracking_uri)

    return factory


def feedback_endpoint(services: ABServices) -> Callable[[bytes], dict[str, Any]]:
    """Body bytes -> the JSON answer of `POST /feedback` (BadRequest on bad input)."""

    def handle(body: bytes) -> dict[str, Any]:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadRequest(
                'Feedback body is not JSON: send {"request_id", "label"} or a list'
            ) from None
        return services.feedback.submit(payload).to_dict()

    return handle
