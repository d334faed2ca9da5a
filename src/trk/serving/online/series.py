"""The per-request Prometheus series, derived from folded records (never on the request path).

Counts are summed per batch and added once per series child (one locked update per fold,
not per request), latencies too: a batch's values are counted per bucket and each bucket is
added once (`observe_many`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trk.serving.core.metrics import ServingMetrics
from trk.serving.online.buckets import bucket_counts
from trk.serving.online.records import Batch, column

Labels = tuple[str, str, str]  # (variant, model, version)
PREDICT_S, ROWS = column("predict_s"), column("rows")


class InFlight:
    """Requests being answered now, per variant: plain ints the event loop alone changes."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def enter(self, variant: str) -> None:
        self.counts[variant] = self.counts.get(variant, 0) + 1

    def leave(self, variant: str) -> None:
        self.counts[variant] -= 1


class RequestSeries:
    """Fold consumer: trk_requests_total, the latency and batch-size histograms, in-flight."""

    def __init__(
        self,
        metrics: ServingMetrics,
        in_flight: InFlight | None = None,
        buffer_dropped: Callable[[], int] | None = None,
        on_dropped: Callable[[str, int], None] | None = None,
    ) -> None:
        self.metrics, self.in_flight = metrics, in_flight
        self.buffer_dropped, self.on_dropped = buffer_dropped, on_dropped
        self._dropped_seen = 0

    def fold(self, records: Batch) -> None:
        m = self.metrics
        # Summed per run of alike records (a batch is one or a few), turned into label values
        # once per key; the values of a run are read out of its records in C.
        counts: dict[tuple[Labels, int], int] = {}
        latency: dict[Labels, list[float]] = {}
        predict: dict[Labels, list[float]] = {}
        rows: dict[Labels, list[float]] = {}
        for run in records.runs:
            if run.shadow:  # copies, not requests: counted by the routing series
                continue
            key = (run.variant, run.model, run.version)
            counted = (key, run.status)
            counts[counted] = counts.get(counted, 0) + len(run)
            latency.setdefault(key, []).extend(run.latencies())
            timed = [r for r in run.records if r.predict_s is not None]
            if timed:
                predict.setdefault(key, []).extend(map(PREDICT_S, timed))
                rows.setdefault(key, []).extend(map(ROWS, timed))
        for (key, status), n in counts.items():
            m.child(m.requests, (*_labels(key), str(status))).inc(n)
        for series, values in (
            (m.request_latency, latency),
            (m.predict_latency, predict),
            (m.batch_size, rows),
        ):
            for key, batch in values.items():
                if batch:
                    observe_many(m.child(series, _labels(key)), batch)
        self.sync()

    def sync(self) -> None:
        """The gauges and the buffer's drop count, as they stand now."""
        if self.in_flight is not None:
            for variant, n in self.in_flight.counts.items():
                self.metrics.in_flight_for(variant).set(n)
        if self.buffer_dropped is not None and self.on_dropped is not None:
            dropped = self.buffer_dropped()
            if dropped > self._dropped_seen:
                self.on_dropped("buffer_full", dropped - self._dropped_seen)
                self._dropped_seen = dropped


def _labels(key: Labels) -> Labels:
    """(variant, model, version) as the series show them: "none" for unrouted requests
    (as `Record.labels`)."""
    return key if key[0] else ("none", "none", "none")


def observe_many(histogram: Any, values: Sequence[float]) -> None:
    """`histogram.observe(v)` for each value, with one update per bucket touched.

    prometheus_client has no batch observe; each `observe` takes the child's lock (or writes
    its mmap file) twice, ~1.5 us. Its children keep per-bucket counters (`_buckets`, with
    `_upper_bounds`) and `_sum`; where a version does not, values are observed one by one.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for v in values:
            histogram.observe(v)
        return
    # observe() counts v in the first bucket whose bound is >= v (bisect_left)
    for i, n in bucket_counts(values, bounds).items():
        buckets[i].inc(n)
    total.inc(sum(values))
