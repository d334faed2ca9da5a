"""The bounded prediction store and the label join."""

from __future__ import annotations

import numpy as np
import pytest

from trk.exceptions import BadRequest
from trk.serving.online.feedback import FeedbackStore

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_classifier_accuracy_per_variant():
    fb = FeedbackStore()
    fb.record("a", "champion", np.array([1]))
    fb.record("b", "challenger", np.array([2, 0]))
    res = fb.submit([{"request_id": "a", "label": 1}, {"request_id": "b", "label": [2, 1]}])
    assert res.joined == 2 and res.labelled == {"champion": 1, "challenger": 2}
    c = fb.counters()
    assert (c["champion"]["labelled"], c["champion"]["correct"]) == (1, 1)
    assert (c["challenger"]["labelled"], c["challenger"]["correct"]) == (2, 1)
    assert len(fb) == 0  # labelled entries free their memory


def test_shadow_label_joins_both_variants_and_string_classes():
    fb = FeedbackStore()
    fb.record("r", "champion", ["setosa"])
    fb.record("r", "challenger", np.array(["virginica"]))
    fb.submit({"request_id": "r", "label": "setosa"})
    c = fb.counters()
    assert c["champion"]["correct"] == 1 and c["challenger"]["correct"] == 0
    assert c["challenger"]["labelled"] == 1


def test_regressor_errors():
    fb = FeedbackStore()
    fb.record("r", "champion", np.array([[1.5], [3.0]]))
    fb.submit({"request_id": "r", "label": [1.0, 5]})
    c = fb.counters()["champion"]
    assert c["abs_error_sum"] == pytest.approx(2.5)
    assert c["sq_error_sum"] == pytest.approx(0.25 + 4.0)


def test_unknown_expired_and_duplicate_are_counted_not_errors():
    clock = Clock()
    fb = FeedbackStore(capacity=2, ttl_s=10, clock=clock)
    fb.record("old", "champion", [1])
    clock.now = 11
    fb.record("x", "champion", [1])
    fb.record("y", "champion", [1])
    fb.record("z", "champion", [1])  # pushes x out by capacity
    res = fb.submit(
        [
            {"request_id": "old", "label": 1},
            {"request_id": "x", "label": 1},
            {"request_id": "never", "label": 1},
            {"request_id": "y", "label": 1},
            {"request_id": "y", "label": 1},
        ]
    )
    assert (res.joined, res.expired, res.unknown, res.duplicate) == (1, 2, 1, 1)
    assert fb.submit({"request_id": "y", "label": 0}).duplicate == 1
    assert fb.totals() == {"joined": 1, "unknown": 1, "expired": 2, "duplicate": 2}
    assert len(fb) == 1


@pytest.mark.parametrize(
    "preds,label,match",
    [
        ([1], "one", "must be an integer"),
        (["a"], 3, "must be a string"),
        ([1], 1.5, "not a whole number"),
        (np.array([0.5]), "x", "finite number"),
        (np.array([0.5]), True, "finite number"),
        ([1, 2], 1, "1 label\\(s\\) for a request of 2 row\\(s\\)"),
        (np.zeros((2, 3)), [1, 2], "2-D predictions"),
    ],
)
def test_wrong_label_is_bad_request_and_nothing_counted(preds, label, match):
    fb = FeedbackStore()
    fb.record("ok", "champion", [1])
    fb.record("r", "champion", preds)
    with pytest.raises(BadRequest, match=match):
        fb.submit([{"request_id": "ok", "label": 1}, {"request_id": "r", "label": label}])
    assert fb.counters() == {} and len(fb) == 2  # the good item was not applied either


@pytest.mark.parametrize(
    "payload,match",
    [
        ([], "empty"),
        ({"label": 1}, "request_id and label"),
        ({"request_id": 5, "label": 1}, "non-empty string"),
        ([{"request_id": str(i), "label": 1} for i in range(4)], "over the limit of 3"),
    ],
)
def test_malformed_payloads(payload, match):
    with pytest.raises(BadRequest, match=match):
        FeedbackStore(max_batch=3).submit(payload)


def test_shadow_labels_count_the_paired_table_on_the_challenger():
    fb = FeedbackStore()
    fb.record("r", "champion", np.array([0, 1, 2, 2]))
    fb.record("r", "challenger", np.array([0, 2, 1, 2]))
    fb.record("s", "champion", np.array([1.5]))  # a regressor's answer has no pair
    fb.record("s", "challenger", np.array([1.0]))
    fb.submit([{"request_id": "r", "label": [0, 1, 1, 0]}, {"request_id": "s", "label": 1.0}])
    c = fb.counters()["challenger"]
    # rows: both right, champion only, challenger only, both wrong
    assert (c["paired_labelled"], c["paired_both"]) == (4, 1)
    assert (c["paired_champion_only"], c["paired_challenger_only"]) == (1, 1)
    assert "paired_labelled" not in fb.counters()["champion"]


@pytest.mark.parametrize(
    ("answer", "label", "counts"),
    [  # (labelled, correct, abs_error_sum) as the answer's own array would join
        (np.array([1]), 1, (1, 1, 0.0)),
        (np.array([[2]], dtype=np.int32), 3, (1, 0, 0.0)),
        (np.array([True]), 1, (1, 1, 0.0)),
        (np.array(["setosa"]), "setosa", (1, 1, 0.0)),
        (np.array([2**64 - 1], dtype=np.uint64), 2**64 - 1, (1, 1, 0.0)),
        (np.array([1.5], dtype=np.float32), 1.0, (1, 0, 0.5)),
        (np.array([[2.5]]), 2.0, (1, 0, 0.5)),
    ],
)
def test_one_value_answers_join_as_their_arrays_do(answer, label, counts):
    # Kept as plain values (feedback.kept): the join must not see the difference.
    fb = FeedbackStore()
    fb.record("r", "champion", answer)
    fb.record("r", "challenger", answer)  # and beside a shadow's copy
    assert fb.submit({"request_id": "r", "label": label}).joined == 1
    for variant in ("champion", "challenger"):
        c = fb.counters()[variant]
        assert (c["labelled"], c["correct"], c["abs_error_sum"]) == pytest.approx(counts)


def test_a_three_dimensional_one_value_answer_is_still_refused_by_the_join():
    fb = FeedbackStore()
    fb.record("r", "champion", np.array([[[1]]]))
    with pytest.raises(BadRequest, match="3-D predictions"):
        fb.submit({"request_id": "r", "label": 1})


def test_a_challenger_answering_alone_is_joined_as_the_challenger():
    fb = FeedbackStore()
    fb.record("r", "challenger", np.array([1]))
    fb.submit({"request_id": "r", "label": 1})
    assert set(fb.counters()) == {"challenger"}


def test_a_kept_request_costs_under_550_bytes_at_capacity():
    # ~760 bytes each with an entry object, a dict and the answer's array per request
    # (75 MB at the default 100,000); ~460 kept as (time, plain value) tuples.
    import tracemalloc

    from trk.serving.online import feedback
    from trk.serving.online.records import Batch, Record

    n = 10_000
    fb = FeedbackStore(capacity=n)
    tracemalloc.start()
    try:
        for batch in range(2 * n // 100):  # twice the capacity: the expired ids are full too
            fb.fold(
                Batch(
                    Record(
                        f"{batch:08x}{i:024x}",
                        0.0,
                        "champion",
                        "1",
                        "m",
                        1.0,
                        200,
                        0.001,
                        np.array([i % 3]),
                    )
                    for i in range(100)
                )
            )
        # what this test and the store allocated (not another thread of the test process)
        where = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, feedback.__file__)]
        held = sum(
            s.size for s in tracemalloc.take_snapshot().filter_traces(where).statistics("filename")
        )
    finally:
        tracemalloc.stop()
    assert len(fb) == n
    assert held / n < 550


def test_kept_requests_of_both_variants_leave_the_collectors_reach():
    """Each full collection walks every object the collector tracks: 100,000 shadowed
    requests kept as dicts made shadow mode's full collections 40-80 ms long."""
    import gc

    from trk.serving.online.records import Batch, Record

    fb = FeedbackStore()
    for variant in ("champion", "challenger"):  # the shadow's answer adds to the champion's
        fb.fold(
            Batch(
                Record(f"r{i}", 0.0, variant, "1", "m", 1.0, 200, None, np.array([i % 3]))
                for i in range(1000)
            )
        )
    fb.record("split", "challenger", np.array([2]))  # a challenger answering alone
    gc.collect()
    entries = list(fb._entries.values())
    assert [e for e in entries if gc.is_tracked(e)] == []
    assert entries[0][1:] == ("champion", 0, "challenger", 0)  # both answers kept
    fb.submit([{"request_id": "r1", "label": 1}, {"request_id": "split", "label": 2}])
    c = fb.counters()
    assert (c["champion"]["correct"], c["challenger"]["correct"]) == (1, 2)
