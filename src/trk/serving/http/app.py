"""The HTTP face of `trk-serve`: Starlette routes over the DataPlane, and the one error mapper."""

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

from trk.exceptions import BadRequest, TrkError, Unauthenticated, Unavailable
from trk.http_errors import http_error
from trk.serving.compose import Serving, build
from trk.serving.config import ServeSettings
from trk.serving.core import codecs, request_ids
from trk.serving.core.codecs import Codec
from trk.serving.core.metrics import METRICS_CONTENT_TYPE, ServingMetrics
from trk.serving.core.plane import InferResult
from trk.serving.http.auth import BearerCheck
from trk.serving.http.body import BodyReader
from trk.serving.http.v2 import v2_routes
from trk.serving.online.metrics import feedback_endpoint

JSON = "application/json"


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(codecs.dumps(obj), status, headers, media_type=JSON)


def error_response(request: Request, exc: Exception) -> Response:
    """Any exception as MLflow's error JSON (`trk.http_errors`), with the request id."""
    headers = {"X-Request-Id": request_ids.request_id(request.headers.get("x-request-id"))}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    answer = http_error(exc, f"{request.method} {request.url.path}")
    return json_response(answer.to_dict(), answer.status, headers)


def scope_headers(scope: Any) -> dict[str, str]:
    """An infer request's headers by (lower-case) name, read once from the ASGI scope.

    The first of a repeated name wins, as with Starlette's `Headers.get`, which scans and
    re-encodes the header list on every call: an infer request asks for four or five names.
    """
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


class InferResponse(Response):
    """An answer of /invocations with trk's headers encoded directly.

    Starlette's generic header encoding (a dict, lower-casing, a list rebuilt per response)
    was a tenth of a one-row request's time on the server.
    """

    media_type = JSON

    def __init__(self, result: InferResult) -> None:
        self.result = result
        super().__init__(result.body, result.status)

    def init_headers(self, headers: Any = None) -> None:
        r = self.result
        self.raw_headers = [
            (b"content-length", str(len(r.body)).encode()),
            (b"content-type", b"application/json"),
            *(
                [
                    (b"x-trk-variant", r.variant.encode("latin-1")),
                    (b"x-trk-model-version", r.version.encode("latin-1")),
                ]
                if r.variant  # a request refused before routing names no variant
                else []
            ),
            (b"x-request-id", r.request_id.encode("latin-1")),
        ]


def create_app(
    settings: ServeSettings,
    registry: CollectorRegistry | None = None,
    serving: Serving | None = None,
) -> Starlette:
    """The ASGI app: load variants in the lifespan, answer the scoring protocol."""
    serving = serving or build(settings, ServingMetrics(registry))
    plane = serving.plane
    bodies = BodyReader(settings.max_body_bytes)
    handle_feedback = feedback_endpoint(serving.feedback, serving.labels)
    feedback_auth = BearerCheck(settings.feedback_token, "/feedback")

    def deadline() -> float:
        return asyncio.get_running_loop().time() + settings.timeout_s

    async def infer_body(request: Request, until: float, headers: dict[str, str]) -> bytes:
        """An infer request's body; one too large (413) or too slow (408) counts as refused."""
        try:
            return await bodies.read(request, until, headers)
        except BadRequest as exc:
            plane.refused(request_ids.request_id(headers.get("x-request-id")), int(exc.status))
            raise

    async def answer(
        request: Request, codec: Codec = codecs.MLFLOW, force: str | None = None
    ) -> Response:
        """Read an infer request and answer it in `codec`'s protocol (MLflow's or V2)."""
        until = deadline()  # one deadline for the body and the predict
        headers = scope_headers(request.scope)
        body = await infer_body(request, until, headers)
        content_type = headers.get("content-type")
        try:
            result = await plane.infer(body, content_type, headers, codec, force, deadline=until)
        except asyncio.CancelledError:
            # uvicorn cancels what outlives --graceful-timeout-s; it would answer a bare
            # text 500: say what happened, as a retryable 503 in MLflow's error JSON.
            raise Unavailable(
                "The server shut down before this request finished (--graceful-timeout-s)"
            ) from None
        return InferResponse(result)

    async def feedback(request: Request) -> Response:
        feedback_auth.check(request.headers.get("authorization"))
        body = await bodies.read(request, deadline())
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
        await plane.start()
        try:
            yield
        finally:
            await bodies.stop()
            await plane.stop()

    routes = [
        Route("/invocations", answer, methods=["POST"]),  # MLflow's codec: no wrapper coroutine
        *v2_routes(plane, answer),  # right after: routes match in order
        Route("/feedback", feedback, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={TrkError: error_response, Exception: error_response},
    )
    app.state.serving = serving
    app.state.dataplane = plane
    app.state.settings = settings
    return app
