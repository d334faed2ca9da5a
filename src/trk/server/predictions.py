"""trk's own endpoints for the serving replicas' prediction log and labels (not in MLflow).

`POST trk/predictions/log` appends a batch of prediction rows from a replica that logs
through this server; `POST trk/labels/log` writes labels once (200 when all joined, 202 when
some wait for their prediction, 409 when an id is labelled already, 429 past the pending
bound); `POST trk/labels/correct` replaces labels, kept as audited corrections; the GETs
answer the joins an A/B report reads; `POST trk/predictions/prune` deletes by age. Every body
is checked in full before anything is written.
"""

from __future__ import annotations

from typing import Any

from trk import actor as acting
from trk.contracts.api import predictions as api
from trk.contracts.predictions import RECORDS_PER_CALL, check_model, parse_predictions
from trk.contracts.surfaces import PredictionLogStore
from trk.server.endpoint import Endpoint, ServerContext


def _log(ctx: ServerContext) -> PredictionLogStore:
    return ctx.store.predictions


def log_predictions(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    records = parse_predictions(p["records"], RECORDS_PER_CALL)
    return {"written": _log(ctx).log_predictions(check_model(p["model"]), records)}


def log_labels(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _log(ctx).log_labels(check_model(p["model"]), p["labels"]).to_json()
    return out


def _accepted_if_pending(out: dict[str, Any]) -> int:
    return 202 if out.get("pending") else 200


def correct_labels(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    # Who the server signed in (basic auth); else the caller's own word, marked as claimed.
    who = acting.current()
    actor = who.name if who is not None else f"claimed:{p.get('actor') or 'unknown'}"
    return {"corrected": _log(ctx).correct_labels(check_model(p["model"]), p["labels"], actor)}


def joined(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = _log(ctx).joined(p["model"], p.get("since_ms"))
    return {"joined": [c.to_json() for c in found]}


def paired(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = _log(ctx).paired(p["model"], p.get("since_ms"))
    return {"paired": [c.to_json() for c in found]}


def outcomes(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    args = {"limit": p["limit"]} if "limit" in p else {}
    found = _log(ctx).outcomes(p["model"], p.get("since_ms"), **args)
    return {"outcomes": [o.to_json() for o in found]}


def propensity(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"propensity": _log(ctx).propensity(p["model"], p.get("since_ms"))}


def paired_outcomes(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    args = {"limit": p["limit"]} if "limit" in p else {}
    found = _log(ctx).paired_outcomes(p["model"], p.get("since_ms"), **args)
    return {"paired_outcomes": [o.to_json() for o in found]}


def prune(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    model = check_model(p["model"]) if "model" in p else None
    return {"deleted": _log(ctx).prune(p["before_ms"], model)}


ENDPOINTS = [
    Endpoint(api.LOG, log_predictions),
    Endpoint(api.LOG_LABELS, log_labels, _accepted_if_pending),
    Endpoint(api.CORRECT_LABELS, correct_labels),
    Endpoint(api.JOINED, joined),
    Endpoint(api.PAIRED, paired),
    Endpoint(api.OUTCOMES, outcomes),
    Endpoint(api.PROPENSITY, propensity),
    Endpoint(api.PAIRED_OUTCOMES, paired_outcomes),
    Endpoint(api.PRUNE, prune),
]
