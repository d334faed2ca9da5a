"""SQLAlchemy engines: one per URI per process, tuned for sqlite (WAL, busy timeout,
BEGIN IMMEDIATE) and PostgreSQL (pre-ping pool), with connection errors mapped to Unavailable."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from trk.exceptions import InvalidParameter, Unavailable
from trk.uri import redacted

SQLITE_BUSY_TIMEOUT_S = 30
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_for(uri: str) -> Engine:
    """The process-wide engine for `uri` (created on first use)."""
    with _lock:
        engine = _engines.get(uri)
        if engine is None:
            engine = _engines[uri] = _create(uri)
        return engine


def dispose_engine(uri: str) -> None:
    """Closes and forgets the engine for `uri` (tests dropping a database need this)."""
    with _lock:
        engine = _engines.pop(uri, None)
    if engine is not None:
        engine.dispose()
    from trk.store import sql_base

    sql_base.forget(uri)


def display_uri(engine: Engine) -> str:
    """The engine's URI with any password hidden, for error messages."""
    return engine.url.render_as_string(hide_password=True)


def sql_url(uri: str) -> URL:
    """The SQLAlchemy URL for a store URI; plain postgresql:// uses whichever driver is installed."""
    try:
        url = make_url(uri)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # SQLAlchemy's message repeats the URI, password and all: name it redacted instead.
        raise InvalidParameter(f"Malformed database URI {redacted(uri)!r}") from None
    # SQLAlchemy 2.1 defaults to psycopg 3; fall back to psycopg2 when only that is present.
    if url.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None:
        url = url.set(drivername="postgresql+psycopg2")
    return url


def _create(uri: str) -> Engine:
    url = sql_url(uri)
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(uri)
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except NoSuchModuleError as exc:
        raise InvalidParameter(f"Unsupported database URI {redacted(uri)!r}: {exc}") from None


def _sqlite_engine(uri: str) -> Engine:
    engine = create_engine(
        uri, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # the DB-API driver's own
        # Take transaction control away from pysqlite so `_on_begin` decides the BEGIN kind.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # LIKE is case-sensitive in MLflow's grammar (ILIKE is the insensitive one).
        cursor.execute("PRAGMA case_sensitive_like = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so they queue on busy_timeout instead of failing
        # with 'database is locked' when a deferred read transaction tries to upgrade.
        kind = "DEFERRED" if conn.get_execution_options().get("trk_read") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {kind}")

    return engine


@contextmanager
def unavailable_on_failure(engine: Engine) -> Iterator[None]:
    """Turns 'cannot connect / database gone' driver errors into `Unavailable`."""
    try:
        yield
    except OperationalError as exc:
        raise Unavailable(f"Tracking store {display_uri(engine)} failed: {exc.orig}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable(f"Lost connection to {display_uri(engine)}: {exc.orig}") from exc
        raise


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed on success, rolled back on error."""
    with unavailable_on_failure(engine), engine.begin() as conn:
        yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads (a deferred transaction on sqlite, so readers never queue)."""
    with unavailable_on_failure(engine), engine.connect() as raw:
        conn = raw.execution_options(trk_read=True)
        try:
            yield conn
        finally:
            conn.rollback()


def _dispose_after_fork() -> None:
    # A forked child must not reuse the parent's sockets / sqlite handles.
    for engine in _engines.values():
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_dispose_after_fork)
