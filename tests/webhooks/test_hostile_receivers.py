"""A receiver is untrusted: whatever it answers, `trk server` reads at most 1 KiB of it, never
inflates it, gives up on an attempt by its deadline, and never holds a worker for a retry.
Driven by the real `mlflow` client against a real `trk server` and real receivers."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import httpx
from mlflow import MlflowClient
from receiver import Receiver

from trk.webhooks.policy import DeliveryPolicy
from trk.webhooks.sender import KEEP_BODY, _retry_after

MiB = 1024 * 1024


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_huge_answer_is_read_1_kib_deep_and_hung_up_on(hook_server, receiver: Receiver):
    receiver.body = b"x" * (64 * MiB)
    client = MlflowClient(hook_server.url)
    hook = client.create_webhook("big", receiver.url, ["model_version.created"])
    before = _peak_rss(hook_server.proc.pid)

    result = client.test_webhook(hook.webhook_id)

    assert result.success and result.response_status == 200
    assert result.response_body == "x" * KEEP_BODY == "x" * 1024
    receiver.wait_for_write_error()  # the server closed the connection on the other 64 MiB
    grown = _peak_rss(hook_server.proc.pid) - before
    assert grown < 16 * MiB, f"the server grew by {grown / MiB:.0f} MiB for a 64 MiB answer"


def test_a_gzip_bomb_is_never_inflated(hook_server, receiver: Receiver):
    receiver.body = gzip.compress(bytes(200 * MiB), compresslevel=1)  # ~0.9 MB on the wire
    receiver.headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
    client = MlflowClient(hook_server.url)
    hook = client.create_webhook("bomb", receiver.url, ["model_version.created"])
    before = _peak_rss(hook_server.proc.pid)

    result = client.test_webhook(hook.webhook_id)

    assert result.response_status == 200
    assert len(result.response_body) <= KEEP_BODY  # one character per byte at most
    assert result.response_body.startswith("\x1f\ufffd")  # gzip's magic, as sent: not inflated
    grown = _peak_rss(hook_server.proc.pid) - before
    assert grown < 32 * MiB, f"the server grew by {grown / MiB:.0f} MiB for a 200 MiB bomb"


def test_a_drip_fed_answer_ends_at_the_attempt_deadline(hook_server, receiver: Receiver):
    # A byte every 0.25 s: about 4 minutes to send the answer, each byte well inside the 3 s
    # read timeout (FAST_RETRIES). The attempt's deadline (2 x 3 s) ends it instead.
    receiver.drip_s = 0.25
    receiver.body = b"." * 1000
    client = MlflowClient(hook_server.url)
    hook = client.create_webhook("drip", receiver.url, ["model_version.created"])

    started = time.monotonic()
    result = client.test_webhook(hook.webhook_id)
    took = time.monotonic() - started

    assert not result.success and "timed out" in result.error_message
    assert took < 60, f"test_webhook answered after {took:.0f}s"  # deadline 6 s; generous


def test_retry_after_never_holds_a_worker(hook_server, make_receiver, receiver: Receiver):
    # Five deliveries told to come back in 2 minutes, more than the four workers: were a
    # worker to wait out a backoff, the healthy webhook's event would wait a minute or more.
    busy = make_receiver(answers=[429] * 10)
    busy.headers = {"Retry-After": "120"}
    client = MlflowClient(hook_server.url)
    failing = [
        client.create_webhook(f"busy{n}", busy.url, ["model_version.created"]).webhook_id
        for n in range(5)
    ]
    client.create_webhook("healthy", receiver.url, ["model_version_alias.created"])
    client.create_registered_model("m")
    client.create_model_version("m", "s3://bucket/m/1")
    busy.wait_for(5)

    client.set_registered_model_alias("m", "champion", "1")

    assert receiver.wait_for(1, timeout=30)[0].event == "model_version_alias.created"
    for webhook_id in failing:  # each waits for its retry, none gave up
        url = f"{hook_server.url}/api/2.0/mlflow/webhooks/{webhook_id}/deliveries"
        [record] = httpx.get(url, timeout=10).json()["deliveries"]
        assert (record["status"], record["attempts"], record["response_status"]) == (
            "PENDING",
            1,
            429,
        )


def test_retry_after_is_capped_low_and_only_numbers_count():
    policy = DeliveryPolicy()
    assert policy.backoff(1, 180.0) == policy.max_retry_after_s == 30.0
    assert policy.backoff(1, 5.0) == 5.0 and policy.backoff(1, None) == 1.0
    for header in ("nan", "inf", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", ""):
        assert _retry_after(header) is None, header
    assert _retry_after("2.5") == 2.5
