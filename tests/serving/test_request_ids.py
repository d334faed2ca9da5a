"""Fresh request ids: UUIDv7 as 32 hex, so the prediction log's key grows with time."""

from __future__ import annotations

import time
import uuid

import pytest

from trk.serving.core.request_ids import new_request_id, request_id

pytestmark = pytest.mark.unit


def test_fresh_ids_are_uuid7_in_32_hex_and_never_repeat():
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for rid in ids[:100]:
        parsed = uuid.UUID(rid)
        assert len(rid) == 32 and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert request_id(rid) == rid  # a fresh id is itself an acceptable client id


def test_fresh_ids_sort_in_the_order_they_were_made_across_milliseconds():
    made = []
    for _ in range(20):
        made.append(new_request_id())
        time.sleep(0.002)  # a new millisecond: order within one is random, by design
    assert sorted(made) == made
    stamp_ms = int(made[-1][:12], 16)
    assert abs(stamp_ms - time.time() * 1000) < 60_000  # the prefix is the wall clock


def test_an_id_made_from_a_requests_arrival_read_carries_that_millisecond():
    arrival = time.perf_counter()
    rid = new_request_id(arrival)
    assert uuid.UUID(rid).version == 7
    assert abs(int(rid[:12], 16) - time.time() * 1000) < 60_000
    later = new_request_id(arrival + 1.0)  # a second later: sorts after
    assert later > rid and int(later[:12], 16) - int(rid[:12], 16) in (999, 1000, 1001)
