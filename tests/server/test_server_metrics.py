"""`trk server`'s `GET /metrics`: requests by route template and status with their latency,
whether the store answers, every rollout's state; summed over `--workers`."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from trk.contracts.rollouts import Rollout
from trk.server.app import create_app
from trk.store.engine import display_uri, dispose_engine, engine_for
from trk.store.sql import SqlStore
from uvicorn_thread import ThreadServer, free_port

GET_EXPERIMENT = "/api/2.0/mlflow/experiments/get"


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_requests_by_route_and_status(tmp_path):
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    app = create_app(SqlStore(uri, str(tmp_path / "a")), str(tmp_path / "a"))
    try:
        with ThreadServer(app) as server:
            for _ in range(2):
                assert httpx.get(
                    server.url + GET_EXPERIMENT, params={"experiment_id": "0"}
                ).is_success
            missing = httpx.get(server.url + GET_EXPERIMENT, params={"experiment_id": "999"})
            assert missing.status_code == 404
            assert httpx.get(f"{server.url}/no/such/{uuid.uuid4().hex}").status_code == 404
            got = scrape(server.url)
    finally:
        dispose_engine(uri)
    total = "trk_server_requests_total"
    assert sample(got, total, method="GET", route=GET_EXPERIMENT, status="200") == 2
    assert sample(got, total, method="GET", route=GET_EXPERIMENT, status="404") == 1
    # An unknown path is one bounded label, never the path itself.
    assert sample(got, total, method="GET", route="unmatched", status="404") == 1
    count = "trk_server_request_latency_seconds_count"
    assert sample(got, count, method="GET", route=GET_EXPERIMENT) == 3
    assert sample(got, "trk_server_store_up") == 1


def test_a_store_outage_shows_as_5xx_and_store_down(tmp_path):
    uri = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    store = SqlStore.__new__(SqlStore)  # a store whose database went away
    store.uri, store._engine = uri, engine_for(uri)
    store.display_uri = display_uri(store._engine)
    try:
        with ThreadServer(create_app(store, str(tmp_path))) as server:
            down = httpx.get(server.url + GET_EXPERIMENT, params={"experiment_id": "0"})
            assert down.status_code == 503
            got = scrape(server.url)  # the scrape itself still answers
    finally:
        dispose_engine(uri)
    total = "trk_server_requests_total"
    assert sample(got, total, method="GET", route=GET_EXPERIMENT, status="503") == 1
    assert sample(got, "trk_server_store_up") == 0


def test_rollout_states(tmp_path):
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    store = SqlStore(uri, str(tmp_path / "a"))
    for _ in range(2):  # a rollout starts only between versions that exist
        store.create_model_version("iris", str(tmp_path / "model"))
    plan = {"steps": [5, 50, 100], "step_interval_s": 60}
    started = store.rollouts.start(
        Rollout("iris", "1", "2", plan, "running", 0, 0.05, 0, 0, 0, 0, 0)
    )
    try:
        with ThreadServer(create_app(store, str(tmp_path / "a"))) as server:
            running = scrape(server.url)
            store.rollouts.transition(
                "iris",
                started.revision,
                {"state": "rolled_back", "weight": 0.0},
                "rollback",
                "guard",
            )
            rolled = scrape(server.url)
    finally:
        dispose_engine(uri)
    state = "trk_rollout_state"
    assert sample(running, state, model="iris", state="running") == 1
    assert sample(running, state, model="iris", state="rolled_back") == 0
    assert sample(running, "trk_rollout_weight", model="iris") == 0.05
    assert sample(rolled, state, model="iris", state="rolled_back") == 1
    assert sample(rolled, state, model="iris", state="running") == 0
    changed = sample(rolled, "trk_rollout_updated_timestamp_seconds", model="iris")
    assert changed is not None and changed >= started.updated_ms / 1000


def test_workers_are_summed(server_factory):
    server = server_factory(None, None, "--workers", "2")
    for _ in range(20):  # a new connection each time: both workers take some
        with httpx.Client() as http:
            assert http.get(server.url + GET_EXPERIMENT, params={"experiment_id": "0"}).is_success
    total = "trk_server_requests_total"
    for _ in range(3):  # whichever worker answers the scrape sums both
        got = scrape(server.url)
        assert sample(got, total, method="GET", route=GET_EXPERIMENT, status="200") == 20
