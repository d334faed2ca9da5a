"""`trk.Client`: MlflowClient's everyday methods over any store (sqlite, PostgreSQL, REST)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trk import settings
from trk.artifacts import ArtifactRepository, get_artifact_repository
from trk.contracts.store import Store
from trk.contracts.surfaces import WebhookStore
from trk.contracts.webhooks import Delivery, TestResult, Webhook
from trk.entities import (
    Experiment,
    FileInfo,
    LoggedModel,
    Metric,
    ModelVersion,
    PagedList,
    Param,
    RegisteredModel,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from trk.exceptions import InvalidParameter
from trk.store.validation import (
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)
from trk.uri import check_tracking_uri, logged_model_id

_tracking_uri: str | None = None
_stores: dict[str, Store] = {}
_lock = threading.Lock()


def set_tracking_uri(uri: str | Path) -> None:
    """Point this process at a tracking store (sqlite:///, postgresql://, http(s)://)."""
    global _tracking_uri
    uri = str(uri)
    if "://" not in uri:  # a bare path means a sqlite file, as in MLflow
        uri = f"sqlite:///{Path(uri).resolve()}"
    _tracking_uri = check_tracking_uri(uri)


def get_tracking_uri() -> str:
    return _tracking_uri or settings.default_tracking_uri()


def store_for(uri: str) -> Store:
    """One store object per URI per process (stores hold connection pools)."""
    with _lock:
        store = _stores.get(uri)
        if store is None:
            from trk.store import get_store

            store = _stores[uri] = get_store(check_tracking_uri(uri))
        return store


def get_default_store() -> Store:
    return store_for(get_tracking_uri())


def _now_ms() -> int:
    return int(time.time() * 1000)


def _as_str(version: str | int) -> str:
    return str(version)


class Client:
    """The MlflowClient methods everyday workflows use, with MlflowClient's signatures."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self.tracking_uri = check_tracking_uri(tracking_uri) if tracking_uri else get_tracking_uri()
        self.store = store_for(self.tracking_uri)

    @classmethod
    def for_store(cls, store: Store, tracking_uri: str = "") -> Client:
        """A client over a store that is already open (the tracking server's own)."""
        client = cls.__new__(cls)
        client.tracking_uri, client.store = tracking_uri, store
        return client

    # -- experiments -----------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self.store.search_experiments(
            ViewType(view_type), max_results, filter_string, order_by, page_token
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.store.rename_experiment(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.store.set_experiment_tag(str(experiment_id), key, str(value))

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_run(
            str(experiment_id), settings.user_name(), start_time or _now_ms(), tags, run_name
        )

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str | None = "FINISHED", end_time: int | None = None
    ) -> None:
        status = RunStatus(status or "FINISHED")
        if not status.terminated:
            raise InvalidParameter(f"set_terminated needs a terminal status, got {status}")
        self.store.update_run_info(run_id, status=status, end_time=end_time or _now_ms())

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        self.store.update_run_info(run_id, status=status, run_name=name)

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        return self.store.search_runs(
            [str(e) for e in experiment_ids],
            filter_string or "",
            ViewType(run_view_type),
            max_results,
            order_by,
            page_token,
        )

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.store.log_param(run_id, Param(key, str(value)))
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        self.store.log_metric(run_id, Metric(key, value, timestamp or _now_ms(), step or 0))

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.store.set_tag(run_id, RunTag(key, str(value)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Logged in batches within the stores' limits (MLflow's client splits them too)."""
        for part in batches(list(metrics), list(params), list(tags)):
            self.store.log_batch(run_id, *part)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self.store.get_metric_history(run_id, key)

    # -- artifacts -------------------------------------------------------------------------
    def _artifacts(self, run_id: str) -> ArtifactRepository:
        return get_artifact_repository(self.get_run(run_id).info.artifact_uri)

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> None:
        with self._artifacts(run_id) as repo:
            if Path(local_path).is_dir():
                name = Path(local_path).name
                repo.log_artifacts(local_path, f"{artifact_path}/{name}" if artifact_path else name)
            else:
                repo.log_artifact(local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str | None = None
    ) -> None:
        with self._artifacts(run_id) as repo:
            repo.log_artifacts(local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        with self._artifacts(run_id) as repo:
            return repo.list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | Path | None = None) -> str:
        import tempfile

        dst = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="trk-"))
        with self._artifacts(run_id) as repo:
            return str(repo.download_artifacts(path, dst))

    # -- registered models -----------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self.store.search_registered_models(filter_string, max_results, order_by, page_token)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self.store.update_registered_model(name, description)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.store.rename_registered_model(name, new_name)

    def delete_registered_model(self, name: str) -> None:
        self.store.delete_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.store.set_registered_model_tag(name, key, str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.store.delete_registered_model_tag(name, key)

    # -- logged models (MLflow 3) ----------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        return self.store.create_logged_model(
            str(experiment_id),
            name,
            source_run_id,
            model_type,
            {k: str(v) for k, v in (params or {}).items()},
            {k: str(v) for k, v in (tags or {}).items()},
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self.store.get_logged_model(model_id)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self.store.finalize_logged_model(model_id, status)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        return self.store.search_logged_models(
            [str(e) for e in experiment_ids], filter_string, max_results, order_by, page_token
        )

    def log_model_artifacts(self, model_id: str, local_dir: str | Path) -> None:
        """Upload a model directory into the logged model's own location."""
        location = self.store.get_logged_model(model_id).artifact_location
        with get_artifact_repository(location) as repo:
            repo.log_artifacts(local_dir)

    # -- model versions --------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register `source` (MLflow 3: usually `models:/m-<id>`) and pin its files' digest."""
        tags = {k: str(v) for k, v in (tags or {}).items()}
        model_id = model_id or logged_model_id(source)
        # A trk server pins from the files it holds; a local store pins here, before the write.
        manifest = None if self.store.remote else self._manifest(source)
        return self.store.create_model_version(
            name, source, run_id, tags, description, model_id=model_id, manifest=manifest
        )

    def _manifest(self, source: str) -> dict[str, str] | None:
        from trk.artifacts.manifest import of_repository
        from trk.uri import resolve_artifact_uri

        with get_artifact_repository(resolve_artifact_uri(source, self.store)) as repo:
            return of_repository(repo)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.store.get_model_version(name, _as_str(version))

    def update_model_version(
        self, name: str, version: str | int, description: str | None = None
    ) -> ModelVersion:
        return self.store.update_model_version(name, _as_str(version), description)

    def delete_model_version(self, name: str, version: str | int) -> None:
        self.store.delete_model_version(name, _as_str(version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.store.search_model_versions(filter_string, max_results, order_by, page_token)

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self.store.set_model_version_tag(name, _as_str(version), key, str(value))

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self.store.delete_model_version_tag(name, _as_str(version), key)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self.store.get_model_version_download_uri(name, _as_str(version))

    # -- aliases ---------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        self.store.set_registered_model_alias(name, alias, _as_str(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_model_version_by_alias(name, alias)

    # -- stages (MLflow's, deprecated: aliases are what serving and promotion follow) ------
    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Moves the version to `stage` (MLflow's deprecated stages); aliases are untouched."""
        return self.store.transition_model_version_stage(
            name, _as_str(version), stage, archive_existing_versions
        )

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of `stages` (every stage when none are named)."""
        return self.store.get_latest_versions(name, stages)

    # -- webhooks (MlflowClient's webhook methods) ----------------------------------------
    @property
    def _webhooks(self) -> WebhookStore:
        return self.store.webhooks  # SqlStore's and RestStore's twins

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[Any],
        description: str | None = None,
        secret: str | None = None,
        status: Any = None,
    ) -> Webhook:
        """Events as `"model_version_alias.created"` strings or MLflow `WebhookEvent`s."""
        return self._webhooks.create(
            name, url, _event_names(events), description, secret, _opt_str(status)
        )

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._webhooks.get(webhook_id)

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        return self._webhooks.page(max_results, page_token)

    def update_webhook(
        self,
        webhook_id: str,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[Any] | None = None,
        secret: str | None = None,
        status: Any = None,
    ) -> Webhook:
        """Changes the fields given; the others stay as they are."""
        names = _event_names(events) if events else None
        return self._webhooks.update(
            webhook_id, name, description, url, names, secret, _opt_str(status)
        )

    def delete_webhook(self, webhook_id: str) -> None:
        self._webhooks.delete(webhook_id)

    def test_webhook(self, webhook_id: str, event: Any = None) -> TestResult:
        """Sends an example payload of `event` (default: the webhook's first event) now."""
        return self._webhooks.test(webhook_id, _opt_str(event))

    def list_webhook_deliveries(self, webhook_id: str, max_results: int = 50) -> list[Delivery]:
        """trk's own: the webhook's recent deliveries (status, attempts, last error)."""
        return self._webhooks.deliveries(webhook_id, max_results=max_results)


def _event_names(events: Sequence[Any]) -> list[Any]:
    return [e if isinstance(e, dict) else str(e) for e in events]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


MlflowClient = Client


def batches(
    metrics: list[Metric], params: list[Param], tags: list[RunTag]
) -> list[tuple[list[Metric], list[Param], list[RunTag]]]:
    """The entries in parts that each pass `check_batch_limits`: params and tags first (up to
    100 each), metrics filling the rest of the 1,000 entries. One (maybe empty) part at least."""
    parts = []
    while True:
        p, params = params[:MAX_PARAMS_TAGS_PER_BATCH], params[MAX_PARAMS_TAGS_PER_BATCH:]
        t, tags = tags[:MAX_PARAMS_TAGS_PER_BATCH], tags[MAX_PARAMS_TAGS_PER_BATCH:]
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(p) - len(t))
        m, metrics = metrics[:room], metrics[room:]
        parts.append((m, p, t))
        if not (metrics or params or tags):
            return parts
