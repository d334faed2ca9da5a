"""Which weight a replica takes from the store's rollout (no HTTP: the part itself, on a real
sqlite store): active rollouts rule, finished ones only for the version they were about."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from trk.contracts.rollouts import Rollout
from trk.serving.routing.split_weight import SplitWeight
from trk.store.sql import SqlStore

pytestmark = pytest.mark.unit


def _store(tmp_path) -> SqlStore:
    """A store where model m has versions 1 and 2: a rollout starts only between real versions."""
    store = SqlStore(f"sqlite:///{tmp_path / 'trk.db'}", str(tmp_path / "a"))
    for _ in range(2):
        store.create_model_version("m", str(tmp_path / "model"))
    return store


def test_the_weight_follows_the_rollout_of_the_served_versions(tmp_path):
    store = _store(tmp_path)
    served = {"champion": "1", "challenger": "2"}
    changes: list[float] = []
    split = SplitWeight(
        0.1, lambda: store.rollouts, lambda: "m", served.__getitem__, changes.append
    )
    split.refresh()
    assert (split.current, split.source) == (0.1, "flag")
    r = store.rollouts.start(
        Rollout("m", "1", "2", {"steps": [5, 100]}, "running", 0, 0.05, 0, 0, 0, 0, 0)
    )
    split.refresh()
    assert (split.current, split.source, split.state) == (0.05, "rollout", "running")
    served["challenger"] = "3"  # the alias moved under a running rollout
    split.refresh()
    assert split.current == 0.0
    served["challenger"] = "2"
    r = store.rollouts.transition(
        "m",
        r.revision,
        {"state": "promoted", "step": 1, "weight": 1.0},
        "promote",
        "all steps passed",
    )
    split.refresh()
    assert split.current == 1.0  # the champion here still serves v1
    served["champion"] = "2"
    split.refresh()
    assert split.current == 0.0  # both serve v2 now
    served["challenger"] = "4"  # a new challenger, no rollout of it: the flag again
    split.refresh()
    assert (split.current, split.source) == (0.1, "flag")
    assert changes == [0.05, 0.0, 1.0, 0.0, 0.1]


def test_a_store_that_cannot_answer_keeps_the_last_weight(tmp_path):
    store = _store(tmp_path)
    store.rollouts.start(
        Rollout("m", "1", "2", {"steps": [30, 100]}, "running", 0, 0.3, 0, 0, 0, 0, 0)
    )
    split = SplitWeight(0.1, lambda: store.rollouts, lambda: "m")
    split.refresh()
    assert split.current == 0.3
    with store._engine.begin() as conn:  # the store breaks: its reads now fail
        conn.execute(text("DROP TABLE rollouts"))
    split.refresh()
    assert (split.current, split.source) == (0.3, "rollout")
