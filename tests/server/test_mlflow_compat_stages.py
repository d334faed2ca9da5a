"""Issue 30: model version stages as MLflow 3 serves them (deprecated, working, aliases
untouched) and `models:/NAME/STAGE` URIs, through the real `mlflow` client against a real
`trk server`."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from trk.store.rest import RestStore
from trk.uri import find_model_version, parse_model_uri, resolve_artifact_uri

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated since:FutureWarning")


@pytest.fixture(scope="module")
def server(module_server):
    return module_server


@pytest.fixture(scope="module")
def mlflow_client(module_server):
    return mlflow.MlflowClient(module_server.url, module_server.url)


def _latest(client, name, stages):
    return {v.current_stage: v.version for v in client.get_latest_versions(name, stages)}


def test_transitions_and_latest_versions(mlflow_client):
    plan = ["Archived", "Production", "Archived", "Production", "Staging", "Staging", "None"]
    mlflow_client.create_registered_model("stages")
    for number, stage in enumerate(plan, start=1):
        mlflow_client.create_model_version("stages", "runs:/0123456789abcdef/model", "r")
        if stage != "None":
            before = mlflow_client.get_registered_model("stages").last_updated_timestamp
            time.sleep(0.002)  # distinct millisecond timestamps, to see them move
            moved = mlflow_client.transition_model_version_stage("stages", number, stage)
            assert moved.current_stage == stage
            # A transition updates the model's last-updated time, as in MLflow.
            after = mlflow_client.get_registered_model("stages").last_updated_timestamp
            assert after > before
        assert mlflow_client.get_model_version("stages", number).current_stage == stage
    assert _latest(mlflow_client, "stages", ["None"]) == {"None": "7"}
    assert _latest(mlflow_client, "stages", ["None", "Staging"]) == {"None": "7", "Staging": "6"}
    every = {"Production": "4", "Staging": "6", "Archived": "3", "None": "7"}
    assert _latest(mlflow_client, "stages", None) == every
    assert _latest(mlflow_client, "stages", []) == every
    (model,) = [m for m in mlflow_client.search_registered_models() if m.name == "stages"]
    assert {v.current_stage: v.version for v in model.latest_versions} == every


def test_archive_existing_and_aliases_untouched(mlflow_client):
    mlflow_client.create_registered_model("champ")
    for _ in range(3):
        mlflow_client.create_model_version("champ", "runs:/0123456789abcdef/model", "r")
    mlflow_client.set_registered_model_alias("champ", "champion", "1")
    mlflow_client.transition_model_version_stage("champ", "1", "Production")
    mlflow_client.transition_model_version_stage("champ", "2", "Production", True)
    assert mlflow_client.get_model_version("champ", "1").current_stage == "Archived"
    assert mlflow_client.get_model_version("champ", "2").current_stage == "Production"
    # The alias trk serves by stays where it was, and no stage made a new one.
    assert mlflow_client.get_model_version_by_alias("champ", "champion").version == "1"
    assert mlflow_client.get_registered_model("champ").aliases == {"champion": "1"}
    assert mlflow_client.get_model_version("champ", "2").aliases == []


def test_refusals(server, mlflow_client):
    mlflow_client.create_registered_model("refused")
    mlflow_client.create_model_version("refused", "runs:/0123456789abcdef/model", "r")
    with pytest.raises(MlflowException, match="Invalid Model Version stage: Nowhere"):
        mlflow_client.transition_model_version_stage("refused", "1", "Nowhere")
    with pytest.raises(MlflowException, match="is not an Active stage"):
        mlflow_client.transition_model_version_stage("refused", "1", "Archived", True)
    with pytest.raises(MlflowException, match=r"Model Version .+ not found"):
        mlflow_client.transition_model_version_stage("refused", "5", "Staging")
    with pytest.raises(MlflowException, match="Invalid Model Version stage"):
        mlflow_client.get_latest_versions("refused", ["Prod"])
    answer = requests.get(
        f"{server.url}/api/2.0/mlflow/registered-models/get-latest-versions",
        params={"name": "refused", "stages": "Gone"},
    )
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert mlflow_client.get_model_version("refused", "1").current_stage == "None"


def test_stage_uris_resolve_in_mlflow_and_in_trk(server, mlflow_client, tmp_path):
    exp_id = mlflow_client.create_experiment("stage-uris")
    run_id = mlflow_client.create_run(exp_id).info.run_id
    for text in ("one", "two"):
        model_dir = tmp_path / text / "model"
        model_dir.mkdir(parents=True)
        (model_dir / "weights.txt").write_text(text)
        mlflow_client.log_artifacts(run_id, str(model_dir), f"model-{text}")
    mlflow_client.create_registered_model("uris")
    mlflow_client.create_model_version("uris", f"runs:/{run_id}/model-one", run_id)
    mlflow_client.create_model_version("uris", f"runs:/{run_id}/model-two", run_id)
    mlflow_client.transition_model_version_stage("uris", "1", "Production")
    mlflow_client.transition_model_version_stage("uris", "2", "Staging")

    mlflow.set_tracking_uri(server.url)
    try:
        got = mlflow.artifacts.download_artifacts(
            "models:/uris/Production", dst_path=tmp_path / "p"
        )
    finally:
        mlflow.set_tracking_uri(None)
    assert (Path(got) / "weights.txt").read_text() == "one"

    store = RestStore(server.url)
    try:
        assert find_model_version(store, parse_model_uri("models:/uris/production")).version == "1"
        assert find_model_version(store, parse_model_uri("models:/uris/Staging")).version == "2"
        assert resolve_artifact_uri("models:/uris/Staging", store).endswith("model-two")
        with pytest.raises(Exception, match="stage 'Archived'"):
            find_model_version(store, parse_model_uri("models:/uris/Archived"))
    finally:
        store.transport.close()
