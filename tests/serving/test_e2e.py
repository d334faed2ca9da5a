"""The real `trk-serve` as a subprocess: serving a registered model, SIGTERM, --workers 2."""

from __future__ import annotations

import os
import signal
import threading

import httpx
import pytest
from serving_helpers import metric_value, post_json, wait_until

pytestmark = pytest.mark.e2e


def test_serves_the_champion_alias(trk_serve, iris_env):
    proc, url = trk_serve("--model-uri", "models:/iris@champion")
    resp = post_json(url, {"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]})
    assert resp.status_code == 200
    assert resp.json() == {"predictions": [0, 2]}
    assert resp.headers["X-Trk-Model-Version"] == "1"
    assert httpx.get(url + "/metadata").json()["alias"] == "champion"


def test_sigterm_drains_in_flight_requests_and_exits_zero(trk_serve):
    proc, url = trk_serve("--model-uri", "models:/toy@champion")
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            post_json(url, {"inputs": [[1.0, 2.0]], "params": {"sleep": 2.0}})
        )
    )
    slow.start()
    # wait until the slow request is inside the model (the predict thread is busy)
    wait_until(lambda: _in_flight(url))
    os.kill(proc.pid, signal.SIGTERM)
    slow.join(timeout=30)
    assert proc.wait(timeout=30) == 0
    assert answers and answers[0].status_code == 200
    assert answers[0].json() == {"predictions": [3.0]}


def _in_flight(url: str) -> bool:
    text = httpx.get(url + "/metrics").text
    return metric_value(text, "trk_in_flight_requests") >= 1


def test_two_workers_share_aggregated_metrics(trk_serve):
    proc, url = trk_serve("--model-uri", "models:/iris@champion", "--workers", "2")
    n = 30
    with httpx.Client() as client:  # fresh connections spread over both workers
        for _ in range(n):
            resp = httpx.post(
                url + "/invocations",
                json={"inputs": [[5.1, 3.5, 1.4, 0.2]]},
                headers={"Connection": "close"},
            )
            assert resp.status_code == 200

        # A scrape folds its own worker's records first; the other worker's are counted within
        # its fold interval (5 ms), so the sum is exact after at most a few scrapes.
        def counted() -> bool:
            text = client.get(url + "/metrics").text
            return metric_value(text, "trk_requests_total", variant="champion", status="200") == n

        wait_until(counted, timeout=10)
        text = client.get(url + "/metrics").text
    assert metric_value(text, "trk_requests_total", variant="champion", status="200") == n
    assert metric_value(text, "trk_model_info", alias="champion", version="1") == 1
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
