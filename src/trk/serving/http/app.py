"""The HTTP face of `trk-serve`: the infer routes and Starlette's around them, over the
DataPlane (errors: `http/infer.py`'s `mlflow_error` and `v2_error`, for every route)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from trk.exceptions import TrkError
from trk.serving.compose import Serving, build
from trk.serving.config import ServeSettings
from trk.serving.core import codecs
from trk.serving.core.metrics import METRICS_CONTENT_TYPE, ServingMetrics
from trk.serving.http.auth import BearerCheck
from trk.serving.http.body import BodyReader
from trk.serving.http.infer import AsgiEndpoint, InferRoutes, mlflow_error
from trk.serving.http.v2 import v2_routes
from trk.serving.online.metrics import feedback_endpoint

JSON = "application/json"


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(codecs.dumps(obj), status, headers, media_type=JSON)


def error_response(request: Request, exc: Exception) -> Response:
    """Any exception as MLflow's error JSON (`http/infer.py`'s `mlflow_error`)."""
    where = f"{request.method} {request.url.path}"
    status, headers, body = mlflow_error(exc, where, request.headers.get("x-request-id"))
    return Response(body, status, headers, media_type=JSON)


class ServingApp(Starlette):
    """Starlette for every route but a POST to an infer route, which goes straight to its
    handler (`http/infer.py`: Starlette's layers cost more than trk's own steps)."""

    def __init__(self, infer: InferRoutes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.infer = infer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.infer.match(scope)
            if handler is not None:
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: ServeSettings,
    registry: CollectorRegistry | None = None,
    serving: Serving | None = None,
) -> ServingApp:
    """The ASGI app: load variants in the lifespan, answer the scoring protocol."""
    serving = serving or build(settings, ServingMetrics(registry))
    plane = serving.plane
    bodies = BodyReader(settings.max_body_bytes)
    infer = InferRoutes(plane, bodies, settings.timeout_s)
    handle_feedback = feedback_endpoint(serving.feedback, serving.labels)
    feedback_auth = BearerCheck(settings.feedback_token, "/feedback")

    def deadline() -> float:
        return asyncio.get_running_loop().time() + settings.timeout_s

    async def feedback(request: Request) -> Response:
        feedback_auth.check(request.headers.get("authorization"))
        body = await bodies.read(request.receive, deadline(), request.headers.get("content-length"))
        return json_response(await run_in_threadpool(handle_feedback, body))  # store I/O

    async def ping(request: Request) -> Response:
        return json_response({"status": "alive"})

    async def health(request: Request) -> Response:
        return json_response(plane.health(), 200 if plane.ready() else 503)

    async def metadata(request: Request) -> Response:
        return json_response(plane.metadata(), 200 if plane.ready() else 503)

    async def version(request: Request) -> Response:
        return json_response(plane.version())

    async def metrics(request: Request) -> Response:
        serving.folder.fold(always=True)  # every answer before this scrape is counted in it
        return Response(plane.metrics.exposition(), media_type=METRICS_CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bodies.start()
        infer.start()
        await plane.start()
        try:
            yield
        finally:
            await bodies.stop()
            await plane.stop()

    routes = [
        Route("/invocations", AsgiEndpoint(infer.invocations), methods=["POST"]),
        *v2_routes(plane, AsgiEndpoint(infer.v2_infer)),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = ServingApp(
        infer,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={TrkError: error_response, Exception: error_response},
    )
    app.state.serving = serving
    app.state.dataplane = plane
    app.state.settings = settings
    return app
