"""Signature comparison: differing inputs refuse in one line naming the difference."""

from __future__ import annotations

import numpy as np
import pytest

from trk.exceptions import SignatureMismatch
from trk.models.signature import ColSpec, ModelSignature, Schema, TensorSpec
from trk.serving.routing.signatures import check_at_start, check_signatures

pytestmark = pytest.mark.unit

COLS = ["a", "b", "c"]


def cols(types=("double",) * 3, names=COLS, outputs=None) -> ModelSignature:
    schema = Schema([ColSpec(t, n) for t, n in zip(types, names, strict=True)])
    return ModelSignature(schema, outputs)


def tensor(shape=(-1, 4), dtype="float32") -> ModelSignature:
    return ModelSignature(Schema([TensorSpec(np.dtype(dtype), shape)]))


def refused(a, b) -> str:
    with pytest.raises(SignatureMismatch) as info:
        check_signatures(a, b)
    message = info.value.message
    assert "\n" not in message and "--allow-signature-mismatch" in message
    return message


def test_equal_signatures_pass_quietly():
    assert check_signatures(cols(), cols()) == []
    assert check_signatures(tensor(), tensor((-1, 4))) == []
    assert check_signatures(tensor((-1, 4)), tensor((8, 4))) == []  # -1 matches any size


def test_each_input_difference_is_named():
    assert "'c' is missing from the challenger" in refused(cols(), cols(names=["a", "b", "x"]))
    assert "'c' is double in the champion, string in the challenger" in refused(
        cols(), cols(types=("double", "double", "string"))
    )
    assert "different order" in refused(cols(), cols(names=["b", "a", "c"]))
    assert "columns in the champion, tensors in the challenger" in refused(cols(), tensor())
    assert "shape [-1, 4] in the champion, [-1, 5]" in refused(tensor(), tensor((-1, 5)))
    assert "float32 in the champion, float64" in refused(tensor(), tensor(dtype="float64"))
    extra = cols(types=("double",) * 4, names=[*COLS, "d"])
    assert "challenger input 'd' is not in the champion" in refused(cols(), extra)


def test_override_and_output_differences_only_warn(caplog):
    warnings = check_signatures(cols(), cols(names=["x", "b", "c"]), allow_mismatch=True)
    assert len(warnings) == 1 and "input 'a'" in warnings[0]
    out_a = Schema([ColSpec("long")])
    out_b = Schema([ColSpec("double")])
    warnings = check_signatures(cols(outputs=out_a), cols(outputs=out_b))
    assert warnings == [
        "Challenger output signature differs from the champion's: "
        "output #0 is long in the champion, double in the challenger"
    ]
    assert "output #0" in caplog.text
    assert check_signatures(None, cols()) == [
        "the champion has no signature: inputs cannot be compared"
    ]


def test_check_at_start_reads_the_registry(routing_env):
    store = routing_env.client().store
    assert check_at_start("models:/iris@champion", "models:/iris@challenger", store) == []
    name = routing_env.new_model("lr", "two")
    with pytest.raises(SignatureMismatch, match="columns in the champion, tensors"):
        check_at_start(f"models:/{name}/1", f"models:/{name}/2", store)
    # a challenger that does not resolve yet is checked later, by the reloader
    assert check_at_start("models:/iris@champion", "models:/iris@nope", store) == []
