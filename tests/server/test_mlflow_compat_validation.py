"""Issue 19: input checks and error wording as `mlflow server` has them (real `mlflow` client
against a real `trk server`)."""

from __future__ import annotations

import math

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException


def test_empty_string_param_and_tag_values_are_kept(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "empty_param", "")
    mlflow_client.set_tag(run_id, "empty_tag", "")
    mlflow_client.log_batch(
        run_id, params=[Param("batch_param", "")], tags=[RunTag("batch_tag", "")]
    )
    data = mlflow_client.get_run(run_id).data
    assert data.params == {"empty_param": "", "batch_param": ""}
    assert data.tags["empty_tag"] == "" and data.tags["batch_tag"] == ""
    exp_id = mlflow_client.get_run(run_id).info.experiment_id
    mlflow_client.set_experiment_tag(exp_id, "empty", "")
    assert mlflow_client.get_experiment(exp_id).tags["empty"] == ""
    mlflow_client.create_registered_model("m")
    mlflow_client.set_registered_model_tag("m", "empty", "")
    assert mlflow_client.get_registered_model("m").tags == {"empty": ""}


def test_infinite_metrics_are_accepted(mlflow_client, run_id):
    mlflow_client.log_metric(run_id, "up", math.inf)
    mlflow_client.log_batch(run_id, metrics=[Metric("down", -math.inf, 1, 0)])
    metrics = mlflow_client.get_run(run_id).data.metrics
    assert metrics["up"] >= 1.7976931348623157e308
    assert metrics["down"] <= -1.7976931348623157e308


def test_wrong_types_are_named_in_mlflows_words(server, run_id):
    url = f"{server.url}/api/2.0/mlflow/runs/log-metric"
    body = {"run_id": 31, "key": "m", "value": 1, "timestamp": 1}
    answer = requests.post(url, json=body)
    assert answer.status_code == 400
    assert "Invalid value 31 for parameter 'run_id' supplied" in answer.json()["message"]
    answer = requests.post(url, json={**body, "run_id": run_id, "step": "foo"})
    assert "Invalid value \"foo\" for parameter 'step' supplied" in answer.json()["message"]
    answer = requests.post(url, json={**body, "run_id": None})
    assert answer.json()["message"] == "Missing value for required parameter 'run_id'."
    answer = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run_id, "metrics": [{"key": "m", "value": 1}]},
    )
    assert "Missing value for required parameter 'metrics[0].timestamp'" in answer.text


def test_registry_not_found_wording(mlflow_client):
    with pytest.raises(MlflowException, match="Registered Model with name=nope not found"):
        mlflow_client.get_registered_model("nope")
    mlflow_client.create_registered_model("m")
    with pytest.raises(MlflowException, match=r"Registered Model \(name=m\) already exists"):
        mlflow_client.create_registered_model("m")
    with pytest.raises(MlflowException, match=r"Model Version \(name=m, version=3\) not found"):
        mlflow_client.get_model_version("m", "3")
    with pytest.raises(MlflowException, match="Parameter 'version' must be an integer"):
        mlflow_client.get_model_version("m", "x")


def _create_version(server, source: str, run_id: str | None = None) -> requests.Response:
    body = {"name": "m", "source": source, **({"run_id": run_id} if run_id else {})}
    return requests.post(f"{server.url}/api/2.0/mlflow/model-versions/create", json=body)


def test_model_version_sources_checked_as_mlflow_does(mlflow_client, server, run_id, tmp_path):
    mlflow_client.create_registered_model("m")
    for local in (str(tmp_path), tmp_path.as_uri(), "/etc"):
        answer = _create_version(server, local, run_id)
        assert answer.status_code == 400, local
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "To use a local path as a model version" in answer.json()["message"]
    for sneaky in (
        "mlflow-artifacts://host:9000/models/../../../",
        "http://host:9000/models/%2e%2e/%2e%2e/",
        "s3://bucket/a/../../b",
    ):
        answer = _create_version(server, sneaky, run_id)
        assert answer.status_code == 400, sneaky
        assert "If supplying a source as an http, https," in answer.json()["message"]
    for fine in ("mlflow-artifacts:/models", "mlflow-artifacts://host:9000/models/a/..../"):
        assert _create_version(server, fine, run_id).status_code == 200, fine
    assert mlflow_client.search_model_versions("name = 'm'")[0].version == "2"


def test_source_validation_regex_setting_is_honoured(server_factory):
    regex = {"MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX": r"^mlflow-artifacts:/.*$"}
    server = server_factory(env=regex)
    MlflowClient(server.url, server.url).create_registered_model("m")
    answer = _create_version(server, "s3://bucket/model")
    assert answer.status_code == 400
    assert answer.json()["message"] == "Invalid model version source: 's3://bucket/model'."
    assert _create_version(server, "mlflow-artifacts:/models/x").status_code == 200


def test_runs_source_of_a_run_this_server_lacks_registers_unpinned(mlflow_client):
    mlflow_client.create_registered_model("m")
    version = mlflow_client.create_model_version("m", "runs:/run_id/model", "run_id")
    assert version.version == "1" and version.source == "runs:/run_id/model"


def test_local_sources_inside_the_run_or_model_without_the_proxy(server_factory, tmp_path):
    server = server_factory(None, (tmp_path / "root").as_uri(), "--no-serve-artifacts")
    client = MlflowClient(server.url, server.url)
    client.create_registered_model("m")
    exp_id = client.create_experiment("local")
    run = client.create_run(exp_id)
    assert run.info.artifact_uri.startswith("file://")
    assert _create_version(server, run.info.artifact_uri, run.info.run_id).status_code == 200
    inside = run.info.artifact_uri[len("file://") :] + "/model"
    assert _create_version(server, inside, run.info.run_id).status_code == 200
    assert _create_version(server, str(tmp_path), run.info.run_id).status_code == 400
    model = client.create_logged_model(exp_id)
    body = {"name": "m", "source": model.artifact_location, "model_id": model.model_id}
    url = f"{server.url}/api/2.0/mlflow/model-versions/create"
    assert requests.post(url, json=body).status_code == 200
