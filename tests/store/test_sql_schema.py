"""Schema, migrations, engines and store opening: get_store, sqlite tuning, Unavailable."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from trk.exceptions import InvalidParameter, Unavailable
from trk.store import get_store, migrations, sql_base
from trk.store.engine import dispose_engine, engine_for
from trk.store.schema import metadata
from trk.store.sql import SqlStore


def _import_all_store_modules() -> None:
    # Tables may be declared on `schema.metadata` by any trk.store module: load them all.
    import trk.store

    for module in pkgutil.iter_modules(trk.store.__path__, "trk.store."):
        if module.name != "trk.store.rest":  # the REST client declares no tables
            importlib.import_module(module.name)


def test_migration_matches_table_definitions(store):
    # The tables are created only by Alembic; the declarations must match what it made.
    _import_all_store_modules()
    with store._engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert migrations.current_revision(conn) == migrations.HEAD
    assert diff == []


def test_sqlite_is_tuned_for_concurrent_writers(sqlite_store):
    with sqlite_store._engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == 30000
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("foreign_keys") == 1


def test_migrate_then_open_skips_alembic(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert migrations.migrate(uri) == migrations.HEAD
    assert migrations.migrate(uri) == migrations.HEAD  # idempotent
    dispose_engine(uri)

    def no_alembic(conn):
        raise AssertionError("an up-to-date store must not run migrations")

    monkeypatch.setattr(migrations, "upgrade", no_alembic)
    store = SqlStore(uri, str(tmp_path / "a"))
    assert store.get_experiment("0").name == "Default"
    dispose_engine(uri)


def test_store_opened_twice_shares_the_engine(sqlite_uri, tmp_path):
    first = SqlStore(sqlite_uri, str(tmp_path))
    second = SqlStore(sqlite_uri, str(tmp_path))
    assert first._engine is second._engine is engine_for(sqlite_uri)
    assert sqlite_uri in sql_base._checked


def test_get_store(sqlite_uri, tmp_path, monkeypatch):
    store = get_store(sqlite_uri, "s3://bucket/root/")
    assert isinstance(store, SqlStore)
    assert store.get_experiment("0").artifact_location == "s3://bucket/root/0"
    other = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "from-env"))
    assert get_store(other).get_experiment("0").artifact_location == f"{tmp_path}/from-env/0"
    dispose_engine(other)
    for bad in ("mysql://x/y", "ftp://host/x", "trk.db"):
        with pytest.raises(InvalidParameter, match="Unsupported tracking URI"):
            get_store(bad)


def test_postgres_scheme_spelling(pg_uri, tmp_path):
    short = pg_uri.replace("postgresql://", "postgres://", 1)
    store = get_store(short, str(tmp_path))
    store.ping()
    assert store.uri == pg_uri


def test_unreachable_databases_raise_unavailable(tmp_path):
    missing_dir = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    with pytest.raises(Unavailable, match="dir.db"):
        SqlStore(missing_dir, str(tmp_path))
    dispose_engine(missing_dir)
    closed = "postgresql://nobody:secret@127.0.0.1:9/none"  # port 9 (discard) is never served
    with pytest.raises(Unavailable, match="127.0.0.1:9") as info:
        SqlStore(closed, str(tmp_path))
    assert "secret" not in str(info.value)
    dispose_engine(closed)


def test_opening_a_current_sqlite_store_imports_only_what_it_uses(tmp_path):
    # Every trk-serve start opens the store: Alembic (~0.4 s, ~20 MB) is for migrating only,
    # the PostgreSQL dialect for PostgreSQL, httpx (webhooks) for the first delivery.
    import subprocess
    import sys

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    migrations.migrate(uri)
    code = (
        "import sys\nfrom trk.store.sql import SqlStore\n"
        f"SqlStore({uri!r}, {str(tmp_path / 'a')!r}).get_experiment('0')\n"
        "heavy = ('alembic', 'sqlalchemy.dialects.postgresql', 'httpx')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
