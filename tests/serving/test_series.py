"""The fold's batch observe of a histogram gives exactly what observing one by one gives."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from trk.serving.online.series import observe_many

pytestmark = pytest.mark.unit


def exposition(registry: CollectorRegistry) -> list[str]:
    return [
        line for line in generate_latest(registry).decode().splitlines() if "created" not in line
    ]


def test_observe_many_equals_observing_one_by_one():
    rng = random.Random(3)
    # Values on the bucket bounds too: a bound counts in its own bucket (le is inclusive).
    values = [
        rng.choice([0.001, 0.01, 0.0005, 0.5, 2.0, 0.1]) * rng.choice([1, 0.999, 1.001])
        for _ in range(2000)
    ]
    one, many = CollectorRegistry(), CollectorRegistry()
    buckets = (0.001, 0.01, 0.1, 1.0)
    h1 = Histogram("h", "d", ["a"], registry=one, buckets=buckets)
    h2 = Histogram("h", "d", ["a"], registry=many, buckets=buckets)
    for v in values:
        h1.labels("x").observe(v)
    observe_many(h2.labels("x"), values)
    assert exposition(one) == exposition(many)


def test_observe_many_falls_back_to_observe_without_bucket_counters():
    seen: list[float] = []

    class Plain:
        def observe(self, value: float) -> None:
            seen.append(value)

    observe_many(Plain(), [1.0, 2.0])
    assert seen == [1.0, 2.0]
