"""Signature enforcement at predict: typed errors naming the column, silent safe casts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trk.exceptions import SignatureMismatch
from trk.models.schema_enforcement import array_plan, check_array, enforce
from trk.models.signature import ColSpec, Schema, TensorSpec

pytestmark = pytest.mark.unit

COLS = Schema([ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "c", False)])


def test_frame_list_dict_and_records_become_typed_frames():
    expected = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    inputs = [
        pd.DataFrame({"b": [3, 4], "a": [1, 2], "extra": [0, 0]}),  # int -> double silently
        [[1, 3], [2, 4]],
        np.array([[1.0, 3], [2.0, 4]], dtype=np.float64)[:, :2].astype(np.int64),
        {"a": [1.0, 2.0], "b": [3, 4]},
        [{"a": 1.0, "b": 3}, {"a": 2.0, "b": 4}],
    ]
    schema = Schema(COLS.inputs[:2])
    for data in inputs:
        out = enforce(schema, data)
        pd.testing.assert_frame_equal(out.reset_index(drop=True), expected, check_dtype=True)


def test_missing_column_named():
    with pytest.raises(SignatureMismatch, match="missing column 'b'"):
        enforce(COLS, pd.DataFrame({"a": [1.0]}))


def test_optional_column_may_be_missing():
    assert list(enforce(COLS, pd.DataFrame({"a": [1.0], "b": [1]})).columns) == ["a", "b"]


def test_wrong_column_count():
    with pytest.raises(SignatureMismatch, match="expected 2 columns"):
        enforce(Schema(COLS.inputs[:2]), [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    ("col", "values"), [("b", [1.5]), ("a", ["x"]), ("c", [1.0]), ("b", [True])]
)
def test_unsafe_casts_name_the_column(col, values):
    data = {"a": [1.0], "b": [1], "c": ["s"]}
    data[col] = values
    with pytest.raises(SignatureMismatch, match=f"column '{col}'"):
        enforce(COLS, pd.DataFrame(data))


def test_tensor_shape_and_dtype():
    schema = Schema([TensorSpec(np.float32, (-1, 3))])
    assert enforce(schema, [[1, 2, 3]]).dtype == np.float32
    with pytest.raises(SignatureMismatch, match="shape"):
        enforce(schema, np.zeros((2, 4)))
    with pytest.raises(SignatureMismatch, match="must be int64, got float64"):
        enforce(Schema([TensorSpec(np.int64, (-1, 3))]), np.zeros((2, 3)))
    named = Schema([TensorSpec(np.float32, (-1, 2), "x"), TensorSpec(np.int64, (-1,), "y")])
    with pytest.raises(SignatureMismatch, match="'y'"):
        enforce(named, {"x": np.zeros((1, 2))})


def test_fast_path_plan_and_checks():
    n, dtype, ok = array_plan(Schema([ColSpec("double", "a"), ColSpec("long", "b")]))
    assert (n, dtype, ok) == (2, np.dtype("float64"), True)
    assert array_plan(COLS)[2] is False
    assert check_array(np.ones((1, 2), np.int64), n, dtype).dtype == np.float64
    with pytest.raises(SignatureMismatch, match="expected 2 columns"):
        check_array(np.ones((1, 3)), n, dtype)
    with pytest.raises(SignatureMismatch, match="2-D"):
        check_array(np.ones(2), n, dtype)
