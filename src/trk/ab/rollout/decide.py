"""One evaluation's decision: advance, hold, pause for approval, roll back or promote.

Pure: the rollout, its plan, the guards' results and the time in, a Decision out; applying
it (compare-and-set in the store, the alias move) is the controller's job.

- Shadowing: wait `--shadow-for`, then go to the first step if the shadow guards pass.
- At a step: a failed guard counts a failure (at `--failure-limit`, roll back: weight 0 at
  once, alias untouched); an inconclusive guard holds; otherwise wait `--step-interval`, then
  advance, stopping for `trk rollout approve` before the first step at or past
  `--manual-approval-at`. Advancing to 100% is the promotion.
- Awaiting approval: failures still roll back; nothing else moves without a person.
- Bandit mode: at each interval the weight becomes the Thompson share the controller
  computed from the labels (`rebalance`); it never promotes by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trk.ab.rollout.guards import FAIL, INCONCLUSIVE, GuardResult
from trk.ab.rollout.plan import Plan
from trk.contracts.rollouts import (
    AWAITING_APPROVAL,
    PROMOTED,
    ROLLED_BACK,
    RUNNING,
    SHADOW,
    Rollout,
)

ADVANCE, HOLD, AWAIT, ROLLBACK, PROMOTE = "advance", "hold", "await_approval", "rollback", "promote"
REBALANCE = "rebalance"
SHARE_STEP = 0.005  # a new bandit share closer than this to the current one is not written


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    changes: dict[str, Any] = field(default_factory=dict)
    results: tuple[GuardResult, ...] = ()

    @property
    def moves(self) -> bool:
        """Whether it changes the rollout (a hold without a new failure does not)."""
        return bool(self.changes)


def _names(results: list[GuardResult], state: str) -> str:
    return ", ".join(r.guard for r in results if r.state == state)


def forward(rollout: Rollout, plan: Plan, now_ms: int, approved: bool = False) -> Decision:
    """The move to the next step (or the promotion when it is 100%)."""
    nxt = min(rollout.step + 1, len(plan.steps) - 1)  # at the last step, forward promotes
    weight = plan.weight(nxt)
    if nxt == _first_at(plan) and not approved:
        return Decision(
            AWAIT,
            f"waiting for approval before {plan.steps[nxt]:g}% (trk rollout approve)",
            {"state": AWAITING_APPROVAL},
        )
    if weight >= 1.0:
        return Decision(
            PROMOTE,
            f"every step passed: promoted at 100% (v{rollout.challenger_version})",
            {
                "state": PROMOTED,
                "weight": 1.0,
                "step": nxt,
                "failures": 0,
                "step_started_ms": now_ms,
            },
        )
    return Decision(
        ADVANCE,
        f"advanced to {plan.steps[nxt]:g}%",
        {"state": RUNNING, "weight": weight, "step": nxt, "failures": 0, "step_started_ms": now_ms},
    )


def _first_at(plan: Plan) -> int:
    """The index of the first step that needs approval."""
    gate = plan.manual_approval_at or 101.0
    return next((i for i, s in enumerate(plan.steps) if s >= gate), len(plan.steps))


def decide(
    rollout: Rollout,
    plan: Plan,
    results: list[GuardResult],
    now_ms: int,
    share: float | None = None,
) -> Decision:
    """What one evaluation does to an active rollout (paused ones are not evaluated).

    `share`: bandit mode, the challenger's Thompson share from the labels so far.
    """
    res = tuple(results)
    failed = _names(results, FAIL)
    if failed:
        failures = rollout.failures + 1
        if failures >= plan.failure_limit:
            return Decision(
                ROLLBACK,
                f"rolled back: {failed} failed "
                f"({failures} of {plan.failure_limit} allowed failures)",
                {"state": ROLLED_BACK, "weight": 0.0, "failures": failures},
                res,
            )
        return Decision(
            HOLD,
            f"held: {failed} failed ({failures} of {plan.failure_limit})",
            {"failures": failures},
            res,
        )
    if rollout.state == AWAITING_APPROVAL:
        return Decision(HOLD, "waiting for approval (trk rollout approve)", {}, res)
    waiting = _names(results, INCONCLUSIVE)
    if waiting:
        return Decision(HOLD, f"waiting for data: {waiting}", {}, res)
    limit = plan.shadow_for_s if rollout.state == SHADOW else plan.step_interval_s
    if now_ms - rollout.step_started_ms < limit * 1000:
        where = "shadowing" if rollout.state == SHADOW else f"at {rollout.weight * 100:g}%"
        return Decision(HOLD, f"guards pass; {where} until the step interval ends", {}, res)
    if plan.bandit and rollout.state == RUNNING:
        return _rebalance(rollout, share, now_ms, res)
    found = forward(rollout, plan, now_ms)
    return Decision(found.action, found.reason, found.changes, res)


def _rebalance(
    rollout: Rollout, share: float | None, now_ms: int, res: tuple[GuardResult, ...]
) -> Decision:
    if share is None or abs(share - rollout.weight) < SHARE_STEP:
        return Decision(HOLD, "bandit: the posterior leaves the share as it is", {}, res)
    return Decision(
        REBALANCE,
        f"bandit: P(challenger better) gives it {share * 100:.1f}%",
        {"weight": round(share, 4), "step_started_ms": now_ms},
        res,
    )
