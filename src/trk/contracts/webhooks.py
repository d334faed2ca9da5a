"""Webhook records as the API shows them: the webhook (never its secret) and its deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trk.webhooks.events import Event, parse_event
from trk.webhooks.targets import redact

ACTIVE, DISABLED = "ACTIVE", "DISABLED"
STATUSES = (ACTIVE, DISABLED)
# A delivery is PENDING until it either got a 2xx (DELIVERED) or gave up (FAILED).
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"


@dataclass
class Webhook:
    webhook_id: str
    name: str
    url: str
    events: list[Event]
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    has_secret: bool = False

    def to_json(self) -> dict[str, Any]:
        """MLflow's `Webhook` message; the secret is write-only and never part of it, and the
        URL's path and query (often a token) are redacted."""
        out: dict[str, Any] = {
            "webhook_id": self.webhook_id,
            "name": self.name,
            "url": redact(self.url),
            "events": [e.to_json() for e in self.events],
            "status": self.status,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Target:
    """What delivery needs: the webhook's id and URL, and the secret to sign with."""

    webhook_id: str
    url: str
    secret: str | None = field(default=None, repr=False)


@dataclass
class Delivery:
    """One event sent (or being sent) to one webhook."""

    delivery_id: str
    webhook_id: str
    event: str
    model_name: str | None
    status: str
    attempts: int
    creation_timestamp: int
    last_updated_timestamp: int
    response_status: int | None = None
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class TestResult:
    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def webhook_from_json(d: dict[str, Any]) -> Webhook:
    """A `Webhook` message as a trk server answers it."""
    return Webhook(
        webhook_id=d["webhook_id"],
        name=d.get("name", ""),
        url=d.get("url", ""),
        events=[parse_event(e) for e in d.get("events", [])],
        status=d.get("status", ACTIVE),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        description=d.get("description"),
    )


def delivery_from_json(d: dict[str, Any]) -> Delivery:
    fields = Delivery.__dataclass_fields__
    return Delivery(**{k: v for k, v in d.items() if k in fields})


def test_result_from_json(d: dict[str, Any]) -> TestResult:
    fields = TestResult.__dataclass_fields__
    return TestResult(**{k: v for k, v in d.items() if k in fields})
