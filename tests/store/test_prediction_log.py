"""The prediction log and labels on sqlite and PostgreSQL: writes are idempotent, the join
counts each labelled row exactly once whatever the order of arrival, prune deletes by age."""

from __future__ import annotations

import time

import pytest

from trk.contracts.predictions import PredictionRecord
from trk.exceptions import InvalidParameter, NotFound, TooManyRequests, WrittenOnce


def rec(rid, variant, predicted, version="1", row=0, value=None, ts=1_000):
    return PredictionRecord(rid, row, variant, version, predicted, value, 1.0, ts)


def test_label_before_prediction_is_pending_then_joined_once(store):
    log = store.predictions
    # Labels first: the predictions are flushed later (another replica, a slow queue).
    done = log.log_labels("m", [{"request_id": f"r{i}", "label": i % 2} for i in range(10)])
    assert (done.joined, done.pending) == (0, 10)
    assert log.joined("m") == []  # pending labels are never counted
    batch = [rec(f"r{i}", "champion", str(1 - i % 2 if i < 3 else i % 2)) for i in range(10)]
    batch += [rec(f"r{i}", "challenger", str(i % 2), version="2") for i in range(10)]
    log.log_predictions("m", batch)
    log.log_predictions("m", batch)  # resent after a timeout that did commit
    by = {(c.variant, c.version): c for c in log.joined("m")}
    assert (by["champion", "1"].labelled, by["champion", "1"].correct) == (10, 7)
    assert (by["challenger", "2"].labelled, by["challenger", "2"].correct) == (10, 10)
    assert by["champion", "1"].logged == 10
    assert log.joined("other") == []


def test_the_first_label_wins_and_a_second_changes_nothing(store, counts):
    log = store.predictions
    log.log_predictions("m", [rec("r0", "champion", "1"), rec("r1", "champion", "1")])
    assert log.log_labels("m", [{"request_id": "r0", "label": 1}]).joined == 1
    before = counts(store)
    for again in (
        [{"request_id": "r0", "label": 0}],  # another label for r0
        [{"request_id": "r1", "label": 0}, {"request_id": "r0", "label": 1}],
        [{"request_id": "r1", "label": 0}, {"request_id": "r1", "label": 1}],
    ):
        with pytest.raises(WrittenOnce, match="written once") as info:
            log.log_labels("m", again)
        assert int(info.value.status) == 409
        assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert counts(store) == before  # r1 was not written either
    (c,) = log.joined("m")
    assert (c.labelled, c.correct, c.corrected) == (1, 1, 0)
    # A pending label is a first label too.
    log.log_labels("m", [{"request_id": "later", "label": 1}])
    with pytest.raises(WrittenOnce):
        log.log_labels("m", [{"request_id": "later", "label": 0}])


def test_a_correction_replaces_the_label_and_keeps_the_old_one(store):
    from sqlalchemy import text

    log = store.predictions
    log.log_predictions("m", [rec("r0", "champion", "1"), rec("r1", "champion", "1")])
    log.log_labels("m", [{"request_id": "r0", "label": 0}, {"request_id": "r1", "label": 1}])
    assert log.correct_labels("m", [{"request_id": "r0", "label": 1}], actor="ann") == 1
    (c,) = log.joined("m")
    assert (c.labelled, c.correct, c.corrected) == (2, 2, 1)
    with store._engine.connect() as conn:
        kept = conn.execute(
            text(
                'SELECT request_id, "row", old_label, label, actor, timestamp_ms > 0 '
                "FROM label_corrections"
            )
        ).all()
    assert [tuple(k) for k in kept] == [("r0", 0, "0", "1", "ann", True)]
    with pytest.raises(NotFound, match="label them first"):
        log.correct_labels("m", [{"request_id": "nobody", "label": 1}])


def test_pending_labels_are_bounded_and_expire(store, monkeypatch):
    from trk.store import prediction_log
    from trk.store.prediction_labels import LabelLimits
    from trk.store.prediction_log import SqlPredictionLog

    # The log's clock, stepped by the test: with a real one and a 50 ms time to live, a busy
    # machine let the first labels expire before the bound was tried.
    clock = [1_700_000_000_000]
    monkeypatch.setattr(prediction_log, "now_ms", lambda: clock[0])
    log = SqlPredictionLog(store._engine, LabelLimits(ttl_s=60, max_pending=3))
    assert log.log_labels("m", [{"request_id": f"p{i}", "label": 1} for i in range(3)]).pending == 3
    with pytest.raises(TooManyRequests, match="at most 3") as info:
        log.log_labels("m", [{"request_id": "p3", "label": 1}])
    assert int(info.value.status) == 429
    assert log.log_labels("other", [{"request_id": "p3", "label": 1}]).pending == 1  # per model
    clock[0] += 60_001  # past the time to live
    done = log.log_labels("m", [{"request_id": "p4", "label": 1}])
    assert (done.pending, done.expired) == (1, 3)
    # An expired label never joins, though its prediction arrives now.
    log.log_predictions("m", [rec("p0", "champion", "1")])
    assert [c.labelled for c in log.joined("m")] == [0]


def test_classes_join_across_spellings_and_regressors_sum_errors(store):
    log = store.predictions
    log.log_predictions(
        "m",
        [
            rec("a", "champion", "1"),
            rec("b", "champion", "setosa"),
            rec("c", "champion", None, value=2.5),
            rec("c", "champion", None, value=1.0, row=1),
        ],
    )
    log.log_labels(
        "m",
        [
            {"request_id": "a", "label": 1.0},
            {"request_id": "b", "label": "setosa"},
            {"request_id": "c", "label": [2, 3]},
        ],
    )
    (c,) = log.joined("m")
    assert (c.labelled, c.correct, c.regression_labelled) == (2, 2, 2)
    assert c.abs_error_sum == pytest.approx(0.5 + 2.0)
    assert c.sq_error_sum == pytest.approx(0.25 + 4.0)


def test_paired_counts_are_mcnemars_table(store):
    log = store.predictions
    truth = [1, 1, 0, 0, 1]
    champ = [1, 0, 0, 1, 1]  # right, wrong, right, wrong, right
    chal = [1, 1, 1, 1, 0]  # right, right, wrong, wrong, wrong
    log.log_predictions(
        "m",
        [rec(f"r{i}", "champion", str(p)) for i, p in enumerate(champ)]
        + [rec(f"r{i}", "challenger", str(p), "2") for i, p in enumerate(chal)],
    )
    log.log_labels("m", [{"request_id": f"r{i}", "label": y} for i, y in enumerate(truth)])
    (p,) = log.paired("m")
    assert (p.champion_version, p.challenger_version) == ("1", "2")
    assert (p.both_correct, p.champion_only, p.challenger_only, p.neither) == (1, 2, 1, 1)


def test_paired_outcomes_come_in_label_order(store):
    log = store.predictions
    log.log_predictions(
        "m",
        [
            rec("a", "champion", "1"),
            rec("a", "challenger", "0", "2"),
            rec("b", "champion", "0"),
            rec("b", "challenger", "0", "2"),
            rec("c", "champion", "1"),
        ],
    )  # c: no shadow answer
    log.log_labels("m", [{"request_id": "b", "label": 0}, {"request_id": "c", "label": 1}])
    time.sleep(0.01)  # a later millisecond
    log.log_labels("m", [{"request_id": "a", "label": 0}])
    found = log.paired_outcomes("m")
    assert [(o.champion_correct, o.challenger_correct) for o in found] == [
        (True, True),
        (False, True),
    ]
    assert {(o.champion_version, o.challenger_version) for o in found} == {("1", "2")}
    assert len(log.paired_outcomes("m", limit=1)) == 1


def test_outcomes_come_in_label_order(store):
    log = store.predictions
    log.log_predictions("m", [rec("a", "champion", "1"), rec("b", "champion", "0")])
    log.log_labels("m", [{"request_id": "b", "label": 0}])
    time.sleep(0.01)  # a later millisecond: labels are ordered by when they arrived
    log.log_labels("m", [{"request_id": "a", "label": 0}])
    found = log.outcomes("m")
    assert [o.correct for o in found] == [True, False]
    assert found[0].labelled_ms <= found[1].labelled_ms


def test_prune_deletes_only_what_is_older_and_of_the_model(store):
    log = store.predictions
    log.log_predictions(
        "m", [rec("old", "champion", "1", ts=1_000), rec("new", "champion", "1", ts=5_000)]
    )
    log.log_predictions("n", [rec("old", "champion", "1", ts=1_000)])
    assert log.prune(2_000, "m") == {"predictions": 1, "labels": 0}
    assert [c.logged for c in log.joined("m")] == [1]
    assert [c.logged for c in log.joined("n")] == [1]
    log.log_labels("m", [{"request_id": "new", "label": 1}])
    assert log.prune(2**62)["labels"] == 1  # all models; labels are kept by their own age


@pytest.mark.parametrize(
    "labels",
    [
        [{"request_id": "a", "label": 1}, {"request_id": "", "label": 1}],
        [{"request_id": "a", "label": 1}, {"request_id": "b", "label": None}],
        [{"request_id": "a", "label": 1}, {"request_id": "b", "label": float("nan")}],
        [{"request_id": "a", "label": 1}, {"request_id": "b", "label": {"x": 1}}],
        [{"request_id": "a", "label": 1}, {"request_id": "b"}],
        [{"request_id": "a", "label": 1}, {"request_id": "b", "label": 1, "extra": 2}],
        [{"request_id": "x" * 129, "label": 1}],
        [{"request_id": f"r{i}", "label": [1] * 10_000} for i in range(11)],  # 110,000 rows
        [],
        "not a list",
    ],
)
def test_bad_labels_are_refused_and_nothing_is_written(store, counts, labels):
    before = counts(store)
    with pytest.raises(InvalidParameter):
        store.predictions.log_labels("m", labels)
    assert counts(store) == before


def test_a_batch_is_stored_value_for_value(store):
    """Each batch is one statement over arrays (JSON on sqlite, unnest on PostgreSQL): text,
    floats and nulls must come back exactly as sent."""
    from sqlalchemy import text

    odd = 'ünï "q" \\ \n\t'
    log = store.predictions
    sent = [
        PredictionRecord(f"id-{odd}", 0, "champion", "1", odd, None, 1 / 3, 2**62),
        PredictionRecord("r2", 7, "challenger", "2", None, 1e-300, 1.0, 1),
        PredictionRecord("r3", 0, "champion", "1", "0", -2.5e300, 0.05, 1_795_000_000_000),
    ]
    assert log.log_predictions("m", sent) == 3
    labels = [{"request_id": "r2", "label": 2.5}, {"request_id": f"id-{odd}", "label": odd}]
    assert log.log_labels("m", labels).joined == 2
    with store._engine.connect() as conn:
        rows = conn.execute(
            text(
                'SELECT request_id, "row", variant, version, predicted, value, probability, '
                "timestamp_ms FROM prediction_log ORDER BY request_id"
            )
        ).all()
        stored = conn.execute(
            text(
                'SELECT request_id, "row", label, value FROM prediction_labels ORDER BY request_id'
            )
        ).all()
    by_id = {r[0]: tuple(r) for r in rows}
    for r in sent:
        expected = (
            r.request_id,
            r.row,
            r.variant,
            r.version,
            r.predicted,
            r.value,
            r.probability,
            r.timestamp_ms,
        )
        assert by_id[r.request_id] == expected
    assert sorted(map(tuple, stored)) == [(f"id-{odd}", 0, odd, None), ("r2", 0, "2.5", 2.5)]


def test_a_label_with_a_nul_character_is_refused_and_nothing_is_written(store, counts):
    """PostgreSQL's text cannot hold NUL and sqlite's JSON reading cuts a string at one, so
    'a\\x00b' would fail on one store and become 'a' on the other: refused on both."""
    before = counts(store)
    with pytest.raises(InvalidParameter, match="NUL"):
        store.predictions.log_labels(
            "m", [{"request_id": "ok", "label": 1}, {"request_id": "r", "label": "a\x00b"}]
        )
    with pytest.raises(InvalidParameter, match="NUL"):
        store.predictions.log_labels("m", [{"request_id": "r", "label": ["x", "a\x00"]}])
    assert counts(store) == before
