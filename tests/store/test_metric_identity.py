"""Issue 14: a metric point logged again (a retried batch) is stored once, on sqlite and
PostgreSQL; different values at the same step stay distinct points, as in MLflow."""

from __future__ import annotations

import math

from sqlalchemy import create_engine, text

from trk.entities import Metric
from trk.store.engine import dispose_engine, sql_url
from trk.store.migrations import HEAD
from trk.store.sql import SqlStore

# Migration 0010's tables (access control), children first.
ACCESS_TABLES = (
    "alias_history",
    "promotion_requests",
    "registered_model_permissions",
    "experiment_permissions",
    "user_tokens",
    "users",
)


def _points(store, run_id, key):
    return [(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, key)]


def test_a_batch_logged_twice_is_stored_once(store):
    run_id = store.create_run("0").info.run_id
    window = [Metric("requests", 10.0, 1_000, 0), Metric("nan", math.nan, 1_000, 0)]
    for _ in range(3):
        store.log_batch(run_id, window)
    store.log_batch(run_id, [*window, *window])  # the same point twice in one batch
    assert _points(store, run_id, "requests") == [(0, 1_000, 10.0)]
    assert len(store.get_metric_history(run_id, "nan")) == 1
    # Another value, timestamp or step is another point.
    store.log_batch(
        run_id, [Metric("requests", 11.0, 1_000, 0), Metric("requests", 10.0, 2_000, 0)]
    )
    store.log_batch(run_id, [Metric("requests", 10.0, 1_000, 1)])
    assert _points(store, run_id, "requests") == [
        (0, 1_000, 10.0),
        (0, 1_000, 11.0),
        (0, 2_000, 10.0),
        (1, 1_000, 10.0),
    ]
    assert store.get_run(run_id).data.metrics["requests"] == 10.0  # latest: step 1


def test_migration_keeps_one_of_each_duplicate(tmp_path):
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    store = SqlStore(uri, str(tmp_path / "artifacts"))
    run_id = store.create_run("0").info.run_id
    dispose_engine(uri)
    engine = create_engine(sql_url(uri))
    with engine.begin() as conn:  # the store as 0007 left it: no unique key, duplicates
        conn.execute(text("DROP INDEX ux_metrics_identity"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN deleted_time"))  # added by 0009
        conn.execute(text("ALTER TABLE model_versions DROP COLUMN current_stage"))  # 0011
        conn.execute(text("ALTER TABLE registered_models DROP COLUMN last_version"))  # 0011
        for table in ACCESS_TABLES:  # added by 0010
            conn.execute(text(f"DROP TABLE {table}"))
        for table in ("pending_labels", "label_corrections"):  # added by 0012
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("ALTER TABLE prediction_labels DROP COLUMN corrections"))  # 0012
        conn.execute(text("UPDATE alembic_version SET version_num = '0007'"))
        for value in (1.0, 1.0, 1.0, 2.0):
            conn.execute(
                text(
                    "INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) "
                    "VALUES (:r, 'requests', :v, 5, 0, false)"
                ),
                {"r": run_id, "v": value},
            )
        conn.execute(text("CREATE INDEX ix_metrics_run_key_step ON metrics (run_uuid, key, step)"))
    engine.dispose()
    store = SqlStore(uri, str(tmp_path / "artifacts"))  # opening migrates to HEAD
    assert _points(store, run_id, "requests") == [(0, 5, 1.0), (0, 5, 2.0)]
    with store._engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
