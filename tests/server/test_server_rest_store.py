"""trk's own RestStore and HTTP artifact repository against `trk server` (sqlite, PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from trk.artifacts import get_artifact_repository
from trk.entities import Metric, Param, RunStatus, RunTag, ViewType
from trk.exceptions import AlreadyExists, InvalidParameter, NotFound, Unavailable
from uvicorn_thread import free_port


def _ms() -> int:
    return int(time.time() * 1000)


def test_tracking_round_trip(backend_uri, server_factory, rest_stores):
    store = rest_stores(server_factory(backend_uri).url)
    exp_id = store.create_experiment("exp", tags={"team": "ds"})
    assert store.get_experiment(exp_id).tags == {"team": "ds"}
    assert store.get_experiment_by_name("exp").experiment_id == exp_id
    assert store.get_experiment_by_name("missing") is None
    with pytest.raises(AlreadyExists):
        store.create_experiment("exp")
    store.rename_experiment(exp_id, "exp2")
    store.set_experiment_tag(exp_id, "stage", "dev")
    assert store.get_experiment(exp_id).name == "exp2"

    runs = [store.create_run(exp_id, run_name=f"r{i}", start_time=_ms()) for i in range(3)]
    for i, run in enumerate(runs):
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", 0.5 + i / 10, _ms(), s) for s in range(2)],
            params=[Param("i", str(i))],
            tags=[RunTag("kind", "even" if i % 2 == 0 else "odd")],
        )
    store.log_metric(runs[0].info.run_id, Metric("nan", float("nan"), _ms(), 0))
    found = store.search_runs([exp_id], "metrics.acc > 0.55", order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in found] == ["r2", "r1"]
    paged = store.search_runs([exp_id], max_results=2)
    assert len(paged) == 2 and paged.token
    assert len(store.search_runs([exp_id], max_results=2, page_token=paged.token)) == 1

    got = store.get_run(runs[0].info.run_id)
    assert got.data.params == {"i": "0"} and got.data.tags["kind"] == "even"
    assert got.data.metrics["nan"] != got.data.metrics["nan"]  # NaN survives the wire
    history = store.get_metric_history(runs[0].info.run_id, "acc")
    assert [m.step for m in history] == [0, 1]
    info = store.update_run_info(runs[0].info.run_id, RunStatus.FINISHED, _ms())
    assert info.status == "FINISHED"
    store.delete_tag(runs[0].info.run_id, "kind")
    assert "kind" not in store.get_run(runs[0].info.run_id).data.tags
    store.delete_run(runs[1].info.run_id)
    assert len(store.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)) == 1
    store.delete_experiment(exp_id)
    assert store.search_experiments(ViewType.DELETED_ONLY)[0].experiment_id == exp_id
    store.restore_experiment(exp_id)
    with pytest.raises(NotFound):
        store.get_run("0" * 32)


def test_registry_round_trip(backend_uri, server_factory, rest_stores):
    store = rest_stores(server_factory(backend_uri).url)
    store.create_registered_model("iris", tags={"owner": "ml"}, description="d")
    with pytest.raises(AlreadyExists):
        store.create_registered_model("iris")
    v1 = store.create_model_version("iris", "s3://bucket/m1")
    v2 = store.create_model_version("iris", "s3://bucket/m2", tags={"k": "v"})
    assert (v1.version, v2.version) == ("1", "2")
    store.set_registered_model_alias("iris", "champion", "1")
    store.set_registered_model_alias("iris", "challenger", 2)
    assert store.get_model_version_by_alias("iris", "champion").source == "s3://bucket/m1"
    assert store.get_registered_model("iris").aliases == {"champion": "1", "challenger": "2"}
    with pytest.raises(InvalidParameter):
        store.set_registered_model_alias("iris", "bad alias!", "1")
    store.set_registered_model_alias("iris", "champion", "2")  # move
    assert store.get_model_version_by_alias("iris", "champion").version == "2"
    assert store.get_model_version_download_uri("iris", "1") == "s3://bucket/m1"
    store.set_model_version_tag("iris", "1", "stage", "old")
    assert store.get_model_version("iris", "1").tags == {"stage": "old"}
    store.update_model_version("iris", "1", "first")
    assert store.get_model_version("iris", 1).description == "first"
    assert {v.version for v in store.search_model_versions("name = 'iris'")} == {"1", "2"}
    store.delete_model_version("iris", "2")  # takes its aliases with it
    with pytest.raises(NotFound):
        store.get_model_version_by_alias("iris", "challenger")
    store.rename_registered_model("iris", "iris2")
    assert [m.name for m in store.search_registered_models("name LIKE 'iris%'")] == ["iris2"]
    store.delete_registered_model("iris2")
    with pytest.raises(NotFound):
        store.get_registered_model("iris2")


def test_artifacts_through_the_proxy(server, tmp_path, rest_stores):
    run = rest_stores(server.url).create_run("0")
    assert run.info.artifact_uri.startswith(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.bin").write_bytes(b"\0" * 3000)
    with get_artifact_repository(run.info.artifact_uri) as repo:
        repo.log_artifacts(src, "model")
        listed = {(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("model")}
        assert listed == {("model/a.txt", False, 1), ("model/sub", True, None)}
        out = repo.download_artifacts("model", tmp_path / "out")
        assert (out / "sub" / "b.bin").read_bytes() == b"\0" * 3000
        # The files really are under the server's destination, below experiment 0's folder.
        assert (tmp_path / "artifacts0" / "0" / run.info.run_id / "artifacts/model/a.txt").exists()
        with pytest.raises(NotFound):
            repo.download_file("model/missing.txt", tmp_path / "x")
        repo.delete_artifacts("model/sub")
        assert [f.path for f in repo.list_artifacts("model")] == ["model/a.txt"]
    assert repo.transport._client is None  # the block closed its connections


def test_unreachable_server_is_one_clear_error(rest_stores):
    uri = f"http://127.0.0.1:{free_port()}"
    store = rest_stores(uri, retries=2)
    with pytest.raises(Unavailable, match=uri):
        store.get_experiment("0")
    with pytest.raises(Unavailable, match=uri):
        store.ping()
