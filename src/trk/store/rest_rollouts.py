"""Rollouts over a `trk server`'s REST API: the same methods as `SqlRollouts`.

Reads and leases are retried; a transition is sent once (a retried one that had committed
would come back as a Conflict, which the controller treats as "someone acted": the same).
"""

from __future__ import annotations

from typing import Any

from trk.contracts.predictions import check_id
from trk.contracts.rollouts import Rollout
from trk.transport import Transport

API = "/api/2.0/mlflow/trk/rollouts/"


class RestRollouts:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _post(self, path: str, body: dict[str, Any], idempotent: bool = True) -> dict[str, Any]:
        return self.transport.call("POST", API + path, json=body, idempotent=idempotent)

    def get(self, model: str, history: bool = True) -> Rollout:
        found = self.transport.call("GET", API + "get", params={"model": check_id("model", model)})
        return Rollout.from_json(found["rollout"])

    def search(self, active_only: bool = True) -> list[Rollout]:
        params = {"active_only": "true" if active_only else "false"}
        found = self.transport.call("GET", API + "list", params=params)
        return [Rollout.from_json(r) for r in found.get("rollouts", [])]

    def start(self, rollout: Rollout, reason: str = "started") -> Rollout:
        body = {
            "rollout": {k: v for k, v in rollout.to_json().items() if k != "history"},
            "reason": reason,
        }
        return Rollout.from_json(self._post("start", body, idempotent=False)["rollout"])

    def transition(
        self,
        model: str,
        revision: int,
        changes: dict[str, Any],
        action: str,
        reason: str,
        guards: list[dict[str, Any]] | None = None,
    ) -> Rollout:
        body = {
            "model": check_id("model", model),
            "revision": int(revision),
            "changes": changes,
            "transition": {"action": action, "reason": reason, "guards": guards or []},
        }
        return Rollout.from_json(self._post("transition", body, idempotent=False)["rollout"])

    def lease(self, model: str, owner: str, ttl_ms: int) -> bool:
        body = {"model": model, "owner": owner, "ttl_ms": int(ttl_ms)}
        return bool(self._post("lease", body).get("acquired"))

    def release(self, model: str, owner: str) -> None:
        self._post("release", {"model": model, "owner": owner})
