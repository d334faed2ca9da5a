"""Target safety below the API: the allow-list, the check made when connecting, TLS checks."""

from __future__ import annotations

import subprocess
import time

import pytest
from receiver import Receiver

from trk.contracts.webhooks import Target
from trk.exceptions import InvalidParameter
from trk.store.sql import SqlStore
from trk.webhooks import sender
from trk.webhooks.dispatcher import Dispatcher
from trk.webhooks.events import alias_created
from trk.webhooks.guard import TargetRefused
from trk.webhooks.policy import DeliveryPolicy
from trk.webhooks.targets import AllowList, check_url


def test_allow_list_names_scheme_host_and_port_exactly():
    allow = AllowList.parse(
        "http://127.0.0.1:8080, https://10.0.0.0/8:8443 https://ci.internal,http://[::1]:9000"
    )
    admitted = [
        ("127.0.0.1", 8080, "http"),
        ("10.2.3.4", 8443, "https"),
        ("CI.internal", 443, "https"),
        ("::1", 9000, "http"),
        ("[::1]", 9000, "http"),
        ("127.0.0.1", 8080, None),
    ]
    for host, port, scheme in admitted:
        assert allow.admits(host, port, scheme), (host, port, scheme)
    refused = [
        ("localhost", 8080, "http"),
        ("127.0.0.2", 8080, "http"),
        ("11.0.0.1", 8443, "https"),
        ("ci.internal.evil.com", 443, "https"),
        ("127.0.0.1", 8081, "http"),
        ("127.0.0.1", 8080, "https"),  # another port, scheme
        ("ci.internal", 80, "http"),
        ("10.2.3.4", 443, "https"),
        ("::1", 9001, "http"),
    ]
    for host, port, scheme in refused:
        assert not allow.admits(host, port, scheme), (host, port, scheme)
    for bad in (
        "127.0.0.1",
        "10.0.0.0/8",
        "ftp://x:21",
        "http://10.0.0.300/8",
        "http://x:0",
        "http://x:99999",
        "http://ci.internal/hooks",
    ):
        with pytest.raises(InvalidParameter, match="allow-list entry"):
            AllowList.parse(bad)
    # An allowed endpoint may be called on any path of it, over its own scheme only.
    allow = AllowList.parse("http://10.9.9.9:8080")
    assert check_url("http://10.9.9.9:8080/x", allow) == "http://10.9.9.9:8080/x"
    for url in ("http://10.9.9.9:8081/x", "https://10.9.9.9:8080/x", "http://10.9.9.9/x"):
        with pytest.raises(InvalidParameter, match="non-public"):
            check_url(url, allow)


def test_connect_time_check_refuses_what_the_url_check_never_saw(receiver: Receiver):
    # A client straight to a loopback name, no URL check first: refused when connecting.
    port = receiver.url.split(":")[2].split("/")[0]

    def post(client: sender.Poster, url: str) -> int:
        with client.post(url, b"{}", {}) as answer:
            return answer.status_code

    with sender.new_client(5, AllowList()) as client, pytest.raises(TargetRefused):
        post(client, f"http://localhost:{port}/hook")
    with sender.new_client(5, AllowList.parse(receiver.origin)) as client:
        assert post(client, receiver.url) == 200
        with pytest.raises(TargetRefused):  # the IP is allowed, a name for it is not
            post(client, f"http://localhost:{port}/hook")
    assert len(receiver.hits) == 1


def test_a_refused_target_is_a_failed_attempt_never_retried(receiver: Receiver):
    port = receiver.url.split(":")[2].split("/")[0]
    target = Target("id", f"http://localhost:{port}/hook", "secret")
    allow = AllowList.parse(receiver.origin)
    with sender.new_client(5, allow) as client:
        attempt = sender.post(client, target, "{}", "delivery", allow)
    assert not attempt.ok and not attempt.retryable and "non-public" in (attempt.error or "")
    assert receiver.hits == []


class _NoWebhooks:
    def targets_for(self, event):  # noqa: ANN001, ANN201
        return []

    def record_delivery(self, delivery):  # noqa: ANN001, ANN201
        raise AssertionError("nothing to record")


def test_publish_never_blocks_and_drops_beyond_the_bound():
    # No workers: the queue only fills. Publishing must still return at once.
    dispatcher = Dispatcher(_NoWebhooks(), DeliveryPolicy(queue_size=2, workers=0))
    started = time.monotonic()
    for n in range(5):
        dispatcher.publish(alias_created("m", "champion", n))
    assert time.monotonic() - started < 0.5
    assert dispatcher.dropped == 3
    assert dispatcher.flush(0.1) is False  # bounded: gives up rather than hang


def test_https_certificates_are_verified(tmp_path, make_receiver):
    # A self-signed certificate for 127.0.0.1: the TLS handshake must fail, nothing is sent.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    https = make_receiver(tls=(str(cert), str(key)))
    policy = DeliveryPolicy(allow=AllowList.parse(https.origin))
    store = SqlStore(f"sqlite:///{tmp_path / 'tls.db'}", str(tmp_path), policy)
    hook = store.webhooks.create("tls", https.url, ["model_version.created"])
    result = store.webhooks.test(hook.webhook_id)
    assert not result.success and "CERTIFICATE_VERIFY_FAILED" in (result.error_message or "")
    assert https.hits == []
