"""An iris model logged twice with its training frame (so both versions carry a reference
profile), champion v1 and challenger v2, for the drift tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import trk
import trk.sklearn
from trk.tracking import client as client_module
from trk.tracking import fluent

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def log_iris(uri: str, name: str = "iris") -> pd.DataFrame:
    """Versions 1 and 2 of `name` with reference profiles; returns the training frame."""
    data = load_iris()
    X = pd.DataFrame(data.data, columns=COLUMNS)
    trk.set_tracking_uri(uri)
    try:
        with trk.start_run():
            for _ in range(2):
                trk.sklearn.log_model(
                    LogisticRegression(max_iter=500).fit(X, data.target),
                    "model",
                    registered_model_name=name,
                    input_example=X.head(2),
                    reference_data=X,
                )
    finally:
        while trk.active_run():
            trk.end_run()
        client_module._tracking_uri = None
        fluent._experiment_id = None
    client = trk.Client(uri)
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    return X


def iris_store(tmp_path: Any, monkeypatch: Any) -> tuple[str, pd.DataFrame]:
    """A sqlite store in tmp_path holding `log_iris`'s versions: (its URI, the frame)."""
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    return uri, log_iris(uri)
