"""What every part of the SQL store shares: the engine, transactions, schema check, upserts."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from trk.exceptions import InvalidParameter, Unavailable
from trk.store import migrations
from trk.store.engine import display_uri, engine_for, read_connection, write_connection

# Databases already checked to be at HEAD in this process (opening a store again is free).
_checked: set[str] = set()


class WriteConflict(InvalidParameter):
    """A write the database refused for a constraint (a race, or input the checks missed).

    Callers that expect one (a name taken meanwhile, a version number taken by a concurrent
    creator) catch it; anywhere else it reaches the user as a 400, never a raw IntegrityError.
    """


def forget(uri: str) -> None:
    """Check the schema again on the next open of `uri`."""
    _checked.discard(uri)


def now_ms() -> int:
    """Milliseconds since the epoch, MLflow's time unit."""
    return int(time.time() * 1000)


class SqlBase:
    """Engine and transaction plumbing; the tracking and registry mixins build on it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._engine = engine_for(uri)
        self.display_uri = display_uri(self._engine)
        if uri not in _checked:
            self._ensure_schema()
            _checked.add(uri)

    def _ensure_schema(self) -> None:
        # Fast path: one SELECT of the stamped revision; Alembic loads only when behind.
        with self._read() as conn:
            if migrations.current_revision(conn) == migrations.HEAD:
                return
        with self._write() as conn:
            migrations.upgrade(conn)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with write_connection(self._engine) as conn:
                yield conn
        except IntegrityError as exc:
            raise WriteConflict(f"{self.display_uri} refused the write: {exc.orig}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with read_connection(self._engine) as conn:
            yield conn

    def ping(self) -> None:
        """`SELECT 1`; raises Unavailable naming the URI when the database cannot answer."""
        try:
            with self._read() as conn:
                conn.execute(text("SELECT 1"))
        except (DBAPIError, Unavailable) as exc:
            raise Unavailable(f"Tracking store {self.display_uri} is unavailable: {exc}") from exc

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] = (),
    where: Callable[[Any], Any] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE/NOTHING, on sqlite and PostgreSQL alike.

    `where(excluded)` may restrict the update; pass a module-level function so the
    statement is built (and compiled by SQLAlchemy) once, not per call.
    """
    if rows:
        stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(update), where)
        conn.execute(stmt, list(rows))


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    update: tuple[str, ...],
    where: Callable[[Any], Any] | None,
) -> Any:
    if dialect == "postgresql":
        # imported on first use: the dialect package costs every sqlite process ~0.2 s to load
        from sqlalchemy.dialects import postgresql

        stmt: Any = postgresql.insert(table)
    else:
        stmt = sqlite.insert(table)
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    set_ = {col: stmt.excluded[col] for col in update}
    cond = where(stmt.excluded) if where is not None else None
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_, where=cond)
