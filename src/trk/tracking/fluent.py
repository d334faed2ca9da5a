"""The fluent API (`trk.start_run`, `trk.log_metric`, ...), with MLflow's names and semantics."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from trk.entities import (
    Experiment,
    Metric,
    ModelVersion,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from trk.exceptions import InvalidParameter, NotFound
from trk.tracking import config, ranks
from trk.tracking.client import Client, get_tracking_uri, set_tracking_uri

DEFAULT_EXPERIMENT_ID = "0"
PARENT_RUN_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"


class ActiveRun(Run):
    """A run started by `start_run`; as a context manager it ends the run (FAILED on error).
    `muted` marks the run of a process that is not rank 0: it logs nothing."""

    def __init__(self, run: Run, muted: bool = False) -> None:
        super().__init__(run.info, run.data)
        self.muted = muted

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        end_run(status)


class _State(threading.local):
    def __init__(self) -> None:
        self.runs: list[ActiveRun] = []
        self.last_run_id: str | None = None


_state = _State()
_experiment_id: str | None = None


def _client() -> Client:
    return Client(get_tracking_uri())


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active, creating it by name if it does not exist."""
    global _experiment_id
    client = _client()
    exp: Experiment | None
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    elif experiment_name:
        exp = client.get_experiment_by_name(experiment_name)
        if exp is None:
            client.create_experiment(experiment_name)
            exp = client.get_experiment_by_name(experiment_name)
        assert exp is not None
    else:
        raise InvalidParameter("set_experiment needs experiment_name or experiment_id")
    if exp.lifecycle_stage != "active":
        raise InvalidParameter(f"Experiment {exp.name!r} is deleted; restore it first")
    _experiment_id = exp.experiment_id
    return exp


def active_run() -> ActiveRun | None:
    return _state.runs[-1] if _state.runs else None


def last_active_run() -> Run | None:
    current = active_run()
    run_id = current.info.run_id if current else _state.last_run_id
    return _client().get_run(run_id) if run_id else None


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
) -> ActiveRun:
    """Start (or resume, with `run_id`) a run and make it active. In distributed training,
    a process that is not rank 0 gets a run that logs nothing (`trk.tracking.ranks`)."""
    parent = active_run()
    if parent is not None and not nested:
        raise InvalidParameter(
            f"Run {parent.info.run_id} is already active; end it first or pass nested=True"
        )
    if not ranks.logs_here():
        return _push(ActiveRun(_silent_run(experiment_id, run_name), muted=True))
    client = _client()
    if run_id:
        run = client.get_run(run_id)
        if run.info.status != RunStatus.RUNNING:
            client.update_run(run_id, status=RunStatus.RUNNING)
            run = client.get_run(run_id)
    else:
        all_tags = {k: str(v) for k, v in (tags or {}).items()}
        if parent is not None:
            all_tags[PARENT_RUN_TAG] = parent.info.run_id
        if description:
            all_tags["mlflow.note.content"] = description
        exp_id = str(experiment_id) if experiment_id is not None else _experiment_id
        run = client.create_run(exp_id or DEFAULT_EXPERIMENT_ID, tags=all_tags, run_name=run_name)
    return _push(ActiveRun(run))


def _push(active: ActiveRun) -> ActiveRun:
    _state.runs.append(active)
    return active


def _silent_run(experiment_id: str | None, run_name: str | None) -> Run:
    """What a non-zero rank's `start_run` returns: no id, nothing stored."""
    exp_id = str(experiment_id) if experiment_id is not None else _experiment_id
    info = RunInfo("", exp_id or DEFAULT_EXPERIMENT_ID, run_name or "", "", "RUNNING", 0, None, "")
    return Run(info, RunData())


def end_run(status: str = "FINISHED") -> None:
    """End the active run (no-op when none is active). With async logging on, what is queued
    is sent first; a send that failed is raised here, after the run is ended."""
    if not _state.runs:
        return
    run = _state.runs.pop()
    if run.muted:
        return
    _state.last_run_id = run.info.run_id
    try:
        if config.is_async_logging_enabled():
            config.flush_async_logging()
    finally:
        _client().set_terminated(run.info.run_id, status)


def _logging_run() -> ActiveRun | None:
    """The active run (started when none is), or None when this process logs nothing."""
    run = active_run() or start_run()
    return None if run.muted else run


def _queued(
    run: ActiveRun,
    metrics: Sequence[Metric] = (),
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> bool:
    """With async logging on, queues the entries and says True; else the caller sends them."""
    if not config.is_async_logging_enabled():
        return False
    from trk.tracking.async_logging import Entry, logger

    logger().submit(Entry(get_tracking_uri(), run.info.run_id, metrics, params, tags))
    return True


def log_param(key: str, value: Any) -> Any:
    run = _logging_run()
    if run is not None and not _queued(run, params=[Param(key, str(value))]):
        _client().log_param(run.info.run_id, key, value)
    return value


def log_params(params: dict[str, Any]) -> None:
    run, entries = _logging_run(), [Param(k, str(v)) for k, v in params.items()]
    if run is not None and not _queued(run, params=entries):
        _client().log_batch(run.info.run_id, params=entries)


def _metric(key: str, value: Any, step: int | None, timestamp: int | None) -> Metric:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            import numpy as np

            if isinstance(value, np.generic) and np.issubdtype(value.dtype, np.number):
                value = value.item()
            else:
                raise TypeError
        except (ImportError, TypeError):
            raise InvalidParameter(
                f"Metric {key!r} must be a number, got {type(value).__name__} {value!r}"
            ) from None
    return Metric(key, float(value), timestamp or int(time.time() * 1000), step or 0)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    run, batch = _logging_run(), [_metric(key, value, step, timestamp)]
    if run is not None and not _queued(run, metrics=batch):
        _client().log_batch(run.info.run_id, metrics=batch)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    ts = int(time.time() * 1000)
    run, batch = _logging_run(), [_metric(k, v, step, ts) for k, v in metrics.items()]
    if run is not None and not _queued(run, metrics=batch):
        _client().log_batch(run.info.run_id, metrics=batch)


def set_tag(key: str, value: Any) -> None:
    run = _logging_run()
    if run is not None and not _queued(run, tags=[RunTag(key, str(value))]):
        _client().set_tag(run.info.run_id, key, value)


def set_tags(tags: dict[str, Any]) -> None:
    run, entries = _logging_run(), [RunTag(k, str(v)) for k, v in tags.items()]
    if run is not None and not _queued(run, tags=entries):
        _client().log_batch(run.info.run_id, tags=entries)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    run = _logging_run()
    if run is not None:
        _client().log_artifact(run.info.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    run = _logging_run()
    if run is not None:
        _client().log_artifacts(run.info.run_id, local_dir, artifact_path)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """Where the active run's artifacts go ("" on a rank that logs nothing)."""
    run = _logging_run()
    if run is None:
        return ""
    base = _client().get_run(run.info.run_id).info.artifact_uri.rstrip("/")
    return f"{base}/{artifact_path}" if artifact_path else base


def _experiment_ids(
    experiment_ids: Sequence[str] | str | None, names: Sequence[str] | None
) -> list[str]:
    client = _client()
    if isinstance(experiment_ids, str):
        experiment_ids = [experiment_ids]
    ids = [str(e) for e in experiment_ids or []]
    for name in names or []:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise NotFound(f"No experiment named {name!r}")
        ids.append(exp.experiment_id)
    if not ids:
        ids = [_experiment_id or DEFAULT_EXPERIMENT_ID]
    return ids


def search_runs(
    experiment_ids: Sequence[str] | str | None = None,
    filter_string: str = "",
    run_view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching a filter: a pandas DataFrame (MLflow's default) or, with "list", Runs."""
    client = _client()
    if search_all_experiments and not experiment_ids and not experiment_names:
        ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    else:
        ids = _experiment_ids(experiment_ids, experiment_names)
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page = client.search_runs(
            ids, filter_string, run_view_type, min(max_results - len(runs), 50000), order_by, token
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise InvalidParameter(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    return _runs_frame(runs)


def _runs_frame(runs: list[Run]) -> Any:
    import pandas as pd

    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "run_id": r.info.run_id,
            "experiment_id": r.info.experiment_id,
            "status": r.info.status,
            "artifact_uri": r.info.artifact_uri,
            "start_time": pd.to_datetime(r.info.start_time, unit="ms", utc=True),
            "end_time": pd.to_datetime(r.info.end_time, unit="ms", utc=True)
            if r.info.end_time
            else None,
        }
        row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in r.data.params.items()})
        row.update({f"tags.{k}": v for k, v in r.data.tags.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None) -> ModelVersion:
    """Register `model_uri` (models:/m-<id>, runs:/RUN_ID/NAME, ...) as a new version.

    As in MLflow 3, a logged model is registered by reference: source `models:/m-<id>`.
    """
    from trk.uri import logged_model_id, logged_model_in_run, parse_run_uri, resolve_artifact_uri

    client = _client()
    if model_uri.startswith("runs:"):
        logged = logged_model_in_run(client.store, parse_run_uri(model_uri))
        model_uri = f"models:/{logged.model_id}" if logged else model_uri
    model_id = logged_model_id(model_uri)
    if model_id:
        run_id = client.get_logged_model(model_id).source_run_id
        return client.create_model_version(name, model_uri, run_id, tags, model_id=model_id)
    run_id = parse_run_uri(model_uri).run_id if model_uri.startswith("runs:") else None
    source = resolve_artifact_uri(model_uri, client.store)
    return client.create_model_version(name, source, run_id=run_id, tags=tags)


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


__all__ = [
    "ActiveRun",
    "active_run",
    "create_experiment",
    "end_run",
    "get_artifact_uri",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "register_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
