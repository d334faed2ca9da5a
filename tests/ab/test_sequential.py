"""The always-valid gate, checked by simulation with enough experiments that luck cannot pass.

Each simulation runs the gate's own vectorised functions (trk.ab.differences and
trk.ab.sequential) over 2,000 experiments x 100 looks; the fixed-horizon gate runs
trk.ab.stats.two_proportion_ztest, the test `--method fixed` uses, at every look.
Monte Carlo standard error of a rate near 5% over 2,000 experiments is ~0.5 points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trk.ab import differences, sequential, stats
from trk.exceptions import InvalidParameter

pytestmark = pytest.mark.unit

ALPHA, POWER, HORIZON, MIN_SAMPLE = 0.05, 0.8, 5000, 100
EXPERIMENTS, LOOKS = 2000, 100


def mc_error(rate: float) -> float:
    """Three Monte Carlo standard errors of a rate estimated from EXPERIMENTS runs."""
    return 3 * math.sqrt(rate * (1 - rate) / EXPERIMENTS)


def looks_up_to(n: int) -> np.ndarray:
    return np.linspace(n / LOOKS, n, LOOKS).round().astype(int)


def split_experiments(rng, p_a: float, p_b: float, looks: np.ndarray):
    """Cumulative correct counts per look (shape EXPERIMENTS x LOOKS) for both variants."""
    inc = np.diff(looks, prepend=0)
    s_a = rng.binomial(inc, p_a, (EXPERIMENTS, LOOKS)).cumsum(axis=1)
    s_b = rng.binomial(inc, p_b, (EXPERIMENTS, LOOKS)).cumsum(axis=1)
    return s_a, s_b


def sequential_gate(diff: differences.Difference, horizon: float = HORIZON):
    return sequential.confidence_sequence(
        diff.estimate, diff.se, diff.n, diff.n_min, ALPHA, horizon, MIN_SAMPLE
    )


@pytest.mark.parametrize("p", [0.5, 0.9])
def test_aa_sequential_gate_stays_under_alpha_and_fixed_does_not(p):
    rng = np.random.default_rng(15)
    looks = looks_up_to(2000)
    s_a, s_b = split_experiments(rng, p, p, looks)
    cs = sequential_gate(differences.unpaired(s_a, looks, s_b, looks))
    declared = cs.significant(ALPHA)
    false_promotion = (declared & (cs.low > 0)).any(axis=1).mean()
    any_difference = declared.any(axis=1).mean()
    assert any_difference <= ALPHA + mc_error(ALPHA), any_difference
    assert false_promotion <= ALPHA / 2 + mc_error(ALPHA / 2), false_promotion
    # The same experiments under the fixed-horizon z-test re-run at every look.
    fixed = np.array(
        [
            [
                stats.two_proportion_ztest(int(a), int(n), int(b), int(n))[1] < ALPHA
                for a, b, n in zip(ra, rb, looks, strict=True)
            ]
            for ra, rb in zip(s_a, s_b, strict=True)
        ]
    )
    fixed_rate = fixed.any(axis=1).mean()
    assert fixed_rate > 0.25, fixed_rate  # the issue's ~37%: five times alpha and more
    assert fixed[:, -1].mean() <= ALPHA + mc_error(ALPHA)  # one look alone is fine


def test_sequence_covers_the_true_difference_at_every_look_at_once():
    rng = np.random.default_rng(3)
    looks = looks_up_to(3000)
    s_a, s_b = split_experiments(rng, 0.80, 0.85, looks)
    cs = sequential_gate(differences.unpaired(s_a, looks, s_b, looks))
    ever_missed = ((cs.low > 0.05) | (cs.high < 0.05)).any(axis=1).mean()
    assert ever_missed <= ALPHA + mc_error(ALPHA), ever_missed


def test_three_point_difference_is_detected_at_the_stated_power():
    p_a, p_b = 0.85, 0.88
    sd = math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    n = sequential.labels_needed(p_b - p_a, sd, ALPHA, POWER, HORIZON)
    assert 3000 < n < 5000  # ~1.9x the fixed-horizon 2,036: the price of looking any time
    rng = np.random.default_rng(7)
    looks = looks_up_to(n)
    s_a, s_b = split_experiments(rng, p_a, p_b, looks)
    diff = differences.unpaired(s_a, looks, s_b, looks)
    cs = sequential_gate(diff)
    detected = cs.significant(ALPHA) & (cs.low > 0)
    # A single look at n: the power the sample size promises, within Monte Carlo error.
    once = sequential.confidence_sequence(
        diff.estimate[:, -1:], diff.se[:, -1:], n, n, ALPHA, HORIZON, MIN_SAMPLE
    )
    assert abs((once.low > 0).mean() - POWER) <= mc_error(POWER), (once.low > 0).mean()
    # Watching all the way there only adds chances to stop early.
    assert detected.any(axis=1).mean() >= POWER - mc_error(POWER)
    # And the fixed-horizon sample size delivers its power with one look at its own n.
    n_fixed = stats.sample_size_two_proportions(p_a, p_b, ALPHA, POWER)
    assert n_fixed is not None and n_fixed < n
    a = rng.binomial(n_fixed, p_a, EXPERIMENTS)
    b = rng.binomial(n_fixed, p_b, EXPERIMENTS)
    hits = np.mean(
        [
            stats.two_proportion_ztest(int(x), n_fixed, int(y), n_fixed)[1] < ALPHA and y > x
            for x, y in zip(a, b, strict=True)
        ]
    )
    assert abs(hits - POWER) <= mc_error(POWER), hits


# Shadow mode: both answer the same requests and mostly agree (83% both right, 10% neither).
BOTH, CHAMP_ONLY, CHAL_ONLY = 0.83, 0.02, 0.05


def shadow_experiments(rng, looks: np.ndarray):
    inc = np.diff(looks, prepend=0)
    probs = [BOTH, CHAMP_ONLY, CHAL_ONLY, 1 - BOTH - CHAMP_ONLY - CHAL_ONLY]
    cells = np.stack([rng.multinomial(i, probs, size=EXPERIMENTS) for i in inc], axis=1)
    cum = cells.cumsum(axis=1)
    return cum[..., 0], cum[..., 1], cum[..., 2]


def test_paired_needs_a_third_of_the_labels_on_correlated_shadow_data():
    effect = CHAL_ONLY - CHAMP_ONLY  # 88% vs 85%: the same three points
    sd_paired = math.sqrt(CHAMP_ONLY + CHAL_ONLY - effect**2)
    sd_unpaired = math.sqrt(0.85 * 0.15 + 0.88 * 0.12)
    n_paired = sequential.labels_needed(effect, sd_paired, ALPHA, POWER, HORIZON)
    n_unpaired = sequential.labels_needed(effect, sd_unpaired, ALPHA, POWER, HORIZON)
    assert n_paired * 2.5 < n_unpaired, (n_paired, n_unpaired)
    rng = np.random.default_rng(11)
    looks = looks_up_to(n_paired)
    both, b, c = shadow_experiments(rng, looks)
    pairs = np.broadcast_to(looks, both.shape)
    cs = sequential_gate(differences.paired(pairs, b, c))
    paired_power = (cs.significant(ALPHA) & (cs.low > 0)).any(axis=1).mean()
    assert paired_power >= POWER - mc_error(POWER), paired_power
    # The same data tested as if independent: the unpaired gate rarely sees it yet.
    cs_u = sequential_gate(differences.unpaired(both + b, pairs, both + c, pairs))
    unpaired_power = (cs_u.significant(ALPHA) & (cs_u.low > 0)).any(axis=1).mean()
    assert unpaired_power < 0.3, unpaired_power
    # Paired A/A (equal discordance) stays under alpha too.
    null = sequential_gate(differences.paired(pairs, b, b))
    assert null.significant(ALPHA).any(axis=1).mean() <= ALPHA + mc_error(ALPHA)


def test_p_value_and_sequence_agree():
    est = np.array([0.0, 0.01, 0.02, 0.05, -0.05])
    se = np.full(5, 0.01)
    n = np.full(5, 1000)
    half = se * sequential.boundary(n, ALPHA, HORIZON)
    p = sequential.always_valid_p(est, se, n, ALPHA, HORIZON)
    assert list(p < ALPHA) == list(np.abs(est) > half)
    assert p[0] == 1.0 and np.all(np.diff(p[:4]) <= 0)
    # Wider than the fixed interval at every n, tightest (relative to it) near the horizon.
    ratio = sequential.boundary([100, HORIZON, 100 * HORIZON], ALPHA, HORIZON) / stats.z_for(ALPHA)
    assert np.all(ratio > 1) and ratio[1] < ratio[0] and ratio[1] < ratio[2]


def test_looks_with_an_empty_side_count_for_nothing():
    diff = differences.unpaired([0, 5, 90], [0, 10, 100], [3, 9, 95], [3, 10, 100])
    cs = sequential_gate(diff)
    assert list(cs.p_value) == [1.0, 1.0, cs.p_value[-1]] and cs.low[1] == -np.inf
    assert np.isfinite(cs.low[-1]) and np.isfinite(cs.high[-1])


def test_minimum_sample_holds_back_any_verdict():
    cs = sequential.confidence_sequence(
        [0.5, 0.5], [0.01, 0.01], [50, 99], [50, 99], ALPHA, HORIZON, MIN_SAMPLE
    )
    assert not cs.significant(ALPHA).any() and np.all(cs.p_value == 1.0)


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf")])
def test_bad_horizon_refused(bad):
    with pytest.raises(InvalidParameter):
        sequential.rho2(ALPHA, bad)


def test_no_errors_on_either_side_is_not_a_zero_width_sequence():
    # 0 of 3000 vs 0 of 3000: the interval must still have width (Agresti-Caffo variance).
    cs = sequential_gate(differences.unpaired([0], [3000], [0], [3000]))
    assert cs.low[0] < 0 < cs.high[0] and cs.p_value[0] == 1.0
    cs = sequential_gate(differences.paired([3000], [0], [0]))
    assert cs.low[0] < 0 < cs.high[0]
