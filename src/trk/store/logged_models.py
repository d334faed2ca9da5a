"""MLflow 3 logged models in the SQL store: the model record, its tags and params.

Every `log_model` (trk's or the `mlflow` client's through `trk server`) creates one, with its
own id and artifact location; the tables come from migration 0002.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    select,
    update,
)

from trk.contracts.store import Store
from trk.entities import LoggedModel
from trk.exceptions import InvalidParameter, NotFound
from trk.store.engine import engine_for, read_connection, write_connection
from trk.store.schema import metadata
from trk.store.search import decode_page_token, encode_page_token
from trk.store.sql_base import now_ms, upsert
from trk.store.validation import check_key, check_max_results
from trk.uri import logged_model_id

STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}
_CLAUSE = re.compile(r"^\s*(?:attributes\.)?(\w+)\s*=\s*'([^']*)'\s*$")

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", **_CASCADE),
        nullable=False,  # as migration 0002 creates it
    ),
    Column("name", String(256), nullable=False),
    Column("artifact_location", String(1000), nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("status_message", String(1000)),
    Index("ix_logged_models_experiment", "experiment_id"),
)


def _kv_table(name: str, value_len: int) -> Table:
    return Table(
        name,
        metadata,
        Column("model_id", String(64), ForeignKey("logged_models.model_id", **_CASCADE)),
        Column("key", String(250), nullable=False),
        Column("value", String(value_len)),
        PrimaryKeyConstraint("model_id", "key"),
    )


logged_model_tags = _kv_table("logged_model_tags", 5000)
logged_model_params = _kv_table("logged_model_params", 8000)
_lm = logged_models
_ORDER_ALIASES = {
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}
_FILTERABLE = ("name", "model_id", "source_run_id", "model_type", "status")


class SqlLoggedModels:
    """Logged models beside a SqlStore (same database, same engine)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._engine = engine_for(store.uri)

    def create(
        self,
        experiment_id: str,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        """A PENDING model whose files go under the experiment's `models/<id>/artifacts`."""
        exp = self.store.get_experiment(experiment_id)
        # As in MLflow, the source run is recorded, not checked: a model may come from a run
        # another server holds. `runs:/RUN/NAME` only ever finds models of runs it can read.
        if source_run_id is not None and len(str(source_run_id)) > 32:
            raise InvalidParameter(f"source_run_id {source_run_id!r} is longer than a run id")
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        row = {
            "model_id": model_id,
            "experiment_id": int(exp.experiment_id),
            "name": name or model_id,
            "artifact_location": f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
            "creation_timestamp_ms": now,
            "last_updated_timestamp_ms": now,
            "status": STATUSES[0],
            "lifecycle_stage": "active",
            "model_type": model_type,
            "source_run_id": source_run_id or None,
        }
        with write_connection(self._engine) as conn:
            conn.execute(_lm.insert().values(row))
            self._put(conn, logged_model_params, model_id, params or {})
            self._put(conn, logged_model_tags, model_id, tags or {})
        return self.get(model_id)

    def get(self, model_id: str) -> LoggedModel:
        with read_connection(self._engine) as conn:
            found = self._load(conn, select(_lm).where(_lm.c.model_id == model_id))
        if not found:
            raise NotFound(f"Logged model with ID '{model_id}' not found")
        return found[0]

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        if status not in STATUSES:
            raise InvalidParameter(f"Invalid status {status!r}: expected one of {STATUSES}")
        self._touch(model_id, status=status)
        return self.get(model_id)

    def delete(self, model_id: str) -> None:
        self._touch(model_id, lifecycle_stage="deleted")

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        with write_connection(self._engine) as conn:
            self._require(conn, model_id)
            self._put(conn, logged_model_tags, model_id, tags)

    def delete_tag(self, model_id: str, key: str) -> None:
        t = logged_model_tags
        with write_connection(self._engine) as conn:
            self._require(conn, model_id)
            gone = conn.execute(t.delete().where((t.c.model_id == model_id) & (t.c.key == key)))
            if not gone.rowcount:
                raise NotFound(f"No tag with key {key!r} on logged model '{model_id}'")

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        with write_connection(self._engine) as conn:
            self._require(conn, model_id)
            self._put(conn, logged_model_params, model_id, params)

    def link_run_outputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        """A run's output models: fills `source_run_id` where it was not set."""
        stmt = (
            update(_lm)
            .where(_lm.c.model_id.in_(list(model_ids)) & _lm.c.source_run_id.is_(None))
            .values(source_run_id=run_id)
        )
        with write_connection(self._engine) as conn:
            conn.execute(stmt)

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
        model_ids: Sequence[str] | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        """Active models of the experiments; filter: `a = 'x' AND b = 'y'` on attributes;
        `model_ids`, when given, keeps only those models."""
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        ids = [int(e) for e in experiment_ids if str(e).isdigit()]
        stmt = select(_lm).where(_lm.c.experiment_id.in_(ids), _lm.c.lifecycle_stage == "active")
        if model_ids is not None:
            stmt = stmt.where(_lm.c.model_id.in_(list(model_ids)))
        for column, value in _parse_filter(filter_string):
            stmt = stmt.where(_lm.c[column] == value)
        stmt = stmt.order_by(*_order(order_by), _lm.c.model_id)
        with read_connection(self._engine) as conn:
            found = self._load(conn, stmt.offset(offset).limit(max_results + 1))
        more = len(found) > max_results
        return found[:max_results], encode_page_token(offset + max_results) if more else None

    def resolve_source(self, source: str) -> str:
        """`models:/<model_id>` (MLflow 3's registration source) -> the model's files."""
        model_id = logged_model_id(source)
        return self.get(model_id).artifact_location if model_id else source

    # -- helpers ---------------------------------------------------------------------------
    def _touch(self, model_id: str, **values: Any) -> None:
        stmt = update(_lm).where(_lm.c.model_id == model_id, _lm.c.lifecycle_stage == "active")
        with write_connection(self._engine) as conn:
            done = conn.execute(stmt.values(last_updated_timestamp_ms=now_ms(), **values))
            if not done.rowcount:
                raise NotFound(f"Logged model with ID '{model_id}' not found")

    def _require(self, conn: Any, model_id: str) -> None:
        stmt = select(_lm.c.model_id).where(
            _lm.c.model_id == model_id, _lm.c.lifecycle_stage == "active"
        )
        if conn.execute(stmt).first() is None:
            raise NotFound(f"Logged model with ID '{model_id}' not found")

    @staticmethod
    def _put(conn: Any, table: Table, model_id: str, items: dict[str, str]) -> None:
        for key in items:
            check_key(key, "Logged model tag/param")
        rows = [{"model_id": model_id, "key": k, "value": v} for k, v in items.items()]
        upsert(conn, table, rows, ["model_id", "key"], ["value"])

    @staticmethod
    def _load(conn: Any, stmt: Any) -> list[LoggedModel]:
        rows = conn.execute(stmt).all()
        ids = [r.model_id for r in rows]
        extra: dict[str, dict[str, dict[str, str]]] = {i: {"tags": {}, "params": {}} for i in ids}
        for kind, table in (("tags", logged_model_tags), ("params", logged_model_params)):
            for r in conn.execute(select(table).where(table.c.model_id.in_(ids))):
                extra[r.model_id][kind][r.key] = r.value
        out = []
        for r in rows:
            if r.lifecycle_stage != "active":
                continue
            out.append(
                LoggedModel(
                    r.model_id,
                    str(r.experiment_id),
                    r.name,
                    r.artifact_location,
                    r.creation_timestamp_ms,
                    r.last_updated_timestamp_ms,
                    r.status,
                    r.model_type,
                    r.source_run_id,
                    r.status_message,
                    **extra[r.model_id],
                )
            )
        return out


def _parse_filter(filter_string: str | None) -> list[tuple[str, str]]:
    if not filter_string or not filter_string.strip():
        return []
    out = []
    for clause in re.split(r"\s+AND\s+", filter_string.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if not m or m.group(1) not in _FILTERABLE:
            raise InvalidParameter(
                f"Unsupported logged model filter {clause!r}: use "
                f"<attribute> = 'value' with one of {', '.join(_FILTERABLE)}"
            )
        out.append((m.group(1), m.group(2)))
    return out


def _order(order_by: Sequence[dict[str, Any]] | None) -> list[Any]:
    if not order_by:
        return [_lm.c.creation_timestamp_ms.desc()]
    out = []
    for item in order_by:
        name = str(item.get("field_name", "")).removeprefix("attributes.")
        name = _ORDER_ALIASES.get(name, name)
        if name not in _lm.c or name in ("lifecycle_stage",):
            raise InvalidParameter(f"Cannot order logged models by {name!r}")
        col = _lm.c[name]
        out.append(col.asc() if item.get("ascending", True) else col.desc())
    return out
