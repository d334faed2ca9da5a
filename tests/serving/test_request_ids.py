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
