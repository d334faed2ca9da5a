"""A real Prometheus scrapes `trk-serve --workers 2`: the request and log series it stores sum
to exactly the requests sent, though each worker folds its own records. Needs the
`prometheus` binary (Debian package `prometheus`; scripts/dev installs it)."""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import urlparse

import httpx
import pytest
from serving_helpers import stop_all, wait_until

from uvicorn_thread import free_port

pytestmark = pytest.mark.e2e  # trk-serve --workers 2 and prometheus
N = 40
PROMETHEUS = shutil.which("prometheus")


def query(prom: str, expr: str) -> float | None:
    try:
        answer = httpx.get(prom + "/api/v1/query", params={"query": expr}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    result = answer.get("data", {}).get("result") or []
    return float(result[0]["value"][1]) if result else None


@pytest.mark.skipif(PROMETHEUS is None, reason="needs the prometheus binary (apt prometheus)")
def test_a_real_scrape_sums_exactly_across_two_workers(trk_serve, tmp_path):
    proc, url = trk_serve("--model-uri", "models:/iris@champion", "--workers", "2")
    for i in range(N):  # fresh connections: the kernel spreads them over both workers
        answer = httpx.post(
            url + "/invocations",
            json={"inputs": [[5.1, 3.5, 1.4, 0.2]]},
            headers={"Connection": "close", "x-request-id": f"prom-{i}"},
        )
        assert answer.status_code == 200
    target = urlparse(url).netloc
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs: [{{job_name: trk, static_configs: [{{targets: ['{target}']}}]}}]\n"
    )
    port = free_port()
    prom = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        requests = 'sum(trk_requests_total{variant="champion",status="200"})'
        wait_until(lambda: query(base, requests) == N, timeout=60)
        wait_until(lambda: query(base, "sum(trk_prediction_log_rows_total)") == N, timeout=60)
        assert query(base, "sum(trk_request_latency_seconds_count)") == N
        assert query(base, "sum(trk_predictions_total)") == N
        assert query(base, "sum(trk_prediction_log_dropped_total)") in (None, 0.0)  # no series
    finally:
        stop_all([prom])
