"""Webhook targets that would let a caller reach inside the network are refused (4xx)."""

from __future__ import annotations

import httpx
import pytest
from receiver import Receiver

EVENTS = [{"entity": "MODEL_VERSION", "action": "CREATED"}]


def _create(server, url: str) -> httpx.Response:
    api = f"{server.url}/api/2.0/mlflow/webhooks"
    return httpx.post(api, json={"name": "x", "url": url, "events": EVENTS}, timeout=30)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/hook",  # a name resolving to loopback is not the allowed IP
        "http://127.0.0.2:{port}/hook",  # loopback, but not the allow-listed address
        "http://[::1]:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "https://169.254.169.254/",
        "https://10.1.2.3/hook",  # private
        "https://192.168.0.10/hook",
        "https://[::ffff:10.0.0.1]/hook",  # private, spelled as IPv6
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_non_public_targets_are_refused(hook_server, receiver: Receiver, url: str):
    port = receiver.url.split(":")[2].split("/")[0]
    answer = _create(hook_server, url.format(port=port))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_loopback_needs_the_allow_list(start_trk_server, receiver: Receiver):
    plain = start_trk_server()
    refused = _create(plain, receiver.url)
    assert refused.status_code == 400
    assert "127.0.0.1" in refused.json()["message"]
    allowed = start_trk_server("--webhook-allow-hosts", "127.0.0.1")
    assert _create(allowed, receiver.url).status_code == 200


def test_update_to_a_private_target_is_refused(hook_server, receiver: Receiver):
    hook = _create(hook_server, receiver.url).json()["webhook"]
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks/{hook['webhook_id']}"
    answer = httpx.patch(api, json={"url": "https://10.0.0.1/x"})
    assert answer.status_code == 400
    assert httpx.get(api).json()["webhook"]["url"] == receiver.url  # left as it was


def test_bad_events_and_unknown_ids_are_4xx(hook_server, receiver: Receiver):
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    bad = [{"entity": "MODEL_VERSION", "action": "EXPLODED"}]
    answer = httpx.post(api, json={"name": "x", "url": receiver.url, "events": bad})
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    answer = httpx.post(api, json={"name": "x", "url": receiver.url, "events": []})
    assert answer.status_code == 400
    missing = httpx.get(f"{api}/no-such-id")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
