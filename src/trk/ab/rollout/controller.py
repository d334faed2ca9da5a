"""The rollout controller: start a rollout, evaluate it, apply at most one transition, by hand
or in a loop, never twice for the same state.

Every write is a compare-and-set on the revision it was decided from, so two controllers (or
a controller and a CI job running `trk rollout step`) never both move a rollout: the loser
gets Conflict and does nothing. The long-running loop also holds a lease per rollout, so a
second copy does not even evaluate; a killed copy's lease expires and any copy resumes from
the state in the store. The store owns the state machine (trk.contracts.rollout_machine) and
refuses what it does not allow; a stored rollout that breaks it is reported, never raised on.

A promotion moves the aliases as `trk models promote` does (a protected alias refuses, and the
rollout waits in `awaiting_approval` for a second person), commits `promoted` by
compare-and-set, and records `aliases_moved`. An abort that wins the race puts the champion
back (the promotion's compare-and-set fails, so it undoes its move); a failure between the
move and the commit is made good by the next evaluation (the move is idempotent), and a
promoted rollout without `aliases_moved` as its last action gets its aliases moved then.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trk.ab.rollout import bandit, journal
from trk.ab.rollout.bandit import thompson_share
from trk.ab.rollout.decide import AWAIT, HOLD, PROMOTE, Decision, decide, forward
from trk.ab.rollout.evidence import judge
from trk.ab.rollout.plan import Plan
from trk.contracts.rollout_machine import ALIASES_MOVED, check_stored
from trk.contracts.rollouts import (
    ABORTED,
    AWAITING_APPROVAL,
    PAUSED,
    PROMOTED,
    RUNNING,
    SHADOW,
    Rollout,
)
from trk.contracts.surfaces import RolloutStore
from trk.exceptions import Conflict, InvalidState, PermissionDenied, TrkError
from trk.serving_contract import CHALLENGER, CHAMPION
from trk.tracking.promotion import alias_version, promote, rollback

if TYPE_CHECKING:
    from trk.tracking.client import Client

log = logging.getLogger("trk.rollout")
RECONCILE_S = 86_400.0  # how long after a promotion its alias move is still retried


def default_owner() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


@dataclass(frozen=True)
class StepResult:
    """What one evaluation did: the rollout after it, and the decision (None: not evaluated)."""

    rollout: Rollout
    decision: Decision | None = None
    applied: bool = False  # False: a hold already recorded, or another controller won

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "model": self.rollout.model,
            "state": self.rollout.state,
            "weight": self.rollout.weight,
            "applied": self.applied,
            "action": d.action if d else None,
            "reason": d.reason if d else None,
            "guards": [r.to_json() for r in d.results] if d else [],
        }


class Controller:
    """Rollouts of one tracking store, judged and moved through its `rollouts` part."""

    def __init__(self, client: Client, owner: str | None = None) -> None:
        self.client = client
        self.rollouts: RolloutStore = client.store.rollouts
        self.owner = owner or default_owner()

    # -- start and the commands a person gives --------------------------------------------
    def start(self, model: str, plan: Plan) -> Rollout:
        """Start rolling `model@challenger` out over `model@champion` with `plan`."""
        champion = alias_version(self.client, model, CHAMPION)
        challenger = alias_version(self.client, model, CHALLENGER)
        if champion is None or challenger is None:
            self.client.get_registered_model(model)  # NotFound names a missing model
            raise InvalidState(f"Model {model!r} needs a 'champion' and a 'challenger' alias")
        if champion == challenger:
            raise InvalidState(
                f"{model}@challenger is the champion (v{champion}): nothing to roll out"
            )
        step = -1 if plan.shadow_for_s > 0 else 0
        state = SHADOW if step < 0 else RUNNING
        run_id = journal.open_run(self.client, model, champion, challenger)
        rollout = Rollout(
            model,
            champion,
            challenger,
            plan.to_json(),
            state,
            step,
            plan.weight(step),
            0,
            0,
            0,
            0,
            0,
            run_id,
        )
        where = "shadowing first" if step < 0 else f"{plan.steps[0]:g}%"
        started = self.rollouts.start(rollout, f"started: v{challenger} over v{champion}, {where}")
        journal.record(self.client, started)
        return started

    def command(self, model: str, action: str) -> Rollout:
        """pause | resume | approve | abort, on the state read now (retried once on a race)."""
        for attempt in range(2):
            r = self.rollouts.get(model)
            changes, reason = self._command(r, action)
            try:
                done = self.rollouts.transition(model, r.revision, changes, action, reason)
            except Conflict:
                if attempt:
                    raise
                continue
            journal.record(self.client, done)
            return self._move_aliases(done) if done.state == PROMOTED else done
        raise AssertionError("unreachable")

    def _command(self, r: Rollout, action: str) -> tuple[dict[str, Any], str]:
        if not r.active:
            raise InvalidState(f"The rollout of {r.model!r} has ended ({r.state})")
        if action == "pause":
            if r.state == PAUSED:
                raise InvalidState(f"The rollout of {r.model!r} is already paused")
            return {"state": PAUSED}, f"paused by hand at {r.weight * 100:g}%"
        if action == "resume":
            if r.state != PAUSED:
                raise InvalidState(f"The rollout of {r.model!r} is not paused ({r.state})")
            return {"state": SHADOW if r.step < 0 else RUNNING}, "resumed by hand"
        if action == "approve":
            if r.state != AWAITING_APPROVAL:
                raise InvalidState(f"The rollout of {r.model!r} is not waiting for approval")
            found = forward(r, check_stored(r), _now_ms(), approved=True)
            if found.action == PROMOTE:  # a protected alias refuses the approver's own move
                self._check_challenger(r)
                promote(self.client, r.model)
            return found.changes, "approved by hand: " + found.reason
        if action == "abort":
            return {"state": ABORTED, "weight": 0.0}, "aborted by hand (aliases untouched)"
        raise InvalidState(f"Unknown rollout command {action!r}")

    # -- evaluation -----------------------------------------------------------------------
    def step(self, model: str) -> StepResult:
        """One evaluation of the model's rollout and at most one transition."""
        r = self.rollouts.get(model)
        if r.state == PROMOTED:
            return self._reconcile(r)
        if not r.active or r.state == PAUSED:
            return StepResult(r)
        plan = check_stored(r)  # InvalidParameter (one line) for a rollout that breaks the machine
        share = (
            thompson_share(*bandit.counts(self.client, r), plan.min_share) if plan.bandit else None
        )
        decision = decide(r, plan, judge(self.client, r, plan), _now_ms(), share)
        if decision.action == HOLD and not decision.moves and _same_hold(r, decision):
            return StepResult(r, decision)
        moved = False
        if decision.action == PROMOTE:
            try:  # a protected alias refuses: the promotion waits for a second person
                self._check_challenger(r)
                promote(self.client, r.model)
                moved = True
            except PermissionDenied as exc:
                decision = Decision(
                    AWAIT,
                    f"promotion waits for approval by a second user "
                    f"(trk rollout approve): {exc.message}",
                    {"state": AWAITING_APPROVAL},
                    decision.results,
                )
        guards = [g.to_json() for g in decision.results]
        try:
            done = self.rollouts.transition(
                model, r.revision, decision.changes, decision.action, decision.reason, guards
            )
        except Conflict:  # another controller (or a person's abort) acted on this state first
            now = self.rollouts.get(model)
            if moved and now.state != PROMOTED:  # the promotion lost: the champion goes back
                rollback(self.client, model)
            return StepResult(now, decision)
        journal.record(self.client, done)
        log.info("%s: %s (%s)", model, decision.action, decision.reason)
        if done.state == PROMOTED:  # committed: record (or make) the alias move
            done = self._move_aliases(done)
        return StepResult(done, decision, applied=True)

    def _check_challenger(self, r: Rollout) -> None:
        now = alias_version(self.client, r.model, CHALLENGER)
        if now != r.challenger_version:
            raise InvalidState(
                f"{r.model}@challenger moved to v{now} during the rollout of "
                f"v{r.challenger_version}: not promoted (abort, then start again)"
            )

    def _move_aliases(self, r: Rollout) -> Rollout:
        """Move the aliases of a committed promotion and record it; on failure the rollout is
        left for `_reconcile` (a warning now, another try at the next evaluation)."""
        try:
            self._check_challenger(r)
            moved = promote(self.client, r.model)
            return self.rollouts.transition(r.model, r.revision, {}, ALIASES_MOVED, moved.message)
        except Conflict:  # another controller recorded it first
            return self.rollouts.get(r.model)
        except Exception as exc:  # the store or registry is away: retried by _reconcile
            log.warning(
                "%s: promoted, but the aliases did not move yet (%s); retried at the "
                "next evaluation",
                r.model,
                exc,
            )
            return r

    def _reconcile(self, r: Rollout) -> StepResult:
        """A promotion whose alias move failed after its commit: move the aliases now."""
        if not r.history or r.history[-1].action == ALIASES_MOVED:
            return StepResult(r)
        done = self._move_aliases(r)
        return StepResult(done, None, applied=done.revision != r.revision)

    # -- the long-running loop ----------------------------------------------------------------
    def run(
        self,
        interval_s: float,
        lease_s: float,
        stop: threading.Event,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        """Evaluate every active rollout whose lease this controller holds, until `stop`."""
        held: set[str] = set()
        try:
            while not stop.is_set():
                try:
                    self._pass(lease_s, held, on_step)
                except TrkError as exc:  # the store is away: try again next interval
                    log.warning("rollout pass failed: %s", exc.message)
                stop.wait(interval_s)
        finally:
            for model in held:
                try:
                    self.rollouts.release(model, self.owner)
                except Exception as exc:  # the lease expires on its own
                    log.warning("releasing %s failed: %s", model, exc)

    def _pass(
        self, lease_s: float, held: set[str], on_step: Callable[[StepResult], None] | None
    ) -> None:
        for model in self._claim(lease_s, held):
            try:
                result = self.step(model)
            except TrkError as exc:  # one bad rollout (or plan) must not stop the others
                log.warning("%s: %s", model, exc.message)
                continue
            except Exception:  # a bug: logged, and the loop goes on
                log.exception("%s: evaluation failed", model)
                continue
            if on_step is not None:
                on_step(result)

    def _claim(self, lease_s: float, held: set[str]) -> list[str]:
        mine = []
        recent = _now_ms() - RECONCILE_S * 1000
        found = [
            r
            for r in self.rollouts.search(active_only=False)
            if r.active or (r.state == PROMOTED and r.updated_ms >= recent)
        ]
        for r in found:
            if self.rollouts.lease(r.model, self.owner, int(lease_s * 1000)):
                held.add(r.model)
                mine.append(r.model)
            else:
                held.discard(r.model)
        return mine


def _same_hold(r: Rollout, d: Decision) -> bool:
    """A hold for the reason already recorded last is not written again."""
    last = r.history[-1] if r.history else None
    return last is not None and last.action == HOLD and last.reason == d.reason


def _now_ms() -> int:
    return int(time.time() * 1000)
