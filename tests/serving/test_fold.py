"""The record buffer and the fold: bounded appends that drop and count, every consumer fed in
order, a broken consumer isolated, the remainder folded at stop, the drops in the series."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from trk.serving.core.metrics import ServingMetrics
from trk.serving.online.fold import Folder, RecordBuffer
from trk.serving.online.prediction_log import LogMetrics
from trk.serving.online.records import Batch, Record
from trk.serving.online.series import InFlight, RequestSeries

pytestmark = pytest.mark.unit


def record(i: int, status: int = 200, variant: str = "champion") -> Record:
    return Record(f"r{i}", 0.0, variant, "1", "m", 1.0, status, 0.001, [1], rows=1)


class Seen:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def fold(self, records: Batch) -> None:
        self.batches.append([r.request_id for r in records])


class Broken:
    def fold(self, records: Batch) -> None:
        raise RuntimeError("a bug in one consumer")


def test_a_full_buffer_drops_and_counts_and_the_series_say_so():
    buffer = RecordBuffer(capacity=3)
    for i in range(5):
        buffer.append(record(i))  # never blocks: the two that do not fit are counted
    assert (len(buffer), buffer.dropped) == (3, 2)
    metrics = ServingMetrics(CollectorRegistry())
    log = LogMetrics(metrics)
    dropped = lambda reason, n: log.dropped.labels(reason).inc(n)  # noqa: E731
    series = RequestSeries(metrics, InFlight(), lambda: buffer.dropped, dropped)
    Folder(buffer, [series]).fold()
    text = metrics.exposition().decode()
    assert 'trk_prediction_log_dropped_total{reason="buffer_full"} 2.0' in text
    assert 'trk_requests_total{model="m",status="200",variant="champion",version="1"} 3.0' in text


def test_every_consumer_gets_every_record_in_order_despite_a_broken_one():
    buffer, first, last = RecordBuffer(), Seen(), Seen()
    folder = Folder(buffer, [first, Broken(), last])
    for i in range(3):
        buffer.append(record(i))
    assert folder.fold() == 3 and folder.fold() == 0  # nothing twice
    buffer.append(record(3))
    folder.fold()
    assert first.batches == last.batches == [["r0", "r1", "r2"], ["r3"]]


def test_the_task_folds_by_itself_and_stop_folds_what_is_left():
    buffer, seen = RecordBuffer(), Seen()
    folder = Folder(buffer, [seen], interval_s=0.001)

    async def run() -> None:
        folder.start()
        buffer.append(record(0))
        while not seen.batches:  # the task's own fold, bounded by the test's timeout
            await asyncio.sleep(0.001)
        buffer.append(record(1))  # appended after the task's last pass: stop() folds it
        await folder.stop()

    asyncio.run(run())
    assert [rid for batch in seen.batches for rid in batch] == ["r0", "r1"]


def test_client_errors_are_requests_never_errors():
    from trk.serving.online.reporter import Reporter

    rep = Reporter(lambda: None, "serving/m", lambda: [], interval_s=3600)
    rep.fold(Batch([record(0, 400), record(1, 200), record(2, 503)]))
    stats = rep._stats[("champion", "1")]
    assert (stats.requests, stats.errors) == (3, 1)


def test_classes_past_the_label_bounds_are_other_as_answer_by_answer():
    """The predicted-class series and the report windows sum a batch's classes before they
    bound them: the first MAX_LABELS (MAX_CLASSES) distinct labels a variant answered keep
    their names, in the order answered, across folds, and every later label counts as
    "other"; each answer is counted once, as counting answer by answer would."""
    import numpy as np

    from trk.serving.online.reporter import Reporter
    from trk.serving.online.window_stats import MAX_CLASSES
    from trk.serving.routing.metrics import MAX_LABELS, RoutingMetrics

    registry = CollectorRegistry()
    routing = RoutingMetrics(ServingMetrics(registry))
    rep = Reporter(lambda: None, "serving/m", lambda: [], interval_s=3600)
    labels = [f"c{(i * 7) % 130}" for i in range(390)]  # 130 labels each, in a scrambled order
    variants = ["challenger" if i % 3 == 0 else "champion" for i in range(390)]
    records = [
        Record(f"r{i}", 0.0, v, "1", "m", 1.0, 200, 0.001, np.array([label]), rows=1)
        for i, (v, label) in enumerate(zip(variants, labels, strict=True))
    ]
    for start in (0, 100, 250):  # three folds: what the first saw bounds the next
        batch = Batch(records[start : {0: 100, 100: 250, 250: 390}[start]])
        routing.fold(batch)
        rep.fold(batch)
    assert MAX_LABELS == MAX_CLASSES == 50
    for variant in ("champion", "challenger"):
        kept: list[str] = []
        expected: dict[str, int] = {}
        for v, label in zip(variants, labels, strict=True):  # answer by answer
            if v != variant:
                continue
            if label not in kept and len(kept) < MAX_LABELS:
                kept.append(label)
            name = label if label in kept else "other"
            expected[name] = expected.get(name, 0) + 1
        assert len(expected) == MAX_LABELS + 1
        series = {
            s.labels["label"]: s.value
            for metric in registry.collect()
            if metric.name == "trk_predictions"
            for s in metric.samples
            if s.name == "trk_predictions_total" and s.labels["variant"] == variant
        }
        assert series == expected
        assert rep._stats[(variant, "1")].classes == expected
