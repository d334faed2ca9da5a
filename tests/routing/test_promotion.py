"""`trk models promote` / `trk models rollback` on a real sqlite registry."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from trk.cli import main
from trk.exceptions import NotFound
from trk.tracking.promotion import alias_version, promote, rollback

pytestmark = pytest.mark.unit


def aliases(client, name: str) -> dict[str, str]:
    return dict(client.get_registered_model(name).aliases)


def test_promote_then_rollback_round_trip(routing_env):
    client = routing_env.client()
    name = routing_env.new_model("lr", "rf", "lr", aliases={"champion": 1, "challenger": 2})
    move = promote(client, name)
    assert move.moved and (move.champion_before, move.champion_after) == ("1", "2")
    assert aliases(client, name) == {"champion": "2", "challenger": "2", "previous": "1"}
    assert not promote(client, name).moved  # already the champion: nothing written
    move = rollback(client, name)
    assert (move.champion_before, move.champion_after, move.previous_after) == ("2", "1", "2")
    assert aliases(client, name) == {"champion": "1", "challenger": "2", "previous": "2"}
    rollback(client, name)  # a second rollback undoes the first
    assert aliases(client, name)["champion"] == "2"


def test_promote_without_champion_and_missing_aliases(routing_env):
    client = routing_env.client()
    name = routing_env.new_model("lr", "rf", aliases={"challenger": 2})
    assert promote(client, name).champion_after == "2"
    assert "previous" not in aliases(client, name)
    bare = routing_env.new_model("lr")
    with pytest.raises(NotFound, match="no 'challenger' alias: nothing to promote"):
        promote(client, bare)
    with pytest.raises(NotFound, match="no 'previous' alias: nothing to roll back to"):
        rollback(client, bare)
    with pytest.raises(NotFound):
        promote(client, "no-such-model")
    assert alias_version(client, bare, "champion") is None


def test_cli_commands(routing_env):
    client = routing_env.client()
    name = routing_env.new_model("lr", "rf", aliases={"champion": 1, "challenger": 2})
    uri = ["--tracking-uri", routing_env.tracking_uri]
    runner = CliRunner()
    out = runner.invoke(main, ["models", "promote", name, *uri])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == f"{name}@champion: v1 -> v2 (previous -> v1)"
    out = runner.invoke(main, ["models", "rollback", name, *uri, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["champion_after"] == "1"
    assert aliases(client, name)["champion"] == "1"
    out = runner.invoke(main, ["models", "rollback", "nothing-here", *uri])
    assert out.exit_code == 1
    assert out.output.count("\n") == 1 and "trk: error:" in out.output
