"""Rollout plans, guards and decisions without a server: parsing (flags and YAML), refusals of
bad plans, and what one evaluation decides from the guards' results and the time."""

from __future__ import annotations

import pytest

from trk.ab.rollout.decide import decide
from trk.ab.rollout.guards import FAIL, INCONCLUSIVE, PASS, GuardResult, parse_guard
from trk.ab.rollout.plan import Plan, build_plan, load_plan_file
from trk.contracts.rollouts import Rollout
from trk.exceptions import InvalidParameter

pytestmark = pytest.mark.unit

GUARDS = [
    "error_rate <= champion + 0.5pp",
    "p99_ms <= 1.2 * champion",
    "accuracy not-worse",
    "shadow_agreement >= 0.95",
]


def test_the_issue_s_plan_parses_from_flags_and_from_yaml(tmp_path):
    flags = build_plan(
        {
            "shadow_for": "10m",
            "steps": "5,10,25,50,100",
            "step_interval": "10m",
            "min_requests": 500,
            "guards": GUARDS,
            "failure_limit": 2,
            "manual_approval_at": 50,
        }
    )
    path = tmp_path / "plan.yaml"
    path.write_text(
        "shadow-for: 10m\nsteps: [5, 10, 25, 50, 100]\nstep-interval: 10m\n"
        "min-requests: 500\nguards:\n"
        + "".join(f"  - {g}\n" for g in GUARDS)
        + "failure-limit: 2\nmanual-approval-at: 50\n"
    )
    assert build_plan(load_plan_file(path)) == flags
    assert (flags.shadow_for_s, flags.step_interval_s, flags.steps[-1]) == (600, 600, 100)
    assert Plan.from_json(flags.to_json()) == flags
    g = [parse_guard(t) for t in GUARDS]
    assert (g[0].factor, g[0].offset, g[0].op) == (1.0, 0.005, "<=")
    assert (g[1].factor, g[1].offset) == (1.2, 0.0)
    assert g[2].verdict == "not-worse" and g[3].shadow_only and g[3].offset == 0.95


@pytest.mark.parametrize(
    "values",
    [
        {"steps": "5,50"},
        {"steps": "50,10,100"},
        {"steps": "0,100"},
        {"steps": "a,b"},
        {"step_interval": "soon"},
        {"min_requests": 0},
        {"failure_limit": 0},
        {"guards": ["latency <= 3"]},
        {"guards": ["error_rate <= champion * x"]},
        {"guards": ["p99_ms better"]},
        {"guards": [3]},
        {"manual_approval_at": 150},
        {"colour": "red"},
    ],
)
def test_bad_plans_are_refused_with_one_line(values):
    with pytest.raises(InvalidParameter):
        build_plan(values)


def rollout(state: str = "running", step: int = 0, failures: int = 0, started: int = 0) -> Rollout:
    plan = Plan(steps=(5, 50, 100), step_interval_s=10, failure_limit=2, manual_approval_at=50)
    return Rollout(
        "m", "1", "2", plan.to_json(), state, step, plan.weight(step), failures, 1, 0, 0, started
    )


def results(*states: str) -> list[GuardResult]:
    return [GuardResult(f"g{i}", s) for i, s in enumerate(states)]


def test_decisions():
    r, plan = rollout(), Plan.from_json(rollout().plan)
    assert decide(r, plan, results(PASS, INCONCLUSIVE), 60_000).action == "hold"
    assert decide(r, plan, results(PASS), 5_000).action == "hold"  # the interval is not over
    held = decide(r, plan, results(FAIL, PASS), 60_000)
    assert (held.action, held.changes) == ("hold", {"failures": 1})
    back = decide(rollout(failures=1), plan, results(FAIL), 60_000)
    assert (back.action, back.changes["weight"], back.changes["state"]) == (
        "rollback",
        0.0,
        "rolled_back",
    )
    assert decide(r, plan, results(PASS), 60_000).action == "await_approval"  # 50% needs a person
    waiting = rollout(state="awaiting_approval")
    assert decide(waiting, plan, results(PASS), 60_000).action == "hold"
    last = decide(rollout(step=1), plan, results(PASS), 60_000)
    assert (last.action, last.changes["weight"]) == ("promote", 1.0)
    unguarded = decide(r, Plan(steps=(5, 100), step_interval_s=1), [], 60_000)
    assert unguarded.action == "promote"
