"""PSI against a reference profile, checked against the formula computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trk.ab.drift import DriftTally, level, psi, psi_metric
from trk.models.profile import build_profile

pytestmark = pytest.mark.unit


def _psi_by_hand(served, edges, reference):
    bins = [-np.inf, *edges, np.inf]
    p = np.array(
        [np.sum((served > lo) & (served <= hi)) for lo, hi in zip(bins, bins[1:], strict=False)]
    )
    p = p / p.sum() + 1e-4
    q = np.asarray(reference) + 1e-4
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((p - q) * np.log(p / q)))


def test_psi_is_zero_for_the_reference_itself_and_matches_the_formula():
    rng = np.random.default_rng(7)
    train = rng.normal(size=5000)
    profile = build_profile(pd.DataFrame({"x": train}))
    bins = profile.feature("x")
    assert psi(bins.counts(train), bins.fractions) == pytest.approx(0, abs=1e-9)
    shifted = rng.normal(loc=1.0, size=600)
    expected = _psi_by_hand(shifted, bins.edges, bins.fractions)
    assert psi(bins.counts(shifted), bins.fractions) == pytest.approx(expected, rel=1e-9)
    assert expected > 0.25


def test_same_distribution_stays_under_watch_in_repeated_samples():
    rng = np.random.default_rng(3)
    profile = build_profile(pd.DataFrame({"x": rng.normal(size=20_000)}))
    bins = profile.feature("x")
    values = [psi(bins.counts(rng.normal(size=600)), bins.fractions) for _ in range(500)]
    # 10 bins, 600 rows: PSI ~ chi2(9) / 600, whose 99.9th percentile is ~0.046
    assert max(values) < 0.1


def test_tally_adds_windows_exactly_and_reports_rows():
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.choice(["x", "y"], 2000)})
    profile = build_profile(train)
    whole, parts = DriftTally(profile), DriftTally(profile)
    batch = pd.DataFrame({"a": rng.normal(0.5, size=300), "b": rng.choice(["x", "z"], 300)})
    whole.add({c: batch[c].to_numpy() for c in batch})
    for half in (batch.iloc[:100], batch.iloc[100:]):
        parts.add({c: half[c].to_numpy() for c in half})
    assert whole.psi("a") == parts.psi("a") and whole.rows("b") == parts.rows("b") == 300
    metrics = whole.metrics()
    assert metrics[psi_metric("a")] == whole.psi("a") and metrics["drift_rows_a"] == 300
    summary = {row["feature"]: row for row in whole.summary(min_rows=200)}
    assert summary["a"]["enough_data"] and summary["b"]["level"] == level(whole.psi("b"))
    assert DriftTally(profile).summary()[0]["level"] == "not enough data"


def test_served_inputs_become_columns_whatever_form_the_decoder_gave():
    from trk.serving.online.drift import _columns

    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    got = _columns([frame, {"a": np.array([3.0]), "b": np.array(["z"])}], None)
    assert list(got["a"]) == [1.0, 2.0, 3.0] and list(got["b"]) == ["x", "y", "z"]
    arrays = [np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [5.0, 6.0]])]
    got = _columns(arrays, ["a", "b"])
    assert list(got["a"]) == [1.0, 3.0, 5.0] and list(got["b"]) == [2.0, 4.0, 6.0]
    assert list(_columns(arrays, None)) == ["0", "1"]  # unnamed signature: positions
