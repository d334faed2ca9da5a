"""A promotion and the aliases it moves stay consistent (a real sqlite store, the controller in
process): an abort that wins the race leaves the champion where it was, and a failed alias
move is made by the next evaluation."""

from __future__ import annotations

import time

import pytest

from trk.ab.rollout.controller import Controller
from trk.ab.rollout.plan import build_plan
from trk.exceptions import Unavailable
from trk.tracking.client import Client


class Registry(Client):
    """The real client; `before_alias_write` / `before_alias_read` run a step of another
    actor (or an outage) at the moment the controller reaches the registry."""

    before_alias_write = None
    before_alias_read = None

    def set_registered_model_alias(self, name, alias, version):  # noqa: ANN001, ANN201
        if self.before_alias_write is not None:
            self.before_alias_write()
        return super().set_registered_model_alias(name, alias, version)

    def get_model_version_by_alias(self, name, alias):  # noqa: ANN001, ANN201
        if self.before_alias_read is not None:
            self.before_alias_read()
        return super().get_model_version_by_alias(name, alias)


@pytest.fixture
def client(tmp_path):
    c = Registry(f"sqlite:///{tmp_path / 'trk.db'}")
    c.create_registered_model("m")
    for _ in range(2):
        c.create_model_version("m", str(tmp_path))
    c.set_registered_model_alias("m", "champion", 1)
    c.set_registered_model_alias("m", "challenger", 2)
    return c


def champion(client: Client) -> str:
    return str(Client.get_model_version_by_alias(client, "m", "champion").version)


def started(client: Registry) -> Controller:
    ctl = Controller(client, "test")
    ctl.start("m", build_plan({"steps": "50,100", "step_interval": "0.05s"}))
    time.sleep(0.1)  # past the step interval: the next evaluation promotes
    return ctl


def test_an_abort_that_wins_the_race_leaves_the_champion_unmoved(client):
    ctl = started(client)

    def abort_now() -> None:  # a person aborts between the decision and its commit
        client.before_alias_read = None
        Controller(Client(client.tracking_uri), "person").command("m", "abort")

    client.before_alias_read = abort_now
    result = ctl.step("m")
    assert not result.applied and result.rollout.state == "aborted"
    assert champion(client) == "1"  # before: the aliases moved first, the abort then won
    assert [t.action for t in client.store.rollouts.get("m").history] == ["start", "abort"]


def test_an_alias_move_that_fails_is_made_by_the_next_evaluation(client):
    ctl = started(client)

    def outage() -> None:
        raise Unavailable("registry away")

    client.before_alias_write = outage
    with pytest.raises(Unavailable):
        ctl.step("m")
    assert champion(client) == "1" and client.store.rollouts.get("m").state == "running"
    client.before_alias_write = None
    again = ctl.step("m")
    assert again.applied and champion(client) == "2"
    assert [t.action for t in again.rollout.history][-2:] == ["promote", "aliases_moved"]
    assert not ctl.step("m").applied  # nothing left to do
    assert champion(client) == "2"
