"""Start the tracking server on uvicorn (uvloop + httptools), one process or N workers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from typing import Any

import uvicorn

from trk import settings
from trk.cli_common import EXIT_BIND
from trk.server import app as app_module
from trk.server.params import DEFAULT_MAX_BODY_BYTES


def run_server(
    backend_uri: str,
    destination: str,
    host: str,
    port: int,
    workers: int = 1,
    serve_artifacts: bool = True,
    auth_token: str | None = None,
    max_body_bytes: int | None = None,
    auth_token_file: str | None = None,
    **options: Any,
) -> None:
    """Migrate the store, then serve until stopped. `options` are create_app's keyword
    arguments (artifact roots, upload limit, allowed hosts and origins)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Opening the store migrates it once here, before any worker races to do it.
    store = app_module.store_for_server(backend_uri, destination, serve_artifacts)
    store.ping()
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        from trk.serving.runner import DrainingServer

        app = app_module.create_app(
            store,
            destination,
            serve_artifacts,
            auth_token,
            max_body_bytes or DEFAULT_MAX_BODY_BYTES,
            **options,
        )
        # Drain on SIGTERM and exit 0, as trk-serve does: a stop is not a crash.
        server = DrainingServer(uvicorn.Config(app, **common))
        server.run()
        if not server.started:
            raise SystemExit(EXIT_BIND)  # could not bind the port: uvicorn logged why
        return
    # Worker processes import the factory afresh; settings travel in the environment, the
    # token never does (each worker reads it from TRK_AUTH_TOKEN or the token file).
    made = None
    if not settings.prometheus_multiproc_dir():  # /metrics sums every worker's series
        made = tempfile.mkdtemp(prefix="trk-server-metrics-")
        settings.set_prometheus_multiproc_dir(made)
    os.environ[app_module.ENV_BACKEND] = backend_uri
    os.environ[app_module.ENV_DESTINATION] = destination
    os.environ[app_module.ENV_SERVE] = "true" if serve_artifacts else "false"
    if max_body_bytes:
        os.environ[app_module.ENV_MAX_BODY] = str(max_body_bytes)
    os.environ[app_module.ENV_OPTIONS] = json.dumps({**options, "auth_token_file": auth_token_file})
    try:
        uvicorn.run("trk.server.app:app_from_env", factory=True, workers=workers, **common)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
