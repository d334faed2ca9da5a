"""The tracking store unavailable while serving: no request fails, windows appear once it is back.

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
        model_uri=str(dirs[0]), challenger_uri=str(dirs[1]), mode="shadow",
        tracking_uri=uri, report_interval_s=0.3, experiment="serving/out",
        allow_pickle=True,  # the copies are bare paths: this test vouches for them
    )  # fmt: skip
    server = ThreadServer(create_app(settings)).start()
    reporter = server.app.state.serving.reporter
    try:
        with caplog.at_level(logging.WARNING, "trk.serving.online.reporter"):
            x, _ = stream(300, seed=3)
            answers = send(server.url, x[:150])
            wait_until(lambda: reporter.pending >= 2, timeout=20)  # windows closed, not logged
            answers += send(server.url, x[150:])
            assert [a[2] for a in answers] == [200] * 300
            assert httpx.get(server.url + "/health").status_code == 200
            down.mkdir()
            wait_until(lambda: reporter.pending == 0, timeout=30)
        warned = [r for r in caplog.records if "tracking store unavailable" in r.message]
        assert len(warned) == 1
        assert any("tracking store is back" in r.message for r in caplog.records)
    finally:
        server.stop()
    report = evaluate(Client(uri), "out", experiment="serving/out", metric="error_rate")
    assert report.variant("champion").requests == 300 and report.variant("champion").errors == 0
    assert reporter.dropped_windows == 0
