"""Webhooks over a `trk server`'s REST API: the same methods as `SqlWebhooks`.

Nothing is emitted here: the server's own store fires the events, so a client of a server
never delivers (or double-delivers) anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trk.contracts.api import webhooks as api
from trk.contracts.webhooks import (
    Delivery,
    TestResult,
    Webhook,
    delivery_from_json,
    test_result_from_json,
    webhook_from_json,
)
from trk.entities import PagedList
from trk.store.rest_call import call
from trk.transport import Transport
from trk.webhooks.events import parse_event, parse_events


class RestWebhooks:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def create(
        self,
        name: str,
        url: str,
        events: Sequence[Any],
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        found = call(
            self.transport,
            api.CREATE,
            name=name,
            url=url,
            events=[e.to_json() for e in parse_events(list(events))],
            description=description,
            secret=secret,
            status=status,
        )
        return webhook_from_json(found["webhook"])

    def get(self, webhook_id: str) -> Webhook:
        return webhook_from_json(call(self.transport, api.GET, webhook_id=webhook_id)["webhook"])

    def page(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        found = call(self.transport, api.LIST, max_results=max_results, page_token=page_token)
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
        found = call(
            self.transport,
            api.UPDATE,
            webhook_id=webhook_id,
            name=name,
            description=description,
            url=url,
            events=[e.to_json() for e in parse_events(list(events))] if events else None,
            secret=secret,
            status=status,
        )
        return webhook_from_json(found["webhook"])

    def delete(self, webhook_id: str) -> None:
        call(self.transport, api.DELETE, webhook_id=webhook_id)

    def test(self, webhook_id: str, event: Any = None) -> TestResult:
        sample = parse_event(event).to_json() if event else None
        found = call(self.transport, api.TEST, webhook_id=webhook_id, event=sample)
        return test_result_from_json(found.get("result", {}))

    def deliveries(self, webhook_id: str, max_results: int = 50) -> list[Delivery]:
        found = call(self.transport, api.DELIVERIES, webhook_id=webhook_id, max_results=max_results)
        return [delivery_from_json(d) for d in found.get("deliveries", [])]
