"""The real `mlflow` client through its everyday workflow against `trk server`."""

from __future__ import annotations

import textwrap

from server_helpers import run_mlflow_script

WORKFLOW = textwrap.dedent(
    """
    import os, sys, tempfile
    import mlflow, numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    exp_id = mlflow.create_experiment("everyday", tags={"team": "ds"})
    mlflow.set_experiment("everyday")
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    with mlflow.start_run(run_name="good") as good:
        mlflow.log_params({"C": "1.0", "solver": "lbfgs"})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        path = os.path.join(tempfile.mkdtemp(), "notes.txt")
        open(path, "w").write("hello")
        mlflow.log_artifact(path, artifact_path="docs")
        mlflow.sklearn.log_model(  # requirements named: inferring them loads the model again
            LogisticRegression().fit(X, y), name="model", registered_model_name="iris",
            pip_requirements=["scikit-learn"],
        )
    with mlflow.start_run(run_name="bad"):
        mlflow.log_metric("loss", 0.9)
    with mlflow.start_run(run_name="best"):
        mlflow.log_metric("loss", 0.1)

    found = mlflow.search_runs([exp_id], filter_string="metrics.loss < 0.5",
                               order_by=["metrics.loss ASC"])
    assert list(found["tags.mlflow.runName"]) == ["best", "good"], found
    client = MlflowClient()
    assert client.get_experiment(exp_id).tags["team"] == "ds"
    assert [m.value for m in client.get_metric_history(good.info.run_id, "loss")] == [
        1.0, 0.5, 1.0 / 3
    ]
    assert client.get_run(good.info.run_id).data.params["solver"] == "lbfgs"
    listed = [f.path for f in client.list_artifacts(good.info.run_id, "docs")]
    assert listed == ["docs/notes.txt"], listed
    local = client.download_artifacts(good.info.run_id, "docs/notes.txt", tempfile.mkdtemp())
    assert open(local).read() == "hello"

    client.set_registered_model_alias("iris", "champion", "1")
    assert client.get_model_version_by_alias("iris", "champion").version == "1"
    assert client.get_registered_model("iris").aliases == {"champion": "1"}
    model = mlflow.pyfunc.load_model("models:/iris@champion")
    assert list(model.predict(X)) == [0, 1, 0, 1]
    client.delete_registered_model_alias("iris", "champion")
    try:
        client.get_model_version_by_alias("iris", "champion")
        raise SystemExit("alias still there")
    except mlflow.exceptions.MlflowException as exc:
        assert exc.error_code == "RESOURCE_DOES_NOT_EXIST", exc.error_code
    print("WORKFLOW OK")
    """
)


def test_mlflow_client_everyday_workflow(server, tmp_path):
    assert "WORKFLOW OK" in run_mlflow_script(server.url, WORKFLOW, tmp_path)
    # The model files went through the proxy into the server's artifact destination.
    assert list((tmp_path / "artifacts0").glob("*/models/m-*/artifacts/MLmodel"))
