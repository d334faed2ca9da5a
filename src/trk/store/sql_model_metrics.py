"""Metrics logged with a `model_id` (MLflow 3): listed on the logged model, and the datasets
they were computed on make logged models searchable by dataset (migration 0005)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import or_, select

from trk.contracts.run_inputs import ModelMetric
from trk.exceptions import NotFound
from trk.store import schema as s
from trk.store.logged_models import logged_models as lm
from trk.store.sql_base import upsert
from trk.store.sql_inputs import SqlInputs

_KEYS = ["model_id", "metric_name", "metric_timestamp_ms", "metric_step", "run_id"]
m = s.logged_model_metrics


class SqlModelMetrics(SqlInputs):
    """Logged-model metrics of `SqlStore`."""

    def log_model_metrics(self, run_id: str, metrics: Sequence[ModelMetric]) -> None:
        """Also lists each metric on its logged model (the run's own history is separate)."""
        if not metrics:
            return
        ids = sorted({x.model_id for x in metrics})
        with self._write() as conn:
            exp_id = self._active_run_row(conn, run_id).experiment_id
            known = set(conn.execute(select(lm.c.model_id).where(lm.c.model_id.in_(ids))).scalars())
            for missing in set(ids) - known:
                raise NotFound(f"Logged model with ID '{missing}' not found")
            rows = [
                {
                    "model_id": x.model_id,
                    "metric_name": x.key,
                    "metric_timestamp_ms": int(x.timestamp),
                    "metric_step": int(x.step),
                    "metric_value": None if math.isnan(x.value) else float(x.value),
                    "experiment_id": exp_id,
                    "run_id": run_id,
                    "dataset_name": x.dataset_name or None,
                    "dataset_digest": x.dataset_digest or None,
                }
                for x in metrics
            ]
            upsert(conn, m, rows, _KEYS, ["metric_value", "dataset_name", "dataset_digest"])

    def get_model_metrics(self, model_ids: Sequence[str]) -> dict[str, list[ModelMetric]]:
        """Each model's metrics, in the order they were logged (by timestamp, step)."""
        out: dict[str, list[ModelMetric]] = {x: [] for x in model_ids}
        stmt = (
            select(m)
            .where(m.c.model_id.in_(list(model_ids)))
            .order_by(m.c.metric_timestamp_ms, m.c.metric_step, m.c.metric_name)
        )
        with self._read() as conn:
            for r in conn.execute(stmt):
                value = math.nan if r.metric_value is None else r.metric_value
                out[r.model_id].append(
                    ModelMetric(
                        r.metric_name,
                        value,
                        r.metric_timestamp_ms,
                        r.metric_step,
                        r.model_id,
                        r.run_id,
                        r.dataset_name,
                        r.dataset_digest,
                    )
                )
        return out

    def models_with_datasets(self, datasets: Sequence[tuple[str, str | None]]) -> set[str]:
        """Ids of logged models with a metric on one of the (name, digest or None) datasets."""
        clauses = [
            (m.c.dataset_name == name) & (m.c.dataset_digest == digest)
            if digest
            else m.c.dataset_name == name
            for name, digest in datasets
        ]
        stmt = select(m.c.model_id).distinct().where(or_(*clauses))
        with self._read() as conn:
            return set(conn.execute(stmt).scalars())
