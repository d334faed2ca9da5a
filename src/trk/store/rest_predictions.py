"""The prediction log over a `trk server`'s REST API: the same methods as `SqlPredictionLog`.

Prediction appends are idempotent on the server (rows are keyed), so they are retried like
reads. Labels are written once: a resend of a call that did commit is refused (409), so label
writes are sent once and an unknown outcome is the caller's to resolve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trk import settings
from trk.contracts.predictions import (
    LABELS_PER_CALL,
    JoinedCounts,
    LabelsWritten,
    Outcome,
    PairedCounts,
    PairedOutcome,
    PredictionRecord,
    check_model,
    parse_labels,
)
from trk.transport import Transport

API = "/api/2.0/mlflow/trk/"


class RestPredictionLog:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _get(self, path: str, model: str, since_ms: int | None, **extra: Any) -> dict[str, Any]:
        params = {"model": check_model(model), **extra}
        if since_ms:
            params["since_ms"] = since_ms
        return self.transport.call("GET", API + path, params=params)

    def log_predictions(self, model: str, records: Sequence[PredictionRecord]) -> int:
        body = {"model": check_model(model), "records": [r.to_json() for r in records]}
        found = self.transport.call("POST", API + "predictions/log", json=body, idempotent=True)
        return int(found.get("written", 0))

    def log_labels(self, model: str, items: Any) -> LabelsWritten:
        parse_labels(items, 0, LABELS_PER_CALL)  # refuse bad input before sending it
        body = {"model": check_model(model), "labels": items}
        found = self.transport.call("POST", API + "labels/log", json=body, idempotent=False)
        return LabelsWritten.from_json(found)

    def correct_labels(self, model: str, items: Any, actor: str | None = None) -> int:
        parse_labels(items, 0, LABELS_PER_CALL)
        body = {
            "model": check_model(model),
            "labels": items,
            "actor": (actor or settings.user_name())[:200],
        }
        found = self.transport.call("POST", API + "labels/correct", json=body, idempotent=False)
        return int(found.get("corrected", 0))

    def prune(self, before_ms: int, model: str | None = None) -> dict[str, int]:
        body: dict[str, Any] = {"before_ms": int(before_ms)}
        if model is not None:
            body["model"] = check_model(model)
        found = self.transport.call("POST", API + "predictions/prune", json=body, idempotent=True)
        return {k: int(v) for k, v in found.get("deleted", {}).items()}

    def joined(self, model: str, since_ms: int | None = None) -> list[JoinedCounts]:
        found = self._get("predictions/joined", model, since_ms)
        return [JoinedCounts(**c) for c in found.get("joined", [])]

    def paired(self, model: str, since_ms: int | None = None) -> list[PairedCounts]:
        found = self._get("predictions/paired", model, since_ms)
        return [PairedCounts(**c) for c in found.get("paired", [])]

    def paired_outcomes(
        self, model: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[PairedOutcome]:
        extra = {"limit": int(limit)} if limit is not None else {}
        found = self._get("predictions/paired-outcomes", model, since_ms, **extra)
        return [PairedOutcome(*o) for o in found.get("paired_outcomes", [])]

    def outcomes(
        self, model: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[Outcome]:
        extra = {"limit": int(limit)} if limit is not None else {}
        found = self._get("predictions/outcomes", model, since_ms, **extra)
        return [Outcome(*o) for o in found.get("outcomes", [])]

    def propensity(self, model: str, since_ms: int | None = None) -> list[dict[str, Any]]:
        found = self._get("predictions/propensity", model, since_ms)
        return list(found.get("propensity", []))
