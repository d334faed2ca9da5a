"""One REST endpoint: a route-table row (`trk.contracts.api`) bound to a sync handler run in
the thread pool, JSON out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trk.contracts.api.row import Api
from trk.contracts.store import Store
from trk.contracts.surfaces import LoggedModelStore
from trk.exceptions import TrkError
from trk.server.artifact_roots import ArtifactRoots
from trk.server.errors import error_response, internal_error
from trk.server.json import json_response
from trk.server.params import DEFAULT_MAX_ARTIFACT_BYTES, DEFAULT_MAX_BODY_BYTES, request_params


@dataclass
class ServerContext:
    """What every handler may use: the store, where artifacts go, and the limits."""

    store: Store
    artifact_root: str
    serve_artifacts: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    logged_models: LoggedModelStore | None = None  # where the backend is SQL
    allowed_artifact_roots: tuple[str, ...] = ()
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    extras: dict[str, Any] = field(default_factory=dict)
    roots: ArtifactRoots = field(init=False)

    def __post_init__(self) -> None:
        self.roots = ArtifactRoots(self.artifact_root, self.allowed_artifact_roots)


Handler = Callable[[ServerContext, dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Endpoint:
    """The route `api` answered by `handler(ctx, params)` after `api`'s fields were checked."""

    api: Api
    handler: Handler
    # The success status from the answer, where it is not always 200 (202: accepted, pending).
    status: Callable[[dict[str, Any]], int] | None = None


def bound(endpoints: Sequence[Endpoint], api: Api) -> Endpoint:
    """The endpoint of `endpoints` that answers `api`."""
    return next(e for e in endpoints if e.api is api)


def api_route(endpoint: Endpoint, ctx: ServerContext, prefix: str) -> Route:
    """A Starlette route for `endpoint` under `prefix` (e.g. /api/2.0/mlflow/)."""
    api = endpoint.api

    async def answer(request: Request) -> Response:
        try:
            params = await request_params(request, api.fields, ctx.max_body_bytes)
            # Stores are synchronous (SQLAlchemy, httpx): keep them off the event loop.
            result = await run_in_threadpool(endpoint.handler, ctx, params)
        except TrkError as exc:
            return error_response(exc)
        except Exception as exc:  # a bug: log it, answer 500, keep serving
            return internal_error(exc, f"{api.method} {api.path}")
        out = result or {}
        return json_response(out, endpoint.status(out) if endpoint.status is not None else 200)

    return Route(prefix + api.path, answer, methods=[api.method], name=None)
