"""Search grammar (parser) and search_runs filtering, ordering and paging in SQL."""

from __future__ import annotations

import math

import pytest

from trk.entities import Metric, Param, RunTag
from trk.exceptions import InvalidParameter
from trk.store.search import (
    Clause,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)


def test_parse_filter_clauses():
    text = (
        "metrics.acc > 0.9 AND params.`n est` = '100' and tags.\"my tag\" != 'x' "
        "and attributes.status IN ('RUNNING', 'FINISHED') and run_name NOT IN ('a') "
        "and tags.t LIKE 'a%' and attribute.user_id ILIKE 'AN%' and metrics.loss <= -1e-3"
    )
    assert parse_filter(text) == [
        Clause("metric", "acc", ">", 0.9),
        Clause("param", "n est", "=", "100"),
        Clause("tag", "my tag", "!=", "x"),
        Clause("attribute", "status", "IN", ("RUNNING", "FINISHED")),
        Clause("attribute", "run_name", "NOT IN", ("a",)),
        Clause("tag", "t", "LIKE", "a%"),
        Clause("attribute", "user_id", "ILIKE", "AN%"),
        Clause("metric", "loss", "<=", -0.001),
    ]
    assert parse_filter("params.x = 'it''s'") == [Clause("param", "x", "=", "it's")]
    assert parse_filter("  ") == [] and parse_filter(None) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.acc >", "expected a value, got end of string"),
        ("metrics.acc > 'high'", "needs a number"),
        ("params.x > '1'", "needs a number"),
        ("params.x = 1", "quoted string"),
        ("metrics.acc = 0.9 or metrics.b = 1", "expected AND between clauses, got 'or'"),
        ("metricz.acc = 1", "unknown entity 'metricz'"),
        ("metrics.acc ~ 1", "unexpected character '~' at position 12"),
        ("params.x IN 'a'", "expected '\\(' after IN"),
        ("params.x IN ('a' 'b')", "expected ',' or '\\)'"),
        ("params.x NOT LIKE 'a'", "IN after NOT"),
        ("= 'x'", "expected an identifier"),
        ("metrics.acc LIKE 1", "quoted string for LIKE"),
    ],
)
def test_malformed_filters_name_the_bad_token(text, message):
    with pytest.raises(InvalidParameter, match=message):
        parse_filter(text)


def test_parse_order_by():
    got = parse_order_by(["metrics.f1 DESC", "params.x", "attributes.start_time asc", "`name`"])
    assert got == [
        OrderKey("metric", "f1", False),
        OrderKey("param", "x", True),
        OrderKey("attribute", "start_time", True),
        OrderKey("attribute", "name", True),
    ]
    with pytest.raises(InvalidParameter, match="ASC or DESC"):
        parse_order_by(["metrics.f1 DOWN"])


def test_page_tokens():
    assert decode_page_token(encode_page_token(150)) == 150
    assert decode_page_token(None) == 0
    for bad in ("garbage!", encode_page_token(-1), "e30="):
        with pytest.raises(InvalidParameter, match="page_token"):
            decode_page_token(bad)


@pytest.fixture
def runs(store):
    """Five runs with distinct metrics, params, tags and start times."""
    exp_id = store.create_experiment("search")
    ids = []
    for i in range(5):
        run = store.create_run(
            exp_id, user_id=f"user{i % 2}", start_time=1000 + i, run_name=f"run{i}"
        )
        metrics = [Metric("acc", i / 10, 1, 0)] if i != 4 else [Metric("acc", math.nan, 1, 0)]
        if i < 3:
            metrics.append(Metric("f1", 1 - i / 10, 1, 0))
        store.log_batch(
            run.info.run_id,
            metrics,
            [Param("n", str(i * 10)), Param("kind", "tree" if i % 2 else "Linear")],
            [RunTag("group", "a" if i < 2 else "b")],
        )
        ids.append(run.info.run_id)
    store.update_run_info(ids[0], status="FINISHED", end_time=2000)
    return store, exp_id, ids


def _search(runs, filter_string="", **kwargs):
    store, exp_id, ids = runs
    found = store.search_runs([exp_id], filter_string, **kwargs)
    return [ids.index(r.info.run_id) for r in found]


FILTER_CASES = [
    ("", [4, 3, 2, 1, 0]),
    ("metrics.acc > 0.15", [3, 2]),  # NaN never matches a comparison
    ("metrics.acc >= 0.1 and metrics.f1 < 0.95", [2, 1]),
    ("metrics.acc != 0.2", [3, 1, 0]),
    ("params.n = '30'", [3]),
    ("params.kind LIKE 'tr%'", [3, 1]),
    ("params.kind LIKE 'linear'", []),  # LIKE is case-sensitive
    ("params.kind ILIKE 'linear'", [4, 2, 0]),
    ("params.n IN ('10', '20')", [2, 1]),
    ("params.n NOT IN ('10', '20')", [4, 3, 0]),
    ("tags.group = 'a'", [1, 0]),
    ("tags.missing = 'a'", []),
    ("status = 'FINISHED'", [0]),
    ("attributes.status != 'FINISHED'", [4, 3, 2, 1]),
    ("attribute.run_name = 'run3'", [3]),
    ("attributes.user_id = 'user1' and tags.group = 'b'", [3]),
    ("attributes.start_time >= 1003", [4, 3]),
    ("attributes.end_time = 2000", [0]),
    ("tags.`mlflow.runName` = 'run2'", [2]),
]


def test_search_runs_filters(runs):
    # One test walks every case: the 5-run fixture is built once per database, not per case.
    for filter_string, expected in FILTER_CASES:
        assert _search(runs, filter_string) == expected, filter_string


def test_search_runs_by_run_id_and_artifact_uri(runs):
    store, exp_id, ids = runs
    assert _search(runs, f"attributes.run_id IN ('{ids[1]}', '{ids[3]}')") == [3, 1]
    uri = store.get_run(ids[2]).info.artifact_uri
    assert _search(runs, f"attributes.artifact_uri = '{uri}'") == [2]


ORDER_CASES = [
    (["metrics.f1 DESC"], [0, 1, 2, 4, 3]),  # runs without f1 last, by start_time DESC
    (["metrics.f1 ASC"], [2, 1, 0, 4, 3]),
    (["metrics.acc DESC"], [3, 2, 1, 0, 4]),  # NaN after numbers
    (["params.kind", "metrics.acc DESC"], [2, 0, 4, 3, 1]),
    (["attributes.start_time ASC"], [0, 1, 2, 3, 4]),
    (["tags.group DESC", "run_name"], [2, 3, 4, 0, 1]),
]


def test_search_runs_order(runs):
    for order_by, expected in ORDER_CASES:
        assert _search(runs, order_by=order_by) == expected, order_by


def test_search_runs_pages(runs):
    store, exp_id, ids = runs
    seen, token = [], None
    while True:
        page = store.search_runs([exp_id], max_results=2, page_token=token)
        seen += [ids.index(r.info.run_id) for r in page]
        token = page.token
        if token is None:
            break
    assert seen == [4, 3, 2, 1, 0]
    assert page and len(page) == 1


def test_search_runs_returns_data_and_honours_view_type(runs):
    store, exp_id, ids = runs
    store.delete_run(ids[0])
    assert 0 not in _search(runs)
    from trk.entities import ViewType

    deleted = store.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [ids[0]]
    assert deleted[0].data.params == {"n": "0", "kind": "Linear"}
    assert deleted[0].data.metrics == {"acc": 0.0, "f1": 1.0}
    assert store.search_runs(["999"]) == []


BAD_SEARCH_CASES = [
    ({"filter_string": "attributes.colour = 'red'"}, "'colour'"),
    ({"filter_string": "attributes.start_time = 'x'"}, "number"),
    ({"filter_string": "status = 1"}, "string"),
    ({"filter_string": "metrics.a = 1 or"}, "AND"),
    ({"max_results": 50001}, "max_results"),
    ({"max_results": 0}, "max_results"),
    ({"order_by": ["attributes.colour"]}, "'colour'"),
    ({"page_token": "nope"}, "page_token"),
]


def test_search_runs_bad_arguments(runs):
    store, exp_id, _ = runs
    for kwargs, message in BAD_SEARCH_CASES:
        with pytest.raises(InvalidParameter, match=message):
            store.search_runs([exp_id], **kwargs)


def test_search_experiments(store):
    for name in ("alpha", "beta", "Alpine"):
        store.create_experiment(name, tags={"first": name[0]})
    names = lambda **kw: [e.name for e in store.search_experiments(**kw)]  # noqa: E731
    assert names(filter_string="name LIKE 'al%'") == ["alpha"]
    assert names(filter_string="name ILIKE 'al%'", order_by=["name"]) == ["Alpine", "alpha"]
    assert names(filter_string="tags.first = 'b'") == ["beta"]
    assert names(order_by=["name DESC"]) == ["beta", "alpha", "Default", "Alpine"]
    page = store.search_experiments(max_results=3, order_by=["name"])
    assert len(page) == 3 and page.token
    rest = store.search_experiments(max_results=3, order_by=["name"], page_token=page.token)
    assert [e.name for e in rest] == ["beta"] and rest.token is None
