"""One signed POST of one event to one webhook, and what came of it.

The receiver is untrusted: of its answer trk keeps the status, the `Retry-After` header and
at most `KEEP_BODY` bytes of the body exactly as sent (never decompressed: a small gzip
answer can inflate to gigabytes), then closes the connection. An attempt ends by a deadline
of `ATTEMPT_FACTOR` times the timeout, whatever the receiver does (see `guard`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from trk.contracts.webhooks import Target
from trk.exceptions import InvalidParameter
from trk.webhooks.events import Occurrence
from trk.webhooks.guard import GuardedTransport, TargetRefused
from trk.webhooks.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from trk.webhooks.targets import AllowList, check_url, redact

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # as MLflow
KEEP_BODY = 1024  # bytes of an answer read (and shown by `test`); the rest is never read
ATTEMPT_FACTOR = 2.0  # an attempt's deadline, in timeouts: connect, send and answer in it


@dataclass(frozen=True)
class Attempt:
    """An answer (`status`) or why there was none (`error`), and whether to try again."""

    status: int | None = None
    body: str = ""
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body_for(occurrence: Occurrence, at: float) -> str:
    """The delivered JSON: MLflow's envelope around the event's data; fixed per delivery."""
    when = datetime.fromtimestamp(at, UTC).isoformat()
    event = occurrence.event
    envelope = {"entity": event.entity, "action": event.action, "timestamp": when}
    return json.dumps({**envelope, "data": occurrence.data})


class Poster:
    """POSTs through the guarded transport alone: certificates verified; no redirects, no
    proxies, no cookie jar shared between receivers, every connection's address checked, each
    attempt bounded by `ATTEMPT_FACTOR * timeout_s`. Not through `httpx.Client`, which logs
    every request's URL (a token in its path or query) at INFO."""

    def __init__(self, timeout_s: float, allow: AllowList) -> None:
        self._transport = GuardedTransport(allow, ATTEMPT_FACTOR * timeout_s)
        self._timeout = httpx.Timeout(timeout_s).as_dict()

    @contextmanager
    def post(self, url: str, content: bytes, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """The answer, its body unread; closed (with its connection) on leaving."""
        extensions = {"timeout": self._timeout}
        request = httpx.Request(
            "POST", url, content=content, headers=headers, extensions=extensions
        )
        response = self._transport.handle_request(request)
        try:
            yield response
        finally:
            response.close()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Poster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_client(timeout_s: float, allow: AllowList) -> Poster:
    """What `post` sends with; one per thread."""
    return Poster(timeout_s, allow)


def post(client: Poster, target: Target, body: str, delivery_id: str, allow: AllowList) -> Attempt:
    """POST `body` to the target, re-checking its URL first (DNS may have changed)."""
    try:
        check_url(target.url, allow)
    except InvalidParameter as exc:
        return Attempt(error=exc.message)
    timestamp = str(int(time.time()))  # signed per attempt, so a late retry is still fresh
    headers = {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if target.secret:
        headers[SIGNATURE_HEADER] = sign(target.secret, delivery_id, timestamp, body)
    try:
        with client.post(target.url, body.encode(), headers) as response:
            status = response.status_code
            retry_after = _retry_after(response.headers.get("retry-after"))
            head = _head(response)
    except TargetRefused as exc:
        return Attempt(error=exc.message)
    except httpx.TimeoutException:
        return Attempt(error="timed out", retryable=True)
    except httpx.HTTPError as exc:
        # httpx may name the URL in its message: show it the way every answer does
        message = str(exc).replace(target.url, redact(target.url))
        return Attempt(error=f"{type(exc).__name__}: {message}", retryable=True)
    return Attempt(
        status=status,
        body=head.decode("utf-8", "replace"),
        error=None if 200 <= status < 300 else f"HTTP {status}",
        retryable=status in RETRY_STATUSES,
        retry_after=retry_after,
    )


def _head(response: httpx.Response) -> bytes:
    """The first `KEEP_BODY` bytes of the body as sent (undecoded); leaving the `with`
    closes the connection on whatever the receiver still has to send. The status is the
    answer: a body cut short (the deadline, a reset) only ends what is kept of it."""
    head = b""
    try:
        for chunk in response.iter_raw():
            head += chunk[: KEEP_BODY - len(head)]
            if len(head) >= KEEP_BODY:
                break
    except httpx.HTTPError:
        pass
    return head


def _retry_after(value: str | None) -> float | None:
    """Seconds from a numeric `Retry-After` (an HTTP date or nonsense is ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None
