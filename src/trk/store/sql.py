"""`SqlStore`: the tracking store and model registry on sqlite or PostgreSQL (SQLAlchemy 2 Core).

The methods live in one mixin per noun (experiments, runs, registry); this module composes
them and prepares the database (migrations, the Default experiment) on first open.
"""

from __future__ import annotations

from trk.store.base import Store
from trk.store.sql_registry import SqlRegistry
from trk.store.sql_runs import SqlRuns
from trk.store.webhooks import SqlWebhooks
from trk.webhooks.dispatcher import dispatcher_for
from trk.webhooks.policy import DeliveryPolicy


class SqlStore(SqlRuns, SqlRegistry, Store):
    """Tracking + registry in one SQL database; safe for many threads and processes."""

    def __init__(
        self, uri: str, default_artifact_root: str, webhook_policy: DeliveryPolicy | None = None
    ) -> None:
        # Kept exactly as the caller gave it (a path or a URI): the caller decides the form.
        self.default_artifact_root = default_artifact_root.rstrip("/") or "/"
        super().__init__(uri)
        # Registry events -> webhooks, delivered by one background dispatcher per database.
        self.webhooks = SqlWebhooks(self._engine, webhook_policy or DeliveryPolicy.from_settings())
        self.listeners = (dispatcher_for(uri, self.webhooks, self.webhooks.policy),)

    def _ensure_schema(self) -> None:
        super()._ensure_schema()
        with self._read() as conn:
            if self._has_default_experiment(conn):
                return
        with self._write() as conn:
            self._ensure_default_experiment(conn)
