"""Bandit rollouts: a simulation of Thompson sampling on labelled rewards (numpy, many
repetitions, so luck cannot pass it), the inverse-propensity estimates, and a bandit rollout
rebalanced by `trk rollout step` from labels in a real sqlite store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ab_serving import NoisyThreshold
from rollout_helpers import register

from trk.ab.rollout.bandit import Propensity, thompson_share
from trk.contracts.predictions import PredictionRecord
from trk.tracking.client import Client

pytestmark = pytest.mark.unit

MIN_SHARE = 0.05


def simulate(
    p_champion: float, p_challenger: float, sims: int, rounds: int, per_round: int, seed: int
) -> tuple[np.ndarray, list[list[Propensity]]]:
    """Shares over rounds per simulation, and each simulation's propensity sums per arm."""
    rng = np.random.default_rng(seed)
    shares = np.empty((sims, rounds + 1))
    props = []
    for s in range(sims):
        share, counts = 0.5, np.zeros(4, dtype=np.int64)  # correct_a, n_a, correct_b, n_b
        inv = np.zeros((2, 2))  # per arm: sum 1/p, sum correct/p
        shares[s, 0] = share
        for r in range(rounds):
            to_b = rng.random(per_round) < share
            right = rng.random(per_round) < np.where(to_b, p_challenger, p_champion)
            counts += [np.sum(right & ~to_b), np.sum(~to_b), np.sum(right & to_b), np.sum(to_b)]
            for arm, mask, p in ((0, ~to_b, 1 - share), (1, to_b, share)):
                inv[arm] += [mask.sum() / p, (mask & right).sum() / p]
            share = thompson_share(*(int(c) for c in counts), MIN_SHARE)
            shares[s, r + 1] = share
        props.append(
            [
                Propensity(v, 0, inv[i, 0], inv[i, 1])
                for i, v in enumerate(("champion", "challenger"))
            ]
        )
    return shares, props


def test_traffic_shifts_to_the_better_arm_and_the_floor_holds():
    better, _ = simulate(0.70, 0.80, sims=60, rounds=12, per_round=250, seed=11)
    worse, _ = simulate(0.80, 0.70, sims=60, rounds=12, per_round=250, seed=12)
    for shares in (better, worse):
        assert shares.min() >= MIN_SHARE and shares.max() <= 1 - MIN_SHARE  # never starved
    # After 3,000 labels a 10-point gap is clear: traffic follows the better arm ...
    assert better[:, -1].mean() > 0.9 and (better[:, -1] > 0.5).mean() >= 0.97
    assert worse[:, -1].mean() < 0.1 and (worse[:, -1] < 0.5).mean() >= 0.97
    # ... and stops at the floor: the worse arm keeps its 5%.
    assert np.isclose(better[:, -1], 1 - MIN_SHARE).mean() > 0.8
    assert np.isclose(worse[:, -1], MIN_SHARE).mean() > 0.8


def test_equal_arms_keep_sharing_traffic():
    shares, _ = simulate(0.75, 0.75, sims=60, rounds=12, per_round=250, seed=13)
    assert 0.35 < shares[:, -1].mean() < 0.65  # probability matching: no arm is favoured


def test_inverse_propensity_estimates_recover_each_arm_s_accuracy():
    _, props = simulate(0.70, 0.80, sims=80, rounds=12, per_round=250, seed=14)
    total = 12 * 250
    ht = np.array([[p.ips(total) for p in arms] for arms in props])
    sn = np.array([[p.snips for p in arms] for arms in props])
    # Horvitz-Thompson is unbiased for each arm's accuracy on all traffic, although the bandit
    # sent the worse arm ever less of it; the self-normalised form is close and steadier.
    assert abs(ht[:, 0].mean() - 0.70) < 0.02 and abs(ht[:, 1].mean() - 0.80) < 0.02
    assert abs(sn[:, 0].mean() - 0.70) < 0.02 and abs(sn[:, 1].mean() - 0.80) < 0.01
    assert sn[:, 0].std() < ht[:, 0].std()


@pytest.fixture
def client(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    monkeypatch.setenv("TRK_TRACKING_URI", uri)
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    register(uri, "b", [NoisyThreshold(0.3), NoisyThreshold(0.1)])
    c = Client(uri)
    c.set_registered_model_alias("b", "champion", 1)
    c.set_registered_model_alias("b", "challenger", 2)
    return c


def cli(*args: str) -> str:
    from click.testing import CliRunner

    from trk.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_bandit_rollout_rebalances_from_the_shared_labels(client):
    # No guards here: they read serving windows, and no replica runs in this test.
    cli("rollout", "start", "b", "--mode", "bandit", "--min-share", "0.05", "--step-interval", "1s")
    started = client.store.rollouts.get("b")
    assert started.weight == 0.5
    # What replicas log: each answer with the probability its variant had (0.5 each), labels.
    rng = np.random.default_rng(3)
    now = started.created_ms + 1
    records, labels = [], []
    for i in range(400):
        variant, version, p_right = ("challenger", "2", 0.9) if i % 2 else ("champion", "1", 0.7)
        right = rng.random() < p_right
        records.append(
            PredictionRecord(f"r{i}", 0, variant, version, "1" if right else "0", None, 0.5, now)
        )
        labels.append({"request_id": f"r{i}", "label": 1})
    client.store.predictions.log_predictions("b", records)
    client.store.predictions.log_labels("b", labels)
    import time

    time.sleep(1.1)  # the step interval
    out = cli("rollout", "step", "b")
    assert "rebalance" in out, out
    after = client.store.rollouts.get("b")
    assert after.weight == 0.95  # P(challenger better) ~ 1, kept under 1 - min share
    found = json.loads(cli("rollout", "status", "b", "--json"))
    arms = {a["variant"]: a for a in found["bandit"]}
    assert arms["challenger"]["p_better"] > 0.99
    assert abs(arms["challenger"]["snips_accuracy"] - arms["challenger"]["accuracy"]) < 1e-9
    assert abs(arms["champion"]["ips_accuracy"] - 0.7) < 0.1
    assert "IPS accuracy" in cli("rollout", "status", "b")
