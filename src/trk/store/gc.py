"""The SQL half of `trk gc`: find runs and experiments in the deleted lifecycle stage, and
remove their rows for good (metrics, params, tags, inputs, logged models), MLflow's
`_hard_delete_run` / `_hard_delete_experiment`. Which of them may go, and their artifacts,
is decided by `trk.tracking.gc`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, or_, select

from trk.entities import LifecycleStage
from trk.exceptions import NotFound
from trk.store import schema as s
from trk.store.engine import read_connection, write_connection
from trk.store.logged_models import logged_model_params, logged_model_tags, logged_models
from trk.uri import logged_model_id

_DELETED = LifecycleStage.DELETED.value
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class RunRow:
    run_id: str
    experiment_id: str
    lifecycle_stage: str
    artifact_uri: str
    deleted_time: int | None


@dataclass(frozen=True)
class ExperimentRow:
    experiment_id: str
    name: str
    lifecycle_stage: str
    last_update_time: int | None


@dataclass(frozen=True)
class VersionRef:
    """A registered model version and what it was registered from."""

    name: str
    version: str
    source: str
    run_id: str | None
    model_id: str | None


class SqlGarbage:
    """Queries over one SQL store's engine; every removal is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- finding -----------------------------------------------------------------------------
    def deleted_run_ids(self, deleted_before_ms: int | None) -> list[str]:
        r = s.runs
        stmt = select(r.c.run_uuid).where(r.c.lifecycle_stage == _DELETED)
        if deleted_before_ms is not None:
            stmt = stmt.where(r.c.deleted_time <= deleted_before_ms)
        with read_connection(self._engine) as conn:
            return [row[0] for row in conn.execute(stmt.order_by(r.c.run_uuid))]

    def deleted_experiment_ids(self, updated_before_ms: int | None) -> list[str]:
        e = s.experiments
        stmt = select(e.c.experiment_id).where(e.c.lifecycle_stage == _DELETED)
        if updated_before_ms is not None:
            stmt = stmt.where(e.c.last_update_time <= updated_before_ms)
        with read_connection(self._engine) as conn:
            return [str(row[0]) for row in conn.execute(stmt.order_by(e.c.experiment_id))]

    def experiment(self, experiment_id: str) -> ExperimentRow:
        e = s.experiments
        with read_connection(self._engine) as conn:
            row = conn.execute(select(e).where(e.c.experiment_id == _int_id(experiment_id))).first()
        if row is None:
            raise NotFound(f"No experiment with id={experiment_id}")
        return ExperimentRow(
            str(row.experiment_id), row.name, row.lifecycle_stage, row.last_update_time
        )

    def runs(self, run_ids: Sequence[str]) -> list[RunRow]:
        """The rows of `run_ids`, in their order; NotFound names the first missing one."""
        found: dict[str, RunRow] = {}
        with read_connection(self._engine) as conn:
            for chunk in _chunks(list(run_ids)):
                stmt = select(s.runs).where(s.runs.c.run_uuid.in_(chunk))
                found.update((row.run_uuid, _run(row)) for row in conn.execute(stmt))
        missing = [run_id for run_id in run_ids if run_id not in found]
        if missing:
            raise NotFound(f"Run with id={missing[0]} not found")
        return [found[run_id] for run_id in run_ids]

    def runs_of(self, experiment_id: str) -> list[RunRow]:
        r = s.runs
        stmt = select(r).where(r.c.experiment_id == _int_id(experiment_id)).order_by(r.c.run_uuid)
        with read_connection(self._engine) as conn:
            return [_run(row) for row in conn.execute(stmt)]

    def logged_models_of(self, experiment_id: str) -> list[tuple[str, str]]:
        """(model id, artifact location) of every logged model in the experiment."""
        lm = logged_models
        stmt = select(lm.c.model_id, lm.c.artifact_location).where(
            lm.c.experiment_id == _int_id(experiment_id)
        )
        with read_connection(self._engine) as conn:
            return [(row[0], row[1]) for row in conn.execute(stmt.order_by(lm.c.model_id))]

    def versions(self) -> list[VersionRef]:
        """Every registered model version: the live things a deleted run may still hold."""
        v = s.model_versions
        stmt = select(v.c.name, v.c.version, v.c.source, v.c.run_id, v.c.model_id)
        with read_connection(self._engine) as conn:
            return [
                VersionRef(
                    row.name,
                    str(row.version),
                    row.source or "",
                    row.run_id,
                    row.model_id or logged_model_id(row.source or ""),
                )
                for row in conn.execute(stmt)
            ]

    # -- removing ----------------------------------------------------------------------------
    def remove_run(self, run_id: str) -> None:
        """A deleted run's rows, all in one transaction; a live run is left as it is."""
        with write_connection(self._engine) as conn:
            _remove_runs(conn, [run_id])

    def remove_experiment(self, experiment_id: str) -> None:
        """A deleted experiment with what is left in it: runs, logged models, datasets, tags,
        and the permissions granted on it."""
        exp_id = _int_id(experiment_id)
        with write_connection(self._engine) as conn:
            e = s.experiments
            stage = conn.execute(
                select(e.c.lifecycle_stage).where(e.c.experiment_id == exp_id)
            ).scalar()
            if stage != _DELETED:
                return
            run_ids = [
                row[0]
                for row in conn.execute(
                    select(s.runs.c.run_uuid).where(s.runs.c.experiment_id == exp_id)
                )
            ]
            if _remove_runs(conn, run_ids) < len(run_ids):
                return  # a run restored meanwhile: the experiment's cascade would take it
            lm = logged_models
            model_ids = [
                row[0]
                for row in conn.execute(select(lm.c.model_id).where(lm.c.experiment_id == exp_id))
            ]
            for chunk in _chunks(model_ids):
                for table in (s.logged_model_metrics, logged_model_tags, logged_model_params):
                    conn.execute(delete(table).where(table.c.model_id.in_(chunk)))
                conn.execute(delete(lm).where(lm.c.model_id.in_(chunk)))
            conn.execute(delete(s.datasets).where(s.datasets.c.experiment_id == exp_id))
            t = s.experiment_tags
            conn.execute(delete(t).where(t.c.experiment_id == exp_id))
            # sqlite may give the freed id to the next experiment: it must not inherit grants.
            p = s.experiment_permissions
            conn.execute(delete(p).where(p.c.experiment_id == str(exp_id)))
            conn.execute(delete(e).where(e.c.experiment_id == exp_id))


def _remove_runs(conn: Connection, run_ids: list[str]) -> int:
    """Removes those of `run_ids` that are deleted; returns how many."""
    r, i = s.runs, s.inputs
    removed = 0
    for chunk in _chunks(run_ids):
        # Only runs still deleted: one restored since it was listed stays, rows and all.
        stmt = select(r.c.run_uuid).where(r.c.run_uuid.in_(chunk), r.c.lifecycle_stage == _DELETED)
        doomed = [row[0] for row in conn.execute(stmt)]
        if not doomed:
            continue
        for table in (s.metrics, s.latest_metrics, s.params, s.tags):
            conn.execute(delete(table).where(table.c.run_uuid.in_(doomed)))
        conn.execute(
            delete(s.logged_model_metrics).where(s.logged_model_metrics.c.run_id.in_(doomed))
        )
        edges = or_(
            (i.c.destination_type == "RUN") & i.c.destination_id.in_(doomed),
            i.c.source_type.in_(["RUN_INPUT", "RUN_OUTPUT"]) & i.c.source_id.in_(doomed),
        )
        uuids = [row[0] for row in conn.execute(select(i.c.input_uuid).where(edges))]
        for part in _chunks(uuids):
            conn.execute(delete(s.input_tags).where(s.input_tags.c.input_uuid.in_(part)))
        conn.execute(delete(i).where(edges))
        conn.execute(delete(r).where(r.c.run_uuid.in_(doomed)))
        removed += len(doomed)
    return removed


def _run(row: Row[Any]) -> RunRow:
    return RunRow(
        row.run_uuid,
        str(row.experiment_id),
        row.lifecycle_stage,
        row.artifact_uri or "",
        row.deleted_time,
    )


def _int_id(experiment_id: str) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise NotFound(f"No experiment with id={experiment_id}") from None


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[k : k + _CHUNK] for k in range(0, len(ids), _CHUNK)] if ids else []
