"""The per-request Prometheus series, derived from folded records (never on the request path).

Counts are summed per batch and added once per series child (one locked update per fold,
not per request); latencies are observed one by one, since a histogram takes no batch.
"""

from __future__ import annotations

from collections.abc import Callable

from trk.serving.core.metrics import ServingMetrics
from trk.serving.online.records import Batch


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
        counts: dict[tuple[str, str, str, str], int] = {}
        for r in records:
            if r.shadow:  # a copy, not a request: counted by the routing series
                continue
            labels = r.labels
            key = (*labels, str(r.status))
            counts[key] = counts.get(key, 0) + 1
            if r.latency_s is not None:
                m.child(m.request_latency, labels).observe(r.latency_s)
            if r.predict_s is not None:
                m.child(m.predict_latency, labels).observe(r.predict_s)
                m.child(m.batch_size, labels).observe(r.rows)
        for key, n in counts.items():
            m.child(m.requests, key).inc(n)
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
