"""Random and malformed bodies over real HTTP: never a 5xx, always MLflow's error JSON.

Two servers: the iris model (a named signature) and a model logged without a signature,
where nothing checks the input before the model reads it. The generator is seeded, so a
failure names a body that can be replayed.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from serving_helpers import IRIS_COLUMNS, ThreadServer, post_json

FORMATS = ["dataframe_split", "dataframe_records", "instances", "inputs"]
TYPES = ["application/json", "text/csv", "text/csv; charset=utf-8", "application/json; x=1"]
ROUNDS = 300  # bodies per server

# The bodies that answered 500 before (issue 14), kept as fixed cases.
FOUND = [
    (b"a,b\n" + b"x" * (129 * 1024) + b",1\n", "text/csv"),  # _csv.Error: field limit
    (b'{"inputs": {"a": 1, "b": 2}}', "application/json"),  # len() of unsized object
    (b'{"inputs": {"a": 1}}', "application/json"),
    (b'{"dataframe_split": {"columns": ["a", "b"], "data": 5}}', "application/json"),
    (b'{"dataframe_split": {"columns": ["a", "b"], "data": [1, 2]}}', "application/json"),
    (b'{"inputs": [["a", "b"]]}', "application/json"),  # no signature: sklearn's ValueError
]


@pytest.fixture(scope="module")
def servers(hardening_env) -> Iterator[dict[str, ThreadServer]]:
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    started = {}
    for name in ("iris", "nosig"):
        settings = ServeSettings(
            model_uri=f"models:/{name}@champion", tracking_uri=hardening_env.tracking_uri
        )
        started[name] = ThreadServer(create_app(settings)).start()
    yield started
    for server in started.values():
        server.stop()


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            rng.uniform(-1e6, 1e6),
            rng.randint(-(2**70), 2**70),
            "".join(rng.choices(string.printable, k=rng.randint(0, 12))),
            None,
            True,
            rng.choice(IRIS_COLUMNS),
            "x" * rng.choice([1, 1000, 140_000]),
        ]
    )


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return _scalar(rng)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    keys = [*IRIS_COLUMNS, "columns", "data", "index", "a", ""]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _json_body(rng: random.Random) -> bytes:
    doc: dict[str, Any] = {rng.choice(FORMATS): _value(rng)}
    if rng.random() < 0.2:
        doc[rng.choice([*FORMATS, "params", "extra"])] = _value(rng)
    if rng.random() < 0.1:
        doc["params"] = {"predict_method": rng.choice(["predict", "predict_proba", "nope"])}
    return json.dumps(doc).encode()  # stdlib: writes integers past 64 bits too


def _csv_body(rng: random.Random) -> bytes:
    rows = [[str(_scalar(rng)) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 4))]
    text = "\n".join(",".join(row) for row in rows)
    return text.encode("utf-8", "surrogatepass")


def _bodies(seed: int) -> Iterator[tuple[bytes, str]]:
    rng = random.Random(seed)
    for _ in range(ROUNDS):
        ctype = rng.choice(TYPES)
        body = _csv_body(rng) if ctype.startswith("text/csv") else _json_body(rng)
        if rng.random() < 0.1:  # truncate or corrupt a byte
            cut = rng.randint(0, len(body))
            body = body[:cut] + bytes([rng.randint(0, 255)]) + body[cut + 1 :]
        yield body, ctype


def _assert_clean(resp: httpx.Response, body: bytes) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300], body[:300])
    if resp.status_code != 200:
        error = resp.json()
        assert error["error_code"] and error["message"] and "Traceback" not in resp.text


@pytest.mark.parametrize("name", ["iris", "nosig"])
def test_found_bodies_are_clean_4xx(servers, name):
    url = servers[name].url
    with httpx.Client(timeout=30) as http:
        for body, ctype in FOUND:
            resp = http.post(url + "/invocations", content=body, headers={"Content-Type": ctype})
            _assert_clean(resp, body)
            assert resp.status_code == 400, (resp.text[:300], body[:100])


@pytest.mark.parametrize("name", ["iris", "nosig"])
def test_random_bodies_never_answer_5xx(servers, name):
    url = servers[name].url
    with httpx.Client(timeout=30) as http:
        for body, ctype in _bodies(seed=14 if name == "iris" else 15):
            resp = http.post(url + "/invocations", content=body, headers={"Content-Type": ctype})
            _assert_clean(resp, body)
    assert post_json(url, {"inputs": [[5.1, 3.5, 1.4, 0.2]]}).json() == {"predictions": [0]}
