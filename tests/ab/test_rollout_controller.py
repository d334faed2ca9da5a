"""The rollout controller on a real sqlite store, as `trk rollout` subprocesses: a guard
without enough data holds, two controllers at once make each transition once, a killed one's
successor resumes from the stored state, and the by-hand commands."""

from __future__ import annotations

import json

import pytest
from ab_serving import NoisyThreshold
from rollout_helpers import Processes, register, wait_for

from trk.tracking.client import Client

TIMED = ("--steps", "5,50,100", "--step-interval", "1s")


@pytest.fixture
def env(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    variables = {"TRK_TRACKING_URI": uri, "TRK_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    for k, v in variables.items():
        monkeypatch.setenv(k, v)
    register(uri, "m", [NoisyThreshold(0.2), NoisyThreshold(0.1)])
    client = Client(uri)
    client.set_registered_model_alias("m", "champion", 1)
    client.set_registered_model_alias("m", "challenger", 2)
    procs = Processes(tmp_path, variables)
    yield client, procs
    procs.stop_all()


def cli(*args: str) -> str:
    """`trk ...` in this process (the CLI's own code, without a subprocess's start-up)."""
    from click.testing import CliRunner

    from trk.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def status(procs: Processes | None = None) -> dict:
    return json.loads(cli("rollout", "status", "m", "--json"))


def stored(client: Client) -> dict:
    """The rollout as the store holds it (in-process: polling a subprocess is slow)."""
    return client.store.rollouts.get("m").to_json()


def promoted(client: Client) -> bool:
    """Promoted, and the aliases moved after the commit (recorded as `aliases_moved`)."""
    found = stored(client)
    return found["state"] == "promoted" and found["history"][-1]["action"] == "aliases_moved"


def moves(found: dict) -> list[str]:
    return [t["action"] for t in found["history"] if t["action"] != "hold"]


def test_a_guard_without_enough_data_holds(env):
    _, procs = env
    cli(
        "rollout",
        "start",
        "m",
        "--steps",
        "5,100",
        "--step-interval",
        "1s",
        "--guard",
        "error_rate <= champion + 0.5pp",
        "--guard",
        "accuracy not-worse",
    )
    for _ in range(2):
        out = cli("rollout", "step", "m")
        assert (
            "m: hold: waiting for data: error_rate <= champion + 0.5pp, accuracy not-worse" in out
        )
    found = status(procs)
    assert (found["state"], found["weight"]) == ("running", 0.05)
    assert moves(found) == ["start"] and len(found["history"]) == 2  # one hold, written once
    assert {g["state"] for g in found["history"][-1]["guards"]} == {"inconclusive"}
    text = cli("rollout", "status", "m")
    assert "state: running  step 1 of 2  weight 5%" in text and "inconclusive" in text


def test_two_controllers_at_once_make_each_transition_once(env):
    client, procs = env
    procs.run_trk("rollout", "start", "m", *TIMED)
    both = [
        procs.trk("rollout", "controller", "--interval", "0.1s", "--owner", f"c{n}")
        for n in range(2)
    ]
    wait_for(lambda: promoted(client), 60, "promotion", both[0].log)
    found = status(procs)
    assert moves(found) == ["start", "advance", "promote", "aliases_moved"]
    assert [t["seq"] for t in found["history"]] == list(range(1, len(found["history"]) + 1))
    assert str(client.get_model_version_by_alias("m", "champion").version) == "2"


def test_a_killed_controller_s_successor_resumes_from_the_stored_state(env):
    client, procs = env
    procs.run_trk("rollout", "start", "m", "--steps", "5,50,100", "--step-interval", "3s")
    first = procs.trk(
        "rollout", "controller", "--interval", "0.1s", "--lease", "2s", "--owner", "first"
    )
    wait_for(lambda: stored(client)["weight"] == 0.5, 60, "the first advance", first.log)
    procs.kill(first)  # SIGKILL at once (3 s before the next step is due): its lease stays
    assert stored(client)["lease_owner"] == "first"
    second = procs.trk("rollout", "controller", "--interval", "0.1s", "--owner", "second")
    wait_for(lambda: promoted(client), 60, "promotion", second.log)
    found = status(procs)
    # nothing redone, nothing skipped
    assert moves(found) == ["start", "advance", "promote", "aliases_moved"]
    # The second controller made the promotion (it logs it after the store's write).
    wait_for(lambda: "m: promote" in second.log.read_text(), 30, "its log line", second.log)
    assert str(client.get_model_version_by_alias("m", "champion").version) == "2"


def test_commands_by_hand_and_manual_approval(env):
    client, procs = env
    cli(
        "rollout",
        "start",
        "m",
        "--steps",
        "5,50,100",
        "--step-interval",
        "1s",
        "--manual-approval-at",
        "50",
    )
    cli("rollout", "pause", "m")
    assert "not evaluated (paused)" in cli("rollout", "step", "m")
    cli("rollout", "resume", "m")
    wait_for(lambda: "await_approval" in cli("rollout", "step", "m"), 30, "approval")
    cli("rollout", "approve", "m")
    assert status(procs)["weight"] == 0.5
    cli("rollout", "abort", "m")
    found = status(procs)
    assert (found["state"], found["weight"]) == ("aborted", 0.0)
    assert moves(found) == ["start", "pause", "resume", "await_approval", "approve", "abort"]
    assert str(client.get_model_version_by_alias("m", "champion").version) == "1"


def test_a_bad_stored_plan_is_one_line_and_does_not_stop_the_controller(env):
    import threading

    from click.testing import CliRunner
    from sqlalchemy import text

    from trk.ab.rollout.controller import Controller
    from trk.cli import main
    from trk.contracts.rollouts import Rollout
    from trk.exceptions import InvalidParameter

    client, _ = env
    register(client.tracking_uri, "other", [NoisyThreshold(0.2), NoisyThreshold(0.1)])
    client.set_registered_model_alias("other", "champion", 1)
    client.set_registered_model_alias("other", "challenger", 2)
    # The store refuses a plan that is not one...
    with pytest.raises(InvalidParameter):
        client.store.rollouts.start(
            Rollout("m", "1", "2", {"steps": "x"}, "running", 0, 0.05, 0, 0, 0, 0, 0)
        )
    # ...but a row written before it did (or by hand in the database) must not raise either.
    cli("rollout", "start", "m", "--steps", "50,100")
    for column, value in (("plan", '{"steps": "x"}'), ("step", 99)):
        with client.store._engine.begin() as conn:
            conn.execute(text(f"UPDATE rollouts SET {column} = :v WHERE model = 'm'"), {"v": value})
        result = CliRunner().invoke(main, ["rollout", "step", "m"])
        assert result.exit_code == 1, result.output
        assert result.output.strip().startswith("trk: error: "), result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    cli("rollout", "start", "other", "--steps", "50,100", "--step-interval", "0.1s")
    stop = threading.Event()
    ctl = Controller(client, "in-process")
    loop = threading.Thread(target=ctl.run, args=(0.05, 5.0, stop))
    loop.start()
    try:
        wait_for(lambda: client.store.rollouts.get("other").state == "promoted", 30, "promotion")
    finally:
        stop.set()
        loop.join(10)
    assert client.store.rollouts.get("m").state == "running"  # untouched, still there


def test_the_controller_works_through_a_trk_server(env, tmp_path):
    """What k8s/ runs: `trk rollout` against `trk server`, every read and write over REST."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent / "server"))
    from server_helpers import start_server

    client, procs = env
    server = start_server(client.tracking_uri, str(tmp_path / "proxied"), tmp_path / "server.log")
    try:
        procs.env = {**procs.env, "TRK_TRACKING_URI": server.url}
        procs.run_trk("rollout", "start", "m", "--steps", "50,100", "--step-interval", "1s")
        ctl = procs.trk("rollout", "controller", "--interval", "0.2s", "--owner", "rest")

        def journaled() -> bool:  # the run is written after the state: wait for both
            found = stored(client)
            run_id = found["run_id"]
            return promoted(client) and (
                run_id is not None and client.get_run(run_id).info.status == "FINISHED"
            )

        wait_for(journaled, 60, "promotion and its journal", ctl.log)
    finally:
        server.kill()
    found = stored(client)
    # 50%, then 100% is the promotion, committed first; then the aliases moved
    assert moves(found) == ["start", "promote", "aliases_moved"]
    assert str(client.get_model_version_by_alias("m", "champion").version) == "2"
    run = client.get_run(found["run_id"])  # the journal went through the server too
    assert run.data.tags["trk.rollout.state"] == "promoted"
