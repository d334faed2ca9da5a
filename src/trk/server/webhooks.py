"""MLflow 3's webhook endpoints (`/mlflow/webhooks`), plus trk's delivery record.

Shapes follow `mlflow/protos/webhooks.proto`: events as `{"entity", "action"}` enum names,
status `ACTIVE` / `DISABLED`. The secret is accepted on create and update and never answered.
`GET webhooks/{id}/deliveries` is trk's own: the recent deliveries of one webhook.
"""

from __future__ import annotations

from typing import Any

from trk.contracts.api import webhooks as api
from trk.contracts.surfaces import WebhookStore
from trk.server.endpoint import Endpoint, ServerContext


def _hooks(ctx: ServerContext) -> WebhookStore:
    return ctx.store.webhooks


def _one(webhook: Any) -> dict[str, Any]:
    return {"webhook": webhook.to_json()}


def create_webhook(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    hook = _hooks(ctx).create(
        p["name"],
        p["url"],
        p["events"],
        description=p.get("description") or None,
        secret=p.get("secret") or None,
        status=p.get("status") or None,
    )
    return _one(hook)


def list_webhooks(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = _hooks(ctx).page(p.get("max_results"), p.get("page_token") or None)
    out: dict[str, Any] = {"webhooks": [hook.to_json() for hook in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


def get_webhook(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _one(_hooks(ctx).get(p["webhook_id"]))


def update_webhook(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    # As MLflow: an empty value means "leave it as it is".
    hook = _hooks(ctx).update(
        p["webhook_id"],
        name=p.get("name") or None,
        description=p.get("description") or None,
        url=p.get("url") or None,
        events=p.get("events") or None,
        secret=p.get("secret") or None,
        status=p.get("status") or None,
    )
    return _one(hook)


def delete_webhook(ctx: ServerContext, p: dict[str, Any]) -> None:
    _hooks(ctx).delete(p["webhook_id"])


def test_webhook(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": _hooks(ctx).test(p["webhook_id"], p.get("event")).to_json()}


def list_deliveries(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = _hooks(ctx).deliveries(p["webhook_id"], max_results=p.get("max_results", 50))
    return {"deliveries": [d.to_json() for d in found]}


ENDPOINTS = [
    Endpoint(api.CREATE, create_webhook),
    Endpoint(api.LIST, list_webhooks),
    Endpoint(api.GET, get_webhook),
    Endpoint(api.UPDATE, update_webhook),
    Endpoint(api.DELETE, delete_webhook),
    Endpoint(api.TEST, test_webhook),
    Endpoint(api.DELIVERIES, list_deliveries),
]
