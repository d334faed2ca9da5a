"""Webhook targets that would let a caller reach inside the network are refused (4xx)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
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
    assert receiver.origin in refused.json()["message"]  # the endpoint to allow, named
    allowed = start_trk_server("--webhook-allow-hosts", receiver.origin)
    assert _create(allowed, receiver.url).status_code == 200


def test_update_to_a_private_target_is_refused(hook_server, receiver: Receiver):
    hook = _create(hook_server, receiver.url).json()["webhook"]
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks/{hook['webhook_id']}"
    answer = httpx.patch(api, json={"url": "https://10.0.0.1/x"})
    assert answer.status_code == 400
    assert httpx.get(api).json()["webhook"]["url"] == f"{receiver.origin}/<redacted>"  # as it was


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


@pytest.mark.parametrize(
    "url",
    [
        "https://[::7f00:1]/hook",  # IPv4-compatible: 127.0.0.1
        "https://[::ffff:8.8.8.8]/hook",  # IPv4-mapped, even of a public address
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64: 169.254.169.254
        "https://[64:ff9b:1::a00:1]/hook",  # local-use NAT64: 10.0.0.1
        "https://[2002:7f00:1::]/hook",  # 6to4: 127.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
        "https://[fec0::1]/hook",  # site-local
        "https://user:s3cr3t@example.com/hook",  # userinfo: stored, shown, sent: refused
        "https://s3cr3t@example.com/hook",
    ],
)
def test_ipv4_inside_ipv6_site_local_and_userinfo_are_refused(hook_server, url: str):
    client = MlflowClient(hook_server.url)
    with pytest.raises(MlflowException) as refused:
        client.create_webhook("x", url, ["model_version.created"])
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "s3cr3t" not in refused.value.message


def test_a_public_ipv6_target_is_still_accepted(hook_server):
    hook = MlflowClient(hook_server.url).create_webhook(
        "v6", "https://[2606:4700:4700::1111]/", ["model_version.created"]
    )
    assert hook.url == "https://[2606:4700:4700::1111]/"


def test_the_allow_list_names_scheme_host_and_port(start_trk_server, receiver: Receiver):
    server = start_trk_server("--webhook-allow-hosts", receiver.origin)
    client = MlflowClient(server.url)
    client.create_webhook("ok", receiver.url, ["model_version.created"])
    port = int(receiver.origin.rsplit(":", 1)[1])
    for other in (
        f"http://127.0.0.1:{port + 1}/hook",  # another port of the allowed host
        f"https://127.0.0.1:{port}/hook",  # another scheme
        "http://127.0.0.1/hook",  # the default port
    ):
        with pytest.raises(MlflowException, match="non-public"):
            client.create_webhook("other", other, ["model_version.created"])
    # Userinfo is refused even on an allowed endpoint.
    with pytest.raises(MlflowException, match="user name or password"):
        client.create_webhook("u", f"http://me:pw@127.0.0.1:{port}/hook", ["model_version.created"])


def test_an_allow_list_entry_without_a_port_rule_stops_the_server(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trk.server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--webhook-allow-hosts",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "SCHEME://HOST[:PORT]" in done.stderr
