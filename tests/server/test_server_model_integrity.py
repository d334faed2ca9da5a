"""The real `mlflow` 3 client logs models to `trk server`; trk loads them pinned by digest."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from server_helpers import run_mlflow_script

import trk
import trk.pyfunc
from trk.exceptions import IntegrityError
from trk.tracking import client as client_module

LOG_TWO = textwrap.dedent(
    """
    import json
    import mlflow, numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    # Named, not inferred: inferring loads each model in a subprocess (~5 s), beside the point.
    REQS = {"pip_requirements": ["scikit-learn"]}
    with mlflow.start_run() as run:
        a = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                     registered_model_name="iris", **REQS)
        b = mlflow.sklearn.log_model(LogisticRegression().fit(X, 1 - y), name="model",
                                     registered_model_name="iris",
                                     serialization_format="cloudpickle", **REQS)
    print(json.dumps({"a": a.model_id, "b": b.model_id, "run": run.info.run_id}))
    """
)
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.1]])


@pytest.fixture
def logged(server, tmp_path, monkeypatch):
    out = run_mlflow_script(server.url, LOG_TWO, tmp_path)
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    trk.set_tracking_uri(server.url)
    yield json.loads(out.strip().splitlines()[-1])
    client_module._tracking_uri = None


def test_two_mlflow_models_under_one_name_are_two_pinned_versions(logged):
    client = trk.Client()
    v1, v2 = client.get_model_version("iris", 1), client.get_model_version("iris", 2)
    assert (v1.source, v1.model_id) == (f"models:/{logged['a']}", logged["a"])
    assert (v2.source, v2.model_id) == (f"models:/{logged['b']}", logged["b"])
    assert v1.digest and v2.digest and v1.digest != v2.digest  # pinned by the server
    assert "MLmodel" in v1.manifest
    # Version 2 is a cloudpickle: it loads because its files matched the registry's digest.
    assert list(trk.pyfunc.load_model("models:/iris/1").predict(X)) == [0, 1, 0, 1]
    assert list(trk.pyfunc.load_model("models:/iris/2").predict(X)) == [1, 0, 1, 0]
    by_id = trk.pyfunc.load_model(f"models:/{logged['b']}", allow_pickle=True)  # opted in
    assert list(by_id.predict(X)) == [1, 0, 1, 0]


def test_tampered_cache_and_tampered_store_are_both_refused(logged, server, tmp_path, monkeypatch):
    model = trk.pyfunc.load_model("models:/iris/2")
    cached = Path(model.metadata.model_dir)
    assert cached.is_relative_to(tmp_path / "cache")
    pickled = cached / "model.pkl"
    pickled.write_bytes(pickled.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="model.pkl"):
        trk.pyfunc.load_model("models:/iris/2")
    # The server's own copy changed: a fresh cache downloads it and refuses it.
    stored = next(Path(server.destination).glob(f"*/models/{logged['a']}/artifacts/MLmodel"))
    stored.write_text(stored.read_text() + "\n# edited\n")
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "fresh-cache"))
    with pytest.raises(IntegrityError, match="MLmodel"):
        trk.pyfunc.load_model("models:/iris/1")
