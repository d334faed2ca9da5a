"""Promotion requests for protected aliases, and the history of every alias move.

A request names a model version and an alias; someone other than its requester approves it
(the alias moves, recorded with both names) or rejects it, once. The history is append-only:
`record_move` runs inside the transaction that moves the alias, so a move is never without
its record.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from trk import actor as acting
from trk import settings
from trk.exceptions import InvalidState, NotFound, PermissionDenied
from trk.store import schema as s
from trk.store.engine import read_connection, write_connection
from trk.store.sql_base import now_ms

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


@dataclass(frozen=True)
class PromotionRequest:
    request_id: str
    name: str
    alias: str
    version: int
    requested_by: str
    state: str
    decided_by: str | None
    created_ms: int
    decided_ms: int | None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "version": str(self.version)}


@dataclass(frozen=True)
class AliasMove:
    name: str
    alias: str
    version: int | None  # None: the alias was deleted
    actor: str
    approver: str | None
    request_id: str | None
    timestamp_ms: int

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "version": None if self.version is None else str(self.version)}


def current_actor() -> acting.Actor:
    """The request's actor, else the local user (embedded store, scripts)."""
    return acting.current() or acting.Actor(settings.user_name())


def record_move(conn: Connection, name: str, alias: str, version: int | None) -> acting.Actor:
    """Append the move to the history in the caller's transaction; returns who made it."""
    who = current_actor()
    conn.execute(
        insert(s.alias_history).values(
            name=name,
            alias=alias,
            version=version,
            actor=who.name,
            approver=who.approver,
            request_id=who.request_id,
            timestamp_ms=now_ms(),
        )
    )
    return who


class SqlPromotions:
    """Request, decide and list promotions; read the alias history."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def request(self, name: str, alias: str, version: int, requested_by: str) -> PromotionRequest:
        request_id = uuid.uuid4().hex
        values = {
            "request_id": request_id,
            "name": name,
            "alias": alias,
            "version": version,
            "requested_by": requested_by,
            "state": PENDING,
            "created_ms": now_ms(),
        }
        with write_connection(self._engine) as conn:
            conn.execute(insert(s.promotion_requests).values(**values))
        return self.get(name, request_id)

    def get(self, name: str, request_id: str) -> PromotionRequest:
        t = s.promotion_requests
        with read_connection(self._engine) as conn:
            row = conn.execute(
                select(t).where(t.c.request_id == request_id, t.c.name == name)
            ).first()
        if row is None:
            raise NotFound(f"Registered model {name!r} has no promotion request {request_id!r}")
        return PromotionRequest(**row._mapping)

    def requests(self, name: str, pending_only: bool = False) -> list[PromotionRequest]:
        t = s.promotion_requests
        stmt = select(t).where(t.c.name == name).order_by(t.c.created_ms, t.c.request_id)
        if pending_only:
            stmt = stmt.where(t.c.state == PENDING)
        with read_connection(self._engine) as conn:
            return [PromotionRequest(**r._mapping) for r in conn.execute(stmt)]

    def decide(self, name: str, request_id: str, decided_by: str, state: str) -> PromotionRequest:
        """Mark a pending request approved or rejected by `decided_by`, who must not be its
        requester; compare-and-set on the state, so a request is decided once."""
        found = self.get(name, request_id)
        if found.requested_by == decided_by:
            raise PermissionDenied(
                f"Permission denied: {decided_by!r} requested promotion {request_id} and cannot "
                "decide it; another user with MANAGE on the model must (four eyes)"
            )
        t = s.promotion_requests
        with write_connection(self._engine) as conn:
            stmt = (
                update(t)
                .where(t.c.request_id == request_id, t.c.state == PENDING)
                .values(state=state, decided_by=decided_by, decided_ms=now_ms())
            )
            if conn.execute(stmt).rowcount == 0:
                raise InvalidState(f"Promotion request {request_id} is already {found.state}")
        return self.get(name, request_id)

    def history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded move of the model's aliases (or of one alias), oldest first."""
        t = s.alias_history
        stmt = select(t).where(t.c.name == name).order_by(t.c.id)
        if alias is not None:
            stmt = stmt.where(t.c.alias == alias)
        with read_connection(self._engine) as conn:
            return [
                AliasMove(
                    r.name, r.alias, r.version, r.actor, r.approver, r.request_id, r.timestamp_ms
                )
                for r in conn.execute(stmt)
            ]
