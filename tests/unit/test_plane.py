"""The transport-free core, called directly: codecs and inputs decode, the plane answers.

No HTTP here: `DataPlane.infer` takes bytes and headers and returns an `InferResult`, so
routing, errors and the one record each request leaves are checked without a server.
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import trk.sklearn
from trk.exceptions import BadRequest, InvalidParameter
from trk.serving.compose import build
from trk.serving.config import ServeSettings
from trk.serving.core import codecs
from trk.serving.core.inputs import InputSpec
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.plane import DataPlane
from trk.serving.core.pool import PredictPool
from trk.serving.core.slots import Variants, make_slots
from trk.serving.online.fold import RecordBuffer
from trk.serving.routing.router import Router

pytestmark = pytest.mark.unit

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
Y = np.array([0, 1, 0, 1] * 5)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("plane") / "m"
    trk.sklearn.save_model(LogisticRegression().fit(X, Y), path, input_example=X[:2])
    return str(path)


def _plane(model_dir: str, buffer: RecordBuffer) -> DataPlane:
    settings = ServeSettings(model_uri=model_dir)
    metrics, pool = ServingMetrics(), PredictPool()
    slots = make_slots(settings)
    variants = Variants(settings, slots, metrics, pool, store_factory=lambda: None)
    variants.load_all()
    router = Router(slots["champion"], None, allow_forced=True)  # forcing is off by default
    return DataPlane(settings, metrics, variants, router, pool, buffer)


def test_infer_answers_and_leaves_one_record(model_dir):
    buffer = RecordBuffer()
    plane = _plane(model_dir, buffer)
    body = json.dumps({"inputs": X[:3].tolist()}).encode()
    result = asyncio.run(plane.infer(body, "application/json", {"x-request-id": "r1"}))
    assert (result.status, result.variant, result.request_id) == (200, "champion", "r1")
    assert json.loads(result.body) == {"predictions": [0, 1, 0]}
    records = buffer.take()
    assert [(r.request_id, r.variant, r.status, r.rows, r.shadow) for r in records] == [
        ("r1", "champion", 200, 3, False)
    ]
    (r,) = records
    assert r.answer.tolist() == [0, 1, 0] and r.inputs.shape == (3, 2)
    assert r.latency_s >= r.predict_s > 0 and r.probability == 1.0 and r.version
    assert [run.classes for run in records.runs] == [[("0", 2), ("1", 1)]]
    assert abs(records.time_of(r) - time.time()) < 60
    assert plane.in_flight.counts == {"champion": 0}


def test_errors_are_results_with_their_headers_and_records(model_dir):
    buffer = RecordBuffer()
    plane = _plane(model_dir, buffer)
    result = asyncio.run(plane.infer(b'{"inputs": [[1, 2', "application/json", {}))
    assert (result.status, result.variant) == (400, "champion") and len(result.request_id) == 32
    assert json.loads(result.body)["error_code"] == "BAD_REQUEST"
    forced = asyncio.run(plane.infer(b"{}", "application/json", {"x-trk-variant": "nope"}))
    assert forced.status == 400 and forced.variant == ""  # refused before routing
    records = buffer.take()
    assert [(r.variant, r.status, r.answer, r.ok) for r in records] == [
        ("champion", 400, None, True),  # the client's error: never a variant's
        ("", 400, None, True),
    ]
    assert records[1].labels == ("none", "none", "none") and records[1].latency_s is None
    assert plane.in_flight.counts == {"champion": 0}


def test_built_plane_starts_serves_and_stops(model_dir, tmp_path):
    # Its serving runs go to tmp_path, not to the embedded default ./trk.db; no log shipper
    # (a process: tests/serving/test_log_shipper.py starts it).
    settings = ServeSettings(
        model_uri=model_dir, prediction_log=False, tracking_uri=f"sqlite:///{tmp_path / 'trk.db'}"
    )
    serving = build(settings, ServingMetrics())

    async def run() -> bytes:
        await serving.plane.start()
        await serving.plane.wait_loaded()
        try:
            body = b'{"instances": [[0.9, 0.1]]}'
            result = await serving.plane.infer(body, "application/json", {})
            return result.body
        finally:
            await serving.plane.stop()

    assert json.loads(asyncio.run(run())) == {"predictions": [1]}
    # The last fold at stop reached the feedback join and the series.
    assert serving.feedback.totals()["joined"] == 0 and len(serving.feedback) == 1
    assert 'trk_requests_total{model="m",status="200",variant="champion",version="0"} 1.0' in (
        serving.plane.metrics.exposition().decode()
    )


def test_codecs_decode_every_json_form_to_the_same_rows(model_dir):
    model = trk.pyfunc.load_model(model_dir)
    spec = InputSpec.of(model)
    rows = X[:2].tolist()
    forms = [
        {"inputs": rows},
        {"instances": rows},
        {"dataframe_split": {"columns": ["0", "1"], "data": rows}},
    ]
    for form in forms:
        decoded = codecs.decode(json.dumps(form).encode(), "application/json", spec)
        np.testing.assert_array_equal(np.asarray(decoded.data, dtype=float), X[:2])
        assert decoded.rows == 2
    with pytest.raises(BadRequest, match="exactly one"):
        codecs.decode(b'{"params": {}}', "application/json", spec)
    with pytest.raises(InvalidParameter, match=r"shape \(-1, 2\)"):
        codecs.decode(b'{"inputs": [[1.0, 2.0, 3.0]]}', "application/json", spec)
