"""Guards that noise cannot trip: simulated rollouts through the real judge and decision.

Serving windows are simulated in-process (counts and latency histograms as the serving
windows log them, `trk.serving.online.window_stats`), then read by the real report builder
(`trk.ab.evaluation.build_report`), the real guards (`trk.ab.rollout.evidence.judge`) and
the real decision (`trk.ab.rollout.decide`); only the tracking store is left out, so 200
rollouts take seconds. An A/A rollout (the same latency and error distribution on both
sides) must be rolled back in at most the plan's alpha of the runs, with small
--min-requests too; a challenger that is truly worse must be rolled back, so the test can
fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from trk.ab import evaluation
from trk.ab.rollout import evidence
from trk.ab.rollout.decide import HOLD, PROMOTE, ROLLBACK, decide
from trk.ab.rollout.plan import Plan
from trk.ab.windows import VariantWindows, Window
from trk.contracts.rollouts import RUNNING, Rollout
from trk.exceptions import NotFound
from trk.serving_contract import LATENCY_HIST_PREFIX, latency_bucket

pytestmark = pytest.mark.unit

WINDOW_S = 60  # one report window per simulated minute
PER_WINDOW = 1000  # requests per window, both variants together
MAX_WINDOWS = 60  # per step; still holding then counts as held (never as rolled back)
GUARDS = ("p99_ms <= 1.5 * champion", "error_rate <= champion + 1pp")
RUNS = 200


@dataclass(frozen=True)
class Variant:
    """How a simulated version serves: lognormal latencies, independent errors."""

    median_ms: float = 10.0
    sigma: float = 0.6
    error_rate: float = 0.01


class Traffic:
    """Serving windows of one rollout so far, per variant, as `load_variants` returns them."""

    def __init__(self, rng: np.random.Generator, champion: Variant, challenger: Variant) -> None:
        self.rng, self.kinds = rng, {"champion": champion, "challenger": challenger}
        self.versions = {"champion": "1", "challenger": "2"}
        self.windows: dict[str, list[Window]] = {"champion": [], "challenger": []}

    def window(self, now_ms: int, weight: float) -> None:
        """One report window: the challenger's share of PER_WINDOW requests at `weight`."""
        chal = int(self.rng.binomial(PER_WINDOW, weight))
        for name, n in (("champion", PER_WINDOW - chal), ("challenger", chal)):
            if n:
                self.windows[name].append(self._window(name, n, now_ms))

    def _window(self, name: str, n: int, now_ms: int) -> Window:
        kind = self.kinds[name]
        ms = kind.median_ms * np.exp(kind.sigma * self.rng.standard_normal(n))
        # latency_bucket, vectorised (checked against it on the first value)
        buckets = np.clip(np.floor(np.log2(ms) * 4), -40, 80).astype(int)
        assert buckets[0] == latency_bucket(float(ms[0]))
        keys, counts = np.unique(buckets, return_counts=True)
        values = {f"{LATENCY_HIST_PREFIX}{k}": float(c) for k, c in zip(keys, counts, strict=True)}
        values.update(requests=float(n), errors=float(self.rng.binomial(n, kind.error_rate)))
        step = len(self.windows[name])
        return Window(f"run-{name}", step, now_ms, values, self.versions[name], "sim:1")

    def since(self, since_ms: int) -> dict[str, VariantWindows]:
        out = {}
        for name, wins in self.windows.items():
            shown = [w for w in wins if w.timestamp > since_ms]  # served after it
            if shown:
                out[name] = VariantWindows(
                    name, [f"run-{name}"], {self.versions[name]}, {"sim:1"}, shown
                )
        return out


def simulate(monkeypatch, rng, plan: Plan, challenger: Variant) -> str:
    """One rollout from its first step to promote, rollback or held; the last action."""
    traffic = Traffic(rng, Variant(), challenger)

    def report(client, model, since, metric, gate):  # noqa: ANN001, ANN202
        since_ms = client.now_ms - int(float(since[:-1]) * 1000)
        variants = traffic.since(since_ms)
        if not variants:
            raise NotFound("no windows yet")  # as load_variants says it
        return evaluation.build_report(None, model, "sim", variants, None, metric, gate)

    clock = Clock()
    monkeypatch.setattr(evidence, "evaluate", report)
    monkeypatch.setattr(evidence.time, "time", lambda: clock.now_ms / 1000)
    rollout = Rollout("m", "1", "2", plan.to_json(), RUNNING, 0, plan.weight(0), 0, 0, 0, 0, 0)
    while True:
        start = clock.now_ms
        for _ in range(MAX_WINDOWS):
            clock.now_ms += WINDOW_S * 1000
            traffic.window(clock.now_ms, rollout.weight)
            found = decide(rollout, plan, evidence.judge(clock, rollout, plan), clock.now_ms)
            if found.action in (ROLLBACK, PROMOTE):
                return found.action
            if found.action != HOLD:
                rollout = rollout.changed(**found.changes)
                break
            rollout = rollout.changed(**found.changes)
        if clock.now_ms - start >= MAX_WINDOWS * WINDOW_S * 1000:
            return HOLD


class Clock:
    """The simulation's time; passed as the client the evidence is read through."""

    def __init__(self) -> None:
        self.now_ms = 1_000_000_000


def plan_for(min_requests: int) -> Plan:
    return Plan(
        steps=(10.0, 50.0, 100.0),
        step_interval_s=10 * WINDOW_S,
        min_requests=min_requests,
        guards=GUARDS,
        failure_limit=1,
        alpha=0.05,
        min_sample=100,
    )


def outcomes(monkeypatch, seed: int, challenger: Variant, runs: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    counts = {ROLLBACK: 0, PROMOTE: 0, HOLD: 0}
    for i in range(runs):
        plan = plan_for((20, 100, 500)[i % 3])  # small --min-requests included
        counts[simulate(monkeypatch, rng, plan, challenger)] += 1
    return counts


def test_aa_rollouts_roll_back_at_most_alpha(monkeypatch):
    counts = outcomes(monkeypatch, 20261206, Variant(), RUNS)
    print("A/A:", counts)
    assert counts[ROLLBACK] <= 0.05 * RUNS, counts
    # The guards must also let a healthy challenger through, not only hold it forever.
    assert counts[PROMOTE] >= 0.9 * RUNS, counts


@pytest.mark.parametrize(
    "worse",
    [Variant(median_ms=30.0), Variant(error_rate=0.05)],
    ids=["latency-3x", "errors-5x"],
)
def test_a_worse_challenger_is_rolled_back(monkeypatch, worse):
    counts = outcomes(monkeypatch, 7, worse, 50)
    print(worse, counts)
    assert counts[ROLLBACK] >= 0.95 * 50, counts


def test_start_says_what_each_guard_needs():
    from trk.ab.rollout.cli import needs
    from trk.ab.rollout.quantiles import needed

    plan = plan_for(20)
    alpha = evidence.operational_alpha(plan)
    assert alpha == pytest.approx(0.05 / (2 * 3))  # two guards, three steps
    p99, errors = needs(plan)
    assert f"needs {needed(0.99, alpha / 2)} requests of each variant" in p99
    assert "needs 20 requests of the challenger" in errors and "from 100 of each" in errors
