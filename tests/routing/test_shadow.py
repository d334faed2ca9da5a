"""ShadowRunner: bounded queue, comparison counts, faults contained, merged predicts.

The challengers here are small objects with PyFuncModel's predict surface (`predict`,
`predict_array`, `output_kind`): what is under test is the runner around them (queue,
timeouts, errors, counting). Real models over HTTP are in test_http_shadow.py.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from serving_helpers import metric_value, wait_until

from trk.serving.core.breaker import CircuitBreaker
from trk.serving.core.inputs import ModelInput
from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.variant import Variant
from trk.serving.online.fold import RecordBuffer
from trk.serving.routing.metrics import RoutingMetrics
from trk.serving.routing.shadow import ShadowRunner, agreement

pytestmark = pytest.mark.unit


class Model:
    """Row sums > threshold as a class label; counts its predict calls."""

    output_kind = "classifier"

    def __init__(self, threshold: float = 1.0, behaviour=None):
        self.threshold, self.behaviour, self.calls = threshold, behaviour, 0

    def predict_array(self, x):
        self.calls += 1
        if self.behaviour is not None:
            return self.behaviour(x)
        return (np.asarray(x).sum(axis=1) > self.threshold).astype(np.int64)

    predict = predict_array


def variant(model, flavor: str = "") -> Variant:
    return Variant("challenger", "models:/m@challenger", model, "m", "2", flavor=flavor)


def fast(rows) -> ModelInput:
    data = np.asarray(rows, dtype=float)
    return ModelInput(data, None, True, len(data))


def runner(**kw) -> ShadowRunner:
    kw.setdefault("timeout_s", 5.0)
    return ShadowRunner(**kw)


def test_agreement_rules():
    assert agreement([0, 1, 2], np.array([0, 1, 1]), "classifier") == (2, 3)
    assert agreement([1.0, 2.0], [1.0005, 2.1], "regressor") == (1, 2)  # rtol 1e-3
    assert agreement([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 5.0]]) == (1, 2)
    assert agreement([0, 1], np.zeros((2, 3))) is None  # wrong shape: not comparable
    assert agreement(np.array(["a", "b"]), ["a", "c"], "classifier") == (1, 2)


def test_counts_compared_and_agreed_rows():
    buffer = RecordBuffer()
    shadow = runner(records=buffer)
    shadow.start()
    rng = np.random.default_rng(0)
    rows = rng.uniform(0, 1, size=(60, 3))
    champion = (rows.sum(axis=1) > 1.5).astype(np.int64)  # threshold 1.5 vs the model's 1.0
    for i in range(60):
        shadow.submit(f"r{i}", variant(Model()), fast(rows[i : i + 1]), champion[i : i + 1])
    wait_until(lambda: shadow.counters()["compared"] == 60, timeout=20)
    expect = int(((rows.sum(axis=1) > 1.0) == (champion == 1)).sum())
    c = shadow.counters()
    assert (c["agreed"], c["requests_compared"], c["dropped"], c["error"]) == (expect, 60, 0, 0)
    records = buffer.take()  # each compared copy is a shadow record, with its own agreement
    assert sorted(r.request_id for r in records) == sorted(f"r{i}" for i in range(60))
    assert all(r.shadow and r.variant == "challenger" and r.rows == 1 for r in records)
    assert sum(r.agreed for r in records) == expect
    shadow.stop()


def test_copies_are_merged_into_few_predicts_and_split_back():
    model = Model()
    challenger = variant(model)  # the DataPlane hands the same Variant until a swap
    shadow = runner()
    copies = []
    for i in range(20):  # queued before the worker starts: it drains them together
        rows = np.full((1 + i % 3, 2), i / 10.0)
        copies.append(rows)
        shadow.submit(f"r{i}", challenger, fast(rows), (rows.sum(axis=1) > 1.0).astype(int))
    shadow.start()
    wait_until(lambda: shadow.counters()["requests_compared"] == 20, timeout=20)
    assert shadow.counters()["agreed"] == sum(len(r) for r in copies)  # every row agrees
    assert model.calls == 1
    shadow.stop()


def test_full_queue_drops_and_counts_without_blocking():
    registry = CollectorRegistry()
    shadow = runner(maxsize=3, metrics=RoutingMetrics(ServingMetrics(registry)))
    for i in range(10):  # not started: nothing drains the queue
        shadow.submit(f"r{i}", variant(Model()), fast([[1.0]]), np.array([1]))
    assert shadow.counters()["dropped"] == 7
    text = generate_latest(registry).decode()
    assert metric_value(text, "trk_shadow_requests_total", outcome="dropped") == 7
    shadow.stop()


def test_raising_and_wrong_shape_challengers_count_errors():
    def boom(x):
        raise ValueError("broken challenger")

    shadow = runner()
    shadow.start()
    shadow.submit("a", variant(Model(behaviour=boom)), fast([[1.0, 2.0]]), np.array([1]))
    shadow.submit(
        "b",
        variant(Model(behaviour=lambda x: np.zeros((len(x), 3)))),
        fast([[1.0, 2.0]]),
        np.array([1]),
    )
    wait_until(lambda: shadow.counters()["error"] == 2, timeout=20)
    assert shadow.counters()["compared"] == 0
    shadow.stop()


def test_hanging_challenger_times_out_and_then_drops():
    release = threading.Event()

    def hang(x):
        release.wait(30)
        return np.ones(len(x), dtype=np.int64)

    registry = CollectorRegistry()
    metrics = RoutingMetrics(ServingMetrics(registry))
    shadow = runner(timeout_s=0.1, metrics=metrics, pool_size=1)
    shadow.start()
    # not mergeable (params), so each copy is its own predict call
    hang_input = ModelInput(np.ones((1, 2)), {"x": 1}, True, 1)
    model = Model(behaviour=hang)
    model.predict_array = lambda x, params=None: hang(x)
    shadow.submit("a", variant(model), hang_input, np.array([1]))
    wait_until(lambda: shadow.counters()["timeout"] == 1, timeout=20)
    shadow.submit("b", variant(model), hang_input, np.array([1]))  # the pool thread is stuck
    wait_until(lambda: shadow.counters()["dropped"] == 1, timeout=20)
    release.set()
    text = generate_latest(registry).decode()
    assert metric_value(text, "trk_shadow_requests_total", outcome="timeout") == 1
    assert metric_value(text, "trk_shadow_requests_total", outcome="dropped") == 1
    shadow.stop()


def test_submit_never_raises():
    shadow = runner(maxsize=1)
    shadow.submit("a", None, None, None)  # nonsense is queued or dropped, never raised
    shadow.submit("b", None, None, None)
    shadow.start()
    wait_until(lambda: shadow.counters()["error"] == 1, timeout=20)
    shadow.stop()


def test_shadow_timeouts_open_the_challengers_breaker():
    release = threading.Event()
    opened = []
    breaker = CircuitBreaker(timeouts=2, cooldown_s=3600)
    hung = Model(behaviour=lambda x: release.wait(30) and np.zeros(len(x)))
    shadow = runner(
        timeout_s=0.05, merge_wait_s=0.0, breaker=breaker, on_open=lambda: opened.append(1)
    )
    shadow.start()
    try:
        for i in range(4):  # one at a time: each copy is its own predict
            shadow.submit(f"r{i}", variant(hung), fast([[1.0, 2.0]]), np.array([1]))
            wait_until(lambda i=i: sum(shadow.counters()[k] for k in ("timeout", "dropped")) > i)
        assert breaker.is_open and opened == [1]  # opened once, counted once
        assert not breaker.allow()  # the router asks before copying: no more copies
    finally:
        release.set()
        shadow.stop()


async def _until(check, timeout: float = 20.0) -> None:
    """wait_until for a test running on an event loop (the draining task needs the loop)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_on_an_event_loop_a_fast_challenger_predicts_there():
    """Started on a running loop, the runner drains its queue there: trk's own flavor is
    timed by its first predict (on the worker) and then predicts on the loop's thread."""

    async def main():
        threads = []

        def predict(x):
            threads.append(threading.current_thread())
            return (x.sum(axis=1) > 1.0).astype(np.int64)

        challenger = variant(Model(behaviour=predict), "sklearn")
        buffer = RecordBuffer()
        shadow = runner(records=buffer, merge_wait_s=0.005)
        shadow.start()
        rows = np.random.default_rng(1).uniform(0, 1, size=(40, 2))
        for i in range(40):
            shadow.submit(f"r{i}", challenger, fast(rows[i : i + 1]), np.array([1]))
            if i % 10 == 9:  # ten copies per drain: one merged predict each
                await _until(lambda i=i: shadow.counters()["requests_compared"] == i + 1)
        shadow.stop()
        return threads, threading.current_thread(), buffer.take(), shadow.counters(), rows

    threads, loop_thread, records, counts, rows = asyncio.run(main())
    assert len(threads) == 4 and threads[0] is not loop_thread
    assert all(t is loop_thread for t in threads[1:])
    assert counts["agreed"] == int((rows.sum(axis=1) > 1.0).sum())
    assert (counts["requests_compared"], counts["error"], counts["dropped"]) == (40, 0, 0)
    assert sorted(r.request_id for r in records) == sorted(f"r{i}" for i in range(40))
    assert all(r.shadow for r in records)


def test_on_an_event_loop_other_flavors_and_slow_predicts_stay_on_the_worker():
    async def main():
        seen: dict[str, list[threading.Thread]] = {"pytorch": [], "slow": []}

        def challenger(key: str, pause_s: float, flavor: str) -> Variant:
            def predict(x):
                seen[key].append(threading.current_thread())
                time.sleep(pause_s)
                return np.ones(len(x), dtype=np.int64)

            return variant(Model(behaviour=predict), flavor)

        other = challenger("pytorch", 0.0, "pytorch")  # not one of trk's bounded flavors
        slow = challenger("slow", 0.005, "sklearn")  # every predict over INLINE_MAX_SECONDS
        shadow = runner(merge_wait_s=0.005)
        shadow.start()
        for i in range(3):
            shadow.submit(f"a{i}", other, fast([[1.0, 2.0]]), np.array([1]))
            shadow.submit(f"b{i}", slow, fast([[1.0, 2.0]]), np.array([1]))
            await _until(lambda i=i: shadow.counters()["requests_compared"] == 2 * (i + 1))
        shadow.stop()
        return seen, threading.current_thread()

    seen, loop_thread = asyncio.run(main())
    assert len(seen["pytorch"]) == 3 and len(seen["slow"]) == 3
    assert not any(t is loop_thread for t in seen["pytorch"] + seen["slow"])


def test_on_an_event_loop_a_hanging_challenger_never_holds_the_loop():
    """Its first predict is on the worker, under --timeout-s: it never reaches the loop."""
    release = threading.Event()

    async def main():
        hung = variant(Model(behaviour=lambda x: release.wait(30) and np.zeros(len(x))), "onnx")
        shadow = runner(timeout_s=0.05, merge_wait_s=0.005, pool_size=1)
        shadow.start()
        shadow.submit("a", hung, fast([[1.0, 2.0]]), np.array([1]))
        await _until(lambda: shadow.counters()["timeout"] == 1)
        shadow.submit("b", hung, fast([[1.0, 2.0]]), np.array([1]))  # its pool thread is stuck
        await _until(lambda: shadow.counters()["dropped"] == 1)
        shadow.stop()
        return shadow.counters()

    try:  # on the loop, the first predict would have blocked it: no timeout, no drop
        counts = asyncio.run(main())
        assert (counts["timeout"], counts["dropped"], counts["compared"]) == (1, 1, 0)
    finally:
        release.set()


def test_on_an_event_loop_nonsense_copies_never_stop_the_draining():
    """Copies the DataPlane never sends (no variant) are counted as errors; a real copy
    after them is still compared."""

    async def main():
        shadow = runner(merge_wait_s=0.005)
        shadow.start()
        for i in range(3):  # the first is timed on the worker, the others meet that timing
            shadow.submit(f"n{i}", None, fast([[1.0, 2.0]]), np.array([1]))
            await _until(lambda i=i: shadow.counters()["error"] == i + 1)
        shadow.submit("real", variant(Model(), "sklearn"), fast([[1.0, 2.0]]), np.array([1]))
        await _until(lambda: shadow.counters()["requests_compared"] == 1)
        shadow.stop()
        return shadow.counters()

    counts = asyncio.run(main())
    assert (counts["error"], counts["requests_compared"], counts["agreed"]) == (3, 1, 1)
