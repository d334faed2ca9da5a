"""The embedded store (Python API, `trk` CLI) fires the same events, delivered from that
process; a short-lived CLI command finishes its deliveries (bounded) before it exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature
from receiver import Receiver, allow_list

import trk
from trk.store.sql import SqlStore
from trk.webhooks.policy import DeliveryPolicy
from trk.webhooks.targets import AllowList

FAST = {"TRK_WEBHOOK_BACKOFF_SECONDS": "0.1"}


@pytest.fixture(autouse=True)
def _allow_receivers(receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch) -> None:
    """This process and the `trk` commands it starts may call the pooled receivers."""
    monkeypatch.setenv("TRK_WEBHOOK_ALLOW_HOSTS", allow_list(receivers))


def _trk(uri: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trk.cli", *args, "--tracking-uri", uri],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **FAST, **(env or {})},
    )


def _champion_and_challenger(uri: str, model_dir: str) -> trk.Client:
    """`iris` v1 @champion and v2 @challenger, both of `model_dir`."""
    setup = trk.Client(uri)
    setup.create_registered_model("iris")
    for _ in (1, 2):
        setup.create_model_version("iris", model_dir)
    setup.set_registered_model_alias("iris", "champion", "1")
    setup.set_registered_model_alias("iris", "challenger", "2")
    return setup


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'embedded.db'}"


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    """A local directory to register (a local store reads a version's files)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    return str(folder)


def test_python_api_on_the_embedded_store_fires(
    uri: str, model_dir: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    client = trk.Client(uri)
    events = ["model_version.created", "model_version_alias.created"]
    hook = client.create_webhook("local", receiver.url, events, secret="k")
    client.create_registered_model("iris")
    client.create_model_version("iris", model_dir)
    client.set_registered_model_alias("iris", "champion", "1")

    hits = receiver.wait_for(2)
    assert sorted(h.event for h in hits) == sorted(events)
    for hit in hits:
        ts = hit.headers["X-MLflow-Timestamp"]
        expected = _generate_hmac_signature("k", hit.delivery_id, ts, hit.body)
        assert hit.headers["X-MLflow-Signature"] == expected
    alias = next(h for h in hits if h.event == "model_version_alias.created")
    data = dict(alias.json["data"])
    assert data.pop(
        "actor"
    )  # trk's extra field: who moved the alias (MLflow's receivers ignore it)
    assert data == {"name": "iris", "alias": "champion", "version": "1"}
    assert client.get_webhook(hook.webhook_id).name == "local"


def test_embedded_store_refuses_loopback_without_the_allow_list(tmp_path: Path, receiver):
    store = SqlStore(f"sqlite:///{tmp_path / 'strict.db'}", str(tmp_path), DeliveryPolicy())
    with pytest.raises(trk.exceptions.InvalidParameter, match="non-public"):
        store.webhooks.create("x", receiver.url, ["model_version.created"])
    allowed = DeliveryPolicy(allow=AllowList.parse(receiver.origin))
    other = SqlStore(f"sqlite:///{tmp_path / 'allowed.db'}", str(tmp_path), allowed)
    assert other.webhooks.create("x", receiver.url, ["model_version.created"]).url == receiver.url


def test_cli_promote_delivers_before_the_process_exits(uri: str, model_dir: str, make_receiver):
    # Answers 503 first: the CLI process must stay for the retry and record the outcome.
    ci = make_receiver(answers=[503], hang_s=0.5)
    setup = _champion_and_challenger(uri, model_dir)

    made = _trk(
        uri,
        "webhooks",
        "create",
        "deploy",
        ci.url,
        "--event",
        "model_version_alias.created",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    hook_id = json.loads(made.stdout)["webhook_id"]

    promoted = _trk(uri, "models", "promote", "iris")
    assert promoted.returncode == 0, promoted.stderr
    # Both alias writes of the promotion were delivered, the first one after a retry,
    # and recorded as delivered, all before `trk models promote` returned.
    got = sorted((h.json["data"]["alias"], h.json["data"]["version"]) for h in ci.hits)
    assert got == [("champion", "2"), ("previous", "1"), ("previous", "1")] or got == [
        ("champion", "2"),
        ("champion", "2"),
        ("previous", "1"),
    ]
    records = setup.list_webhook_deliveries(hook_id)
    assert sorted(r.status for r in records) == ["DELIVERED", "DELIVERED"]
    assert sorted(r.attempts for r in records) == [1, 2]


def test_cli_webhooks_commands(uri: str, receiver: Receiver, make_receiver):
    made = _trk(
        uri,
        "webhooks",
        "create",
        "ci",
        receiver.url,
        "--event",
        "model_version.created",
        "--event",
        "model_version_alias.created",
        "--json",
        env={"TRK_WEBHOOK_SECRET": "from-env"},
    )
    assert made.returncode == 0, made.stderr
    hook = json.loads(made.stdout)
    listed = _trk(uri, "webhooks", "list", "--json")
    assert listed.returncode == 0 and "from-env" not in listed.stdout + made.stdout
    assert [h["webhook_id"] for h in json.loads(listed.stdout)] == [hook["webhook_id"]]

    tested = _trk(
        uri, "webhooks", "test", hook["webhook_id"], "--event", "model_version_alias.created"
    )
    assert tested.returncode == 0, tested.stderr + tested.stdout
    hit = receiver.wait_for(1)[0]
    assert hit.event == "model_version_alias.created"
    assert hit.headers["X-MLflow-Signature"] == _generate_hmac_signature(
        "from-env", hit.delivery_id, hit.headers["X-MLflow-Timestamp"], hit.body
    )

    broken = make_receiver(answers=[500])
    other = _trk(
        uri,
        "webhooks",
        "create",
        "broken",
        broken.url,
        "--event",
        "model_version.created",
        "--json",
    )
    failed = _trk(uri, "webhooks", "test", json.loads(other.stdout)["webhook_id"])
    assert failed.returncode == 1 and "500" in failed.stdout

    refused = _trk(
        uri, "webhooks", "create", "x", "https://10.0.0.1/", "--event", "model_version.created"
    )
    assert refused.returncode == 1 and "non-public" in refused.stderr

    assert _trk(uri, "webhooks", "delete", hook["webhook_id"]).returncode == 0
    remaining = json.loads(_trk(uri, "webhooks", "list", "--json").stdout)
    assert [h["name"] for h in remaining] == ["broken"]


def test_postgresql_store_fires_and_keeps_the_record(pg_uri: str, tmp_path: Path, receiver):
    policy = DeliveryPolicy(allow=AllowList.parse(receiver.origin), backoff_s=0.1, keep=2)
    store = SqlStore(pg_uri, str(tmp_path), policy)
    hook = store.webhooks.create("pg", receiver.url, ["model_version_alias.created"])
    store.create_registered_model("m")
    store.create_model_version("m", "s3://bucket/m/1")
    for alias in ("a", "b", "c"):
        store.set_registered_model_alias("m", alias, "1")
    assert sorted(h.json["data"]["alias"] for h in receiver.wait_for(3)) == ["a", "b", "c"]
    deadline = time.monotonic() + 20
    while True:
        records = store.webhooks.deliveries(hook.webhook_id)
        if len(records) == 2 and all(r.status == "DELIVERED" for r in records):
            break  # only the newest `keep` records stay
        assert time.monotonic() < deadline, records
        time.sleep(0.05)


def test_rollout_transitions_are_delivered_as_rollout_transitioned(
    uri: str, model_dir: str, receiver: Receiver
):
    _champion_and_challenger(uri, model_dir)
    made = _trk(
        uri,
        "webhooks",
        "create",
        "rollouts",
        receiver.url,
        "--event",
        "rollout.transitioned",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    for args in (("rollout", "start", "iris", "--steps", "10,100"), ("rollout", "abort", "iris")):
        done = _trk(uri, *args)
        assert done.returncode == 0, done.stderr
    hits = receiver.wait_for(2)
    assert {h.event for h in hits} == {"rollout.transitioned"}
    assert {h.json["entity"] for h in hits} == {"rollout"}
    by = {h.json["data"]["action"]: h.json["data"] for h in hits}
    assert (by["start"]["name"], by["start"]["weight"], by["start"]["to_state"]) == (
        "iris",
        0.1,
        "running",
    )
    assert (by["abort"]["from_state"], by["abort"]["to_state"], by["abort"]["weight"]) == (
        "running",
        "aborted",
        0.0,
    )
    assert "aliases untouched" in by["abort"]["reason"]
