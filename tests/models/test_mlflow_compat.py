"""Directories written by the real MLflow 3 load in trk and predict what MLflow predicts."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import trk.pyfunc
from trk.exceptions import ModelError

pytestmark = pytest.mark.unit

mlflow = pytest.importorskip("mlflow", reason="mlflow (test-only dependency) is not installed")

# A fixed requirements list skips MLflow's requirement inference (a slow subprocess).
REQS = {"pip_requirements": ["scikit-learn"]}


@pytest.fixture(scope="module")
def frame(iris_frame):
    X, y = iris_frame
    return X, y, X.head(10)


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle", "pickle"])
def test_mlflow_sklearn(tmp_path, frame, fmt):
    from sklearn.ensemble import RandomForestClassifier

    X, y, head = frame
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    trusted = (
        [
            "sklearn.ensemble._forest.RandomForestClassifier",
            "sklearn.tree._classes.DecisionTreeClassifier",
            "sklearn.tree._tree.Tree",
        ]
        if fmt == "skops"
        else None
    )
    kwargs = {"skops_trusted_types": trusted} if fmt == "skops" else {}
    mlflow.sklearn.save_model(
        model, tmp_path / "m", serialization_format=fmt, input_example=head[:2], **kwargs, **REQS
    )
    expected = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(head)
    if fmt != "skops":  # a pickle from a bare path loads only when the caller opts in
        with pytest.raises(ModelError, match="runs code when loaded"):
            trk.pyfunc.load_model(tmp_path / "m")
    loaded = trk.pyfunc.load_model(tmp_path / "m", allow_pickle=fmt != "skops")
    assert loaded.metadata.flavor == "sklearn" and loaded.output_kind == "classifier"
    np.testing.assert_array_equal(loaded.predict(head), expected)
    np.testing.assert_array_equal(loaded.predict_array(head.to_numpy()), expected)


def test_mlflow_pytorch_exported_and_pickled(tmp_path, frame):
    import torch

    _, _, head = frame
    x = head.to_numpy(dtype=np.float32).copy()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
    mlflow.pytorch.save_model(model, tmp_path / "exported", input_example=x[:2], **REQS)
    mlflow.pytorch.save_model(model, tmp_path / "pickled", serialization_format="pickle", **REQS)
    assert (tmp_path / "pickled" / "data" / "model.pth").is_file()
    for d in ("exported", "pickled"):
        expected = mlflow.pyfunc.load_model(str(tmp_path / d)).predict(x)
        got = trk.pyfunc.load_model(tmp_path / d, allow_pickle=d == "pickled").predict(x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6, atol=1e-6)


def test_mlflow_onnx(tmp_path, frame):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    X, y, head = frame
    x = X.to_numpy(dtype=np.float32)
    proto = to_onnx(LinearRegression().fit(x, y.astype(np.float32)), x[:1], target_opset=17)
    mlflow.onnx.save_model(proto, tmp_path / "m", input_example=x[:2], **REQS)
    expected = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(x[:10])
    got = trk.pyfunc.load_model(tmp_path / "m").predict(x[:10])
    expected = next(iter(expected.values())) if isinstance(expected, dict) else expected
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_loading_mlflow_dirs_works_without_mlflow(tmp_path, frame, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    X, y, head = frame
    model = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(model, tmp_path / "m", serialization_format="cloudpickle", **REQS)
    # None in sys.modules makes any `import mlflow...` raise ImportError, as if uninstalled.
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    loaded = trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(head), model.predict(head))
