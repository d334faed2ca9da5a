"""`/ping`, `/health`, `/version`, `/metadata` and `/metrics` on a real server."""

from __future__ import annotations

import threading

import httpx
from serving_helpers import ThreadServer, metric_value, post_json, wait_for, wait_until

from trk.serving.compose import build
from trk.serving.config import ServeSettings
from trk.serving.core.metrics import ServingMetrics
from trk.serving.http.app import create_app
from trk.tracking.client import Client


def test_ping_health_version(iris_server):
    assert httpx.get(iris_server.url + "/ping").json() == {"status": "alive"}
    health = httpx.get(iris_server.url + "/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ready"
    (champion,) = body["variants"]
    assert champion["name"] == "champion" and champion["version"] == "1"
    assert champion["state"] == "ready" and champion["loaded_at"] > 0
    assert httpx.get(iris_server.url + "/version").json()["trk"]


def test_metadata_names_the_model(iris_server):
    meta = httpx.get(iris_server.url + "/metadata").json()
    assert meta["model_uri"] == "models:/iris@champion"
    assert (meta["name"], meta["version"], meta["alias"]) == ("iris", "1", "champion")
    assert meta["flavor"] == "sklearn"
    assert "sepal length (cm)" in meta["signature"]["inputs"]
    assert [v["variant"] for v in meta["variants"]] == ["champion"]


def test_metrics_exposes_every_series(iris_server):
    post_json(iris_server.url, {"inputs": [[5.1, 3.5, 1.4, 0.2]]})
    resp = httpx.get(iris_server.url + "/metrics")
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    labels = {"variant": "champion", "model": "iris", "version": "1"}
    assert metric_value(text, "trk_requests_total", status="200", **labels) >= 1
    assert metric_value(text, "trk_request_latency_seconds_count", **labels) >= 1
    assert metric_value(text, "trk_predict_latency_seconds_count", **labels) >= 1
    assert metric_value(text, "trk_batch_size_count", **labels) >= 1
    assert metric_value(text, "trk_model_info", alias="champion", **labels) == 1
    assert metric_value(text, "trk_model_load_seconds", **labels) > 0


def test_health_is_503_while_loading_and_after_a_failed_load(serve_app, iris_env):
    gate = threading.Event()

    def slow_store():
        gate.wait(30)
        return Client(iris_env.tracking_uri).store

    settings = ServeSettings(model_uri="models:/iris@champion", tracking_uri=iris_env.tracking_uri)
    serving = build(settings, ServingMetrics(), store_factory=slow_store)
    server = ThreadServer(create_app(settings, serving=serving)).start(ready=False)
    try:
        assert httpx.get(server.url + "/ping").status_code == 200
        loading = httpx.get(server.url + "/health")
        assert loading.status_code == 503
        assert loading.json()["variants"][0]["state"] == "loading"
        resp = post_json(server.url, {"inputs": [[5.1, 3.5, 1.4, 0.2]]})
        assert resp.status_code == 503 and resp.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        gate.set()
        wait_for(server.url)
    finally:
        gate.set()
        server.stop()

    failed = serve_app(model_uri="models:/iris@no-such-alias", ready=False)
    wait_until(lambda: httpx.get(failed.url + "/health").json()["variants"][0]["state"] == "failed")
    body = httpx.get(failed.url + "/health")
    assert body.status_code == 503
    assert "no-such-alias" in body.json()["variants"][0]["error"]
