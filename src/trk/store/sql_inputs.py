"""Dataset inputs and logged-model inputs/outputs of runs in the SQL store (migration 0005).

Tables shaped as MLflow's: a dataset is stored once per (experiment, name, digest); each use
is an edge in `inputs` (DATASET -> RUN, RUN_INPUT -> MODEL_INPUT, RUN_OUTPUT -> MODEL_OUTPUT)
with its tags in `input_tags`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, select

from trk.contracts.run_inputs import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    DatasetSummary,
    ModelOutput,
    RunIO,
    check_dataset_inputs,
)
from trk.store import schema as s
from trk.store.sql_base import upsert
from trk.store.sql_runs import SqlRuns

MAX_DATASET_SUMMARIES = 1000  # as MLflow
_EDGE_KEYS = ["source_type", "source_id", "destination_type", "destination_id"]

d, i, t = s.datasets, s.inputs, s.input_tags


def _edge(src_type: str, src: str, dst_type: str, dst: str, step: int = 0) -> dict[str, Any]:
    return {
        "input_uuid": uuid.uuid4().hex,
        "source_type": src_type,
        "source_id": src,
        "destination_type": dst_type,
        "destination_id": dst,
        "step": int(step),
    }


def _to_dataset(row: Any) -> Dataset:
    return Dataset(
        row.name,
        row.digest,
        row.dataset_source_type,
        row.dataset_source,
        row.dataset_schema,
        row.dataset_profile,
    )


class SqlInputs(SqlRuns):
    """Run inputs and outputs of `SqlStore`."""

    def log_inputs(
        self,
        run_id: str,
        datasets: Sequence[DatasetInput] = (),
        models: Sequence[str] = (),
    ) -> None:
        """Datasets (deduplicated by name and digest, first wins) and logged models the run
        read; logging the same input again keeps the first and its tags."""
        check_dataset_inputs(datasets)
        unique: dict[tuple[str, str], DatasetInput] = {}
        for item in datasets:
            unique.setdefault((item.dataset.name, item.dataset.digest), item)
        with self._write() as conn:
            exp_id = self._active_run_row(conn, run_id).experiment_id
            for item in unique.values():
                self._log_dataset_input(conn, exp_id, run_id, item)
            edges = [_edge("RUN_INPUT", run_id, "MODEL_INPUT", m) for m in models]
            upsert(conn, i, edges, _EDGE_KEYS)

    def _log_dataset_input(
        self, conn: Connection, exp_id: int, run_id: str, item: DatasetInput
    ) -> None:
        ds = item.dataset
        row = {
            "dataset_uuid": uuid.uuid4().hex,
            "experiment_id": exp_id,
            "name": ds.name,
            "digest": ds.digest,
            "dataset_source_type": ds.source_type,
            "dataset_source": ds.source,
            "dataset_schema": ds.schema,
            "dataset_profile": ds.profile,
        }
        upsert(conn, d, [row], ["experiment_id", "name", "digest"])
        key = (d.c.experiment_id == exp_id) & (d.c.name == ds.name) & (d.c.digest == ds.digest)
        dataset_uuid = conn.execute(select(d.c.dataset_uuid).where(key)).scalar_one()
        edge = _edge("DATASET", dataset_uuid, "RUN", run_id)
        found = conn.execute(
            select(i.c.input_uuid).where(*(i.c[k] == edge[k] for k in _EDGE_KEYS))
        ).scalar()
        if found is not None:
            return
        conn.execute(i.insert().values(edge))
        tags = [
            {"input_uuid": edge["input_uuid"], "name": k, "value": v} for k, v in item.tags.items()
        ]
        if tags:
            conn.execute(t.insert(), tags)

    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None:
        """Logged models the run produced, each at its step (logging one again moves the step)."""
        edges = [_edge("RUN_OUTPUT", run_id, "MODEL_OUTPUT", m.model_id, m.step) for m in models]
        with self._write() as conn:
            self._active_run_row(conn, run_id)
            upsert(conn, i, edges, _EDGE_KEYS, ["step"])

    def get_run_io(self, run_id: str) -> RunIO:
        """What the run read and produced."""
        with self._read() as conn:
            self._run_row(conn, run_id)
            return self._run_io(conn, [run_id])[run_id]

    def get_runs_io(self, run_ids: Sequence[str]) -> dict[str, RunIO]:
        """What each run read and produced, in one read (for a page of search results)."""
        with self._read() as conn:
            return self._run_io(conn, run_ids)

    def _run_io(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, RunIO]:
        out = {run_id: RunIO() for run_id in run_ids}
        ids = list(run_ids)
        stmt = (
            select(i.c.input_uuid, i.c.destination_id, d)
            .join(d, d.c.dataset_uuid == i.c.source_id)
            .where(i.c.source_type == "DATASET", i.c.destination_type == "RUN")
            .where(i.c.destination_id.in_(ids))
            .order_by(d.c.name, d.c.digest)
        )
        rows = conn.execute(stmt).all()
        tags: dict[str, dict[str, str]] = {r.input_uuid: {} for r in rows}
        tag_stmt = select(t).where(t.c.input_uuid.in_(list(tags))).order_by(t.c.name)
        for tag in conn.execute(tag_stmt):
            tags[tag.input_uuid][tag.name] = tag.value
        for r in rows:
            out[r.destination_id].dataset_inputs.append(
                DatasetInput(_to_dataset(r), tags[r.input_uuid])
            )
        edges = select(i).where(i.c.source_type.in_(["RUN_INPUT", "RUN_OUTPUT"]))
        for e in conn.execute(edges.where(i.c.source_id.in_(ids)).order_by(i.c.destination_id)):
            if e.source_type == "RUN_INPUT":
                out[e.source_id].model_inputs.append(e.destination_id)
            else:
                out[e.source_id].model_outputs.append(ModelOutput(e.destination_id, e.step))
        return out

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        """Datasets used by runs of the experiments, with their `mlflow.data.context` tag."""
        exp_ids = [int(x) for x in (str(e) for e in experiment_ids) if x.isdigit()]
        context = and_(t.c.input_uuid == i.c.input_uuid, t.c.name == DATASET_CONTEXT_TAG)
        stmt = (
            select(d.c.experiment_id, d.c.name, d.c.digest, t.c.value)
            .distinct()
            .join(i, and_(i.c.source_type == "DATASET", i.c.source_id == d.c.dataset_uuid))
            .outerjoin(t, context)
            .where(d.c.experiment_id.in_(exp_ids))
            .order_by(d.c.experiment_id, d.c.name, d.c.digest, t.c.value)
            .limit(MAX_DATASET_SUMMARIES)
        )
        with self._read() as conn:
            return [
                DatasetSummary(str(r.experiment_id), r.name, r.digest, r.value)
                for r in conn.execute(stmt)
            ]
