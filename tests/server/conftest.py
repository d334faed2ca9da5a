"""Server fixtures: `trk server` as a real subprocess on a free loopback port, stopped by pid."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import ServerProcess, start_server

from trk.store.rest import RestStore


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """`server_factory(backend=None, destination=None, *flags, env=None)`; all stopped after."""
    started: list[ServerProcess] = []

    def make(
        backend: str | None = None,
        destination: str | None = None,
        *flags: str,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        n = len(started)
        backend = backend or f"sqlite:///{tmp_path / f'server{n}.db'}"
        destination = destination or str(tmp_path / f"artifacts{n}")
        server = start_server(backend, destination, tmp_path / f"server{n}.log", *flags, env=env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill(signal.SIGTERM)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh backend store URI: a sqlite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backend.db'}"
    return request.getfixturevalue("pg_uri")


@pytest.fixture
def rest_stores() -> Iterator[Callable[..., RestStore]]:
    """`rest_stores(url, **options)`: a RestStore whose connections close after the test."""
    made: list[RestStore] = []

    def make(url: str, **options: Any) -> RestStore:
        made.append(RestStore(url, **options))
        return made[-1]

    yield make
    for store in made:
        store.transport.close()


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """One server on a sqlite file with local artifacts."""
    return server_factory()


# -- MLflow compatibility tests (issue 19): the real `mlflow` client on `server` -------------
@pytest.fixture
def mlflow_client(server: ServerProcess):  # noqa: ANN201 (mlflow is imported lazily)
    """`mlflow.MlflowClient` for tracking and registry on `server`."""
    from mlflow import MlflowClient

    return MlflowClient(server.url, server.url)


@pytest.fixture
def run_id(mlflow_client) -> str:  # noqa: ANN001
    """A fresh run in a fresh experiment on `server`."""
    return mlflow_client.create_run(mlflow_client.create_experiment("compat")).info.run_id


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One sqlite-backed server for a whole module (its tests use model names of their own)."""
    tmp = tmp_path_factory.mktemp("server")
    proc = start_server(f"sqlite:///{tmp / 'trk.db'}", str(tmp / "artifacts"), tmp / "log")
    yield proc
    proc.kill()


@pytest.fixture
def rest_store(module_server: ServerProcess) -> Iterator[RestStore]:
    """The REST store client of `module_server`."""
    store = RestStore(module_server.url)
    yield store
    store.transport.close()
