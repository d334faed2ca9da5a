"""Project-wide fixtures. Each block names who owns it; add yours in a block of its own."""

from __future__ import annotations

# ---------------------------------------------------------------------------------------
# PostgreSQL (store): `pg_server` (session) and `pg_uri` (a fresh database per test).
# Uses TRK_TEST_POSTGRES_URI when set; else starts a throwaway cluster from the local
# PostgreSQL binaries; else skips - except under CI=true, where PostgreSQL is required.
# ---------------------------------------------------------------------------------------
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from uvicorn_thread import free_port

# One template per pytest-xdist worker: workers sharing a TRK_TEST_POSTGRES_URI server would
# otherwise drop and recreate each other's template mid-run.
_PG_TEMPLATE = f"trk_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
_pg_counter = itertools.count(1)


def _pg_bin_dir() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return next((d for d in dirs if os.path.exists(os.path.join(d, "initdb"))), None)


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb/postgres refuse to run as root: drop to the Debian package's `postgres` user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


def _start_cluster(bin_dir: str) -> tuple[str, str]:
    """initdb + pg_ctl start on a free port; returns (data dir, server URI without database)."""
    root = tempfile.mkdtemp(prefix="trk-pg-")
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    run = dict(check=True, capture_output=True, timeout=120)
    subprocess.run(
        _as_postgres(
            [f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        **run,
    )
    # Durability off: a throwaway test cluster trades crash safety for speed.
    opts = (
        f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=300"
    )
    subprocess.run(
        _as_postgres(
            [f"{bin_dir}/pg_ctl", "-D", data, "-o", opts, "-l", f"{root}/log", "-w", "start"]
        ),
        **run,
    )
    return data, f"postgresql://postgres@127.0.0.1:{port}"


def _admin(server_uri: str, *statements: str) -> None:
    from sqlalchemy import create_engine

    from trk.store.engine import sql_url

    engine = create_engine(sql_url(f"{server_uri}/postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server URI without a database name, with a migrated template database."""
    given = os.environ.get("TRK_TEST_POSTGRES_URI")
    data = bin_dir = None
    if given:
        server_uri = given.rsplit("/", 1)[0] if given.count("/") > 2 else given
    else:
        bin_dir = _pg_bin_dir()
        if bin_dir is None:
            _skip_or_fail("no TRK_TEST_POSTGRES_URI and no initdb/pg_ctl on this machine")
        try:
            data, server_uri = _start_cluster(bin_dir)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            _skip_or_fail(f"could not start PostgreSQL: {exc} {detail.decode(errors='replace')}")
    try:
        _admin(
            server_uri, f"DROP DATABASE IF EXISTS {_PG_TEMPLATE}", f"CREATE DATABASE {_PG_TEMPLATE}"
        )
        from trk.store.engine import dispose_engine
        from trk.store.migrations import migrate

        migrate(f"{server_uri}/{_PG_TEMPLATE}")  # migrated once; every test db copies it
        dispose_engine(f"{server_uri}/{_PG_TEMPLATE}")
        yield server_uri
    finally:
        if data is not None:
            subprocess.run(
                _as_postgres([f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
            )
            shutil.rmtree(os.path.dirname(data), ignore_errors=True)


@pytest.fixture
def pg_uri(pg_server: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test, dropped afterwards."""
    name = f"t{os.getpid()}_{next(_pg_counter)}"
    _admin(pg_server, f"CREATE DATABASE {name} TEMPLATE {_PG_TEMPLATE} STRATEGY FILE_COPY")
    uri = f"{pg_server}/{name}"
    yield uri
    from trk.store.engine import dispose_engine

    dispose_engine(uri)
    _admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ---------------------------------------------------------------------------------------
# end of the PostgreSQL block
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# S3 (server): `s3_endpoint` (session) is moto's standalone S3 server over HTTP on a free
# loopback port, run as a subprocess; `s3_bucket` (per test) makes a fresh bucket and points
# TRK_S3_ENDPOINT_URL and fake AWS credentials at the endpoint for this test only.
# ---------------------------------------------------------------------------------------
_S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_bucket_counter = itertools.count(1)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """http://127.0.0.1:PORT of a moto S3 server, stopped at the end of the session."""
    import sys
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto S3 server did not start on {url}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket name; the environment points boto3 at the moto endpoint."""
    import boto3

    for key, value in _S3_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRK_S3_ENDPOINT_URL", s3_endpoint)
    name = f"trk-test-{os.getpid()}-{next(_bucket_counter)}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    client.close()
    return name


# ---------------------------------------------------------------------------------------
# end of the S3 block
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# Connection pools (tracking): trk keeps one store per tracking URI per process, and a REST
# store holds an HTTP pool whose idle keep-alive sockets outlive the test servers they point
# at; left open, each is a ResourceWarning at exit. Closed once, after every other session
# fixture (this one is set up first): closing mid-session could race a background thread
# that still logs through a pool.
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _close_store_pools() -> Iterator[None]:
    yield
    from trk.tracking import client as tracking_client

    for store in list(tracking_client._stores.values()):
        transport = getattr(store, "transport", None)
        if transport is not None:
            transport.close()


# ---------------------------------------------------------------------------------------
# Test kinds, by what a test does (`pytest -m unit|integration|e2e`; scripts/check --fast runs
# the unit tests). Every test gets exactly one:
# unit: no process, no network socket, no file beyond tmp_path. A module says so with
#   `pytestmark = pytest.mark.unit`, and `_unit_boundary` holds it to that: a unit test that
#   binds or connects an internet socket, starts a process or leaves a file in the repository
#   fails, naming what it did.
# e2e: starts the real trk, trk-serve or trk server processes: the fixtures below, or
#   `pytestmark = pytest.mark.e2e` (deploy rehearsals and images, the Quickstart demo).
# integration: the rest (real sqlite/PostgreSQL/S3, apps on uvicorn threads, subprocesses of
#   other tools).
# ---------------------------------------------------------------------------------------
_KINDS = ("unit", "integration", "e2e")
_E2E_FIXTURES = {"trk_serve", "server", "server_factory", "module_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        declared = [kind for kind in _KINDS if item.get_closest_marker(kind)]
        if len(declared) > 1:
            raise pytest.UsageError(f"{item.nodeid} is marked {' and '.join(declared)}: pick one")
        if declared:
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.e2e if fixtures & _E2E_FIXTURES else pytest.mark.integration)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m unit` imports only modules that declare unit tests: importing the rest (mlflow,
    torch, ...) takes longer than running every unit test."""
    if config.getoption("markexpr") != "unit" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.unit" not in collection_path.read_text()


# What the embedded defaults write in the working directory: a unit test touching one of these,
# or leaving any new name in the repository, wrote beyond its tmp_path.
_EMBEDDED_DEFAULTS = ("trk.db", "trk-artifacts", "mlruns")


def _stamps(root: Path) -> dict[str, int]:
    """Each top-level name of the repository, with its mtime where it is an embedded default."""
    return {
        entry.name: entry.stat().st_mtime_ns if entry.name.startswith(_EMBEDDED_DEFAULTS) else 0
        for entry in os.scandir(root)
    }


class UnitBoundaryError(AssertionError):
    """A test marked unit did what only an integration or e2e test may do."""


@pytest.fixture(autouse=True)
def _unit_boundary(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    import multiprocessing.util
    import socket
    import threading

    # Threads that were running before this test (an earlier test's delivery thread, say) are
    # not this test's doing; the test's own thread and the threads it starts are.
    earlier = {t for t in threading.enumerate() if t is not threading.current_thread()}
    crossed: list[str] = []

    def refuse(what: str) -> None:
        if threading.current_thread() in earlier:
            return
        crossed.append(what)
        raise UnitBoundaryError(f"a unit test may not {what}: mark the module integration")

    def guard_socket(name: str) -> Callable[..., object]:
        original = getattr(socket.socket, name)

        def guarded(sock: socket.socket, *args: object) -> object:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                refuse(f"{name} a network socket {args[0] if args else ''}")
            return original(sock, *args)

        return guarded

    def guard_call(what: str, original: Callable[..., object]) -> Callable[..., object]:
        def guarded(*args: object, **kwargs: object) -> object:
            refuse(what)
            return original(*args, **kwargs)

        return guarded

    root = request.config.rootpath
    before = _stamps(root)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("bind", "connect", "connect_ex"):
            mp.setattr(socket.socket, name, guard_socket(name))
        mp.setattr(
            subprocess.Popen, "__init__", guard_call("start a process", subprocess.Popen.__init__)
        )
        spawn = multiprocessing.util.spawnv_passfds
        mp.setattr(multiprocessing.util, "spawnv_passfds", guard_call("start a process", spawn))
        for name in ("fork", "posix_spawn", "posix_spawnp", "system"):
            mp.setattr(os, name, guard_call("start a process", getattr(os, name)))
        yield
    left = sorted(name for name, stamp in _stamps(root).items() if before.get(name) != stamp)
    if left:
        crossed.append(f"leave files in the repository: {left}")
    if crossed:
        pytest.fail(f"unit test crossed its boundary: {crossed}", pytrace=False)
