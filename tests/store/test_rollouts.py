"""Rollout state in the SQL store (sqlite and PostgreSQL): start, compare-and-set transitions,
history, leases, and the registry event each transition fires."""

from __future__ import annotations

import threading

import pytest

from trk.exceptions import Conflict, InvalidParameter, InvalidState, NotFound
from trk.store.rollout_records import Rollout
from trk.webhooks.events import ROLLOUT_TRANSITIONED

PLAN = {"steps": [5, 50, 100], "step_interval_s": 60}


def new(model: str = "m", state: str = "running", weight: float = 0.05) -> Rollout:
    return Rollout(model, "1", "2", PLAN, state, 0, weight, 0, 0, 0, 0, 0)


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
    r = store.rollouts.transition("m", r.revision, {"step": 1, "weight": 0.5}, "advance",
                                  "every guard passed", [{"guard": "error_rate", "state": "pass"}])  # fmt: skip
    assert (r.step, r.weight, r.revision) == (1, 0.5, 2)
    assert [(t.seq, t.action, t.weight) for t in r.history] == [
        (1, "start", 0.05), (2, "advance", 0.5),
    ]  # fmt: skip
    assert r.history[1].guards == [{"guard": "error_rate", "state": "pass"}]
    assert [o.event for o in recorder.seen] == [ROLLOUT_TRANSITIONED] * 2
    assert recorder.seen[1].data["name"] == "m" and recorder.seen[1].data["weight"] == 0.5
    with pytest.raises(InvalidState):  # one active rollout per model
        store.rollouts.start(new())
    assert [x.model for x in store.rollouts.search()] == ["m"]
    store.rollouts.transition("m", 2, {"state": "aborted", "weight": 0.0}, "abort", "by hand")
    assert store.rollouts.search() == []
    assert store.rollouts.start(new()).revision == 1  # a finished one is replaced


def test_a_stale_revision_writes_nothing(store):
    r = store.rollouts.start(new("c"))
    store.rollouts.transition("c", r.revision, {"weight": 0.1}, "advance", "first")
    with pytest.raises(Conflict):
        store.rollouts.transition("c", r.revision, {"weight": 0.0}, "rollback", "stale")
    after = store.rollouts.get("c")
    assert (after.weight, len(after.history)) == (0.1, 2)


def test_concurrent_transitions_one_wins(store):
    r = store.rollouts.start(new("race"))
    results: list[str] = []

    def act(n: int) -> None:
        try:
            store.rollouts.transition("race", r.revision, {"weight": 0.1}, "advance", f"c{n}")
            results.append("won")
        except Conflict:
            results.append("lost")

    threads = [threading.Thread(target=act, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 5 + ["won"]
    assert len(store.rollouts.get("race").history) == 2


def test_leases_exclude_until_released_or_expired(store):
    store.rollouts.start(new("l"))
    assert store.rollouts.lease("l", "a", 60_000)
    assert not store.rollouts.lease("l", "b", 60_000)
    assert store.rollouts.lease("l", "a", 60_000)  # renewing
    store.rollouts.release("l", "a")
    assert store.rollouts.lease("l", "b", 1)
    import time

    time.sleep(0.01)
    assert store.rollouts.lease("l", "a", 60_000)  # b's lease expired


@pytest.mark.parametrize(
    "changes",
    [{"weight": 1.5}, {"weight": "x"}, {"state": "flying"}, {"plan": {}}, {"step": -2},
     {"failures": True}],
)  # fmt: skip
def test_bad_changes_are_refused_and_write_nothing(store, changes):
    r = store.rollouts.start(new("bad"))
    with pytest.raises(InvalidParameter):
        store.rollouts.transition("bad", r.revision, changes, "advance", "x")
    assert store.rollouts.get("bad").revision == r.revision
