"""Progressive rollouts end to end, seconds per step: two real `trk-serve` replicas in split
mode on one sqlite store, traffic with labels sent to any replica, and `trk rollout` as
subprocesses (a controller, `step`, `status`).

Versions of one model: v1 the champion (80% right), v2 a better challenger (98%), v3 one that
answers 500 on 10% of requests, v4 a worse one (50% right). Each test points the aliases at
its pair, waits until both replicas serve it, and starts its own rollout.
"""

from __future__ import annotations

import json

import pytest
from ab_serving import NoisyThreshold
from rollout_helpers import Flaky, Processes, Traffic, register, serving, wait_for, weight

from trk.tracking.client import Client

pytestmark = pytest.mark.e2e

MODEL = "ro"
QUALITY = ["--guard", "accuracy not-worse", "--min-sample", "30", "--horizon", "50"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("rollout-e2e")
    uri = f"sqlite:///{root / 'trk.db'}"
    variables = {
        "TRK_TRACKING_URI": uri,
        "TRK_ARTIFACT_ROOT": str(root / "artifacts"),
        "TRK_MODEL_CACHE": str(root / "cache"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in variables.items():
            mp.setenv(k, v)
        register(
            uri, MODEL, [NoisyThreshold(0.2), NoisyThreshold(0.02), Flaky(0.1), NoisyThreshold(0.5)]
        )
        client = Client(uri)
        client.set_registered_model_alias(MODEL, "champion", 1)
        client.set_registered_model_alias(MODEL, "challenger", 2)
        procs = Processes(root, variables)
        try:
            urls = [procs.replica(MODEL) for _ in range(2)]
            for url in urls:
                wait_for(
                    lambda u=url: serving(u) == {"champion": "1", "challenger": "2"},
                    90,
                    "replica ready",
                    procs.procs[-1].log,
                )
            controller = procs.trk("rollout", "controller", "--interval", "0.3s", "--lease", "5s")
            yield client, procs, urls, controller
        finally:
            procs.stop_all()


def pair(env, champion: int, challenger: int) -> None:
    client, _, urls, _ = env
    client.set_registered_model_alias(MODEL, "champion", champion)
    client.set_registered_model_alias(MODEL, "challenger", challenger)
    want = {"champion": str(champion), "challenger": str(challenger)}
    for url in urls:
        wait_for(lambda u=url: serving(u) == want, 60, f"{url} serving {want}")


def status(env) -> dict:
    return json.loads(env[1].run_trk("rollout", "status", MODEL, "--json"))


def ended(env):
    return lambda: status(env)["state"] in ("promoted", "rolled_back", "aborted")


def test_a_good_challenger_walks_to_100_and_gets_the_alias(env):
    client, procs, urls, controller = env
    pair(env, 1, 2)
    with Traffic(urls, seed=1):
        procs.run_trk(
            "rollout",
            "start",
            MODEL,
            "--shadow-for",
            "1s",
            "--steps",
            "5,25,50,100",
            "--step-interval",
            "1s",
            "--min-requests",
            "10",
            "--guard",
            "shadow_agreement >= 0.5",
            "--guard",
            "error_rate <= champion + 0.5pp",
            "--guard",
            "p50_ms <= 20 * champion",
            *QUALITY,
        )
        wait_for(ended(env), 120, "the rollout ends", controller.log)
    found = status(env)
    # aliases_moved follows the promotion's commit (trk.ab.rollout.controller)
    moves = [t for t in found["history"] if t["action"] not in ("hold", "aliases_moved")]
    assert found["state"] == "promoted", found["history"]
    assert [t["action"] for t in moves] == ["start", "advance", "advance", "advance", "promote"]
    assert [t["weight"] for t in moves] == [0, 0.05, 0.25, 0.5, 1]
    out_of_shadow = next(t for t in found["history"] if t["action"] == "advance")
    assert (out_of_shadow["from_state"], out_of_shadow["to_state"]) == ("shadow", "running")
    (agreement,) = out_of_shadow["guards"]  # shadowing, only the shadow guard applies
    assert agreement["state"] == "pass" and 0.5 <= agreement["value"] < 1
    moved = [t for t in found["history"] if t["action"] in ("advance", "promote")]
    assert all(g["state"] == "pass" for t in moved for g in t["guards"])
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "2"
    assert str(client.get_model_version_by_alias(MODEL, "previous").version) == "1"
    run = client.get_run(found["run_id"])  # the transitions, in the serving experiment
    assert run.data.tags["trk.rollout.state"] == "promoted"
    weights = [m.value for m in client.get_metric_history(found["run_id"], "rollout_weight")]
    assert weights[0] == 0.0 and weights[-1] == 1.0


def test_a_challenger_failing_10pct_is_rolled_back_and_every_replica_drops_it(env):
    client, procs, urls, controller = env
    pair(env, 1, 3)
    with Traffic(urls, seed=2) as traffic:
        procs.run_trk(
            "rollout",
            "start",
            MODEL,
            "--steps",
            "10,50,100",
            "--step-interval",
            "10m",
            "--min-requests",
            "60",
            "--guard",
            "error_rate <= champion + 0.5pp",
            "--failure-limit",
            "2",
        )
        wait_for(ended(env), 120, "the rollback", controller.log)
        found = status(env)
        wait_for(lambda: all(weight(u) == 0.0 for u in urls), 10, "every replica at 0")
        before = dict(traffic.sent)
        wait_for(lambda: traffic.count("champion", before) >= 100, 60, "more traffic")
        assert traffic.count("challenger", before) == 0
    assert found["state"] == "rolled_back" and found["weight"] == 0.0
    assert found["step"] == 0  # at the first step: the guard had its data there
    last = found["history"][-1]
    assert last["action"] == "rollback" and "error_rate" in last["reason"]
    (guard,) = last["guards"]
    assert guard["state"] == "fail" and guard["value"] > 0.005
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"  # untouched


def test_a_less_accurate_challenger_is_rolled_back_on_the_quality_guard(env):
    client, procs, urls, controller = env
    pair(env, 1, 4)
    with Traffic(urls, seed=3):
        procs.run_trk(
            "rollout",
            "start",
            MODEL,
            "--steps",
            "20,50,100",
            "--step-interval",
            "10m",
            "--min-requests",
            "5",
            "--failure-limit",
            "1",
            *QUALITY,
        )
        wait_for(ended(env), 120, "the rollback", controller.log)
    found = status(env)
    assert found["state"] == "rolled_back"
    (guard,) = found["history"][-1]["guards"]
    assert guard["guard"] == "accuracy not-worse" and guard["state"] == "fail"
    assert guard["value"] < -0.1  # challenger - champion accuracy
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
