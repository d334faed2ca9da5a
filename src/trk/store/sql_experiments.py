"""Experiments in the SQL store: create, get, search, rename, delete/restore, tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select, update

from trk.entities import Experiment, LifecycleStage, PagedList, ViewType
from trk.exceptions import AlreadyExists, InvalidParameter, NotFound
from trk.store import schema as s
from trk.store.search import decode_page_token, encode_page_token
from trk.store.sql_base import SqlBase, WriteConflict, now_ms, upsert
from trk.store.sql_search import Fields, apply_filter, apply_order, paged
from trk.store.validation import check_key, check_max_results, check_name

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"


def stage_values(stage: LifecycleStage) -> dict[str, Any]:
    """A run's lifecycle columns for `stage`: a deleted run remembers when (`trk gc`)."""
    deleted = now_ms() if stage == LifecycleStage.DELETED else None
    return {"lifecycle_stage": stage.value, "deleted_time": deleted}


_FIELDS = Fields(
    "experiment",
    {
        "name": (s.experiments.c.name, False),
        "experiment_id": (s.experiments.c.experiment_id, True),
        "creation_time": (s.experiments.c.creation_time, True),
        "last_update_time": (s.experiments.c.last_update_time, True),
    },
    {
        "tag": (
            s.experiment_tags,
            lambda a, key: (a.c.experiment_id == s.experiments.c.experiment_id) & (a.c.key == key),
        )
    },
)


def _parse_id(experiment_id: Any) -> int:
    try:
        return int(str(experiment_id))
    except ValueError:
        raise NotFound(f"No experiment with id {experiment_id!r}") from None


def _to_experiment(row: Row[Any], tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        tags=tags,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
    )


class SqlExperiments(SqlBase):
    """Experiment methods of `SqlStore`."""

    default_artifact_root: str

    def _experiment_row(self, conn: Connection, experiment_id: Any) -> Row[Any]:
        row = conn.execute(
            select(s.experiments).where(s.experiments.c.experiment_id == _parse_id(experiment_id))
        ).first()
        if row is None:
            raise NotFound(f"No experiment with id {experiment_id!r}")
        return row

    def _active_experiment_row(self, conn: Connection, experiment_id: Any) -> Row[Any]:
        row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameter(f"Experiment {experiment_id!r} is deleted; restore it first")
        return row

    def _experiment_tags(self, conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {i: {} for i in ids}
        t = s.experiment_tags
        for row in conn.execute(select(t).where(t.c.experiment_id.in_(list(ids)))):
            out[row.experiment_id][row.key] = row.value
        return out

    def _has_default_experiment(self, conn: Connection) -> bool:
        e = s.experiments
        stmt = select(e.c.experiment_id).where(e.c.experiment_id == DEFAULT_EXPERIMENT_ID)
        return conn.execute(stmt).first() is not None

    def _ensure_default_experiment(self, conn: Connection) -> None:
        now = now_ms()
        row = {
            "experiment_id": DEFAULT_EXPERIMENT_ID,
            "name": DEFAULT_EXPERIMENT_NAME,
            "artifact_location": f"{self.default_artifact_root}/{DEFAULT_EXPERIMENT_ID}",
            "lifecycle_stage": LifecycleStage.ACTIVE.value,
            "creation_time": now,
            "last_update_time": now,
        }
        upsert(conn, s.experiments, [row], ["experiment_id"])

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Creates an experiment and returns its id (AlreadyExists for a taken name)."""
        check_name(name, "Experiment")
        for key in tags or {}:
            check_key(key, "Tag")
        now = now_ms()
        try:
            with self._write() as conn:
                taken = conn.execute(
                    select(s.experiments.c.experiment_id).where(s.experiments.c.name == name)
                ).first()
                if taken is not None:
                    raise AlreadyExists(f"Experiment {name!r} already exists (id {taken[0]})")
                result = conn.execute(
                    s.experiments.insert().values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                new_id = result.inserted_primary_key[0]  # type: ignore[index]  # always set on insert
                if not artifact_location:
                    conn.execute(
                        update(s.experiments)
                        .where(s.experiments.c.experiment_id == new_id)
                        .values(artifact_location=f"{self.default_artifact_root}/{new_id}")
                    )
                rows = [
                    {"experiment_id": new_id, "key": k, "value": str(v)}
                    for k, v in (tags or {}).items()
                ]
                if rows:
                    conn.execute(s.experiment_tags.insert(), rows)
        except WriteConflict:
            raise AlreadyExists(f"Experiment {name!r} already exists") from None
        return str(new_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (NotFound otherwise)."""
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
            return _to_experiment(
                row, self._experiment_tags(conn, [row.experiment_id])[row.experiment_id]
            )

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, active or deleted, else None."""
        with self._read() as conn:
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).first()
            if row is None:
                return None
            return _to_experiment(
                row, self._experiment_tags(conn, [row.experiment_id])[row.experiment_id]
            )

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching `filter_string` (name, tags.*, times), paged."""
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        e = s.experiments
        stmt = select(e).where(e.c.lifecycle_stage.in_(ViewType(view_type).stages()))
        stmt = apply_filter(stmt, filter_string, _FIELDS)
        stmt = apply_order(stmt, order_by, _FIELDS, [e.c.creation_time.desc(), e.c.experiment_id])
        with self._read() as conn:
            rows = conn.execute(paged(stmt, offset, max_results)).all()
            page = rows[:max_results]
            tags = self._experiment_tags(conn, [r.experiment_id for r in page])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return PagedList([_to_experiment(r, tags[r.experiment_id]) for r in page], token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Renames an active experiment (AlreadyExists when the name is taken)."""
        check_name(new_name, "Experiment")
        try:
            with self._write() as conn:
                row = self._active_experiment_row(conn, experiment_id)
                taken = conn.execute(
                    select(s.experiments.c.experiment_id).where(s.experiments.c.name == new_name)
                ).first()
                if taken is not None and taken[0] != row.experiment_id:
                    raise AlreadyExists(f"Experiment {new_name!r} already exists (id {taken[0]})")
                self._touch_experiment(conn, row.experiment_id, name=new_name)
        except WriteConflict:
            raise AlreadyExists(f"Experiment {new_name!r} already exists") from None

    def _touch_experiment(self, conn: Connection, experiment_id: int, **values: Any) -> None:
        e = s.experiments
        conn.execute(
            update(e)
            .where(e.c.experiment_id == experiment_id)
            .values(last_update_time=now_ms(), **values)
        )

    def _set_experiment_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            self._touch_experiment(conn, row.experiment_id, lifecycle_stage=stage.value)
            # MLflow deletes / restores an experiment's runs along with it.
            conn.execute(
                update(s.runs)
                .where(s.runs.c.experiment_id == row.experiment_id)
                .values(**stage_values(stage))
            )

    def delete_experiment(self, experiment_id: str) -> None:
        """Marks the experiment and its runs deleted (the Default experiment cannot be)."""
        if str(experiment_id) == str(DEFAULT_EXPERIMENT_ID):
            raise InvalidParameter("The Default experiment (id 0) cannot be deleted")
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Marks a deleted experiment and its runs active again."""
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Sets (or overwrites) a tag on an active experiment."""
        check_key(key, "Tag")
        with self._write() as conn:
            row = self._active_experiment_row(conn, experiment_id)
            item = {"experiment_id": row.experiment_id, "key": key, "value": str(value)}
            upsert(conn, s.experiment_tags, [item], ["experiment_id", "key"], ["value"])

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Removes a tag from an active experiment (NotFound when absent)."""
        t = s.experiment_tags
        with self._write() as conn:
            row = self._active_experiment_row(conn, experiment_id)
            stmt = t.delete().where(t.c.experiment_id == row.experiment_id, t.c.key == key)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"No tag with name: {key} in experiment with id {experiment_id}")
