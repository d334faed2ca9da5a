"""Serving fixtures: a free port, iris models registered in a real sqlite store, real servers.

- `iris_env` (session): sqlite store + artifacts in a temp dir with `iris` v1 (logistic
  regression, alias champion), v2 (random forest, alias challenger) and `toy` v1 (a custom
  pyfunc model that sleeps or raises on request). `.env` holds the variables a subprocess needs.
- `serve_app(settings)`: uvicorn on 127.0.0.1 in a thread, serving `create_app(settings)`.
- `trk_serve(*args)`: the real `trk-serve` as a subprocess; stopped by its pid afterwards.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from serving_helpers import TRK_SERVE, IrisEnv, ThreadServer, register, stop_all, wait_for

from uvicorn_thread import free_port


@pytest.fixture(scope="session")
def iris_env(tmp_path_factory) -> Iterator[IrisEnv]:
    root = tmp_path_factory.mktemp("serving-store")
    env = {
        "TRK_ARTIFACT_ROOT": str(root / "artifacts"),
        "TRK_MODEL_CACHE": str(root / "cache"),
    }
    tracking_uri = f"sqlite:///{root / 'trk.db'}"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        x, lr, rf = register(tracking_uri, root)
        yield IrisEnv(root, tracking_uri, {**env, "TRK_TRACKING_URI": tracking_uri}, x, lr, rf)


@pytest.fixture(scope="session")
def hardening_env(iris_env) -> IrisEnv:
    """`iris_env` plus `sleepy@challenger` and `nosig@champion` (tests/serving/hardening_models)."""
    from hardening_models import register_hardening_models

    register_hardening_models(iris_env.tracking_uri)
    return iris_env


@pytest.fixture
def serve_app(iris_env) -> Iterator[Any]:
    """Factory: start `create_app(ServeSettings(**kw))` on a real port; stopped at teardown."""
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    servers: list[ThreadServer] = []

    def start(ready: bool = True, **kw: Any) -> ThreadServer:
        kw.setdefault("tracking_uri", iris_env.tracking_uri)
        kw.setdefault("model_uri", "models:/iris@champion")
        server = ThreadServer(create_app(ServeSettings(**kw))).start(ready)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def iris_server(iris_env) -> Iterator[ThreadServer]:
    """One shared in-thread server for `models:/iris@champion` (read-only tests)."""
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    settings = ServeSettings(model_uri="models:/iris@champion", tracking_uri=iris_env.tracking_uri)
    server = ThreadServer(create_app(settings)).start()
    yield server
    server.stop()


@pytest.fixture
def trk_serve(iris_env) -> Iterator[Any]:
    """Factory: start the real `trk-serve` CLI on a free port; returns (process, base URL)."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, wait: bool = True) -> tuple[subprocess.Popen, str]:
        port = free_port()
        proc = subprocess.Popen(
            [TRK_SERVE, "--port", str(port), *args],
            env={**os.environ, **iris_env.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # SIGTERM tests signal this process alone
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        if wait:
            wait_for(url, proc=proc)
        return proc, url

    yield start
    stop_all(procs)
