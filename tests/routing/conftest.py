"""Routing fixtures: a sqlite store with iris and faulty challengers, servers in threads or
as `trk-serve` subprocesses (stopped by pid at teardown).

- `routing_env` (session): `iris` v1 (logistic regression, @champion) and v2 (random forest,
  @challenger), plus sources of faulty pyfunc models; `routing_env.new_model("lr", "rf")`
  makes a fresh registered model over those sources for tests that move aliases.
- `serve(**settings)`: uvicorn on a free port serving `create_app(ServeSettings(...))`.
- `trk_serve(*args)`: the real CLI as a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "serving"))  # shared server helpers

from routing_helpers import RoutingEnv, register, settled, wait_started  # noqa: E402
from serving_helpers import TRK_SERVE, ThreadServer, wait_until  # noqa: E402

from uvicorn_thread import free_port  # noqa: E402


@pytest.fixture(scope="session")
def routing_env(tmp_path_factory) -> Iterator[RoutingEnv]:
    root = tmp_path_factory.mktemp("routing-store")
    env = {"TRK_ARTIFACT_ROOT": str(root / "artifacts"), "TRK_MODEL_CACHE": str(root / "cache")}
    tracking_uri = f"sqlite:///{root / 'trk.db'}"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        x, lr, rf, sources = register(tracking_uri)
        yield RoutingEnv(
            root, tracking_uri, {**env, "TRK_TRACKING_URI": tracking_uri}, x, lr, rf, sources
        )


@pytest.fixture
def serve(routing_env) -> Iterator[Any]:
    """Factory: start `create_app(ServeSettings(**kw))` on a real port; stopped at teardown."""
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    servers: list[ThreadServer] = []

    def start(**kw: Any) -> ThreadServer:
        kw.setdefault("tracking_uri", routing_env.tracking_uri)
        kw.setdefault("model_uri", "models:/iris@champion")
        kw.setdefault("report_interval_s", 3600.0)
        server = ThreadServer(create_app(ServeSettings(**kw))).start()
        servers.append(server)
        wait_until(lambda: settled(server.url))
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def trk_serve(routing_env, tmp_path) -> Iterator[Any]:
    """Factory: the real `trk-serve` on a free port; returns (process, base URL, log path).

    The log goes to a file, not a pipe: a chatty server must never block on a full pipe.
    """
    procs: list[subprocess.Popen] = []

    def start(*args: str, wait: bool = True, env: dict[str, str] | None = None) -> Any:
        port = free_port()
        log_path = tmp_path / f"trk-serve-{port}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [TRK_SERVE, "--port", str(port), *args],
                env={**os.environ, **routing_env.env, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        if wait:
            wait_started(url, proc, log_path)
        return proc, url, log_path

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
