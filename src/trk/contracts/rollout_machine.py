"""The rollout state machine, owned by the store: which transitions exist and what each may set.

Every client (the controller, `trk rollout`, anyone with a token and curl) writes through the
store, so the store refuses what no controller would write: a transition missing from
`TRANSITIONS`, a step outside the plan, a weight the plan does not give that step, guard
readings that name no guard of the plan, or any reading on an action a person takes. A
stored rollout that breaks these (written before they existed) reads as `InvalidParameter`
from `check_stored`, which the controller and the pages turn into one line, never a raise;
`abort` is always allowed from an active state, so such a rollout can still be ended.

`awaiting_approval` sits between a step and the next (or the promotion): the controller
enters it before a step at or past `--manual-approval-at`, and before the promotion where a
protected alias needs a second person; `approve` leaves it. Where no approval applies, the
controller goes straight from the last step to `promoted`.

Promotion commits `promoted` first; the alias move follows, and is recorded as
`aliases_moved` (promoted -> promoted). A promoted rollout whose last action is not
`aliases_moved` had its alias move fail in between: the controller moves the aliases then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trk.contracts.rollout_plan import Plan
from trk.contracts.rollouts import (
    ABORTED,
    AWAITING_APPROVAL,
    PAUSED,
    PROMOTED,
    ROLLED_BACK,
    RUNNING,
    SHADOW,
    Rollout,
)
from trk.exceptions import InvalidParameter, InvalidState

ALIASES_MOVED = "aliases_moved"
# (from state, action) -> the states it may lead to. Nothing leaves a terminal state except
# the record of a promotion's alias move.
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (SHADOW, "hold"): (SHADOW,),
    (SHADOW, "advance"): (RUNNING,),
    (SHADOW, "await_approval"): (AWAITING_APPROVAL,),
    (SHADOW, "promote"): (PROMOTED,),  # a plan of one step, 100
    (SHADOW, "pause"): (PAUSED,),
    (SHADOW, "rollback"): (ROLLED_BACK,),
    (SHADOW, "abort"): (ABORTED,),
    (RUNNING, "hold"): (RUNNING,),
    (RUNNING, "advance"): (RUNNING,),
    (RUNNING, "rebalance"): (RUNNING,),
    (RUNNING, "await_approval"): (AWAITING_APPROVAL,),
    (RUNNING, "promote"): (PROMOTED,),
    (RUNNING, "pause"): (PAUSED,),
    (RUNNING, "rollback"): (ROLLED_BACK,),
    (RUNNING, "abort"): (ABORTED,),
    (AWAITING_APPROVAL, "hold"): (AWAITING_APPROVAL,),  # a failed guard, counted
    (AWAITING_APPROVAL, "approve"): (RUNNING, PROMOTED),
    (AWAITING_APPROVAL, "pause"): (PAUSED,),
    (AWAITING_APPROVAL, "rollback"): (ROLLED_BACK,),
    (AWAITING_APPROVAL, "abort"): (ABORTED,),
    (PAUSED, "resume"): (SHADOW, RUNNING),
    (PAUSED, "abort"): (ABORTED,),
    (PROMOTED, ALIASES_MOVED): (PROMOTED,),
}
# What a person does: it carries no guard readings.
MANUAL = ("approve", "pause", "resume", "abort", ALIASES_MOVED)
_NEXT_STEP = ("advance",)  # and approve -> running
_TOL = 1e-9


def _bad(rollout: Rollout, why: str) -> InvalidParameter:
    return InvalidParameter(f"Rollout of {rollout.model!r} is not valid: {why}")


def stored_plan(rollout: Rollout) -> Plan:
    """The rollout's plan, parsed by the class the CLI builds it with."""
    if not isinstance(rollout.plan, dict):
        raise _bad(rollout, "its plan is not an object")
    return Plan.from_json(rollout.plan)


def check_stored(rollout: Rollout) -> Plan:
    """The plan of a rollout that holds together (state, step, weight, failures); else
    InvalidParameter saying what does not."""
    plan = stored_plan(rollout)
    r = rollout
    if not (isinstance(r.step, int) and -1 <= r.step < len(plan.steps)):
        raise _bad(r, f"step {r.step!r} is outside the plan's {len(plan.steps)} steps")
    if not (isinstance(r.weight, int | float) and math.isfinite(r.weight) and 0 <= r.weight <= 1):
        raise _bad(r, f"weight {r.weight!r} is not within [0, 1]")
    if not (isinstance(r.failures, int) and 0 <= r.failures <= plan.failure_limit):
        raise _bad(r, f"{r.failures!r} failures of {plan.failure_limit} allowed")
    expected = _weight_of(r, plan)
    if expected is not None and abs(r.weight - expected) > _TOL:
        raise _bad(
            r,
            f"weight {r.weight:g} in state {r.state} at step {r.step} (the plan "
            f"gives {expected:g})",
        )
    if plan.bandit and r.state == RUNNING and r.step >= 0:
        if not plan.min_share - _TOL <= r.weight <= 1 - plan.min_share + _TOL:
            raise _bad(
                r,
                f"bandit weight {r.weight:g} outside [{plan.min_share:g}, {1 - plan.min_share:g}]",
            )
    if r.state == SHADOW and r.step != -1:
        raise _bad(r, "a shadowing rollout is before its first step (step -1)")
    if r.state == RUNNING and r.step < 0:
        raise _bad(r, "a running rollout is at a step (0 or more)")
    return plan


def _weight_of(r: Rollout, plan: Plan) -> float | None:
    """The weight the plan gives the rollout's state and step (None: the bandit's to set)."""
    if r.state in (ROLLED_BACK, ABORTED):
        return 0.0
    if r.state == PROMOTED:
        return 1.0
    if r.step < 0:
        return 0.0
    if plan.bandit:
        return None
    return plan.weight(r.step)


def check_start(rollout: Rollout) -> Plan:
    """A new rollout: a valid plan, started where the plan starts, two different versions."""
    plan = check_stored(rollout)
    first = -1 if plan.shadow_for_s > 0 else 0
    if rollout.step != first or rollout.state != (SHADOW if first < 0 else RUNNING):
        raise _bad(
            rollout,
            f"it starts {'shadowing at step -1' if first < 0 else 'running at step 0'}"
            f" by its plan, not {rollout.state} at step {rollout.step}",
        )
    if rollout.champion_version == rollout.challenger_version:
        raise _bad(rollout, "the champion and challenger versions are the same")
    return plan


def check_transition(
    before: Rollout, changes: dict[str, Any], action: str, guards: Sequence[dict[str, Any]]
) -> None:
    """Refuse (InvalidState / InvalidParameter) a transition the machine does not allow."""
    after = before.changed(**changes)
    allowed = TRANSITIONS.get((before.state, action))
    if allowed is None or after.state not in allowed:
        raise InvalidState(
            f"The rollout of {before.model!r} cannot {action} from {before.state}"
            + (f" to {after.state}" if allowed else "")
        )
    if action == "abort":  # always possible from an active state: whatever else is stored
        return
    plan = check_stored(after)
    if action in MANUAL and guards:
        raise InvalidParameter(f"A {action} is a person's action: it carries no guard readings")
    named = set(plan.guards)
    strange = [g.get("guard") for g in guards if g.get("guard") not in named]
    if strange:
        raise InvalidParameter(f"Guard readings name no guard of the plan: {strange[:3]}")
    nxt = before.step + 1
    if (
        action in _NEXT_STEP or (action == "approve" and after.state == RUNNING)
    ) and after.step != nxt:
        raise InvalidParameter(f"{action} moves to the next step ({nxt}), not {after.step}")
    if after.state == PROMOTED and action != ALIASES_MOVED and after.step != len(plan.steps) - 1:
        raise InvalidParameter("A promotion is at the plan's last step (100%)")
    if action == "rebalance" and not plan.bandit:
        raise InvalidParameter("Only a bandit rollout rebalances")
    stays = action not in _NEXT_STEP + ("approve", "promote")
    if stays and after.step != before.step:
        raise InvalidParameter(f"A {action} keeps the step ({before.step})")
    if action in ("hold", "pause", "resume", "await_approval", ALIASES_MOVED) and (
        abs(after.weight - before.weight) > _TOL
    ):
        raise InvalidParameter(f"A {action} keeps the weight ({before.weight:g})")
