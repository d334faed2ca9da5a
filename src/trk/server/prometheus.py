"""`trk server`'s own Prometheus series at `GET /metrics`: requests by route and status, their
latency, whether the store answers, and the state of every progressive rollout (the store is
where rollouts live, so the server is where they are watched from; k8s/monitoring alerts on
these). Series live on a registry passed in, never the global one; with `--workers N` every
worker writes to the multiprocess directory that `run_server` made, summed at each scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trk import settings
from trk.contracts.rollouts import STATES
from trk.contracts.store import Store
from trk.exceptions import TrkError

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNMATCHED = "unmatched"  # no route: a 404 or 405, whatever path was asked (bounded labels)


class ServerMetrics:
    """The request series of one server process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "trk_server_requests_total",
            "Requests answered by the tracking server, by method, route and HTTP status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "trk_server_request_latency_seconds",
            "Time from a request's arrival at the routes to its response's last byte.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class RequestMetrics:
    """Pure ASGI middleware, innermost: it sees the route the router matched (`scope["route"]`,
    a template such as `/api/2.0/mlflow/runs/get`, never the raw path) and the status sent;
    an exception that escapes the app counts as the 500 the outer layer answers."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            seconds = time.perf_counter() - started
            self.metrics.observe(scope["method"], route, status, seconds)


class RolloutCollector(Collector):
    """At each scrape, from the store: `trk_rollout_state` (1 for each model's current state,
    0 for the others), the rollout's challenger weight and when it last changed, and
    `trk_server_store_up` (0 when the store did not answer: the scrape itself still works)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("trk_server_store_up", "1 when the tracking store answered.")
        state = GaugeMetricFamily(
            "trk_rollout_state",
            "1 for each model's current rollout state.",
            labels=("model", "state"),
        )
        weight = GaugeMetricFamily(
            "trk_rollout_weight", "The challenger's share of traffic.", labels=("model",)
        )
        updated = GaugeMetricFamily(
            "trk_rollout_updated_timestamp_seconds",
            "When the rollout last changed state or step.",
            labels=("model",),
        )
        try:
            rollouts = self._rollouts()
        except TrkError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for r in rollouts:
            for s in STATES:
                state.add_metric([r.model, s], 1 if s == r.state else 0)
            weight.add_metric([r.model], r.weight)
            updated.add_metric([r.model], r.updated_ms / 1000)
        yield from (up, state, weight, updated)

    def _rollouts(self) -> list[Any]:
        rollouts = getattr(self.store, "rollouts", None)
        if rollouts is None:  # a store without rollouts still says whether it answers
            self.store.ping()
            return []
        return list(rollouts.search(active_only=False))


def metrics_route(metrics: ServerMetrics, store: Store) -> Route:
    """`GET /metrics`: this process's series, or every worker's summed in multiprocess mode,
    with the rollout states read from the store (off the event loop)."""
    collectors = CollectorRegistry()
    if settings.prometheus_multiproc_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(collectors)  # type: ignore[no-untyped-call]
        requests: CollectorRegistry | None = None
    else:
        requests = metrics.registry
    collectors.register(RolloutCollector(store))

    def exposition() -> bytes:
        own = generate_latest(requests) if requests is not None else b""
        return own + generate_latest(collectors)

    async def endpoint(_request: Request) -> Response:
        body = await run_in_threadpool(exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", endpoint, methods=["GET"])
