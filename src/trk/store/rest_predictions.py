"""The prediction log over a `trk server`'s REST API: the same methods as `SqlPredictionLog`.

Prediction appends are idempotent on the server (rows are keyed), so they are retried like
reads. Labels are written once: a resend of a call that did commit is refused (409), so label
writes are sent once and an unknown outcome is the caller's to resolve (each route's row in
`trk.contracts.api.predictions` says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trk import settings
from trk.contracts.api import predictions as api
from trk.contracts.api.row import Api
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
from trk.store.rest_call import call
from trk.transport import Transport


class RestPredictionLog:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _read(self, row: Api, model: str, since_ms: int | None, **extra: Any) -> dict[str, Any]:
        return call(
            self.transport, row, model=check_model(model), since_ms=since_ms or None, **extra
        )

    def log_predictions(self, model: str, records: Sequence[PredictionRecord]) -> int:
        found = call(
            self.transport,
            api.LOG,
            model=check_model(model),
            records=[r.to_json() for r in records],
        )
        return int(found.get("written", 0))

    def log_labels(self, model: str, items: Any) -> LabelsWritten:
        parse_labels(items, 0, LABELS_PER_CALL)  # refuse bad input before sending it
        found = call(self.transport, api.LOG_LABELS, model=check_model(model), labels=items)
        return LabelsWritten.from_json(found)

    def correct_labels(self, model: str, items: Any, actor: str | None = None) -> int:
        parse_labels(items, 0, LABELS_PER_CALL)
        found = call(
            self.transport,
            api.CORRECT_LABELS,
            model=check_model(model),
            labels=items,
            actor=(actor or settings.user_name())[:200],
        )
        return int(found.get("corrected", 0))

    def prune(self, before_ms: int, model: str | None = None) -> dict[str, int]:
        found = call(
            self.transport,
            api.PRUNE,
            before_ms=int(before_ms),
            model=None if model is None else check_model(model),
        )
        return {k: int(v) for k, v in found.get("deleted", {}).items()}

    def joined(self, model: str, since_ms: int | None = None) -> list[JoinedCounts]:
        found = self._read(api.JOINED, model, since_ms)
        return [JoinedCounts(**c) for c in found.get("joined", [])]

    def paired(self, model: str, since_ms: int | None = None) -> list[PairedCounts]:
        found = self._read(api.PAIRED, model, since_ms)
        return [PairedCounts(**c) for c in found.get("paired", [])]

    def paired_outcomes(
        self, model: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[PairedOutcome]:
        found = self._read(api.PAIRED_OUTCOMES, model, since_ms, limit=limit)
        return [PairedOutcome(*o) for o in found.get("paired_outcomes", [])]

    def outcomes(
        self, model: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[Outcome]:
        found = self._read(api.OUTCOMES, model, since_ms, limit=limit)
        return [Outcome(*o) for o in found.get("outcomes", [])]

    def propensity(self, model: str, since_ms: int | None = None) -> list[dict[str, Any]]:
        found = self._read(api.PROPENSITY, model, since_ms)
        return list(found.get("propensity", []))
