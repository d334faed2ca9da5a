"""`create_app`: the tracking server's Starlette app (REST API, artifact proxy, dashboard)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from trk.exceptions import TrkError
from trk.server import artifacts as artifact_proxy
from trk.server import (
    experiments,
    inputs,
    logged_models,
    metrics,
    predictions,
    registry,
    rollouts,
    run_artifacts,
    runs,
    stages,
    webhooks,
)
from trk.server.auth import BearerAuth
from trk.server.endpoint import ServerContext, api_route
from trk.server.errors import EXCEPTION_HANDLERS, error_response
from trk.server.params import DEFAULT_MAX_BODY_BYTES
from trk.server.slashes import MergeSlashes
from trk.store.base import Store
from trk.ui import app as dashboard

# MLflow's client reaches some endpoints under 3.0 and its web UI under ajax-api.
API_PREFIXES = ("/api/2.0/mlflow/", "/api/3.0/mlflow/", "/ajax-api/2.0/mlflow/")
APIS = [
    *experiments.APIS,
    *runs.APIS,
    *metrics.APIS,
    *run_artifacts.APIS,
    *inputs.APIS,
    *stages.APIS,
    *registry.APIS,
    *logged_models.APIS,
    *webhooks.APIS,
    *predictions.APIS,
    *rollouts.APIS,
]

# `trk server --workers N` hands its settings to uvicorn's worker processes through these.
ENV_BACKEND = "TRK_BACKEND_STORE_URI"
ENV_DESTINATION = "TRK_ARTIFACTS_DESTINATION"
ENV_SERVE = "TRK_SERVE_ARTIFACTS"
ENV_TOKEN = "TRK_AUTH_TOKEN"
ENV_MAX_BODY = "TRK_MAX_BODY_BYTES"


def create_app(
    store: Store,
    artifact_root: str,
    serve_artifacts: bool = True,
    auth_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The app for `store`, with artifacts proxied to `artifact_root` when `serve_artifacts`."""
    ctx = ServerContext(
        store=store,
        artifact_root=artifact_root,
        serve_artifacts=serve_artifacts,
        max_body_bytes=max_body_bytes,
        logged_models=getattr(store, "logged_models", None),  # SQL backends only
    )

    async def health(_request: Request) -> Response:
        try:
            await run_in_threadpool(store.ping)
        except TrkError as exc:
            return error_response(exc)
        return PlainTextResponse("OK")

    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"])]
    routes += [api_route(api, ctx, prefix) for prefix in API_PREFIXES for api in APIS]
    if serve_artifacts:
        routes += artifact_proxy.routes(ctx)
    routes += run_artifacts.routes(ctx)  # files of runs, versions, logged models; /version
    routes += dashboard.routes(ctx)  # after the API: `/` and `/static` never shadow it
    middleware = [Middleware(MergeSlashes)]
    middleware += [Middleware(BearerAuth, token=auth_token)] if auth_token else []
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS)
    app.state.ctx = ctx
    return app


def store_for_server(backend_uri: str, destination: str, serve_artifacts: bool) -> Store:
    """The backend store (migrated on open); new experiments' artifacts go through the proxy
    when it is on, else straight to the destination."""
    from trk.store import get_store

    root = "mlflow-artifacts:/" if serve_artifacts else destination
    return get_store(backend_uri, default_artifact_root=root)


def app_from_env() -> Starlette:
    """uvicorn factory for `--workers > 1`: each worker process rebuilds the app.

    Reads os.environ directly (an exception to the settings-module rule): the CLI sets these
    variables before uvicorn spawns workers, and a factory takes no arguments.
    """
    env = os.environ
    serve = env.get(ENV_SERVE, "true") == "true"
    destination = env[ENV_DESTINATION]
    store = store_for_server(env[ENV_BACKEND], destination, serve)
    max_body = int(env.get(ENV_MAX_BODY) or DEFAULT_MAX_BODY_BYTES)
    return create_app(store, destination, serve, env.get(ENV_TOKEN) or None, max_body)
