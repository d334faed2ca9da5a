"""Issue 30: model versions as `mlflow server` numbers and serves them: a deleted version's
number is never given out again, and `/model-versions/get-artifact` serves a version whose
source is the artifact proxy itself (real `mlflow` client, real `trk server`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated since:FutureWarning")


def test_deleted_version_numbers_are_not_reused(mlflow_client):
    name = "DeleteMVTest"
    mlflow_client.create_registered_model(name)
    for _ in range(3):
        mlflow_client.create_model_version(name, "runs:/0123456789abcdef/m", "r")
    mlflow_client.delete_model_version(name, "1")
    mlflow_client.delete_model_version(name, "3")
    with pytest.raises(MlflowException, match=r"Model Version .+ not found"):
        mlflow_client.transition_model_version_stage(name, "1", "Staging")
    assert mlflow_client.create_model_version(name, "runs:/0123456789abcdef/m", "r").version == "4"
    found = {v.version for v in mlflow_client.search_model_versions(f"name = '{name}'")}
    assert found == {"2", "4"}


@pytest.mark.parametrize(
    "source", ["mlflow-artifacts:", "mlflow-artifacts:/", "mlflow-artifacts:/sub"]
)
def test_version_artifact_from_the_proxied_root(server, mlflow_client, source):
    where = Path(server.destination) / source.removeprefix("mlflow-artifacts:").strip("/")
    where.mkdir(parents=True, exist_ok=True)
    (where / "a.txt").write_text("abcdefg")
    name = f"proxied-{len(source)}"
    mlflow_client.create_registered_model(name)
    # A source naming the proxy (as MLflow's test registers it, with a run id of no run here).
    mlflow_client.create_model_version(name, source, "1")
    url = f"{server.url}/model-versions/get-artifact"
    got = requests.get(url, params={"name": name, "version": "1", "path": "a.txt"})
    assert got.status_code == 200 and got.text == "abcdefg"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    outside = requests.get(url, params={"name": name, "version": "1", "path": "../a.txt"})
    assert outside.status_code == 400
    missing = requests.get(url, params={"name": name, "version": "1", "path": "b.txt"})
    assert missing.status_code == 404
