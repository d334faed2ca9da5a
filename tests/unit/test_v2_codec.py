"""The V2 codec and the plane called directly: binary tensors, datatypes, ids, forcing."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import trk.sklearn
from trk.exceptions import InvalidParameter, TrkError
from trk.serving.config import ServeSettings
from trk.serving.core import codecs
from trk.serving.core.inputs import InputSpec, ModelInput
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.plane import DataPlane
from trk.serving.core.pool import PredictPool
from trk.serving.core.slots import Variants, make_slots
from trk.serving.core.v2 import V2Codec, name_outputs
from trk.serving.core.v2_types import check_header, from_binary, from_json, to_output, usual_tensor
from trk.serving.core.variant import Variant
from trk.serving.online.fold import RecordBuffer
from trk.serving.routing.router import Router

pytestmark = pytest.mark.unit

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
Y = np.array([0, 1, 0, 1] * 5)
NO_SIGNATURE = InputSpec(None, (), False, None, False, False)


def test_binary_tensors_follow_the_json_header():
    """Triton's layout: JSON header, then each input's bytes; BYTES are length-prefixed."""
    words = b"".join(struct.pack("<I", len(w)) + w for w in (b"ab", b"", b"\xff\x00"))
    flags = bytes([1, 0, 1])
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "w",
                    "shape": [3],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(words)},
                },
                {
                    "name": "f",
                    "shape": [3],
                    "datatype": "BOOL",
                    "parameters": {"binary_data_size": 3},
                },
                {"name": "h", "shape": [1, 2], "datatype": "FP16", "data": [[0.5, 2]]},
            ]
        }
    )
    decoded = V2Codec(str(len(header))).decode(header + words + flags, None, NO_SIGNATURE)
    assert decoded.data["w"].tolist() == ["ab", "", b"\xff\x00"]  # not UTF-8: stays bytes
    assert decoded.data["f"].tolist() == [True, False, True]
    assert decoded.data["h"].dtype == np.float16 and decoded.data["h"].shape == (1, 2)


def test_binary_sizes_are_checked():
    with pytest.raises(InvalidParameter, match="whole number of FP32"):
        from_binary("x", b"\x00" * 6, [1], "FP32")
    with pytest.raises(InvalidParameter, match="holds 2 values"):
        from_binary("x", b"\x00" * 4, [2], "FP32")
    with pytest.raises(InvalidParameter, match="length prefix"):
        from_binary("x", b"\x01\x00", [1], "BYTES")
    with pytest.raises(InvalidParameter, match="runs past"):
        from_binary("x", struct.pack("<I", 9) + b"ab", [1], "BYTES")
    with pytest.raises(InvalidParameter, match="0 or 1"):
        from_binary("x", b"\x02", [1], "BOOL")


def test_json_data_keeps_its_declared_type():
    assert from_json("x", [1, 2], [2], "UINT16").dtype == np.uint16
    assert from_json("x", [[1, 2.5]], [2], "FP32").tolist() == [1.0, 2.5]
    assert from_json("x", [], [0, 3], "INT32").shape == (0, 3)
    with pytest.raises(InvalidParameter, match="must hold true/false"):
        from_json("x", [1, 0], [2], "BOOL")
    with pytest.raises(InvalidParameter, match="out of range for UINT8"):
        from_json("x", [-1], [1], "UINT8")


# (shape, datatype, data, whether the one-pass reader takes it): the rest is left to the
# general path, to convert (nested data, empty tensors) or refuse with a named error.
USUAL_CASES = [
    ([1, 4], "FP64", [5.1, 3.5, 1.4, 0.2], True),
    ([2, 2], "FP32", [1, 2.5, True, 0], True),  # bools and ints are numbers to a float tensor
    ([4], "INT8", [1, -2, 127, -128], True),
    ([2], "BOOL", [True, False], True),
    ([1], "UINT64", [2**64 - 1], True),
    ([1], "INT8", [128], False),  # out of range
    ([1], "UINT8", [-1], False),
    ([1], "INT64", [2**70], False),  # no int64 holds it
    ([2], "UINT64", [1, 2**63], False),  # numpy reads the two as floats
    ([2], "INT32", [1, 2.5], False),  # a float in an integer tensor
    ([2], "BOOL", [1, 0], False),
    ([2], "FP64", ["1.5", 2.0], False),  # a string is not a number
    ([2], "FP64", [None, 2.0], False),
    ([1, 2], "FP64", [[1.0, 2.0]], False),  # nested data
    ([3], "FP64", [1.0, 2.0], False),  # data and shape disagree
    ([0, 2], "FP64", [], False),
    ([-1, 2], "FP64", [1.0, 2.0], False),
    ([1.0, 2], "FP64", [1.0, 2.0], False),
    ([1] * 9, "FP64", [1.0], False),  # past MAX_DIMS
    ("2", "FP64", [1.0, 2.0], False),
    ([2], "FP128", [1.0, 2.0], False),
    ([2], "BYTES", ["a", "b"], False),
]


@pytest.mark.parametrize(("shape", "datatype", "data", "taken"), USUAL_CASES)
def test_the_usual_tensor_is_read_as_the_general_path_reads_it(shape, datatype, data, taken):
    """`usual_tensor` (one pass, for the common request) answers with the general path's
    exact array, and never takes what the general path refuses."""
    item = {"name": "x", "shape": shape, "datatype": datatype, "data": data}
    try:
        general = from_json("x", data, *check_header("x", item))
    except TrkError:
        general = None
    usual = usual_tensor(item)
    assert (usual is not None) == taken
    if usual is not None:
        assert general is not None, "the one-pass reader took what the general path refuses"
        assert usual.dtype == general.dtype and usual.shape == general.shape
        assert usual.tolist() == general.tolist()


def test_the_usual_tensor_leaves_anything_unusual_to_the_general_path():
    tensor = {"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}
    assert usual_tensor(tensor) is not None
    for unusual in (
        {**tensor, "parameters": {"binary_data_size": 8}},
        {**tensor, "name": ""},
        {"name": "x", "shape": [1], "data": [1.0], "extra": 1},
        [tensor],
    ):
        assert usual_tensor(unusual) is None


ANSWERS = [
    np.array([0, 2, 1]),
    np.array([[0.25, 0.75], [1.0, 0.0]]),
    np.array([1.5], dtype=np.float32),
    np.array([True, False]),
    np.array([7], dtype=np.uint8),
    np.array([0.5], dtype=np.float16),
    np.array(3),  # 0-d
    np.zeros((0, 2)),
    np.arange(6.0).reshape(2, 3)[:, 0],  # not contiguous: the general way
    np.array([1.0, 2.0], dtype=">f8"),  # not the machine's byte order: the general way
    np.array(["setosa", "virginica"]),
    np.array([None, "x"], dtype=object),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: f"{a.dtype}{list(a.shape)}")
@pytest.mark.parametrize("request_id", ["abc", 'a"b\\c\u00e9'])
def test_the_usual_answer_is_the_bytes_the_general_path_writes(answer, request_id):
    """The answer built from a variant's parts (`_answer_parts`) is, byte for byte, the one
    dumped as a dict, for every dtype and shape; a variant's parts follow its dtype."""
    model = SimpleNamespace(metadata=SimpleNamespace(signature=None))
    variant = Variant("challenger", "models:/iris@challenger", model, "iris", "3")
    model_input = ModelInput(np.zeros((1, 1)), fast=True)
    general = codecs.dumps(
        {
            "model_name": "iris",
            "model_version": "3",
            "id": request_id,
            "parameters": {"variant": "challenger"},
            "outputs": [to_output("predictions", answer)],
        }
    )
    codec = V2Codec()
    for _ in range(2):  # the second answer reads the parts the first one built
        assert codec.encode(answer, model_input, variant, request_id) == general
        assert codec.encode(np.array([1.0]), model_input, variant, "x") == codecs.dumps(
            {
                "model_name": "iris",
                "model_version": "3",
                "id": "x",
                "parameters": {"variant": "challenger"},
                "outputs": [to_output("predictions", np.array([1.0]))],
            }
        )
    assert "FP64" in variant.codec_cache  # the parts were built and read


def test_outputs_are_named_by_dict_table_or_signature():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    outputs = name_outputs(frame, [])
    assert [to_output(k, v) for k, v in outputs.items()][1] == {
        "name": "b",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["x", "y"],
    }
    assert list(name_outputs({"p": [1]}, [])) == ["p"]
    assert list(name_outputs(np.zeros(2), ["score"])) == ["score"]
    assert list(name_outputs(np.zeros(2), [])) == ["predictions"]
    half = to_output("h", np.array([[0.5]], dtype=np.float16))
    assert orjson.loads(orjson.dumps(half, option=orjson.OPT_SERIALIZE_NUMPY))["data"] == [0.5]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("v2") / "m"
    trk.sklearn.save_model(LogisticRegression().fit(X, Y), path, input_example=X[:2])
    return str(path)


def _plane(model_dir: str, buffer: RecordBuffer, allow_forced: bool) -> DataPlane:
    settings = ServeSettings(
        model_uri=model_dir, challenger_uri=model_dir, mode="split", challenger_weight=0.0
    )
    metrics, pool = ServingMetrics(), PredictPool()
    slots = make_slots(settings)
    variants = Variants(settings, slots, metrics, pool, store_factory=lambda: None)
    variants.load_all()
    router = Router(slots["champion"], slots["challenger"], "split", 0.0, allow_forced=allow_forced)
    return DataPlane(settings, metrics, variants, router, pool, buffer)


def _infer(plane: DataPlane, force: str | None = None, rid: str = "body-id"):
    body = orjson.dumps(
        {"id": rid, "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 0]}]}
    )
    return asyncio.run(plane.infer(body, None, {"x-request-id": "hdr"}, V2Codec(), force))


def test_the_body_id_is_the_request_id_records_carry(model_dir):
    buffer = RecordBuffer()
    result = _infer(_plane(model_dir, buffer, True))
    assert (result.status, result.request_id) == (200, "body-id")
    assert orjson.loads(result.body)["id"] == "body-id"
    records = buffer.take()
    assert [(r.request_id, r.variant) for r in records] == [("body-id", "champion")]
    assert [run.classes for run in records.runs] == [[("1", 1)]]


def test_a_forced_variant_answers_unless_forcing_is_off(model_dir):
    buffer = RecordBuffer()
    forced = _infer(_plane(model_dir, buffer, True), force="challenger")
    assert (
        forced.status == 200 and orjson.loads(forced.body)["parameters"]["variant"] == "challenger"
    )
    refused = _infer(_plane(model_dir, buffer, False), force="challenger")
    assert refused.status == 400 and "--allow-forced-variant" in orjson.loads(refused.body)["error"]


@pytest.mark.parametrize("dtype", [">f8", ">i4", ">u2", "<f8"])
def test_answers_in_any_byte_order_are_written_as_the_native_ones(dtype):
    """orjson refuses an array of the other byte order outright (a model loaded from such
    data answers so): both protocols still answer it, with the values a native one gives."""
    answer = np.array([[1, 2], [3, 250]], dtype=dtype)
    native = answer.astype(answer.dtype.newbyteorder("="))
    plain = orjson.dumps({"predictions": native.tolist()})
    assert codecs.encode(answer) == codecs.encode(native) == plain
    assert codecs.dumps({"p": {"q": answer}}) == codecs.dumps({"p": {"q": native}})
    with pytest.raises(TypeError):
        codecs.dumps({"p": object()})  # what JSON cannot hold still fails
