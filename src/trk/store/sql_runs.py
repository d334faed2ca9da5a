"""Runs in the SQL store: lifecycle, params, tags, metrics (history + latest) and search."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select, tuple_, update

from trk.entities import (
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from trk.exceptions import InvalidParameter, NotFound
from trk.store import schema as s
from trk.store.search import decode_page_token, encode_page_token
from trk.store.sql_base import now_ms, upsert
from trk.store.sql_experiments import SqlExperiments, stage_values
from trk.store.sql_search import Fields, apply_filter, apply_order, paged
from trk.store.validation import check_batch, check_key, check_max_results, check_tag

RUN_NAME_TAG = "mlflow.runName"
_ADJECTIVES = ("brave", "calm", "eager", "gentle", "lucky", "quick", "silent", "witty")
_NOUNS = ("badger", "falcon", "heron", "lynx", "otter", "panda", "raven", "wolf")
_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit

r = s.runs


def _link(a: Any, key: str) -> Any:
    return (a.c.run_uuid == r.c.run_uuid) & (a.c.key == key)


_FIELDS = Fields(
    "run",
    {
        "status": (r.c.status, False),
        "run_name": (r.c.name, False),
        "run_id": (r.c.run_uuid, False),
        "user_id": (r.c.user_id, False),
        "artifact_uri": (r.c.artifact_uri, False),
        "lifecycle_stage": (r.c.lifecycle_stage, False),
        "start_time": (r.c.start_time, True),
        "created": (r.c.start_time, True),
        "end_time": (r.c.end_time, True),
    },
    {
        "metric": (s.latest_metrics, _link),
        "param": (s.params, _link),
        "tag": (s.tags, _link),
    },
)


def _random_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"


def _to_info(row: Row[Any]) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        run_name=row.name or "",
        user_id=row.user_id or "",
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
    )


def _to_metric(row: Row[Any]) -> Metric:
    return Metric(row.key, math.nan if row.is_nan else row.value, row.timestamp, row.step)


def _metric_row(run_id: str, metric: Metric) -> dict[str, Any]:
    value = float(metric.value)
    is_nan = math.isnan(value)
    return {
        "run_uuid": run_id,
        "key": metric.key,
        "value": 0.0 if is_nan else value,  # sqlite would store NaN as NULL
        "timestamp": int(metric.timestamp),
        "step": int(metric.step),
        "is_nan": is_nan,
    }


def _latest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # MLflow's rule: the latest value per key is the max by (step, timestamp, value).
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        cur = best.get(row["key"])
        if cur is None or _rank(row) > _rank(cur):
            best[row["key"]] = row
    return list(best.values())


def _newer(excluded: Any) -> Any:
    """The stored latest value is replaced only by a larger (step, timestamp, value)."""
    lm = s.latest_metrics
    return tuple_(excluded.step, excluded.timestamp, excluded.value) > tuple_(
        lm.c.step, lm.c.timestamp, lm.c.value
    )


def _rank(row: dict[str, Any]) -> tuple[int, int, float]:
    return (row["step"], row["timestamp"], row["value"])


class SqlRuns(SqlExperiments):
    """Run methods of `SqlStore`."""

    def _run_row(self, conn: Connection, run_id: str) -> Row[Any]:
        row = conn.execute(select(r).where(r.c.run_uuid == str(run_id))).first()
        if row is None:
            raise NotFound(f"Run with id={run_id} not found")
        return row

    def _active_run_row(self, conn: Connection, run_id: str) -> Row[Any]:
        row = self._run_row(conn, run_id)
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameter(
                f"The run {run_id} must be in the 'active' state. Current state is deleted."
            )
        return row

    def _run_data(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, RunData]:
        data = {run_id: RunData() for run_id in run_ids}
        for i in range(0, len(run_ids), _CHUNK):
            chunk = list(run_ids[i : i + _CHUNK])
            lm = s.latest_metrics
            for row in conn.execute(select(lm).where(lm.c.run_uuid.in_(chunk))):
                metric = _to_metric(row)
                data[row.run_uuid].metrics[row.key] = metric.value
                data[row.run_uuid].metric_objs[row.key] = metric
            for row in conn.execute(select(s.params).where(s.params.c.run_uuid.in_(chunk))):
                data[row.run_uuid].params[row.key] = row.value
            for row in conn.execute(select(s.tags).where(s.tags.c.run_uuid.in_(chunk))):
                data[row.run_uuid].tags[row.key] = row.value
        return data

    def create_run(
        self,
        experiment_id: str,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Starts a RUNNING run in an active experiment."""
        tags = {k: str(v) for k, v in (tags or {}).items()}
        for key, value in tags.items():
            check_tag(RunTag(key, value))
        run_name = run_name or tags.get(RUN_NAME_TAG) or _random_name()
        tags[RUN_NAME_TAG] = run_name
        run_id = uuid.uuid4().hex
        with self._write() as conn:
            exp = self._active_experiment_row(conn, experiment_id)
            row = {
                "run_uuid": run_id,
                "name": run_name,
                "experiment_id": exp.experiment_id,
                "user_id": user_id or "",
                "status": RunStatus.RUNNING.value,
                "start_time": start_time if start_time is not None else now_ms(),
                "end_time": None,
                "lifecycle_stage": LifecycleStage.ACTIVE.value,
                "artifact_uri": f"{exp.artifact_location}/{run_id}/artifacts",
            }
            conn.execute(r.insert().values(**row))
            items = [{"run_uuid": run_id, "key": k, "value": v} for k, v in tags.items()]
            conn.execute(s.tags.insert(), items)
            info = _to_info(self._run_row(conn, run_id))
        return Run(info, RunData(tags=tags))

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params and tags (NotFound otherwise)."""
        with self._read() as conn:
            row = self._run_row(conn, run_id)
            return Run(_to_info(row), self._run_data(conn, [row.run_uuid])[row.run_uuid])

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Changes status, end time and/or name; returns the updated info."""
        values: dict[str, Any] = {}
        if status is not None:
            try:
                values["status"] = RunStatus(status).value
            except ValueError:
                raise InvalidParameter(f"Invalid run status {status!r}") from None
        if end_time is not None:
            values["end_time"] = int(end_time)
        if run_name:
            values["name"] = run_name
        with self._write() as conn:
            self._active_run_row(conn, run_id)
            if values:
                conn.execute(update(r).where(r.c.run_uuid == run_id).values(**values))
            if run_name:
                item = {"run_uuid": run_id, "key": RUN_NAME_TAG, "value": run_name}
                upsert(conn, s.tags, [item], ["run_uuid", "key"], ["value"])
            return _to_info(self._run_row(conn, run_id))

    def _set_run_stage(self, run_id: str, stage: LifecycleStage) -> None:
        with self._write() as conn:
            self._run_row(conn, run_id)
            conn.execute(update(r).where(r.c.run_uuid == run_id).values(**stage_values(stage)))

    def delete_run(self, run_id: str) -> None:
        """Marks the run deleted (it stays in the database)."""
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Marks a deleted run active again."""
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """All-or-nothing: every entry is validated, then written in one transaction."""
        check_batch(metrics, params, tags)
        with self._write() as conn:
            self._active_run_row(conn, run_id)
            self._log_params(conn, run_id, params)
            self._log_tags(conn, run_id, tags)
            self._log_metrics(conn, run_id, metrics)

    def _log_params(self, conn: Connection, run_id: str, params: Sequence[Param]) -> None:
        if not params:
            return
        p = s.params
        keys = [param.key for param in params]
        query = select(p.c.key, p.c.value).where(p.c.run_uuid == run_id, p.c.key.in_(keys))
        stored = {row.key: row.value for row in conn.execute(query)}
        for param in params:
            old = stored.get(param.key)
            if old is not None and old != param.value:
                raise InvalidParameter(
                    f"Param {param.key!r} of run {run_id} is already {old!r}; params are "
                    f"immutable, cannot change it to {param.value!r}"
                )
        rows = [{"run_uuid": run_id, "key": x.key, "value": x.value} for x in params]
        upsert(conn, p, rows, ["run_uuid", "key"])

    def _log_tags(self, conn: Connection, run_id: str, tags: Sequence[RunTag]) -> None:
        if not tags:
            return
        latest = {tag.key: tag.value for tag in tags}  # the last value of a repeated key wins
        rows = [{"run_uuid": run_id, "key": k, "value": v} for k, v in latest.items()]
        upsert(conn, s.tags, rows, ["run_uuid", "key"], ["value"])
        if RUN_NAME_TAG in latest:
            conn.execute(update(r).where(r.c.run_uuid == run_id).values(name=latest[RUN_NAME_TAG]))

    def _log_metrics(self, conn: Connection, run_id: str, metrics: Sequence[Metric]) -> None:
        if not metrics:
            return
        rows = [_metric_row(run_id, m) for m in metrics]
        # A point logged again (a retried batch) is skipped, as MLflow's store skips it.
        upsert(conn, s.metrics, rows, s.METRIC_IDENTITY)
        upsert(
            conn,
            s.latest_metrics,
            _latest_rows(rows),
            ["run_uuid", "key"],
            ["value", "timestamp", "step", "is_nan"],
            where=_newer,
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        """Removes a tag from an active run (NotFound when it has no such tag)."""
        check_key(key, "Tag")
        with self._write() as conn:
            self._active_run_row(conn, run_id)
            t = s.tags
            result = conn.execute(t.delete().where(t.c.run_uuid == run_id, t.c.key == key))
            if result.rowcount == 0:
                raise NotFound(f"No tag with name: {key} in run with id {run_id}")

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of metric `key`, by step then timestamp."""
        m = s.metrics
        with self._read() as conn:
            self._run_row(conn, run_id)
            stmt = (
                select(m)
                .where(m.c.run_uuid == run_id, m.c.key == key)
                .order_by(m.c.step, m.c.timestamp, m.c.id)
            )
            return [_to_metric(row) for row in conn.execute(stmt)]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of the experiments matching `filter_string`, ordered and paged in SQL."""
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        ids = [int(x) for x in (str(e) for e in experiment_ids) if x.lstrip("-").isdigit()]
        stmt = select(r).where(
            r.c.experiment_id.in_(ids), r.c.lifecycle_stage.in_(ViewType(run_view_type).stages())
        )
        stmt = apply_filter(stmt, filter_string, _FIELDS)
        stmt = apply_order(stmt, order_by, _FIELDS, [r.c.start_time.desc(), r.c.run_uuid])
        with self._read() as conn:
            rows = conn.execute(paged(stmt, offset, max_results)).all()[: max_results + 1]
            page = rows[:max_results]
            data = self._run_data(conn, [row.run_uuid for row in page])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return PagedList([Run(_to_info(row), data[row.run_uuid]) for row in page], token)
