"""Store fixtures: a SqlStore on a fresh sqlite file, and the same on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from trk.store import schema
from trk.store.engine import dispose_engine
from trk.store.sql import SqlStore


@pytest.fixture
def sqlite_uri(tmp_path):
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    yield uri
    dispose_engine(uri)


@pytest.fixture
def sqlite_store(sqlite_uri, tmp_path) -> SqlStore:
    return SqlStore(sqlite_uri, str(tmp_path / "artifacts"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> SqlStore:
    """The same tests on sqlite and, where a server is available, PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_store")
    return SqlStore(request.getfixturevalue("pg_uri"), str(tmp_path / "artifacts"))


@pytest.fixture
def counts():
    """`counts(store)`: rows per table, to prove that a refused call wrote nothing."""

    def count(store) -> dict[str, int]:
        with store._engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in schema.metadata.sorted_tables
            }

    return count
