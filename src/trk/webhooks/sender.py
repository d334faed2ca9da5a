"""One signed POST of one event to one webhook, and what came of it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from trk.exceptions import InvalidParameter
from trk.webhooks.entities import Target
from trk.webhooks.events import Occurrence
from trk.webhooks.guard import GuardedTransport, TargetRefused
from trk.webhooks.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from trk.webhooks.targets import AllowList, check_url

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # as MLflow
_KEEP_BODY = 1000


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


def new_client(timeout_s: float, allow: AllowList) -> httpx.Client:
    """Certificates verified; no redirects, no proxies, and every connection's address checked."""
    transport = GuardedTransport(allow)
    return httpx.Client(
        timeout=timeout_s, transport=transport, follow_redirects=False, trust_env=False
    )


def post(
    client: httpx.Client, target: Target, body: str, delivery_id: str, allow: AllowList
) -> Attempt:
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
        response = client.post(target.url, content=body.encode(), headers=headers)
    except TargetRefused as exc:
        return Attempt(error=exc.message)
    except httpx.TimeoutException:
        return Attempt(error="timed out", retryable=True)
    except httpx.HTTPError as exc:
        return Attempt(error=f"{type(exc).__name__}: {exc}", retryable=True)
    status = response.status_code
    return Attempt(
        status=status,
        body=response.text[:_KEEP_BODY],
        error=None if 200 <= status < 300 else f"HTTP {status}",
        retryable=status in RETRY_STATUSES,
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
