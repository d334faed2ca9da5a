"""Error answers are captured too: a real trk-serve whose challenger fails on some rows (500)
and refuses malformed ones (400) captures every answered request with its status and a null
prediction, and the capture report's error rates equal the ones its serving runs logged, while the
store's prediction log keeps the answers only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from capture_helpers import local_capture, read_local
from sqlalchemy import create_engine, select

from trk.store import schema

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(Path(__file__).parent.parent / "ab"))
from ab_serving import NoisyThreshold, start_replicas, stream  # noqa: E402

TRK = str(Path(sys.executable).parent / "trk")


class Failing(NoisyThreshold):
    """NoisyThreshold that fails (a 500) on rows whose first feature is above 0.9."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        if (np.asarray(model_input, dtype=float)[:, 0] > 0.9).any():
            raise RuntimeError("this model cannot answer above 0.9")
        return super().predict(context, model_input, params)


def _register(tracking_uri: str, name: str) -> None:
    """champion: NoisyThreshold; challenger: Failing."""
    import cloudpickle

    import trk
    import trk.pyfunc
    from trk.tracking import client as client_module
    from trk.tracking import fluent

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cloudpickle.register_pickle_by_value(sys.modules[NoisyThreshold.__module__])
    trk.set_tracking_uri(tracking_uri)
    client = trk.Client(tracking_uri)
    try:
        for alias, model in (("champion", NoisyThreshold(0.2)), ("challenger", Failing(0.05))):
            with trk.start_run():
                info = trk.pyfunc.log_model(
                    python_model=model,
                    name="model",
                    registered_model_name=name,
                    input_example=np.array([[0.2, 0.7]]),
                )
            client.set_registered_model_alias(name, alias, str(info.registered_model_version))
    finally:
        while trk.active_run():
            trk.end_run()
        client_module._tracking_uri = None
        fluent._experiment_id = None


def _report(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [TRK, "ab", "report", "err", "--json", "--metric", "error_rate", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return {v["variant"]: v for v in json.loads(done.stdout)["variants"]}


def test_error_answers_are_captured_with_their_status(tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    _register(tracking, "err")
    args = [
        "--model-uri",
        "models:/err@champion",
        "--challenger-uri",
        "models:/err@challenger",
        "--mode",
        "split",
        "--challenger-weight",
        "0.5",
        "--tracking-uri",
        tracking,
        *local_capture(tmp_path),
    ]
    (replica,) = start_replicas([args], {}, tmp_path)
    x, _ = stream(400, seed=5)
    bodies = [{"inputs": [row.tolist()]} for row in x] + [{"inputs": [[0.3]]}] * 40
    answered: dict[str, tuple[str, int]] = {}
    try:
        with httpx.Client(base_url=replica.url, timeout=30) as http:
            for body in bodies:
                r = http.post("/invocations", json=body)
                answered[r.headers["x-request-id"]] = (r.headers["x-trk-variant"], r.status_code)
    finally:
        replica.stop()
    statuses = {s for _, s in answered.values()}
    assert statuses == {200, 400, 500}

    rows = read_local(tmp_path / "cap", "model=err").to_table().to_pylist()
    assert {r["request_id"]: (r["variant"], r["status"]) for r in rows} == answered
    assert len(rows) == len(answered)
    for row in rows:
        assert (row["prediction"] is None) == (row["status"] != 200)
        assert row["latency_ms"] > 0

    captured = _report("--capture-uri", str(tmp_path / "cap"))
    served = _report("--tracking-uri", tracking)  # the serving runs' windows
    for variant in ("champion", "challenger"):
        sent = [s for v, s in answered.values() if v == variant]
        expected = (len(sent), sum(s >= 500 for s in sent))
        for report in (captured, served):
            assert (report[variant]["requests"], report[variant]["errors"]) == expected
        assert captured[variant]["error_rate"] == served[variant]["error_rate"]
    assert captured["challenger"]["errors"] > 0
    # The store's prediction log beside it takes the answers only (no error row, none dropped).
    engine = create_engine(tracking)
    try:
        with engine.connect() as conn:
            ids = set(conn.execute(select(schema.prediction_log.c.request_id)).scalars())
    finally:
        engine.dispose()
    assert ids == {rid for rid, (_, s) in answered.items() if s == 200}


def test_the_prediction_log_skips_error_answers_without_counting_them(tmp_path):
    from trk.serving.online.prediction_log import LogSink
    from trk.serving.online.shipping import Shipped
    from trk.tracking.client import Client

    client = Client(f"sqlite:///{tmp_path / 'trk.db'}")
    sink = LogSink(lambda: client.store.predictions)
    ok = Shipped("r-ok", "champion", "1", [1], 1.0, 1_000)
    failed = Shipped("r-500", "champion", "1", None, 1.0, 1_000, latency_ms=2.0, status=500)
    assert sink.write("err", [ok, failed])
    assert sink.rows == 1 and sum(sink.dropped.values()) == 0
