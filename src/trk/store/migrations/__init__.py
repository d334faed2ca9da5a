"""Schema migrations (Alembic), run programmatically: no alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

HEAD = "0012"
_HERE = Path(__file__).resolve().parent
# Any constant works: it only serialises concurrent migrators on one PostgreSQL database.
_PG_LOCK_KEY = 7_243_011


def current_revision(conn: Connection) -> str | None:
    """The revision stamped in the database, None when it has never been migrated."""
    if not conn.dialect.has_table(conn, "alembic_version"):
        return None
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def upgrade(conn: Connection) -> None:
    """Bring the schema to HEAD inside the caller's (write) transaction, once per database."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    # Re-checked under the lock: another process may have migrated while we waited.
    if current_revision(conn) == HEAD:
        return
    # Alembic is imported only to migrate: a current store (every trk-serve start) skips its
    # import, ~0.4 s and ~20 MB of a serving process.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def migrate(uri: str) -> str:
    """`trk db upgrade`: migrate the store at `uri` to the newest schema; returns the revision."""
    from trk.store.engine import engine_for, write_connection

    engine = engine_for(uri)
    with write_connection(engine) as conn:
        upgrade(conn)
        return current_revision(conn) or HEAD
