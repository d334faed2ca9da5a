"""`/invocations` over real HTTP: every input form, every bad input, headers, metrics."""

from __future__ import annotations

import httpx
import pytest
from serving_helpers import IRIS_COLUMNS, expected, metric_value, post_json

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def _records(rows):
    return [dict(zip(IRIS_COLUMNS, r, strict=True)) for r in rows]


FORMS = {
    "inputs_rows": {"inputs": ROWS},
    "instances_rows": {"instances": ROWS},
    "instances_records": {"instances": _records(ROWS)},
    "inputs_columns": {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(IRIS_COLUMNS)}},
    "split": {"dataframe_split": {"columns": IRIS_COLUMNS, "data": ROWS}},
    "split_reordered": {
        "dataframe_split": {"columns": IRIS_COLUMNS[::-1], "data": [r[::-1] for r in ROWS]}
    },
    "split_positional": {"dataframe_split": {"data": ROWS}},
    "records": {"dataframe_records": _records(ROWS)},
    "ints_cast": {"inputs": [[5, 3, 1, 0], [7, 3, 5, 2], [6, 3, 4, 1]]},
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_json_form_predicts_like_the_estimator(iris_server, iris_env, form):
    resp = post_json(iris_server.url, FORMS[form])
    assert resp.status_code == 200, resp.text
    rows = FORMS[form]["inputs"] if form == "ints_cast" else ROWS

    assert resp.json() == {"predictions": expected(iris_env.lr, rows).tolist()}
    assert resp.headers["content-type"] == "application/json"


def test_csv_with_and_without_header(iris_server, iris_env):

    want = expected(iris_env.lr, ROWS).tolist()
    data = "\n".join(",".join(map(str, r)) for r in ROWS)
    for text in (",".join(IRIS_COLUMNS) + "\n" + data, data):
        resp = httpx.post(
            iris_server.url + "/invocations",
            content=text.encode(),
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"predictions": want}


def test_params_choose_predict_proba(iris_server, iris_env):
    import numpy as np

    resp = post_json(
        iris_server.url, {"inputs": ROWS, "params": {"predict_method": "predict_proba"}}
    )
    assert resp.status_code == 200, resp.text
    got = np.array(resp.json()["predictions"])
    assert np.allclose(got, expected(iris_env.lr, ROWS, "predict_proba"))


def test_headers_carry_variant_version_and_request_id(iris_server):
    resp = post_json(iris_server.url, {"inputs": ROWS[:1]}, headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Trk-Variant"] == "champion"
    assert resp.headers["X-Trk-Model-Version"] == "1"
    assert resp.headers["X-Request-Id"] == "abc-123"
    generated = post_json(iris_server.url, {"inputs": ROWS[:1]}).headers["X-Request-Id"]
    assert len(generated) == 32 and generated != "abc-123"


BAD = [
    # (name, body bytes, content type, status, error_code, words the message must hold)
    ("invalid_json", b'{"inputs": [[1, 2', "application/json", 400, "BAD_REQUEST", "Invalid JSON"),
    ("empty_body", b"", "application/json", 400, "BAD_REQUEST", "Empty request body"),
    ("not_an_object", b"[[1, 2, 3, 4]]", "application/json", 400, "BAD_REQUEST", "JSON object"),
    ("unknown_key", b'{"rows": [[1,2,3,4]]}', "application/json", 400, "BAD_REQUEST", "'rows'"),
    ("missing_key", b'{"params": {}}', "application/json", 400, "BAD_REQUEST", "exactly one"),
    (
        "two_keys",
        b'{"inputs": [[1,2,3,4]], "instances": [[1,2,3,4]]}',
        "application/json",
        400,
        "BAD_REQUEST",
        "exactly one",
    ),
    (
        "wrong_count",
        b'{"inputs": [[1, 2, 3]]}',
        "application/json",
        400,
        "INVALID_PARAMETER_VALUE",
        "Expected 4 values per row",
    ),
    (
        "wrong_names",
        b'{"dataframe_split": {"columns": ["a","b","c","d"], "data": [[1,2,3,4]]}}',
        "application/json",
        400,
        "INVALID_PARAMETER_VALUE",
        "'a'",
    ),
    (
        "string_value",
        b'{"inputs": [[5.1, "wide", 1.4, 0.2]]}',
        "application/json",
        400,
        "INVALID_PARAMETER_VALUE",
        "sepal width (cm)",
    ),
    (
        "ragged_rows",
        b'{"inputs": [[1, 2, 3, 4], [1, 2]]}',
        "application/json",
        400,
        "BAD_REQUEST",
        "same length",
    ),
    (
        "deep_nesting",
        b'{"inputs": ' + b"[" * 50 + b"1" + b"]" * 50 + b"}",
        "application/json",
        400,
        "BAD_REQUEST",
        "nested",
    ),
    (
        "very_deep_nesting",
        b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "application/json",
        400,
        "BAD_REQUEST",
        "Invalid JSON",
    ),
    (
        "wrong_type",
        b"inputs=1",
        "application/x-www-form-urlencoded",
        415,
        "BAD_REQUEST",
        "not supported",
    ),
    (
        "no_content_type",
        b'{"inputs": [[1, 2, 3, 4]]}',
        None,
        415,
        "BAD_REQUEST",
        "Missing Content-Type",
    ),
    ("csv_no_rows", b"a,b,c,d\n", "text/csv", 400, "BAD_REQUEST", "no data rows"),
    (
        "bad_params",
        b'{"inputs": [[1,2,3,4]], "params": [1]}',
        "application/json",
        400,
        "BAD_REQUEST",
        "'params'",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_a_4xx_naming_the_problem(iris_server, case):
    _, body, ctype, status, code, words = case
    headers = {"Content-Type": ctype} if ctype else {}
    # httpx adds no content type of its own to raw `content=` bodies
    resp = httpx.post(iris_server.url + "/invocations", content=body, headers=headers, timeout=30)
    assert resp.status_code == status, resp.text
    assert resp.json()["error_code"] == code
    assert words in resp.json()["message"]
    assert "Traceback" not in resp.text
    # the server keeps serving
    assert post_json(iris_server.url, {"inputs": ROWS[:1]}).status_code == 200


def test_body_over_the_limit_is_413(serve_app):
    server = serve_app(max_body_mb=0.001)
    resp = post_json(server.url, {"inputs": [[5.1, 3.5, 1.4, 0.2]] * 200})
    assert resp.status_code == 413
    assert resp.json()["error_code"] == "BAD_REQUEST"
    assert "max-body-mb" in resp.json()["message"]

    def chunks():
        yield b'{"inputs": ['
        for _ in range(200):
            yield b"[5.1, 3.5, 1.4, 0.2],"
        yield b"[1, 1, 1, 1]]}"

    streamed = httpx.post(
        server.url + "/invocations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413  # no Content-Length: caught while reading


def test_model_that_raises_is_a_counted_500(serve_app):
    server = serve_app(model_uri="models:/toy@champion")
    ok = post_json(server.url, {"inputs": [[1.0, 2.0]]})
    assert ok.json() == {"predictions": [3.0]}
    resp = post_json(server.url, {"inputs": [[1.0, 2.0]], "params": {"fail": True}})
    assert resp.status_code == 500
    assert resp.json()["error_code"] == "INTERNAL_ERROR"
    assert "toy model asked to fail" in resp.json()["message"]
    assert "Traceback" not in resp.text
    text = httpx.get(server.url + "/metrics").text
    assert metric_value(text, "trk_requests_total", variant="champion", status="500") == 1
    assert metric_value(text, "trk_requests_total", variant="champion", status="200") == 1


def test_request_past_the_timeout_is_504(serve_app):
    server = serve_app(model_uri="models:/toy@champion", timeout_s=0.3)
    resp = post_json(server.url, {"inputs": [[1.0, 2.0]], "params": {"sleep": 1.5}})
    assert resp.status_code == 504
    assert resp.json()["error_code"] == "DEADLINE_EXCEEDED"
    assert resp.headers["X-Trk-Variant"] == "champion"
    text = httpx.get(server.url + "/metrics").text
    assert metric_value(text, "trk_requests_total", status="504") == 1


def test_requests_are_counted_per_status(iris_server):
    before = httpx.get(iris_server.url + "/metrics").text
    post_json(iris_server.url, {"inputs": ROWS})
    httpx.post(
        iris_server.url + "/invocations", content=b"{", headers={"Content-Type": "application/json"}
    )
    after = httpx.get(iris_server.url + "/metrics").text
    for status in ("200", "400"):
        delta = metric_value(after, "trk_requests_total", status=status) - metric_value(
            before, "trk_requests_total", status=status
        )
        assert delta == 1, status
    rows = metric_value(after, "trk_batch_size_sum") - metric_value(before, "trk_batch_size_sum")
    assert rows == 3


def test_only_a_post_takes_the_infer_shortcut(iris_server):
    """Other methods on the infer paths, and V2 paths the shortcut does not read as infer,
    get Starlette's answers as before (ServingApp sends only matched POSTs past it)."""
    assert httpx.get(iris_server.url + "/invocations").status_code == 405
    get_v2 = httpx.get(iris_server.url + "/v2/models/iris/infer")  # V2's catch-all
    assert get_v2.status_code == 404 and "error" in get_v2.json()
    odd = httpx.post(iris_server.url + "/v2/models/iris/versions//infer", json={})
    assert odd.status_code == 404 and "error" in odd.json()
    ok = httpx.post(
        iris_server.url + "/v2/models/iris/versions/1/infer",
        json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}]},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["model_version"] == "1" and ok.headers["x-trk-variant"] == "champion"
