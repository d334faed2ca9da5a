"""Progressive rollouts in the SQL store: one row per model, changed only by compare-and-set.

Every transition names the revision it was decided on; the UPDATE matches only that revision,
so of two controllers deciding at once exactly one moves the rollout and the other gets
`Conflict`. The store owns the state machine (trk.contracts.rollout_machine): a start must follow
its plan and name a registered model's versions, and a transition must be one the machine has. The lease columns let a long-running controller claim a rollout for a while
(a crashed one's claim simply expires). Each transition is kept in `rollout_transitions` and
announced to the store's listeners (webhooks) after it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update

from trk.contracts.predictions import check_id
from trk.contracts.rollout_machine import check_start, check_transition
from trk.contracts.rollouts import (
    ACTIVE,
    Rollout,
    Transition,
    guards_text,
    parse_changes,
    plan_text,
)
from trk.exceptions import Conflict, InvalidState, NotFound
from trk.store import schema as s
from trk.store.engine import read_connection, write_connection
from trk.store.sql_base import now_ms
from trk.webhooks import events

rows_t, history_t = s.rollouts, s.rollout_transitions
_FIELDS = (
    "model",
    "champion_version",
    "challenger_version",
    "state",
    "step",
    "weight",
    "failures",
    "revision",
    "created_ms",
    "updated_ms",
    "step_started_ms",
    "run_id",
    "lease_owner",
    "lease_expires_ms",
)


class SqlRollouts:
    """Start, read, transition and lease rollouts; each transition fires a registry event."""

    def __init__(self, engine: Engine, listeners: Sequence[events.Listener] = ()) -> None:
        self._engine = engine
        self.listeners = listeners

    # -- reads -----------------------------------------------------------------------------
    def get(self, model: str, history: bool = True) -> Rollout:
        """The model's rollout (the latest, finished or not); NotFound when it never had one."""
        model = check_id("model", model)
        with read_connection(self._engine) as conn:
            row = conn.execute(select(rows_t).where(rows_t.c.model == model)).mappings().first()
            if row is None:
                raise NotFound(f"Model {model!r} has no rollout")
            steps = []
            if history:
                found = conn.execute(
                    select(history_t).where(history_t.c.model == model).order_by(history_t.c.seq)
                ).mappings()
                steps = [_transition(t) for t in found]
        return _rollout(row, steps)

    def search(self, active_only: bool = True) -> list[Rollout]:
        """Every model's rollout (without history), active ones only unless asked."""
        stmt = select(rows_t).order_by(rows_t.c.model)
        if active_only:
            stmt = stmt.where(rows_t.c.state.in_(ACTIVE))
        with read_connection(self._engine) as conn:
            return [_rollout(r, []) for r in conn.execute(stmt).mappings()]

    # -- writes ----------------------------------------------------------------------------
    def start(self, rollout: Rollout, reason: str = "started") -> Rollout:
        """Store a new rollout; refused while the model's previous one is still active."""
        check_start(rollout)
        now = now_ms()
        values = {k: getattr(rollout, k) for k in _FIELDS}
        values.update(
            plan=plan_text(rollout.plan),
            revision=1,
            failures=0,
            created_ms=now,
            updated_ms=now,
            step_started_ms=now,
            lease_owner=None,
            lease_expires_ms=None,
        )
        with write_connection(self._engine) as conn:
            state = conn.execute(
                select(rows_t.c.state).where(rows_t.c.model == rollout.model)
            ).scalar()
            if state in ACTIVE:
                raise InvalidState(
                    f"Model {rollout.model!r} has a rollout in progress ({state}): "
                    "abort it first (trk rollout abort)"
                )
            _check_versions(conn, rollout)
            conn.execute(delete(history_t).where(history_t.c.model == rollout.model))
            conn.execute(delete(rows_t).where(rows_t.c.model == rollout.model))
            conn.execute(insert(rows_t).values(**values))
            step = _record(
                conn,
                rollout.model,
                1,
                now,
                "start",
                rollout.state,
                rollout.state,
                rollout.weight,
                reason,
                [],
            )
        self._announce(rollout.model, step)
        return self.get(rollout.model)

    def transition(
        self,
        model: str,
        revision: int,
        changes: dict[str, Any],
        action: str,
        reason: str,
        guards: list[dict[str, Any]] | None = None,
    ) -> Rollout:
        """Apply `changes` if the rollout is still at `revision` (else Conflict), and record it."""
        model = check_id("model", model)
        changes = parse_changes(changes)
        now = now_ms()
        with write_connection(self._engine) as conn:
            row = conn.execute(select(rows_t).where(rows_t.c.model == model)).mappings().first()
            if row is None:
                raise NotFound(f"Model {model!r} has no rollout")
            if row["revision"] == revision:  # a stale one is a Conflict below, as before
                check_transition(_rollout(row, []), changes, action, guards or [])
            before = (row["state"], row["weight"])
            done = conn.execute(
                update(rows_t)
                .where(rows_t.c.model == model, rows_t.c.revision == revision)
                .values(**changes, revision=revision + 1, updated_ms=now)
            )
            if done.rowcount != 1:
                raise Conflict(
                    f"The rollout of {model!r} changed since revision {revision}: read it again"
                )
            seq = conn.execute(
                select(func.coalesce(func.max(history_t.c.seq), 0)).where(
                    history_t.c.model == model
                )
            ).scalar_one()
            step = _record(
                conn,
                model,
                seq + 1,
                now,
                action,
                before[0],
                changes.get("state", before[0]),
                changes.get("weight", before[1]),
                reason,
                guards or [],
            )
        self._announce(model, step)
        return self.get(model)

    def lease(self, model: str, owner: str, ttl_ms: int) -> bool:
        """Claim (or renew) the right to act on the rollout for `ttl_ms`; False if another holds it."""
        model, owner = check_id("model", model), check_id("owner", owner)
        now = now_ms()
        free = or_(
            rows_t.c.lease_owner.is_(None),
            rows_t.c.lease_owner == owner,
            rows_t.c.lease_expires_ms < now,
        )
        with write_connection(self._engine) as conn:
            done = conn.execute(
                update(rows_t)
                .where(and_(rows_t.c.model == model, free))
                .values(lease_owner=owner, lease_expires_ms=now + max(int(ttl_ms), 1))
            )
        return done.rowcount == 1

    def release(self, model: str, owner: str) -> None:
        """Give a lease back (a controller stopping cleanly), so another may act at once."""
        with write_connection(self._engine) as conn:
            conn.execute(
                update(rows_t)
                .where(
                    rows_t.c.model == check_id("model", model),
                    rows_t.c.lease_owner == check_id("owner", owner),
                )
                .values(lease_owner=None, lease_expires_ms=None)
            )

    def _announce(self, model: str, step: Transition) -> None:
        occurrence = events.rollout_transitioned(model, step.to_json())
        for listener in self.listeners:
            listener.publish(occurrence)


def _check_versions(conn: Any, rollout: Rollout) -> None:
    """The model and both versions must be registered when a rollout starts."""
    model = conn.execute(
        select(s.registered_models.c.name).where(s.registered_models.c.name == rollout.model)
    ).first()
    if model is None:
        raise NotFound(f"Registered model {rollout.model!r} does not exist: nothing to roll out")
    mv = s.model_versions
    for what in ("champion_version", "challenger_version"):
        version = getattr(rollout, what)
        found = (
            version.isdigit()
            and len(version) < 10
            and conn.execute(
                select(mv.c.version).where(mv.c.name == rollout.model, mv.c.version == int(version))
            ).first()
        )
        if not found:
            raise NotFound(f"{rollout.model} has no version {version!r} ({what})")


def _record(
    conn: Any,
    model: str,
    seq: int,
    now: int,
    action: str,
    from_state: str,
    to_state: str,
    weight: float,
    reason: str,
    guards: list[dict[str, Any]],
) -> Transition:
    text = guards_text(guards)
    conn.execute(
        insert(history_t).values(
            model=model,
            seq=seq,
            timestamp_ms=now,
            action=action,
            from_state=from_state,
            to_state=to_state,
            weight=weight,
            reason=reason,
            guards=text,
        )
    )
    return Transition(seq, now, action, from_state, to_state, weight, reason, guards)


def _transition(row: Any) -> Transition:
    return Transition(
        row["seq"],
        row["timestamp_ms"],
        row["action"],
        row["from_state"],
        row["to_state"],
        row["weight"],
        row["reason"],
        orjson.loads(row["guards"]),
    )


def _rollout(row: Any, history: list[Transition]) -> Rollout:
    values = {k: row[k] for k in _FIELDS}
    return Rollout(**values, plan=orjson.loads(row["plan"]), history=history)
