"""The online-evaluation side of a serving process: feedback series, what the serving runs
record about each variant, the background services, and the `POST /feedback` handler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

from trk.contracts.predictions import parse_labels
from trk.exceptions import BadRequest, InvalidParameter
from trk.serving.config import ServeSettings
from trk.serving.core.variant import CHAMPION, VariantSlot
from trk.serving.online.feedback import FeedbackResult, FeedbackStore
from trk.serving.online.labels import OUTCOMES, LabelWriter
from trk.serving.online.reporter import Reporter
from trk.serving.online.samples import SampleLogger
from trk.serving.online.window_stats import VariantInfo
from trk.serving_contract import serving_experiment

FEEDBACK_MAX_BATCH = 1000  # labels per POST /feedback; more -> 400
Counters = dict[str, dict[str, float]]


class OnlineServices:
    """Started after the variants load, stopped (flushing the last window) at shutdown."""

    def __init__(self, reporter: Reporter, samples: SampleLogger | None) -> None:
        self.reporter, self.samples = reporter, samples

    def start(self) -> None:
        if self.samples is not None:
            self.samples.start()
        self.reporter.start()

    async def stop(self) -> None:
        # Off the event loop: the final flush may wait on a slow store for a few seconds.
        if self.samples is not None:
            await asyncio.to_thread(self.samples.stop)
        await asyncio.to_thread(self.reporter.stop)


def variant_infos(
    settings: ServeSettings, slots: Mapping[str, VariantSlot]
) -> Callable[[], list[VariantInfo]]:
    """What each loaded variant's serving run records (the version follows reloads)."""

    def read() -> list[VariantInfo]:
        return [
            VariantInfo(name, slot.uri, str(slot.current.version), settings.mode, slot.weight)
            for name, slot in slots.items()
            if slot.current is not None
        ]

    return read


def experiment_name(settings: ServeSettings, slots: Mapping[str, VariantSlot]) -> Callable[[], str]:
    """`--experiment`, else `serving/<registered model name of the champion>`."""
    model = served_model(slots)

    def read() -> str:
        return settings.experiment or serving_experiment(model())

    return read


def served_model(slots: Mapping[str, VariantSlot]) -> Callable[[], str]:
    """The registered model name of the champion (the key of the shared prediction log)."""

    def read() -> str:
        champion = slots[CHAMPION]
        if champion.current is not None:
            return champion.current.model_name
        tail = champion.uri.split("models:/", 1)[-1]
        return tail.split("@", 1)[0].split("/", 1)[0]

    return read


def current_version(slots: Mapping[str, VariantSlot]) -> Callable[[str], str]:
    """The version a variant serves now (shadow answers arrive without it)."""

    def read(variant: str) -> str:
        slot = slots.get(variant)
        current = slot.current if slot is not None else None
        return str(current.version) if current is not None else ""

    return read


def shadow_counters(shadow: Any, idle_silent: bool = False) -> Callable[[], Counters]:
    """Cumulative shadow comparisons for the reporter; nothing without a shadow runner.

    `idle_silent` (split mode, whose runner only works while a rollout shadows): nothing
    until the first copy was compared, so split windows carry no shadow counts otherwise.
    """

    def read() -> Counters:
        if shadow is None:
            return {}
        c = shadow.counters()
        if idle_silent and not c.get("compared", 0):
            return {}
        return {
            "challenger": {
                "shadow_compared": c.get("compared", 0),
                "shadow_agreed": c.get("agreed", 0),
            }
        }

    return read


def dropped_windows(metrics: Any) -> Any:
    return metrics.add(
        Counter,
        "trk_reporter_dropped_windows_total",
        "Report windows dropped because the tracking store was unavailable past the buffer.",
    )


def feedback_metrics(metrics: Any) -> Callable[[FeedbackResult, Counters], None]:
    """The feedback series, updated from each `/feedback` result and the store's counters."""
    results = metrics.add(Counter, "trk_feedback_total", "Labels received, by result.", ("result",))
    accuracy = metrics.add(
        Gauge,
        "trk_online_accuracy",
        "Accuracy on labelled predictions since start (classifiers).",
        ("variant",),
        multiprocess_mode="liveall",
    )
    mae = metrics.add(
        Gauge,
        "trk_online_mae",
        "Mean absolute error on labelled predictions since start (regressors).",
        ("variant",),
        multiprocess_mode="liveall",
    )
    labelled = metrics.add(Counter, "trk_feedback_labelled_total", "Labelled rows.", ("variant",))

    def on_result(result: FeedbackResult, counters: Counters) -> None:
        for key in ("joined", "unknown", "expired", "duplicate"):
            if getattr(result, key):
                results.labels(key).inc(getattr(result, key))
        for variant, rows in result.labelled.items():
            labelled.labels(variant).inc(rows)
        for variant, c in counters.items():
            classes = c["labelled"] - c["regression_labelled"]
            if classes:
                accuracy.labels(variant).set(c["correct"] / classes)
            if c["regression_labelled"]:
                mae.labels(variant).set(c["abs_error_sum"] / c["regression_labelled"])

    return on_result


def label_outcomes(metrics: Any) -> Callable[[str, int], None]:
    """trk_feedback_labels_total{outcome}: what the store did with /feedback's labels."""
    counter = metrics.add(
        Counter,
        "trk_feedback_labels_total",
        "Labels from /feedback by the store's outcome: joined, pending, duplicate (409), "
        "expired (pending past their time to live), refused (429: pending labels full).",
        ("outcome",),
    )
    for outcome in OUTCOMES:  # every series present from the start, at 0
        counter.labels(outcome)

    def count(outcome: str, n: int) -> None:
        counter.labels(outcome).inc(n)

    return count


def feedback_endpoint(
    feedback: FeedbackStore, labels: LabelWriter | None = None
) -> Callable[[bytes], dict[str, Any]]:
    """Body bytes -> the JSON answer of `POST /feedback` (BadRequest on bad input).

    Labels are checked in full, joined in memory (live accuracy on this replica), then
    upserted in the store's label table (`stored`: rows), where the A/B report joins them
    with every replica's predictions. Blocking: call it off the event loop.
    """

    def handle(body: bytes) -> dict[str, Any]:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadRequest(
                'Feedback body is not JSON: send {"request_id", "label"} or a list'
            ) from None
        items = payload if isinstance(payload, list) else [payload]
        if labels is not None and 0 < len(items) <= FEEDBACK_MAX_BATCH:
            check_labels(items)  # empty and oversized batches get the in-memory join's 400
        answer = feedback.submit(payload).to_dict()
        if labels is not None:
            answer["stored"] = labels.write(items).written
        return answer

    return handle


def check_labels(items: list[Any]) -> None:
    """The store's checks, before anything is counted, as a 400 like the in-memory ones."""
    try:
        parse_labels(items, 0, FEEDBACK_MAX_BATCH)
    except InvalidParameter as exc:
        raise BadRequest(f"Feedback: {exc}") from None
