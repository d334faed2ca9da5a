"""Entities to and from MLflow's REST JSON shapes (the server encodes, `RestStore` decodes).

Lives beside the stores rather than in `server/` so the REST client can use it without
importing the server layer.
"""

from __future__ import annotations

import math
from typing import Any

from trk.artifacts.manifest import parse as parse_manifest
from trk.contracts.run_inputs import Dataset, DatasetInput, ModelMetric, ModelOutput, RunIO
from trk.entities import (
    Experiment,
    FileInfo,
    LoggedModel,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunData,
    RunInfo,
)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def kv_list(d: dict[str, str]) -> list[dict[str, str]]:
    """`{"a": "1"}` -> `[{"key": "a", "value": "1"}]`, MLflow's tag and param lists."""
    return [{"key": k, "value": v} for k, v in d.items()]


def kv_dict(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {i["key"]: i.get("value", "") for i in items or ()}


def float_out(value: float) -> float | str:
    """Protobuf's JSON spelling of non-finite doubles (plain JSON has none)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# -- tracking ------------------------------------------------------------------------------
def experiment_to_json(e: Experiment) -> dict[str, Any]:
    return _drop_none(
        {
            "experiment_id": e.experiment_id,
            "name": e.name,
            "artifact_location": e.artifact_location,
            "lifecycle_stage": str(e.lifecycle_stage),
            "creation_time": e.creation_time,
            "last_update_time": e.last_update_time,
            "tags": kv_list(e.tags),
        }
    )


def experiment_from_json(d: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(d["experiment_id"]),
        name=d.get("name", ""),
        artifact_location=d.get("artifact_location", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        tags=kv_dict(d.get("tags")),
        creation_time=_int_or_none(d.get("creation_time")),
        last_update_time=_int_or_none(d.get("last_update_time")),
    )


def metric_to_json(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": float_out(m.value), "timestamp": m.timestamp, "step": m.step}


def metric_from_json(d: dict[str, Any]) -> Metric:
    return Metric(d["key"], float(d["value"]), int(d.get("timestamp", 0)), int(d.get("step", 0)))


def run_info_to_json(i: RunInfo) -> dict[str, Any]:
    return _drop_none(
        {
            "run_id": i.run_id,
            "run_uuid": i.run_id,
            "run_name": i.run_name,
            "experiment_id": i.experiment_id,
            "user_id": i.user_id,
            "status": str(i.status),
            "start_time": i.start_time,
            "end_time": i.end_time,
            "artifact_uri": i.artifact_uri,
            "lifecycle_stage": str(i.lifecycle_stage),
        }
    )


def run_to_json(r: Run) -> dict[str, Any]:
    objs = r.data.metric_objs
    metrics = [
        metric_to_json(objs[k]) if k in objs else {"key": k, "value": float_out(v)}
        for k, v in r.data.metrics.items()
    ]
    data = {"metrics": metrics, "params": kv_list(r.data.params), "tags": kv_list(r.data.tags)}
    return {"info": run_info_to_json(r.info), "data": data, "inputs": {}}


def run_info_from_json(d: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=d.get("run_id") or d["run_uuid"],
        experiment_id=str(d.get("experiment_id", "")),
        run_name=d.get("run_name", ""),
        user_id=d.get("user_id", ""),
        status=d.get("status", "RUNNING"),
        start_time=int(d.get("start_time", 0)),
        end_time=_int_or_none(d.get("end_time")),
        artifact_uri=d.get("artifact_uri", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
    )


def run_from_json(d: dict[str, Any]) -> Run:
    data = d.get("data") or {}
    objs = {m["key"]: metric_from_json(m) for m in data.get("metrics") or ()}
    return Run(
        run_info_from_json(d["info"]),
        RunData(
            metrics={k: m.value for k, m in objs.items()},
            params=kv_dict(data.get("params")),
            tags=kv_dict(data.get("tags")),
            metric_objs=objs,
        ),
    )


# -- registry ------------------------------------------------------------------------------
def model_version_to_json(v: ModelVersion) -> dict[str, Any]:
    return _drop_none(
        {
            "name": v.name,
            "version": str(v.version),
            "creation_timestamp": v.creation_timestamp,
            "last_updated_timestamp": v.last_updated_timestamp,
            "current_stage": v.current_stage,
            "description": v.description,
            "source": v.source,
            "run_id": v.run_id,
            "status": v.status,
            "run_link": v.run_link,
            "user_id": v.user_id,
            "tags": kv_list(v.tags),
            "aliases": list(v.aliases),
            "model_id": v.model_id,
            # trk's own fields (the mlflow client ignores unknown fields): the pinned files.
            "trk_digest": v.digest,
            "trk_manifest": v.manifest,
        }
    )


def model_version_from_json(d: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=d["name"],
        version=str(d["version"]),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        source=d.get("source", ""),
        run_id=d.get("run_id") or None,
        status=d.get("status", "READY"),
        description=d.get("description"),
        user_id=d.get("user_id"),
        tags=kv_dict(d.get("tags")),
        aliases=list(d.get("aliases") or ()),
        current_stage=d.get("current_stage", "None"),
        run_link=d.get("run_link"),
        model_id=d.get("model_id") or None,
        digest=d.get("trk_digest") or None,
        manifest=parse_manifest(d.get("trk_manifest")),
    )


def registered_model_to_json(m: RegisteredModel) -> dict[str, Any]:
    return _drop_none(
        {
            "name": m.name,
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "description": m.description,
            "latest_versions": [model_version_to_json(v) for v in m.latest_versions],
            "tags": kv_list(m.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in m.aliases.items()],
        }
    )


def registered_model_from_json(d: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=d["name"],
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        description=d.get("description"),
        tags=kv_dict(d.get("tags")),
        aliases={a["alias"]: str(a["version"]) for a in d.get("aliases") or ()},
        latest_versions=[model_version_from_json(v) for v in d.get("latest_versions") or ()],
    )


# -- artifacts -----------------------------------------------------------------------------
def file_info_to_json(f: FileInfo) -> dict[str, Any]:
    return _drop_none({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size})


def file_info_from_json(d: dict[str, Any]) -> FileInfo:
    size = d.get("file_size")
    return FileInfo(d["path"], bool(d.get("is_dir", False)), None if size is None else int(size))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# -- logged models -------------------------------------------------------------------------
def logged_model_to_json(m: LoggedModel) -> dict[str, Any]:
    info = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "artifact_uri": m.artifact_location,
        "creation_timestamp_ms": m.creation_timestamp_ms,
        "last_updated_timestamp_ms": m.last_updated_timestamp_ms,
        "status": m.status,
        "model_type": m.model_type,
        "source_run_id": m.source_run_id,
        "status_message": m.status_message,
        "tags": kv_list(m.tags),
    }
    info = {k: v for k, v in info.items() if v is not None}
    return {"info": info, "data": {"params": kv_list(m.params), "metrics": []}}


def logged_model_from_json(d: dict[str, Any]) -> LoggedModel:
    info, data = d.get("info") or {}, d.get("data") or {}
    return LoggedModel(
        model_id=info["model_id"],
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("name", ""),
        artifact_location=info.get("artifact_uri", ""),
        creation_timestamp_ms=int(info.get("creation_timestamp_ms", 0)),
        last_updated_timestamp_ms=int(info.get("last_updated_timestamp_ms", 0)),
        status=info.get("status", ""),
        model_type=info.get("model_type"),
        source_run_id=info.get("source_run_id"),
        status_message=info.get("status_message"),
        tags=kv_dict(info.get("tags")),
        params=kv_dict(data.get("params")),
    )


# -- run inputs and outputs ----------------------------------------------------------------
def dataset_input_to_json(x: DatasetInput) -> dict[str, Any]:
    ds = x.dataset
    dataset = _drop_none(
        {
            "name": ds.name,
            "digest": ds.digest,
            "source_type": ds.source_type,
            "source": ds.source,
            "schema": ds.schema,
            "profile": ds.profile,
        }
    )
    return {"tags": kv_list(x.tags), "dataset": dataset}


def dataset_input_from_json(d: dict[str, Any]) -> DatasetInput:
    """MLflow's `DatasetInput` JSON."""
    ds: dict[str, Any] = d.get("dataset") or {}
    dataset = Dataset(
        ds.get("name", ""),
        ds.get("digest", ""),
        ds.get("source_type", ""),
        ds.get("source", ""),
        ds.get("schema"),
        ds.get("profile"),
    )
    return DatasetInput(dataset, kv_dict(d.get("tags")))


def run_io_to_json(io: RunIO) -> dict[str, Any]:
    """`{"inputs": ..., "outputs": ...}` of a run, as MLflow's get-run answers them."""
    inputs: dict[str, Any] = {
        "dataset_inputs": [dataset_input_to_json(x) for x in io.dataset_inputs]
    }
    inputs["model_inputs"] = [{"model_id": m} for m in io.model_inputs]
    outputs = [{"model_id": o.model_id, "step": o.step} for o in io.model_outputs]
    return {"inputs": inputs, "outputs": {"model_outputs": outputs}}


def run_io_from_json(run: dict[str, Any]) -> RunIO:
    inputs, outputs = run.get("inputs") or {}, run.get("outputs") or {}
    return RunIO(
        [dataset_input_from_json(x) for x in inputs.get("dataset_inputs") or ()],
        [str(m["model_id"]) for m in inputs.get("model_inputs") or ()],
        [
            ModelOutput(str(o["model_id"]), int(o.get("step", 0)))
            for o in outputs.get("model_outputs") or ()
        ],
    )


def model_metric_to_json(m: ModelMetric) -> dict[str, Any]:
    """A logged model's metric, as MLflow lists it under `LoggedModel.data.metrics`."""
    out = {
        "key": m.key,
        "value": float_out(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
        "model_id": m.model_id,
        "run_id": m.run_id,
        "dataset_name": m.dataset_name,
        "dataset_digest": m.dataset_digest,
    }
    return _drop_none(out)
