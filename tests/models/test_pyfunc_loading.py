"""Custom PythonModels, bad model directories, and what `import trk` must not pull in."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import trk
import trk.pyfunc
from trk.exceptions import ModelError, SignatureMismatch


class AddOffset(trk.pyfunc.PythonModel):
    """Reads its offset from an artifact file in load_context."""

    def load_context(self, context):
        with open(context.artifacts["offset"]) as f:
            self.offset = float(f.read())

    def predict(self, context, model_input, params=None):
        scale = (params or {}).get("scale", 1.0)
        return (model_input["x"] + self.offset) * scale


def test_custom_python_model_with_artifacts(tmp_path):
    (tmp_path / "offset.txt").write_text("10")
    trk.pyfunc.save_model(
        tmp_path / "m",
        python_model=AddOffset(),
        artifacts={"offset": str(tmp_path / "offset.txt")},
        input_example=pd.DataFrame({"x": [1.0, 2.0]}),
    )
    model = trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    assert model.metadata.flavor == "python_function"
    assert model.metadata.loader_module == "trk.pyfunc.model"
    assert list(model.predict(pd.DataFrame({"x": [1, 2]}))) == [11.0, 12.0]
    assert list(model.predict({"x": [1.0]}, params={"scale": 2})) == [22.0]
    assert model.needs_dataframe
    assert list(model.predict_array(np.array([[5.0]]))) == [15.0]
    with pytest.raises(SignatureMismatch, match="'x'"):
        model.predict(pd.DataFrame({"y": [1.0]}))


def test_custom_model_log_and_register(tracking, tmp_path):
    (tmp_path / "offset.txt").write_text("1")
    info = trk.pyfunc.log_model(
        "m",
        python_model=AddOffset(),
        registered_model_name="adder",
        artifacts={"offset": str(tmp_path / "offset.txt")},
    )
    assert info.registered_model_version == "1"
    model = trk.pyfunc.load_model("models:/adder/1")
    assert list(model.predict(pd.DataFrame({"x": [1.0]}))) == [2.0]


def _write_mlmodel(path, content):
    path.mkdir()
    (path / "MLmodel").write_text(content)
    return path


def test_directory_without_mlmodel(tmp_path):
    with pytest.raises(ModelError, match="No MLmodel file"):
        trk.pyfunc.load_model(tmp_path)


def test_mlmodel_without_python_function(tmp_path):
    path = _write_mlmodel(tmp_path / "m", yaml.safe_dump({"flavors": {"keras": {}}}))
    with pytest.raises(ModelError, match="no python_function flavor"):
        trk.pyfunc.load_model(path)


def test_unknown_loader_module(tmp_path):
    flavors = {"flavors": {"python_function": {"loader_module": "mlflow.keras"}}}
    path = _write_mlmodel(tmp_path / "m", yaml.safe_dump(flavors))
    with pytest.raises(ModelError, match="Unknown loader_module 'mlflow.keras'"):
        trk.pyfunc.load_model(path)


def test_corrupt_mlmodel(tmp_path):
    path = _write_mlmodel(tmp_path / "m", "flavors: [unclosed")
    with pytest.raises(ModelError, match="Corrupt MLmodel"):
        trk.pyfunc.load_model(path)


def test_missing_data_file_named(case, saved, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(saved, copy)
    victim = next(p for p in copy.rglob("*") if p.suffix in (".skops", ".pt2", ".onnx"))
    victim.unlink()
    with pytest.raises(ModelError, match=victim.name):
        trk.pyfunc.load_model(copy)


def test_import_trk_pulls_no_framework():
    code = (
        "import sys, trk, trk.pyfunc, trk.sklearn, trk.torch, trk.onnx, trk.models.pyfunc; "
        "print(sorted(m for m in ('torch', 'onnxruntime', 'sklearn', 'mlflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_serving_a_tensor_model_never_imports_pandas(tmp_path):
    # pandas costs a serving process ~0.5 s at start; ONNX and torch models never need it.
    from skl2onnx import to_onnx
    from sklearn.linear_model import Ridge

    import trk.onnx

    x = np.random.default_rng(0).random((20, 4), dtype=np.float32)
    proto = to_onnx(Ridge().fit(x, x.sum(axis=1)), x[:1], target_opset=17)
    trk.onnx.save_model(proto, tmp_path / "m", input_example=x[:2])
    code = (
        "import sys, numpy as np, trk.pyfunc, trk.serving.http.app\n"
        f"m = trk.pyfunc.load_model({str(tmp_path / 'm')!r})\n"
        "m.predict(m.input_example()); m.predict(np.ones((3, 4), dtype=np.float32))\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
