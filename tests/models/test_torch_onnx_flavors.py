"""torch and onnx specifics: export fallbacks, refusing what cannot be saved, named inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

import trk.onnx
import trk.pyfunc
import trk.torch
from trk.exceptions import ModelError

pytestmark = pytest.mark.unit


class DataDependent(torch.nn.Module):
    """Python control flow on values: torch.export refuses it, TorchScript takes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > 0):
            return x * 2
        return x


class Unsaveable(torch.nn.Module):
    """Leaves torch entirely (numpy), so neither export nor TorchScript can capture it."""

    def forward(self, x):  # noqa: ANN001, ANN201 - no annotations on purpose
        return {"rows": x.numpy().tolist()}


def _serialization(path):
    return yaml.safe_load((path / "MLmodel").read_text())["flavors"]["torch"]["serialization"]


def test_torchscript_fallback_when_export_fails(tmp_path):
    x = np.random.rand(3, 2).astype(np.float32)
    trk.torch.save_model(DataDependent(), tmp_path / "m", input_example=x)
    assert _serialization(tmp_path / "m") == "torchscript"
    np.testing.assert_allclose(trk.pyfunc.load_model(tmp_path / "m").predict(x), x * 2)


# The model is untraceable on purpose: tracing it warns before it fails.
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_unexportable_model_is_a_typed_error_and_leaves_nothing(tmp_path):
    with pytest.raises(ModelError, match="Unsaveable cannot be exported"):
        trk.torch.save_model(Unsaveable(), tmp_path / "m", input_example=np.ones((2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_pickled_module_only_when_asked(tmp_path):
    model = torch.nn.Linear(2, 1)
    x = np.random.rand(3, 2).astype(np.float32)
    trk.torch.save_model(model, tmp_path / "m", input_example=x, serialization="pickle")
    assert _serialization(tmp_path / "m") == "pickle"
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    with pytest.raises(ModelError, match="pickled torch module"):
        trk.pyfunc.load_model(tmp_path / "m")  # nothing vouches for a bare path
    loaded = trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    np.testing.assert_allclose(loaded.predict(x), ref, rtol=1e-6)


def test_onnx_named_inputs_from_dataframe_columns(tmp_path):
    import pandas as pd
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 1])
    out = helper.make_tensor_value_info("sum", TensorProto.FLOAT, [None, 1])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["sum"])], "g", [a, b], [out])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    trk.onnx.save_model(proto, tmp_path / "m")
    loaded = trk.pyfunc.load_model(tmp_path / "m", model_config={"intra_op_num_threads": 2})
    assert loaded.raw_model.get_session_options().intra_op_num_threads == 2
    got = loaded.predict({"a": [[1.0], [2.0]], "b": [[10.0], [20.0]]})
    np.testing.assert_allclose(got, [[11.0], [22.0]])
    frame = pd.DataFrame({"b": [2.0, 5.0], "a": [1, 1]})
    np.testing.assert_allclose(loaded.predict(frame), [[3.0], [6.0]])
    assert loaded.metadata.signature.inputs.input_names() == ["a", "b"]
