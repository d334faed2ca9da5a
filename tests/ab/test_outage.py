"""The tracking store unavailable while serving: no request fails, windows and the prediction
log's rows appear once it is back, and labels sent meanwhile are refused (503) rather than lost.

The store is a sqlite file in a directory that does not exist yet (every store call fails
for real, quickly); creating the directory brings it back. The served models are plain
directories, so loading them needs no store.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from ab_serving import ThreadServer, register_models, send, stream, wait_until

from trk.ab.evaluation import evaluate
from trk.serving.config import ServeSettings
from trk.serving.http.app import create_app
from trk.tracking.client import Client
from trk.uri import resolve_model_dir


def test_requests_never_fail_and_windows_arrive_after_the_outage(client, tmp_path, caplog):
    register_models(client.tracking_uri, "out", {"champion": 0.1, "challenger": 0.05})
    dirs = [resolve_model_dir(f"models:/out@{a}", client.store) for a in ("champion", "challenger")]
    down = tmp_path / "down"
    uri = f"sqlite:///{Path(down) / 'trk.db'}"
    settings = ServeSettings(
        model_uri=str(dirs[0]),
        challenger_uri=str(dirs[1]),
        mode="shadow",
        tracking_uri=uri,
        report_interval_s=0.3,
        experiment="serving/out",
        allow_pickle=True,  # the copies are bare paths: this test vouches for them
    )
    server = ThreadServer(create_app(settings)).start()
    reporter = server.app.state.serving.reporter
    plog = server.app.state.serving.shipper
    try:
        with caplog.at_level(logging.WARNING, "trk.serving.online.reporter"):
            x, _ = stream(300, seed=3)
            answers = send(server.url, x[:150])
            wait_until(lambda: reporter.pending >= 2, timeout=20)  # windows closed, not logged
            answers += send(server.url, x[150:])
            assert [a[2] for a in answers] == [200] * 300
            assert httpx.get(server.url + "/health").status_code == 200
            label = {"request_id": answers[0][0], "label": 1}
            refused = httpx.post(server.url + "/feedback", json=label)
            assert refused.status_code == 503, refused.text  # the client sends it again later
            down.mkdir()
            wait_until(lambda: reporter.pending == 0, timeout=30)
            compared = server.app.state.serving.shadow.counters()["compared"]
            wait_until(lambda: plog.written == 300 + compared, timeout=30)
            assert httpx.post(server.url + "/feedback", json=label).json()["stored"] == 1
        warned = [r for r in caplog.records if "tracking store unavailable" in r.message]
        assert len(warned) == 1
        assert any("tracking store is back" in r.message for r in caplog.records)
    finally:
        server.stop()
    report = evaluate(Client(uri), "out", experiment="serving/out", metric="error_rate")
    assert report.variant("champion").requests == 300 and report.variant("champion").errors == 0
    assert reporter.dropped_windows == 0
    assert sum(plog.dropped.values()) == 0
    # Served from plain directories: the log is keyed by the champion directory's name.
    by = {c.variant: c for c in Client(uri).store.predictions.joined(plog.model())}
    assert (by["champion"].logged, by["challenger"].logged) == (300, compared)
    assert by["champion"].labelled == 1
