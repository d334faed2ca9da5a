"""The Protocols of the store's sub-stores, each implemented by a SQL and a REST twin.

`Store` (trk.contracts.store) declares them as attributes, so a caller reaches
`store.predictions` or `store.rollouts` through a type mypy checks instead of `getattr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from trk.contracts.predictions import (
    JoinedCounts,
    LabelsWritten,
    Outcome,
    PairedCounts,
    PairedOutcome,
    PredictionRecord,
)
from trk.contracts.rollouts import Rollout
from trk.contracts.webhooks import Delivery, TestResult, Webhook
from trk.entities import LoggedModel, PagedList


class PredictionLogStore(Protocol):
    """Serving replicas' shared log of predictions and their labels, and its joins."""

    def log_predictions(self, model: str, records: Sequence[PredictionRecord]) -> int: ...

    def log_labels(self, model: str, items: Any) -> LabelsWritten:
        """`items`: labels as sent over the wire (JSON), parsed and checked by the store;
        each request id is labelled once (joined now, or pending until its prediction)."""
        ...

    def correct_labels(self, model: str, items: Any, actor: str | None = None) -> int:
        """Replace labels already written, kept as audited corrections."""
        ...

    def prune(self, before_ms: int, model: str | None = None) -> dict[str, int]: ...

    def joined(self, model: str, since_ms: int | None = None) -> list[JoinedCounts]: ...

    def paired(self, model: str, since_ms: int | None = None) -> list[PairedCounts]: ...

    # `limit`: at most that many (the store has a cap of its own; the default is the cap).
    def paired_outcomes(
        self, model: str, since_ms: int | None = None, limit: int = ...
    ) -> list[PairedOutcome]: ...

    def outcomes(
        self, model: str, since_ms: int | None = None, limit: int = ...
    ) -> list[Outcome]: ...

    def propensity(self, model: str, since_ms: int | None = None) -> list[dict[str, Any]]: ...


class RolloutStore(Protocol):
    """Progressive rollouts: one per model, moved only by compare-and-set transitions."""

    def get(self, model: str, history: bool = True) -> Rollout: ...

    def search(self, active_only: bool = True) -> list[Rollout]: ...

    def start(self, rollout: Rollout, reason: str = "started") -> Rollout: ...

    def transition(
        self,
        model: str,
        revision: int,
        changes: dict[str, Any],
        action: str,
        reason: str,
        guards: list[dict[str, Any]] | None = None,
    ) -> Rollout: ...

    def lease(self, model: str, owner: str, ttl_ms: int) -> bool: ...

    def release(self, model: str, owner: str) -> None: ...


class WebhookStore(Protocol):
    """Registry webhooks: CRUD, a test delivery, and the record of recent deliveries."""

    def create(
        self,
        name: str,
        url: str,
        events: Sequence[Any],
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook: ...

    def get(self, webhook_id: str) -> Webhook: ...

    def page(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]: ...

    def update(
        self,
        webhook_id: str,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[Any] | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook: ...

    def delete(self, webhook_id: str) -> None: ...

    def test(self, webhook_id: str, event: Any = None) -> TestResult: ...

    def deliveries(self, webhook_id: str, *, max_results: int = 50) -> list[Delivery]: ...


class LoggedModelStore(Protocol):
    """MLflow 3's logged models beside the runs (the SQL store's; a REST store goes through
    the Store's own `*_logged_model` methods)."""

    def create(
        self,
        experiment_id: str,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel: ...

    def get(self, model_id: str) -> LoggedModel: ...

    def finalize(self, model_id: str, status: str) -> LoggedModel: ...

    def delete(self, model_id: str) -> None: ...

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    def delete_tag(self, model_id: str, key: str) -> None: ...

    def log_params(self, model_id: str, params: dict[str, str]) -> None: ...

    def link_run_outputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        """A run's output models: their source run, where they had none."""
        ...

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
        model_ids: Sequence[str] | None = None,
    ) -> tuple[list[LoggedModel], str | None]: ...
