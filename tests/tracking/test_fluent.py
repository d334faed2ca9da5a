"""The fluent API against a real sqlite store file."""

from __future__ import annotations

import math

import pytest

import trk
from trk.exceptions import InvalidParameter, NotFound

pytestmark = pytest.mark.unit


def test_run_lifecycle_params_metrics_tags(tracking_uri):
    trk.set_experiment("iris")
    with trk.start_run(run_name="first") as run:
        trk.log_param("C", 1.0)
        trk.log_params({"solver": "lbfgs", "max_iter": 200})
        for step in range(3):
            trk.log_metric("loss", 1.0 / (step + 1), step=step)
        trk.log_metrics({"accuracy": 0.9, "f1": 0.88})
        trk.set_tag("team", "ml")
        trk.set_tags({"stage": "dev"})
        run_id = run.info.run_id
    got = trk.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "first"
    assert got.data.params == {"C": "1.0", "solver": "lbfgs", "max_iter": "200"}
    assert got.data.metrics["loss"] == pytest.approx(1 / 3)
    assert got.data.metrics["accuracy"] == 0.9
    assert got.data.tags["team"] == "ml" and got.data.tags["stage"] == "dev"
    history = trk.Client().get_metric_history(run_id, "loss")
    assert [(m.step, round(m.value, 4)) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.3333)]
    assert trk.get_experiment_by_name("iris").experiment_id == got.info.experiment_id


def test_failed_block_marks_run_failed(tracking_uri):
    with pytest.raises(RuntimeError):
        with trk.start_run() as run:
            raise RuntimeError("boom")
    assert trk.get_run(run.info.run_id).info.status == "FAILED"
    assert trk.active_run() is None


def test_nested_runs_record_parent(tracking_uri):
    with trk.start_run() as parent:
        with pytest.raises(InvalidParameter, match="already active"):
            trk.start_run()
        with trk.start_run(nested=True) as child:
            assert trk.active_run().info.run_id == child.info.run_id
        assert trk.active_run().info.run_id == parent.info.run_id
    child_run = trk.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_param_is_immutable(tracking_uri):
    with trk.start_run() as run:
        trk.log_param("lr", 0.1)
        trk.log_param("lr", 0.1)  # same value again is fine
        with pytest.raises(InvalidParameter, match="lr"):
            trk.log_param("lr", 0.2)
    assert trk.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_metric_values_checked(tracking_uri):
    with trk.start_run() as run:
        trk.log_metric("nan_ok", float("nan"))
        with pytest.raises(InvalidParameter, match="must be a number"):
            trk.log_metric("acc", "high")
        trk.log_metric("overflow", float("-inf"))  # MLflow accepts infinities too
        with pytest.raises(InvalidParameter, match="must be a number"):
            trk.log_metrics({"good": 1.0, "bad": "x"})
    data = trk.get_run(run.info.run_id).data
    assert math.isnan(data.metrics["nan_ok"]) and data.metrics["overflow"] == float("-inf")
    assert "acc" not in data.metrics and "good" not in data.metrics  # batch is all or nothing


def test_search_runs_filter_order_and_frame(tracking_uri):
    trk.set_experiment("search")
    for i, acc in enumerate([0.7, 0.95, 0.92]):
        with trk.start_run():
            trk.log_param("n_estimators", str(100 if i else 10))
            trk.log_metric("accuracy", acc)
            trk.set_tag("x", "y" if i == 2 else "z")
    runs = trk.search_runs(
        filter_string="metrics.accuracy > 0.9 and params.n_estimators = '100'",
        order_by=["metrics.accuracy DESC"],
        output_format="list",
    )
    assert [r.data.metrics["accuracy"] for r in runs] == [0.95, 0.92]
    tagged = trk.search_runs(filter_string="tags.x = 'y'", output_format="list")
    assert [r.data.metrics["accuracy"] for r in tagged] == [0.92]
    frame = trk.search_runs(
        experiment_names=["search"], max_results=2, order_by=["metrics.accuracy ASC"]
    )
    assert list(frame["metrics.accuracy"]) == [0.7, 0.92]
    assert "params.n_estimators" in frame.columns
    with pytest.raises(InvalidParameter):
        trk.search_runs(filter_string="metrics.accuracy >>> 1")
    with pytest.raises(NotFound, match="nope"):
        trk.search_runs(experiment_names=["nope"])


def test_log_artifacts_and_download(tracking_uri, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    with trk.start_run() as run:
        trk.log_artifact(src / "a.txt")
        trk.log_artifacts(src, artifact_path="bundle")
        with pytest.raises(InvalidParameter, match="escapes"):
            trk.log_artifact(src / "a.txt", artifact_path="../outside")
    client = trk.Client()
    names = sorted(f.path for f in client.list_artifacts(run.info.run_id))
    assert names == ["a.txt", "bundle"]
    assert sorted(f.path for f in client.list_artifacts(run.info.run_id, "bundle")) == [
        "bundle/a.txt",
        "bundle/sub",
    ]
    local = client.download_artifacts(run.info.run_id, "bundle", tmp_path / "dl")
    assert (tmp_path / "dl" / "bundle" / "sub" / "b.txt").read_text() == "B"
    assert local.endswith("bundle")
    assert not (tmp_path / "outside").exists()


def test_register_model_and_alias(tracking_uri, tmp_path):
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    with trk.start_run() as run:
        trk.log_artifacts(model_dir, "model")
    v1 = trk.register_model(f"runs:/{run.info.run_id}/model", "iris")
    v2 = trk.register_model(f"runs:/{run.info.run_id}/model", "iris")
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.run_id == run.info.run_id
    client = trk.Client()
    client.set_registered_model_alias("iris", "champion", v1.version)
    assert client.get_model_version_by_alias("iris", "champion").version == "1"
    client.set_registered_model_alias("iris", "champion", 2)
    assert client.get_model_version_by_alias("iris", "champion").version == "2"
    client.delete_model_version("iris", 2)
    with pytest.raises(NotFound):
        client.get_model_version_by_alias("iris", "champion")
