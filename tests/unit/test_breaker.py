"""CircuitBreaker: opens after timeouts in a row, probes once after the cool-down."""

from __future__ import annotations

import pytest

from trk.serving.core.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker

pytestmark = pytest.mark.unit


def test_opens_after_timeouts_in_a_row_and_closes_after_a_good_probe():
    now = [100.0]
    breaker = CircuitBreaker(timeouts=3, cooldown_s=5.0, clock=lambda: now[0])
    for _ in range(2):
        assert not breaker.record(timed_out=True)
    assert not breaker.record(timed_out=False)  # an answer in time resets the count
    assert [breaker.record(timed_out=True) for _ in range(3)] == [False, False, True]
    assert (breaker.state, breaker.opened, breaker.allow()) == (OPEN, 1, False)
    assert breaker.describe() == {"state": OPEN, "timeouts_in_a_row": 3, "probe_in_s": 5.0}
    now[0] += 4.9
    assert not breaker.allow()
    now[0] += 0.1
    assert breaker.allow() and breaker.state == HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.record(timed_out=False)
    assert (breaker.state, breaker.allow()) == (CLOSED, True)


def test_a_probe_that_times_out_opens_it_for_another_cool_down():
    now = [0.0]
    breaker = CircuitBreaker(timeouts=1, cooldown_s=2.0, clock=lambda: now[0])
    assert breaker.record(timed_out=True)
    now[0] = 2.0
    assert breaker.allow()
    assert breaker.record(timed_out=True)  # the probe timed out
    assert (breaker.state, breaker.opened) == (OPEN, 2)
    now[0] = 3.9
    assert not breaker.allow()
    now[0] = 4.0
    assert breaker.allow()
