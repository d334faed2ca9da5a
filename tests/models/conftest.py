"""Fixtures for the model-format tests: a sqlite tracking store and small fitted models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import trk
from trk.tracking import client as client_module
from trk.tracking import fluent


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    """A real sqlite file in tmp_path, active for the fluent API, with artifacts beside it."""
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    trk.set_tracking_uri(uri)
    yield uri
    while trk.active_run():
        trk.end_run()
    client_module._tracking_uri = None
    fluent._experiment_id = None


@pytest.fixture(scope="session")
def iris_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """Four numeric columns with names, and integer labels (a small iris stand-in)."""
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.rand(60, 4), columns=["sl", "sw", "pl", "pw"])
    y = (X["sl"] + X["pw"] > 1.0).astype(np.int64).to_numpy() + (X["pl"] > 0.8)
    return X, y


@dataclass
class Case:
    flavor: str
    model: Any
    x: Any  # the input the contract suite predicts on
    reference: np.ndarray  # what the in-memory model predicts on x
    exact: bool
    module: Any  # trk.sklearn / trk.torch / trk.onnx

    def predicted(self, out: Any) -> np.ndarray:
        return np.asarray(out).reshape(self.reference.shape)


def sklearn_case(X, y) -> Case:
    from sklearn.linear_model import LogisticRegression

    import trk.sklearn

    model = LogisticRegression(max_iter=500).fit(X, y)
    return Case("sklearn", model, X.head(8), model.predict(X.head(8)), True, trk.sklearn)


def torch_case(X, y) -> Case:
    import torch

    import trk.torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = X.head(8).to_numpy(dtype=np.float32).copy()
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    return Case("torch", model, x, ref, False, trk.torch)


def onnx_case(X, y) -> Case:
    from skl2onnx import to_onnx
    from sklearn.linear_model import Ridge

    import trk.onnx

    x = X.to_numpy(dtype=np.float32)
    ridge = Ridge().fit(x, y.astype(np.float32))
    proto = to_onnx(ridge, x[:1], target_opset=17)
    return Case("onnx", proto, x[:8], ridge.predict(x[:8]).astype(np.float32), False, trk.onnx)


CASES = {"sklearn": sklearn_case, "torch": torch_case, "onnx": onnx_case}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, iris_frame):
    """One fitted model per flavor with its in-memory reference predictions."""
    return CASES[request.param](*iris_frame)


@pytest.fixture(scope="module")
def saved(case, tmp_path_factory):
    """The case's model saved once (with an input example) into a module-scoped directory."""
    path = tmp_path_factory.mktemp(case.flavor) / "model"
    case.module.save_model(case.model, path, input_example=case.x[:2])
    return path
