"""pytest plugin for `scripts/mlflow-conformance`: MLflow's fixtures start `trk server`.

MLflow's live-server tests start their server in three ways, each swapped here without
touching a test file:
- `ServerThread(app, port)` after `initialize_backend_stores(backend, artifact_root)`:
  both names are replaced in their modules before the test modules import them;
- `_init_server(backend, artifact_root)`: replaced the same way;
- `mlflow server ...` as a subprocess: `bin/mlflow` (first on PATH) runs `trk server`.
Each trk server gets a fresh sqlite file beside the one MLflow prepared (that one carries
MLflow's schema) and keeps its artifacts under the artifact root the fixture chose. A client
that a test aims at MLflow's file itself (`MlflowClient("sqlite:///...")`, meaning "the
server's store") reaches the trk server standing in for it: each server leaves its URL
beside that file (`stand_in`), and the stores MLflow builds for such a URI are REST stores.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

_stores: dict[str, str] = {}


def trk_backend(mlflow_backend: str) -> str:
    """A fresh trk database beside MLflow's sqlite file (or in a temporary directory)."""
    if mlflow_backend.startswith("sqlite:///"):
        path = Path(mlflow_backend[len("sqlite:///") :])
        return f"sqlite:///{path.with_name(path.stem + '-trk.db')}"
    raise SystemExit(f"conformance: unsupported backend for trk: {mlflow_backend}")


def stand_in(mlflow_backend: str) -> Path | None:
    """Where the URL of the trk server standing in for MLflow's sqlite file is written."""
    if not mlflow_backend.startswith("sqlite:///"):
        return None
    return Path(mlflow_backend[len("sqlite:///") :] + ".trk-url")


def note_stand_in(mlflow_backend: str, url: str) -> None:
    marker = stand_in(mlflow_backend)
    if marker is not None:
        marker.write_text(url)


def redirect_clients() -> None:
    """MLflow's tracking and registry stores for a sqlite URI that a trk server stands in for
    become REST stores of that server (any other URI is built as before)."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    for stores, rest in (
        (tracking._tracking_store_registry, tracking._get_rest_store),
        (registry._get_store_registry(), _registry_rest_store),
    ):
        sql = stores._registry["sqlite"]

        def build(store_uri, *args, _sql=sql, _rest=rest, **kwargs):  # noqa: ANN001, ANN202
            marker = stand_in(store_uri)
            if marker is not None and marker.exists():
                return _rest(marker.read_text())
            return _sql(store_uri, *args, **kwargs)

        stores.register("sqlite", build)


def _registry_rest_store(url: str):  # noqa: ANN202 (mlflow is imported lazily)
    """MLflow's registry REST store, taking a run id of any type as its SQL store does (which
    stores `str(run_id)`; the tests hand it `1`)."""
    from functools import partial

    from mlflow.store.model_registry.rest_store import RestStore
    from mlflow.utils.credentials import get_default_host_creds

    class SqlLikeRestStore(RestStore):
        def create_model_version(self, name, source, run_id=None, *args, **kwargs):  # noqa: ANN001, ANN202
            run_id = None if run_id is None else str(run_id)
            return super().create_model_version(name, source, run_id, *args, **kwargs)

    return SqlLikeRestStore(partial(get_default_host_creds, url))


def root_flags(artifact_root: str) -> list[str]:
    """trk's flags for a fixture's `default_artifact_root`. A local root is used as MLflow
    uses it there: experiments live under it and clients write to it directly (trk's
    `--no-serve-artifacts`); anything else is proxied into the destination. MLflow's tests
    also name locations relative to their working directory or in the temp directory, which
    trk refuses unless allowed: both are allowed roots here, as an operator would list them."""
    if artifact_root.startswith("file:"):
        return ["--artifacts-destination", artifact_root, "--no-serve-artifacts", *allowed_roots()]
    return ["--artifacts-destination", artifact_root, *allowed_roots()]


def allowed_roots() -> list[str]:
    """The tests' working directory and the temp directory, as allowed artifact roots."""
    return ["--allowed-artifact-roots", f"{os.getcwd()},{tempfile.gettempdir()}"]


def start_trk(
    backend: str, flags: list[str], port: int, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`python -m trk.server` on `port` (with `env` added); returns once /health answers."""
    cmd = [sys.executable, "-m", "trk.server", "--backend-store-uri", backend]
    cmd += [*flags, "--port", str(port)]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            if urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("trk server did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def record_stores(backend_store_uri: str, default_artifact_root: str | None = None, *_a, **_k):
    """Stands in for `initialize_backend_stores`: remember what the fixture asked for."""
    _stores["backend"] = backend_store_uri
    _stores["root"] = default_artifact_root or ""


class TrkServerThread:
    """Stands in for MLflow's `ServerThread`: the same context-manager surface."""

    def __init__(self, _app: object, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        import mlflow

        backend = trk_backend(_stores["backend"])
        self.proc = start_trk(backend, root_flags(_stores["root"]), self.port)
        note_stand_in(_stores["backend"], self.url)
        # MLflow's tests point the process's default tracking URI at the very database their
        # server serves (an autouse fixture); trk's server keeps its own database, so that
        # default becomes the server: the same store, reached through trk. MLflow's fixture
        # restores the previous URI when the test ends.
        if _stores["backend"] == mlflow.get_tracking_uri():
            mlflow.set_tracking_uri(self.url)
        return self.url

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None:
            stop(self.proc)


@contextlib.contextmanager
def trk_init_server(
    backend_uri: str,
    root_artifact_uri: str,
    extra_env: dict[str, str] | None = None,
    app: str | None = None,
    *_a: object,
    **_k: object,
) -> Iterator[str]:
    """Stands in for `_init_server`; MLflow's auth app (`mlflow.server.auth:create_app`)
    becomes `--app-name basic-auth`, configured by the same MLFLOW_AUTH_CONFIG_PATH."""
    import mlflow
    from tests.helper_functions import get_safe_port

    mlflow.set_tracking_uri(None)
    port = get_safe_port()
    flags = root_flags(root_artifact_uri)
    env = dict(extra_env or {})
    if app is not None and app.startswith("mlflow.server.auth"):
        flags += ["--app-name", "basic-auth"]
        # MLflow falls back to the basic_auth.ini in its package (an admin with a known
        # password); trk has no default admin, so it is pointed at that same file here.
        if "MLFLOW_AUTH_CONFIG_PATH" not in {**os.environ, **env}:
            from mlflow.server.auth import config

            env["MLFLOW_AUTH_CONFIG_PATH"] = str(config._get_auth_config_path())
    proc = start_trk(trk_backend(backend_uri), flags, port, env)
    note_stand_in(backend_uri, f"http://127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def _children(pid: int) -> list[int]:
    """Every descendant of `pid`, read from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def kill_tree(pid: int) -> None:
    """Stands in for MLflow's psutil-based `kill_process_tree` where psutil is missing: without
    it, their artifact fixture's teardown raises and then waits forever on the server."""
    for victim in [*_children(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        time.sleep(0.1)
    for victim in [*_children(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def pytest_configure(config: object) -> None:
    import importlib.util

    if importlib.util.find_spec("psutil") is None:
        from tests import helper_functions

        helper_functions.kill_process_tree = kill_tree
    if os.environ.get("TRK_CONFORMANCE_TARGET") != "trk":
        return
    from mlflow.server import handlers
    from tests.tracking import integration_test_utils as utils

    handlers.initialize_backend_stores = record_stores
    redirect_clients()
    utils.ServerThread = TrkServerThread
    utils._init_server = trk_init_server
