"""MLflow 3's webhook routes (`webhooks`), plus trk's delivery record of one webhook."""

from __future__ import annotations

from trk.contracts.api.row import Api

_ID = {"webhook_id": "str!"}
_FIELDS = {"name": "str", "description": "str", "url": "str", "secret": "str", "status": "str"}

# Each write is sent once: a resent create makes a second webhook, a resent test delivers
# twice, and update and delete are as MLflow's client sends them.
CREATE = Api(
    "POST",
    "webhooks",
    {**_FIELDS, "name": "str!", "url": "str!", "events": "obj[]!"},
    idempotent=False,
)
LIST = Api("GET", "webhooks", {"max_results": "int", "page_token": "str"})
GET = Api("GET", "webhooks/{webhook_id}", _ID)
UPDATE = Api("PATCH", "webhooks/{webhook_id}", {**_ID, **_FIELDS, "events": "obj[]"})
DELETE = Api("DELETE", "webhooks/{webhook_id}", _ID)
TEST = Api("POST", "webhooks/{webhook_id}/test", {**_ID, "event": "obj"}, idempotent=False)
DELIVERIES = Api("GET", "webhooks/{webhook_id}/deliveries", {**_ID, "max_results": "int"})
