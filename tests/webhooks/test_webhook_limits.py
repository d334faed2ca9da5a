"""A webhook URL's path and query (where Slack-style tokens live) never leave the server, and a
server keeps at most `--max-webhooks` of them: through the real `mlflow` client."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from receiver import Receiver

TOKEN = "T0K3N-b2f1c9"
EVENTS = ["model_version.created"]


def test_path_and_query_are_redacted_in_answers_errors_and_logs(hook_server, receivers):
    receiver, gone = receivers[0], receivers[-1]
    client = MlflowClient(hook_server.url)
    secret_url = f"{receiver.url}/services/{TOKEN}?key={TOKEN}"
    hook = client.create_webhook("slack", secret_url, EVENTS)
    shown = f"{receiver.origin}/<redacted>"
    assert hook.url == shown
    assert client.get_webhook(hook.webhook_id).url == shown
    assert [h.url for h in client.list_webhooks()] == [shown]
    assert client.update_webhook(hook.webhook_id, description="d").url == shown
    assert client.test_webhook(hook.webhook_id).success  # delivered to the full URL ...
    assert receiver.wait_for(1)[0].body  # ... which the receiver got

    # The shown form cannot be written back by mistake (it is no URL).
    with pytest.raises(MlflowException, match="characters"):
        client.update_webhook(hook.webhook_id, url=shown)
    with pytest.raises(MlflowException) as refused:  # an error names the endpoint only
        client.create_webhook("x", f"https://10.0.0.1/services/{TOKEN}?k={TOKEN}", EVENTS)
    assert TOKEN not in refused.value.message and "https://10.0.0.1/<redacted>" in (
        refused.value.message
    )

    # A receiver that is gone: the failure is recorded and logged, the token is not.
    gone.__exit__()
    dead = client.create_webhook("dead", f"{gone.url}/{TOKEN}", EVENTS)
    failed = client.test_webhook(dead.webhook_id)
    assert not failed.success and TOKEN not in (failed.error_message or "")
    client.create_registered_model("m")
    client.create_model_version("m", "s3://bucket/m/1")
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    deliveries = httpx.get(f"{api}/{dead.webhook_id}/deliveries", timeout=10)
    every_answer = [httpx.get(api, timeout=10).text, deliveries.text]
    assert all(TOKEN not in text for text in every_answer)
    assert TOKEN not in hook_server.log.read_text()


def test_a_server_keeps_at_most_max_webhooks(start_trk_server, receiver: Receiver):
    server = start_trk_server("--webhook-allow-hosts", receiver.origin, "--max-webhooks", "3")
    client = MlflowClient(server.url)
    made = [client.create_webhook(f"h{n}", receiver.url, EVENTS) for n in range(3)]
    with pytest.raises(MlflowException) as refused:
        client.create_webhook("h3", receiver.url, EVENTS)
    assert refused.value.error_code == "RESOURCE_LIMIT_EXCEEDED"
    assert "--max-webhooks" in refused.value.message
    assert len(client.list_webhooks()) == 3  # nothing was stored
    client.delete_webhook(made[0].webhook_id)
    client.create_webhook("h3", receiver.url, EVENTS)  # room again


def test_the_default_is_100_webhooks(hook_server, receiver: Receiver):
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    events = [{"entity": "MODEL_VERSION", "action": "CREATED"}]
    with httpx.Client(timeout=30) as http:
        for n in range(100):
            made = http.post(api, json={"name": f"h{n}", "url": receiver.url, "events": events})
            assert made.status_code == 200, made.text
    with pytest.raises(MlflowException, match="RESOURCE_LIMIT_EXCEEDED"):
        MlflowClient(hook_server.url).create_webhook("h100", receiver.url, EVENTS)


def test_help_names_the_webhook_flags():
    shown = subprocess.run(
        [sys.executable, "-m", "trk.cli", "server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--max-webhooks" in shown and "TRK_MAX_WEBHOOKS" in shown
    assert "SCHEME://HOST[:PORT]" in shown
