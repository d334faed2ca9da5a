"""The replica side of the shared prediction log: every answer reaches the store's log off the
request path, `/feedback` labels reach the store's label table, a full queue drops and counts,
and the store join agrees with the in-memory one. Real parts: uvicorn on a free port, a
sqlite store in tmp_path, the writer thread."""

from __future__ import annotations

import httpx
import numpy as np
from ab_serving import feedback, register_models, send, serve_split, stream, wait_until
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from trk.ab.evaluation import evaluate
from trk.serving.core.metrics import ServingMetrics
from trk.serving.online.prediction_log import LogMetrics, PredictionLog
from trk.store import schema


def test_answers_and_labels_reach_the_store_and_join_like_memory(client, tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    versions = register_models(client.tracking_uri, "pl", {"champion": 0.2, "challenger": 0.05})
    server = serve_split(client.tracking_uri, "pl")
    serving = server.app.state.serving
    try:
        x, y = stream(200, seed=5)
        answers = send(server.url, x)
        ids = [a[0] for a in answers]
        stored = feedback(server.url, ids[:150], y[:150].tolist())
        # Labels for requests this replica never saw are kept for the report's join.
        other = httpx.post(server.url + "/feedback", json=[{"request_id": "elsewhere", "label": 1}])
        assert other.json()["unknown"] == 1 and other.json()["stored"] == 1
        wait_until(lambda: serving.prediction_log.written == 200, timeout=30)
        memory = serving.feedback.counters()
    finally:
        server.stop()
    assert sum(a["stored"] for a in stored) == 150
    by = {c.variant: c for c in client.store.predictions.joined("pl")}
    assert {v: c.version for v, c in by.items()} == versions
    for variant, counts in memory.items():
        assert (by[variant].labelled, by[variant].correct) == (
            counts["labelled"], counts["correct"],
        )  # fmt: skip
    assert sum(c.logged for c in by.values()) == 200
    assert sum(c.labelled for c in by.values()) == 150
    log = schema.prediction_log
    with client.store._engine.connect() as conn:
        rows = conn.execute(select(log.c.variant, log.c.probability).distinct()).all()
    assert sorted(rows) == [("challenger", 0.5), ("champion", 0.5)]  # split 50/50
    # The last 50 labels arrive later, in bulk, straight to the store: the report counts all.
    late = [{"request_id": r, "label": int(v)} for r, v in zip(ids[150:], y[150:], strict=True)]
    client.store.predictions.log_labels("pl", late)
    report = evaluate(client, "pl")
    assert report.labels == "store"
    assert sum(v.labelled for v in report.variants) == 200


def test_a_full_queue_drops_and_counts_and_odd_answers_are_skipped(client):
    metrics = ServingMetrics(CollectorRegistry())
    log = PredictionLog(
        lambda: client.store.predictions, lambda: "q", lambda v: 1.0, lambda v: "3",
        LogMetrics(metrics), capacity=50,
    )  # fmt: skip
    for i in range(80):
        log.record_shadow(f"r{i}", "champion", np.array([i % 2]))
    log.flush()
    log.record_shadow("matrix", "champion", np.ones((1, 3)))  # one answer, 3 outputs: no row
    log.record_shadow("x" * 300, "champion", np.array([1]))  # an id no store keeps
    log.flush()
    assert (log.written, log.dropped["queue_full"], log.dropped["unloggable"]) == (50, 30, 2)
    assert [c.logged for c in client.store.predictions.joined("q")] == [50]
    text = metrics.exposition().decode()
    assert 'trk_prediction_log_dropped_total{reason="queue_full"} 30.0' in text
    assert 'trk_prediction_log_dropped_total{reason="unloggable"} 2.0' in text
    assert "trk_prediction_log_rows_total 50.0" in text


def test_without_the_log_feedback_answers_as_before(client, tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    register_models(client.tracking_uri, "nolog", {"champion": 0.2, "challenger": 0.05})
    server = serve_split(client.tracking_uri, "nolog", prediction_log=False)
    try:
        ((rid, _, _, _),) = send(server.url, stream(1, seed=1)[0], threads=1)
        answer = httpx.post(server.url + "/feedback", json={"request_id": rid, "label": 1}).json()
    finally:
        server.stop()
    assert answer["joined"] == 1 and "stored" not in answer
    assert client.store.predictions.joined("nolog") == []


def test_a_server_without_the_log_stops_the_logging_once(client):
    """An `mlflow server` answers trk's endpoints 404: the replica stops queueing (counted)
    instead of retrying every batch. A Starlette app answering as MLflow does stands in for
    it (starting mlflow server here would cost seconds for the same answer)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse

    from trk.store.rest import RestStore
    from uvicorn_thread import ThreadServer

    async def not_found(request, exc):
        body = {"error_code": "ENDPOINT_NOT_FOUND", "message": f"Not Found: {request.url.path}"}
        return JSONResponse(body, 404)

    server = ThreadServer(Starlette(exception_handlers={404: not_found})).start()
    store = RestStore(server.url)
    try:
        log = PredictionLog(lambda: store.predictions, lambda: "m", lambda v: 1.0, lambda v: "1")
        for i in range(3):
            log.record_shadow(f"r{i}", "champion", np.array([1]))
        log.flush()
        log.record_shadow("later", "champion", np.array([1]))
        assert log.disabled and log.dropped["rejected"] == 4 and not log.queue
    finally:
        store.transport.close()
        server.stop()


def test_the_queue_is_bounded_by_rows_too(client):
    log = PredictionLog(
        lambda: client.store.predictions, lambda: "rows", lambda v: 1.0, lambda v: "1",
        max_rows=100,
    )  # fmt: skip
    log.record_shadow("big", "champion", np.zeros(80, dtype=int))
    log.record_shadow("too-big", "champion", np.zeros(30, dtype=int))  # 110 rows: dropped
    log.record_shadow("small", "champion", np.zeros(20, dtype=int))
    assert log.dropped["queue_full"] == 1
    log.flush()
    log.record_shadow("fits-again", "champion", np.zeros(30, dtype=int))
    log.flush()
    assert log.written == 130 and log.dropped["queue_full"] == 1
    assert [c.logged for c in client.store.predictions.joined("rows")] == [130]


def test_an_answer_no_store_can_hold_is_skipped_not_retried_forever(client):
    """A class text that is not valid UTF-8 (a lone surrogate a model may return) would fail
    every resend of its batch: it is dropped alone, and the answers around it are written."""
    log = PredictionLog(
        lambda: client.store.predictions, lambda: "s", lambda v: 1.0, lambda v: "1"
    )  # fmt: skip
    log.record_shadow("before", "champion", np.array(["setosa"]))
    log.record_shadow("bad", "champion", np.array(["\ud800"]))
    log.record_shadow("after", "champion", np.array(["virginica"]))
    assert log.flush()
    assert (log.written, log.dropped["unloggable"]) == (2, 1)
    assert [c.logged for c in client.store.predictions.joined("s")] == [2]


def test_an_answer_with_a_nul_in_its_class_is_skipped(client):
    """A NUL cannot be stored as is (PostgreSQL refuses it, sqlite's JSON cuts at it)."""
    log = PredictionLog(
        lambda: client.store.predictions, lambda: "n", lambda v: 1.0, lambda v: "1"
    )  # fmt: skip
    log.record_shadow("bad", "champion", np.array(["a\x00b"]))
    log.record_shadow("good", "champion", np.array(["a"]))
    assert log.flush()
    assert (log.written, log.dropped["unloggable"]) == (1, 1)
