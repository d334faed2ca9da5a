"""Rollout state through a real `trk server`: the REST store reads and writes it, a stale
revision comes back as Conflict (409), bad bodies are refused whole (4xx, nothing written), and
the server's state machine refuses forged transitions and starts."""

from __future__ import annotations

import httpx
import pytest

from trk.contracts.rollouts import Rollout
from trk.exceptions import AlreadyExists, Conflict, NotFound
from trk.store.rest import RestStore

API = "/api/2.0/mlflow/trk/rollouts/"
PLAN = {"steps": [5, 100]}
GUARDED = {"steps": [5, 50, 100], "guards": ["error_rate <= 0.1"]}


@pytest.fixture
def rollouts(rest_store):
    """The REST store's rollouts; models m, y, z, f registered with versions 1 and 2."""
    for name in ("m", "y", "z", "f"):
        try:
            rest_store.create_registered_model(name)
        except AlreadyExists:  # the module's server keeps them between tests
            continue
        for _ in range(2):
            rest_store.create_model_version(name, "s3://bucket/model")
    return rest_store.rollouts


def test_rollout_state_round_trips_through_the_server(rollouts):
    with pytest.raises(NotFound):
        rollouts.get("m")
    r = rollouts.start(Rollout("m", "1", "2", GUARDED, "running", 0, 0.05, 0, 0, 0, 0, 0))
    assert (r.model, r.weight, r.revision, r.plan) == ("m", 0.05, 1, GUARDED)
    g = [{"guard": "error_rate <= 0.1", "state": "pass", "value": 0.0, "threshold": 0.1}]
    r = rollouts.transition("m", 1, {"weight": 0.5, "step": 1}, "advance", "ok", g)
    assert (r.weight, r.history[-1].reason, r.history[-1].guards) == (0.5, "ok", g)
    with pytest.raises(Conflict):
        rollouts.transition(
            "m", 1, {"state": "rolled_back", "weight": 0.0, "failures": 1}, "rollback", "stale"
        )
    assert rollouts.get("m").weight == 0.5
    assert [x.model for x in rollouts.search()] == ["m"]
    assert rollouts.lease("m", "a", 10_000) and not rollouts.lease("m", "b", 10_000)
    rollouts.release("m", "a")
    assert rollouts.lease("m", "b", 10_000)


@pytest.mark.parametrize(
    "path, body",
    [
        ("start", {"rollout": {"model": "x", "champion_version": "1"}}),
        (
            "start",
            {
                "rollout": {
                    "model": "x",
                    "champion_version": "1",
                    "challenger_version": "2",
                    "plan": {"a": 1},
                    "state": "promoted",
                }
            },
        ),
        (
            "start",
            {
                "rollout": {
                    "model": "x",
                    "champion_version": "1",
                    "challenger_version": "2",
                    "plan": [],
                    "state": "running",
                }
            },
        ),
        ("start", {"rollout": "x"}),
        (
            "transition",
            {
                "model": "y",
                "revision": 1,
                "changes": {"weight": 2},
                "transition": {"action": "advance"},
            },
        ),
        (
            "transition",
            {
                "model": "y",
                "revision": 1,
                "changes": {"weight": 0.2},
                "transition": {"action": "teleport"},
            },
        ),
        (
            "transition",
            {"model": "y", "revision": "one", "changes": {}, "transition": {"action": "hold"}},
        ),
        (
            "transition",
            {
                "model": "y",
                "revision": 1,
                "changes": {},
                "transition": {"action": "hold", "guards": [{"g": 1}]},
            },
        ),
        (
            "transition",
            {
                "model": "y",
                "revision": 1,
                "changes": {},
                "transition": {
                    "action": "hold",
                    "guards": [{"guard": "x", "state": "pass", "value": "NaN"}],
                },
            },
        ),
        ("lease", {"model": "y", "owner": "", "ttl_ms": 5}),
    ],
)
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


FORGED = [  # what the issue sent over REST: each was accepted, and each broke something
    ({"state": "running", "step": 99, "weight": 1.0}, {"action": "advance"}),
    ({"state": "promoted", "weight": 1.0}, {"action": "promote"}),  # no alias would move
    (
        {"state": "running", "step": 1, "weight": 0.5},
        {"action": "approve", "guards": [{"guard": "error_rate <= 0.1", "state": "pass"}]},
    ),
    (
        {"step": 1, "weight": 0.5},
        {"action": "advance", "guards": [{"guard": "accuracy better", "state": "pass"}]},
    ),
    (
        {"step": 1, "weight": 0.5},
        {"action": "advance", "guards": [{"guard": " ", "state": "pass"}]},
    ),
]


@pytest.mark.parametrize("changes, transition", FORGED)
def test_the_server_refuses_forged_transitions(module_server, rollouts, changes, transition):
    try:
        r = rollouts.get("z")
        if r.active:
            rollouts.transition("z", r.revision, {"state": "aborted", "weight": 0.0}, "abort", "")
    except NotFound:
        pass
    r = rollouts.start(Rollout("z", "1", "2", GUARDED, "running", 0, 0.05, 0, 0, 0, 0, 0))
    body = {"model": "z", "revision": r.revision, "changes": changes, "transition": transition}
    resp = httpx.post(module_server.url + API + "transition", json=body, timeout=10)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "INVALID_STATE")
    after = rollouts.get("z")
    assert (after.revision, after.state, after.step, after.weight) == (1, "running", 0, 0.05)


@pytest.mark.parametrize(
    "rollout, code",
    [
        ({"model": "nope", "champion_version": "1", "challenger_version": "2"}, 404),
        ({"model": "f", "champion_version": "1", "challenger_version": "9"}, 404),
        (
            {
                "model": "f",
                "champion_version": "1",
                "challenger_version": "2",
                "plan": {"steps": ["x"]},
            },
            400,
        ),
        ({"model": "f", "champion_version": "1", "challenger_version": "2", "step": 99}, 400),
    ],
)
def test_a_start_needs_a_valid_plan_and_registered_versions(module_server, rollouts, rollout, code):
    body = {"rollout": {"plan": PLAN, "state": "running", "weight": 0.05, **rollout}}
    resp = httpx.post(module_server.url + API + "start", json=body, timeout=10)
    assert resp.status_code == code, resp.text
    with pytest.raises(NotFound):
        rollouts.get(rollout["model"])


def test_propensity_sums_through_the_server(module_server):
    from trk.contracts.predictions import PredictionRecord

    store = RestStore(module_server.url)
    log = store.predictions
    log.log_predictions(
        "bandit",
        [
            PredictionRecord("a", 0, "champion", "1", "1", None, 0.8, 5),
            PredictionRecord("b", 0, "challenger", "2", "1", None, 0.2, 5),
            PredictionRecord("c", 0, "challenger", "2", "0", None, 0.25, 5),
        ],
    )
    log.log_labels("bandit", [{"request_id": r, "label": 1} for r in "abc"])
    by = {p["variant"]: p for p in log.propensity("bandit")}
    assert by["challenger"]["labelled"] == 2
    assert by["challenger"]["inverse_sum"] == pytest.approx(5 + 4)
    assert by["challenger"]["correct_inverse_sum"] == pytest.approx(5)
    assert by["champion"]["correct_inverse_sum"] == pytest.approx(1.25)
    store.transport.close()
