"""Signatures: inference, MLflow JSON round trip, and MLflow's own reading of trk's JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trk.exceptions import InvalidParameter
from trk.models.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature

pytestmark = pytest.mark.unit


def test_infer_from_frame_and_round_trip():
    df = pd.DataFrame({"a": [1.0], "b": [2], "c": ["x"], "d": [True], "e": np.float32([1])})
    sig = infer_signature(df, np.array([0, 1]))
    assert [s.type for s in sig.inputs.inputs] == ["double", "long", "string", "boolean", "float"]
    assert sig.inputs.input_names() == ["a", "b", "c", "d", "e"] and sig.inputs.has_input_names()
    assert sig.outputs.is_tensor_spec() and sig.outputs.inputs[0].shape == (-1,)
    again = ModelSignature.from_dict(sig.to_dict())
    assert again == sig


def test_tensor_and_dict_inputs():
    sig = infer_signature(np.zeros((3, 4), np.float32))
    assert sig.inputs.is_tensor_spec() and not sig.inputs.has_input_names()
    assert sig.inputs.inputs[0] == TensorSpec(np.dtype("float32"), (-1, 4))
    named = infer_signature({"x": np.zeros((2, 3)), "y": np.zeros((2,), np.int64)})
    assert named.inputs.input_names() == ["x", "y"]
    assert named.inputs.numpy_types() == [np.dtype("float64"), np.dtype("int64")]
    assert Schema.from_json(named.inputs.to_json()) == named.inputs


def test_mlflow_reads_trk_signature_and_vice_versa():
    mlflow_sig = pytest.importorskip("mlflow.models.signature", reason="mlflow not installed")
    df = pd.DataFrame({"a": [1.0], "b": [2], "c": ["x"]})
    theirs = mlflow_sig.infer_signature(df, np.array([0]))
    ours = infer_signature(df, np.array([0]))
    assert ModelSignature.from_dict(theirs.to_dict()) == ours
    assert mlflow_sig.ModelSignature.from_dict(ours.to_dict()) == theirs


def test_bad_specs_are_refused():
    with pytest.raises(InvalidParameter, match="Unknown column type"):
        ColSpec("decimal", "a")
    with pytest.raises(InvalidParameter, match="mixes"):
        Schema([ColSpec("double", "a"), TensorSpec(np.float32, (-1,), "b")])
