"""Webhooks on a real `trk server`, driven by the real `mlflow` client, called back on a real
receiver: the events and their payloads, MLflow's signature, retries, never slowing a write."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.webhooks.delivery import _generate_hmac_signature
from receiver import Receiver

import trk

SECRET = "s3cr3t-never-shown"
ALL_EVENTS = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
]


def _verify_as_documented(body: str, signature: str, secret: str, delivery_id: str, ts: str):
    """The receiver check from MLflow's webhook docs, step for step."""
    if not signature.startswith("v1,"):
        return False
    content = f"{delivery_id}.{ts}.{body}"
    expected = hmac.new(secret.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    return hmac.compare_digest(signature.removeprefix("v1,"), base64.b64encode(expected).decode())


def _deliveries(server, webhook_id: str) -> list[dict]:
    url = f"{server.url}/api/2.0/mlflow/webhooks/{webhook_id}/deliveries"
    return httpx.get(url, timeout=10).json()["deliveries"]


def _wait_deliveries(server, webhook_id: str, done: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = _deliveries(server, webhook_id)
        if sum(d["status"] != "PENDING" for d in found) >= done:
            return found
        assert time.monotonic() < deadline, f"deliveries never finished: {found}"
        time.sleep(0.05)


def test_registry_changes_deliver_mlflow_events_signed(hook_server, receiver: Receiver):
    client = MlflowClient(tracking_uri=hook_server.url)
    hook = client.create_webhook("ci", receiver.url, ALL_EVENTS, secret=SECRET)
    assert [str(e) for e in hook.events] == ALL_EVENTS

    client.create_registered_model("iris", tags={"team": "ml"}, description="flowers")
    version = client.create_model_version("iris", "s3://bucket/iris/1", tags={"k": "v"})
    client.set_model_version_tag("iris", version.version, "validated", "yes")
    client.delete_model_version_tag("iris", version.version, "validated")
    client.set_registered_model_alias("iris", "champion", version.version)
    client.delete_registered_model_alias("iris", "champion")

    hits = receiver.wait_for(6)
    by_event = {hit.event: hit for hit in hits}
    assert sorted(by_event) == sorted(ALL_EVENTS)
    assert by_event["registered_model.created"].json["data"] == {
        "name": "iris",
        "tags": {"team": "ml"},
        "description": "flowers",
    }
    assert by_event["model_version.created"].json["data"] == {
        "name": "iris",
        "version": "1",
        "source": "s3://bucket/iris/1",
        "run_id": None,
        "tags": {"k": "v"},
        "description": None,
    }
    assert by_event["model_version_tag.set"].json["data"] == {
        "name": "iris",
        "version": "1",
        "key": "validated",
        "value": "yes",
    }
    assert by_event["model_version_tag.deleted"].json["data"] == {
        "name": "iris",
        "version": "1",
        "key": "validated",
    }
    # trk's extra field `actor` (who moved the alias) rides along; MLflow's receivers ignore it.
    created = dict(by_event["model_version_alias.created"].json["data"])
    deleted = dict(by_event["model_version_alias.deleted"].json["data"])
    assert created.pop("actor") and deleted.pop("actor")
    assert created == {"name": "iris", "alias": "champion", "version": "1"}
    assert deleted == {"name": "iris", "alias": "champion"}

    for hit in hits:
        h = hit.headers
        delivery_id, ts, signature = (
            h["X-MLflow-Delivery-Id"],
            h["X-MLflow-Timestamp"],
            h["X-MLflow-Signature"],
        )
        # MLflow's own signing function computes the same signature ...
        assert signature == _generate_hmac_signature(SECRET, delivery_id, ts, hit.body)
        # ... and the verification code from MLflow's docs accepts it; a wrong secret does not.
        assert _verify_as_documented(hit.body, signature, SECRET, delivery_id, ts)
        assert not _verify_as_documented(hit.body, signature, "wrong", delivery_id, ts)
        assert abs(int(ts) - time.time()) < 60
        assert hit.json["timestamp"].endswith("+00:00")
    assert len({hit.delivery_id for hit in hits}) == 6


def test_webhook_api_through_the_mlflow_client(hook_server, receiver: Receiver):
    client = MlflowClient(tracking_uri=hook_server.url)
    first = client.create_webhook(
        "deploy", receiver.url, ["model_version_alias.created"], "starts a deploy", SECRET
    )
    time.sleep(0.01)  # listed newest first, by creation time in milliseconds
    second = client.create_webhook("audit", receiver.url, ["model_version.created"])
    assert client.get_webhook(first.webhook_id).description == "starts a deploy"

    page = client.list_webhooks(max_results=1)
    assert [w.name for w in page] == ["audit"] and page.token
    rest = client.list_webhooks(max_results=1, page_token=page.token)
    assert [w.name for w in rest] == ["deploy"] and not rest.token

    updated = client.update_webhook(
        first.webhook_id,
        status="DISABLED",
        events=["model_version_alias.created", "model_version_alias.deleted"],
    )
    assert str(updated.status) == "DISABLED"
    assert [str(e) for e in updated.events] == [
        "model_version_alias.created",
        "model_version_alias.deleted",
    ]
    assert updated.description == "starts a deploy"  # untouched fields stay

    result = client.test_webhook(second.webhook_id)
    assert result.success and result.response_status == 200
    test_hit = receiver.wait_for(1)[0]
    assert test_hit.event == "model_version.created"
    assert test_hit.json["data"]["name"] == "example_model"
    result = client.test_webhook(first.webhook_id, event="model_version_alias.deleted")
    assert result.success
    hit = receiver.wait_for(2)[1]
    assert hit.event == "model_version_alias.deleted"
    assert (
        _generate_hmac_signature(
            SECRET, hit.delivery_id, hit.headers["X-MLflow-Timestamp"], hit.body
        )
        == hit.headers["X-MLflow-Signature"]
    )

    client.delete_webhook(second.webhook_id)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        client.get_webhook(second.webhook_id)
    assert [w.name for w in client.list_webhooks()] == ["deploy"]


def test_secrets_never_appear_in_api_responses(hook_server, receiver: Receiver):
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    events = [{"entity": "MODEL_VERSION", "action": "CREATED"}]
    created = httpx.post(
        api, json={"name": "s", "url": receiver.url, "events": events, "secret": SECRET}
    )
    assert created.status_code == 200, created.text
    hook_id = created.json()["webhook"]["webhook_id"]
    patched = httpx.patch(f"{api}/{hook_id}", json={"secret": SECRET + "2"})
    answers = [
        created,
        patched,
        httpx.get(api),
        httpx.get(f"{api}/{hook_id}"),
        httpx.get(f"{api}/{hook_id}/deliveries"),
        httpx.post(f"{api}/{hook_id}/test", json={}),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert SECRET not in answer.text and "secret" not in answer.text
    # The new secret is the one that signs.
    hit = receiver.wait_for(1)[0]
    assert hit.headers["X-MLflow-Signature"] == _generate_hmac_signature(
        SECRET + "2", hit.delivery_id, hit.headers["X-MLflow-Timestamp"], hit.body
    )


def test_receiver_failing_twice_gets_the_event_three_times_with_one_id(hook_server, make_receiver):
    flaky = make_receiver(answers=[500, 503])
    client = MlflowClient(tracking_uri=hook_server.url)
    hook = client.create_webhook("flaky", flaky.url, ["model_version_alias.created"])
    client.create_registered_model("m")
    client.create_model_version("m", "s3://bucket/m/1")
    client.set_registered_model_alias("m", "champion", "1")

    hits = flaky.wait_for(3)
    assert [h.event for h in hits] == ["model_version_alias.created"] * 3
    assert len({h.delivery_id for h in hits}) == 1
    assert len({h.body for h in hits}) == 1  # the same event, byte for byte
    [record] = _wait_deliveries(hook_server, hook.webhook_id, 1)
    assert record["delivery_id"] == hits[0].delivery_id
    assert record["status"] == "DELIVERED" and record["attempts"] == 3
    assert record["response_status"] == 200 and record["model_name"] == "m"
    time.sleep(0.3)
    assert len(flaky.hits) == 3  # delivered once it got its 200: no fourth call


def test_failed_delivery_is_recorded_and_shown_on_the_model_page(hook_server, make_receiver):
    down = make_receiver(answers=[503] * 10)
    client = MlflowClient(tracking_uri=hook_server.url)
    hook = client.create_webhook("down", down.url, ["model_version.created"])
    client.create_registered_model("flaky-model")
    client.create_model_version("flaky-model", "s3://bucket/x/1")

    [record] = _wait_deliveries(hook_server, hook.webhook_id, 1)
    assert record["status"] == "FAILED"
    assert record["attempts"] == 4 and len(down.hits) == 4  # 1 try + 3 retries, as MLflow
    assert record["last_error"] == "HTTP 503"
    page = httpx.get(f"{hook_server.url}/models/flaky-model", timeout=10)
    assert page.status_code == 200
    assert record["delivery_id"] in page.text and "FAILED" in page.text


def test_hanging_receiver_does_not_slow_the_alias_move(hook_server, make_receiver):
    hang_s = 6.0  # the bound below (a third of it) holds on a machine busy with other tests
    stuck = make_receiver(hang_s=hang_s)
    client = MlflowClient(tracking_uri=hook_server.url)
    client.create_webhook("stuck", stuck.url, ["model_version_alias.created"])
    client.create_registered_model("fast")
    client.create_model_version("fast", "s3://bucket/fast/1")

    started = time.monotonic()
    client.set_registered_model_alias("fast", "champion", "1")
    took = time.monotonic() - started
    hit = stuck.wait_for(1)[0]  # the delivery did start (and is now hanging) ...
    assert hit.event == "model_version_alias.created"
    # ... yet the write returned long before the receiver could have answered.
    assert took < hang_s / 3, f"alias move took {took:.2f}s with a receiver hanging {hang_s}s"
    assert client.get_model_version_by_alias("fast", "champion").version == "1"


def test_trk_client_of_a_server_does_not_fire_again(hook_server, receiver: Receiver):
    # The server's store fires; the REST client must not deliver a second copy itself.
    client = trk.Client(hook_server.url)
    hook = client.create_webhook("once", receiver.url, ["model_version_alias.created"], secret="x")
    assert client.get_webhook(hook.webhook_id).events[0].entity == "model_version_alias"
    client.create_registered_model("solo")
    client.create_model_version("solo", "s3://bucket/solo/1")
    client.set_registered_model_alias("solo", "champion", "1")
    _wait_deliveries(hook_server, hook.webhook_id, 1)
    time.sleep(0.5)
    assert [h.event for h in receiver.hits] == ["model_version_alias.created"]
    [delivery] = client.list_webhook_deliveries(hook.webhook_id)
    assert delivery.status == "DELIVERED"
    assert client.test_webhook(hook.webhook_id).success
    client.delete_webhook(hook.webhook_id)
    assert list(client.list_webhooks()) == []
