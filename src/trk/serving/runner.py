"""Run the app on uvicorn (uvloop + httptools), one process or N workers: TCP_NODELAY, one
write per response."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import socket
import tempfile
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trk import settings as env
from trk.cli_common import EXIT_BIND
from trk.exceptions import InvalidParameter
from trk.serving.config import ServeSettings
from trk.serving.core.metrics import MULTIPROC_ENV
from trk.serving.http.transport import HeldWrites

log = logging.getLogger("trk.serving")


class ServingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY on every accepted connection, and each
    response's head and body sent in one write (`http/transport.py`).

    With `--workers N` uvicorn shares one listening socket rebuilt from a file descriptor;
    asyncio does not recognise it as TCP and leaves Nagle's algorithm on, so each small
    response waits ~40 ms for the client's delayed ACK. Setting the option here removes it.
    """

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # a unix socket or an already closed connection
                pass
        super().connection_made(HeldWrites(transport, self.loop))


class DrainingServer(uvicorn.Server):
    """uvicorn's server, exiting 0 after a SIGTERM drain instead of re-raising the signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        with super().capture_signals():
            yield
            # uvicorn re-raises the signal it caught once drained (the process then dies of
            # SIGTERM); a finished graceful shutdown is a success for process supervisors.
            self._captured_signals.clear()


def build_app(settings: ServeSettings) -> Any:
    """The app, built from settings (in worker processes too)."""
    from trk.serving.http.app import create_app

    return create_app(settings)


def app_factory() -> Any:
    """uvicorn's factory in worker processes: settings come from the parent as JSON."""
    raw = env.serve_settings_json()
    if raw is None:
        raise InvalidParameter(f"{env.SERVE_SETTINGS_ENV} is not set: start with trk-serve")
    return build_app(ServeSettings(**json.loads(raw)))


def uvicorn_kwargs(settings: ServeSettings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "trk.serving.runner:ServingHttpProtocol",
        "lifespan": "on",
        "access_log": False,
        # uvicorn's X-Forwarded-* middleware rewrites each request's client and scheme,
        # which trk-serve never reads: it wrapped every request in one more coroutine.
        "proxy_headers": False,
        # No `server: uvicorn` on every answer: it names the stack to any client, and uvicorn
        # checks each header of each response with two regular expressions (0.3 us for it).
        "server_header": False,
        "log_level": "info",
        # SIGTERM drains in-flight requests this long, then cancels them: a stalled client
        # or a hung predict cannot hold the shutdown past the orchestrator's kill.
        "timeout_graceful_shutdown": settings.graceful_timeout_s,
    }


def run(settings: ServeSettings) -> None:
    """Serve until SIGTERM/SIGINT: stop accepting, finish in-flight requests, return."""
    if settings.workers == 1:
        server = DrainingServer(uvicorn.Config(build_app(settings), **uvicorn_kwargs(settings)))
        server.run()
        if not server.started:
            raise SystemExit(EXIT_BIND)  # could not bind the port: uvicorn logged why
        return
    # Prometheus multiprocess mode: every worker writes its series to files in one fresh
    # directory, and /metrics in any worker sums them. The variable must be set before the
    # workers start (prometheus_client reads it when first imported there).
    metrics_dir = tempfile.mkdtemp(prefix="trk-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[env.SERVE_SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
    try:
        uvicorn.run(
            "trk.serving.runner:app_factory",
            factory=True,
            workers=settings.workers,
            **uvicorn_kwargs(settings),
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
