"""`RestStore`: the Store interface over a `trk server` (or `mlflow server`) REST API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trk import settings
from trk.contracts.api import experiments, logged_models, registry, runs
from trk.contracts.api.row import Api
from trk.contracts.run_inputs import DatasetInput, ModelOutput, RunIO
from trk.contracts.store import Store
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
from trk.exceptions import NotFound
from trk.store.mlflow_json import (
    dataset_input_to_json,
    experiment_from_json,
    float_out,
    kv_list,
    logged_model_from_json,
    model_version_from_json,
    registered_model_from_json,
    run_from_json,
    run_info_from_json,
    run_io_from_json,
)
from trk.store.rest_call import call
from trk.store.rest_predictions import RestPredictionLog
from trk.store.rest_rollouts import RestRollouts
from trk.store.rest_webhooks import RestWebhooks
from trk.store.validation import check_model_id
from trk.transport import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, Transport

PROXY_SCHEME = "mlflow-artifacts:"
PROXY_PATH = "/api/2.0/mlflow-artifacts/artifacts"


class RestStore(Store):
    """Every Store call as one request; idempotent ones are retried with backoff."""

    remote = True  # the server pins registered versions from the files it holds

    def __init__(
        self,
        uri: str,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.uri = uri.rstrip("/")
        token = token if token is not None else settings.tracking_token()
        self.transport = Transport(self.uri, token, timeout=timeout, retries=retries)
        self.webhooks = RestWebhooks(self.transport)
        self.predictions = RestPredictionLog(self.transport)
        self.rollouts = RestRollouts(self.transport)

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, api: Api, **params: Any) -> dict[str, Any]:
        return call(self.transport, api, **params)

    def artifact_uri(self, uri: str) -> str:
        """`mlflow-artifacts:/x` as this server's proxy URL, so any client can reach it."""
        if uri.startswith(PROXY_SCHEME) and not uri.startswith(PROXY_SCHEME + "//"):
            return f"{self.uri}{PROXY_PATH}/{uri[len(PROXY_SCHEME) :].lstrip('/')}"
        return uri

    def _experiment(self, d: dict[str, Any]) -> Experiment:
        exp = experiment_from_json(d)
        exp.artifact_location = self.artifact_uri(exp.artifact_location)
        return exp

    def _run(self, d: dict[str, Any]) -> Run:
        run = run_from_json(d)
        run.info.artifact_uri = self.artifact_uri(run.info.artifact_uri)
        return run

    def _version(self, d: dict[str, Any]) -> ModelVersion:
        version = model_version_from_json(d)
        version.source = self.artifact_uri(version.source)
        return version

    def _model(self, d: dict[str, Any]) -> RegisteredModel:
        model = registered_model_from_json(d)
        for v in model.latest_versions:
            v.source = self.artifact_uri(v.source)
        return model

    def ping(self) -> None:
        self.transport.send("GET", "/health", idempotent=True)

    # -- experiments -----------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        found = self._call(
            experiments.CREATE,
            name=name,
            artifact_location=artifact_location,
            tags=kv_list(tags or {}),
        )
        return str(found["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self._call(experiments.GET, experiment_id=experiment_id)
        return self._experiment(found["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            found = self._call(experiments.GET_BY_NAME, experiment_name=name)
        except NotFound:
            return None
        return self._experiment(found["experiment"])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        out = self._call(
            experiments.SEARCH,
            view_type=ViewType(view_type).value,
            max_results=max_results,
            filter=filter_string,
            order_by=list(order_by or []),
            page_token=page_token,
        )
        items = [self._experiment(e) for e in out.get("experiments", ())]
        return PagedList(items, out.get("next_page_token") or None)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call(experiments.UPDATE, experiment_id=experiment_id, new_name=new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._call(experiments.DELETE, experiment_id=experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._call(experiments.RESTORE, experiment_id=experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._call(experiments.SET_TAG, experiment_id=experiment_id, key=key, value=value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call(experiments.DELETE_TAG, experiment_id=experiment_id, key=key)

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        found = self._call(
            runs.CREATE,
            experiment_id=str(experiment_id),
            user_id=user_id,
            start_time=start_time,
            tags=kv_list(tags or {}),
            run_name=run_name,
        )
        return self._run(found["run"])

    def get_run(self, run_id: str) -> Run:
        return self._run(self._call(runs.GET, run_id=run_id)["run"])

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        found = self._call(
            runs.UPDATE,
            run_id=run_id,
            status=None if status is None else str(status),
            end_time=end_time,
            run_name=run_name,
        )
        info = run_info_from_json(found["run_info"])
        info.artifact_uri = self.artifact_uri(info.artifact_uri)
        return info

    def delete_run(self, run_id: str) -> None:
        self._call(runs.DELETE, run_id=run_id)

    def restore_run(self, run_id: str) -> None:
        self._call(runs.RESTORE, run_id=run_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        self._call(
            runs.LOG_BATCH,
            run_id=run_id,
            metrics=[_metric(m) for m in metrics],
            params=[{"key": p.key, "value": p.value} for p in params],
            tags=[{"key": t.key, "value": t.value} for t in tags],
        )

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._call(runs.LOG_METRIC, run_id=run_id, **_metric(metric))

    def log_param(self, run_id: str, param: Param) -> None:
        self._call(runs.LOG_PARAM, run_id=run_id, key=param.key, value=param.value)

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self._call(runs.SET_TAG, run_id=run_id, key=tag.key, value=tag.value)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call(runs.DELETE_TAG, run_id=run_id, key=key)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[str] = ()
    ) -> None:
        self._call(
            runs.LOG_INPUTS,
            run_id=run_id,
            datasets=[dataset_input_to_json(x) for x in datasets],
            models=[{"model_id": m} for m in models],
        )

    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None:
        outputs = [{"model_id": m.model_id, "step": m.step} for m in models]
        self._call(runs.LOG_OUTPUTS, run_id=run_id, models=outputs)

    def get_run_io(self, run_id: str) -> RunIO:
        return run_io_from_json(self._call(runs.GET, run_id=run_id)["run"])

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        out = self._call(runs.METRIC_HISTORY, run_id=run_id, metric_key=key)
        return [
            Metric(m["key"], float(m["value"]), int(m.get("timestamp", 0)), int(m.get("step", 0)))
            for m in out.get("metrics", ())
        ]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        out = self._call(
            runs.SEARCH,
            experiment_ids=[str(e) for e in experiment_ids],
            filter=filter_string or None,
            run_view_type=ViewType(run_view_type).value,
            max_results=max_results,
            order_by=list(order_by or []),
            page_token=page_token,
        )
        return PagedList(
            [self._run(r) for r in out.get("runs", ())], out.get("next_page_token") or None
        )

    # -- registered models -----------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        out = self._call(
            registry.CREATE_MODEL, name=name, tags=kv_list(tags or {}), description=description
        )
        return self._model(out["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._model(self._call(registry.GET_MODEL, name=name)["registered_model"])

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        out = self._call(
            registry.SEARCH_MODELS,
            filter=filter_string,
            max_results=max_results,
            order_by=list(order_by or []) or None,
            page_token=page_token,
        )
        items = [self._model(m) for m in out.get("registered_models", ())]
        return PagedList(items, out.get("next_page_token") or None)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        out = self._call(registry.UPDATE_MODEL, name=name, description=description)
        return self._model(out["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        out = self._call(registry.RENAME_MODEL, name=name, new_name=new_name)
        return self._model(out["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self._call(registry.DELETE_MODEL, name=name)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._call(registry.SET_MODEL_TAG, name=name, key=key, value=value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call(registry.DELETE_MODEL_TAG, name=name, key=key)

    # -- model versions --------------------------------------------------------------------
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
        out = self._call(
            registry.CREATE_VERSION,
            name=name,
            source=source,
            run_id=run_id,
            tags=kv_list(tags or {}),
            description=description,
            model_id=model_id,
        )
        return self._version(out["model_version"])

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        out = self._call(registry.GET_VERSION, name=name, version=str(version))
        return self._version(out["model_version"])

    def update_model_version(
        self, name: str, version: str | int, description: str | None
    ) -> ModelVersion:
        out = self._call(
            registry.UPDATE_VERSION, name=name, version=str(version), description=description
        )
        return self._version(out["model_version"])

    def delete_model_version(self, name: str, version: str | int) -> None:
        self._call(registry.DELETE_VERSION, name=name, version=str(version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        out = self._call(
            registry.SEARCH_VERSIONS,
            filter=filter_string,
            max_results=max_results,
            order_by=list(order_by or []) or None,
            page_token=page_token,
        )
        items = [self._version(v) for v in out.get("model_versions", ())]
        return PagedList(items, out.get("next_page_token") or None)

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        self._call(registry.SET_VERSION_TAG, name=name, version=str(version), key=key, value=value)

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self._call(registry.DELETE_VERSION_TAG, name=name, version=str(version), key=key)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        out = self._call(registry.DOWNLOAD_URI, name=name, version=str(version))
        return self.artifact_uri(out["artifact_uri"])

    # -- stages ----------------------------------------------------------------------------
    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        out = self._call(
            registry.TRANSITION_STAGE,
            name=name,
            version=str(version),
            stage=stage,
            archive_existing_versions=archive_existing_versions,
        )
        return self._version(out["model_version"])

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        out = self._call(registry.LATEST_VERSIONS, name=name, stages=list(stages or []))
        return [self._version(v) for v in out.get("model_versions", ())]

    # -- logged models ---------------------------------------------------------------------
    def _logged_model(self, d: dict[str, Any]) -> LoggedModel:
        model = logged_model_from_json(d["model"])
        model.artifact_location = self.artifact_uri(model.artifact_location)
        return model

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        found = self._call(
            logged_models.CREATE,
            experiment_id=experiment_id,
            name=name,
            source_run_id=source_run_id,
            model_type=model_type,
            params=kv_list(params or {}),
            tags=kv_list(tags or {}),
        )
        return self._logged_model(found)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        found = self._call(logged_models.GET, model_id=check_model_id(model_id))
        return self._logged_model(found)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        found = self._call(logged_models.FINALIZE, model_id=check_model_id(model_id), status=status)
        return self._logged_model(found)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[dict[str, object]] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        out = self._call(
            logged_models.SEARCH,
            experiment_ids=list(experiment_ids),
            filter=filter_string,
            max_results=max_results,
            order_by=list(order_by or []) or None,
            page_token=page_token,
        )
        found = [self._logged_model({"model": m}) for m in out.get("models") or []]
        return found, out.get("next_page_token") or None

    # -- aliases ---------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        self._call(registry.SET_ALIAS, name=name, alias=alias, version=str(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call(registry.DELETE_ALIAS, name=name, alias=alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        out = self._call(registry.GET_BY_ALIAS, name=name, alias=alias)
        return self._version(out["model_version"])


def _metric(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": float_out(m.value), "timestamp": m.timestamp, "step": m.step}
