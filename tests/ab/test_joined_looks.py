"""Looks from the store's join: labels in arrival order, cumulated per version."""

from __future__ import annotations

import pytest

from trk.ab.arms import Pair
from trk.ab.joined import outcome_looks, paired_looks
from trk.ab.windows import VariantWindows
from trk.contracts.predictions import Outcome, PairedCounts, PairedOutcome

pytestmark = pytest.mark.unit


def test_outcome_looks_add_a_last_look_when_the_outcome_query_was_capped():
    base, cand = (
        VariantWindows("champion", versions={"1"}),
        VariantWindows("challenger", versions={"2"}),
    )
    base.joined = {"labelled": 500.0, "correct": 450.0}  # the join counts more than was read
    cand.joined = {"labelled": 500.0, "correct": 470.0}
    rows = [
        Outcome("champion", "1", 10, True, None),
        Outcome("challenger", "2", 10, False, None),
        Outcome("champion", "1", 20, False, None),
        Outcome("challenger", "2", 20, True, None),
    ]
    keys = (("champion", "1"), ("challenger", "2"))
    lk = outcome_looks(rows, keys, Pair(base, cand))
    assert lk is not None
    assert list(lk.n_a) == [1, 2, 500] and list(lk.s_a) == [1, 1, 450]
    assert list(lk.n_b) == [1, 2, 500] and list(lk.s_b) == [0, 1, 470]
    assert list(lk.times[:2]) == [10, 20] and lk.times[2] > 20
    # Whole: no extra look.
    base.joined, cand.joined = {"labelled": 2.0, "correct": 1.0}, {"labelled": 2.0, "correct": 1.0}
    assert len(outcome_looks(rows, keys, Pair(base, cand)).times) == 2


def test_paired_looks_cumulate_the_shadow_table_in_label_order():
    rows = [
        PairedOutcome("1", "2", 10, True, True),
        PairedOutcome("1", "2", 10, True, False),
        PairedOutcome("1", "2", 20, False, True),
        PairedOutcome("1", "2", 30, False, False),
    ]
    whole = PairedCounts("1", "2", both_correct=1, champion_only=1, challenger_only=1, neither=1)
    lk = paired_looks(rows, whole)
    assert list(lk.times) == [10, 20, 30] and list(lk.pairs) == [2, 3, 4]
    assert (list(lk.both), list(lk.champion_only), list(lk.challenger_only)) == (
        [1, 1, 1],
        [1, 1, 1],
        [0, 1, 1],
    )
    # The history was capped (or more labels came meanwhile): the table's totals, now.
    more = PairedCounts("1", "2", both_correct=40, champion_only=5, challenger_only=9, neither=6)
    lk = paired_looks(rows, more)
    assert list(lk.pairs) == [2, 3, 4, 60] and lk.challenger_only[-1] == 9 and lk.times[-1] > 30
    assert list(paired_looks([], more).pairs) == [60]
