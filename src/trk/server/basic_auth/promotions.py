"""Four eyes on protected aliases: request a promotion (EDIT on the model), have another user
with MANAGE approve it (the alias moves, recorded with both) or reject it."""

from __future__ import annotations

from typing import Any

from trk import actor as acting
from trk.contracts.api import access as api
from trk.exceptions import InvalidState, PermissionDenied
from trk.server.basic_auth.users import caller
from trk.server.endpoint import Endpoint, ServerContext
from trk.store.promotions import APPROVED, PENDING, REJECTED, SqlPromotions


def _promotions(ctx: ServerContext) -> SqlPromotions:
    found: SqlPromotions = ctx.store.promotions  # type: ignore[attr-defined]
    return found


def request(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    name, alias = params["name"], params["alias"]
    version = ctx.store.get_model_version(name, params["version"]).version
    made = _promotions(ctx).request(name, alias, int(version), caller(ctx).username)
    return {"request_id": made.request_id, "promotion_request": made.to_json()}


def approve(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    """Move the alias as the requester, approved by the caller, then close the request."""
    promotions, me = _promotions(ctx), caller(ctx).username
    found = promotions.get(params["name"], params["request_id"])
    if found.requested_by == me:
        raise PermissionDenied(
            f"Permission denied: {me!r} requested promotion {found.request_id} and cannot "
            "approve it; another user with MANAGE on the model must (four eyes)"
        )
    if found.state != PENDING:
        raise InvalidState(f"Promotion request {found.request_id} is already {found.state}")
    who = acting.Actor(found.requested_by, approver=me, request_id=found.request_id)
    with acting.acting_as(who):
        ctx.store.set_registered_model_alias(found.name, found.alias, found.version)
    decided = promotions.decide(found.name, found.request_id, me, APPROVED)
    return {"promotion_request": decided.to_json()}


def reject(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    decided = _promotions(ctx).decide(
        params["name"], params["request_id"], caller(ctx).username, REJECTED
    )
    return {"promotion_request": decided.to_json()}


def list_requests(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    found = _promotions(ctx).requests(params["name"], bool(params.get("pending_only")))
    return {"promotion_requests": [r.to_json() for r in found]}


def history(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    moves = _promotions(ctx).history(params["name"], params.get("alias"))
    return {"alias_moves": [m.to_json() for m in moves]}


ENDPOINTS = [
    Endpoint(api.REQUEST_PROMOTION, request),
    Endpoint(api.APPROVE_PROMOTION, approve),
    Endpoint(api.REJECT_PROMOTION, reject),
    Endpoint(api.LIST_PROMOTIONS, list_requests),
    Endpoint(api.ALIAS_HISTORY, history),
]
