"""Persistence behind tracking and the registry: `get_store(uri)` picks the implementation."""

from __future__ import annotations

import os

from trk.contracts.store import Store
from trk.exceptions import InvalidParameter

DEFAULT_ARTIFACT_ROOT = "trk-artifacts"
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres")


def get_store(uri: str, default_artifact_root: str | None = None) -> Store:
    """The store for a tracking URI: sqlite:///..., postgresql://..., or http(s):// (REST)."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("http", "https"):
        from trk.store.rest import RestStore  # written separately; imported only when used

        return RestStore(uri)
    base = scheme.split("+", 1)[0]
    if base not in _SQL_SCHEMES:
        from trk.uri import redacted

        raise InvalidParameter(
            f"Unsupported tracking URI {redacted(uri)!r}: use sqlite:///, postgresql:// or "
            "http(s)://"
        )
    if base == "postgres":  # SQLAlchemy only knows the long spelling
        uri = "postgresql" + uri[len("postgres") :]
    from trk.store.sql import SqlStore

    return SqlStore(uri, default_artifact_root or _default_artifact_root())


def _default_artifact_root() -> str:
    from trk import settings

    return settings.artifact_root_from_env() or os.path.abspath(DEFAULT_ARTIFACT_ROOT)
