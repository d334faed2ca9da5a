"""The prediction log through a real `trk server`: replicas append, anyone labels, reports
join; bad bodies are refused whole (4xx, nothing written)."""

from __future__ import annotations

import httpx
import pytest

from trk.contracts.predictions import PredictionRecord
from trk.exceptions import InvalidParameter, TooManyRequests, WrittenOnce

API = "/api/2.0/mlflow/trk/"


@pytest.fixture
def log(rest_store):
    return rest_store.predictions


def test_replicas_log_and_labels_join_through_the_server(log):
    log.log_labels("m", [{"request_id": "r1", "label": 1}])  # before its prediction
    records = [
        PredictionRecord(f"r{i}", 0, v, ver, str(i % 2), None, 0.5, 1_000)
        for i in range(4)
        for v, ver in (("champion", "1"), ("challenger", "2"))
    ]
    assert log.log_predictions("m", records) == 8
    log.log_predictions("m", records)  # a retried batch adds nothing
    log.log_labels("m", [{"request_id": f"r{i}", "label": 1} for i in (0, 2, 3)])
    by = {c.variant: c for c in log.joined("m")}
    assert (by["champion"].logged, by["champion"].labelled, by["champion"].correct) == (4, 4, 2)
    (pair,) = log.paired("m")
    assert (pair.both_correct, pair.neither) == (2, 2)
    assert len(log.outcomes("m", limit=3)) == 3
    assert sorted((o.champion_correct, o.challenger_correct) for o in log.paired_outcomes("m")) == [
        (False, False),
        (False, False),
        (True, True),
        (True, True),
    ]
    assert log.prune(2_000, "m") == {"predictions": 8, "labels": 0}
    assert log.joined("m") == []


@pytest.mark.parametrize(
    "path, body",
    [
        ("predictions/log", {"model": "m", "records": [["r", 0, "champion", "1", "1", None, 1.0]]}),
        (
            "predictions/log",
            {"model": "m", "records": [["r", -1, "champion", "1", "1", None, 1.0, 5]]},
        ),
        (
            "predictions/log",
            {"model": "m", "records": [["r", 0, "champion", "1", "1", None, 2.0, 5]]},
        ),
        (
            "predictions/log",
            {"model": "m", "records": [["r", 0, "champion", "1", "1", "x", 1.0, 5]]},
        ),
        ("predictions/log", {"model": "m", "records": "nope"}),
        (
            "predictions/log",
            {"model": "m", "records": [["r", True, "champion", "1", "1", None, 1, 5]]},
        ),
        ("predictions/log", {"model": "", "records": []}),
        ("labels/log", {"model": "m", "labels": [{"request_id": "a", "label": [1, None]}]}),
        ("labels/log", {"model": "m", "labels": [{"request_id": "a", "label": 1}, 3]}),
        ("labels/log", {"model": "m" * 200, "labels": [{"request_id": "a", "label": 1}]}),
        (  # a NUL: PostgreSQL cannot store it, sqlite's JSON would cut the text there
            "predictions/log",
            {"model": "m", "records": [["r", 0, "champion", "1", "a\u0000b", None, 1.0, 5]]},
        ),
        ("labels/log", {"model": "m", "labels": [{"request_id": "a", "label": "a\u0000b"}]}),
        ("labels/log", {"model": "m", "labels": [{"request_id": "a\u0000b", "label": 1}]}),
        (
            "predictions/log",
            {"model": "m", "records": [["r\u0000", 0, "champion", "1", "1", None, 1.0, 5]]},
        ),
        ("predictions/prune", {"before_ms": "soon"}),
        ("predictions/prune", {"before_ms": 2**63}),  # past BIGINT: was an OverflowError (500)
        (
            "predictions/log",
            {"model": "m", "records": [["r", 0, "champion", "1", "1", None, 1.0, 2**63]]},
        ),
    ],
)
def test_bad_bodies_get_400_and_write_nothing(module_server, log, path, body):
    body = {**body, "model": "bad"} if body.get("model") == "m" else body
    with httpx.Client(base_url=module_server.url, timeout=10) as http:
        resp = http.post(API + path, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert log.joined("bad") == [] and log.outcomes("bad") == []


def test_the_client_refuses_bad_labels_before_sending(log):
    with pytest.raises(InvalidParameter):
        log.log_labels("m", [{"request_id": "a"}])


def test_labels_over_http_are_written_once_pending_first_and_corrected_on_purpose(
    module_server, log
):
    """The HTTP answers a labeller sees: 202 pending, 200 joined, 409 for a second label
    (nothing changed), and a correction only through its own endpoint, counted by the join."""
    http = httpx.Client(base_url=module_server.url, timeout=10)
    post = http.post
    first = post(
        API + "labels/log", json={"model": "once", "labels": [{"request_id": "a", "label": 1}]}
    )
    assert first.status_code == 202 and first.json()["pending"] == 1, first.text
    log.log_predictions(
        "once",
        [
            PredictionRecord("a", 0, "champion", "1", "1", None, 1.0, 5),
            PredictionRecord("b", 0, "champion", "1", "1", None, 1.0, 5),
        ],
    )
    joined = post(
        API + "labels/log", json={"model": "once", "labels": [{"request_id": "b", "label": 1}]}
    )
    assert joined.status_code == 200 and joined.json()["joined"] == 1, joined.text
    for rid in ("a", "b"):  # a forged second label: refused whole, nothing changes
        again = post(
            API + "labels/log", json={"model": "once", "labels": [{"request_id": rid, "label": 0}]}
        )
        assert again.status_code == 409, again.text
        assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    (c,) = log.joined("once")
    assert (c.labelled, c.correct, c.corrected) == (2, 2, 0)
    with pytest.raises(WrittenOnce):
        log.log_labels("once", [{"request_id": "a", "label": 0}])
    assert log.correct_labels("once", [{"request_id": "a", "label": 0}]) == 1
    (c,) = log.joined("once")
    assert (c.labelled, c.correct, c.corrected) == (2, 1, 1)
    http.close()


def test_pending_labels_past_the_server_s_bound_get_429(server_factory):
    from trk.store.rest import RestStore

    server = server_factory(None, None, "--max-pending-labels", "2", "--pending-label-ttl", "1h")
    store = RestStore(server.url)
    log = store.predictions
    assert log.log_labels("m", [{"request_id": f"p{i}", "label": 1} for i in range(2)]).pending == 2
    with pytest.raises(TooManyRequests, match="at most 2"):
        log.log_labels("m", [{"request_id": "p2", "label": 1}])
    log.log_predictions("m", [PredictionRecord("p0", 0, "champion", "1", "1", None, 1.0, 5)])
    assert log.log_labels("m", [{"request_id": "p2", "label": 1}]).pending == 1  # p0 joined
    store.transport.close()
