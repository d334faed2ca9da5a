"""`create_app`: the tracking server's Starlette app (REST API, artifact proxy, dashboard)."""

from __future__ import annotations

import json
import logging
import os

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from trk.contracts.api.row import PREFIXES as API_PREFIXES
from trk.contracts.store import Store
from trk.exceptions import TrkError
from trk.server import artifacts as artifact_proxy
from trk.server import (
    experiments,
    graphql,
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
from trk.server.basic_auth import app as basic_auth
from trk.server.endpoint import ServerContext, api_route
from trk.server.errors import EXCEPTION_HANDLERS
from trk.server.headers import SecurityHeaders
from trk.server.hosts import HostOriginCheck, default_allowed_hosts
from trk.server.params import DEFAULT_MAX_ARTIFACT_MB, DEFAULT_MAX_BODY_BYTES
from trk.server.prometheus import RequestMetrics, ServerMetrics, metrics_route
from trk.server.slashes import MergeSlashes
from trk.ui import app as dashboard

log = logging.getLogger(__name__)

# Every row of the route table (`trk.contracts.api`) but the basic-auth app's, with its handler.
ENDPOINTS = [
    *experiments.ENDPOINTS,
    *runs.ENDPOINTS,
    *metrics.ENDPOINTS,
    *run_artifacts.ENDPOINTS,
    *inputs.ENDPOINTS,
    *stages.ENDPOINTS,
    *registry.ENDPOINTS,
    *logged_models.ENDPOINTS,
    *webhooks.ENDPOINTS,
    *predictions.ENDPOINTS,
    *rollouts.ENDPOINTS,
]

# `trk server --workers N` hands its settings to uvicorn's worker processes through these.
ENV_BACKEND = "TRK_BACKEND_STORE_URI"
ENV_DESTINATION = "TRK_ARTIFACTS_DESTINATION"
ENV_SERVE = "TRK_SERVE_ARTIFACTS"
ENV_MAX_BODY = "TRK_MAX_BODY_BYTES"
# The hardening options (create_app's keyword arguments) as one JSON object; never a secret:
# each worker reads the token itself, from TRK_AUTH_TOKEN or the token file.
ENV_OPTIONS = "TRK_SERVER_OPTIONS_JSON"


def create_app(
    store: Store,
    artifact_root: str,
    serve_artifacts: bool = True,
    auth_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    *,
    allowed_artifact_roots: tuple[str, ...] = (),
    max_artifact_mb: int = DEFAULT_MAX_ARTIFACT_MB,
    allowed_hosts: tuple[str, ...] | None = None,
    allowed_origins: tuple[str, ...] = (),
    app_name: str | None = None,
    protected_aliases: tuple[str, ...] = (),
) -> Starlette:
    """The app for `store`, with artifacts proxied to `artifact_root` when `serve_artifacts`;
    stored artifact locations must lie under `artifact_root` or `allowed_artifact_roots`."""
    ctx = ServerContext(
        store=store,
        artifact_root=artifact_root,
        serve_artifacts=serve_artifacts,
        max_body_bytes=max_body_bytes,
        logged_models=store.logged_models,  # SQL backends only
        allowed_artifact_roots=allowed_artifact_roots,
        max_artifact_bytes=max_artifact_mb * 1024 * 1024,
    )

    async def health(_request: Request) -> Response:
        # Open to anyone (probes carry no token): it says ok or not, never the driver's text.
        try:
            await run_in_threadpool(store.ping)
        except TrkError as exc:
            log.warning("health check failed: %s", exc.message)
            return PlainTextResponse("not ok", status_code=503)
        return PlainTextResponse("OK")

    server_metrics = ServerMetrics(CollectorRegistry())
    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"])]
    routes.append(metrics_route(server_metrics, store))  # behind the token like the API
    routes += [api_route(e, ctx, prefix) for prefix in API_PREFIXES for e in ENDPOINTS]
    if serve_artifacts:
        routes += artifact_proxy.routes(ctx)
    routes += run_artifacts.routes(ctx)  # files of runs, versions, logged models; /version
    routes += graphql.routes(ctx)  # MLflow's GraphQL queries, answered by the REST handlers
    control = basic_auth.control_for(ctx, protected_aliases) if app_name is not None else None
    if control is not None:  # users, permissions, tokens, promotions, the sign-up form
        routes += [api_route(e, ctx, p) for p in API_PREFIXES for e in basic_auth.ENDPOINTS]
        routes += basic_auth.signup_routes(control, API_PREFIXES[0], max_body_bytes)
    routes += dashboard.routes(ctx)  # after the API: `/` and `/static` never shadow it
    hosts = allowed_hosts if allowed_hosts is not None else default_allowed_hosts("127.0.0.1")
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(MergeSlashes),
        Middleware(HostOriginCheck, allowed_hosts=hosts, allowed_origins=allowed_origins),
    ]
    middleware += [Middleware(BearerAuth, token=auth_token)] if auth_token else []
    if control is not None:  # every route signed in and checked against its rule
        table, _ = basic_auth.rule_table(routes, API_PREFIXES)  # a test checks none is missing
        middleware.append(basic_auth.guard(control, table, max_body_bytes))
    middleware += [Middleware(RequestMetrics, metrics=server_metrics)]  # innermost: sees the route
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
    from trk.server.tokens import load_token

    env = os.environ
    serve = env.get(ENV_SERVE, "true") == "true"
    destination = env[ENV_DESTINATION]
    store = store_for_server(env[ENV_BACKEND], destination, serve)
    max_body = int(env.get(ENV_MAX_BODY) or DEFAULT_MAX_BODY_BYTES)
    options = json.loads(env.get(ENV_OPTIONS) or "{}")
    token = load_token(options.pop("auth_token_file", None))
    for name in ("allowed_artifact_roots", "allowed_hosts", "allowed_origins", "protected_aliases"):
        if options.get(name) is not None:
            options[name] = tuple(options[name])
    return create_app(store, destination, serve, token, max_body, **options)


def split_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated flag as a tuple, blanks dropped."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())
