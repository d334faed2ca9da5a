"""Models for the benchmark: iris logistic regression, random forest and a torch MLP.

Registered in a sqlite store under `root` for trk-serve, pickled for the hand-written
reference, and saved by MLflow (when installed) for `mlflow models serve`.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class BenchModels:
    root: Path
    tracking_uri: str
    env: dict[str, str]
    x: np.ndarray
    columns: list[str]
    pickles: dict[str, Path] = field(default_factory=dict)  # lr, rf
    mlflow_dirs: dict[str, Path] = field(default_factory=dict)  # lr, rf


def build(root: Path) -> BenchModels:
    """Train, register and save everything the benchmark serves (a few seconds)."""
    import os

    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    root.mkdir(parents=True, exist_ok=True)
    env = {
        "TRK_ARTIFACT_ROOT": str(root / "artifacts"),
        "TRK_MODEL_CACHE": str(root / "cache"),
        "TRK_TRACKING_URI": f"sqlite:///{root / 'trk.db'}",
    }
    os.environ.update(env)
    iris = load_iris(as_frame=True)
    x, y = iris.data.to_numpy(), iris.target.to_numpy()
    # fitted on arrays, as the hand-written reference feeds them; the signature still names
    # the columns because the input example is a DataFrame (what most users log)
    estimators = {
        "lr": LogisticRegression(max_iter=300).fit(x, y),
        "rf": RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y),
    }
    models = BenchModels(root, env["TRK_TRACKING_URI"], env, x, list(iris.data.columns))
    for key, est in estimators.items():
        path = root / f"{key}.pkl"
        path.write_bytes(pickle.dumps(est))
        models.pickles[key] = path
    _register_trk(models, estimators, iris.data.iloc[:2], iris.data)
    _save_mlflow(models, estimators, iris.data.iloc[:2])
    return models


def _register_trk(models: BenchModels, estimators: dict, example, reference) -> None:
    import trk
    import trk.sklearn

    trk.set_tracking_uri(models.tracking_uri)
    client = trk.Client(models.tracking_uri)
    for key, est in estimators.items():
        for suffix, fmt in (("", "cloudpickle"), ("-skops", "skops")):
            name = f"iris-{key}{suffix}"
            with trk.start_run():
                info = trk.sklearn.log_model(
                    est,
                    name="model",
                    registered_model_name=name,
                    input_example=example,
                    serialization_format=fmt,
                )
            client.set_registered_model_alias(name, "champion", info.registered_model_version)
    # the same LR with a reference profile: serving then bins every answer's inputs for drift
    with trk.start_run():
        info = trk.sklearn.log_model(
            estimators["lr"],
            name="model",
            registered_model_name="iris-lr-profile",
            input_example=example,
            serialization_format="cloudpickle",
            reference_data=reference,
        )
    client.set_registered_model_alias("iris-lr-profile", "champion", info.registered_model_version)
    _register_torch(client)


def _register_torch(client) -> None:
    import torch

    import trk
    import trk.torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    # wide enough that one call's fixed cost is small next to its maths: what batching pays off
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 3),
    )
    with trk.start_run():
        info = trk.torch.log_model(
            net,
            name="model",
            registered_model_name="iris-torch",
            input_example=np.zeros((2, 4), dtype=np.float32),
        )
    client.set_registered_model_alias("iris-torch", "champion", info.registered_model_version)


def _save_mlflow(models: BenchModels, estimators: dict, example) -> None:
    try:
        import mlflow.sklearn
    except ImportError:
        return
    for key, est in estimators.items():
        path = models.root / f"mlflow-{key}"
        mlflow.sklearn.save_model(
            est, path, input_example=example, serialization_format="cloudpickle"
        )
        models.mlflow_dirs[key] = path
