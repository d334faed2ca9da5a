"""Prometheus series of one serving process, on a registry passed in (never the global one)."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

VARIANT_LABELS = ("variant", "model", "version")
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory prometheus_client's multiprocess mode writes to, when the CLI set one."""
    # prometheus_client itself reads this variable at import time, so it is read here too
    # rather than through trk.settings: both must agree on one value per process.
    return os.environ.get(MULTIPROC_ENV) or None


class ServingMetrics:
    """Every `trk_*` series of the serving runtime (routing and A/B add theirs via `add`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.requests = self.add(
            Counter,
            "trk_requests_total",
            "Requests answered, by variant, model, version and HTTP status.",
            (*VARIANT_LABELS, "status"),
        )
        self.request_latency = self.add(
            Histogram,
            "trk_request_latency_seconds",
            "Time from a request's body being read to its response being ready.",
            VARIANT_LABELS,
            buckets=LATENCY_BUCKETS,
        )
        self.predict_latency = self.add(
            Histogram,
            "trk_predict_latency_seconds",
            "Time spent in the model's predict call (one call per batch when batching).",
            VARIANT_LABELS,
            buckets=LATENCY_BUCKETS,
        )
        self.batch_size = self.add(
            Histogram,
            "trk_batch_size",
            "Rows per predict call.",
            VARIANT_LABELS,
            buckets=BATCH_BUCKETS,
        )
        self.model_info = self.add(
            Gauge,
            "trk_model_info",
            "1 for the model version each variant serves now.",
            (*VARIANT_LABELS, "alias"),
            multiprocess_mode="livemax",
        )
        self.model_load_seconds = self.add(
            Gauge,
            "trk_model_load_seconds",
            "Seconds the variant's current model took to load and warm up.",
            VARIANT_LABELS,
            multiprocess_mode="livemax",
        )

        self.in_flight = self.add(
            Gauge,
            "trk_in_flight_requests",
            "Requests being answered now (what SIGTERM waits for).",
            ("variant",),
            multiprocess_mode="livesum",
        )

        self.breaker_opens = self.add(
            Counter,
            "trk_circuit_breaker_opened_total",
            "Times a variant's circuit breaker opened after predicts timed out in a row.",
            ("variant",),
        )

    def add(
        self,
        kind: type,
        name: str,
        doc: str,
        labels: tuple[str, ...] = (),
        multiprocess_mode: str = "livesum",
        **kwargs: Any,
    ) -> Any:
        """Create a series on this registry (gauges aggregate across workers by mode)."""
        if kind is Gauge:
            kwargs["multiprocess_mode"] = multiprocess_mode
        return kind(name, doc, labels, registry=self.registry, **kwargs)

    def child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        """`metric.labels(*labels)`, remembered: `labels()` validates and locks on every call
        (~5 us), so every series touched per request reuses its children."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(
        self, labels: tuple[str, str, str], status: int, seconds: float | None
    ) -> None:
        """Count one answered request and, when it reached a model, its latency."""
        self.child(self.requests, (*labels, str(status))).inc()
        if seconds is not None:
            self.child(self.request_latency, labels).observe(seconds)

    def observe_predict(self, labels: tuple[str, str, str], seconds: float, rows: int) -> None:
        self.child(self.predict_latency, labels).observe(seconds)
        self.child(self.batch_size, labels).observe(rows)

    def breaker_opened(self, variant: str) -> None:
        self.breaker_opens.labels(variant).inc()

    def in_flight_for(self, variant: str) -> Any:
        return self.child(self.in_flight, (variant,))

    def set_model(
        self,
        labels: tuple[str, str, str],
        alias: str,
        load_seconds: float,
        previous: tuple[tuple[str, str, str], str] | None = None,
    ) -> None:
        """Point `trk_model_info` at a newly served version (dropping the one it replaces)."""
        if previous is not None:
            old_labels, old_alias = previous
            if self.multiprocess:  # mmap'd values cannot be removed, only zeroed
                self.model_info.labels(*old_labels, old_alias).set(0)
            else:
                try:
                    self.model_info.remove(*old_labels, old_alias)
                    self.model_load_seconds.remove(*old_labels)
                except KeyError:
                    pass
        self.model_info.labels(*labels, alias).set(1)
        self.model_load_seconds.labels(*labels).set(load_seconds)

    def exposition(self) -> bytes:
        """The text format for `/metrics`, summed over workers in multiprocess mode."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
