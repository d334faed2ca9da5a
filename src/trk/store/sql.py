"""`SqlStore`: the tracking store and model registry on sqlite or PostgreSQL (SQLAlchemy 2 Core).

The methods live in one mixin per noun (experiments, runs, run inputs, model metrics,
registry, stages); this module composes them and prepares the database (migrations, the Default
experiment) on first open.
"""

from __future__ import annotations

from collections.abc import Sequence

from trk.contracts.store import Store
from trk.entities import LoggedModel
from trk.store.access import SqlAccess
from trk.store.gc import SqlGarbage
from trk.store.logged_models import SqlLoggedModels
from trk.store.prediction_log import SqlPredictionLog
from trk.store.promotions import SqlPromotions
from trk.store.rollouts import SqlRollouts
from trk.store.sql_model_metrics import SqlModelMetrics
from trk.store.sql_stages import SqlStages
from trk.store.webhooks import SqlWebhooks
from trk.webhooks.dispatcher import dispatcher_for
from trk.webhooks.policy import DeliveryPolicy


class SqlStore(SqlModelMetrics, SqlStages, Store):
    """Tracking + registry in one SQL database; safe for many threads and processes."""

    logged_models: SqlLoggedModels  # always there (a REST store has none)

    def __init__(
        self, uri: str, default_artifact_root: str, webhook_policy: DeliveryPolicy | None = None
    ) -> None:
        # Kept exactly as the caller gave it (a path or a URI): the caller decides the form.
        self.default_artifact_root = default_artifact_root.rstrip("/") or "/"
        super().__init__(uri)
        # Registry events -> webhooks, delivered by one background dispatcher per database.
        self.webhooks = SqlWebhooks(self._engine, webhook_policy or DeliveryPolicy.from_settings())
        self.listeners = (dispatcher_for(uri, self.webhooks, self.webhooks.policy),)
        self.logged_models = SqlLoggedModels(self)
        self.predictions = SqlPredictionLog(self._engine)  # serving replicas' shared log
        self.rollouts = SqlRollouts(self._engine, self.listeners)  # progressive rollouts
        self.garbage = SqlGarbage(self._engine)  # `trk gc`: deleted runs removed for good
        self.access = SqlAccess(self._engine)  # users, tokens, grants (basic-auth app)
        self.promotions = SqlPromotions(self._engine)  # protected aliases, alias history

    # -- logged models: their own tables, same database ------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        return self.logged_models.create(
            experiment_id, name, model_type, source_run_id, params, tags
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self.logged_models.get(model_id)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self.logged_models.finalize(model_id, status)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[dict[str, object]] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        return self.logged_models.search(
            experiment_ids, filter_string, max_results, order_by, page_token
        )

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the version's files live: its source, or the logged model it names."""
        return self.logged_models.resolve_source(
            super().get_model_version_download_uri(name, version)
        )

    def _ensure_schema(self) -> None:
        super()._ensure_schema()
        with self._read() as conn:
            if self._has_default_experiment(conn):
                return
        with self._write() as conn:
            self._ensure_default_experiment(conn)
