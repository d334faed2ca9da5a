"""The fold counts runs of alike records at once; what it counts is what counting record by
record counts. Each consumer is fed a random stream (variants, statuses, shadow copies, ids
answered twice, one-row and many-row answers of every kind, lists, None) in random batches,
and compared with the record-by-record definition written out here."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from trk.serving.core.metrics import ServingMetrics
from trk.serving.online.buckets import bucket_counts
from trk.serving.online.feedback import FeedbackStore, _adding, kept
from trk.serving.online.records import Batch, Record, count_classes
from trk.serving.online.reporter import Reporter
from trk.serving.online.series import RequestSeries
from trk.serving.online.window_stats import RESERVOIR, WindowStats
from trk.serving.routing.metrics import RoutingMetrics
from trk.serving_contract import LATENCY_EDGES_MS, latency_bucket

pytestmark = pytest.mark.unit

ANSWERS = [
    lambda rng: np.array([rng.randrange(3)]),  # the usual one-row answer
    lambda rng: np.array([[rng.randrange(3)]]),
    lambda rng: np.array([rng.randrange(3)], dtype=">i4"),
    lambda rng: np.array([rng.choice(["setosa", "versicolor"])]),
    lambda rng: np.array([rng.choice([True, 1])]),  # two dtypes, and True == 1 in Python
    lambda rng: np.array([rng.random()]),  # a regressor's
    lambda rng: np.array([rng.randrange(3) for _ in range(rng.randrange(2, 5))]),
    lambda rng: np.array([b"x"]),
    lambda rng: [rng.randrange(3)],
    lambda rng: None,
]


def stream(seed: int, n: int = 600) -> list[Record]:
    """Runs of alike records (as a live fold sees them), with everything else mixed in."""
    rng = random.Random(seed)
    out: list[Record] = []
    while len(out) < n:
        variant = rng.choice(["champion", "champion", "challenger", ""])
        shadow = variant == "challenger" and rng.random() < 0.5
        status = rng.choice([200, 200, 200, 400, 503]) if variant else 400
        answer = rng.choice(ANSWERS)
        for _ in range(rng.choice([1, 2, 30])):
            rid = f"r{rng.randrange(n // 2)}"  # ids come back: a shadow's, a client's reuse
            ok = status == 200 and variant != ""
            out.append(
                Record(
                    rid,
                    rng.random(),
                    variant,
                    rng.choice("12") if variant else "",
                    "m" if variant else "",
                    0.5,
                    status,
                    None if shadow or not variant else rng.uniform(1e-5, 0.2),
                    answer(rng) if ok else None,
                    None,
                    None,
                    rng.uniform(1e-6, 0.1) if ok and not shadow and rng.random() < 0.9 else None,
                    rng.randrange(1, 4) if ok else 0,
                    shadow,
                    rng.randrange(2) if shadow else None,
                )
            )
    return out


def batches(records: list[Record], seed: int) -> list[Batch]:
    rng, out, i = random.Random(seed), [], 0
    while i < len(records):
        size = rng.choice([1, 7, 140])
        out.append(Batch(records[i : i + size]))
        i += size
    return out


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@pytest.mark.parametrize("seed", range(5))
def test_the_request_series_count_what_observing_each_request_counts(seed):
    folded, one_by_one = ServingMetrics(CollectorRegistry()), ServingMetrics(CollectorRegistry())
    series = RequestSeries(folded)
    for batch in batches(stream(seed), seed):
        series.fold(batch)
        for r in batch:
            if not r.shadow:
                one_by_one.observe_request(r.labels, r.status, r.latency_s)
                if r.predict_s is not None:
                    one_by_one.observe_predict(r.labels, r.predict_s, r.rows)
    got, want = samples(folded.registry), samples(one_by_one.registry)
    assert got.keys() == want.keys()
    for key, value in want.items():  # sums of latencies: added in another order
        assert got[key] == pytest.approx(value, rel=1e-12), key


@pytest.mark.parametrize("seed", range(5))
def test_report_windows_count_what_observing_each_request_counts(seed):
    rep = Reporter(lambda: None, "serving/m", lambda: [], interval_s=3600)
    want: dict[tuple[str, str], WindowStats] = {}
    for batch in batches(stream(seed), seed):
        rep.fold(batch)
        for r in batch:
            if r.shadow or not r.variant:
                continue
            stats = want.setdefault((r.variant, r.version), WindowStats())
            stats.requests += 1
            stats.errors += r.status >= 500
            if r.latency_s is not None:
                stats.seen += 1
                k = latency_bucket(r.latency_s * 1000)
                stats.hist[k] = stats.hist.get(k, 0) + 1
            if r.status == 200 and r.answer is not None:
                stats.add_classes(count_classes(r.answer))
    assert want.keys() == rep._stats.keys()
    for key, stats in want.items():
        got = rep._stats[key]
        assert (got.requests, got.errors, got.seen) == (stats.requests, stats.errors, stats.seen)
        assert (got.hist, got.classes) == (stats.hist, stats.classes)
        assert len(got.latencies) == min(stats.seen, RESERVOIR)


@pytest.mark.parametrize("seed", range(5))
def test_the_class_series_count_what_counting_each_answer_counts(seed):
    registry = CollectorRegistry()
    routing = RoutingMetrics(ServingMetrics(registry))
    labels: Counter[tuple[str, str]] = Counter()
    values: Counter[str] = Counter()
    agree: Counter[str] = Counter()
    for batch in batches(stream(seed), seed):
        routing.fold(batch)
        for r in batch:
            if r.status != 200 or not r.variant:
                continue
            if r.shadow:
                agree["agree"] += r.agreed
                agree["disagree"] += r.rows - r.agreed
            counted = None if r.answer is None else count_classes(r.answer)
            if counted is not None:
                labels.update({(r.variant, label): n for label, n in counted})
            elif r.answer is not None:  # a regressor's values, in the value histogram
                values[r.variant] += np.asarray(r.answer).size
    got = samples(registry)
    assert {
        (dict(k)["variant"], dict(k)["label"]): v
        for (name, k), v in got.items()
        if name == "trk_predictions_total"
    } == labels
    assert {
        dict(k)["variant"]: v
        for (name, k), v in got.items()
        if name == "trk_prediction_value_count"
    } == values
    assert {
        dict(k)["result"]: v for (name, k), v in got.items() if name == "trk_shadow_agreement_total"
    } == +agree


@pytest.mark.parametrize("seed", range(5))
def test_the_feedback_join_keeps_what_keeping_each_answer_keeps(seed):
    """Ids kept, their answers (a shadow's beside its champion's), and the ids forgotten,
    bounded by capacity and TTL, in order: as the record-by-record fold kept them."""
    clock = iter(range(10**6)).__next__
    store = FeedbackStore(capacity=100, ttl_s=40, clock=clock)
    entries: OrderedDict[str, tuple] = OrderedDict()
    gone: OrderedDict[str, str] = OrderedDict()
    for now, batch in enumerate(batches(stream(seed), seed)):
        store.fold(batch)
        for r in batch:
            if r.status == 200 and r.variant:
                entries[r.request_id] = _adding(
                    entries.get(r.request_id), now, r.variant, kept(r.answer)
                )
        while entries:
            rid, entry = next(iter(entries.items()))
            if len(entries) <= 100 and now - entry[0] <= 40:
                break
            del entries[rid]
            gone[rid] = "expired"
            gone.move_to_end(rid)
        while len(gone) > 100:
            gone.popitem(last=False)
        assert list(store._entries.items()) == list(entries.items())
        assert list(store._gone.items()) == list(gone.items())


def test_batched_latencies_draw_the_sample_one_by_one_draws():
    """observe_many keeps the very latencies that sampling one latency at a time keeps, with
    the same random numbers: the reservoir stays a uniform sample (Li 1994, Algorithm L)."""
    rng = random.Random(7)
    values = [rng.expovariate(100) for _ in range(20_000)]
    one, many = WindowStats(rng=random.Random(1)), WindowStats(rng=random.Random(1))
    for v in values:  # the sampling, latency by latency
        one.seen += 1
        if len(one.latencies) < RESERVOIR:
            one.latencies.append(v)
            if len(one.latencies) == RESERVOIR:
                one._skip(one.seen)
        elif one.seen == one._next:
            one.latencies[one.rng.randrange(RESERVOIR)] = v
            one._skip(one.seen)
    i = 0
    while i < len(values):
        chunk = values[i : i + rng.choice([1, 3, 140, 2000])]
        many.observe_many(chunk, len(chunk), 0)
        i += len(chunk)
    assert many.seen == one.seen == len(values)
    assert many.latencies == one.latencies


def test_bucket_counts_are_a_bisect_per_value():
    rng = random.Random(3)
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0, float("inf")]
    for _ in range(500):
        values = [
            rng.choice([rng.uniform(0, 0.03), rng.choice(bounds[:-1]), 10 ** rng.uniform(-6, 2)])
            for _ in range(rng.randrange(0, 200))
        ]
        assert bucket_counts(values, bounds) == dict(
            Counter(bisect_left(bounds, v) for v in values)
        )
        assert bucket_counts(values, LATENCY_EDGES_MS, right=True) == dict(
            Counter(bisect_right(LATENCY_EDGES_MS, v) for v in values)
        )
