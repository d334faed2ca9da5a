"""Rollout state in the SQL store (sqlite and PostgreSQL): start, compare-and-set transitions,
history, leases, the registry event each transition fires, and the state machine the store
owns (what no controller would write is refused and changes nothing)."""

from __future__ import annotations

import threading

import pytest

from trk.contracts.rollouts import Rollout
from trk.exceptions import Conflict, InvalidParameter, InvalidState, NotFound
from trk.webhooks.events import ROLLOUT_TRANSITIONED

PLAN = {"steps": [5, 50, 100], "step_interval_s": 60, "guards": ["error_rate <= champion"]}
READING = {"guard": "error_rate <= champion", "state": "pass"}


def new(model: str = "m", state: str = "running", weight: float = 0.05, **kw) -> Rollout:
    return Rollout(
        model,
        kw.get("champion", "1"),
        "2",
        kw.get("plan", PLAN),
        state,
        kw.get("step", 0),
        weight,
        0,
        0,
        0,
        0,
        0,
    )


@pytest.fixture(autouse=True)
def registered(store):
    """Model m with versions 1 and 2: a rollout names registered ones."""
    store.create_registered_model("m")
    for _ in range(2):
        store.create_model_version("m", "file:///tmp/m")


class Recorder:
    def __init__(self) -> None:
        self.seen: list = []

    def publish(self, occurrence) -> None:  # noqa: ANN001
        self.seen.append(occurrence)


def test_start_transition_history_and_event(store):
    recorder = Recorder()
    store.rollouts.listeners = (recorder,)
    with pytest.raises(NotFound):
        store.rollouts.get("m")
    r = store.rollouts.start(new())
    assert (r.state, r.weight, r.revision, r.plan) == ("running", 0.05, 1, PLAN)
    r = store.rollouts.transition(
        "m", r.revision, {"step": 1, "weight": 0.5}, "advance", "every guard passed", [READING]
    )
    assert (r.step, r.weight, r.revision) == (1, 0.5, 2)
    assert [(t.seq, t.action, t.weight) for t in r.history] == [
        (1, "start", 0.05),
        (2, "advance", 0.5),
    ]
    assert r.history[1].guards == [READING]
    assert [o.event for o in recorder.seen] == [ROLLOUT_TRANSITIONED] * 2
    assert recorder.seen[1].data["name"] == "m" and recorder.seen[1].data["weight"] == 0.5
    with pytest.raises(InvalidState):  # one active rollout per model
        store.rollouts.start(new())
    assert [x.model for x in store.rollouts.search()] == ["m"]
    store.rollouts.transition("m", 2, {"state": "aborted", "weight": 0.0}, "abort", "by hand")
    assert store.rollouts.search() == []
    assert store.rollouts.start(new()).revision == 1  # a finished one is replaced


def test_a_stale_revision_writes_nothing(store):
    r = store.rollouts.start(new("m"))
    store.rollouts.transition("m", r.revision, {"step": 1, "weight": 0.5}, "advance", "first")
    with pytest.raises(Conflict):
        store.rollouts.transition(
            "m",
            r.revision,
            {"state": "rolled_back", "weight": 0.0, "failures": 1},
            "rollback",
            "stale",
        )
    after = store.rollouts.get("m")
    assert (after.weight, len(after.history)) == (0.5, 2)


def test_concurrent_transitions_one_wins(store):
    r = store.rollouts.start(new("m"))
    results: list[str] = []

    def act(n: int) -> None:
        try:
            store.rollouts.transition(
                "m", r.revision, {"step": 1, "weight": 0.5}, "advance", f"c{n}"
            )
            results.append("won")
        except Conflict:
            results.append("lost")

    threads = [threading.Thread(target=act, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 5 + ["won"]
    assert len(store.rollouts.get("m").history) == 2


def test_leases_exclude_until_released_or_expired(store):
    store.rollouts.start(new("m"))
    assert store.rollouts.lease("m", "a", 60_000)
    assert not store.rollouts.lease("m", "b", 60_000)
    assert store.rollouts.lease("m", "a", 60_000)  # renewing
    store.rollouts.release("m", "a")
    assert store.rollouts.lease("m", "b", 1)
    import time

    time.sleep(0.01)
    assert store.rollouts.lease("m", "a", 60_000)  # b's lease expired


@pytest.mark.parametrize(
    "changes",
    [
        {"weight": 1.5},
        {"weight": "x"},
        {"state": "flying"},
        {"plan": {}},
        {"step": -2},
        {"failures": True},
        {"step": 1, "weight": 0.5, "state": "flying"},
    ],
)
def test_bad_changes_are_refused_and_write_nothing(store, changes):
    r = store.rollouts.start(new("m"))
    with pytest.raises(InvalidParameter):
        store.rollouts.transition("m", r.revision, changes, "advance", "x")
    assert store.rollouts.get("m").revision == r.revision


@pytest.mark.parametrize(
    "changes, action, guards",
    [
        ({"state": "running", "step": 99, "weight": 1.0}, "advance", []),  # outside the plan
        ({"step": 2, "weight": 1.0}, "advance", []),  # skips a step
        ({"step": 1, "weight": 0.9}, "advance", []),  # a weight the plan does not give
        ({"state": "promoted", "weight": 1.0}, "promote", []),  # promoted before the last step
        ({"state": "promoted", "weight": 1.0, "step": 2}, "approve", []),  # nothing to approve
        ({"state": "running"}, "resume", []),  # not paused
        ({"step": 1, "weight": 0.5}, "advance", [{"guard": "forged", "state": "pass"}]),
        ({"step": 1, "weight": 0.5}, "advance", [{"guard": "", "state": "pass"}]),
        ({"state": "paused"}, "pause", [READING]),  # a person's action carries no readings
        ({"weight": 0.7}, "rebalance", []),  # not a bandit
        ({"failures": 9}, "hold", []),  # more failures than the plan allows
        ({"weight": 0.5}, "hold", []),
    ],
)
def test_the_store_refuses_transitions_no_controller_would_make(store, changes, action, guards):
    r = store.rollouts.start(new("m"))
    with pytest.raises((InvalidParameter, InvalidState)):
        store.rollouts.transition("m", r.revision, changes, action, "forged", guards)
    after = store.rollouts.get("m")
    assert (after.revision, after.state, after.step, after.weight) == (1, "running", 0, 0.05)


def test_the_machine_s_paths_through_approval_to_promotion_are_accepted(store):
    t = store.rollouts.transition
    r = store.rollouts.start(new("m"))
    r = t("m", r.revision, {"step": 1, "weight": 0.5}, "advance", "ok", [READING])
    r = t("m", r.revision, {"state": "awaiting_approval"}, "await_approval", "protected alias")
    r = t("m", r.revision, {"failures": 1}, "hold", "a guard failed", [READING | {"state": "fail"}])
    r = t("m", r.revision, {"state": "paused"}, "pause", "by hand")
    with pytest.raises(InvalidState):  # paused: only resume or abort
        t("m", r.revision, {"state": "promoted", "weight": 1.0, "step": 2}, "approve", "x")
    r = t("m", r.revision, {"state": "running"}, "resume", "by hand")
    r = t("m", r.revision, {"state": "awaiting_approval"}, "await_approval", "again")
    r = t(
        "m",
        r.revision,
        {"state": "promoted", "weight": 1.0, "step": 2, "failures": 0},
        "approve",
        "approved",
    )
    r = t("m", r.revision, {}, "aliases_moved", "champion moved")
    assert [h.action for h in r.history][-2:] == ["approve", "aliases_moved"]
    with pytest.raises(InvalidState):  # nothing else leaves a terminal state
        t("m", r.revision, {"state": "running", "weight": 0.05, "step": 0}, "resume", "x")


@pytest.mark.parametrize(
    "rollout, error",
    [
        (new("nope"), NotFound),  # no such registered model
        (new("m", champion="7"), NotFound),  # no such version
        (new("m", champion="2"), InvalidParameter),  # the same version twice
        (new("m", plan={"steps": ["x"]}), InvalidParameter),  # not a plan the CLI would build
        (new("m", plan={"steps": [5, 100], "guards": [""]}), InvalidParameter),
        (new("m", step=1, weight=1.0), InvalidParameter),  # not where its plan starts
        (new("m", weight=0.5), InvalidParameter),  # not the first step's weight
        (new("m", state="shadow", step=-1, weight=0.0), InvalidParameter),  # no shadow_for
    ],
)
def test_a_start_must_follow_its_plan_and_name_registered_versions(store, rollout, error):
    with pytest.raises(error):
        store.rollouts.start(rollout)
    with pytest.raises(NotFound):
        store.rollouts.get(rollout.model)
