"""Adaptive batching: merged predicts, answers split back to the right requests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import httpx
import numpy as np
from serving_helpers import expected, metric_value, post_json

from trk.serving.core.batching import Batcher, slice_rows


def _batcher(predict, max_rows=32, delay_s=0.01, calls=None):
    pool = concurrent.futures.ThreadPoolExecutor(2)

    async def run_in_thread(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def on_batch(rows, seconds):
        if calls is not None:
            calls.append(rows)

    return Batcher(predict, run_in_thread, max_rows, delay_s, on_batch)


def test_concurrent_requests_merge_and_split_back():
    calls: list[int] = []
    batcher = _batcher(lambda x: x.sum(axis=1) * 10, calls=calls)

    async def main():
        xs = [np.full((i % 3 + 1, 2), float(i)) for i in range(20)]
        results = await asyncio.gather(*(batcher.submit(x) for x in xs))
        for x, got in zip(xs, results, strict=True):
            assert got.tolist() == (x.sum(axis=1) * 10).tolist()

    asyncio.run(main())
    assert sum(calls) == sum(i % 3 + 1 for i in range(20))
    assert len(calls) < 20 and max(calls) <= 32


def test_a_bad_request_fails_only_itself():
    def predict(x):
        if (x < 0).any():
            raise ValueError("negative input")
        return x[:, 0]

    batcher = _batcher(predict)

    async def main():
        xs = [np.array([[1.0]]), np.array([[-1.0]]), np.array([[3.0]])]
        return await asyncio.gather(*(batcher.submit(x) for x in xs), return_exceptions=True)

    good1, bad, good2 = asyncio.run(main())
    assert good1.tolist() == [1.0] and good2.tolist() == [3.0]
    assert isinstance(bad, ValueError)


def test_slice_rows_of_each_prediction_kind():
    import pandas as pd

    assert slice_rows(np.arange(5), 1, 3).tolist() == [1, 2]
    assert slice_rows([0, 1, 2, 3], 2, 4) == [2, 3]
    frame = slice_rows(pd.DataFrame({"a": range(4)}), 2, 4)
    assert frame["a"].tolist() == [2, 3] and frame.index.tolist() == [0, 1]
    out = slice_rows({"label": np.arange(4), "p": np.eye(4)}, 1, 2)
    assert out["label"].tolist() == [1] and out["p"].shape == (1, 4)


def test_server_with_batching_answers_each_request(serve_app, iris_env):
    server = serve_app(max_batch_size=16, max_batch_delay_ms=20)
    rng = np.random.default_rng(0)
    rows = iris_env.x[rng.permutation(len(iris_env.x))[:48]]
    want = expected(iris_env.lr, rows)
    results: dict[int, list] = {}

    def send(i: int) -> None:
        resp = post_json(
            server.url, {"inputs": [rows[i].tolist()]}, headers={"X-Request-Id": str(i)}
        )
        assert resp.headers["X-Request-Id"] == str(i)
        results[i] = resp.json()["predictions"]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(rows))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(rows))] == [[int(p)] for p in want]
    bad = post_json(server.url, {"inputs": [[1.0, "x", 2.0, 3.0]]})
    assert bad.status_code == 400
    text = httpx.get(server.url + "/metrics").text
    assert metric_value(text, "trk_batch_size_sum") == len(rows)
    assert metric_value(text, "trk_batch_size_count") < len(rows)  # some requests were merged
