"""The Open Inference Protocol's REST routes (`/v2/...`), thin over the same DataPlane.

Inference goes through `DataPlane.infer` with the V2 codec, so routing, shadow copies,
metrics, A/B windows and request ids are the plane's, as for `/invocations`. Errors on
these paths are the spec's `{"error": "..."}` with the error's 4xx/5xx status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from trk.exceptions import NotFound
from trk.serving.core import codecs, v2_models
from trk.serving.core.plane import DataPlane
from trk.serving.http.infer import v2_error

Endpoint = Callable[[Request], Awaitable[Response]]
MODEL = "/v2/models/{name}"
VERSION = "/v2/models/{name}/versions/{version}"


def v2_routes(plane: DataPlane, infer: ASGIApp) -> list[BaseRoute]:
    """The V2 routes over `plane`; `infer` answers infer requests (`http/infer.py`)."""

    async def server(request: Request) -> Response:
        return _json(v2_models.server_metadata())

    async def live(request: Request) -> Response:
        return _json({"live": plane.live()})

    async def ready(request: Request) -> Response:
        ok = plane.ready()
        return _json({"ready": ok}, 200 if ok else 503)

    async def model(request: Request) -> Response:
        name, version = _path(request)
        return _json(v2_models.model_metadata(plane, name, version))

    async def model_ready(request: Request) -> Response:
        name, version = _path(request)
        v2_models.find(plane, name, version)
        return _json({"name": name, "ready": True})

    async def unknown(request: Request) -> Response:
        raise NotFound(f"No V2 endpoint {request.method} {request.url.path[:200]}")

    return [
        *(Route(p + "/infer", infer, methods=["POST"]) for p in (MODEL, VERSION)),
        Route("/v2", _v2(server), methods=["GET"]),
        Route("/v2/health/live", _v2(live), methods=["GET"]),
        Route("/v2/health/ready", _v2(ready), methods=["GET"]),
        *(Route(p, _v2(model), methods=["GET"]) for p in (MODEL, VERSION)),
        *(Route(p + "/ready", _v2(model_ready), methods=["GET"]) for p in (MODEL, VERSION)),
        Route("/v2/{rest:path}", _v2(unknown), methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]


def _path(request: Request) -> tuple[str, str | None]:
    params = request.path_params
    return str(params["name"]), params.get("version")


def _json(obj: Any, status: int = 200) -> Response:
    return Response(codecs.dumps(obj), status, media_type="application/json")


def _v2(endpoint: Endpoint) -> Endpoint:
    """Answer any error on a V2 path as `{"error": ...}` (MLflow's error JSON elsewhere)."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            return _error(request, exc)

    return wrapped


def _error(request: Request, exc: Exception) -> Response:
    status, body = v2_error(exc, f"{request.method} {request.url.path}")
    return Response(body, status, media_type="application/json")
