"""SqlStore experiments and runs on sqlite and PostgreSQL: CRUD, and bad input that changes nothing."""

from __future__ import annotations

import math

import pytest

from trk.entities import LifecycleStage, Metric, Param, RunStatus, RunTag, ViewType
from trk.exceptions import AlreadyExists, InvalidParameter, NotFound


def test_default_experiment_exists(store, tmp_path):
    exp = store.get_experiment("0")
    assert exp.name == "Default"
    assert exp.artifact_location == f"{tmp_path / 'artifacts'}/0"
    assert store.get_experiment_by_name("Default").experiment_id == "0"


def test_experiment_crud(store, tmp_path):
    exp_id = store.create_experiment("exp", tags={"team": "ml"})
    exp = store.get_experiment(exp_id)
    assert (exp.name, exp.tags) == ("exp", {"team": "ml"})
    assert exp.artifact_location == f"{tmp_path / 'artifacts'}/{exp_id}"
    assert store.create_experiment("custom", "s3://b/x") != exp_id
    assert store.get_experiment_by_name("custom").artifact_location == "s3://b/x"
    store.rename_experiment(exp_id, "renamed")
    store.set_experiment_tag(exp_id, "team", "infra")
    exp = store.get_experiment_by_name("renamed")
    assert (exp.experiment_id, exp.tags) == (exp_id, {"team": "infra"})
    assert store.get_experiment_by_name("exp") is None
    store.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == LifecycleStage.DELETED
    names = {e.name for e in store.search_experiments()}
    assert names == {"Default", "custom"}
    assert {e.name for e in store.search_experiments(ViewType.DELETED_ONLY)} == {"renamed"}
    store.restore_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == LifecycleStage.ACTIVE


def test_bad_experiment_calls_change_nothing(store, counts):
    exp_id = store.create_experiment("exp")
    store.create_experiment("other")
    before = counts(store)
    with pytest.raises(AlreadyExists, match="'exp'"):
        store.create_experiment("exp")
    with pytest.raises(AlreadyExists, match="'other'"):
        store.rename_experiment(exp_id, "other")
    with pytest.raises(NotFound, match="'999'"):
        store.get_experiment("999")
    with pytest.raises(NotFound):
        store.get_experiment("not-a-number")
    with pytest.raises(NotFound):
        store.set_experiment_tag("999", "k", "v")
    with pytest.raises(InvalidParameter):
        store.create_experiment("")
    with pytest.raises(InvalidParameter, match="Default"):
        store.delete_experiment("0")
    with pytest.raises(InvalidParameter, match="key"):
        store.create_experiment("x", tags={"../etc": "v"})
    assert counts(store) == before
    assert store.get_experiment(exp_id).name == "exp"


def test_run_lifecycle(store, tmp_path):
    exp_id = store.create_experiment("exp")
    run = store.create_run(exp_id, user_id="ana", start_time=123, tags={"k": "v"}, run_name="r1")
    info = run.info
    assert (info.status, info.run_name, info.user_id, info.start_time) == (
        "RUNNING",
        "r1",
        "ana",
        123,
    )
    assert info.artifact_uri == f"{tmp_path / 'artifacts'}/{exp_id}/{info.run_id}/artifacts"
    assert len(info.run_id) == 32
    got = store.get_run(info.run_id)
    assert got.data.tags == {"k": "v", "mlflow.runName": "r1"}
    updated = store.update_run_info(info.run_id, status="FINISHED", end_time=456, run_name="r2")
    assert (updated.status, updated.end_time, updated.run_name) == ("FINISHED", 456, "r2")
    assert store.get_run(info.run_id).data.tags["mlflow.runName"] == "r2"
    store.delete_run(info.run_id)
    assert store.get_run(info.run_id).info.lifecycle_stage == "deleted"
    assert store.search_runs([exp_id]) == []
    store.restore_run(info.run_id)
    assert [r.info.run_id for r in store.search_runs([exp_id])] == [info.run_id]
    assert store.create_run(exp_id).info.run_name  # a generated name when none is given


def test_log_batch_params_tags_metrics(store):
    run_id = store.create_run(store.create_experiment("exp")).info.run_id
    store.log_batch(
        run_id,
        metrics=[Metric("acc", 0.5, 10, 0), Metric("acc", 0.9, 5, 2), Metric("acc", 0.1, 99, 1)],
        params=[Param("lr", "0.1")],
        tags=[RunTag("t", "1")],
    )
    store.log_metric(run_id, Metric("loss", float("nan"), 1, 0))
    store.log_param(run_id, Param("lr", "0.1"))  # same value again: a no-op
    store.set_tag(run_id, RunTag("t", "2"))
    data = store.get_run(run_id).data
    assert data.metrics["acc"] == 0.9  # latest = max by (step, timestamp), not last logged
    assert data.metric_objs["acc"] == Metric("acc", 0.9, 5, 2)
    assert math.isnan(data.metrics["loss"])
    assert data.params == {"lr": "0.1"}
    assert data.tags["t"] == "2"
    history = store.get_metric_history(run_id, "acc")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.1), (2, 0.9)]
    store.delete_tag(run_id, "t")
    assert "t" not in store.get_run(run_id).data.tags
    with pytest.raises(NotFound, match="name: t in run"):
        store.delete_tag(run_id, "t")


def test_terminated_run_accepts_logging_deleted_run_refuses(store, counts):
    run_id = store.create_run(store.create_experiment("exp")).info.run_id
    store.update_run_info(run_id, status=RunStatus.FINISHED, end_time=1)
    store.log_metric(run_id, Metric("late", 1.0, 1, 0))
    assert store.get_run(run_id).data.metrics == {"late": 1.0}
    store.delete_run(run_id)
    before = counts(store)
    with pytest.raises(InvalidParameter, match="deleted"):
        store.log_metric(run_id, Metric("late", 2.0, 2, 1))
    assert counts(store) == before


BAD_BATCHES = [
    ([Metric("m", "0.5", 1, 0)], [], [], "'m' value must be a number"),
    ([Metric("m", None, 1, 0)], [], [], "number"),
    ([Metric("m", 1.0, "x", 0)], [], [], "timestamp"),
    ([Metric("bad:key", 1.0, 1, 0)], [], [], "'bad:key'"),
    ([Metric("/abs", 1.0, 1, 0)], [], [], "'/abs'"),
    ([Metric("a/../b", 1.0, 1, 0)], [], [], "'a/../b'"),
    ([], [Param("lr", "0.2")], [], "'lr'.*'0.1'.*'0.2'"),
    ([], [Param("p", "x" * 6001)], [], "6000"),
    ([], [Param("p", "1"), Param("p", "2")], [], "twice"),
    ([], [], [RunTag("", "v")], "non-empty"),
]


def test_bad_batch_writes_nothing(store, counts):
    run_id = store.create_run(store.create_experiment("exp")).info.run_id
    store.log_param(run_id, Param("lr", "0.1"))
    before = counts(store)
    good = [Metric("ok", 1.0, 1, 0)]
    for metrics, params, tags, message in BAD_BATCHES:
        # Good entries ride along: a batch with one bad entry must write none of them.
        with pytest.raises(InvalidParameter, match=message):
            store.log_batch(run_id, good + metrics, [Param("fresh", "1"), *params], tags)
        assert counts(store) == before, message
    assert store.get_run(run_id).data.params == {"lr": "0.1"}


def test_unknown_things_are_not_found(store, counts):
    exp_id = store.create_experiment("exp")
    before = counts(store)
    missing = "0" * 32
    with pytest.raises(NotFound, match=missing):
        store.get_run(missing)
    with pytest.raises(NotFound, match=missing):
        store.log_metric(missing, Metric("m", 1.0, 1, 0))
    with pytest.raises(NotFound):
        store.get_metric_history(missing, "m")
    with pytest.raises(NotFound):
        store.update_run_info(missing, status="FINISHED")
    with pytest.raises(NotFound, match="'42'"):
        store.create_run("42")
    with pytest.raises(InvalidParameter, match="status"):
        store.update_run_info(store.create_run(exp_id).info.run_id, status="DONE")
    store.delete_experiment(exp_id)
    with pytest.raises(InvalidParameter, match="deleted"):
        store.create_run(exp_id)
    assert counts(store)["metrics"] == before["metrics"]


def test_ping(store):
    store.ping()
