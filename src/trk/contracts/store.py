"""The store interface that both the SQL store and the REST client implement.

Method names and arguments follow MLflow's AbstractStore / AbstractRegistryStore so that the
tracking server can map each REST call onto one method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from trk.contracts.run_inputs import DatasetInput, ModelOutput, RunIO
from trk.contracts.surfaces import (
    LoggedModelStore,
    PredictionLogStore,
    RolloutStore,
    WebhookStore,
)
from trk.entities import (
    Experiment,
    LoggedModel,
    Metric,
    ModelVersion,
    PagedList,
    Param,
    RegisteredModel,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)


class Store(ABC):
    """Tracking (experiments, runs) and registry (models, versions, aliases) in one store."""

    uri: str
    # True where a server pins registered versions from the files it stores (a trk server):
    # the client then computes no manifest of its own.
    remote: bool = False
    # The sub-stores, each a Protocol in trk.contracts.surfaces with a SQL and a REST twin.
    predictions: PredictionLogStore  # serving replicas' shared prediction log and labels
    rollouts: RolloutStore  # progressive rollouts and their transitions
    webhooks: WebhookStore  # registry webhooks and their deliveries
    logged_models: LoggedModelStore | None = None  # direct access where the store is SQL

    # -- experiments -----------------------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abstractmethod
    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    @abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # -- runs ------------------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run: ...

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """All-or-nothing: a bad entry anywhere in the batch writes nothing."""

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]: ...

    # -- registered models -----------------------------------------------------------------
    @abstractmethod
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel: ...

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]: ...

    @abstractmethod
    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel: ...

    @abstractmethod
    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel: ...

    @abstractmethod
    def delete_registered_model(self, name: str) -> None: ...

    @abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    # -- model versions --------------------------------------------------------------------
    @abstractmethod
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        model_id: str | None = None,
        manifest: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Creates the registered model too when it does not exist yet.

        `manifest` (sha256 of every file at `source`) is pinned with its digest for good; a
        store whose server computes it from the files itself (`remote`) ignores it.
        """

    @abstractmethod
    def get_model_version(self, name: str, version: str | int) -> ModelVersion: ...

    @abstractmethod
    def update_model_version(
        self, name: str, version: str | int, description: str | None
    ) -> ModelVersion: ...

    @abstractmethod
    def delete_model_version(self, name: str, version: str | int) -> None:
        """Also removes every alias that pointed at this version."""

    @abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]: ...

    @abstractmethod
    def set_model_version_tag(
        self, name: str, version: str | int, key: str, value: str
    ) -> None: ...

    @abstractmethod
    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None: ...

    @abstractmethod
    def get_model_version_download_uri(self, name: str, version: str | int) -> str: ...

    # -- stages (MLflow's, deprecated; aliases are trk's way) ------------------------------
    @abstractmethod
    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Moves the version to `stage`; aliases are untouched."""

    @abstractmethod
    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of `stages` (every stage when none are named)."""

    # -- aliases ---------------------------------------------------------------------------
    @abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Points `alias` at `version` in one atomic update (creating or moving it)."""

    @abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    # -- logged models (MLflow 3: one per log_model call, with its own id and location) ---
    @abstractmethod
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        """A PENDING model whose files go under its own `artifact_location`."""

    @abstractmethod
    def get_logged_model(self, model_id: str) -> LoggedModel: ...

    @abstractmethod
    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel: ...

    @abstractmethod
    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[dict[str, object]] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]: ...

    # -- run inputs and outputs (datasets, logged models read and produced) ---------------
    @abstractmethod
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[str] = ()
    ) -> None:
        """Datasets and logged models (by id) the run read."""

    @abstractmethod
    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None:
        """Logged models the run produced, each at a step."""

    @abstractmethod
    def get_run_io(self, run_id: str) -> RunIO:
        """What the run read and produced."""

    # -- health ----------------------------------------------------------------------------
    @abstractmethod
    def ping(self) -> None:
        """Raises `Unavailable` when the backing database or server cannot be reached."""
