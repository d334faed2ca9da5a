"""Rollouts over a `trk server`'s REST API: the same methods as `SqlRollouts`.

Reads and leases are retried; a transition is sent once (a retried one that had committed
would come back as a Conflict, which the controller treats as "someone acted": the same).
"""

from __future__ import annotations

from typing import Any

from trk.contracts.api import rollouts as api
from trk.contracts.predictions import check_id
from trk.contracts.rollouts import Rollout
from trk.store.rest_call import call
from trk.transport import Transport


class RestRollouts:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def get(self, model: str, history: bool = True) -> Rollout:
        found = call(self.transport, api.GET, model=check_id("model", model))
        return Rollout.from_json(found["rollout"])

    def search(self, active_only: bool = True) -> list[Rollout]:
        found = call(self.transport, api.LIST, active_only=active_only)
        return [Rollout.from_json(r) for r in found.get("rollouts", [])]

    def start(self, rollout: Rollout, reason: str = "started") -> Rollout:
        plan = {k: v for k, v in rollout.to_json().items() if k != "history"}
        found = call(self.transport, api.START, rollout=plan, reason=reason)
        return Rollout.from_json(found["rollout"])

    def transition(
        self,
        model: str,
        revision: int,
        changes: dict[str, Any],
        action: str,
        reason: str,
        guards: list[dict[str, Any]] | None = None,
    ) -> Rollout:
        found = call(
            self.transport,
            api.TRANSITION,
            model=check_id("model", model),
            revision=int(revision),
            changes=changes,
            transition={"action": action, "reason": reason, "guards": guards or []},
        )
        return Rollout.from_json(found["rollout"])

    def lease(self, model: str, owner: str, ttl_ms: int) -> bool:
        found = call(self.transport, api.LEASE, model=model, owner=owner, ttl_ms=int(ttl_ms))
        return bool(found.get("acquired"))

    def release(self, model: str, owner: str) -> None:
        call(self.transport, api.RELEASE, model=model, owner=owner)
