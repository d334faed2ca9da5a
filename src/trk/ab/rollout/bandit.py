"""Bandit routing: the challenger's share by Thompson sampling on a labelled binary reward.

Each variant's reward (the answer was right) gets a Beta(1 + correct, 1 + wrong) posterior
from the labels the store joined, whichever replica they reached. Thompson sampling routes
each request to a variant with the probability that it is the better one under the posterior
(Thompson 1933; Chapelle and Li, "An Empirical Evaluation of Thompson Sampling", NIPS 2011;
Russo et al., "A Tutorial on Thompson Sampling", 2018, section 6.1 on batched updates). trk
computes that probability once per evaluation and serves it as the split weight, so every
replica routes by the same posterior; `min_share` keeps either variant from starving, which
also keeps every routing probability away from 0 for the inverse-propensity estimates.

The inverse-propensity (Horvitz-Thompson) estimate of a variant's accuracy weighs each
labelled answer by 1 / the probability it had of reaching that variant (logged with every
prediction), so it estimates the accuracy the variant would have on all traffic, not only on
the traffic the bandit chose to send it; the self-normalised form (Hajek) divides by the sum
of the weights instead of the count, trading a small bias for a lower variance.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from trk.ab.propensity import Propensity
from trk.contracts.rollouts import Rollout
from trk.serving_contract import CHALLENGER, CHAMPION

if TYPE_CHECKING:
    from trk.tracking.client import Client

DRAWS = 20_000  # Monte Carlo draws of the posteriors: P(better) to about +-0.004


def p_better(correct_a: int, n_a: int, correct_b: int, n_b: int, draws: int = DRAWS) -> float:
    """P(b's accuracy > a's) under independent Beta(1 + right, 1 + wrong) posteriors.

    Seeded from the counts: the same labels give the same share on every controller.
    """
    seed = int.from_bytes(
        hashlib.blake2b(f"{correct_a}/{n_a}/{correct_b}/{n_b}".encode(), digest_size=8).digest(),
        "big",
    )
    rng = np.random.default_rng(seed)
    a = rng.beta(1 + correct_a, 1 + n_a - correct_a, draws)
    b = rng.beta(1 + correct_b, 1 + n_b - correct_b, draws)
    return float(np.mean(b > a))


def thompson_share(correct_a: int, n_a: int, correct_b: int, n_b: int, min_share: float) -> float:
    """The challenger's (b's) share: P(b is better), kept within [min_share, 1 - min_share]."""
    share = p_better(correct_a, n_a, correct_b, n_b)
    return float(min(max(share, min_share), 1.0 - min_share))


def _labels_since(created_ms: int) -> float:
    import time

    return max(time.time() - created_ms / 1000.0, 1.0)


def counts(client: Client, rollout: Rollout) -> tuple[int, int, int, int]:
    """(correct, labelled) of the champion's version, then of the challenger's, since the
    rollout began, from the store's join of every replica's answers and labels."""
    from trk.ab.joined import joined_counts

    by = {
        (c.variant, c.version): c
        for c in joined_counts(client, rollout.model, _labels_since(rollout.created_ms))
    }
    a = by.get((CHAMPION, rollout.champion_version))
    b = by.get((CHALLENGER, rollout.challenger_version))
    return (
        a.correct if a else 0,
        a.labelled if a else 0,
        b.correct if b else 0,
        b.labelled if b else 0,
    )


def summary(client: Client, rollout: Rollout) -> list[dict[str, Any]]:
    """Per variant: labels, raw accuracy, P(better), and the inverse-propensity estimates."""
    log = getattr(getattr(client, "store", None), "predictions", None)
    since_ms = rollout.created_ms
    rows = log.propensity(rollout.model, since_ms) if log is not None else []
    wanted = {CHAMPION: rollout.champion_version, CHALLENGER: rollout.challenger_version}
    props = [
        Propensity(r["variant"], r["labelled"], r["inverse_sum"], r["correct_inverse_sum"])
        for r in rows
        if wanted.get(r["variant"]) == r["version"]
    ]
    total = sum(p.labelled for p in props)
    ca, na, cb, nb = counts(client, rollout)
    better = p_better(ca, na, cb, nb)
    out = []
    for p in props:
        correct, n = (ca, na) if p.variant == CHAMPION else (cb, nb)
        out.append(
            {
                "variant": p.variant,
                "labelled": p.labelled,
                "accuracy": correct / n if n else None,
                "p_better": better if p.variant == CHALLENGER else 1.0 - better,
                "ips_accuracy": p.ips(total),
                "snips_accuracy": p.snips,
            }
        )
    return out
