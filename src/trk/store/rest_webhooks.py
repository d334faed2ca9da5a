"""Webhooks over a `trk server`'s REST API: the same methods as `SqlWebhooks`.

Nothing is emitted here: the server's own store fires the events, so a client of a server
never delivers (or double-delivers) anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from trk.contracts.webhooks import (
    Delivery,
    TestResult,
    Webhook,
    delivery_from_json,
    test_result_from_json,
    webhook_from_json,
)
from trk.entities import PagedList
from trk.transport import Transport
from trk.webhooks.events import parse_event, parse_events

API = "/api/2.0/mlflow/webhooks"


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class RestWebhooks:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _path(self, webhook_id: str, tail: str = "") -> str:
        return f"{API}/{quote(webhook_id, safe='')}{tail}"

    def create(
        self,
        name: str,
        url: str,
        events: Sequence[Any],
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        body = {
            "name": name,
            "url": url,
            "events": [e.to_json() for e in parse_events(list(events))],
            "description": description,
            "secret": secret,
            "status": status,
        }
        found = self.transport.call("POST", API, json=_clean(body), idempotent=False)
        return webhook_from_json(found["webhook"])

    def get(self, webhook_id: str) -> Webhook:
        return webhook_from_json(self.transport.call("GET", self._path(webhook_id))["webhook"])

    def page(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        params = _clean({"max_results": max_results, "page_token": page_token})
        found = self.transport.call("GET", API, params=params)
        hooks = [webhook_from_json(d) for d in found.get("webhooks", [])]
        return PagedList(hooks, found.get("next_page_token") or None)

    def update(
        self,
        webhook_id: str,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[Any] | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        body = {
            "name": name,
            "description": description,
            "url": url,
            "events": [e.to_json() for e in parse_events(list(events))] if events else None,
            "secret": secret,
            "status": status,
        }
        found = self.transport.call("PATCH", self._path(webhook_id), json=_clean(body))
        return webhook_from_json(found["webhook"])

    def delete(self, webhook_id: str) -> None:
        self.transport.call("DELETE", self._path(webhook_id))

    def test(self, webhook_id: str, event: Any = None) -> TestResult:
        body = {"event": parse_event(event).to_json()} if event else {}
        path = self._path(webhook_id, "/test")
        found = self.transport.call("POST", path, json=body, idempotent=False)
        return test_result_from_json(found.get("result", {}))

    def deliveries(self, webhook_id: str, max_results: int = 50) -> list[Delivery]:
        path = self._path(webhook_id, "/deliveries")
        found = self.transport.call("GET", path, params={"max_results": max_results})
        return [delivery_from_json(d) for d in found.get("deliveries", [])]
