"""trk's own endpoints for progressive rollouts (not in MLflow): read, start, transition, lease.

Transitions are compare-and-set on the revision the caller read, so controllers talking to
any `trk server` replica never both move a rollout; a lost race answers 409 ABORTED. Every
body is checked in full before anything is written.
"""

from __future__ import annotations

from typing import Any

from trk.contracts.api import rollouts as api
from trk.contracts.rollouts import parse_new, parse_transition
from trk.contracts.surfaces import RolloutStore
from trk.server.endpoint import Endpoint, ServerContext

MAX_LEASE_MS = 3_600_000


def _rollouts(ctx: ServerContext) -> RolloutStore:
    return ctx.store.rollouts


def get(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"rollout": _rollouts(ctx).get(p["model"]).to_json()}


def list_rollouts(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = _rollouts(ctx).search(active_only=p.get("active_only", True))
    return {"rollouts": [r.to_json() for r in found]}


def start(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    rollout = parse_new(p["rollout"])
    return {"rollout": _rollouts(ctx).start(rollout, p.get("reason") or "started").to_json()}


def transition(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    step = parse_transition(p["transition"])
    found = _rollouts(ctx).transition(p["model"], p["revision"], p["changes"], **step)
    return {"rollout": found.to_json()}


def lease(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    ttl = min(max(p["ttl_ms"], 1), MAX_LEASE_MS)
    return {"acquired": _rollouts(ctx).lease(p["model"], p["owner"], ttl)}


def release(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    _rollouts(ctx).release(p["model"], p["owner"])
    return {}


ENDPOINTS = [
    Endpoint(api.GET, get),
    Endpoint(api.LIST, list_rollouts),
    Endpoint(api.START, start),
    Endpoint(api.TRANSITION, transition),
    Endpoint(api.LEASE, lease),
    Endpoint(api.RELEASE, release),
]
