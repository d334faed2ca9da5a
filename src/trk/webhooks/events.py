"""The registry events a webhook can subscribe to, and MLflow's payload for each.

An event is `entity.action` (e.g. `model_version_alias.created`). MLflow's REST API spells
it as `{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}`; receivers see the lower-case
names in the delivered body. Payload shapes follow `mlflow.webhooks.types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from trk.exceptions import InvalidParameter


@dataclass(frozen=True)
class Event:
    """One kind of registry change: `entity` and `action`, both lower case."""

    entity: str
    action: str

    def __str__(self) -> str:
        return f"{self.entity}.{self.action}"

    def to_json(self) -> dict[str, str]:
        """MLflow's REST spelling (protobuf enum names)."""
        return {"entity": self.entity.upper(), "action": self.action.upper()}


REGISTERED_MODEL_CREATED = Event("registered_model", "created")
MODEL_VERSION_CREATED = Event("model_version", "created")
MODEL_VERSION_TAG_SET = Event("model_version_tag", "set")
MODEL_VERSION_TAG_DELETED = Event("model_version_tag", "deleted")
MODEL_VERSION_ALIAS_CREATED = Event("model_version_alias", "created")
MODEL_VERSION_ALIAS_DELETED = Event("model_version_alias", "deleted")
# trk's own (not in MLflow): a progressive rollout moved (advanced, held, rolled back, ...).
ROLLOUT_TRANSITIONED = Event("rollout", "transitioned")

EVENTS = (
    REGISTERED_MODEL_CREATED,
    MODEL_VERSION_CREATED,
    MODEL_VERSION_TAG_SET,
    MODEL_VERSION_TAG_DELETED,
    MODEL_VERSION_ALIAS_CREATED,
    MODEL_VERSION_ALIAS_DELETED,
    ROLLOUT_TRANSITIONED,
)
_BY_NAME = {str(e): e for e in EVENTS}


def parse_event(value: Any) -> Event:
    """An event from `"entity.action"` or `{"entity": "ENTITY", "action": "ACTION"}`."""
    if isinstance(value, Event):
        return value
    if isinstance(value, dict) and set(value) <= {"entity", "action"}:
        value = f"{value.get('entity', '')}.{value.get('action', '')}".lower()
    event = _BY_NAME.get(value) if isinstance(value, str) else None
    if event is None:
        known = ", ".join(_BY_NAME)
        raise InvalidParameter(f"Unsupported webhook event {value!r}: expected one of {known}")
    return event


def parse_events(values: Any) -> list[Event]:
    """A non-empty list of distinct events, in the order given."""
    if not isinstance(values, list) or not values:
        raise InvalidParameter("Webhook events must be a non-empty list")
    return list(dict.fromkeys(parse_event(v) for v in values))


@dataclass(frozen=True)
class Occurrence:
    """An event that happened, with the `data` a receiver gets for it."""

    event: Event
    data: dict[str, Any]

    @property
    def model_name(self) -> str | None:
        return self.data.get("name")


class Listener(Protocol):
    """Told about each registry change after it was committed; must return at once."""

    def publish(self, occurrence: Occurrence) -> None: ...


def model_created(name: str, tags: dict[str, str], description: str | None) -> Occurrence:
    data = {"name": name, "tags": dict(tags), "description": description}
    return Occurrence(REGISTERED_MODEL_CREATED, data)


def version_created(version: Any) -> Occurrence:
    """From a `ModelVersion` entity."""
    data = {
        "name": version.name,
        "version": str(version.version),
        "source": version.source,
        "run_id": version.run_id or None,
        "tags": dict(version.tags or {}),
        "description": version.description or None,
    }
    return Occurrence(MODEL_VERSION_CREATED, data)


def version_tag_set(name: str, version: str | int, key: str, value: str) -> Occurrence:
    data = {"name": name, "version": str(version), "key": key, "value": str(value)}
    return Occurrence(MODEL_VERSION_TAG_SET, data)


def version_tag_deleted(name: str, version: str | int, key: str) -> Occurrence:
    return Occurrence(
        MODEL_VERSION_TAG_DELETED, {"name": name, "version": str(version), "key": key}
    )


def alias_created(
    name: str, alias: str, version: str | int, actor: str | None = None, approver: str | None = None
) -> Occurrence:
    """`actor` (and `approver`, for an approved promotion) are trk's extra fields: MLflow's
    receivers ignore fields they do not know."""
    data = {"name": name, "alias": alias, "version": str(version)}
    return Occurrence(MODEL_VERSION_ALIAS_CREATED, {**data, **_who(actor, approver)})


def alias_deleted(name: str, alias: str, actor: str | None = None) -> Occurrence:
    return Occurrence(MODEL_VERSION_ALIAS_DELETED, {"name": name, "alias": alias, **_who(actor)})


def _who(actor: str | None, approver: str | None = None) -> dict[str, str]:
    return {k: v for k, v in (("actor", actor), ("approver", approver)) if v is not None}


def rollout_transitioned(name: str, transition: dict[str, Any]) -> Occurrence:
    """`transition`: a stored transition's JSON (seq, action, states, weight, reason, guards)."""
    return Occurrence(ROLLOUT_TRANSITIONED, {"name": name, **transition})


# What `test` sends: the same shapes with example values, as MLflow's test_webhook does.
_EXAMPLES = {
    REGISTERED_MODEL_CREATED: model_created(
        "example_model", {"example_key": "example_value"}, "An example registered model"
    ).data,
    MODEL_VERSION_CREATED: {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    MODEL_VERSION_TAG_SET: version_tag_set(
        "example_model", "1", "example_key", "example_value"
    ).data,
    MODEL_VERSION_TAG_DELETED: version_tag_deleted("example_model", "1", "example_key").data,
    MODEL_VERSION_ALIAS_CREATED: alias_created("example_model", "example_alias", "1").data,
    MODEL_VERSION_ALIAS_DELETED: alias_deleted("example_model", "example_alias").data,
    ROLLOUT_TRANSITIONED: rollout_transitioned(
        "example_model",
        {
            "seq": 2,
            "timestamp_ms": 0,
            "action": "advance",
            "from_state": "running",
            "to_state": "running",
            "weight": 0.1,
            "reason": "every guard passed",
            "guards": [],
        },
    ).data,
}


def example(event: Event) -> Occurrence:
    """An example occurrence of `event`, for `test_webhook`."""
    return Occurrence(event, dict(_EXAMPLES[event]))
