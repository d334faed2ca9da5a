"""Issue 30: MLflow's `mlflow experiments` CLI against a real `trk server` (the CLI run as
users run it, in its own process with MLFLOW_TRACKING_URI naming the server)."""

from __future__ import annotations

import os
import subprocess
import sys


def mlflow_cli(server, *args: str) -> str:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "experiments", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_create_delete_restore_rename(server, mlflow_client):
    mlflow_cli(server, "create", "--experiment-name", "DeleteriousCLI")
    experiment = mlflow_client.get_experiment_by_name("DeleteriousCLI")
    assert experiment is not None and experiment.lifecycle_stage == "active"
    exp_id = experiment.experiment_id
    mlflow_cli(server, "delete", "-x", exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "deleted"
    mlflow_cli(server, "restore", "-x", exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "active"
    mlflow_cli(server, "rename", "--experiment-id", exp_id, "--new-name", "CLIGoodName")
    assert mlflow_client.get_experiment(exp_id).name == "CLIGoodName"
    assert "CLIGoodName" in mlflow_cli(server, "search")
