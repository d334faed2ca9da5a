"""trk_feedback_labels_total{outcome}: every label trk-serve's /feedback passes to the store
is counted by what the store did with it, over real HTTP (uvicorn on 127.0.0.1, the sqlite
store, the log shipper), and the series is read from /metrics as Prometheus scrapes it."""

from __future__ import annotations

import httpx
import pytest
from ab_serving import register_models, send, serve_split, stream, wait_until
from prometheus_client.parser import text_string_to_metric_families

from trk.contracts.predictions import LabelsWritten
from trk.serving.online.labels import OUTCOMES, CountedLabels
from trk.tracking.client import Client


def outcomes(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "trk_feedback_labels"
        for s in family.samples
        if s.name == "trk_feedback_labels_total"
    }


def logged(uri: str, model: str) -> int:
    return sum(c.logged for c in Client(uri).store.predictions.joined(model))


@pytest.fixture
def served(tmp_path, monkeypatch):
    for key, value in {
        "TRK_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "TRK_MODEL_CACHE": str(tmp_path / "cache"),
        "TRK_MAX_PENDING_LABELS": "3",
    }.items():
        monkeypatch.setenv(key, value)
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(uri, "fb", {"champion": 0.2, "challenger": 0.05})
    server = serve_split(uri, "fb")
    yield uri, server
    server.stop()


def test_every_feedback_label_is_counted_by_its_outcome(served):
    uri, server = served
    url = server.url + "/feedback"
    assert outcomes(server.url) == dict.fromkeys(OUTCOMES, 0.0)  # present before any label
    x, y = stream(6, seed=1)
    answers = send(server.url, x, threads=1)
    wait_until(lambda: logged(uri, "fb") == 6, 30, 0.2)  # the shipper wrote the predictions
    labels = [{"request_id": a[0], "label": int(t)} for a, t in zip(answers, y, strict=True)]

    assert httpx.post(url, json=labels[:4]).status_code == 200  # joined now
    again = httpx.post(url, json=labels[:2])  # written once: the whole call is refused
    assert again.status_code == 409, again.text
    unknown = [{"request_id": f"never-{i}", "label": 1} for i in range(4)]
    assert httpx.post(url, json=unknown[:3]).json()["stored"] == 3  # pending, at the limit
    full = httpx.post(url, json=unknown[3:])
    assert full.status_code == 429, full.text
    assert outcomes(server.url) == {
        "joined": 4,
        "pending": 3,
        "duplicate": 2,
        "expired": 0,
        "refused": 1,
    }


def test_expired_pending_labels_swept_by_a_write_are_counted():
    """The store reports the pending labels a write's sweep expired; they are counted too."""
    seen: dict[str, int] = {}

    class Store:
        def write(self, items):  # noqa: ANN001, ANN202
            return LabelsWritten(joined=1, pending=0, expired=5)

    CountedLabels(Store(), lambda o, n: seen.__setitem__(o, seen.get(o, 0) + n)).write([{}])
    assert seen == {"joined": 1, "expired": 5}
