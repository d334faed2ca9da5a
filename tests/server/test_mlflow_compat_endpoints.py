"""Issue 19: endpoints `mlflow server` serves that trk server lacked (real `mlflow` client and
plain HTTP against a real `trk server`)."""

from __future__ import annotations

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric


def test_delete_experiment_tag(mlflow_client):
    exp_id = mlflow_client.create_experiment("tags", tags={"a": "1", "b": "2"})
    mlflow_client.delete_experiment_tag(exp_id, "a")
    assert mlflow_client.get_experiment(exp_id).tags == {"b": "2"}
    with pytest.raises(mlflow.exceptions.MlflowException, match="No tag with name: a"):
        mlflow_client.delete_experiment_tag(exp_id, "a")


def test_metric_history_pages(mlflow_client, server, run_id):
    mlflow_client.log_batch(run_id, metrics=[Metric("m", float(i), 1000 + i, i) for i in range(10)])
    assert len(mlflow_client.get_metric_history(run_id, "m")) == 10
    url = f"{server.url}/ajax-api/2.0/mlflow/metrics/get-history"
    seen, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "m", "max_results": 4, "page_token": token}
        page = requests.get(url, params=params).json()
        seen += [m["step"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == list(range(10))


def test_metric_history_bulk_reads(mlflow_client, server, run_id):
    other = mlflow_client.create_run(mlflow_client.get_run(run_id).info.experiment_id).info.run_id
    for rid, steps in ((run_id, 10), (other, 20)):
        mlflow_client.log_batch(rid, metrics=[Metric("m", float(i), 1, i) for i in range(steps)])
    base = f"{server.url}/ajax-api/2.0/mlflow/metrics/"
    bulk = requests.get(base + "get-history-bulk", params={"run_id": [run_id], "metric_key": "m"})
    assert [m["step"] for m in bulk.json()["metrics"]] == list(range(10))
    assert bulk.json()["metrics"][0] == {
        "key": "m",
        "value": 0.0,
        "timestamp": 1,
        "step": 0,
        "run_id": run_id,
    }
    missing = requests.get(base + "get-history-bulk", params={"metric_key": "m"})
    assert missing.status_code == 400
    assert "must specify at least one run_id" in missing.json()["message"]
    params = {"run_ids": [run_id, other], "metric_key": "m", "max_results": 5}
    sampled = requests.get(base + "get-history-bulk-interval", params=params).json()["metrics"]
    # One sample of steps over both runs (stride 4 of 0..19), plus each run's last, as MLflow.
    assert [m["step"] for m in sampled if m["run_id"] == run_id] == [0, 4, 8, 9]
    assert [m["step"] for m in sampled if m["run_id"] == other] == [0, 4, 8, 9, 12, 16, 19]
    bad = requests.get(base + "get-history-bulk-interval", params={**params, "start_step": 1})
    assert "both must be specified" in bad.json()["message"]


def test_run_artifacts_listed_downloaded_and_uploaded(mlflow_client, server, run_id, tmp_path):
    (tmp_path / "a.txt").write_text("abc")
    mlflow_client.log_artifact(run_id, str(tmp_path / "a.txt"), "dir")
    listed = requests.get(
        f"{server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "dir"}
    ).json()
    assert listed["files"] == [{"path": "dir/a.txt", "is_dir": False, "file_size": 3}]
    assert listed["root_uri"] == mlflow_client.get_run(run_id).info.artifact_uri
    got = requests.get(f"{server.url}/get-artifact", params={"run_id": run_id, "path": "dir/a.txt"})
    assert got.text == "abc"
    up = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    assert requests.post(up, params={"run_uuid": run_id, "path": "u.txt"}, data="hi").ok
    assert [f.path for f in mlflow_client.list_artifacts(run_id)] == ["dir", "u.txt"]
    refused = requests.post(up, params={"run_uuid": run_id, "path": "../x"}, data="hi")
    assert refused.status_code == 400 and "Invalid path" in refused.json()["message"]


def test_model_version_and_logged_model_files(mlflow_client, server, run_id, tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    mlflow_client.log_artifact(run_id, str(tmp_path / "MLmodel"), "model")
    mlflow_client.create_registered_model("m")
    mlflow_client.create_model_version("m", f"runs:/{run_id}/model", run_id)
    got = requests.get(
        f"{server.url}/model-versions/get-artifact",
        params={"name": "m", "version": "1", "path": "MLmodel"},
    )
    assert got.text == "flavors: {}\n"


def test_logged_model_file(server, tmp_path):
    mlflow.set_tracking_uri(server.url)
    try:
        exp = mlflow.set_experiment("lm")
        model = MlflowClient(server.url).create_logged_model(exp.experiment_id)
        (tmp_path / "MLmodel").write_text(f"model_id: {model.model_id}\n")
        MlflowClient(server.url).log_model_artifacts(model.model_id, str(tmp_path))
    finally:
        mlflow.set_tracking_uri(None)
    got = requests.get(
        f"{server.url}/ajax-api/2.0/mlflow/logged-models/{model.model_id}/artifacts/files",
        params={"artifact_file_path": "MLmodel"},
    )
    assert got.status_code == 200 and model.model_id in got.text


def test_version_and_genai_endpoints(server):
    assert requests.get(f"{server.url}/version").text.strip()
    for path in ("/api/3.0/mlflow/traces", "/api/3.0/mlflow/scorers/list"):
        answer = requests.get(server.url + path)
        assert answer.status_code == 404, path
        assert answer.json()["error_code"] == "ENDPOINT_NOT_FOUND", path


def test_repeated_slashes_reach_the_route(server, run_id):
    got = requests.get(f"{server.url}//api/2.0/mlflow//runs/get", params={"run_id": run_id})
    assert got.json()["run"]["info"]["run_id"] == run_id
    got = requests.get(f"{server.url}//get-artifact", params={"run_id": run_id, "path": "../x"})
    assert got.status_code == 400 and got.json()["message"] == "Invalid path"


def test_model_versions_tag_on_the_logged_model(mlflow_client):
    mlflow_client.create_registered_model("m")
    model = mlflow_client.create_logged_model(mlflow_client.create_experiment("lm"))
    for _ in range(2):
        mlflow_client.create_model_version("m", model.artifact_location, model_id=model.model_id)
    tag = mlflow_client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert tag == '[{"name": "m", "version": 1}, {"name": "m", "version": 2}]'
