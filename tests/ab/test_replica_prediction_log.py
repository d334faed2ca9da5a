"""The replica side of the shared prediction log: every answer reaches the store's log through
the log shipper process, `/feedback` labels reach the store's label table, answers no store
can hold are skipped and counted, and the store join agrees with the in-memory one. Real
parts: uvicorn on a free port, a sqlite store in tmp_path, the shipper's sink on that store."""

from __future__ import annotations

import httpx
import numpy as np
from ab_serving import feedback, register_models, send, serve_split, stream, wait_until
from sqlalchemy import select

from trk.ab.evaluation import evaluate
from trk.serving.online.prediction_log import LogSink, records
from trk.serving.online.shipping import Shipped
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
        wait_until(lambda: serving.shipper.written == 200, timeout=30)
        memory = serving.feedback.counters()
    finally:
        server.stop()
    assert sum(a["stored"] for a in stored) == 150
    by = {c.variant: c for c in client.store.predictions.joined("pl")}
    assert {v: c.version for v, c in by.items()} == versions
    for variant, counts in memory.items():
        assert (by[variant].labelled, by[variant].correct) == (
            counts["labelled"],
            counts["correct"],
        )
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


def answer(rid, predictions, variant="champion", version="3", p=1.0, at_ms=1_000):
    """One shipped answer, as the shipper reads it off the wire (plain JSON values)."""
    plain = predictions.tolist() if isinstance(predictions, np.ndarray) else predictions
    return Shipped(rid, variant, version, plain, p, at_ms)


def test_odd_answers_are_skipped_and_counted_the_rest_written(client):
    sink = LogSink(lambda: client.store.predictions)
    items = [answer(f"r{i}", np.array([i % 2])) for i in range(50)]
    items.append(answer("matrix", np.ones((1, 3))))  # one answer, 3 outputs: no row
    items.append(answer("x" * 300, np.array([1])))  # an id no store keeps
    items.append(answer("no-version", np.array([1]), version=""))  # every id must be there
    assert sink.write("q", items)
    assert (sink.rows, sink.dropped["unloggable"]) == (50, 3)
    assert [c.logged for c in client.store.predictions.joined("q")] == [50]
    assert sink.write("q", items[:10])  # resent (a restarted shipper): nothing added
    assert [c.logged for c in client.store.predictions.joined("q")] == [50]


def test_every_id_must_be_present():
    assert records("r", "champion", "", [1], 1.0, 0) is None  # all("") was true
    assert records("", "champion", "1", [1], 1.0, 0) is None
    assert records("r", "champion", "1", [1], 1.0, 0) is not None


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
        sink = LogSink(lambda: store.predictions)
        assert sink.write("m", [answer(f"r{i}", np.array([1])) for i in range(3)])
        assert sink.write("m", [answer("later", np.array([1]))])
        assert sink.disabled and sink.dropped["rejected"] == 4 and sink.rows == 0
    finally:
        store.transport.close()
        server.stop()


def test_an_answer_no_store_can_hold_is_skipped_not_retried_forever(client):
    """A class text that is not valid UTF-8 (a lone surrogate a model may return) would fail
    every resend of its batch: it is dropped alone, and the answers around it are written."""
    sink = LogSink(lambda: client.store.predictions)
    items = [
        answer("before", ["setosa"]),
        answer("bad", ["\ud800"]),
        answer("after", ["virginica"]),
    ]
    assert sink.write("s", items)
    assert (sink.rows, sink.dropped["unloggable"]) == (2, 1)
    assert [c.logged for c in client.store.predictions.joined("s")] == [2]


def test_an_answer_with_a_nul_in_its_class_is_skipped(client):
    """A NUL cannot be stored as is (PostgreSQL refuses it, sqlite's JSON cuts at it)."""
    sink = LogSink(lambda: client.store.predictions)
    assert sink.write("n", [answer("bad", ["a\x00b"]), answer("good", ["a"])])
    assert (sink.rows, sink.dropped["unloggable"]) == (1, 1)


def test_a_time_or_probability_no_column_holds_is_skipped_not_retried_forever(client):
    """Frames reach a sidecar over a socket any local process can write to: a time past
    BIGINT, or of another type, and a probability outside [0, 1] are dropped alone."""
    sink = LogSink(lambda: client.store.predictions)
    odd = [
        {"at_ms": 10**30},
        {"at_ms": -1},
        {"at_ms": "soon"},
        {"at_ms": {"ms": 1}},
        {"at_ms": True},
        {"at_ms": 1.5},
        {"p": "high"},
        {"p": float("nan")},
        {"p": 2.0},
        {"p": [0.5]},
    ]
    items = [answer(f"odd{i}", [1], **facts) for i, facts in enumerate(odd)]
    items += [answer("good", [1], p=0.5, at_ms=2**62), answer("one", [2], p=1)]
    assert sink.write("t", items)
    assert (sink.rows, sink.dropped["unloggable"]) == (2, len(odd))
    assert [c.logged for c in client.store.predictions.joined("t")] == [2]
