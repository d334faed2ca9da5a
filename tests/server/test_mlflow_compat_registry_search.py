"""Issue 19: registered-model and model-version search answer as `mlflow server` does.

MLflow's client adds ``tags.`mlflow.prompt.is_prompt` != 'true'`` to every registry search;
models without that tag must still be found, and prompts left out unless asked for.
"""

from __future__ import annotations

import time

import requests


def create_raw(server, name: str, is_prompt: str) -> None:
    """MLflow's client refuses to make prompts this way; its REST API does not."""
    tags = [{"key": "mlflow.prompt.is_prompt", "value": is_prompt}]
    url = f"{server.url}/api/2.0/mlflow/registered-models/create"
    requests.post(url, json={"name": name, "tags": tags}).raise_for_status()


def test_search_registered_models_keeps_models_without_the_prompt_tag(mlflow_client, server):
    mlflow_client.create_registered_model("plain")
    mlflow_client.create_registered_model("tagged", tags={"team": "ds"})
    create_raw(server, "a-prompt", "true")
    create_raw(server, "not-a-prompt", "false")

    names = [m.name for m in mlflow_client.search_registered_models()]
    assert names == ["not-a-prompt", "plain", "tagged"]
    assert [m.name for m in mlflow_client.search_registered_models("tags.team = 'ds'")] == [
        "tagged"
    ]
    assert [m.name for m in mlflow_client.search_registered_models("name LIKE 'p%'")] == ["plain"]


def test_prompts_are_found_only_when_asked_for(mlflow_client, server):
    mlflow_client.create_registered_model("plain")
    create_raw(server, "a-prompt", "true")
    url = f"{server.url}/api/2.0/mlflow/registered-models/search"
    asked = requests.get(url, params={"filter": "tags.`mlflow.prompt.is_prompt` = 'true'"})
    assert [m["name"] for m in asked.json()["registered_models"]] == ["a-prompt"]


def test_model_versions_newest_first_and_prompt_filter(mlflow_client):
    mlflow_client.create_registered_model("m")
    for _ in range(3):
        mlflow_client.create_model_version("m", "mlflow-artifacts:/models/x")
    versions = mlflow_client.search_model_versions("name = 'm'")
    assert [v.version for v in versions] == ["3", "2", "1"]
    page = mlflow_client.search_model_versions("name = 'm'", max_results=2)
    assert [v.version for v in page] == ["3", "2"]
    assert [v.version for v in mlflow_client.search_model_versions(page_token=page.token)] == ["1"]


def test_versions_last_updated_first_then_name(mlflow_client):
    for name in ("b", "a"):
        mlflow_client.create_registered_model(name)
    for name in ("a", "b", "a"):
        time.sleep(0.005)  # distinct update times: the order under test is by time first
        mlflow_client.create_model_version(name, "mlflow-artifacts:/x")
    found = [(v.name, v.version) for v in mlflow_client.search_model_versions()]
    assert found == [("a", "2"), ("b", "1"), ("a", "1")]
    time.sleep(0.005)
    mlflow_client.update_model_version("b", "1", "touched")
    assert mlflow_client.search_model_versions()[0].name == "b"


def test_version_description_and_copies(mlflow_client):
    mlflow_client.create_registered_model("m")
    first = mlflow_client.create_model_version("m", "runs:/run_id/model", "run_id")
    assert mlflow_client.get_model_version("m", "1").description == ""
    mlflow_client.set_registered_model_alias("m", "a", "1")
    copy = mlflow_client.copy_model_version("models:/m@a", "m")
    assert mlflow_client.get_model_version("m", copy.version).source == "models:/m/1"
    assert mlflow_client.get_model_version_download_uri("m", copy.version) == first.source
