"""Issue 14, unbounded inputs against a real `trk server` process: MLflow's batch limits and
bounds on filter clauses and order_by keys answer 400 naming the limit, and write nothing;
trk's client splits a large batch so that it still logs."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hardening_helpers import store_dump
from server_helpers import ServerProcess, start_server

from trk.entities import Metric, Param
from trk.tracking.client import Client

API = "/api/2.0/mlflow/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("limits")
    proc = start_server(f"sqlite:///{root / 'store.db'}", str(root / "dest"), root / "log")
    yield proc
    proc.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def run_id(server: ServerProcess) -> str:
    got = httpx.post(server.url + API + "runs/create", json={"experiment_id": "0"})
    return got.json()["run"]["info"]["run_id"]


def _metrics(n: int) -> list[dict]:
    return [{"key": f"m{i}", "value": 1.0, "timestamp": 1, "step": 0} for i in range(n)]


def _kv(n: int, prefix: str) -> list[dict]:
    return [{"key": f"{prefix}{i}", "value": "v"} for i in range(n)]


def test_batch_limits(server, run_id):
    before = store_dump(server.backend)
    for body, limit in (
        ({"metrics": _metrics(1001)}, "at most 1000 metrics"),
        ({"params": _kv(101, "p")}, "at most 100 params"),
        ({"tags": _kv(101, "t")}, "at most 100 tags"),
        (
            {"metrics": _metrics(950), "params": _kv(30, "p"), "tags": _kv(30, "t")},
            "at most 1000 metrics, params, and tags",
        ),
    ):
        got = httpx.post(server.url + API + "runs/log-batch", json={"run_id": run_id, **body})
        assert got.status_code == 400, got.text
        assert got.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert limit in got.json()["message"]
    assert store_dump(server.backend) == before
    at_limit = {"run_id": run_id, "metrics": _metrics(1000)}
    assert httpx.post(server.url + API + "runs/log-batch", json=at_limit).status_code == 200


def test_client_splits_large_batches(server, run_id):
    metrics = [Metric("big", float(i), 1, i) for i in range(2500)]
    params = [Param(f"p{i}", "v") for i in range(150)]
    Client(server.url).log_batch(run_id, metrics, params)
    assert len(Client(server.url).get_metric_history(run_id, "big")) == 2500


def _search(server: ServerProcess, **body) -> httpx.Response:
    return httpx.post(server.url + API + "runs/search", json={"experiment_ids": ["0"], **body})


def test_filter_clauses_and_order_by_keys_are_bounded(server, run_id):
    before = store_dump(server.backend)
    for n in (51, 100, 1000):
        clauses = " and ".join(f"metrics.m{i} >= 0" for i in range(n))
        got = _search(server, filter=clauses)
        assert got.status_code == 400, (n, got.text)  # was a retryable 503 at 100
        assert "at most 50 clauses" in got.json()["message"]
    keys = [f"metrics.m{i} DESC" for i in range(21)]
    got = _search(server, order_by=keys)
    assert got.status_code == 400 and "at most 20 keys" in got.json()["message"]
    assert store_dump(server.backend) == before
    # At the limits the database answers (every clause a subquery, every key a join).
    clauses = " and ".join(f"metrics.m{i} >= 0" for i in range(50))
    found = _search(server, filter=clauses, order_by=keys[:20])
    assert found.status_code == 200, found.text
    assert [r["info"]["run_id"] for r in found.json()["runs"]] == [run_id]


def test_limits_hold_for_the_embedded_store(tmp_path: Path):
    client = Client(f"sqlite:///{tmp_path / 'e.db'}")
    run = client.create_run("0")
    from trk.exceptions import InvalidParameter

    with pytest.raises(InvalidParameter, match="at most 100 params"):
        client.store.log_batch(run.info.run_id, [], [Param(f"p{i}", "v") for i in range(101)])
