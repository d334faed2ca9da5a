"""Hostile and malformed bytes on the V2 paths: each a clean 4xx `{"error": ...}`, never a 5xx.

A table of known-bad requests, then a seeded fuzz of mutated valid requests; after each,
the server still answers a good request.
"""

from __future__ import annotations

import random
import struct

import httpx
import orjson
import pytest

ROW = [5.1, 3.5, 1.4, 0.2]
GOOD = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
INFER = "/v2/models/iris/infer"


def _tensor(**changes: object) -> bytes:
    return orjson.dumps({"inputs": [{**GOOD["inputs"][0], **changes}]})


BAD = [
    # (name, path, body, extra headers, status, words the error must hold)
    ("invalid_json", INFER, b'{"inputs": [', {}, 400, "Invalid JSON"),
    ("empty_body", INFER, b"", {}, 400, "Empty request body"),
    ("not_an_object", INFER, b"[1, 2]", {}, 400, "JSON object"),
    ("unknown_key", INFER, b'{"inputs": [], "rows": 1}', {}, 400, "'rows'"),
    ("no_inputs", INFER, b'{"inputs": []}', {}, 400, "non-empty list"),
    ("input_not_object", INFER, b'{"inputs": [1]}', {}, 400, "must be an object"),
    ("no_name", INFER, _tensor(name=""), {}, 400, "needs a 'name'"),
    ("unknown_datatype", INFER, _tensor(datatype="FP8"), {}, 400, "'FP8'"),
    ("negative_shape", INFER, _tensor(shape=[-1, 4]), {}, 400, "non-negative"),
    ("shape_not_data", INFER, _tensor(shape=[2, 4]), {}, 400, "holds 8 values"),
    ("deep_shape", INFER, _tensor(shape=[1] * 9), {}, 400, "at most 8"),
    ("strings_as_fp64", INFER, _tensor(data=["a", "b", "c", "d"]), {}, 400, "must hold numbers"),
    ("floats_as_int", INFER, _tensor(datatype="INT64"), {}, 400, "must hold integers"),
    (
        "int8_overflow",
        INFER,
        _tensor(datatype="INT8", data=[1, 2, 3, 999]),
        {},
        400,
        "out of range",
    ),
    ("ragged", INFER, _tensor(shape=[2, 2], data=[[1, 2], [3]]), {}, 400, "ragged"),
    ("data_not_list", INFER, _tensor(data=5), {}, 400, "must be a list"),
    ("objects_in_data", INFER, _tensor(data=[{"a": 1}] * 4), {}, 400, "mixed or non-scalar"),
    (
        "deep_nesting",
        INFER,
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": '
        + b"[" * 20
        + b"1"
        + b"]" * 20
        + b"}]}",
        {},
        400,
        "nested",
    ),
    ("three_columns", INFER, _tensor(shape=[1, 3], data=[1, 2, 3]), {}, 400, "Expected 4 values"),
    (
        "unknown_column",
        INFER,
        orjson.dumps(
            {
                "inputs": [
                    {"name": "a", "shape": [1], "datatype": "FP64", "data": [1]},
                    {"name": "b", "shape": [1], "datatype": "FP64", "data": [1]},
                ]
            }
        ),
        {},
        400,
        "'a'",
    ),
    ("twice", INFER, orjson.dumps({"inputs": GOOD["inputs"] * 2}), {}, 400, "given twice"),
    ("bad_id", INFER, orjson.dumps({**GOOD, "id": "a b\r\nX-Evil: 1"}), {}, 400, "'id'"),
    ("id_not_plain", INFER, orjson.dumps({**GOOD, "id": "<script>"}), {}, 400, "[A-Za-z0-9._:-]"),
    (
        "bad_outputs",
        INFER,
        orjson.dumps({**GOOD, "outputs": ["predictions"]}),
        {},
        400,
        "'outputs'",
    ),
    ("bad_parameters", INFER, orjson.dumps({**GOOD, "parameters": [1]}), {}, 400, "'parameters'"),
    ("xml", INFER, orjson.dumps(GOOD), {"Content-Type": "application/xml"}, 415, "not supported"),
    (
        "header_length_past_body",
        INFER,
        orjson.dumps(GOOD),
        {"Inference-Header-Content-Length": "99999"},
        400,
        "within the body",
    ),
    (
        "header_length_not_a_number",
        INFER,
        orjson.dumps(GOOD),
        {"Inference-Header-Content-Length": "-1"},
        400,
        "byte count",
    ),
    (
        "binary_size_past_body",
        INFER,
        _tensor(data=None, parameters={"binary_data_size": 64}),
        {},
        400,
        "binary_data_size",
    ),
    ("unknown_model", "/v2/models/nope/infer", orjson.dumps(GOOD), {}, 404, "Unknown model"),
    ("unknown_version", "/v2/models/iris/versions/9/infer", orjson.dumps(GOOD), {}, 404, "'9'"),
    ("unknown_path", "/v2/models/iris/explain", orjson.dumps(GOOD), {}, 404, "No V2 endpoint"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_v2_request_is_a_4xx_naming_the_problem(iris_server, case):
    _, path, body, headers, status, words = case
    resp = httpx.post(iris_server.url + path, content=body, headers=headers, timeout=30)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["error"], resp.text
    assert "Traceback" not in resp.text
    ok = httpx.post(iris_server.url + INFER, json=GOOD, timeout=30)
    assert ok.status_code == 200, ok.text


def test_bad_v2_requests_are_counted_per_status(iris_server):
    from serving_helpers import metric_value

    before = metric_value(httpx.get(iris_server.url + "/metrics").text, "trk_requests_total")
    httpx.post(iris_server.url + INFER, content=_tensor(datatype="FP8"))
    text = httpx.get(iris_server.url + "/metrics").text
    assert metric_value(text, "trk_requests_total") == before + 1
    assert metric_value(text, "trk_requests_total", variant="champion", status="400") >= 1


def test_v2_body_over_the_limit_is_413_in_v2_form(serve_app):
    server = serve_app(max_body_mb=0.001)
    big = _tensor(shape=[200, 4], data=[ROW] * 200)
    resp = httpx.post(server.url + INFER, content=big)
    assert resp.status_code == 413 and "max-body-mb" in resp.json()["error"]


def test_v2_request_past_the_timeout_is_504_in_v2_form(serve_app):
    server = serve_app(model_uri="models:/toy@champion", timeout_s=0.3)
    tensor = {"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}
    body = {"inputs": [tensor], "parameters": {"sleep": 1.5}}  # ToyModel sleeps on request
    resp = httpx.post(server.url + "/v2/models/toy/infer", json=body, timeout=30)
    assert resp.status_code == 504 and "--timeout-s" in resp.json()["error"]
    assert resp.headers["X-Trk-Variant"] == "champion"
    ok = httpx.post(server.url + "/v2/models/toy/infer", json={"inputs": [tensor]}, timeout=30)
    assert ok.json()["outputs"][0]["data"] == [3.0]


def test_binary_tensor_with_a_trailing_remainder_is_refused(iris_server):
    header = _tensor(data=None, parameters={"binary_data_size": 32})
    raw = struct.pack("<4d", *ROW)
    headers = {"Inference-Header-Content-Length": str(len(header))}
    ok = httpx.post(iris_server.url + INFER, content=header + raw, headers=headers)
    assert ok.status_code == 200, ok.text
    extra = httpx.post(iris_server.url + INFER, content=header + raw + b"xx", headers=headers)
    assert extra.status_code == 400 and "belong to no input" in extra.json()["error"]


def _mutate(rng: random.Random, body: bytes) -> bytes:
    """One random edit: flip, insert, delete or duplicate a span of bytes."""
    data = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(data))
        op = rng.random()
        if op < 0.3:
            data[i] = rng.randrange(256)
        elif op < 0.55:
            data[i:i] = bytes(rng.choice(b'[]{}",:0123456789-.eE truefalsn') for _ in range(3))
        elif op < 0.8:
            del data[i : i + rng.randint(1, 8)]
        else:
            data[i:i] = data[i : i + rng.randint(1, 16)]
    return bytes(data)


SEEDS = [
    orjson.dumps(GOOD),
    orjson.dumps({"id": "r1", "parameters": {"binary_data_output": True}, **GOOD}),
    orjson.dumps(
        {
            "inputs": [
                {"name": "sepal length (cm)", "shape": [2], "datatype": "FP32", "data": [5.1, 6]},
                {"name": "sepal width (cm)", "shape": [2], "datatype": "INT64", "data": [3, 2]},
                {"name": "petal length (cm)", "shape": [2, 1], "datatype": "FP64", "data": [1, 4]},
                {"name": "petal width (cm)", "shape": [2], "datatype": "UINT8", "data": [0, 1]},
            ],
            "outputs": [{"name": "predictions"}],
        }
    ),
]


def test_fuzzed_v2_bodies_never_get_a_5xx(iris_server):
    rng = random.Random(18)  # seeded: a failure reproduces
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=iris_server.url, timeout=30) as http:
        for n in range(600):
            body = _mutate(rng, rng.choice(SEEDS))
            path = INFER if n % 5 else "/v2/models/iris/versions/1/infer"
            resp = http.post(path, content=body)
            assert resp.status_code < 500, (body, resp.text)
            if resp.status_code != 200:
                assert isinstance(resp.json()["error"], str)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert http.post(INFER, json=GOOD).status_code == 200
    assert statuses.get(400, 0) > 100  # the mutations did reach the decoder's checks
