"""Webhooks in the SQL store: the webhooks, their events, and a record of recent deliveries.

Deliveries are a table rather than process memory because more than one process delivers
for the same database (server workers, a CLI command using the embedded store) and the
dashboard must show them all; each webhook keeps only its newest `policy.keep` records.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, select, text, update

from trk.contracts.webhooks import (
    ACTIVE,
    STATUSES,
    Delivery,
    Target,
    TestResult,
    Webhook,
)
from trk.entities import PagedList
from trk.exceptions import InvalidParameter, LimitExceeded, NotFound
from trk.store import schema as s
from trk.store.engine import read_connection, write_connection
from trk.store.search import decode_page_token, encode_page_token
from trk.store.sql_base import upsert
from trk.store.validation import check_max_results
from trk.webhooks.events import Event, example, parse_event, parse_events
from trk.webhooks.policy import DeliveryPolicy
from trk.webhooks.targets import check_url

wh, we, wd = s.webhooks, s.webhook_events, s.webhook_deliveries
_MAX_LIST = 1000


def _now() -> int:
    return int(time.time() * 1000)


def _text(name: str, value: Any, limit: int, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        need = "a non-empty string" if required else "a string"
        raise InvalidParameter(f"Webhook {name} must be {need} of at most {limit} characters")
    return value


def _status(value: Any) -> str:
    status = str(value).upper()
    if status not in STATUSES:
        raise InvalidParameter(f"Invalid webhook status {value!r}: expected ACTIVE or DISABLED")
    return status


class SqlWebhooks:
    """Webhook CRUD, `test`, and the `DeliveryLog` the dispatcher writes to."""

    def __init__(self, engine: Engine, policy: DeliveryPolicy) -> None:
        self._engine = engine
        self.policy = policy

    # -- CRUD ------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        url: str,
        events: Sequence[Any],
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        """A new webhook; the URL must pass the target checks now (and at each delivery)."""
        webhook_id = str(uuid.uuid4())
        row = {
            "webhook_id": webhook_id,
            "name": _text("name", name, 256, required=True),
            "description": _text("description", description, 1000),
            "url": check_url(url, self.policy.allow),
            "status": _status(status or ACTIVE),
            "secret": _text("secret", secret, 1000) or None,
            "creation_time": _now(),
            "last_updated_time": _now(),
        }
        parsed = parse_events(list(events))
        with write_connection(self._engine) as conn:
            self._check_room(conn)
            conn.execute(wh.insert().values(row))
            self._set_events(conn, webhook_id, parsed)
        return self.get(webhook_id)

    def get(self, webhook_id: str) -> Webhook:
        with read_connection(self._engine) as conn:
            found = self._load(conn, [self._row(conn, webhook_id)])
        return found[0]

    def page(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        """Newest first, as MLflow."""
        limit = check_max_results(max_results or 100, _MAX_LIST)
        offset = decode_page_token(page_token)
        stmt = select(wh).order_by(wh.c.creation_time.desc(), wh.c.webhook_id)
        with read_connection(self._engine) as conn:
            rows = conn.execute(stmt.offset(offset).limit(limit + 1)).all()
            found = self._load(conn, rows[:limit])
        token = encode_page_token(offset + limit) if len(rows) > limit else None
        return PagedList(found, token)

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
        """Changes the fields given (None leaves a field as it is)."""
        values: dict[str, Any] = {"last_updated_time": _now()}
        if name is not None:
            values["name"] = _text("name", name, 256, required=True)
        if description is not None:
            values["description"] = _text("description", description, 1000)
        if url is not None:
            values["url"] = check_url(url, self.policy.allow)
        if secret is not None:
            values["secret"] = _text("secret", secret, 1000) or None
        if status is not None:
            values["status"] = _status(status)
        parsed = parse_events(list(events)) if events else None
        with write_connection(self._engine) as conn:
            self._row(conn, webhook_id)
            conn.execute(update(wh).where(wh.c.webhook_id == webhook_id).values(values))
            if parsed:
                conn.execute(delete(we).where(we.c.webhook_id == webhook_id))
                self._set_events(conn, webhook_id, parsed)
        return self.get(webhook_id)

    def delete(self, webhook_id: str) -> None:
        """Deletes the webhook with its events and delivery records."""
        with write_connection(self._engine) as conn:
            self._row(conn, webhook_id)
            for table in (wd, we, wh):
                conn.execute(delete(table).where(table.c.webhook_id == webhook_id))

    def test(self, webhook_id: str, event: Any = None) -> TestResult:
        """Sends an example payload of `event` (default: the webhook's first) once, now."""
        hook = self.get(webhook_id)
        chosen = parse_event(event) if event else hook.events[0]
        target = self._targets(select(wh).where(wh.c.webhook_id == webhook_id))[0]
        from trk.webhooks import sender  # httpx is imported when a webhook is first sent

        body = sender.body_for(example(chosen), time.time())
        with sender.new_client(self.policy.timeout_s, self.policy.allow) as client:
            attempt = sender.post(client, target, body, str(uuid.uuid4()), self.policy.allow)
        if attempt.status is None:
            return TestResult(False, error_message=f"Failed to test webhook: {attempt.error}")
        return TestResult(attempt.status < 400, attempt.status, attempt.body)

    # -- deliveries (the dispatcher's DeliveryLog) -----------------------------------------
    def targets_for(self, event: Event) -> list[Target]:
        """Active webhooks subscribed to `event`, with the secret to sign with."""
        subscribed = select(we.c.webhook_id).where(we.c.event == str(event))
        return self._targets(
            select(wh).where(wh.c.status == ACTIVE, wh.c.webhook_id.in_(subscribed))
        )

    def record_delivery(self, d: Delivery) -> None:
        """Upserts the record, then keeps only the webhook's newest `policy.keep`."""
        d.last_updated_timestamp = _now()
        row = {
            "delivery_id": d.delivery_id,
            "webhook_id": d.webhook_id,
            "event": d.event,
            "model_name": d.model_name,
            "status": d.status,
            "attempts": d.attempts,
            "response_status": d.response_status,
            "last_error": (d.last_error or "")[:1000] or None,
            "creation_time": d.creation_timestamp,
            "last_updated_time": d.last_updated_timestamp,
        }
        changing = ["status", "attempts", "response_status", "last_error", "last_updated_time"]
        newest = (
            select(wd.c.delivery_id)
            .where(wd.c.webhook_id == d.webhook_id)
            .order_by(wd.c.creation_time.desc(), wd.c.delivery_id)
            .limit(self.policy.keep)
        )
        with write_connection(self._engine) as conn:
            if not conn.execute(
                select(wh.c.webhook_id).where(wh.c.webhook_id == d.webhook_id)
            ).first():
                return  # deleted while delivering: nothing to record against
            upsert(conn, wd, [row], ["delivery_id"], changing)
            conn.execute(
                delete(wd).where(wd.c.webhook_id == d.webhook_id, wd.c.delivery_id.not_in(newest))
            )

    def deliveries(
        self, webhook_id: str | None = None, model_name: str | None = None, max_results: int = 50
    ) -> list[Delivery]:
        """Recent deliveries, newest first, of one webhook and/or about one model."""
        stmt = select(wd).order_by(wd.c.creation_time.desc(), wd.c.delivery_id)
        if webhook_id is not None:
            self.get(webhook_id)  # NotFound for an unknown webhook
            stmt = stmt.where(wd.c.webhook_id == webhook_id)
        if model_name is not None:
            stmt = stmt.where(wd.c.model_name == model_name)
        with read_connection(self._engine) as conn:
            rows = conn.execute(stmt.limit(check_max_results(max_results, _MAX_LIST))).all()
        return [_delivery(row) for row in rows]

    # -- helpers ---------------------------------------------------------------------------
    def _check_room(self, conn: Connection) -> None:
        """Refuse a webhook past `policy.max_webhooks`: every event fans out to each one."""
        if conn.dialect.name == "postgresql":  # two creates must not both see room for one
            conn.execute(text(f"LOCK TABLE {wh.name} IN SHARE ROW EXCLUSIVE MODE"))
        count = conn.execute(select(func.count()).select_from(wh)).scalar_one()
        if count >= self.policy.max_webhooks:
            raise LimitExceeded(
                f"This server has {count} webhooks, its limit (--max-webhooks, "
                f"TRK_MAX_WEBHOOKS: {self.policy.max_webhooks}); delete one first"
            )

    def _row(self, conn: Connection, webhook_id: str) -> Row[Any]:
        row = conn.execute(select(wh).where(wh.c.webhook_id == webhook_id)).first()
        if row is None:
            raise NotFound(f"Webhook with ID {webhook_id} not found.")
        return row

    def _set_events(self, conn: Any, webhook_id: str, events: list[Event]) -> None:
        rows = [
            {"webhook_id": webhook_id, "event": str(e), "position": n} for n, e in enumerate(events)
        ]
        conn.execute(we.insert(), rows)

    def _load(self, conn: Any, rows: Sequence[Row[Any]]) -> list[Webhook]:
        ids = [row.webhook_id for row in rows]
        events: dict[str, list[Event]] = defaultdict(list)
        for row in conn.execute(select(we).where(we.c.webhook_id.in_(ids)).order_by(we.c.position)):
            events[row.webhook_id].append(parse_event(row.event))
        return [
            Webhook(
                webhook_id=row.webhook_id,
                name=row.name,
                url=row.url,
                events=events[row.webhook_id],
                status=row.status,
                creation_timestamp=row.creation_time,
                last_updated_timestamp=row.last_updated_time,
                description=row.description,
                has_secret=bool(row.secret),
            )
            for row in rows
        ]

    def _targets(self, stmt: Any) -> list[Target]:
        with read_connection(self._engine) as conn:
            rows = conn.execute(stmt).all()
        return [Target(row.webhook_id, row.url, row.secret) for row in rows]


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        delivery_id=row.delivery_id,
        webhook_id=row.webhook_id,
        event=row.event,
        model_name=row.model_name,
        status=row.status,
        attempts=row.attempts,
        creation_timestamp=row.creation_time,
        last_updated_timestamp=row.last_updated_time,
        response_status=row.response_status,
        last_error=row.last_error,
    )
