"""Rollout state through a real `trk server`: the REST store reads and writes it, a stale
revision comes back as Conflict (409), and bad bodies are refused whole (4xx, nothing written)."""

from __future__ import annotations

import httpx
import pytest

from trk.exceptions import Conflict, NotFound
from trk.store.rest import RestStore
from trk.store.rollout_records import Rollout

API = "/api/2.0/mlflow/trk/rollouts/"
PLAN = {"steps": [5, 100]}


@pytest.fixture
def rollouts(rest_store):
    return rest_store.rollouts


def test_rollout_state_round_trips_through_the_server(rollouts):
    with pytest.raises(NotFound):
        rollouts.get("m")
    r = rollouts.start(Rollout("m", "1", "2", PLAN, "running", 0, 0.05, 0, 0, 0, 0, 0))
    assert (r.model, r.weight, r.revision, r.plan) == ("m", 0.05, 1, PLAN)
    g = [{"guard": "error_rate <= 0.1", "state": "pass", "value": 0.0, "threshold": 0.1}]
    r = rollouts.transition("m", 1, {"weight": 1.0, "step": 1}, "advance", "ok", g)
    assert (r.weight, r.history[-1].reason, r.history[-1].guards) == (1.0, "ok", g)
    with pytest.raises(Conflict):
        rollouts.transition("m", 1, {"weight": 0.0}, "rollback", "stale")
    assert rollouts.get("m").weight == 1.0
    assert [x.model for x in rollouts.search()] == ["m"]
    assert rollouts.lease("m", "a", 10_000) and not rollouts.lease("m", "b", 10_000)
    rollouts.release("m", "a")
    assert rollouts.lease("m", "b", 10_000)


@pytest.mark.parametrize(
    "path, body",
    [
        ("start", {"rollout": {"model": "x", "champion_version": "1"}}),
        ("start", {"rollout": {"model": "x", "champion_version": "1", "challenger_version": "2",
                               "plan": {"a": 1}, "state": "promoted"}}),
        ("start", {"rollout": {"model": "x", "champion_version": "1", "challenger_version": "2",
                               "plan": [], "state": "running"}}),
        ("start", {"rollout": "x"}),
        ("transition", {"model": "y", "revision": 1, "changes": {"weight": 2},
                        "transition": {"action": "advance"}}),
        ("transition", {"model": "y", "revision": 1, "changes": {"weight": 0.2},
                        "transition": {"action": "teleport"}}),
        ("transition", {"model": "y", "revision": "one", "changes": {},
                        "transition": {"action": "hold"}}),
        ("transition", {"model": "y", "revision": 1, "changes": {},
                        "transition": {"action": "hold", "guards": [{"g": 1}]}}),
        ("transition", {"model": "y", "revision": 1, "changes": {},
                        "transition": {"action": "hold", "guards": [
                            {"guard": "x", "state": "pass", "value": "NaN"}]}}),
        ("lease", {"model": "y", "owner": "", "ttl_ms": 5}),
    ],
)  # fmt: skip
def test_bad_bodies_are_refused_and_write_nothing(module_server, rollouts, path, body):
    if path == "transition":
        try:
            rollouts.get("y")
        except NotFound:
            rollouts.start(Rollout("y", "1", "2", PLAN, "running", 0, 0.05, 0, 0, 0, 0, 0))
    before = rollouts.get("y").revision if path != "start" else None
    resp = httpx.post(module_server.url + API + path, json=body, timeout=10)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")
    if before is not None:
        assert rollouts.get("y").revision == before
    else:
        with pytest.raises(NotFound):
            rollouts.get("x")


def test_propensity_sums_through_the_server(module_server):
    from trk.store.prediction_records import PredictionRecord

    store = RestStore(module_server.url)
    log = store.predictions
    log.log_predictions("bandit", [
        PredictionRecord("a", 0, "champion", "1", "1", None, 0.8, 5),
        PredictionRecord("b", 0, "challenger", "2", "1", None, 0.2, 5),
        PredictionRecord("c", 0, "challenger", "2", "0", None, 0.25, 5),
    ])  # fmt: skip
    log.log_labels("bandit", [{"request_id": r, "label": 1} for r in "abc"])
    by = {p["variant"]: p for p in log.propensity("bandit")}
    assert by["challenger"]["labelled"] == 2
    assert by["challenger"]["inverse_sum"] == pytest.approx(5 + 4)
    assert by["challenger"]["correct_inverse_sum"] == pytest.approx(5)
    assert by["champion"]["correct_inverse_sum"] == pytest.approx(1.25)
    store.transport.close()
